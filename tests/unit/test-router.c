/*
 * Unit tests for lib/core/router.c. Each test builds a small tree of routers in
 * one process and one loop, joined by socketpair streams:
 *
 *          0 (master)
 *         / \
 *        1   3
 *        |
 *        2
 *
 * Every test runs in its own process (a crash fails that test only) and
 * checks for talloc leaks there.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "buf.h"
#include "mitogen/error.h"
#include "mitogen/log.h"
#include "mitogen/loop.h"
#include "protocol.h"
#include "router.h"
#include "stream.h"

#define MAX_IDS 8
#define MAX_GOT 16

#include "loop-helpers.h"

/* --- the tree --- */

struct net {
	TALLOC_CTX *ctx;
	struct mg_loop *loop;
	struct mg_router *r[MAX_IDS];
	struct mg_stream *up[MAX_IDS];	/* child end of the link to its parent */
	struct mg_stream *down[MAX_IDS];	/* parent end of the link to child id */
	int upfd[MAX_IDS];
	int downfd[MAX_IDS];
};

static bool add_router(struct net *n, uint32_t id, const uint32_t *parents, size_t np)
{
	n->r[id] = mg__router_new(n->ctx, n->loop, id, parents, np);
	return n->r[id] != NULL;
}

/* Connect 'child' below 'parent'; the parent records it as 'name'. */
static bool link_to(struct net *n, uint32_t parent, uint32_t child, const char *name)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0) {
		return false;
	}
	n->downfd[child] = sv[0];
	n->upfd[child] = sv[1];
	n->down[child] = mg__stream_new(n->ctx, n->loop, sv[0], sv[0], name, MG_MSG_MAX_DEFAULT);
	n->up[child] = mg__stream_new(n->ctx, n->loop, sv[1], sv[1], "parent", MG_MSG_MAX_DEFAULT);
	if (n->down[child] == NULL || n->up[child] == NULL) {
		return false;
	}
	return mg__router_add_stream(n->r[child], n->up[child], parent, "parent", true) == 0 &&
	       mg__router_add_stream(n->r[parent], n->down[child], child, name, false) == 0;
}

struct reach {
	struct mg_router *r;
	uint32_t id;
};

static bool is_reachable(void *arg)
{
	struct reach *x = arg;

	return mg__router_reachable(x->r, x->id);
}

static bool is_unreachable(void *arg)
{
	return !is_reachable(arg);
}

/* Not routed below x->r (below the master: unreachable; elsewhere a
 * context may still be reached through the parent). */
static bool is_unrouted(void *arg)
{
	struct reach *x = arg;

	return mg__router_name(x->r, x->id) == NULL;
}

static const uint32_t P_1[] = { 0 };
static const uint32_t P_2[] = { 1, 0 };
static const uint32_t P_3[] = { 0 };

/* 'from' asks 'via' (its child, or a context behind it) to connect 'id',
 * as the master's CONNECT does: only then may 'id' be announced through
 * that link. Nobody handles the request: its dead reply is dropped. */
static bool ask_connect(struct net *n, uint32_t from, uint32_t via, uint32_t id)
{
	uint8_t p[4];

	mg__put_be32(p, id);
	return mg__router_send(n->r[from], via, MG_H_CONNECT, 0, MG_F_OPEN, p, sizeof(p)) == 0;
}

/* The standard tree, with the master's routes to 1, 2 and 3 in place. */
static struct net *net_new(void)
{
	struct net *n = talloc_zero(NULL, struct net);
	struct reach x;

	if (n == NULL) {
		return NULL;
	}
	n->ctx = n;
	n->loop = mg_loop_new(n);
	if (n->loop == NULL || !add_router(n, 0, NULL, 0) || !add_router(n, 1, P_1, 1) ||
	    !add_router(n, 2, P_2, 2) || !add_router(n, 3, P_3, 1)) {
		talloc_free(n);
		return NULL;
	}
	if (!link_to(n, 0, 1, "c1") || !link_to(n, 0, 3, "c3") || !ask_connect(n, 0, 1, 2) ||
	    !link_to(n, 1, 2, "c2")) {
		talloc_free(n);
		return NULL;
	}
	x.r = n->r[0];
	x.id = 2;
	if (!run_until(n->loop, is_reachable, &x, 2000)) {
		talloc_free(n);
		return NULL;
	}
	return n;
}

/* --- recording handlers --- */

struct got {
	TALLOC_CTX *ctx;
	struct mg_msg *m[MAX_GOT];	/* copies; data is NUL-terminated */
	int n;
	const char *reply;		/* answer every message with this */
	int depth;			/* > 0 while the handler runs */
	int nested;			/* handler ran inside another handler */
};

static struct mg_msg *msg_copy(TALLOC_CTX *mem_ctx, const struct mg_msg *m)
{
	struct mg_msg *c = talloc_zero(mem_ctx, struct mg_msg);

	*c = *m;
	c->data = talloc_zero_size(c, m->len + 1);
	if (m->len > 0) {
		memcpy(c->data, m->data, m->len);
	}
	return c;
}

static void h_record(struct mg_router *r, struct mg_msg *m, void *data)
{
	struct got *g = data;

	if (g->depth > 0) {
		g->nested++;
	}
	g->depth++;
	if (g->n < MAX_GOT) {
		g->m[g->n++] = msg_copy(g->ctx, m);
	}
	if (g->reply != NULL) {
		mg__router_reply(r, m, g->reply, strlen(g->reply));
	}
	g->depth--;
}

static bool got_one(void *arg)
{
	return ((struct got *)arg)->n >= 1;
}

static bool got_two(void *arg)
{
	return ((struct got *)arg)->n >= 2;
}

static struct mg_handler *handler(struct net *n, uint32_t id, enum mg_policy pol,
				  uint32_t respondent, struct got *g)
{
	g->ctx = n->ctx;
	return mg__router_add_handler(n->ctx, n->r[id], 0, pol, respondent, true, h_record, g);
}

/* Send a frame by hand on a stream end, bypassing its router. */
static int inject(struct mg_stream *s, uint32_t dst, uint32_t src, uint32_t auth_id,
		  uint32_t handle, uint32_t reply_to, const char *text)
{
	struct mg_msg m = {
		.dst = dst, .src = src, .auth_id = auth_id, .handle = handle,
		.reply_to = reply_to, .data = (uint8_t *)text, .len = strlen(text),
	};

	return mg__stream_send(s, &m);
}

/* --- log capture --- */

static char log_last[1024];
static int log_count;

static void log_capture(enum mg_log_level level, const char *msg, void *data)
{
	log_count++;
	snprintf(log_last, sizeof(log_last), "%s", msg);
}

/* --- tests --- */

/* ADD_ROUTE travels up: the master learns 2 through 1. */
static void test_routes_body(void)
{
	struct net *n = net_new();

	ASSERT_PTR_NOT_NULL(n);
	ASSERT_TRUE(mg__router_reachable(n->r[0], 1));
	ASSERT_TRUE(mg__router_reachable(n->r[0], 2));
	ASSERT_TRUE(mg__router_reachable(n->r[0], 3));
	ASSERT_TRUE(!mg__router_reachable(n->r[0], 4));
	ASSERT_STR_EQ(mg__router_name(n->r[0], 2), "c2");
	ASSERT_STR_EQ(mg__router_name(n->r[0], 1), "c1");
	ASSERT_TRUE(mg__router_reachable(n->r[1], 2));
	ASSERT_TRUE(mg__router_reachable(n->r[1], 0));
	ASSERT_TRUE(mg__router_reachable(n->r[2], 1));
	ASSERT_TRUE(mg__router_reachable(n->r[2], 0));
	/* A sibling's subtree is routed by nobody below the master; it is
	 * reached through the parent unless routing is unidirectional. */
	ASSERT_PTR_NULL(mg__router_name(n->r[3], 2));
	ASSERT_PTR_NULL(mg__router_name(n->r[3], 1));
	ASSERT_TRUE(mg__router_reachable(n->r[3], 2));
	mg__router_set_unidirectional(n->r[3], true);
	ASSERT_TRUE(!mg__router_reachable(n->r[3], 2));
	ASSERT_TRUE(!mg__router_reachable(n->r[3], 1));
	ASSERT_TRUE(mg__router_reachable(n->r[3], 0));
	talloc_free(n);
}
ISOLATED(test_routes)

/* A PARENT handler at 2 is reached from the master through 1, and its
 * reply comes back the same way. */
