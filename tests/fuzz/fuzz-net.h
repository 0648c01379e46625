/*
 * An agent's position in the tree for the fuzz targets: a router for
 * context 1 under parent 0, with children 2 and 3, each link a real
 * socketpair whose far end the target writes frames into (as that
 * neighbour) and drains.
 */
#ifndef MG_FUZZ_NET_H
#define MG_FUZZ_NET_H

#include <sys/socket.h>
#include "fuzz.h"
#include "buf.h"
#include "protocol.h"
#include "router.h"
#include "stream.h"

enum { FZ_CHILD2, FZ_CHILD3, FZ_PARENT, FZ_LINKS };

struct fz_net {
	struct mg_loop *loop;
	struct mg_router *r;
	int fd[FZ_LINKS];  /* far ends, by the enum above */
};

static const uint32_t fz_net_parents[] = { 0 };

static bool fz_net_link(TALLOC_CTX *ctx, struct fz_net *n, int slot, uint32_t id)
{
	struct mg_stream *s;
	bool up = slot == FZ_PARENT;
	int sv[2];

	if (fz_socketpair(sv) != 0) {
		return false;
	}
	n->fd[slot] = sv[1];
	s = mg__stream_new(ctx, n->loop, sv[0], sv[0], up ? "parent" : "child", MG_MSG_MAX_DEFAULT);
	if (s == NULL) {
		close(sv[0]);
		return false;
	}
	return mg__router_add_stream(n->r, s, id, up ? "parent" : "child", up) == 0;
}

/* Everything on ctx; the far ends are closed by fz_net_close. */
static void fz_net_new(TALLOC_CTX *ctx, struct fz_net *n)
{
	for (int i = 0; i < FZ_LINKS; i++) {
		n->fd[i] = -1;
	}
	n->loop = mg_loop_new(ctx);
	FUZZ_CHECK(n->loop != NULL);
	n->r = mg__router_new(ctx, n->loop, 1, fz_net_parents, 1);
	FUZZ_CHECK(n->r != NULL);
	FUZZ_CHECK(fz_net_link(ctx, n, FZ_PARENT, 0));
	FUZZ_CHECK(fz_net_link(ctx, n, FZ_CHILD2, 2));
	FUZZ_CHECK(fz_net_link(ctx, n, FZ_CHILD3, 3));
}

/* Run the loop a little and drop what the router wrote to the far ends. */
static void fz_net_settle(struct fz_net *n)
{
	fz_run(n->loop, NULL, NULL, 1000);
	for (int i = 0; i < FZ_LINKS; i++) {
		fz_drain(n->fd[i]);
	}
}

/* Write m as a frame into link 'slot', as that neighbour. */
static void fz_net_send(struct fz_net *n, int slot, const struct mg_msg *m)
{
	uint8_t hdr[MG_HDR_LEN];

	mg__msg_header(m, hdr);
	if (send(n->fd[slot], hdr, sizeof(hdr), MSG_NOSIGNAL) == (ssize_t)sizeof(hdr) && m->len > 0) {
		(void)!send(n->fd[slot], m->data, m->len, MSG_NOSIGNAL);
	}
}

static void fz_net_close(struct fz_net *n)
{
	for (int i = 0; i < FZ_LINKS; i++) {
		if (n->fd[i] >= 0) {
			close(n->fd[i]);
		}
	}
}

#endif
