/*
 * Internals shared by message.c, receiver.c, sender.c and select.c (the
 * public objects of mitogen/message.h, receiver.h and select.h). Senders
 * and selects use receivers; receivers call neither.
 */
#ifndef MG_RECEIVER_PRIVATE_H
#define MG_RECEIVER_PRIVATE_H

#include "mitogen/message.h"
#include "mitogen/receiver.h"
#include "mitogen/select.h"
#include "router.h"

/* Messages as public objects. */

/* A copy of 'm' (header and payload, NUL-terminated) that outlives the
 * handler call which lent it. NULL on ENOMEM. */
struct mg_message *mg__message_new(TALLOC_CTX *mem_ctx, struct mg_router *r,
				   const struct mg_msg *m);
/* A dead message made here, as if 'src' had sent it to 'handle'. */
struct mg_message *mg__message_dead(TALLOC_CTX *mem_ctx, struct mg_router *r, uint32_t src,
				    uint32_t handle, const char *reason);
/* Receivers queue messages through this link. */
struct mg_message **mg__message_next(struct mg_message *msg);

/* Blocking waits: the loop runs until 'deadline' (mg_now() ms). */
#define MG_FOREVER UINT64_MAX
uint64_t mg__deadline(int timeout_ms);
/* One loop iteration towards 'deadline'. Returns 0 (look again),
 * MG_ERR_TIMEOUT when the deadline had passed before it (one last
 * iteration has then run without waiting), -EDEADLK when nothing could
 * ever wake an unbounded wait, MG_ERR_CANCELLED if the loop was stopped,
 * or a negative errno. */
int mg__wait_step(struct mg_loop *loop, uint64_t deadline, bool *_last);

/* Receivers seen from a select. */

struct mg__member;
/* Tells the select behind 'm' that its receiver queued a message. */
typedef void (*mg__member_notify_fn)(struct mg__member *m);
/* The select's member for 'rx', NULL for none, and what the receiver calls
 * per message it queues; set by select.c. A receiver that goes frees its
 * member (a talloc object whose destructor takes it out of the select). */
struct mg__member *mg__receiver_member(const struct mg_receiver *rx);
void mg__receiver_set_member(struct mg_receiver *rx, struct mg__member *m,
			     mg__member_notify_fn notify);
bool mg__receiver_has_callback(const struct mg_receiver *rx);
size_t mg__receiver_queued(const struct mg_receiver *rx);
struct mg_loop *mg__receiver_loop(const struct mg_receiver *rx);
/* The next queued message without waiting: 0, MG_ERR_CHANNEL (a dead
 * one; a closed receiver with nothing queued makes its "receiver was
 * closed" each time), -EAGAIN or -ENOMEM. */
int mg__receiver_pop(TALLOC_CTX *mem_ctx, struct mg_receiver *rx, struct mg_message **_msg);
/* Closed (or a one-shot that had its message): nothing more arrives. */
bool mg__receiver_closed(const struct mg_receiver *rx);

#endif
