/*
 * A pushed program joining its agent's router (mitogen/worker.h): the
 * child side of the HELLO exchange of a hop, over the socket the agent
 * named in MITOGEN_FD (docs/PROTOCOL.md section 5.8).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include "buf.h"
#include "conn.h"
#include "mitogen/error.h"
#include "mitogen/log.h"
#include "mitogen/worker.h"
#include "protocol.h"
#include "router.h"
#include "stream.h"

#define JOIN_TIMEOUT_MS 10000

struct join {
	struct mg_loop *loop;
	TALLOC_CTX *mem_ctx;
	struct mg_stream *stream; /* until HELLO makes a router of it */
	struct mg_router *r;
	int err;
	bool done;
};

/* The socket named by MITOGEN_FD, or -1. */
static int take_fd(void)
{
	const char *v = getenv("MITOGEN_FD");
	struct stat st;
	char *end;
	long fd;

	if (v == NULL) {
		return -1;
	}
	fd = strtol(v, &end, 10);
	unsetenv("MITOGEN_FD");
	if (*end != '\0' || end == v || fd < 3 || fd > INT_MAX || fstat((int)fd, &st) != 0 ||
	    !S_ISSOCK(st.st_mode)) {
		return -1;
	}
	/* Ours alone from now on, and never blocking the loop. */
	if (fcntl((int)fd, F_SETFD, FD_CLOEXEC) != 0 ||
	    fcntl((int)fd, F_SETFL, fcntl((int)fd, F_GETFL) | O_NONBLOCK) != 0) {
		return -1;
	}
	return (int)fd;
}

bool mg_worker_is_joining(void)
{
	return getenv("MITOGEN_FD") != NULL;
}

static void finish(struct join *j, int err)
{
	if (!j->done) {
		j->done = true;
		j->err = err;
	}
}

static void on_closed(struct mg_stream *s, int err, const char *why, void *data)
{
	finish(data, err != 0 ? err : MG_ERR_DISCONNECTED);
}

static void on_parent_lost(void *data)
{
	mg_loop_stop(data, 0);
}

/* The first frame must be the agent's HELLO. */
static void on_hello(struct mg_stream *s, struct mg_msg *m, void *data)
{
	struct join *j = data;
	TALLOC_CTX *tmp = talloc_new(NULL);
	struct mg_hello h;
	int ret;

	talloc_steal(tmp, m);
	if (j->done) {
		goto out;
	}
	if (m->handle != MG_H_HELLO || (m->flags & MG_F_DEAD) != 0 ||
	    mg__hello_decode(tmp, m->data, m->len, &h) != 0) {
		finish(j, MG_ERR_PROTOCOL);
		goto out;
	}
	if (h.version != MG_PROTOCOL_VERSION) {
		finish(j, MG_ERR_VERSION);
		goto out;
	}
	if (m->src != h.parents[0] || m->dst != h.id || m->auth_id != m->src) {
		finish(j, MG_ERR_PROTOCOL);
		goto out;
	}
	j->r = mg__router_new(j->mem_ctx, j->loop, h.id, h.parents, h.n_parents);
	if (j->r == NULL) {
		finish(j, -ENOMEM);
		goto out;
	}
	/* As an agent takes HELLO: the limits and mode of the tree above. */
	mg__router_set_max_msg(j->r, h.max_msg);
	mg__router_set_unidirectional(j->r, (h.flags & MG_HELLO_UNIDIRECTIONAL) != 0);
	ret = mg__router_add_stream(j->r, s, h.parents[0], "parent", true);
	j->stream = NULL;
	m->in = NULL;
	if (ret != 0 || (ret = mg__hello_reply(j->r, m, 0)) != 0) {
		finish(j, ret);
		goto out;
	}
	mg__router_on_parent_lost(j->r, on_parent_lost, j->loop);
	finish(j, 0);
out:
	talloc_free(tmp);
}

static void on_timeout(struct mg_timer *t, void *data)
{
	finish(data, MG_ERR_TIMEOUT);
}

int mg_worker_join(TALLOC_CTX *mem_ctx, struct mg_loop *loop, struct mg_router **_r)
{
	TALLOC_CTX *tmp;
	struct join j = { .loop = loop };
	struct mg_timer *t;
	int fd, ret = 0;

	*_r = NULL;
	if (mg_loop_running(loop)) {
		return -EDEADLK;
	}
	if ((fd = take_fd()) < 0) {
		return -ENOENT;
	}
	tmp = talloc_new(NULL);
	j.mem_ctx = tmp;
	j.stream = tmp != NULL ? mg__stream_new(tmp, loop, fd, fd, "parent", MG_MSG_MAX_DEFAULT)
			       : NULL;
	t = tmp != NULL ? mg_timer_new(tmp, loop, JOIN_TIMEOUT_MS, on_timeout, &j) : NULL;
	if (j.stream == NULL || t == NULL) {
		if (j.stream == NULL) {
			close(fd);
		}
		talloc_free(tmp);
		return -ENOMEM;
	}
	mg__stream_set_frames(j.stream, on_hello, &j);
	mg__stream_on_close(j.stream, on_closed, &j);
	while (!j.done && ret == 0) {
		ret = mg_loop_run_once(loop, -1);
		if (ret == 1) {
			ret = MG_ERR_CANCELLED;
		}
	}
	if (ret == 0) {
		ret = j.err;
	}
	if (ret == 0) {
		*_r = talloc_steal(mem_ctx, j.r);
	} else if (j.stream != NULL) {
		mg__stream_abort(j.stream);
	} else if (j.r != NULL) {
		mg__router_close_all(j.r, "cannot join");
	}
	talloc_free(tmp);
	return ret;
}
