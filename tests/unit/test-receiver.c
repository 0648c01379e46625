/*
 * Unit tests for the broker, messages, receivers, senders and channels
 * (lib/core/broker.c, message.c, receiver.c, sender.c). Blocking gets run the
 * loop themselves; timers make things happen while they wait. Every test
 * runs in its own process with a talloc leak check.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>

#include "harness.h"
#include "mitogen/broker.h"
#include "mitogen/error.h"
#include "mitogen/log.h"
#include "mitogen/receiver.h"
#include "mitogen/router.h"
#include "router-net.h"

#define LOST "the respondent context has disconnected"
#define CLOSED "receiver was closed"
#define SENDER_CLOSED "sender was explicitly closed"

static void log_quiet(enum mg_log_level level, const char *msg, void *data)
{
}

static const char *text(const struct mg_message *msg)
{
	return mg_message_data(msg, NULL);
}

/* --- things that happen while a get waits --- */

struct later {
	struct net *n;
	int fd;			/* shutdown() this */
	struct mg_sender *tx;	/* or send this */
	const char *data;
	void *free_me;		/* or free this */
	int rc;			/* or call mg_receiver_get: its result */
	struct mg_receiver *rx;
	bool stop;		/* or stop the loop */
};

static void later_cb(struct mg_timer *t, void *data)
{
	struct later *l = data;
	struct mg_message *msg = NULL;

	talloc_free(t);
	if (l->fd >= 0) {
		shutdown(l->fd, SHUT_RDWR);
	}
	if (l->tx != NULL) {
		mg_sender_send(l->tx, l->data, strlen(l->data));
	}
	if (l->rx != NULL) {
		l->rc = mg_receiver_get(NULL, l->rx, 0, &msg);
		talloc_free(msg);
	}
	if (l->stop) {
		mg_loop_stop(l->n->loop, 7);
	}
	talloc_free(l->free_me);
}

static struct mg_timer *at(struct later *l, uint64_t ms)
{
	return mg_timer_new(l->n->ctx, l->n->loop, ms, later_cb, l);
}

/* --- tests --- */

/* A message sent to this context comes out of get with its header. */
static void test_local_get_body(void)
{
	struct net *n = net_alone();
	struct mg_receiver *rx;
	struct mg_sender *tx;
	struct mg_message *msg;
	size_t len;

	ASSERT_PTR_NOT_NULL(n);
	ASSERT_INT_EQ(mg_receiver_new(n, n->r[0], 0, MG_ANY, 0, &rx), 0);
	ASSERT_INT_GE(mg_receiver_handle(rx), MG_H_DYNAMIC);
	ASSERT_INT_EQ(mg_receiver_respondent(rx), MG_ANY);
	tx = mg_receiver_to_sender(n, rx);
	ASSERT_PTR_NOT_NULL(tx);
	ASSERT_INT_EQ(mg_sender_context(tx), 0);
	ASSERT_INT_EQ(mg_sender_handle(tx), mg_receiver_handle(rx));
	ASSERT_INT_EQ(mg_sender_send(tx, "hello", 5), 0);
	ASSERT_INT_EQ(mg_sender_send(tx, "", 0), 0);
	/* Nothing is delivered from inside send. */
	ASSERT_INT_EQ(mg_receiver_queued(rx), 0);
	ASSERT_INT_EQ(mg_receiver_get(n, rx, 1000, &msg), 0);
	ASSERT_STR_EQ(text(msg), "hello");
	ASSERT_INT_EQ(mg_message_src(msg), 0);
	ASSERT_INT_EQ(mg_message_dst(msg), 0);
	ASSERT_INT_EQ(mg_message_auth_id(msg), 0);
	ASSERT_INT_EQ(mg_message_handle(msg), mg_receiver_handle(rx));
	ASSERT_INT_EQ(mg_message_reply_to(msg), 0);
	ASSERT_INT_EQ(mg_message_flags(msg), 0);
	ASSERT_TRUE(!mg_message_is_dead(msg));
	ASSERT_PTR_NULL(mg_message_dead_reason(msg));
	/* No reply_to: nothing to answer. */
	ASSERT_INT_EQ(mg_message_reply(msg, "x", 1), -EINVAL);
	talloc_free(msg);
	ASSERT_INT_EQ(mg_receiver_queued(rx), 1);
	ASSERT_INT_EQ(mg_receiver_get(n, rx, 0, &msg), 0);
	ASSERT_INT_EQ(*(const char *)mg_message_data(msg, &len), '\0');
	ASSERT_INT_EQ(len, 0);
	talloc_free(msg);
	talloc_free(n);
}
ISOLATED(test_local_get)

