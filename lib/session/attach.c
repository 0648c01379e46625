/*
 * Sessions shared with attached processes (mitogen/unix.h,
 * docs/PROTOCOL.md section 5.7): the master serves "session.connect", and
 * a privileged client's session connects through it, so that the chains
 * (and each hop's password) are the master's, set up once for every
 * client.
 */
#include <errno.h>
#include <string.h>
#include "buf.h"
#include "mitogen/chain.h"
#include "mitogen/context.h"
#include "mitogen/error.h"
#include "mitogen/log.h"
#include "mitogen/message.h"
#include "mitogen/router.h"
#include "mitogen/service.h"
#include "mitogen/unix.h"
#include "session.h"

#define SERVICE "session.connect"
/* Room for the reply: an error code, an id and a chain text or message. */
#define REPLY_MAX (64u * 1024)

/* --- the master's side ---------------------------------------------------- */

/* One request being connected: the call is answered when it is done. */
struct served {
	struct served *next;          /* s->serving, newest first */
	struct mg_session *s;
	struct mg_message *req;
	uint32_t src;                 /* the client that asked */
	struct mg_chain_list *chains; /* kept until the callback (mg_connect) */
	struct mg_watch *watch;       /* on the client's link */
	bool gone;                    /* the client went before the answer */
};

static int served_destructor(struct served *q)
{
	struct served **pp = &q->s->serving;

	while (*pp != NULL && *pp != q) {
		pp = &(*pp)->next;
	}
	if (*pp == q) {
		*pp = q->next;
	}
	return 0;
}

size_t mg_session_serving(const struct mg_session *s, const char *hop_text, uint32_t *ids,
			  size_t max)
{
	size_t n = 0;

	for (const struct served *q = s->serving; q != NULL && n < max; q = q->next) {
		const struct mg_chain *c = &q->chains->chains[0];
		size_t i = 0;
		while (i < c->n_hops && strcmp(c->hops[i].text, hop_text) != 0) {
			i++;
		}
		if (i < c->n_hops) {
			ids[n++] = q->src;
		}
	}
	return n;
}

static void reply(struct mg_message *req, int err, uint32_t id, const char *text)
{
	struct mg_buf *b = mg__buf_new(NULL, REPLY_MAX);
	size_t n = strlen(text);
	char *cut = NULL;

	if (n > REPLY_MAX - 64) {
		cut = talloc_strndup(b, text, REPLY_MAX - 64);
	}
	if (b == NULL || mg__buf_put_u32(b, (uint32_t)err) != 0 || mg__buf_put_u32(b, id) != 0 ||
	    mg__buf_put_str(b, cut != NULL ? cut : text) != 0) {
		mg_message_reply_dead(req, "out of memory");
	} else {
		mg_message_reply(req, b->data, b->len);
	}
	talloc_free(b);
}

static void on_served(struct mg_context *ctx, int err, const char *errmsg, void *data)
{
	struct served *q = data;
	mg_serve_fn fn = err == 0 ? q->s->serve_fn : NULL;
	void *fn_data = q->s->serve_data;

	if (err != 0) {
		reply(q->req, err, 0, errmsg != NULL ? errmsg : mg_strerror(err));
	} else {
		reply(q->req, 0, mg_context_id(ctx), mg_context_name(ctx));
	}
	/* First: fn may free the session, which owns q. */
	talloc_free(q);
	if (fn != NULL) {
		fn(ctx, fn_data);
	}
}

static bool served_unwanted(void *data)
{
	return ((struct served *)data)->gone;
}

/* The client went while its chain connects (^C, SIGTERM, killed): a hop
 * that no other command waits for is stopped, as the client's own run
 * stops its hops, not left to run until its connect timeout. */
static void on_requester_gone(struct mg_router *r, uint32_t id, const char *reason, void *data)
{
	struct served *q = data;

	q->gone = true;
	mg__session_cancel_unwanted(q->s, on_served, served_unwanted);
}

/* str chain, u32 timeout_ms: connect it in our session. */
static int serve_connect(struct mg_message *req, const void *payload, size_t len, void *data)
{
	struct mg_session *s = data;
	struct served *q = talloc_zero(s, struct served);
	struct mg_connect_opts opts = { 0 };
	char *text = NULL, *err = NULL;
	struct mg_buf b;
	int ret;

	if (q == NULL) {
		return -ENOMEM;
	}
	q->s = s;
	mg__buf_view(&b, payload, len);
	if (mg__buf_get_str(&b, q, &text) != 0 || text == NULL ||
	    mg__buf_get_u32(&b, &opts.timeout_ms) != 0) {
		talloc_free(q);
		mg_message_reply_dead(req, "malformed request");
		return 0;
	}
	ret = mg_chain_parse(q, text, &q->chains, &err);
	if (ret == 0 && q->chains->n_chains != 1) {
		ret = MG_ERR_CHAIN;
		err = talloc_asprintf(q, "'%s' names %zu chains, not one", text,
				      q->chains->n_chains);
	}
	if (ret == 0) {
		/* on_served never runs from inside mg_connect. */
		ret = mg_connect(q, s, &q->chains->chains[0], &opts, on_served, q, &err);
	}
	if (ret != 0) {
		reply(req, ret, 0, err != NULL ? err : mg_strerror(ret));
		talloc_free(q);
		return 0;
	}
	q->req = talloc_steal(q, req);
	q->src = mg_message_src(req);
	q->next = s->serving;
	s->serving = q;
	talloc_set_destructor(q, served_destructor);
	/* Without it (out of memory) the hop runs until its own limit. */
	q->watch = mg_router_on_disconnect(q, s->r, q->src, on_requester_gone, q);
	return 0;
}

