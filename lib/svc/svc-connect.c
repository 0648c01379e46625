/* The CONNECT service: an agent opens the next hop on its own host and
 * pushes its own image into it. */
#include <errno.h>
#include <string.h>
#include "conn.h"
#include "method.h"
#include "mitogen/error.h"
#include "mitogen/log.h"
#include "protocol.h"
#include "svc-connect.h"

#define HOP_MAX_OPTS 256

int mg__hop_encode(struct mg_buf *b, const struct mg_hop *hop)
{
	int ret;

	if ((ret = mg__buf_put_str(b, hop->method)) != 0 ||
	    (ret = mg__buf_put_str(b, hop->spec)) != 0 ||
	    (ret = mg__buf_put_str(b, hop->user)) != 0 ||
	    (ret = mg__buf_put_str(b, hop->host)) != 0 ||
	    (ret = mg__buf_put_u32(b, (uint32_t)hop->port)) != 0 ||
	    (ret = mg__buf_put_str(b, hop->text)) != 0 ||
	    (ret = mg__buf_put_u32(b, (uint32_t)hop->n_opts)) != 0) {
		return ret;
	}
	for (size_t i = 0; i < hop->n_opts; i++) {
		if ((ret = mg__buf_put_str(b, hop->opts[i].key)) != 0 ||
		    (ret = mg__buf_put_str(b, hop->opts[i].value)) != 0) {
			return ret;
		}
	}
	return 0;
}

int mg__hop_decode(TALLOC_CTX *mem_ctx, struct mg_buf *b, struct mg_hop **_hop)
{
	struct mg_hop *hop = talloc_zero(mem_ctx, struct mg_hop);
	uint32_t port, n;
	int ret;

	if (hop == NULL) {
		return -ENOMEM;
	}
	if ((ret = mg__buf_get_str(b, hop, &hop->method)) != 0 ||
	    (ret = mg__buf_get_str(b, hop, &hop->spec)) != 0 ||
	    (ret = mg__buf_get_str(b, hop, &hop->user)) != 0 ||
	    (ret = mg__buf_get_str(b, hop, &hop->host)) != 0 ||
	    (ret = mg__buf_get_u32(b, &port)) != 0 ||
	    (ret = mg__buf_get_str(b, hop, &hop->text)) != 0 ||
	    (ret = mg__buf_get_u32(b, &n)) != 0) {
		goto fail;
	}
	if (hop->method == NULL || hop->spec == NULL || hop->text == NULL ||
	    port > 65535 || n > HOP_MAX_OPTS) {
		ret = MG_ERR_PROTOCOL;
		goto fail;
	}
	hop->port = (int)port;
	hop->n_opts = n;
	hop->opts = talloc_zero_array(hop, struct mg_hop_opt, n + 1);
	if (hop->opts == NULL) {
		ret = -ENOMEM;
		goto fail;
	}
	for (uint32_t i = 0; i < n; i++) {
		if ((ret = mg__buf_get_str(b, hop, &hop->opts[i].key)) != 0 ||
		    (ret = mg__buf_get_str(b, hop, &hop->opts[i].value)) != 0) {
			goto fail;
		}
		if (hop->opts[i].key == NULL || hop->opts[i].value == NULL) {
			ret = MG_ERR_PROTOCOL;
			goto fail;
		}
	}
	*_hop = hop;
	return 0;
fail:
	talloc_free(hop);
	return ret;
}

int mg__connect_encode(struct mg_buf *b, const struct mg__connect_req *rq)
{
	int ret;

	if ((ret = mg__buf_put_u32(b, rq->id)) != 0 ||
	    (ret = mg__buf_put_u32(b, rq->timeout_ms)) != 0 ||
	    (ret = mg__buf_put_str(b, rq->name)) != 0 ||
	    (ret = mg__hop_encode(b, rq->hop)) != 0 ||
	    (ret = mg__buf_put_str(b, rq->password)) != 0) {
		return ret;
	}
	return 0;
}

int mg__connect_decode(TALLOC_CTX *mem_ctx, const uint8_t *data, size_t len,
		       struct mg__connect_req *rq)
{
	struct mg_buf b;

	memset(rq, 0, sizeof(*rq));
	mg__buf_view(&b, data, len);
	if (mg__buf_get_u32(&b, &rq->id) != 0 || mg__buf_get_u32(&b, &rq->timeout_ms) != 0 ||
	    mg__buf_get_str(&b, mem_ctx, &rq->name) != 0 || rq->name == NULL ||
	    mg__hop_decode(mem_ctx, &b, &rq->hop) != 0 ||
	    (mg__buf_left(&b) > 0 && mg__buf_get_str(&b, mem_ctx, &rq->password) != 0)) {
		return MG_ERR_PROTOCOL;
	}
	return 0;
}

struct connect_svc {
	struct mg_connect_host host;
	struct mg_router *r;
	TALLOC_CTX *conns; /* every hop this agent opened */
	unsigned n_starting; /* of them, those not up yet */
};

struct pending_connect {
	struct connect_svc *svc;
	struct mg_msg *req;
	uint32_t id;
	struct mg_handler *pw_reply;
	mg_password_cb pw_cb;
	void *pw_cb_data;
};

/* Set once p is counted in svc->n_starting. */
static int pending_destructor(struct pending_connect *p)
{
	p->svc->n_starting--;
	return 0;
}

