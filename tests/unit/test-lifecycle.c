/*
 * Sessions and contexts that live as long as their owner wants: the HELLO
 * flags a new context inherits, and (with real agents, chains "local" and
 * "local/local") shutting contexts down, losing them, and connecting them
 * again.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>
#include "buf.h"
#include "conn.h"
#include "loop-helpers.h"
#include "mitogen/context.h"
#include "mitogen/error.h"
#include "mitogen/exec.h"
#include "mitogen/log.h"
#include "mitogen/message.h"
#include "mitogen/session.h"
#include "password.h"
#include "router.h"
#include "session.h"

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

/* Connect 'text' (one chain) with 'opts' and wait: the context, or NULL. */
static struct mg_context *fx_connect_opts(struct fx *f, const char *text,
					  const struct mg_connect_opts *opts)
{
	struct mg_chain_list *chains = NULL;
	char *err = NULL;

	f->done = false;
	f->ctx = NULL;
	if (mg_chain_parse(f, text, &chains, &err) != 0 ||
	    mg_connect(f, f->s, &chains->chains[0], opts, on_connect, f, &err) != 0) {
		printf("# %s: %s\n", text, err != NULL ? err : "?");
		return NULL;
	}
	if (!run_until(f->loop, connected, f, 20000) || f->err != 0) {
		printf("# %s: %s\n", text, f->errmsg != NULL ? f->errmsg : "timed out");
		return NULL;
	}
	return f->ctx;
}

static struct mg_context *fx_connect(struct fx *f, const char *text)
{
	return fx_connect_opts(f, text, NULL);
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

/* mg_context_disconnect: a first hop is cut at once, its subtree with it;
 * mg_session_context finds contexts by id only while they are up. */
static void test_disconnect_body(void)
{
	struct fx *f = fx_new();
	struct mg_context *c1, *c2, *again;
	struct lost l1 = { 0 }, l2 = { 0 };
	uint32_t id1, id2;
	pid_t pid1, pid2;

	ASSERT_PTR_NOT_NULL(f);
	c2 = fx_connect(f, "local/local");
	ASSERT_PTR_NOT_NULL(c2);
	c1 = mg_context_parent(c2);
	id1 = mg_context_id(c1);
	id2 = mg_context_id(c2);
	pid1 = mg_context_pid(c1);
	pid2 = mg_context_pid(c2);
	ASSERT_TRUE(mg_session_context(f->s, id1) == c1);
	ASSERT_TRUE(mg_session_context(f->s, id2) == c2);
	ASSERT_PTR_NULL(mg_session_context(f->s, 0));
	ASSERT_PTR_NULL(mg_session_context(f->s, id2 + 100));
	ASSERT_PTR_NOT_NULL(mg_context_on_disconnect(f, c1, on_lost, &l1));
	ASSERT_PTR_NOT_NULL(mg_context_on_disconnect(f, c2, on_lost, &l2));
	ASSERT_TRUE(echoes(f, c2));
	ASSERT_INT_EQ(mg_context_disconnect(c1), 0);
	ASSERT_TRUE(run_until(f->loop, fired, &l1, 5000));
	ASSERT_TRUE(run_until(f->loop, fired, &l2, 5000));
	ASSERT_TRUE(mg_context_gone(c1) && mg_context_gone(c2));
	ASSERT_STR_EQ(l1.reason, "local: disconnected");
	ASSERT_STR_EQ(l2.reason, "local/local: connection to local lost");
	ASSERT_PTR_NULL(mg_session_context(f->s, id1));
	ASSERT_PTR_NULL(mg_session_context(f->s, id2));
	ASSERT_TRUE(pid_gone(f, pid1));
	ASSERT_TRUE(pid_gone(f, pid2));
	ASSERT_INT_EQ(mg_context_disconnect(c1), 0);
	again = fx_connect(f, "local/local");
	ASSERT_PTR_NOT_NULL(again);
	ASSERT_INT_NE(mg_context_id(again), id2);
	ASSERT_TRUE(echoes(f, again));
	ASSERT_INT_EQ(l1.n, 1);
	ASSERT_INT_EQ(l2.n, 1);
	talloc_free(l1.reason);
	talloc_free(l2.reason);
	talloc_free(f);
}
ISOLATED(test_disconnect)

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
	/* A connect not started yet when the session is shut down is
	 * cancelled, and starts nothing. */
	{
		struct mg_chain_list *chains = NULL;
		char *err = NULL;

		f->done = false;
		ASSERT_INT_EQ(mg_chain_parse(f, "local?remote_name=late", &chains, &err), 0);
		ASSERT_INT_EQ(mg_connect(f, f->s, &chains->chains[0], NULL, on_connect, f, &err), 0);
		ASSERT_INT_EQ(mg_session_shutdown(f->s, 10000), 0);
		ASSERT_TRUE(run_until(f->loop, connected, f, 1000));
		ASSERT_INT_EQ(f->err, MG_ERR_CANCELLED);
		ASSERT_STR_EQ(f->errmsg, "the session was shut down");
		ASSERT_TRUE(!mg_loop_alive(f->loop));
	}
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

/* --- passwords, asked without blocking the loop --- */

struct answer {
	int n;
	char *line;
	char *err;
};

static void on_answer(void *data, const char *line, const char *err)
{
	struct answer *a = data;

	a->n++;
	a->line = line != NULL ? talloc_strdup(NULL, line) : NULL;
	a->err = err != NULL ? talloc_strdup(NULL, err) : NULL;
}

static bool answered(void *arg)
{
	return ((struct answer *)arg)->n > 0;
}

/* A pseudo-terminal: *_master for the test, the path of the other end. */
static char *pty_open(TALLOC_CTX *ctx, int *_master)
{
	int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);

