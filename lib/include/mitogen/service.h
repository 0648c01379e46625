/*
 * Services and calls (mitogen's Context.call, with named C services in
 * place of pickled functions).
 *
 * Every context has one service table: a name -> handler map reached
 * through one wire handle (MG_H_CALL, docs/PROTOCOL.md section 5.6).
 * A call carries the service's name and an opaque payload; the handler
 * answers with mg_message_reply() (any bytes) or mg_message_reply_dead()
 * (a reason), now or later. Agents register the built-in "echo" service
 * (it answers with the payload it got) and whatever the library adds; a
 * program registers its own.
 *
 * Structured payloads use the library's positional encoding (mitogen(3),
 * docs/PROTOCOL.md section 4, mitogen/codec.h): integers, strings, string
 * vectors and byte strings in an order each service documents. Never
 * executable data. A program pushed to a chain end can serve calls too
 * (mitogen/worker.h).
 *
 * Policy: a service answers only callers with parent authority (this
 * context or an ancestor, never a child or anything below it) unless it
 * is registered with MG_SERVICE_CHILDREN. A refused call gets the dead
 * message "refused by policy".
 *
 * All of this belongs to the thread running the loop (see broker.h).
 */
#ifndef MITOGEN_SERVICE_H
#define MITOGEN_SERVICE_H

#include <stddef.h>
#include <stdint.h>
#include <talloc.h>
#include "mitogen/message.h"
#include "mitogen/router.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Answer calls from this context's subtree (children and below) too. */
#define MG_SERVICE_CHILDREN 0x1u

/* Longest service name, in bytes. */
#define MG_SERVICE_NAME_MAX 64

/*
 * A service handler. 'req' is the call (its header says who calls:
 * mg_message_src, mg_message_auth_id); 'payload' points into it. Reply
 * with mg_message_reply(req, ...) or mg_message_reply_dead(req, why) and
 * return 0; or keep the request (talloc_steal) to reply later, and
 * return 0; or return an error code without replying, and the caller
 * gets the dead message "service 'NAME' failed: TEXT" (mg_strerror). The
 * request is freed when the handler returns unless it keeps it.
 */
typedef int (*mg_service_fn)(struct mg_message *req, const void *payload, size_t len,
			     void *data);

/*
 * Register 'fn' as service 'name' (1 to MG_SERVICE_NAME_MAX bytes of
 * [A-Za-z0-9._-]) in the context of router 'r'; 'flags' 0 or
 * MG_SERVICE_CHILDREN. Returns 0, -EEXIST (the name is taken), -EINVAL
 * or -ENOMEM.
 */
int mg_service_register(struct mg_router *r, const char *name, unsigned flags,
			mg_service_fn fn, void *data);
/* Remove service 'name': later calls get "no such service 'NAME'".
 * Returns 0 or -ENOENT. */
int mg_service_unregister(struct mg_router *r, const char *name);

/*
 * Call service 'service' of context 'dst' with 'len' bytes of payload,
 * running the loop (as mg_receiver_get) until the reply comes or
 * 'timeout_ms' pass (-1: no limit). Returns:
 *   0                 *_reply is the reply, a child of mem_ctx;
 *   MG_ERR_CALL       *_reply is a dead message whose reason says why:
 *                     "no such service 'NAME'", "refused by policy",
 *                     the handler's own reason, "the respondent context
 *                     has disconnected", "invalid handle" (a context
 *                     without a service table), ...;
 *   MG_ERR_TIMEOUT    no reply in time (a late one is dropped);
 *   MG_ERR_TOO_BIG, MG_ERR_DISCONNECTED (not sent), -EINVAL (a bad
 *   name), -EDEADLK (from a loop callback: use mg_router_call_async),
 *   MG_ERR_CANCELLED (the loop was stopped, or a callback freed the
 *   router meanwhile), or a negative errno.
 * *_reply is NULL except for 0 and MG_ERR_CALL.
 *
 * A call to a context outside this one's subtree goes up through the
 * parent. A sibling or cousin answers on its own authority, which a
 * service registered without MG_SERVICE_CHILDREN refuses ("refused by
 * policy"); under unidirectional routing (router.h) the shared ancestor
 * refuses to forward it ("routing mode prevents forward of message ...");
 * an id nobody routes gets an ancestor's "no route to N ..."; a hop lost
 * on the way gives "the respondent context has disconnected". A dead
 * message from an ancestor is taken as the reply (MG_ERR_CALL); anything
 * else from a context other than 'dst' is refused: bound calls with a
 * timeout.
 */
int mg_router_call(TALLOC_CTX *mem_ctx, struct mg_router *r, uint32_t dst, const char *service,
		   const void *payload, size_t len, int timeout_ms, struct mg_message **_reply);

struct mg_call;

/* The reply of an asynchronous call: 'err' is 0 (a live reply),
 * MG_ERR_CALL (a dead one: mg_message_dead_reason) or MG_ERR_TIMEOUT
 * (reply NULL). The reply is freed when fn returns unless fn keeps it
 * (talloc_steal); the call object is freed then too. */
typedef void (*mg_call_fn)(struct mg_message *reply, int err, void *data);

/*
 * The same without waiting: fn is called once, from the loop, never from
 * inside this call. The call is a child of mem_ctx: free it (*_call,
 * which may be NULL) before fn runs to cancel it. Returns 0 or, with fn
 * never called, as mg_router_call.
 */
int mg_router_call_async(TALLOC_CTX *mem_ctx, struct mg_router *r, uint32_t dst,
			 const char *service, const void *payload, size_t len, int timeout_ms,
			 mg_call_fn fn, void *data, struct mg_call **_call);

#ifdef __cplusplus
}
#endif

#endif
