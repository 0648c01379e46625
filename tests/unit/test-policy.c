/*
 * Routing policies of the router (lib/core/router.c) over router-net.h's
 * tree, after mitogen's own router tests: unidirectional routing, the
 * maximum message size and its inheritance, forged src_id and auth_id,
 * policy refusals, dead messages for unknown handles and contexts, and
 * respondent disconnects; then the router's public utilities (disconnect
 * callbacks, error texts, mg_log_to_file, mg_run_with_router).
 *
 *          0 (master)
 *         / \
 *        1   3
 *        |
 *        2
 *
 * Every test runs in its own process and checks for talloc leaks there.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "router-net.h"
#include "net-record.h"
#include "conn.h"
#include "mitogen/chain.h"
#include "mitogen/context.h"
#include "mitogen/error.h"
#include "mitogen/log.h"
#include "mitogen/message.h"
#include "mitogen/receiver.h"
#include "mitogen/router.h"
#include "mitogen/service.h"
#include "mitogen/session.h"

/* DEL_ROUTE for 'id' written by hand, as raw_frame. */
static bool raw_del_route(int fd, uint32_t dst, uint32_t src, uint32_t id, const char *why)
{
	uint8_t f[MG_HDR_LEN + 72];
	size_t len = strlen(why);

	if (len > 64) {
		return false;
	}
	mg__put_be32(f, (uint32_t)MG_MAGIC << 16);
	mg__put_be32(f + 4, dst);
	mg__put_be32(f + 8, src);
	mg__put_be32(f + 12, src);
	mg__put_be32(f + 16, MG_H_DEL_ROUTE);
	mg__put_be32(f + 20, 0);
	mg__put_be32(f + 24, (uint32_t)(8 + len));
	mg__put_be32(f + MG_HDR_LEN, id);
	mg__put_be32(f + MG_HDR_LEN + 4, (uint32_t)len);
	memcpy(f + MG_HDR_LEN + 8, why, len);
	return write(fd, f, MG_HDR_LEN + 8 + len) == (ssize_t)(MG_HDR_LEN + 8 + len);
}

static void set_unidirectional(struct net *n, bool on)
{
	for (int i = 0; i < 4; i++) {
		mg_router_set_unidirectional(n->r[i], on);
	}
}

/* --- unidirectional routing --- */

/* Off by default: 1 reaches its sibling 3 and 2 its cousin 3 through the
 * master, and 3 answers 1; but a sibling has no authority over 3. */
static void test_siblings_talk_by_default_body(void)
{
	struct net *n = net_new();
	struct got at3 = { .reply = "hi 1" }, at1 = { 0 }, at2 = { 0 }, cmd3 = { 0 }, r1 = { 0 };
	uint32_t h3, h1, h2, hc3, hr1;

	ASSERT_PTR_NOT_NULL(n);
	for (int i = 0; i < 4; i++) {
		ASSERT_TRUE(!mg_router_unidirectional(n->r[i]));
	}
	h3 = handler(n, 3, MG_POL_RESPONDENT, 1, &at3);
	h1 = handler(n, 1, MG_POL_RESPONDENT, 3, &at1);
	ASSERT_INT_EQ(mg__router_send(n->r[1], 3, h3, h1, 0, "hello sibling", 13), 0);
	ASSERT_TRUE(run_until(n->loop, got_one, &at1, 2000));
	ASSERT_INT_EQ(at3.n, 1);
	ASSERT_STR_EQ((char *)at3.m[0]->data, "hello sibling");
	ASSERT_INT_EQ(at3.m[0]->src, 1);
	ASSERT_INT_EQ(at3.m[0]->auth_id, 1);
	ASSERT_INT_EQ(at1.m[0]->flags, 0);
	ASSERT_STR_EQ((char *)at1.m[0]->data, "hi 1");
	/* A cousin's frame arrives too, on a handler waiting for it. */
	at3.reply = NULL;
	h3 = handler(n, 3, MG_POL_RESPONDENT, 2, &at2);
	ASSERT_INT_EQ(mg__router_send(n->r[2], 3, h3, 0, 0, "hello cousin", 12), 0);
	ASSERT_TRUE(run_until(n->loop, got_one, &at2, 2000));
	ASSERT_INT_EQ(at2.m[0]->src, 2);
	/* Parent authority it has not: 3's PARENT handler refuses it. */
	hc3 = handler(n, 3, MG_POL_PARENT, 0, &cmd3);
	hr1 = handler(n, 1, MG_POL_RESPONDENT, 3, &r1);
	ASSERT_INT_EQ(mg__router_send(n->r[1], 3, hc3, hr1, 0, "obey", 4), 0);
	ASSERT_TRUE(run_until(n->loop, got_one, &r1, 2000));
	ASSERT_STR_EQ(dead_text(&r1), "refused by policy");
	ASSERT_INT_EQ(cmd3.n, 0);
	/* Nor can it lend itself the master's authority on the way. */
	h2 = handler(n, 1, MG_POL_RESPONDENT, 3, &r1);
	r1.n = 0;
	ASSERT_TRUE(raw_frame(n->upfd[1], 3, 1, 0, hc3, h2, "obey"));
	ASSERT_TRUE(raw_frame(n->upfd[1], 3, 2, 1, hc3, h2, "obey"));
	run_until(n->loop, NULL, NULL, 50);
	ASSERT_INT_EQ(cmd3.n, 0);
	ASSERT_INT_EQ(r1.n, 0);
	talloc_free(n);
}
ISOLATED(test_siblings_talk_by_default)

/* On: nothing goes from one child connection out of another; the sender
 * gets mitogen's dead message. Parent <-> child traffic is unaffected. */
