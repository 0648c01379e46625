/* Unit tests for lib/core/loop.c. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

#include "harness.h"
#include "mitogen/loop.h"

/* Shared state for most callbacks. */
struct rec {
	struct mg_loop *loop;
	int calls;
	unsigned events;
	int order[8];
	int norder;
	int stop_at;		/* mg_loop_stop() on this call, if > 0 */
	int stop_rc;
	void *victims[6];	/* freed by a callback */
	bool fired_after_kill;
	bool killed;
};

static void rec_push(struct rec *r, int v)
{
	if (r->norder < 8) {
		r->order[r->norder++] = v;
	}
}

static bool sig_blocked(int signo)
{
	sigset_t set;

	sigprocmask(SIG_BLOCK, NULL, &set);
	return sigismember(&set, signo) == 1;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
	}
}

/* io */

static void read_cb(struct mg_io *io, unsigned events, void *data)
{
	struct rec *r = data;
	char buf[8];

	r->calls++;
	r->events |= events;
	rec_push(r, (int)read(mg_io_fd(io), buf, sizeof(buf)));
	mg_io_set(io, 0);
}

static void write_later_cb(struct mg_timer *t, void *data)
{
	struct rec *r = data;

	(void)t;
	rec_push(r, r->calls);
	if (write(r->stop_at, "hi", 2) != 2) {
		rec_push(r, -1);
	}
}

static void test_io_read(void)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	struct mg_loop *loop = mg_loop_new(tmp);
	struct rec r = { 0 };
	struct mg_io *io;
	int p[2];

	ASSERT_PTR_NOT_NULL(loop);
	ASSERT_INT_EQ(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
	io = mg_io_new(tmp, loop, p[0], MG_IO_READ, read_cb, &r);
	ASSERT_PTR_NOT_NULL(io);
	ASSERT_INT_EQ(mg_io_fd(io), p[0]);
	ASSERT_INT_EQ(mg_io_get(io), MG_IO_READ);
	r.stop_at = p[1];
	ASSERT_PTR_NOT_NULL(mg_timer_new(tmp, loop, 20, write_later_cb, &r));
	ASSERT_INT_EQ(mg_loop_run(loop), 0);
	/* Not called before the data came, then once with the 2 bytes. */
	ASSERT_INT_EQ(r.norder, 2);
	ASSERT_INT_EQ(r.order[0], 0);
	ASSERT_INT_EQ(r.order[1], 2);
	ASSERT_INT_EQ(r.calls, 1);
	ASSERT_INT_EQ(r.events, MG_IO_READ);
	ASSERT_INT_EQ(mg_io_get(io), 0);
	talloc_free(tmp);
	close(p[0]);
	close(p[1]);
}

static void count_cb(struct mg_io *io, unsigned events, void *data)
{
	struct rec *r = data;

	r->calls++;
	r->events |= events;
	if (r->calls == r->stop_at) {
		mg_io_set(io, 0);
	}
}

static void drain_cb(struct mg_timer *t, void *data)
{
	struct rec *r = data;
	char buf[4096];

	(void)t;
	rec_push(r, r->calls);
	while (read(r->stop_rc, buf, sizeof(buf)) > 0) {
	}
}

static void test_io_write(void)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	struct mg_loop *loop = mg_loop_new(tmp);
	struct rec r = { .stop_at = 3 };
	char buf[4096] = { 0 };
	int p[2];

	ASSERT_INT_EQ(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
	/* Level-triggered: called every iteration until disabled. */
	ASSERT_PTR_NOT_NULL(mg_io_new(tmp, loop, p[1], MG_IO_WRITE, count_cb, &r));
	ASSERT_INT_EQ(mg_loop_run(loop), 0);
	ASSERT_INT_EQ(r.calls, 3);
	ASSERT_INT_EQ(r.events, MG_IO_WRITE);

	/* A full pipe is not writable until drained. */
	while (write(p[1], buf, sizeof(buf)) > 0) {
	}
	r.calls = 0;
	r.stop_at = 1;
	r.stop_rc = p[0];
	ASSERT_PTR_NOT_NULL(mg_io_new(tmp, loop, p[1], MG_IO_WRITE, count_cb, &r));
	ASSERT_PTR_NOT_NULL(mg_timer_new(tmp, loop, 20, drain_cb, &r));
	ASSERT_INT_EQ(mg_loop_run(loop), 0);
	ASSERT_INT_EQ(r.norder, 1);
	ASSERT_INT_EQ(r.order[0], 0);
	ASSERT_INT_EQ(r.calls, 1);
	talloc_free(tmp);
	close(p[0]);
	close(p[1]);
}

static void test_io_set_zero(void)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	struct mg_loop *loop = mg_loop_new(tmp);
	struct rec r = { .stop_at = 2 };
	struct mg_io *io;
	int p[2];

	ASSERT_INT_EQ(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
	ASSERT_INT_EQ(write(p[1], "x", 1), 1);
	/* Disabled from birth: never called, does not keep the loop. */
	io = mg_io_new(tmp, loop, p[0], 0, count_cb, &r);
	ASSERT_PTR_NOT_NULL(io);
	ASSERT_INT_EQ(mg_loop_run(loop), 0);
	ASSERT_INT_EQ(r.calls, 0);
	/* Enabled, the unread byte fires it until it disables itself. */
	mg_io_set(io, MG_IO_READ);
	ASSERT_INT_EQ(mg_loop_run(loop), 0);
	ASSERT_INT_EQ(r.calls, 2);
	/* With nothing left to read, closing the other end gives only HUP,
	 * reported as the enabled event. */
	ASSERT_INT_EQ(read(p[0], &r.norder, 1), 1);
	close(p[1]);
	r.events = 0;
	r.stop_at = 3;
	mg_io_set(io, MG_IO_READ);
	ASSERT_INT_EQ(mg_loop_run(loop), 0);
	ASSERT_INT_EQ(r.calls, 3);
	ASSERT_INT_EQ(r.events, MG_IO_READ);
	talloc_free(tmp);
	close(p[0]);
}

