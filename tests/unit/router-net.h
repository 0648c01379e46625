/*
 * A small tree of routers in one process and one loop, joined by
 * socketpair streams, for tests of the objects built on the router
 * (test-receiver.c, test-select.c). The same shape as test-router.c's:
 *
 *          0 (master)
 *         / \
 *        1   3
 *        |
 *        2
 *
 * A link is broken with shutdown(n->downfd[id]) (the parent's end) or
 * shutdown(n->upfd[id]) (the child's end).
 */
#ifndef MG_TEST_ROUTER_NET_H
#define MG_TEST_ROUTER_NET_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include "buf.h"
#include "loop-helpers.h"
#include "protocol.h"
#include "router.h"
#include "stream.h"

#define NET_MAX_IDS 8

struct net {
	TALLOC_CTX *ctx;
	struct mg_loop *loop;
	struct mg_router *r[NET_MAX_IDS];
	int upfd[NET_MAX_IDS];
	int downfd[NET_MAX_IDS];
};

static bool net_link(struct net *n, uint32_t parent, uint32_t child, const char *name)
{
	struct mg_stream *down, *up;
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0) {
		return false;
	}
	n->downfd[child] = sv[0];
	n->upfd[child] = sv[1];
	down = mg__stream_new(n->ctx, n->loop, sv[0], sv[0], name, MG_MSG_MAX_DEFAULT);
	up = mg__stream_new(n->ctx, n->loop, sv[1], sv[1], "parent", MG_MSG_MAX_DEFAULT);
	if (down == NULL || up == NULL) {
		return false;
	}
	return mg__router_add_stream(n->r[child], up, parent, "parent", true) == 0 &&
	       mg__router_add_stream(n->r[parent], down, child, name, false) == 0;
}

/* 'from' asks 'via' to connect 'id', so that 'id' may be announced. */
static bool net_ask_connect(struct net *n, uint32_t from, uint32_t via, uint32_t id)
{
	uint8_t p[4];

	mg__put_be32(p, id);
	return mg__router_send(n->r[from], via, MG_H_CONNECT, 0, MG_F_OPEN, p, sizeof(p)) == 0;
}

struct net_reach {
	struct mg_router *r;
	uint32_t id;
	bool want;
};

static bool net_reach_is(void *arg)
{
	struct net_reach *x = arg;

	return mg__router_reachable(x->r, x->id) == x->want;
}

/* Run until 'from' can reach 'id' (want true) or cannot (false). */
static bool net_wait_reach(struct net *n, uint32_t from, uint32_t id, bool want)
{
	struct net_reach x = { n->r[from], id, want };

	return run_until(n->loop, net_reach_is, &x, 2000);
}

/* Just context 0 on a loop; no links. */
static struct net *net_alone(void)
{
	struct net *n = talloc_zero(NULL, struct net);

	if (n == NULL) {
		return NULL;
	}
	n->ctx = n;
	n->loop = mg_loop_new(n);
	if (n->loop == NULL || (n->r[0] = mg__router_new(n, n->loop, 0, NULL, 0)) == NULL) {
		talloc_free(n);
		return NULL;
	}
	return n;
}

/* The tree above, with the master's routes to 1, 2 and 3 in place. */
static struct net *net_new(void)
{
	static const uint32_t p1[] = { 0 }, p2[] = { 1, 0 };
	struct net *n = net_alone();

	if (n == NULL) {
		return NULL;
	}
	n->r[1] = mg__router_new(n, n->loop, 1, p1, 1);
	n->r[2] = mg__router_new(n, n->loop, 2, p2, 2);
	n->r[3] = mg__router_new(n, n->loop, 3, p1, 1);
	if (n->r[1] == NULL || n->r[2] == NULL || n->r[3] == NULL ||
	    !net_link(n, 0, 1, "c1") || !net_link(n, 0, 3, "c3") ||
	    !net_ask_connect(n, 0, 1, 2) || !net_link(n, 1, 2, "c2") ||
	    !net_wait_reach(n, 0, 2, true)) {
		talloc_free(n);
		return NULL;
	}
	return n;
}

#endif