static void test_parent_handler_via_intermediary_body(void)
{
	struct net *n = net_new();
	struct got at2 = { .reply = "pong" }, at0 = { 0 }, at1 = { 0 };
	struct mg_handler *h2, *h0, *h1;

	ASSERT_PTR_NOT_NULL(n);
	h2 = handler(n, 2, MG_POL_PARENT, 0, &at2);
	h0 = handler(n, 0, MG_POL_RESPONDENT, 2, &at0);
	/* The same handle at 1 must not be what answers. */
	h1 = mg__router_add_handler(n->ctx, n->r[1], mg__handler_handle(h2), MG_POL_PARENT, 0,
				    true, h_record, &at1);
	at1.ctx = n->ctx;
	ASSERT_PTR_NOT_NULL(h2);
	ASSERT_PTR_NOT_NULL(h0);
	ASSERT_PTR_NOT_NULL(h1);
	ASSERT_INT_EQ(mg__router_send(n->r[0], 2, mg__handler_handle(h2), mg__handler_handle(h0),
				      0, "ping", 4), 0);
	ASSERT_TRUE(run_until(n->loop, got_one, &at0, 2000));
	ASSERT_INT_EQ(at2.n, 1);
	ASSERT_INT_EQ(at2.m[0]->src, 0);
	ASSERT_INT_EQ(at2.m[0]->auth_id, 0);
	ASSERT_INT_EQ(at2.m[0]->dst, 2);
	ASSERT_INT_EQ(at2.m[0]->flags, 0);
	ASSERT_STR_EQ((char *)at2.m[0]->data, "ping");
	ASSERT_TRUE(at2.m[0]->in == n->up[2]);
	ASSERT_INT_EQ(at0.n, 1);
	ASSERT_INT_EQ(at0.m[0]->src, 2);
	ASSERT_INT_EQ(at0.m[0]->flags, 0);
	ASSERT_STR_EQ((char *)at0.m[0]->data, "pong");
	ASSERT_INT_EQ(at1.n, 0);
	talloc_free(h0);
	talloc_free(h1);
	talloc_free(h2);
	talloc_free(n);
}
ISOLATED(test_parent_handler_via_intermediary)

/* A child cannot command its parent: PARENT handlers refuse it, with a
 * dead reply. The parent's own parent still can. */
static void test_parent_policy_refuses_child_body(void)
{
	struct net *n = net_new();
	struct got at1 = { 0 }, at2 = { 0 }, at0 = { 0 }, m0 = { 0 }, r1 = { 0 };
	struct mg_handler *h1, *h2, *h0, *hm0, *hr1;

	ASSERT_PTR_NOT_NULL(n);
	h1 = handler(n, 1, MG_POL_PARENT, 0, &at1);
	h2 = handler(n, 2, MG_POL_RESPONDENT, 1, &at2);
	h0 = handler(n, 0, MG_POL_RESPONDENT, 1, &at0);
	hm0 = handler(n, 0, MG_POL_PARENT, 0, &m0);
	hr1 = handler(n, 1, MG_POL_RESPONDENT, 0, &r1);
	ASSERT_TRUE(h1 && h2 && h0 && hm0 && hr1);
	/* 2 -> 1 */
	ASSERT_INT_EQ(mg__router_send(n->r[2], 1, mg__handler_handle(h1), mg__handler_handle(h2),
				      0, "do it", 5), 0);
	ASSERT_TRUE(run_until(n->loop, got_one, &at2, 2000));
	ASSERT_INT_EQ(at1.n, 0);
	ASSERT_INT_EQ(at2.m[0]->flags, MG_F_DEAD);
	ASSERT_INT_EQ(at2.m[0]->src, 1);
	ASSERT_STR_CONTAINS((char *)at2.m[0]->data, "refused by policy");
	/* 1 -> 0 */
	ASSERT_INT_EQ(mg__router_send(n->r[1], 0, mg__handler_handle(hm0), mg__handler_handle(hr1),
				      0, "do it", 5), 0);
	ASSERT_TRUE(run_until(n->loop, got_one, &r1, 2000));
	ASSERT_INT_EQ(m0.n, 0);
	ASSERT_INT_EQ(r1.m[0]->flags, MG_F_DEAD);
	ASSERT_STR_CONTAINS((char *)r1.m[0]->data, "refused by policy");
	/* 0 -> 1 is fine. */
	ASSERT_INT_EQ(mg__router_send(n->r[0], 1, mg__handler_handle(h1), mg__handler_handle(h0),
				      0, "do it", 5), 0);
	ASSERT_TRUE(run_until(n->loop, got_one, &at1, 2000));
	ASSERT_INT_EQ(at1.m[0]->src, 0);
	run_until(n->loop, NULL, NULL, 20);
	ASSERT_INT_EQ(at0.n, 0);
	talloc_free(h1);
	talloc_free(h2);
	talloc_free(h0);
	talloc_free(hm0);
	talloc_free(hr1);
	talloc_free(n);
}
ISOLATED(test_parent_policy_refuses_child)

/* Unidirectional: 1 -> 3 goes up to the master, which refuses to forward
 * it down again (test-policy.c has the rest of this mode). */
static void test_sibling_refused_body(void)
{
	struct net *n = net_new();
	struct got at3 = { 0 }, at1 = { 0 };
	struct mg_handler *h3, *h1;

	ASSERT_PTR_NOT_NULL(n);
	for (int i = 0; i < 4; i++) {
		mg__router_set_unidirectional(n->r[i], true);
	}
	/* A handler that would accept 1, so only routing can stop it. */
	h3 = handler(n, 3, MG_POL_RESPONDENT, 1, &at3);
	h1 = handler(n, 1, MG_POL_RESPONDENT, 0, &at1);
	ASSERT_INT_EQ(mg__router_send(n->r[1], 3, mg__handler_handle(h3), mg__handler_handle(h1),
				      0, "hello sibling", 13), 0);
	ASSERT_TRUE(run_until(n->loop, got_one, &at1, 2000));
	ASSERT_INT_EQ(at1.m[0]->flags, MG_F_DEAD);
	ASSERT_STR_EQ((char *)at1.m[0]->data, "routing mode prevents forward of message "
		      "from context 1 to context 3 via context 0");
	/* 2 -> 3 as well, through two hops. */
	talloc_free(h1);
	h1 = handler(n, 2, MG_POL_RESPONDENT, 0, &at1);
	at1.n = 0;
	ASSERT_INT_EQ(mg__router_send(n->r[2], 3, mg__handler_handle(h3), mg__handler_handle(h1),
				      0, "hello cousin", 12), 0);
	ASSERT_TRUE(run_until(n->loop, got_one, &at1, 2000));
	ASSERT_INT_EQ(at1.m[0]->flags, MG_F_DEAD);
	ASSERT_STR_CONTAINS((char *)at1.m[0]->data, "from context 2 to context 3 via context 0");
	run_until(n->loop, NULL, NULL, 20);
	ASSERT_INT_EQ(at3.n, 0);
	talloc_free(h1);
	talloc_free(h3);
	talloc_free(n);
}
ISOLATED(test_sibling_refused)

static void test_unknown_handle_body(void)
{
	struct net *n = net_new();
	struct got g = { 0 }, l = { 0 };
	struct mg_handler *h, *hl;

	ASSERT_PTR_NOT_NULL(n);
	h = handler(n, 0, MG_POL_RESPONDENT, 2, &g);
	hl = handler(n, 0, MG_POL_RESPONDENT, 0, &l);
	ASSERT_INT_EQ(mg__router_send(n->r[0], 2, 999999, mg__handler_handle(h), 0, "x", 1), 0);
	ASSERT_TRUE(run_until(n->loop, got_one, &g, 2000));
	ASSERT_INT_EQ(g.m[0]->flags, MG_F_DEAD);
	ASSERT_INT_EQ(g.m[0]->src, 2);
	ASSERT_STR_CONTAINS((char *)g.m[0]->data, "invalid handle");
	/* Locally too. */
	ASSERT_INT_EQ(mg__router_send(n->r[0], 0, 999999, mg__handler_handle(hl), 0, "x", 1), 0);
	ASSERT_TRUE(run_until(n->loop, got_one, &l, 2000));
	ASSERT_INT_EQ(l.m[0]->flags, MG_F_DEAD);
	ASSERT_STR_CONTAINS((char *)l.m[0]->data, "invalid handle");
	/* A dead message is never answered: no ping-pong of dead replies. */
	ASSERT_INT_EQ(mg__router_send(n->r[0], 2, 999999, mg__handler_handle(h), MG_F_DEAD, "x", 1), 0);
	run_until(n->loop, NULL, NULL, 30);
	ASSERT_INT_EQ(g.n, 1);
	talloc_free(h);
	talloc_free(hl);
	talloc_free(n);
}
ISOLATED(test_unknown_handle)

