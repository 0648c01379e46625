/*
 * Select: see mitogen/select.h. Each member posts a note to its select
 * (and the select to its own parent) per message it queues; get takes
 * notes in order and the message behind each. A note whose message is
 * gone (taken with mg_receiver_get meanwhile) is skipped, as in mitogen.
 */
#include <errno.h>

#include "mitogen/error.h"
#include "mitogen/log.h"
#include "receiver-private.h"

struct mg__member {
	struct mg__member *prev, *next;
	struct mg_select *sel;
	struct mg_receiver *rx;	/* one of these two */
	struct mg_select *child;
};

struct note {
	struct note *next;
	struct mg__member *m;
};

struct mg_select {
	struct mg_loop *loop;	/* the members' loop, once known */
	bool oneshot;
	struct mg__member *first;
	size_t n;
	struct note *head, **tailp;
	size_t n_notes;
	struct mg__member *in_parent;	/* when nested */
	bool *gone;	/* set by the destructor: a get on the stack */
};

/* Drop every note of 'm'. */
static void purge_notes(struct mg_select *sel, const struct mg__member *m)
{
	struct note **pp = &sel->head, *nt;

	sel->tailp = &sel->head;
	while ((nt = *pp) != NULL) {
		if (nt->m == m) {
			*pp = nt->next;
			sel->n_notes--;
			talloc_free(nt);
			continue;
		}
		sel->tailp = &nt->next;
		pp = &nt->next;
	}
}

static int member_destructor(struct mg__member *m)
{
	struct mg_select *sel = m->sel;

	if (m->prev != NULL) {
		m->prev->next = m->next;
	} else {
		sel->first = m->next;
	}
	if (m->next != NULL) {
		m->next->prev = m->prev;
	}
	sel->n--;
	purge_notes(sel, m);
	if (m->rx != NULL) {
		mg__receiver_set_member(m->rx, NULL, NULL);
	} else {
		m->child->in_parent = NULL;
	}
	return 0;
}

static struct mg_select *parent_of(const struct mg_select *sel)
{
	return sel->in_parent != NULL ? sel->in_parent->sel : NULL;
}

/* Whether a member on 'loop' may join 'sel': the selects above it take
 * their loop from their members, so they must agree too. */
static bool loop_fits(const struct mg_select *sel, const struct mg_loop *loop)
{
	for (; sel != NULL && loop != NULL; sel = parent_of(sel)) {
		if (sel->loop != NULL && sel->loop != loop) {
			return false;
		}
	}
	return true;
}

static struct mg__member *member_new(struct mg_select *sel, struct mg_loop *loop)
{
	struct mg_select *up;

	struct mg__member *m = talloc_zero(sel, struct mg__member);

	if (m == NULL) {
		return NULL;
	}
	m->sel = sel;
	m->next = sel->first;
	if (sel->first != NULL) {
		sel->first->prev = m;
	}
	sel->first = m;
	sel->n++;
	/* An empty select nested earlier learns its loop now, and so does
	 * every select above it: a get there runs that loop. */
	for (up = sel; up != NULL && up->loop == NULL; up = parent_of(up)) {
		up->loop = loop;
	}
	talloc_set_destructor(m, member_destructor);
	return m;
}

/* A member queued a message: note it, here and in the parent select. */
static void notify(struct mg__member *m)
{
	struct mg_select *sel = m->sel;
	struct note *nt = talloc_zero(sel, struct note);

	if (nt == NULL) {
		mg_error("select: out of memory: a message will not wake it");
		return;
	}
	nt->m = m;
	*sel->tailp = nt;
	sel->tailp = &nt->next;
	sel->n_notes++;
	if (sel->in_parent != NULL) {
		notify(sel->in_parent);
	}
}

static int select_destructor(struct mg_select *sel)
{
	if (sel->gone != NULL) {
		*sel->gone = true;
	}
	while (sel->first != NULL) {
		talloc_free(sel->first);
	}
	if (sel->in_parent != NULL) {
		talloc_free(sel->in_parent);
	}
	return 0;
}

struct mg_select *mg_select_new(TALLOC_CTX *mem_ctx, unsigned flags)
{
	struct mg_select *sel = talloc_zero(mem_ctx, struct mg_select);

	if (sel == NULL) {
		return NULL;
	}
	sel->oneshot = (flags & MG_SELECT_PERSIST) == 0;
	sel->tailp = &sel->head;
	talloc_set_destructor(sel, select_destructor);
	return sel;
}

size_t mg_select_count(const struct mg_select *sel)
{
	return sel->n;
}

int mg_select_add(struct mg_select *sel, struct mg_receiver *rx)
{
	struct mg_loop *loop = mg__receiver_loop(rx);
	struct mg__member *m;

	if (mg__receiver_member(rx) != NULL) {
		return MG_ERR_SELECT_OWNED;
	}
	if (mg__receiver_has_callback(rx)) {
		return -EBUSY;
	}
	if (!loop_fits(sel, loop)) {
		return -EXDEV;
	}
	if ((m = member_new(sel, loop)) == NULL) {
		return -ENOMEM;
	}
	m->rx = rx;
	mg__receiver_set_member(rx, m, notify);
	for (size_t i = mg__receiver_queued(rx); i > 0; i--) {
		notify(m);
	}
	/* A closed one has its dead message to give, as its get would;
	 * waiting on it would never end. */
	if (mg__receiver_queued(rx) == 0 && mg__receiver_closed(rx)) {
		notify(m);
	}
	return 0;
}

