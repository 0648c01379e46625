/*
 * The broker: mitogen's event loop object. It wraps an mg_loop (loop.h),
 * whose watchers (io, timers, signals, children) stay usable through
 * mg_broker_loop(), and adds the one call another thread may make:
 * mg_broker_defer(). Everything else belongs to the thread that runs the
 * broker.
 */
#ifndef MITOGEN_BROKER_H
#define MITOGEN_BROKER_H

#include <stdbool.h>
#include <stdint.h>
#include <talloc.h>
#include "mitogen/loop.h"

#ifdef __cplusplus
extern "C" {
#endif

struct mg_broker;

/* A broker with a loop of its own, or NULL on ENOMEM or when the kernel
 * refuses an epoll or eventfd. Free it (talloc_free) only when no other
 * thread can call mg_broker_defer() on it any more; calls still queued
 * then are dropped, not run. */
struct mg_broker *mg_broker_new(TALLOC_CTX *mem_ctx);
/* The same over an existing loop (a session's, say), which must outlive
 * the broker. */
struct mg_broker *mg_broker_new_on(TALLOC_CTX *mem_ctx, struct mg_loop *loop);
struct mg_loop *mg_broker_loop(const struct mg_broker *b);

/* Run until mg_broker_stop() or until nothing is left to wait for (see
 * mg_loop_run and mg_broker_set_keepalive). Returns the value given to
 * mg_broker_stop(), 0 when the loop ran dry, or a negative errno. */
int mg_broker_run(struct mg_broker *b);
/* One iteration waiting at most 'timeout_ms' (-1: no bound). Returns 1
 * if stopped during it, 0 otherwise, or a negative errno. */
int mg_broker_run_once(struct mg_broker *b, int timeout_ms);
void mg_broker_stop(struct mg_broker *b, int rc);

/* A one-shot timer 'ms' from now; free it to cancel (mg_timer_new). */
struct mg_timer *mg_broker_timer(TALLOC_CTX *mem_ctx, struct mg_broker *b, uint64_t ms,
				 mg_timer_cb cb, void *data);

/*
 * Run fn(data) on the broker's thread, from its loop, in the order the
 * calls were made. The only function of the library that any thread may
 * call (it allocates with malloc, not talloc, which is not thread-safe).
 * Returns 0, -ENOMEM, or -EINVAL for a NULL fn.
 */
int mg_broker_defer(struct mg_broker *b, mg_defer_cb fn, void *data);

/* Whether the broker alone keeps mg_broker_run going, waiting for other
 * threads' mg_broker_defer() calls (default false: a loop with nothing
 * else to do returns, and calls deferred later wait for the next run). */
void mg_broker_set_keepalive(struct mg_broker *b, bool keepalive);

/* Monotonic clock in milliseconds. */
uint64_t mg_now(void);

#ifdef __cplusplus
}
#endif

#endif
