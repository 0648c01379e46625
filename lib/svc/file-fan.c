/*
 * One stream passed on to many targets (svc-file.h), at any depth: the
 * targets are grouped by the child connection that leads to them. A
 * target alone behind its child, or this context itself, gets a stream
 * of its own ("file.push"); two or more behind one child get one stream
 * to that child, which passes it on the same way ("file.relay"). So the
 * stream crosses each link once, whatever the number of targets below.
 *
 * The stream is read from local sources (mg__fan_push), or received
 * from a context and passed on as it comes (mg__fan_relay,
 * mg__fan_pull): then its credit is held back while two windows wait for
 * the slowest target, so memory stays bounded. mg__fan_copy_at leaves
 * the whole copy to a context below ("file.copy").
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include "channel.h"
#include "mitogen/error.h"
#include "mitogen/loop.h"
#include "mitogen/message.h"
#include "mitogen/service.h"
#include "protocol.h"
#include "svc-file.h"

#define NO_RECEIVER SIZE_MAX

struct flink;

struct ftarget {
	uint32_t id;
	struct flink *l;
	bool done;
};

/* One stream out, and the call that asked for its receiver. */
struct flink {
	struct mg__fan *f;
	uint32_t callee;
	bool ids;                  /* file.relay or file.copy: reports carry the id */
	size_t didx;               /* its receiver in the pack, or NO_RECEIVER */
	uint32_t h_stop;           /* file.copy: its callee's stop handle */
	struct mg_handler *report;
	struct mg_call *call;
	size_t *tix;               /* its targets */
	size_t n, n_done;
};

struct mg__fan {
	struct mg_router *r;
	struct mg__file_push_req rq;
	struct ftarget *t;
	size_t n, n_done;
	struct flink **links;
	size_t n_links;
	bool group, end_asked;
	struct mg__pack *p;
	struct mg_chan_in *in;     /* the stream received, or NULL */
	uint32_t from;
	bool from_below;
	struct mg_call *pull;
	bool held, in_done;
	uint64_t bytes;
	bool want_total;
	uint64_t total;            /* the source's, or MG__FILE_NO_TOTAL */
	struct mg__fan_cb cb;
};

struct later {
	struct flink *l;
	int err;
	char *why;
};

static void end_later(void *data)
{
	struct mg__fan *f = data;

	/* Nobody wants the rest of the stream: its sender stops. */
	TALLOC_FREE(f->pull);
	TALLOC_FREE(f->in);
	if (f->cb.end != NULL) {
		f->cb.end(f->cb.data);
	}
}

static void maybe_end(struct mg__fan *f)
{
	if (f->n_done == f->n && !f->end_asked) {
		f->end_asked = true;
		mg_loop_defer(mg__router_loop(f->r), f, end_later, f);
	}
}

/* Target i has ended: why is NULL after its END or FAILED report. */
static void target_end(struct mg__fan *f, size_t i, int err, const char *why)
{
	struct ftarget *t = &f->t[i];
	struct flink *l = t->l;

	if (t->done) {
		return;
	}
	t->done = true;
	f->n_done++;
	if (why != NULL && f->cb.failed != NULL) {
		f->cb.failed(f->cb.data, i, err, why);
	}
	/* A stream nobody waits for any more stops. */
	if (l != NULL && ++l->n_done == l->n) {
		TALLOC_FREE(l->report);
		TALLOC_FREE(l->call);
		if (err != 0 && f->p != NULL && l->didx != NO_RECEIVER) {
			mg__pack_drop(f->p, l->didx, err);
		}
	}
	maybe_end(f);
}

static void link_fail(struct flink *l, int err, const char *why)
{
	for (size_t i = 0; i < l->n; i++) {
		target_end(l->f, l->tix[i], err, why);
	}
}

static void fail_all(struct mg__fan *f, int err, const char *why)
{
	for (size_t i = 0; i < f->n; i++) {
		target_end(f, i, err, why);
	}
}

