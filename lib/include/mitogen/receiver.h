/*
 * Receivers, senders and channels (mitogen's Receiver, Sender, Channel).
 *
 * A receiver is a handle registered on a router plus a queue of the
 * messages that arrive on it. Take them with mg_receiver_get(), which runs
 * the loop until one arrives (so a short program reads top to bottom), or
 * have them handed to a callback (event-driven programs). A sender names a
 * handle in some context and sends to it. A channel is one of each.
 *
 * Dead messages close a channel: get returns MG_ERR_CHANNEL with the dead
 * message, whose mg_message_dead_reason() says why:
 *   "receiver was closed"                      mg_receiver_close()
 *   "sender was explicitly closed"             mg_sender_close()
 *   "the respondent context has disconnected"  the respondent was lost
 * or whatever a far end gave mg_message_reply_dead().
 *
 * All of this belongs to the thread running the loop (see broker.h).
 */
#ifndef MITOGEN_RECEIVER_H
#define MITOGEN_RECEIVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <talloc.h>
#include "mitogen/message.h"
#include "mitogen/router.h"

#ifdef __cplusplus
extern "C" {
#endif

struct mg_receiver;
struct mg_sender;
struct mg_channel;

/* Take one message, then close (a call's reply). */
#define MG_RECV_ONESHOT 0x1u
/* Accept messages acting with parent authority (sent by this context or
 * an ancestor) instead of only the respondent's. */
#define MG_RECV_PARENT 0x2u

/*
 * A receiver for 'handle' (0: a fresh one, >= 1000) on 'r'. With a
 * respondent it accepts only that context's messages (and this
 * context's own), and delivers "the respondent context has disconnected"
 * when the respondent becomes unreachable, or is already; it also takes a
 * dead message with parent authority (an ancestor's routing refusal, such
 * as "no route to N"), which ends it as the respondent's would. With MG_ANY, or
 * MG_RECV_PARENT, it accepts only messages with parent authority. Others
 * are refused by the router, which answers them with a dead message.
 * Free it (talloc_free) to unregister the handle; queued messages go too.
 * Like its messages, it must not outlive its router.
 * Returns 0, -EEXIST (the handle is taken), -EINVAL or -ENOMEM.
 */
int mg_receiver_new(TALLOC_CTX *mem_ctx, struct mg_router *r, uint32_t handle,
		    uint32_t respondent, unsigned flags, struct mg_receiver **_rx);
uint32_t mg_receiver_handle(const struct mg_receiver *rx);
/* The respondent given, or MG_ANY. */
uint32_t mg_receiver_respondent(const struct mg_receiver *rx);
struct mg_router *mg_receiver_router(const struct mg_receiver *rx);

/*
 * The next message, as a child of mem_ctx, running the loop until one
 * comes or 'timeout_ms' pass (-1: no limit; 0: one iteration without
 * waiting). Returns:
 *   0                   *_msg is a live message;
 *   MG_ERR_CHANNEL      *_msg is a dead one (mg_message_dead_reason);
 *   MG_ERR_TIMEOUT      nothing came in time;
 *   -EDEADLK            called from a loop callback, where waiting would
 *                       never end, or with no limit and nothing left
 *                       that keeps the loop alive;
 *   -EBUSY              the receiver hands messages to a callback;
 *   MG_ERR_CANCELLED    the loop was stopped (mg_loop_stop) meanwhile, or
 *                       the receiver was freed;
 * or a negative errno. *_msg is NULL except for 0 and MG_ERR_CHANNEL.
 * A closed receiver, or a one-shot one that had its message, returns the
 * dead "receiver was closed" once its queue is empty.
 */
int mg_receiver_get(TALLOC_CTX *mem_ctx, struct mg_receiver *rx, int timeout_ms,
		    struct mg_message **_msg);
/* Messages waiting to be taken. */
size_t mg_receiver_queued(const struct mg_receiver *rx);

/*
 * Hand every message to fn instead of queueing it. The message is freed
 * when fn returns unless fn keeps it (talloc_steal). Messages already
 * queued follow on the next loop iteration, never from inside this call,
 * and so does the dead message of mg_receiver_close(). fn may free the
 * receiver. fn NULL queues again. Returns 0, -EBUSY when the receiver is
 * in a select, or -ENOMEM.
 */
typedef void (*mg_receiver_fn)(struct mg_receiver *rx, struct mg_message *msg, void *data);
int mg_receiver_on_message(struct mg_receiver *rx, mg_receiver_fn fn, void *data);

/* Unregister the handle (later messages to it get a dead "invalid handle"
 * answer) and deliver the dead "receiver was closed" after what is
 * queued. Closing twice does nothing. */
void mg_receiver_close(struct mg_receiver *rx);

/* A sender to this receiver's handle in this context. NULL on ENOMEM. */
struct mg_sender *mg_receiver_to_sender(TALLOC_CTX *mem_ctx, const struct mg_receiver *rx);

/* A sender to 'handle' in context 'dst'. NULL on ENOMEM. */
struct mg_sender *mg_sender_new(TALLOC_CTX *mem_ctx, struct mg_router *r, uint32_t dst,
				uint32_t handle);
uint32_t mg_sender_context(const struct mg_sender *s);
uint32_t mg_sender_handle(const struct mg_sender *s);
/* Send 'len' bytes. Returns 0, -EPIPE once closed, MG_ERR_TOO_BIG or
 * MG_ERR_DISCONNECTED. */
int mg_sender_send(struct mg_sender *s, const void *data, size_t len);
/* Send the dead "sender was explicitly closed" so the receiver's get ends
 * with MG_ERR_CHANNEL. Returns 0 (also when closed already) or as
 * mg_sender_send. */
int mg_sender_close(struct mg_sender *s);

/*
 * A channel with context 'peer': a receiver on 'handle' (0: fresh) whose
 * respondent is the peer, and a sender to 'peer_handle' there. Both ends
 * must learn each other's handle by other means, as in mitogen (where
 * Channel is deprecated in favour of a Sender/Receiver pair). Returns as
 * mg_receiver_new.
 */
int mg_channel_new(TALLOC_CTX *mem_ctx, struct mg_router *r, uint32_t peer,
		   uint32_t peer_handle, uint32_t handle, struct mg_channel **_ch);
struct mg_receiver *mg_channel_receiver(const struct mg_channel *ch);
struct mg_sender *mg_channel_sender(const struct mg_channel *ch);
/* mg_sender_send on the channel's sender. */
int mg_channel_send(struct mg_channel *ch, const void *data, size_t len);
/* mg_receiver_get on the channel's receiver. */
int mg_channel_get(TALLOC_CTX *mem_ctx, struct mg_channel *ch, int timeout_ms,
		   struct mg_message **_msg);
/* Close both: the peer hears "sender was explicitly closed". */
void mg_channel_close(struct mg_channel *ch);

#ifdef __cplusplus
}
#endif

#endif
