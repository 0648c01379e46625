/*
 * Privileged children (docs/PROTOCOL.md section 5.7, mitogen's privileged
 * mitogen.unix clients) over router-net.h's tree, with two clients of the
 * master beside it: 4 on a privileged link, 5 on a plain one.
 *
 *             0 (master)
 *         /  |   \    \
 *        1   3    4P   5
 *        |
 *        2
 *
 * 4 acts with the master's authority wherever it sends, and is answered;
 * 5 is the ordinary leaf it always was; no hop gains anything from 4
 * being there; 4's loss reaches the hops that answered it.
 */
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include "router-net.h"
#include "net-record.h"
#include "mitogen/router.h"

#define PRIV 4
#define PLAIN 5

/* Client 'id' under the master; its link privileged or not. */
static bool link_client(struct net *n, uint32_t id, bool privileged)
{
	static const uint32_t p0[] = { 0 };
	struct mg_stream *down, *up;
	int sv[2];

	n->r[id] = mg__router_new(n, n->loop, id, p0, 1);
	if (n->r[id] == NULL ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0) {
		return false;
	}
	n->downfd[id] = sv[0];
	n->upfd[id] = sv[1];
	down = mg__stream_new(n->ctx, n->loop, sv[0], sv[0], "client", MG_MSG_MAX_DEFAULT);
	up = mg__stream_new(n->ctx, n->loop, sv[1], sv[1], "parent", MG_MSG_MAX_DEFAULT);
	if (down == NULL || up == NULL) {
		return false;
	}
	mg__stream_set_privileged(down, privileged);
	return mg__router_add_stream(n->r[id], up, 0, "parent", true) == 0 &&
	       mg__router_add_stream(n->r[0], down, id, "client", false) == 0;
}

static struct net *net_clients(void)
{
	struct net *n = net_new();

	if (n != NULL && (!link_client(n, PRIV, true) || !link_client(n, PLAIN, false))) {
		TALLOC_FREE(n);
	}
	return n;
}

/* The tree's setting; an attached client keeps its own (off: it ignores
 * HELLO's flags, section 5.7). */
static void set_unidirectional(struct net *n, bool on)
{
	for (int i = 0; i < PRIV; i++) {
		mg_router_set_unidirectional(n->r[i], on);
	}
}

/* 'from' sends "obey" to a parent-policy handler of 'to'; the answer
 * (the handler's "done", or a dead reason) is returned. */
static const char *order(struct net *n, uint32_t from, uint32_t to, struct got *cmd)
{
	struct got *ans = talloc_zero(n, struct got);
	uint32_t h, hr;

	cmd->reply = "done";
	h = handler(n, to, MG_POL_PARENT, 0, cmd);
	hr = handler(n, from, MG_POL_RESPONDENT, to, ans);
	if (h == 0 || hr == 0 || mg__router_send(n->r[from], to, h, hr, 0, "obey", 4) != 0 ||
	    !run_until(n->loop, got_one, ans, 2000)) {
		return "(no answer)";
	}
	return (const char *)ans->m[0]->data;
}

/* The privileged client commands a hop, a hop below it and the master;
 * each sees the master's authority and answers the client itself. */
static void test_privileged_commands_body(void)
{
	struct net *n = net_clients();
	struct got c1 = { 0 }, c2 = { 0 }, c0 = { 0 }, p1 = { 0 };

	ASSERT_PTR_NOT_NULL(n);
	ASSERT_STR_EQ(order(n, PRIV, 1, &c1), "done");
	ASSERT_INT_EQ(c1.n, 1);
	ASSERT_INT_EQ(c1.m[0]->src, PRIV);
	ASSERT_INT_EQ(c1.m[0]->auth_id, 0);
	ASSERT_STR_EQ(order(n, PRIV, 2, &c2), "done");
	ASSERT_INT_EQ(c2.m[0]->auth_id, 0);
	ASSERT_STR_EQ(order(n, PRIV, 0, &c0), "done");
	/* The plain client is refused, as before. */
	ASSERT_STR_EQ(order(n, PLAIN, 1, &p1), "refused by policy");
	ASSERT_INT_EQ(p1.n, 0);
	talloc_free(n);
}
ISOLATED(test_privileged_commands)

