/*
 * The master's side of file copies (mitogen/file.h): a push reads the
 * sources here and sends them to the targets through the fan of
 * file-fan.c (one stream down each link, relayed where several targets
 * share a hop); a pull runs the receiving end (file-unpack.c) here and
 * asks "file.pull" for the stream; a transfer between contexts that
 * share a hop is done by the deepest context above all of them
 * ("file.copy"), else it passes through here.
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
	struct mg_call *call;      /* a pull's request */
	bool done;
};

struct mg_file_copy {
	struct mg_file_opts o;
	struct target *t;
	size_t n;
	struct mg__fan *fan;       /* push, transfer */
	struct mg_context *from;   /* a transfer's source */
	struct mg__unpack *unpack; /* pull */
	struct mg_chan_in *in;
	uint64_t bytes, wire;
	bool total_told;
};

/* The source's total, once, when it has counted it. */
static void tell_total(struct mg_file_copy *fc, uint64_t total)
{
	if (!fc->total_told && total != MG__FILE_NO_TOTAL && fc->o.on_total != NULL) {
		fc->total_told = true;
		fc->o.on_total(total, fc->o.data);
	}
}

static void end_target(struct target *t, int err, const char *msg)
{
	struct mg_file_copy *fc = t->fc;

	if (t->done) {
		return;
	}
	t->done = true;
	TALLOC_FREE(t->call);
	if (fc->o.on_done != NULL) {
		fc->o.on_done(t->idx, err, msg, fc->o.data);
	}
}

/* A report of target idx's receiver: an error, its end, or a relay's
 * word that it could not be reached or was lost. */
static void on_report(void *data, size_t idx, const uint8_t *p, size_t n)
{
	struct mg_file_copy *fc = data;
	struct target *t = &fc->t[idx];
	TALLOC_CTX *tmp = talloc_new(NULL);
	uint8_t kind = 0, at_source = 0;
	char *path = NULL, *msg = NULL;
	struct mg_buf b;

	mg__buf_view(&b, p, n);
	mg__buf_get_u8(&b, &kind);
	if (kind == MG__FILE_REPORT_ERROR && mg__buf_get_str(&b, tmp, &path) == 0 &&
	    mg__buf_get_str(&b, tmp, &msg) == 0 && fc->o.on_error != NULL) {
		/* Optional: absent, the receiver's own failure. */
		mg__buf_get_u8(&b, &at_source);
		fc->o.on_error(t->idx, at_source != 0, path != NULL ? path : "?",
			       msg != NULL ? msg : "?", fc->o.data);
	} else if (kind == MG__FILE_REPORT_END) {
		end_target(t, 0, NULL);
	} else if (kind == MG__FILE_REPORT_FAILED) {
		mg__buf_get_str(&b, tmp, &msg);
		/* A source lost while a hop below copied from it: as lost
		 * as when the stream passes through here. */
		end_target(t, fc->from != NULL && mg_context_gone(fc->from) ? MG_ERR_DISCONNECTED
									   : MG_ERR_CALL,
			   msg != NULL ? msg : "failed");
	}
	talloc_free(tmp);
}

static void on_failed(void *data, size_t idx, int err, const char *why)
{
	struct mg_file_copy *fc = data;

	end_target(&fc->t[idx], err, why);
}

static void on_bytes(void *data, uint64_t bytes, bool last)
{
	struct mg_file_copy *fc = data;

	(void)last;
	fc->bytes = bytes;
	if (fc->fan != NULL) {
		tell_total(fc, mg__fan_total(fc->fan));
	}
	if (fc->o.on_bytes != NULL) {
		fc->o.on_bytes(bytes, fc->o.data);
	}
}

