/*
 * Unit tests for lib/core/router-hold.c: frames sent to a context still
 * being connected wait, go once it is up (those taken for its boot image
 * only noted), and are answered with the hop's error when it fails, at
 * the master and at the agent that connects the hop (router-net.h).
 */
#include <signal.h>
#include <string.h>

#include "harness.h"
#include "mitogen/error.h"
#include "mitogen/log.h"
#include "router-net.h"

#define H_TEST 5000

struct got {
	int n;
	uint32_t src[4];
	uint16_t flags[4];
	char text[4][64];
};

static void on_msg(struct mg_router *r, struct mg_msg *m, void *data)
{
	struct got *g = data;

	if (g->n < 4) {
		g->src[g->n] = m->src;
		g->flags[g->n] = m->flags;
		snprintf(g->text[g->n], sizeof(g->text[0]), "%.*s", (int)m->len, (const char *)m->data);
	}
	g->n++;
}

static bool got_one(void *arg)
{
	return ((struct got *)arg)->n > 0;
}

static void log_quiet(enum mg_log_level level, const char *msg, void *data)
{
}

/* A master (0) alone and an agent (1) not linked yet: the master starts
 * connecting it. */
static struct net *net_pending(void)
{
	static const uint32_t p1[] = { 0 };
	struct net *n = net_alone();

	if (n != NULL && (n->r[1] = mg__router_new(n, n->loop, 1, p1, 1)) == NULL) {
		talloc_free(n);
		return NULL;
	}
	return n;
}

/* Without a hold, nothing goes to a context not up; with one, it waits:
 * what was taken for the boot image is not sent again, the rest goes in
 * order once the hop is up. */
static void test_held_until_up(void)
{
	struct net *n = net_pending();
	struct got g = { 0 };
	struct mg_handler *h;
	uint8_t *p = NULL;
	size_t len = 0;
	struct mg_msg hdr = { 0 };

	ASSERT_PTR_NOT_NULL(n);
	h = mg__router_add_handler(n, n->r[1], H_TEST, MG_POL_PARENT, 0, true, on_msg, &g);
	ASSERT_PTR_NOT_NULL(h);
	ASSERT_INT_EQ(mg__router_send(n->r[0], 1, H_TEST, 0, 0, "early", 5), MG_ERR_DISCONNECTED);
	ASSERT_INT_EQ(mg__router_hold(n->r[0], 1, 0), 0);
	ASSERT_INT_EQ(mg__router_send(n->r[0], 1, H_TEST, 0, 0, "in-image", 8), 0);
	ASSERT_INT_EQ(mg__router_hold_take(n, n->r[0], 1, 1 << 16, false, &p, &len), 0);
	ASSERT_INT_EQ(len, MG_HDR_LEN + 8);
	ASSERT_INT_EQ(mg__msg_parse_header(p, MG_MSG_MAX_DEFAULT, &hdr), 0);
	ASSERT_INT_EQ(hdr.dst, 1);
	ASSERT_INT_EQ(hdr.handle, H_TEST);
	ASSERT_TRUE(memcmp(p + MG_HDR_LEN, "in-image", 8) == 0);
	/* Taken once: nothing more to take. */
	talloc_free(p);
	ASSERT_INT_EQ(mg__router_hold_take(n, n->r[0], 1, 1 << 16, false, &p, &len), 0);
	ASSERT_INT_EQ(len, 0);
	ASSERT_INT_EQ(mg__router_send(n->r[0], 1, H_TEST, 0, 0, "after", 5), 0);
	ASSERT_TRUE(net_link(n, 0, 1, "c1"));
	mg__router_hold_release(n->r[0], 1);
	ASSERT_TRUE(run_until(n->loop, got_one, &g, 2000));
	run_until(n->loop, NULL, NULL, 30);
	ASSERT_INT_EQ(g.n, 1);
	ASSERT_STR_EQ(g.text[0], "after");
	ASSERT_INT_EQ(g.src[0], 0);
	talloc_free(n);
}

/* The hop fails: each frame held for it is answered with its error. */
static void test_held_fail(void)
{
	struct net *n = net_pending();
	struct got g = { 0 };
	struct mg_handler *h;

	ASSERT_PTR_NOT_NULL(n);
	h = mg__router_add_handler(n, n->r[0], 0, MG_POL_RESPONDENT, 1, true, on_msg, &g);
	ASSERT_PTR_NOT_NULL(h);
	ASSERT_INT_EQ(mg__router_hold(n->r[0], 1, 0), 0);
	ASSERT_INT_EQ(mg__router_send(n->r[0], 1, H_TEST, mg__handler_handle(h), 0, "x", 1), 0);
	mg__router_unhold(n->r[0], 1, "connect timed out");
	ASSERT_TRUE(run_until(n->loop, got_one, &g, 2000));
	ASSERT_INT_EQ(g.flags[0], MG_F_DEAD);
	ASSERT_STR_EQ(g.text[0], "connect timed out");
	/* Gone with its hold: no route again. */
	ASSERT_INT_EQ(mg__router_send(n->r[0], 1, H_TEST, 0, 0, "x", 1), MG_ERR_DISCONNECTED);
	talloc_free(n);
}