static void test_no_route_body(void)
{
	struct net *n = net_new();
	struct got g = { 0 };
	struct mg_handler *h;

	ASSERT_PTR_NOT_NULL(n);
	/* The master has nowhere to send it. */
	ASSERT_INT_EQ(mg__router_send(n->r[0], 77, 1000, 0, 0, "x", 1), MG_ERR_DISCONNECTED);
	/* 2 sends it up; the master answers dead. */
	h = handler(n, 2, MG_POL_RESPONDENT, 0, &g);
	ASSERT_INT_EQ(mg__router_send(n->r[2], 77, 1000, mg__handler_handle(h), 0, "x", 1), 0);
	ASSERT_TRUE(run_until(n->loop, got_one, &g, 2000));
	ASSERT_INT_EQ(g.m[0]->flags, MG_F_DEAD);
	ASSERT_STR_CONTAINS((char *)g.m[0]->data, "no route");
	talloc_free(h);
	talloc_free(n);
}
ISOLATED(test_no_route)

/* A child speaks only for its own subtree: frames whose src or auth_id
 * belong elsewhere are dropped without reply. */
static void test_spoofed_src_dropped_body(void)
{
	struct net *n = net_new();
	struct got g = { 0 }, at1 = { 0 }, d1 = { 0 }, d3 = { 0 };
	struct mg_handler *h, *h1, *hd1, *hd3;
	uint32_t hh;
	int ok = 0;

	ASSERT_PTR_NOT_NULL(n);
	/* Accepts frames from any child connection. */
	h = handler(n, 0, MG_POL_DESCENDANT, 0, &g);
	h1 = handler(n, 1, MG_POL_PARENT, 0, &at1);
	/* Would catch dead replies sent to the spoofed sources. */
	hd1 = handler(n, 1, MG_POL_RESPONDENT, 0, &d1);
	hd3 = handler(n, 3, MG_POL_RESPONDENT, 0, &d3);
	hh = mg__handler_handle(h);
	/* On the link from 1: src 3 (a sibling), src 2 with auth 3, src 1
	 * with the master's authority; then one genuine frame. */
	ASSERT_INT_EQ(inject(n->up[1], 0, 3, 3, hh, mg__handler_handle(hd3), "spoof-a"), 0);
	ASSERT_INT_EQ(inject(n->up[1], 0, 2, 3, hh, 0, "spoof-b"), 0);
	ASSERT_INT_EQ(inject(n->up[1], 0, 1, 0, hh, 0, "spoof-c"), 0);
	ASSERT_INT_EQ(inject(n->up[1], 0, 1, 1, hh, 0, "ok-1"), 0);
	/* On the link from 3: pretending to be 2. */
	ASSERT_INT_EQ(inject(n->up[3], 0, 2, 2, hh, 0, "spoof-d"), 0);
	ASSERT_INT_EQ(inject(n->up[3], 0, 3, 3, hh, 0, "ok-3"), 0);
	/* On the link from 2 into 1: claiming the master's authority. */
	ASSERT_INT_EQ(inject(n->up[2], 1, 2, 0, mg__handler_handle(h1), 0, "spoof-e"), 0);
	ASSERT_INT_EQ(inject(n->up[2], 1, 0, 0, mg__handler_handle(h1), 0, "spoof-f"), 0);
	ASSERT_TRUE(run_until(n->loop, got_two, &g, 2000));
	run_until(n->loop, NULL, NULL, 30);
	ASSERT_INT_EQ(g.n, 2);
	for (int i = 0; i < g.n; i++) {
		if (strncmp((char *)g.m[i]->data, "ok-", 3) == 0) {
			ok++;
		}
		ASSERT_INT_EQ(g.m[i]->src, g.m[i]->auth_id);
	}
	ASSERT_INT_EQ(ok, 2);
	ASSERT_INT_EQ(at1.n, 0);
	ASSERT_INT_EQ(d1.n, 0);
	ASSERT_INT_EQ(d3.n, 0);
	/* The links stay up: dropping is not disconnecting. */
	ASSERT_TRUE(mg__router_reachable(n->r[0], 1));
	ASSERT_TRUE(mg__router_reachable(n->r[0], 2));
	ASSERT_TRUE(mg__router_reachable(n->r[0], 3));
	talloc_free(h);
	talloc_free(h1);
	talloc_free(hd1);
	talloc_free(hd3);
	talloc_free(n);
}
ISOLATED(test_spoofed_src_dropped)

/* Same check through mg__router_receive with a hand-made message. */
static void test_receive_reverse_path_body(void)
{
	struct net *n = net_new();
	struct got g = { 0 };
	struct mg_handler *h;
	struct mg_msg *m;

	ASSERT_PTR_NOT_NULL(n);
	h = handler(n, 0, MG_POL_RESPONDENT, 3, &g);
	m = talloc_zero(n, struct mg_msg);
	*m = (struct mg_msg){ .dst = 0, .src = 3, .auth_id = 3, .handle = mg__handler_handle(h),
			      .in = n->down[1] };
	mg__router_receive(n->r[0], m);
	ASSERT_INT_EQ(g.n, 0);
	m->in = n->down[3];
	mg__router_receive(n->r[0], m);
	ASSERT_INT_EQ(g.n, 1);
	ASSERT_INT_EQ(g.m[0]->src, 3);
	talloc_free(m);
	talloc_free(h);
	talloc_free(n);
}
ISOLATED(test_receive_reverse_path)

/* A frame from 'from' to the master: a barrier, since it travels behind
 * everything 'from' sent before it on the same link. */
static bool barrier(struct net *n, uint32_t from)
{
	struct got g = { .ctx = n->ctx };
	struct mg_handler *h = mg__router_add_handler(n->ctx, n->r[0], 0, MG_POL_RESPONDENT, from,
						      true, h_record, &g);
	bool ok;

	if (h == NULL || mg__router_send(n->r[from], 0, mg__handler_handle(h), 0, 0, "b", 1) != 0) {
		talloc_free(h);
		return false;
	}
	ok = run_until(n->loop, got_one, &g, 2000);
	talloc_free(h);
	return ok;
}

/* Send ADD_ROUTE for 'id' by hand on the up link of 'from'. */
static int inject_add_route(struct net *n, uint32_t from, uint32_t id, const char *name)
{
	uint8_t p[64];
	struct mg_buf b = { .data = p, .alloc = sizeof(p), .max = sizeof(p) };
	struct mg_msg m = { .src = from, .auth_id = from, .handle = MG_H_ADD_ROUTE };
	size_t np;

	m.dst = mg__router_parents(n->r[from], &np)[0];
	if (mg__buf_put_u32(&b, id) != 0 || mg__buf_put_str(&b, name) != 0) {
		return -1;
	}
	m.data = b.data;
	m.len = b.len;
	return mg__stream_send(n->up[from], &m);
}

/* A context announced with no CONNECT for it drops the announcing child:
 * 1 links 4 on its own, so the master drops 1, and 2 behind it. */
static void test_unasked_route_drops_child_body(void)
{
	static const uint32_t p4[] = { 1, 0 };
	struct net *n = net_new();
	struct reach x = { NULL, 1 };

	ASSERT_PTR_NOT_NULL(n);
	ASSERT_TRUE(add_router(n, 4, p4, 2));
	ASSERT_TRUE(link_to(n, 1, 4, "c4"));
	x.r = n->r[0];
	ASSERT_TRUE(run_until(n->loop, is_unreachable, &x, 2000));
	ASSERT_STR_CONTAINS(log_last, "not asked to connect");
	ASSERT_TRUE(!mg__router_reachable(n->r[0], 4));
	ASSERT_TRUE(!mg__router_reachable(n->r[0], 2));
	ASSERT_TRUE(mg__router_reachable(n->r[0], 3));
	talloc_free(n);
}
ISOLATED(test_unasked_route_drops_child)

/* 5 joins as the master asked, a second child of agent 1 beside 2: the
 * start of every test of siblings under 1. */
static void join_5_under_1(struct net *n)
{
	static const uint32_t p5[] = { 1, 0 };
	struct reach x = { n->r[0], 5 };

	ASSERT_TRUE(ask_connect(n, 0, 1, 5));
	ASSERT_TRUE(add_router(n, 5, p5, 2));
	ASSERT_TRUE(link_to(n, 1, 5, "c5"));
	ASSERT_TRUE(run_until(n->loop, is_reachable, &x, 2000));
}

/*
 * The take-over of issue 12: the master asks 2 (behind 1) to connect 6;
 * 5, a sibling of 2 under the same agent 1, claims 6 first. 1 must drop 5,
 * not route 6 to it, and still take the real announcement from 2.
 */