static void test_unidirectional_blocks_siblings_body(void)
{
	struct net *n = net_new();
	struct got at3 = { 0 }, at1 = { 0 }, at2 = { 0 }, at0 = { .reply = "up" };
	struct got d2 = { .reply = "down" }, r0 = { 0 }, r1 = { 0 }, r2 = { 0 };
	uint32_t h3, h1, h2, h0, hd2, hr0, hr1, hr2;

	ASSERT_PTR_NOT_NULL(n);
	set_unidirectional(n, true);
	ASSERT_TRUE(mg_router_unidirectional(n->r[0]));
	h3 = handler(n, 3, MG_POL_RESPONDENT, 1, &at3);
	h1 = handler(n, 1, MG_POL_RESPONDENT, 0, &at1);
	ASSERT_INT_EQ(mg__router_send(n->r[1], 3, h3, h1, 0, "hello sibling", 13), 0);
	ASSERT_TRUE(run_until(n->loop, got_one, &at1, 2000));
	ASSERT_STR_EQ(dead_text(&at1), "routing mode prevents forward of message from context 1 "
		      "to context 3 via context 0");
	ASSERT_INT_EQ(at1.m[0]->src, 0);
	/* From the grandchild: the same, from 2. */
	h2 = handler(n, 2, MG_POL_RESPONDENT, 0, &at2);
	ASSERT_INT_EQ(mg__router_send(n->r[2], 3, h3, h2, 0, "hello cousin", 12), 0);
	ASSERT_TRUE(run_until(n->loop, got_one, &at2, 2000));
	ASSERT_STR_EQ(dead_text(&at2), "routing mode prevents forward of message from context 2 "
		      "to context 3 via context 0");
	/* The grandchild reaches the master, and the master the grandchild. */
	h0 = handler(n, 0, MG_POL_DESCENDANT, 0, &at0);
	hr2 = handler(n, 2, MG_POL_RESPONDENT, 0, &r2);
	ASSERT_INT_EQ(mg__router_send(n->r[2], 0, h0, hr2, 0, "from 2", 6), 0);
	ASSERT_TRUE(run_until(n->loop, got_one, &r2, 2000));
	ASSERT_INT_EQ(r2.m[0]->flags, 0);
	ASSERT_STR_EQ((char *)r2.m[0]->data, "up");
	ASSERT_INT_EQ(at0.m[0]->src, 2);
	hd2 = handler(n, 2, MG_POL_PARENT, 0, &d2);
	hr0 = handler(n, 0, MG_POL_RESPONDENT, 2, &r0);
	ASSERT_INT_EQ(mg__router_send(n->r[0], 2, hd2, hr0, 0, "to 2", 4), 0);
	ASSERT_TRUE(run_until(n->loop, got_one, &r0, 2000));
	ASSERT_STR_EQ((char *)r0.m[0]->data, "down");
	/* 1 and its own child 2, both ways. */
	hr1 = handler(n, 1, MG_POL_RESPONDENT, 2, &r1);
	ASSERT_INT_EQ(mg__router_send(n->r[1], 2, hd2, hr1, 0, "to 2", 4), 0);
	ASSERT_TRUE(run_until(n->loop, got_one, &r1, 2000));
	ASSERT_STR_EQ((char *)r1.m[0]->data, "down");
	ASSERT_INT_EQ(at3.n, 0);
	talloc_free(n);
}
ISOLATED(test_unidirectional_blocks_siblings)

/* On: a context also refuses, from its parent, a frame on the authority of
 * a context that is not its ancestor (what only a sibling would send). */
static void test_unidirectional_arrival_body(void)
{
	struct net *n = net_new();
	struct got at3 = { 0 };
	uint32_t h3;

	ASSERT_PTR_NOT_NULL(n);
	h3 = handler(n, 3, MG_POL_RESPONDENT, 1, &at3);
	mg_router_set_unidirectional(n->r[3], true);
	ASSERT_TRUE(raw_frame(n->downfd[3], 3, 1, 1, h3, 0, "dropped"));
	run_until(n->loop, NULL, NULL, 50);
	ASSERT_INT_EQ(at3.n, 0);
	mg_router_set_unidirectional(n->r[3], false);
	ASSERT_TRUE(raw_frame(n->downfd[3], 3, 1, 1, h3, 0, "taken"));
	ASSERT_TRUE(run_until(n->loop, got_one, &at3, 2000));
	ASSERT_STR_EQ((char *)at3.m[0]->data, "taken");
	/* Never a frame claiming to come from this context itself. */
	ASSERT_TRUE(raw_frame(n->downfd[3], 3, 3, 3, h3, 0, "self"));
	run_until(n->loop, NULL, NULL, 50);
	ASSERT_INT_EQ(at3.n, 1);
	talloc_free(n);
}
ISOLATED(test_unidirectional_arrival)

/* --- maximum message size --- */

#define MIB (1u << 20)

/* The public bounds; a message over the limit fails at once, locally
 * and as a call. */
static int size_of(struct mg_message *req, const void *payload, size_t len, void *data)
{
	char text[32];

	snprintf(text, sizeof(text), "%zu", len);
	return mg_message_reply(req, text, strlen(text));
}

