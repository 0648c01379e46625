/*
 * The event loop. One iteration runs, in order: deferred calls, expired
 * timers, epoll_wait, io callbacks (signalfd and pidfds are ios too), the
 * SIGCHLD fallback scan, then the mg_loop_free_later() garbage.
 *
 * Any watcher may be freed from any callback. Dispatch never holds a
 * pointer across a callback unless the watcher's destructor fixes it up:
 * an io clears its pending entries from the ready array, and the signal
 * and child scans keep their cursor in the loop, where destructors advance
 * it. The loop itself must not be freed from its own callbacks: stop it.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "mitogen/log.h"
#include "mitogen/loop.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

#define MAX_EVENTS 64
#define MAX_SIGNO 64

/* Intrusive circular list; an unlinked node points at itself. */
struct list {
	struct list *prev, *next;
};

#define ENTRY(ptr, type, member) \
	((type *)(void *)((char *)(ptr) - offsetof(type, member)))

struct ready {
	struct mg_io *io;
	unsigned events;
};

struct mg_loop {
	int epfd;
	bool stopped;
	int stop_rc;
	uint64_t now;

	struct list ios;	/* every io, to detach them if the loop goes first */
	struct list always;	/* ios epoll refused: ready every iteration */
	unsigned n_alive_io;	/* enabled keepalive ios */
	unsigned n_alive_timers; /* pending keepalive timers */
	struct ready *ready;	/* the batch being dispatched */
	size_t nready, ready_cap;

	struct list timers;	/* sorted by due time, then creation */
	uint64_t timer_seq;

	struct list signals;
	struct list *sig_iter;
	int sigfd;
	struct mg_io *sigio;

	struct list children;
	struct list *child_iter;
	unsigned n_children;	/* not yet reported */
	unsigned n_fallback;	/* watched through SIGCHLD, not a pidfd */
	struct mg_signal *sigchld;
	bool child_scan;
	bool no_pidfd;
	bool dying;        /* its destructor has run: no new watcher */

	struct list defers;
	TALLOC_CTX *garbage;
	unsigned depth;	/* mg_loop_run / mg_loop_run_once on the stack */
};

struct mg_io {
	struct mg_loop *loop;	/* NULL once the loop is gone */
	struct list entry;
	struct list always_entry;
	int fd;
	unsigned events;
	bool keepalive;
	bool registered;
	bool always;
	mg_io_cb cb;
	void *data;
};

struct mg_timer {
	struct mg_loop *loop;	/* NULL once the loop is gone */
	struct list entry;	/* linked while pending */
	uint64_t due, seq;
	bool keepalive;
	mg_timer_cb cb;
	void *data;
};

struct mg_signal {
	struct mg_loop *loop;
	struct list entry;
	int signo;
	mg_signal_cb cb;
	void *data;
};

struct mg_child {
	struct mg_loop *loop;
	struct list entry;
	pid_t pid;
	int pidfd;
	struct mg_io *io;
	bool fallback;
	bool reported;
	bool keepalive;
	mg_child_cb cb;
	void *data;
};

struct defer {
	struct list entry;
	mg_defer_cb cb;
	void *data;
};

/*
 * The signal mask is per process, so this is too: how many watchers (of
 * any loop) hold each signal blocked, and whether it was blocked anyway.
 */
static unsigned sig_refs[MAX_SIGNO + 1];
static bool sig_preblocked[MAX_SIGNO + 1];

static void list_init(struct list *l)
{
	l->prev = l;
	l->next = l;
}

static bool list_empty(const struct list *l)
{
	return l->next == l;
}

static void list_insert_after(struct list *pos, struct list *l)
{
	l->prev = pos;
	l->next = pos->next;
	pos->next->prev = l;
	pos->next = l;
}

static void list_remove(struct list *l)
{
	l->prev->next = l->next;
	l->next->prev = l->prev;
	list_init(l);
}

/* Move every node of 'src' to the empty head 'dst'. */
static void list_move_all(struct list *dst, struct list *src)
{
	list_init(dst);
	if (list_empty(src)) {
		return;
	}
	dst->next = src->next;
	dst->prev = src->prev;
	dst->next->prev = dst;
	dst->prev->next = dst;
	list_init(src);
}

static uint64_t clock_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* io */

static bool io_alive(const struct mg_io *io)
{
	return io->keepalive && io->events != 0;
}

