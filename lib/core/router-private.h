/*
 * The router's insides, shared by router.c (handlers, sending, receiving,
 * routes, telling who must hear that a context is gone) and router-lost.c
 * (the records of who must: watches, and the children that sent towards
 * it), which calls nothing in router.c.
 */
#ifndef MG_ROUTER_PRIVATE_H
#define MG_ROUTER_PRIVATE_H

#include <stdbool.h>
#include <stdint.h>
#include "idtab.h"
#include "protocol.h"
#include "router.h"

struct mg_handler {
	struct mg__ident link;	/* id: the handle */
	struct mg__ident rlink;	/* id: the respondent, linked for that policy only */
	struct mg_router *r;
	uint32_t handle;
	enum mg_policy policy;
	uint32_t respondent;
	bool persist;
	bool tails;	/* takes messages with a pipe tail (mg_msg.tail) */
	mg_handler_fn fn;
	void *data;
};

struct route {
	struct mg__ident link;	/* first: the table's entry */
	struct mg_stream *stream;
	char *name;
	unsigned n_egress;	/* egress entries of this child's stream */
	/* A first hop whose link another context's agent answers (fused,
	 * PROTOCOL 2.3.3): nothing comes from it, nothing goes to it. */
	bool no_agent;
};

/* A frame from child stream 'stream' went on towards context 'id' outside
 * that child's subtree and not an ancestor (a sibling or a cousin), or one
 * from such an 'id' went down 'stream': when 'id' is lost, the child hears
 * of it by DEL_ROUTE (mitogen's egress_ids), so that its waiters on 'id'
 * wake and what it runs for 'id' stops. */
struct egress {
	struct mg__ident link;
	struct mg_stream *stream;
};

/* A CONNECT for 'id' went down 'stream': only that stream may announce it.
 * A dead answer to it (the hop failed) ends the note. */
struct expect {
	struct mg__ident link;
	struct mg_stream *stream;
	struct mg__ident rlink;	/* id: the request's reply_to */
	uint32_t requester;	/* the request's src */
};

/* Frames for a context being connected, held until it can take them
 * (router-hold.c): sent, or answered dead, in the order they came. */
struct hold {
	struct mg__ident link;	/* id: the context being connected */
	uint32_t via;		/* 0: our own hop; else the child connecting it */
	struct mg_msg **q;	/* copies, children of the hold */
	size_t n;
	size_t n_taken;		/* the first n_taken went with the boot image */
	size_t n_public;	/* the first n_public hold nothing secret */
	size_t bytes;
};

/* Most bytes held for one context still connecting. */
#define MG_HOLD_MAX (8u << 20)

struct mg_route_watch {
	struct mg__ident link;
	struct mg_router *r;
	bool fired;
	mg_route_lost_fn fn;
	void *data;
};

struct mg_router {
	struct mg_loop *loop;
	bool sending_public;	/* mg__router_send_public is on */
	uint32_t my_id;
	uint32_t *parents;
	size_t n_parents;
	uint32_t max_msg;
	bool unidirectional;
	struct mg_stream *parent;
	bool dying;	/* being freed: its tables may be gone already */
	struct mg__idtab handlers;	/* by handle */
	struct mg__idtab waiting;	/* respondent handlers, by respondent */
	uint32_t next_handle;
	struct mg__idtab routes;
	struct mg__idtab expects;
	struct mg__idtab expect_replies;	/* expects by reply_to */
	struct mg__idtab shows;		/* contexts whose LOG may carry MG_LOG_SHOW */
	struct mg__idtab watches;
	struct mg__idtab egress;
	struct mg__idtab holds;
	struct mg_handler *builtin[3];
	void (*parent_lost)(void *data);
	void *parent_lost_data;
	struct mg_services *services;
};

/* The route to 'id' below this context, or NULL. */
static inline struct route *mg__router_route(const struct mg_router *r, uint32_t id)
{
	return (struct route *)mg__idtab_find(&r->routes, id);
}

/* Whether 'id' is above this context (a parent, ..., the master). */
static inline bool mg__router_is_ancestor(const struct mg_router *r, uint32_t id)
{
	for (size_t i = 0; i < r->n_parents; i++) {
		if (r->parents[i] == id) {
			return true;
		}
	}
	return false;
}

/* The hold for 'id', or NULL. */
static inline struct hold *mg__router_hold_find(const struct mg_router *r, uint32_t id)
{
	return (struct hold *)mg__idtab_find(&r->holds, id);
}

/* router.c: send 'm' down child stream 'out', noting a CONNECT in it. */
int mg__router_send_out(struct mg_router *r, struct mg_stream *out, struct mg_msg *m);
/* router.c: 'm' went down 'out' (in a boot image): note a CONNECT in it. */
/* A frame its sender marked as opening a context (MG_F_OPEN, PROTOCOL
 * 5.2), live and with its payload in memory: only such a CONNECT or
 * joining EXEC leaves a note or a hold for the id it names. */
static inline bool mg__msg_opens(const struct mg_msg *m)
{
	return (m->flags & (MG_F_DEAD | MG_F_OPEN)) == MG_F_OPEN && m->data != NULL;
}

void mg__router_note_connect(struct mg_router *r, struct mg_stream *out, const struct mg_msg *m);

/* router.c: context 'id' is unreachable now: dead messages to the
 * handlers waiting on it, and its watches told, once each. */
void mg__router_notify_lost(struct mg_router *r, uint32_t id, const char *why);

/* router.c: queue a copy of 'm' for delivery here on the next iteration. */
int mg__router_queue_local(struct mg_router *r, const struct mg_msg *m);

/* router-lost.c */
/* Tell the watches on 'id' that it is unreachable, once each. */
void mg__router_tell_watches(struct mg_router *r, uint32_t id, const char *why);
/* Child stream 'in' is to hear when 'dst' goes: a frame from it goes on
 * towards 'dst', or one from 'dst' goes down it (see struct egress). */
void mg__router_note_egress(struct mg_router *r, struct mg_stream *in, uint32_t dst);
/* Forget one child stream that sent towards 'id' and return it, or NULL
 * when none is left (router.c sends each DEL_ROUTE). */
struct mg_stream *mg__router_take_egress(struct mg_router *r, uint32_t id);
/* Stream 's' is going: forget what it sent towards others. */
void mg__router_drop_egress(struct mg_router *r, const struct mg_stream *s);

#endif
