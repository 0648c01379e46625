/*
 * The router: which neighbour stream leads to which context id, local
 * handlers with policies, dead-message replies and route propagation.
 *
 * Trust: a context obeys only its ancestors (MG_POL_PARENT). A child can
 * only answer handlers that expect it (MG_POL_RESPONDENT), announce the
 * contexts that this context sent or forwarded it a CONNECT for (each
 * once; anything else drops the child), and send logs. A frame from a child
 * travels to a sibling only without unidirectional routing, and there acts
 * on the sending context's own authority, which no policy but RESPONDENT
 * (and a service's own) accepts.
 */
#ifndef MG_ROUTER_H
#define MG_ROUTER_H

#include <stdbool.h>
#include <stdint.h>
#include "stream.h"

struct mg_router;
struct mg_handler;
struct mg_route_watch;

enum mg_policy {
	MG_POL_PARENT = 1,     /* auth_id is this context or an ancestor */
	MG_POL_CHILD = 2,      /* sent by the immediate child on its stream */
	MG_POL_RESPONDENT = 3, /* src is the expected respondent, or a dead
				* message with parent authority */
	MG_POL_DESCENDANT = 4, /* from anywhere in a child's subtree */
	MG_POL_ANY = 5,        /* any frame past the arrival checks: the handler
				* applies its own policy (the service table) */
};

struct mg_services;

/* The router keeps ownership of 'msg' and frees it after the call unless
 * the handler takes it with mg__msg_keep() (its payload may be borrowed
 * from a receive buffer). */
typedef void (*mg_handler_fn)(struct mg_router *r, struct mg_msg *msg, void *data);
/* Context 'id' became unreachable. */
typedef void (*mg_route_lost_fn)(struct mg_router *r, uint32_t id, const char *why, void *data);

struct mg_router *mg__router_new(TALLOC_CTX *mem_ctx, struct mg_loop *loop,
				 uint32_t my_id, const uint32_t *parent_ids, size_t n_parents);
struct mg_loop *mg__router_loop(const struct mg_router *r);
uint32_t mg__router_id(const struct mg_router *r);
const uint32_t *mg__router_parents(const struct mg_router *r, size_t *_n);
uint32_t mg__router_max_msg(const struct mg_router *r);
void mg__router_set_max_msg(struct mg_router *r, uint32_t max);
/* Unidirectional routing (mitogen's): no message passes between two child
 * streams; inherited by every context below through HELLO. */
bool mg__router_unidirectional(const struct mg_router *r);
void mg__router_set_unidirectional(struct mg_router *r, bool on);

/*
 * Register a handler. handle 0 allocates a fresh one. Freeing the returned
 * object unregisters it. A non-persistent handler is removed before its
 * first call. With MG_POL_RESPONDENT, a dead message is delivered when
 * 'respondent' becomes unreachable.
 */
struct mg_handler *mg__router_add_handler(TALLOC_CTX *mem_ctx, struct mg_router *r,
					  uint32_t handle, enum mg_policy policy,
					  uint32_t respondent, bool persist,
					  mg_handler_fn fn, void *data);
uint32_t mg__handler_handle(const struct mg_handler *h);
/* The handler takes messages whose payload ends in a pipe (mg_msg.tail)
 * and moves those bytes out before it returns. */
void mg__handler_take_tails(struct mg_handler *h);

/*
 * Take over 'stream' (now owned by the router) leading to context
 * 'remote_id'. The parent stream is the one towards the master. For a
 * child, a route is added and ADD_ROUTE sent to the parent.
 */
int mg__router_add_stream(struct mg_router *r, struct mg_stream *s, uint32_t remote_id,
			  const char *name, bool is_parent);
/*
 * A sudo hop run in first hop A's own command (PROTOCOL 2.3.3) came up at
 * the end of A's link in A's place: context B is routed down that link
 * as if A had announced it, and is that link's child from now on (what
 * only a link's child may send comes from B); the CONNECT that went with
 * A's image expects nothing more. Nothing may come from A, and nothing
 * goes to A: a frame for it is refused (MG_ERR_POLICY, or a dead answer
 * MG_NO_AGENT), and so are those held for it, when A's hold is released
 * after this (mg__router_hold_release). 0, or -ENOENT when A has no route.
 */
int mg__router_fuse(struct mg_router *r, uint32_t a, uint32_t b, const char *name);
/* Context 'id' (a hop with debug=1) may set MG_LOG_SHOW in its LOG
 * lines; from any other the bit is ignored. */
void mg__router_allow_show(struct mg_router *r, uint32_t id);
/* The name recorded for context 'id', or NULL. */
const char *mg__router_name(const struct mg_router *r, uint32_t id);
/* Whether 'id' names a context here already: ours, an ancestor's, or
 * one routed below (a new route for it would be refused, -EEXIST). */
bool mg__router_id_taken(const struct mg_router *r, uint32_t id);
/* Whether 'id' can be reached from here: this context, its subtree, and
 * through the parent its ancestors and, unless routing is unidirectional,
 * any other context (only the master knows which exist). */
bool mg__router_reachable(const struct mg_router *r, uint32_t id);
/* The child of this context through which 'id' is reached ('id' itself
 * for a child), or 0 when 'id' is not below this context. */
uint32_t mg__router_child_towards(const struct mg_router *r, uint32_t id);
/* Called when the parent stream ends (agents shut down then). */
void mg__router_on_parent_lost(struct mg_router *r, void (*fn)(void *data), void *data);

