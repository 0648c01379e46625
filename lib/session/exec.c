/* The master side of EXEC: see mitogen/exec.h; the messages are in
 * svc-exec-msg.c. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "buf.h"
#include "bcast.h"
#include "channel.h"
#include "fds.h"
#include "mitogen/context.h"
#include "mitogen/error.h"
#include "mitogen/exec.h"
#include "mitogen/log.h"
#include "protocol.h"
#include "session.h"
#include "images.h"
#include "inherit.h"
#include "svc-exec.h"

struct mg_exec {
	struct mg_router *r;
	struct mg_context *ctx;
	uint32_t id;
	struct mg_handler *events;
	struct mg_chan_in *out;
	struct mg_chan_in *err;
	struct mg_chan_out *in;
	struct mg_bcast_target *bcast;	/* NULL if its broadcast is freed first */
	bool bcast_in;			/* the input is a broadcast's */
	uint32_t h_stdin;		/* with bcast_in: the command's, once started */
	mg_exec_sink sink;
	void *sink_data;
	uint32_t h_ctl;
	bool started;
	bool exited;
	bool finished;
	int status;
	int outs_open;
	int pending_signal;
	int fail_status;   /* given with FAILED, or 0 */
	int write_err;     /* the first local write error of the output */
	int write_stream;
	mg_exec_cb cb;
	void *data;
	uint32_t join_id;  /* with opts->join */
	void (*on_join)(struct mg_exec *e, uint32_t id, void *data);
	void *join_data;
	/* pass_stdio: copies of what went (MG_EXEC_FD_*), and the request,
	 * kept until STARTED to send again relayed if they could not pass. */
	uint32_t pass_flags;
	struct mg_fds *pass;
	uint8_t *req;
	size_t req_len;
	bool req_public;
};

/* Nothing more comes after a failure: end the output channels as at EOF
 * now, not when e is freed, so that the caller's fds (their shared open
 * file, made non-blocking meanwhile) are as they were by the callback,
 * or once what is pending for them is written. */
static void end_outputs(struct mg_exec *e)
{
	if (e->out != NULL) {
		mg__chan_in_end(e->out);
	}
	if (e->err != NULL) {
		mg__chan_in_end(e->err);
	}
}

static void finish(struct mg_exec *e, int err, int exec_errno, const char *msg)
{
	struct mg_exec_result res = { 0 };

	if (e->finished) {
		return;
	}
	e->finished = true;
	res.err = err;
	res.errmsg = msg;
	res.exec_errno = exec_errno;
	res.fail_status = exec_errno != 0 ? e->fail_status : 0;
	res.wait_status = e->status;
	res.write_err = e->write_err;
	res.write_stream = e->write_stream;
	TALLOC_FREE(e->events);
	/* Stop reading our stdin; output channels have already finished, or
	 * end here. */
	TALLOC_FREE(e->in);
	if (err != 0) {
		end_outputs(e);
	}
	if (e->bcast != NULL) {
		mg__bcast_drop(e->bcast);
		e->bcast = NULL;
	}
	e->cb(e, &res, e->data);
}

static void maybe_done(struct mg_exec *e)
{
	if (e->exited && e->outs_open == 0) {
		finish(e, 0, 0, NULL);
	}
}

/* An output channel ended; 'what' names it for a protocol error. */
static void out_done(struct mg_exec *e, int stream, const char *what, int err)
{
	char *msg;

	e->outs_open--;
	if (err != MG_ERR_PROTOCOL) {
		/* A local write error: the far end was told to stop sending
		 * (its command's writes fail as into a closed pipe); the
		 * caller decides what it means for the result. */
		if (err < 0 && e->write_err == 0) {
			e->write_err = err;
			e->write_stream = stream;
		}
		maybe_done(e);
		return;
	}
	/* The far end ignored its credit: fail the target rather than buffer
	 * without bound. finish() may free e: the message is not on it. */
	msg = talloc_asprintf(NULL, "%s: rcvd too much data on %s (more than its %u MiB "
			      "window): protocol error, dropped", mg_context_name(e->ctx), what,
			      MG_WINDOW_DEFAULT >> 20);
	finish(e, MG_ERR_PROTOCOL, 0, msg != NULL ? msg : "rcvd too much data");
	talloc_free(msg);
}