int mg_session_serve(struct mg_session *s)
{
	int ret;

	if (s->remote != NULL) {
		return -EINVAL;
	}
	/* Parent policy: only the master itself and privileged clients. */
	ret = mg_service_register(s->r, SERVICE, 0, serve_connect, s);
	if (ret == 0 && (ret = mg__session_serve_program(s)) != 0) {
		mg_service_unregister(s->r, SERVICE);
	}
	return ret;
}

void mg_session_on_serve(struct mg_session *s, mg_serve_fn fn, void *data)
{
	s->serve_fn = fn;
	s->serve_data = data;
}

/* --- the client's side ---------------------------------------------------- */

struct rconn {
	struct mg_session *s;
	struct mg_context *ctx; /* found up already: told from the loop */
	mg_connect_cb cb;
	void *data;
};

static void rconn_done(struct rconn *rc, struct mg_context *ctx, int err, const char *msg)
{
	mg_connect_cb cb = rc->cb;
	void *data = rc->data;

	talloc_free(rc);
	cb(ctx, err, msg, data);
}

static void on_found(void *data)
{
	struct rconn *rc = talloc_get_type_abort(data, struct rconn);

	rconn_done(rc, rc->ctx, 0, NULL);
}

static void on_reply(struct mg_message *m, int err, void *data)
{
	struct rconn *rc = talloc_get_type_abort(data, struct rconn);
	TALLOC_CTX *tmp = talloc_new(NULL);
	uint32_t code = 0, id = 0;
	struct mg_context *ctx;
	char *text = NULL, *msg;
	struct mg_buf b;
	const void *p;
	size_t len;

	if (err != 0) {
		msg = talloc_asprintf(tmp, "the session's master: %s",
				      m != NULL ? mg_message_dead_reason(m) : mg_strerror(err));
		rconn_done(rc, NULL, err == MG_ERR_CALL ? MG_ERR_DEAD : err, msg);
		goto out;
	}
	p = mg_message_data(m, &len);
	mg__buf_view(&b, p, len);
	if (mg__buf_get_u32(&b, &code) != 0 || mg__buf_get_u32(&b, &id) != 0 ||
	    mg__buf_get_str(&b, tmp, &text) != 0 || text == NULL) {
		rconn_done(rc, NULL, MG_ERR_PROTOCOL, "the session's master: malformed answer");
		goto out;
	}
	if (code != 0) {
		rconn_done(rc, NULL, (int)code, text);
		goto out;
	}
	ctx = mg__session_adopt(rc->s, id, text);
	rconn_done(rc, ctx, ctx != NULL ? 0 : -ENOMEM, ctx != NULL ? NULL : "out of memory");
out:
	talloc_free(tmp);
}

static int remote_connect(TALLOC_CTX *mem_ctx, struct mg_session *s,
			  const struct mg_chain *chain, const struct mg_connect_opts *opts,
			  mg_connect_cb cb, void *data, char **_errmsg)
{
	struct rconn *rc = talloc_zero(s, struct rconn);
	struct mg_buf *b = NULL;
	int ret = -ENOMEM;

	if (rc == NULL) {
		return -ENOMEM;
	}
	rc->s = s;
	rc->cb = cb;
	rc->data = data;
	/* Up already: no need to ask (its loss comes by DEL_ROUTE). */
	rc->ctx = mg__session_find_up(s, chain->text);
	if (rc->ctx != NULL) {
		if (mg_loop_defer(s->loop, rc, on_found, rc) != 0) {
			talloc_free(rc);
			return -ENOMEM;
		}
		return 0;
	}
	b = mg__buf_new(rc, REPLY_MAX);
	if (b != NULL && mg__buf_put_str(b, chain->text) == 0 &&
	    mg__buf_put_u32(b, opts != NULL ? opts->timeout_ms : 0) == 0) {
		/* No time limit of our own: the master bounds each hop, and
		 * our call fails at once if the master goes. */
		ret = mg_router_call_async(rc, s->r, 0, SERVICE, b->data, b->len, -1, on_reply, rc,
					   NULL);
	}
	if (ret != 0) {
		*_errmsg = talloc_asprintf(mem_ctx, "%s: cannot ask the session's master: %s",
					   chain->text, mg_strerror(ret));
		talloc_free(rc);
		return ret;
	}
	talloc_free(b);
	return 0;
}

int mg_session_attach(TALLOC_CTX *mem_ctx, struct mg_loop *loop, const char *path,
		      unsigned timeout_ms, struct mg_session **_s, char **_errmsg)
{
	struct mg_router *r = NULL;
	struct mg_session *s;
	int ret;

	*_s = NULL;
	ret = mg_attach(mem_ctx, loop, path, timeout_ms, &r, _errmsg);
	if (ret != 0) {
		return ret;
	}
	s = mg__session_new_attached(mem_ctx, loop, r, remote_connect);
	if (s == NULL) {
		talloc_free(r);
		return -ENOMEM;
	}
	*_s = s;
	return 0;
}

bool mg_session_attached(const struct mg_session *s)
{
	return s->remote != NULL;
}

size_t mg_session_drop_clients(struct mg_session *s)
{
	return mg__router_close_attached(s->r);
}