/* A report of a link: behind the target's id when several share it. */
static void on_report(struct mg_router *r, struct mg_msg *m, void *data)
{
	struct flink *l = data;
	struct mg__fan *f = l->f;
	size_t i = l->tix[0], off = 0;

	(void)r;
	if ((m->flags & MG_F_DEAD) != 0) {
		char why[256];

		snprintf(why, sizeof(why), "%.*s", (int)(m->len < 200 ? m->len : 200),
			 (const char *)m->data);
		link_fail(l, MG_ERR_DISCONNECTED, why);
		return;
	}
	/* file.copy's own progress, behind no id: a target's report of
	 * that kind (behind its id) is the target's, never taken for it. */
	if (l->didx == NO_RECEIVER && m->len >= 13 && mg__get_be32(m->data) == 0 &&
	    m->data[4] == MG__FILE_REPORT_BYTES) {
		if (m->len >= 21) {
			f->total = (uint64_t)mg__get_be32(m->data + 13) << 32 | mg__get_be32(m->data + 17);
		}
		if (f->cb.bytes != NULL) {
			f->cb.bytes(f->cb.data, (uint64_t)mg__get_be32(m->data + 5) << 32 |
					       mg__get_be32(m->data + 9), false);
		}
		return;
	}
	if (l->ids) {
		uint32_t id = m->len >= 4 ? mg__get_be32(m->data) : 0;
		size_t k;

		/* The first of its targets not done with that id. */
		for (k = 0; k < l->n && (f->t[l->tix[k]].done || f->t[l->tix[k]].id != id); k++) {
		}
		if (k == l->n) {
			return;
		}
		i = l->tix[k];
		off = 4;
	}
	if (m->len <= off) {
		return;
	}
	if (f->cb.report != NULL) {
		f->cb.report(f->cb.data, i, m->data + off, m->len - off);
	}
	if (m->data[off] == MG__FILE_REPORT_END || m->data[off] == MG__FILE_REPORT_FAILED) {
		target_end(f, i, 0, NULL);
	}
}

static void on_start_reply(struct mg_message *reply, int err, void *data)
{
	struct flink *l = data;
	const char *why = NULL;
	uint32_t h = 0;

	l->call = NULL;
	err = mg__file_answer(reply, err, "bad answer to file.push", &h, &why);
	if (err != 0) {
		link_fail(l, err, why);
	} else if (l->didx == NO_RECEIVER) {
		l->h_stop = h;  /* file.copy: the reports say the rest */
	} else {
		mg__pack_start(l->f->p, l->didx, h);
	}
}

static void fail_later(void *data)
{
	struct later *lt = data;

	link_fail(lt->l, lt->err, lt->why);
	talloc_free(lt);
}

static int link_fail_later(struct flink *l, int err, const char *why)
{
	struct later *lt = talloc_zero(l, struct later);

	if (lt == NULL) {
		return -ENOMEM;
	}
	lt->l = l;
	lt->err = err;
	lt->why = talloc_strdup(lt, why);
	return mg_loop_defer(mg__router_loop(l->f->r), l, fail_later, lt);
}

/* Ask the link's callee for its part; 'extra' (may be NULL) goes first
 * (file.copy's source). A call that cannot start fails from the loop. */
