/*
 * Receivers: see mitogen/receiver.h. A receiver is a router handler whose
 * messages are copied into a FIFO (or handed to a callback), plus a watch
 * on its respondent, so that losing it wakes whoever waits.
 */
#include <errno.h>
#include <limits.h>

#include "mitogen/broker.h"
#include "mitogen/error.h"
#include "mitogen/log.h"
#include "receiver-private.h"

#define CLOSED_MSG "receiver was closed"
#define LOST_MSG "the respondent context has disconnected"

struct mg_receiver {
	struct mg_router *r;
	struct mg_handler *h;	/* NULL once closed */
	struct mg_route_watch *watch;
	uint32_t handle;
	uint32_t respondent;
	unsigned flags;
	bool closed;	/* by mg_receiver_close, or a one-shot's message */
	bool lost;	/* the respondent was lost: its dead message is queued */
	bool flush_pending;
	struct mg_message *head, **tailp;
	size_t n;
	mg_receiver_fn fn;
	void *fn_data;
	struct mg__member *member;	/* in a select (a talloc object of select.c) */
	mg__member_notify_fn notify;	/* tells that select of each message */
	bool *gone;	/* set by the destructor: a caller on the stack */
};

static struct mg_message *pop(struct mg_receiver *rx)
{
	struct mg_message *msg = rx->head;

	if (msg == NULL) {
		return NULL;
	}
	rx->head = *mg__message_next(msg);
	*mg__message_next(msg) = NULL;
	if (rx->head == NULL) {
		rx->tailp = &rx->head;
	}
	rx->n--;
	return msg;
}

/* Hand queued messages to the callback; it may free the receiver. */
static void flush(void *data)
{
	struct mg_receiver *rx = talloc_get_type_abort(data, struct mg_receiver);
	bool gone = false, *saved = rx->gone;
	struct mg_message *msg;

	rx->flush_pending = false;
	rx->gone = &gone;
	while (rx->fn != NULL && (msg = pop(rx)) != NULL) {
		TALLOC_CTX *holder = talloc_new(NULL);

		talloc_steal(holder, msg);
		rx->fn(rx, msg, rx->fn_data);
		talloc_free(holder);
		if (gone) {
			if (saved != NULL) {
				*saved = true;
			}
			return;
		}
	}
	rx->gone = saved;
}

/* Queue 'msg'; a callback hears of it on the next iteration. */
static void enqueue(struct mg_receiver *rx, struct mg_message *msg)
{
	talloc_steal(rx, msg);
	*rx->tailp = msg;
	rx->tailp = mg__message_next(msg);
	rx->n++;
	if (rx->fn != NULL && !rx->flush_pending &&
	    mg_loop_defer(mg__router_loop(rx->r), rx, flush, rx) == 0) {
		rx->flush_pending = true;
	}
	if (rx->member != NULL) {
		rx->notify(rx->member);
	}
}

/* From a loop callback: straight to the callback if nothing is ahead. */
static void deliver(struct mg_receiver *rx, struct mg_message *msg)
{
	TALLOC_CTX *holder;

	if (rx->fn == NULL || rx->head != NULL) {
		enqueue(rx, msg);
		return;
	}
	holder = talloc_new(NULL);
	talloc_steal(holder, msg);
	rx->fn(rx, msg, rx->fn_data);
	talloc_free(holder);
}

/* Nothing more can arrive: a one-shot had its message, or close. */
static void stop_listening(struct mg_receiver *rx)
{
	rx->closed = true;
	TALLOC_FREE(rx->h);
	TALLOC_FREE(rx->watch);
}

static void respondent_lost(struct mg_receiver *rx, const char *why)
{
	struct mg_message *msg;

	TALLOC_FREE(rx->watch);
	if (rx->closed || rx->lost) {
		return;
	}
	rx->lost = true;
	mg_debug("receiver %u: respondent %u lost: %s", rx->handle, rx->respondent, why);
	msg = mg__message_dead(rx, rx->r, rx->respondent, rx->handle, LOST_MSG);
	/* Nothing more can come from it: the stream ends (a get after the
	 * dead message says "closed" at once, never waits for ever). */
	stop_listening(rx);
	if (msg == NULL) {
		mg_error("receiver %u: out of memory: respondent loss not delivered", rx->handle);
		return;
	}
	deliver(rx, msg);
}

