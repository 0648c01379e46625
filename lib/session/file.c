/*
 * The master's side of file copies (mitogen/file.h): a push runs the
 * sending end (file-pack.c) here and asks each target's "file.push"
 * service for a receiver, or the "file.relay" of a parent shared by
 * several targets; a pull runs the receiving end (file-unpack.c) here
 * and asks "file.pull" for the stream; a transfer between two contexts
 * asks one for the stream and relays it here to the others.
 */
#include <errno.h>
#include <string.h>
#include "channel.h"
#include "mitogen/context.h"
#include "mitogen/error.h"
#include "mitogen/file.h"
#include "mitogen/service.h"
#include "protocol.h"
#include "svc-file.h"

struct link;

struct target {
	struct mg_file_copy *fc;
	size_t idx;
	struct mg_context *ctx;
	struct link *link;         /* a push's stream to it, or NULL */
	struct mg_call *call;      /* a pull's request */
	bool done;
};

/* One stream of a push: to one target ("file.push"), or to the parent
 * of several, which passes it on to each ("file.relay"). */
struct link {
	struct mg_file_copy *fc;
	size_t didx;               /* the pack's receiver */
	struct mg_context *callee;
	bool relay;
	struct mg_handler *report;
	struct mg_call *call;
	size_t *tix;               /* its targets */
	size_t n, n_done;
};

struct mg_file_copy {
	struct mg_file_opts o;
	struct mg_loop *loop;
	struct target *t;
	size_t n;
	struct mg__pack *pack;     /* push */
	struct link **links;
	size_t n_links;
	struct mg__unpack *unpack; /* pull */
	struct mg_chan_in *in;
	struct mg_context *from;   /* a transfer's source */
	struct mg_call *pull_call;
	bool held;
	uint64_t bytes, wire;
};

struct later {
	struct link *l;
	int err;
	char *msg;
};

static void end_target(struct target *t, int err, const char *msg)
{
	struct mg_file_copy *fc = t->fc;
	struct link *l = t->link;

	if (t->done) {
		return;
	}
	t->done = true;
	TALLOC_FREE(t->call);
	/* A stream nobody waits for any more stops. */
	if (l != NULL && ++l->n_done == l->n) {
		TALLOC_FREE(l->report);
		TALLOC_FREE(l->call);
		if (err != 0) {
			mg__pack_drop(fc->pack, l->didx, err);
		}
	}
	if (fc->o.on_done != NULL) {
		fc->o.on_done(t->idx, err, msg, fc->o.data);
	}
}

static void end_link(struct link *l, int err, const char *msg)
{
	for (size_t i = 0; i < l->n; i++) {
		end_target(&l->fc->t[l->tix[i]], err, msg);
	}
}

/* The target of a relay's report: the first one not done with that id. */
static struct target *relay_target(struct link *l, uint32_t id)
{
	for (size_t i = 0; i < l->n; i++) {
		struct target *t = &l->fc->t[l->tix[i]];

		if (!t->done && mg_context_id(t->ctx) == id) {
			return t;
		}
	}
	return NULL;
}