static void fail_stop_cb(struct mg_timer *t, void *data)
{
	struct rec *r = data;

	(void)t;
	mg_loop_stop(r->loop, -1);
}

/* Counts, and at 'stop_at' disables itself and frees victims[0]. */
static void always_cb(struct mg_io *io, unsigned events, void *data)
{
	struct rec *r = data;

	count_cb(io, events, data);
	if (r->calls == r->stop_at) {
		TALLOC_FREE(r->victims[0]);
	}
}

static void test_io_always_ready(void)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	struct mg_loop *loop = mg_loop_new(tmp);
	struct rec r = { .loop = loop, .stop_at = 3 };
	struct rec w = { .stop_at = 2 };
	char path[] = "/tmp/test-loop.XXXXXX";
	struct mg_timer *guard;
	uint64_t start;
	int fd, null;

	fd = mkstemp(path);
	ASSERT_INT_GE(fd, 0);
	unlink(path);
	null = open("/dev/null", O_WRONLY | O_CLOEXEC);
	ASSERT_INT_GE(null, 0);
	ASSERT_PTR_NOT_NULL(mg_io_new(tmp, loop, fd, MG_IO_READ, always_cb, &r));
	ASSERT_PTR_NOT_NULL(mg_io_new(tmp, loop, null, MG_IO_WRITE, count_cb, &w));
	/* Would stop the loop with -1 if it slept instead of polling. */
	guard = mg_timer_new(tmp, loop, 5000, fail_stop_cb, &r);
	r.victims[0] = guard;
	start = mg_loop_now(loop);
	ASSERT_INT_EQ(mg_loop_run(loop), 0);
	ASSERT_INT_EQ(r.calls, 3);
	ASSERT_INT_EQ(r.events, MG_IO_READ);
	ASSERT_INT_EQ(w.calls, 2);
	ASSERT_INT_EQ(w.events, MG_IO_WRITE);
	ASSERT_TRUE(mg_loop_now(loop) - start < 1000);
	talloc_free(tmp);
	close(fd);
	close(null);
}

/* timers */

struct tag {
	struct rec *r;
	int id;
};

static void order_cb(struct mg_timer *t, void *data)
{
	struct tag *tag = data;

	(void)t;
	rec_push(tag->r, tag->id);
	tag->r->calls++;
}

static void test_timers_order(void)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	struct mg_loop *loop = mg_loop_new(tmp);
	struct rec r = { .loop = loop };
	const uint64_t ms[] = { 30, 10, 20, 0, 10 };
	struct tag tags[5];
	uint64_t start = mg_loop_now(loop);
	int i;

	for (i = 0; i < 5; i++) {
		tags[i].r = &r;
		tags[i].id = i;
		ASSERT_PTR_NOT_NULL(mg_timer_new(tmp, loop, ms[i], order_cb, &tags[i]));
	}
	ASSERT_INT_EQ(mg_loop_run(loop), 0);
	ASSERT_INT_EQ(r.norder, 5);
	ASSERT_INT_EQ(r.order[0], 3);
	ASSERT_INT_EQ(r.order[1], 1);
	ASSERT_INT_EQ(r.order[2], 4);
	ASSERT_INT_EQ(r.order[3], 2);
	ASSERT_INT_EQ(r.order[4], 0);
	/* The last one fired no earlier than 30 ms after the start. */
	ASSERT_INT_GE(mg_loop_now(loop) - start, 30);
	talloc_free(tmp);
}

static void free_victims_timer_cb(struct mg_timer *t, void *data)
{
	struct rec *r = data;
	size_t i;

	(void)t;
	r->calls++;
	for (i = 0; i < 6; i++) {
		TALLOC_FREE(r->victims[i]);
	}
	r->killed = true;
}

static void must_not_fire_cb(struct mg_timer *t, void *data)
{
	struct rec *r = data;

	(void)t;
	r->fired_after_kill = true;
}

static void test_timer_cancel(void)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	struct mg_loop *loop = mg_loop_new(tmp);
	struct rec r = { .loop = loop };
	struct rec late = { .loop = loop };
	struct tag tag = { &late, 9 };
	struct mg_timer *t;

	t = mg_timer_new(tmp, loop, 10, must_not_fire_cb, &r);
	ASSERT_PTR_NOT_NULL(t);
	talloc_free(t);
	/* Due at the same time, the first cancels the second. */
	ASSERT_PTR_NOT_NULL(mg_timer_new(tmp, loop, 5, free_victims_timer_cb, &r));
	r.victims[0] = mg_timer_new(tmp, loop, 5, must_not_fire_cb, &r);
	ASSERT_PTR_NOT_NULL(r.victims[0]);
	ASSERT_PTR_NOT_NULL(mg_timer_new(tmp, loop, 20, order_cb, &tag));
	ASSERT_INT_EQ(mg_loop_run(loop), 0);
	ASSERT_INT_EQ(r.calls, 1);
	ASSERT_TRUE(!r.fired_after_kill);
	ASSERT_INT_EQ(late.calls, 1);
	talloc_free(tmp);
}

/* freeing watchers from callbacks */