static void test_cousin_cannot_claim_body(void)
{
	static const uint32_t p6[] = { 2, 1, 0 };
	struct net *n = net_new();
	struct reach x = { NULL, 5 };

	ASSERT_PTR_NOT_NULL(n);
	join_5_under_1(n);
	x.r = n->r[0];
	/* The CONNECT for 6 goes 0 -> 1 -> 2; 5 claims 6 meanwhile. */
	ASSERT_TRUE(ask_connect(n, 0, 2, 6));
	ASSERT_TRUE(barrier(n, 2));
	ASSERT_INT_EQ(inject_add_route(n, 5, 6, "hijack"), 0);
	ASSERT_TRUE(run_until(n->loop, is_unreachable, &x, 2000));
	ASSERT_PTR_NULL(mg__router_name(n->r[1], 5));
	ASSERT_PTR_NULL(mg__router_name(n->r[1], 6));
	ASSERT_PTR_NULL(mg__router_name(n->r[0], 6));
	/* The real one is taken at every level. */
	ASSERT_TRUE(add_router(n, 6, p6, 3));
	ASSERT_TRUE(link_to(n, 2, 6, "c6"));
	x.id = 6;
	ASSERT_TRUE(run_until(n->loop, is_reachable, &x, 2000));
	ASSERT_STR_EQ(mg__router_name(n->r[1], 6), "c6");
	ASSERT_STR_EQ(mg__router_name(n->r[0], 6), "c6");
	/* Once only: announcing it again drops 2 (and 6 behind it). */
	ASSERT_INT_EQ(inject_add_route(n, 2, 6, "again"), 0);
	x.r = n->r[1];
	x.id = 2;
	ASSERT_TRUE(run_until(n->loop, is_unrouted, &x, 2000));
	/* The master hears of it by DEL_ROUTE, a moment later. */
	x.r = n->r[0];
	x.id = 6;
	ASSERT_TRUE(run_until(n->loop, is_unreachable, &x, 2000));
	ASSERT_TRUE(mg__router_reachable(n->r[0], 1));
	talloc_free(n);
}
ISOLATED(test_cousin_cannot_claim)

/* A CONNECT answered with a dead message failed: its id may no longer be
 * announced (the note goes with the answer, not only with the link). */
static void test_failed_connect_forgotten_body(void)
{
	struct net *n = net_new();
	struct got g = { 0 };
	struct mg_handler *h;
	struct reach x = { NULL, 1 };
	uint8_t p[4];

	ASSERT_PTR_NOT_NULL(n);
	h = handler(n, 0, MG_POL_RESPONDENT, 1, &g);
	ASSERT_PTR_NOT_NULL(h);
	mg__put_be32(p, 7);
	/* 1 has no CONNECT service here: it answers "invalid handle". */
	ASSERT_INT_EQ(mg__router_send(n->r[0], 1, MG_H_CONNECT, mg__handler_handle(h), 0, p, 4), 0);
	ASSERT_TRUE(run_until(n->loop, got_one, &g, 2000));
	ASSERT_INT_EQ(g.m[0]->flags, MG_F_DEAD);
	ASSERT_INT_EQ(inject_add_route(n, 1, 7, "late"), 0);
	x.r = n->r[0];
	ASSERT_TRUE(run_until(n->loop, is_unreachable, &x, 2000));
	ASSERT_TRUE(!mg__router_reachable(n->r[0], 7));
	talloc_free(h);
	talloc_free(n);
}
ISOLATED(test_failed_connect_forgotten)

/*
 * A child names the handles its answers go to (reply_to, a FETCH's
 * h_data): agent 1 answering its child 2 on 2's own CONNECT handle, with
 * bytes 2 chose or not, grants 2 nothing, whether the answer is in memory
 * or spliced from a pipe (which once read a NULL payload). Only a request
 * marked MG_F_OPEN is noted.
 */
static void test_steered_reply_grants_nothing_body(void)
{
	struct net *n = net_new();
	struct reach x = { NULL, 2 };
	struct mg_tail t = { -1, 8 };
	uint8_t p[8] = { 0, 0, 0, 9, 0, 0, 0, 10 };
	int fds[2];

	ASSERT_PTR_NOT_NULL(n);
	ASSERT_INT_EQ(mg__router_send(n->r[1], 2, MG_H_CONNECT, 0, 0, p, 4), 0);
	ASSERT_INT_EQ(pipe2(fds, O_CLOEXEC | O_NONBLOCK), 0);
	ASSERT_INT_EQ(write(fds[1], p + 4, 4), 4);
	ASSERT_INT_EQ(write(fds[1], p, 4), 4);
	t.fd = fds[0];
	ASSERT_INT_EQ(mg__router_send_tail(n->r[1], 2, MG_H_CONNECT, 0, &t), 0);
	mg__tail_discard(&t);
	close(fds[0]);
	close(fds[1]);
	ASSERT_TRUE(barrier(n, 2));
	ASSERT_INT_EQ(inject_add_route(n, 2, 9, "steered"), 0);
	x.r = n->r[1];
	ASSERT_TRUE(run_until(n->loop, is_unrouted, &x, 2000));
	ASSERT_STR_CONTAINS(log_last, "not asked to connect");
	ASSERT_TRUE(!mg__router_reachable(n->r[0], 10));
	ASSERT_TRUE(!mg__router_reachable(n->r[0], 9));
	talloc_free(n);
}
ISOLATED(test_steered_reply_grants_nothing)

/*
 * Without unidirectional routing a parent passes a sibling's frame on, on
 * that sibling's authority: 3 sends a CONNECT marked MG_F_OPEN for 6 to
 * 2, through 0 and 1, while the master's own CONNECT for 6 went down to
 * 5 (2's sibling under 1). It must grant nothing at 1: 5's announcement
 * of 6 is still the one 1 takes, and 5 is not dropped for it.
 */
static void test_sibling_connect_grants_nothing_body(void)
{
	struct net *n = net_new();
	struct reach x = { NULL, 5 };
	struct got g = { 0 };
	struct mg_handler *h;
	uint8_t p[4];
	struct mg_msg m = { .flags = MG_F_OPEN, .dst = 2, .src = 3, .auth_id = 3,
			    .handle = MG_H_CONNECT, .data = p, .len = sizeof(p) };

	ASSERT_PTR_NOT_NULL(n);
	join_5_under_1(n);
	x.r = n->r[0];
	ASSERT_TRUE(ask_connect(n, 0, 5, 6));
	mg__put_be32(p, 6);
	ASSERT_INT_EQ(mg__stream_send(n->up[3], &m), 0);
	ASSERT_TRUE(barrier(n, 3));
	/* Behind the forged frame on every link down to 2. */
	h = handler(n, 2, MG_POL_PARENT, 0, &g);
	ASSERT_PTR_NOT_NULL(h);
	ASSERT_INT_EQ(mg__router_send(n->r[0], 2, mg__handler_handle(h), 0, 0, "x", 1), 0);
	ASSERT_TRUE(run_until(n->loop, got_one, &g, 2000));
	ASSERT_INT_EQ(inject_add_route(n, 5, 6, "c6"), 0);
	x.id = 6;
	ASSERT_TRUE(run_until(n->loop, is_reachable, &x, 2000));
	ASSERT_STR_EQ(mg__router_name(n->r[1], 6), "c6");
	ASSERT_STR_EQ(mg__router_name(n->r[1], 5), "c5");
	talloc_free(h);
	talloc_free(n);
}
ISOLATED(test_sibling_connect_grants_nothing)

/* Claiming an existing context, its own parent's or the master's id, or
 * sending a malformed announcement, drops the child too. */
static void test_bad_claims_drop_child_body(void)
{
	static const uint32_t claims[] = { 3, 0, 1 };

	for (size_t i = 0; i < 4; i++) {
		struct net *n = net_new();
		struct reach x = { NULL, 1 };

		ASSERT_PTR_NOT_NULL(n);
		if (i < 3) {
			ASSERT_INT_EQ(inject_add_route(n, 1, claims[i], "hijack"), 0);
		} else {
			ASSERT_INT_EQ(inject(n->up[1], 0, 1, 1, MG_H_ADD_ROUTE, 0, "xy"), 0);
		}
		x.r = n->r[0];
		ASSERT_TRUE(run_until(n->loop, is_unreachable, &x, 2000));
		ASSERT_STR_EQ(mg__router_name(n->r[0], 3), "c3");
		ASSERT_PTR_NULL(mg__router_name(n->r[0], 0));
		talloc_free(n);
	}
}
ISOLATED(test_bad_claims_drop_child)