static void test_max_msg_local_body(void)
{
	struct net *n = net_new();
	struct mg_message *reply = NULL;
	uint8_t *p;
	size_t len;

	ASSERT_PTR_NOT_NULL(n);
	p = talloc_zero_size(n, 3 * MIB);
	ASSERT_INT_EQ(mg_router_max_msg(n->r[0]), MG_ROUTER_MAX_MSG_MAX);
	ASSERT_INT_EQ(mg_router_set_max_msg(n->r[0], MG_ROUTER_MAX_MSG_MIN - 1), -EINVAL);
	ASSERT_INT_EQ(mg_router_set_max_msg(n->r[0], MG_ROUTER_MAX_MSG_MAX + 1), -EINVAL);
	ASSERT_INT_EQ(mg_router_set_max_msg(n->r[0], 0), -EINVAL);
	ASSERT_INT_EQ(mg_router_max_msg(n->r[0]), MG_ROUTER_MAX_MSG_MAX);
	ASSERT_INT_EQ(mg_router_set_max_msg(n->r[0], 2 * MIB), 0);
	ASSERT_INT_EQ(mg_router_max_msg(n->r[0]), 2 * MIB);
	ASSERT_INT_EQ(mg_router_send(n->r[0], 1, 1000, 0, p, 2 * MIB + 1), MG_ERR_TOO_BIG);
	ASSERT_INT_EQ(mg_router_send(n->r[0], 0, 1000, 0, p, 2 * MIB + 1), MG_ERR_TOO_BIG);
	ASSERT_INT_EQ(mg_router_call(n, n->r[0], 1, "echo", p, 2 * MIB + 1, 2000, &reply),
		      MG_ERR_TOO_BIG);
	ASSERT_PTR_NULL(reply);
	/* Within it, it goes: the call's own bytes are 12 here. */
	ASSERT_INT_EQ(mg_service_register(n->r[0], "size", 0, size_of, NULL), 0);
	ASSERT_INT_EQ(mg_router_call(n, n->r[0], 0, "size", p, 2 * MIB - 16, 2000, &reply), 0);
	ASSERT_INT_EQ(memcmp(mg_message_data(reply, &len), "2097136", 7), 0);
	ASSERT_INT_EQ(len, 7);
	talloc_free(reply);
	talloc_free(n);
}
ISOLATED(test_max_msg_local)

/* A context with a lower limit refuses what it would pass on, and what
 * is for itself, with a dead message; both ways. */
static void test_max_msg_forwarded_body(void)
{
	struct net *n = net_new();
	struct got d0 = { 0 }, d2 = { 0 }, at2 = { 0 }, at0 = { 0 }, at1 = { 0 };
	uint32_t hd0, hd2, h2, h0, h1;
	uint8_t *p;

	ASSERT_PTR_NOT_NULL(n);
	p = talloc_zero_size(n, 3 * MIB);
	ASSERT_INT_EQ(mg_router_set_max_msg(n->r[1], MIB), 0);
	hd0 = handler(n, 0, MG_POL_RESPONDENT, 1, &d0);
	h2 = handler(n, 2, MG_POL_PARENT, 0, &at2);
	h1 = handler(n, 1, MG_POL_PARENT, 0, &at1);
	ASSERT_INT_EQ(mg__router_send(n->r[0], 2, h2, hd0, 0, p, MIB + 1), 0);
	ASSERT_TRUE(run_until(n->loop, got_one, &d0, 2000));
	ASSERT_STR_EQ(dead_text(&d0), "message too large (1048577 bytes, max 1048576)");
	ASSERT_INT_EQ(d0.m[0]->src, 1);
	d0.n = 0;
	ASSERT_INT_EQ(mg__router_send(n->r[0], 1, h1, hd0, 0, p, MIB + 1), 0);
	ASSERT_TRUE(run_until(n->loop, got_one, &d0, 2000));
	ASSERT_STR_CONTAINS(dead_text(&d0), "message too large");
	/* Up from 2, whose own limit is still the default. */
	h0 = handler(n, 0, MG_POL_DESCENDANT, 0, &at0);
	hd2 = handler(n, 2, MG_POL_RESPONDENT, 1, &d2);
	ASSERT_INT_EQ(mg__router_send(n->r[2], 0, h0, hd2, 0, p, 2 * MIB), 0);
	ASSERT_TRUE(run_until(n->loop, got_one, &d2, 2000));
	ASSERT_STR_EQ(dead_text(&d2), "message too large (2097152 bytes, max 1048576)");
	/* At the limit, everything passes; nothing else got through. */
	ASSERT_INT_EQ(mg__router_send(n->r[0], 2, h2, 0, 0, p, MIB), 0);
	ASSERT_TRUE(run_until(n->loop, got_one, &at2, 2000));
	ASSERT_INT_EQ(at2.m[0]->len, MIB);
	ASSERT_INT_EQ(at1.n, 0);
	ASSERT_INT_EQ(at0.n, 0);
	/* The link stays up. */
	ASSERT_TRUE(mg__router_reachable(n->r[0], 2));
	talloc_free(n);
}
ISOLATED(test_max_msg_forwarded)

/* What an agent does with HELLO (agent.c): take the limit its parent
 * sends, and send its own on to the contexts it connects. */
static bool take_hello(struct net *n, uint32_t parent, uint32_t child)
{
	struct mg_buf *b = mg__buf_new(n, 4096);
	struct mg_hello h;

	if (b == NULL || mg__hello_encode(b, n->r[parent], child, 0, "x") != 0 ||
	    mg__hello_decode(b, b->data, b->len, &h) != 0) {
		return false;
	}
	mg__router_set_max_msg(n->r[child], h.max_msg);
	talloc_free(b);
	return true;
}