/* Frees every victim (itself included, possibly) and records the kill. */
static void killer_cb(struct mg_io *io, unsigned events, void *data)
{
	struct rec *r = data;
	size_t i;

	(void)io;
	(void)events;
	if (r->killed) {
		r->fired_after_kill = true;
		return;
	}
	r->calls++;
	r->killed = true;
	for (i = 0; i < 6; i++) {
		TALLOC_FREE(r->victims[i]);
	}
}

static void test_free_in_batch(void)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	struct mg_loop *loop = mg_loop_new(tmp);
	struct rec r = { .loop = loop };
	char path[] = "/tmp/test-loop.XXXXXX";
	int a[2], b[2], fd;

	ASSERT_INT_EQ(pipe2(a, O_NONBLOCK | O_CLOEXEC), 0);
	ASSERT_INT_EQ(pipe2(b, O_NONBLOCK | O_CLOEXEC), 0);
	ASSERT_INT_EQ(write(a[1], "x", 1), 1);
	ASSERT_INT_EQ(write(b[1], "x", 1), 1);
	/* Both readable in one epoll batch; whichever runs first frees
	 * both, so the other must not be called (or touched: ASan). */
	r.victims[0] = mg_io_new(tmp, loop, a[0], MG_IO_READ, killer_cb, &r);
	r.victims[1] = mg_io_new(tmp, loop, b[0], MG_IO_READ, killer_cb, &r);
	ASSERT_PTR_NOT_NULL(r.victims[0]);
	ASSERT_PTR_NOT_NULL(r.victims[1]);
	ASSERT_INT_EQ(mg_loop_run(loop), 0);
	ASSERT_INT_EQ(r.calls, 1);
	ASSERT_TRUE(!r.fired_after_kill);

	/* The same among always-ready fds. */
	fd = mkstemp(path);
	ASSERT_INT_GE(fd, 0);
	unlink(path);
	r.calls = 0;
	r.killed = false;
	r.victims[0] = mg_io_new(tmp, loop, fd, MG_IO_READ, killer_cb, &r);
	r.victims[1] = mg_io_new(tmp, loop, fd, MG_IO_READ, killer_cb, &r);
	ASSERT_INT_EQ(mg_loop_run(loop), 0);
	ASSERT_INT_EQ(r.calls, 1);
	ASSERT_TRUE(!r.fired_after_kill);
	talloc_free(tmp);
	close(a[0]);
	close(a[1]);
	close(b[0]);
	close(b[1]);
	close(fd);
}

static void count_signal_cb(struct mg_signal *s, int signo, void *data)
{
	struct rec *r = data;

	(void)s;
	if (r->killed) {
		r->fired_after_kill = true;
	}
	rec_push(r, signo);
}

static void count_child_cb(struct mg_child *c, pid_t pid, int status, void *data)
{
	struct rec *r = data;

	(void)c;
	(void)pid;
	(void)status;
	if (r->killed) {
		r->fired_after_kill = true;
	}
}

static void test_free_all_from_cb(void)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	struct mg_loop *loop = mg_loop_new(tmp);
	struct rec r = { .loop = loop };
	int a[2], b[2];
	pid_t pid;

	ASSERT_INT_EQ(pipe2(a, O_NONBLOCK | O_CLOEXEC), 0);
	ASSERT_INT_EQ(pipe2(b, O_NONBLOCK | O_CLOEXEC), 0);
	pid = fork();
	ASSERT_INT_GE(pid, 0);
	if (pid == 0) {
		_exit(0);
	}
	/* Pipes, pidfd and signalfd all ready in one batch; the first pipe
	 * callback frees every other watcher. */
	r.victims[1] = mg_io_new(tmp, loop, b[0], MG_IO_READ, killer_cb, &r);
	r.victims[2] = mg_timer_new(tmp, loop, 10000, must_not_fire_cb, &r);
	r.victims[3] = mg_signal_new(tmp, loop, SIGUSR2, count_signal_cb, &r);
	r.victims[4] = mg_child_new(tmp, loop, pid, count_child_cb, &r);
	ASSERT_PTR_NOT_NULL(r.victims[1]);
	ASSERT_PTR_NOT_NULL(r.victims[2]);
	ASSERT_PTR_NOT_NULL(r.victims[3]);
	ASSERT_PTR_NOT_NULL(r.victims[4]);
	r.victims[0] = mg_io_new(tmp, loop, a[0], MG_IO_READ, killer_cb, &r);
	ASSERT_PTR_NOT_NULL(r.victims[0]);
	ASSERT_INT_EQ(raise(SIGUSR2), 0);
	sleep_ms(50);
	ASSERT_INT_EQ(write(a[1], "x", 1), 1);
	ASSERT_INT_EQ(write(b[1], "x", 1), 1);
	ASSERT_INT_EQ(mg_loop_run(loop), 0);
	ASSERT_INT_EQ(r.calls, 1);
	ASSERT_TRUE(!r.fired_after_kill);
	ASSERT_TRUE(!sig_blocked(SIGUSR2));
	waitpid(pid, NULL, 0);
	talloc_free(tmp);
	close(a[0]);
	close(a[1]);
	close(b[0]);
	close(b[1]);
}

static void must_not_defer_cb(void *data)
{
	struct rec *r = data;

	r->fired_after_kill = true;
}

