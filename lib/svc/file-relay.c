/*
 * The "file.relay" service (docs/PROTOCOL.md section 5.9): a push to
 * many contexts below this one crosses the link above once. This agent
 * receives the stream, pushes it to each target with "file.push" (a
 * relay sender, file-pack.c) and passes their reports up, each behind
 * the target's id. The upstream credit is held back while the queue for
 * the slowest target is full, so memory stays bounded.
 */
#include <errno.h>
#include <string.h>
#include "channel.h"
#include "mitogen/error.h"
#include "mitogen/log.h"
#include "mitogen/message.h"
#include "mitogen/service.h"
#include "protocol.h"
#include "svc-file.h"

struct relay;

struct rtarget {
	struct relay *rl;
	uint32_t id;
	size_t idx;
	struct mg_handler *report;
	struct mg_call *call;
	bool done;
};

struct relay {
	struct mg_router *r;
	uint32_t caller, h_report;
	struct mg__pack *p;
	struct mg_chan_in *in;
	struct rtarget *t;
	size_t n, n_done;
	bool held, in_done;
};

static void up(struct relay *rl, uint32_t id, const void *p, size_t n)
{
	struct mg_buf *b = mg__buf_new(rl, MG__REC_MAX + 8192);

	if (b != NULL && (mg__buf_put_u32(b, id) | mg__buf_put(b, p, n)) == 0) {
		mg__router_send(rl->r, rl->caller, rl->h_report, 0, 0, b->data, b->len);
	}
	talloc_free(b);
}

static void maybe_free(struct relay *rl)
{
	if (rl->n_done == rl->n && rl->in_done) {
		mg_loop_free_later(mg__router_loop(rl->r), rl);
	}
}

static void target_end(struct rtarget *t, const char *why)
{
	struct relay *rl = t->rl;

	if (t->done) {
		return;
	}
	t->done = true;
	TALLOC_FREE(t->call);
	TALLOC_FREE(t->report);
	if (why != NULL) {
		struct mg_buf *b = mg__buf_new(rl, 8192);

		if (b != NULL && (mg__buf_put_u8(b, MG__FILE_REPORT_FAILED) |
				  mg__buf_put_str(b, why)) == 0) {
			up(rl, t->id, b->data, b->len);
		}
		talloc_free(b);
		mg__pack_drop(rl->p, t->idx, -ECANCELED);
	}
	rl->n_done++;
	maybe_free(rl);
}

static void on_report(struct mg_router *r, struct mg_msg *m, void *data)
{
	struct rtarget *t = data;

	if ((m->flags & MG_F_DEAD) != 0) {
		char why[256];

		snprintf(why, sizeof(why), "%.*s", (int)(m->len < 200 ? m->len : 200),
			 (const char *)m->data);
		target_end(t, why);
		return;
	}
	up(t->rl, t->id, m->data, m->len);
	if (m->len > 0 && m->data[0] == MG__FILE_REPORT_END) {
		target_end(t, NULL);
	}
}

static void on_push_reply(struct mg_message *reply, int err, void *data)
{
	struct rtarget *t = data;
	size_t len = 0;
	const uint8_t *p;

	t->call = NULL;
	if (err != 0) {
		target_end(t, reply != NULL ? mg_message_dead_reason(reply) : mg_strerror(err));
		return;
	}
	p = mg_message_data(reply, &len);
	if (len < 4) {
		target_end(t, "bad answer to file.push");
		return;
	}
	mg__pack_start(t->rl->p, t->idx, mg__get_be32(p));
}

/* A target's sender ended: cleanly, its END report is to come. */
static void on_pack_done(void *data, size_t idx, int err)
{
	struct relay *rl = data;

	if (err != 0 && idx < rl->n) {
		target_end(&rl->t[idx], err == -EPIPE ? "the receiver stopped" : mg_strerror(err));
	}
}