static void on_stdout_done(void *data, int err)
{
	out_done(talloc_get_type_abort(data, struct mg_exec), 1, "stdout", err);
}

static void on_stderr_done(void *data, int err)
{
	out_done(talloc_get_type_abort(data, struct mg_exec), 2, "stderr", err);
}

static void on_in_done(void *data, int err)
{
}

static void send_ctl(struct mg_exec *e, const struct mg__exec_ctl *c)
{
	uint8_t p[12];

	mg__router_send(e->r, e->id, e->h_ctl, 0, 0, p, mg__exec_ctl_encode(p, c));
}

static void send_signal(struct mg_exec *e, int signo)
{
	struct mg__exec_ctl c = { .op = (uint32_t)signo };

	send_ctl(e, &c);
}

static int relay_instead(struct mg_exec *e);

/* What stays of an exec freed before its command started: the events
 * handle, to end the command's input once it has one. */
struct orphan {
	struct mg_router *r;
	uint32_t id;
};

static void orphan_event(struct mg_router *r, struct mg_msg *m, void *data)
{
	struct orphan *o = talloc_get_type_abort(data, struct orphan);
	struct mg__exec_event ev;

	if ((m->flags & MG_F_DEAD) == 0) {
		if (mg__exec_event_decode(m, m->data, m->len, &ev) != 0) {
			return;
		}
		if (ev.type == MG_EXEC_EV_STARTED && ev.h_stdin != 0) {
			mg__router_send(r, o->id, ev.h_stdin, 0, 0, NULL, 0);
		} else if (ev.type != MG_EXEC_EV_EXITED && ev.type != MG_EXEC_EV_FAILED) {
			return;
		}
	}
	/* Started (its input ended), failed, or its context lost. */
	talloc_free(o);
}

/*
 * Freed before cb: nothing will be sent to the command any more, so its
 * input ends, as when ours does (a command reading it would wait for
 * ever), and a shared input stops waiting for it. Its output has nowhere
 * to go: its writes fail as into a closed pipe. It is not signalled.
 */
static int exec_destructor(struct mg_exec *e)
{
	struct orphan *o;
	uint32_t h;

	if (e->bcast != NULL) {
		/* Its command will never read it: a failed start too. */
		mg__bcast_drop(e->bcast);
		e->bcast = NULL;
	}
	if (e->finished) {
		return 0;
	}
	if (e->in == NULL && !e->bcast_in) {
		return 0;	/* /dev/null, or the caller's own fd */
	}
	if (e->started) {
		if (e->in != NULL) {
			mg__chan_out_close(e->in);
		} else if (e->h_stdin != 0) {
			mg__router_send(e->r, e->id, e->h_stdin, 0, 0, NULL, 0);
		}
		return 0;
	}
	if (mg_context_gone(e->ctx)) {
		return 0;	/* and so is the command */
	}
	/* Its input handle comes with STARTED: wait for it on our own. */
	h = mg__handler_handle(e->events);
	TALLOC_FREE(e->events);
	o = talloc_zero(mg__context_session(e->ctx), struct orphan);
	if (o == NULL) {
		return 0;
	}
	o->r = e->r;
	o->id = e->id;
	if (mg__router_add_handler(o, e->r, h, MG_POL_RESPONDENT, e->id, true, orphan_event, o) == NULL) {
		talloc_free(o);
	}
	return 0;
}