static void test_max_msg_inherited_body(void)
{
	struct net *n = net_new();
	struct got d0 = { 0 }, d2 = { 0 }, at0 = { 0 }, at2 = { 0 };
	uint32_t hd0, hd2, h0, h2;
	uint8_t *p;

	ASSERT_PTR_NOT_NULL(n);
	p = talloc_zero_size(n, 3 * MIB);
	ASSERT_INT_EQ(mg_router_set_max_msg(n->r[0], 3 * MIB / 2), 0);
	ASSERT_TRUE(take_hello(n, 0, 1));
	ASSERT_TRUE(take_hello(n, 1, 2));
	ASSERT_INT_EQ(mg_router_max_msg(n->r[1]), 3 * MIB / 2);
	ASSERT_INT_EQ(mg_router_max_msg(n->r[2]), 3 * MIB / 2);
	/* The grandchild fails locally over the inherited limit... */
	ASSERT_INT_EQ(mg_router_send(n->r[2], 0, 1000, 0, p, 2 * MIB), MG_ERR_TOO_BIG);
	ASSERT_INT_EQ(mg_router_send(n->r[2], 1, 1000, 0, p, 3 * MIB / 2 + 1), MG_ERR_TOO_BIG);
	/* ...and within it reaches the master, and the master it. */
	h0 = handler(n, 0, MG_POL_DESCENDANT, 0, &at0);
	hd2 = handler(n, 2, MG_POL_RESPONDENT, 0, &d2);
	ASSERT_INT_EQ(mg_router_send(n->r[2], 0, h0, hd2, p, 3 * MIB / 2), 0);
	ASSERT_TRUE(run_until(n->loop, got_one, &at0, 2000));
	ASSERT_INT_EQ(at0.m[0]->len, 3 * MIB / 2);
	h2 = handler(n, 2, MG_POL_PARENT, 0, &at2);
	hd0 = handler(n, 0, MG_POL_RESPONDENT, 2, &d0);
	ASSERT_INT_EQ(mg_router_send(n->r[0], 2, h2, hd0, p, 3 * MIB / 2), 0);
	ASSERT_TRUE(run_until(n->loop, got_one, &at2, 2000));
	ASSERT_INT_EQ(d2.n, 0);
	ASSERT_INT_EQ(d0.n, 0);
	talloc_free(n);
}
ISOLATED(test_max_msg_inherited)

/* --- forged headers, lost contexts --- */

/* From below, auth_id must be src: a context in a child's subtree cannot
 * lend itself another's authority, its parent's or a descendant's.
 * Dropped without a reply (test-router.c has the forged src cases). */
static void test_forged_auth_dropped_body(void)
{
	struct net *n = net_new();
	struct got at0 = { 0 }, at1 = { 0 }, d1 = { 0 }, d2 = { 0 };
	uint32_t h0, h1, hd1, hd2;

	ASSERT_PTR_NOT_NULL(n);
	h0 = handler(n, 0, MG_POL_DESCENDANT, 0, &at0);
	h1 = handler(n, 1, MG_POL_DESCENDANT, 0, &at1);
	hd1 = handler(n, 1, MG_POL_RESPONDENT, 0, &d1);
	hd2 = handler(n, 2, MG_POL_RESPONDENT, 1, &d2);
	ASSERT_TRUE(raw_frame(n->upfd[1], 0, 2, 1, h0, hd1, "2 as 1"));
	ASSERT_TRUE(raw_frame(n->upfd[1], 0, 1, 2, h0, hd1, "1 as 2"));
	ASSERT_TRUE(raw_frame(n->upfd[1], 0, 2, 0, h0, hd1, "2 as 0"));
	ASSERT_TRUE(raw_frame(n->upfd[2], 1, 2, 1, h1, hd2, "2 as 1, to 1"));
	ASSERT_TRUE(raw_frame(n->upfd[2], 0, 2, 1, h0, hd2, "2 as 1, via 1"));
	/* The genuine frames behind them on the same links. */
	ASSERT_TRUE(raw_frame(n->upfd[1], 0, 2, 2, h0, 0, "ok"));
	ASSERT_TRUE(raw_frame(n->upfd[2], 1, 2, 2, h1, 0, "ok"));
	ASSERT_TRUE(run_until(n->loop, got_one, &at1, 2000));
	ASSERT_TRUE(run_until(n->loop, got_one, &at0, 2000));
	run_until(n->loop, NULL, NULL, 50);
	ASSERT_INT_EQ(at0.n, 1);
	ASSERT_INT_EQ(at1.n, 1);
	ASSERT_STR_EQ((char *)at0.m[0]->data, "ok");
	ASSERT_STR_EQ((char *)at1.m[0]->data, "ok");
	ASSERT_INT_EQ(d1.n, 0);
	ASSERT_INT_EQ(d2.n, 0);
	/* Dropping is not disconnecting. */
	ASSERT_TRUE(mg__router_reachable(n->r[0], 2));
	talloc_free(n);
}
ISOLATED(test_forged_auth_dropped)

/* A context that was lost: sending to it fails at once where nothing
 * routes it, and comes back dead from the master to anyone below. */
static void test_lost_context_dead_body(void)
{
	struct net *n = net_new();
	struct got d3 = { 0 }, d1 = { 0 };
	uint32_t hd3, hd1;

	ASSERT_PTR_NOT_NULL(n);
	ASSERT_INT_EQ(shutdown(n->downfd[2], SHUT_RDWR), 0);
	ASSERT_TRUE(net_wait_reach(n, 0, 2, false));
	ASSERT_INT_EQ(mg_router_send(n->r[0], 2, 1000, 0, "x", 1), MG_ERR_DISCONNECTED);
	hd3 = handler(n, 3, MG_POL_RESPONDENT, 0, &d3);
	ASSERT_INT_EQ(mg_router_send(n->r[3], 2, 1000, hd3, "x", 1), 0);
	ASSERT_TRUE(run_until(n->loop, got_one, &d3, 2000));
	ASSERT_STR_EQ(dead_text(&d3), "no route to 2, my id is 0");
	/* 1, which had it, sends up too now, and hears the same. */
	hd1 = handler(n, 1, MG_POL_RESPONDENT, 0, &d1);
	ASSERT_INT_EQ(mg_router_send(n->r[1], 2, 1000, hd1, "x", 1), 0);
	ASSERT_TRUE(run_until(n->loop, got_one, &d1, 2000));
	ASSERT_STR_EQ(dead_text(&d1), "no route to 2, my id is 0");
	talloc_free(n);
}
ISOLATED(test_lost_context_dead)

