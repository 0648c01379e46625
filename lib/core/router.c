/* The router: see router.h and docs/PROTOCOL.md. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "buf.h"
#include "fds.h"
#include "mitogen/error.h"
#include "mitogen/log.h"
#include "protocol.h"
#include "router-private.h"

#include <stddef.h>

/* Longest context name a child may announce. */
#define NAME_MAX_LEN 4096

static struct mg_handler *find_handler(const struct mg_router *r, uint32_t handle)
{
	return (struct mg_handler *)mg__idtab_find(&r->handlers, handle);
}

/*
 * The stream a message for 'id' leaves on, or NULL. For a frame from
 * above ('above': made here or from the parent), a context still being
 * connected below counts too: one whose CONNECT went down a child stream
 * goes there, and one a hop of ours is still connecting gives NULL and
 * *_h, the hold where it waits instead (router-hold.c).
 */
static struct mg_stream *route_out(const struct mg_router *r, uint32_t id, bool above,
				   struct hold **_h)
{
	*_h = NULL;
	/* Each via is a hop connecting the one before: a chain's length. */
	for (int depth = 0; depth < 1024; depth++) {
		struct route *rt = mg__router_route(r, id);
		struct expect *e;
		struct hold *h;

		if (rt != NULL) {
			return rt->stream;
		}
		if (!above) {
			break;
		}
		if ((h = mg__router_hold_find(r, id)) != NULL && h->via == 0) {
			*_h = h;
			return NULL;
		}
		if ((e = (struct expect *)mg__idtab_find(&r->expects, id)) != NULL) {
			return e->stream;
		}
		if (h == NULL) {
			break;
		}
		id = h->via;
	}
	return r->parent;
}

/* A via-hold (the CONNECT for 'id' waits, or went below) is done with:
 * 'id' is routed, or failed. Holds of our own hops go otherwise. */
static void drop_via_hold(struct mg_router *r, uint32_t id)
{
	struct hold *h = mg__router_hold_find(r, id);

	if (h != NULL && h->via != 0) {
		mg__idtab_del(&r->holds, &h->link);
		talloc_free(h);
	}
}

/* router.h; here, as hold_push makes them too. */
int mg__router_hold(struct mg_router *r, uint32_t id, uint32_t via)
{
	struct hold *h = mg__router_hold_find(r, id);

	if (h == NULL) {
		h = talloc_zero(r, struct hold);
		if (h == NULL) {
			return -ENOMEM;
		}
		h->link.id = id;
		mg__idtab_add(r, &r->holds, &h->link);
	}
	h->via = via;
	return 0;
}

/* A copy of 'm' of its own, in memory (a pipe tail is read into it),
 * owned by 'mem_ctx' and tied to no stream; NULL on ENOMEM. */
static struct mg_msg *msg_copy(TALLOC_CTX *mem_ctx, const struct mg_msg *m)
{
	struct mg_msg *c = talloc_zero(mem_ctx, struct mg_msg);

	if (c == NULL) {
		return NULL;
	}
	*c = *m;
	c->in = NULL;
	c->borrowed = false;
	if (m->fds != NULL && (c->fds = mg__fds_dup(c, m->fds)) == NULL) {
		talloc_free(c);
		return NULL;
	}
	if (m->tail != NULL) {
		if (mg__msg_flatten(c, c) != 0) {
			talloc_free(c);
			return NULL;
		}
	} else if (c->data = NULL, m->len > 0) {
		c->data = talloc_memdup(c, m->data, m->len);
		if (c->data == NULL) {
			talloc_free(c);
			return NULL;
		}
	}
	return c;
}

/* A copy of 'm' waits in 'h' for its context to come up. */
static int hold_push(struct mg_router *r, struct hold *h, const struct mg_msg *m)
{
	struct mg_msg *c, **q;

	if (h->bytes + m->len > MG_HOLD_MAX) {
		return MG_ERR_TOO_BIG;
	}
	q = talloc_realloc(h, h->q, struct mg_msg *, h->n + 1);
	if (q == NULL) {
		return -ENOMEM;
	}
	h->q = q;
	/* From above or made here, as only such frames are held. */
	c = msg_copy(h, m);
	if (c == NULL) {
		return -ENOMEM;
	}
	if (h->n_public == h->n && r->sending_public) {
		h->n_public++;
	}
	h->q[h->n++] = c;
	h->bytes += m->len;
	/* A CONNECT waiting here: frames for the context it opens wait
	 * with it (route_out). */
	if (m->handle == MG_H_CONNECT && mg__msg_opens(c) && c->len >= 4) {
		uint32_t id = mg__get_be32(c->data);

		if (id != 0 && mg__router_hold_find(r, id) == NULL &&
		    mg__router_route(r, id) == NULL) {
			return mg__router_hold(r, id, h->link.id);
		}
	}
	return 0;
}

static int handler_destructor(struct mg_handler *h)
{
	if (h->r->dying) {
		return 0;
	}
	mg__idtab_del(&h->r->handlers, &h->link);
	if (h->policy == MG_POL_RESPONDENT) {
		mg__idtab_del(&h->r->waiting, &h->rlink);
	}
	return 0;
}

