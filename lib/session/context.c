/* Contexts as public objects: see mitogen/context.h. */
#include <errno.h>

#include "conn.h"
#include "mitogen/context.h"
#include "mitogen/log.h"
#include "protocol.h"
#include "receiver-private.h"
#include "session.h"

uint32_t mg_context_id(const struct mg_context *ctx)
{
	return mg__context_id(ctx);
}

struct mg_context *mg_context_parent(const struct mg_context *ctx)
{
	return mg__context_parent(ctx);
}

uint32_t mg_context_parent_id(const struct mg_context *ctx)
{
	const struct mg_context *p = mg__context_parent(ctx);

	return p != NULL ? mg__context_id(p) : 0;
}

uint32_t *mg_context_parent_ids(TALLOC_CTX *mem_ctx, const struct mg_context *ctx, size_t *_n)
{
	const struct mg_context *p;
	size_t n = 1, i = 0;
	uint32_t *ids;

	for (p = mg__context_parent(ctx); p != NULL; p = mg__context_parent(p)) {
		n++;
	}
	ids = talloc_array(mem_ctx, uint32_t, n);
	if (ids == NULL) {
		*_n = 0;
		return NULL;
	}
	for (p = mg__context_parent(ctx); p != NULL; p = mg__context_parent(p)) {
		ids[i++] = mg__context_id(p);
	}
	ids[i] = 0;	/* the master */
	*_n = n;
	return ids;
}

struct mg_router *mg_context_router(const struct mg_context *ctx)
{
	return mg__session_router(mg__context_session(ctx));
}

int mg_context_call(TALLOC_CTX *mem_ctx, struct mg_context *ctx, const char *service,
		    const void *payload, size_t len, int timeout_ms, struct mg_message **_reply)
{
	return mg_router_call(mem_ctx, mg_context_router(ctx), mg__context_id(ctx), service,
			      payload, len, timeout_ms, _reply);
}

int mg_context_call_async(TALLOC_CTX *mem_ctx, struct mg_context *ctx, const char *service,
			  const void *payload, size_t len, int timeout_ms, mg_call_fn fn,
			  void *data, struct mg_call **_call)
{
	return mg_router_call_async(mem_ctx, mg_context_router(ctx), mg__context_id(ctx), service,
				    payload, len, timeout_ms, fn, data, _call);
}

int mg_context_send(struct mg_context *ctx, uint32_t handle, uint32_t reply_to,
		    const void *data, size_t len)
{
	return mg_router_send(mg_context_router(ctx), mg__context_id(ctx), handle, reply_to,
			      data, len);
}

/* Lifecycle: on-disconnect watchers, shutdown. */

struct mg_context_watch {
	struct mg_context_watch *next, **prevp;
	struct mg_context *ctx;     /* NULL once the session is freed */
	mg_context_lost_fn fn;
	void *data;
	bool fired;
};

static void watch_unlink(struct mg_context_watch *w)
{
	if (w->prevp != NULL) {
		*w->prevp = w->next;
		if (w->next != NULL) {
			w->next->prevp = w->prevp;
		}
	}
	w->prevp = NULL;
	w->next = NULL;
}

static int watch_destructor(struct mg_context_watch *w)
{
	watch_unlink(w);
	return 0;
}

static void watch_fire(void *data)
{
	struct mg_context_watch *w = talloc_get_type_abort(data, struct mg_context_watch);

	if (w->fired || w->ctx == NULL) {
		return;
	}
	w->fired = true;
	w->fn(w->ctx, w->ctx->errmsg != NULL ? w->ctx->errmsg : "context lost", w->data);
}

/* From the loop, never inside the call that made it go; freeing w
 * first cancels the call. */
static void watch_schedule(struct mg_context_watch *w)
{
	if (mg_loop_defer(mg_session_loop(w->ctx->s), w, watch_fire, w) != 0) {
		mg_error("%s: cannot tell a watcher it is gone: out of memory", w->ctx->name);
	}
}

struct mg_context_watch *mg_context_on_disconnect(TALLOC_CTX *mem_ctx, struct mg_context *ctx,
						  mg_context_lost_fn fn, void *data)
{
	struct mg_context_watch *w = talloc_zero(mem_ctx, struct mg_context_watch);

	if (w == NULL) {
		return NULL;
	}
	w->ctx = ctx;
	w->fn = fn;
	w->data = data;
	talloc_set_destructor(w, watch_destructor);
	if (ctx->state == CTX_GONE) {
		watch_schedule(w);
		return w;
	}
	w->next = ctx->watches;
	if (w->next != NULL) {
		w->next->prevp = &w->next;
	}
	w->prevp = &ctx->watches;
	ctx->watches = w;
	return w;
}

void mg__context_gone(struct mg_context *ctx)
{
	struct mg_context_watch *w, *next;

	/* Each fires once: off the list, scheduled. */
	for (w = ctx->watches; w != NULL; w = next) {
		next = w->next;
		watch_unlink(w);
		watch_schedule(w);
	}
	ctx->watches = NULL;
}

void mg__context_detach_watches(struct mg_context *ctx)
{
	struct mg_context_watch *w;

	while ((w = ctx->watches) != NULL) {
		watch_unlink(w);
		w->ctx = NULL;
	}
}

int mg__context_shutdown(struct mg_context *ctx)
{
	int ret;

	switch (ctx->state) {
	case CTX_GONE:
		return 0;
	case CTX_CONNECTING:
		mg__context_cancel(ctx, "shut down while connecting");
		return 0;
	case CTX_UP:
	default:
		break;
	}
	/* Its agent stops as if its parent were lost, and exits: the link
	 * ends, the route goes, and the session evicts it (on_lost). */
	ret = mg__router_send(mg__session_router(ctx->s), ctx->id, MG_H_SHUTDOWN, 0, 0, NULL, 0);
	if (ctx->conn != NULL) {
		mg__conn_stop_after(ctx->conn, MG_CONN_STOP_MS);
	}
	return ret;
}

int mg_context_shutdown(struct mg_context *ctx)
{
	if (ctx->shutting && ctx->state != CTX_CONNECTING) {
		return 0;
	}
	ctx->shutting = true;
	return mg__context_shutdown(ctx);
}

bool mg_context_gone(const struct mg_context *ctx)
{
	return ctx->state == CTX_GONE;
}

pid_t mg_context_pid(const struct mg_context *ctx)
{
	return ctx->pid;
}

static bool ctx_stopped(const struct mg_context *ctx)
{
	return ctx->state == CTX_GONE && !ctx->running;
}

int mg_context_shutdown_wait(struct mg_context *ctx, int timeout_ms)
{
	struct mg_loop *loop = mg_session_loop(ctx->s);
	uint64_t deadline = mg__deadline(timeout_ms);
	bool last = false;
	int ret;

	if (mg_loop_running(loop)) {
		return -EDEADLK;
	}
	if ((ret = mg_context_shutdown(ctx)) != 0) {
		return ret;
	}
	while (ret == 0 && !ctx_stopped(ctx)) {
		ret = mg__wait_step(loop, deadline, &last);
	}
	return ret;
}