static void on_event(struct mg_router *r, struct mg_msg *m, void *data)
{
	struct mg_exec *e = talloc_get_type_abort(data, struct mg_exec);
	struct mg__exec_event ev;
	char *msg;

	if ((m->flags & MG_F_DEAD) != 0) {
		msg = talloc_asprintf(m, "%s: %.*s", mg_context_name(e->ctx), (int)m->len,
				      (const char *)m->data);
		finish(e, MG_ERR_DISCONNECTED, 0, msg != NULL ? msg : "hop lost");
		return;
	}
	if (mg__exec_event_decode(m, m->data, m->len, &ev) != 0) {
		return;
	}
	switch (ev.type) {
	case MG_EXEC_EV_STARTED:
		if (e->started) {
			return;
		}
		e->started = true;
		e->h_ctl = ev.h_ctl;
		/* The far end has its own now. */
		TALLOC_FREE(e->pass);
		TALLOC_FREE(e->req);
		mg__chan_in_set_ack(e->out, ev.h_stdout_ack);
		mg__chan_in_set_ack(e->err, ev.h_stderr_ack);
		if (e->in != NULL) {
			mg__chan_out_start(e->in, ev.h_stdin);
		} else if (e->bcast != NULL) {
			e->h_stdin = ev.h_stdin;
			mg__bcast_start(e->bcast, ev.h_stdin);
		} else if (e->bcast_in) {
			/* Its broadcast was freed, input and all: the end. */
			mg__router_send(e->r, e->id, ev.h_stdin, 0, 0, NULL, 0);
		}
		/* No stdin (MG_EXEC_NO_STDIN): the command has /dev/null, and
		 * nothing waits for an end of file on h_stdin. */
		if (e->pending_signal != 0) {
			send_signal(e, e->pending_signal);
		}
		break;
	case MG_EXEC_EV_EXITED:
		if (!e->started) {
			return;
		}
		if (e->ctx->state == CTX_GONE) {
			/* Its loss came first: a master shutting it down tells
			 * us before its agent stops the command. */
			finish(e, MG_ERR_DISCONNECTED, 0,
			       e->ctx->errmsg != NULL ? e->ctx->errmsg : "hop lost");
			break;
		}
		e->exited = true;
		e->status = (int)ev.status;
		maybe_done(e);
		break;
	case MG_EXEC_EV_FAILED: {
		if (ev.err == EOPNOTSUPP && e->pass != NULL && !e->started) {
			/* A link on the way could not carry them. */
			mg_debug("%s: %s: relaying stdio", mg_context_name(e->ctx), MG_FDS_REFUSED);
			if (relay_instead(e) != 0) {
				finish(e, -ENOMEM, 0, "out of memory");
			}
			break;
		}
		msg = talloc_asprintf(m, "%s: %s", mg_context_name(e->ctx),
				      ev.what != NULL ? ev.what : "?");
		e->fail_status = ev.fail_status < 256 ? (int)ev.fail_status : 0;
		finish(e, MG_ERR_DEAD, (int)ev.err, msg != NULL ? msg : "cannot start");
		break;
	}
	case MG_EXEC_EV_JOINED:
		/* The agent sent it after ADD_ROUTE, the same way up. */
		if (e->join_id == 0 || ev.join_id != e->join_id || e->on_join == NULL ||
		    !mg__router_reachable(e->r, e->join_id)) {
			return;
		}
		{
			void (*fn)(struct mg_exec *, uint32_t, void *) = e->on_join;
			e->on_join = NULL;
			fn(e, e->join_id, e->join_data);
		}
		break;
	default:
		break;
	}
}

static void sink_out(void *data, const uint8_t *p, size_t n)
{
	struct mg_exec *e = talloc_get_type_abort(data, struct mg_exec);

	e->sink(e->sink_data, 1, p, n);
}

static void sink_err(void *data, const uint8_t *p, size_t n)
{
	struct mg_exec *e = talloc_get_type_abort(data, struct mg_exec);

	e->sink(e->sink_data, 2, p, n);
}

static int dup_fd(int fd)
{
	struct stat st;
	int nfd = fd < 0 ? -1 : fcntl(fd, F_DUPFD_CLOEXEC, 3);

	/* A bigger pipe means fewer, larger messages; failure is harmless. */
	if (nfd >= 0 && fstat(nfd, &st) == 0 && S_ISFIFO(st.st_mode)) {
		fcntl(nfd, F_SETPIPE_SZ, MG_PIPE_SIZE);
	}
	return nfd;
}

