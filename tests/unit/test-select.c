/*
 * Unit tests for lib/core/select.c: one-shot and persistent selects, arrival
 * order, nesting, mitogen's three refusals, select_all over a tree of
 * contexts. Every test runs in its own process with a talloc leak check.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>

#include "harness.h"
#include "mitogen/error.h"
#include "mitogen/log.h"
#include "mitogen/receiver.h"
#include "mitogen/select.h"
#include "router-net.h"

static void log_quiet(enum mg_log_level level, const char *msg, void *data)
{
}

static const char *text(const struct mg_message *msg)
{
	return mg_message_data(msg, NULL);
}

static bool new_rxs(struct net *n, struct mg_receiver **rx, size_t k)
{
	for (size_t i = 0; i < k; i++) {
		if (mg_receiver_new(n, n->r[0], 0, MG_ANY, 0, &rx[i]) != 0) {
			return false;
		}
	}
	return true;
}

static int send_to(struct net *n, struct mg_receiver *rx, const char *s)
{
	return mg_router_send(n->r[0], 0, mg_receiver_handle(rx), 0, s, strlen(s));
}

/* Messages come out in arrival order; each receiver leaves after its
 * first; then the select is empty. */
static void test_oneshot_order_body(void)
{
	struct net *n = net_alone();
	struct mg_receiver *rx[3], *from;
	struct mg_select *sel = mg_select_new(n, 0);
	struct mg_message *msg;

	ASSERT_PTR_NOT_NULL(n);
	ASSERT_TRUE(sel != NULL && new_rxs(n, rx, 3));
	for (int i = 0; i < 3; i++) {
		ASSERT_INT_EQ(mg_select_add(sel, rx[i]), 0);
	}
	ASSERT_INT_EQ(mg_select_count(sel), 3);
	ASSERT_INT_EQ(send_to(n, rx[2], "c"), 0);
	ASSERT_INT_EQ(send_to(n, rx[0], "a"), 0);
	ASSERT_INT_EQ(send_to(n, rx[2], "c again"), 0);
	ASSERT_INT_EQ(send_to(n, rx[1], "b"), 0);
	ASSERT_INT_EQ(mg_select_get(n, sel, 1000, &from, &msg), 0);
	ASSERT_STR_EQ(text(msg), "c");
	ASSERT_TRUE(from == rx[2]);
	ASSERT_INT_EQ(mg_select_count(sel), 2);
	ASSERT_INT_EQ(mg_select_get(n, sel, 1000, &from, &msg), 0);
	ASSERT_STR_EQ(text(msg), "a");
	ASSERT_TRUE(from == rx[0]);
	ASSERT_INT_EQ(mg_select_get(n, sel, 1000, NULL, &msg), 0);
	ASSERT_STR_EQ(text(msg), "b");
	ASSERT_INT_EQ(mg_select_count(sel), 0);
	ASSERT_INT_EQ(mg_select_get(n, sel, 1000, &from, &msg), MG_ERR_SELECT_EMPTY);
	ASSERT_PTR_NULL(from);
	ASSERT_PTR_NULL(msg);
	/* The receiver that left still holds its second message. */
	ASSERT_INT_EQ(mg_receiver_get(n, rx[2], 0, &msg), 0);
	ASSERT_STR_EQ(text(msg), "c again");
	talloc_free(n);
}
ISOLATED(test_oneshot_order)

