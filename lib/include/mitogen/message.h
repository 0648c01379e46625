/*
 * A message as a handler or receiver sees it: the routing header, the
 * payload, and whether it is dead (a closed channel, with a reason).
 * A message is a talloc object: free it when done. It refers to the
 * router it arrived on, so it must not outlive that router.
 */
#ifndef MITOGEN_MESSAGE_H
#define MITOGEN_MESSAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct mg_message;

/* "Any context": a receiver with no respondent (receiver.h). No context
 * has this id. */
#define MG_ANY UINT32_MAX

/* Header flags (mg_message_flags). */
#define MG_MESSAGE_DEAD 0x0001u /* the sender's end is closed; payload is why */
#define MG_MESSAGE_ZLIB 0x0002u /* payload is zlib-compressed */

/* The context the message was sent to (this one). */
uint32_t mg_message_dst(const struct mg_message *msg);
/* The context that sent it; replies go there. */
uint32_t mg_message_src(const struct mg_message *msg);
/* The context under whose authority it acts (policies check this). */
uint32_t mg_message_auth_id(const struct mg_message *msg);
/* The handle it was sent to. */
uint32_t mg_message_handle(const struct mg_message *msg);
/* The handle replies go to in mg_message_src(), 0 for none. */
uint32_t mg_message_reply_to(const struct mg_message *msg);
unsigned mg_message_flags(const struct mg_message *msg);

/* The payload and its length (may be 0). A NUL byte always follows the
 * payload, so text can be used as a C string (if it holds no NUL). */
const void *mg_message_data(const struct mg_message *msg, size_t *_len);

bool mg_message_is_dead(const struct mg_message *msg);
/* Why a dead message is dead; NULL for a live one. An empty reason reads
 * "Channel closed by local end." or "Channel closed by remote end.", as in
 * mitogen. The text may come from a far end: escape it (mg_log_escape)
 * before printing it on a terminal. */
const char *mg_message_dead_reason(const struct mg_message *msg);

/* Answer 'msg' with 'len' bytes to its src and reply_to. Returns 0,
 * -EINVAL when the message asks for no reply (reply_to 0, or a dead
 * message), MG_ERR_TOO_BIG or MG_ERR_DISCONNECTED. */
int mg_message_reply(const struct mg_message *msg, const void *data, size_t len);
/* The same with a dead message carrying 'reason': the asker's receiver
 * gets MG_ERR_CHANNEL with that text. */
int mg_message_reply_dead(const struct mg_message *msg, const char *reason);

#ifdef __cplusplus
}
#endif

#endif