static struct mg_file_copy *copy_new(TALLOC_CTX *mem_ctx, size_t n,
				     const struct mg_file_opts *opts)
{
	struct mg_file_copy *fc = talloc_zero(mem_ctx, struct mg_file_copy);

	if (fc == NULL || n == 0 || (fc->t = talloc_zero_array(fc, struct target, n)) == NULL) {
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

/* The deepest context that is, or is above, both a and b; NULL when
 * only the master is. */
static struct mg_context *meet2(struct mg_context *a, struct mg_context *b)
{
	for (; a != NULL; a = mg_context_parent(a)) {
		for (struct mg_context *x = b; x != NULL; x = mg_context_parent(x)) {
			if (x == a) {
				return a;
			}
		}
	}
	return NULL;
}

/* Where targets tix[0..n) part: a relay there serves them all. */
static uint32_t meet(void *data, const size_t *tix, size_t n)
{
	struct mg_file_copy *fc = data;
	struct mg_context *c = fc->t[tix[0]].ctx;

	for (size_t i = 1; c != NULL && i < n; i++) {
		c = meet2(c, fc->t[tix[i]].ctx);
	}
	/* Never NULL: the fan groups only targets behind one first hop. */
	return c != NULL ? mg_context_id(c) : mg_context_id(fc->t[tix[0]].ctx);
}

/* The fan to the targets ctxs, with the request every receiver gets. */
static int fan_new(struct mg_file_copy *fc, struct mg_context *const *ctxs,
		   const char *const *srcs, const char *dest)
{
	struct mg__fan_cb cb = { .report = on_report, .failed = on_failed, .bytes = on_bytes,
				 .meet = meet, .data = fc };
	struct mg__file_push_req rq = { .dest = dest, .flags = fc->o.flags & MG__FILE_KNOWN };
	uint32_t *ids = talloc_array(fc, uint32_t, fc->n);

	while (srcs[rq.n_top] != NULL) {
		rq.n_top++;
	}
	for (size_t i = 0; ids != NULL && i < fc->n; i++) {
		fc->t[i].ctx = ctxs[i];
		ids[i] = mg_context_id(ctxs[i]);
	}
	fc->fan = ids != NULL ? mg__fan_new(fc, mg_context_router(ctxs[0]), &rq, ids, fc->n,
					    (fc->o.flags & MG_FILE_NO_RELAY) == 0, &cb) : NULL;
	talloc_free(ids);
	return fc->fan != NULL ? 0 : -ENOMEM;
}

struct mg_file_copy *mg_file_push(TALLOC_CTX *mem_ctx, struct mg_context *const *ctxs, size_t n,
				  const char *const *srcs, const char *dest,
				  const struct mg_file_opts *opts)
{
	struct mg_file_copy *fc = copy_new(mem_ctx, n, opts);

	if (fc == NULL || fan_new(fc, ctxs, srcs, dest) != 0 || mg__fan_push(fc->fan, srcs) != 0) {
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
	on_bytes(fc, mg__unpack_data_bytes(fc->unpack), false);
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
	const char *why = NULL;
	uint32_t h = 0;

	fc->t[0].call = NULL;
	err = mg__file_answer(reply, err, "bad answer to file.pull", &h, &why);
	if (err != 0) {
		TALLOC_FREE(fc->in);
		end_target(&fc->t[0], err, why);
		return;
	}
	tell_total(fc, mg__file_answer_total(reply));
	mg__chan_in_set_ack(fc->in, h);
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
				     mg__chan_in_handle(fc->in), opts->on_total != NULL) != 0) {
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

/* --- between contexts --- */

struct mg_file_copy *mg_file_transfer(TALLOC_CTX *mem_ctx, struct mg_context *from,
				      const char *const *srcs, struct mg_context *const *ctxs,
				      size_t n, const char *dest, const struct mg_file_opts *opts)
{
	struct mg_file_copy *fc = copy_new(mem_ctx, n, opts);
	struct mg_context *at = from;
	int ret;

	/* The deepest context above (or among) 'from' and every target. */
	for (size_t i = 0; at != NULL && i < n; i++) {
		at = meet2(at, ctxs[i]);
	}
	if (fc == NULL || fan_new(fc, ctxs, srcs, dest) != 0) {
		talloc_free(fc);
		return NULL;
	}
	fc->from = from;
	if (opts->on_total != NULL) {
		mg__fan_want_total(fc->fan);
	}
	if (at != NULL && (opts->flags & MG_FILE_NO_RELAY) == 0) {
		ret = mg__fan_copy_at(fc->fan, mg_context_id(at), mg_context_id(from), srcs);
	} else {
		ret = mg__fan_pull(fc->fan, mg_context_id(from), srcs);
	}
	if (ret != 0) {
		talloc_free(fc);
		return NULL;
	}
	return fc;
}

void mg_file_stats(const struct mg_file_copy *fc, uint64_t *_bytes, uint64_t *_wire)
{
	*_bytes = fc->bytes;
	*_wire = fc->unpack != NULL ? fc->wire : fc->from == NULL ? mg__fan_wire_bytes(fc->fan)
								   : fc->bytes;
}