struct mg_handler *mg__router_add_handler(TALLOC_CTX *mem_ctx, struct mg_router *r,
					  uint32_t handle, enum mg_policy policy,
					  uint32_t respondent, bool persist,
					  mg_handler_fn fn, void *data)
{
	struct mg_handler *h;

	if (handle == 0) {
		do {
			handle = r->next_handle++;
			if (r->next_handle == 0) {
				r->next_handle = MG_H_DYNAMIC;
			}
		} while (handle < MG_H_DYNAMIC || find_handler(r, handle) != NULL);
	} else if (find_handler(r, handle) != NULL) {
		return NULL;
	}
	h = talloc_zero(mem_ctx, struct mg_handler);
	if (h == NULL) {
		return NULL;
	}
	h->r = r;
	h->handle = handle;
	h->policy = policy;
	h->respondent = respondent;
	h->persist = persist;
	h->fn = fn;
	h->data = data;
	h->link.id = handle;
	mg__idtab_add(r, &r->handlers, &h->link);
	if (policy == MG_POL_RESPONDENT) {
		h->rlink.id = respondent;
		mg__idtab_add(r, &r->waiting, &h->rlink);
	}
	talloc_set_destructor(h, handler_destructor);
	return h;
}

uint32_t mg__handler_handle(const struct mg_handler *h)
{
	return h->handle;
}

static int send_msg(struct mg_router *r, struct mg_stream *out, struct mg_msg *m)
{
	int r2 = mg__stream_send(out, m);

	if (r2 != 0) {
		mg_debug("%s: send failed: %s", mg__stream_name(out), mg_strerror(r2));
	}
	return r2;
}

static void deliver_local(void *data);

/*
 * A CONNECT going down 'out' asks that child (or a context behind it) to
 * open context 'id', the request's first u32. Remember it: only that child
 * may announce 'id' (on_add_route). Every context does this for what it
 * sends and forwards, so each link checks its own children, and a child
 * cannot claim a sibling's or cousin's context. Only a frame from above
 * (or made here) is noted: one from a child, forwarded to a sibling, is
 * refused by the sibling's policy and grants nothing.
 */
static void forget_expect(struct mg_router *r, struct expect *e)
{
	mg__idtab_del(&r->expects, &e->link);
	mg__idtab_del(&r->expect_replies, &e->rlink);
	talloc_free(e);
}

void mg__router_note_connect(struct mg_router *r, struct mg_stream *out, const struct mg_msg *m)
{
	struct mg_buf b;
	struct expect *e;
	uint32_t id;

	/* Only a request its sender marked: a reply or channel data that a
	 * child steered to a CONNECT or EXEC handle (its reply_to, a FETCH's
	 * h_data) must not let that child claim an id it chose. */
	if ((m->handle != MG_H_CONNECT && m->handle != MG_H_EXEC) || out == r->parent ||
	    !mg__msg_opens(m)) {
		return;
	}
	/* Only what comes with the authority of here or above (a privileged
	 * client acts as here) may ask a child to open a context: a child's
	 * frame passing to its sibling grants nothing, whether it goes down
	 * from the context that shares them or from one below it, where it
	 * arrives from the parent on that child's authority alone. */
	if (!mg__router_parent_authority(r, m)) {
		return;
	}
	mg__buf_view(&b, m->data, m->len);
	if (mg__buf_get_u32(&b, &id) != 0) {
		return;
	}
	/* An EXEC whose command joins as a context names it last (5.3). */
	if (m->handle == MG_H_EXEC) {
		if ((id & MG_EXEC_JOIN) == 0 || m->len < 8) {
			return;
		}
		id = mg__get_be32(m->data + m->len - 4);
	}
	e = (struct expect *)mg__idtab_find(&r->expects, id);
	if (e != NULL) {
		forget_expect(r, e);
	}
	if (mg__router_route(r, id) != NULL) {
		/* Routed already (a fused sudo hop's CONNECT, released after
		 * the fuse): nothing may announce it again. */
		return;
	}
	e = talloc_zero(r, struct expect);
	if (e == NULL) {
		return;
	}
	e->link.id = id;
	e->stream = out;
	e->rlink.id = m->reply_to;
	e->requester = m->src;
	mg__idtab_add(r, &r->expects, &e->link);
	mg__idtab_add(r, &r->expect_replies, &e->rlink);
}

/* A dead message coming up from a child may answer a CONNECT that went
 * down: that hop failed, and nothing may announce its id any more. */
static void note_dead_reply(struct mg_router *r, const struct mg_msg *m)
{
	struct mg__ident *x;

	for (x = mg__idtab_find(&r->expect_replies, m->handle); x != NULL; x = mg__idtab_next(x)) {
		struct expect *e = (struct expect *)((char *)x - offsetof(struct expect, rlink));
		if (e->requester == m->dst && e->stream == m->in) {
			drop_via_hold(r, e->link.id);
			forget_expect(r, e);
			return;
		}
	}
}

int mg__router_send_out(struct mg_router *r, struct mg_stream *out, struct mg_msg *m)
{
	struct mg_msg bare;
	int ret;

	if (m->fds != NULL && (out == r->parent || !mg__stream_gives_fds(out))) {
		/* Never up; and where a link cannot carry them, the frame goes
		 * on unmarked: its receiver finds them missing and says so
		 * (PROTOCOL 3.1). Ours close with the message. */
		mg_debug("%s: %s", mg__stream_name(out), MG_FDS_REFUSED);
		bare = *m;
		bare.fds = NULL;
		m = &bare;
	}
	ret = send_msg(r, out, m);

	if (ret == 0) {
		mg__router_note_connect(r, out, m);
	}
	return ret;
}

/* A message for this context, waiting for the next iteration. The router
 * is kept here: talloc_parent() walks every sibling, and thousands of
 * queued messages made each delivery as slow as the queue was long. */
struct local_msg {
	struct mg_router *r;
	struct mg_msg *m;
};

/* Queue a copy for local delivery on the next iteration. */
int mg__router_queue_local(struct mg_router *r, const struct mg_msg *m)
{
	struct local_msg *l = talloc_zero(r, struct local_msg);

	if (l == NULL) {
		return -ENOMEM;
	}
	l->r = r;
	l->m = msg_copy(l, m);
	if (l->m == NULL || mg_loop_defer(r->loop, l, deliver_local, l) != 0) {
		talloc_free(l);
		return -ENOMEM;
	}
	return 0;
}

