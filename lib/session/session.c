/*
 * The master side of connecting chains: see mitogen/session.h.
 *
 * Each hop prefix ("local", "local/local") is one context, connected once:
 * the first hop by spawning it here, later ones by asking the previous
 * hop's agent (CONNECT). Waiters on a prefix still connecting queue up.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "agent.h"
#include "boot.h"
#include "buf.h"
#include "conn.h"
#include "mitogen/error.h"
#include "mitogen/log.h"
#include "protocol.h"
#include "session.h"
#include "svc-connect.h"
#include "method.h"
#include "names.h"
#include "password.h"
#include "process.h"
#include "images.h"
#include "mitogen/context.h"
#include "mitogen/router.h"
#include "receiver-private.h"

#define CONNECT_TIMEOUT_DEFAULT 30000
/* Time allowed on top of the hop's own timeout for the agent's reply. */
#define REPLY_MARGIN_MS 5000

/* One mg_connect call walking down its chain. */
struct waiter {
	struct waiter *next;
	struct mg_session *s;
	struct mg_chain *chain;
	size_t hop;            /* index being waited for */
	uint64_t seq;          /* when mg_connect was called (s->seq) */
	struct mg_context *at; /* the hop above it (up), NULL for the first */
	struct mg_context *on; /* the context it waits for, while queued */
	unsigned timeout_ms;
	mg_connect_cb cb;
	mg_connect_cb on_start;  /* until called (opts->on_start) */
	bool early;              /* goes on below hops still connecting */
	bool exec_only;          /* opts->exec_only */
	bool leaf;               /* opts->leaf (mg__plan_exec_image) */
	void *data;
	bool queued;
	struct waiter *slot_next;   /* in a parent's queue for a place */
	bool slot_queued;
	struct slots *reserved;     /* a place given to it, not used yet */
	/* Its own -t on a hop another connect started, whose limit may be
	 * longer (a --persist holder serves commands that gave each their
	 * own): it gives up at its own, the hop goes on for the others. */
	struct mg_timer *join_timer;
	uint64_t join_deadline;  /* when that limit passes (0: none) */
	unsigned retry_ms;       /* the next hop started: its limit, if set */
};

static void advance(struct waiter *w);
static void wake(void *data);
static int ctx_destructor(struct mg_context *c);

/* Before the contexts go: no prompt is left on the terminal, and none
 * starts while they are freed. */
static int session_destructor(struct mg_session *s)
{
	if (s->gone != NULL) {
		*s->gone = true;
	}
	if (s->pw != NULL) {
		mg__pw_asker_stop(s->pw);
	}
	return 0;
}

struct mg_session *mg_session_new(TALLOC_CTX *mem_ctx, struct mg_loop *loop)
{
	struct mg_session *s = talloc_zero(mem_ctx, struct mg_session);

	if (s == NULL) {
		return NULL;
	}
	s->loop = loop;
	s->next_id = 1;
	s->fanout = 64;
	talloc_set_destructor(s, session_destructor);
	s->pw = mg__pw_asker_new(s, loop);
	if (s->pw == NULL) {
		talloc_free(s);
		return NULL;
	}
	s->r = mg__router_new(s, loop, 0, NULL, 0);
	if (s->r == NULL) {
		talloc_free(s);
		return NULL;
	}
	s->images = mg__images_new(s, s->r);
	if (s->images == NULL) {
		talloc_free(s);
		return NULL;
	}
	if (mg__router_add_handler(s, s->r, MG_H_PASSWORD, MG_POL_DESCENDANT, 0, true,
				   mg__session_on_password_request, s) == NULL) {
		talloc_free(s);
		return NULL;
	}
	return s;
}

struct mg_session *mg__session_new_attached(TALLOC_CTX *mem_ctx, struct mg_loop *loop,
					    struct mg_router *r, mg__remote_connect_fn remote)
{
	struct mg_session *s = talloc_zero(mem_ctx, struct mg_session);

	if (s == NULL) {
		return NULL;
	}
	s->loop = loop;
	s->fanout = 64;
	s->remote = remote;
	/* Its router is its child, as mg_router_session expects. */
	s->r = talloc_steal(s, r);
	return s;
}

void mg_session_set_fanout(struct mg_session *s, unsigned fanout)
{
	s->fanout = fanout > 0 ? fanout : 64;
}

struct mg_loop *mg_session_loop(const struct mg_session *s)
{
	return s->loop;
}

struct mg_pw_asker *mg__session_pw_asker(const struct mg_session *s)
{
	return s->pw;
}

struct mg_images *mg__session_images(const struct mg_session *s)
{
	return s->images;
}

uint32_t mg__session_next_program(struct mg_session *s)
{
	return ++s->next_program;
}

uint32_t mg__session_new_id(struct mg_session *s)
{
	return s->next_id++;
}

struct mg_router *mg__session_router(const struct mg_session *s)
{
	return s->r;
}

struct mg_router *mg_session_router(struct mg_session *s)
{
	return mg__session_router(s);
}

struct mg_session *mg_router_session(struct mg_router *r)
{
	/* A session's router is its talloc child (mg_session_new); any other
	 * router's parent is some other type. */
	return talloc_get_type(talloc_parent(r), struct mg_session);
}

uint32_t mg__context_id(const struct mg_context *ctx)
{
	return ctx->id;
}

struct mg_session *mg__context_session(const struct mg_context *ctx)
{
	return ctx->s;
}

struct mg_context *mg__context_parent(const struct mg_context *ctx)
{
	return ctx->parent;
}

const char *mg_context_name(const struct mg_context *ctx)
{
	return ctx->name;
}

/* By name in a hash table, not a walk of every context: 10,000 targets
 * behind one gateway look their hops up 10,000 times each. */
