/* The broker: see mitogen/broker.h. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <sys/eventfd.h>

#include "mitogen/broker.h"
#include "mitogen/log.h"

/* Malloc'd, not talloc'd: other threads make these. */
struct xcall {
	struct xcall *next;
	mg_defer_cb fn;
	void *data;
};

struct mg_broker {
	struct mg_loop *loop;
	int efd;
	struct mg_io *io;
	pthread_mutex_t lock;	/* guards head and tail */
	struct xcall *head, *tail;
	bool *gone;	/* set by the destructor: on_wake on the stack */
};

uint64_t mg_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static struct xcall *take_all(struct mg_broker *b)
{
	struct xcall *list;

	pthread_mutex_lock(&b->lock);
	list = b->head;
	b->head = NULL;
	b->tail = NULL;
	pthread_mutex_unlock(&b->lock);
	return list;
}

static void on_wake(struct mg_io *io, unsigned events, void *data)
{
	struct mg_broker *b = talloc_get_type_abort(data, struct mg_broker);
	struct xcall *x, *next;
	bool gone = false;
	uint64_t n;

	(void)io;
	(void)events;
	/* Drain first: a call made while the list runs wakes us again. */
	if (read(b->efd, &n, sizeof(n)) < 0 && errno != EAGAIN && errno != EINTR) {
		mg_debug_fr(-errno, "read(eventfd)");
	}
	b->gone = &gone;
	for (x = take_all(b); x != NULL; x = next) {
		next = x->next;
		/* A call that freed the broker drops the rest, as the
		 * broker's end does with what is still queued. */
		if (!gone) {
			x->fn(x->data);
		}
		free(x);
	}
	if (!gone) {
		b->gone = NULL;
	}
}

static int broker_destructor(struct mg_broker *b)
{
	struct xcall *x, *next;

	if (b->gone != NULL) {
		*b->gone = true;
	}
	TALLOC_FREE(b->io);
	for (x = take_all(b); x != NULL; x = next) {
		next = x->next;
		free(x);
	}
	close(b->efd);
	pthread_mutex_destroy(&b->lock);
	return 0;
}

struct mg_broker *mg_broker_new_on(TALLOC_CTX *mem_ctx, struct mg_loop *loop)
{
	struct mg_broker *b = talloc_zero(mem_ctx, struct mg_broker);

	if (b == NULL) {
		return NULL;
	}
	b->loop = loop;
	b->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (b->efd < 0) {
		mg_error_fr(-errno, "eventfd");
		talloc_free(b);
		return NULL;
	}
	pthread_mutex_init(&b->lock, NULL);
	talloc_set_destructor(b, broker_destructor);
	b->io = mg_io_new(b, loop, b->efd, MG_IO_READ, on_wake, b);
	if (b->io == NULL) {
		talloc_free(b);
		return NULL;
	}
	mg_io_set_keepalive(b->io, false);
	return b;
}

struct mg_broker *mg_broker_new(TALLOC_CTX *mem_ctx)
{
	TALLOC_CTX *tmp = talloc_new(mem_ctx);
	struct mg_loop *loop = mg_loop_new(tmp);
	struct mg_broker *b = NULL;

	if (loop != NULL) {
		b = mg_broker_new_on(mem_ctx, loop);
	}
	if (b != NULL) {
		/* The loop goes after the broker, which unhooks from it. */
		talloc_steal(b, loop);
	}
	talloc_free(tmp);
	return b;
}

struct mg_loop *mg_broker_loop(const struct mg_broker *b)
{
	return b->loop;
}

int mg_broker_run(struct mg_broker *b)
{
	return mg_loop_run(b->loop);
}

int mg_broker_run_once(struct mg_broker *b, int timeout_ms)
{
	return mg_loop_run_once(b->loop, timeout_ms);
}

void mg_broker_stop(struct mg_broker *b, int rc)
{
	mg_loop_stop(b->loop, rc);
}

struct mg_timer *mg_broker_timer(TALLOC_CTX *mem_ctx, struct mg_broker *b, uint64_t ms,
				 mg_timer_cb cb, void *data)
{
	return mg_timer_new(mem_ctx, b->loop, ms, cb, data);
}

int mg_broker_defer(struct mg_broker *b, mg_defer_cb fn, void *data)
{
	static const uint64_t one = 1;
	struct xcall *x;

	if (fn == NULL) {
		return -EINVAL;
	}
	x = calloc(1, sizeof(*x));
	if (x == NULL) {
		return -ENOMEM;
	}
	x->fn = fn;
	x->data = data;
	pthread_mutex_lock(&b->lock);
	if (b->tail != NULL) {
		b->tail->next = x;
	} else {
		b->head = x;
	}
	b->tail = x;
	pthread_mutex_unlock(&b->lock);
	/* EAGAIN means the counter is full: the loop is awake anyway. No
	 * logging here: the log sink is not ours to call from this thread. */
	while (write(b->efd, &one, sizeof(one)) < 0 && errno == EINTR) {
	}
	return 0;
}

void mg_broker_set_keepalive(struct mg_broker *b, bool keepalive)
{
	mg_io_set_keepalive(b->io, keepalive);
}