/* Watch for context 'id' becoming unreachable. Free to stop. */
struct mg_route_watch *mg__router_watch(TALLOC_CTX *mem_ctx, struct mg_router *r,
					uint32_t id, mg_route_lost_fn fn, void *data);

/* Originate a message: src and auth_id are set to this context. Local
 * delivery happens on the next loop iteration. Returns 0, MG_ERR_TOO_BIG
 * or MG_ERR_DISCONNECTED (no route). */
int mg__router_send(struct mg_router *r, uint32_t dst, uint32_t handle, uint32_t reply_to,
		    uint16_t flags, const void *data, size_t len);
/* The same with descriptors (fds.h), duplicated, the caller's own kept.
 * A link on the way that cannot carry them (not a same-kernel hop's
 * socket) passes the frame on without them, unmarked: its receiver must
 * check they came (EXEC answers FAILED, EOPNOTSUPP, MG_FDS_REFUSED). */
struct mg_fds;
int mg__router_send_fds(struct mg_router *r, uint32_t dst, uint32_t handle, uint32_t reply_to,
			uint16_t flags, const void *data, size_t len, struct mg_fds *fds);
/* The same for a frame that holds nothing secret (no password, no
 * environment, no data): held for a hop still connecting, it may ride in
 * the hop's command line, which the far host may show to anyone. */
int mg__router_send_public(struct mg_router *r, uint32_t dst, uint32_t handle,
			   uint32_t reply_to, uint16_t flags, const void *data, size_t len);
/* Send tail->len bytes waiting in the pipe tail->fd (a byte channel's
 * DATA): spliced on towards dst, read into memory for this context.
 * What could not be sent stays in the pipe for the caller to discard. */
int mg__router_send_tail(struct mg_router *r, uint32_t dst, uint32_t handle, uint32_t reply_to,
			 struct mg_tail *tail);
int mg__router_reply(struct mg_router *r, const struct mg_msg *req, const void *data, size_t len);
int mg__router_reply_dead(struct mg_router *r, const struct mg_msg *req, const char *reason);

/* Deliver a message that arrived on a stream (exposed for unit tests). */
void mg__router_receive(struct mg_router *r, struct mg_msg *msg);

/* Whether 'm' acts with parent authority: what MG_POL_PARENT accepts. */
bool mg__router_parent_authority(const struct mg_router *r, const struct mg_msg *m);
/* Whether 'm' came up a child connection (from the child's subtree). */
bool mg__router_from_child(const struct mg_router *r, const struct mg_msg *m);

/* The service table of this context (svc-call.c), NULL until made. The
 * router keeps the pointer only; the table is a talloc child of it. */
struct mg_services *mg__router_services(const struct mg_router *r);
void mg__router_set_services(struct mg_router *r, struct mg_services *t);

/*
 * Context 'id' is being connected: by us (via 0; its stream comes with
 * mg__router_add_stream), or by our child 'via', which will announce it.
 * Until then frames for it are held instead of refused, those made here
 * or from our parent only, so that a request need not wait for the hop
 * to be up: they go when it is (mg__router_hold_release), or are
 * answered dead when it fails (mg__router_unhold). 0 or -ENOMEM.
 */
int mg__router_hold(struct mg_router *r, uint32_t id, uint32_t via);
/* Whether frames for 'id' are held (it is being connected): a request
 * to it waits, and its loss is told to watchers as any other's. */
bool mg__router_held(const struct mg_router *r, uint32_t id);
/* Copies of every frame held for our hop 'id' and not yet taken, in *_p
 * (NULL when none) and *_n, when they fit in 'max' and hold no
 * descriptors (else -E2BIG); *_public: none holds a secret. Nothing is
 * taken: mg__router_hold_take_all does that, once they are used. */
int mg__router_hold_peek(TALLOC_CTX *mem_ctx, struct mg_router *r, uint32_t id, size_t max,
			 uint8_t **_p, size_t *_n, bool *_public);
void mg__router_hold_take_all(struct mg_router *r, uint32_t id);
/* The frames held for our hop 'id' and not taken yet, whole, one after
 * another, at most 'max' bytes, into *_p on mem_ctx (*_n bytes, 0 when
 * none): they ride in its boot image. With 'public_only', only those
 * before the first one not sent by mg__router_send_public. They stay
 * held, for a dead answer should the hop fail, until it is released.
 * 0 or -ENOMEM. */
int mg__router_hold_take(TALLOC_CTX *mem_ctx, struct mg_router *r, uint32_t id, size_t max,
			 bool public_only, uint8_t **_p, size_t *_n);
/* 'id' is routed now: what was taken went down its stream with the
 * image; the rest goes now, in order. */
void mg__router_hold_release(struct mg_router *r, uint32_t id);
/* 'id' will not come up: the frames held for it are dropped, and unless
 * why is NULL, those from above answered with the dead message 'why' and
 * the handlers here waiting on 'id' told so (as when a route is lost). */
void mg__router_unhold(struct mg_router *r, uint32_t id, const char *why);

/* 'id' is going (being shut down): whoever sent to it from beyond its
 * own subtree (an attached client's EXEC) hears DEL_ROUTE 'why' now,
 * before the answers its end still sends while stopping. The route stays
 * until the link ends. */
void mg__router_tell_going(struct mg_router *r, uint32_t id, const char *why);

/* Drop every stream and fail every waiter (shutdown). */
void mg__router_close_all(struct mg_router *r, const char *why);
/* Close the link of every UNIX-attached client now, what is queued for
 * it dropped; its routes go as for any lost link. Returns how many. */
size_t mg__router_close_attached(struct mg_router *r);

#endif