static struct mg_context *find_ctx(struct mg_session *s, const char *name)
{
	if (s->n_table == 0) {
		return NULL;
	}
	for (struct mg_context *c = s->table[mg__name_hash(name) % s->n_table]; c != NULL; c = c->hnext) {
		if (strcmp(c->name, name) == 0) {
			return c;
		}
	}
	return NULL;
}

static int table_add(struct mg_session *s, struct mg_context *c)
{
	if (s->n_contexts >= s->n_table) {
		/* Grown at twice the contexts: chains stay short. */
		size_t n = s->n_table > 0 ? s->n_table * 2 : 64;
		struct mg_context **t = talloc_zero_array(s, struct mg_context *, n);

		if (t == NULL) {
			return -ENOMEM;
		}
		/* Every entry, gone ones included (not only the live list). */
		for (size_t i = 0; i < s->n_table; i++) {
			struct mg_context *o, *next;

			for (o = s->table[i]; o != NULL; o = next) {
				size_t b = mg__name_hash(o->name) % n;

				next = o->hnext;
				o->hnext = t[b];
				t[b] = o;
			}
		}
		talloc_free(s->table);
		s->table = t;
		s->n_table = n;
	}
	c->hnext = s->table[mg__name_hash(c->name) % s->n_table];
	s->table[mg__name_hash(c->name) % s->n_table] = c;
	s->n_contexts++;
	return 0;
}

static void wake(void *data)
{
	advance(talloc_get_type_abort(data, struct waiter));
}

/* Move the context to its final state and let its waiters go on. */
static struct slots *slots_of(struct mg_session *s, struct mg_context *parent)
{
	return parent != NULL ? &parent->slots : &s->slots;
}

/* Free places of this window go to the first waiters, reserved for
 * them until they resume: one wake-up per place, not one per waiter. */
static void grant(struct mg_session *s, struct slots *sl)
{
	struct waiter *w;

	while (sl->active < s->fanout && (w = sl->head) != NULL) {
		sl->head = w->slot_next;
		if (sl->head == NULL) {
			sl->tail = NULL;
		}
		w->slot_next = NULL;
		w->slot_queued = false;
		w->reserved = sl;
		sl->active++;
		if (mg_loop_defer(s->loop, w, wake, w) != 0) {
			/* Out of memory: give the place back; the waiter is
			 * left for the next place freed. */
			w->reserved = NULL;
			sl->active--;
			break;
		}
	}
}

static void wait_for_place(struct slots *sl, struct waiter *w)
{
	if (w->slot_queued) {
		return;
	}
	w->slot_next = NULL;
	if (sl->tail != NULL) {
		sl->tail->slot_next = w;
	} else {
		sl->head = w;
	}
	sl->tail = w;
	w->slot_queued = true;
}

/* A place reserved for w and not used (the hop exists now, or w ends):
 * to the next waiter. */
static void unreserve(struct waiter *w)
{
	struct slots *sl = w->reserved;

	if (sl != NULL) {
		w->reserved = NULL;
		sl->active--;
		grant(w->s, sl);
	}
}

/* A child of this parent is done connecting: its place goes to the
 * first waiter. */
static void release_slot(struct mg_context *c)
{
	struct slots *sl;

	if (!c->holds_slot) {
		return;
	}
	c->holds_slot = false;
	sl = slots_of(c->s, c->parent);
	sl->active--;
	grant(c->s, sl);
}

/* Out of the table by name. */
static void table_del(struct mg_session *s, struct mg_context *c)
{
	struct mg_context **pp = &s->table[mg__name_hash(c->name) % s->n_table];

	while (*pp != NULL && *pp != c) {
		pp = &(*pp)->hnext;
	}
	if (*pp == c) {
		*pp = c->hnext;
		s->n_contexts--;
	}
	c->hnext = NULL;
}

/* Out of the list of live contexts. */
static void live_del(struct mg_context *c)
{
	if (c->prevp != NULL) {
		*c->prevp = c->next;
		if (c->next != NULL) {
			c->next->prevp = c->prevp;
		}
		c->prevp = NULL;
		c->next = NULL;
	}
}

/* Everyone waiting on c, or for a place under it, goes on (and finds it
 * up, or hears why not). */
static void wake_waiters(struct mg_context *c)
{
	struct waiter *w, *next;

	for (w = c->waiters; w != NULL; w = next) {
		next = w->next;
		w->next = NULL;
		w->queued = false;
		mg_loop_defer(c->s->loop, w, wake, w);
	}
	c->waiters = NULL;
	if (c->state != CTX_GONE) {
		return;
	}
	while ((w = c->slots.head) != NULL) {
		c->slots.head = w->slot_next;
		w->slot_next = NULL;
		w->slot_queued = false;
		mg_loop_defer(c->s->loop, w, wake, w);
	}
	c->slots.tail = NULL;
}

/* c alone is gone: the next mg_connect of its chain starts anew. */
static void evict_one(struct mg_context *c, int err, const char *why)
{
	if (c->state == CTX_GONE) {
		return;
	}
	c->state = CTX_GONE;
	c->err = err;
	c->errmsg = talloc_asprintf(c, "%s: %s", c->name, why);
	/* It stays in the table by name until a connect made after this
	 * replaces it: one made before fails with it, as its waiters do. */
	c->gone_seq = ++c->s->seq;
	live_del(c);
	release_slot(c);
	TALLOC_FREE(c->timer);
	TALLOC_FREE(c->reply);
	TALLOC_FREE(c->watch);
	/* What was sent to it early fails as it did. */
	mg__router_unhold(c->s->r, c->id, why);
	if (c->conn != NULL) {
		/* It frees itself once reaped; an agent that does not stop
		 * within its deadline has its session killed. */
		mg__conn_release(c->conn);
		c->conn = NULL;
	}
	mg_debug("%s: gone: %s", c->name, why);
	wake_waiters(c);
	mg__context_gone(c);
}