/* The loop freed before watchers that belong to someone else. */
static void test_loop_freed_first(void)
{
	TALLOC_CTX *owner = talloc_new(NULL);
	TALLOC_CTX *tmp = talloc_new(NULL);
	struct mg_loop *loop = mg_loop_new(tmp);
	struct rec r = { .loop = loop };
	struct mg_timer *t;
	struct mg_io *io;
	int p[2];
	pid_t pid;

	ASSERT_INT_EQ(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
	pid = fork();
	ASSERT_INT_GE(pid, 0);
	if (pid == 0) {
		_exit(0);
	}
	io = mg_io_new(owner, loop, p[0], MG_IO_READ, count_cb, &r);
	ASSERT_PTR_NOT_NULL(io);
	t = mg_timer_new(owner, loop, 10, must_not_fire_cb, &r);
	ASSERT_PTR_NOT_NULL(t);
	ASSERT_PTR_NOT_NULL(mg_signal_new(owner, loop, SIGUSR2, count_signal_cb, &r));
	ASSERT_PTR_NOT_NULL(mg_child_new(owner, loop, pid, count_child_cb, &r));
	ASSERT_INT_EQ(mg_loop_defer(loop, owner, must_not_defer_cb, &r), 0);
	ASSERT_TRUE(sig_blocked(SIGUSR2));
	talloc_free(tmp);
	ASSERT_TRUE(!sig_blocked(SIGUSR2));
	/* Detached watchers stay usable as plain objects. */
	mg_io_set(io, 0);
	mg_io_set_keepalive(io, false);
	ASSERT_INT_EQ(mg_io_get(io), 0);
	mg_timer_set_keepalive(t, false);
	talloc_free(owner);
	waitpid(pid, NULL, 0);
	close(p[0]);
	close(p[1]);
}

/* deferred calls and free_later */

struct dctx {
	struct mg_loop *loop;
	int iter;		/* bumped by an always-ready io every iteration */
	int order[8];
	int norder;
	int a_iter, b_iter;
	bool b_ran_inline;
	bool b_ran;
	void *owner;		/* freed by cancel_cb */
	bool freed;
	int seen_in_cb, seen_next;
};

static void iter_cb(struct mg_io *io, unsigned events, void *data)
{
	struct dctx *d = data;

	(void)io;
	(void)events;
	d->iter++;
}

static void defer_b_cb(void *data)
{
	struct dctx *d = data;

	d->b_ran = true;
	d->b_iter = d->iter;
}

static void defer_a_cb(void *data)
{
	struct dctx *d = data;

	d->a_iter = d->iter;
	if (mg_loop_defer(d->loop, NULL, defer_b_cb, d) != 0) {
		d->a_iter = -100;
	}
	d->b_ran_inline = d->b_ran;
}

static void push_cb(void *data)
{
	struct tag *tag = data;

	rec_push(tag->r, tag->id);
}

static void timer_a_cb(struct mg_timer *t, void *data)
{
	struct tag *tags = data;

	(void)t;
	rec_push(tags[0].r, tags[0].id);
	/* Both new: the defer runs at the next iteration's start, the
	 * timer after it, not in this timer pass. */
	if (mg_timer_new(tags[0].r->loop, tags[0].r->loop, 0, order_cb, &tags[1]) == NULL ||
	    mg_loop_defer(tags[0].r->loop, NULL, push_cb, &tags[2]) != 0) {
		rec_push(tags[0].r, -1);
	}
}

static void cancel_cb(void *data)
{
	struct dctx *d = data;

	TALLOC_FREE(d->owner);
}

static void never_cb(void *data)
{
	struct dctx *d = data;

	d->b_ran = true;
}

static void test_defer(void)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	struct mg_loop *loop = mg_loop_new(tmp);
	struct dctx d = { .loop = loop };
	struct rec r = { .loop = loop };
	struct tag tags[3] = { { &r, 1 }, { &r, 3 }, { &r, 2 } };
	char path[] = "/tmp/test-loop.XXXXXX";
	struct mg_io *io;
	TALLOC_CTX *owner;
	int fd;

	fd = mkstemp(path);
	ASSERT_INT_GE(fd, 0);
	unlink(path);
	io = mg_io_new(tmp, loop, fd, MG_IO_READ, iter_cb, &d);
	ASSERT_PTR_NOT_NULL(io);
	mg_io_set_keepalive(io, false);

	/* Not inline; a defer queued from a deferred call waits one
	 * iteration. */
	ASSERT_INT_EQ(mg_loop_defer(loop, NULL, defer_a_cb, &d), 0);
	ASSERT_INT_EQ(d.iter, 0);
	ASSERT_INT_EQ(mg_loop_run(loop), 0);
	ASSERT_TRUE(d.b_ran);
	ASSERT_TRUE(!d.b_ran_inline);
	ASSERT_INT_EQ(d.a_iter, 0);
	ASSERT_INT_EQ(d.b_iter, 1);

	/* Order across phases: timer, (next iteration) defer, timer. */
	ASSERT_PTR_NOT_NULL(mg_timer_new(tmp, loop, 0, timer_a_cb, tags));
	ASSERT_INT_EQ(mg_loop_run(loop), 0);
	ASSERT_INT_EQ(r.norder, 3);
	ASSERT_INT_EQ(r.order[0], 1);
	ASSERT_INT_EQ(r.order[1], 2);
	ASSERT_INT_EQ(r.order[2], 3);

	/* Cancelled by freeing the owner, before the loop runs... */
	d.b_ran = false;
	owner = talloc_new(tmp);
	ASSERT_INT_EQ(mg_loop_defer(loop, owner, never_cb, &d), 0);
	talloc_free(owner);
	/* ... or from an earlier deferred call of the same batch. */
	d.owner = talloc_new(tmp);
	ASSERT_INT_EQ(mg_loop_defer(loop, NULL, cancel_cb, &d), 0);
	ASSERT_INT_EQ(mg_loop_defer(loop, d.owner, never_cb, &d), 0);
	ASSERT_INT_EQ(mg_loop_run(loop), 0);
	ASSERT_TRUE(!d.b_ran);
	ASSERT_PTR_NULL(d.owner);
	talloc_free(tmp);
	close(fd);
}