static void on_password_reply(struct mg_router *r, struct mg_msg *m, void *data)
{
	struct pending_connect *p = talloc_get_type_abort(data, struct pending_connect);
	mg_password_cb cb = p->pw_cb;
	void *cb_data = p->pw_cb_data;
	/* Not under p: the callback may end the connection and free p. */
	char *text = talloc_strndup(NULL, (const char *)m->data, m->len);

	p->pw_reply = NULL;
	/* The payload was borrowed from the receive buffer: wipe it there. */
	explicit_bzero(m->data, m->len);
	if (text != NULL && (m->flags & MG_F_DEAD) == 0) {
		talloc_set_destructor(text, mg__secret_wipe_destructor);
	}
	if (text == NULL) {
		cb(cb_data, NULL, "out of memory");
	} else if ((m->flags & MG_F_DEAD) != 0) {
		cb(cb_data, NULL, text);
	} else {
		cb(cb_data, text, NULL);
	}
	talloc_free(text);
}

/* The hop prompts and no password came with the request: ask the master,
 * which alone may prompt a person. */
static void ask_master(void *ask_data, mg_password_cb cb, void *cb_data)
{
	struct pending_connect *p = talloc_get_type_abort(ask_data, struct pending_connect);
	const uint32_t *parents;
	uint8_t id[4];
	size_t n;

	p->pw_cb = cb;
	p->pw_cb_data = cb_data;
	parents = mg__router_parents(p->svc->r, &n);
	p->pw_reply = mg__router_add_handler(p, p->svc->r, 0, MG_POL_RESPONDENT, parents[n - 1],
					     false, on_password_reply, p);
	mg__put_be32(id, p->id);
	if (p->pw_reply == NULL ||
	    mg__router_send(p->svc->r, parents[n - 1], MG_H_PASSWORD,
			    mg__handler_handle(p->pw_reply), 0, id, 4) != 0) {
		TALLOC_FREE(p->pw_reply);
		cb(cb_data, NULL, "cannot ask the master for the password");
	}
}

static void on_connected(struct mg_conn *c, int err, const char *errmsg, void *data)
{
	struct pending_connect *p = talloc_get_type_abort(data, struct pending_connect);
	uint8_t ok[5] = { 0 };

	if (err != 0) {
		mg__router_reply_dead(p->svc->r, p->req, errmsg);
		/* The conn is done with; drop it once this callback returns. */
		mg__conn_release(c);
	} else {
		/* u8 0, u32 the new agent's pid (section 5.2). */
		mg__put_be32(ok + 1, (uint32_t)mg__conn_agent_pid(c));
		mg__router_reply(p->svc->r, p->req, ok, sizeof(ok));
	}
	talloc_free(p);
}

static void on_connect(struct mg_router *r, struct mg_msg *m, void *data)
{
	struct connect_svc *svc = talloc_get_type_abort(data, struct connect_svc);
	struct pending_connect *p;
	struct mg_conn_params cp = { 0 };
	struct mg_conn *c;
	struct mg__connect_req rq;
	char *errmsg = NULL, *password;
	int ret;

	p = talloc_zero(svc, struct pending_connect);
	if (p == NULL) {
		mg__router_reply_dead(r, m, "out of memory");
		return;
	}
	p->svc = svc;
	if (mg__msg_keep(p, m) != 0) {
		mg__router_reply_dead(r, m, "out of memory");
		talloc_free(p);
		return;
	}
	p->req = m;
	if (mg__connect_decode(p, m->data, m->len, &rq) != 0) {
		mg__router_reply_dead(r, m, "malformed CONNECT request");
		talloc_free(p);
		return;
	}
	password = rq.password;
	if (password != NULL) {
		char *secret = mg__secret_dup(p, password);
		explicit_bzero(password, strlen(password));
		talloc_free(password);
		password = secret;
	}
	/* The request held the password: wipe our copy of it. */
	explicit_bzero(m->data, m->len);
	p->id = rq.id;
	if (mg__method_find(rq.hop->method) == NULL) {
		/* mg__conn_start takes the method as known. */
		mg__router_reply_dead(r, m, "malformed CONNECT request: unknown method");
		talloc_free(p);
		return;
	}
	if (svc->host.stopping(svc->host.data)) {
		mg__router_reply_dead(r, m, "agent is shutting down");
		talloc_free(p);
		return;
	}
	cp.hop = rq.hop;
	cp.id = rq.id;
	cp.name = rq.name;
	cp.image = svc->host.image(svc->host.data);
	cp.timeout_ms = rq.timeout_ms;
	cp.log_level = svc->host.log_level(svc->host.data) & ~MG_LOG_SHOW;
	cp.password = password;
	cp.ask = ask_master;
	cp.ask_data = p;
	cp.run_agent = svc->host.run_agent;
	cp.others_starting = svc->n_starting;
	if (cp.image == NULL) {
		mg__router_reply_dead(r, m, "cannot read the agent's own image");
		talloc_free(p);
		return;
	}
	/* Counted until it is up or fails, whichever way p goes. */
	svc->n_starting++;
	talloc_set_destructor(p, pending_destructor);
	ret = mg__conn_start(svc->conns, r, &cp, on_connected, p, &c, &errmsg);
	if (ret != 0) {
		mg__router_reply_dead(r, m, errmsg != NULL ? errmsg : mg_strerror(ret));
		talloc_free(p);
	}
}

struct connect_svc *mg__svc_connect_init(struct mg_router *r, const struct mg_connect_host *host)
{
	struct connect_svc *svc = talloc_zero(r, struct connect_svc);

	if (svc == NULL) {
		return NULL;
	}
	svc->host = *host;
	svc->r = r;
	svc->conns = talloc_new(svc);
	if (svc->conns == NULL ||
	    mg__router_add_handler(svc, r, MG_H_CONNECT, MG_POL_PARENT, 0, true, on_connect, svc) == NULL) {
		talloc_free(svc);
		return NULL;
	}
	return svc;
}