/* The master stamps its own id whatever auth_id the client wrote; a
 * forged src is still dropped. */
static void test_privileged_stamp_body(void)
{
	struct net *n = net_clients();
	struct got c1 = { 0 };
	uint32_t h;

	ASSERT_PTR_NOT_NULL(n);
	h = handler(n, 1, MG_POL_PARENT, 0, &c1);
	ASSERT_TRUE(raw_frame(n->upfd[PRIV], 1, PRIV, 3, h, 0, "a"));
	ASSERT_TRUE(run_until(n->loop, got_one, &c1, 2000));
	ASSERT_INT_EQ(c1.m[0]->auth_id, 0);
	ASSERT_TRUE(raw_frame(n->upfd[PRIV], 1, 3, 3, h, 0, "b"));
	ASSERT_TRUE(raw_frame(n->upfd[PLAIN], 1, PLAIN, 0, h, 0, "c"));
	run_until(n->loop, NULL, NULL, 50);
	ASSERT_INT_EQ(c1.n, 1);
	talloc_free(n);
}
ISOLATED(test_privileged_stamp)

/* Unidirectional routing lets the privileged client's traffic pass both
 * ways, and still nothing else between two children. */
static void test_privileged_unidirectional_body(void)
{
	struct net *n = net_clients();
	struct got c1 = { 0 }, c2 = { 0 }, p1 = { 0 }, s3 = { 0 };

	ASSERT_PTR_NOT_NULL(n);
	set_unidirectional(n, true);
	ASSERT_STR_EQ(order(n, PRIV, 1, &c1), "done");
	ASSERT_STR_EQ(order(n, PRIV, 2, &c2), "done");
	ASSERT_STR_EQ(order(n, PLAIN, 1, &p1),
		      "routing mode prevents forward of message from context 5 to context 1 "
		      "via context 0");
	ASSERT_STR_EQ(order(n, 1, 3, &s3),
		      "routing mode prevents forward of message from context 1 to context 3 "
		      "via context 0");
	ASSERT_INT_EQ(p1.n + s3.n, 0);
	talloc_free(n);
}
ISOLATED(test_privileged_unidirectional)

/* A hop gains nothing: it cannot command the client, the master or a
 * sibling, with or without unidirectional routing. */
static void test_hop_gains_nothing_body(void)
{
	struct net *n = net_clients();
	struct got g[8] = { 0 };

	ASSERT_PTR_NOT_NULL(n);
	for (int uni = 0; uni < 2; uni++) {
		set_unidirectional(n, uni);
		/* With routing unidirectional, the frame passes to the
		 * privileged link, and the client refuses it itself. */
		ASSERT_STR_EQ(order(n, 1, PRIV, &g[4 * uni]), "refused by policy");
		ASSERT_STR_EQ(order(n, 1, 0, &g[4 * uni + 1]), "refused by policy");
		ASSERT_STR_EQ(order(n, 2, 0, &g[4 * uni + 2]), "refused by policy");
		ASSERT_TRUE(strcmp(order(n, 1, 3, &g[4 * uni + 3]), "done") != 0);
	}
	for (int i = 0; i < 8; i++) {
		ASSERT_INT_EQ(g[i].n, 0);
	}
	talloc_free(n);
}
ISOLATED(test_hop_gains_nothing)

struct lost {
	int n;
	char why[128];
};

static void on_lost(struct mg_router *r, uint32_t id, const char *why, void *data)
{
	struct lost *l = data;

	l->n++;
	snprintf(l->why, sizeof(l->why), "%s", why);
}

static bool lost_one(void *arg)
{
	return ((struct lost *)arg)->n > 0;
}

/* The client's link ends: the hops that answered it hear (DEL_ROUTE), so
 * what they run for it can stop. */
