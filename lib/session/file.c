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

/* The public flags are the wire's (MG__FILE_KNOWN passes them on). */
_Static_assert(MG_FILE_RECURSIVE == MG__FILE_RECURSIVE && MG_FILE_PRESERVE == MG__FILE_PRESERVE &&
	       MG_FILE_LINKS == MG__FILE_LINKS && MG_FILE_SPARSE == MG__FILE_SPARSE &&
	       MG_FILE_INTO == MG__FILE_INTO && MG_FILE_COMPRESS == MG__FILE_COMPRESS &&
	       MG_FILE_UMASK == MG__FILE_UMASK, "public and wire flags differ");

struct target {
	struct copy *fc;
	size_t idx;
	struct mg_context *ctx;
	struct mg_call *call;      /* a pull's request */
	bool done;
};

/*
 * The copy itself, under the handle the program holds. The program may
 * free the handle from any of its callbacks (mitogen(3)), where the
 * machinery that called it is still on the stack: the copy then outlives
 * it to the end of the loop iteration, calling nobody any more.
 */
struct copy {
	struct mg_file_copy *handle; /* NULL once the program freed it */
	struct mg_loop *loop;
	unsigned depth;            /* the program's callbacks on the stack */
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

struct mg_file_copy {
	struct copy *c;
};

/* Whether the program still wants callbacks; the caller then counts one
 * on the stack (depth) for its duration. */
static bool wanted(struct copy *fc)
{
	return fc->handle != NULL;
}

/* The source's total, once, when it has counted it. */
static void tell_total(struct copy *fc, uint64_t total)
{
	if (!fc->total_told && total != MG__FILE_NO_TOTAL && fc->o.on_total != NULL &&
	    wanted(fc)) {
		fc->total_told = true;
		fc->depth++;
		fc->o.on_total(total, fc->o.data);
		fc->depth--;
	}
}

static void end_target(struct target *t, int err, const char *msg)
{
	struct copy *fc = t->fc;

	if (t->done) {
		return;
	}
	t->done = true;
	TALLOC_FREE(t->call);
	if (fc->o.on_done != NULL && wanted(fc)) {
		fc->depth++;
		fc->o.on_done(t->idx, err, msg, fc->o.data);
		fc->depth--;
	}
}

static void report_error(struct copy *fc, size_t idx, bool at_source, const char *path,
			 const char *msg)
{
	if (fc->o.on_error != NULL && wanted(fc)) {
		fc->depth++;
		fc->o.on_error(idx, at_source, path, msg, fc->o.data);
		fc->depth--;
	}
}

/* A report of target idx's receiver: an error, its end, or a relay's
 * word that it could not be reached or was lost. */
static void on_report(void *data, size_t idx, const uint8_t *p, size_t n)
{
	struct copy *fc = data;
	struct target *t = &fc->t[idx];
	TALLOC_CTX *tmp = talloc_new(NULL);
	uint8_t kind = 0, at_source = 0;
	char *path = NULL, *msg = NULL;
	struct mg_buf b;

	mg__buf_view(&b, p, n);
	mg__buf_get_u8(&b, &kind);
	if (kind == MG__FILE_REPORT_ERROR && mg__buf_get_str(&b, tmp, &path) == 0 &&
	    mg__buf_get_str(&b, tmp, &msg) == 0) {
		/* Optional: absent, the receiver's own failure. */
		mg__buf_get_u8(&b, &at_source);
		report_error(fc, t->idx, at_source != 0, path != NULL ? path : "?",
			     msg != NULL ? msg : "?");
	} else if (kind == MG__FILE_REPORT_END) {
		end_target(t, 0, NULL);
	} else if (kind == MG__FILE_REPORT_FAILED) {
		mg__buf_get_str(&b, tmp, &msg);
		/* A source or a receiver lost while a hop below copied
		 * between them: as lost as when the stream passes through
		 * here (the hop says so after the link's loss, PROTOCOL 5.9). */
		if (fc->from != NULL && mg_context_gone(fc->from)) {
			end_target(t, MG_ERR_DISCONNECTED, msg != NULL ? msg : "failed");
		} else if (mg_context_gone(t->ctx)) {
			end_target(t, MG_ERR_DISCONNECTED, "the connection was lost while copying");
		} else {
			end_target(t, MG_ERR_CALL, msg != NULL ? msg : "failed");
		}
	}
	talloc_free(tmp);
}

static void on_failed(void *data, size_t idx, int err, const char *why)
{
	struct copy *fc = data;

	end_target(&fc->t[idx], err, why);
}

static void on_bytes(void *data, uint64_t bytes, bool last)
{
	struct copy *fc = data;

	(void)last;
	fc->bytes = bytes;
	if (fc->fan != NULL) {
		tell_total(fc, mg__fan_total(fc->fan));
	}
	if (fc->o.on_bytes != NULL && wanted(fc)) {
		fc->depth++;
		fc->o.on_bytes(bytes, fc->o.data);
		fc->depth--;
	}
}

/* Freed by the program: from one of its callbacks, the copy goes at the
 * end of the iteration, once what called it is off the stack. */
static int handle_destructor(struct mg_file_copy *h)
{
	struct copy *fc = h->c;

	fc->handle = NULL;
	if (fc->depth > 0) {
		mg_loop_free_later(fc->loop, fc);
	}
	return 0;
}

/* On a failed start: nothing was called yet. */
static void copy_free(struct copy *fc)
{
	if (fc != NULL) {
		talloc_free(fc->handle);
	}
}

static struct copy *copy_new(TALLOC_CTX *mem_ctx, struct mg_context *ctx, size_t n,
			     const struct mg_file_opts *opts)
{
	struct mg_file_copy *h = talloc_zero(mem_ctx, struct mg_file_copy);
	struct copy *fc = h != NULL ? talloc_zero(h, struct copy) : NULL;

	if (fc == NULL || n == 0 || (fc->t = talloc_zero_array(fc, struct target, n)) == NULL) {
		talloc_free(h);
		return NULL;
	}
	h->c = fc;
	fc->handle = h;
	fc->loop = mg_router_loop(mg_context_router(ctx));
	talloc_set_destructor(h, handle_destructor);
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
	struct copy *fc = data;
	struct mg_context *c = fc->t[tix[0]].ctx;

	for (size_t i = 1; c != NULL && i < n; i++) {
		c = meet2(c, fc->t[tix[i]].ctx);
	}
	/* Never NULL: the fan groups only targets behind one first hop. */
	return c != NULL ? mg_context_id(c) : mg_context_id(fc->t[tix[0]].ctx);
}

/* The fan to the targets ctxs, with the request every receiver gets. */
static int fan_new(struct copy *fc, struct mg_context *const *ctxs,
		   const char *const *srcs, const char *dest)
{
	struct mg__fan_cb cb = { .report = on_report, .failed = on_failed, .bytes = on_bytes,
				 .meet = meet, .data = fc };
	struct mg__file_push_req rq = { .dest = dest, .flags = fc->o.flags & MG__FILE_KNOWN,
					.umask = fc->o.umask };
	uint32_t *ids = talloc_array(fc, uint32_t, fc->n);
	char **names = ids != NULL ? mg__file_src_names(ids, srcs) : NULL;

	while (srcs[rq.n_top] != NULL) {
		rq.n_top++;
	}
	/* The receivers write only what the sources are named: a far
	 * source puts nothing else beside them. */
	rq.names = (const char *const *)names;
	for (size_t i = 0; ids != NULL && i < fc->n; i++) {
		fc->t[i].ctx = ctxs[i];
		ids[i] = mg_context_id(ctxs[i]);
	}
	fc->fan = names != NULL ? mg__fan_new(fc, mg_context_router(ctxs[0]), &rq, ids, fc->n,
					    (fc->o.flags & MG_FILE_NO_RELAY) == 0, &cb) : NULL;
	talloc_free(ids);
	return fc->fan != NULL ? 0 : -ENOMEM;
}

struct mg_file_copy *mg_file_push(TALLOC_CTX *mem_ctx, struct mg_context *const *ctxs, size_t n,
				  const char *const *srcs, const char *dest,
				  const struct mg_file_opts *opts)
{
	struct copy *fc = n > 0 ? copy_new(mem_ctx, ctxs[0], n, opts) : NULL;

	if (fc == NULL || fan_new(fc, ctxs, srcs, dest) != 0 || mg__fan_push(fc->fan, srcs) != 0) {
		copy_free(fc);
		return NULL;
	}
	return fc->handle;
}

/* --- pull --- */

static void pull_error(void *data, bool at_source, const char *path, const char *msg)
{
	report_error(data, 0, at_source, path, msg);
}

static void pull_feed(void *data, const uint8_t *p, size_t n)
{
	struct copy *fc = data;

	mg__unpack_feed(fc->unpack, p, n);
	fc->wire += n;
	on_bytes(fc, mg__unpack_data_bytes(fc->unpack), false);
}

static void on_pull_in_done(void *data, int err)
{
	struct copy *fc = data;
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
	struct copy *fc = data;
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
	struct copy *fc = copy_new(mem_ctx, ctx, 1, opts);
	struct mg_router *r = mg_context_router(ctx);
	uint32_t n_top = 0;
	struct mg_buf *b;
	char **names;
	int ret;

	*_errmsg = NULL;
	if (fc == NULL) {
		return NULL;
	}
	while (srcs[n_top] != NULL) {
		n_top++;
	}
	fc->t[0].ctx = ctx;
	fc->unpack = mg__unpack_new(fc, dest, opts->flags & MG__FILE_KNOWN, opts->umask, n_top,
				    pull_error, fc, _errmsg);
	if (fc->unpack == NULL) {
		if (*_errmsg != NULL) {
			*_errmsg = talloc_steal(mem_ctx, *_errmsg);
		}
		copy_free(fc);
		return NULL;
	}
	/* The far end may write only what the sources are named. */
	names = mg__file_src_names(fc, srcs);
	ret = names != NULL ? mg__unpack_expect(fc->unpack, (const char *const *)names) : -ENOMEM;
	talloc_free(names);
	if (ret != 0) {
		copy_free(fc);
		return NULL;
	}
	fc->in = mg__chan_in_new_sink(fc, r, mg_context_id(ctx), pull_feed, fc, on_pull_in_done, fc);
	b = mg__buf_new(fc, MG_MSG_MAX_DEFAULT);
	if (fc->in == NULL || b == NULL ||
	    mg__file_pull_req_encode(b, srcs, opts->flags & MG__FILE_KNOWN,
				     mg__chan_in_handle(fc->in), opts->on_total != NULL) != 0) {
		copy_free(fc);
		return NULL;
	}
	ret = mg_context_call_async(fc, ctx, "file.pull", b->data, b->len, -1, on_pull_reply, fc,
				    &fc->t[0].call);
	talloc_free(b);
	if (ret != 0) {
		*_errmsg = talloc_strdup(mem_ctx, mg_strerror(ret));
		copy_free(fc);
		return NULL;
	}
	return fc->handle;
}

/* --- between contexts --- */

struct mg_file_copy *mg_file_transfer(TALLOC_CTX *mem_ctx, struct mg_context *from,
				      const char *const *srcs, struct mg_context *const *ctxs,
				      size_t n, const char *dest, const struct mg_file_opts *opts)
{
	struct copy *fc = copy_new(mem_ctx, from, n, opts);
	struct mg_context *at = from;
	int ret;

	/* The deepest context above (or among) 'from' and every target. */
	for (size_t i = 0; at != NULL && i < n; i++) {
		at = meet2(at, ctxs[i]);
	}
	if (fc == NULL || fan_new(fc, ctxs, srcs, dest) != 0) {
		copy_free(fc);
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
		copy_free(fc);
		return NULL;
	}
	return fc->handle;
}

void mg_file_stats(const struct mg_file_copy *h, uint64_t *_bytes, uint64_t *_wire)
{
	const struct copy *fc = h->c;

	*_bytes = fc->bytes;
	*_wire = fc->unpack != NULL ? fc->wire : fc->from == NULL ? mg__fan_wire_bytes(fc->fan)
								   : fc->bytes;
}
