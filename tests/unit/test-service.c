/*
 * Unit tests for the service table and calls (lib/svc/svc-call.c,
 * mitogen/service.h) over the router tree of router-net.h:
 *
 *          0 (master)
 *         / \
 *        1   3
 *        |
 *        2
 *
 * Every test runs in its own process with a talloc leak check.
 */
#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <string.h>

#include "harness.h"
#include "mitogen/error.h"
#include "mitogen/log.h"
#include "mitogen/broker.h"
#include "mitogen/receiver.h"
#include "mitogen/service.h"
#include "router-net.h"
#include "svc-call.h"

static void log_quiet(enum mg_log_level level, const char *msg, void *data)
{
}

static const char *text(const struct mg_message *msg)
{
	return mg_message_data(msg, NULL);
}

/* "upper": the payload in capitals. */
static int upper(struct mg_message *req, const void *payload, size_t len, void *data)
{
	char buf[256];

	if (len > sizeof(buf)) {
		return -E2BIG;
	}
	for (size_t i = 0; i < len; i++) {
		buf[i] = (char)toupper(((const unsigned char *)payload)[i]);
	}
	return mg_message_reply(req, buf, len);
}

/* "hold": keeps the request unanswered in a struct held. */
struct held {
	TALLOC_CTX *ctx;
	struct mg_message *req;
};

static int hold(struct mg_message *req, const void *payload, size_t len, void *data)
{
	struct held *h = data;

	h->req = talloc_steal(h->ctx, req);
	return 0;
}

static int refuse(struct mg_message *req, const void *payload, size_t len, void *data)
{
	return mg_message_reply_dead(req, "not today");
}

static int fail(struct mg_message *req, const void *payload, size_t len, void *data)
{
	return -ENOENT;
}

/* A call from 0 to a service in 0, 1 and 2 (two hops down). */
static void test_call_body(void)
{
	struct net *n = net_new();
	struct mg_message *reply = NULL;

	ASSERT_PTR_NOT_NULL(n);
	for (uint32_t id = 0; id <= 2; id++) {
		ASSERT_INT_EQ(mg_service_register(n->r[id], "upper", 0, upper, NULL), 0);
		ASSERT_INT_EQ(mg_router_call(n, n->r[0], id, "upper", "abc", 3, 2000, &reply), 0);
		ASSERT_STR_EQ(text(reply), "ABC");
		ASSERT_INT_EQ(mg_message_src(reply), id);
		TALLOC_FREE(reply);
	}
	/* The built-in echo, an empty payload too. */
	ASSERT_INT_EQ(mg_router_call(n, n->r[0], 2, "echo", "x\0y", 3, 2000, &reply), 0);
	ASSERT_INT_EQ(memcmp(mg_message_data(reply, NULL), "x\0y", 3), 0);
	TALLOC_FREE(reply);
	ASSERT_INT_EQ(mg_router_call(n, n->r[0], 2, "echo", NULL, 0, 2000, &reply), 0);
	ASSERT_STR_EQ(text(reply), "");
	TALLOC_FREE(reply);
	/* An ancestor other than the master may call too. */
	ASSERT_INT_EQ(mg_router_call(n, n->r[1], 2, "upper", "q", 1, 2000, &reply), 0);
	ASSERT_STR_EQ(text(reply), "Q");
	TALLOC_FREE(reply);
	talloc_free(n);
}
ISOLATED(test_call)

static void test_register_body(void)
{
	struct net *n = net_alone();
	struct mg_message *reply = NULL;

	ASSERT_PTR_NOT_NULL(n);
	ASSERT_INT_EQ(mg_service_register(n->r[0], "a.b-c_9", 0, upper, NULL), 0);
	ASSERT_INT_EQ(mg_service_register(n->r[0], "a.b-c_9", 0, upper, NULL), -EEXIST);
	ASSERT_INT_EQ(mg_service_register(n->r[0], "echo", 0, upper, NULL), -EEXIST);
	ASSERT_INT_EQ(mg_service_register(n->r[0], "", 0, upper, NULL), -EINVAL);
	ASSERT_INT_EQ(mg_service_register(n->r[0], "a b", 0, upper, NULL), -EINVAL);
	ASSERT_INT_EQ(mg_service_register(n->r[0], "x", 0, NULL, NULL), -EINVAL);
	ASSERT_INT_EQ(mg_service_register(n->r[0], "x", 0x80, upper, NULL), -EINVAL);
	ASSERT_INT_EQ(mg_service_register(n->r[0],
		"12345678901234567890123456789012345678901234567890123456789012345", 0, upper, NULL),
		-EINVAL);
	ASSERT_INT_EQ(mg_router_call(n, n->r[0], 0, "a b", NULL, 0, 100, &reply), -EINVAL);
	ASSERT_INT_EQ(mg_service_unregister(n->r[0], "a.b-c_9"), 0);
	ASSERT_INT_EQ(mg_service_unregister(n->r[0], "a.b-c_9"), -ENOENT);
	ASSERT_INT_EQ(mg_router_call(n, n->r[0], 0, "a.b-c_9", NULL, 0, 2000, &reply), MG_ERR_CALL);
	ASSERT_STR_EQ(mg_message_dead_reason(reply), "no such service 'a.b-c_9'");
	TALLOC_FREE(reply);
	talloc_free(n);
}
ISOLATED(test_register)

