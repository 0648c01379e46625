/*
 * Frames for a context still connecting (router.h, mg__router_hold): the
 * master may send a request to a hop that is not up yet, and it goes in
 * the hop's boot image or right after its HELLO reply, instead of a round
 * trip later (docs/PROTOCOL.md, sections 2.2 and 6).
 */
#include <errno.h>
#include <string.h>
#include "mitogen/error.h"
#include "mitogen/log.h"
#include "buf.h"
#include "protocol.h"
#include "router-private.h"

bool mg__router_held(const struct mg_router *r, uint32_t id)
{
	return mg__router_hold_find(r, id) != NULL;
}

/* Frames [from, to) of h, headers and payloads, one after the other at p. */
static void copy_frames(const struct hold *h, size_t from, size_t to, uint8_t *p)
{
	size_t at = 0;

	for (size_t i = from; i < to; i++) {
		const struct mg_msg *m = h->q[i];

		mg__msg_header(m, p + at);
		if (m->len > 0) {
			memcpy(p + at + MG_HDR_LEN, m->data, m->len);
		}
		at += MG_HDR_LEN + m->len;
	}
}

int mg__router_hold_peek(TALLOC_CTX *mem_ctx, struct mg_router *r, uint32_t id, size_t max,
			 uint8_t **_p, size_t *_n, bool *_public)
{
	struct hold *h = mg__router_hold_find(r, id);
	size_t n = 0;

	*_p = NULL;
	*_n = 0;
	*_public = true;
	if (h == NULL || h->via != 0) {
		return 0;
	}
	for (size_t i = h->n_taken; i < h->n; i++) {
		if (h->q[i]->fds != NULL) {
			return -E2BIG;
		}
		n += MG_HDR_LEN + h->q[i]->len;
	}
	if (n > max) {
		return -E2BIG;
	}
	if (n > 0 && (*_p = talloc_size(mem_ctx, n)) == NULL) {
		return -ENOMEM;
	}
	copy_frames(h, h->n_taken, h->n, *_p);
	*_n = n;
	*_public = h->n_public == h->n;
	return 0;
}

void mg__router_hold_take_all(struct mg_router *r, uint32_t id)
{
	struct hold *h = mg__router_hold_find(r, id);

	if (h != NULL && h->via == 0) {
		h->n_taken = h->n;
	}
}

int mg__router_hold_take(TALLOC_CTX *mem_ctx, struct mg_router *r, uint32_t id, size_t max,
			 bool public_only, uint8_t **_p, size_t *_n)
{
	struct hold *h = mg__router_hold_find(r, id);
	size_t i, n = 0, end;
	uint8_t *p;

	*_p = NULL;
	*_n = 0;
	if (h == NULL || h->via != 0) {
		return 0;
	}
	end = public_only ? h->n_public : h->n;
	/* Up to one with descriptors: those go on the hop's link, once up. */
	for (i = h->n_taken; i < end && n + MG_HDR_LEN + h->q[i]->len <= max &&
	     h->q[i]->fds == NULL; i++) {
		n += MG_HDR_LEN + h->q[i]->len;
	}
	if (n == 0) {
		return 0;
	}
	p = talloc_size(mem_ctx, n);
	if (p == NULL) {
		return -ENOMEM;
	}
	copy_frames(h, h->n_taken, i, p);
	h->n_taken = i;
	*_p = p;
	*_n = n;
	return 0;
}

static void hold_free(struct mg_router *r, struct hold *h)
{
	mg__idtab_del(&r->holds, &h->link);
	talloc_free(h);
}

void mg__router_hold_release(struct mg_router *r, uint32_t id)
{
	struct hold *h = mg__router_hold_find(r, id);
	struct route *rt = mg__router_route(r, id);

	if (h == NULL) {
		return;
	}
	if (rt == NULL) {
		mg__router_unhold(r, id, "no route");
		return;
	}
	/* Out of the table first: nothing sent now may land in it again. */
	mg__idtab_del(&r->holds, &h->link);
	for (size_t i = 0; i < h->n; i++) {
		if (i < h->n_taken) {
			mg__router_note_connect(r, rt->stream, h->q[i]);
		} else if (rt->no_agent && h->q[i]->dst == id) {
			/* A fused link (mg__router_fuse): no agent of 'id' there. */
			mg__router_reply_dead(r, h->q[i], MG_NO_AGENT);
		} else {
			mg__router_send_out(r, rt->stream, h->q[i]);
		}
	}
	talloc_free(h);
}

void mg__router_unhold(struct mg_router *r, uint32_t id, const char *why)
{
	struct hold *h = mg__router_hold_find(r, id);

	if (h == NULL) {
		return;
	}
	mg__idtab_del(&r->holds, &h->link);
	for (size_t i = 0; i < h->n; i++) {
		const struct mg_msg *m = h->q[i];
		struct hold *v;

		/* The context a CONNECT held here was to open fails with it. */
		if (m->handle == MG_H_CONNECT && mg__msg_opens(m) && m->len >= 4 &&
		    (v = mg__router_hold_find(r, mg__get_be32(m->data))) != NULL &&
		    v->via == id) {
			hold_free(r, v);
		}
		/* Ours are answered below, through their waiters; an
		 * ancestor's here (it hears of the failure anyway). */
		if (why != NULL && m->src != mg__router_id(r)) {
			mg__router_reply_dead(r, m, why);
		}
	}
	hold_free(r, h);
	if (why != NULL) {
		mg__router_notify_lost(r, id, why);
	}
}
