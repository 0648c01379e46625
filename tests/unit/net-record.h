/*
 * Recording handlers and hand-written frames for tests over router-net.h's
 * tree (test-policy.c, test-privileged.c).
 */
#ifndef MG_TEST_NET_RECORD_H
#define MG_TEST_NET_RECORD_H

#include <string.h>
#include <unistd.h>
#include "router-net.h"

#define MAX_GOT 8

/* --- recording handlers --- */

struct got {
	TALLOC_CTX *ctx;
	struct mg_msg *m[MAX_GOT];	/* copies; data is NUL-terminated */
	int n;
	const char *reply;		/* answer every message with this */
};

static void h_record(struct mg_router *r, struct mg_msg *m, void *data)
{
	struct got *g = data;

	if (g->n < MAX_GOT) {
		struct mg_msg *c = talloc_zero(g->ctx, struct mg_msg);

		*c = *m;
		c->data = talloc_zero_size(c, m->len + 1);
		memcpy(c->data, m->data, m->len);
		g->m[g->n++] = c;
	}
	if (g->reply != NULL) {
		mg__router_reply(r, m, g->reply, strlen(g->reply));
	}
}

static bool got_one(void *arg)
{
	return ((struct got *)arg)->n >= 1;
}

/* A persistent handler on context 'id' recording into 'g'. */
static uint32_t handler(struct net *n, uint32_t id, enum mg_policy pol, uint32_t respondent,
			struct got *g)
{
	struct mg_handler *h;

	g->ctx = n->ctx;
	h = mg__router_add_handler(n->ctx, n->r[id], 0, pol, respondent, true, h_record, g);
	return h != NULL ? mg__handler_handle(h) : 0;
}

/* The text of the first message 'g' got, or "" (none, or not dead). */
static const char *dead_text(const struct got *g)
{
	if (g->n < 1 || (g->m[0]->flags & MG_F_DEAD) == 0) {
		return "";
	}
	return (const char *)g->m[0]->data;
}

/* A frame written by hand into a link's fd, bypassing the router on that
 * side ('fd' is n->upfd[id] to reach id's parent, n->downfd[id] to reach
 * id). The loop is idle, so nothing else is half-written there. */
static bool raw_frame(int fd, uint32_t dst, uint32_t src, uint32_t auth_id, uint32_t handle,
		      uint32_t reply_to, const char *text)
{
	uint8_t f[MG_HDR_LEN + 64];
	size_t len = strlen(text);

	if (len > 64) {
		return false;
	}
	mg__put_be32(f, (uint32_t)MG_MAGIC << 16);	/* magic, then no flags */
	mg__put_be32(f + 4, dst);
	mg__put_be32(f + 8, src);
	mg__put_be32(f + 12, auth_id);
	mg__put_be32(f + 16, handle);
	mg__put_be32(f + 20, reply_to);
	mg__put_be32(f + 24, (uint32_t)len);
	memcpy(f + MG_HDR_LEN, text, len);
	return write(fd, f, MG_HDR_LEN + len) == (ssize_t)(MG_HDR_LEN + len);
}

#endif
