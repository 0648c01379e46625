/*
 * The services "file.relay" and "file.copy" (docs/PROTOCOL.md section
 * 5.9), both on the fan of file-fan.c. A relay receives a push from its
 * caller and passes it on to contexts below; a copy asks a context (this
 * one or one below) for the stream and passes it on to others, so that
 * a copy between two contexts that share this hop never crosses the
 * link above it. Each target's reports go up behind its id.
 *
 * Both take orders from ancestors only (the parent policy), and only
 * for this context and the ones below it: never its parent or a sibling.
 */
#include <errno.h>
#include <string.h>
#include "mitogen/error.h"
#include "mitogen/log.h"
#include "mitogen/message.h"
#include "mitogen/service.h"
#include "protocol.h"
#include "svc-file.h"

struct job {
	struct mg_router *r;
	uint32_t caller, h_report;
	uint32_t *ids;
	struct mg__fan *f;
	uint64_t shown_ms;
	struct mg_handler *cancel;  /* a copy: the caller's report handle is gone */
};

static void send_up(struct job *j, const void *p, size_t n)
{
	uint32_t back = j->cancel != NULL ? mg__handler_handle(j->cancel) : 0;

	mg__router_send(j->r, j->caller, j->h_report, back, 0, p, n);
}

static void up(struct job *j, size_t idx, const void *p, size_t n)
{
	struct mg_buf *b = mg__buf_new(j, MG__REC_MAX + 8192);

	if (b != NULL && (mg__buf_put_u32(b, j->ids[idx]) | mg__buf_put(b, p, n)) == 0) {
		send_up(j, b->data, b->len);
	}
	talloc_free(b);
}

static void on_report(void *data, size_t idx, const uint8_t *p, size_t n)
{
	up(data, idx, p, n);
}

static void on_failed(void *data, size_t idx, int err, const char *why)
{
	struct job *j = data;
	struct mg_buf *b = mg__buf_new(j, 8192);

	(void)err;
	if (b != NULL && (mg__buf_put_u8(b, MG__FILE_REPORT_FAILED) | mg__buf_put_str(b, why)) == 0) {
		up(j, idx, b->data, b->len);
	}
	talloc_free(b);
}

/* A copy's progress for the caller, whom no byte reaches: at most
 * every 100 ms, and the end once; the source's total when known. */
static void on_copy_bytes(void *data, uint64_t bytes, bool last)
{
	struct job *j = data;
	uint64_t now = mg_loop_now(mg__router_loop(j->r));
	uint64_t total = mg__fan_total(j->f);
	uint8_t p[21];
	struct mg_buf b = { .data = p, .alloc = sizeof(p), .max = sizeof(p) };

	if (!last && now < j->shown_ms + 100) {
		return;
	}
	j->shown_ms = now;
	mg__buf_put_u32(&b, 0);
	mg__buf_put_u8(&b, MG__FILE_REPORT_BYTES);
	mg__buf_put_u64(&b, bytes);
	if (total != MG__FILE_NO_TOTAL) {
		mg__buf_put_u64(&b, total);
	}
	send_up(j, p, b.len);
}

/* The caller stopped the copy (a message here), freed its side of it (a
 * report came back dead) or is lost: the targets drop what they were
 * writing, the source stops. */
static void on_cancel(struct mg_router *r, struct mg_msg *m, void *data)
{
	struct job *j = data;

	(void)r;
	(void)m;
	TALLOC_FREE(j->cancel);
	mg__fan_abort(j->f, "the copy was stopped by the caller");
}

static void on_end(void *data)
{
	struct job *j = data;

	mg_loop_free_later(mg__router_loop(j->r), j);
}

/* Whether every id is this context or one below it. */
static bool all_below(struct mg_router *r, const uint32_t *ids, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (ids[i] != mg__router_id(r) && mg__router_child_towards(r, ids[i]) == 0) {
			return false;
		}
	}
	return true;
}

/* Start a relay (rq->srcs NULL: the caller sends the stream) or a copy
 * (from rq->from) to rq->ids, or answer why not. Frees tmp. */
