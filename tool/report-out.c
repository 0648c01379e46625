/*
 * The reporter's output: every byte it prints goes through here, and the
 * first error of the run is remembered here.
 *
 * With a loop, out_fd and err_fd are non-blocking for the run: what an fd
 * does not take at once waits in a queue and goes out as it becomes
 * writable, so a reader that stalls (a pipe nobody reads, a stopped pager)
 * never stalls the loop; past MG_REPORT_QUEUE_HIGH bytes the caller is told
 * to hold its producers. Without a loop (and once mg_report_finish()
 * begins), writes wait for the fd, as a command's last words may.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>
#include "report-private.h"

/* Bytes that went to a file the reporter printed on, in the order given. */
struct mg__rchunk {
	struct mg__rchunk *next;
	int which;     /* the fd it goes to: 0 out, 1 err */
	size_t len;
	size_t off;    /* written so far */
	char data[];
};

int mg__report_write(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n > 0) {
		ssize_t w = write(fd, c, n);

		if (w > 0) {
			c += w;
			n -= (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR) {
			continue;
		}
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			/* A non-blocking fd (ours during the run, or a
			 * terminal set so by someone else): wait, do not spin. */
			struct pollfd pfd = { .fd = fd, .events = POLLOUT };

			if (poll(&pfd, 1, -1) < 0 && errno != EINTR) {
				return -errno;
			}
			continue;
		}
		return w < 0 ? -errno : -EIO;
	}
	return 0;
}

void mg__report_fail(struct mg_report *rep, int err, const char *fmt, ...)
{
	va_list ap;

	if (rep->err != 0) {
		return;
	}
	rep->err = err;
	va_start(ap, fmt);
	rep->errmsg = talloc_vasprintf(rep, fmt, ap);
	va_end(ap);
}

/* fd 'which' cannot be written: say so once, print nothing more there. */
static void fd_dead(struct mg_report *rep, int which, int err)
{
	mg__report_fail(rep, err, "cannot write to %s (fd %d): %s",
			which == 0 ? "the output" : "the error output",
			rep->fd[which], strerror(-err));
	/* One message is enough: the fd is dead (EPIPE, ENOSPC). */
	rep->fd[which] = -1;
	rep->fd_failed[which] = true;
}

/* Tell the caller when the queues cross their marks. */
static void check_backlog(struct mg_report *rep)
{
	size_t queued = rep->queued[0] + rep->queued[1];
	bool full = rep->backlog_full ? queued > MG_REPORT_QUEUE_LOW
		    : queued > MG_REPORT_QUEUE_HIGH;

	if (full != rep->backlog_full) {
		rep->backlog_full = full;
		if (rep->backlog != NULL) {
			rep->backlog(rep->backlog_data, full);
		}
	}
}

static void drop_chunk(struct mg_report *rep, int l)
{
	struct mg__rchunk *c = rep->queue[l];

	rep->queue[l] = c->next;
	if (rep->queue[l] == NULL) {
		rep->queue_tail[l] = NULL;
	}
	rep->queued[l] -= c->len - c->off;
	talloc_free(c);
}

/* Watch the fd the head of lane l's queue waits for, or none. */
static void update_io(struct mg_report *rep, int l)
{
	for (int w = 0; w < 2; w++) {
		if (rep->io[w] != NULL && rep->lane[w] == l) {
			bool want = rep->queue[l] != NULL && rep->queue[l]->which == w;

			mg_io_set(rep->io[w], want ? MG_IO_WRITE : 0);
		}
	}
}

/* Write what lane l's fds take now; drop what goes to a dead fd. */
static void flush_lane(struct mg_report *rep, int l)
{
	while (rep->queue[l] != NULL) {
		struct mg__rchunk *c = rep->queue[l];
		ssize_t w;

		if (rep->fd[c->which] < 0) {
			drop_chunk(rep, l);
			continue;
		}
		w = write(rep->fd[c->which], c->data + c->off, c->len - c->off);
		if (w < 0 && errno == EINTR) {
			continue;
		}
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			break;
		}
		if (w <= 0) {
			fd_dead(rep, c->which, w < 0 ? -errno : -EIO);
			continue;
		}
		c->off += (size_t)w;
		rep->queued[l] -= (size_t)w;
		if (c->off == c->len) {
			drop_chunk(rep, l);
		}
	}
	update_io(rep, l);
	check_backlog(rep);
}

