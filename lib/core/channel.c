/* Byte channels: see channel.h. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
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
	bool no_splice;
	int cp[2];		/* pipe a read is spliced into, -1 until needed */
	uint8_t *buf;
	mg_chan_done_fn done;
	void *data;
};

/* Pipes for pending tails. A pipe holds at most pipe-max-size (1 MiB
 * unless raised), and a window is 2 MiB: with two, a window waiting for a
 * slow reader stays in pipes rather than being read into memory. */
#define QP_N 2

/* Bytes the descriptor could not take yet: in buf, or (buf NULL) at the
 * front of the channel's pipe qp[pipe]. */
struct pending {
	struct pending *next;
	uint8_t *buf;
	size_t len;
	size_t off;
	unsigned pipe;
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
	bool full_on_short;	/* fd a pipe or socket: a short write means full */
	bool guard_pipe;	/* and SIGPIPE not ignored: block it to write */
	int qp[QP_N][2];	/* pipes of pending tails, -1 until needed */
	mg_chan_sink_fn sink;
	void *sink_data;
	uint8_t *piece;		/* a sink's buffer for tails */
	mg_chan_done_fn done;
	void *data;
	bool *gone;		/* set by the destructor: a sink call on the stack */
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

/* Move what the descriptor has into cp and send it from there: the
 * bytes are not copied here (docs/PROTOCOL.md section 7). */
static void out_splice(struct mg_chan_out *c, size_t want)
{
	struct mg_tail t;
	ssize_t n;
	int r;

	/* Made at the first read: most channels (stderr) carry little. */
	if (c->cp[0] < 0 && mg__tail_pipe(c->cp, MG_CHUNK) != 0) {
		c->no_splice = true;
		out_update(c);
		return;
	}
	t.fd = c->cp[0];
	do {
		n = splice(c->fd, NULL, c->cp[1], NULL, want, SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
	} while (n < 0 && errno == EINTR);
	if (n < 0 && errno == EAGAIN) {
		return;
	}
	if (n < 0 && errno == EINVAL) {
		/* Not a descriptor splice takes after all: read it. */
		c->no_splice = true;
		out_update(c);
		return;
	}
	if (n <= 0) {
		if (n < 0 && errno != EIO) {
			mg_debug("channel read: %s", strerror(errno));
		}
		out_send_eof(c);
		out_finish(c, 0);
		return;
	}
	t.len = (size_t)n;
	r = mg__router_send_tail(c->r, c->dst, c->handle, mg__handler_handle(c->ack), &t);
	/* Nothing may stay for the next read to follow. */
	mg__tail_discard(&t);
	if (r != 0) {
		out_finish(c, r);
		return;
	}
	c->credit -= (size_t)n;
	out_update(c);
}

/* Less than this waiting is read, not spliced: the frame then leaves in
 * one write, where a spliced one is a header write and a body splice,
 * and a reader such as ssh wakes up (and sends a packet) for each. */
#define SPLICE_MIN (64u << 10)

/* Whether what the descriptor holds now is worth a splice. */
static bool worth_splice(struct mg_chan_out *c)
{
	int avail = 0;

	return ioctl(c->fd, FIONREAD, &avail) != 0 || avail <= 0 || (size_t)avail >= SPLICE_MIN;
}

static void on_out_readable(struct mg_io *io, unsigned events, void *data)
{
	struct mg_chan_out *c = talloc_get_type_abort(data, struct mg_chan_out);
	size_t want = c->credit < MG_CHUNK ? c->credit : MG_CHUNK;
	ssize_t n;
	int r;

	if (!c->no_splice && worth_splice(c)) {
		/* Frames a receiver can splice whole (stream.c). */
		out_splice(c, want < MG_TAIL_CHUNK ? want : MG_TAIL_CHUNK);
		return;
	}
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
	mg__tail_pipe_close(c->cp);
	TALLOC_FREE(c->io); /* before its fd is closed (mg_io_new) */
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
	c->cp[0] = c->cp[1] = -1;
	talloc_set_destructor(c, out_destructor);
	c->no_splice = !mg__tail_fd(fd, true);
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

/* A write to an fd whose reader is gone fails with EPIPE here (the done
 * callback's error, mg_exec's write_err), not with a SIGPIPE that would
 * end a program leaving the signal at its default: it is blocked around
 * the write, and the one the write raised taken back, unless the program
 * blocks it itself. Nothing is done where it is ignored (guard_pipe). */
static void sigpipe_block(const struct mg_chan_in *c, sigset_t *old)
{
	sigset_t s;

	if (c->guard_pipe) {
		sigemptyset(&s);
		sigaddset(&s, SIGPIPE);
		pthread_sigmask(SIG_BLOCK, &s, old);
	}
}

static void sigpipe_unblock(const struct mg_chan_in *c, const sigset_t *old, bool epipe)
{
	int saved = errno;

	if (!c->guard_pipe) {
		return;
	}
	if (epipe && !sigismember(old, SIGPIPE)) {
		static const struct timespec zero;
		sigset_t s;

		sigemptyset(&s);
		sigaddset(&s, SIGPIPE);
		while (sigtimedwait(&s, NULL, &zero) < 0 && errno == EINTR) {
		}
	}
	pthread_sigmask(SIG_SETMASK, old, NULL);
	errno = saved;
}

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

/* Credit goes back once this much of the window is written (or at the
 * end): the sender keeps at least the rest of its window, and a stream of
 * small writes costs one credit frame per ACK_DIV-th of a window, not one
 * per write (each crossing every hop back, waking each relay on the way). */
#define ACK_DIV 8u

static void in_ack(struct mg_chan_in *c)
{
	uint8_t p[4];
	/* The end: once all is written, not at each write to a slow reader. */
	bool end = c->eof && c->head == NULL;

	if (c->finished || c->unacked == 0 || c->ack_handle == 0 || c->held ||
	    (c->unacked < c->window / ACK_DIV && !end)) {
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
		ssize_t n;
		sigset_t old;
		sigpipe_block(c, &old);
		if (p->buf == NULL) {
			n = splice(c->qp[p->pipe][0], NULL, c->fd, NULL, p->len - p->off,
				   SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
		} else {
			n = write(c->fd, p->buf + p->off, p->len - p->off);
		}
		sigpipe_unblock(c, &old, n < 0 && errno == EPIPE);
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
		if (p->off < p->len && c->full_on_short) {
			/* Full: another try now would only say EAGAIN. */
			break;
		}
		if (p->off == p->len) {
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

void mg__chan_in_abort(struct mg_chan_in *c, int err)
{
	in_finish(c, err);
}

/* EOF, or the sender's context is gone: drain then close. */
static void in_end(struct mg_chan_in *c)
{
	c->eof = true;
	TALLOC_FREE(c->h);
	in_flush(c);
}

void mg__chan_in_end(struct mg_chan_in *c)
{
	if (!c->finished) {
		in_end(c);
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

/* Write what fd takes now of p[0..n); how much, and *_err on a write
 * error (the caller finishes: its done callback may free c). */
static size_t write_now(struct mg_chan_in *c, const uint8_t *p, size_t n, int *_err)
{
	size_t done = 0;

	while (done < n) {
		sigset_t old;
		ssize_t k;

		sigpipe_block(c, &old);
		k = write(c->fd, p + done, n - done);
		sigpipe_unblock(c, &old, k < 0 && errno == EPIPE);
		if (k < 0 && errno == EINTR) {
			continue;
		}
		if (k < 0 && errno == EAGAIN) {
			break;
		}
		if (k < 0) {
			*_err = -errno;
			break;
		}
		done += (size_t)k;
	}
	c->unacked += done;
	return done;
}

static struct pending *in_add(struct mg_chan_in *c, uint8_t *buf, size_t len, unsigned pipe)
{
	struct pending *p;

	if (buf == NULL && c->tail != NULL && c->tail->buf == NULL && c->tail->pipe == pipe) {
		/* Next in the pipe after the last piped bytes. */
		c->tail->len += len;
		return c->tail;
	}
	p = talloc_zero(c, struct pending);
	if (p == NULL) {
		return NULL;
	}
	p->buf = talloc_steal(p, buf);
	p->len = len;
	p->pipe = pipe;
	if (c->tail != NULL) {
		c->tail->next = p;
	} else {
		c->head = p;
	}
	c->tail = p;
	return p;
}

/* Keep what is left of m from byte 'done' of its memory part (the first
 * 'mem' bytes) on: that copied, the tail moved into qp while it fits. */
static int in_queue(struct mg_chan_in *c, struct mg_msg *m, size_t mem, size_t done)
{
	struct mg_tail *t = m->tail;
	uint8_t *buf;

	if (done < mem) {
		buf = talloc_memdup(NULL, m->data + done, mem - done);
		if (buf == NULL || in_add(c, buf, mem - done, 0) == NULL) {
			talloc_free(buf);
			in_finish(c, -ENOMEM);
			return -ENOMEM;
		}
	}
	while (t != NULL && t->len > 0) {
		ssize_t n = -1;
		unsigned i;
		/* The first pipe with room; each keeps its bytes in order, and
		 * the pending list says which pipe holds what. */
		for (i = 0; i < QP_N && n <= 0; i++) {
			if (c->qp[i][0] >= 0 || mg__tail_pipe(c->qp[i], 2 * MG_WINDOW_DEFAULT) == 0) {
				n = mg__tail_splice(t, c->qp[i][1]);
			}
		}
		if (n > 0) {
			if (in_add(c, NULL, (size_t)n, i - 1) == NULL) {
				in_finish(c, -ENOMEM);
				return -ENOMEM;
			}
			continue;
		}
		/* The pipes are full: the rest waits in memory. */
		buf = talloc_size(NULL, t->len);
		n = t->len;
		if (buf == NULL || mg__tail_read(t, buf, (size_t)n) != n ||
		    in_add(c, buf, (size_t)n, 0) == NULL) {
			talloc_free(buf);
			in_finish(c, -ENOMEM);
			return -ENOMEM;
		}
	}
	return 0;
}

/* The piece of a tail a sink is given at a time: read into one buffer,
 * kept, it stays in cache for the sink (a checksum, a write) and costs
 * no new pages per message, as copying each message out whole did. */
#define SINK_PIECE (128u << 10)

/* Hand bytes to the sink, which may free c (its owner is done with the
 * output) or end it (mg__chan_in_abort): false then, and c is not to be
 * touched if it was freed. */
static bool sink_call(struct mg_chan_in *c, const uint8_t *p, size_t n)
{
	bool gone = false, *saved = c->gone;

	c->gone = &gone;
	c->sink(c->sink_data, p, n);
	if (gone) {
		if (saved != NULL) {
			*saved = true;
		}
		return false;
	}
	c->gone = saved;
	return !c->finished;
}

static int sink_tail(struct mg_chan_in *c, struct mg_tail *t)
{
	while (t->len > 0) {
		ssize_t n = -ENOMEM;

		if (c->piece != NULL || (c->piece = talloc_size(c, SINK_PIECE)) != NULL) {
			n = mg__tail_read(t, c->piece, SINK_PIECE);
		}
		if (n < 0) {
			in_finish(c, (int)n);
			return (int)n;
		}
		if (!sink_call(c, c->piece, (size_t)n)) {
			return -EPIPE;
		}
	}
	return 0;
}

static void on_data(struct mg_router *r, struct mg_msg *m, void *data)
{
	struct mg_chan_in *c = talloc_get_type_abort(data, struct mg_chan_in);
	/* Fixed now: taking from the tail shortens it. */
	size_t mem = mg__msg_mem_len(m);

	if (c->finished) {
		return;
	}
	if ((m->flags & MG_F_DEAD) != 0 || m->len == 0) {
		in_end(c);
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
		if (!sink_call(c, m->data, mem) ||
		    (m->tail != NULL && sink_tail(c, m->tail) != 0)) {
			return;
		}
		c->unacked += m->len;
		in_ack(c);
		return;
	}
	if (c->head == NULL) {
		/* Nothing queued: straight from the receive buffer (or pipe). */
		int err = 0;
		size_t done = write_now(c, m->data, mem, &err);
		if (err != 0) {
			in_finish(c, err);
			return;
		}
		if (done == mem && m->tail != NULL) {
			ssize_t n;
			sigset_t old;
			sigpipe_block(c, &old);
			while ((n = mg__tail_splice(m->tail, c->fd)) > 0) {
				c->unacked += (size_t)n;
			}
			sigpipe_unblock(c, &old, n == -EPIPE);
			if (n < 0 && n != -EAGAIN) {
				in_finish(c, (int)n);
				return;
			}
		}
		if (in_queue(c, m, mem, done) != 0) {
			return;
		}
		if (c->head == NULL) {
			in_ack(c);
			return;
		}
	} else {
		/* Behind bytes the descriptor could not take: they wait for it
		 * to be writable (in_flush asked), these after them. */
		in_queue(c, m, mem, 0);
		return;
	}
	in_flush(c);
}

static int in_destructor(struct mg_chan_in *c)
{
	if (c->gone != NULL) {
		*c->gone = true;
	}
	for (unsigned i = 0; i < QP_N; i++) {
		mg__tail_pipe_close(c->qp[i]);
	}
	TALLOC_FREE(c->io); /* before its fd is closed (mg_io_new) */
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
	struct sigaction sa;
	struct stat st;

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
	c->full_on_short = fstat(fd, &st) == 0 && (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode));
	/* Two more syscalls a write, only where a SIGPIPE could come and
	 * would not be ignored (our commands and agents ignore it). */
	c->guard_pipe = c->full_on_short && sigaction(SIGPIPE, NULL, &sa) == 0 &&
			sa.sa_handler != SIG_IGN;
	memset(c->qp, -1, sizeof(c->qp));
	talloc_set_destructor(c, in_destructor);
	c->h = mg__router_add_handler(c, r, 0, MG_POL_RESPONDENT, src, true, on_data, c);
	if (c->h != NULL && mg__tail_fd(fd, false)) {
		mg__handler_take_tails(c->h);
	}
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
	memset(c->qp, -1, sizeof(c->qp));
	talloc_set_destructor(c, in_destructor);
	c->h = mg__router_add_handler(c, r, 0, MG_POL_RESPONDENT, src, true, on_data, c);
	if (c->h == NULL) {
		talloc_free(c);
		return NULL;
	}
	mg__handler_take_tails(c->h);
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
