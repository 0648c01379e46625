/* EXEC's messages (svc-exec.h): each encoder and its decoder side by
 * side. The agent's service (svc-exec.c, svc-exec-join.c) and the
 * master's client (session/exec.c) use them. */
#include <errno.h>
#include <string.h>
#include "mitogen/error.h"
#include "protocol.h"
#include "svc-exec.h"

#define ARGV_MAX 65536

int mg__exec_req_encode(struct mg_buf *b, const struct mg__exec_req *rq)
{
	int ret;

	if ((ret = mg__buf_put_u32(b, rq->flags)) != 0 ||
	    (ret = mg__buf_put_strv(b, (const char *const *)rq->argv)) != 0 ||
	    (ret = mg__buf_put_u32(b, rq->h_out)) != 0 ||
	    (ret = mg__buf_put_u32(b, rq->h_err)) != 0 ||
	    (ret = mg__buf_put_u32(b, rq->h_in_ack)) != 0 ||
	    (ret = mg__buf_put_str(b, rq->cwd)) != 0 ||
	    (ret = mg__buf_put_strv(b, (const char *const *)rq->env)) != 0) {
		return ret;
	}
	if ((rq->flags & MG_EXEC_IMAGE) != 0 &&
	    ((ret = mg__buf_put_u32(b, rq->image_id)) != 0 ||
	     (ret = mg__buf_put_u64(b, rq->image_size)) != 0 ||
	     (ret = mg__buf_put_u32(b, rq->machine)) != 0)) {
		return ret;
	}
	if ((rq->flags & MG_EXEC_PTY) != 0 &&
	    ((ret = mg__buf_put_u32(b, rq->rows)) != 0 || (ret = mg__buf_put_u32(b, rq->cols)) != 0)) {
		return ret;
	}
	/* Last, always: routers on the way read it from the end. */
	if ((rq->flags & MG_EXEC_JOIN) != 0 && (ret = mg__buf_put_u32(b, rq->join_id)) != 0) {
		return ret;
	}
	return 0;
}

int mg__exec_req_decode(TALLOC_CTX *mem_ctx, const uint8_t *p, size_t n, struct mg__exec_req *rq)
{
	struct mg_buf b;
	int ret;

	memset(rq, 0, sizeof(*rq));
	mg__buf_view(&b, p, n);
	if ((ret = mg__buf_get_u32(&b, &rq->flags)) != 0 ||
	    (ret = mg__buf_get_strv(&b, mem_ctx, ARGV_MAX, &rq->argv)) != 0 ||
	    (ret = mg__buf_get_u32(&b, &rq->h_out)) != 0 ||
	    (ret = mg__buf_get_u32(&b, &rq->h_err)) != 0 ||
	    (ret = mg__buf_get_u32(&b, &rq->h_in_ack)) != 0 ||
	    (ret = mg__buf_get_str(&b, mem_ctx, &rq->cwd)) != 0) {
		return ret == -ENOMEM ? ret : MG_ERR_PROTOCOL;
	}
	if (rq->argv[0] == NULL) {
		return MG_ERR_PROTOCOL;
	}
	/* An old master may stop before the environment. */
	if ((mg__buf_left(&b) > 0 && (ret = mg__buf_get_strv(&b, mem_ctx, ARGV_MAX, &rq->env)) != 0) ||
	    ((rq->flags & MG_EXEC_IMAGE) != 0 &&
	     ((ret = mg__buf_get_u32(&b, &rq->image_id)) != 0 ||
	      (ret = mg__buf_get_u64(&b, &rq->image_size)) != 0 ||
	      (ret = mg__buf_get_u32(&b, &rq->machine)) != 0)) ||
	    ((rq->flags & MG_EXEC_PTY) != 0 &&
	     ((ret = mg__buf_get_u32(&b, &rq->rows)) != 0 ||
	      (ret = mg__buf_get_u32(&b, &rq->cols)) != 0))) {
		return ret == -ENOMEM ? ret : MG_ERR_PROTOCOL;
	}
	if ((rq->flags & MG_EXEC_JOIN) != 0 &&
	    (mg__buf_get_u32(&b, &rq->join_id) != 0 || mg__buf_left(&b) != 0 || rq->join_id == 0)) {
		return MG_ERR_PROTOCOL;
	}
	return 0;
}