/* A get times out; with no limit and nothing alive it refuses to hang. */
static void test_get_timeout_body(void)
{
	struct net *n = net_alone();
	struct mg_receiver *rx;
	struct mg_message *msg = (struct mg_message *)n;
	uint64_t t0;

	ASSERT_PTR_NOT_NULL(n);
	ASSERT_INT_EQ(mg_receiver_new(n, n->r[0], 0, MG_ANY, 0, &rx), 0);
	t0 = mg_now();
	ASSERT_INT_EQ(mg_receiver_get(n, rx, 60, &msg), MG_ERR_TIMEOUT);
	ASSERT_INT_GE(mg_now() - t0, 60);
	ASSERT_TRUE(mg_now() - t0 < 1000);
	ASSERT_PTR_NULL(msg);
	ASSERT_INT_EQ(mg_receiver_get(n, rx, 0, &msg), MG_ERR_TIMEOUT);
	ASSERT_INT_EQ(mg_receiver_get(n, rx, -1, &msg), -EDEADLK);
	talloc_free(n);
}
ISOLATED(test_get_timeout)

/* A message sent while get waits wakes it. */
static void test_get_wakes_body(void)
{
	struct net *n = net_alone();
	struct later l = { .fd = -1, .data = "late" };
	struct mg_receiver *rx;
	struct mg_message *msg;
	uint64_t t0;

	ASSERT_PTR_NOT_NULL(n);
	l.n = n;
	ASSERT_INT_EQ(mg_receiver_new(n, n->r[0], 0, MG_ANY, 0, &rx), 0);
	l.tx = mg_receiver_to_sender(n, rx);
	/* The timer counts from the loop's cached time, not from now. */
	t0 = mg_loop_now(n->loop);
	ASSERT_PTR_NOT_NULL(at(&l, 30));
	ASSERT_INT_EQ(mg_receiver_get(n, rx, -1, &msg), 0);
	ASSERT_STR_EQ(text(msg), "late");
	ASSERT_INT_GE(mg_now() - t0, 30);
	talloc_free(n);
}
ISOLATED(test_get_wakes)

/* A get from inside a loop callback would never return: refused. */
static void test_get_in_callback_body(void)
{
	struct net *n = net_alone();
	struct later l = { .fd = -1, .rc = 1 };
	struct mg_receiver *rx;

	ASSERT_PTR_NOT_NULL(n);
	l.n = n;
	ASSERT_INT_EQ(mg_receiver_new(n, n->r[0], 0, MG_ANY, 0, &rx), 0);
	l.rx = rx;
	ASSERT_PTR_NOT_NULL(at(&l, 0));
	mg_loop_run(n->loop);
	ASSERT_INT_EQ(l.rc, -EDEADLK);
	talloc_free(n);
}
ISOLATED(test_get_in_callback)

/* A one-shot receiver takes one message, then is closed and its handle
 * free again. */
static void test_oneshot_body(void)
{
	struct net *n = net_alone();
	struct mg_receiver *rx, *again;
	struct mg_message *msg;
	uint32_t h;

	ASSERT_PTR_NOT_NULL(n);
	ASSERT_INT_EQ(mg_receiver_new(n, n->r[0], 0, MG_ANY, MG_RECV_ONESHOT, &rx), 0);
	h = mg_receiver_handle(rx);
	ASSERT_INT_EQ(mg_receiver_new(n, n->r[0], h, MG_ANY, 0, &again), -EEXIST);
	ASSERT_PTR_NULL(again);
	ASSERT_INT_EQ(mg_router_send(n->r[0], 0, h, 0, "one", 3), 0);
	ASSERT_INT_EQ(mg_router_send(n->r[0], 0, h, 0, "two", 3), 0);
	ASSERT_INT_EQ(mg_receiver_get(n, rx, 1000, &msg), 0);
	ASSERT_STR_EQ(text(msg), "one");
	run_until(n->loop, NULL, NULL, 20);
	ASSERT_INT_EQ(mg_receiver_queued(rx), 0);
	ASSERT_INT_EQ(mg_receiver_get(n, rx, 1000, &msg), MG_ERR_CHANNEL);
	ASSERT_STR_EQ(mg_message_dead_reason(msg), CLOSED);
	ASSERT_INT_EQ(mg_receiver_new(n, n->r[0], h, MG_ANY, 0, &again), 0);
	talloc_free(n);
}
ISOLATED(test_oneshot)

/* Many messages sent to this context before anyone reads: all come out,
 * in order, and a receiver freed with the rest queued drops them. Each
 * local delivery used to look for its router with talloc_parent(), which
 * walks every message still waiting: 16,000 took 0.56 s to deliver and
 * 200,000 over a minute (the process's 30 s alarm is the hang guard). */
