/* Contexts as public objects: see mitogen/context.h. */
#include <errno.h>

#include "mitogen/context.h"
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
