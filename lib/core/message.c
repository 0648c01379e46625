/* Messages as public objects: see mitogen/message.h. */
#include <errno.h>
#include <string.h>

#include "mitogen/error.h"
#include "protocol.h"
#include "receiver-private.h"

_Static_assert(MG_MESSAGE_DEAD == MG_F_DEAD, "public and wire flags differ");
_Static_assert(MG_MESSAGE_ZLIB == MG_F_ZLIB, "public and wire flags differ");

struct mg_message {
	struct mg_msg m;	/* in is NULL, data a child of this object */
	struct mg_router *r;
	struct mg_message *next;	/* a receiver's queue */
};

struct mg_message *mg__message_new(TALLOC_CTX *mem_ctx, struct mg_router *r,
				   const struct mg_msg *m)
{
	struct mg_message *msg = talloc_zero(mem_ctx, struct mg_message);

	if (msg == NULL) {
		return NULL;
	}
	msg->m = *m;
	msg->m.in = NULL;
	msg->m.borrowed = false;
	msg->m.tail = NULL;
	msg->r = r;
	/* Always a copy: the router lends payloads (mg__msg_keep), and the
	 * trailing NUL makes text payloads and dead reasons safe strings. */
	msg->m.data = talloc_size(msg, m->len + 1);
	if (msg->m.data == NULL) {
		talloc_free(msg);
		return NULL;
	}
	if (m->len > 0) {
		memcpy(msg->m.data, m->data, m->len);
	}
	msg->m.data[m->len] = '\0';
	return msg;
}

struct mg_message *mg__message_dead(TALLOC_CTX *mem_ctx, struct mg_router *r, uint32_t src,
				    uint32_t handle, const char *reason)
{
	struct mg_msg m = {
		.flags = MG_F_DEAD, .dst = mg__router_id(r), .src = src, .auth_id = src,
		.handle = handle, .data = (uint8_t *)reason, .len = strlen(reason),
	};

	return mg__message_new(mem_ctx, r, &m);
}

struct mg_message **mg__message_next(struct mg_message *msg)
{
	return &msg->next;
}

uint32_t mg_message_dst(const struct mg_message *msg)
{
	return msg->m.dst;
}

uint32_t mg_message_src(const struct mg_message *msg)
{
	return msg->m.src;
}

uint32_t mg_message_auth_id(const struct mg_message *msg)
{
	return msg->m.auth_id;
}

uint32_t mg_message_handle(const struct mg_message *msg)
{
	return msg->m.handle;
}

uint32_t mg_message_reply_to(const struct mg_message *msg)
{
	return msg->m.reply_to;
}

unsigned mg_message_flags(const struct mg_message *msg)
{
	return msg->m.flags;
}

const void *mg_message_data(const struct mg_message *msg, size_t *_len)
{
	if (_len != NULL) {
		*_len = msg->m.len;
	}
	return msg->m.data;
}

bool mg_message_is_dead(const struct mg_message *msg)
{
	return (msg->m.flags & MG_F_DEAD) != 0;
}

const char *mg_message_dead_reason(const struct mg_message *msg)
{
	if (!mg_message_is_dead(msg)) {
		return NULL;
	}
	if (msg->m.len > 0) {
		return (const char *)msg->m.data;
	}
	if (msg->m.src == mg__router_id(msg->r)) {
		return "Channel closed by local end.";
	}
	return "Channel closed by remote end.";
}

int mg_message_reply(const struct mg_message *msg, const void *data, size_t len)
{
	if (msg->m.reply_to == 0 || mg_message_is_dead(msg)) {
		return -EINVAL;
	}
	return mg__router_reply(msg->r, &msg->m, data, len);
}

int mg_message_reply_dead(const struct mg_message *msg, const char *reason)
{
	if (msg->m.reply_to == 0 || mg_message_is_dead(msg)) {
		return -EINVAL;
	}
	return mg__router_reply_dead(msg->r, &msg->m, reason != NULL ? reason : "");
}