/* The queue drained a little: take more from above. */
static void on_drained(void *data, uint64_t sent)
{
	struct relay *rl = data;

	if (rl->held && rl->in != NULL && mg__pack_relay_queued(rl->p) < MG_WINDOW_DEFAULT) {
		rl->held = false;
		mg__chan_in_hold(rl->in, false);
	}
}

static void on_bytes(void *data, const uint8_t *p, size_t n)
{
	struct relay *rl = data;

	if (!mg__pack_relay_feed(rl->p, p, n)) {
		/* Past the window the sender was given: cut everyone. */
		for (size_t i = 0; i < rl->n; i++) {
			target_end(&rl->t[i], "rcvd too much data");
		}
		return;
	}
	if (!rl->held && mg__pack_relay_queued(rl->p) >= MG_WINDOW_DEFAULT) {
		rl->held = true;
		mg__chan_in_hold(rl->in, true);
	}
}

static void on_in_done(void *data, int err)
{
	struct relay *rl = data;

	rl->in_done = true;
	if (err != 0) {
		for (size_t i = 0; i < rl->n; i++) {
			target_end(&rl->t[i], mg_strerror(err));
		}
	} else {
		mg__pack_relay_end(rl->p);
	}
	maybe_free(rl);
}

static int start_target(struct relay *rl, struct rtarget *t, const struct mg__file_push_req *rq)
{
	struct mg__file_push_req sub = *rq;
	struct mg_buf *b = mg__buf_new(rl, 8192);
	int idx = mg__pack_add(rl->p, t->id), ret;

	if (b == NULL || idx < 0) {
		talloc_free(b);
		return -ENOMEM;
	}
	t->idx = (size_t)idx;
	t->report = mg__router_add_handler(rl, rl->r, 0, MG_POL_RESPONDENT, t->id, true,
					   on_report, t);
	if (t->report == NULL) {
		talloc_free(b);
		return -ENOMEM;
	}
	sub.h_ack = mg__pack_ack(rl->p, t->idx);
	sub.h_report = mg__handler_handle(t->report);
	ret = mg__file_push_req_encode(b, &sub);
	if (ret == 0) {
		ret = mg_router_call_async(rl, rl->r, t->id, "file.push", b->data, b->len, -1,
					   on_push_reply, t, &t->call);
	}
	talloc_free(b);
	return ret;
}

static int svc_relay(struct mg_message *req, const void *payload, size_t len, void *data)
{
	struct mg_router *r = data;
	struct relay *rl = talloc_zero(r, struct relay);
	struct mg__file_push_req rq;
	uint32_t *ids = NULL, n = 0;
	uint8_t ans[4];

	if (rl == NULL) {
		return -ENOMEM;
	}
	if (mg__file_relay_req_decode(rl, payload, len, &rq, &ids, &n) != 0) {
		talloc_free(rl);
		return mg_message_reply_dead(req, "malformed file.relay request");
	}
	rl->r = r;
	rl->caller = mg_message_src(req);
	rl->h_report = rq.h_report;
	rl->n = n;
	rl->t = talloc_zero_array(rl, struct rtarget, n);
	rl->p = mg__pack_new_relay(rl, r, on_pack_done, on_drained, rl);
	rl->in = rl->p != NULL ? mg__chan_in_new_sink(rl, r, rl->caller, on_bytes, rl,
						       on_in_done, rl) : NULL;
	if (rl->t == NULL || rl->in == NULL) {
		talloc_free(rl);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < n; i++) {
		rl->t[i].rl = rl;
		rl->t[i].id = ids[i];
		if (start_target(rl, &rl->t[i], &rq) != 0) {
			talloc_free(rl);
			return -ENOMEM;
		}
	}
	mg_info("file.relay: passing a push on to %u contexts", (unsigned)n);
	mg__chan_in_set_ack(rl->in, rq.h_ack);
	mg__put_be32(ans, mg__chan_in_handle(rl->in));
	return mg_message_reply(req, ans, sizeof(ans));
}

int mg__svc_file_relay_init(struct mg_router *r)
{
	return mg_service_register(r, "file.relay", 0, svc_relay, r);
}
