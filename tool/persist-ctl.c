/*
 * The holder's table of chains held and its control service,
 * "persist.ctl" (handlers and codec side by side), for the commands'
 * --persist-list, --persist-check and --persist-stop. Payload: u32 op
 * (enum mg_persist_op), str target (canonical chain text, "" for none);
 * answer: u32 code (0, or 1: not held), str text to print. Parent policy:
 * only privileged clients of the holder's own listener reach it.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "persist.h"
#include "persist-private.h"

/* One chain a client asked for: the context at its end. */
struct mg_held {
	struct mg_held *next;
	struct mg_holder *h;
	struct mg_context *ctx;
	char *name;
	uint64_t since, last; /* mg_loop_now() */
	struct mg_context_watch *watch;
};

static int held_destructor(struct mg_held *e)
{
	struct mg_held **pp = &e->h->held;

	while (*pp != NULL && *pp != e) {
		pp = &(*pp)->next;
	}
	if (*pp == e) {
		*pp = e->next;
	}
	return 0;
}

static void on_gone(struct mg_context *ctx, const char *reason, void *data)
{
	struct mg_held *e = data;

	mg_info("%s", reason);
	e->watch = NULL;
	mg_loop_free_later(e->h->loop, e);
}

/* session.connect answered a client: note the chain, or its new use. */
static void on_serve(struct mg_context *ctx, void *data)
{
	struct mg_holder *h = data;
	uint64_t now = mg_loop_now(h->loop);
	struct mg_held *e;

	for (e = h->held; e != NULL; e = e->next) {
		if (e->ctx == ctx) {
			e->last = now;
			return;
		}
	}
	e = talloc_zero(h, struct mg_held);
	if (e == NULL) {
		return;
	}
	e->h = h;
	e->ctx = ctx;
	e->since = e->last = now;
	e->name = talloc_strdup(e, mg_context_name(ctx));
	e->watch = mg_context_on_disconnect(e, ctx, on_gone, e);
	if (e->name == NULL || e->watch == NULL) {
		talloc_free(e);
		return;
	}
	e->next = h->held;
	h->held = e;
	talloc_set_destructor(e, held_destructor);
}

static struct mg_held *find(struct mg_holder *h, const char *name)
{
	for (struct mg_held *e = h->held; e != NULL; e = e->next) {
		if (!mg_context_gone(e->ctx) && strcmp(e->name, name) == 0) {
			return e;
		}
	}
	return NULL;
}

/* "42s", "3m5s", "2h10m". */
static char *dur(TALLOC_CTX *mem_ctx, uint64_t ms)
{
	uint64_t s = ms / 1000;

	if (s < 60) {
		return talloc_asprintf(mem_ctx, "%us", (unsigned)s);
	}
	if (s < 3600) {
		return talloc_asprintf(mem_ctx, "%um%us", (unsigned)(s / 60), (unsigned)(s % 60));
	}
	return talloc_asprintf(mem_ctx, "%uh%um", (unsigned)(s / 3600), (unsigned)(s / 60 % 60));
}

/* 'asker' (the --persist-list itself, attached too) is no command. */
static char *list(TALLOC_CTX *tmp, struct mg_holder *h, uint32_t asker)
{
	uint64_t now = mg_loop_now(h->loop);
	unsigned n = 0;
	char *out;

	for (struct mg_client *c = h->clients; c != NULL; c = c->next) {
		n += c->id != asker;
	}
	out = talloc_asprintf(tmp, "holder pid %d, up %s, %u client%s, exits after %s idle\n",
			      (int)getpid(), dur(tmp, now - h->started), n, n == 1 ? "" : "s",
			      dur(tmp, h->idle_ms));

	for (struct mg_held *e = h->held; out != NULL && e != NULL; e = e->next) {
		if (!mg_context_gone(e->ctx)) {
			out = talloc_asprintf_append(out, "%s\tage %s\tidle %s\n", e->name,
						     dur(tmp, now - e->since), dur(tmp, now - e->last));
		}
	}
	return out;
}

/* Whether 'a' is 'ctx' or one of its ancestors. */
static bool on_path(struct mg_context *a, struct mg_context *ctx)
{
	for (; ctx != NULL; ctx = mg_context_parent(ctx)) {
		if (ctx == a) {
			return true;
		}
	}
	return false;
}

/* Stop e's chain: its end, and each hop above that no other chain held
 * goes through (as ssh -O exit leaves nothing of that connection). */
static void stop_chain(struct mg_holder *h, struct mg_held *e)
{
	struct mg_context *top = e->ctx;

	for (struct mg_context *p = mg_context_parent(e->ctx); p != NULL; p = mg_context_parent(p)) {
		bool shared = false;
		for (struct mg_held *o = h->held; o != NULL && !shared; o = o->next) {
			shared = o != e && !mg_context_gone(o->ctx) && on_path(p, o->ctx);
		}
		if (shared) {
			break;
		}
		top = p;
	}
	mg_context_shutdown(top);
}

