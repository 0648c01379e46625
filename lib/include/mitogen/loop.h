/*
 * The event loop: one thread, epoll, timers, signals (signalfd) and child
 * processes (pidfd, SIGCHLD fallback). Every watcher is a talloc object:
 * freeing it stops it. Callbacks never run from inside the call that
 * registered them.
 */
#ifndef MITOGEN_LOOP_H
#define MITOGEN_LOOP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <talloc.h>

#ifdef __cplusplus
extern "C" {
#endif

struct mg_loop;
struct mg_io;
struct mg_timer;
struct mg_signal;
struct mg_child;

#define MG_IO_READ 0x1u
#define MG_IO_WRITE 0x2u

typedef void (*mg_io_cb)(struct mg_io *io, unsigned events, void *data);
typedef void (*mg_timer_cb)(struct mg_timer *t, void *data);
typedef void (*mg_signal_cb)(struct mg_signal *s, int signo, void *data);
/* 'status' is as from waitpid(). */
typedef void (*mg_child_cb)(struct mg_child *c, pid_t pid, int status, void *data);
typedef void (*mg_defer_cb)(void *data);

/* A new loop, or NULL on allocation or epoll failure. */
struct mg_loop *mg_loop_new(TALLOC_CTX *mem_ctx);

/*
 * Run until mg_loop_stop() is called or nothing is left to wait for
 * (no enabled io, timer, child or deferred call; signal watchers alone do
 * not keep the loop alive). Returns the value given to mg_loop_stop(), 0
 * when the loop ran dry, -EDEADLK from one of the loop's own callbacks, or
 * a negative errno if epoll failed.
 */
int mg_loop_run(struct mg_loop *loop);
void mg_loop_stop(struct mg_loop *loop, int rc);
/*
 * One iteration: deferred calls, due timers, then wait at most
 * 'timeout_ms' (-1: no bound) for io and dispatch it. The wait is shorter
 * when a timer is due sooner, and zero when deferred calls are pending or
 * when this iteration ran any (they may be what the caller waits for).
 * Unlike mg_loop_run it waits even with nothing alive (an io that does not
 * keep the loop alive may still wake it). Returns 1 if mg_loop_stop() was
 * called during the iteration, 0 otherwise, -EDEADLK from one of the
 * loop's own callbacks, or a negative errno if epoll failed.
 */
int mg_loop_run_once(struct mg_loop *loop, int timeout_ms);
/* Whether anything keeps the loop alive (see mg_loop_run). */
bool mg_loop_alive(const struct mg_loop *loop);
/* Whether mg_loop_run or mg_loop_run_once is on the stack: true inside
 * any of the loop's callbacks, where waiting for the loop would deadlock. */
bool mg_loop_running(const struct mg_loop *loop);
/* Monotonic milliseconds, cached per iteration. */
uint64_t mg_loop_now(struct mg_loop *loop);

/*
 * Watch 'fd' for 'events' (MG_IO_READ|MG_IO_WRITE, may be 0). The fd is not
 * owned: the caller closes it after freeing the watcher (closed first, it
 * stays in epoll while another process holds the same open file, a child
 * between fork and exec for one, and the freed watcher would be called).
 * A destructor that closes the fd frees the watcher first: talloc frees
 * children after the destructor. Regular files and
 * other fds epoll refuses are reported ready on every iteration.
 */
struct mg_io *mg_io_new(TALLOC_CTX *mem_ctx, struct mg_loop *loop, int fd,
			unsigned events, mg_io_cb cb, void *data);
void mg_io_set(struct mg_io *io, unsigned events);
unsigned mg_io_get(const struct mg_io *io);
int mg_io_fd(const struct mg_io *io);
/* Whether this io counts toward keeping the loop alive (default true). */
void mg_io_set_keepalive(struct mg_io *io, bool keepalive);

/* One-shot timer firing after 'ms'. Free it to cancel. */
struct mg_timer *mg_timer_new(TALLOC_CTX *mem_ctx, struct mg_loop *loop,
			      uint64_t ms, mg_timer_cb cb, void *data);

/* Whether a pending timer keeps the loop alive (default true). */
void mg_timer_set_keepalive(struct mg_timer *t, bool keepalive);

/* Deliver 'signo' through the loop. It is blocked while any watcher exists. */
struct mg_signal *mg_signal_new(TALLOC_CTX *mem_ctx, struct mg_loop *loop,
				int signo, mg_signal_cb cb, void *data);

/* Reap 'pid' and report its status once. Free to stop watching (the
 * process is then neither killed nor reaped). */
struct mg_child *mg_child_new(TALLOC_CTX *mem_ctx, struct mg_loop *loop,
			      pid_t pid, mg_child_cb cb, void *data);
/* Whether a child not yet reported keeps the loop alive (default true). */
void mg_child_set_keepalive(struct mg_child *c, bool keepalive);

/* Run 'cb' on the next iteration. Returns 0 or -ENOMEM. The call is
 * cancelled when 'owner' (may be NULL) is freed first. */
int mg_loop_defer(struct mg_loop *loop, const void *owner, mg_defer_cb cb, void *data);

/* Free 'ptr' at the end of this iteration, so callbacks on the stack may
 * still use it. */
void mg_loop_free_later(struct mg_loop *loop, void *ptr);

/* Signal mask a child must restore before exec (all unblocked). */
void mg_loop_child_sigmask(void);

#ifdef __cplusplus
}
#endif

#endif