/* A persistent select keeps its members; it times out when idle. */
static void test_persist_body(void)
{
	struct net *n = net_alone();
	struct mg_receiver *rx[2], *from;
	struct mg_select *sel = mg_select_new(n, MG_SELECT_PERSIST);
	struct mg_message *msg;

	ASSERT_PTR_NOT_NULL(n);
	ASSERT_TRUE(sel != NULL && new_rxs(n, rx, 2));
	/* Already queued counts as arrived when added. */
	ASSERT_INT_EQ(send_to(n, rx[1], "early"), 0);
	run_until(n->loop, NULL, NULL, 10);
	ASSERT_INT_EQ(mg_select_add(sel, rx[0]), 0);
	ASSERT_INT_EQ(mg_select_add(sel, rx[1]), 0);
	ASSERT_INT_EQ(send_to(n, rx[0], "1"), 0);
	ASSERT_INT_EQ(send_to(n, rx[0], "2"), 0);
	ASSERT_INT_EQ(mg_select_get(n, sel, 1000, &from, &msg), 0);
	ASSERT_STR_EQ(text(msg), "early");
	ASSERT_INT_EQ(mg_select_get(n, sel, 1000, &from, &msg), 0);
	ASSERT_STR_EQ(text(msg), "1");
	ASSERT_INT_EQ(mg_select_get(n, sel, 1000, &from, &msg), 0);
	ASSERT_STR_EQ(text(msg), "2");
	ASSERT_TRUE(from == rx[0]);
	ASSERT_INT_EQ(mg_select_count(sel), 2);
	ASSERT_INT_EQ(mg_select_get(n, sel, 30, &from, &msg), MG_ERR_TIMEOUT);
	/* A message taken directly leaves a note behind: skipped. */
	ASSERT_INT_EQ(send_to(n, rx[1], "direct"), 0);
	ASSERT_INT_EQ(mg_receiver_get(n, rx[1], 1000, &msg), 0);
	ASSERT_INT_EQ(mg_select_get(n, sel, 30, &from, &msg), MG_ERR_TIMEOUT);
	ASSERT_INT_EQ(mg_select_remove(sel, rx[1]), 0);
	ASSERT_INT_EQ(mg_select_remove(sel, rx[1]), -ENOENT);
	ASSERT_INT_EQ(mg_select_count(sel), 1);
	talloc_free(n);
}
ISOLATED(test_persist)

/* mitogen's refusals, with its texts. */
static void test_refusals_body(void)
{
	struct net *n = net_alone();
	struct mg_receiver *rx;
	struct mg_select *a = mg_select_new(n, 0), *b = mg_select_new(n, 0);
	struct mg_select *c = mg_select_new(n, 0);
	struct mg_message *msg;

	ASSERT_PTR_NOT_NULL(n);
	ASSERT_TRUE(a && b && c && new_rxs(n, &rx, 1));
	ASSERT_INT_EQ(mg_select_get(n, a, -1, NULL, &msg), MG_ERR_SELECT_EMPTY);
	ASSERT_STR_EQ(mg_strerror(MG_ERR_SELECT_EMPTY), "Cannot get(), Select instance is empty");
	ASSERT_INT_EQ(mg_select_add(a, rx), 0);
	ASSERT_INT_EQ(mg_select_add(b, rx), MG_ERR_SELECT_OWNED);
	ASSERT_INT_EQ(mg_select_add(a, rx), MG_ERR_SELECT_OWNED);
	ASSERT_STR_EQ(mg_strerror(MG_ERR_SELECT_OWNED),
		      "Cannot add: Receiver is already owned by another Select");
	ASSERT_INT_EQ(mg_select_add_select(a, a), MG_ERR_SELECT_CYCLE);
	ASSERT_STR_EQ(mg_strerror(MG_ERR_SELECT_CYCLE),
		      "Adding this Select instance would create a Select cycle");
	/* a > b > c: neither a nor b may go below c, nor a below b. */
	ASSERT_INT_EQ(mg_select_add_select(a, b), 0);
	ASSERT_INT_EQ(mg_select_add_select(b, c), 0);
	ASSERT_INT_EQ(mg_select_add_select(c, a), MG_ERR_SELECT_CYCLE);
	ASSERT_INT_EQ(mg_select_add_select(c, b), MG_ERR_SELECT_CYCLE);
	ASSERT_INT_EQ(mg_select_add_select(b, a), MG_ERR_SELECT_CYCLE);
	ASSERT_INT_EQ(mg_select_add_select(a, c), MG_ERR_SELECT_OWNED);
	ASSERT_INT_EQ(mg_select_remove_select(a, c), -ENOENT);
	ASSERT_INT_EQ(mg_select_remove_select(b, c), 0);
	ASSERT_INT_EQ(mg_select_add_select(a, c), 0);
	ASSERT_INT_EQ(mg_select_remove(a, rx), 0);
	talloc_free(n);
}
ISOLATED(test_refusals)