static bool is_below(const struct mg_context *c, const struct mg_context *top)
{
	for (c = c->parent; c != NULL; c = c->parent) {
		if (c == top) {
			return true;
		}
	}
	return false;
}

/* c failed, was lost or shut down: it and every context below it leave
 * the session, whose next mg_connect connects them again. */
static void evict(struct mg_context *c, int err, const char *why)
{
	struct mg_session *s = c->s;
	struct mg_context *x, *next;
	char *below;

	if (c->state == CTX_GONE) {
		return;
	}
	evict_one(c, err, why);
	below = talloc_asprintf(NULL, "%s: %s", c->name, why);
	/* evict_one unlinks x alone: the next pointer stays valid. */
	for (x = s->contexts; x != NULL; x = next) {
		next = x->next;
		if (is_below(x, c)) {
			evict_one(x, MG_ERR_DISCONNECTED, below != NULL ? below : why);
		}
	}
	talloc_free(below);
}

static void ctx_settle(struct mg_context *c, int err, const char *why)
{
	if (err != 0) {
		evict(c, err, why);
		return;
	}
	release_slot(c);
	TALLOC_FREE(c->timer);
	TALLOC_FREE(c->reply);
	/* Routed now: a later hop's hold at the master held nothing. */
	mg__router_unhold(c->s->r, c->id, NULL);
	c->state = CTX_UP;
	wake_waiters(c);
}

void mg__context_cancel(struct mg_context *c, const char *why)
{
	if (c->state != CTX_CONNECTING) {
		return;
	}
	if (c->conn != NULL) {
		/* Kills the process; on_conn_done evicts c. */
		mg__conn_cancel(c->conn, why);
	} else {
		/* Its agent is told once the CONNECT reply comes. */
		c->shutting = true;
	}
}

static void on_lost(struct mg_router *r, uint32_t id, const char *why, void *data)
{
	struct mg_context *c = talloc_get_type_abort(data, struct mg_context);

	evict(c, MG_ERR_DISCONNECTED,
	      c->disconnecting ? "disconnected" : c->shutting ? "shut down" : why);
}

struct mg_context *mg__session_find_up(struct mg_session *s, const char *name)
{
	struct mg_context *c = find_ctx(s, name);

	return c != NULL && c->state == CTX_UP ? c : NULL;
}

struct mg_context *mg__session_adopt(struct mg_session *s, uint32_t id, const char *name)
{
	struct mg_context *c = find_ctx(s, name);

	if (c != NULL && c->state == CTX_UP && c->id == id) {
		return c;
	}
	if (c != NULL) {
		/* Gone (or replaced at the master): the new one takes its name. */
		if (c->state != CTX_GONE) {
			evict(c, MG_ERR_DISCONNECTED, "replaced");
		}
		table_del(s, c);
	}
	c = talloc_zero(s, struct mg_context);
	if (c == NULL) {
		return NULL;
	}
	talloc_set_destructor(c, ctx_destructor);
	c->s = s;
	c->id = id;
	c->state = CTX_UP;
	c->name = talloc_strdup(c, name);
	c->watch = mg__router_watch(c, s->r, id, on_lost, c);
	if (c->name == NULL || c->watch == NULL || table_add(s, c) != 0) {
		talloc_free(c);
		return NULL;
	}
	c->next = s->contexts;
	if (c->next != NULL) {
		c->next->prevp = &c->next;
	}
	c->prevp = &s->contexts;
	s->contexts = c;
	return c;
}

/* First hop c came up with its sudo hop's agent in its place (PROTOCOL
 * 2.3.3): c is a link with no agent of its own, and the sudo hop is up,
 * running the exec-only agent, without a CONNECT reply. */
static void fused_up(struct mg_context *c, uint32_t id)
{
	struct mg_context *b;

	c->fused = true;
	ctx_settle(c, 0, NULL);
	for (b = c->s->contexts; b != NULL; b = b->next) {
		if (b->id == id && b->parent == c && b->state == CTX_CONNECTING) {
			b->pid = c->pid;
			b->exec_only = true;
			c->pid = 0;
			if (b->shutting) {
				/* As a CONNECT reply would find it (on_connect_reply). */
				mg__router_send(c->s->r, id, MG_H_SHUTDOWN, 0, 0, NULL, 0);
				ctx_settle(b, MG_ERR_CANCELLED, "shut down while connecting");
			} else {
				ctx_settle(b, 0, NULL);
			}
			return;
		}
	}
	/* The sudo hop went meanwhile: its agent, nobody's now, goes too,
	 * and the link with it. */
	mg__router_send(c->s->r, id, MG_H_SHUTDOWN, 0, 0, NULL, 0);
}

static void on_conn_done(struct mg_conn *conn, int err, const char *errmsg, void *data)
{
	struct mg_context *c = talloc_get_type_abort(data, struct mg_context);
	uint32_t fused = 0;

	if (err != 0) {
		mg__conn_release(c->conn);
		c->conn = NULL;
	} else {
		c->pid = mg__conn_agent_pid(conn);
		fused = mg__conn_fused(conn);
	}
	if (fused != 0) {
		fused_up(c, fused);
		return;
	}
	ctx_settle(c, err, errmsg);
}

/* A first hop's process was reaped. */
static void on_hop_exit(void *data)
{
	struct mg_context *c = talloc_get_type_abort(data, struct mg_context);

	c->running = false;
	c->s->n_running--;
}

