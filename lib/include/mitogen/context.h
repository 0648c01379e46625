/*
 * Contexts as a session sees them (mitogen's Context): the far end of a
 * chain that mg_connect() connected. A context belongs to its session
 * and lives as long as it does.
 */
#ifndef MITOGEN_CONTEXT_H
#define MITOGEN_CONTEXT_H

#include <stddef.h>
#include <stdint.h>
#include <talloc.h>
#include "mitogen/service.h"
#include "mitogen/session.h"

/* Its context id (never 0: that is the master). */
uint32_t mg_context_id(const struct mg_context *ctx);
/* The context of the previous hop, or NULL for a first hop (whose parent
 * is the master). */
struct mg_context *mg_context_parent(const struct mg_context *ctx);
/* Its parent's id: 0 for a first hop. */
uint32_t mg_context_parent_id(const struct mg_context *ctx);
/* The ids above it, nearest first, the master (0) last, as its own
 * mg_router_parent_ids() says; on mem_ctx, with *_n their count, or
 * NULL on ENOMEM. */
uint32_t *mg_context_parent_ids(TALLOC_CTX *mem_ctx, const struct mg_context *ctx, size_t *_n);
/* The router of the session it belongs to (the master's). */
struct mg_router *mg_context_router(const struct mg_context *ctx);

/* mg_router_call to this context, from the master. */
int mg_context_call(TALLOC_CTX *mem_ctx, struct mg_context *ctx, const char *service,
		    const void *payload, size_t len, int timeout_ms, struct mg_message **_reply);
/* mg_router_call_async to this context, from the master. */
int mg_context_call_async(TALLOC_CTX *mem_ctx, struct mg_context *ctx, const char *service,
			  const void *payload, size_t len, int timeout_ms, mg_call_fn fn,
			  void *data, struct mg_call **_call);
/* mg_router_send to 'handle' in this context, from the master. */
int mg_context_send(struct mg_context *ctx, uint32_t handle, uint32_t reply_to,
		    const void *data, size_t len);

#endif