/* An unknown service, a context without a table, an unreachable one. */
static void test_unknown_body(void)
{
	struct net *n = net_new();
	struct mg_message *reply = NULL;

	ASSERT_PTR_NOT_NULL(n);
	ASSERT_PTR_NOT_NULL(mg__services(n->r[2]));
	ASSERT_INT_EQ(mg_router_call(n, n->r[0], 2, "nope", "", 0, 2000, &reply), MG_ERR_CALL);
	ASSERT_TRUE(mg_message_is_dead(reply));
	ASSERT_STR_EQ(mg_message_dead_reason(reply), "no such service 'nope'");
	TALLOC_FREE(reply);
	/* 3 has no table: its router knows no CALL handle. */
	ASSERT_INT_EQ(mg_router_call(n, n->r[0], 3, "echo", "", 0, 2000, &reply), MG_ERR_CALL);
	ASSERT_STR_EQ(mg_message_dead_reason(reply), "invalid handle");
	TALLOC_FREE(reply);
	ASSERT_INT_EQ(mg_router_call(n, n->r[0], 7, "echo", "", 0, 2000, &reply),
		      MG_ERR_DISCONNECTED);
	ASSERT_PTR_NULL(reply);
	talloc_free(n);
}
ISOLATED(test_unknown)

/* A child never calls its parent's services, unless they answer
 * children; nor does a grandchild. */
static void test_child_refused_body(void)
{
	struct net *n = net_new();
	struct mg_message *reply = NULL;

	ASSERT_PTR_NOT_NULL(n);
	ASSERT_INT_EQ(mg_service_register(n->r[0], "upper", 0, upper, NULL), 0);
	ASSERT_INT_EQ(mg_service_register(n->r[1], "upper", 0, upper, NULL), 0);
	ASSERT_INT_EQ(mg_router_call(n, n->r[1], 0, "upper", "a", 1, 2000, &reply), MG_ERR_CALL);
	ASSERT_STR_EQ(mg_message_dead_reason(reply), "refused by policy");
	TALLOC_FREE(reply);
	ASSERT_INT_EQ(mg_router_call(n, n->r[2], 1, "upper", "a", 1, 2000, &reply), MG_ERR_CALL);
	ASSERT_STR_EQ(mg_message_dead_reason(reply), "refused by policy");
	TALLOC_FREE(reply);
	ASSERT_INT_EQ(mg_router_call(n, n->r[2], 0, "echo", "a", 1, 2000, &reply), MG_ERR_CALL);
	ASSERT_STR_EQ(mg_message_dead_reason(reply), "refused by policy");
	TALLOC_FREE(reply);
	/* Registered for children: the subtree may call. */
	ASSERT_INT_EQ(mg_service_register(n->r[0], "kids", MG_SERVICE_CHILDREN, upper, NULL), 0);
	ASSERT_INT_EQ(mg_router_call(n, n->r[1], 0, "kids", "b", 1, 2000, &reply), 0);
	ASSERT_STR_EQ(text(reply), "B");
	TALLOC_FREE(reply);
	ASSERT_INT_EQ(mg_router_call(n, n->r[2], 0, "kids", "c", 1, 2000, &reply), 0);
	ASSERT_STR_EQ(text(reply), "C");
	TALLOC_FREE(reply);
	/* A sibling is never a child: the master forwards 1's call to 3
	 * (routing is not unidirectional), and 3 refuses it. */
	ASSERT_INT_EQ(mg_service_register(n->r[3], "kids", MG_SERVICE_CHILDREN, upper, NULL), 0);
	ASSERT_INT_EQ(mg_router_call(n, n->r[1], 3, "kids", "d", 1, 2000, &reply), MG_ERR_CALL);
	ASSERT_STR_EQ(mg_message_dead_reason(reply), "refused by policy");
	TALLOC_FREE(reply);
	talloc_free(n);
}
ISOLATED(test_child_refused)