	if (m < 0 || grantpt(m) != 0 || unlockpt(m) != 0) {
		return NULL;
	}
	*_master = m;
	return talloc_strdup(ctx, ptsname(m));
}

static bool echo_on(const char *path)
{
	struct termios t;
	int fd = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC);
	bool on = fd >= 0 && tcgetattr(fd, &t) == 0 && (t.c_lflag & ECHO) != 0;

	if (fd >= 0) {
		close(fd);
	}
	return on;
}

/* Read what the prompt wrote, waiting up to a second. */
static ssize_t pty_read(int m, char *buf, size_t cap)
{
	for (int i = 0; i < 100; i++) {
		ssize_t n = read(m, buf, cap - 1);
		if (n > 0) {
			buf[n] = '\0';
			return n;
		}
		usleep(10000);
	}
	return -1;
}

static void test_tty_prompt_body(void)
{
	TALLOC_CTX *ctx = talloc_new(NULL);
	struct mg_loop *loop = mg_loop_new(ctx);
	struct mg_tty_prompt *p = NULL;
	struct answer a = { 0 };
	char *err = NULL, buf[256];
	int m = -1;
	char *path = pty_open(ctx, &m);

	ASSERT_PTR_NOT_NULL(loop);
	ASSERT_PTR_NOT_NULL(path);
	fcntl(m, F_SETFL, O_NONBLOCK);
	ASSERT_TRUE(echo_on(path));
	ASSERT_INT_EQ(mg__tty_prompt_start(ctx, loop, path, "[x] password: ", on_answer, &a, &p, &err), 0);
	ASSERT_INT_EQ(a.n, 0);
	ASSERT_TRUE(pty_read(m, buf, sizeof(buf)) > 0);
	ASSERT_STR_EQ(buf, "[x] password: ");
	ASSERT_TRUE(!echo_on(path));
	/* The loop runs on while nothing is typed: a timer fires meanwhile. */
	run_until(loop, NULL, NULL, 100);
	ASSERT_INT_EQ(a.n, 0);
	ASSERT_INT_EQ(write(m, "s3 cret\r\n", 9), 9);
	ASSERT_TRUE(run_until(loop, answered, &a, 2000));
	ASSERT_STR_EQ(a.line, "s3 cret");
	ASSERT_PTR_NULL(a.err);
	ASSERT_TRUE(echo_on(path));
	/* The newline the Enter did not echo. */
	ASSERT_TRUE(pty_read(m, buf, sizeof(buf)) > 0);
	ASSERT_STR_CONTAINS(buf, "\n");
	talloc_free(a.line);
	talloc_free(p);

	/* Freed mid-prompt: the terminal is as it was, fn never called. */
	a.n = 0;
	ASSERT_INT_EQ(mg__tty_prompt_start(ctx, loop, path, "again: ", on_answer, &a, &p, &err), 0);
	ASSERT_TRUE(!echo_on(path));
	talloc_free(p);
	ASSERT_TRUE(echo_on(path));
	run_until(loop, NULL, NULL, 50);
	ASSERT_INT_EQ(a.n, 0);

	/* No terminal: said at once. */
	ASSERT_INT_EQ(mg__tty_prompt_start(ctx, loop, "/nonexistent/tty", "x", on_answer, &a, &p, &err),
		      -ENXIO);
	ASSERT_STR_CONTAINS(err, "there is no terminal to ask on");
	close(m);
	talloc_free(ctx);
}
ISOLATED(test_tty_prompt)

/* A doas that asks on its terminal, as OpenDoas does, for "s3cret". */
static const char stub_doas[] =
	"#!/bin/sh\n"
	"[ \"$1\" = -u ] && [ \"$3\" = -- ] || exit 2\n"
	"shift 3\n"
	"stty -echo </dev/tty\n"
	"printf 'doas (%s@host) password: ' \"$(id -un)\" >/dev/tty\n"
	"IFS= read -r pw </dev/tty\n"
	"stty echo </dev/tty\n"
	"printf '\\n' >/dev/tty\n"
	"[ \"$pw\" = s3cret ] || { echo 'doas: Authorization failed' >&2; exit 1; }\n"
	"exec \"$@\"\n";

struct pwfx {
	struct fx *f;
	char dir[64];
	char *doas;             /* the stub's path, escaped for a chain */
	int n_asked;
	char *hops;             /* the hop texts asked for, in order */
	struct mg_password_request *pending;
	const char *answer;     /* NULL: keep the request pending */
};

static int pwfx_destructor(struct pwfx *p)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", p->dir);
	if (system(cmd) != 0) {
		printf("# cannot remove %s\n", p->dir);
	}
	return 0;
}

static struct pwfx *pwfx_new(void)
{
	struct pwfx *p = talloc_zero(NULL, struct pwfx);
	char *path;
	int fd;

	if (p == NULL) {
		return NULL;
	}
	snprintf(p->dir, sizeof(p->dir), "/tmp/mg-pw-XXXXXX");
	if (mkdtemp(p->dir) == NULL) {
		talloc_free(p);
		return NULL;
	}
	talloc_set_destructor(p, pwfx_destructor);
	path = talloc_asprintf(p, "%s/doas", p->dir);
	fd = path != NULL ? open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0755) : -1;
	if (fd < 0 || write(fd, stub_doas, sizeof(stub_doas) - 1) != (ssize_t)sizeof(stub_doas) - 1) {
		talloc_free(p);
		return NULL;
	}
	close(fd);
	/* In a chain, '/' in an option value is written %2F. */
	p->doas = talloc_strdup(p, "");
	for (const char *c = path; *c != '\0' && p->doas != NULL; c++) {
		p->doas = *c == '/' ? talloc_strdup_append(p->doas, "%2F")
				    : talloc_asprintf_append(p->doas, "%c", *c);
	}
	p->hops = talloc_strdup(p, "");
	p->f = fx_new();
	if (p->f == NULL) {
		talloc_free(p);
		return NULL;
	}
	talloc_steal(p, p->f);
	return p;
}