int mg__router_reply_dead(struct mg_router *r, const struct mg_msg *req, const char *reason)
{
	if (req->reply_to == 0 || (req->flags & MG_F_DEAD) != 0) {
		return 0;
	}
	return mg__router_send(r, req->src, req->reply_to, 0, MG_F_DEAD, reason, strlen(reason));
}

int mg__router_reply(struct mg_router *r, const struct mg_msg *req, const void *data, size_t len)
{
	if (req->reply_to == 0) {
		return 0;
	}
	return mg__router_send(r, req->src, req->reply_to, 0, 0, data, len);
}

bool mg__router_from_child(const struct mg_router *r, const struct mg_msg *m)
{
	return m->in != NULL && m->in != r->parent;
}

bool mg__router_parent_authority(const struct mg_router *r, const struct mg_msg *m)
{
	/* A privileged child's frames carry this context's own id (stamped
	 * on arrival), as if made here. */
	return (!mg__router_from_child(r, m) || mg__stream_privileged(m->in)) &&
	       (m->auth_id == r->my_id || mg__router_is_ancestor(r, m->auth_id));
}

static bool policy_ok(const struct mg_router *r, const struct mg_handler *h, const struct mg_msg *m)
{
	bool from_child = mg__router_from_child(r, m);

	switch (h->policy) {
	case MG_POL_PARENT:
		return mg__router_parent_authority(r, m);
	case MG_POL_CHILD:
		return from_child && m->src == mg__stream_remote_id(m->in);
	case MG_POL_RESPONDENT:
		/* A dead answer from an ancestor on the way ("no route", ...)
		 * too: it could command this context anyway. */
		return m->src == h->respondent || (m->in == NULL && m->src == r->my_id) ||
		       ((m->flags & MG_F_DEAD) != 0 && mg__router_parent_authority(r, m));
	case MG_POL_DESCENDANT:
		return from_child;
	case MG_POL_ANY:
		return true;
	default:
		return false;
	}
}

static void invoke(struct mg_router *r, struct mg_msg *m)
{
	struct mg_handler *h = find_handler(r, m->handle);
	char why[96];

	if (m->tail != NULL && (h == NULL || !h->tails) && mg__msg_flatten(m, m) != 0) {
		mg_debug("message for handle %u dropped: out of memory", m->handle);
		return;
	}
	if (h == NULL) {
		if ((m->flags & MG_F_DEAD) == 0) {
			mg_debug("message for unknown handle %u from %u", m->handle, m->src);
		}
		mg__router_reply_dead(r, m, "invalid handle");
		return;
	}
	if (!policy_ok(r, h, m)) {
		snprintf(why, sizeof(why), "refused by policy (handle %u, from %u)", m->handle, m->src);
		mg_debug("%s", why);
		mg__router_reply_dead(r, m, "refused by policy");
		return;
	}
	if (!h->persist) {
		/* One-shot: gone before the call, which may free its owner. */
		mg_handler_fn fn = h->fn;
		void *data = h->data;
		talloc_free(h);
		fn(r, m, data);
		return;
	}
	h->fn(r, m, h->data);
}

static void deliver_local(void *data)
{
	struct local_msg *l = talloc_get_type_abort(data, struct local_msg);
	struct mg_router *r = l->r;
	struct mg_msg *m = l->m;
	/* A handler may steal the message; the holder frees it otherwise. */
	TALLOC_CTX *holder = talloc_new(NULL);

	talloc_steal(holder, m);
	talloc_free(l);
	invoke(r, m);
	talloc_free(holder);
}

/* 'id' is a link whose agent is another context's (mg__router_fuse). */
static bool no_agent(const struct mg_router *r, uint32_t id)
{
	const struct route *rt = mg__router_route(r, id);

	return rt != NULL && rt->no_agent;
}

static int send_made(struct mg_router *r, struct mg_msg *m)
{
	struct mg_stream *out;
	struct hold *h;

	if (m->len > r->max_msg) {
		return MG_ERR_TOO_BIG;
	}
	if (m->dst == r->my_id) {
		return mg__router_queue_local(r, m);
	}
	if (no_agent(r, m->dst)) {
		return MG_ERR_POLICY;
	}
	out = route_out(r, m->dst, true, &h);
	if (h != NULL) {
		return hold_push(r, h, m);
	}
	if (out == NULL || mg__stream_closed(out)) {
		return MG_ERR_DISCONNECTED;
	}
	return mg__router_send_out(r, out, m);
}

int mg__router_send_tail(struct mg_router *r, uint32_t dst, uint32_t handle, uint32_t reply_to,
			 struct mg_tail *tail)
{
	struct mg_msg m = {
		.dst = dst, .src = r->my_id, .auth_id = r->my_id, .handle = handle,
		.reply_to = reply_to, .len = tail->len, .tail = tail,
	};

	return send_made(r, &m);
}

void mg__handler_take_tails(struct mg_handler *h)
{
	h->tails = true;
}

int mg__router_send(struct mg_router *r, uint32_t dst, uint32_t handle, uint32_t reply_to,
		    uint16_t flags, const void *data, size_t len)
{
	struct mg_msg m = {
		.flags = flags, .dst = dst, .src = r->my_id, .auth_id = r->my_id,
		.handle = handle, .reply_to = reply_to, .data = (uint8_t *)data, .len = len,
	};

	return send_made(r, &m);
}