/* No reply in time; a lost respondent ends the wait at once. */
static void test_timeout_body(void)
{
	struct net *n = net_new();
	struct mg_message *reply = NULL;
	struct held h = { talloc_new(NULL), NULL };
	uint64_t t0;

	ASSERT_PTR_NOT_NULL(n);
	ASSERT_INT_EQ(mg_service_register(n->r[2], "hold", 0, hold, &h), 0);
	t0 = mg_now();
	ASSERT_INT_EQ(mg_router_call(n, n->r[0], 2, "hold", "", 0, 100, &reply), MG_ERR_TIMEOUT);
	ASSERT_INT_GE(mg_now() - t0, 100);
	ASSERT_PTR_NULL(reply);
	/* A late reply finds no handle and goes nowhere; the next call
	 * is not confused by it. */
	ASSERT_PTR_NOT_NULL(h.req);
	ASSERT_INT_EQ(mg_message_reply(h.req, "late", 4), 0);
	ASSERT_INT_EQ(mg_router_call(n, n->r[0], 2, "echo", "now", 3, 2000, &reply), 0);
	ASSERT_STR_EQ(text(reply), "now");
	TALLOC_FREE(reply);
	talloc_free(n);
	talloc_free(h.ctx);
}
ISOLATED(test_timeout)

static void test_lost_body(void)
{
	struct net *n = net_new();
	struct mg_message *reply = NULL;
	struct held h = { talloc_new(NULL), NULL };

	ASSERT_PTR_NOT_NULL(n);
	ASSERT_INT_EQ(mg_service_register(n->r[2], "hold", 0, hold, &h), 0);
	/* The link 1-2 breaks while 0 waits for 2. */
	shutdown(n->downfd[2], SHUT_RDWR);
	ASSERT_INT_EQ(mg_router_call(n, n->r[0], 2, "hold", "", 0, 5000, &reply), MG_ERR_CALL);
	ASSERT_STR_EQ(mg_message_dead_reason(reply), "the respondent context has disconnected");
	TALLOC_FREE(reply);
	talloc_free(n);
	talloc_free(h.ctx);
}
ISOLATED(test_lost)

/* A handler's dead reply, and its error. */
static void test_handler_dead_body(void)
{
	struct net *n = net_new();
	struct mg_message *reply = NULL;

	ASSERT_PTR_NOT_NULL(n);
	ASSERT_INT_EQ(mg_service_register(n->r[2], "refuse", 0, refuse, NULL), 0);
	ASSERT_INT_EQ(mg_service_register(n->r[2], "fail", 0, fail, NULL), 0);
	ASSERT_INT_EQ(mg_router_call(n, n->r[0], 2, "refuse", "", 0, 2000, &reply), MG_ERR_CALL);
	ASSERT_STR_EQ(mg_message_dead_reason(reply), "not today");
	TALLOC_FREE(reply);
	ASSERT_INT_EQ(mg_router_call(n, n->r[0], 2, "fail", "", 0, 2000, &reply), MG_ERR_CALL);
	ASSERT_STR_EQ(mg_message_dead_reason(reply), "service 'fail' failed: No such file or directory");
	TALLOC_FREE(reply);
	talloc_free(n);
}
ISOLATED(test_handler_dead)

/* A request that does not decode gets a dead answer. */
static void test_malformed_body(void)
{
	static const uint8_t junk[][12] = {
		{ 0, 0, 0, 9, 'e' },			/* name cut short */
		{ 0, 0, 0, 1, 'e', 0, 0, 0 },		/* no payload count */
		{ 0, 0, 0, 1, ' ', 0, 0, 0, 0 },	/* a bad name */
		{ 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0 },	/* a null name */
		{ 0, 0, 0, 0, 0, 0, 0, 0 },		/* an empty name */
		{ 0, 0, 0, 1, 'e', 0, 0, 0, 0, 1 },	/* trailing bytes */
	};
	static const size_t lens[] = { 5, 8, 9, 8, 8, 10 };
	struct net *n = net_new();
	struct mg_receiver *rx = NULL;
	struct mg_message *reply = NULL;

	ASSERT_PTR_NOT_NULL(n);
	ASSERT_PTR_NOT_NULL(mg__services(n->r[1]));
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		ASSERT_INT_EQ(mg_receiver_new(n, n->r[0], 0, 1, MG_RECV_ONESHOT, &rx), 0);
		ASSERT_INT_EQ(mg_router_send(n->r[0], 1, MG_H_CALL, mg_receiver_handle(rx),
					     junk[i], lens[i]), 0);
		ASSERT_INT_EQ(mg_receiver_get(n, rx, 2000, &reply), MG_ERR_CHANNEL);
		ASSERT_STR_EQ(mg_message_dead_reason(reply), "malformed CALL request");
		TALLOC_FREE(reply);
		TALLOC_FREE(rx);
	}
	talloc_free(n);
}
ISOLATED(test_malformed)

/* --- the callback form --- */