static int link_start(struct flink *l, const struct mg_buf *extra)
{
	struct mg__fan *f = l->f;
	struct mg__file_push_req rq = f->rq;
	struct mg_buf *b = mg__buf_new(l, MG_MSG_MAX_DEFAULT);
	int ret;

	l->report = mg__router_add_handler(l, f->r, 0, MG_POL_RESPONDENT, l->callee, true,
					   on_report, l);
	if (b == NULL || l->report == NULL) {
		return -ENOMEM;
	}
	rq.h_ack = l->didx != NO_RECEIVER ? mg__pack_ack(f->p, l->didx) : 0;
	rq.h_report = mg__handler_handle(l->report);
	ret = extra != NULL ? mg__buf_put(b, extra->data, extra->len) : 0;
	ret = ret != 0 ? ret : mg__file_push_req_encode(b, &rq);
	if (ret == 0 && l->ids) {
		ret = mg__buf_put_u32(b, (uint32_t)l->n);
		for (size_t i = 0; ret == 0 && i < l->n; i++) {
			ret = mg__buf_put_u32(b, f->t[l->tix[i]].id);
		}
		/* file.copy: progress reports with the source's total. */
		if (ret == 0 && extra != NULL && f->want_total) {
			ret = mg__buf_put_u8(b, 1);
		}
	}
	/* The names the receivers may write; file.copy has the sources. */
	if (ret == 0 && extra == NULL) {
		ret = mg__file_names_encode(b, &rq);
	}
	if (ret == 0) {
		ret = mg_router_call_async(l, f->r, l->callee,
					   !l->ids ? "file.push" : extra == NULL ? "file.relay" : "file.copy",
					   b->data, b->len, -1, on_start_reply, l, &l->call);
	}
	talloc_free(b);
	if (ret == 0 || ret == -ENOMEM) {
		return ret;
	}
	return link_fail_later(l, ret, mg_strerror(ret));
}

/* A copy freed while its callee still works on it: stop it there. */
static int link_destructor(struct flink *l)
{
	if (l->h_stop != 0 && l->report != NULL) {
		mg__router_send(l->f->r, l->callee, l->h_stop, 0, 0, NULL, 0);
	}
	return 0;
}

static struct flink *link_new(struct mg__fan *f, uint32_t callee, bool ids)
{
	struct flink **v = talloc_realloc(f, f->links, struct flink *, f->n_links + 1);
	struct flink *l = v != NULL ? talloc_zero(v, struct flink) : NULL;

	if (l == NULL || (l->tix = talloc_zero_array(l, size_t, f->n)) == NULL) {
		talloc_free(l);
		return NULL;
	}
	f->links = v;
	v[f->n_links++] = l;
	l->f = f;
	l->callee = callee;
	l->ids = ids;
	l->didx = NO_RECEIVER;
	talloc_set_destructor(l, link_destructor);
	return l;
}

/* The child a target is grouped under, or 0 for a stream of its own:
 * this context, a context not below it, or grouping off. */
static uint32_t group_of(struct mg__fan *f, size_t i)
{
	uint32_t c, shared = 0;

	if (!f->group || f->t[i].id == mg__router_id(f->r) ||
	    (c = mg__router_child_towards(f->r, f->t[i].id)) == 0) {
		return 0;
	}
	for (size_t j = 0; j < f->n && shared < 2; j++) {
		shared += f->t[j].id != mg__router_id(f->r) &&
			  mg__router_child_towards(f->r, f->t[j].id) == c;
	}
	return shared >= 2 ? c : 0;
}

/* A receiver for each target, or for each child that relays: 0 or -ENOMEM. */
static int start_links(struct mg__fan *f)
{
	for (size_t i = 0; i < f->n; i++) {
		uint32_t g = group_of(f, i);
		struct flink *l = NULL;

		for (size_t k = 0; g != 0 && k < f->n_links; k++) {
			if (f->links[k]->callee == g && f->links[k]->ids) {
				l = f->links[k];
			}
		}
		if (l == NULL &&
		    (l = link_new(f, g != 0 ? g : f->t[i].id, g != 0)) == NULL) {
			return -ENOMEM;
		}
		l->tix[l->n++] = i;
		f->t[i].l = l;
	}
	for (size_t k = 0; k < f->n_links; k++) {
		struct flink *l = f->links[k];
		int idx, ret;

		if (l->n > 1 && f->cb.meet != NULL) {
			/* The caller knows the tree: the relay goes to where
			 * the targets' paths part, not to a hop above it. */
			l->callee = f->cb.meet(f->cb.data, l->tix, l->n);
		}
		if ((idx = mg__pack_add(f->p, l->callee)) < 0) {
			return -ENOMEM;
		}
		l->didx = (size_t)idx;
		if ((ret = link_start(l, NULL)) != 0) {
			return ret;
		}
	}
	return 0;
}