static int flag_destructor(bool **flag)
{
	**flag = true;
	return 0;
}

static void see_next_cb(void *data)
{
	struct dctx *d = data;

	d->seen_next = d->freed;
}

static void free_later_cb(struct mg_timer *t, void *data)
{
	struct dctx *d = data;

	mg_loop_free_later(d->loop, d->owner);
	mg_loop_free_later(d->loop, t);
	d->seen_in_cb = d->freed;
	if (mg_loop_defer(d->loop, NULL, see_next_cb, d) != 0) {
		d->seen_next = -1;
	}
}

static void test_free_later(void)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	struct mg_loop *loop = mg_loop_new(tmp);
	struct dctx d = { .loop = loop, .seen_in_cb = -1, .seen_next = -1 };
	bool **flag;

	flag = talloc(NULL, bool *);
	ASSERT_PTR_NOT_NULL(flag);
	*flag = &d.freed;
	talloc_set_destructor(flag, flag_destructor);
	d.owner = flag;
	/* The timer itself is handed over too (owned by NULL here). */
	ASSERT_PTR_NOT_NULL(mg_timer_new(NULL, loop, 0, free_later_cb, &d));
	ASSERT_INT_EQ(mg_loop_run(loop), 0);
	ASSERT_INT_EQ(d.seen_in_cb, 0);
	ASSERT_INT_EQ(d.seen_next, 1);
	ASSERT_TRUE(d.freed);
	mg_loop_free_later(loop, NULL);
	talloc_free(tmp);
}

/* A callback that runs the loop again is refused: the inner iteration
 * used to free what mg_loop_free_later() had just been given, under the
 * callback that was still using it, and dispatch over the outer batch. */
static int nested_rc[2];

static void nested_cb(struct mg_timer *t, void *data)
{
	struct dctx *d = data;

	mg_loop_free_later(d->loop, d->owner);
	mg_loop_free_later(d->loop, t);
	nested_rc[0] = mg_loop_run_once(d->loop, 0);
	nested_rc[1] = mg_loop_run(d->loop);
	d->seen_in_cb = d->freed;
}

static void test_run_in_callback(void)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	struct mg_loop *loop = mg_loop_new(tmp);
	struct dctx d = { .loop = loop, .seen_in_cb = -1, .seen_next = -1 };
	bool **flag = talloc(NULL, bool *);

	ASSERT_TRUE(loop != NULL && flag != NULL);
	*flag = &d.freed;
	talloc_set_destructor(flag, flag_destructor);
	d.owner = flag;
	ASSERT_PTR_NOT_NULL(mg_timer_new(NULL, loop, 0, nested_cb, &d));
	ASSERT_INT_EQ(mg_loop_run_once(loop, 0), 0);
	ASSERT_INT_EQ(nested_rc[0], -EDEADLK);
	ASSERT_INT_EQ(nested_rc[1], -EDEADLK);
	ASSERT_INT_EQ(d.seen_in_cb, 0);
	ASSERT_TRUE(d.freed);
	ASSERT_TRUE(!mg_loop_running(loop));
	talloc_free(tmp);
}

/* signals */

static void stop_signal_cb(struct mg_signal *s, int signo, void *data)
{
	struct rec *r = data;

	(void)s;
	rec_push(r, signo);
	if (++r->calls == r->stop_at) {
		mg_loop_stop(r->loop, r->stop_rc);
	}
}

static void stop_timer_cb(struct mg_timer *t, void *data);

/* The first call frees every victim; any later call is a bug. */
static void kill_signal_cb(struct mg_signal *s, int signo, void *data)
{
	struct rec *r = data;
	size_t i;

	(void)s;
	(void)signo;
	if (r->killed) {
		r->fired_after_kill = true;
		return;
	}
	r->calls++;
	r->killed = true;
	for (i = 0; i < 6; i++) {
		TALLOC_FREE(r->victims[i]);
	}
}