static void io_unregister(struct mg_io *io)
{
	if (!io->registered) {
		return;
	}
	/* EBADF: the caller closed the fd first, against mg_io_new's rule.
	 * That removes it only if nothing else holds the open file (a child
	 * forked but not yet exec'd does): else epoll keeps reporting it. */
	if (epoll_ctl(io->loop->epfd, EPOLL_CTL_DEL, io->fd, NULL) != 0 &&
	    errno != EBADF && errno != ENOENT) {
		mg_debug_fr(-errno, "epoll_ctl(DEL, %d)", io->fd);
	}
	io->registered = false;
}

/* Bring the epoll registration in line with io->events. */
static void io_sync(struct mg_io *io)
{
	struct mg_loop *loop = io->loop;
	struct epoll_event ev;

	if (io->always) {
		return;
	}
	if (io->events == 0) {
		/* DEL, not MOD to 0: epoll reports HUP and ERR regardless. */
		io_unregister(io);
		return;
	}
	memset(&ev, 0, sizeof(ev));
	ev.events = ((io->events & MG_IO_READ) != 0 ? EPOLLIN : 0) |
		    ((io->events & MG_IO_WRITE) != 0 ? EPOLLOUT : 0);
	ev.data.ptr = io;
	if (io->registered) {
		if (epoll_ctl(loop->epfd, EPOLL_CTL_MOD, io->fd, &ev) == 0) {
			return;
		}
		if (errno != ENOENT) {
			mg_error_fr(-errno, "epoll_ctl(MOD, %d)", io->fd);
			return;
		}
		io->registered = false;
	}
	if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, io->fd, &ev) == 0) {
		io->registered = true;
		return;
	}
	/*
	 * Regular files give EPERM. For anything else epoll refuses, calling
	 * back every iteration lets the caller's read or write see the error
	 * rather than wait forever.
	 */
	if (errno != EPERM) {
		mg_debug_fr(-errno, "epoll_ctl(ADD, %d): polling it instead", io->fd);
	}
	io->always = true;
	list_insert_after(loop->always.prev, &io->always_entry);
}

static int io_destructor(struct mg_io *io)
{
	struct mg_loop *loop = io->loop;
	size_t i;

	if (loop == NULL) {
		return 0;
	}
	if (io_alive(io)) {
		loop->n_alive_io--;
	}
	io_unregister(io);
	list_remove(&io->entry);
	list_remove(&io->always_entry);
	/* epoll may have reported it in the batch being dispatched. */
	for (i = 0; i < loop->nready; i++) {
		if (loop->ready[i].io == io) {
			loop->ready[i].io = NULL;
		}
	}
	return 0;
}

struct mg_io *mg_io_new(TALLOC_CTX *mem_ctx, struct mg_loop *loop, int fd,
			unsigned events, mg_io_cb cb, void *data)
{
	struct mg_io *io;

	if (loop == NULL || fd < 0 || cb == NULL) {
		return NULL;
	}
	io = talloc_zero(mem_ctx, struct mg_io);
	if (io == NULL) {
		return NULL;
	}
	io->loop = loop;
	io->fd = fd;
	io->keepalive = true;
	io->cb = cb;
	io->data = data;
	list_init(&io->always_entry);
	list_insert_after(loop->ios.prev, &io->entry);
	talloc_set_destructor(io, io_destructor);
	mg_io_set(io, events);
	return io;
}

void mg_io_set(struct mg_io *io, unsigned events)
{
	struct mg_loop *loop = io->loop;

	events &= MG_IO_READ | MG_IO_WRITE;
	if (loop == NULL) {
		io->events = events;
		return;
	}
	if (events == io->events) {
		/* Callers re-assert their mask often: no syscall for that. */
		return;
	}
	if (io_alive(io)) {
		loop->n_alive_io--;
	}
	io->events = events;
	if (io_alive(io)) {
		loop->n_alive_io++;
	}
	io_sync(io);
}

unsigned mg_io_get(const struct mg_io *io)
{
	return io->events;
}

int mg_io_fd(const struct mg_io *io)
{
	return io->fd;
}

void mg_io_set_keepalive(struct mg_io *io, bool keepalive)
{
	struct mg_loop *loop = io->loop;

	if (loop != NULL && io_alive(io)) {
		loop->n_alive_io--;
	}
	io->keepalive = keepalive;
	if (loop != NULL && io_alive(io)) {
		loop->n_alive_io++;
	}
}

