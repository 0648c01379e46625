/*
 * What a library user may do from callbacks and in what order objects may
 * go (mitogen(3), CONVENTIONS: callbacks "may free the object they report
 * on"), with real local agents: each case frees an object from inside
 * its own callback, or frees one while work is in flight, and then runs
 * the loop on. Run under ASan, a use after free fails the case.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include "loop-helpers.h"
#include "mitogen/bcast.h"
#include "mitogen/broker.h"
#include "mitogen/connect.h"
#include "mitogen/context.h"
#include "mitogen/error.h"
#include "mitogen/exec.h"
#include "mitogen/file.h"
#include "mitogen/session.h"
#include "mitogen/unix.h"

struct fx {
	struct mg_loop *loop;
	struct mg_session *s;
	bool done;
	int err;
	char *errmsg;
	struct mg_context *ctx;
	int n;			/* callbacks counted by a case */
	struct mg_exec *e;
};

static struct fx *fx_new(void)
{
	struct fx *f = talloc_zero(NULL, struct fx);

	if (f == NULL || (f->loop = mg_loop_new(f)) == NULL ||
	    (f->s = mg_session_new(f, f->loop)) == NULL) {
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

static bool is_done(void *arg)
{
	return ((struct fx *)arg)->done;
}

static bool counted(void *arg)
{
	return ((struct fx *)arg)->n > 0;
}

/* Connect 'text' and wait: its context, or NULL. */
static struct mg_context *fx_connect(struct fx *f, const char *text)
{
	char *err = NULL;

	f->done = false;
	if (mg_connect_text(f, f->s, NULL, text, NULL, on_connect, f, &err) != 0) {
		printf("# %s: %s\n", text, err);
		return NULL;
	}
	if (!run_until(f->loop, is_done, f, 20000) || f->err != 0) {
		printf("# %s: %s\n", text, f->errmsg != NULL ? f->errmsg : "timed out");
		return NULL;
	}
	f->done = false;
	return f->ctx;
}

static void exec_done(struct mg_exec *e, const struct mg_exec_result *res, void *data)
{
	struct fx *f = data;

	f->done = true;
	f->err = res->err;
}

/* --- an exec freed from its sink --- */

static void sink_frees_exec(void *data, int stream, const uint8_t *p, size_t n)
{
	struct fx *f = data;

	f->n++;
	TALLOC_FREE(f->e);
}

/* The sink has had what it wanted of the output and frees the exec: the
 * channel that called it is gone with it, and must not be touched after. */
static void test_sink_frees_exec_body(void)
{
	struct fx *f = fx_new();
	const char *argv[] = { "echo one; sleep 0.3; echo two", NULL };
	struct mg_exec_opts o = {
		.argv = argv, .shell = true, .posix_sh = true,
		.stdin_fd = -1, .stdout_fd = -1, .stderr_fd = -1, .sink = sink_frees_exec,
	};
	struct mg_context *c;

	ASSERT_PTR_NOT_NULL(f);
	c = fx_connect(f, "local");
	ASSERT_PTR_NOT_NULL(c);
	o.sink_data = f;
	f->e = mg_exec_start(f, c, &o, exec_done, f);
	ASSERT_PTR_NOT_NULL(f->e);
	ASSERT_TRUE(run_until(f->loop, counted, f, 10000));
	/* The rest of the output has nowhere to go; the loop goes on. */
	run_until(f->loop, NULL, NULL, 600);
	ASSERT_INT_EQ(f->n, 1);
	ASSERT_TRUE(!f->done);
	talloc_free(f);
}
ISOLATED(test_sink_frees_exec)

/* --- disconnect callbacks and the session --- */

static void lost_count(struct mg_context *ctx, const char *reason, void *data)
{
	struct fx *f = data;

	f->n++;
}

static void lost_frees_session(struct mg_context *ctx, const char *reason, void *data)
{
	struct fx *f = data;

	f->n++;
	TALLOC_FREE(f->s);
}

/* A watch on a context gone already is called on a later iteration; the
 * session (and the context with it) freed before then cancels it. */
static void test_watch_session_freed_body(void)
{
	struct fx *f = fx_new();
	struct mg_context *c;

	ASSERT_PTR_NOT_NULL(f);
	c = fx_connect(f, "local");
	ASSERT_PTR_NOT_NULL(c);
	ASSERT_INT_EQ(mg_context_shutdown_wait(c, 10000), 0);
	ASSERT_PTR_NOT_NULL(mg_context_on_disconnect(f, c, lost_count, f));
	TALLOC_FREE(f->s);
	run_until(f->loop, NULL, NULL, 100);
	ASSERT_INT_EQ(f->n, 0);
	talloc_free(f);
}
ISOLATED(test_watch_session_freed)

/* Two watches on one context: the first called frees the session, which
 * cancels the second, already due. */
static void test_watch_frees_session_body(void)
{
	struct fx *f = fx_new();
	struct mg_context *c;

	ASSERT_PTR_NOT_NULL(f);
	c = fx_connect(f, "local");
	ASSERT_PTR_NOT_NULL(c);
	ASSERT_PTR_NOT_NULL(mg_context_on_disconnect(f, c, lost_frees_session, f));
	ASSERT_PTR_NOT_NULL(mg_context_on_disconnect(f, c, lost_frees_session, f));
	ASSERT_INT_EQ(mg_context_shutdown(c), 0);
	ASSERT_TRUE(run_until(f->loop, counted, f, 10000));
	run_until(f->loop, NULL, NULL, 300);
	ASSERT_INT_EQ(f->n, 1);
	talloc_free(f);
}
ISOLATED(test_watch_frees_session)

/* --- an exec freed while its command runs --- */

/* The pid a command wrote to 'path', once it has. */
static pid_t read_pid(struct fx *f, const char *path)
{
	char buf[32] = "";

	for (int i = 0; i < 500; i++) {
		FILE *fp = fopen(path, "r");
		if (fp != NULL) {
			bool whole = fgets(buf, sizeof(buf), fp) != NULL && strchr(buf, '\n') != NULL;
			fclose(fp);
			if (whole) {
				return (pid_t)atoi(buf);
			}
		}
		run_until(f->loop, NULL, NULL, 10);
	}
	return 0;
}

/* Gone and reaped, running the loop meanwhile (at most 2 s). */
static bool pid_ends(struct fx *f, pid_t pid)
{
	for (int i = 0; i < 200; i++) {
		if (kill(pid, 0) != 0 && errno == ESRCH) {
			return true;
		}
		run_until(f->loop, NULL, NULL, 10);
	}
	return false;
}

/* A command reading its input, its exec freed before (started false) or
 * after it started: nothing can be sent to it any more, so its input
 * ends; a command waiting for more would wait for ever. */
static void exec_freed_reading(bool started)
{
	struct fx *f = fx_new();
	char tmpl[] = "/tmp/mg-reentry-XXXXXX";
	char *dir = mkdtemp(tmpl), *pidfile, *cmd;
	const char *argv[2] = { NULL, NULL };
	struct mg_exec_opts o = {
		.argv = argv, .shell = true, .posix_sh = true,
		.stdout_fd = -1, .stderr_fd = -1, .sink = sink_frees_exec,
	};
	struct mg_context *c;
	struct mg_exec *e;
	pid_t pid;
	int p[2];
	bool ended;

	ASSERT_PTR_NOT_NULL(f);
	ASSERT_PTR_NOT_NULL(dir);
	c = fx_connect(f, "local");
	ASSERT_PTR_NOT_NULL(c);
	pidfile = talloc_asprintf(f, "%s/pid", dir);
	argv[0] = cmd = talloc_asprintf(f, "echo $$ >'%s'; exec cat >/dev/null", pidfile);
	ASSERT_INT_EQ(pipe2(p, O_CLOEXEC), 0);
	o.stdin_fd = p[0];
	o.sink_data = f;
	e = mg_exec_start(f, c, &o, exec_done, f);
	ASSERT_PTR_NOT_NULL(e);
	if (!started) {
		talloc_free(e);
	}
	pid = read_pid(f, pidfile);
	ASSERT_TRUE(pid > 0);
	if (started) {
		/* STARTED comes right after the command is made. */
		run_until(f->loop, NULL, NULL, 200);
		talloc_free(e);
	}
	ended = pid_ends(f, pid);
	if (!ended) {
		kill(pid, SIGKILL);
	}
	close(p[0]);
	close(p[1]);
	unlink(pidfile);
	rmdir(dir);
	ASSERT_TRUE(ended);
	ASSERT_TRUE(!f->done);
	talloc_free(f);
}

static void test_exec_freed_reading_body(void)
{
	exec_freed_reading(true);
}
ISOLATED(test_exec_freed_reading)

static void test_exec_freed_unstarted_body(void)
{
	exec_freed_reading(false);
}
ISOLATED(test_exec_freed_unstarted)

/* Output of the exec that shares an input with a freed one. */
struct out {
	char buf[64];
	size_t n;
};

static void out_sink(void *data, int stream, const uint8_t *p, size_t n)
{
	struct out *o = data;

	if (stream == 1 && o->n + n < sizeof(o->buf)) {
		memcpy(o->buf + o->n, p, n);
		o->n += n;
	}
}

/* Two commands share one input; the exec of one is freed before it
 * started: the other still gets the input (it waited for ever). */
static void test_exec_freed_bcast_body(void)
{
	struct fx *f = fx_new();
	const char *argv[] = { "cat", NULL };
	struct mg_exec_opts o = {
		.argv = argv, .stdin_fd = -1, .stdout_fd = -1, .stderr_fd = -1, .sink = out_sink,
	};
	struct out out = { 0 };
	struct mg_context *c;
	struct mg_bcast *b;
	struct mg_exec *e;
	int p[2];

	ASSERT_PTR_NOT_NULL(f);
	c = fx_connect(f, "local");
	ASSERT_PTR_NOT_NULL(c);
	ASSERT_INT_EQ(pipe2(p, O_CLOEXEC), 0);
	b = mg_bcast_new(f, f->s, p[0]);
	ASSERT_PTR_NOT_NULL(b);
	o.sink_data = &out;
	o.stdin_bcast = mg_bcast_add(b);
	e = mg_exec_start(f, c, &o, exec_done, f);
	ASSERT_PTR_NOT_NULL(e);
	o.stdin_bcast = mg_bcast_add(b);
	ASSERT_PTR_NOT_NULL(mg_exec_start(f, c, &o, exec_done, f));
	talloc_free(e);
	ASSERT_INT_EQ(write(p[1], "hello\n", 6), 6);
	close(p[1]);
	ASSERT_TRUE(run_until(f->loop, is_done, f, 5000));
	ASSERT_INT_EQ(f->err, 0);
	ASSERT_INT_EQ(out.n, 6);
	ASSERT_TRUE(memcmp(out.buf, "hello\n", 6) == 0);
	talloc_free(f);
}
ISOLATED(test_exec_freed_bcast)

/* --- a file copy freed from its callbacks --- */

struct fcx {
	struct mg_file_copy *fc;
	int n;
};

static void fc_bytes_frees(uint64_t bytes, void *data)
{
	struct fcx *x = data;

	x->n++;
	TALLOC_FREE(x->fc);
}

static void fc_error_frees(size_t idx, bool at_source, const char *path, const char *msg,
			   void *data)
{
	struct fcx *x = data;

	x->n++;
	TALLOC_FREE(x->fc);
}

static void fc_done_frees(size_t idx, int err, const char *errmsg, void *data)
{
	struct fcx *x = data;

	x->n++;
	TALLOC_FREE(x->fc);
}

static bool fc_called(void *arg)
{
	return ((struct fcx *)arg)->n > 0;
}

/* 'size' bytes of 'x' in dir/name. */
static char *make_file(TALLOC_CTX *ctx, const char *dir, const char *name, size_t size)
{
	char *path = talloc_asprintf(ctx, "%s/%s", dir, name);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	char buf[4096];

	memset(buf, 'x', sizeof(buf));
	while (fd >= 0 && size > 0) {
		size_t k = size < sizeof(buf) ? size : sizeof(buf);
		if (write(fd, buf, k) != (ssize_t)k) {
			break;
		}
		size -= k;
	}
	if (fd >= 0) {
		close(fd);
	}
	return path;
}

enum { FREE_ON_BYTES, FREE_ON_ERROR, FREE_ON_DONE };

/* A copy to or from a local agent, freed by the program from one of its
 * callbacks ('which'): called once, and the copy is over. */
static void copy_freed_from(int which, bool pull)
{
	struct fx *f = fx_new();
	char tmpl[] = "/tmp/mg-reentry-XXXXXX";
	char *dir = mkdtemp(tmpl), *src, *dst, *err = NULL, *cmd;
	struct fcx x = { 0 };
	struct mg_file_opts o = { .data = &x };
	const char *srcs[3] = { NULL, NULL, NULL };
	struct mg_context *c;

	ASSERT_PTR_NOT_NULL(f);
	ASSERT_PTR_NOT_NULL(dir);
	c = fx_connect(f, "local");
	ASSERT_PTR_NOT_NULL(c);
	src = make_file(f, dir, "src", 3u << 20);
	srcs[0] = src;
	dst = talloc_asprintf(f, "%s/dst", dir);
	if (which == FREE_ON_BYTES) {
		o.on_bytes = fc_bytes_frees;
	} else if (which == FREE_ON_ERROR) {
		/* One source missing, one there: an error, then more. */
		o.on_error = fc_error_frees;
		srcs[0] = talloc_asprintf(f, "%s/missing", dir);
		srcs[1] = src;
		o.flags = MG_FILE_INTO;
		dst = talloc_asprintf(f, "%s/into", dir);
		ASSERT_INT_EQ(mkdir(dst, 0700), 0);
	} else {
		o.on_done = fc_done_frees;
	}
	x.fc = pull ? mg_file_pull(f, c, srcs, dst, &o, &err) : mg_file_push(f, &c, 1, srcs, dst, &o);
	ASSERT_PTR_NOT_NULL(x.fc);
	ASSERT_TRUE(run_until(f->loop, fc_called, &x, 10000));
	run_until(f->loop, NULL, NULL, 300);
	ASSERT_INT_EQ(x.n, 1);
	cmd = talloc_asprintf(f, "rm -rf '%s'", dir);
	ASSERT_INT_EQ(system(cmd), 0);
	talloc_free(f);
}

static void test_push_freed_on_bytes_body(void)
{
	copy_freed_from(FREE_ON_BYTES, false);
}
ISOLATED(test_push_freed_on_bytes)

static void test_push_freed_on_done_body(void)
{
	copy_freed_from(FREE_ON_DONE, false);
}
ISOLATED(test_push_freed_on_done)

static void test_pull_freed_on_error_body(void)
{
	copy_freed_from(FREE_ON_ERROR, true);
}
ISOLATED(test_pull_freed_on_error)

static void test_pull_freed_on_bytes_body(void)
{
	copy_freed_from(FREE_ON_BYTES, true);
}
ISOLATED(test_pull_freed_on_bytes)

/* --- the session freed from a callback --- */

static void call_frees_session(struct mg_message *reply, int err, void *data)
{
	struct fx *f = data;

	f->n++;
	TALLOC_FREE(f->s);
}

/* A reply's callback frees the session, and with it the connection the
 * reply came on, which was still reading; a second call then never
 * answers. */
static void test_reply_frees_session_body(void)
{
	struct fx *f = fx_new();
	struct mg_context *c;

	ASSERT_PTR_NOT_NULL(f);
	c = fx_connect(f, "local");
	ASSERT_PTR_NOT_NULL(c);
	ASSERT_INT_EQ(mg_context_call_async(f->s, c, "echo", "a", 1, 5000, call_frees_session, f,
					    NULL), 0);
	ASSERT_INT_EQ(mg_context_call_async(f->s, c, "echo", "b", 1, 5000, call_frees_session, f,
					    NULL), 0);
	ASSERT_TRUE(run_until(f->loop, counted, f, 10000));
	run_until(f->loop, NULL, NULL, 300);
	ASSERT_INT_EQ(f->n, 1);
	talloc_free(f);
}
ISOLATED(test_reply_frees_session)

static void exec_frees_session(struct mg_exec *e, const struct mg_exec_result *res, void *data)
{
	struct fx *f = data;

	f->n++;
	TALLOC_FREE(f->s);
}

static void sink_none(void *data, int stream, const uint8_t *p, size_t n)
{
}

/* The same from an exec's callback, two commands ending at once. */
static void test_exec_frees_session_body(void)
{
	struct fx *f = fx_new();
	const char *argv[] = { "true", NULL };
	struct mg_exec_opts o = {
		.argv = argv, .stdin_fd = -1, .stdout_fd = -1, .stderr_fd = -1, .sink = sink_none,
	};
	struct mg_context *c;

	ASSERT_PTR_NOT_NULL(f);
	c = fx_connect(f, "local");
	ASSERT_PTR_NOT_NULL(c);
	ASSERT_PTR_NOT_NULL(mg_exec_start(f->s, c, &o, exec_frees_session, f));
	ASSERT_PTR_NOT_NULL(mg_exec_start(f->s, c, &o, exec_frees_session, f));
	ASSERT_TRUE(run_until(f->loop, counted, f, 10000));
	run_until(f->loop, NULL, NULL, 300);
	ASSERT_INT_EQ(f->n, 1);
	talloc_free(f);
}
ISOLATED(test_exec_frees_session)

/* --- connects --- */

struct started {
	int n;
	void *data;
	struct mg_context *ctx;
};

static void on_start_note(struct mg_context *ctx, int err, const char *errmsg, void *data)
{
	struct started *st = data;

	st->n++;
	st->ctx = ctx;
}

static void on_connect_note(struct mg_context *ctx, int err, const char *errmsg, void *data)
{
	struct started *st = data;

	st->data = data;
	st->n += 10;
}

static bool connect_noted(void *arg)
{
	return ((struct started *)arg)->n >= 10;
}

/* mg_connect_text gives opts->on_start the caller's data, as mg_connect
 * does (mg_session(3): "the same data"), not its own. */
static void test_connect_text_on_start_body(void)
{
	struct fx *f = fx_new();
	struct mg_connect_opts co = { .on_start = on_start_note };
	struct started st = { 0 };
	char *err = NULL;

	ASSERT_PTR_NOT_NULL(f);
	ASSERT_INT_EQ(mg_connect_text(f, f->s, NULL, "local/local", &co, on_connect_note, &st,
				      &err), 0);
	ASSERT_TRUE(run_until(f->loop, connect_noted, &st, 20000));
	ASSERT_TRUE(st.data == &st);
	ASSERT_INT_EQ(st.n, 11);
	ASSERT_PTR_NOT_NULL(st.ctx);
	ASSERT_STR_EQ(mg_context_name(st.ctx), "local/local");
	talloc_free(f);
}
ISOLATED(test_connect_text_on_start)

/* --- joining a session --- */

static void attached_frees_listener(struct mg_listener *l, uint32_t id, pid_t pid, void *data)
{
	struct fx *f = data;

	f->n++;
	talloc_free(l);
}

static void attach_frees_router(struct mg_router *r, int err, const char *errmsg, void *data)
{
	struct fx *f = data;

	f->n += 10;
	f->err = err;
	talloc_free(r);
}

static bool both_told(void *arg)
{
	return ((struct fx *)arg)->n >= 11;
}

/* The listener is freed from its attach callback, one client being all
 * it wanted, and that client frees the router it was given from its own
 * callback: the handshake's leftovers go at the end of the iteration,
 * after both. */
static void test_listener_freed_on_attach_body(void)
{
	struct fx *f = fx_new();
	struct mg_listener *l = NULL;
	struct mg_attach *a = NULL;
	char *err = NULL, *path;

	ASSERT_PTR_NOT_NULL(f);
	ASSERT_INT_EQ(mg_listener_new(f, f->s, NULL, &l, &err), 0);
	path = talloc_strdup(f, mg_listener_path(l));
	mg_listener_on_attach(l, attached_frees_listener, f);
	ASSERT_INT_EQ(mg_attach_start(f, f->loop, path, 0, attach_frees_router, f, &a), 0);
	ASSERT_TRUE(run_until(f->loop, both_told, f, 5000));
	run_until(f->loop, NULL, NULL, 100);
	ASSERT_INT_EQ(f->n, 11);
	ASSERT_INT_EQ(f->err, 0);
	/* Gone with the listener. */
	ASSERT_INT_EQ(access(path, F_OK), -1);
	talloc_free(f);
}
ISOLATED(test_listener_freed_on_attach)

/* --- a broadcast input freed first --- */

struct job {
	struct fx *f;
	char out[64], err[64];
	size_t n_out, n_err;
	bool done;
	int err_code;
	int status;
};

static void job_sink(void *data, int stream, const uint8_t *p, size_t n)
{
	struct job *j = data;
	char *buf = stream == 1 ? j->out : j->err;
	size_t *len = stream == 1 ? &j->n_out : &j->n_err;

	if (*len + n < sizeof(j->out)) {
		memcpy(buf + *len, p, n);
		*len += n;
	}
}

static void job_done(struct mg_exec *e, const struct mg_exec_result *res, void *data)
{
	struct job *j = data;

	j->done = true;
	j->err_code = res->err;
	j->status = res->wait_status;
}

static bool jobs_read(void *arg)
{
	struct job *j = arg;

	return j[0].n_out >= 6 && j[1].n_out >= 6;
}

static bool jobs_done(void *arg)
{
	struct job *j = arg;

	return j[0].done && j[1].done;
}

/* Two commands reading one broadcast input; the broadcast is freed
 * before its input ends ('started': after both had some of it, else at
 * once): each command gets the end of its input, and each exec ends
 * cleanly (an exec that finished dropped its target in freed memory). */
static void bcast_freed_first(bool started)
{
	struct fx *f = fx_new();
	const char *argv[] = { "cat", NULL };
	struct mg_exec_opts o = {
		.argv = argv, .stdin_fd = -1, .stdout_fd = -1, .stderr_fd = -1, .sink = job_sink,
	};
	struct job j[2] = { { 0 } };
	struct mg_context *c;
	struct mg_bcast *b;
	int p[2];

	ASSERT_PTR_NOT_NULL(f);
	c = fx_connect(f, "local");
	ASSERT_PTR_NOT_NULL(c);
	ASSERT_INT_EQ(pipe2(p, O_CLOEXEC), 0);
	b = mg_bcast_new(f, f->s, p[0]);
	ASSERT_PTR_NOT_NULL(b);
	for (int i = 0; i < 2; i++) {
		o.sink_data = &j[i];
		o.stdin_bcast = mg_bcast_add(b);
		ASSERT_PTR_NOT_NULL(mg_exec_start(f, c, &o, job_done, &j[i]));
	}
	if (started) {
		ASSERT_INT_EQ(write(p[1], "hello\n", 6), 6);
		ASSERT_TRUE(run_until(f->loop, jobs_read, j, 5000));
	}
	talloc_free(b);
	ASSERT_TRUE(run_until(f->loop, jobs_done, j, 5000));
	close(p[1]);
	for (int i = 0; i < 2; i++) {
		ASSERT_INT_EQ(j[i].err_code, 0);
		ASSERT_TRUE(WIFEXITED(j[i].status) && WEXITSTATUS(j[i].status) == 0);
		ASSERT_INT_EQ(j[i].n_out, started ? 6 : 0);
	}
	talloc_free(f);
}

static void test_bcast_freed_running_body(void)
{
	bcast_freed_first(true);
}
ISOLATED(test_bcast_freed_running)

static void test_bcast_freed_unstarted_body(void)
{
	bcast_freed_first(false);
}
ISOLATED(test_bcast_freed_unstarted)

/* An exec reading a broadcast with another one, freed once both run:
 * its command's input ends (its target was only dropped), and the other
 * goes on. */
static void test_exec_freed_bcast_running_body(void)
{
	struct fx *f = fx_new();
	const char *argv[] = { "echo $$ >&2; exec cat", NULL };
	struct mg_exec_opts o = {
		.argv = argv, .shell = true, .posix_sh = true,
		.stdin_fd = -1, .stdout_fd = -1, .stderr_fd = -1, .sink = job_sink,
	};
	struct job j[2] = { { 0 } };
	struct mg_exec *e[2];
	struct mg_context *c;
	struct mg_bcast *b;
	pid_t pid;
	int p[2];
	bool ended;

	ASSERT_PTR_NOT_NULL(f);
	c = fx_connect(f, "local");
	ASSERT_PTR_NOT_NULL(c);
	ASSERT_INT_EQ(pipe2(p, O_CLOEXEC), 0);
	b = mg_bcast_new(f, f->s, p[0]);
	ASSERT_PTR_NOT_NULL(b);
	for (int i = 0; i < 2; i++) {
		o.sink_data = &j[i];
		o.stdin_bcast = mg_bcast_add(b);
		e[i] = mg_exec_start(f, c, &o, job_done, &j[i]);
		ASSERT_PTR_NOT_NULL(e[i]);
	}
	ASSERT_INT_EQ(write(p[1], "hello\n", 6), 6);
	ASSERT_TRUE(run_until(f->loop, jobs_read, j, 5000));
	pid = (pid_t)atoi(j[0].err);
	ASSERT_TRUE(pid > 0);
	talloc_free(e[0]);
	ended = pid_ends(f, pid);
	if (!ended) {
		kill(pid, SIGKILL);
	}
	ASSERT_TRUE(ended);
	ASSERT_INT_EQ(write(p[1], "again\n", 6), 6);
	close(p[1]);
	j[0].done = true;
	ASSERT_TRUE(run_until(f->loop, jobs_done, j, 5000));
	ASSERT_INT_EQ(j[1].err_code, 0);
	ASSERT_INT_EQ(j[1].n_out, 12);
	talloc_free(f);
}
ISOLATED(test_exec_freed_bcast_running)

/* --- the broker --- */

struct xc {
	struct mg_broker *b;
	int ran;
};

static void defer_frees_broker(void *data)
{
	struct xc *x = data;

	x->ran++;
	TALLOC_FREE(x->b);
}

static void defer_counts(void *data)
{
	((struct xc *)data)->ran += 10;
}

/* A deferred call frees the broker: the calls queued behind it are
 * dropped, not run, as when the broker is freed otherwise
 * (mg_broker(3)); they were run all the same. */
static void test_defer_frees_broker_body(void)
{
	TALLOC_CTX *top = talloc_new(NULL);
	struct mg_loop *loop = mg_loop_new(top);
	struct xc x = { 0 };

	ASSERT_PTR_NOT_NULL(loop);
	x.b = mg_broker_new_on(top, loop);
	ASSERT_PTR_NOT_NULL(x.b);
	ASSERT_INT_EQ(mg_broker_defer(x.b, defer_frees_broker, &x), 0);
	ASSERT_INT_EQ(mg_broker_defer(x.b, defer_counts, &x), 0);
	for (int i = 0; i < 5; i++) {
		ASSERT_INT_GE(mg_loop_run_once(loop, 10), 0);
	}
	ASSERT_PTR_NULL(x.b);
	ASSERT_INT_EQ(x.ran, 1);
	talloc_free(top);
}
ISOLATED(test_defer_frees_broker)

/* --- programs --- */

/* Descriptors this process has open. */
static int open_fds(void)
{
	int n = 0;

	for (int fd = 0; fd < 1024; fd++) {
		if (fcntl(fd, F_GETFD) >= 0) {
			n++;
		}
	}
	return n;
}

/* A program freed leaves the session's store: its file is closed. A
 * persistence holder loads one for each mitogen-exec that comes and
 * frees it when that client goes; each stayed open for the holder's
 * life. */
static void test_program_freed_body(void)
{
	struct fx *f = fx_new();
	struct mg_program *p;
	char *err = NULL;
	int before;

	ASSERT_PTR_NOT_NULL(f);
	before = open_fds();
	for (int i = 0; i < 3; i++) {
		p = mg_program_load(f, f->s, "/bin/true", &err);
		ASSERT_PTR_NOT_NULL(p);
		ASSERT_INT_EQ(open_fds(), before + 1);
		talloc_free(p);
	}
	ASSERT_INT_EQ(open_fds(), before);
	/* One left to the session, which goes first. */
	p = mg_program_load(NULL, f->s, "/bin/true", &err);
	ASSERT_PTR_NOT_NULL(p);
	TALLOC_FREE(f->s);
	ASSERT_INT_EQ(open_fds(), before);
	talloc_free(p);
	talloc_free(f);
}
ISOLATED(test_program_freed)

/* --- blocking waits --- */

static void timer_frees_session(struct mg_timer *t, void *data)
{
	struct fx *f = data;

	talloc_free(t);
	f->n++;
	TALLOC_FREE(f->s);
}

enum { WAIT_SESSION, WAIT_CONTEXT, WAIT_CALL };

/* A blocking wait on the session (its shutdown, a context's, a call)
 * while a callback frees the session: the wait ends, cancelled, instead
 * of looking at what was freed. */
static void session_freed_waiting(int which)
{
	struct fx *f = fx_new();
	struct mg_message *reply = NULL;
	struct mg_context *c;
	int ret = 0;

	ASSERT_PTR_NOT_NULL(f);
	c = fx_connect(f, which == WAIT_CALL ? "local" : "local/local");
	ASSERT_PTR_NOT_NULL(c);
	ASSERT_PTR_NOT_NULL(mg_timer_new(f, f->loop, 0, timer_frees_session, f));
	if (which == WAIT_SESSION) {
		ret = mg_session_shutdown(f->s, 5000);
	} else if (which == WAIT_CONTEXT) {
		ret = mg_context_shutdown_wait(c, 5000);
	} else {
		ret = mg_context_call(f, c, "echo", "x", 1, 5000, &reply);
	}
	ASSERT_INT_EQ(ret, MG_ERR_CANCELLED);
	ASSERT_INT_EQ(f->n, 1);
	ASSERT_PTR_NULL(reply);
	talloc_free(f);
}

static void test_session_freed_shutdown_body(void)
{
	session_freed_waiting(WAIT_SESSION);
}
ISOLATED(test_session_freed_shutdown)

static void test_session_freed_context_wait_body(void)
{
	session_freed_waiting(WAIT_CONTEXT);
}
ISOLATED(test_session_freed_context_wait)

static void test_session_freed_call_body(void)
{
	session_freed_waiting(WAIT_CALL);
}
ISOLATED(test_session_freed_call)

/* --- serving attached clients --- */

struct served {
	struct fx *f;
	struct mg_session *cs;	/* the client's */
	int n;
};

static void serve_frees_session(struct mg_context *ctx, void *data)
{
	struct served *sv = data;

	sv->n++;
	TALLOC_FREE(sv->f->s);
}

static void client_connected(struct mg_context *ctx, int err, const char *errmsg, void *data)
{
	((struct served *)data)->n += 10;
}

static bool served_both(void *arg)
{
	return ((struct served *)arg)->n >= 11;
}

/* The master's serve callback frees its session (it served the one
 * client it was for): the request it answered was the session's, and
 * was freed twice (talloc aborted). The client hears its answer. */
static void test_serve_frees_session_body(void)
{
	struct fx *f = fx_new();
	struct served sv = { .f = f };
	struct mg_listener *l = NULL;
	char tmpl[] = "/tmp/mg-reentry-XXXXXX";
	char *dir = mkdtemp(tmpl), *path, *err = NULL;

	ASSERT_PTR_NOT_NULL(f);
	ASSERT_PTR_NOT_NULL(dir);
	path = talloc_asprintf(f, "%s/sock", dir);
	ASSERT_INT_EQ(mg_session_serve(f->s), 0);
	ASSERT_INT_EQ(mg_listener_new(f->s, f->s, path, &l, &err), 0);
	mg_listener_set_privileged(l, true);
	ASSERT_INT_EQ(mg_session_attach(f, f->loop, path, 0, &sv.cs, &err), 0);
	mg_session_on_serve(f->s, serve_frees_session, &sv);
	ASSERT_INT_EQ(mg_connect_text(sv.cs, sv.cs, NULL, "local", NULL, client_connected, &sv,
				      &err), 0);
	ASSERT_TRUE(run_until(f->loop, served_both, &sv, 10000));
	ASSERT_INT_EQ(sv.n, 11);
	TALLOC_FREE(sv.cs);
	run_until(f->loop, NULL, NULL, 100);
	rmdir(dir);
	talloc_free(f);
}
ISOLATED(test_serve_frees_session)

int main(void)
{
	TESTS_BEGIN();
	RUN(test_sink_frees_exec);
	RUN(test_watch_session_freed);
	RUN(test_watch_frees_session);
	RUN(test_exec_freed_reading);
	RUN(test_exec_freed_unstarted);
	RUN(test_exec_freed_bcast);
	RUN(test_push_freed_on_bytes);
	RUN(test_push_freed_on_done);
	RUN(test_pull_freed_on_error);
	RUN(test_pull_freed_on_bytes);
	RUN(test_reply_frees_session);
	RUN(test_exec_frees_session);
	RUN(test_connect_text_on_start);
	RUN(test_listener_freed_on_attach);
	RUN(test_bcast_freed_running);
	RUN(test_bcast_freed_unstarted);
	RUN(test_exec_freed_bcast_running);
	RUN(test_defer_frees_broker);
	RUN(test_program_freed);
	RUN(test_session_freed_shutdown);
	RUN(test_session_freed_context_wait);
	RUN(test_session_freed_call);
	RUN(test_serve_frees_session);
	return TESTS_END();
}