int mg__router_send_fds(struct mg_router *r, uint32_t dst, uint32_t handle, uint32_t reply_to,
			uint16_t flags, const void *data, size_t len, struct mg_fds *fds)
{
	struct mg_msg m = {
		.flags = flags, .dst = dst, .src = r->my_id, .auth_id = r->my_id,
		.handle = handle, .reply_to = reply_to, .data = (uint8_t *)data, .len = len,
		.fds = fds,
	};

	return send_made(r, &m);
}

int mg__router_send_public(struct mg_router *r, uint32_t dst, uint32_t handle,
			   uint32_t reply_to, uint16_t flags, const void *data, size_t len)
{
	int ret;

	r->sending_public = true;
	ret = mg__router_send(r, dst, handle, reply_to, flags, data, len);
	r->sending_public = false;
	return ret;
}

/*
 * The checks on arrival (reverse-path filter). A child speaks only for its
 * own subtree and on its own authority; a privileged child (a client the
 * owner trusts, section 5.7) for itself, on this context's authority,
 * which mg__router_receive stamps on its frames. The parent speaks with its
 * authority or an ancestor's; without unidirectional routing it may also
 * pass on a frame from a context outside this subtree (a sibling or a
 * cousin) on that context's own authority, which policies then treat as
 * no authority over this context at all.
 */
static bool arrival_ok(const struct mg_router *r, const struct mg_msg *m)
{
	struct route *s = mg__router_route(r, m->src);

	if (m->in != r->parent) {
		if ((m->auth_id == m->src || mg__stream_privileged(m->in)) && s != NULL &&
		    s->stream == m->in && !s->no_agent) {
			return true;
		}
		mg_debug("%s: dropped message with bad src %u / auth_id %u",
			 mg__stream_name(m->in), m->src, m->auth_id);
		return false;
	}
	if (m->auth_id == r->my_id || mg__router_is_ancestor(r, m->auth_id)) {
		return true;
	}
	if (!r->unidirectional && m->auth_id == m->src && s == NULL && m->src != r->my_id) {
		return true;
	}
	mg_debug("%s: dropped message from parent with bad auth_id %u (src %u)",
		 mg__stream_name(m->in), m->auth_id, m->src);
	return false;
}

void mg__router_receive(struct mg_router *r, struct mg_msg *m)
{
	struct mg_stream *in = m->in;
	struct mg_stream *out;
	struct hold *h;
	char why[96];

	if (!arrival_ok(r, m)) {
		return;
	}
	/* Only byte channels' data passes in pipes: every other payload is
	 * read whole, on the way too (note_connect, dead answers). */
	if (m->tail != NULL && (m->handle < MG_H_DYNAMIC || (m->flags & MG_F_DEAD) != 0) &&
	    mg__msg_flatten(m, m) != 0) {
		return;
	}
	if (in != r->parent && mg__stream_privileged(in)) {
		/* Whatever the client wrote: it acts as this context. */
		m->auth_id = r->my_id;
	}
	if (in != r->parent && (m->flags & MG_F_DEAD) != 0) {
		note_dead_reply(r, m);
	}
	if (m->len > r->max_msg) {
		/* Over this context's limit, for it or to pass on: its link
		 * may take more (an agent's parent link takes the default). */
		snprintf(why, sizeof(why), "message too large (%zu bytes, max %u)", m->len,
			 r->max_msg);
		mg__router_reply_dead(r, m, why);
		return;
	}
	if (m->dst == r->my_id) {
		if (in != r->parent && r->parent != NULL &&
		    mg__stream_pending(r->parent) >= MG_STREAM_TX_HIGH) {
			/* A handler may send on up what a child sent here (a
			 * LOG for its agent): with the way up full, read no
			 * more from that child, as for a frame forwarded. Before
			 * the call, which may free this router. */
			mg__stream_pause(in, true);
		}
		invoke(r, m);
		return;
	}
	out = route_out(r, m->dst, in == r->parent, &h);
	if (h != NULL && in == r->parent) {
		/* For a hop of ours still connecting: it gets it once up. */
		if (hold_push(r, h, m) != 0) {
			mg__router_reply_dead(r, m, "too much sent to a context still connecting");
		}
		return;
	}
	if (no_agent(r, m->dst)) {
		mg__router_reply_dead(r, m, MG_NO_AGENT);
		return;
	}
	if (out == NULL || out == in) {
		/* Nowhere to go, or back where it came from. */
		snprintf(why, sizeof(why), "no route to %u, my id is %u", m->dst, r->my_id);
		mg__router_reply_dead(r, m, why);
		return;
	}
	if (r->unidirectional && in != r->parent && out != r->parent &&
	    !mg__stream_privileged(in) && !mg__stream_privileged(out)) {
		/* Only parent <-> descendant traffic in this mode, and a
		 * privileged client's with the contexts it commands. */
		snprintf(why, sizeof(why), "routing mode prevents forward of message from "
			 "context %u to context %u via context %u", m->src, m->dst, r->my_id);
		mg__router_reply_dead(r, m, why);
		return;
	}
	if (mg__stream_closed(out)) {
		mg__router_reply_dead(r, m, "hop disconnected");
		return;
	}
	if (in != r->parent) {
		mg__router_note_egress(r, in, m->dst);
	}
	if (out != r->parent && m->src != r->my_id) {
		/* And the other way: the child this goes down to hears when
		 * its sender goes, though it never answered (a privileged
		 * client's EXEC crossing its end: the command must stop). */
		mg__router_note_egress(r, out, m->src);
	}
	mg__router_send_out(r, out, m);
	if (in != r->parent && mg__stream_pending(out) >= MG_STREAM_TX_HIGH &&
	    (!mg__stream_attached(out) || mg__stream_attached(in))) {
		/* The way out is full: read no more from that child until it
		 * drains (on_drain), so a flooding child cannot make us drop
		 * our parent, and with it every sibling, or a sibling. But a
		 * hop serves others too: an attached client that stops
		 * reading never holds it back. What it asked for waits in
		 * its queue, bounded by its credit and by the stream, which
		 * reads no more from it while that queue is full. */
		mg__stream_pause(in, true);
	}
}