/* A route's name is its chain text (or a worker's "worker ARGV0"), which
 * may be longer than the 4096 bytes a parent takes in ADD_ROUTE: the
 * announcing context cuts it, rather than have its parent drop it (and
 * its whole subtree) for a malformed announcement. */
static void test_long_name_announced_body(void)
{
	static const uint32_t p4[] = { 1, 0 };
	struct net *n = net_new();
	struct reach x = { NULL, 4 };
	char *name;

	ASSERT_PTR_NOT_NULL(n);
	name = talloc_zero_size(n->ctx, 5001);
	ASSERT_PTR_NOT_NULL(name);
	memset(name, 'x', 5000);
	ASSERT_TRUE(add_router(n, 4, p4, 2));
	ASSERT_TRUE(ask_connect(n, 0, 1, 4));
	run_until(n->loop, NULL, NULL, 50);
	ASSERT_TRUE(link_to(n, 1, 4, name));
	x.r = n->r[0];
	ASSERT_TRUE(run_until(n->loop, is_reachable, &x, 2000));
	run_until(n->loop, NULL, NULL, 100);
	ASSERT_TRUE(mg__router_reachable(n->r[0], 1));
	ASSERT_PTR_NOT_NULL(mg__router_name(n->r[0], 4));
	ASSERT_INT_EQ(strlen(mg__router_name(n->r[0], 4)), 4096);
	ASSERT_INT_EQ(strlen(mg__router_name(n->r[1], 4)), 4096);
	talloc_free(n);
}
ISOLATED(test_long_name_announced)

/* A watch callback may free another watch on the same id (issue 12: the
 * loop kept a pointer to it). Whichever runs first frees the other. */
struct freeing_watch {
	struct mg_route_watch **other;
	int *calls;
};

static void on_lost_free_other(struct mg_router *r, uint32_t id, const char *why, void *data)
{
	struct freeing_watch *f = data;

	(*f->calls)++;
	TALLOC_FREE(*f->other);
}

static void test_watch_frees_watch_body(void)
{
	struct net *n = net_new();
	struct mg_route_watch *a, *b;
	int calls = 0;
	struct freeing_watch fa = { &b, &calls }, fb = { &a, &calls };
	struct reach x = { NULL, 1 };

	ASSERT_PTR_NOT_NULL(n);
	a = mg__router_watch(n->ctx, n->r[0], 1, on_lost_free_other, &fa);
	b = mg__router_watch(n->ctx, n->r[0], 1, on_lost_free_other, &fb);
	ASSERT_TRUE(a != NULL && b != NULL);
	ASSERT_INT_EQ(shutdown(n->downfd[1], SHUT_RDWR), 0);
	x.r = n->r[0];
	ASSERT_TRUE(run_until(n->loop, is_unreachable, &x, 2000));
	ASSERT_INT_EQ(calls, 1);
	ASSERT_TRUE((a == NULL) != (b == NULL));
	talloc_free(a);
	talloc_free(b);
	talloc_free(n);
}
ISOLATED(test_watch_frees_watch)

/* Many contexts behind one child: each announced once, all found, and
 * all gone with that child's link (the table grows and shrinks). */
static void test_many_routes_body(void)
{
	enum { N = 20000, FIRST = 100 };
	struct net *n = net_new();
	struct reach x = { NULL, FIRST + N - 1 };

	ASSERT_PTR_NOT_NULL(n);
	for (uint32_t id = FIRST; id < FIRST + N; id++) {
		ASSERT_TRUE(ask_connect(n, 0, 1, id));
	}
	for (uint32_t id = FIRST; id < FIRST + N; id++) {
		ASSERT_INT_EQ(inject_add_route(n, 1, id, "many"), 0);
		if (id % 1000 == 0) {
			run_until(n->loop, NULL, NULL, 1);
		}
	}
	x.r = n->r[0];
	ASSERT_TRUE(run_until(n->loop, is_reachable, &x, 10000));
	for (uint32_t id = FIRST; id < FIRST + N; id++) {
		ASSERT_TRUE(mg__router_reachable(n->r[0], id));
	}
	ASSERT_TRUE(mg__router_reachable(n->r[0], 3));
	ASSERT_INT_EQ(shutdown(n->downfd[1], SHUT_RDWR), 0);
	ASSERT_TRUE(run_until(n->loop, is_unreachable, &x, 10000));
	for (uint32_t id = FIRST; id < FIRST + N; id++) {
		ASSERT_TRUE(!mg__router_reachable(n->r[0], id));
	}
	ASSERT_TRUE(mg__router_reachable(n->r[0], 3));
	talloc_free(n);
}
ISOLATED(test_many_routes)

/* Losing the link to 1 loses 1 and 2: every handler waiting on either
 * gets a dead message, and watchers hear about both. */
struct lost {
	uint32_t ids[8];
	int n;
};

static void on_lost(struct mg_router *r, uint32_t id, const char *why, void *data)
{
	struct lost *l = data;

	if (l->n < 8) {
		l->ids[l->n++] = id;
	}
}

struct two_gots {
	struct got *a, *b;
};

static bool both_got_one(void *arg)
{
	struct two_gots *t = arg;

	return t->a->n >= 1 && t->b->n >= 1;
}

static int parent_lost_calls;

static void on_parent_lost(void *data)
{
	parent_lost_calls++;
}

static void test_respondent_lost_body(void)
{
	struct net *n = net_new();
	struct got w1 = { 0 }, w2 = { 0 }, w3 = { 0 };
	struct two_gots both = { &w1, &w2 };
	struct mg_handler *h1, *h2, *h3;
	struct mg_route_watch *a, *b, *c, *gone;
	struct lost la = { 0 }, lb = { 0 }, lc = { 0 }, lg = { 0 };
	struct reach x = { NULL, 1 };

	ASSERT_PTR_NOT_NULL(n);
	parent_lost_calls = 0;
	mg__router_on_parent_lost(n->r[1], on_parent_lost, NULL);
	h1 = handler(n, 0, MG_POL_RESPONDENT, 1, &w1);
	h2 = handler(n, 0, MG_POL_RESPONDENT, 2, &w2);
	h3 = handler(n, 0, MG_POL_RESPONDENT, 3, &w3);
	a = mg__router_watch(n->ctx, n->r[0], 1, on_lost, &la);
	b = mg__router_watch(n->ctx, n->r[0], 2, on_lost, &lb);
	c = mg__router_watch(n->ctx, n->r[0], 3, on_lost, &lc);
	gone = mg__router_watch(n->ctx, n->r[0], 1, on_lost, &lg);
	ASSERT_TRUE(h1 && h2 && h3 && a && b && c && gone);
	talloc_free(gone);
	/* The connection to 1 breaks. */
	ASSERT_INT_EQ(shutdown(n->downfd[1], SHUT_RDWR), 0);
	ASSERT_TRUE(run_until(n->loop, both_got_one, &both, 2000));
	ASSERT_INT_EQ(w1.m[0]->flags, MG_F_DEAD);
	ASSERT_INT_EQ(w1.m[0]->src, 1);
	ASSERT_TRUE(w1.m[0]->len > 0);
	ASSERT_INT_EQ(w2.m[0]->flags, MG_F_DEAD);
	ASSERT_INT_EQ(w2.m[0]->src, 2);
	ASSERT_INT_EQ(la.n, 1);
	ASSERT_INT_EQ(la.ids[0], 1);
	ASSERT_INT_EQ(lb.n, 1);
	ASSERT_INT_EQ(lb.ids[0], 2);
	ASSERT_INT_EQ(lc.n, 0);
	ASSERT_INT_EQ(lg.n, 0);
	ASSERT_INT_EQ(w3.n, 0);
	ASSERT_TRUE(!mg__router_reachable(n->r[0], 1));
	ASSERT_TRUE(!mg__router_reachable(n->r[0], 2));
	ASSERT_TRUE(mg__router_reachable(n->r[0], 3));
	ASSERT_INT_EQ(mg__router_send(n->r[0], 2, 1000, 0, 0, "x", 1), MG_ERR_DISCONNECTED);
	/* 1 lost its parent too. */
	x.r = n->r[1];
	x.id = 0;
	run_until(n->loop, is_unreachable, &x, 2000);
	ASSERT_INT_EQ(parent_lost_calls, 1);
	ASSERT_TRUE(!mg__router_reachable(n->r[1], 0));
	/* Dead once, not again. */
	run_until(n->loop, NULL, NULL, 20);
	ASSERT_INT_EQ(w1.n, 1);
	ASSERT_INT_EQ(w2.n, 1);
	ASSERT_INT_EQ(la.n, 1);
	talloc_free(a);
	talloc_free(b);
	talloc_free(c);
	talloc_free(h1);
	talloc_free(h2);
	talloc_free(h3);
	talloc_free(n);
}
ISOLATED(test_respondent_lost)