int mg__exec_event_encode(struct mg_buf *b, const struct mg__exec_event *ev)
{
	int ret;

	if ((ret = mg__buf_put_u8(b, ev->type)) != 0) {
		return ret;
	}
	switch (ev->type) {
	case MG_EXEC_EV_STARTED:
		if ((ret = mg__buf_put_u32(b, ev->pid)) != 0 ||
		    (ret = mg__buf_put_u32(b, ev->h_stdin)) != 0 ||
		    (ret = mg__buf_put_u32(b, ev->h_stdout_ack)) != 0 ||
		    (ret = mg__buf_put_u32(b, ev->h_stderr_ack)) != 0 ||
		    (ret = mg__buf_put_u32(b, ev->h_ctl)) != 0) {
			return ret;
		}
		return 0;
	case MG_EXEC_EV_EXITED:
		return mg__buf_put_u32(b, ev->status);
	case MG_EXEC_EV_FAILED:
		if ((ret = mg__buf_put_u32(b, ev->err)) != 0 ||
		    (ret = mg__buf_put_str(b, ev->what)) != 0) {
			return ret;
		}
		return ev->fail_status != 0 ? mg__buf_put_u32(b, ev->fail_status) : 0;
	case MG_EXEC_EV_JOINED:
		return mg__buf_put_u32(b, ev->join_id);
	default:
		return 0;
	}
}

int mg__exec_event_decode(TALLOC_CTX *mem_ctx, const uint8_t *p, size_t n,
			  struct mg__exec_event *ev)
{
	struct mg_buf b;

	memset(ev, 0, sizeof(*ev));
	mg__buf_view(&b, p, n);
	if (mg__buf_get_u8(&b, &ev->type) != 0) {
		return MG_ERR_PROTOCOL;
	}
	switch (ev->type) {
	case MG_EXEC_EV_STARTED:
		if (mg__buf_get_u32(&b, &ev->pid) != 0 || mg__buf_get_u32(&b, &ev->h_stdin) != 0 ||
		    mg__buf_get_u32(&b, &ev->h_stdout_ack) != 0 ||
		    mg__buf_get_u32(&b, &ev->h_stderr_ack) != 0 || mg__buf_get_u32(&b, &ev->h_ctl) != 0) {
			return MG_ERR_PROTOCOL;
		}
		return 0;
	case MG_EXEC_EV_EXITED:
		return mg__buf_get_u32(&b, &ev->status) != 0 ? MG_ERR_PROTOCOL : 0;
	case MG_EXEC_EV_FAILED:
		if (mg__buf_get_u32(&b, &ev->err) != 0 || mg__buf_get_str(&b, mem_ctx, &ev->what) != 0) {
			return MG_ERR_PROTOCOL;
		}
		/* An optional status: 1 for a directory it could not enter. */
		return mg__buf_left(&b) > 0 && mg__buf_get_u32(&b, &ev->fail_status) != 0 ?
		       MG_ERR_PROTOCOL : 0;
	case MG_EXEC_EV_JOINED:
		return mg__buf_get_u32(&b, &ev->join_id) != 0 ? MG_ERR_PROTOCOL : 0;
	default:
		return 0;
	}
}

size_t mg__exec_ctl_encode(uint8_t *p, const struct mg__exec_ctl *c)
{
	mg__put_be32(p, c->op);
	if (c->op != MG_EXEC_CTL_WINSIZE) {
		return 4;
	}
	mg__put_be32(p + 4, c->rows);
	mg__put_be32(p + 8, c->cols);
	return 12;
}

int mg__exec_ctl_decode(const uint8_t *p, size_t n, struct mg__exec_ctl *c)
{
	struct mg_buf b;

	memset(c, 0, sizeof(*c));
	mg__buf_view(&b, p, n);
	if (mg__buf_get_u32(&b, &c->op) != 0 || c->op == 0) {
		return MG_ERR_PROTOCOL;
	}
	if (c->op == MG_EXEC_CTL_WINSIZE &&
	    (mg__buf_get_u32(&b, &c->rows) != 0 || mg__buf_get_u32(&b, &c->cols) != 0)) {
		return MG_ERR_PROTOCOL;
	}
	return 0;
}