static void test_signal(void)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	struct mg_loop *loop = mg_loop_new(tmp);
	struct rec r = { .loop = loop, .stop_at = 2, .stop_rc = 7 };
	struct mg_signal *s1, *s2;

	ASSERT_TRUE(!sig_blocked(SIGUSR1));
	ASSERT_PTR_NULL(mg_signal_new(tmp, loop, SIGKILL, stop_signal_cb, &r));
	ASSERT_PTR_NULL(mg_signal_new(tmp, loop, 0, stop_signal_cb, &r));
	s1 = mg_signal_new(tmp, loop, SIGUSR1, stop_signal_cb, &r);
	s2 = mg_signal_new(tmp, loop, SIGUSR1, stop_signal_cb, &r);
	ASSERT_PTR_NOT_NULL(s1);
	ASSERT_PTR_NOT_NULL(s2);
	ASSERT_TRUE(sig_blocked(SIGUSR1));
	/* Signal watchers alone do not keep the loop running. */
	ASSERT_INT_EQ(mg_loop_run(loop), 0);
	ASSERT_PTR_NOT_NULL(mg_timer_new(tmp, loop, 5000, fail_stop_cb, &r));
	ASSERT_INT_EQ(raise(SIGUSR1), 0);
	/* Both watchers called, the second stops the loop. */
	ASSERT_INT_EQ(mg_loop_run(loop), 7);
	ASSERT_INT_EQ(r.calls, 2);
	ASSERT_INT_EQ(r.order[0], SIGUSR1);
	ASSERT_INT_EQ(r.order[1], SIGUSR1);
	talloc_free(s1);
	ASSERT_TRUE(sig_blocked(SIGUSR1));
	talloc_free(s2);
	ASSERT_TRUE(!sig_blocked(SIGUSR1));

	/* Two watchers of one signal, whichever runs first frees both. */
	{
		struct rec k = { .loop = loop };

		k.victims[0] = mg_signal_new(tmp, loop, SIGUSR1, kill_signal_cb, &k);
		k.victims[1] = mg_signal_new(tmp, loop, SIGUSR1, kill_signal_cb, &k);
		ASSERT_PTR_NOT_NULL(k.victims[1]);
		ASSERT_PTR_NOT_NULL(mg_timer_new(tmp, loop, 50, stop_timer_cb, &k));
		ASSERT_INT_EQ(raise(SIGUSR1), 0);
		ASSERT_INT_EQ(mg_loop_run(loop), 0);
		ASSERT_INT_EQ(k.calls, 2);
		ASSERT_TRUE(!k.fired_after_kill);
		ASSERT_TRUE(!sig_blocked(SIGUSR1));
	}

	/* Pending when the last watcher goes: dropped, not delivered (which
	 * would kill this process). */
	s1 = mg_signal_new(tmp, loop, SIGUSR1, stop_signal_cb, &r);
	ASSERT_PTR_NOT_NULL(s1);
	ASSERT_INT_EQ(raise(SIGUSR1), 0);
	talloc_free(s1);
	ASSERT_TRUE(!sig_blocked(SIGUSR1));
	ASSERT_INT_EQ(r.calls, 2);

	/* A signal blocked before the first watcher stays blocked after. */
	{
		sigset_t set;

		sigemptyset(&set);
		sigaddset(&set, SIGUSR2);
		sigprocmask(SIG_BLOCK, &set, NULL);
		s1 = mg_signal_new(tmp, loop, SIGUSR2, stop_signal_cb, &r);
		ASSERT_PTR_NOT_NULL(s1);
		talloc_free(s1);
		ASSERT_TRUE(sig_blocked(SIGUSR2));
		sigprocmask(SIG_UNBLOCK, &set, NULL);
	}
	talloc_free(tmp);
}

/* children */

struct cctx {
	struct mg_loop *loop;
	pid_t pid[2];
	int status[2];
	int calls[2];
	int bad;
	void *guard;		/* freed once every child is reported */
};

static void child_cb(struct mg_child *c, pid_t pid, int status, void *data)
{
	struct cctx *x = data;
	int i;

	(void)c;
	for (i = 0; i < 2; i++) {
		if (pid == x->pid[i]) {
			x->calls[i]++;
			x->status[i] = status;
			break;
		}
	}
	if (i == 2) {
		x->bad++;
	}
	if (x->calls[0] + x->calls[1] == 2) {
		TALLOC_FREE(x->guard);
	}
}

static void ignore_signal_cb(struct mg_signal *s, int signo, void *data)
{
	(void)s;
	(void)signo;
	(void)data;
}

static void fail_stop_child_cb(struct mg_timer *t, void *data)
{
	struct cctx *x = data;

	(void)t;
	mg_loop_stop(x->loop, -1);
}

static void kill_cb(struct mg_timer *t, void *data)
{
	struct cctx *x = data;

	(void)t;
	kill(x->pid[1], SIGTERM);
}

/* A child exiting 3, and one killed by SIGTERM once the loop runs. The
 * second must undo the SIGTERM blocking it inherited, or it never dies. */
static int run_children(TALLOC_CTX *tmp, struct mg_loop *loop, struct cctx *x)
{
	int i;

	x->loop = loop;
	x->pid[0] = fork();
	if (x->pid[0] == 0) {
		_exit(3);
	}
	x->pid[1] = fork();
	if (x->pid[1] == 0) {
		mg_loop_child_sigmask();
		/* Bounded, in case the test fails before killing it. */
		alarm(10);
		for (;;) {
			pause();
		}
	}
	if (x->pid[0] < 0 || x->pid[1] < 0) {
		return -1;
	}
	/* The first may be gone before it is watched: no matter. */
	sleep_ms(20);
	for (i = 0; i < 2; i++) {
		if (mg_child_new(tmp, loop, x->pid[i], child_cb, x) == NULL) {
			return -2;
		}
	}
	x->guard = mg_timer_new(tmp, loop, 5000, fail_stop_child_cb, x);
	if (x->guard == NULL || mg_timer_new(tmp, loop, 10, kill_cb, x) == NULL) {
		return -3;
	}
	return mg_loop_run(loop);
}

static void test_child(void)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	struct mg_loop *loop = mg_loop_new(tmp);
	struct cctx x = { 0 };
	struct mg_signal *term;
	struct mg_child *c;
	pid_t pid;

	term = mg_signal_new(tmp, loop, SIGTERM, ignore_signal_cb, NULL);
	ASSERT_PTR_NOT_NULL(term);
	/* Runs dry once both are reported and the guard is freed. */
	ASSERT_INT_EQ(run_children(tmp, loop, &x), 0);
	ASSERT_INT_EQ(x.bad, 0);
	ASSERT_INT_EQ(x.calls[0], 1);
	ASSERT_INT_EQ(x.calls[1], 1);
	ASSERT_TRUE(WIFEXITED(x.status[0]));
	ASSERT_INT_EQ(WEXITSTATUS(x.status[0]), 3);
	ASSERT_TRUE(WIFSIGNALED(x.status[1]));
	ASSERT_INT_EQ(WTERMSIG(x.status[1]), SIGTERM);
	/* Reaped by the loop. */
	ASSERT_INT_EQ(waitpid(x.pid[0], NULL, WNOHANG), -1);
	talloc_free(term);

	/* A freed child watcher no longer holds the loop. */
	pid = fork();
	ASSERT_INT_GE(pid, 0);
	if (pid == 0) {
		alarm(10);
		for (;;) {
			pause();
		}
	}
	c = mg_child_new(tmp, loop, pid, child_cb, &x);
	ASSERT_PTR_NOT_NULL(c);
	talloc_free(c);
	ASSERT_INT_EQ(mg_loop_run(loop), 0);
	kill(pid, SIGKILL);
	ASSERT_INT_EQ(waitpid(pid, NULL, 0), pid);
	talloc_free(tmp);
}

