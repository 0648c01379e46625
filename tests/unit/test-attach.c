/*
 * Attached sessions (mitogen/unix.h: mg_session_serve, mg_session_attach)
 * with real agents: a client connects chains through the master's
 * session, runs commands on them with the ordinary exec API, shares the
 * hops the master has up, and is refused without privilege; when the
 * client goes, the commands it started stop.
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "loop-helpers.h"
#include "mitogen/chain.h"
#include "mitogen/context.h"
#include "mitogen/error.h"
#include "mitogen/exec.h"
#include "mitogen/log.h"
#include "mitogen/router.h"
#include "mitogen/session.h"
#include "mitogen/unix.h"

struct fx {
	struct mg_loop *loop;
	struct mg_session *s;  /* the master's */
	struct mg_session *cs; /* the client's */
	struct mg_listener *l;
	char *dir;
};

static int fx_destructor(struct fx *f)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0) {
		printf("# cannot remove %s\n", f->dir);
	}
	return 0;
}

/* A served master listening (privileged or not), and a client of it. */
static struct fx *fx_new(bool privileged)
{
	struct fx *f = talloc_zero(NULL, struct fx);
	char tmpl[] = "/tmp/mg-attach-XXXXXX";
	char *err = NULL, *path;

	if (f == NULL || mkdtemp(tmpl) == NULL) {
		talloc_free(f);
		return NULL;
	}
	f->dir = talloc_strdup(f, tmpl);
	talloc_set_destructor(f, fx_destructor);
	path = talloc_asprintf(f, "%s/sock", tmpl);
	f->loop = mg_loop_new(f);
	f->s = f->loop != NULL ? mg_session_new(f, f->loop) : NULL;
	if (f->s == NULL || mg_session_serve(f->s) != 0 ||
	    mg_listener_new(f, f->s, path, &f->l, &err) != 0) {
		printf("# setup: %s\n", err != NULL ? err : "?");
		talloc_free(f);
		return NULL;
	}
	mg_listener_set_privileged(f->l, privileged);
	if (mg_session_attach(f, f->loop, path, 0, &f->cs, &err) != 0) {
		printf("# attach: %s\n", err != NULL ? err : "?");
		talloc_free(f);
		return NULL;
	}
	return f;
}

static void fx_free(struct fx *f)
{
	TALLOC_FREE(f->cs);
	mg_session_shutdown(f->s, 5000);
	talloc_free(f);
}

struct conn_wait {
	bool done;
	int err;
	char *errmsg;
	struct mg_context *ctx;
};

static void on_connected(struct mg_context *ctx, int err, const char *errmsg, void *data)
{
	struct conn_wait *w = data;

	w->done = true;
	w->err = err;
	w->ctx = ctx;
	w->errmsg = errmsg != NULL ? talloc_strdup(NULL, errmsg) : NULL;
}

static bool conn_done(void *arg)
{
	return ((struct conn_wait *)arg)->done;
}

/* Connect 'text' in session 's'; the result in *w (errmsg: the caller's). */
static void fx_connect(struct fx *f, struct mg_session *s, const char *text, struct conn_wait *w)
{
	struct mg_chain_list *chains = NULL;
	char *err = NULL;

	memset(w, 0, sizeof(*w));
	if (mg_chain_parse(f, text, &chains, &err) != 0 ||
	    mg_connect(f, s, &chains->chains[0], NULL, on_connected, w, &err) != 0) {
		w->done = true;
		w->err = -1;
		return;
	}
	if (!run_until(f->loop, conn_done, w, 20000)) {
		w->err = MG_ERR_TIMEOUT;
	}
}

/* fx_connect for 'text' with the value of its one option set to 'value'
 * past the parser, which refuses a bad one (as a library caller's hop may
 * hold it). */
static void fx_connect_bad(struct fx *f, struct mg_session *s, const char *text,
			   const char *value, struct conn_wait *w)
{
	struct mg_chain_list *chains = NULL;
	struct mg_hop *h;
	char *err = NULL;

	memset(w, 0, sizeof(*w));
	if (mg_chain_parse(f, text, &chains, &err) != 0) {
		w->done = true;
		w->err = -1;
		return;
	}
	h = &chains->chains[0].hops[0];
	h->opts[0].value = talloc_strdup(f, value);
	h->text = talloc_asprintf(f, "%s?%s=%s", h->method, h->opts[0].key, value);
	chains->chains[0].text = h->text;
	if (mg_connect(f, s, &chains->chains[0], NULL, on_connected, w, &err) != 0) {
		w->done = true;
		w->err = -1;
		return;
	}
	if (!run_until(f->loop, conn_done, w, 20000)) {
		w->err = MG_ERR_TIMEOUT;
	}
}

