/*
 * The router of one context: which neighbour leads to which context id,
 * and the handles messages are delivered to. This is the first public
 * slice of it: identity and sending. Receivers (receiver.h) register
 * handles on it; connecting contexts still goes through mg_connect
 * (session.h).
 */
#ifndef MITOGEN_ROUTER_H
#define MITOGEN_ROUTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <talloc.h>
#include "mitogen/loop.h"

#ifdef __cplusplus
extern "C" {
#endif

struct mg_router;
struct mg_session;

/* The router of the master context (id 0) a session owns. */
struct mg_router *mg_session_router(struct mg_session *s);
/* The session that owns 'r' (the master's router), or NULL for any other
 * router (an agent's, a pushed worker's, an attached context's). */
struct mg_session *mg_router_session(struct mg_router *r);

/*
 * mitogen's run_with_router: make a loop and a session, call fn with the
 * session's router (the master, context 0; mg_router_session() gives the
 * session, to connect contexts with), then shut the session down (every
 * context it connected, waiting up to 10 s for their processes), free
 * everything and return what fn returned. fn may run the loop (blocking
 * gets and calls do) but must not keep anything past its return that
 * belongs to the session. Returns fn's result, or -ENOMEM (fn not
 * called) or -EINVAL (fn NULL).
 */
int mg_run_with_router(int (*fn)(struct mg_router *r, void *data), void *data);

/* This context's id: 0 for the master. */
uint32_t mg_router_id(const struct mg_router *r);
/* Whether this is the master (no parent). */
bool mg_router_is_master(const struct mg_router *r);
/* The ids above this context, nearest first (the master last); *_n is 0
 * for the master, and the result NULL then. */
const uint32_t *mg_router_parent_ids(const struct mg_router *r, size_t *_n);
/* The nearest parent's id; 0 for the master, which has none. */
uint32_t mg_router_parent_id(const struct mg_router *r);
/* The loop the router runs on. */
struct mg_loop *mg_router_loop(const struct mg_router *r);

/* Bounds of mg_router_set_max_msg: byte channels send messages of up to
 * 1 MiB of data; an agent's connection to its parent takes up to 4 MiB,
 * the default. */
#define MG_ROUTER_MAX_MSG_MIN (1u << 20)
#define MG_ROUTER_MAX_MSG_MAX (4u << 20)

/* The largest message payload this context sends, forwards or takes, in
 * bytes: MG_ROUTER_MAX_MSG_MAX unless set, or inherited from the parent. */
uint32_t mg_router_max_msg(const struct mg_router *r);
/*
 * Set the largest message payload (mitogen's max_message_size), from
 * MG_ROUTER_MAX_MSG_MIN to MG_ROUTER_MAX_MSG_MAX bytes. A larger message
 * fails locally with MG_ERR_TOO_BIG (mg_router_send, calls, senders);
 * one that arrives, for this context or to pass on, is answered with the
 * dead message "message too large (N bytes, max M)".
 *
 * A context passes its value to each child in HELLO when the child
 * connects, and every agent applies it to what it sends and forwards and
 * passes it on: set it before connecting anything. A connection takes
 * the value current when it was opened as the largest frame it accepts.
 * Returns 0 or -EINVAL (out of bounds).
 */
int mg_router_set_max_msg(struct mg_router *r, uint32_t bytes);

/*
 * Unidirectional routing (mitogen's Router.unidirectional), off by
 * default. On, this context forwards no message that arrived from one
 * child connection out of another child connection (the same one
 * included): a child and its subtree talk only with this context and
 * its ancestors, never with a sibling or a cousin. Such a message is
 * dropped and, if it wants a reply, answered with the dead message
 * "routing mode prevents forward of message from context SRC to context
 * DST via context ME". Traffic between parent and child, either way, is
 * unaffected. Off, such messages are forwarded and act only on their
 * sender's own authority: handlers that require parent authority refuse
 * them (receiver.h, service.h).
 *
 * A context passes its setting to each child in HELLO when the child
 * connects, and every agent applies it to itself and its own children:
 * set it before connecting anything. Changing it later changes only this
 * context's own forwarding.
 */
void mg_router_set_unidirectional(struct mg_router *r, bool on);
/* Whether unidirectional routing is on. */
bool mg_router_unidirectional(const struct mg_router *r);

/*
 * On-disconnect callbacks (mitogen's Context "disconnect" signal).
 * fn(r, id, reason, data) is called once, from the loop, when context
 * 'id' becomes unreachable from this context: its connection or one on
 * the way to it was lost, or (for an ancestor) this context's parent
 * connection. 'reason' says why and lasts for the call only. When 'id'
 * is already unreachable, fn is called all the same, on a later loop
 * iteration, never from inside this call. The returned watch belongs to
 * mem_ctx: freeing it before fn runs cancels the call; after, it does
 * nothing more and may be freed at any time (from fn as well). Like a
 * receiver, it must not outlive its router. Returns NULL on ENOMEM or
 * for a NULL fn.
 */
struct mg_watch;
typedef void (*mg_router_disconnect_fn)(struct mg_router *r, uint32_t id, const char *reason,
					void *data);
struct mg_watch *mg_router_on_disconnect(TALLOC_CTX *mem_ctx, struct mg_router *r, uint32_t id,
					 mg_router_disconnect_fn fn, void *data);

/*
 * Send 'len' bytes to 'handle' in context 'dst', asking for replies on
 * 'reply_to' (0 for none) in this context. A message to this context is
 * delivered on the next loop iteration. Returns 0, MG_ERR_TOO_BIG or
 * MG_ERR_DISCONNECTED (no route). Whatever goes wrong later comes back as
 * a dead message to 'reply_to'.
 */
int mg_router_send(struct mg_router *r, uint32_t dst, uint32_t handle, uint32_t reply_to,
		   const void *data, size_t len);

#ifdef __cplusplus
}
#endif

#endif
