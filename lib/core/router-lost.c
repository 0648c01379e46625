/*
 * Who hears that a context is gone (see docs/PROTOCOL.md, section 6, "Lost
 * hops"): the handlers waiting on it get a dead message, its watches are
 * told, and each child that sent towards it from outside its own subtree
 * gets DEL_ROUTE (mitogen's egress_ids).
 */
#include <stdlib.h>
#include <string.h>
#include "buf.h"
#include "protocol.h"
#include "router-private.h"

#include <stddef.h>

/* Egress entries one child stream may make; past them its traffic is
 * still forwarded, and only the notices of losses are not promised. */
#define EGRESS_MAX 256

/* The first watch on 'id' not yet told, or NULL. */
static struct mg_route_watch *unfired_watch(const struct mg_router *r, uint32_t id)
{
	struct mg__ident *e;

	for (e = mg__idtab_find(&r->watches, id); e != NULL; e = mg__idtab_next(e)) {
		struct mg_route_watch *w = (struct mg_route_watch *)e;
		if (!w->fired) {
			return w;
		}
	}
	return NULL;
}

void mg__router_notify_lost(struct mg_router *r, uint32_t id, const char *why)
{
	struct mg_route_watch *w;
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
	/* A callback may free any watch: look again after each one. */
	while ((w = unfired_watch(r, id)) != NULL) {
		w->fired = true;
		w->fn(r, id, why, w->data);
	}
}

/* The route of the child at the end of stream 's', or NULL. */
static struct route *child_route(const struct mg_router *r, const struct mg_stream *s)
{
	struct route *rt = mg__router_route(r, mg__stream_remote_id(s));

	return rt != NULL && rt->stream == s ? rt : NULL;
}

/* A frame from child stream 'in' goes on towards 'dst': remember it if
 * 'dst' is a sibling or a cousin of that child (see struct egress). */
void mg__router_note_egress(struct mg_router *r, struct mg_stream *in, uint32_t dst)
{
	struct route *rt;
	struct mg__ident *x;
	struct egress *e;

	if (mg__router_is_ancestor(r, dst) || (rt = child_route(r, in)) == NULL ||
	    rt->n_egress >= EGRESS_MAX) {
		return;
	}
	for (x = mg__idtab_find(&r->egress, dst); x != NULL; x = mg__idtab_next(x)) {
		if (((struct egress *)x)->stream == in) {
			return;
		}
	}
	e = talloc_zero(r, struct egress);
	if (e == NULL) {
		return;
	}
	e->link.id = dst;
	e->stream = in;
	mg__idtab_add(r, &r->egress, &e->link);
	rt->n_egress++;
}

static void forget_egress(struct mg_router *r, struct egress *e)
{
	struct route *rt = child_route(r, e->stream);

	if (rt != NULL && rt->n_egress > 0) {
		rt->n_egress--;
	}
	mg__idtab_del(&r->egress, &e->link);
	talloc_free(e);
}

/* Context 'id' is lost: DEL_ROUTE down every child stream that sent
 * towards it, so that the child, and whoever behind it sent, hears. */
void mg__router_tell_egress(struct mg_router *r, uint32_t id, const char *why)
{
	struct mg__ident *x;
	struct mg_buf *b = mg__buf_new(NULL, 4096);

	while ((x = mg__idtab_find(&r->egress, id)) != NULL) {
		struct egress *e = (struct egress *)x;
		if (b != NULL && !mg__stream_closed(e->stream)) {
			b->len = 0;
			if (mg__buf_put_u32(b, id) == 0 && mg__buf_put_str(b, why) == 0) {
				mg__router_send(r, mg__stream_remote_id(e->stream), MG_H_DEL_ROUTE,
						0, 0, b->data, b->len);
			}
		}
		forget_egress(r, e);
	}
	talloc_free(b);
}

/* Stream 's' is going: forget what it sent towards others. */
void mg__router_drop_egress(struct mg_router *r, const struct mg_stream *s)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	size_t n = 0;
	struct mg__ident **v = mg__idtab_list(tmp, &r->egress, &n);

	for (size_t i = 0; v != NULL && i < n; i++) {
		if (((struct egress *)v[i])->stream == s) {
			forget_egress(r, (struct egress *)v[i]);
		}
	}
	talloc_free(tmp);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* The parent connection is gone: the ancestors, and every other context
 * someone here waits on or watches that is not below (a sibling or a
 * cousin), are unreachable now. */
void mg__router_lost_above(struct mg_router *r, const char *why)
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

static int watch_destructor(struct mg_route_watch *w)
{
	if (w->r->dying) {
		return 0;
	}
	mg__idtab_del(&w->r->watches, &w->link);
	return 0;
}

struct mg_route_watch *mg__router_watch(TALLOC_CTX *mem_ctx, struct mg_router *r,
					uint32_t id, mg_route_lost_fn fn, void *data)
{
	struct mg_route_watch *w = talloc_zero(mem_ctx, struct mg_route_watch);

	if (w == NULL) {
		return NULL;
	}
	w->r = r;
	w->link.id = id;
	w->fn = fn;
	w->data = data;
	mg__idtab_add(r, &r->watches, &w->link);
	talloc_set_destructor(w, watch_destructor);
	return w;
}