static void program_asks(struct mg_password_request *req, void *data)
{
	struct pwfx *p = data;

	p->n_asked++;
	p->hops = talloc_asprintf_append(p->hops, "%s;", mg_password_request_hop(req));
	if (p->answer != NULL) {
		mg_password_reply(req, p->answer);
	} else {
		p->pending = req;
	}
}

/* Start connecting 'text' (one chain); *_done set by the callback. */
struct started {
	bool done;
	int err;
	char *errmsg;
	struct mg_context *ctx;
};

static void on_started(struct mg_context *ctx, int err, const char *errmsg, void *data)
{
	struct started *st = data;

	st->done = true;
	st->err = err;
	st->ctx = ctx;
	st->errmsg = errmsg != NULL ? talloc_strdup(st, errmsg) : NULL;
}

static bool started_done(void *arg)
{
	return ((struct started *)arg)->done;
}

static struct started *start(struct pwfx *p, const char *fmt)
{
	struct started *st = talloc_zero(p, struct started);
	char *text = talloc_asprintf(st, fmt, p->doas);
	struct mg_chain_list *chains = NULL;
	char *err = NULL;

	if (st == NULL || text == NULL || mg_chain_parse(st, text, &chains, &err) != 0 ||
	    mg_connect(st, p->f->s, &chains->chains[0], NULL, on_started, st, &err) != 0) {
		printf("# %s: %s\n", text, err != NULL ? err : "?");
		return NULL;
	}
	return st;
}

static bool has_pending(void *arg)
{
	return ((struct pwfx *)arg)->pending != NULL;
}

/* The program answers: first and later hops, one request at a time,
 * answers shared and cached by hop text. */
static void test_password_fn_body(void)
{
	struct pwfx *p = pwfx_new();
	struct started *a, *b, *c, *d;
	struct mg_password_request *req;

	ASSERT_PTR_NOT_NULL(p);
	mg_session_set_password_fn(p->f->s, program_asks, p);
	/* Two hops at once: one request shown, the other waits. */
	a = start(p, "doas:alice?doas_path=%s");
	b = start(p, "local/doas:bob?doas_path=%s");
	ASSERT_TRUE(a != NULL && b != NULL);
	ASSERT_TRUE(run_until(p->f->loop, has_pending, p, 10000));
	run_until(p->f->loop, NULL, NULL, 300);
	ASSERT_INT_EQ(p->n_asked, 1);
	ASSERT_TRUE(!a->done && !b->done);
	ASSERT_STR_CONTAINS(mg_password_request_prompt(p->pending), "password: ");
	/* Answered later, from the loop's point of view. */
	req = p->pending;
	p->pending = NULL;
	ASSERT_INT_EQ(mg_password_reply(req, "s3cret"), 0);
	ASSERT_TRUE(run_until(p->f->loop, has_pending, p, 10000));
	ASSERT_INT_EQ(p->n_asked, 2);
	req = p->pending;
	p->pending = NULL;
	ASSERT_INT_EQ(mg_password_reply(req, "s3cret"), 0);
	ASSERT_TRUE(run_until(p->f->loop, started_done, a, 10000));
	ASSERT_TRUE(run_until(p->f->loop, started_done, b, 10000));
	ASSERT_INT_EQ(a->err, 0);
	ASSERT_INT_EQ(b->err, 0);
	ASSERT_TRUE(echoes(p->f, a->ctx));
	ASSERT_TRUE(echoes(p->f, b->ctx));
	/* The same hop text again, first or later hop: from the cache. */
	c = start(p, "local?remote_name=x/doas:alice?doas_path=%s");
	ASSERT_PTR_NOT_NULL(c);
	ASSERT_TRUE(run_until(p->f->loop, started_done, c, 10000));
	ASSERT_INT_EQ(c->err, 0);
	ASSERT_INT_EQ(p->n_asked, 2);
	/* Refused by the program: the hop says so. */
	d = start(p, "doas:carol?doas_path=%s");
	ASSERT_PTR_NOT_NULL(d);
	ASSERT_TRUE(run_until(p->f->loop, has_pending, p, 10000));
	mg_password_fail(p->pending, "not today");
	p->pending = NULL;
	ASSERT_TRUE(run_until(p->f->loop, started_done, d, 10000));
	ASSERT_INT_EQ(d->err, MG_ERR_PASSWORD);
	ASSERT_STR_CONTAINS(d->errmsg, "doas password is required (not today)");
	/* A later hop refused: the same code, through the agent's reply. */
	d = start(p, "local/doas:dave?doas_path=%s");
	ASSERT_PTR_NOT_NULL(d);
	ASSERT_TRUE(run_until(p->f->loop, has_pending, p, 10000));
	mg_password_fail(p->pending, "not now");
	p->pending = NULL;
	ASSERT_TRUE(run_until(p->f->loop, started_done, d, 10000));
	ASSERT_INT_EQ(d->err, MG_ERR_PASSWORD);
	ASSERT_STR_CONTAINS(d->errmsg, "doas password is required (not now)");
	ASSERT_INT_EQ(p->n_asked, 4);
	/* Each once; alice and bob in the order their prompts came. */
	{
		const char *first = strncmp(p->hops, "doas:alice", 10) == 0 ? "alice" : "bob";
		const char *second = first[0] == 'a' ? "bob" : "alice";

		ASSERT_STR_EQ(p->hops, talloc_asprintf(p, "doas:%s?doas_path=%s;doas:%s?doas_path=%s;"
						       "doas:carol?doas_path=%s;doas:dave?doas_path=%s;",
						       first, p->doas, second, p->doas, p->doas,
						       p->doas));
	}
	talloc_free(p);
}
ISOLATED(test_password_fn)