static void on_stream_msg(struct mg_stream *s, struct mg_msg *m, void *data)
{
	struct mg_router *r = talloc_get_type_abort(data, struct mg_router);
	TALLOC_CTX *holder = talloc_new(NULL);

	talloc_steal(holder, m);
	mg__router_receive(r, m);
	talloc_free(holder);
}

/* Context 'id' is unreachable now: dead messages to the handlers waiting
 * on it, and its watches told, once each. */
void mg__router_notify_lost(struct mg_router *r, uint32_t id, const char *why)
{
	struct mg__ident *e;

	/* Fail every handler waiting on a reply from 'id' (this only queues:
	 * nothing runs meanwhile). */
	for (e = mg__idtab_find(&r->waiting, id); e != NULL; e = mg__idtab_next(e)) {
		const struct mg_handler *h = (const struct mg_handler *)
			((const char *)e - offsetof(struct mg_handler, rlink));
		struct mg_msg dead = {
			.flags = MG_F_DEAD, .dst = r->my_id, .src = id,
			.auth_id = id, .handle = h->handle,
		};
		dead.data = (uint8_t *)why;
		dead.len = strlen(why);
		mg__router_queue_local(r, &dead);
	}
	mg__router_tell_watches(r, id, why);
}

/* Context 'id' is lost: DEL_ROUTE down every child stream that sent
 * towards it, so that the child, and whoever behind it sent, hears. */
static void tell_egress(struct mg_router *r, uint32_t id, const char *why)
{
	struct mg_buf *b = mg__buf_new(NULL, 4096);
	struct mg_stream *s;

	while ((s = mg__router_take_egress(r, id)) != NULL) {
		if (b != NULL && !mg__stream_closed(s)) {
			b->len = 0;
			if (mg__buf_put_u32(b, id) == 0 && mg__buf_put_str(b, why) == 0) {
				mg__router_send(r, mg__stream_remote_id(s), MG_H_DEL_ROUTE,
						0, 0, b->data, b->len);
			}
		}
	}
	talloc_free(b);
}

void mg__router_tell_going(struct mg_router *r, uint32_t id, const char *why)
{
	tell_egress(r, id, why);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* The parent connection is gone: the ancestors, and every other context
 * someone here waits on or watches that is not below (a sibling or a
 * cousin), are unreachable now. */
static void lost_above(struct mg_router *r, const char *why)
{
	TALLOC_CTX *tmp;
	size_t nw = 0, nt = 0, k = 0;
	struct mg__ident **w, **t;
	uint32_t *ids;

	for (size_t i = 0; i < r->n_parents; i++) {
		mg__router_notify_lost(r, r->parents[i], why);
	}
	/* Listed after those callbacks, which may free entries; the ids are
	 * copied before any other runs. */
	tmp = talloc_new(NULL);
	w = mg__idtab_list(tmp, &r->waiting, &nw);
	t = mg__idtab_list(tmp, &r->watches, &nt);
	ids = talloc_array(tmp, uint32_t, nw + nt + 1);
	for (size_t i = 0; ids != NULL && i < nw + nt; i++) {
		uint32_t id = i < nw ? (w != NULL ? w[i]->id : r->my_id)
				     : (t != NULL ? t[i - nw]->id : r->my_id);
		if (id != r->my_id && !mg__router_is_ancestor(r, id) && mg__router_route(r, id) == NULL) {
			ids[k++] = id;
		}
	}
	if (ids != NULL) {
		qsort(ids, k, sizeof(*ids), cmp_u32);
	}
	for (size_t i = 0; i < k; i++) {
		if (i == 0 || ids[i] != ids[i - 1]) {
			mg__router_notify_lost(r, ids[i], why);
		}
	}
	talloc_free(tmp);
}

static void del_route(struct mg_router *r, struct route *rt, const char *why)
{
	uint32_t id = rt->link.id;
	struct mg_buf *b;

	mg__idtab_del(&r->routes, &rt->link);
	mg_debug("route to %u (%s) lost: %s", id, rt->name, why);
	if (r->parent != NULL && !mg__stream_closed(r->parent)) {
		/* Tell the master why, so its error names the real cause. */
		b = mg__buf_new(NULL, 4096);
		if (b != NULL && mg__buf_put_u32(b, id) == 0 && mg__buf_put_str(b, why) == 0) {
			mg__router_send(r, r->parents[0], MG_H_DEL_ROUTE, 0, 0, b->data, b->len);
		}
		talloc_free(b);
	}
	talloc_free(rt);
	mg__router_notify_lost(r, id, why);
	tell_egress(r, id, why);
}

/* The stream of an entry of the routes or the expects table (each entry
 * is the first member of its struct). */
static const struct mg_stream *entry_stream(const struct mg_router *r, const struct mg__idtab *t,
					    const struct mg__ident *e)
{
	if (t == &r->routes) {
		return ((const struct route *)e)->stream;
	}
	return ((const struct expect *)e)->stream;
}

/* The ids of every entry of 't' (r's routes or expects) whose stream is
 * 's' (all when s is NULL), copied, so that callers may change the table
 * while they walk them. */
static uint32_t *ids_via(TALLOC_CTX *mem_ctx, const struct mg_router *r,
			 const struct mg__idtab *t, const struct mg_stream *s, size_t *_n)
{
	size_t n = 0, k = 0;
	struct mg__ident **v = mg__idtab_list(mem_ctx, t, &n);
	uint32_t *ids = talloc_array(mem_ctx, uint32_t, n > 0 ? n : 1);

	if (v == NULL || ids == NULL) {
		*_n = 0;
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		if (s == NULL || entry_stream(r, t, v[i]) == s) {
			ids[k++] = v[i]->id;
		}
	}
	*_n = k;
	return ids;
}

/* Forget every CONNECT that went down 's': it can announce nothing now. */
static void drop_expects(struct mg_router *r, const struct mg_stream *s)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	size_t n;
	uint32_t *ids = ids_via(tmp, r, &r->expects, s, &n);

	for (size_t i = 0; i < n; i++) {
		struct mg__ident *e = mg__idtab_find(&r->expects, ids[i]);
		if (e != NULL) {
			forget_expect(r, (struct expect *)e);
		}
	}
	talloc_free(tmp);
}

