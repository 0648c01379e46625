/* Senders and channels: see mitogen/receiver.h. */
#include <errno.h>
#include <string.h>

#include "protocol.h"
#include "receiver-private.h"

#define SENDER_CLOSED_MSG "sender was explicitly closed"

struct mg_sender {
	struct mg_router *r;
	uint32_t dst;
	uint32_t handle;
	bool closed;
};

struct mg_channel {
	struct mg_receiver *rx;
	struct mg_sender *tx;
};

struct mg_sender *mg_sender_new(TALLOC_CTX *mem_ctx, struct mg_router *r, uint32_t dst,
				uint32_t handle)
{
	struct mg_sender *s = talloc_zero(mem_ctx, struct mg_sender);

	if (s == NULL) {
		return NULL;
	}
	s->r = r;
	s->dst = dst;
	s->handle = handle;
	return s;
}

struct mg_sender *mg_receiver_to_sender(TALLOC_CTX *mem_ctx, const struct mg_receiver *rx)
{
	struct mg_router *r = mg_receiver_router(rx);

	return mg_sender_new(mem_ctx, r, mg__router_id(r), mg_receiver_handle(rx));
}

uint32_t mg_sender_context(const struct mg_sender *s)
{
	return s->dst;
}

uint32_t mg_sender_handle(const struct mg_sender *s)
{
	return s->handle;
}

int mg_sender_send(struct mg_sender *s, const void *data, size_t len)
{
	if (s->closed) {
		return -EPIPE;
	}
	return mg__router_send(s->r, s->dst, s->handle, 0, 0, data, len);
}

int mg_sender_close(struct mg_sender *s)
{
	if (s->closed) {
		return 0;
	}
	s->closed = true;
	return mg__router_send(s->r, s->dst, s->handle, 0, MG_F_DEAD, SENDER_CLOSED_MSG,
			       strlen(SENDER_CLOSED_MSG));
}

int mg_channel_new(TALLOC_CTX *mem_ctx, struct mg_router *r, uint32_t peer,
		   uint32_t peer_handle, uint32_t handle, struct mg_channel **_ch)
{
	struct mg_channel *ch;
	int ret;

	*_ch = NULL;
	if (peer == MG_ANY) {
		return -EINVAL;
	}
	ch = talloc_zero(mem_ctx, struct mg_channel);
	if (ch == NULL) {
		return -ENOMEM;
	}
	if ((ret = mg_receiver_new(ch, r, handle, peer, 0, &ch->rx)) != 0) {
		talloc_free(ch);
		return ret;
	}
	ch->tx = mg_sender_new(ch, r, peer, peer_handle);
	if (ch->tx == NULL) {
		talloc_free(ch);
		return -ENOMEM;
	}
	*_ch = ch;
	return 0;
}

struct mg_receiver *mg_channel_receiver(const struct mg_channel *ch)
{
	return ch->rx;
}

struct mg_sender *mg_channel_sender(const struct mg_channel *ch)
{
	return ch->tx;
}

int mg_channel_send(struct mg_channel *ch, const void *data, size_t len)
{
	return mg_sender_send(ch->tx, data, len);
}

int mg_channel_get(TALLOC_CTX *mem_ctx, struct mg_channel *ch, int timeout_ms,
		   struct mg_message **_msg)
{
	return mg_receiver_get(mem_ctx, ch->rx, timeout_ms, _msg);
}

void mg_channel_close(struct mg_channel *ch)
{
	/* The peer may be gone already: its loss is no error here. */
	(void)mg_sender_close(ch->tx);
	mg_receiver_close(ch->rx);
}