/* timers */

static bool timer_alive(const struct mg_timer *t)
{
	return t->keepalive && !list_empty(&t->entry);
}

static int timer_destructor(struct mg_timer *t)
{
	if (t->loop != NULL && timer_alive(t)) {
		t->loop->n_alive_timers--;
	}
	list_remove(&t->entry);
	return 0;
}

void mg_timer_set_keepalive(struct mg_timer *t, bool keepalive)
{
	if (t->loop != NULL && timer_alive(t)) {
		t->loop->n_alive_timers--;
	}
	t->keepalive = keepalive;
	if (t->loop != NULL && timer_alive(t)) {
		t->loop->n_alive_timers++;
	}
}

struct mg_timer *mg_timer_new(TALLOC_CTX *mem_ctx, struct mg_loop *loop,
			      uint64_t ms, mg_timer_cb cb, void *data)
{
	struct mg_timer *t;
	struct list *pos;

	if (loop == NULL || cb == NULL) {
		return NULL;
	}
	t = talloc_zero(mem_ctx, struct mg_timer);
	if (t == NULL) {
		return NULL;
	}
	t->due = ms > UINT64_MAX - loop->now ? UINT64_MAX : loop->now + ms;
	t->seq = loop->timer_seq++;
	t->loop = loop;
	t->keepalive = true;
	loop->n_alive_timers++;
	t->cb = cb;
	t->data = data;
	/* From the tail: new timers are usually the latest. */
	for (pos = loop->timers.prev; pos != &loop->timers; pos = pos->prev) {
		if (ENTRY(pos, struct mg_timer, entry)->due <= t->due) {
			break;
		}
	}
	list_insert_after(pos, &t->entry);
	talloc_set_destructor(t, timer_destructor);
	return t;
}

static void run_timers(struct mg_loop *loop)
{
	/* Timers added by these callbacks wait for the next iteration. */
	uint64_t seq_end = loop->timer_seq;

	while (!list_empty(&loop->timers) && !loop->stopped) {
		struct mg_timer *t = ENTRY(loop->timers.next, struct mg_timer, entry);

		if (t->due > loop->now || t->seq >= seq_end) {
			break;
		}
		if (timer_alive(t)) {
			loop->n_alive_timers--;
		}
		list_remove(&t->entry);
		t->cb(t, t->data);
	}
}

/* signals */

static bool signo_valid(int signo)
{
	if (signo == SIGKILL || signo == SIGSTOP) {
		return false;
	}
	return (signo >= 1 && signo < 32) ||
	       (signo >= SIGRTMIN && signo <= SIGRTMAX && signo <= MAX_SIGNO);
}

static void sig_acquire(int signo)
{
	sigset_t set, old;

	if (sig_refs[signo]++ > 0) {
		return;
	}
	sigemptyset(&set);
	sigaddset(&set, signo);
	sigprocmask(SIG_BLOCK, &set, &old);
	sig_preblocked[signo] = sigismember(&old, signo) == 1;
}

static void sig_release(int signo)
{
	struct timespec zero = { 0, 0 };
	sigset_t set;
	int r;

	if (--sig_refs[signo] > 0 || sig_preblocked[signo]) {
		return;
	}
	sigemptyset(&set);
	sigaddset(&set, signo);
	/* Nobody watches it now: drop what is pending rather than let the
	 * default action (often termination) fire on unblocking. */
	do {
		r = sigtimedwait(&set, NULL, &zero);
	} while (r == signo || (r < 0 && errno == EINTR));
	sigprocmask(SIG_UNBLOCK, &set, NULL);
}

static void dispatch_signal(struct mg_loop *loop, int signo)
{
	struct list *l;

	for (l = loop->signals.next; l != &loop->signals; l = loop->sig_iter) {
		struct mg_signal *s = ENTRY(l, struct mg_signal, entry);

		loop->sig_iter = l->next;
		if (s->signo == signo) {
			s->cb(s, signo, s->data);
		}
	}
	loop->sig_iter = NULL;
}