static void exit_later(struct mg_timer *t, void *data)
{
	talloc_free(t);
	mg__holder_exit(data);
}

static void answer(struct mg_message *req, uint32_t code, const char *text)
{
	struct mg_enc *e = mg_enc_new(NULL);
	const void *p;
	size_t len;

	if (e == NULL || mg_enc_u32(e, code) != 0 || mg_enc_str(e, text != NULL ? text : "") != 0) {
		mg_message_reply_dead(req, "out of memory");
	} else {
		p = mg_enc_data(e, &len);
		mg_message_reply(req, p, len);
	}
	talloc_free(e);
}

static int serve(struct mg_message *req, const void *payload, size_t len, void *data)
{
	struct mg_holder *h = data;
	TALLOC_CTX *tmp = talloc_new(NULL);
	struct mg_dec d;
	struct mg_held *e;
	char *target = NULL;
	uint32_t op = 0;

	mg_dec_init(&d, payload, len);
	if (tmp == NULL || mg_dec_u32(&d, &op) != 0 || mg_dec_str(&d, tmp, &target) != 0) {
		mg_message_reply_dead(req, "malformed request");
		goto out;
	}
	e = target != NULL && target[0] != '\0' ? find(h, target) : NULL;
	if (op == MG_PERSIST_LIST) {
		answer(req, 0, list(tmp, h, mg_message_src(req)));
	} else if ((op == MG_PERSIST_CHECK || op == MG_PERSIST_STOP) && target != NULL &&
		   target[0] != '\0') {
		char *msg = talloc_asprintf(tmp, "%s: %s (holder pid %d)\n", target,
					    e == NULL ? "not held" : op == MG_PERSIST_CHECK ?
					    "held" : "stopping", (int)getpid());
		if (e != NULL && op == MG_PERSIST_STOP) {
			stop_chain(h, e);
		}
		answer(req, e != NULL ? 0 : 1, msg);
	} else if (op == MG_PERSIST_IDLE) {
		uint32_t ms = 0;
		if (mg_dec_u32(&d, &ms) != 0) {
			mg_message_reply_dead(req, "malformed request");
			goto out;
		}
		/* The longest any command asked for: a later --persist=1h
		 * keeps a holder started with 10m. */
		if (ms > h->idle_ms) {
			h->idle_ms = ms;
		}
		/* Unanswered (PROTOCOL 5.7): an answer would wake the
		 * command once more while it waits for session.connect. */
	} else if (op == MG_PERSIST_STOP) {
		/* After the answer has left. */
		if (mg_timer_new(h, h->loop, 0, exit_later, h) == NULL) {
			mg_message_reply_dead(req, "out of memory");
			goto out;
		}
		answer(req, 0, talloc_asprintf(tmp, "holder pid %d: exiting\n", (int)getpid()));
	} else {
		mg_message_reply_dead(req, "unknown request");
	}
out:
	talloc_free(tmp);
	return 0;
}

int mg__holder_ctl_init(struct mg_holder *h)
{
	mg_session_on_serve(h->s, on_serve, h);
	return mg_service_register(mg_session_router(h->s), MG_PERSIST_SERVICE, 0, serve, h);
}

static void ignore_answer(struct mg_message *m, int err, void *data)
{
}

struct mg_enc *mg__persist_ctl_request(TALLOC_CTX *mem_ctx, uint32_t op, const char *target)
{
	struct mg_enc *e = mg_enc_new(mem_ctx);

	if (e != NULL && (mg_enc_u32(e, op) != 0 || mg_enc_str(e, target != NULL ? target : "") != 0)) {
		TALLOC_FREE(e);
	}
	return e;
}

void mg__persist_ctl_idle(struct mg_session *s, unsigned idle_ms)
{
	struct mg_enc *e = mg__persist_ctl_request(s, MG_PERSIST_IDLE, NULL);
	const void *p;
	size_t len;

	if (e != NULL && mg_enc_u32(e, idle_ms) == 0) {
		p = mg_enc_data(e, &len);
		/* The holder never answers: the call goes with the session. */
		mg_router_call_async(s, mg_session_router(s), 0, MG_PERSIST_SERVICE, p, len, -1,
				     ignore_answer, NULL, NULL);
	}
	talloc_free(e);
}

int mg__persist_ctl_answer(struct mg_message *m, TALLOC_CTX *mem_ctx, uint32_t *_code,
			   char **_text)
{
	struct mg_dec d;
	const void *p;
	size_t len;

	p = mg_message_data(m, &len);
	mg_dec_init(&d, p, len);
	if (mg_dec_u32(&d, _code) != 0 || mg_dec_str(&d, mem_ctx, _text) != 0 || *_text == NULL) {
		return MG_ERR_PROTOCOL;
	}
	return 0;
}