static void on_pack_done(void *data, size_t idx, int err)
{
	struct mg__fan *f = data;

	/* A clean end waits for the receivers' reports. A failure is said
	 * from the loop: a send that failed on a broken link reports the
	 * link lost from there too, queued first, so whoever waits hears
	 * the context is gone before this (a lost hop, not a failed copy). */
	for (size_t k = 0; err != 0 && k < f->n_links; k++) {
		struct flink *l = f->links[k];
		const char *why = err == -EPIPE ? "the receiver stopped" : mg_strerror(err);

		if (l->didx == idx && link_fail_later(l, err, why) != 0) {
			link_fail(l, err, why);
		}
	}
}

static void on_pack_bytes(void *data, uint64_t bytes)
{
	struct mg__fan *f = data;

	if (f->in != NULL) {
		/* A relay's queue drained a little: take more. */
		if (f->held && mg__pack_relay_queued(f->p) < MG_WINDOW_DEFAULT) {
			f->held = false;
			mg__chan_in_hold(f->in, false);
		}
	} else if (f->cb.bytes != NULL) {
		f->cb.bytes(f->cb.data, bytes, false);
	}
}

struct mg__fan *mg__fan_new(TALLOC_CTX *mem_ctx, struct mg_router *r,
			    const struct mg__file_push_req *rq, const uint32_t *ids, size_t n,
			    bool group, const struct mg__fan_cb *cb)
{
	struct mg__fan *f = talloc_zero(mem_ctx, struct mg__fan);

	if (f == NULL || n == 0 || (f->t = talloc_zero_array(f, struct ftarget, n)) == NULL ||
	    (f->rq.dest = talloc_strdup(f, rq->dest)) == NULL) {
		talloc_free(f);
		return NULL;
	}
	f->r = r;
	f->total = MG__FILE_NO_TOTAL;
	f->rq.flags = rq->flags;
	f->rq.n_top = rq->n_top;
	f->rq.umask = rq->umask;
	f->rq.names = rq->names != NULL ? (const char *const *)mg__strv_copy(f, rq->names) : NULL;
	if (rq->names != NULL && f->rq.names == NULL) {
		talloc_free(f);
		return NULL;
	}
	f->n = n;
	f->group = group;
	f->cb = *cb;
	for (size_t i = 0; i < n; i++) {
		f->t[i].id = ids[i];
	}
	return f;
}

int mg__fan_push(struct mg__fan *f, const char *const *srcs)
{
	f->p = mg__pack_new(f, f->r, srcs, f->rq.flags, on_pack_done, on_pack_bytes, f);
	return f->p != NULL ? start_links(f) : -ENOMEM;
}

/* What the source did: the targets' error names it, not them. */
#define TOO_MUCH \
	"rcvd too much data from the source (more than its 2 MiB window): protocol error"

static void on_in_bytes(void *data, const uint8_t *p, size_t n)
{
	struct mg__fan *f = data;

	if (!mg__pack_relay_feed(f->p, p, n)) {
		/* Past the window the sender was given: cut everyone. */
		fail_all(f, MG_ERR_PROTOCOL, TOO_MUCH);
		return;
	}
	if (!f->held && mg__pack_relay_queued(f->p) >= MG_WINDOW_DEFAULT) {
		f->held = true;
		mg__chan_in_hold(f->in, true);
	}
	f->bytes += n;
	if (f->cb.bytes != NULL) {
		f->cb.bytes(f->cb.data, f->bytes, false);
	}
}

