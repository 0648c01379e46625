/*
 * The reporter's output: every byte it prints goes through here, and the
 * first error of the run is remembered here.
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>
#include "report-private.h"

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
			/* A non-blocking fd (shared with our loop, or a
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

void mg__report_emit(struct mg_report *rep, int which, const void *p,
		     size_t n)
{
	int r;

	if (rep->fd[which] < 0 || n == 0) {
		return;
	}
	r = mg__report_write(rep->fd[which], p, n);
	if (r != 0) {
		mg__report_fail(rep, r, "cannot write to %s (fd %d): %s",
				which == 0 ? "the output" : "the error output",
				rep->fd[which], strerror(-r));
		/* One message is enough: the fd is dead (EPIPE, ENOSPC). */
		rep->fd[which] = -1;
	}
}