static void test_client_lost_body(void)
{
	struct net *n = net_clients();
	struct got c1 = { 0 }, c2 = { 0 };
	struct lost l1 = { 0 }, l2 = { 0 };

	ASSERT_PTR_NOT_NULL(n);
	ASSERT_STR_EQ(order(n, PRIV, 1, &c1), "done");
	ASSERT_STR_EQ(order(n, PRIV, 2, &c2), "done");
	ASSERT_PTR_NOT_NULL(mg__router_watch(n, n->r[1], PRIV, on_lost, &l1));
	ASSERT_PTR_NOT_NULL(mg__router_watch(n, n->r[2], PRIV, on_lost, &l2));
	shutdown(n->upfd[PRIV], SHUT_RDWR);
	ASSERT_TRUE(run_until(n->loop, lost_one, &l2, 2000));
	ASSERT_TRUE(run_until(n->loop, lost_one, &l1, 2000));
	ASSERT_STR_EQ(l1.why, "connection to client lost");
	ASSERT_STR_EQ(l2.why, "connection to client lost");
	talloc_free(n);
}
ISOLATED(test_client_lost)

/* It may ask a hop to open a context below it, which the master then
 * takes from that hop; the plain client may not. */
static void test_privileged_connect_body(void)
{
	struct net *n = net_clients();
	static const uint32_t p61[] = { 1, 0 };

	ASSERT_PTR_NOT_NULL(n);
	ASSERT_TRUE(net_ask_connect(n, PRIV, 1, 6));
	run_until(n->loop, NULL, NULL, 50);
	n->r[6] = mg__router_new(n, n->loop, 6, p61, 2);
	ASSERT_TRUE(n->r[6] != NULL && net_link(n, 1, 6, "c6"));
	ASSERT_TRUE(net_wait_reach(n, 0, 6, true));
	ASSERT_TRUE(net_ask_connect(n, PLAIN, 1, 7));
	run_until(n->loop, NULL, NULL, 50);
	n->r[7] = mg__router_new(n, n->loop, 7, p61, 2);
	ASSERT_TRUE(n->r[7] != NULL && net_link(n, 1, 7, "c7"));
	/* 1 announced a context nobody with authority asked for: its
	 * link goes, and everything behind it. */
	ASSERT_TRUE(net_wait_reach(n, 0, 1, false));
	ASSERT_TRUE(!mg__router_reachable(n->r[0], 7));
	talloc_free(n);
}
ISOLATED(test_privileged_connect)

/* A child of the master that never reads: the master's end of its link,
 * and the raw fd the test writes its frames to (n->upfd[id]). 'attached':
 * marked as the listener marks a UNIX client's link. */
static bool link_deaf_client(struct net *n, uint32_t id, bool privileged, bool attached)
{
	struct mg_stream *down;
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0) {
		return false;
	}
	n->downfd[id] = sv[0];
	n->upfd[id] = sv[1];
	down = mg__stream_new(n->ctx, n->loop, sv[0], sv[0], "deaf", MG_MSG_MAX_DEFAULT);
	if (down == NULL) {
		return false;
	}
	mg__stream_set_privileged(down, privileged);
	mg__stream_set_attached(down, attached);
	return mg__router_add_stream(n->r[0], down, id, "deaf", false) == 0;
}

#define BIG_REPLY (1u << 20)

/* Answers every request with BIG_REPLY bytes. */
static void h_big(struct mg_router *r, struct mg_msg *m, void *data)
{
	mg__router_reply(r, m, data, BIG_REPLY);
}

/* 'id' (a deaf client) asks hop 1 for n big answers it never reads. */
static bool ask_big(struct net *net, uint32_t id, int n)
{
	void *big = talloc_zero_size(net, BIG_REPLY);
	struct mg_handler *h = big != NULL ?
		mg__router_add_handler(net, net->r[1], 0, MG_POL_ANY, 0, true, h_big, big) : NULL;

	if (h == NULL) {
		return false;
	}
	for (int i = 0; i < n; i++) {
		if (!raw_frame(net->upfd[id], 1, id, id, mg__handler_handle(h), 5000 + i, "")) {
			return false;
		}
	}
	return true;
}

