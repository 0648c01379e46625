/* Byte channels: see channel.h. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include "buf.h"
#include "channel.h"
#include "mitogen/error.h"
#include "mitogen/log.h"
#include "protocol.h"

struct mg_chan_out {
	struct mg_router *r;
	int fd;
	int old_flags;
	struct mg_io *io;
	struct mg_handler *ack;
	uint32_t dst;
	uint32_t handle;
	size_t credit;
	bool started;
	bool finished;
	uint8_t *buf;
	mg_chan_done_fn done;
	void *data;
};

struct pending {
	struct pending *next;
	struct mg_msg *msg;
	size_t off;
};

struct mg_chan_in {
	struct mg_router *r;
	int fd;
	int old_flags;
	bool keep_fd;
	struct mg_io *io;
	struct mg_handler *h;
	uint32_t src;
	uint32_t ack_handle;
	size_t window;		/* what the sender may have in flight */
	size_t inflight;	/* received and not yet credited back */
	size_t unacked;		/* written and not yet credited back */
	struct pending *head;
	struct pending *tail;
	bool eof;
	bool finished;
	bool held;		/* credit kept back (mg__chan_in_hold) */
	mg_chan_sink_fn sink;
	void *sink_data;
	mg_chan_done_fn done;
	void *data;
};

int mg__fd_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0) {
		return -errno;
	}
	if ((fl & O_NONBLOCK) == 0 && fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
		return -errno;
	}
	return fl;
}

static void restore_flags(int fd, int old)
{
	if (old >= 0 && (old & O_NONBLOCK) == 0) {
		fcntl(fd, F_SETFL, old);
	}
}

/* --- sending end --- */

static void out_finish(struct mg_chan_out *c, int err)
{
	if (c->finished) {
		return;
	}
	c->finished = true;
	TALLOC_FREE(c->io);
	if (c->fd >= 0) {
		restore_flags(c->fd, c->old_flags);
		close(c->fd);
		c->fd = -1;
	}
	if (c->done != NULL) {
		c->done(c->data, err);
	}
}

static void out_update(struct mg_chan_out *c)
{
	if (c->io != NULL) {
		mg_io_set(c->io, c->started && c->credit > 0 ? MG_IO_READ : 0);
	}
}

static void out_send_eof(struct mg_chan_out *c)
{
	if (c->started) {
		mg__router_send(c->r, c->dst, c->handle, mg__handler_handle(c->ack), 0, NULL, 0);
	}
}

static void on_out_readable(struct mg_io *io, unsigned events, void *data)
{
	struct mg_chan_out *c = talloc_get_type_abort(data, struct mg_chan_out);
	size_t want = c->credit < MG_CHUNK ? c->credit : MG_CHUNK;
	ssize_t n;
	int r;

	n = read(c->fd, c->buf, want);
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR) {
			return;
		}
		/* A PTY reports the far end's close as EIO. */
		if (errno != EIO) {
			mg_debug("channel read: %s", strerror(errno));
		}
		n = 0;
	}
	if (n == 0) {
		out_send_eof(c);
		out_finish(c, 0);
		return;
	}
	/* reply_to: if the reader is gone, the dead reply ends this side. */
	r = mg__router_send(c->r, c->dst, c->handle, mg__handler_handle(c->ack), 0,
			    c->buf, (size_t)n);
	if (r != 0) {
		out_finish(c, r);
		return;
	}
	c->credit -= (size_t)n;
	out_update(c);
}

static void on_ack(struct mg_router *r, struct mg_msg *m, void *data)
{
	struct mg_chan_out *c = talloc_get_type_abort(data, struct mg_chan_out);
	struct mg_buf b;
	uint32_t n;

	if ((m->flags & MG_F_DEAD) != 0) {
		/* The reader went away (or the context did). */
		out_finish(c, -EPIPE);
		return;
	}
	mg__buf_view(&b, m->data, m->len);
	if (mg__buf_get_u32(&b, &n) != 0) {
		return;
	}
	c->credit += n;
	out_update(c);
}

static int out_destructor(struct mg_chan_out *c)
{
	if (c->fd >= 0) {
		restore_flags(c->fd, c->old_flags);
		close(c->fd);
	}
	return 0;
}

