/*
 * A command that joins the tree as a context (EXEC with MG_EXEC_JOIN,
 * docs/PROTOCOL.md section 5.8): the agent gives it one end of a
 * socketpair, named by MITOGEN_FD in its environment, and treats the
 * other end as a new child link. The agent sends HELLO over it (the id
 * is the request's join_id, the master's choice); the reply must come
 * from exactly that id, and then the link is routed and announced as a
 * hop is. The worker is a child like any other: it answers, and never
 * commands (it can announce nothing below it: no CONNECT went down its
 * link).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>
#include "buf.h"
#include "conn.h"
#include "mitogen/error.h"
#include "mitogen/log.h"
#include "process.h"
#include "protocol.h"
#include "router.h"
#include "stream.h"
#include "svc-exec.h"

struct mg__join {
	struct mg_router *r;
	uint32_t id;
	char *name;
	uint32_t master;    /* where JOINED goes */
	uint32_t reply_to;
	int child_fd;       /* the command's end, until it is started */
	struct mg_stream *stream; /* ours, until HELLO is answered */
};

static void drop_stream(struct mg__join *jn)
{
	if (jn->stream != NULL) {
		mg__stream_abort(jn->stream);
		mg_loop_free_later(mg__router_loop(jn->r), jn->stream);
		jn->stream = NULL;
	}
}

static int join_destructor(struct mg__join *jn)
{
	if (jn->child_fd >= 0) {
		close(jn->child_fd);
	}
	drop_stream(jn);
	return 0;
}

static void send_joined(struct mg__join *jn)
{
	struct mg__exec_event ev = { .type = MG_EXEC_EV_JOINED, .join_id = jn->id };
	uint8_t p[8];
	struct mg_buf b = { .data = p, .alloc = sizeof(p), .max = sizeof(p) };

	if (mg__exec_event_encode(&b, &ev) == 0) {
		mg__router_send(jn->r, jn->master, jn->reply_to, 0, 0, b.data, b.len);
	}
}

/* The HELLO reply, from exactly the id we gave, or the link goes. */
static void on_reply(struct mg_stream *s, struct mg_msg *m, void *data)
{
	struct mg__join *jn = talloc_get_type_abort(data, struct mg__join);
	struct mg_buf b;
	uint32_t version = 0;
	int ret;

	if (m->src != jn->id || m->auth_id != jn->id) {
		mg_warn("%s: answered HELLO as context %u (authority %u), not %u: dropped",
			jn->name, m->src, m->auth_id, jn->id);
		goto drop;
	}
	if (m->dst != mg__router_id(jn->r) || m->handle != MG_H_HELLO ||
	    (m->flags & MG_F_DEAD) != 0) {
		/* Right sender, wrong frame: say which, not "as context N, not N". */
		mg_warn("%s: sent %s to context %u handle %u before answering HELLO: dropped",
			jn->name, (m->flags & MG_F_DEAD) != 0 ? "a dead frame" : "a frame",
			m->dst, m->handle);
		goto drop;
	}
	mg__buf_view(&b, m->data, m->len);
	if (mg__buf_get_u32(&b, &version) != 0 || version != MG_PROTOCOL_VERSION) {
		mg_warn("%s: speaks protocol %u, we speak %u: dropped", jn->name, version,
			MG_PROTOCOL_VERSION);
		goto drop;
	}
	/* The router owns the link from here, and announces it upward;
	 * JOINED follows ADD_ROUTE on the same way up. */
	ret = mg__router_add_stream(jn->r, s, jn->id, jn->name, false);
	jn->stream = NULL;
	if (ret != 0) {
		mg_warn("%s: cannot route context %u: %s", jn->name, jn->id, mg_strerror(ret));
		mg__stream_fail(s, MG_ERR_PROTOCOL, "cannot route the worker");
		talloc_free(m);
		return;
	}
	mg_info("%s joined as context %u", jn->name, jn->id);
	send_joined(jn);
	talloc_free(m);
	return;
drop:
	talloc_free(m);
	drop_stream(jn);
}

static void on_close(struct mg_stream *s, int err, const char *why, void *data)
{
	struct mg__join *jn = talloc_get_type_abort(data, struct mg__join);

	mg_debug("%s: link closed before HELLO was answered: %s", jn->name, why);
	drop_stream(jn);
}

struct mg__join *mg__join_new(TALLOC_CTX *mem_ctx, struct mg_router *r, uint32_t id,
			      const char *name, uint32_t master, uint32_t reply_to, char **_env)
{
	struct mg__join *jn = talloc_zero(mem_ctx, struct mg__join);
	int sv[2];

	if (jn == NULL) {
		return NULL;
	}
	jn->r = r;
	jn->id = id;
	jn->master = master;
	jn->reply_to = reply_to;
	jn->child_fd = -1;
	talloc_set_destructor(jn, join_destructor);
	jn->name = talloc_asprintf(jn, "worker %s", name);
	if (jn->name == NULL || mg__socketpair(sv) != 0) {
		talloc_free(jn);
		return NULL;
	}
	jn->child_fd = sv[1];
	if (fcntl(sv[0], F_SETFL, O_NONBLOCK) != 0 ||
	    (jn->stream = mg__stream_new(jn, mg__router_loop(r), sv[0], sv[0], jn->name,
					 mg__router_max_msg(r))) == NULL) {
		close(sv[0]);
		talloc_free(jn);
		return NULL;
	}
	*_env = talloc_asprintf(mem_ctx, "MITOGEN_FD=%d", sv[1]);
	if (*_env == NULL) {
		talloc_free(jn);
		return NULL;
	}
	return jn;
}

/* The one descriptor the command inherits: the agent is single-threaded,
 * so nothing else is spawned while it is inheritable. */
int mg__join_child_fd(struct mg__join *jn, bool inherit)
{
	return fcntl(jn->child_fd, F_SETFD, inherit ? 0 : FD_CLOEXEC) == 0 ? 0 : -errno;
}

int mg__join_spawned(struct mg__join *jn, bool started)
{
	struct mg_buf *b;
	struct mg_msg m = { 0 };
	int ret;

	close(jn->child_fd);
	jn->child_fd = -1;
	if (!started) {
		return 0;
	}
	b = mg__buf_new(NULL, mg__router_max_msg(jn->r));
	if (b == NULL) {
		return -ENOMEM;
	}
	/* As for a hop (section 5.1): our id and ancestors are its parents. */
	ret = mg__hello_encode(b, jn->r, jn->id, (uint8_t)mg_log_get_level(), jn->name);
	if (ret == 0) {
		m.dst = jn->id;
		m.src = mg__router_id(jn->r);
		m.auth_id = m.src;
		m.handle = MG_H_HELLO;
		m.reply_to = MG_H_HELLO;
		m.data = b->data;
		m.len = b->len;
		mg__stream_set_frames(jn->stream, on_reply, jn);
		mg__stream_on_close(jn->stream, on_close, jn);
		ret = mg__stream_send(jn->stream, &m);
	}
	talloc_free(b);
	return ret;
}