/* The terminal: the prompt shows there, the loop runs meanwhile, and a
 * session freed mid-prompt leaves the terminal as it was. */
static void test_password_tty_body(void)
{
	struct pwfx *p = pwfx_new();
	struct started *a;
	char buf[512];
	int m = -1;
	char *path = p != NULL ? pty_open(p, &m) : NULL;

	ASSERT_PTR_NOT_NULL(path);
	fcntl(m, F_SETFL, O_NONBLOCK);
	mg__pw_asker_set_tty(mg__session_pw_asker(p->f->s), path);
	a = start(p, "local/doas:alice?doas_path=%s");
	ASSERT_PTR_NOT_NULL(a);
	for (int i = 0; i < 200 && echo_on(path); i++) {
		run_until(p->f->loop, NULL, NULL, 50);
	}
	ASSERT_TRUE(!echo_on(path));
	ASSERT_TRUE(pty_read(m, buf, sizeof(buf)) > 0);
	ASSERT_STR_CONTAINS(buf, "[doas:alice");
	ASSERT_STR_CONTAINS(buf, " on local] password: ");
	ASSERT_INT_EQ(write(m, "s3cret\n", 7), 7);
	ASSERT_TRUE(run_until(p->f->loop, started_done, a, 10000));
	ASSERT_INT_EQ(a->err, 0);
	ASSERT_TRUE(echo_on(path));
	ASSERT_TRUE(echoes(p->f, a->ctx));
	/* Another prompt, and the session freed while it shows. */
	a = start(p, "doas:bob?doas_path=%s");
	ASSERT_PTR_NOT_NULL(a);
	for (int i = 0; i < 200 && echo_on(path); i++) {
		run_until(p->f->loop, NULL, NULL, 50);
	}
	ASSERT_TRUE(!echo_on(path));
	TALLOC_FREE(p->f);
	ASSERT_TRUE(echo_on(path));
	close(m);
	talloc_free(p);
}
ISOLATED(test_password_tty)

/* Connects begun before a hop went fail with it, without a new try
 * each; one begun after it tries again. */
static void test_gone_before_after_body(void)
{
	struct pwfx *p = pwfx_new();
	struct started *x, *y, *z, *again;
	char *fail, *count, *esc, *text;
	FILE *fp;
	int fd, n;

	ASSERT_PTR_NOT_NULL(p);
	count = talloc_asprintf(p, "%s/count", p->dir);
	fail = talloc_asprintf(p, "%s/fail", p->dir);
	fd = open(fail, O_WRONLY | O_CREAT | O_CLOEXEC, 0755);
	ASSERT_TRUE(fd >= 0);
	text = talloc_asprintf(p, "#!/bin/sh\necho x >>'%s'\nexit 1\n", count);
	ASSERT_INT_EQ(write(fd, text, strlen(text)), strlen(text));
	close(fd);
	esc = talloc_strdup(p, "");
	for (const char *c = fail; *c != '\0'; c++) {
		esc = *c == '/' ? talloc_strdup_append(esc, "%2F") : talloc_asprintf_append(esc, "%c", *c);
	}
	/* One hop at a time under each parent: y and z wait for a place
	 * under "local" while x connects, then y starts the failing hop and
	 * z finds it gone. */
	mg_session_set_fanout(p->f->s, 1);
	ASSERT_PTR_NOT_NULL(fx_connect(p->f, "local"));
	x = start(p, "local/local?remote_name=x");
	p->doas = esc;
	y = start(p, "local/doas:z?doas_path=%s");
	z = start(p, "local/doas:z?doas_path=%s");
	ASSERT_TRUE(x != NULL && y != NULL && z != NULL);
	ASSERT_TRUE(run_until(p->f->loop, started_done, z, 10000));
	ASSERT_TRUE(run_until(p->f->loop, started_done, y, 10000));
	ASSERT_INT_EQ(x->err, 0);
	ASSERT_INT_EQ(y->err, MG_ERR_BOOT);
	ASSERT_INT_EQ(z->err, MG_ERR_BOOT);
	ASSERT_STR_EQ(y->errmsg, z->errmsg);
	fp = fopen(count, "r");
	ASSERT_PTR_NOT_NULL(fp);
	for (n = 0; fgetc(fp) == 'x'; n++) {
		fgetc(fp);
	}
	fclose(fp);
	ASSERT_INT_EQ(n, 1);
	/* A connect after the failure tries again. */
	again = start(p, "local/doas:z?doas_path=%s");
	ASSERT_PTR_NOT_NULL(again);
	ASSERT_TRUE(run_until(p->f->loop, started_done, again, 10000));
	ASSERT_INT_EQ(again->err, MG_ERR_BOOT);
	fp = fopen(count, "r");
	ASSERT_PTR_NOT_NULL(fp);
	for (n = 0; fgetc(fp) == 'x'; n++) {
		fgetc(fp);
	}
	fclose(fp);
	ASSERT_INT_EQ(n, 2);
	talloc_free(p);
}
ISOLATED(test_gone_before_after)

