/*
 * The records of who hears that a context is gone (see docs/PROTOCOL.md,
 * section 6, "Lost hops"): its watches, and each child that sent towards
 * it from outside its own subtree (mitogen's egress_ids), which router.c
 * sends DEL_ROUTE.
 */
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

void mg__router_tell_watches(struct mg_router *r, uint32_t id, const char *why)
{
	struct mg_route_watch *w;

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

/* Child stream 'in' is to hear when 'dst' goes (a frame went between
 * them): remember it if 'dst' is a sibling or a cousin of that child (see
 * struct egress). */
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

struct mg_stream *mg__router_take_egress(struct mg_router *r, uint32_t id)
{
	struct egress *e = (struct egress *)mg__idtab_find(&r->egress, id);
	struct mg_stream *s;

	if (e == NULL) {
		return NULL;
	}
	s = e->stream;
	forget_egress(r, e);
	return s;
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