static void on_writable(struct mg_io *io, unsigned events, void *data)
{
	struct mg_report *rep = data;

	flush_lane(rep, rep->lane[io == rep->io[0] ? 0 : 1]);
}

static void enqueue(struct mg_report *rep, int which, const char *p, size_t n)
{
	int l = rep->lane[which];
	struct mg__rchunk *c = talloc_size(rep, sizeof(*c) + n);

	if (c == NULL) {
		mg__report_fail(rep, -ENOMEM, "out of memory for output");
		return;
	}
	talloc_set_name_const(c, "struct mg__rchunk");
	c->next = NULL;
	c->which = which;
	c->len = n;
	c->off = 0;
	memcpy(c->data, p, n);
	if (rep->queue_tail[l] != NULL) {
		rep->queue_tail[l]->next = c;
	} else {
		rep->queue[l] = c;
	}
	rep->queue_tail[l] = c;
	rep->queued[l] += n;
	flush_lane(rep, l);
}

void mg__report_emit(struct mg_report *rep, int which, const void *p,
		     size_t n)
{
	int r;

	if (rep->fd[which] < 0 || n == 0) {
		return;
	}
	if (rep->async) {
		/* Behind what waits on that file, never before it. */
		enqueue(rep, rep->fd[1] == rep->fd[0] ? 0 : which, p, n);
		return;
	}
	r = mg__report_write(rep->fd[which], p, n);
	if (r != 0) {
		fd_dead(rep, which, r);
	}
}

int mg__report_out_start(struct mg_report *rep, struct mg_loop *loop)
{
	rep->async = true;
	for (int w = 0; w < 2; w++) {
		int fl;

		rep->user_fd[w] = rep->fd[w];
		if (rep->fd[w] < 0 || (w == 1 && rep->fd[1] == rep->fd[0]) ||
		    (fl = fcntl(rep->fd[w], F_GETFL)) < 0) {
			/* One fd number, one watcher: chunks for it say 0. */
			continue;
		}
		/* The flag belongs to the open file, which others may share
		 * (our stdin on a terminal): put back what was there. */
		if ((fl & O_NONBLOCK) == 0) {
			if (fcntl(rep->fd[w], F_SETFL, fl | O_NONBLOCK) < 0) {
				continue;
			}
			rep->old_flags[w] = fl;
		}
		rep->io[w] = mg_io_new(rep, loop, rep->fd[w], 0, on_writable, rep);
		if (rep->io[w] == NULL) {
			return -ENOMEM;
		}
		/* The run decides when it ends; the rest waits for finish. */
		mg_io_set_keepalive(rep->io[w], false);
	}
	return 0;
}

void mg__report_out_stop(struct mg_report *rep)
{
	/* The run that held its producers is over. */
	rep->backlog = NULL;
	rep->backlog_full = false;
	rep->async = false;
	/* The fds are the user's again before we wait on them: a ^C while
	 * the rest goes out must not leave a terminal non-blocking. */
	for (int w = 0; w < 2; w++) {
		TALLOC_FREE(rep->io[w]);
		if (rep->old_flags[w] >= 0) {
			/* Even when the fd died: it is still the user's. */
			fcntl(rep->user_fd[w], F_SETFL, rep->old_flags[w]);
			rep->old_flags[w] = -1;
		}
	}
	for (int l = 0; l < 2; l++) {
		while (rep->queue[l] != NULL) {
			struct mg__rchunk *c = rep->queue[l];
			int r = rep->fd[c->which] < 0 ? 0
				: mg__report_write(rep->fd[c->which], c->data + c->off,
						   c->len - c->off);

			if (r != 0) {
				fd_dead(rep, c->which, r);
			}
			drop_chunk(rep, l);
		}
	}
}

void mg_report_set_backlog(struct mg_report *rep, mg_report_backlog_fn fn,
			   void *data)
{
	rep->backlog = rep->async ? fn : NULL;
	rep->backlog_data = data;
}