/* Delete the routes through 's' (all when NULL); callbacks run meanwhile. */
static void del_routes_via(struct mg_router *r, const struct mg_stream *s, const char *why)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	size_t n;
	uint32_t *ids = ids_via(tmp, r, &r->routes, s, &n);

	for (size_t i = 0; i < n; i++) {
		struct route *rt = mg__router_route(r, ids[i]);
		if (rt != NULL && (s == NULL || rt->stream == s)) {
			del_route(r, rt, why);
		}
	}
	talloc_free(tmp);
}

/* A way out drained, or closed: read again from every child held back
 * (one whose way is still full is held back again by its next frame). */
static void resume_children(struct mg_router *r)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	size_t n = 0;
	struct mg__ident **v = mg__idtab_list(tmp, &r->routes, &n);

	for (size_t i = 0; v != NULL && i < n; i++) {
		struct route *rt = (struct route *)v[i];
		if (mg__stream_paused(rt->stream)) {
			mg__stream_pause(rt->stream, false);
		}
	}
	talloc_free(tmp);
}

static void on_drain(struct mg_stream *s, void *data)
{
	resume_children(talloc_get_type_abort(data, struct mg_router));
}

static void on_stream_close(struct mg_stream *s, int err, const char *why, void *data)
{
	struct mg_router *r = talloc_get_type_abort(data, struct mg_router);
	char text[256];

	if (err != 0) {
		snprintf(text, sizeof(text), "connection to %s lost: %s: %s",
			 mg__stream_name(s), why, mg_strerror(err));
	} else {
		snprintf(text, sizeof(text), "connection to %s lost", mg__stream_name(s));
	}
	drop_expects(r, s);
	mg__router_drop_egress(r, s);
	del_routes_via(r, s, text);
	/* A closed link never drains: a child held back because this one's
	 * queue was full (a client that stopped reading, then went) would
	 * otherwise never be read again. */
	resume_children(r);
	if (s == r->parent) {
		r->parent = NULL;
		/* Everything above and beside is unreachable now. */
		lost_above(r, text);
		if (r->parent_lost != NULL) {
			r->parent_lost(r->parent_lost_data);
		}
	}
	mg_loop_free_later(r->loop, s);
}

/* How much of 'name' a route keeps: what a parent takes in ADD_ROUTE (a
 * chain text, a worker's argv[0], may be longer), cut before a UTF-8
 * sequence that would not fit whole. */
static size_t name_len(const char *name)
{
	size_t n = name != NULL ? strnlen(name, NAME_MAX_LEN + 1) : 0;

	if (n <= NAME_MAX_LEN) {
		return n;
	}
	n = NAME_MAX_LEN;
	while (n > 0 && ((unsigned char)name[n] & 0xC0) == 0x80) {
		n--;
	}
	return n;
}

bool mg__router_id_taken(const struct mg_router *r, uint32_t id)
{
	return id == r->my_id || mg__router_is_ancestor(r, id) || mg__router_route(r, id) != NULL;
}

static int add_route(struct mg_router *r, uint32_t id, struct mg_stream *s, const char *name)
{
	struct route *rt;

	if (mg__router_id_taken(r, id)) {
		return -EEXIST;
	}
	rt = talloc_zero(r, struct route);
	if (rt == NULL) {
		return -ENOMEM;
	}
	rt->link.id = id;
	rt->stream = s;
	rt->name = talloc_strndup(rt, name != NULL ? name : "", name_len(name));
	if (rt->name == NULL) {
		talloc_free(rt);
		return -ENOMEM;
	}
	mg__idtab_add(r, &r->routes, &rt->link);
	return 0;
}

static int announce(struct mg_router *r, uint32_t id, const char *name)
{
	struct mg_buf *b;
	int ret;

	if (r->parent == NULL) {
		return 0;
	}
	b = mg__buf_new(NULL, r->max_msg);
	if (b == NULL) {
		return -ENOMEM;
	}
	if ((ret = mg__buf_put_u32(b, id)) == 0 && (ret = mg__buf_put_str(b, name)) == 0) {
		ret = mg__router_send(r, r->parents[0], MG_H_ADD_ROUTE, 0, 0, b->data, b->len);
	}
	talloc_free(b);
	return ret;
}

/* A child broke the routing rules: drop its hop. 'why' is a constant. */
static void refuse_child(struct mg_stream *in, uint32_t id, const char *why)
{
	mg_warn("%s: %s (context %u): dropping that hop", mg__stream_name(in), why, id);
	mg__stream_fail(in, MG_ERR_PROTOCOL, why);
}

/*
 * A child announces a context behind it. Taken only when this context
 * sent or forwarded the CONNECT for that id down that very stream, and
 * only once: anything else is a hostile or broken child, dropped at once,
 * so that it cannot flood the table or the log either.
 */