struct mg_chan_out *mg__chan_out_new(TALLOC_CTX *mem_ctx, struct mg_router *r, int fd,
				     uint32_t dst, uint32_t window,
				     mg_chan_done_fn done, void *data)
{
	struct mg_chan_out *c = talloc_zero(mem_ctx, struct mg_chan_out);

	if (c == NULL) {
		return NULL;
	}
	c->r = r;
	c->fd = fd;
	c->old_flags = mg__fd_nonblock(fd);
	c->dst = dst;
	c->credit = window;
	c->done = done;
	c->data = data;
	talloc_set_destructor(c, out_destructor);
	c->buf = talloc_size(c, MG_CHUNK);
	c->ack = mg__router_add_handler(c, r, 0, MG_POL_RESPONDENT, dst, true, on_ack, c);
	c->io = mg_io_new(c, mg__router_loop(r), fd, 0, on_out_readable, c);
	if (c->buf == NULL || c->ack == NULL || c->io == NULL) {
		talloc_free(c);
		return NULL;
	}
	return c;
}

uint32_t mg__chan_out_ack_handle(const struct mg_chan_out *c)
{
	return mg__handler_handle(c->ack);
}

void mg__chan_out_start(struct mg_chan_out *c, uint32_t handle)
{
	c->handle = handle;
	c->started = true;
	out_update(c);
}

void mg__chan_out_close(struct mg_chan_out *c)
{
	if (!c->finished) {
		out_send_eof(c);
		out_finish(c, 0);
	}
}

/* --- receiving end --- */

static void in_finish(struct mg_chan_in *c, int err)
{
	if (c->finished) {
		return;
	}
	c->finished = true;
	TALLOC_FREE(c->io);
	while (c->head != NULL) {
		struct pending *p = c->head;
		c->head = p->next;
		talloc_free(p);
	}
	c->tail = NULL;
	if (c->fd >= 0) {
		restore_flags(c->fd, c->old_flags);
		if (!c->keep_fd) {
			close(c->fd);
		}
		c->fd = -1;
	}
	if (err != 0 && c->ack_handle != 0) {
		/* Tell the sender to stop. */
		const char *why = err == MG_ERR_PROTOCOL ? "rcvd too much data" : "reader closed";
		mg__router_send(c->r, c->src, c->ack_handle, 0, MG_F_DEAD, why, strlen(why));
	}
	if (c->done != NULL) {
		c->done(c->data, err);
	}
}

static void in_ack(struct mg_chan_in *c)
{
	uint8_t p[4];

	if (c->unacked == 0 || c->ack_handle == 0 || c->held) {
		return;
	}
	mg__put_be32(p, (uint32_t)c->unacked);
	if (mg__router_send(c->r, c->src, c->ack_handle, 0, 0, p, 4) == 0) {
		/* Only credit actually sent lets the sender send more. */
		c->inflight -= c->unacked;
		c->unacked = 0;
	}
}

static void in_flush(struct mg_chan_in *c)
{
	while (c->head != NULL) {
		struct pending *p = c->head;
		ssize_t n = write(c->fd, p->msg->data + p->off, p->msg->len - p->off);
		if (n < 0) {
			if (errno == EINTR) {
				continue;
			}
			if (errno == EAGAIN) {
				break;
			}
			in_finish(c, -errno);
			return;
		}
		p->off += (size_t)n;
		c->unacked += (size_t)n;
		if (p->off == p->msg->len) {
			c->head = p->next;
			if (c->head == NULL) {
				c->tail = NULL;
			}
			talloc_free(p);
		}
	}
	in_ack(c);
	if (c->head == NULL && c->eof) {
		in_finish(c, 0);
		return;
	}
	if (c->io != NULL) {
		mg_io_set(c->io, c->head != NULL ? MG_IO_WRITE : 0);
	}
}

static void on_in_writable(struct mg_io *io, unsigned events, void *data)
{
	in_flush(talloc_get_type_abort(data, struct mg_chan_in));
}

/*
 * The sender went past its credit: a protocol error, never a reason to
 * buffer more (a far end ignoring credit would fill our memory). OpenSSH
 * says "rcvd too much data" in the same case.
 */
static void over_window(struct mg_chan_in *c, size_t len)
{
	const char *name = mg__router_name(c->r, c->src);
	size_t past = c->inflight + len - c->window;

	/* The master's owners report it as their target's error; an agent
	 * has nobody else to say it. */
	if (mg__router_id(c->r) != 0) {
		mg_error("channel from context %u%s%s%s: rcvd too much data, %zu bytes past "
			 "its %zu-byte window", c->src, name != NULL ? " (" : "",
			 name != NULL ? name : "", name != NULL ? ")" : "", past, c->window);
	} else {
		mg_debug("channel from context %u: rcvd too much data, %zu bytes past its window",
			 c->src, past);
	}
	/* Later frames on the handle are dropped unread (c->finished). */
	in_finish(c, MG_ERR_PROTOCOL);
}

