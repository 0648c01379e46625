/*
 * Hop passwords under persistence: the holder has no terminal, so it
 * relays each request of its session's asker to an attached command
 * (first those waiting for a chain through that hop, then the others,
 * the newest first), through the service "persist.password" that each command
 * serves in its own context (the holder, its parent, may call it). The
 * command asks on its terminal (mg_password_ask); one without a terminal
 * says so, and the next older command is asked. Payload: str prompt;
 * answer: str password (wiped on both sides once used). The holder's
 * session caches the answer for the chain's life, as it would its own.
 */
#include <errno.h>
#include <string.h>
#include "persist-private.h"

/* Room for a password answer. */
#define PW_MAX 4096
/* Clients waiting for a chain through the hop, asked first. */
#define PW_FIRST 16

/* --- the holder's side ------------------------------------------------------ */

struct asking {
	struct mg_holder *h;
	struct mg_password_request *req;
	uint32_t first[PW_FIRST]; /* ask these first (mg_session_serving) */
	size_t n_first, next_first;
	uint32_t below; /* then a command attached before this one (id) */
	uint32_t asked; /* the one asked now */
};

static void ask_next(struct asking *a);

static void wipe_free(void *p, size_t n)
{
	if (p != NULL) {
		memset(p, 0, n);
		talloc_free(p);
	}
}

static void on_answer(struct mg_message *m, int err, void *data)
{
	struct asking *a = data;
	struct mg_dec d;
	const void *p;
	const char *pw;
	size_t len, n;

	if (err == 0) {
		p = mg_message_data(m, &len);
		mg_dec_init(&d, p, len);
		if (mg_dec_str_ref(&d, &pw, &n) == 0 && pw != NULL && n < PW_MAX) {
			char *copy = talloc_strndup(a, pw, n);
			memset((void *)p, 0, len);
			if (copy != NULL) {
				mg_password_reply(a->req, copy);
				wipe_free(copy, n);
				talloc_free(a);
				return;
			}
		}
	} else {
		mg_debug("password: client %u: %s", a->asked,
			 m != NULL ? mg_message_dead_reason(m) : mg_strerror(err));
	}
	ask_next(a);
}

/* Whether 'id' is among the first n of a->first. */
static bool in_first(const struct asking *a, uint32_t id, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (a->first[i] == id) {
			return true;
		}
	}
	return false;
}

/* The next command to ask: one waiting for a chain through the hop,
 * else the newest not asked yet; NULL when none is left. */
static struct mg_client *next_client(struct asking *a)
{
	struct mg_client *c;

	while (a->next_first < a->n_first) {
		uint32_t id = a->first[a->next_first++];
		/* A command waiting for two chains through the hop: once. */
		bool again = in_first(a, id, a->next_first - 1);
		for (c = again ? NULL : a->h->clients; c != NULL; c = c->next) {
			if (c->id == id) {
				return c;
			}
		}
	}
	for (c = a->h->clients; c != NULL; c = c->next) {
		if (c->id < a->below && !in_first(a, c->id, a->n_first)) {
			a->below = c->id;
			return c;
		}
	}
	return NULL;
}

static void ask_next(struct asking *a)
{
	struct mg_client *c = next_client(a);
	struct mg_enc *e;
	const void *p;
	size_t len;

	if (c == NULL) {
		mg_password_fail(a->req, "no command attached to the holder has a terminal to ask "
			"on: use password_env= or password_file=");
		talloc_free(a);
		return;
	}
	a->asked = c->id;
	e = mg_enc_new(a);
	if (e == NULL || mg_enc_str(e, mg_password_request_prompt(a->req)) != 0) {
		mg_password_fail(a->req, "out of memory");
		talloc_free(a);
		return;
	}
	p = mg_enc_data(e, &len);
	/* No time limit: a person types; a command that goes answers dead. */
	if (mg_router_call_async(a, mg_session_router(a->h->s), c->id, MG_PERSIST_PW_SERVICE, p,
				 len, -1, on_answer, a, NULL) != 0) {
		ask_next(a);
	}
}

static void on_request(struct mg_password_request *req, void *data)
{
	struct mg_holder *h = data;
	struct asking *a = talloc_zero(h, struct asking);

	if (a == NULL) {
		mg_password_fail(req, "out of memory");
		return;
	}
	a->h = h;
	a->req = req;
	a->below = UINT32_MAX;
	a->n_first = mg_session_serving(h->s, mg_password_request_hop(req), a->first, PW_FIRST);
	ask_next(a);
}

int mg__holder_pw_init(struct mg_holder *h)
{
	mg_session_set_password_fn(h->s, on_request, h);
	return 0;
}

/* --- the command's side ------------------------------------------------------- */

struct prompting {
	struct mg_message *req;
	struct mg_tty_prompt *p;
};

static void on_line(void *data, const char *line, const char *err)
{
	struct prompting *k = data;
	struct mg_enc *e = line != NULL ? mg_enc_new(k) : NULL;
	const void *p;
	size_t len;

	if (line == NULL || e == NULL || mg_enc_str(e, line) != 0) {
		mg_message_reply_dead(k->req, err != NULL ? err : "out of memory");
	} else {
		p = mg_enc_data(e, &len);
		mg_message_reply(k->req, p, len);
		memset((void *)p, 0, len);
	}
	k->p = NULL;
	talloc_free(k);
}

static int serve(struct mg_message *req, const void *payload, size_t len, void *data)
{
	struct mg_session *s = data;
	struct prompting *k = talloc_zero(s, struct prompting);
	char *prompt = NULL, *err = NULL;
	struct mg_dec d;

	if (k == NULL) {
		return -ENOMEM;
	}
	mg_dec_init(&d, payload, len);
	if (mg_dec_str(&d, k, &prompt) != 0 || prompt == NULL) {
		talloc_free(k);
		mg_message_reply_dead(req, "malformed request");
		return 0;
	}
	if (mg_password_ask(k, mg_session_loop(s), prompt, on_line, k, &k->p, &err) != 0) {
		mg_message_reply_dead(req, err != NULL ? err : "out of memory");
		talloc_free(k);
		return 0;
	}
	k->req = talloc_steal(k, req);
	return 0;
}

int mg__persist_pw_serve(struct mg_session *s)
{
	return mg_service_register(mg_session_router(s), MG_PERSIST_PW_SERVICE, 0, serve, s);
}