/* A command running at a context shut down is stopped with it. */
struct cmd {
	char out[64];
	size_t n;
	bool ended;
	int err;
	int status;
};

static void cmd_sink(void *data, int stream, const uint8_t *p, size_t n)
{
	struct cmd *c = data;

	if (stream == 1 && c->n + n < sizeof(c->out)) {
		memcpy(c->out + c->n, p, n);
		c->n += n;
	}
}

static void cmd_done(struct mg_exec *e, const struct mg_exec_result *res, void *data)
{
	struct cmd *c = data;

	c->ended = true;
	c->err = res->err;
	c->status = res->wait_status;
}

static bool cmd_started(void *arg)
{
	return memchr(((struct cmd *)arg)->out, '\n', ((struct cmd *)arg)->n) != NULL;
}

static bool cmd_ended(void *arg)
{
	return ((struct cmd *)arg)->ended;
}

static void test_shutdown_stops_commands_body(void)
{
	struct fx *f = fx_new();
	const char *argv[] = { "echo $$; exec sleep 100", NULL };
	struct mg_exec_opts o = {
		.argv = argv, .shell = true, .posix_sh = true,
		.stdin_fd = -1, .stdout_fd = -1, .stderr_fd = -1,
	};
	struct cmd c = { 0 };
	struct mg_context *c2;
	pid_t sleeper;

	ASSERT_PTR_NOT_NULL(f);
	c2 = fx_connect(f, "local/local");
	ASSERT_PTR_NOT_NULL(c2);
	o.sink = cmd_sink;
	o.sink_data = &c;
	ASSERT_PTR_NOT_NULL(mg_exec_start(f, c2, &o, cmd_done, &c));
	ASSERT_TRUE(run_until(f->loop, cmd_started, &c, 10000));
	sleeper = (pid_t)atoi(c.out);
	ASSERT_TRUE(sleeper > 0);
	ASSERT_INT_EQ(kill(sleeper, 0), 0);
	ASSERT_INT_EQ(mg_context_shutdown_wait(c2, 10000), 0);
	ASSERT_TRUE(run_until(f->loop, cmd_ended, &c, 5000));
	/* Signalled by its agent (or lost with it), not ended by itself. */
	ASSERT_TRUE(c.err != 0 || (WIFSIGNALED(c.status) && WTERMSIG(c.status) == SIGTERM));
	ASSERT_TRUE(pid_gone(f, sleeper));
	ASSERT_TRUE(pid_gone(f, mg_context_pid(c2)));
	ASSERT_TRUE(echoes(f, mg_context_parent(c2)));
	talloc_free(f);
}
ISOLATED(test_shutdown_stops_commands)

/* A command that failed (could not start, or its context lost) gives the
 * caller's output fds back as they were by its callback: the library
 * made their shared open file non-blocking while it waited on them, and
 * a program printing the error there must not find it so. */
struct flags_seen {
	int fd;
	int flags;		/* the fd's flags in the callback */
	int err;
	bool ended;
};

static void flags_done(struct mg_exec *e, const struct mg_exec_result *res, void *data)
{
	struct flags_seen *fs = data;

	fs->ended = true;
	fs->err = res->err;
	fs->flags = fcntl(fs->fd, F_GETFL);
}

static bool flags_ended(void *arg)
{
	return ((struct flags_seen *)arg)->ended;
}

static bool readable(void *arg)
{
	struct pollfd pfd = { .fd = *(int *)arg, .events = POLLIN };

	return poll(&pfd, 1, 0) == 1;
}

static void test_failed_exec_fds_body(void)
{
	struct fx *f = fx_new();
	const char *missing[] = { "/nonexistent/mg-test", NULL };
	const char *sleeper[] = { "echo up; exec sleep 100", NULL };
	struct mg_exec_opts o = { .stdin_fd = -1 };
	struct flags_seen fs = { 0 };
	struct mg_context *c2;
	int p[2];

	ASSERT_PTR_NOT_NULL(f);
	ASSERT_INT_EQ(pipe2(p, O_CLOEXEC), 0);
	c2 = fx_connect(f, "local/local");
	ASSERT_PTR_NOT_NULL(c2);
	o.stdout_fd = o.stderr_fd = fs.fd = p[1];
	/* Could not start: MG_ERR_DEAD. */
	o.argv = missing;
	ASSERT_PTR_NOT_NULL(mg_exec_start(f, c2, &o, flags_done, &fs));
	ASSERT_TRUE(run_until(f->loop, flags_ended, &fs, 10000));
	ASSERT_INT_EQ(fs.err, MG_ERR_DEAD);
	ASSERT_INT_EQ(fs.flags & O_NONBLOCK, 0);
	/* Lost with its context: MG_ERR_DISCONNECTED. */
	memset(&fs, 0, sizeof(fs));
	fs.fd = p[1];
	o.argv = sleeper;
	o.shell = true;
	ASSERT_PTR_NOT_NULL(mg_exec_start(f, c2, &o, flags_done, &fs));
	ASSERT_TRUE(run_until(f->loop, readable, &p[0], 10000));
	ASSERT_INT_EQ(mg_context_disconnect(mg_context_parent(c2)), 0);
	ASSERT_TRUE(run_until(f->loop, flags_ended, &fs, 10000));
	ASSERT_INT_NE(fs.err, 0);
	ASSERT_INT_EQ(fs.flags & O_NONBLOCK, 0);
	close(p[0]);
	close(p[1]);
	talloc_free(f);
}
ISOLATED(test_failed_exec_fds)