static void on_in_done(void *data, int err)
{
	struct mg__fan *f = data;

	f->in_done = true;
	/* A source below that is gone ended the stream with a dead
	 * message, which reads as its end. */
	if (err != 0 || (f->from_below && mg__router_child_towards(f->r, f->from) == 0)) {
		/* The channel's only error of its own: the source sent past
		 * its credit (MG_ERR_PROTOCOL). */
		fail_all(f, err != 0 ? err : MG_ERR_DISCONNECTED,
			 err == MG_ERR_PROTOCOL ? TOO_MUCH : err != 0 ? mg_strerror(err)
			 : "the source's connection was lost while copying");
		return;
	}
	if (f->cb.bytes != NULL) {
		f->cb.bytes(f->cb.data, f->bytes, true);
	}
	mg__pack_relay_end(f->p);
}

uint32_t mg__fan_relay(struct mg__fan *f, uint32_t from)
{
	f->from = from;
	f->from_below = mg__router_child_towards(f->r, from) != 0;
	f->p = mg__pack_new_relay(f, f->r, on_pack_done, on_pack_bytes, f);
	f->in = f->p != NULL ? mg__chan_in_new_sink(f, f->r, from, on_in_bytes, f, on_in_done, f)
			     : NULL;
	if (f->in == NULL || start_links(f) != 0) {
		return 0;
	}
	return mg__chan_in_handle(f->in);
}

void mg__fan_in_ack(struct mg__fan *f, uint32_t h_ack)
{
	if (f->in != NULL) {
		mg__chan_in_set_ack(f->in, h_ack);
	}
}

static void on_pull_reply(struct mg_message *reply, int err, void *data)
{
	struct mg__fan *f = data;
	const char *why = NULL;
	uint32_t h = 0;

	f->pull = NULL;
	err = mg__file_answer(reply, err, "bad answer to file.pull", &h, &why);
	if (err != 0) {
		TALLOC_FREE(f->in);
		fail_all(f, err, why);
		return;
	}
	f->total = mg__file_answer_total(reply);
	mg__fan_in_ack(f, h);
}

int mg__fan_pull(struct mg__fan *f, uint32_t from, const char *const *srcs)
{
	uint32_t h = mg__fan_relay(f, from);
	struct mg_buf *b = mg__buf_new(f, MG_MSG_MAX_DEFAULT);
	int ret;

	if (h == 0 || b == NULL) {
		talloc_free(b);
		return -ENOMEM;
	}
	ret = mg__file_pull_req_encode(b, srcs, f->rq.flags, h, f->want_total);
	if (ret == 0) {
		ret = mg_router_call_async(f, f->r, from, "file.pull", b->data, b->len, -1,
					   on_pull_reply, f, &f->pull);
	}
	talloc_free(b);
	return ret;
}

int mg__fan_copy_at(struct mg__fan *f, uint32_t at, uint32_t from, const char *const *srcs)
{
	struct flink *l = link_new(f, at, true);
	struct mg_buf *b = mg__buf_new(f, MG_MSG_MAX_DEFAULT);
	int ret;

	if (l == NULL || b == NULL) {
		talloc_free(b);
		return -ENOMEM;
	}
	for (size_t i = 0; i < f->n; i++) {
		l->tix[l->n++] = i;
		f->t[i].l = l;
	}
	ret = mg__buf_put_u32(b, from) | mg__buf_put_strv(b, srcs);
	ret = ret != 0 ? -ENOMEM : link_start(l, b);
	talloc_free(b);
	return ret;
}

void mg__fan_abort(struct mg__fan *f, const char *why)
{
	fail_all(f, MG_ERR_CANCELLED, why);
}

void mg__fan_want_total(struct mg__fan *f)
{
	f->want_total = true;
}

uint64_t mg__fan_total(const struct mg__fan *f)
{
	return f->total;
}

uint64_t mg__fan_wire_bytes(const struct mg__fan *f)
{
	return f->p != NULL ? mg__pack_wire_bytes(f->p) : 0;
}