static void test_many_queued_body(void)
{
	enum { N = 200000 };
	struct net *n = net_alone();
	struct mg_receiver *rx, *rx2;
	struct mg_message *msg;
	char buf[16];

	ASSERT_PTR_NOT_NULL(n);
	ASSERT_INT_EQ(mg_receiver_new(n, n->r[0], 0, MG_ANY, 0, &rx), 0);
	ASSERT_INT_EQ(mg_receiver_new(n, n->r[0], 0, MG_ANY, 0, &rx2), 0);
	for (int i = 0; i < N; i++) {
		snprintf(buf, sizeof(buf), "%d", i);
		ASSERT_INT_EQ(mg_router_send(n->r[0], 0, mg_receiver_handle(i % 2 ? rx2 : rx), 0,
					     buf, strlen(buf)), 0);
	}
	ASSERT_INT_EQ(mg_receiver_get(n, rx, 10000, &msg), 0);
	ASSERT_STR_EQ(text(msg), "0");
	talloc_free(msg);
	ASSERT_INT_EQ(mg_receiver_queued(rx), N / 2 - 1);
	ASSERT_INT_EQ(mg_receiver_queued(rx2), N / 2);
	for (int i = 2; i < N; i += 2) {
		ASSERT_INT_EQ(mg_receiver_get(n, rx, 0, &msg), 0);
		snprintf(buf, sizeof(buf), "%d", i);
		ASSERT_STR_EQ(text(msg), buf);
		talloc_free(msg);
	}
	ASSERT_INT_EQ(mg_receiver_get(n, rx, 0, &msg), MG_ERR_TIMEOUT);
	talloc_free(rx2);
	talloc_free(n);
}
ISOLATED(test_many_queued)

/* close: the dead message comes after what is queued, then for ever. */
static void test_close_body(void)
{
	struct net *n = net_alone();
	struct mg_receiver *rx;
	struct mg_sender *tx;
	struct mg_message *msg;

	ASSERT_PTR_NOT_NULL(n);
	ASSERT_INT_EQ(mg_receiver_new(n, n->r[0], 0, MG_ANY, 0, &rx), 0);
	tx = mg_receiver_to_sender(n, rx);
	ASSERT_INT_EQ(mg_sender_send(tx, "before", 6), 0);
	run_until(n->loop, NULL, NULL, 10);
	mg_receiver_close(rx);
	mg_receiver_close(rx);
	ASSERT_INT_EQ(mg_receiver_get(n, rx, 0, &msg), 0);
	ASSERT_STR_EQ(text(msg), "before");
	ASSERT_INT_EQ(mg_receiver_get(n, rx, -1, &msg), MG_ERR_CHANNEL);
	ASSERT_TRUE(mg_message_is_dead(msg));
	ASSERT_INT_EQ(mg_message_flags(msg) & MG_MESSAGE_DEAD, MG_MESSAGE_DEAD);
	ASSERT_STR_EQ(mg_message_dead_reason(msg), CLOSED);
	ASSERT_INT_EQ(mg_receiver_get(n, rx, -1, &msg), MG_ERR_CHANNEL);
	ASSERT_STR_EQ(mg_message_dead_reason(msg), CLOSED);
	/* What is sent now finds no handle. */
	ASSERT_INT_EQ(mg_sender_send(tx, "after", 5), 0);
	run_until(n->loop, NULL, NULL, 10);
	ASSERT_INT_EQ(mg_receiver_queued(rx), 0);
	talloc_free(n);
}
ISOLATED(test_close)

/* Sender close ends the receiver's stream of messages. */
static void test_sender_close_body(void)
{
	struct net *n = net_alone();
	struct mg_receiver *rx;
	struct mg_sender *tx;
	struct mg_message *msg;

	ASSERT_PTR_NOT_NULL(n);
	ASSERT_INT_EQ(mg_receiver_new(n, n->r[0], 0, MG_ANY, 0, &rx), 0);
	tx = mg_sender_new(n, n->r[0], 0, mg_receiver_handle(rx));
	ASSERT_INT_EQ(mg_sender_send(tx, "a", 1), 0);
	ASSERT_INT_EQ(mg_sender_close(tx), 0);
	ASSERT_INT_EQ(mg_sender_close(tx), 0);
	ASSERT_INT_EQ(mg_sender_send(tx, "b", 1), -EPIPE);
	ASSERT_INT_EQ(mg_receiver_get(n, rx, 1000, &msg), 0);
	ASSERT_STR_EQ(text(msg), "a");
	ASSERT_INT_EQ(mg_receiver_get(n, rx, 1000, &msg), MG_ERR_CHANNEL);
	ASSERT_STR_EQ(mg_message_dead_reason(msg), SENDER_CLOSED);
	/* The receiver stays open: mitogen's receivers do too. */
	ASSERT_INT_EQ(mg_receiver_get(n, rx, 0, &msg), MG_ERR_TIMEOUT);
	talloc_free(n);
}
ISOLATED(test_sender_close)