/* --- on-disconnect callbacks --- */

struct seen {
	int calls;
	uint32_t id;
	char reason[256];
	struct mg_watch **free_me;	/* the callback frees this watch */
};

static void on_gone(struct mg_router *r, uint32_t id, const char *reason, void *data)
{
	struct seen *s = data;

	s->calls++;
	s->id = id;
	snprintf(s->reason, sizeof(s->reason), "%s", reason);
	if (s->free_me != NULL) {
		TALLOC_FREE(*s->free_me);
	}
}

static bool seen_one(void *arg)
{
	return ((struct seen *)arg)->calls >= 1;
}

/* Called once when the context goes, with why; a freed watch never. */
static void test_on_disconnect_body(void)
{
	struct net *n = net_new();
	struct seen s2 = { 0 }, s1 = { 0 }, s3 = { 0 }, cancelled = { 0 }, up = { 0 };
	struct mg_watch *w2, *w1, *w3, *wc, *wup;

	ASSERT_PTR_NOT_NULL(n);
	w2 = mg_router_on_disconnect(n, n->r[0], 2, on_gone, &s2);
	w1 = mg_router_on_disconnect(n, n->r[0], 1, on_gone, &s1);
	w3 = mg_router_on_disconnect(n, n->r[0], 3, on_gone, &s3);
	wc = mg_router_on_disconnect(n, n->r[0], 2, on_gone, &cancelled);
	wup = mg_router_on_disconnect(n, n->r[2], 0, on_gone, &up);
	ASSERT_TRUE(w2 && w1 && w3 && wc && wup);
	ASSERT_PTR_NULL(mg_router_on_disconnect(n, n->r[0], 2, NULL, NULL));
	talloc_free(wc);
	/* The link between 1 and 2 breaks: the master hears of it by
	 * DEL_ROUTE, 2 loses its parent. */
	ASSERT_INT_EQ(shutdown(n->downfd[2], SHUT_RDWR), 0);
	ASSERT_TRUE(run_until(n->loop, seen_one, &s2, 2000));
	ASSERT_TRUE(run_until(n->loop, seen_one, &up, 2000));
	run_until(n->loop, NULL, NULL, 50);
	ASSERT_INT_EQ(s2.calls, 1);
	ASSERT_INT_EQ(s2.id, 2);
	ASSERT_STR_CONTAINS(s2.reason, "connection to c2 lost");
	ASSERT_INT_EQ(up.calls, 1);
	ASSERT_INT_EQ(up.id, 0);
	ASSERT_INT_EQ(s1.calls, 0);
	ASSERT_INT_EQ(s3.calls, 0);
	ASSERT_INT_EQ(cancelled.calls, 0);
	/* 1 goes too, and its callback may free its own watch. */
	s1.free_me = &w1;
	ASSERT_INT_EQ(shutdown(n->downfd[1], SHUT_RDWR), 0);
	ASSERT_TRUE(run_until(n->loop, seen_one, &s1, 2000));
	ASSERT_PTR_NULL(w1);
	run_until(n->loop, NULL, NULL, 20);
	ASSERT_INT_EQ(s1.calls, 1);
	ASSERT_INT_EQ(s2.calls, 1);
	ASSERT_INT_EQ(s3.calls, 0);
	talloc_free(w2);
	talloc_free(w3);
	talloc_free(wup);
	talloc_free(n);
}
ISOLATED(test_on_disconnect)

/* Already unreachable: called all the same, later, never from inside the
 * call; freeing the watch first cancels it. */
static void test_on_disconnect_already_body(void)
{
	struct net *n = net_new();
	struct seen s = { 0 }, cancelled = { 0 };
	struct mg_watch *w, *wc;

	ASSERT_PTR_NOT_NULL(n);
	w = mg_router_on_disconnect(n, n->r[0], 77, on_gone, &s);
	wc = mg_router_on_disconnect(n, n->r[0], 77, on_gone, &cancelled);
	ASSERT_TRUE(w && wc);
	ASSERT_INT_EQ(s.calls, 0);
	talloc_free(wc);
	ASSERT_TRUE(run_until(n->loop, seen_one, &s, 2000));
	run_until(n->loop, NULL, NULL, 20);
	ASSERT_INT_EQ(s.calls, 1);
	ASSERT_INT_EQ(s.id, 77);
	ASSERT_STR_EQ(s.reason, "context 77 is unreachable");
	ASSERT_INT_EQ(cancelled.calls, 0);
	talloc_free(w);
	talloc_free(n);
}
ISOLATED(test_on_disconnect_already)

/* --- error codes --- */