static void keep_result(struct mg_exec *e, const struct mg_exec_result *res, void *data)
{
	struct mg_exec_result *r = data;

	*r = *res;
	r->errmsg = NULL;
	r->exec_errno = r->exec_errno != 0 ? r->exec_errno : -1;	/* ended */
}

static bool result_in(void *arg)
{
	return ((struct mg_exec_result *)arg)->exec_errno != 0;
}

/* An output fd whose reader is gone is a write error the callback hears
 * (write_err -EPIPE), not a SIGPIPE that ends a program which left the
 * signal at its default; a SIGPIPE of the program's own stays pending. */
static void test_exec_epipe_body(void)
{
	struct fx *f = fx_new();
	const char *argv[] = { "yes | head -c 200000", NULL };
	struct mg_exec_opts o = { .argv = argv, .shell = true, .posix_sh = true, .stdin_fd = -1 };
	struct mg_exec_result *res;
	struct flags_seen fs = { 0 };
	struct mg_exec *e;
	sigset_t pipe_only, pending;
	int p[2];

	ASSERT_PTR_NOT_NULL(f);
	ASSERT_PTR_NOT_NULL(fx_connect(f, "local"));
	ASSERT_TRUE(signal(SIGPIPE, SIG_DFL) != SIG_ERR);
	ASSERT_INT_EQ(pipe2(p, O_CLOEXEC), 0);
	close(p[0]);
	o.stdout_fd = o.stderr_fd = fs.fd = p[1];
	res = talloc_zero(f, struct mg_exec_result);
	ASSERT_PTR_NOT_NULL(res);
	e = mg_exec_start(f, f->ctx, &o, keep_result, res);
	ASSERT_PTR_NOT_NULL(e);
	ASSERT_TRUE(run_until(f->loop, result_in, res, 10000));
	ASSERT_INT_EQ(res->err, 0);
	ASSERT_INT_EQ(res->write_err, -EPIPE);
	ASSERT_INT_EQ(res->write_stream, 1);
	/* Blocked by the program: its own SIGPIPE is not taken from it. */
	sigemptyset(&pipe_only);
	sigaddset(&pipe_only, SIGPIPE);
	ASSERT_INT_EQ(sigprocmask(SIG_BLOCK, &pipe_only, NULL), 0);
	ASSERT_INT_EQ(raise(SIGPIPE), 0);
	memset(res, 0, sizeof(*res));
	ASSERT_PTR_NOT_NULL(mg_exec_start(f, f->ctx, &o, keep_result, res));
	ASSERT_TRUE(run_until(f->loop, result_in, res, 10000));
	ASSERT_INT_EQ(res->write_err, -EPIPE);
	ASSERT_INT_EQ(sigpending(&pending), 0);
	ASSERT_TRUE(sigismember(&pending, SIGPIPE));
	close(p[1]);
	talloc_free(f);
}
ISOLATED(test_exec_epipe)

/* A session freed while its first hop still connects: the hop command is
 * killed, and reaped by the loop, which the program goes on running. */
static void test_freed_connecting_reaped_body(void)
{
	struct pwfx *p = pwfx_new();
	char *script, *pidfile, *esc, *text, buf[32] = "";
	struct started *a;
	pid_t pid = 0;
	FILE *fp;
	int fd;

	ASSERT_PTR_NOT_NULL(p);
	script = talloc_asprintf(p, "%s/hang", p->dir);
	pidfile = talloc_asprintf(p, "%s/pid", p->dir);
	text = talloc_asprintf(p, "#!/bin/sh\necho $$ >'%s'\nexec sleep 100\n", pidfile);
	fd = open(script, O_WRONLY | O_CREAT | O_CLOEXEC, 0755);
	ASSERT_TRUE(fd >= 0);
	ASSERT_INT_EQ(write(fd, text, strlen(text)), strlen(text));
	close(fd);
	esc = talloc_strdup(p, "");
	for (const char *c = script; *c != '\0'; c++) {
		/* start() reads the text as a format: %% for a %. */
		esc = *c == '/' ? talloc_strdup_append(esc, "%%2F") : talloc_asprintf_append(esc, "%c", *c);
	}
	a = start(p, talloc_asprintf(p, "ssh:h?ssh_path=%s", esc));
	ASSERT_PTR_NOT_NULL(a);
	for (int i = 0; i < 1000 && buf[0] == '\0'; i++) {
		run_until(p->f->loop, NULL, NULL, 10);
		fp = fopen(pidfile, "r");
		if (fp != NULL) {
			if (fgets(buf, sizeof(buf), fp) == NULL || strchr(buf, '\n') == NULL) {
				buf[0] = '\0';
			}
			fclose(fp);
		}
	}
	pid = (pid_t)atoi(buf);
	ASSERT_TRUE(pid > 0);
	ASSERT_TRUE(!a->done);
	TALLOC_FREE(p->f->s);
	/* Gone, not a zombie (kill(pid, 0) still finds those). */
	ASSERT_TRUE(pid_gone(p->f, pid));
	talloc_free(p);
}
ISOLATED(test_freed_connecting_reaped)

/* The dead message's reason when ctx refuses a call, or "". */
static char *call_refusal(struct fx *f, struct mg_context *ctx)
{
	struct mg_message *reply = NULL;
	char *why;

	if (mg_context_call(f, ctx, "echo", "ping", 4, 5000, &reply) != MG_ERR_CALL) {
		talloc_free(reply);
		return talloc_strdup(f, "");
	}
	why = talloc_strdup(f, mg_message_data(reply, NULL));
	talloc_free(reply);
	return why;
}