/* Whether fd may be handed to the command itself (pass_stdio). */
static bool passable(int fd, bool output)
{
	int fl = fd < 0 ? -1 : fcntl(fd, F_GETFL);
	struct stat st;

	/* A terminal stays ours, as with ssh; a non-blocking file would
	 * surprise a command that never asked for it (EAGAIN). An output
	 * that is a device (/dev/null) is not: the far end tells when the
	 * command's group lets go of it by the file alone, and a job sent
	 * to the background >/dev/null would hold the run. */
	return fl >= 0 && (fl & O_NONBLOCK) == 0 && !isatty(fd) && fstat(fd, &st) == 0 &&
	       !(output && (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)));
}

/* Which of its stdio to hand the command (MG_EXEC_FD_*), with copies in
 * e->pass in that order. */
static uint32_t pass_stdio(struct mg_exec *e, const struct mg_exec_opts *opts)
{
	uint32_t flags = 0;

	if (!opts->pass_stdio || opts->pty || opts->join ||
	    mg__context_session(e->ctx)->remote != NULL || (e->pass = mg__fds_new(e)) == NULL) {
		return 0;
	}
	if (opts->stdin_bcast == NULL && passable(opts->stdin_fd, false) &&
	    mg__fds_add_dup(e->pass, opts->stdin_fd) == 0) {
		flags |= MG_EXEC_FD_IN;
	}
	if (opts->sink == NULL && passable(opts->stdout_fd, true) &&
	    mg__fds_add_dup(e->pass, opts->stdout_fd) == 0) {
		flags |= MG_EXEC_FD_OUT;
	}
	if (opts->sink == NULL && passable(opts->stderr_fd, true) &&
	    mg__fds_add_dup(e->pass, opts->stderr_fd) == 0) {
		flags |= MG_EXEC_FD_ERR;
	}
	if (flags == 0) {
		TALLOC_FREE(e->pass);
	}
	e->pass_flags = flags;
	return flags;
}

/* Nothing comes on a passed stream's channel but its end. */
static void sink_none(void *data, const uint8_t *p, size_t n)
{
}

/* The output channel for fd, or for nothing when it was passed. */
/* NULL with *err set when fd cannot be duplicated (EMFILE). */
static struct mg_chan_in *out_chan(struct mg_exec *e, int fd, bool passed, mg_chan_done_fn done,
				   int *err)
{
	int nfd;

	if (passed) {
		return mg__chan_in_new_sink(e, e->r, e->id, sink_none, e, done, e);
	}
	if ((nfd = dup_fd(fd)) < 0 && fd >= 0) {
		*err = -errno;
		return NULL;
	}
	return mg__chan_in_new(e, e->r, nfd, e->id, done, e);
}

static int send_req(struct mg_exec *e, const uint8_t *p, size_t n, uint16_t flags)
{
	uint32_t h = mg__handler_handle(e->events);

	if (e->pass != NULL) {
		return mg__router_send_fds(e->r, e->id, MG_H_EXEC, h, flags, p, n, e->pass);
	}
	/* Without an environment it holds nothing the far host's process
	 * list will not show anyway once the command runs: it may ride in
	 * an ssh hop's command line (PROTOCOL 2.2). */
	return e->req_public ? mg__router_send_public(e->r, e->id, MG_H_EXEC, h, flags, p, n)
			     : mg__router_send(e->r, e->id, MG_H_EXEC, h, flags, p, n);
}

/* The passed stdio could not reach the far end: the same request again,
 * with channels for them from the copies we kept. */