/* Every code has its own text; the values stay where they were. */
static void test_error_texts(void)
{
	const char *seen[32];
	int n = 0;

	ASSERT_INT_EQ(MG_ERR_PROTOCOL, -(MG_ERR_BASE + 1));
	ASSERT_INT_EQ(MG_ERR_CALL, -(MG_ERR_BASE + 16));
	ASSERT_INT_EQ(MG_ERR_STREAM, -(MG_ERR_BASE + 17));
	ASSERT_INT_EQ(MG_ERR_HOSTKEY, -(MG_ERR_BASE + 21));
	for (int e = MG_ERR_PROTOCOL; e >= MG_ERR_HOSTKEY; e--) {
		const char *t = mg_strerror(e);

		ASSERT_PTR_NOT_NULL(t);
		ASSERT_TRUE(strcmp(t, "unknown error") != 0);
		for (int i = 0; i < n; i++) {
			ASSERT_TRUE(strcmp(seen[i], t) != 0);
		}
		seen[n++] = t;
	}
	ASSERT_STR_EQ(mg_strerror(MG_ERR_EOF), "unexpected end of stream");
	ASSERT_STR_EQ(mg_strerror(MG_ERR_PASSWORD), "password wrong or required");
	ASSERT_STR_EQ(mg_strerror(MG_ERR_HOSTKEY - 1), "unknown error");
	ASSERT_STR_EQ(mg_strerror(-ENOENT), strerror(ENOENT));
	ASSERT_STR_EQ(mg_strerror(0), "success");
}

/* --- mg_log_to_file --- */

/* The fd open on 'path' in this process, or -1. */
static int fd_of(const char *path)
{
	char link[64], target[4096];

	for (int fd = 0; fd < 1024; fd++) {
		ssize_t n;

		snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
		n = readlink(link, target, sizeof(target) - 1);
		if (n > 0) {
			target[n] = '\0';
			if (strcmp(target, path) == 0) {
				return fd;
			}
		}
	}
	return -1;
}

static char *slurp(TALLOC_CTX *mem_ctx, const char *path)
{
	char *text = talloc_zero_size(mem_ctx, 65536);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, text, 65535) : -1;

	if (fd >= 0) {
		close(fd);
	}
	return n >= 0 ? text : NULL;
}

static void test_log_to_file_body(void)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	char dir[] = "/tmp/mg-policy-XXXXXX";
	char *path, *text;
	struct stat st;
	int fd;

	ASSERT_PTR_NOT_NULL(mkdtemp(dir));
	path = talloc_asprintf(tmp, "%s/log", dir);
	ASSERT_INT_EQ(mg_log_to_file(talloc_asprintf(tmp, "%s/no/such", dir), MG_LOG_DEBUG),
		      -ENOENT);
	ASSERT_INT_EQ(mg_log_to_file(NULL, MG_LOG_DEBUG), -EINVAL);
	ASSERT_INT_EQ(mg_log_get_level(), MG_LOG_WARN);
	/* Appends to what is there. */
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	ASSERT_TRUE(fd >= 0 && write(fd, "before\n", 7) == 7);
	close(fd);
	ASSERT_INT_EQ(mg_log_to_file(path, MG_LOG_DEBUG), 0);
	ASSERT_INT_EQ(mg_log_get_level(), MG_LOG_DEBUG);
	fd = fd_of(path);
	ASSERT_TRUE(fd >= 0);
	ASSERT_TRUE((fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0);
	mg_log_set_ident("policy");
	mg_debug("hello \x1b[31mred\x1b[0m\nnext");
	mg_trace("not at this level");
	mg_error("second");
	text = slurp(tmp, path);
	ASSERT_PTR_NOT_NULL(text);
	ASSERT_TRUE(strncmp(text, "before\n", 7) == 0);
	ASSERT_STR_CONTAINS(text, " DEBUG policy[");
	ASSERT_STR_CONTAINS(text, "]: hello \\x1b[31mred\\x1b[0m\\nnext\n");
	ASSERT_STR_CONTAINS(text, " ERROR policy[");
	ASSERT_TRUE(strstr(text, "not at this level") == NULL);
	ASSERT_TRUE(strchr(text, '\x1b') == NULL);
	/* A new file is created 0600 whatever the umask. */
	umask(0);
	path = talloc_asprintf(tmp, "%s/new", dir);
	ASSERT_INT_EQ(mg_log_to_file(path, MG_LOG_INFO), 0);
	ASSERT_INT_EQ(stat(path, &st), 0);
	ASSERT_INT_EQ(st.st_mode & 07777, 0600);
	/* The first file was closed when the sink was replaced, and so is
	 * this one by another sink. */
	ASSERT_INT_EQ(fd_of(talloc_asprintf(tmp, "%s/log", dir)), -1);
	ASSERT_TRUE(fd_of(path) >= 0);
	mg_log_set_sink(NULL, NULL);
	ASSERT_INT_EQ(fd_of(path), -1);
	unlink(path);
	unlink(talloc_asprintf(tmp, "%s/log", dir));
	rmdir(dir);
	talloc_free(tmp);
}
ISOLATED(test_log_to_file)

/* --- mg_run_with_router --- */

struct run {
	int step;
	pid_t pid;
};

static int size_service_then_41(struct mg_router *r, void *data)
{
	struct run *x = data;
	struct mg_message *reply = NULL;
	size_t len;

	if (!mg_router_is_master(r) || mg_router_session(r) == NULL ||
	    mg_service_register(r, "size", 0, size_of, NULL) != 0 ||
	    mg_router_call(NULL, r, 0, "size", "abc", 3, 2000, &reply) != 0 ||
	    memcmp(mg_message_data(reply, &len), "3", 1) != 0) {
		talloc_free(reply);
		return -1;
	}
	talloc_free(reply);
	x->step = 1;
	return 41;
}

struct connected {
	struct mg_loop *loop;
	struct mg_context *ctx;
	int err;
};

static void on_connect(struct mg_context *ctx, int err, const char *errmsg, void *data)
{
	struct connected *c = data;

	c->ctx = ctx;
	c->err = err;
	mg_loop_stop(c->loop, 0);
}