static void on_data(struct mg_router *r, struct mg_msg *m, void *data)
{
	struct mg_chan_in *c = talloc_get_type_abort(data, struct mg_chan_in);
	struct pending *p;

	if (c->finished) {
		return;
	}
	if ((m->flags & MG_F_DEAD) != 0 || m->len == 0) {
		/* EOF, or the sender's context is gone: drain then close. */
		c->eof = true;
		TALLOC_FREE(c->h);
		in_flush(c);
		return;
	}
	/* The sender's credit is exactly the window minus what we received
	 * and have not credited back: nothing past it may arrive. */
	if (m->len > c->window - c->inflight) {
		over_window(c, m->len);
		return;
	}
	c->inflight += m->len;
	if (c->sink != NULL) {
		c->sink(c->sink_data, m->data, m->len);
		c->unacked += m->len;
		in_ack(c);
		return;
	}
	if (c->head == NULL) {
		/* Nothing queued: write straight from the receive buffer. */
		size_t done = 0;
		while (done < m->len) {
			ssize_t n = write(c->fd, m->data + done, m->len - done);
			if (n < 0 && errno == EINTR) {
				continue;
			}
			if (n < 0 && errno == EAGAIN) {
				break;
			}
			if (n < 0) {
				in_finish(c, -errno);
				return;
			}
			done += (size_t)n;
		}
		c->unacked += done;
		if (done == m->len) {
			in_ack(c);
			return;
		}
		/* Keep the rest for when the fd is writable. */
		p = talloc_zero(c, struct pending);
		if (p == NULL || mg__msg_keep(p, m) != 0) {
			in_finish(c, -ENOMEM);
			return;
		}
		p->msg = m;
		p->off = done;
	} else {
		p = talloc_zero(c, struct pending);
		if (p == NULL || mg__msg_keep(p, m) != 0) {
			in_finish(c, -ENOMEM);
			return;
		}
		p->msg = m;
	}
	if (c->tail != NULL) {
		c->tail->next = p;
	} else {
		c->head = p;
	}
	c->tail = p;
	in_flush(c);
}

static int in_destructor(struct mg_chan_in *c)
{
	if (c->fd >= 0) {
		restore_flags(c->fd, c->old_flags);
		if (!c->keep_fd) {
			close(c->fd);
		}
	}
	return 0;
}

struct mg_chan_in *mg__chan_in_new(TALLOC_CTX *mem_ctx, struct mg_router *r, int fd,
				   uint32_t src, mg_chan_done_fn done, void *data)
{
	struct mg_chan_in *c = talloc_zero(mem_ctx, struct mg_chan_in);

	if (c == NULL) {
		return NULL;
	}
	c->r = r;
	c->fd = fd;
	c->old_flags = mg__fd_nonblock(fd);
	c->src = src;
	c->window = MG_WINDOW_DEFAULT;
	c->done = done;
	c->data = data;
	talloc_set_destructor(c, in_destructor);
	c->h = mg__router_add_handler(c, r, 0, MG_POL_RESPONDENT, src, true, on_data, c);
	c->io = mg_io_new(c, mg__router_loop(r), fd, 0, on_in_writable, c);
	if (c->h == NULL || c->io == NULL) {
		talloc_free(c);
		return NULL;
	}
	/* Pending output keeps the loop alive until written. */
	mg_io_set_keepalive(c->io, true);
	return c;
}

struct mg_chan_in *mg__chan_in_new_sink(TALLOC_CTX *mem_ctx, struct mg_router *r, uint32_t src,
					mg_chan_sink_fn sink, void *sink_data,
					mg_chan_done_fn done, void *data)
{
	struct mg_chan_in *c = talloc_zero(mem_ctx, struct mg_chan_in);

	if (c == NULL) {
		return NULL;
	}
	c->r = r;
	c->fd = -1;
	c->old_flags = -1;
	c->src = src;
	c->window = MG_WINDOW_DEFAULT;
	c->sink = sink;
	c->sink_data = sink_data;
	c->done = done;
	c->data = data;
	c->h = mg__router_add_handler(c, r, 0, MG_POL_RESPONDENT, src, true, on_data, c);
	if (c->h == NULL) {
		talloc_free(c);
		return NULL;
	}
	return c;
}

uint32_t mg__chan_in_handle(const struct mg_chan_in *c)
{
	return c->h != NULL ? mg__handler_handle(c->h) : 0;
}

void mg__chan_in_set_ack(struct mg_chan_in *c, uint32_t ack_handle)
{
	c->ack_handle = ack_handle;
	in_ack(c);
}

void mg__chan_in_hold(struct mg_chan_in *c, bool hold)
{
	c->held = hold;
	in_ack(c);
}

void mg__chan_in_keep_fd(struct mg_chan_in *c)
{
	c->keep_fd = true;
}

bool mg__chan_in_done(const struct mg_chan_in *c)
{
	return c->finished;
}