static int relay_instead(struct mg_exec *e)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	struct mg__exec_req rq;
	struct mg_buf *b = NULL;
	unsigned k = 0;
	int ret = -ENOMEM;

	if (tmp == NULL || mg__exec_req_decode(tmp, e->req, e->req_len, &rq) != 0) {
		goto out;
	}
	if ((e->pass_flags & MG_EXEC_FD_IN) != 0) {
		e->in = mg__chan_out_new(e, e->r, dup_fd(e->pass->fd[k++]), e->id, MG_WINDOW_DEFAULT,
					 on_in_done, e);
		if (e->in == NULL) {
			goto out;
		}
		rq.h_in_ack = mg__chan_out_ack_handle(e->in);
	}
	if ((e->pass_flags & MG_EXEC_FD_OUT) != 0) {
		TALLOC_FREE(e->out);
		if ((e->out = out_chan(e, e->pass->fd[k++], false, on_stdout_done, &ret)) == NULL) {
			goto out;
		}
		rq.h_out = mg__chan_in_handle(e->out);
	}
	if ((e->pass_flags & MG_EXEC_FD_ERR) != 0) {
		TALLOC_FREE(e->err);
		if ((e->err = out_chan(e, e->pass->fd[k++], false, on_stderr_done, &ret)) == NULL) {
			goto out;
		}
		rq.h_err = mg__chan_in_handle(e->err);
	}
	rq.flags &= ~(MG_EXEC_FD_IN | MG_EXEC_FD_OUT | MG_EXEC_FD_ERR);
	TALLOC_FREE(e->pass);
	e->pass_flags = 0;
	b = mg__buf_new(tmp, mg__router_max_msg(e->r));
	if (b != NULL && mg__exec_req_encode(b, &rq) == 0) {
		ret = send_req(e, b->data, b->len, 0);
	}
out:
	talloc_free(tmp);
	return ret;
}

