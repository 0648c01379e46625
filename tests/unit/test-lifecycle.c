/*
 * Sessions and contexts that live as long as their owner wants: the HELLO
 * flags a new context inherits, and (with real agents, chains "local" and
 * "local/local") shutting contexts down, losing them, and connecting them
 * again.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "buf.h"
#include "conn.h"
#include "loop-helpers.h"
#include "mitogen/context.h"
#include "mitogen/error.h"
#include "mitogen/log.h"
#include "mitogen/message.h"
#include "mitogen/session.h"
#include "router.h"

/* --- HELLO flags --- */

static void test_hello_flags_body(void)
{
	TALLOC_CTX *ctx = talloc_new(NULL);
	struct mg_loop *loop = mg_loop_new(ctx);
	uint32_t parents[] = { 0 };
	struct mg_router *r = loop != NULL ? mg__router_new(ctx, loop, 1, parents, 1) : NULL;
	struct mg_buf *b = mg__buf_new(ctx, 4096);
	struct mg_hello h;

	ASSERT_PTR_NOT_NULL(r);
	ASSERT_PTR_NOT_NULL(b);
	/* Off: the byte is there, 0. */
	ASSERT_INT_EQ(mg__hello_encode(b, r, 7, 2, "mitogen:7"), 0);
	ASSERT_INT_EQ(mg__hello_decode(ctx, b->data, b->len, &h), 0);
	ASSERT_INT_EQ(b->data[b->len - 1], 0);
	ASSERT_INT_EQ(h.flags, 0);
	ASSERT_INT_EQ(h.id, 7);
	ASSERT_INT_EQ(h.n_parents, 2);
	ASSERT_INT_EQ(h.parents[0], 1);
	ASSERT_INT_EQ(h.parents[1], 0);
	ASSERT_STR_EQ(h.name, "mitogen:7");
	/* On: the new context is told. */
	b->len = 0;
	mg__router_set_unidirectional(r, true);
	ASSERT_INT_EQ(mg__hello_encode(b, r, 7, 2, "mitogen:7"), 0);
	ASSERT_INT_EQ(b->data[b->len - 1], MG_HELLO_UNIDIRECTIONAL);
	ASSERT_INT_EQ(mg__hello_decode(ctx, b->data, b->len, &h), 0);
	ASSERT_INT_EQ(h.flags, MG_HELLO_UNIDIRECTIONAL);
	ASSERT_INT_EQ(h.log_level, 2);
	/* A HELLO from before the field: flags 0, the rest as before. */
	ASSERT_INT_EQ(mg__hello_decode(ctx, b->data, b->len - 1, &h), 0);
	ASSERT_INT_EQ(h.flags, 0);
	ASSERT_STR_EQ(h.name, "mitogen:7");
	/* Cut inside the name: refused. */
	ASSERT_INT_EQ(mg__hello_decode(ctx, b->data, b->len - 2, &h), MG_ERR_PROTOCOL);
	talloc_free(ctx);
}
ISOLATED(test_hello_flags)


/* --- contexts with real agents --- */

struct fx {
	struct mg_loop *loop;
	struct mg_session *s;
	/* the last connect */
	bool done;
	int err;
	char *errmsg;
	struct mg_context *ctx;
};

static struct fx *fx_new(void)
{
	struct fx *f = talloc_zero(NULL, struct fx);

	if (f == NULL) {
		return NULL;
	}
	f->loop = mg_loop_new(f);
	f->s = f->loop != NULL ? mg_session_new(f, f->loop) : NULL;
	if (f->s == NULL) {
		talloc_free(f);
		return NULL;
	}
	return f;
}

static void on_connect(struct mg_context *ctx, int err, const char *errmsg, void *data)
{
	struct fx *f = data;

	f->done = true;
	f->err = err;
	f->ctx = ctx;
	talloc_free(f->errmsg);
	f->errmsg = errmsg != NULL ? talloc_strdup(f, errmsg) : NULL;
}

static bool connected(void *arg)
{
	return ((struct fx *)arg)->done;
}