/* exec_only: a first hop that ends its chain alone gets the exec-only
 * agent, which runs commands but refuses calls and further hops; one
 * that another chain given before the loop goes through gets the whole
 * agent; MITOGEN_AGENT_LITE set but empty turns it off. */
static void test_exec_only_body(void)
{
	const struct mg_connect_opts eo = { .exec_only = true };
	const char *argv[] = { "echo ran", NULL };
	struct mg_exec_opts o = {
		.argv = argv, .shell = true, .posix_sh = true,
		.stdin_fd = -1, .stdout_fd = -1, .stderr_fd = -1,
	};
	struct cmd c = { 0 };
	struct fx *f = fx_new(), *first;
	struct mg_context *leaf;
	struct mg_chain_list *chains = NULL;
	char *err = NULL;

	ASSERT_PTR_NOT_NULL(f);
	unsetenv("MITOGEN_AGENT_LITE");
	leaf = fx_connect_opts(f, "local?first_stage=1", &eo);
	ASSERT_PTR_NOT_NULL(leaf);
	o.sink = cmd_sink;
	o.sink_data = &c;
	ASSERT_PTR_NOT_NULL(mg_exec_start(f, leaf, &o, cmd_done, &c));
	ASSERT_TRUE(run_until(f->loop, cmd_ended, &c, 10000));
	ASSERT_INT_EQ(c.err, 0);
	ASSERT_TRUE(c.n == 4 && memcmp(c.out, "ran\n", 4) == 0);
	ASSERT_STR_CONTAINS(call_refusal(f, leaf), "exec-only agent");
	/* A chain through it, given once it is up: refused, cleanly. */
	ASSERT_PTR_NULL(fx_connect(f, "local?first_stage=1/local"));
	ASSERT_INT_EQ(f->err, MG_ERR_POLICY);
	ASSERT_STR_CONTAINS(f->errmsg, "exec-only agent");
	talloc_free(f);

	/* Both chains given before the loop runs: the shared hop gets the
	 * whole agent, and the chain through it connects. */
	f = fx_new();
	ASSERT_PTR_NOT_NULL(f);
	first = talloc_zero(f, struct fx);
	ASSERT_PTR_NOT_NULL(first);
	ASSERT_INT_EQ(mg_chain_parse(f, "local?first_stage=1", &chains, &err), 0);
	ASSERT_INT_EQ(mg_connect(f, f->s, &chains->chains[0], &eo, on_connect, first, &err), 0);
	leaf = fx_connect_opts(f, "local?first_stage=1/local", &eo);
	ASSERT_PTR_NOT_NULL(leaf);
	ASSERT_TRUE(run_until(f->loop, connected, first, 20000));
	ASSERT_INT_EQ(first->err, 0);
	ASSERT_TRUE(first->ctx == mg_context_parent(leaf));
	ASSERT_STR_EQ(call_refusal(f, first->ctx), "");
	talloc_free(f);

	/* Turned off: the whole agent, which serves calls. */
	f = fx_new();
	ASSERT_PTR_NOT_NULL(f);
	setenv("MITOGEN_AGENT_LITE", "", 1);
	leaf = fx_connect_opts(f, "local?first_stage=1", &eo);
	unsetenv("MITOGEN_AGENT_LITE");
	ASSERT_PTR_NOT_NULL(leaf);
	ASSERT_TRUE(echoes(f, leaf));
	talloc_free(f);
}
ISOLATED(test_exec_only)

/* A chain given without exec_only that ends at the same first hop, before
 * the loop runs, gets that hop the whole agent, whichever chain starts it:
 * its caller never promised to only run commands there. */
static void test_exec_only_plain_end_body(void)
{
	const struct mg_connect_opts eo = { .exec_only = true };
	struct fx *f = fx_new(), *first;
	struct mg_context *plain;
	struct mg_chain_list *chains = NULL;
	char *err = NULL;

	ASSERT_PTR_NOT_NULL(f);
	unsetenv("MITOGEN_AGENT_LITE");
	first = talloc_zero(f, struct fx);
	ASSERT_PTR_NOT_NULL(first);
	ASSERT_INT_EQ(mg_chain_parse(f, "local?first_stage=1", &chains, &err), 0);
	ASSERT_INT_EQ(mg_connect(f, f->s, &chains->chains[0], &eo, on_connect, first, &err), 0);
	plain = fx_connect(f, "local?first_stage=1");
	ASSERT_PTR_NOT_NULL(plain);
	ASSERT_TRUE(run_until(f->loop, connected, first, 20000));
	ASSERT_TRUE(first->ctx == plain);
	ASSERT_TRUE(echoes(f, plain));
	talloc_free(f);
}
ISOLATED(test_exec_only_plain_end)

/* A fork first hop runs this process's own (whole) agent code: nothing
 * is pushed, so it is never taken for exec-only, and a chain given later
 * may go through it. */
static void test_exec_only_fork_body(void)
{
	const struct mg_connect_opts eo = { .exec_only = true };
	struct fx *f = fx_new();
	struct mg_context *top, *below;

	ASSERT_PTR_NOT_NULL(f);
	unsetenv("MITOGEN_AGENT_LITE");
	top = fx_connect_opts(f, "fork", &eo);
	ASSERT_PTR_NOT_NULL(top);
	below = fx_connect(f, "fork/local");
	if (below == NULL) {
		printf("# fork/local: %s\n", f->errmsg != NULL ? f->errmsg : "?");
	}
	ASSERT_PTR_NOT_NULL(below);
	ASSERT_TRUE(mg_context_parent(below) == top);
	talloc_free(f);
}
ISOLATED(test_exec_only_fork)