/* The same rule below the master: when 1's parent link ends, 0 (and
 * everything reached through it) is unreachable from 1, so 1's handlers
 * waiting on 0 and its watchers of 0 must hear of it (router.h: "a dead
 * message is delivered when 'respondent' becomes unreachable"). */
static void test_parent_lost_fails_waiters_body(void)
{
	struct net *n = net_new();
	struct got w0 = { 0 };
	struct mg_handler *h0;
	struct mg_route_watch *wa;
	struct lost l0 = { 0 };

	ASSERT_PTR_NOT_NULL(n);
	h0 = handler(n, 1, MG_POL_RESPONDENT, 0, &w0);
	wa = mg__router_watch(n->ctx, n->r[1], 0, on_lost, &l0);
	ASSERT_TRUE(h0 && wa);
	ASSERT_INT_EQ(shutdown(n->upfd[1], SHUT_RDWR), 0);
	run_until(n->loop, got_one, &w0, 500);
	ASSERT_TRUE(!mg__router_reachable(n->r[1], 0));
	ASSERT_INT_EQ(w0.n, 1);
	ASSERT_INT_EQ(w0.m[0]->flags, MG_F_DEAD);
	ASSERT_INT_EQ(l0.n, 1);
	talloc_free(wa);
	talloc_free(h0);
	talloc_free(n);
}
ISOLATED(test_parent_lost_fails_waiters)

/* 1 loses 2: its DEL_ROUTE takes 2 off the master's table, and only 2. */
static void test_del_route_body(void)
{
	struct net *n = net_new();
	struct got w1 = { 0 }, w2 = { 0 };
	struct mg_handler *h1, *h2;
	struct mg_route_watch *a, *b;
	struct lost la = { 0 }, lb = { 0 };
	struct reach x;
	uint8_t id[4];
	struct mg_msg m = { .dst = 0, .src = 1, .auth_id = 1, .handle = MG_H_DEL_ROUTE,
			    .data = id, .len = 4 };

	ASSERT_PTR_NOT_NULL(n);
	/* 1 may not delete a route that is not behind it, nor its own. */
	mg__put_be32(id, 3);
	ASSERT_INT_EQ(mg__stream_send(n->up[1], &m), 0);
	mg__put_be32(id, 1);
	ASSERT_INT_EQ(mg__stream_send(n->up[1], &m), 0);
	/* 3 may not delete 2 (behind 1). */
	mg__put_be32(id, 2);
	m.src = m.auth_id = 3;
	ASSERT_INT_EQ(mg__stream_send(n->up[3], &m), 0);
	ASSERT_TRUE(barrier(n, 1));
	ASSERT_TRUE(barrier(n, 3));
	ASSERT_TRUE(mg__router_reachable(n->r[0], 1));
	ASSERT_TRUE(mg__router_reachable(n->r[0], 2));
	ASSERT_TRUE(mg__router_reachable(n->r[0], 3));

	h1 = handler(n, 0, MG_POL_RESPONDENT, 1, &w1);
	h2 = handler(n, 0, MG_POL_RESPONDENT, 2, &w2);
	a = mg__router_watch(n->ctx, n->r[0], 1, on_lost, &la);
	b = mg__router_watch(n->ctx, n->r[0], 2, on_lost, &lb);
	ASSERT_TRUE(h1 && h2 && a && b);
	/* The link between 1 and 2 breaks. */
	ASSERT_INT_EQ(shutdown(n->downfd[2], SHUT_RDWR), 0);
	x.r = n->r[0];
	x.id = 2;
	ASSERT_TRUE(run_until(n->loop, is_unreachable, &x, 2000));
	ASSERT_TRUE(run_until(n->loop, got_one, &w2, 2000));
	ASSERT_INT_EQ(w2.m[0]->flags, MG_F_DEAD);
	ASSERT_INT_EQ(lb.n, 1);
	ASSERT_TRUE(mg__router_reachable(n->r[0], 1));
	ASSERT_PTR_NULL(mg__router_name(n->r[1], 2));
	run_until(n->loop, NULL, NULL, 20);
	ASSERT_INT_EQ(w1.n, 0);
	ASSERT_INT_EQ(la.n, 0);
	talloc_free(a);
	talloc_free(b);
	talloc_free(h1);
	talloc_free(h2);
	talloc_free(n);
}
ISOLATED(test_del_route)

/* A non-persistent handler runs once, then its handle is free. */
static void test_one_shot_body(void)
{
	struct net *n = net_new();
	struct got g = { .ctx = NULL }, dead = { 0 };
	struct mg_handler *h, *hd, *again;
	uint32_t hh;

	ASSERT_PTR_NOT_NULL(n);
	g.ctx = n->ctx;
	h = mg__router_add_handler(n->ctx, n->r[0], 0, MG_POL_RESPONDENT, 2, false, h_record, &g);
	hd = handler(n, 0, MG_POL_RESPONDENT, 0, &dead);
	ASSERT_TRUE(h && hd);
	hh = mg__handler_handle(h);
	/* A frame refused by policy does not use it up. */
	ASSERT_INT_EQ(mg__router_send(n->r[1], 0, hh, 0, 0, "wrong", 5), 0);
	ASSERT_TRUE(barrier(n, 1));
	ASSERT_INT_EQ(g.n, 0);
	ASSERT_INT_EQ(mg__router_send(n->r[2], 0, hh, 0, 0, "one", 3), 0);
	ASSERT_INT_EQ(mg__router_send(n->r[2], 0, hh, 0, 0, "two", 3), 0);
	ASSERT_TRUE(run_until(n->loop, got_one, &g, 2000));
	ASSERT_TRUE(barrier(n, 2));
	ASSERT_INT_EQ(g.n, 1);
	ASSERT_STR_EQ((char *)g.m[0]->data, "one");
	/* Gone: a local send gets the dead "invalid handle". */
	ASSERT_INT_EQ(mg__router_send(n->r[0], 0, hh, mg__handler_handle(hd), 0, "x", 1), 0);
	ASSERT_TRUE(run_until(n->loop, got_one, &dead, 2000));
	ASSERT_STR_CONTAINS((char *)dead.m[0]->data, "invalid handle");
	/* The handle can be registered again. */
	again = mg__router_add_handler(n->ctx, n->r[0], hh, MG_POL_PARENT, 0, true, h_record, &g);
	ASSERT_PTR_NOT_NULL(again);
	talloc_free(again);
	talloc_free(hd);
	talloc_free(n);
}
ISOLATED(test_one_shot)

/*
 * router.c invoke() says a one-shot callback "may free its owner": a
 * request object that owns its reply handler and is freed by the reply.
 * Then the handler (a child of the owner) is gone when invoke() frees it.
 */
struct request {
	struct mg_handler *h;
	int *calls;
};

static void on_reply_free_owner(struct mg_router *r, struct mg_msg *m, void *data)
{
	struct request *req = data;

	(*req->calls)++;
	talloc_free(req);
}

static void test_one_shot_frees_owner_body(void)
{
	struct net *n = net_new();
	struct request *req;
	int calls = 0;

	ASSERT_PTR_NOT_NULL(n);
	req = talloc_zero(n->ctx, struct request);
	req->calls = &calls;
	req->h = mg__router_add_handler(req, n->r[0], 0, MG_POL_RESPONDENT, 2, false,
					on_reply_free_owner, req);
	ASSERT_PTR_NOT_NULL(req->h);
	ASSERT_INT_EQ(mg__router_send(n->r[2], 0, mg__handler_handle(req->h), 0, 0, "r", 1), 0);
	ASSERT_TRUE(barrier(n, 2));
	ASSERT_INT_EQ(calls, 1);
	talloc_free(n);
}
ISOLATED(test_one_shot_frees_owner)

/*
 * router.h: "The router keeps ownership of 'msg' and frees it after the
 * call unless the handler talloc_steal()s it." A handler that keeps the
 * message (as channel.c's on_data does with queued output) must find it
 * alive afterwards. A destructor tells us if the router freed it anyway.
 */
struct keeper {
	TALLOC_CTX *ctx;
	struct mg_msg *kept;
	int got;
	int freed;	/* destructor runs while the message is not ours to free */
	bool ours;
};

static struct keeper *the_keeper;

static int kept_destructor(struct mg_msg *m)
{
	if (!the_keeper->ours) {
		the_keeper->freed++;
	}
	return 0;
}