static void on_report(struct mg_router *r, struct mg_msg *m, void *data)
{
	struct link *l = data;
	struct mg_file_copy *fc = l->fc;
	TALLOC_CTX *tmp = talloc_new(NULL);
	struct target *t = &fc->t[l->tix[0]];
	struct mg_buf b;
	uint8_t kind = 0, at_source = 0;
	uint32_t id = 0;
	char *path = NULL, *msg = NULL;

	if ((m->flags & MG_F_DEAD) != 0) {
		char *why = talloc_strndup(tmp, (const char *)m->data, m->len);
		end_link(l, MG_ERR_DISCONNECTED, why != NULL ? why : "lost");
		talloc_free(tmp);
		return;
	}
	mg__buf_view(&b, m->data, m->len);
	if (l->relay && (mg__buf_get_u32(&b, &id) != 0 || (t = relay_target(l, id)) == NULL)) {
		talloc_free(tmp);
		return;
	}
	mg__buf_get_u8(&b, &kind);
	if (kind == MG__FILE_REPORT_ERROR && mg__buf_get_str(&b, tmp, &path) == 0 &&
	    mg__buf_get_str(&b, tmp, &msg) == 0 && fc->o.on_error != NULL) {
		/* Optional: absent, the receiver's own failure. */
		mg__buf_get_u8(&b, &at_source);
		fc->o.on_error(t->idx, at_source != 0, path != NULL ? path : "?",
			       msg != NULL ? msg : "?", fc->o.data);
	} else if (kind == MG__FILE_REPORT_END) {
		end_target(t, 0, NULL);
	} else if (kind == MG__FILE_REPORT_FAILED && l->relay &&
		   mg__buf_get_str(&b, tmp, &msg) == 0) {
		end_target(t, MG_ERR_CALL, msg != NULL ? msg : "failed");
	}
	talloc_free(tmp);
}

static void on_push_reply(struct mg_message *reply, int err, void *data)
{
	struct link *l = data;
	size_t len = 0;
	const uint8_t *p;

	l->call = NULL;
	if (err != 0) {
		end_link(l, err, reply != NULL ? mg_message_dead_reason(reply) : mg_strerror(err));
		return;
	}
	p = mg_message_data(reply, &len);
	if (len < 4) {
		end_link(l, MG_ERR_PROTOCOL, l->relay ? "bad answer to file.relay"
						       : "bad answer to file.push");
		return;
	}
	mg__pack_start(l->fc->pack, l->didx, mg__get_be32(p));
}

static void on_pack_done(void *data, size_t idx, int err)
{
	struct mg_file_copy *fc = data;

	/* A clean end waits for the receivers' reports. */
	if (err != 0 && idx < fc->n_links) {
		end_link(fc->links[idx], err,
			 err == -EPIPE ? "the receiver stopped" : mg_strerror(err));
	}
}

static void on_bytes(void *data, uint64_t bytes)
{
	struct mg_file_copy *fc = data;

	fc->bytes = bytes;
	if (fc->o.on_bytes != NULL) {
		fc->o.on_bytes(bytes, fc->o.data);
	}
}

static struct mg_file_copy *copy_new(TALLOC_CTX *mem_ctx, size_t n,
				     const struct mg_file_opts *opts)
{
	struct mg_file_copy *fc = talloc_zero(mem_ctx, struct mg_file_copy);

	if (fc == NULL || (fc->t = talloc_zero_array(fc, struct target, n)) == NULL) {
		talloc_free(fc);
		return NULL;
	}
	fc->o = *opts;
	fc->n = n;
	for (size_t i = 0; i < n; i++) {
		fc->t[i].fc = fc;
		fc->t[i].idx = i;
	}
	return fc;
}

/* Ask the link's callee for a receiver. */
static int link_start(struct link *l, const char *dest, uint32_t n_top)
{
	struct mg_file_copy *fc = l->fc;
	uint32_t id = mg_context_id(l->callee);
	struct mg__file_push_req rq = { .dest = dest, .flags = fc->o.flags & MG__FILE_KNOWN,
					.n_top = n_top };
	struct mg_buf *b = mg__buf_new(l, MG_MSG_MAX_DEFAULT);
	int idx = mg__pack_add(fc->pack, id), ret;

	if (b == NULL || idx < 0) {
		return -ENOMEM;
	}
	l->didx = (size_t)idx;
	l->report = mg__router_add_handler(l, mg_context_router(l->callee), 0, MG_POL_RESPONDENT,
					   id, true, on_report, l);
	if (l->report == NULL) {
		return -ENOMEM;
	}
	rq.h_ack = mg__pack_ack(fc->pack, l->didx);
	rq.h_report = mg__handler_handle(l->report);
	ret = mg__file_push_req_encode(b, &rq);
	if (ret == 0 && l->relay) {
		ret = mg__buf_put_u32(b, (uint32_t)l->n);
		for (size_t i = 0; ret == 0 && i < l->n; i++) {
			ret = mg__buf_put_u32(b, mg_context_id(fc->t[l->tix[i]].ctx));
		}
	}
	if (ret == 0) {
		ret = mg_context_call_async(l, l->callee, l->relay ? "file.relay" : "file.push",
					    b->data, b->len, -1, on_push_reply, l, &l->call);
	}
	talloc_free(b);
	return ret;
}