struct run {
	bool done;
	struct mg_exec_result res;
	char out[256];
	size_t n;
};

static void sink(void *data, int stream, const uint8_t *p, size_t n)
{
	struct run *x = data;

	if (stream == 1 && x->n + n < sizeof(x->out)) {
		memcpy(x->out + x->n, p, n);
		x->n += n;
	}
}

static void on_done(struct mg_exec *e, const struct mg_exec_result *res, void *data)
{
	struct run *x = data;

	x->done = true;
	x->res = *res;
	x->res.errmsg = NULL;
}

static bool run_done(void *arg)
{
	return ((struct run *)arg)->done;
}

static bool has_line(void *arg)
{
	struct run *x = arg;

	return memchr(x->out, '\n', x->n) != NULL;
}

/* The exec on mem_ctx: it must not outlive the session of ctx. */
static struct mg_exec *start(TALLOC_CTX *mem_ctx, struct mg_context *ctx, const char *cmd,
			     struct run *x)
{
	const char *argv[] = { cmd, NULL };
	struct mg_exec_opts o = {
		.argv = argv, .shell = true, .posix_sh = true, .stdin_fd = -1,
		.stdout_fd = -1, .stderr_fd = -1, .sink = sink, .sink_data = x,
	};

	memset(x, 0, sizeof(*x));
	return mg_exec_start(mem_ctx, ctx, &o, on_done, x);
}

/* Through the master: the client's context is the master's, commands
 * run on it, and a second connect shares it. */
static void test_connect_and_exec_body(void)
{
	struct fx *f = fx_new(true);
	struct conn_wait w, w2;
	struct run x;

	ASSERT_PTR_NOT_NULL(f);
	ASSERT_TRUE(mg_session_attached(f->cs));
	ASSERT_TRUE(!mg_session_attached(f->s));
	fx_connect(f, f->cs, "local", &w);
	ASSERT_INT_EQ(w.err, 0);
	ASSERT_STR_EQ(mg_context_name(w.ctx), "local");
	/* The master's context, connected by the master. */
	ASSERT_PTR_NOT_NULL(mg_session_context(f->s, mg_context_id(w.ctx)));
	ASSERT_PTR_NOT_NULL(start(f->cs, w.ctx, "echo hi from $$", &x));
	ASSERT_TRUE(run_until(f->loop, run_done, &x, 10000));
	ASSERT_INT_EQ(x.res.err, 0);
	ASSERT_INT_EQ(x.res.wait_status, 0);
	ASSERT_TRUE(strncmp(x.out, "hi from ", 8) == 0);
	/* Again: the same context, no new hop. */
	fx_connect(f, f->cs, "local", &w2);
	ASSERT_INT_EQ(w2.err, 0);
	ASSERT_TRUE(w2.ctx == w.ctx);
	/* A hop below, connected by the master under the one it has. */
	fx_connect(f, f->cs, "local/local", &w2);
	ASSERT_INT_EQ(w2.err, 0);
	ASSERT_PTR_NOT_NULL(mg_session_context(f->s, mg_context_id(w2.ctx)));
	ASSERT_PTR_NOT_NULL(start(f->cs, w2.ctx, "exit 7", &x));
	ASSERT_TRUE(run_until(f->loop, run_done, &x, 10000));
	ASSERT_INT_EQ(x.res.wait_status, 7 << 8);
	/* A program: the master loads it (our path, made absolute) and
	 * its hops fetch it from the master. */
	{
		const char *argv[] = { "sh", "-c", "exit 5", NULL };
		struct mg_exec_opts o = {
			.argv = argv, .stdin_fd = -1, .stdout_fd = -1, .stderr_fd = -1,
			.sink = sink, .sink_data = &x,
		};
		char *err = NULL;

		o.program = mg_program_load(f, f->cs, "/bin/sh", &err);
		ASSERT_PTR_NOT_NULL(o.program);
		memset(&x, 0, sizeof(x));
		ASSERT_PTR_NOT_NULL(mg_exec_start(f, w2.ctx, &o, on_done, &x));
		ASSERT_TRUE(run_until(f->loop, run_done, &x, 10000));
		ASSERT_INT_EQ(x.res.wait_status, 5 << 8);
		ASSERT_PTR_NULL(mg_program_load(f, f->cs, "/nonexistent/prog", &err));
		ASSERT_STR_CONTAINS(err, "/nonexistent/prog");
	}
	talloc_free(w.errmsg);
	fx_free(f);
}
ISOLATED(test_connect_and_exec)