static void on_lost(struct mg_router *r, uint32_t id, const char *why, void *data)
{
	(void)r;
	(void)id;
	respondent_lost(talloc_get_type_abort(data, struct mg_receiver), why);
}

static void lost_already(void *data)
{
	respondent_lost(talloc_get_type_abort(data, struct mg_receiver), "not reachable");
}

static void on_router_msg(struct mg_router *r, struct mg_msg *m, void *data)
{
	struct mg_receiver *rx = talloc_get_type_abort(data, struct mg_receiver);
	struct mg_message *msg;

	if ((rx->flags & MG_RECV_ONESHOT) != 0) {
		rx->h = NULL;	/* the router freed it before this call */
		stop_listening(rx);
	}
	if (rx->lost && (m->flags & MG_MESSAGE_DEAD) != 0 && m->in == NULL &&
	    m->src == rx->respondent) {
		/* The router's own notice of the loss already told above. */
		return;
	}
	msg = mg__message_new(rx, r, m);
	if (msg == NULL) {
		mg_error("receiver %u: out of memory: message from %u lost", rx->handle, m->src);
		return;
	}
	deliver(rx, msg);
}

static int receiver_destructor(struct mg_receiver *rx)
{
	if (rx->gone != NULL) {
		*rx->gone = true;
	}
	if (rx->member != NULL) {
		talloc_free(rx->member);	/* its destructor takes rx out */
	}
	return 0;
}

/* Tie the receiver to its respondent's reachability. */
static int watch_respondent(struct mg_receiver *rx)
{
	if (rx->respondent == MG_ANY || rx->respondent == mg__router_id(rx->r)) {
		return 0;
	}
	rx->watch = mg__router_watch(rx, rx->r, rx->respondent, on_lost, rx);
	if (rx->watch == NULL) {
		return -ENOMEM;
	}
	/* One being connected is not lost yet: a call may go early. */
	if (!mg__router_reachable(rx->r, rx->respondent) && !mg__router_held(rx->r, rx->respondent) &&
	    mg_loop_defer(mg__router_loop(rx->r), rx, lost_already, rx) != 0) {
		return -ENOMEM;
	}
	return 0;
}

int mg_receiver_new(TALLOC_CTX *mem_ctx, struct mg_router *r, uint32_t handle,
		    uint32_t respondent, unsigned flags, struct mg_receiver **_rx)
{
	struct mg_receiver *rx;
	enum mg_policy pol = MG_POL_RESPONDENT;
	int ret;

	*_rx = NULL;
	if (r == NULL || (flags & ~(MG_RECV_ONESHOT | MG_RECV_PARENT)) != 0) {
		return -EINVAL;
	}
	if (respondent == MG_ANY || (flags & MG_RECV_PARENT) != 0) {
		pol = MG_POL_PARENT;
	}
	rx = talloc_zero(mem_ctx, struct mg_receiver);
	if (rx == NULL) {
		return -ENOMEM;
	}
	rx->r = r;
	rx->respondent = respondent;
	rx->flags = flags;
	rx->tailp = &rx->head;
	talloc_set_destructor(rx, receiver_destructor);
	rx->h = mg__router_add_handler(rx, r, handle, pol, respondent,
				       (flags & MG_RECV_ONESHOT) == 0, on_router_msg, rx);
	if (rx->h == NULL) {
		talloc_free(rx);
		/* With a fixed handle, being taken is by far the likelier. */
		return handle != 0 ? -EEXIST : -ENOMEM;
	}
	rx->handle = mg__handler_handle(rx->h);
	if ((ret = watch_respondent(rx)) != 0) {
		talloc_free(rx);
		return ret;
	}
	*_rx = rx;
	return 0;
}

uint32_t mg_receiver_handle(const struct mg_receiver *rx)
{
	return rx->handle;
}

uint32_t mg_receiver_respondent(const struct mg_receiver *rx)
{
	return rx->respondent;
}

struct mg_router *mg_receiver_router(const struct mg_receiver *rx)
{
	return rx->r;
}

size_t mg_receiver_queued(const struct mg_receiver *rx)
{
	return rx->n;
}