static void fail_later(void *data)
{
	struct later *lt = data;

	end_link(lt->l, lt->err, lt->msg);
	talloc_free(lt);
}

/* Targets that share a parent hop (not the master) and are at least two
 * get one stream to that parent, which relays it: the link above it
 * carries each byte once. The others get a stream each. */
static struct link *link_for(struct mg_file_copy *fc, size_t i)
{
	struct mg_context *via = mg_context_parent(fc->t[i].ctx), *callee = fc->t[i].ctx;
	size_t shared = 0;
	struct link *l, **v;

	for (size_t j = 0; via != NULL && j < fc->n; j++) {
		shared += mg_context_parent(fc->t[j].ctx) == via;
	}
	for (size_t k = 0; shared >= 2 && k < fc->n_links; k++) {
		if (fc->links[k]->relay && fc->links[k]->callee == via) {
			l = fc->links[k];
			l->tix[l->n++] = i;
			return l;
		}
	}
	v = talloc_realloc(fc, fc->links, struct link *, fc->n_links + 1);
	l = v != NULL ? talloc_zero(v, struct link) : NULL;
	if (l == NULL || (l->tix = talloc_zero_array(l, size_t, fc->n)) == NULL) {
		return NULL;
	}
	fc->links = v;
	v[fc->n_links++] = l;
	l->fc = fc;
	l->relay = shared >= 2 && (fc->o.flags & MG_FILE_NO_RELAY) == 0;
	l->callee = l->relay ? via : callee;
	l->tix[l->n++] = i;
	return l;
}

/* A stream to each target, or to the parent they share: 0 or -ENOMEM
 * (a link that cannot start fails its targets from the loop). */
static int start_links(struct mg_file_copy *fc, struct mg_context *const *ctxs,
		       const char *dest, uint32_t n_top)
{
	for (size_t i = 0; i < fc->n; i++) {
		fc->t[i].ctx = ctxs[i];
	}
	for (size_t i = 0; i < fc->n; i++) {
		if ((fc->t[i].link = link_for(fc, i)) == NULL) {
			return -ENOMEM;
		}
	}
	for (size_t k = 0; k < fc->n_links; k++) {
		int ret = link_start(fc->links[k], dest, n_top);

		if (ret != 0) {
			struct later *lt = talloc_zero(fc, struct later);

			if (lt == NULL) {
				return -ENOMEM;
			}
			lt->l = fc->links[k];
			lt->err = ret;
			lt->msg = talloc_strdup(lt, mg_strerror(ret));
			mg_loop_defer(fc->loop, fc, fail_later, lt);
		}
	}
	return 0;
}

struct mg_file_copy *mg_file_push(TALLOC_CTX *mem_ctx, struct mg_context *const *ctxs, size_t n,
				  const char *const *srcs, const char *dest,
				  const struct mg_file_opts *opts)
{
	struct mg_file_copy *fc = copy_new(mem_ctx, n, opts);
	uint32_t n_top = 0;

	if (fc == NULL || n == 0) {
		talloc_free(fc);
		return NULL;
	}
	while (srcs[n_top] != NULL) {
		n_top++;
	}
	fc->loop = mg__router_loop(mg_context_router(ctxs[0]));
	fc->pack = mg__pack_new(fc, mg_context_router(ctxs[0]), srcs, opts->flags & MG__FILE_KNOWN,
				on_pack_done, on_bytes, fc);
	if (fc->pack == NULL) {
		talloc_free(fc);
		return NULL;
	}
	if (start_links(fc, ctxs, dest, n_top) != 0) {
		talloc_free(fc);
		return NULL;
	}
	return fc;
}