/*
 * A child that asked for more than its link holds and never reads goes:
 * the hop whose answers filled that link works again for everyone else.
 * Before, the master stopped reading the hop while the child's queue was
 * full, and since a closed link never drains, it never read the hop
 * again. (Not marked as attached: the hop is held back meanwhile, as
 * for a sibling hop.)
 */
static void test_deaf_client_gone_body(void)
{
	struct net *n = net_new();
	struct got c1 = { 0 };

	ASSERT_PTR_NOT_NULL(n);
	ASSERT_TRUE(link_deaf_client(n, PRIV, true, false));
	ASSERT_TRUE(ask_big(n, PRIV, 24));
	run_until(n->loop, NULL, NULL, 500);
	close(n->upfd[PRIV]);
	run_until(n->loop, NULL, NULL, 100);
	ASSERT_TRUE(!mg__router_reachable(n->r[0], PRIV));
	ASSERT_STR_EQ(order(n, 0, 1, &c1), "done");
	talloc_free(n);
}
ISOLATED(test_deaf_client_gone)

/* Answers every request with its own payload (the agents' "echo"). */
static void h_echo(struct mg_router *r, struct mg_msg *m, void *data)
{
	mg__router_reply(r, m, m->data, m->len);
}

/*
 * An attached client sends a hop far more than it reads of the answers
 * (its router never reads its link): the hop answering it is never held
 * back, and the master stops reading the client while the client's own
 * queue is full, so what waits for it stays bounded (it is not dropped).
 */
static void test_deaf_client_bounded_body(void)
{
	static const uint32_t p0[] = { 0 };
	struct net *n = net_new();
	struct got c1 = { 0 };
	struct mg_stream *down, *up;
	struct mg_handler *h;
	void *big;
	int sv[2];

	ASSERT_PTR_NOT_NULL(n);
	n->r[PRIV] = mg__router_new(n, n->loop, PRIV, p0, 1);
	ASSERT_PTR_NOT_NULL(n->r[PRIV]);
	ASSERT_INT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
	down = mg__stream_new(n->ctx, n->loop, sv[0], sv[0], "client", MG_MSG_MAX_DEFAULT);
	up = mg__stream_new(n->ctx, n->loop, sv[1], sv[1], "parent", MG_MSG_MAX_DEFAULT);
	ASSERT_TRUE(down != NULL && up != NULL);
	mg__stream_set_privileged(down, true);
	mg__stream_set_attached(down, true);
	ASSERT_INT_EQ(mg__router_add_stream(n->r[PRIV], up, 0, "parent", true), 0);
	ASSERT_INT_EQ(mg__router_add_stream(n->r[0], down, PRIV, "client", false), 0);
	mg__stream_pause(up, true);
	h = mg__router_add_handler(n, n->r[1], 0, MG_POL_ANY, 0, true, h_echo, NULL);
	big = talloc_zero_size(n, BIG_REPLY);
	ASSERT_TRUE(h != NULL && big != NULL);
	/* 48 MB asked, nothing read. */
	for (int i = 0; i < 48; i++) {
		ASSERT_INT_EQ(mg__router_send(n->r[PRIV], 1, mg__handler_handle(h), 5000 + (uint32_t)i,
					      0, big, BIG_REPLY), 0);
	}
	run_until(n->loop, NULL, NULL, 1000);
	ASSERT_STR_EQ(order(n, 0, 1, &c1), "done");
	ASSERT_TRUE(mg__router_reachable(n->r[0], PRIV));
	ASSERT_TRUE(mg__router_reachable(n->r[0], 1));
	ASSERT_INT_GE(MG_STREAM_TX_MAX, mg__stream_pending(down));
	talloc_free(n);
}
ISOLATED(test_deaf_client_bounded)

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	TESTS_BEGIN();
	RUN(test_privileged_commands);
	RUN(test_privileged_stamp);
	RUN(test_privileged_unidirectional);
	RUN(test_hop_gains_nothing);
	RUN(test_client_lost);
	RUN(test_privileged_connect);
	RUN(test_deaf_client_gone);
	RUN(test_deaf_client_bounded);
	return TESTS_END();
}