/* Empty reasons read as mitogen's. */
static void test_empty_reason_body(void)
{
	struct net *n = net_new();
	struct mg_receiver *rx;
	struct mg_message *msg;

	ASSERT_PTR_NOT_NULL(n);
	ASSERT_INT_EQ(mg_receiver_new(n, n->r[0], 0, 2, 0, &rx), 0);
	ASSERT_INT_EQ(mg__router_send(n->r[2], 0, mg_receiver_handle(rx), 0, MG_F_DEAD, "", 0), 0);
	ASSERT_INT_EQ(mg__router_send(n->r[0], 0, mg_receiver_handle(rx), 0, MG_F_DEAD, "", 0), 0);
	ASSERT_INT_EQ(mg_receiver_get(n, rx, 2000, &msg), MG_ERR_CHANNEL);
	ASSERT_STR_EQ(mg_message_dead_reason(msg), "Channel closed by local end.");
	ASSERT_INT_EQ(mg_receiver_get(n, rx, 2000, &msg), MG_ERR_CHANNEL);
	ASSERT_STR_EQ(mg_message_dead_reason(msg), "Channel closed by remote end.");
	talloc_free(n);
}
ISOLATED(test_empty_reason)

/* A request and its reply across two hops, with the public calls. */
static void test_reply_body(void)
{
	struct net *n = net_new();
	struct mg_receiver *svc, *rx;
	struct mg_message *req, *msg;

	ASSERT_PTR_NOT_NULL(n);
	/* At 2: accepts its parents' requests. At 0: replies from 2 only. */
	ASSERT_INT_EQ(mg_receiver_new(n, n->r[2], 0, MG_ANY, 0, &svc), 0);
	ASSERT_INT_EQ(mg_receiver_new(n, n->r[0], 0, 2, MG_RECV_ONESHOT, &rx), 0);
	ASSERT_INT_EQ(mg_router_send(n->r[0], 2, mg_receiver_handle(svc), mg_receiver_handle(rx),
				     "ping", 4), 0);
	ASSERT_INT_EQ(mg_receiver_get(n, svc, 2000, &req), 0);
	ASSERT_INT_EQ(mg_message_src(req), 0);
	ASSERT_INT_EQ(mg_message_dst(req), 2);
	ASSERT_INT_EQ(mg_message_reply_to(req), mg_receiver_handle(rx));
	ASSERT_INT_EQ(mg_message_reply(req, "pong", 4), 0);
	ASSERT_INT_EQ(mg_receiver_get(n, rx, 2000, &msg), 0);
	ASSERT_STR_EQ(text(msg), "pong");
	ASSERT_INT_EQ(mg_message_src(msg), 2);
	/* A dead answer is MG_ERR_CHANNEL with its reason. */
	ASSERT_INT_EQ(mg_receiver_new(n, n->r[0], 0, 2, MG_RECV_ONESHOT, &rx), 0);
	ASSERT_INT_EQ(mg_router_send(n->r[0], 2, mg_receiver_handle(svc), mg_receiver_handle(rx),
				     "ping", 4), 0);
	ASSERT_INT_EQ(mg_receiver_get(n, svc, 2000, &req), 0);
	ASSERT_INT_EQ(mg_message_reply_dead(req, "no such thing"), 0);
	ASSERT_INT_EQ(mg_receiver_get(n, rx, 2000, &msg), MG_ERR_CHANNEL);
	ASSERT_STR_EQ(mg_message_dead_reason(msg), "no such thing");
	ASSERT_INT_EQ(mg_message_reply(msg, "x", 1), -EINVAL);
	talloc_free(n);
}
ISOLATED(test_reply)

/* Only the respondent (or, with MG_RECV_PARENT or MG_ANY, an ancestor)
 * gets through; the others get a dead "refused by policy". */