static void on_add_route(struct mg_router *r, struct mg_msg *m, void *data)
{
	struct mg_buf b;
	struct expect *e;
	uint32_t id = 0;
	char *name = NULL;

	mg__buf_view(&b, m->data, m->len);
	if (mg__buf_get_u32(&b, &id) != 0 || mg__buf_get_str(&b, m, &name) != 0 || name == NULL ||
	    strlen(name) > NAME_MAX_LEN) {
		refuse_child(m->in, id, "malformed ADD_ROUTE");
		return;
	}
	e = (struct expect *)mg__idtab_find(&r->expects, id);
	if (e == NULL || e->stream != m->in) {
		refuse_child(m->in, id, "announced a context it was not asked to connect");
		return;
	}
	forget_expect(r, e);
	drop_via_hold(r, id);
	if (add_route(r, id, m->in, name) != 0) {
		refuse_child(m->in, id, "announced a context that exists already");
		return;
	}
	mg_trace("route to %u (%s) via %s", id, name, mg__stream_name(m->in));
	announce(r, id, name);
}

static void on_del_route(struct mg_router *r, struct mg_msg *m, void *data)
{
	struct mg_buf b;
	struct route *rt;
	char *why = NULL;
	uint32_t id;

	mg__buf_view(&b, m->data, m->len);
	if (mg__buf_get_u32(&b, &id) != 0) {
		return;
	}
	if (mg__buf_left(&b) > 0 && mg__buf_get_str(&b, m, &why) != 0) {
		why = NULL;
	}
	if (m->in == NULL) {
		return;
	}
	if (m->in == r->parent) {
		/* A sibling or cousin something below sent to is gone. */
		if (mg__router_parent_authority(r, m) && id != r->my_id && !mg__router_is_ancestor(r, id) &&
		    mg__router_route(r, id) == NULL) {
			mg__router_notify_lost(r, id, why != NULL ? why : "hop disconnected");
			tell_egress(r, id, why != NULL ? why : "hop disconnected");
		}
		return;
	}
	rt = mg__router_route(r, id);
	if (m->src != mg__stream_remote_id(m->in) || rt == NULL || rt->stream != m->in ||
	    id == m->src || rt->no_agent) {
		/* Only from the immediate child, for its subtree; a child's
		 * own route (and a fused link's) goes only when its stream does. */
		return;
	}
	del_route(r, rt, why != NULL ? why : "hop disconnected");
}

static void on_log(struct mg_router *r, struct mg_msg *m, void *data)
{
	struct mg_buf b;
	uint8_t level;
	char *text = NULL;
	const char *name;

	mg__buf_view(&b, m->data, m->len);
	if (mg__buf_get_u8(&b, &level) != 0 || mg__buf_get_str(&b, m, &text) != 0 || text == NULL) {
		return;
	}
	if (r->parent != NULL) {
		/* Not the master: pass it on unchanged in meaning. A child's
		 * keeps its own src, or it would be logged in our name (and
		 * shown as ours when we have debug=1). */
		if (m->in != NULL && !mg__stream_closed(r->parent)) {
			struct mg_msg f = *m;

			f.dst = r->parents[r->n_parents - 1];
			f.reply_to = 0;
			mg__router_send_out(r, r->parent, &f);
			return;
		}
		mg__router_send(r, r->parents[r->n_parents - 1], MG_H_LOG, 0, 0, m->data, m->len);
		return;
	}
	name = mg__router_name(r, m->src);
	if ((level & MG_LOG_SHOW) != 0 && mg__idtab_find(&r->shows, m->src) != NULL) {
		/* A hop with debug=1: shown whatever our own level. */
		mg_log(MG_LOG_ERROR, NULL, 0, "%s: %s", name != NULL ? name : "?", text);
		return;
	}
	level &= (uint8_t)~MG_LOG_SHOW;
	if (level > MG_LOG_TRACE) {
		level = MG_LOG_TRACE;
	}
	mg__log(level, NULL, 0, "%s: %s", name != NULL ? name : "?", text);
}

static int router_destructor(struct mg_router *r)
{
	/* Runs before its children go: their destructors must not touch the
	 * tables, which may be freed first. */
	r->dying = true;
	return 0;
}

struct mg_router *mg__router_new(TALLOC_CTX *mem_ctx, struct mg_loop *loop,
				 uint32_t my_id, const uint32_t *parent_ids, size_t n_parents)
{
	struct mg_router *r = talloc_zero(mem_ctx, struct mg_router);

	if (r == NULL) {
		return NULL;
	}
	talloc_set_destructor(r, router_destructor);
	r->loop = loop;
	r->my_id = my_id;
	r->max_msg = MG_MSG_MAX_DEFAULT;
	r->next_handle = MG_H_DYNAMIC;
	if (n_parents > 0) {
		r->parents = talloc_memdup(r, parent_ids, n_parents * sizeof(*parent_ids));
		if (r->parents == NULL) {
			talloc_free(r);
			return NULL;
		}
	}
	r->n_parents = n_parents;
	if (mg__idtab_init(r, &r->routes) != 0 || mg__idtab_init(r, &r->expects) != 0 ||
	    mg__idtab_init(r, &r->watches) != 0 || mg__idtab_init(r, &r->handlers) != 0 ||
	    mg__idtab_init(r, &r->waiting) != 0 || mg__idtab_init(r, &r->expect_replies) != 0 ||
	    mg__idtab_init(r, &r->shows) != 0 || mg__idtab_init(r, &r->egress) != 0 ||
	    mg__idtab_init(r, &r->holds) != 0) {
		talloc_free(r);
		return NULL;
	}
	r->builtin[0] = mg__router_add_handler(r, r, MG_H_ADD_ROUTE, MG_POL_CHILD, 0, true,
					       on_add_route, NULL);
	/* From a child or from the parent: on_del_route tells them apart. */
	r->builtin[1] = mg__router_add_handler(r, r, MG_H_DEL_ROUTE, MG_POL_ANY, 0, true,
					       on_del_route, NULL);
	r->builtin[2] = mg__router_add_handler(r, r, MG_H_LOG, MG_POL_DESCENDANT, 0, true, on_log, NULL);
	if (r->builtin[0] == NULL || r->builtin[1] == NULL || r->builtin[2] == NULL) {
		talloc_free(r);
		return NULL;
	}
	return r;
}