/* A CONNECT held for hop 1 makes what is sent to the context it opens
 * wait with it, in order (a chain of hops all still connecting). */
static void test_connect_held_opens_way(void)
{
	struct net *n = net_pending();
	uint8_t id[4], *p = NULL;
	size_t len = 0;
	struct mg_msg hdr = { 0 };

	ASSERT_PTR_NOT_NULL(n);
	ASSERT_INT_EQ(mg__router_hold(n->r[0], 1, 0), 0);
	mg__put_be32(id, 2);
	ASSERT_INT_EQ(mg__router_send(n->r[0], 1, MG_H_CONNECT, 0, MG_F_OPEN, id, 4), 0);
	ASSERT_INT_EQ(mg__router_send(n->r[0], 2, MG_H_EXEC, 0, 0, "exec", 4), 0);
	ASSERT_INT_EQ(mg__router_hold_take(n, n->r[0], 1, 1 << 16, false, &p, &len), 0);
	ASSERT_INT_EQ(len, 2 * MG_HDR_LEN + 8);
	ASSERT_INT_EQ(mg__msg_parse_header(p + MG_HDR_LEN + 4, MG_MSG_MAX_DEFAULT, &hdr), 0);
	ASSERT_INT_EQ(hdr.dst, 2);
	ASSERT_INT_EQ(hdr.handle, MG_H_EXEC);
	talloc_free(p);
	/* Hop 1 fails: the way to 2 goes with it. */
	mg__router_unhold(n->r[0], 1, "gone");
	ASSERT_INT_EQ(mg__router_send(n->r[0], 2, MG_H_EXEC, 0, 0, "x", 1), MG_ERR_DISCONNECTED);
	talloc_free(n);
}

/* Only a CONNECT marked MG_F_OPEN opens a way while held: one without
 * the mark (a raw mg_router_send) would leave a hold that the hop's
 * failure, which frees only marked ones, never takes away. */
static void test_unmarked_connect_holds_nothing(void)
{
	struct net *n = net_pending();
	uint8_t id[4];

	ASSERT_PTR_NOT_NULL(n);
	ASSERT_INT_EQ(mg__router_hold(n->r[0], 1, 0), 0);
	mg__put_be32(id, 2);
	ASSERT_INT_EQ(mg__router_send(n->r[0], 1, MG_H_CONNECT, 0, 0, id, 4), 0);
	ASSERT_INT_EQ(mg__router_send(n->r[0], 2, MG_H_EXEC, 0, 0, "x", 1), MG_ERR_DISCONNECTED);
	mg__router_unhold(n->r[0], 1, "gone");
	ASSERT_INT_EQ(mg__router_send(n->r[0], 2, MG_H_EXEC, 0, 0, "x", 1), MG_ERR_DISCONNECTED);
	talloc_free(n);
}

/* Master 0 - agent 1 up; agent 1 connects 2. What the master sends to 2
 * meanwhile waits at agent 1 and reaches 2 once it is up. */
static struct net *net_agent_connecting(void)
{
	static const uint32_t p1[] = { 0 }, p2[] = { 1, 0 };
	struct net *n = net_pending();

	if (n == NULL || !net_link(n, 0, 1, "c1") ||
	    (n->r[2] = mg__router_new(n, n->loop, 2, p2, 2)) == NULL ||
	    (n->r[3] = mg__router_new(n, n->loop, 3, p1, 1)) == NULL || !net_link(n, 0, 3, "c3") ||
	    mg__router_hold(n->r[0], 2, 1) != 0 || mg__router_hold(n->r[1], 2, 0) != 0 ||
	    !net_ask_connect(n, 0, 1, 2)) {
		talloc_free(n);
		return NULL;
	}
	return n;
}