/*
 * sudo in an ssh hop's command (PROTOCOL 2.3.3), the ssh hop being a
 * stand-in that runs its command here: a fixture when this process may
 * use sudo -n to root and the exec-only agent is small enough to ride in
 * a command; NULL (and a note) otherwise. *_hop is the ssh hop's text,
 * *_dir the stand-in's directory, on the fixture.
 */
static struct fx *fused_fx(char **_hop, char **_dir)
{
	const char *agent = getenv("MITOGEN_AGENT");
	char *lite, *dir, *script, *esc;
	struct stat st;
	struct fx *f;
	FILE *fp;

	if (agent == NULL || getuid() != 0 || system("sudo -n true >/dev/null 2>&1") != 0) {
		printf("# skip: needs root and sudo\n");
		return NULL;
	}
	lite = talloc_asprintf(NULL, "%s-lite", agent);
	if (stat(lite, &st) != 0 || st.st_size > 100000) {
		printf("# skip: no exec-only agent that fits in a command at %s\n", lite);
		talloc_free(lite);
		return NULL;
	}
	talloc_free(lite);
	unsetenv("MITOGEN_AGENT_LITE");
	f = fx_new();
	dir = f != NULL ? talloc_strdup(f, "/tmp/mg-test-fuse.XXXXXX") : NULL;
	if (dir == NULL || mkdtemp(dir) == NULL) {
		talloc_free(f);
		return NULL;
	}
	script = talloc_asprintf(f, "%s/ssh", dir);
	fp = fopen(script, "w");
	if (fp == NULL) {
		talloc_free(f);
		return NULL;
	}
	/* ssh's last word is the remote command: run it here. */
	fputs("#!/bin/sh\nfor last; do :; done\nexec /bin/sh -c \"$last\"\n", fp);
	fclose(fp);
	chmod(script, 0755);
	esc = talloc_strdup(f, "");
	for (const char *c = script; *c != '\0'; c++) {
		esc = *c == '/' ? talloc_strdup_append(esc, "%2F") : talloc_asprintf_append(esc, "%c", *c);
	}
	*_hop = talloc_asprintf(f, "ssh:h?ssh_path=%s", esc);
	*_dir = dir;
	return f;
}

static void on_start_shut(struct mg_context *ctx, int err, const char *errmsg, void *data)
{
	if (err == 0) {
		mg_context_shutdown(ctx);
	}
}

/* A chain given once the fused ssh hop is being connected, that needs
 * that hop's own agent, fails by policy, as one given once it is up does:
 * it had waited on the hop and was handed it, with no agent there. And a
 * sudo hop shut down while its ssh hop connected is not said up. */
static void test_fused_later_body(void)
{
	struct mg_connect_opts eo = { .exec_only = true, .on_start = on_start_shut };
	struct mg_chain_list *chains = NULL;
	struct fx *f, *sudo, *alone;
	char *hop = NULL, *dir = NULL, *err = NULL, *text, *rm;

	f = fused_fx(&hop, &dir);
	if (f == NULL) {
		return;
	}
	sudo = talloc_zero(f, struct fx);
	alone = talloc_zero(f, struct fx);
	text = talloc_asprintf(f, "%s/sudo", hop);
	ASSERT_TRUE(sudo != NULL && alone != NULL && text != NULL);
	ASSERT_INT_EQ(mg_chain_parse(f, text, &chains, &err), 0);
	ASSERT_INT_EQ(mg_connect(f, f->s, &chains->chains[0], &eo, on_connect, sudo, &err), 0);
	/* The ssh hop starts in this turn; the other chain comes after. */
	run_until(f->loop, NULL, NULL, 10);
	ASSERT_INT_EQ(mg_chain_parse(f, hop, &chains, &err), 0);
	ASSERT_INT_EQ(mg_connect(f, f->s, &chains->chains[0], NULL, on_connect, alone, &err), 0);
	ASSERT_TRUE(run_until(f->loop, connected, alone, 20000));
	ASSERT_TRUE(run_until(f->loop, connected, sudo, 20000));
	printf("# %s: %s\n", hop, alone->errmsg != NULL ? alone->errmsg : "up");
	ASSERT_INT_EQ(alone->err, MG_ERR_POLICY);
	ASSERT_STR_CONTAINS(alone->errmsg, "runs sudo in its own command");
	printf("# %s: %s\n", text, sudo->errmsg != NULL ? sudo->errmsg : "up");
	ASSERT_INT_EQ(sudo->err, MG_ERR_CANCELLED);
	rm = talloc_asprintf(NULL, "rm -rf '%s'", dir);
	talloc_free(f);
	ASSERT_INT_EQ(system(rm), 0);
	talloc_free(rm);
}
ISOLATED(test_fused_later)

int main(void)
{
	TESTS_BEGIN();
	mg_log_set_level(MG_LOG_ERROR);
	RUN(test_hello_flags);
	RUN(test_shutdown_first_hop);
	RUN(test_shutdown_second_hop);
	RUN(test_disconnect);
	RUN(test_lost_second_hop);
	RUN(test_session_shutdown);
	RUN(test_shutdown_stops_commands);
	RUN(test_failed_exec_fds);
	RUN(test_exec_epipe);
	RUN(test_wait_in_callback);
	RUN(test_tty_prompt);
	RUN(test_password_fn);
	RUN(test_password_tty);
	RUN(test_gone_before_after);
	RUN(test_freed_connecting_reaped);
	RUN(test_exec_only);
	RUN(test_exec_only_plain_end);
	RUN(test_exec_only_fork);
	RUN(test_fused_later);
	return TESTS_END();
}