static void ignore(struct mg_receiver *rx, struct mg_message *msg, void *data)
{
}

/* Callbacks and selects do not mix; freeing either side unhooks it. */
static void test_membership_body(void)
{
	struct net *n = net_alone();
	struct mg_receiver *rx[2];
	struct mg_select *a = mg_select_new(n, 0), *b = mg_select_new(n, 0);
	struct mg_message *msg;

	ASSERT_PTR_NOT_NULL(n);
	ASSERT_TRUE(a && b && new_rxs(n, rx, 2));
	ASSERT_INT_EQ(mg_receiver_on_message(rx[0], ignore, NULL), 0);
	ASSERT_INT_EQ(mg_select_add(a, rx[0]), -EBUSY);
	ASSERT_INT_EQ(mg_receiver_on_message(rx[0], NULL, NULL), 0);
	ASSERT_INT_EQ(mg_select_add(a, rx[0]), 0);
	ASSERT_INT_EQ(mg_receiver_on_message(rx[0], ignore, NULL), -EBUSY);
	ASSERT_INT_EQ(mg_select_add(a, rx[1]), 0);
	ASSERT_INT_EQ(send_to(n, rx[0], "x"), 0);
	run_until(n->loop, NULL, NULL, 10);
	/* A freed receiver leaves, with its notes. */
	talloc_free(rx[0]);
	ASSERT_INT_EQ(mg_select_count(a), 1);
	ASSERT_INT_EQ(mg_select_get(n, a, 20, NULL, &msg), MG_ERR_TIMEOUT);
	/* A freed select lets its members go. */
	ASSERT_INT_EQ(mg_select_add_select(b, a), 0);
	talloc_free(a);
	ASSERT_INT_EQ(mg_select_count(b), 0);
	ASSERT_INT_EQ(mg_select_add(b, rx[1]), 0);
	talloc_free(n);
}
ISOLATED(test_membership)

/* A nested select's messages come out of the outer one, from the right
 * receiver; a one-shot outer lets the inner go after one. */
static void test_nested_body(void)
{
	struct net *n = net_alone();
	struct mg_receiver *rx[3], *from;
	struct mg_select *outer = mg_select_new(n, 0);
	struct mg_select *inner = mg_select_new(n, MG_SELECT_PERSIST);
	struct mg_message *msg;

	ASSERT_PTR_NOT_NULL(n);
	ASSERT_TRUE(outer && inner && new_rxs(n, rx, 3));
	ASSERT_INT_EQ(mg_select_add(inner, rx[0]), 0);
	ASSERT_INT_EQ(mg_select_add(inner, rx[1]), 0);
	ASSERT_INT_EQ(send_to(n, rx[1], "queued in inner"), 0);
	run_until(n->loop, NULL, NULL, 10);
	ASSERT_INT_EQ(mg_select_add_select(outer, inner), 0);
	ASSERT_INT_EQ(mg_select_add(outer, rx[2]), 0);
	ASSERT_INT_EQ(mg_select_count(outer), 2);
	ASSERT_INT_EQ(send_to(n, rx[2], "direct"), 0);
	ASSERT_INT_EQ(send_to(n, rx[0], "inner again"), 0);
	ASSERT_INT_EQ(mg_select_get(n, outer, 1000, &from, &msg), 0);
	ASSERT_STR_EQ(text(msg), "queued in inner");
	ASSERT_TRUE(from == rx[1]);
	/* The inner select left the outer; it keeps its own members. */
	ASSERT_INT_EQ(mg_select_count(outer), 1);
	ASSERT_INT_EQ(mg_select_count(inner), 2);
	ASSERT_INT_EQ(mg_select_get(n, outer, 1000, &from, &msg), 0);
	ASSERT_STR_EQ(text(msg), "direct");
	ASSERT_TRUE(from == rx[2]);
	ASSERT_INT_EQ(mg_select_get(n, outer, 1000, &from, &msg), MG_ERR_SELECT_EMPTY);
	ASSERT_INT_EQ(mg_select_get(n, inner, 1000, &from, &msg), 0);
	ASSERT_STR_EQ(text(msg), "inner again");
	ASSERT_TRUE(from == rx[0]);
	talloc_free(n);
}
ISOLATED(test_nested)