static void on_connect_reply(struct mg_router *r, struct mg_msg *m, void *data)
{
	struct mg_context *c = talloc_get_type_abort(data, struct mg_context);
	struct mg_buf b;
	uint32_t pid = 0;
	uint8_t ok;
	char *why;

	c->reply = NULL;
	if ((m->flags & MG_F_DEAD) != 0) {
		why = talloc_strndup(m, (const char *)m->data, m->len);
		ctx_settle(c, why != NULL ? mg__conn_error_code(MG_ERR_BOOT, why) : -ENOMEM,
			   why != NULL ? why : "connect failed");
		return;
	}
	if (!mg__router_reachable(r, c->id)) {
		ctx_settle(c, MG_ERR_PROTOCOL, "agent reported success but no route arrived");
		return;
	}
	/* u8 0, then the agent's pid (optional: older agents stop before). */
	mg__buf_view(&b, m->data, m->len);
	if (mg__buf_get_u8(&b, &ok) == 0 && mg__buf_get_u32(&b, &pid) == 0) {
		c->pid = (pid_t)pid;
	}
	if (c->shutting) {
		/* Shut down before it was up: it goes as soon as it came. */
		mg__router_send(r, c->id, MG_H_SHUTDOWN, 0, 0, NULL, 0);
		ctx_settle(c, MG_ERR_CANCELLED, "shut down while connecting");
		return;
	}
	ctx_settle(c, 0, NULL);
}

static void on_reply_timeout(struct mg_timer *t, void *data)
{
	struct mg_context *c = talloc_get_type_abort(data, struct mg_context);

	c->timer = NULL;
	ctx_settle(c, MG_ERR_TIMEOUT, "connect timed out (no answer from the previous hop)");
}

static int load_image(struct mg_session *s, char **_errmsg, TALLOC_CTX *mem_ctx)
{
	char *err = NULL;
	int ret;

	if (s->image != NULL) {
		return 0;
	}
	ret = mg__image_load(s, &s->image, &err);
	if (ret != 0) {
		*_errmsg = talloc_strdup(mem_ctx, err != NULL ? err : mg_strerror(ret));
		talloc_free(err);
	}
	return ret;
}

static int ctx_destructor(struct mg_context *c)
{
	mg__context_detach_watches(c);
	return 0;
}

/* The exec-only agent, or the leaf one where the chain takes it. */
static const struct mg_image *exec_only_image(const struct waiter *w)
{
	return mg__plan_exec_image(w->s->image, w->chain, w->leaf);
}

/*
 * The image for first hop c: the exec-only agent (docs/PROTOCOL.md 2.3.2)
 * when the chains given allow it (mg__plan_lite) and that agent is at
 * hand; else the whole one.
 */
static const struct mg_image *first_image(struct waiter *w, struct mg_context *c)
{
	struct mg_session *s = w->s;
	const struct mg_image *lite;

	if (!mg__plan_lite(&s->plan, w->chain, w->exec_only, c->name) ||
	    (lite = exec_only_image(w)) == NULL) {
		return s->image;
	}
	c->exec_only = true;
	return lite;
}

/* For first hop c, the sudo hop that may run in its command (PROTOCOL
 * 2.3.3): its id, reserved now, in c->fuse_id and p; or nothing. */
static void fuse_params(struct waiter *w, struct mg_context *c, struct mg_conn_params *p)
{
	struct mg_session *s = w->s;
	unsigned timeout_ms;
	char *err = NULL;
	bool given;

	if (w->hop != 0 || !mg__plan_fused(&s->plan, w->chain, w->exec_only, c->name) ||
	    exec_only_image(w) == NULL) {
		return;
	}
	timeout_ms = w->timeout_ms;
	if (mg__hop_seconds(w, &w->chain->hops[1], "connect_timeout", &timeout_ms, &given,
			    &err) != 0) {
		/* The sudo hop fails where it is connected, as usual. */
		talloc_free(err);
		return;
	}
	c->fuse_name = mg_chain_prefix(c, w->chain, 2);
	if (c->fuse_name == NULL) {
		return;
	}
	p->fuse_timeout_ms = timeout_ms;
	p->fuse_name = c->fuse_name;
	c->fuse_id = s->next_id++;
	p->fuse_id = c->fuse_id;
	p->fuse_hop = &w->chain->hops[1];
	p->fuse_image = exec_only_image(w);
}