static void sigio_cb(struct mg_io *io, unsigned events, void *data)
{
	struct mg_loop *loop = talloc_get_type_abort(data, struct mg_loop);
	struct signalfd_siginfo si[8];
	ssize_t n;
	size_t i;

	(void)io;
	(void)events;
	do {
		n = read(loop->sigfd, si, sizeof(si));
	} while (n < 0 && errno == EINTR);
	if (n < 0) {
		if (errno != EAGAIN) {
			mg_error_fr(-errno, "read(signalfd)");
		}
		return;
	}
	for (i = 0; i < (size_t)n / sizeof(si[0]); i++) {
		dispatch_signal(loop, (int)si[i].ssi_signo);
	}
}

/* Point the loop's signalfd at the signals its watchers want. */
static int sig_update(struct mg_loop *loop)
{
	sigset_t mask;
	struct list *l;

	sigemptyset(&mask);
	for (l = loop->signals.next; l != &loop->signals; l = l->next) {
		sigaddset(&mask, ENTRY(l, struct mg_signal, entry)->signo);
	}
	if (loop->sigfd >= 0) {
		return signalfd(loop->sigfd, &mask, 0) < 0 ? -errno : 0;
	}
	loop->sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (loop->sigfd < 0) {
		return -errno;
	}
	loop->sigio = mg_io_new(loop, loop, loop->sigfd, MG_IO_READ, sigio_cb, loop);
	if (loop->sigio == NULL) {
		close(loop->sigfd);
		loop->sigfd = -1;
		return -ENOMEM;
	}
	mg_io_set_keepalive(loop->sigio, false);
	return 0;
}

static int signal_destructor(struct mg_signal *s)
{
	struct mg_loop *loop = s->loop;

	if (loop == NULL) {
		return 0;
	}
	if (loop->sig_iter == &s->entry) {
		loop->sig_iter = s->entry.next;
	}
	list_remove(&s->entry);
	(void)sig_update(loop);
	sig_release(s->signo);
	return 0;
}

struct mg_signal *mg_signal_new(TALLOC_CTX *mem_ctx, struct mg_loop *loop,
				int signo, mg_signal_cb cb, void *data)
{
	struct mg_signal *s;
	int r;

	if (loop == NULL || cb == NULL || !signo_valid(signo)) {
		return NULL;
	}
	s = talloc_zero(mem_ctx, struct mg_signal);
	if (s == NULL) {
		return NULL;
	}
	s->loop = loop;
	s->signo = signo;
	s->cb = cb;
	s->data = data;
	/* At the head, so a dispatch in progress does not reach it. */
	list_insert_after(&loop->signals, &s->entry);
	sig_acquire(signo);
	talloc_set_destructor(s, signal_destructor);
	if ((r = sig_update(loop)) != 0) {
		mg_error_fr(r, "signalfd");
		talloc_free(s);
		return NULL;
	}
	return s;
}

/* children */

static void child_unwatch(struct mg_child *c)
{
	struct mg_loop *loop = c->loop;

	TALLOC_FREE(c->io);
	if (c->pidfd >= 0) {
		close(c->pidfd);
		c->pidfd = -1;
	}
	if (c->fallback) {
		c->fallback = false;
		if (--loop->n_fallback == 0) {
			TALLOC_FREE(loop->sigchld);
		}
	}
}

/* Reap the child if it exited; report it and return true then. */
static bool child_poll(struct mg_child *c)
{
	int status = 0;
	pid_t r;

	do {
		r = waitpid(c->pid, &status, WNOHANG);
	} while (r < 0 && errno == EINTR);
	if (r == 0) {
		return false;
	}
	if (r < 0) {
		/* Reaped elsewhere (or not ours): the status is lost. */
		mg_warn_r(-errno, "waitpid(%d)", (int)c->pid);
		status = 255 << 8;
	}
	c->reported = true;
	if (c->keepalive) {
		c->loop->n_children--;
	}
	child_unwatch(c);
	c->cb(c, c->pid, status, c->data);
	return true;
}

static void pidfd_cb(struct mg_io *io, unsigned events, void *data)
{
	(void)io;
	(void)events;
	child_poll(talloc_get_type_abort(data, struct mg_child));
}

static void sigchld_cb(struct mg_signal *s, int signo, void *data)
{
	struct mg_loop *loop = talloc_get_type_abort(data, struct mg_loop);

	(void)s;
	(void)signo;
	loop->child_scan = true;
}

static void scan_children(struct mg_loop *loop)
{
	struct list *l;

	loop->child_scan = false;
	for (l = loop->children.next; l != &loop->children; l = loop->child_iter) {
		struct mg_child *c = ENTRY(l, struct mg_child, entry);

		loop->child_iter = l->next;
		if (c->fallback) {
			child_poll(c);
		}
	}
	loop->child_iter = NULL;
}

