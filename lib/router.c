/* The router: see router.h and docs/PROTOCOL.md. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "buf.h"
#include "mitogen/error.h"
#include "mitogen/log.h"
#include "protocol.h"
#include "router.h"

#define N_BUCKETS 64

struct mg_handler {
	struct mg_handler *next;
	struct mg_router *r;
	uint32_t handle;
	enum mg_policy policy;
	uint32_t respondent;
	bool persist;
	mg_handler_fn fn;
	void *data;
};

struct route {
	struct route *next;
	uint32_t id;
	struct mg_stream *stream;
	char *name;
};

struct expect {
	struct expect *next;
	uint32_t id;
	uint32_t via;
};

struct mg_route_watch {
	struct mg_route_watch *next;
	struct mg_route_watch **prevp;
	uint32_t id;
	mg_route_lost_fn fn;
	void *data;
};

struct mg_router {
	struct mg_loop *loop;
	uint32_t my_id;
	uint32_t *parents;
	size_t n_parents;
	uint32_t max_msg;
	bool strict;
	struct mg_stream *parent;
	struct mg_handler *handlers[N_BUCKETS];
	uint32_t next_handle;
	struct route *routes;
	struct expect *expects;
	struct mg_route_watch *watches;
	struct mg_handler *builtin[3];
	void (*parent_lost)(void *data);
	void *parent_lost_data;
};

static struct route *find_route(const struct mg_router *r, uint32_t id)
{
	for (struct route *rt = r->routes; rt != NULL; rt = rt->next) {
		if (rt->id == id) {
			return rt;
		}
	}
	return NULL;
}

static struct mg_handler *find_handler(const struct mg_router *r, uint32_t handle)
{
	for (struct mg_handler *h = r->handlers[handle % N_BUCKETS]; h != NULL; h = h->next) {
		if (h->handle == handle) {
			return h;
		}
	}
	return NULL;
}

static bool is_ancestor(const struct mg_router *r, uint32_t id)
{
	for (size_t i = 0; i < r->n_parents; i++) {
		if (r->parents[i] == id) {
			return true;
		}
	}
	return false;
}

/* The stream a message for 'id' leaves on, or NULL. */
static struct mg_stream *route_out(const struct mg_router *r, uint32_t id)
{
	struct route *rt = find_route(r, id);

	if (rt != NULL) {
		return rt->stream;
	}
	return r->parent;
}