struct mg_loop *mg__router_loop(const struct mg_router *r)
{
	return r->loop;
}

uint32_t mg__router_id(const struct mg_router *r)
{
	return r->my_id;
}

const uint32_t *mg__router_parents(const struct mg_router *r, size_t *_n)
{
	*_n = r->n_parents;
	return r->parents;
}

uint32_t mg__router_max_msg(const struct mg_router *r)
{
	return r->max_msg;
}

void mg__router_set_max_msg(struct mg_router *r, uint32_t max)
{
	r->max_msg = max;
}

bool mg__router_unidirectional(const struct mg_router *r)
{
	return r->unidirectional;
}

void mg__router_set_unidirectional(struct mg_router *r, bool on)
{
	r->unidirectional = on;
}

int mg__router_add_stream(struct mg_router *r, struct mg_stream *s, uint32_t remote_id,
			  const char *name, bool is_parent)
{
	int ret;

	talloc_steal(r, s);
	mg__stream_set_remote_id(s, remote_id);
	mg__stream_on_close(s, on_stream_close, r);
	mg__stream_on_drain(s, on_drain, r);
	if (is_parent) {
		r->parent = s;
	} else {
		if ((ret = add_route(r, remote_id, s, name)) != 0) {
			return ret;
		}
		if ((ret = announce(r, remote_id, mg__router_name(r, remote_id))) != 0) {
			return ret;
		}
	}
	mg__stream_set_frames(s, on_stream_msg, r);
	mg__stream_set_tails(s, true);
	return 0;
}

int mg__router_fuse(struct mg_router *r, uint32_t a, uint32_t b, const char *name)
{
	struct route *rt = mg__router_route(r, a);
	struct expect *e;
	int ret;

	if (rt == NULL) {
		return -ENOENT;
	}
	if ((ret = add_route(r, b, rt->stream, name)) != 0) {
		return ret;
	}
	/* b's agent is the link's child: what only the child at the end of
	 * a link may send (FETCH, ADD_ROUTE, DEL_ROUTE) comes from b, and
	 * nothing speaks for a, or is for a. */
	rt->no_agent = true;
	mg__stream_set_remote_id(rt->stream, b);
	if ((e = (struct expect *)mg__idtab_find(&r->expects, b)) != NULL) {
		forget_expect(r, e);
	}
	drop_via_hold(r, b);
	return 0;
}

void mg__router_allow_show(struct mg_router *r, uint32_t id)
{
	struct mg__ident *e;

	if (mg__idtab_find(&r->shows, id) != NULL) {
		return;
	}
	e = talloc_zero(r, struct mg__ident);
	if (e != NULL) {
		e->id = id;
		mg__idtab_add(r, &r->shows, e);
	}
}

const char *mg__router_name(const struct mg_router *r, uint32_t id)
{
	struct route *rt = mg__router_route(r, id);

	return rt != NULL ? rt->name : NULL;
}

bool mg__router_reachable(const struct mg_router *r, uint32_t id)
{
	if (id == r->my_id || mg__router_route(r, id) != NULL) {
		return true;
	}
	/* Through the parent: the ancestors, and without unidirectional
	 * routing any other context, which only the master can tell apart. */
	return r->parent != NULL && (mg__router_is_ancestor(r, id) || !r->unidirectional);
}

uint32_t mg__router_child_towards(const struct mg_router *r, uint32_t id)
{
	struct route *rt = mg__router_route(r, id);

	return rt != NULL ? mg__stream_remote_id(rt->stream) : 0;
}

struct mg_services *mg__router_services(const struct mg_router *r)
{
	return r->services;
}

void mg__router_set_services(struct mg_router *r, struct mg_services *t)
{
	r->services = t;
}

void mg__router_on_parent_lost(struct mg_router *r, void (*fn)(void *data), void *data)
{
	r->parent_lost = fn;
	r->parent_lost_data = data;
}

void mg__router_close_all(struct mg_router *r, const char *why)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	size_t n;
	struct mg__ident **v = mg__idtab_list(tmp, &r->routes, &n);

	/* Close child streams now, so their agents see EOF and stop too. */
	for (size_t i = 0; v != NULL && i < n; i++) {
		mg__stream_abort(((struct route *)v[i])->stream);
	}
	talloc_free(tmp);
	del_routes_via(r, NULL, why);
}

size_t mg__router_close_attached(struct mg_router *r)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	size_t n, closed = 0;
	struct mg__ident **v = mg__idtab_list(tmp, &r->routes, &n);
	struct mg_stream **links = talloc_zero_array(tmp, struct mg_stream *, n + 1);

	/* The links first: closing one deletes the routes through it. */
	for (size_t i = 0; v != NULL && links != NULL && i < n; i++) {
		struct mg_stream *s = ((struct route *)v[i])->stream;
		if (s != r->parent && mg__stream_attached(s) && !mg__stream_closed(s)) {
			mg__stream_abort(s);
			links[closed++] = s;
		}
	}
	for (size_t i = 0; links != NULL && i < closed; i++) {
		on_stream_close(links[i], 0, NULL, r);
	}
	talloc_free(tmp);
	return closed;
}