static int child_destructor(struct mg_child *c)
{
	struct mg_loop *loop = c->loop;

	if (loop != NULL) {
		if (loop->child_iter == &c->entry) {
			loop->child_iter = c->entry.next;
		}
		list_remove(&c->entry);
		if (!c->reported && c->keepalive) {
			loop->n_children--;
		}
	}
	child_unwatch(c);
	return 0;
}

struct mg_child *mg_child_new(TALLOC_CTX *mem_ctx, struct mg_loop *loop,
			      pid_t pid, mg_child_cb cb, void *data)
{
	struct mg_child *c;

	if (loop == NULL || cb == NULL || pid <= 0 || loop->dying) {
		return NULL;
	}
	c = talloc_zero(mem_ctx, struct mg_child);
	if (c == NULL) {
		return NULL;
	}
	c->loop = loop;
	c->pid = pid;
	c->pidfd = -1;
	c->cb = cb;
	c->data = data;
	c->keepalive = true;
	list_insert_after(loop->children.prev, &c->entry);
	loop->n_children++;
	talloc_set_destructor(c, child_destructor);

	if (!loop->no_pidfd) {
		/* pidfds are always close-on-exec; we never read them. */
		c->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
		if (c->pidfd < 0 && (errno == ENOSYS || errno == EPERM)) {
			loop->no_pidfd = true;
		}
	}
	if (c->pidfd >= 0) {
		c->io = mg_io_new(c, loop, c->pidfd, MG_IO_READ, pidfd_cb, c);
		if (c->io == NULL) {
			goto fail;
		}
		mg_io_set_keepalive(c->io, false);
		return c;
	}
	/* No pidfd: poll every such child on SIGCHLD, and once right away in
	 * case it exited before SIGCHLD was blocked. */
	if (loop->sigchld == NULL) {
		loop->sigchld = mg_signal_new(loop, loop, SIGCHLD, sigchld_cb, loop);
		if (loop->sigchld == NULL) {
			goto fail;
		}
	}
	c->fallback = true;
	loop->n_fallback++;
	loop->child_scan = true;
	return c;
fail:
	talloc_free(c);
	return NULL;
}

void mg_child_set_keepalive(struct mg_child *c, bool keepalive)
{
	if (c->loop != NULL && !c->reported && c->keepalive != keepalive) {
		if (keepalive) {
			c->loop->n_children++;
		} else {
			c->loop->n_children--;
		}
	}
	c->keepalive = keepalive;
}

void mg_loop_child_sigmask(void)
{
	sigset_t set;
	int signo;

	for (signo = 1; signo <= MAX_SIGNO; signo++) {
		if (sig_refs[signo] > 0) {
			signal(signo, SIG_DFL);
		}
	}
	sigemptyset(&set);
	sigprocmask(SIG_SETMASK, &set, NULL);
}

/* deferred calls and garbage */

static int defer_destructor(struct defer *d)
{
	list_remove(&d->entry);
	return 0;
}

int mg_loop_defer(struct mg_loop *loop, const void *owner, mg_defer_cb cb, void *data)
{
	struct defer *d;

	if (loop == NULL || cb == NULL) {
		return -EINVAL;
	}
	/* A child of the owner, so freeing the owner cancels it. */
	d = talloc_zero(owner != NULL ? owner : loop, struct defer);
	if (d == NULL) {
		return -ENOMEM;
	}
	d->cb = cb;
	d->data = data;
	list_insert_after(loop->defers.prev, &d->entry);
	talloc_set_destructor(d, defer_destructor);
	return 0;
}

static void run_defers(struct mg_loop *loop)
{
	struct list pending;

	/* Calls queued from these callbacks wait for the next iteration. */
	list_move_all(&pending, &loop->defers);
	while (!list_empty(&pending)) {
		struct defer *d = ENTRY(pending.next, struct defer, entry);
		mg_defer_cb cb = d->cb;
		void *data = d->data;

		talloc_free(d);
		cb(data);
	}
}

void mg_loop_free_later(struct mg_loop *loop, void *ptr)
{
	if (ptr == NULL) {
		return;
	}
	if (loop->garbage == NULL) {
		loop->garbage = talloc_new(loop);
	}
	/* Without memory, the loop's own lifetime is the next best bound. */
	talloc_steal(loop->garbage != NULL ? loop->garbage : loop, ptr);
}