/* A local agent, left connected: the teardown ends and reaps it. */
static int with_local_agent(struct mg_router *r, void *data)
{
	struct run *x = data;
	struct mg_session *s = mg_router_session(r);
	struct mg_chain_list *chains = NULL;
	struct connected c = { mg_router_loop(r), NULL, -1 };
	struct mg_message *reply = NULL;
	char *errmsg = NULL;
	int ret;

	if (s == NULL || mg_chain_parse(s, "local", &chains, &errmsg) != 0 ||
	    mg_connect(s, s, &chains->chains[0], NULL, on_connect, &c, &errmsg) != 0) {
		return -1;
	}
	mg_loop_run(c.loop);
	if (c.err != 0) {
		return -2;
	}
	ret = mg_context_call(NULL, c.ctx, "echo", "x", 1, 5000, &reply);
	talloc_free(reply);
	x->step = 2;
	return ret == 0 ? 7 : -3;
}

static void test_run_with_router_body(void)
{
	struct run x = { 0 };
	int status;

	ASSERT_INT_EQ(mg_run_with_router(NULL, NULL), -EINVAL);
	ASSERT_INT_EQ(mg_run_with_router(size_service_then_41, &x), 41);
	ASSERT_INT_EQ(x.step, 1);
	ASSERT_INT_EQ(mg_run_with_router(with_local_agent, &x), 7);
	ASSERT_INT_EQ(x.step, 2);
	/* Every process the session started is gone and reaped. */
	ASSERT_INT_EQ(waitpid(-1, &status, WNOHANG), -1);
	ASSERT_INT_EQ(errno, ECHILD);
}
ISOLATED(test_run_with_router)

/* --- respondent disconnects across the tree --- */

#define LOST "the respondent context has disconnected"

/* Waiters in 1 and 2 on their sibling and cousin 3 (routing not
 * unidirectional), which each sent something to: when 3 is lost, the
 * master tells 1 by DEL_ROUTE, and 1 tells 2. */
static void test_lost_sibling_body(void)
{
	struct net *n = net_new();
	struct got at3 = { 0 };
	struct mg_receiver *rx1, *rx2, *rx0;
	struct mg_message *msg;
	uint32_t h3;

	ASSERT_PTR_NOT_NULL(n);
	h3 = handler(n, 3, MG_POL_DESCENDANT, 0, &at3);
	ASSERT_INT_EQ(mg_receiver_new(n, n->r[1], 0, 3, 0, &rx1), 0);
	ASSERT_INT_EQ(mg_receiver_new(n, n->r[2], 0, 3, 0, &rx2), 0);
	ASSERT_INT_EQ(mg_receiver_new(n, n->r[0], 0, 3, 0, &rx0), 0);
	/* Waiting, not failed at once: 3 is reached through the parent. */
	ASSERT_INT_EQ(mg_receiver_get(n, rx1, 0, &msg), MG_ERR_TIMEOUT);
	ASSERT_INT_EQ(mg_receiver_get(n, rx2, 0, &msg), MG_ERR_TIMEOUT);
	/* Each asks 3 something (refused there: no matter). */
	ASSERT_INT_EQ(mg_router_send(n->r[1], 3, h3, mg_receiver_handle(rx1), "q1", 2), 0);
	ASSERT_INT_EQ(mg_router_send(n->r[2], 3, h3, mg_receiver_handle(rx2), "q2", 2), 0);
	ASSERT_INT_EQ(mg_receiver_get(n, rx1, 2000, &msg), MG_ERR_CHANNEL);
	ASSERT_STR_EQ(mg_message_dead_reason(msg), "refused by policy");
	ASSERT_INT_EQ(mg_receiver_get(n, rx2, 2000, &msg), MG_ERR_CHANNEL);
	ASSERT_STR_EQ(mg_message_dead_reason(msg), "refused by policy");
	ASSERT_INT_EQ(at3.n, 0);
	/* 3 goes: each wakes well before its limit (no timing asserted:
	 * a loaded machine). */
	ASSERT_INT_EQ(shutdown(n->downfd[3], SHUT_RDWR), 0);
	ASSERT_INT_EQ(mg_receiver_get(n, rx1, 2000, &msg), MG_ERR_CHANNEL);
	ASSERT_STR_EQ(mg_message_dead_reason(msg), LOST);
	ASSERT_INT_EQ(mg_message_src(msg), 3);
	ASSERT_INT_EQ(mg_receiver_get(n, rx2, 2000, &msg), MG_ERR_CHANNEL);
	ASSERT_STR_EQ(mg_message_dead_reason(msg), LOST);
	ASSERT_INT_EQ(mg_receiver_get(n, rx0, 2000, &msg), MG_ERR_CHANNEL);
	ASSERT_STR_EQ(mg_message_dead_reason(msg), LOST);
	/* Once: then each is closed. */
	ASSERT_INT_EQ(mg_receiver_get(n, rx1, 50, &msg), MG_ERR_CHANNEL);
	ASSERT_STR_EQ(mg_message_dead_reason(msg), "receiver was closed");
	ASSERT_INT_EQ(mg_receiver_get(n, rx2, 50, &msg), MG_ERR_CHANNEL);
	ASSERT_STR_EQ(mg_message_dead_reason(msg), "receiver was closed");
	talloc_free(n);
}
ISOLATED(test_lost_sibling)

/* A waiter on a sibling wakes when its own parent link goes (the sibling
 * is reached through it), as a waiter on an ancestor does. */