static int handler_destructor(struct mg_handler *h)
{
	struct mg_handler **pp = &h->r->handlers[h->handle % N_BUCKETS];

	while (*pp != NULL) {
		if (*pp == h) {
			*pp = h->next;
			break;
		}
		pp = &(*pp)->next;
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
	h->next = r->handlers[handle % N_BUCKETS];
	r->handlers[handle % N_BUCKETS] = h;
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

/* Queue a copy for local delivery on the next iteration. */
static int queue_local(struct mg_router *r, const struct mg_msg *m)
{
	struct mg_msg *c = talloc_zero(r, struct mg_msg);

	if (c == NULL) {
		return -ENOMEM;
	}
	*c = *m;
	c->in = NULL;
	c->data = NULL;
	c->borrowed = false;
	if (m->len > 0) {
		c->data = talloc_memdup(c, m->data, m->len);
		if (c->data == NULL) {
			talloc_free(c);
			return -ENOMEM;
		}
	}
	if (mg_loop_defer(r->loop, c, deliver_local, c) != 0) {
		talloc_free(c);
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

static bool policy_ok(const struct mg_router *r, const struct mg_handler *h, const struct mg_msg *m)
{
	bool from_child = m->in != NULL && m->in != r->parent;

	switch (h->policy) {
	case MG_POL_PARENT:
		return !from_child && (m->auth_id == r->my_id || is_ancestor(r, m->auth_id));
	case MG_POL_CHILD:
		return from_child && m->src == mg__stream_remote_id(m->in);
	case MG_POL_RESPONDENT:
		return m->src == h->respondent || (m->in == NULL && m->src == r->my_id);
	case MG_POL_DESCENDANT:
		return from_child;
	default:
		return false;
	}
}

static void invoke(struct mg_router *r, struct mg_msg *m)
{
	struct mg_handler *h = find_handler(r, m->handle);
	char why[96];

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
	struct mg_msg *m = talloc_get_type_abort(data, struct mg_msg);
	struct mg_router *r = talloc_get_type_abort(talloc_parent(m), struct mg_router);

	/* A handler may steal the message; the holder frees it otherwise. */
	TALLOC_CTX *holder = talloc_new(NULL);

	talloc_steal(holder, m);
	invoke(r, m);
	talloc_free(holder);
}

int mg__router_send(struct mg_router *r, uint32_t dst, uint32_t handle, uint32_t reply_to,
		    uint16_t flags, const void *data, size_t len)
{
	struct mg_msg m = {
		.flags = flags, .dst = dst, .src = r->my_id, .auth_id = r->my_id,
		.handle = handle, .reply_to = reply_to, .data = (uint8_t *)data, .len = len,
	};
	struct mg_stream *out;

	if (len > r->max_msg) {
		return MG_ERR_TOO_BIG;
	}
	if (dst == r->my_id) {
		return queue_local(r, &m);
	}
	out = route_out(r, dst);
	if (out == NULL || mg__stream_closed(out)) {
		return MG_ERR_DISCONNECTED;
	}
	return send_msg(r, out, &m);
}

void mg__router_receive(struct mg_router *r, struct mg_msg *m)
{
	struct mg_stream *in = m->in;
	struct mg_stream *out;
	char why[96];

	if (in != r->parent) {
		/* Reverse-path filter: a child speaks only for its subtree. */
		struct route *a = find_route(r, m->auth_id);
		struct route *s = find_route(r, m->src);
		if (a == NULL || a->stream != in || s == NULL || s->stream != in) {
			mg_debug("%s: dropped message with bad src %u / auth_id %u",
				 mg__stream_name(in), m->src, m->auth_id);
			return;
		}
	} else if (m->auth_id != r->my_id && !is_ancestor(r, m->auth_id)) {
		mg_debug("%s: dropped message from parent with bad auth_id %u",
			 mg__stream_name(in), m->auth_id);
		return;
	}
	if (m->dst == r->my_id) {
		invoke(r, m);
		return;
	}
	out = route_out(r, m->dst);
	if (out == NULL || (out == r->parent && in == r->parent)) {
		snprintf(why, sizeof(why), "no route to %u, my id is %u", m->dst, r->my_id);
		mg__router_reply_dead(r, m, why);
		return;
	}
	if (in != r->parent && out != r->parent) {
		/* Siblings never talk: only parent <-> descendant traffic. */
		snprintf(why, sizeof(why), "routing policy prevents forwarding from %u to %u",
			 m->src, m->dst);
		mg__router_reply_dead(r, m, why);
		return;
	}
	if (mg__stream_closed(out)) {
		mg__router_reply_dead(r, m, "hop disconnected");
		return;
	}
	if (m->len > r->max_msg) {
		mg__router_reply_dead(r, m, "message too large");
		return;
	}
	send_msg(r, out, m);
}

static void on_stream_msg(struct mg_stream *s, struct mg_msg *m, void *data)
{
	struct mg_router *r = talloc_get_type_abort(data, struct mg_router);
	TALLOC_CTX *holder = talloc_new(NULL);

	talloc_steal(holder, m);
	mg__router_receive(r, m);
	talloc_free(holder);
}

static void notify_lost(struct mg_router *r, uint32_t id, const char *why)
{
	struct mg_route_watch *w, *next;

	/* Fail every handler waiting on a reply from 'id'. */
	for (size_t b = 0; b < N_BUCKETS; b++) {
		struct mg_handler *h = r->handlers[b];
		while (h != NULL) {
			struct mg_handler *hn = h->next;
			if (h->policy == MG_POL_RESPONDENT && h->respondent == id) {
				struct mg_msg dead = {
					.flags = MG_F_DEAD, .dst = r->my_id, .src = id,
					.auth_id = id, .handle = h->handle,
				};
				dead.data = (uint8_t *)why;
				dead.len = strlen(why);
				queue_local(r, &dead);
			}
			h = hn;
		}
	}
	for (w = r->watches; w != NULL; w = next) {
		next = w->next;
		if (w->id == id) {
			w->fn(r, id, why, w->data);
		}
	}
}

static void del_route(struct mg_router *r, struct route *rt, const char *why)
{
	struct route **pp = &r->routes;
	uint32_t id = rt->id;
	struct mg_buf *b;

	while (*pp != rt) {
		pp = &(*pp)->next;
	}
	*pp = rt->next;
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
	notify_lost(r, id, why);
}

static void on_stream_close(struct mg_stream *s, int err, const char *why, void *data)
{
	struct mg_router *r = talloc_get_type_abort(data, struct mg_router);
	char text[256];
	struct route *rt, *next;

	if (err != 0) {
		snprintf(text, sizeof(text), "connection to %s lost: %s: %s",
			 mg__stream_name(s), why, mg_strerror(err));
	} else {
		snprintf(text, sizeof(text), "connection to %s lost", mg__stream_name(s));
	}
	for (rt = r->routes; rt != NULL; rt = next) {
		next = rt->next;
		if (rt->stream == s) {
			del_route(r, rt, text);
		}
	}
	if (s == r->parent) {
		r->parent = NULL;
		/* Everything above is unreachable now. */
		for (size_t i = 0; i < r->n_parents; i++) {
			notify_lost(r, r->parents[i], text);
		}
		if (r->parent_lost != NULL) {
			r->parent_lost(r->parent_lost_data);
		}
	}
	mg_loop_free_later(r->loop, s);
}

static int add_route(struct mg_router *r, uint32_t id, struct mg_stream *s, const char *name)
{
	struct route *rt;

	if (id == r->my_id || is_ancestor(r, id) || find_route(r, id) != NULL) {
		return -EEXIST;
	}
	rt = talloc_zero(r, struct route);
	if (rt == NULL) {
		return -ENOMEM;
	}
	rt->id = id;
	rt->stream = s;
	rt->name = talloc_strdup(rt, name != NULL ? name : "");
	rt->next = r->routes;
	r->routes = rt;
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

static bool expected(struct mg_router *r, uint32_t id, struct mg_stream *in)
{
	struct expect **pp;

	if (!r->strict) {
		return true;
	}
	for (pp = &r->expects; *pp != NULL; pp = &(*pp)->next) {
		struct expect *e = *pp;
		if (e->id == id) {
			struct route *via = find_route(r, e->via);
			if (via == NULL || via->stream != in) {
				return false;
			}
			*pp = e->next;
			talloc_free(e);
			return true;
		}
	}
	return false;
}

static void on_add_route(struct mg_router *r, struct mg_msg *m, void *data)
{
	struct mg_buf b;
	uint32_t id;
	char *name = NULL;

	mg__buf_view(&b, m->data, m->len);
	if (mg__buf_get_u32(&b, &id) != 0 || mg__buf_get_str(&b, m, &name) != 0 || name == NULL) {
		mg_debug("%s: malformed ADD_ROUTE", mg__stream_name(m->in));
		return;
	}
	if (!expected(r, id, m->in) || add_route(r, id, m->in, name) != 0) {
		mg_warn("%s: refused route to context %u", mg__stream_name(m->in), id);
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
	rt = find_route(r, id);
	if (rt == NULL || rt->stream != m->in || id == m->src) {
		/* A child's own route goes only when its stream does. */
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
		/* Not the master: pass it on unchanged in meaning. */
		mg__router_send(r, r->parents[r->n_parents - 1], MG_H_LOG, 0, 0, m->data, m->len);
		return;
	}
	name = mg__router_name(r, m->src);
	if ((level & MG_LOG_SHOW) != 0) {
		/* A hop with debug=1: shown whatever our own level. */
		mg_log(MG_LOG_ERROR, NULL, 0, "%s: %s", name != NULL ? name : "?", text);
		return;
	}
	if (level > MG_LOG_TRACE) {
		level = MG_LOG_TRACE;
	}
	mg__log(level, NULL, 0, "%s: %s", name != NULL ? name : "?", text);
}

struct mg_router *mg__router_new(TALLOC_CTX *mem_ctx, struct mg_loop *loop,
				 uint32_t my_id, const uint32_t *parent_ids, size_t n_parents)
{
	struct mg_router *r = talloc_zero(mem_ctx, struct mg_router);

	if (r == NULL) {
		return NULL;
	}
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
	r->builtin[0] = mg__router_add_handler(r, r, MG_H_ADD_ROUTE, MG_POL_CHILD, 0, true, on_add_route, NULL);
	r->builtin[1] = mg__router_add_handler(r, r, MG_H_DEL_ROUTE, MG_POL_CHILD, 0, true, on_del_route, NULL);
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

void mg__router_set_strict(struct mg_router *r, bool strict)
{
	r->strict = strict;
}

int mg__router_expect(struct mg_router *r, uint32_t id, uint32_t via_id)
{
	struct expect *e = talloc_zero(r, struct expect);

	if (e == NULL) {
		return -ENOMEM;
	}
	e->id = id;
	e->via = via_id;
	e->next = r->expects;
	r->expects = e;
	return 0;
}

int mg__router_add_stream(struct mg_router *r, struct mg_stream *s, uint32_t remote_id,
			  const char *name, bool is_parent)
{
	int ret;

	talloc_steal(r, s);
	mg__stream_set_remote_id(s, remote_id);
	mg__stream_on_close(s, on_stream_close, r);
	if (is_parent) {
		r->parent = s;
	} else {
		if ((ret = add_route(r, remote_id, s, name)) != 0) {
			return ret;
		}
		if ((ret = announce(r, remote_id, name)) != 0) {
			return ret;
		}
	}
	mg__stream_set_frames(s, on_stream_msg, r);
	return 0;
}

const char *mg__router_name(const struct mg_router *r, uint32_t id)
{
	struct route *rt = find_route(r, id);

	return rt != NULL ? rt->name : NULL;
}

bool mg__router_reachable(const struct mg_router *r, uint32_t id)
{
	return id == r->my_id || find_route(r, id) != NULL || (r->parent != NULL && is_ancestor(r, id));
}

void mg__router_on_parent_lost(struct mg_router *r, void (*fn)(void *data), void *data)
{
	r->parent_lost = fn;
	r->parent_lost_data = data;
}

static int watch_destructor(struct mg_route_watch *w)
{
	*w->prevp = w->next;
	if (w->next != NULL) {
		w->next->prevp = w->prevp;
	}
	return 0;
}

struct mg_route_watch *mg__router_watch(TALLOC_CTX *mem_ctx, struct mg_router *r,
					uint32_t id, mg_route_lost_fn fn, void *data)
{
	struct mg_route_watch *w = talloc_zero(mem_ctx, struct mg_route_watch);

	if (w == NULL) {
		return NULL;
	}
	w->id = id;
	w->fn = fn;
	w->data = data;
	w->next = r->watches;
	if (w->next != NULL) {
		w->next->prevp = &w->next;
	}
	w->prevp = &r->watches;
	r->watches = w;
	talloc_set_destructor(w, watch_destructor);
	return w;
}

void mg__router_close_all(struct mg_router *r, const char *why)
{
	struct route *rt, *next;

	/* Close child streams now, so their agents see EOF and stop too. */
	for (rt = r->routes; rt != NULL; rt = rt->next) {
		mg__stream_abort(rt->stream);
	}
	for (rt = r->routes; rt != NULL; rt = next) {
		next = rt->next;
		del_route(r, rt, why);
	}
}