/* Whether 'inner' is a member of 'sel' at any depth. */
static bool contains(const struct mg_select *sel, const struct mg_select *inner)
{
	for (const struct mg__member *m = sel->first; m != NULL; m = m->next) {
		if (m->child != NULL && (m->child == inner || contains(m->child, inner))) {
			return true;
		}
	}
	return false;
}

int mg_select_add_select(struct mg_select *sel, struct mg_select *child)
{
	struct mg__member *m;

	if (child == sel || contains(child, sel)) {
		return MG_ERR_SELECT_CYCLE;
	}
	if (child->in_parent != NULL) {
		return MG_ERR_SELECT_OWNED;
	}
	if (!loop_fits(sel, child->loop)) {
		return -EXDEV;
	}
	if ((m = member_new(sel, child->loop)) == NULL) {
		return -ENOMEM;
	}
	m->child = child;
	child->in_parent = m;
	for (size_t i = child->n_notes; i > 0; i--) {
		notify(m);
	}
	return 0;
}

int mg_select_remove(struct mg_select *sel, struct mg_receiver *rx)
{
	struct mg__member *m = mg__receiver_member(rx);

	if (m == NULL || m->sel != sel) {
		return -ENOENT;
	}
	talloc_free(m);
	return 0;
}

int mg_select_remove_select(struct mg_select *sel, struct mg_select *child)
{
	if (child->in_parent == NULL || child->in_parent->sel != sel) {
		return -ENOENT;
	}
	talloc_free(child->in_parent);
	return 0;
}

static struct mg__member *take_note(struct mg_select *sel)
{
	struct note *nt = sel->head;
	struct mg__member *m;

	if (nt == NULL) {
		return NULL;
	}
	sel->head = nt->next;
	if (sel->head == NULL) {
		sel->tailp = &sel->head;
	}
	sel->n_notes--;
	m = nt->m;
	talloc_free(nt);
	return m;
}

/* The message behind the first note that still has one, or -EAGAIN. */
static int pop(TALLOC_CTX *mem_ctx, struct mg_select *sel, struct mg_receiver **_rx,
	       struct mg_message **_msg)
{
	struct mg__member *m;

	while ((m = take_note(sel)) != NULL) {
		struct mg_receiver *rx = m->rx;
		int ret;

		if (rx != NULL) {
			ret = mg__receiver_pop(mem_ctx, rx, _msg);
		} else {
			ret = pop(mem_ctx, m->child, &rx, _msg);
		}
		if (ret == -EAGAIN) {
			continue;
		}
		if (sel->oneshot) {
			talloc_free(m);
		}
		*_rx = rx;
		return ret;
	}
	return -EAGAIN;
}

static int select_wait(TALLOC_CTX *mem_ctx, struct mg_select *sel, uint64_t deadline,
		       struct mg_receiver **_rx, struct mg_message **_msg)
{
	bool gone = false, last = false;
	int ret;

	if (sel->n == 0) {
		return MG_ERR_SELECT_EMPTY;
	}
	if (sel->loop != NULL && mg_loop_running(sel->loop)) {
		return -EDEADLK;
	}
	sel->gone = &gone;
	while ((ret = pop(mem_ctx, sel, _rx, _msg)) == -EAGAIN) {
		if (sel->n == 0) {
			ret = MG_ERR_SELECT_EMPTY;	/* its members were freed */
			break;
		}
		if (sel->loop == NULL) {
			ret = -EDEADLK;	/* only empty nested selects */
			break;
		}
		ret = mg__wait_step(sel->loop, deadline, &last);
		if (gone) {
			return MG_ERR_CANCELLED;
		}
		if (ret != 0) {
			break;
		}
	}
	sel->gone = NULL;
	return ret;
}

int mg_select_get(TALLOC_CTX *mem_ctx, struct mg_select *sel, int timeout_ms,
		  struct mg_receiver **_rx, struct mg_message **_msg)
{
	struct mg_receiver *rx = NULL;
	int ret;

	*_msg = NULL;
	ret = select_wait(mem_ctx, sel, mg__deadline(timeout_ms), &rx, _msg);
	if (_rx != NULL) {
		*_rx = ret == 0 || ret == MG_ERR_CHANNEL ? rx : NULL;
	}
	return ret;
}

int mg_select_all(TALLOC_CTX *mem_ctx, struct mg_receiver *const *rxs, size_t n,
		  int timeout_ms, struct mg_message ***_msgs, size_t *_n)
{
	uint64_t deadline = mg__deadline(timeout_ms);
	TALLOC_CTX *tmp = talloc_new(NULL);
	struct mg_select *sel = mg_select_new(tmp, 0);
	struct mg_message **msgs = talloc_zero_array(tmp, struct mg_message *, n + 1);
	struct mg_receiver *rx;
	size_t k = 0;
	int ret = 0;

	*_msgs = NULL;
	*_n = 0;
	if (tmp == NULL || sel == NULL || msgs == NULL) {
		talloc_free(tmp);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n && ret == 0; i++) {
		ret = mg_select_add(sel, rxs[i]);
	}
	while (ret == 0 && k < n) {
		ret = select_wait(msgs, sel, deadline, &rx, &msgs[k]);
		if (ret == 0 || ret == MG_ERR_CHANNEL) {
			k++;
		}
	}
	if (k > 0) {
		*_msgs = talloc_steal(mem_ctx, msgs);
		*_n = k;
	}
	talloc_free(tmp);
	return ret;
}