static void h_keep(struct mg_router *r, struct mg_msg *m, void *data)
{
	struct keeper *k = data;

	k->got++;
	if (mg__msg_keep(k->ctx, m) != 0) {
		abort();
	}
	k->kept = m;
	talloc_set_destructor(k->kept, kept_destructor);
}

static bool keeper_got(void *arg)
{
	return ((struct keeper *)arg)->got >= 1;
}

static void test_handler_keeps_message_body(void)
{
	struct net *n = net_new();
	struct keeper k = { 0 };
	struct mg_handler *h;

	ASSERT_PTR_NOT_NULL(n);
	k.ctx = talloc_new(n->ctx);
	the_keeper = &k;
	h = mg__router_add_handler(n->ctx, n->r[0], 0, MG_POL_RESPONDENT, 1, true, h_keep, &k);
	ASSERT_PTR_NOT_NULL(h);
	/* Arriving on a stream. */
	ASSERT_INT_EQ(mg__router_send(n->r[1], 0, mg__handler_handle(h), 0, 0, "keep me", 7), 0);
	ASSERT_TRUE(run_until(n->loop, keeper_got, &k, 2000));
	run_until(n->loop, NULL, NULL, 10);
	ASSERT_INT_EQ(k.freed, 0);
	k.ours = true;
	TALLOC_FREE(k.kept);
	k.ours = false;
	talloc_free(h);
	/* Delivered locally. */
	k.got = 0;
	h = mg__router_add_handler(n->ctx, n->r[0], 0, MG_POL_RESPONDENT, 0, true, h_keep, &k);
	ASSERT_INT_EQ(mg__router_send(n->r[0], 0, mg__handler_handle(h), 0, 0, "keep me", 7), 0);
	ASSERT_TRUE(run_until(n->loop, keeper_got, &k, 2000));
	run_until(n->loop, NULL, NULL, 10);
	ASSERT_INT_EQ(k.freed, 0);
	k.ours = true;
	TALLOC_FREE(k.kept);
	talloc_free(h);
	talloc_free(n);
}
ISOLATED(test_handler_keeps_message)

/* Dynamic handles start at MG_H_DYNAMIC and never collide with a live
 * handle, fixed or dynamic. */
struct slot {
	int idx;
	int hits;
	int wrong;
};

static void h_slot(struct mg_router *r, struct mg_msg *m, void *data)
{
	struct slot *sl = data;
	int idx = -1;

	if (m->len == sizeof(idx)) {
		memcpy(&idx, m->data, sizeof(idx));
	}
	sl->hits++;
	if (idx != sl->idx) {
		sl->wrong++;
	}
}

#define N_ALLOC 300

static void test_handle_allocation_body(void)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	struct mg_loop *loop = mg_loop_new(tmp);
	struct mg_router *r = mg__router_new(tmp, loop, 0, NULL, 0);
	struct mg_handler *h[N_ALLOC];
	struct slot slots[N_ALLOC];
	struct mg_handler *fixed[3];
	struct slot spare = { .idx = -2 };
	uint32_t first;
	int dup = 0, live = 0, hits = 0, wrong = 0;

	ASSERT_PTR_NOT_NULL(r);
	memset(slots, 0, sizeof(slots));
	slots[0].idx = 0;
	h[0] = mg__router_add_handler(tmp, r, 0, MG_POL_PARENT, 0, true, h_slot, &slots[0]);
	ASSERT_PTR_NOT_NULL(h[0]);
	first = mg__handler_handle(h[0]);
	ASSERT_INT_GE(first, MG_H_DYNAMIC);
	/* Squat on the next few numbers by hand. */
	for (int i = 0; i < 3; i++) {
		fixed[i] = mg__router_add_handler(tmp, r, first + 1 + (uint32_t)i, MG_POL_PARENT, 0,
						  true, h_slot, &spare);
		ASSERT_PTR_NOT_NULL(fixed[i]);
	}
	/* A live handle cannot be registered twice. */
	ASSERT_PTR_NULL(mg__router_add_handler(tmp, r, first, MG_POL_PARENT, 0, true, h_slot, &spare));
	ASSERT_PTR_NULL(mg__router_add_handler(tmp, r, MG_H_ADD_ROUTE, MG_POL_PARENT, 0, true,
					       h_slot, &spare));
	for (int i = 1; i < N_ALLOC; i++) {
		slots[i].idx = i;
		h[i] = mg__router_add_handler(tmp, r, 0, MG_POL_PARENT, 0, true, h_slot, &slots[i]);
		ASSERT_PTR_NOT_NULL(h[i]);
		if (i % 7 == 0) {
			/* Free some as we go: a freed one may come back, a live one not. */
			TALLOC_FREE(h[i - 3]);
		}
	}
	for (int i = 0; i < N_ALLOC; i++) {
		uint32_t hi;

		if (h[i] == NULL) {
			continue;
		}
		live++;
		hi = mg__handler_handle(h[i]);
		if (hi < MG_H_DYNAMIC) {
			dup++;
		}
		for (int k = 0; k < 3; k++) {
			if (hi == mg__handler_handle(fixed[k])) {
				dup++;
			}
		}
		for (int j = i + 1; j < N_ALLOC; j++) {
			if (h[j] != NULL && hi == mg__handler_handle(h[j])) {
				dup++;
			}
		}
	}
	ASSERT_INT_EQ(dup, 0);
	/* Every live handle reaches its own handler: ping each locally. */
	for (int i = 0; i < N_ALLOC; i++) {
		if (h[i] != NULL) {
			ASSERT_INT_EQ(mg__router_send(r, 0, mg__handler_handle(h[i]), 0, 0,
						      &i, sizeof(i)), 0);
		}
	}
	run_until(loop, NULL, NULL, 20);
	for (int i = 0; i < N_ALLOC; i++) {
		hits += slots[i].hits;
		wrong += slots[i].wrong;
		if (h[i] != NULL && slots[i].hits != 1) {
			wrong++;
		}
	}
	ASSERT_INT_EQ(hits, live);
	ASSERT_INT_EQ(wrong, 0);
	ASSERT_INT_EQ(spare.hits, 0);
	talloc_free(tmp);
}
ISOLATED(test_handle_allocation)

static void test_send_too_big_body(void)
{
	struct net *n = net_new();
	struct got g = { 0 }, d = { 0 }, at2 = { 0 };
	struct mg_handler *h, *hd, *h2;
	uint8_t *p;

	ASSERT_PTR_NOT_NULL(n);
	p = talloc_zero_size(n->ctx, MG_MSG_MAX_DEFAULT + 1);
	h = handler(n, 0, MG_POL_RESPONDENT, 0, &g);
	ASSERT_INT_EQ(mg__router_max_msg(n->r[0]), MG_MSG_MAX_DEFAULT);
	ASSERT_INT_EQ(mg__router_send(n->r[0], 0, mg__handler_handle(h), 0, 0, p,
				      MG_MSG_MAX_DEFAULT + 1), MG_ERR_TOO_BIG);
	ASSERT_INT_EQ(mg__router_send(n->r[0], 1, 1000, 0, 0, p, MG_MSG_MAX_DEFAULT + 1),
		      MG_ERR_TOO_BIG);
	mg__router_set_max_msg(n->r[0], 1024);
	ASSERT_INT_EQ(mg__router_send(n->r[0], 0, mg__handler_handle(h), 0, 0, p, 1025),
		      MG_ERR_TOO_BIG);
	ASSERT_INT_EQ(mg__router_send(n->r[0], 0, mg__handler_handle(h), 0, 0, p, 1024), 0);
	ASSERT_TRUE(run_until(n->loop, got_one, &g, 2000));
	ASSERT_INT_EQ(g.m[0]->len, 1024);
	/* An intermediary with a smaller limit answers dead instead of
	 * forwarding. */
	mg__router_set_max_msg(n->r[0], MG_MSG_MAX_DEFAULT);
	mg__router_set_max_msg(n->r[1], 1024);
	hd = handler(n, 0, MG_POL_RESPONDENT, 1, &d);
	h2 = handler(n, 2, MG_POL_PARENT, 0, &at2);
	ASSERT_INT_EQ(mg__router_send(n->r[0], 2, mg__handler_handle(h2), mg__handler_handle(hd), 0,
				      p, 2000), 0);
	ASSERT_TRUE(run_until(n->loop, got_one, &d, 2000));
	ASSERT_INT_EQ(d.m[0]->flags, MG_F_DEAD);
	ASSERT_STR_CONTAINS((char *)d.m[0]->data, "too large");
	ASSERT_INT_EQ(at2.n, 0);
	ASSERT_TRUE(mg__router_reachable(n->r[0], 2));
	talloc_free(h);
	talloc_free(hd);
	talloc_free(h2);
	talloc_free(n);
}
ISOLATED(test_send_too_big)