static void test_agent_holds_for_child(void)
{
	struct net *n = net_agent_connecting();
	struct got g = { 0 }, s = { 0 };
	struct mg_handler *h, *hs;

	ASSERT_PTR_NOT_NULL(n);
	h = mg__router_add_handler(n, n->r[2], H_TEST, MG_POL_PARENT, 0, true, on_msg, &g);
	hs = mg__router_add_handler(n, n->r[3], 0, MG_POL_RESPONDENT, 1, true, on_msg, &s);
	ASSERT_PTR_NOT_NULL(h);
	ASSERT_PTR_NOT_NULL(hs);
	ASSERT_INT_EQ(mg__router_send(n->r[0], 2, H_TEST, 0, 0, "exec", 4), 0);
	/* A sibling's frame is not held for it: only what comes from above. */
	ASSERT_INT_EQ(mg__router_send(n->r[3], 2, H_TEST, mg__handler_handle(hs), 0, "side", 4), 0);
	run_until(n->loop, NULL, NULL, 50);
	ASSERT_INT_EQ(g.n, 0);
	ASSERT_TRUE(net_link(n, 1, 2, "c2"));
	mg__router_hold_release(n->r[1], 2);
	ASSERT_TRUE(run_until(n->loop, got_one, &g, 2000));
	run_until(n->loop, NULL, NULL, 30);
	ASSERT_INT_EQ(g.n, 1);
	ASSERT_STR_EQ(g.text[0], "exec");
	ASSERT_INT_EQ(g.src[0], 0);
	talloc_free(n);
}

/* Hop 2 fails at agent 1: its held frames go nowhere, and the master, told by the
 * CONNECT's dead answer, fails its own waiters on 2 with the error. */
static void test_agent_hold_fails(void)
{
	struct net *n = net_agent_connecting();
	struct got g = { 0 }, e = { 0 };
	struct mg_handler *h, *he;

	ASSERT_PTR_NOT_NULL(n);
	h = mg__router_add_handler(n, n->r[0], 0, MG_POL_RESPONDENT, 2, true, on_msg, &g);
	he = mg__router_add_handler(n, n->r[2], H_TEST, MG_POL_PARENT, 0, true, on_msg, &e);
	ASSERT_PTR_NOT_NULL(h);
	ASSERT_PTR_NOT_NULL(he);
	ASSERT_INT_EQ(mg__router_send(n->r[0], 2, H_TEST, mg__handler_handle(h), 0, "exec", 4), 0);
	run_until(n->loop, NULL, NULL, 50);
	ASSERT_INT_EQ(g.n, 0);
	mg__router_unhold(n->r[1], 2, "sudo password is incorrect");
	run_until(n->loop, NULL, NULL, 50);
	ASSERT_INT_EQ(e.n, 0);
	/* A child's word is no answer for 2: the master's own unhold is. */
	ASSERT_INT_EQ(g.n, 0);
	mg__router_unhold(n->r[0], 2, "sudo password is incorrect");
	ASSERT_TRUE(run_until(n->loop, got_one, &g, 2000));
	run_until(n->loop, NULL, NULL, 30);
	ASSERT_INT_EQ(g.n, 1);
	ASSERT_INT_EQ(g.flags[0], MG_F_DEAD);
	ASSERT_STR_EQ(g.text[0], "sudo password is incorrect");
	talloc_free(n);
}

/*
 * A fused link (PROTOCOL 2.3.3): the master started first hop 1, and the
 * agent that came up at the end of its link is context 2, its sudo hop
 * (mg__router_fuse). 2 is the link's child (a policy "child" handler
 * takes its frames); 1 has no agent: a frame for it fails at the master,
 * one held for it is answered dead there, one claiming to come from it
 * is dropped, and 2 cannot delete its route.
 */
