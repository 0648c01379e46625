/* Contexts as public objects: see mitogen/context.h. */
#include "mitogen/context.h"
#include "mitogen/log.h"
#include "session.h"

uint32_t mg_context_id(const struct mg_context *ctx)
{
	return ctx->id;
}

struct mg_context *mg_context_parent(const struct mg_context *ctx)
{
	return ctx->parent;
}

uint32_t mg_context_parent_id(const struct mg_context *ctx)
{
	const struct mg_context *p = ctx->parent;

	return p != NULL ? p->id : 0;
}

uint32_t *mg_context_parent_ids(TALLOC_CTX *mem_ctx, const struct mg_context *ctx, size_t *_n)
{
	const struct mg_context *p;
	size_t n = 1, i = 0;
	uint32_t *ids;

	for (p = ctx->parent; p != NULL; p = p->parent) {
		n++;
	}
	ids = talloc_array(mem_ctx, uint32_t, n);
	if (ids == NULL) {
		*_n = 0;
		return NULL;
	}
	for (p = ctx->parent; p != NULL; p = p->parent) {
		ids[i++] = p->id;
	}
	ids[i] = 0;	/* the master */
	*_n = n;
	return ids;
}

struct mg_router *mg_context_router(const struct mg_context *ctx)
{
	return ctx->s->r;
}

int mg_context_call(TALLOC_CTX *mem_ctx, struct mg_context *ctx, const char *service,
		    const void *payload, size_t len, int timeout_ms, struct mg_message **_reply)
{
	return mg_router_call(mem_ctx, mg_context_router(ctx), ctx->id, service, payload, len,
			      timeout_ms, _reply);
}

int mg_context_call_async(TALLOC_CTX *mem_ctx, struct mg_context *ctx, const char *service,
			  const void *payload, size_t len, int timeout_ms, mg_call_fn fn,
			  void *data, struct mg_call **_call)
{
	return mg_router_call_async(mem_ctx, mg_context_router(ctx), ctx->id, service,
				    payload, len, timeout_ms, fn, data, _call);
}

int mg_context_send(struct mg_context *ctx, uint32_t handle, uint32_t reply_to,
		    const void *data, size_t len)
{
	return mg_router_send(mg_context_router(ctx), ctx->id, handle, reply_to, data, len);
}

/* Lifecycle: on-disconnect watchers (shutting down is session.c's). */

struct mg_context_watch {
	struct mg_context_watch *next, **prevp;
	struct mg_context *ctx;     /* NULL once the session is freed */
	mg_context_lost_fn fn;
	void *data;
	bool scheduled;
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
	watch_unlink(w);
	w->fn(w->ctx, w->ctx->errmsg != NULL ? w->ctx->errmsg : "context lost", w->data);
}

/* From the loop, never inside the call that made it go; freeing w
 * first cancels the call. It stays on the context's list until then,
 * so that a session freed first detaches it (w->ctx NULL). */
static void watch_schedule(struct mg_context_watch *w)
{
	if (w->scheduled) {
		return;
	}
	w->scheduled = true;
	if (mg_loop_defer(w->ctx->s->loop, w, watch_fire, w) != 0) {
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
	w->next = ctx->watches;
	if (w->next != NULL) {
		w->next->prevp = &w->next;
	}
	w->prevp = &ctx->watches;
	ctx->watches = w;
	if (ctx->state == CTX_GONE) {
		watch_schedule(w);
	}
	return w;
}

void mg__context_gone(struct mg_context *ctx)
{
	struct mg_context_watch *w;

	/* Each fires once, scheduled; watch_fire takes it off the list. */
	for (w = ctx->watches; w != NULL; w = w->next) {
		watch_schedule(w);
	}
}

void mg__context_detach_watches(struct mg_context *ctx)
{
	struct mg_context_watch *w;

	while ((w = ctx->watches) != NULL) {
		watch_unlink(w);
		w->ctx = NULL;
	}
}

bool mg_context_gone(const struct mg_context *ctx)
{
	return ctx->state == CTX_GONE;
}

pid_t mg_context_pid(const struct mg_context *ctx)
{
	return ctx->pid;
}