/* Connect 'text' (one chain) and wait: the context, or NULL. */
static struct mg_context *fx_connect(struct fx *f, const char *text)
{
	struct mg_chain_list *chains = NULL;
	char *err = NULL;

	f->done = false;
	f->ctx = NULL;
	if (mg_chain_parse(f, text, &chains, &err) != 0 ||
	    mg_connect(f, f->s, &chains->chains[0], NULL, on_connect, f, &err) != 0) {
		printf("# %s: %s\n", text, err != NULL ? err : "?");
		return NULL;
	}
	if (!run_until(f->loop, connected, f, 20000) || f->err != 0) {
		printf("# %s: %s\n", text, f->errmsg != NULL ? f->errmsg : "timed out");
		return NULL;
	}
	return f->ctx;
}

/* The echo service answers through ctx. */
static bool echoes(struct fx *f, struct mg_context *ctx)
{
	struct mg_message *reply = NULL;
	bool ok;

	ok = mg_context_call(f, ctx, "echo", "ping", 4, 5000, &reply) == 0 &&
	     strcmp(mg_message_data(reply, NULL), "ping") == 0;
	talloc_free(reply);
	return ok;
}

struct lost {
	int n;
	char *reason;
	struct mg_context *ctx;
};

static void on_lost(struct mg_context *ctx, const char *reason, void *data)
{
	struct lost *l = data;

	l->n++;
	l->ctx = ctx;
	talloc_free(l->reason);
	l->reason = talloc_strdup(NULL, reason);
}

static bool fired(void *arg)
{
	return ((struct lost *)arg)->n > 0;
}

/* The process is no more (not even a zombie): its parent reaped it. A
 * later hop's agent is reaped by the agent above it, at about the time
 * the master hears of its end: allow it a moment. */
static bool pid_gone(struct fx *f, pid_t pid)
{
	for (int i = 0; i < 300; i++) {
		if (kill(pid, 0) != 0 && errno == ESRCH) {
			return true;
		}
		run_until(f->loop, NULL, NULL, 10);
	}
	return false;
}

static void test_shutdown_first_hop_body(void)
{
	struct fx *f = fx_new();
	struct mg_context *c, *again;
	struct lost l = { 0 };
	uint32_t id;
	pid_t pid;

	ASSERT_PTR_NOT_NULL(f);
	c = fx_connect(f, "local");
	ASSERT_PTR_NOT_NULL(c);
	id = mg_context_id(c);
	pid = mg_context_pid(c);
	ASSERT_TRUE(pid > 0);
	ASSERT_INT_EQ(kill(pid, 0), 0);
	ASSERT_PTR_NOT_NULL(mg_context_on_disconnect(f, c, on_lost, &l));
	ASSERT_TRUE(echoes(f, c));
	ASSERT_INT_EQ(mg_context_shutdown_wait(c, 10000), 0);
	ASSERT_TRUE(mg_context_gone(c));
	/* A first hop is reaped by the master itself, before the wait ends. */
	ASSERT_INT_EQ(kill(pid, 0), -1);
	ASSERT_INT_EQ(errno, ESRCH);
	ASSERT_TRUE(run_until(f->loop, fired, &l, 2000));
	ASSERT_STR_EQ(l.reason, "local: shut down");
	ASSERT_TRUE(l.ctx == c);
	/* Calls fail at once; shutting down again is no error. */
	{
		struct mg_message *reply = NULL;
		ASSERT_INT_NE(mg_context_call(f, c, "echo", "x", 1, 5000, &reply), 0);
		talloc_free(reply);
	}
	ASSERT_INT_EQ(mg_context_shutdown(c), 0);
	/* The next connect of the chain connects anew. */
	again = fx_connect(f, "local");
	ASSERT_PTR_NOT_NULL(again);
	ASSERT_TRUE(again != c);
	ASSERT_INT_NE(mg_context_id(again), id);
	ASSERT_TRUE(echoes(f, again));
	run_until(f->loop, NULL, NULL, 50);
	ASSERT_INT_EQ(l.n, 1);
	talloc_free(l.reason);
	talloc_free(f);
}
ISOLATED(test_shutdown_first_hop)