/* Start connecting hop 'i' of the chain, whose parent (if any) is up. */
static struct mg_context *start_ctx(struct waiter *w, struct mg_context *parent, char *name,
				    char **_errmsg)
{
	struct mg_session *s = w->s;
	const struct mg_hop *hop = &w->chain->hops[w->hop];
	struct mg_context *c = talloc_zero(s, struct mg_context);
	char *password = NULL;
	unsigned timeout_ms = w->timeout_ms;
	int ret;

	/* 'name' is ours from here on, on every path. */
	if (c == NULL) {
		talloc_free(name);
		return NULL;
	}
	talloc_set_destructor(c, ctx_destructor);
	c->s = s;
	c->name = talloc_steal(c, name);
	if (parent != NULL && parent->fuse_id != 0 && !parent->fuse_taken &&
	    mg__plan_fused(&s->plan, w->chain, w->exec_only, parent->name)) {
		/* The id its ssh hop's command may carry (fuse_params). */
		c->id = parent->fuse_id;
		parent->fuse_taken = true;
	} else {
		c->id = s->next_id++;
	}
	c->state = CTX_CONNECTING;
	c->hop = hop;
	c->parent_id = parent != NULL ? parent->id : 0;
	c->parent = parent;
	c->watch = mg__router_watch(c, s->r, c->id, on_lost, c);
	if (c->watch == NULL) {
		talloc_free(c);
		return NULL;
	}
	/* connect_timeout= on the hop overrides -t for that hop. */
	{
		char *err = NULL;
		bool given;

		if (mg__hop_seconds(w, hop, "connect_timeout", &timeout_ms, &given, &err) != 0) {
			*_errmsg = talloc_asprintf(w, "%s: %s", c->name, err);
			talloc_free(err);
			talloc_free(c);
			return NULL;
		}
	}
	if (w->retry_ms != 0) {
		/* A try of its own after the joined one timed out: what is
		 * left of its limit (resume). */
		timeout_ms = w->retry_ms;
		w->retry_ms = 0;
	}
	/* Only a hop given debug=1 may have its log lines shown whatever our
	 * level (MG_LOG_SHOW): any other claiming it is ignored. A bad value
	 * fails the hop where it is connected (conn.c). */
	{
		bool debug = false;
		char *err = NULL;

		if (mg__hop_bool(w, hop, "debug", false, &debug, &err) == 0 && debug) {
			mg__router_allow_show(s->r, c->id);
		}
		talloc_free(err);
	}
	/* A password given by option is read here, on the master's host. */
	{
		const struct mg_method *m = mg__method_find(hop->method);
		if (m != NULL && m->takes_password &&
		    (ret = mg__password_from_options(c, hop, &password, _errmsg)) != 0) {
			*_errmsg = talloc_asprintf(w, "%s: %s", c->name, *_errmsg);
			talloc_free(c);
			return NULL;
		}
	}
	if (parent == NULL) {
		struct mg_conn_params p = {
			.hop = hop, .id = c->id, .name = c->name, .image = first_image(w, c),
			.timeout_ms = timeout_ms, .log_level = (uint8_t)mg_log_get_level(),
			.password = password, .ask = mg__session_ask_first_hop, .ask_data = c,
			.run_agent = mg__agent_run_forked,
			.others_starting = s->slots.active,
		};
		fuse_params(w, c, &p);
		ret = mg__conn_start(c, s->r, &p, on_conn_done, c, &c->conn, _errmsg);
	} else {
		struct mg_buf *b = mg__buf_new(c, 1u << 20);
		struct mg__connect_req rq = {
			.id = c->id, .timeout_ms = timeout_ms, .name = c->name,
			.hop = (struct mg_hop *)hop, .password = (char *)password,
		};
		ret = -ENOMEM;
		c->reply = mg__router_add_handler(c, s->r, 0, MG_POL_RESPONDENT, parent->id, false,
						  on_connect_reply, c);
		/* In 64 bits: a library caller's timeout may be near UINT_MAX. */
		c->timer = mg_timer_new(c, s->loop, (uint64_t)timeout_ms + REPLY_MARGIN_MS,
					on_reply_timeout, c);
		/* Frames for it go where the parent's go, and wait with
		 * them while the parent is still connecting. */
		if (b != NULL && c->reply != NULL && c->timer != NULL &&
		    (ret = mg__router_hold(s->r, c->id, parent->id)) == 0 &&
		    (ret = mg__connect_encode(b, &rq)) == 0) {
			/* The router notes that only the stream towards parent
			 * may announce c->id (router.c, note_connect). */
			ret = password == NULL ?
				/* It may ride in the parent's command line. */
				mg__router_send_public(s->r, parent->id, MG_H_CONNECT,
						       mg__handler_handle(c->reply), MG_F_OPEN,
						       b->data, b->len) :
				mg__router_send(s->r, parent->id, MG_H_CONNECT,
						mg__handler_handle(c->reply), MG_F_OPEN, b->data, b->len);
		}
		if (b != NULL) {
			/* It may hold the password. */
			explicit_bzero(b->data, b->len);
		}
		talloc_free(b);
		if (ret != 0) {
			*_errmsg = talloc_asprintf(w, "%s: cannot ask %s to connect: %s", name,
						   parent->name, mg_strerror(ret));
		}
	}
	if (ret != 0) {
		if (parent == NULL) {
			*_errmsg = talloc_asprintf(w, "%s: %s", c->name,
						   *_errmsg != NULL ? *_errmsg : mg_strerror(ret));
		}
		mg__router_unhold(s->r, c->id, NULL);
		talloc_free(c);
		return NULL;
	}
	if (table_add(s, c) != 0) {
		*_errmsg = talloc_asprintf(w, "%s: out of memory", c->name);
		talloc_free(c);
		return NULL;
	}
	c->next = s->contexts;
	if (c->next != NULL) {
		c->next->prevp = &c->next;
	}
	c->prevp = &s->contexts;
	s->contexts = c;
	if (c->conn != NULL) {
		c->running = true;
		s->n_running++;
		mg__conn_on_exit(c->conn, on_hop_exit, c);
	}
	c->holds_slot = true;
	slots_of(s, parent)->active++;
	return c;
}

static void finish(struct waiter *w, struct mg_context *ctx, int err, const char *msg)
{
	mg_connect_cb cb = w->cb;
	void *data = w->data;
	/* msg may live under w: keep a copy past its end. */
	char *copy = msg != NULL ? talloc_strdup(NULL, msg) : NULL;

	unreserve(w);
	talloc_free(w);
	cb(ctx, err, copy, data);
	talloc_free(copy);
}

/* The failure to report for gone context c, which an early waiter passed
 * while its parents were still connecting: the first hop of the chain that
 * failed (those below it went with it), as a waiter on that hop hears. */
static struct mg_context *first_gone(struct mg_context *c)
{
	struct mg_context *top = c;

	for (struct mg_context *x = c->parent; x != NULL; x = x->parent) {
		if (x->state == CTX_GONE) {
			top = x;
		}
	}
	return top;
}

/* An early waiter has started every hop of its chain: the caller may send
 * to the last now (on_start), and hears again when it is up or failed. */
static void wait_last(struct waiter *w)
{
	struct mg_context *c = w->at;
	mg_connect_cb fn = w->on_start;

	w->on_start = NULL;
	w->next = c->waiters;
	c->waiters = w;
	w->queued = true;
	w->on = c;
	/* resume() takes it from the hop above, as for any waiter. */
	w->at = c->parent;
	w->hop--;
	fn(c, 0, NULL, w->data);
}