/* A chain that fails at the master gives the master's error (a bad value
 * past the parser is refused where the chain is read again). */
static void test_connect_errors_body(void)
{
	struct fx *f = fx_new(true);
	struct conn_wait w;

	ASSERT_PTR_NOT_NULL(f);
	fx_connect_bad(f, f->cs, "local?debug=1", "maybe", &w);
	ASSERT_INT_NE(w.err, 0);
	ASSERT_STR_CONTAINS(w.errmsg, "option debug: expected yes or no, not 'maybe'");
	talloc_free(w.errmsg);
	fx_connect_bad(f, f->cs, "local?connect_timeout=1", "-3", &w);
	ASSERT_INT_NE(w.err, 0);
	ASSERT_STR_CONTAINS(w.errmsg, "connect_timeout");
	talloc_free(w.errmsg);
	fx_free(f);
}
ISOLATED(test_connect_errors)

/* Without privilege the master's service refuses, and nothing connects. */
static void test_unprivileged_refused_body(void)
{
	struct fx *f = fx_new(false);
	struct conn_wait w;

	ASSERT_PTR_NOT_NULL(f);
	fx_connect(f, f->cs, "local", &w);
	ASSERT_INT_EQ(w.err, MG_ERR_DEAD);
	ASSERT_STR_CONTAINS(w.errmsg, "refused by policy");
	ASSERT_PTR_NULL(mg_session_context(f->s, 2));
	talloc_free(w.errmsg);
	fx_free(f);
}
ISOLATED(test_unprivileged_refused)

static void answer(struct mg_password_request *req, void *data)
{
	(*(int *)data)++;
	mg_password_reply(req, "s3cret");
}

/* A hop that prompts (tests/stubs/doas): the master asks its password
 * function once for the chain's life, whichever client connects it or a
 * hop below it, and however often. */
static void test_password_once_body(void)
{
	const char *src = getenv("MG_SRC_DIR");
	struct fx *f = fx_new(true);
	struct mg_session *cs2 = NULL;
	struct conn_wait w, w2;
	char *chain, *below;
	int asked = 0;
	struct run x;

	ASSERT_PTR_NOT_NULL(f);
	if (src == NULL) {
		printf("# MG_SRC_DIR unset: not run\n");
		fx_free(f);
		return;
	}
	setenv("MG_STUB_DOAS_PASSWORD", "s3cret", 1);
	mg_session_set_password_fn(f->s, answer, &asked);
	chain = talloc_strdup(f, "doas:nobody?doas_path=");
	for (const char *p = src; chain != NULL && *p != '\0'; p++) {
		/* '/' would end the hop: percent-encoded. */
		chain = *p == '/' ? talloc_strdup_append(chain, "%2F")
				  : talloc_asprintf_append(chain, "%c", *p);
	}
	chain = talloc_strdup_append(chain, "%2Ftests%2Fstubs%2Fdoas");
	below = talloc_asprintf(f, "%s/local", chain);
	fx_connect(f, f->cs, chain, &w);
	ASSERT_INT_EQ(w.err, 0);
	ASSERT_INT_EQ(asked, 1);
	ASSERT_INT_EQ(mg_session_attach(f, f->loop, mg_listener_path(f->l), 0, &cs2, NULL), 0);
	fx_connect(f, cs2, chain, &w2);
	ASSERT_INT_EQ(w2.err, 0);
	ASSERT_INT_EQ(mg_context_id(w2.ctx), mg_context_id(w.ctx));
	fx_connect(f, cs2, below, &w2);
	ASSERT_INT_EQ(w2.err, 0);
	ASSERT_PTR_NOT_NULL(start(cs2, w2.ctx, "echo below", &x));
	ASSERT_TRUE(run_until(f->loop, run_done, &x, 10000));
	ASSERT_STR_EQ(x.out, "below\n");
	ASSERT_INT_EQ(asked, 1);
	talloc_free(cs2);
	fx_free(f);
}
ISOLATED(test_password_once)

