/* The public face of the router (mitogen/router.h) over router.h. */
#include <errno.h>
#include <stdio.h>
#include "mitogen/log.h"
#include "mitogen/router.h"
#include "protocol.h"
#include "router.h"

_Static_assert(MG_ROUTER_MAX_MSG_MAX == MG_MSG_MAX_DEFAULT, "the default is the most agents take");
_Static_assert(MG_ROUTER_MAX_MSG_MIN >= MG_CHUNK, "a byte channel's message fits");

uint32_t mg_router_id(const struct mg_router *r)
{
	return mg__router_id(r);
}

bool mg_router_is_master(const struct mg_router *r)
{
	size_t n;

	mg__router_parents(r, &n);
	return n == 0;
}

const uint32_t *mg_router_parent_ids(const struct mg_router *r, size_t *_n)
{
	const uint32_t *ids = mg__router_parents(r, _n);

	return *_n > 0 ? ids : NULL;
}

uint32_t mg_router_parent_id(const struct mg_router *r)
{
	size_t n;
	const uint32_t *ids = mg__router_parents(r, &n);

	return n > 0 ? ids[0] : 0;
}

struct mg_loop *mg_router_loop(const struct mg_router *r)
{
	return mg__router_loop(r);
}

int mg_router_send(struct mg_router *r, uint32_t dst, uint32_t handle, uint32_t reply_to,
		   const void *data, size_t len)
{
	return mg__router_send(r, dst, handle, reply_to, 0, data, len);
}

void mg_router_set_unidirectional(struct mg_router *r, bool on)
{
	mg__router_set_unidirectional(r, on);
}

bool mg_router_unidirectional(const struct mg_router *r)
{
	return mg__router_unidirectional(r);
}

uint32_t mg_router_max_msg(const struct mg_router *r)
{
	return mg__router_max_msg(r);
}

int mg_router_set_max_msg(struct mg_router *r, uint32_t bytes)
{
	if (bytes < MG_ROUTER_MAX_MSG_MIN || bytes > MG_ROUTER_MAX_MSG_MAX) {
		return -EINVAL;
	}
	mg__router_set_max_msg(r, bytes);
	return 0;
}

struct mg_watch {
	struct mg_router *r;
	uint32_t id;
	mg_router_disconnect_fn fn;
	void *data;
	struct mg_route_watch *w;	/* until the loss is seen */
	char *reason;
};

/* From the loop: fn is the last thing that touches the watch, so it may
 * free it. */
static void watch_fire(void *data)
{
	struct mg_watch *w = talloc_get_type_abort(data, struct mg_watch);

	w->fn(w->r, w->id, w->reason, w->data);
}

static int watch_later(struct mg_watch *w, const char *reason)
{
	w->reason = talloc_strdup(w, reason);
	if (w->reason == NULL) {
		return -ENOMEM;
	}
	return mg_loop_defer(mg__router_loop(w->r), w, watch_fire, w);
}

/* The router tells us, maybe from inside a teardown: call fn later. */
static void watch_lost(struct mg_router *r, uint32_t id, const char *why, void *data)
{
	struct mg_watch *w = talloc_get_type_abort(data, struct mg_watch);

	TALLOC_FREE(w->w);
	if (watch_later(w, why) != 0) {
		mg_warn("context %u lost (%s): out of memory for its callback", id, why);
	}
}

struct mg_watch *mg_router_on_disconnect(TALLOC_CTX *mem_ctx, struct mg_router *r, uint32_t id,
					 mg_router_disconnect_fn fn, void *data)
{
	struct mg_watch *w;
	char why[64];

	if (r == NULL || fn == NULL || (w = talloc_zero(mem_ctx, struct mg_watch)) == NULL) {
		return NULL;
	}
	w->r = r;
	w->id = id;
	w->fn = fn;
	w->data = data;
	if (!mg__router_reachable(r, id)) {
		snprintf(why, sizeof(why), "context %u is unreachable", id);
		if (watch_later(w, why) != 0) {
			talloc_free(w);
			return NULL;
		}
		return w;
	}
	w->w = mg__router_watch(w, r, id, watch_lost, w);
	if (w->w == NULL) {
		talloc_free(w);
		return NULL;
	}
	return w;
}