/* A first hop that runs its sudo hop in its own command (PROTOCOL 2.3.3)
 * has no agent: only its own sudo hop's chain may use it. Else w is
 * finished with MG_ERR_POLICY, and true. */
static bool fused_refused(struct waiter *w, struct mg_context *c)
{
	char *full, *m;
	bool ok;

	if (!c->fused) {
		return false;
	}
	full = w->chain->n_hops >= 2 ? mg_chain_prefix(NULL, w->chain, 2) : NULL;
	ok = full != NULL && c->fuse_name != NULL && strcmp(full, c->fuse_name) == 0;
	talloc_free(full);
	if (ok) {
		return false;
	}
	m = talloc_asprintf(w, "%s: runs sudo in its own command, and so has no agent of its "
			    "own (give every chain before the loop runs)", c->name);
	finish(w, NULL, MG_ERR_POLICY, m != NULL ? m : "out of memory");
	return true;
}

/* w joined hop c, which timed out by its starter's limit while w's own
 * (longer) one runs: w tries the hop itself for what is left of it, as
 * a command of its own would have waited that long. */
static bool retry_joined(struct waiter *w, const struct mg_context *c)
{
	uint64_t now = mg_loop_now(w->s->loop);

	if (c->err != MG_ERR_TIMEOUT || w->join_timer == NULL || w->early ||
	    w->seq < w->s->shutdown_seq || w->join_deadline < now + 100) {
		return false;
	}
	w->retry_ms = (unsigned)(w->join_deadline - now);
	/* Not a waiter of the gone hop any more: advance starts it anew. */
	w->seq = ++w->s->seq;
	return true;
}

/* Where a waiter resumes: after the hop it waited for, or (woken for a
 * place) under the same hop. False when that hop is gone: w is finished. */
static bool resume(struct waiter *w)
{
	struct mg_context *c = w->on;

	if (c != NULL) {
		bool retry;

		w->on = NULL;
		retry = c->state != CTX_UP && retry_joined(w, c);
		TALLOC_FREE(w->join_timer);
		w->join_deadline = 0;
		if (retry) {
			return true;
		}
		if (c->state != CTX_UP) {
			c = w->early ? first_gone(c) : c;
			finish(w, NULL, c->err, c->errmsg);
			return false;
		}
		if (fused_refused(w, c)) {
			/* It waited on the hop while it connected. */
			return false;
		}
		w->at = c;
		w->hop++;
		return true;
	}
	if (w->at != NULL && (w->early ? w->at->state == CTX_GONE : w->at->state != CTX_UP)) {
		c = w->early ? first_gone(w->at) : w->at;
		finish(w, NULL, c->err, c->errmsg);
		return false;
	}
	return true;
}

/* A waiter's own connect limit passed on a hop it joined: out of the
 * hop's waiters, with the error the hop's own limit gives. */
static void on_join_timeout(struct mg_timer *t, void *data)
{
	struct waiter *w = talloc_get_type_abort(data, struct waiter);
	struct mg_context *c = w->on;
	struct waiter **pp;
	char *m;

	w->join_timer = NULL;
	if (c == NULL || !w->queued) {
		/* Woken already: its wake-up decides. */
		return;
	}
	for (pp = &c->waiters; *pp != NULL && *pp != w; pp = &(*pp)->next) {
	}
	if (*pp == w) {
		*pp = w->next;
	}
	w->next = NULL;
	w->queued = false;
	w->on = NULL;
	m = talloc_asprintf(w, "%s: connect timed out", c->name);
	finish(w, NULL, MG_ERR_TIMEOUT, m != NULL ? m : "connect timed out");
}

/* w waits on hop c, which another connect started: its own limit for
 * that hop (connect_timeout= or -t) runs from now. */
static void join_limit(struct waiter *w, struct mg_context *c)
{
	unsigned timeout_ms = w->timeout_ms;
	char *err = NULL;
	bool given;

	/* Its own copy of the hop: the same text, so the same options. */
	if (mg__hop_seconds(w, &w->chain->hops[w->hop], "connect_timeout", &timeout_ms, &given,
			    &err) != 0) {
		/* Refused where the hop was started: its end comes. */
		talloc_free(err);
		return;
	}
	w->join_deadline = mg_loop_now(w->s->loop) + timeout_ms;
	w->join_timer = mg_timer_new(w, w->s->loop, timeout_ms, on_join_timeout, w);
}