static void test_lost_sibling_parent_gone_body(void)
{
	struct net *n = net_new();
	struct mg_receiver *rx3, *rx0;
	struct mg_message *msg;

	ASSERT_PTR_NOT_NULL(n);
	ASSERT_INT_EQ(mg_receiver_new(n, n->r[1], 0, 3, 0, &rx3), 0);
	ASSERT_INT_EQ(mg_receiver_new(n, n->r[1], 0, 0, 0, &rx0), 0);
	ASSERT_INT_EQ(shutdown(n->upfd[1], SHUT_RDWR), 0);
	ASSERT_INT_EQ(mg_receiver_get(n, rx3, 2000, &msg), MG_ERR_CHANNEL);
	ASSERT_STR_EQ(mg_message_dead_reason(msg), LOST);
	ASSERT_INT_EQ(mg_receiver_get(n, rx0, 2000, &msg), MG_ERR_CHANNEL);
	ASSERT_STR_EQ(mg_message_dead_reason(msg), LOST);
	ASSERT_INT_EQ(mg_receiver_get(n, rx3, 50, &msg), MG_ERR_CHANNEL);
	ASSERT_STR_EQ(mg_message_dead_reason(msg), "receiver was closed");
	talloc_free(n);
}
ISOLATED(test_lost_sibling_parent_gone)

/* An agent's call to a context nobody routes ends with the master's dead
 * answer (an ancestor's), not a timeout; unidirectional, at once. */
static void test_dead_from_ancestor_body(void)
{
	struct net *n = net_new();
	struct mg_message *reply = NULL;

	ASSERT_PTR_NOT_NULL(n);
	ASSERT_INT_EQ(mg_router_call(n, n->r[2], 77, "echo", "x", 1, 5000, &reply), MG_ERR_CALL);
	ASSERT_STR_EQ(mg_message_dead_reason(reply), "no route to 77, my id is 0");
	TALLOC_FREE(reply);
	set_unidirectional(n, true);
	ASSERT_INT_EQ(mg_router_call(n, n->r[2], 3, "echo", "x", 1, 5000, &reply), MG_ERR_CALL);
	ASSERT_STR_EQ(mg_message_dead_reason(reply), LOST);
	TALLOC_FREE(reply);
	talloc_free(n);
}
ISOLATED(test_dead_from_ancestor)

/* DEL_ROUTE from the parent only ever tells of contexts outside this
 * subtree; from a child, only of that child's subtree. Neither can make
 * a context drop its own child, or forge a loss for a sibling. */
static void test_del_route_directions_body(void)
{
	struct net *n = net_new();
	struct mg_receiver *rx;
	struct mg_message *msg;

	ASSERT_PTR_NOT_NULL(n);
	ASSERT_INT_EQ(mg_receiver_new(n, n->r[0], 0, 3, 0, &rx), 0);
	/* The master "tells" 1 that its own child 2 is gone: ignored. */
	ASSERT_TRUE(raw_del_route(n->downfd[1], 1, 0, 2, "lies"));
	/* 1 tells the master that its sibling 3 is gone: ignored. */
	ASSERT_TRUE(raw_del_route(n->upfd[1], 0, 1, 3, "lies"));
	/* 2 tells 1 that 3 is gone: not 2's to tell. */
	ASSERT_TRUE(raw_del_route(n->upfd[2], 1, 2, 3, "lies"));
	run_until(n->loop, NULL, NULL, 50);
	ASSERT_STR_EQ(mg__router_name(n->r[1], 2), "c2");
	ASSERT_STR_EQ(mg__router_name(n->r[0], 3), "c3");
	ASSERT_INT_EQ(mg_receiver_get(n, rx, 0, &msg), MG_ERR_TIMEOUT);
	talloc_free(n);
}
ISOLATED(test_del_route_directions)

/* What a child's frames to others make its parent remember is bounded:
 * 2 writing to thousands of ids through 1 leaves 1 with a few hundred
 * notes at most, and its frames still go through. */
static void test_egress_bounded_body(void)
{
	struct net *n = net_new();
	struct got at0 = { 0 };
	size_t before, after;
	uint32_t h0;

	ASSERT_PTR_NOT_NULL(n);
	h0 = handler(n, 0, MG_POL_DESCENDANT, 0, &at0);
	before = talloc_total_blocks(n->r[1]);
	for (uint32_t id = 1000; id < 6000; id++) {
		ASSERT_INT_EQ(mg_router_send(n->r[2], id, 1000, 0, "x", 1), 0);
		if (id % 500 == 0) {
			run_until(n->loop, NULL, NULL, 1);
		}
	}
	ASSERT_INT_EQ(mg_router_send(n->r[2], 0, h0, 0, "last", 4), 0);
	ASSERT_TRUE(run_until(n->loop, got_one, &at0, 5000));
	after = talloc_total_blocks(n->r[1]);
	ASSERT_TRUE(after < before + 300);
	ASSERT_STR_EQ((char *)at0.m[0]->data, "last");
	talloc_free(n);
}
ISOLATED(test_egress_bounded)

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	TESTS_BEGIN();
	RUN(test_siblings_talk_by_default);
	RUN(test_unidirectional_blocks_siblings);
	RUN(test_unidirectional_arrival);
	RUN(test_max_msg_local);
	RUN(test_max_msg_forwarded);
	RUN(test_max_msg_inherited);
	RUN(test_forged_auth_dropped);
	RUN(test_lost_context_dead);
	RUN(test_lost_sibling);
	RUN(test_lost_sibling_parent_gone);
	RUN(test_dead_from_ancestor);
	RUN(test_del_route_directions);
	RUN(test_egress_bounded);
	RUN(test_on_disconnect);
	RUN(test_on_disconnect_already);
	RUN(test_error_texts);
	RUN(test_log_to_file);
	RUN(test_run_with_router);
	return TESTS_END();
}