struct tally {
	int replies, dead, timeouts;
	char last[64];
};

static void on_reply(struct mg_message *reply, int err, void *data)
{
	struct tally *t = data;

	if (err == 0) {
		t->replies++;
		snprintf(t->last, sizeof(t->last), "%s", text(reply));
	} else if (err == MG_ERR_CALL) {
		t->dead++;
		snprintf(t->last, sizeof(t->last), "%s", mg_message_dead_reason(reply));
	} else if (err == MG_ERR_TIMEOUT) {
		t->timeouts++;
	}
}

static bool tally_is(void *arg)
{
	struct tally *t = arg;

	return t->replies + t->dead + t->timeouts >= 100;
}

static void test_async_body(void)
{
	struct net *n = net_new();
	struct tally t = { 0 };
	struct held h = { talloc_new(NULL), NULL };
	struct mg_call *c = NULL;

	ASSERT_PTR_NOT_NULL(n);
	ASSERT_INT_EQ(mg_service_register(n->r[2], "upper", 0, upper, NULL), 0);
	ASSERT_INT_EQ(mg_service_register(n->r[2], "hold", 0, hold, &h), 0);
	/* 97 in flight at once, one unknown, one timing out, one cancelled. */
	for (int i = 0; i < 97; i++) {
		ASSERT_INT_EQ(mg_router_call_async(n, n->r[0], 2, "upper", "zz", 2, -1, on_reply,
						   &t, NULL), 0);
	}
	ASSERT_INT_EQ(mg_router_call_async(n, n->r[0], 2, "none", "", 0, 5000, on_reply, &t, NULL), 0);
	ASSERT_INT_EQ(mg_router_call_async(n, n->r[0], 2, "hold", "", 0, 50, on_reply, &t, NULL), 0);
	ASSERT_INT_EQ(mg_router_call_async(n, n->r[0], 2, "hold", "", 0, 50, on_reply, &t, &c), 0);
	talloc_free(c);
	/* Nothing runs from inside the call. */
	ASSERT_INT_EQ(t.replies + t.dead + t.timeouts, 0);
	run_until(n->loop, tally_is, &t, 3000);
	ASSERT_INT_EQ(t.replies, 97);
	ASSERT_INT_EQ(t.dead, 1);
	ASSERT_INT_EQ(t.timeouts, 1);
	/* Bad arguments: fn never called. */
	ASSERT_INT_EQ(mg_router_call_async(n, n->r[0], 2, "", "", 0, -1, on_reply, &t, &c), -EINVAL);
	ASSERT_PTR_NULL(c);
	ASSERT_INT_EQ(mg_router_call_async(n, n->r[0], 9, "echo", "", 0, -1, on_reply, &t, &c),
		      MG_ERR_DISCONNECTED);
	talloc_free(n);
	talloc_free(h.ctx);
}
ISOLATED(test_async)

/* A callback that frees another pending call, and a blocking call from
 * a callback (refused: it would never end). */
struct nest {
	struct mg_router *r;
	struct mg_call *other;
	int calls, inner;
};

static void nested(struct mg_message *reply, int err, void *data)
{
	struct nest *x = data;
	struct mg_message *inner = NULL;

	x->calls++;
	x->inner = mg_router_call(NULL, x->r, 0, "echo", NULL, 0, 10, &inner);
	TALLOC_FREE(x->other);
}

static bool called(void *arg)
{
	return ((struct nest *)arg)->calls >= 1;
}

static void test_async_nested_body(void)
{
	struct net *n = net_new();
	struct nest x = { 0 };

	ASSERT_PTR_NOT_NULL(n);
	x.r = n->r[0];
	ASSERT_INT_EQ(mg_service_register(n->r[1], "upper", 0, upper, NULL), 0);
	ASSERT_INT_EQ(mg_router_call_async(n, n->r[0], 1, "upper", "a", 1, -1, nested, &x, NULL), 0);
	ASSERT_INT_EQ(mg_router_call_async(n, n->r[0], 1, "upper", "b", 1, -1, nested, &x,
					   &x.other), 0);
	run_until(n->loop, called, &x, 2000);
	run_until(n->loop, NULL, NULL, 50);
	ASSERT_INT_EQ(x.calls, 1);
	ASSERT_INT_EQ(x.inner, -EDEADLK);
	talloc_free(n);
}
ISOLATED(test_async_nested)

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	mg_log_set_sink(log_quiet, NULL);
	TESTS_BEGIN();
	RUN(test_call);
	RUN(test_register);
	RUN(test_unknown);
	RUN(test_child_refused);
	RUN(test_timeout);
	RUN(test_lost);
	RUN(test_handler_dead);
	RUN(test_malformed);
	RUN(test_async);
	RUN(test_async_nested);
	return TESTS_END();
}