static bool pid_gone(void *arg)
{
	return kill(*(pid_t *)arg, 0) != 0 && errno == ESRCH;
}

/* The client goes mid-command: the far command is stopped, the hop stays
 * up for others. */
static void test_client_gone_stops_command_body(void)
{
	struct fx *f = fx_new(true);
	struct conn_wait w;
	struct run x, y;
	uint32_t id;
	pid_t pid;

	ASSERT_PTR_NOT_NULL(f);
	fx_connect(f, f->cs, "local", &w);
	ASSERT_INT_EQ(w.err, 0);
	ASSERT_PTR_NOT_NULL(start(f->cs, w.ctx, "echo $$; exec sleep 30", &x));
	ASSERT_TRUE(run_until(f->loop, has_line, &x, 10000));
	pid = (pid_t)atoi(x.out);
	ASSERT_TRUE(pid > 1);
	ASSERT_TRUE(!pid_gone(&pid));
	id = mg_context_id(w.ctx);
	TALLOC_FREE(f->cs);
	ASSERT_TRUE(run_until(f->loop, pid_gone, &pid, 5000));
	/* The master's hop is still there, and works. */
	{
		struct mg_context *mc = mg_session_context(f->s, id);
		ASSERT_PTR_NOT_NULL(mc);
		ASSERT_PTR_NOT_NULL(start(f, mc, "echo still", &y));
		ASSERT_TRUE(run_until(f->loop, run_done, &y, 10000));
		ASSERT_STR_EQ(y.out, "still\n");
	}
	fx_free(f);
}
ISOLATED(test_client_gone_stops_command)

/* The agent's word that it stops a command for a lost requester. */
struct stop_seen {
	pid_t pid;
};

static void stop_sink(enum mg_log_level level, const char *msg, void *data)
{
	struct stop_seen *st = data;
	const char *p = strstr(msg, "command ");
	int pid;

	if (p != NULL && strstr(p, "is gone: stopping it") != NULL &&
	    sscanf(p, "command %d:", &pid) == 1) {
		st->pid = pid;
	}
}

static bool stop_said(void *arg)
{
	return ((struct stop_seen *)arg)->pid > 0;
}

/*
 * The client goes before the command has said anything back (not even
 * STARTED): nothing from the hop has gone to the client through the
 * master, yet the command must stop. Before, the hop heard of the loss
 * only if it had sent the client something, so a command whose EXEC
 * crossed the client's end ran on.
 */
static void test_client_gone_before_started_body(void)
{
	struct fx *f;
	struct stop_seen st = { 0 };
	struct conn_wait w;
	struct run x;

	/* The agent's info lines come to us (HELLO gives it our level). */
	mg_log_set_level(MG_LOG_INFO);
	mg_log_set_sink(stop_sink, &st);
	f = fx_new(true);
	ASSERT_PTR_NOT_NULL(f);
	/* A first hop, and one below it (the hop between passes it on). */
	for (int i = 0; i < 2; i++) {
		st.pid = 0;
		if (f->cs == NULL) {
			ASSERT_INT_EQ(mg_session_attach(f, f->loop, mg_listener_path(f->l), 0,
							&f->cs, NULL), 0);
		}
		fx_connect(f, f->cs, i == 0 ? "local" : "local/local", &w);
		ASSERT_INT_EQ(w.err, 0);
		ASSERT_PTR_NOT_NULL(start(f->cs, w.ctx, "exec sleep 30", &x));
		/* The request is on the socket; the client goes at once. */
		TALLOC_FREE(f->cs);
		ASSERT_TRUE(run_until(f->loop, stop_said, &st, 5000));
		ASSERT_TRUE(run_until(f->loop, pid_gone, &st.pid, 5000));
	}
	fx_free(f);
	mg_log_set_sink(NULL, NULL);
}
ISOLATED(test_client_gone_before_started)

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	TESTS_BEGIN();
	RUN(test_connect_and_exec);
	RUN(test_connect_errors);
	RUN(test_unprivileged_refused);
	RUN(test_client_gone_stops_command);
	RUN(test_client_gone_before_started);
	RUN(test_password_once);
	return TESTS_END();
}