/* --- pull --- */

static void pull_error(void *data, bool at_source, const char *path, const char *msg)
{
	struct mg_file_copy *fc = data;

	if (fc->o.on_error != NULL) {
		fc->o.on_error(0, at_source, path, msg, fc->o.data);
	}
}

static void pull_feed(void *data, const uint8_t *p, size_t n)
{
	struct mg_file_copy *fc = data;

	mg__unpack_feed(fc->unpack, p, n);
	fc->wire += n;
	on_bytes(fc, mg__unpack_data_bytes(fc->unpack));
}

static void on_pull_in_done(void *data, int err)
{
	struct mg_file_copy *fc = data;
	struct target *t = &fc->t[0];

	if (t->done) {
		return;
	}
	if (mg_context_gone(t->ctx)) {
		mg__unpack_finish(fc->unpack, MG_ERR_DISCONNECTED);
		end_target(t, MG_ERR_DISCONNECTED, "the connection was lost while copying");
		return;
	}
	mg__unpack_finish(fc->unpack, err);
	end_target(t, 0, NULL);
}

static void on_pull_reply(struct mg_message *reply, int err, void *data)
{
	struct mg_file_copy *fc = data;
	struct target *t = &fc->t[0];
	size_t len = 0;
	const uint8_t *p;

	t->call = NULL;
	if (err != 0) {
		TALLOC_FREE(fc->in);
		end_target(t, err, reply != NULL ? mg_message_dead_reason(reply) : mg_strerror(err));
		return;
	}
	p = mg_message_data(reply, &len);
	if (len < 4) {
		TALLOC_FREE(fc->in);
		end_target(t, MG_ERR_PROTOCOL, "bad answer to file.pull");
		return;
	}
	mg__chan_in_set_ack(fc->in, mg__get_be32(p));
}

struct mg_file_copy *mg_file_pull(TALLOC_CTX *mem_ctx, struct mg_context *ctx,
				  const char *const *srcs, const char *dest,
				  const struct mg_file_opts *opts, char **_errmsg)
{
	struct mg_file_copy *fc = copy_new(mem_ctx, 1, opts);
	struct mg_router *r = mg_context_router(ctx);
	uint32_t n_top = 0;
	struct mg_buf *b;
	int ret;

	*_errmsg = NULL;
	if (fc == NULL) {
		return NULL;
	}
	while (srcs[n_top] != NULL) {
		n_top++;
	}
	fc->t[0].ctx = ctx;
	fc->unpack = mg__unpack_new(fc, dest, opts->flags & MG__FILE_KNOWN, n_top, pull_error, fc,
				    _errmsg);
	if (fc->unpack == NULL) {
		if (*_errmsg != NULL) {
			*_errmsg = talloc_steal(mem_ctx, *_errmsg);
		}
		talloc_free(fc);
		return NULL;
	}
	fc->in = mg__chan_in_new_sink(fc, r, mg_context_id(ctx), pull_feed, fc, on_pull_in_done, fc);
	b = mg__buf_new(fc, MG_MSG_MAX_DEFAULT);
	if (fc->in == NULL || b == NULL ||
	    mg__file_pull_req_encode(b, srcs, opts->flags & MG__FILE_KNOWN,
				     mg__chan_in_handle(fc->in)) != 0) {
		talloc_free(fc);
		return NULL;
	}
	ret = mg_context_call_async(fc, ctx, "file.pull", b->data, b->len, -1, on_pull_reply, fc,
				    &fc->t[0].call);
	talloc_free(b);
	if (ret != 0) {
		*_errmsg = talloc_strdup(mem_ctx, mg_strerror(ret));
		talloc_free(fc);
		return NULL;
	}
	return fc;
}

/* --- between two contexts, through here --- */

static void end_all(struct mg_file_copy *fc, int err, const char *msg)
{
	for (size_t i = 0; i < fc->n; i++) {
		end_target(&fc->t[i], err, msg);
	}
}