static void test_policy_body(void)
{
	struct net *n = net_new();
	struct mg_receiver *from2, *any1, *par1, *back3, *back2;
	struct mg_message *msg;

	ASSERT_PTR_NOT_NULL(n);
	ASSERT_INT_EQ(mg_receiver_new(n, n->r[0], 0, 2, 0, &from2), 0);
	ASSERT_INT_EQ(mg_receiver_new(n, n->r[1], 0, MG_ANY, 0, &any1), 0);
	ASSERT_INT_EQ(mg_receiver_new(n, n->r[1], 0, 2, MG_RECV_PARENT, &par1), 0);
	ASSERT_INT_EQ(mg_receiver_new(n, n->r[3], 0, 0, 0, &back3), 0);
	ASSERT_INT_EQ(mg_receiver_new(n, n->r[2], 0, 1, 0, &back2), 0);
	/* 3 is not 0's respondent here. */
	ASSERT_INT_EQ(mg_router_send(n->r[3], 0, mg_receiver_handle(from2),
				     mg_receiver_handle(back3), "x", 1), 0);
	ASSERT_INT_EQ(mg_receiver_get(n, back3, 2000, &msg), MG_ERR_CHANNEL);
	ASSERT_STR_EQ(mg_message_dead_reason(msg), "refused by policy");
	/* 2 is 1's child: no authority over 1, respondent or not. */
	ASSERT_INT_EQ(mg_router_send(n->r[2], 1, mg_receiver_handle(any1),
				     mg_receiver_handle(back2), "x", 1), 0);
	ASSERT_INT_EQ(mg_receiver_get(n, back2, 2000, &msg), MG_ERR_CHANNEL);
	ASSERT_STR_EQ(mg_message_dead_reason(msg), "refused by policy");
	ASSERT_INT_EQ(mg_router_send(n->r[2], 1, mg_receiver_handle(par1),
				     mg_receiver_handle(back2), "x", 1), 0);
	ASSERT_INT_EQ(mg_receiver_get(n, back2, 2000, &msg), MG_ERR_CHANNEL);
	/* The master has authority over 1. */
	ASSERT_INT_EQ(mg_router_send(n->r[0], 1, mg_receiver_handle(par1), 0, "m", 1), 0);
	ASSERT_INT_EQ(mg_receiver_get(n, par1, 2000, &msg), 0);
	ASSERT_INT_EQ(mg_message_src(msg), 0);
	ASSERT_INT_EQ(mg_router_send(n->r[0], 1, mg_receiver_handle(any1), 0, "m", 1), 0);
	ASSERT_INT_EQ(mg_receiver_get(n, any1, 2000, &msg), 0);
	/* And 2 may answer 0. */
	ASSERT_INT_EQ(mg_router_send(n->r[2], 0, mg_receiver_handle(from2), 0, "y", 1), 0);
	ASSERT_INT_EQ(mg_receiver_get(n, from2, 2000, &msg), 0);
	ASSERT_STR_EQ(text(msg), "y");
	ASSERT_INT_EQ(mg_receiver_queued(any1) + mg_receiver_queued(par1) +
		      mg_receiver_queued(from2), 0);
	ASSERT_INT_EQ(mg_receiver_new(n, n->r[0], 0, 0, 7, &any1), -EINVAL);
	talloc_free(n);
}
ISOLATED(test_policy)

/* A waiter on 'id' wakes with the respondent's loss when link 'link'
 * breaks at 'fd_of' (the parent's end of it), and hears it once. */
static void respondent_lost(uint32_t at_id, uint32_t id, uint32_t link, unsigned flags)
{
	struct net *n = net_new();
	struct later l = { .fd = -1 };
	struct mg_receiver *rx;
	struct mg_message *msg;
	uint64_t t0;

	ASSERT_PTR_NOT_NULL(n);
	l.n = n;
	l.fd = n->downfd[link];
	ASSERT_INT_EQ(mg_receiver_new(n, n->r[at_id], 0, id, flags, &rx), 0);
	ASSERT_PTR_NOT_NULL(at(&l, 30));
	t0 = mg_now();
	ASSERT_INT_EQ(mg_receiver_get(n, rx, 5000, &msg), MG_ERR_CHANNEL);
	ASSERT_TRUE(mg_now() - t0 < 2000);
	ASSERT_STR_EQ(mg_message_dead_reason(msg), LOST);
	ASSERT_INT_EQ(mg_message_src(msg), id);
	/* The stream has ended: a get says so at once, however long it
	 * would wait (it waited until its timeout, or for ever); the
	 * router's own notice makes no second "lost". */
	t0 = mg_now();
	ASSERT_INT_EQ(mg_receiver_get(n, rx, -1, &msg), MG_ERR_CHANNEL);
	ASSERT_STR_EQ(mg_message_dead_reason(msg), CLOSED);
	ASSERT_TRUE(mg_now() - t0 < 2000);
	ASSERT_INT_EQ(mg_receiver_queued(rx), 0);
	talloc_free(n);
}

