/*
 * Contexts as a session sees them (mitogen's Context): the far end of a
 * chain that mg_connect() connected. A context belongs to its session:
 * the object stays valid until the session is freed, even once the
 * context is gone (shut down, lost, or failed to connect). A gone
 * context has left the session: calls to it fail at once, and the next
 * mg_connect of its chain connects a new context, with a new id.
 */
#ifndef MITOGEN_CONTEXT_H
#define MITOGEN_CONTEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <talloc.h>
#include "mitogen/service.h"
#include "mitogen/session.h"

#ifdef __cplusplus
extern "C" {
#endif

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

/* The agent's process id, as its own host sees it (from its HELLO
 * reply); 0 when the agent did not say. */
pid_t mg_context_pid(const struct mg_context *ctx);
/* Whether it is gone: shut down, lost, or failed to connect. */
bool mg_context_gone(const struct mg_context *ctx);

/* 'reason' names the context and says why it went, e.g.
 * "local/local: shut down" or "local: connection to local lost". */
typedef void (*mg_context_lost_fn)(struct mg_context *ctx, const char *reason, void *data);
struct mg_context_watch;
/* Call fn once, from the loop, when ctx is gone: shut down, its link
 * lost (an agent killed, a hop above it gone), or its connection failed
 * (then fn comes after the connect callback). Registered on a context
 * already gone, fn is called on the next loop iteration. Freeing the
 * returned object (on mem_ctx) cancels; NULL on ENOMEM. */
struct mg_context_watch *mg_context_on_disconnect(TALLOC_CTX *mem_ctx, struct mg_context *ctx,
						  mg_context_lost_fn fn, void *data);
/*
 * Shut ctx down: its agent gets SHUTDOWN, and stops as if its parent were
 * lost (its commands are signalled, the hops below it closed), then
 * exits. Its parent sees the link end and reaps the hop process; the
 * session evicts ctx and every context below it, which then hear
 * "NAME: shut down" through mg_context_on_disconnect. A context still
 * connecting is failed instead (a first hop's process is killed; a
 * later hop is told to stop as soon as it is up). Attached processes
 * (mitogen/unix.h) running commands on ctx or below hear at once that
 * it is "shut down by the session's master": their commands fail so,
 * not with the status the stopping agent gives them. The master kills a
 * first hop's session if it has not ended 5 s later. Returns 0 (also
 * when it is gone already), or MG_ERR_DISCONNECTED when SHUTDOWN cannot
 * be sent.
 */
int mg_context_shutdown(struct mg_context *ctx);
/*
 * mg_context_shutdown, then run the loop until ctx is gone and, for a
 * first hop, its process reaped (a later hop's process is reaped by the
 * agent above it, at about the same time). timeout_ms < 0: no bound.
 * Returns 0, MG_ERR_TIMEOUT, MG_ERR_CANCELLED (the loop was stopped, or a
 * callback freed the session meanwhile), or -EDEADLK from inside a loop
 * callback (use mg_context_shutdown and
 * mg_context_on_disconnect there).
 */
int mg_context_shutdown_wait(struct mg_context *ctx, int timeout_ms);
/*
 * Disconnect ctx now, without asking it (mitogen's Router.disconnect):
 * for a first hop, the master kills the hop's session at once, so its
 * link ends as a lost one and ctx and everything below it are evicted,
 * hearing the loss through mg_context_on_disconnect. A later hop's link
 * belongs to the agent above it, which this process cannot cut: it is
 * shut down instead (mg_context_shutdown). A context still connecting is
 * failed. Returns 0 (also when it is gone already), or as
 * mg_context_shutdown.
 */
int mg_context_disconnect(struct mg_context *ctx);

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

#ifdef __cplusplus
}
#endif

#endif