/* A select nested while still empty learns its loop when a receiver joins
 * it, and so does the select above: the outer get used to refuse with
 * -EDEADLK ("only empty nested selects"), and a receiver on another
 * loop got in below it. */
static void test_nested_empty_body(void)
{
	struct net *n = net_alone(), *other = net_alone();
	struct mg_receiver *rx, *far, *from;
	struct mg_select *outer = mg_select_new(n, 0), *inner = mg_select_new(n, 0);
	struct mg_select *deep = mg_select_new(n, 0), *empty = mg_select_new(n, 0);
	struct mg_message *msg;

	ASSERT_TRUE(n != NULL && other != NULL);
	ASSERT_TRUE(outer && inner && deep && empty && new_rxs(n, &rx, 1));
	ASSERT_INT_EQ(mg_receiver_new(other, other->r[0], 0, MG_ANY, 0, &far), 0);
	ASSERT_INT_EQ(mg_select_add_select(outer, inner), 0);
	ASSERT_INT_EQ(mg_select_add_select(inner, deep), 0);
	ASSERT_INT_EQ(mg_select_add(deep, rx), 0);
	ASSERT_INT_EQ(send_to(n, rx, "deep"), 0);
	ASSERT_INT_EQ(mg_select_get(n, outer, 1000, &from, &msg), 0);
	ASSERT_STR_EQ(text(msg), "deep");
	ASSERT_TRUE(from == rx);
	/* Each left its one-shot parent. The outer select runs n's loop:
	 * other's receiver may not join an empty select nested in it. */
	ASSERT_INT_EQ(mg_select_count(outer), 0);
	ASSERT_INT_EQ(mg_select_add_select(outer, empty), 0);
	ASSERT_INT_EQ(mg_select_add(empty, far), -EXDEV);
	ASSERT_INT_EQ(mg_select_add(empty, rx), 0);
	talloc_free(other);
	talloc_free(n);
}
ISOLATED(test_nested_empty)

/* A closed receiver with nothing queued gives its dead "receiver was
 * closed" through a select, as its own get does; the select used to wait
 * for it until the timeout (or for ever). */