struct mg_exec *mg_exec_start(TALLOC_CTX *mem_ctx, struct mg_context *ctx,
			      const struct mg_exec_opts *opts, mg_exec_cb cb, void *data)
{
	struct mg_exec *e = talloc_zero(mem_ctx, struct mg_exec);
	struct mg_buf *b = NULL;
	struct mg__exec_req rq = { 0 };
	uint32_t flags = (opts->shell ? MG_EXEC_SHELL : 0) |
			 (opts->shell && opts->posix_sh ? MG_EXEC_SH : 0) |
			 (opts->stdin_fd < 0 && opts->stdin_bcast == NULL ? MG_EXEC_NO_STDIN : 0) |
			 (opts->program != NULL ? MG_EXEC_IMAGE : 0) |
			 (opts->pty ? MG_EXEC_PTY : 0) |
			 (opts->join ? MG_EXEC_JOIN : 0);
	uint32_t pass;
	int fd, err = -ENOMEM;

	if (e == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	if (opts->join && mg__context_session(ctx)->remote != NULL) {
		/* Ids are the master's to hand out. */
		talloc_free(e);
		errno = EOPNOTSUPP;
		return NULL;
	}
	e->r = mg__session_router(mg__context_session(ctx));
	e->ctx = ctx;
	e->id = mg__context_id(ctx);
	e->cb = cb;
	e->data = data;
	talloc_set_destructor(e, exec_destructor);
	if (opts->join) {
		e->join_id = mg__session_new_id(mg__context_session(ctx));
		e->on_join = opts->on_join;
		e->join_data = opts->join_data;
	}
	e->events = mg__router_add_handler(e, e->r, 0, MG_POL_RESPONDENT, e->id, true, on_event, e);
	if (e->events == NULL) {
		goto fail;
	}
	pass = pass_stdio(e, opts);
	flags |= pass;
	if (opts->sink != NULL) {
		e->sink = opts->sink;
		e->sink_data = opts->sink_data;
		e->out = mg__chan_in_new_sink(e, e->r, e->id, sink_out, e, on_stdout_done, e);
		e->err = mg__chan_in_new_sink(e, e->r, e->id, sink_err, e, on_stderr_done, e);
	} else {
		e->out = out_chan(e, opts->stdout_fd, (pass & MG_EXEC_FD_OUT) != 0, on_stdout_done, &err);
		e->err = e->out == NULL ? NULL :
			 out_chan(e, opts->stderr_fd, (pass & MG_EXEC_FD_ERR) != 0, on_stderr_done, &err);
	}
	if (e->out == NULL || e->err == NULL) {
		goto fail;
	}
	e->outs_open = 2;
	if (opts->stdin_bcast != NULL) {
		e->bcast = opts->stdin_bcast;
		e->bcast_in = true;
		if (mg__bcast_bind(e->bcast, e->id, &e->bcast) != 0) {
			goto fail;
		}
	} else if (opts->stdin_fd >= 0 && (pass & MG_EXEC_FD_IN) == 0) {
		if ((fd = dup_fd(opts->stdin_fd)) < 0) {
			err = -errno;
			goto fail;
		}
		e->in = mg__chan_out_new(e, e->r, fd, e->id, MG_WINDOW_DEFAULT, on_in_done, e);
		if (e->in == NULL) {
			goto fail;
		}
	}
	rq.flags = flags;
	rq.argv = (char **)opts->argv;
	rq.h_out = mg__chan_in_handle(e->out);
	rq.h_err = mg__chan_in_handle(e->err);
	rq.h_in_ack = e->in != NULL ? mg__chan_out_ack_handle(e->in)
		      : e->bcast != NULL ? mg__bcast_ack_handle(e->bcast) : 0;
	rq.cwd = (char *)opts->cwd;
	rq.env = (char **)opts->env;
	if (opts->program != NULL) {
		rq.image_id = opts->program->id;
		rq.image_size = opts->program->size;
		rq.machine = opts->program->machine;
	}
	rq.rows = opts->rows;
	rq.cols = opts->cols;
	if (opts->pty && opts->modes != NULL) {
		uint8_t *m = talloc_size(e, MG_TTY_MODES_MAX);
		if (m == NULL) {
			goto fail;
		}
		rq.flags |= MG_EXEC_PTY_MODES;
		rq.modes = m;
		rq.n_modes = mg__tty_modes_put(m, opts->modes);
	}
	rq.join_id = e->join_id;
	if ((err = mg__exec_inherit(e, opts->inherit, opts->env, &rq)) != 0) {
		goto fail;
	}
	err = -ENOMEM;
	b = mg__buf_new(e, mg__router_max_msg(e->r));
	if (b == NULL || (err = mg__exec_req_encode(b, &rq)) != 0) {
		err = err != 0 ? err : -ENOMEM;
		goto fail;
	}
	err = -ENOMEM;
	e->req_public = rq.env == NULL || rq.env[0] == NULL;
	if (e->pass != NULL && (e->req = talloc_memdup(e, b->data, b->len)) == NULL) {
		goto fail;
	}
	e->req_len = b->len;
	if ((err = send_req(e, b->data, b->len, opts->join ? MG_F_OPEN : 0)) != 0) {
		goto fail;
	}
	talloc_free(b);
	return e;
fail:
	/* Out of descriptors deep down (a stream's second one, a message's
	 * copies) comes back as NULL, ENOMEM's sign: the errno it left
	 * tells, where an allocation that failed would have set ENOMEM. */
	if (err == -ENOMEM && (errno == EMFILE || errno == ENFILE)) {
		err = -errno;
	}
	e->finished = true;	/* nothing was started */
	talloc_free(e);
	errno = -err;	/* after the frees, which may close descriptors */
	return NULL;
}

uint32_t mg_exec_join_id(const struct mg_exec *e)
{
	return e->join_id;
}

int mg_exec_signal(struct mg_exec *e, int signo)
{
	if (e->finished) {
		return 0;
	}
	if (!e->started) {
		e->pending_signal = signo;
		return 0;
	}
	send_signal(e, signo);
	return 0;
}

bool mg_exec_started(const struct mg_exec *e)
{
	return e->started;
}

int mg_exec_winsize(struct mg_exec *e, unsigned rows, unsigned cols)
{
	struct mg__exec_ctl c = { .op = MG_EXEC_CTL_WINSIZE, .rows = rows, .cols = cols };
	uint8_t p[12];

	if (e->finished || !e->started) {
		return 0;
	}
	return mg__router_send(e->r, e->id, e->h_ctl, 0, 0, p, mg__exec_ctl_encode(p, &c));
}

void mg_exec_hold_output(struct mg_exec *e, bool hold)
{
	if (e->sink != NULL) {
		mg__chan_in_hold(e->out, hold);
		mg__chan_in_hold(e->err, hold);
	}
}

void mg_exec_drop_output(struct mg_exec *e, int stream)
{
	struct mg_chan_in *c = stream == 1 ? e->out : stream == 2 ? e->err : NULL;

	if (e->sink != NULL && c != NULL) {
		mg__chan_in_abort(c, -EPIPE);
	}
}