static void test_lost_direct_body(void)
{
	respondent_lost(0, 1, 1, 0);
}
ISOLATED(test_lost_direct)

static void test_lost_direct_oneshot_body(void)
{
	respondent_lost(0, 1, 1, MG_RECV_ONESHOT);
}
ISOLATED(test_lost_direct_oneshot)

/* 2 is lost behind 1: the DEL_ROUTE from 1 tells the master. */
static void test_lost_indirect_body(void)
{
	respondent_lost(0, 2, 2, 0);
}
ISOLATED(test_lost_indirect)

/* 1, between the master and 2, goes away with its link. */
static void test_lost_intermediary_body(void)
{
	respondent_lost(0, 2, 1, MG_RECV_ONESHOT);
}
ISOLATED(test_lost_intermediary)

/* Below the master, tied by a watch (parent policy): 1 loses its child 2. */
static void test_lost_parent_body(void)
{
	respondent_lost(1, 2, 2, MG_RECV_PARENT);
}
ISOLATED(test_lost_parent)

/* A respondent that is not reachable now fails at once. */
static void test_lost_already_body(void)
{
	struct net *n = net_new();
	struct mg_receiver *rx;
	struct mg_message *msg;

	ASSERT_PTR_NOT_NULL(n);
	ASSERT_INT_EQ(mg_receiver_new(n, n->r[0], 0, 6, 0, &rx), 0);
	ASSERT_INT_EQ(mg_receiver_get(n, rx, 2000, &msg), MG_ERR_CHANNEL);
	ASSERT_STR_EQ(mg_message_dead_reason(msg), LOST);
	talloc_free(n);
}
ISOLATED(test_lost_already)

/* Callback form: queued messages follow on the next iteration, never
 * inside the call; the callback may keep a message or free the
 * receiver. */
struct seen {
	int n;
	char last[32];
	struct mg_message *kept;
	bool free_rx;
	bool inside;
};

static void on_msg(struct mg_receiver *rx, struct mg_message *msg, void *data)
{
	struct seen *s = data;

	s->n++;
	snprintf(s->last, sizeof(s->last), "%s",
		 mg_message_is_dead(msg) ? mg_message_dead_reason(msg) : text(msg));
	if (s->kept == NULL) {
		s->kept = talloc_steal(talloc_parent(rx), msg);
	}
	if (s->free_rx) {
		talloc_free(rx);
	}
}

static bool seen_two(void *arg)
{
	return ((struct seen *)arg)->n >= 2;
}

static void test_callback_body(void)
{
	struct net *n = net_alone();
	struct mg_receiver *rx;
	struct mg_sender *tx;
	struct mg_message *msg;
	struct seen s = { 0 };

	ASSERT_PTR_NOT_NULL(n);
	ASSERT_INT_EQ(mg_receiver_new(n, n->r[0], 0, MG_ANY, 0, &rx), 0);
	tx = mg_receiver_to_sender(n, rx);
	ASSERT_INT_EQ(mg_sender_send(tx, "queued", 6), 0);
	run_until(n->loop, NULL, NULL, 10);
	ASSERT_INT_EQ(mg_receiver_queued(rx), 1);
	ASSERT_INT_EQ(mg_receiver_on_message(rx, on_msg, &s), 0);
	ASSERT_INT_EQ(s.n, 0);
	ASSERT_INT_EQ(mg_receiver_get(n, rx, 0, &msg), -EBUSY);
	ASSERT_INT_EQ(mg_sender_send(tx, "direct", 6), 0);
	ASSERT_TRUE(run_until(n->loop, seen_two, &s, 2000));
	ASSERT_STR_EQ(s.last, "direct");
	ASSERT_STR_EQ(text(s.kept), "queued");
	/* Close: the dead message too, after this call. */
	mg_receiver_close(rx);
	ASSERT_INT_EQ(s.n, 2);
	s.free_rx = true;
	run_until(n->loop, NULL, NULL, 10);
	ASSERT_INT_EQ(s.n, 3);
	ASSERT_STR_EQ(s.last, CLOSED);
	talloc_free(n);
}
ISOLATED(test_callback)

/* Freeing the receiver, or stopping the loop, ends a get in progress. */
static void test_get_cancelled_body(void)
{
	struct net *n = net_alone();
	struct later l = { .fd = -1 }, k = { .fd = -1, .stop = true };
	struct mg_receiver *rx;
	struct mg_message *msg;

	ASSERT_PTR_NOT_NULL(n);
	l.n = k.n = n;
	ASSERT_INT_EQ(mg_receiver_new(n, n->r[0], 0, MG_ANY, 0, &rx), 0);
	ASSERT_PTR_NOT_NULL(at(&k, 10));
	ASSERT_INT_EQ(mg_receiver_get(n, rx, 5000, &msg), MG_ERR_CANCELLED);
	l.free_me = rx;
	ASSERT_PTR_NOT_NULL(at(&l, 10));
	ASSERT_INT_EQ(mg_receiver_get(n, rx, 5000, &msg), MG_ERR_CANCELLED);
	talloc_free(n);
}
ISOLATED(test_get_cancelled)