/* Walk the chain as far as contexts are up; wait on the first that is not. */
static void advance(struct waiter *w)
{
	if (w->seq < w->s->shutdown_seq) {
		/* Made before mg_session_shutdown: nothing more starts. */
		finish(w, NULL, MG_ERR_CANCELLED, "the session was shut down");
		return;
	}
	if (!resume(w)) {
		return;
	}
	while (w->hop < w->chain->n_hops) {
		char *name = mg_chain_prefix(NULL, w->chain, w->hop + 1);
		struct mg_context *c;
		char *errmsg = NULL;
		bool joined = false;

		if (name == NULL) {
			finish(w, NULL, -ENOMEM, "out of memory");
			return;
		}
		c = find_ctx(w->s, name);
		if (c != NULL && c->state == CTX_GONE) {
			if (c->gone_seq > w->seq) {
				/* Gone since this connect began: no new try per
				 * waiter, as for those that waited on it. */
				talloc_free(name);
				finish(w, NULL, c->err, c->errmsg);
				return;
			}
			table_del(w->s, c);
			c = NULL;
		}
		if (c == NULL) {
			struct slots *sl = slots_of(w->s, w->at);
			if (w->reserved == sl) {
				/* The place granted to us: start_ctx counts it. */
				w->reserved = NULL;
				sl->active--;
			} else {
				unreserve(w);
			}
			if (sl->active >= w->s->fanout) {
				/* The window of this parent is full: wait for a place. */
				talloc_free(name);
				wait_for_place(sl, w);
				return;
			}
			c = start_ctx(w, w->at, name, &errmsg);
			if (c == NULL) {
				/* start_ctx took 'name' and freed it. */
				char *m = talloc_asprintf(w, "%s", errmsg != NULL ? errmsg : "out of memory");
				/* The place is free again, for the next waiter. */
				grant(w->s, sl);
				finish(w, NULL, MG_ERR_BOOT, m != NULL ? m : "out of memory");
				return;
			}
		} else {
			talloc_free(name);
			joined = true;
			/* Someone else made this hop: a place granted for it
			 * goes to the next waiter. */
			unreserve(w);
			if (fused_refused(w, c)) {
				return;
			}
			if (c->exec_only && w->hop + 1 < w->chain->n_hops) {
				char *m = talloc_asprintf(w, "%s: runs the exec-only agent, which cannot "
							  "connect further hops (give every chain "
							  "before the loop runs)", c->name);
				finish(w, NULL, MG_ERR_POLICY, m != NULL ? m : "out of memory");
				return;
			}
		}
		if (c->state == CTX_CONNECTING && !w->early) {
			if (!w->queued) {
				w->next = c->waiters;
				c->waiters = w;
				w->queued = true;
				w->on = c;
				if (joined) {
					join_limit(w, c);
				}
			}
			return;
		}
		/* Early: the next hop is asked for at once, the request to
		 * connect it held until this one can take it. */
		w->at = c;
		w->hop++;
	}
	if (w->early && w->at->state == CTX_CONNECTING) {
		if (w->on_start != NULL) {
			wait_last(w);
		} else if (!w->queued) {
			/* Woken for a place, and the last hop still comes. */
			w->next = w->at->waiters;
			w->at->waiters = w;
			w->queued = true;
			w->on = w->at;
			w->at = w->on->parent;
			w->hop--;
		}
		return;
	}
	finish(w, w->at, 0, NULL);
}

static void first_advance(void *data)
{
	advance(talloc_get_type_abort(data, struct waiter));
}

int mg_connect(TALLOC_CTX *mem_ctx, struct mg_session *s, const struct mg_chain *chain,
	       const struct mg_connect_opts *opts, mg_connect_cb cb, void *data, char **_errmsg)
{
	struct waiter *w;
	int ret;

	if (chain->n_hops == 0) {
		*_errmsg = talloc_strdup(mem_ctx, "empty chain");
		return MG_ERR_CHAIN;
	}
	/* Now, before the loop starts any hop: a local agent started for
	 * another chain must not inherit the password either, nor a command
	 * given our environment through a holder (mg_exec_opts.inherit). */
	for (size_t i = 0; i < chain->n_hops; i++) {
		const char *var = mg_hop_opt(&chain->hops[i], "password_env");
		if (var != NULL && mg__env_hide(var) == -ENOMEM) {
			return -ENOMEM;
		}
	}
	if (s->remote != NULL) {
		return s->remote(mem_ctx, s, chain, opts, cb, data, _errmsg);
	}
	if ((ret = load_image(s, _errmsg, mem_ctx)) != 0) {
		return ret;
	}
	w = talloc_zero(s, struct waiter);
	if (w == NULL) {
		return -ENOMEM;
	}
	w->s = s;
	w->seq = ++s->seq;
	w->chain = talloc_zero(w, struct mg_chain);
	if (w->chain == NULL) {
		talloc_free(w);
		return -ENOMEM;
	}
	/* The chain must outlive the caller's copy: share by reference to its
	 * hops, which the caller keeps until cb (documented contract). */
	*w->chain = *chain;
	w->timeout_ms = opts != NULL && opts->timeout_ms > 0 ? opts->timeout_ms : CONNECT_TIMEOUT_DEFAULT;
	w->cb = cb;
	w->data = data;
	w->on_start = opts != NULL ? opts->on_start : NULL;
	w->early = w->on_start != NULL;
	w->exec_only = opts != NULL && opts->exec_only;
	w->leaf = w->exec_only && opts->leaf;
	if ((ret = mg__plan_note(s, &s->plan, chain, w->exec_only)) != 0) {
		talloc_free(w);
		return ret;
	}
	if (mg_loop_defer(s->loop, w, first_advance, w) != 0) {
		talloc_free(w);
		return -ENOMEM;
	}
	return 0;
}

static bool first_hops_gone(void *arg)
{
	const struct mg_session *s = arg;

	for (const struct mg_context *c = s->contexts; c != NULL; c = c->next) {
		if (c->parent == NULL) {
			return false;
		}
	}
	return s->n_running == 0;
}

/* One turn of a blocking wait on s: MG_ERR_CANCELLED when a callback
 * freed s meanwhile (nothing of it may be looked at then). */
static int session_wait_step(struct mg_session *s, uint64_t deadline, bool *_last)
{
	bool gone = false, *saved = s->gone;
	int ret;

	s->gone = &gone;
	ret = mg__wait_step(s->loop, deadline, _last);
	if (gone) {
		if (saved != NULL) {
			*saved = true;
		}
		return MG_ERR_CANCELLED;
	}
	s->gone = saved;
	return ret;
}