static void test_closed_member_body(void)
{
	struct net *n = net_alone();
	struct mg_receiver *rx[2], *one, *from;
	struct mg_select *sel = mg_select_new(n, 0);
	struct mg_message *msg, **msgs;
	size_t k;

	ASSERT_PTR_NOT_NULL(n);
	ASSERT_TRUE(sel != NULL && new_rxs(n, rx, 2));
	ASSERT_INT_EQ(mg_receiver_new(n, n->r[0], 0, MG_ANY, MG_RECV_ONESHOT, &one), 0);
	ASSERT_INT_EQ(send_to(n, one, "only"), 0);
	ASSERT_INT_EQ(mg_receiver_get(n, one, 1000, &msg), 0);
	mg_receiver_close(rx[0]);
	ASSERT_INT_EQ(mg_receiver_get(n, rx[0], 0, &msg), MG_ERR_CHANNEL);
	ASSERT_INT_EQ(mg_select_add(sel, one), 0);
	ASSERT_INT_EQ(mg_select_add(sel, rx[0]), 0);
	ASSERT_INT_EQ(mg_select_add(sel, rx[1]), 0);
	ASSERT_INT_EQ(mg_select_get(n, sel, 1000, &from, &msg), MG_ERR_CHANNEL);
	ASSERT_STR_EQ(mg_message_dead_reason(msg), "receiver was closed");
	ASSERT_TRUE(from == one);
	ASSERT_INT_EQ(mg_select_get(n, sel, 1000, &from, &msg), MG_ERR_CHANNEL);
	ASSERT_STR_EQ(mg_message_dead_reason(msg), "receiver was closed");
	ASSERT_TRUE(from == rx[0]);
	ASSERT_INT_EQ(mg_select_count(sel), 1);
	ASSERT_INT_EQ(mg_select_get(n, sel, 20, &from, &msg), MG_ERR_TIMEOUT);
	/* select_all over a one-shot that answered already. */
	ASSERT_INT_EQ(mg_select_remove(sel, rx[1]), 0);
	ASSERT_INT_EQ(send_to(n, rx[1], "late"), 0);
	rx[0] = one;
	ASSERT_INT_EQ(mg_select_all(n, rx, 2, 1000, &msgs, &k), MG_ERR_CHANNEL);
	ASSERT_INT_EQ(k, 1);
	ASSERT_STR_EQ(mg_message_dead_reason(msgs[0]), "receiver was closed");
	talloc_free(n);
}
ISOLATED(test_closed_member)

/* Scatter/gather: a request to each of 1, 2 and 3, answered in any
 * order; select_all has them all. */
static void test_all_body(void)
{
	struct net *n = net_new();
	struct mg_receiver *svc[4], *rx[3];
	struct mg_message **msgs, *req;
	size_t k;
	bool got[4] = { false };

	ASSERT_PTR_NOT_NULL(n);
	for (uint32_t id = 1; id <= 3; id++) {
		ASSERT_INT_EQ(mg_receiver_new(n, n->r[id], 0, MG_ANY, 0, &svc[id]), 0);
		ASSERT_INT_EQ(mg_receiver_new(n, n->r[0], 0, id, MG_RECV_ONESHOT, &rx[id - 1]), 0);
		ASSERT_INT_EQ(mg_router_send(n->r[0], id, mg_receiver_handle(svc[id]),
					     mg_receiver_handle(rx[id - 1]), "ping", 4), 0);
	}
	for (uint32_t id = 3; id >= 1; id--) {
		char answer[8];

		ASSERT_INT_EQ(mg_receiver_get(n, svc[id], 2000, &req), 0);
		snprintf(answer, sizeof(answer), "pong %u", id);
		ASSERT_INT_EQ(mg_message_reply(req, answer, strlen(answer)), 0);
	}
	ASSERT_INT_EQ(mg_select_all(n, rx, 3, 2000, &msgs, &k), 0);
	ASSERT_INT_EQ(k, 3);
	for (size_t i = 0; i < k; i++) {
		uint32_t src = mg_message_src(msgs[i]);
		char want[8];

		ASSERT_TRUE(src >= 1 && src <= 3 && !got[src]);
		got[src] = true;
		snprintf(want, sizeof(want), "pong %u", src);
		ASSERT_STR_EQ(text(msgs[i]), want);
	}
	talloc_free(msgs);
	ASSERT_INT_EQ(mg_select_all(n, rx, 0, 0, &msgs, &k), 0);
	ASSERT_INT_EQ(k, 0);
	ASSERT_PTR_NULL(msgs);
	talloc_free(n);
}
ISOLATED(test_all)

/* A lost context ends select_all with its dead message, after what came
 * before; the receivers are free to join another select afterwards. */