/* Channels: each end's sender names the other's receiver. */
static void test_channel_body(void)
{
	struct net *n = net_new();
	struct mg_channel *a, *b;
	struct mg_message *msg;

	ASSERT_PTR_NOT_NULL(n);
	ASSERT_INT_EQ(mg_channel_new(n, n->r[0], 2, 5000, 0, &a), 0);
	ASSERT_INT_EQ(mg_channel_new(n, n->r[2], 0, mg_receiver_handle(mg_channel_receiver(a)),
				     5000, &b), 0);
	ASSERT_INT_EQ(mg_receiver_handle(mg_channel_receiver(b)), 5000);
	ASSERT_INT_EQ(mg_sender_context(mg_channel_sender(b)), 0);
	ASSERT_INT_EQ(mg_channel_send(a, "to 2", 4), 0);
	ASSERT_INT_EQ(mg_channel_get(n, b, 2000, &msg), 0);
	ASSERT_STR_EQ(text(msg), "to 2");
	ASSERT_INT_EQ(mg_channel_send(b, "to 0", 4), 0);
	ASSERT_INT_EQ(mg_channel_get(n, a, 2000, &msg), 0);
	ASSERT_STR_EQ(text(msg), "to 0");
	mg_channel_close(b);
	ASSERT_INT_EQ(mg_channel_get(n, a, 2000, &msg), MG_ERR_CHANNEL);
	ASSERT_STR_EQ(mg_message_dead_reason(msg), SENDER_CLOSED);
	ASSERT_INT_EQ(mg_channel_get(n, b, 0, &msg), MG_ERR_CHANNEL);
	ASSERT_STR_EQ(mg_message_dead_reason(msg), CLOSED);
	ASSERT_INT_EQ(mg_channel_send(b, "x", 1), -EPIPE);
	ASSERT_INT_EQ(mg_channel_new(n, n->r[0], MG_ANY, 1, 0, &a), -EINVAL);
	talloc_free(n);
}
ISOLATED(test_channel)

/* The public router accessors. */
static void test_router_api_body(void)
{
	struct net *n = net_new();
	const uint32_t *ids;
	size_t np;

	ASSERT_PTR_NOT_NULL(n);
	ASSERT_TRUE(mg_router_is_master(n->r[0]));
	ASSERT_TRUE(!mg_router_is_master(n->r[2]));
	ASSERT_INT_EQ(mg_router_id(n->r[2]), 2);
	ASSERT_INT_EQ(mg_router_parent_id(n->r[2]), 1);
	ASSERT_INT_EQ(mg_router_parent_id(n->r[0]), 0);
	ids = mg_router_parent_ids(n->r[2], &np);
	ASSERT_INT_EQ(np, 2);
	ASSERT_INT_EQ(ids[0], 1);
	ASSERT_INT_EQ(ids[1], 0);
	ASSERT_PTR_NULL(mg_router_parent_ids(n->r[0], &np));
	ASSERT_INT_EQ(np, 0);
	ASSERT_TRUE(mg_router_loop(n->r[1]) == n->loop);
	ASSERT_INT_EQ(mg_router_send(n->r[0], 6, 1000, 0, "x", 1), MG_ERR_DISCONNECTED);
	talloc_free(n);
}
ISOLATED(test_router_api)

/* --- the broker --- */

#define N_CALLS 1000

struct xthread {
	struct mg_broker *b;
	struct mg_sender *tx;
	int calls;
	int order_ok;
	pthread_t loop_thread;
	bool wrong_thread;
};

static void count_call(void *data)
{
	struct xthread *x = data;

	if (!pthread_equal(pthread_self(), x->loop_thread)) {
		x->wrong_thread = true;
	}
	x->calls++;
	if (x->calls == N_CALLS) {
		mg_broker_stop(x->b, 5);
	}
}

static void *defer_many(void *arg)
{
	struct xthread *x = arg;

	for (int i = 0; i < N_CALLS; i++) {
		if (mg_broker_defer(x->b, count_call, x) != 0) {
			return NULL;
		}
	}
	return x;
}