int mg_session_shutdown(struct mg_session *s, int timeout_ms)
{
	struct mg_context *c;
	uint64_t deadline;
	bool last = false;
	int ret = 0;

	if (timeout_ms != 0 && mg_loop_running(s->loop)) {
		return -EDEADLK;
	}
	if (s->remote != NULL) {
		/* Attached: the hops are the master's, and stay. */
		return 0;
	}
	/* Connects made until now start nothing more. */
	s->shutdown_seq = ++s->seq;
	/* A first hop takes everything below it along. Shutting one down
	 * may evict others: look again from the start each time. */
	do {
		for (c = s->contexts; c != NULL; c = c->next) {
			if (c->parent == NULL && !c->shutting) {
				c->shutting = true;
				mg__context_shutdown(c);
				break;
			}
		}
	} while (c != NULL);
	if (timeout_ms == 0) {
		return 0;
	}
	deadline = mg__deadline(timeout_ms);
	while (ret == 0 && !first_hops_gone(s)) {
		ret = session_wait_step(s, deadline, &last);
	}
	return ret;
}

/* Whether c, still connecting, is waited for by none but abandoned
 * connects (cb's, 'unwanted' of their data), and has nothing below it. */
static bool only_unwanted(const struct mg_context *c, mg_connect_cb cb,
			  bool (*unwanted)(void *data))
{
	if (c->state != CTX_CONNECTING || c->waiters == NULL || c->slots.head != NULL) {
		return false;
	}
	for (const struct waiter *w = c->waiters; w != NULL; w = w->next) {
		if (w->cb != cb || !unwanted(w->data)) {
			return false;
		}
	}
	for (const struct mg_context *x = c->s->contexts; x != NULL; x = x->next) {
		if (x->parent == c) {
			return false;
		}
	}
	return true;
}

void mg__session_cancel_unwanted(struct mg_session *s, mg_connect_cb cb,
				 bool (*unwanted)(void *data))
{
	struct mg_context *c, *next;

	for (c = s->contexts; c != NULL; c = next) {
		next = c->next;
		if (only_unwanted(c, cb, unwanted)) {
			/* Its waiters hear it as usual, from the loop. */
			mg__context_cancel(c, "no command waits for it any more");
		}
	}
}

/* Shutting one context down. */

int mg__context_shutdown(struct mg_context *ctx)
{
	int ret;

	switch (ctx->state) {
	case CTX_GONE:
		return 0;
	case CTX_CONNECTING:
		mg__context_cancel(ctx, "shut down while connecting");
		return 0;
	case CTX_UP:
	default:
		break;
	}
	/* Attached clients with commands on it or below fail them now, not
	 * with the status of a command the agent stops meanwhile. */
	for (struct mg_context *c = ctx->s->contexts; c != NULL; c = c->next) {
		if (c == ctx || is_below(c, ctx)) {
			mg__router_tell_going(mg__session_router(ctx->s), c->id,
					      "shut down by the session's master");
		}
	}
	/* Its agent stops as if its parent were lost, and exits: the link
	 * ends, the route goes, and the session evicts it (on_lost). */
	/* A fused link's agent is its sudo hop's (PROTOCOL 2.3.3). */
	ret = mg__router_send(mg__session_router(ctx->s), ctx->fused ? ctx->fuse_id : ctx->id,
			      MG_H_SHUTDOWN, 0, 0, NULL, 0);
	if (ctx->conn != NULL) {
		mg__conn_stop_after(ctx->conn, MG_CONN_STOP_MS);
	}
	return ret;
}

int mg_context_shutdown(struct mg_context *ctx)
{
	if (ctx->shutting && ctx->state != CTX_CONNECTING) {
		return 0;
	}
	ctx->shutting = true;
	return mg__context_shutdown(ctx);
}

int mg_context_disconnect(struct mg_context *ctx)
{
	if (ctx->state == CTX_GONE) {
		return 0;
	}
	if (ctx->state == CTX_CONNECTING) {
		mg__context_cancel(ctx, "disconnected while connecting");
		return 0;
	}
	ctx->shutting = true;
	if (ctx->conn == NULL) {
		/* No link of ours to cut: its parent agent holds it. */
		return mg__context_shutdown(ctx);
	}
	ctx->disconnecting = true;
	mg__conn_kill(ctx->conn);
	return 0;
}

struct mg_context *mg_session_context(struct mg_session *s, uint32_t id)
{
	for (struct mg_context *c = s->contexts; c != NULL; c = c->next) {
		if (c->id == id && c->state != CTX_GONE) {
			return c;
		}
	}
	return NULL;
}

static bool ctx_stopped(const struct mg_context *ctx)
{
	return ctx->state == CTX_GONE && !ctx->running;
}

int mg_context_shutdown_wait(struct mg_context *ctx, int timeout_ms)
{
	struct mg_session *s = ctx->s;
	struct mg_loop *loop = mg_session_loop(s);
	uint64_t deadline = mg__deadline(timeout_ms);
	bool last = false;
	int ret;

	if (mg_loop_running(loop)) {
		return -EDEADLK;
	}
	if ((ret = mg_context_shutdown(ctx)) != 0) {
		return ret;
	}
	while (ret == 0 && !ctx_stopped(ctx)) {
		ret = session_wait_step(s, deadline, &last);
	}
	return ret;
}

/* How long mg_run_with_router waits for the session's contexts to end. */
#define RUN_SHUTDOWN_MS 10000

int mg_run_with_router(int (*fn)(struct mg_router *r, void *data), void *data)
{
	TALLOC_CTX *top;
	struct mg_loop *loop;
	struct mg_session *s;
	int ret;

	if (fn == NULL) {
		return -EINVAL;
	}
	top = talloc_new(NULL);
	loop = top != NULL ? mg_loop_new(top) : NULL;
	s = loop != NULL ? mg_session_new(top, loop) : NULL;
	if (s == NULL) {
		talloc_free(top);
		return -ENOMEM;
	}
	ret = fn(mg_session_router(s), data);
	if (mg_session_shutdown(s, RUN_SHUTDOWN_MS) != 0) {
		mg_debug("run_with_router: contexts still ending; freeing the session");
	}
	talloc_free(top);
	return ret;
}