static int serve(struct mg_message *req, struct mg_router *r, TALLOC_CTX *tmp,
		 struct mg__file_copy_req *rq)
{
	bool copy = rq->srcs != NULL;
	struct mg__fan_cb cb = { .report = on_report, .failed = on_failed, .end = on_end,
				 .bytes = copy ? on_copy_bytes : NULL };
	const char *refused = !all_below(r, rq->ids, rq->n) ? "a target" :
			      copy && !all_below(r, &rq->from, 1) ? "the source" : NULL;
	struct job *j = refused == NULL ? talloc_zero(r, struct job) : NULL;
	uint32_t h = 0;
	uint8_t ans[4];
	int ret = -ENOMEM;

	if (j != NULL && copy) {
		/* The targets write only what the sources are named. */
		char **names = mg__file_src_names(tmp, (const char *const *)rq->srcs);

		rq->rq.names = (const char *const *)names;
	}
	if (j != NULL && (!copy || rq->rq.names != NULL)) {
		cb.data = j;
		j->r = r;
		j->caller = mg_message_src(req);
		j->h_report = rq->rq.h_report;
		j->ids = talloc_steal(j, rq->ids);
		j->f = mg__fan_new(j, r, &rq->rq, rq->ids, rq->n, true, &cb);
	}
	if (j != NULL && j->f != NULL && copy) {
		j->cancel = mg__router_add_handler(j, r, 0, MG_POL_RESPONDENT, j->caller, true,
						   on_cancel, j);
		h = j->cancel != NULL ? mg__handler_handle(j->cancel) : 0;
		if (rq->want_total) {
			mg__fan_want_total(j->f);
		}
		ret = h == 0 ? -ENOMEM : mg__fan_pull(j->f, rq->from, (const char *const *)rq->srcs);
	} else if (j != NULL && j->f != NULL) {
		h = mg__fan_relay(j->f, j->caller);
		ret = h != 0 ? 0 : -ENOMEM;
	}
	talloc_free(tmp);
	if (refused != NULL) {
		char why[64];

		snprintf(why, sizeof(why), "refused: %s is not below this context", refused);
		return mg_message_reply_dead(req, why);
	}
	if (ret != 0) {
		talloc_free(j);
		return ret == -ENOMEM ? ret : mg_message_reply_dead(req, mg_strerror(ret));
	}
	if (copy) {
		mg_info("file.copy: from context %u to %u contexts, through here",
			(unsigned)rq->from, (unsigned)rq->n);
	} else {
		mg_info("file.relay: passing a push on to %u contexts", (unsigned)rq->n);
		mg__fan_in_ack(j->f, rq->rq.h_ack);
	}
	mg__put_be32(ans, h);
	return mg_message_reply(req, ans, sizeof(ans));
}

static int svc_relay(struct mg_message *req, const void *payload, size_t len, void *data)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	struct mg__file_copy_req rq = { 0 };

	if (tmp == NULL || mg__file_relay_req_decode(tmp, payload, len, &rq.rq, &rq.ids, &rq.n) != 0) {
		talloc_free(tmp);
		return tmp == NULL ? -ENOMEM : mg_message_reply_dead(req, "malformed file.relay request");
	}
	return serve(req, data, tmp, &rq);
}

static int svc_copy(struct mg_message *req, const void *payload, size_t len, void *data)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	struct mg__file_copy_req rq;

	if (tmp == NULL || mg__file_copy_req_decode(tmp, payload, len, &rq) != 0) {
		talloc_free(tmp);
		return tmp == NULL ? -ENOMEM : mg_message_reply_dead(req, "malformed file.copy request");
	}
	return serve(req, data, tmp, &rq);
}

int mg__svc_file_relay_init(struct mg_router *r)
{
	int ret = mg_service_register(r, "file.relay", 0, svc_relay, r);

	if (ret == 0) {
		ret = mg_service_register(r, "file.copy", 0, svc_copy, r);
	}
	return ret;
}