static void test_fused_link(void)
{
	static const uint32_t p2[] = { 0 };
	struct net *n = net_alone();
	struct got a = { 0 }, child = { 0 }, any = { 0 }, b = { 0 };
	struct mg_handler *ha, *hc, *hany, *hb;
	struct mg_stream *down, *up;
	struct mg_msg forged = { .dst = 0, .src = 1, .auth_id = 1, .handle = H_TEST + 2, .len = 6 };
	uint8_t *p = NULL, frame[MG_HDR_LEN + 6], del[64];
	size_t len = 0;
	int sv[2];

	ASSERT_PTR_NOT_NULL(n);
	mg_log_set_sink(log_quiet, NULL);
	n->r[2] = mg__router_new(n, n->loop, 2, p2, 1);
	ASSERT_PTR_NOT_NULL(n->r[2]);
	ha = mg__router_add_handler(n, n->r[0], 0, MG_POL_RESPONDENT, 1, true, on_msg, &a);
	hc = mg__router_add_handler(n, n->r[0], H_TEST + 1, MG_POL_CHILD, 0, true, on_msg, &child);
	hany = mg__router_add_handler(n, n->r[0], H_TEST + 2, MG_POL_ANY, 0, true, on_msg, &any);
	hb = mg__router_add_handler(n, n->r[2], H_TEST, MG_POL_PARENT, 0, true, on_msg, &b);
	ASSERT_TRUE(ha != NULL && hc != NULL && hany != NULL && hb != NULL);
	/* Connecting: 1's CONNECT for 2 and 2's frames wait with 1's, and
	 * ride in the image; one for 1 comes after. */
	ASSERT_INT_EQ(mg__router_hold(n->r[0], 1, 0), 0);
	ASSERT_INT_EQ(mg__router_hold(n->r[0], 2, 1), 0);
	ASSERT_TRUE(net_ask_connect(n, 0, 1, 2));
	ASSERT_INT_EQ(mg__router_send(n->r[0], 2, H_TEST, 0, 0, "in-image", 8), 0);
	ASSERT_INT_EQ(mg__router_hold_take(n, n->r[0], 1, 1 << 16, false, &p, &len), 0);
	ASSERT_TRUE(len > 0);
	talloc_free(p);
	ASSERT_INT_EQ(mg__router_send(n->r[0], 1, H_TEST, mg__handler_handle(ha), 0, "to-a", 4), 0);
	/* Up: the master's end of the link leads to 1, the agent is 2's. */
	ASSERT_INT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
	down = mg__stream_new(n, n->loop, sv[0], sv[0], "c1", MG_MSG_MAX_DEFAULT);
	up = mg__stream_new(n, n->loop, sv[1], sv[1], "parent", MG_MSG_MAX_DEFAULT);
	ASSERT_TRUE(down != NULL && up != NULL);
	ASSERT_INT_EQ(mg__router_add_stream(n->r[2], up, 0, "parent", true), 0);
	ASSERT_INT_EQ(mg__router_add_stream(n->r[0], down, 1, "c1", false), 0);
	ASSERT_INT_EQ(mg__router_fuse(n->r[0], 1, 2, "c1/sudo"), 0);
	mg__router_hold_release(n->r[0], 1);
	/* Held for 1: answered dead at the master, not sent to 2's agent. */
	ASSERT_TRUE(run_until(n->loop, got_one, &a, 2000));
	ASSERT_INT_EQ(a.flags[0], MG_F_DEAD);
	/* (kept to its first 63 bytes) */
	ASSERT_TRUE(strncmp(a.text[0], MG_NO_AGENT, sizeof(a.text[0]) - 1) == 0);
	ASSERT_INT_EQ(mg__router_send(n->r[0], 1, H_TEST, 0, 0, "x", 1), MG_ERR_POLICY);
	/* To 2: its agent gets it (what rode in the image is not sent again). */
	ASSERT_INT_EQ(mg__router_send(n->r[0], 2, H_TEST, 0, 0, "to-b", 4), 0);
	ASSERT_TRUE(run_until(n->loop, got_one, &b, 2000));
	/* From 2: the link's child. */
	ASSERT_INT_EQ(mg__router_send(n->r[2], 0, H_TEST + 1, 0, 0, "fetch", 5), 0);
	ASSERT_TRUE(run_until(n->loop, got_one, &child, 2000));
	ASSERT_INT_EQ(child.src[0], 2);
	/* Claiming to be 1, or deleting 1's route: nothing comes of it. */
	mg__msg_header(&forged, frame);
	memcpy(frame + MG_HDR_LEN, "forged", 6);
	ASSERT_INT_EQ(mg__stream_write_raw(up, frame, sizeof(frame)), 0);
	mg__put_be32(del, 1);
	ASSERT_INT_EQ(mg__router_send(n->r[2], 0, MG_H_DEL_ROUTE, 0, 0, del, 4), 0);
	ASSERT_INT_EQ(mg__router_send(n->r[2], 0, H_TEST + 2, 0, 0, "mine", 4), 0);
	ASSERT_TRUE(run_until(n->loop, got_one, &any, 2000));
	run_until(n->loop, NULL, NULL, 30);
	ASSERT_INT_EQ(any.n, 1);
	ASSERT_STR_EQ(any.text[0], "mine");
	ASSERT_INT_EQ(any.src[0], 2);
	ASSERT_TRUE(mg__router_reachable(n->r[0], 1));
	ASSERT_INT_EQ(b.n, 1);
	mg_log_set_sink(NULL, NULL);
	talloc_free(n);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	mg_log_set_sink(log_quiet, NULL);
	TESTS_BEGIN();
	RUN(test_held_until_up);
	RUN(test_held_fail);
	RUN(test_connect_held_opens_way);
	RUN(test_unmarked_connect_holds_nothing);
	RUN(test_agent_holds_for_child);
	RUN(test_agent_hold_fails);
	RUN(test_fused_link);
	return TESTS_END();
}