static void test_shutdown_second_hop_body(void)
{
	struct fx *f = fx_new();
	struct mg_context *c1, *c2, *again;
	struct lost l1 = { 0 }, l2 = { 0 };
	uint32_t id2;
	pid_t pid1, pid2;

	ASSERT_PTR_NOT_NULL(f);
	c2 = fx_connect(f, "local/local");
	ASSERT_PTR_NOT_NULL(c2);
	c1 = mg_context_parent(c2);
	ASSERT_PTR_NOT_NULL(c1);
	id2 = mg_context_id(c2);
	pid1 = mg_context_pid(c1);
	pid2 = mg_context_pid(c2);
	ASSERT_TRUE(pid1 > 0 && pid2 > 0 && pid1 != pid2);
	ASSERT_INT_EQ(kill(pid2, 0), 0);
	ASSERT_PTR_NOT_NULL(mg_context_on_disconnect(f, c1, on_lost, &l1));
	ASSERT_PTR_NOT_NULL(mg_context_on_disconnect(f, c2, on_lost, &l2));
	ASSERT_TRUE(echoes(f, c2));
	ASSERT_INT_EQ(mg_context_shutdown_wait(c2, 10000), 0);
	ASSERT_TRUE(mg_context_gone(c2));
	ASSERT_TRUE(!mg_context_gone(c1));
	ASSERT_TRUE(pid_gone(f, pid2));
	ASSERT_INT_EQ(kill(pid1, 0), 0);
	ASSERT_TRUE(run_until(f->loop, fired, &l2, 2000));
	ASSERT_STR_EQ(l2.reason, "local/local: shut down");
	/* The first hop stays, and serves. */
	ASSERT_TRUE(echoes(f, c1));
	again = fx_connect(f, "local/local");
	ASSERT_PTR_NOT_NULL(again);
	ASSERT_INT_NE(mg_context_id(again), id2);
	ASSERT_TRUE(mg_context_parent(again) == c1);
	ASSERT_TRUE(echoes(f, again));
	ASSERT_INT_EQ(l1.n, 0);
	ASSERT_INT_EQ(l2.n, 1);
	talloc_free(l2.reason);
	talloc_free(f);
}
ISOLATED(test_shutdown_second_hop)

/* An agent killed: the loss is noticed, and the chain connects again. */
static void test_lost_second_hop_body(void)
{
	struct fx *f = fx_new();
	struct mg_context *c1, *c2, *again;
	struct lost l1 = { 0 }, l2 = { 0 };
	struct mg_context_watch *cancelled;
	struct lost never = { 0 };
	uint32_t id2;
	pid_t pid2;

	ASSERT_PTR_NOT_NULL(f);
	c2 = fx_connect(f, "local/local");
	ASSERT_PTR_NOT_NULL(c2);
	c1 = mg_context_parent(c2);
	id2 = mg_context_id(c2);
	pid2 = mg_context_pid(c2);
	ASSERT_TRUE(pid2 > 0);
	ASSERT_PTR_NOT_NULL(mg_context_on_disconnect(f, c1, on_lost, &l1));
	ASSERT_PTR_NOT_NULL(mg_context_on_disconnect(f, c2, on_lost, &l2));
	/* Freed before it fires: never called. */
	cancelled = mg_context_on_disconnect(f, c2, on_lost, &never);
	ASSERT_PTR_NOT_NULL(cancelled);
	talloc_free(cancelled);
	ASSERT_INT_EQ(kill(pid2, SIGKILL), 0);
	ASSERT_TRUE(run_until(f->loop, fired, &l2, 10000));
	ASSERT_TRUE(mg_context_gone(c2));
	ASSERT_TRUE(!mg_context_gone(c1));
	ASSERT_STR_CONTAINS(l2.reason, "local/local: ");
	ASSERT_STR_CONTAINS(l2.reason, "lost");
	again = fx_connect(f, "local/local");
	ASSERT_PTR_NOT_NULL(again);
	ASSERT_INT_NE(mg_context_id(again), id2);
	ASSERT_TRUE(mg_context_pid(again) != pid2);
	ASSERT_TRUE(echoes(f, again));
	ASSERT_TRUE(echoes(f, c1));
	/* Registered on a gone context: called all the same, once. */
	{
		struct lost late = { 0 };
		ASSERT_PTR_NOT_NULL(mg_context_on_disconnect(f, c2, on_lost, &late));
		ASSERT_TRUE(run_until(f->loop, fired, &late, 1000));
		ASSERT_STR_EQ(late.reason, l2.reason);
		talloc_free(late.reason);
	}
	run_until(f->loop, NULL, NULL, 50);
	ASSERT_INT_EQ(l1.n, 0);
	ASSERT_INT_EQ(l2.n, 1);
	ASSERT_INT_EQ(never.n, 0);
	talloc_free(l2.reason);
	talloc_free(f);
}
ISOLATED(test_lost_second_hop)