int mg__receiver_pop(TALLOC_CTX *mem_ctx, struct mg_receiver *rx, struct mg_message **_msg)
{
	struct mg_message *msg = pop(rx);

	if (msg != NULL) {
		*_msg = talloc_steal(mem_ctx, msg);
		return mg_message_is_dead(msg) ? MG_ERR_CHANNEL : 0;
	}
	if (!rx->closed) {
		return -EAGAIN;
	}
	/* Closed and drained: its dead message, for ever. */
	*_msg = mg__message_dead(mem_ctx, rx->r, mg__router_id(rx->r), rx->handle, CLOSED_MSG);
	return *_msg != NULL ? MG_ERR_CHANNEL : -ENOMEM;
}

bool mg__receiver_closed(const struct mg_receiver *rx)
{
	return rx->closed;
}

uint64_t mg__deadline(int timeout_ms)
{
	return timeout_ms < 0 ? MG_FOREVER : mg_now() + (uint64_t)timeout_ms;
}

int mg__wait_step(struct mg_loop *loop, uint64_t deadline, bool *_last)
{
	uint64_t now = mg_now();
	int timeout = -1, ret;

	if (*_last) {
		return MG_ERR_TIMEOUT;
	}
	if (deadline != MG_FOREVER) {
		/* Past the deadline, one more look without waiting. */
		*_last = now >= deadline;
		timeout = *_last ? 0 : deadline - now > INT_MAX ? INT_MAX : (int)(deadline - now);
	} else if (!mg_loop_alive(loop)) {
		return -EDEADLK;
	}
	ret = mg_loop_run_once(loop, timeout);
	if (ret < 0) {
		return ret;
	}
	return ret == 1 ? MG_ERR_CANCELLED : 0;
}

/* The next message, a closed receiver's dead one, or a wait. */
static int get_step(TALLOC_CTX *mem_ctx, struct mg_receiver *rx, uint64_t deadline,
		    bool *_last, struct mg_message **_msg)
{
	int ret = mg__receiver_pop(mem_ctx, rx, _msg);

	if (ret != -EAGAIN) {
		return ret;
	}
	ret = mg__wait_step(mg__router_loop(rx->r), deadline, _last);
	return ret == 0 ? -EAGAIN : ret;
}

int mg_receiver_get(TALLOC_CTX *mem_ctx, struct mg_receiver *rx, int timeout_ms,
		    struct mg_message **_msg)
{
	uint64_t deadline = mg__deadline(timeout_ms);
	bool gone = false, last = false, *saved;
	int ret;

	*_msg = NULL;
	if (rx->fn != NULL) {
		return -EBUSY;
	}
	if (mg_loop_running(mg__router_loop(rx->r))) {
		return -EDEADLK;
	}
	saved = rx->gone;
	rx->gone = &gone;
	do {
		ret = get_step(mem_ctx, rx, deadline, &last, _msg);
		if (gone) {
			return MG_ERR_CANCELLED;
		}
	} while (ret == -EAGAIN);
	rx->gone = saved;
	return ret;
}

int mg_receiver_on_message(struct mg_receiver *rx, mg_receiver_fn fn, void *data)
{
	if (fn != NULL && rx->member != NULL) {
		return -EBUSY;
	}
	rx->fn = fn;
	rx->fn_data = data;
	if (fn == NULL || rx->head == NULL || rx->flush_pending) {
		return 0;
	}
	if (mg_loop_defer(mg__router_loop(rx->r), rx, flush, rx) != 0) {
		return -ENOMEM;
	}
	rx->flush_pending = true;
	return 0;
}

void mg_receiver_close(struct mg_receiver *rx)
{
	struct mg_message *msg;

	if (rx->closed) {
		return;
	}
	stop_listening(rx);
	msg = mg__message_dead(rx, rx->r, mg__router_id(rx->r), rx->handle, CLOSED_MSG);
	if (msg == NULL) {
		/* get still says so: a closed, empty receiver makes one. */
		mg_error("receiver %u: out of memory closing it", rx->handle);
		return;
	}
	enqueue(rx, msg);
}

struct mg__member *mg__receiver_member(const struct mg_receiver *rx)
{
	return rx->member;
}

void mg__receiver_set_member(struct mg_receiver *rx, struct mg__member *m,
			     mg__member_notify_fn notify)
{
	rx->member = m;
	rx->notify = notify;
}

bool mg__receiver_has_callback(const struct mg_receiver *rx)
{
	return rx->fn != NULL;
}

size_t mg__receiver_queued(const struct mg_receiver *rx)
{
	return rx->n;
}

struct mg_loop *mg__receiver_loop(const struct mg_receiver *rx)
{
	return mg__router_loop(rx->r);
}