static void free_next_child_cb(struct mg_child *c, pid_t pid, int status, void *data)
{
	struct cctx *x = data;

	(void)c;
	(void)pid;
	(void)status;
	x->calls[0]++;
	TALLOC_FREE(x->guard);
}

/* Watch 'n' children that exited already; the first report frees the
 * stop guard and the other watcher. Returns 0 if exactly one report came. */
static int fallback_exited(TALLOC_CTX *tmp, struct mg_loop *loop, int n)
{
	struct cctx x = { .loop = loop };
	struct mg_child *c[2] = { NULL, NULL };
	struct mg_timer *guard;
	int i, rc;

	for (i = 0; i < n; i++) {
		x.pid[i] = fork();
		if (x.pid[i] == 0) {
			_exit(0);
		}
	}
	/* Exited for sure, not reaped (WNOWAIT): a sleep alone left one
	 * still running on a loaded machine, and the other then came first. */
	for (i = 0; i < n; i++) {
		siginfo_t si;
		if (x.pid[i] < 0 || waitid(P_PID, (id_t)x.pid[i], &si, WEXITED | WNOWAIT) != 0) {
			return -1;
		}
	}
	guard = mg_timer_new(tmp, loop, 2000, fail_stop_child_cb, &x);
	for (i = 0; i < n; i++) {
		c[i] = mg_child_new(tmp, loop, x.pid[i], free_next_child_cb, &x);
	}
	if (guard == NULL || c[n - 1] == NULL) {
		return -1;
	}
	/* Ownership: the guard frees itself... */
	x.guard = talloc_new(tmp);
	talloc_steal(x.guard, guard);
	if (n == 2) {
		/* ... and the other child watcher with it. */
		talloc_steal(x.guard, c[1]);
	}
	rc = mg_loop_run(loop);
	for (i = 0; i < n; i++) {
		waitpid(x.pid[i], NULL, WNOHANG);
	}
	talloc_free(c[0]);
	return rc == 0 && x.calls[0] == 1 ? 0 : -2;
}

/* In a subprocess where pidfd_open fails with ENOSYS (seccomp): the
 * SIGCHLD fallback. Returns 0, 77 to skip, or the failed step. */
static int fallback_main(void)
{
	struct sock_filter filter[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_pidfd_open, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = 4, .filter = filter };
	TALLOC_CTX *tmp;
	struct mg_loop *loop;
	struct cctx x = { 0 };
	struct mg_signal *term;
	size_t before = talloc_total_size(NULL);

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) {
		return 77;
	}
	if (syscall(SYS_pidfd_open, getpid(), 0) >= 0 || errno != ENOSYS) {
		return 2;
	}
	tmp = talloc_new(NULL);
	loop = mg_loop_new(tmp);
	term = mg_signal_new(tmp, loop, SIGTERM, ignore_signal_cb, NULL);
	if (term == NULL || sig_blocked(SIGCHLD)) {
		return 3;
	}
	if (run_children(tmp, loop, &x) != 0) {
		return 4;
	}
	if (x.bad != 0 || x.calls[0] != 1 || x.calls[1] != 1 ||
	    !WIFEXITED(x.status[0]) || WEXITSTATUS(x.status[0]) != 3 ||
	    !WIFSIGNALED(x.status[1]) || WTERMSIG(x.status[1]) != SIGTERM) {
		return 5;
	}
	/* SIGCHLD was only blocked while fallback children were watched. */
	if (sig_blocked(SIGCHLD)) {
		return 6;
	}
	/* Exited before it was watched, and alone: found by the first scan,
	 * no SIGCHLD will come. Then the first of two frees the second
	 * during the scan. */
	if (fallback_exited(tmp, loop, 1) != 0) {
		return 8;
	}
	if (fallback_exited(tmp, loop, 2) != 0) {
		return 9;
	}
	talloc_free(tmp);
	if (sig_blocked(SIGTERM) || talloc_total_size(NULL) != before) {
		return 7;
	}
	return 0;
}

static void test_child_fallback(void)
{
	int status;
	pid_t pid;

	pid = fork();
	ASSERT_INT_GE(pid, 0);
	if (pid == 0) {
		_exit(fallback_main());
	}
	ASSERT_INT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT_TRUE(WIFEXITED(status));
	if (WEXITSTATUS(status) == 77) {
		printf("# skip: seccomp unavailable\n");
		return;
	}
	ASSERT_INT_EQ(WEXITSTATUS(status), 0);
}

/* A child that does not keep the loop running: mg_loop_run returns while
 * it lives; made a keepalive one again, it is waited for and reported. */