static void collect_garbage(struct mg_loop *loop)
{
	/* Destructors may queue more garbage: take a fresh context each round. */
	while (loop->garbage != NULL) {
		TALLOC_CTX *g = loop->garbage;

		loop->garbage = NULL;
		talloc_free(g);
	}
}

/* the loop */

static int loop_destructor(struct mg_loop *loop)
{
	/* Its children's destructors run after this one. */
	loop->dying = true;
	/* Watchers owned elsewhere outlive the loop: detach them. */
	while (!list_empty(&loop->ios)) {
		struct mg_io *io = ENTRY(loop->ios.next, struct mg_io, entry);

		io->loop = NULL;
		list_remove(&io->entry);
		list_remove(&io->always_entry);
	}
	while (!list_empty(&loop->timers)) {
		struct mg_timer *t = ENTRY(loop->timers.next, struct mg_timer, entry);

		t->loop = NULL;
		list_remove(&t->entry);
	}
	while (!list_empty(&loop->signals)) {
		struct mg_signal *s = ENTRY(loop->signals.next, struct mg_signal, entry);

		s->loop = NULL;
		list_remove(&s->entry);
		sig_release(s->signo);
	}
	while (!list_empty(&loop->children)) {
		struct mg_child *c = ENTRY(loop->children.next, struct mg_child, entry);

		c->loop = NULL;
		c->fallback = false;
		list_remove(&c->entry);
	}
	while (!list_empty(&loop->defers)) {
		list_remove(loop->defers.next);
	}
	loop->nready = 0;
	if (loop->sigfd >= 0) {
		close(loop->sigfd);
	}
	close(loop->epfd);
	return 0;
}

struct mg_loop *mg_loop_new(TALLOC_CTX *mem_ctx)
{
	struct mg_loop *loop;

	loop = talloc_zero(mem_ctx, struct mg_loop);
	if (loop == NULL) {
		return NULL;
	}
	loop->sigfd = -1;
	list_init(&loop->ios);
	list_init(&loop->always);
	list_init(&loop->timers);
	list_init(&loop->signals);
	list_init(&loop->children);
	list_init(&loop->defers);
	loop->ready = talloc_array(loop, struct ready, MAX_EVENTS);
	if (loop->ready == NULL) {
		talloc_free(loop);
		return NULL;
	}
	loop->ready_cap = MAX_EVENTS;
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (loop->epfd < 0) {
		mg_error_fr(-errno, "epoll_create1");
		talloc_free(loop);
		return NULL;
	}
	talloc_set_destructor(loop, loop_destructor);
	loop->now = clock_ms();
	return loop;
}

void mg_loop_stop(struct mg_loop *loop, int rc)
{
	loop->stopped = true;
	loop->stop_rc = rc;
}

uint64_t mg_loop_now(struct mg_loop *loop)
{
	return loop->now;
}

static bool always_pending(const struct mg_loop *loop)
{
	const struct list *l;

	for (l = loop->always.next; l != &loop->always; l = l->next) {
		if (ENTRY(l, struct mg_io, always_entry)->events != 0) {
			return true;
		}
	}
	return false;
}

static int poll_timeout(const struct mg_loop *loop)
{
	const struct mg_timer *t;

	if (!list_empty(&loop->defers) || loop->child_scan || always_pending(loop)) {
		return 0;
	}
	if (list_empty(&loop->timers)) {
		return -1;
	}
	t = ENTRY(loop->timers.next, struct mg_timer, entry);
	if (t->due <= loop->now) {
		return 0;
	}
	return t->due - loop->now > INT_MAX ? INT_MAX : (int)(t->due - loop->now);
}

