/* Helper commands run from the loop: see capture.h. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "capture.h"
#include "mitogen/loop.h"
#include "process.h"

#define CAPTURE_MAX 65536

struct mg_capture {
	int fd;
	pid_t pid;
	int status;
	bool timed_out, done;
	char *out;
	size_t len;
	struct mg_io *io;
	struct mg_timer *timer;
	mg_capture_fn fn;
	void *data;
};

static int capture_destructor(struct mg_capture *c)
{
	TALLOC_FREE(c->io); /* before its fd is closed (mg_io_new) */
	if (c->fd >= 0) {
		close(c->fd);
	}
	if (c->pid > 0) {
		kill(c->pid, SIGKILL);
		while (waitpid(c->pid, NULL, 0) < 0 && errno == EINTR) {
		}
	}
	return 0;
}

/* Once the output has ended and the command is reaped, or on time out. */
static void maybe_done(struct mg_capture *c)
{
	if (c->done || (!c->timed_out && (c->fd >= 0 || c->pid > 0))) {
		return;
	}
	c->done = true;
	TALLOC_FREE(c->io);
	TALLOC_FREE(c->timer);
	c->fn(c->data, c->timed_out ? -ETIMEDOUT : 0, c->status, c->out);
}

static void on_readable(struct mg_io *io, unsigned events, void *data)
{
	struct mg_capture *c = talloc_get_type_abort(data, struct mg_capture);
	char buf[4096];
	ssize_t n = read(c->fd, buf, sizeof(buf));

	if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
		return;
	}
	if (n > 0) {
		size_t k = c->len + (size_t)n > CAPTURE_MAX ? CAPTURE_MAX - c->len : (size_t)n;
		memcpy(c->out + c->len, buf, k);
		c->len += k;
		c->out[c->len] = '\0';
		return;
	}
	TALLOC_FREE(c->io);
	close(c->fd);
	c->fd = -1;
	maybe_done(c);
}

static void on_exit_status(struct mg_child *ch, pid_t pid, int status, void *data)
{
	struct mg_capture *c = talloc_get_type_abort(data, struct mg_capture);

	c->pid = 0;
	c->status = status;
	maybe_done(c);
}

static void on_timeout(struct mg_timer *tm, void *data)
{
	struct mg_capture *c = talloc_get_type_abort(data, struct mg_capture);

	c->timer = NULL;
	c->timed_out = true;
	if (c->pid > 0) {
		/* Reaped by the child watcher, or by the destructor. */
		kill(c->pid, SIGKILL);
	}
	maybe_done(c);
}

pid_t mg__capture_pid(const struct mg_capture *c)
{
	return c->pid;
}

int mg__capture_start(TALLOC_CTX *mem_ctx, struct mg_loop *loop, const char *const *argv,
		      unsigned timeout_ms, mg_capture_fn fn, void *data, struct mg_capture **_cap)
{
	struct mg_capture *c = talloc_zero(mem_ctx, struct mg_capture);
	struct mg_spawn_opts so = { 0 };
	int fds[2], ret;

	if (c == NULL || (c->out = talloc_zero_array(c, char, CAPTURE_MAX + 1)) == NULL) {
		talloc_free(c);
		return -ENOMEM;
	}
	c->fd = -1;
	c->fn = fn;
	c->data = data;
	talloc_set_destructor(c, capture_destructor);
	if ((ret = mg__pipe(fds)) != 0) {
		talloc_free(c);
		return ret;
	}
	so.argv = argv;
	so.search_path = true;
	so.stdio[0] = -1;
	so.stdio[1] = fds[1];
	so.stdio[2] = fds[1];
	ret = mg__spawn(&so, &c->pid);
	close(fds[1]);
	c->fd = fds[0];
	if (ret != 0) {
		c->pid = 0;
		talloc_free(c);
		return ret;
	}
	fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
	c->io = mg_io_new(c, loop, c->fd, MG_IO_READ, on_readable, c);
	c->timer = mg_timer_new(c, loop, timeout_ms, on_timeout, c);
	if (c->io == NULL || c->timer == NULL ||
	    mg_child_new(c, loop, c->pid, on_exit_status, c) == NULL) {
		talloc_free(c);
		return -ENOMEM;
	}
	*_cap = c;
	return 0;
}