static void test_all_lost_body(void)
{
	struct net *n = net_new();
	struct mg_receiver *rx[2];
	struct mg_select *sel = mg_select_new(n, 0);
	struct mg_message **msgs;
	size_t k;

	ASSERT_PTR_NOT_NULL(n);
	ASSERT_INT_EQ(mg_receiver_new(n, n->r[0], 0, 3, 0, &rx[0]), 0);
	ASSERT_INT_EQ(mg_receiver_new(n, n->r[0], 0, 2, 0, &rx[1]), 0);
	ASSERT_INT_EQ(mg_router_send(n->r[3], 0, mg_receiver_handle(rx[0]), 0, "from 3", 6), 0);
	run_until(n->loop, NULL, NULL, 50);
	ASSERT_INT_EQ(shutdown(n->downfd[1], SHUT_RDWR), 0);
	ASSERT_INT_EQ(mg_select_all(n, rx, 2, 2000, &msgs, &k), MG_ERR_CHANNEL);
	ASSERT_INT_EQ(k, 2);
	ASSERT_STR_EQ(text(msgs[0]), "from 3");
	ASSERT_STR_EQ(mg_message_dead_reason(msgs[1]), "the respondent context has disconnected");
	ASSERT_INT_EQ(mg_message_src(msgs[1]), 2);
	ASSERT_INT_EQ(mg_select_add(sel, rx[0]), 0);
	ASSERT_INT_EQ(mg_select_add(sel, rx[1]), 0);
	/* Nothing more arrives. */
	ASSERT_INT_EQ(mg_select_all(n, rx, 2, 20, &msgs, &k), MG_ERR_SELECT_OWNED);
	ASSERT_INT_EQ(k, 0);
	talloc_free(sel);
	/* rx[1] lost its respondent: closed, it says so at once. */
	ASSERT_INT_EQ(mg_select_all(n, rx, 2, 20, &msgs, &k), MG_ERR_CHANNEL);
	ASSERT_INT_EQ(k, 1);
	ASSERT_STR_EQ(mg_message_dead_reason(msgs[0]), "receiver was closed");
	talloc_free(n);
}
ISOLATED(test_all_lost)

struct in_cb {
	struct mg_select *sel;
	int rc;
};

static void get_in_timer(struct mg_timer *t, void *data)
{
	struct in_cb *x = data;
	struct mg_message *msg;

	talloc_free(t);
	x->rc = mg_select_get(NULL, x->sel, 0, NULL, &msg);
}

/* A get from a loop callback, or one whose select is freed meanwhile. */
static void test_get_refused_body(void)
{
	struct net *n = net_alone();
	struct mg_receiver *rx;
	struct in_cb x = { .rc = 1 };
	struct mg_message *msg;

	ASSERT_PTR_NOT_NULL(n);
	x.sel = mg_select_new(n, 0);
	ASSERT_TRUE(x.sel != NULL && new_rxs(n, &rx, 1));
	ASSERT_INT_EQ(mg_select_add(x.sel, rx), 0);
	ASSERT_PTR_NOT_NULL(mg_timer_new(n, n->loop, 0, get_in_timer, &x));
	mg_loop_run(n->loop);
	ASSERT_INT_EQ(x.rc, -EDEADLK);
	/* Nothing alive and no limit: it would never return. */
	ASSERT_INT_EQ(mg_select_get(n, x.sel, -1, NULL, &msg), -EDEADLK);
	talloc_free(n);
}
ISOLATED(test_get_refused)

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	mg_log_set_sink(log_quiet, NULL);
	TESTS_BEGIN();
	RUN(test_oneshot_order);
	RUN(test_persist);
	RUN(test_refusals);
	RUN(test_membership);
	RUN(test_nested);
	RUN(test_nested_empty);
	RUN(test_closed_member);
	RUN(test_all);
	RUN(test_all_lost);
	RUN(test_get_refused);
	return TESTS_END();
}