/* Local sends are delivered on a later loop iteration, never inside the
 * send, and never nested inside the handler that sent them. */
struct chain {
	struct got g;
	struct mg_router *r;
	uint32_t self;
	int left;
};

static void h_chain(struct mg_router *r, struct mg_msg *m, void *data)
{
	struct chain *c = data;

	h_record(r, m, &c->g);
	c->g.depth++;
	if (c->left-- > 0) {
		mg__router_send(r, 0, c->self, 0, 0, "again", 5);
	}
	/* Still inside: nothing may have been delivered yet. */
	c->g.depth--;
}

static bool chain_done(void *arg)
{
	return ((struct chain *)arg)->g.n >= 4;
}

static void test_local_send_deferred_body(void)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	struct mg_loop *loop = mg_loop_new(tmp);
	struct mg_router *r = mg__router_new(tmp, loop, 0, NULL, 0);
	struct chain c = { .g = { .ctx = tmp }, .left = 3 };
	struct mg_handler *h;

	ASSERT_PTR_NOT_NULL(r);
	h = mg__router_add_handler(tmp, r, 0, MG_POL_PARENT, 0, true, h_chain, &c);
	ASSERT_PTR_NOT_NULL(h);
	c.self = mg__handler_handle(h);
	ASSERT_INT_EQ(mg__router_send(r, 0, c.self, 0, 0, "first", 5), 0);
	ASSERT_INT_EQ(c.g.n, 0);
	ASSERT_TRUE(run_until(loop, chain_done, &c, 2000));
	ASSERT_INT_EQ(c.g.n, 4);
	ASSERT_INT_EQ(c.g.nested, 0);
	ASSERT_STR_EQ((char *)c.g.m[0]->data, "first");
	ASSERT_INT_EQ(c.g.m[0]->src, 0);
	ASSERT_PTR_NULL(c.g.m[0]->in);
	/* The payload was copied: the caller's buffer may go at once. */
	{
		char buf[8] = "local";
		c.left = 0;
		c.g.n = 0;
		ASSERT_INT_EQ(mg__router_send(r, 0, c.self, 0, 0, buf, 5), 0);
		memcpy(buf, "XXXXX", 5);
		ASSERT_TRUE(run_until(loop, got_one, &c.g, 2000));
		ASSERT_STR_EQ((char *)c.g.m[0]->data, "local");
	}
	talloc_free(tmp);
}
ISOLATED(test_local_send_deferred)

/* Log lines from a grandchild reach the master with its name. */
static bool log_seen(void *arg)
{
	return strstr(log_last, (const char *)arg) != NULL;
}

static void test_log_forwarding_body(void)
{
	struct net *n = net_new();
	uint8_t p[64];
	struct mg_buf b = { .data = p, .alloc = sizeof(p), .max = sizeof(p) };

	ASSERT_PTR_NOT_NULL(n);
	ASSERT_INT_EQ(mg__buf_put_u8(&b, MG_LOG_ERROR), 0);
	ASSERT_INT_EQ(mg__buf_put_str(&b, "disk on fire"), 0);
	log_last[0] = '\0';
	/* Addressed to the master (parents[n-1]); 1 forwards the frame. */
	ASSERT_INT_EQ(mg__router_send(n->r[2], 0, MG_H_LOG, 0, 0, b.data, b.len), 0);
	ASSERT_TRUE(run_until(n->loop, log_seen, (void *)"disk on fire", 2000));
	ASSERT_STR_CONTAINS(log_last, "c2");
	/* From a child of the master. */
	log_last[0] = '\0';
	ASSERT_INT_EQ(mg__router_send(n->r[3], 0, MG_H_LOG, 0, 0, b.data, b.len), 0);
	ASSERT_TRUE(run_until(n->loop, log_seen, (void *)"disk on fire", 2000));
	ASSERT_STR_CONTAINS(log_last, "c3");
	/* Addressed to its parent instead: the master still names 2, not
	 * 1, so that no hop can write lines in its parent's name (nor, when
	 * the parent has debug=1, show them whatever the master's level). */
	log_last[0] = '\0';
	b.len = 0;
	ASSERT_INT_EQ(mg__buf_put_u8(&b, MG_LOG_SHOW | MG_LOG_ERROR), 0);
	ASSERT_INT_EQ(mg__buf_put_str(&b, "said by 2"), 0);
	mg__router_allow_show(n->r[0], 1);
	ASSERT_INT_EQ(mg__router_send(n->r[2], 1, MG_H_LOG, 0, 0, b.data, b.len), 0);
	ASSERT_TRUE(run_until(n->loop, log_seen, (void *)"said by 2", 2000));
	ASSERT_STR_CONTAINS(log_last, "c2: said by 2");
	talloc_free(n);
}
ISOLATED(test_log_forwarding)

/* A child's LOG addressed to its parent agent is sent on up from the
 * agent's handler, not forwarded: while the way up is full the agent must
 * stop reading from that child there too, as for a frame it forwards,
 * or it queues whatever the child writes until it drops its own parent
 * (and with it every sibling) as not reading. A worker (PROTOCOL 5.8)
 * writes to its agent far faster than an ssh link drains. */
static bool way_up_stalled(void *arg)
{
	struct net *n = arg;

	return mg__stream_closed(n->up[1]) || mg__stream_paused(n->down[2]);
}

static bool all_logged(void *arg)
{
	return log_count >= 192;
}

static void test_log_flood_bounded_body(void)
{
	struct net *n = net_new();
	const size_t chunk = 256 << 10;
	struct mg_buf *b;
	char *text;

	ASSERT_PTR_NOT_NULL(n);
	text = talloc_zero_size(n->ctx, chunk + 1);
	ASSERT_PTR_NOT_NULL(text);
	memset(text, 'x', chunk);
	b = mg__buf_new(n->ctx, chunk + 64);
	ASSERT_PTR_NOT_NULL(b);
	ASSERT_INT_EQ(mg__buf_put_u8(b, MG_LOG_ERROR), 0);
	ASSERT_INT_EQ(mg__buf_put_str(b, text), 0);
	/* The master reads nothing from 1 for now. */
	mg__stream_pause(n->down[1], true);
	log_count = 0;
	/* 48 MiB, within 2's own queue limit (64 MiB). */
	for (int i = 0; i < 192; i++) {
		ASSERT_INT_EQ(mg__router_send(n->r[2], 1, MG_H_LOG, 0, 0, b->data, b->len), 0);
	}
	run_until(n->loop, way_up_stalled, n, 5000);
	run_until(n->loop, NULL, NULL, 300);
	ASSERT_TRUE(!mg__stream_closed(n->up[1]));
	ASSERT_TRUE(mg__stream_pending(n->up[1]) < MG_STREAM_TX_HIGH + 2 * chunk);
	/* Once the way up drains, 1 reads from 2 again: every line arrives. */
	mg__stream_pause(n->down[1], false);
	ASSERT_TRUE(run_until(n->loop, all_logged, NULL, 10000));
	ASSERT_TRUE(!mg__stream_closed(n->up[1]));
	talloc_free(n);
}
ISOLATED(test_log_flood_bounded)

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	mg_log_set_sink(log_capture, NULL);
	TESTS_BEGIN();
	RUN(test_routes);
	RUN(test_parent_handler_via_intermediary);
	RUN(test_parent_policy_refuses_child);
	RUN(test_sibling_refused);
	RUN(test_unknown_handle);
	RUN(test_no_route);
	RUN(test_spoofed_src_dropped);
	RUN(test_receive_reverse_path);
	RUN(test_unasked_route_drops_child);
	RUN(test_cousin_cannot_claim);
	RUN(test_bad_claims_drop_child);
	RUN(test_long_name_announced);
	RUN(test_failed_connect_forgotten);
	RUN(test_steered_reply_grants_nothing);
	RUN(test_sibling_connect_grants_nothing);
	RUN(test_watch_frees_watch);
	RUN(test_many_routes);
	RUN(test_respondent_lost);
	RUN(test_parent_lost_fails_waiters);
	RUN(test_del_route);
	RUN(test_one_shot);
	RUN(test_one_shot_frees_owner);
	RUN(test_handler_keeps_message);
	RUN(test_handle_allocation);
	RUN(test_send_too_big);
	RUN(test_local_send_deferred);
	RUN(test_log_forwarding);
	RUN(test_log_flood_bounded);
	return TESTS_END();
}