static void flag_cb(struct mg_child *c, pid_t pid, int status, void *data)
{
	(void)c;
	(void)pid;
	*(int *)data = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void test_child_keepalive(void)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	struct mg_loop *loop = mg_loop_new(tmp);
	struct mg_child *ch;
	int got = -2, fds[2];
	char byte = 0;
	pid_t pid;

	ASSERT_PTR_NOT_NULL(loop);
	ASSERT_INT_EQ(pipe(fds), 0);
	pid = fork();
	ASSERT_INT_GE(pid, 0);
	if (pid == 0) {
		/* Lives until the test writes a byte. */
		close(fds[1]);
		_exit(read(fds[0], &byte, 1) == 1 ? 7 : 1);
	}
	close(fds[0]);
	ch = mg_child_new(tmp, loop, pid, flag_cb, &got);
	ASSERT_PTR_NOT_NULL(ch);
	mg_child_set_keepalive(ch, false);
	ASSERT_INT_EQ(mg_loop_run(loop), 0);
	ASSERT_INT_EQ(got, -2);
	ASSERT_INT_EQ(kill(pid, 0), 0);
	mg_child_set_keepalive(ch, true);
	ASSERT_INT_EQ(write(fds[1], "x", 1), 1);
	ASSERT_INT_EQ(mg_loop_run(loop), 0);
	ASSERT_INT_EQ(got, 7);
	close(fds[1]);
	talloc_free(tmp);
}

/* running dry, stopping */

static void test_dry(void)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	struct mg_loop *loop = mg_loop_new(tmp);
	struct rec r = { .loop = loop };
	struct rec tr = { .loop = loop };
	struct tag tag = { &tr, 1 };
	struct mg_timer *t;
	struct mg_io *io;
	int p[2];

	ASSERT_PTR_NOT_NULL(loop);
	ASSERT_INT_EQ(mg_loop_run(loop), 0);
	ASSERT_INT_EQ(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
	ASSERT_INT_EQ(write(p[1], "x", 1), 1);
	/* Enabled and ready, but not keepalive: not called. */
	io = mg_io_new(tmp, loop, p[0], MG_IO_READ, count_cb, &r);
	ASSERT_PTR_NOT_NULL(io);
	mg_io_set_keepalive(io, false);
	ASSERT_PTR_NOT_NULL(mg_signal_new(tmp, loop, SIGUSR1, stop_signal_cb, &r));
	ASSERT_INT_EQ(mg_loop_run(loop), 0);
	ASSERT_INT_EQ(r.calls, 0);
	/* Keepalive again: it runs (and disables itself on the first call). */
	r.stop_at = 1;
	mg_io_set_keepalive(io, true);
	ASSERT_INT_EQ(mg_loop_run(loop), 0);
	ASSERT_INT_EQ(r.calls, 1);

	/* A timer that does not keep the loop is not waited for... */
	t = mg_timer_new(tmp, loop, 10, order_cb, &tag);
	ASSERT_PTR_NOT_NULL(t);
	mg_timer_set_keepalive(t, false);
	ASSERT_INT_EQ(mg_loop_run(loop), 0);
	ASSERT_INT_EQ(tr.calls, 0);
	/* ... until it is told to, and once fired it holds nothing. */
	mg_timer_set_keepalive(t, true);
	ASSERT_INT_EQ(mg_loop_run(loop), 0);
	ASSERT_INT_EQ(tr.calls, 1);
	mg_timer_set_keepalive(t, false);
	mg_timer_set_keepalive(t, true);
	ASSERT_INT_EQ(mg_loop_run(loop), 0);
	ASSERT_INT_EQ(tr.calls, 1);
	talloc_free(tmp);
	close(p[0]);
	close(p[1]);
}

static void stop_timer_cb(struct mg_timer *t, void *data)
{
	struct rec *r = data;

	(void)t;
	r->calls++;
	mg_loop_stop(r->loop, r->stop_rc);
}

static void test_stop(void)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	struct mg_loop *loop = mg_loop_new(tmp);
	struct rec r = { .loop = loop, .stop_rc = 42 };
	struct mg_timer *far;
	uint64_t start = mg_loop_now(loop);

	far = mg_timer_new(tmp, loop, 10000, must_not_fire_cb, &r);
	ASSERT_PTR_NOT_NULL(far);
	ASSERT_PTR_NOT_NULL(mg_timer_new(tmp, loop, 0, stop_timer_cb, &r));
	ASSERT_INT_EQ(mg_loop_run(loop), 42);
	ASSERT_TRUE(mg_loop_now(loop) - start < 1000);
	/* Runs again, with a new value. */
	r.stop_rc = -5;
	ASSERT_PTR_NOT_NULL(mg_timer_new(tmp, loop, 5, stop_timer_cb, &r));
	ASSERT_INT_EQ(mg_loop_run(loop), -5);
	ASSERT_INT_EQ(r.calls, 2);
	ASSERT_TRUE(!r.fired_after_kill);
	talloc_free(far);
	/* The stop does not stick to the next run. */
	ASSERT_INT_EQ(mg_loop_run(loop), 0);
	talloc_free(tmp);
}

int main(void)
{
	/* A hung loop fails the whole run instead of blocking it. */
	alarm(60);
	/* Keep the TAP lines if the alarm or a sanitizer ends the run. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	TESTS_BEGIN();
	RUN(test_io_read);
	RUN(test_io_write);
	RUN(test_io_set_zero);
	RUN(test_io_always_ready);
	RUN(test_timers_order);
	RUN(test_timer_cancel);
	RUN(test_free_in_batch);
	RUN(test_free_all_from_cb);
	RUN(test_loop_freed_first);
	RUN(test_defer);
	RUN(test_free_later);
	RUN(test_run_in_callback);
	RUN(test_signal);
	RUN(test_child);
	RUN(test_child_fallback);
	RUN(test_child_keepalive);
	RUN(test_dry);
	RUN(test_stop);
	return TESTS_END();
}