static void xfer_bytes(void *data, const uint8_t *p, size_t n)
{
	struct mg_file_copy *fc = data;

	if (!mg__pack_relay_feed(fc->pack, p, n)) {
		end_all(fc, MG_ERR_PROTOCOL, "rcvd too much data from the source");
		return;
	}
	if (!fc->held && mg__pack_relay_queued(fc->pack) >= MG_WINDOW_DEFAULT) {
		fc->held = true;
		mg__chan_in_hold(fc->in, true);
	}
	fc->wire += n;
	on_bytes(fc, fc->wire);
}

/* The queue for the slowest receiver drained a little. */
static void xfer_drained(void *data, uint64_t sent)
{
	struct mg_file_copy *fc = data;

	if (fc->held && mg__pack_relay_queued(fc->pack) < MG_WINDOW_DEFAULT) {
		fc->held = false;
		mg__chan_in_hold(fc->in, false);
	}
}

static void xfer_in_done(void *data, int err)
{
	struct mg_file_copy *fc = data;

	if (err != 0 || mg_context_gone(fc->from)) {
		end_all(fc, MG_ERR_DISCONNECTED, err != 0 ? mg_strerror(err)
			: "the source's connection was lost while copying");
		return;
	}
	mg__pack_relay_end(fc->pack);
}

static void on_xfer_reply(struct mg_message *reply, int err, void *data)
{
	struct mg_file_copy *fc = data;
	size_t len = 0;
	const uint8_t *p;

	fc->pull_call = NULL;
	if (err != 0) {
		TALLOC_FREE(fc->in);
		end_all(fc, err, reply != NULL ? mg_message_dead_reason(reply) : mg_strerror(err));
		return;
	}
	p = mg_message_data(reply, &len);
	if (len < 4) {
		TALLOC_FREE(fc->in);
		end_all(fc, MG_ERR_PROTOCOL, "bad answer to file.pull");
		return;
	}
	mg__chan_in_set_ack(fc->in, mg__get_be32(p));
}

struct mg_file_copy *mg_file_transfer(TALLOC_CTX *mem_ctx, struct mg_context *from,
				      const char *const *srcs, struct mg_context *const *ctxs,
				      size_t n, const char *dest, const struct mg_file_opts *opts)
{
	struct mg_file_copy *fc = copy_new(mem_ctx, n, opts);
	struct mg_router *r = mg_context_router(from);
	uint32_t n_top = 0, flags = opts->flags & MG__FILE_KNOWN;
	struct mg_buf *b;

	if (fc == NULL || n == 0) {
		talloc_free(fc);
		return NULL;
	}
	while (srcs[n_top] != NULL) {
		n_top++;
	}
	fc->from = from;
	fc->loop = mg__router_loop(r);
	fc->pack = mg__pack_new_relay(fc, r, on_pack_done, xfer_drained, fc);
	fc->in = fc->pack != NULL ? mg__chan_in_new_sink(fc, r, mg_context_id(from), xfer_bytes, fc,
							 xfer_in_done, fc) : NULL;
	b = mg__buf_new(fc, MG_MSG_MAX_DEFAULT);
	if (fc->in == NULL || b == NULL ||
	    mg__file_pull_req_encode(b, srcs, flags, mg__chan_in_handle(fc->in)) != 0 ||
	    start_links(fc, ctxs, dest, n_top) != 0 ||
	    mg_context_call_async(fc, from, "file.pull", b->data, b->len, -1, on_xfer_reply, fc,
				  &fc->pull_call) != 0) {
		talloc_free(fc);
		return NULL;
	}
	talloc_free(b);
	return fc;
}

void mg_file_stats(const struct mg_file_copy *fc, uint64_t *_bytes, uint64_t *_wire)
{
	*_bytes = fc->bytes;
	*_wire = fc->pack != NULL && fc->from == NULL ? mg__pack_wire_bytes(fc->pack) : fc->wire;
}