static void fill_ready(struct mg_loop *loop, const struct epoll_event *evs, int n)
{
	size_t need = (size_t)n;
	struct list *l;
	int i;

	for (l = loop->always.next; l != &loop->always; l = l->next) {
		need++;
	}
	if (need > loop->ready_cap) {
		struct ready *r = talloc_realloc(loop, loop->ready, struct ready, need);

		/* Without memory, always-ready ios wait: they stay ready. */
		if (r != NULL) {
			loop->ready = r;
			loop->ready_cap = need;
		}
	}
	loop->nready = 0;
	for (i = 0; i < n; i++) {
		uint32_t e = evs[i].events;
		unsigned ev = 0;

		if ((e & (EPOLLERR | EPOLLHUP)) != 0) {
			ev = MG_IO_READ | MG_IO_WRITE;
		}
		ev |= ((e & EPOLLIN) != 0 ? MG_IO_READ : 0) |
		      ((e & EPOLLOUT) != 0 ? MG_IO_WRITE : 0);
		loop->ready[loop->nready].io = evs[i].data.ptr;
		loop->ready[loop->nready].events = ev;
		loop->nready++;
	}
	for (l = loop->always.next; l != &loop->always && loop->nready < loop->ready_cap;
	     l = l->next) {
		loop->ready[loop->nready].io = ENTRY(l, struct mg_io, always_entry);
		loop->ready[loop->nready].events = MG_IO_READ | MG_IO_WRITE;
		loop->nready++;
	}
}

static void dispatch(struct mg_loop *loop)
{
	size_t i;

	for (i = 0; i < loop->nready && !loop->stopped; i++) {
		struct mg_io *io = loop->ready[i].io;
		unsigned ev;

		if (io == NULL) {
			continue;
		}
		/* The mask may have changed since epoll_wait. */
		ev = loop->ready[i].events & io->events;
		if (ev != 0) {
			io->cb(io, ev, io->data);
		}
	}
	loop->nready = 0;
}

static bool loop_alive(const struct mg_loop *loop)
{
	return loop->n_alive_io > 0 || loop->n_alive_timers > 0 ||
	       loop->n_children > 0 || !list_empty(&loop->defers);
}

/* Wait at most 'timeout' ms for io, then dispatch it. */
static int loop_wait(struct mg_loop *loop, int timeout)
{
	struct epoll_event evs[MAX_EVENTS];
	int n, rc = 0;

	n = epoll_wait(loop->epfd, evs, MAX_EVENTS, timeout);
	if (n < 0) {
		if (errno != EINTR) {
			rc = -errno;
			mg_error_fr(rc, "epoll_wait");
			return rc;
		}
		n = 0;
	}
	loop->now = clock_ms();
	fill_ready(loop, evs, n);
	dispatch(loop);
	if (loop->child_scan) {
		scan_children(loop);
	}
	collect_garbage(loop);
	return 0;
}

int mg_loop_run(struct mg_loop *loop)
{
	int rc = 0;

	/* From a callback, an inner iteration would dispatch over the outer
	 * one's ready list and free its mg_loop_free_later() garbage while
	 * the callers up the stack still use it. */
	if (loop->depth > 0) {
		return -EDEADLK;
	}
	loop->stopped = false;
	loop->stop_rc = 0;
	loop->depth++;
	for (;;) {
		loop->now = clock_ms();
		run_defers(loop);
		run_timers(loop);
		if (loop->stopped || !loop_alive(loop)) {
			break;
		}
		if ((rc = loop_wait(loop, poll_timeout(loop))) != 0 || loop->stopped) {
			break;
		}
	}
	collect_garbage(loop);
	loop->depth--;
	return loop->stopped ? loop->stop_rc : rc;
}

int mg_loop_run_once(struct mg_loop *loop, int timeout_ms)
{
	int rc = 0, t;
	bool ran;

	if (loop->depth > 0) {
		return -EDEADLK;	/* as mg_loop_run */
	}
	loop->stopped = false;
	loop->stop_rc = 0;
	loop->depth++;
	loop->now = clock_ms();
	/* Callbacks run now may be what the caller waits for: then only
	 * look at io, without sleeping. */
	ran = poll_timeout(loop) == 0;
	run_defers(loop);
	run_timers(loop);
	if (!loop->stopped) {
		/* The caller's bound, or sooner when a timer or deferred call
		 * is due. */
		t = ran ? 0 : poll_timeout(loop);
		if (timeout_ms >= 0 && (t < 0 || t > timeout_ms)) {
			t = timeout_ms;
		}
		rc = loop_wait(loop, t);
	}
	collect_garbage(loop);
	loop->depth--;
	return rc != 0 ? rc : loop->stopped ? 1 : 0;
}

bool mg_loop_alive(const struct mg_loop *loop)
{
	return loop_alive(loop);
}

bool mg_loop_running(const struct mg_loop *loop)
{
	return loop->depth > 0;
}