/* Another thread hands work to the loop: every call runs there, once. */
static void test_defer_thread_body(void)
{
	struct mg_broker *b = mg_broker_new(NULL);
	struct xthread x = { 0 };
	pthread_t t;
	void *ret = NULL;

	ASSERT_PTR_NOT_NULL(b);
	x.b = b;
	x.loop_thread = pthread_self();
	ASSERT_INT_EQ(mg_broker_defer(b, NULL, NULL), -EINVAL);
	/* Without keepalive a broker with nothing to do returns. */
	ASSERT_INT_EQ(mg_broker_run(b), 0);
	mg_broker_set_keepalive(b, true);
	ASSERT_INT_EQ(pthread_create(&t, NULL, defer_many, &x), 0);
	ASSERT_INT_EQ(mg_broker_run(b), 5);
	ASSERT_INT_EQ(pthread_join(t, &ret), 0);
	ASSERT_TRUE(ret == &x);
	ASSERT_INT_EQ(x.calls, N_CALLS);
	ASSERT_TRUE(!x.wrong_thread);
	talloc_free(b);
}
ISOLATED(test_defer_thread)

static void send_from_loop(void *data)
{
	struct xthread *x = data;

	x->calls++;
	mg_sender_send(x->tx, "from the loop", 13);
}

static void *defer_send(void *arg)
{
	struct xthread *x = arg;

	usleep(20000);
	return mg_broker_defer(x->b, send_from_loop, x) == 0 ? x : NULL;
}

/* A blocking get over a session-style loop wakes when another thread's
 * deferred call sends the message. */
static void test_defer_wakes_get_body(void)
{
	struct net *n = net_alone();
	struct xthread x = { 0 };
	struct mg_receiver *rx;
	struct mg_message *msg;
	pthread_t t;
	void *ret = NULL;

	ASSERT_PTR_NOT_NULL(n);
	x.b = mg_broker_new_on(n, n->loop);
	ASSERT_PTR_NOT_NULL(x.b);
	ASSERT_TRUE(mg_broker_loop(x.b) == n->loop);
	ASSERT_INT_EQ(mg_receiver_new(n, n->r[0], 0, MG_ANY, 0, &rx), 0);
	x.tx = mg_receiver_to_sender(n, rx);
	ASSERT_INT_EQ(pthread_create(&t, NULL, defer_send, &x), 0);
	ASSERT_INT_EQ(mg_receiver_get(n, rx, 5000, &msg), 0);
	ASSERT_STR_EQ(text(msg), "from the loop");
	ASSERT_INT_EQ(pthread_join(t, &ret), 0);
	ASSERT_TRUE(ret == &x);
	ASSERT_INT_EQ(x.calls, 1);
	talloc_free(n);
}
ISOLATED(test_defer_wakes_get)

static void stop_timer(struct mg_timer *t, void *data)
{
	talloc_free(t);
	mg_broker_stop(data, 3);
}

/* Timers, run_once and the clock. */
static void test_broker_timer_body(void)
{
	struct mg_broker *b = mg_broker_new(NULL);
	uint64_t t0 = mg_now();

	ASSERT_PTR_NOT_NULL(b);
	ASSERT_INT_EQ(mg_broker_run_once(b, 20), 0);
	ASSERT_INT_GE(mg_now() - t0, 20);
	ASSERT_PTR_NOT_NULL(mg_broker_timer(b, b, 10, stop_timer, b));
	ASSERT_INT_EQ(mg_broker_run(b), 3);
	ASSERT_PTR_NOT_NULL(mg_broker_timer(b, b, 0, stop_timer, b));
	ASSERT_INT_EQ(mg_broker_run_once(b, 1000), 1);
	ASSERT_TRUE(mg_now() - t0 < 1000);
	talloc_free(b);
}
ISOLATED(test_broker_timer)

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	mg_log_set_sink(log_quiet, NULL);
	TESTS_BEGIN();
	RUN(test_local_get);
	RUN(test_get_timeout);
	RUN(test_get_wakes);
	RUN(test_get_in_callback);
	RUN(test_oneshot);
	RUN(test_many_queued);
	RUN(test_close);
	RUN(test_sender_close);
	RUN(test_empty_reason);
	RUN(test_reply);
	RUN(test_policy);
	RUN(test_lost_direct);
	RUN(test_lost_direct_oneshot);
	RUN(test_lost_indirect);
	RUN(test_lost_intermediary);
	RUN(test_lost_parent);
	RUN(test_lost_already);
	RUN(test_callback);
	RUN(test_get_cancelled);
	RUN(test_channel);
	RUN(test_router_api);
	RUN(test_defer_thread);
	RUN(test_defer_wakes_get);
	RUN(test_broker_timer);
	return TESTS_END();
}