/* The session shuts every first hop down and waits: no agent is left. */
static void test_session_shutdown_body(void)
{
	struct fx *f = fx_new();
	struct mg_context *c[3];
	pid_t pid[3];

	ASSERT_PTR_NOT_NULL(f);
	c[0] = fx_connect(f, "local/local");
	ASSERT_PTR_NOT_NULL(c[0]);
	c[1] = mg_context_parent(c[0]);
	c[2] = fx_connect(f, "local?remote_name=b");
	ASSERT_PTR_NOT_NULL(c[2]);
	ASSERT_TRUE(c[2] != c[1]);
	for (int i = 0; i < 3; i++) {
		pid[i] = mg_context_pid(c[i]);
		ASSERT_TRUE(pid[i] > 0);
		ASSERT_INT_EQ(kill(pid[i], 0), 0);
	}
	ASSERT_INT_EQ(mg_session_shutdown(f->s, 10000), 0);
	for (int i = 0; i < 3; i++) {
		ASSERT_TRUE(mg_context_gone(c[i]));
		ASSERT_TRUE(pid_gone(f, pid[i]));
	}
	/* Nothing is left to keep the loop alive. */
	ASSERT_TRUE(!mg_loop_alive(f->loop));
	/* And the session is still usable. */
	c[0] = fx_connect(f, "local/local");
	ASSERT_PTR_NOT_NULL(c[0]);
	ASSERT_TRUE(echoes(f, c[0]));
	talloc_free(f);
}
ISOLATED(test_session_shutdown)

static bool in_callback_checked(void *arg)
{
	return *(int *)arg != 0;
}

struct deadlk {
	struct mg_context *ctx;
	struct mg_session *s;
	int ret_ctx, ret_s;
};

static void try_waits(void *data)
{
	struct deadlk *d = data;

	d->ret_ctx = mg_context_shutdown_wait(d->ctx, 1000);
	d->ret_s = mg_session_shutdown(d->s, 1000);
}

/* Waiting from a loop callback is refused; nothing was sent. */
static void test_wait_in_callback_body(void)
{
	struct fx *f = fx_new();
	struct deadlk d = { 0 };

	ASSERT_PTR_NOT_NULL(f);
	d.ctx = fx_connect(f, "local");
	ASSERT_PTR_NOT_NULL(d.ctx);
	d.s = f->s;
	ASSERT_INT_EQ(mg_loop_defer(f->loop, f, try_waits, &d), 0);
	ASSERT_TRUE(run_until(f->loop, in_callback_checked, &d.ret_ctx, 1000));
	ASSERT_INT_EQ(d.ret_ctx, -EDEADLK);
	ASSERT_INT_EQ(d.ret_s, -EDEADLK);
	ASSERT_TRUE(!mg_context_gone(d.ctx));
	ASSERT_TRUE(echoes(f, d.ctx));
	talloc_free(f);
}
ISOLATED(test_wait_in_callback)

int main(void)
{
	TESTS_BEGIN();
	mg_log_set_level(MG_LOG_ERROR);
	RUN(test_hello_flags);
	RUN(test_shutdown_first_hop);
	RUN(test_shutdown_second_hop);
	RUN(test_lost_second_hop);
	RUN(test_session_shutdown);
	RUN(test_wait_in_callback);
	return TESTS_END();
}
