/*
 * The master's side of file copies (mitogen/file.h): a push runs the
 * sending end (file-pack.c) here and asks each target's "file.push"
 * service for a receiver; a pull runs the receiving end (file-unpack.c)
 * here and asks "file.pull" for the stream.
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

struct target {
	struct mg_file_copy *fc;
	size_t idx;
	struct mg_context *ctx;
	struct mg_handler *report;
	struct mg_call *call;
	bool done;
};

struct mg_file_copy {
	struct mg_file_opts o;
	struct mg_loop *loop;
	struct target *t;
	size_t n;
	struct mg__pack *pack;     /* push */
	struct mg__unpack *unpack; /* pull */
	struct mg_chan_in *in;
	uint64_t bytes;
};

struct later {
	struct target *t;
	int err;
	char *msg;
};

static void end_target(struct target *t, int err, const char *msg)
{
	struct mg_file_copy *fc = t->fc;

	if (t->done) {
		return;
	}
	t->done = true;
	TALLOC_FREE(t->report);
	TALLOC_FREE(t->call);
	if (fc->pack != NULL && err != 0) {
		mg__pack_drop(fc->pack, t->idx, err);
	}
	if (fc->o.on_done != NULL) {
		fc->o.on_done(t->idx, err, msg, fc->o.data);
	}
}

static void on_report(struct mg_router *r, struct mg_msg *m, void *data)
{
	struct target *t = data;
	struct mg_file_copy *fc = t->fc;
	TALLOC_CTX *tmp = talloc_new(NULL);
	struct mg_buf b;
	uint8_t kind = 0, at_source = 0;
	char *path = NULL, *msg = NULL;

	(void)r;
	if ((m->flags & MG_F_DEAD) != 0) {
		char *why = talloc_strndup(tmp, (const char *)m->data, m->len);
		end_target(t, MG_ERR_DISCONNECTED, why != NULL ? why : "lost");
	} else {
		mg__buf_view(&b, m->data, m->len);
		mg__buf_get_u8(&b, &kind);
		if (kind == MG__FILE_REPORT_ERROR && mg__buf_get_str(&b, tmp, &path) == 0 &&
		    mg__buf_get_str(&b, tmp, &msg) == 0 && fc->o.on_error != NULL) {
			/* Optional: absent, the receiver's own failure. */
			mg__buf_get_u8(&b, &at_source);
			fc->o.on_error(t->idx, at_source != 0, path != NULL ? path : "?",
				       msg != NULL ? msg : "?", fc->o.data);
		} else if (kind == MG__FILE_REPORT_END) {
			end_target(t, 0, NULL);
		}
	}
	talloc_free(tmp);
}

static void on_push_reply(struct mg_message *reply, int err, void *data)
{
	struct target *t = data;
	size_t len = 0;
	const uint8_t *p;

	t->call = NULL;
	if (err != 0) {
		end_target(t, err, reply != NULL ? mg_message_dead_reason(reply) : mg_strerror(err));
		return;
	}
	p = mg_message_data(reply, &len);
	if (len < 4) {
		end_target(t, MG_ERR_PROTOCOL, "bad answer to file.push");
		return;
	}
	mg__pack_start(t->fc->pack, t->idx, mg__get_be32(p));
}

static void on_pack_done(void *data, size_t idx, int err)
{
	struct mg_file_copy *fc = data;

	/* A clean end waits for the receiver's report. */
	if (err != 0) {
		end_target(&fc->t[idx], err, err == -EPIPE ? "the receiver stopped" : mg_strerror(err));
	}
}

static void on_bytes(void *data, uint64_t bytes)
{
	struct mg_file_copy *fc = data;

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

static int push_one(struct mg_file_copy *fc, struct target *t, const char *dest, uint32_t n_top)
{
	struct mg_router *r = mg_context_router(t->ctx);
	uint32_t id = mg_context_id(t->ctx);
	struct mg__file_push_req rq = { .dest = dest, .flags = fc->o.flags, .n_top = n_top };
	struct mg_buf *b = mg__buf_new(fc, MG_MSG_MAX_DEFAULT);
	int idx = mg__pack_add(fc->pack, id), ret;

	if (b == NULL || idx < 0) {
		talloc_free(b);
		return -ENOMEM;
	}
	t->report = mg__router_add_handler(fc, r, 0, MG_POL_RESPONDENT, id, true, on_report, t);
	if (t->report == NULL) {
		talloc_free(b);
		return -ENOMEM;
	}
	rq.h_ack = mg__pack_ack(fc->pack, (size_t)idx);
	rq.h_report = mg__handler_handle(t->report);
	ret = mg__file_push_req_encode(b, &rq);
	if (ret == 0) {
		ret = mg_context_call_async(fc, t->ctx, "file.push", b->data, b->len, -1,
					    on_push_reply, t, &t->call);
	}
	talloc_free(b);
	return ret;
}

static void fail_later(void *data)
{
	struct later *l = data;

	end_target(l->t, l->err, l->msg);
	talloc_free(l);
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
	fc->pack = mg__pack_new(fc, mg_context_router(ctxs[0]), srcs, opts->flags, on_pack_done,
				on_bytes, fc);
	if (fc->pack == NULL) {
		talloc_free(fc);
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		int ret;

		fc->t[i].ctx = ctxs[i];
		ret = push_one(fc, &fc->t[i], dest, n_top);
		if (ret != 0) {
			struct later *l = talloc_zero(fc, struct later);

			if (l == NULL) {
				talloc_free(fc);
				return NULL;
			}
			l->t = &fc->t[i];
			l->err = ret;
			l->msg = talloc_strdup(l, mg_strerror(ret));
			mg_loop_defer(fc->loop, fc, fail_later, l);
		}
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
	fc->bytes += n;
	on_bytes(fc, fc->bytes);
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
	fc->unpack = mg__unpack_new(fc, dest, opts->flags, n_top, pull_error, fc, _errmsg);
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
	    mg__file_pull_req_encode(b, srcs, opts->flags, mg__chan_in_handle(fc->in)) != 0) {
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
