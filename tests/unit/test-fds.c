/* Unit tests for descriptors on frames (lib/core/fds.c and their use in
 * stream.c): they pass only downward, with their frame, and whatever
 * comes otherwise is closed at once and breaks the protocol. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"
#include "fds.h"
#include "mitogen/error.h"
#include "mitogen/loop.h"
#include "protocol.h"
#include "stream.h"

#include "loop-helpers.h"

struct rx {
	TALLOC_CTX *ctx;
	struct mg_msg *m[4];
	int n;
	int closes;
	int err;
};

static void rx_msg(struct mg_stream *s, struct mg_msg *m, void *data)
{
	struct rx *r = data;

	/* Filler (handle 1000) is not kept. */
	if (r->n < 4 && m->handle != 1000 && mg__msg_keep(r->ctx, m) == 0) {
		r->m[r->n++] = m;
	} else {
		talloc_free(m);
	}
}

static void rx_close(struct mg_stream *s, int err, const char *why, void *data)
{
	struct rx *r = data;

	r->closes++;
	r->err = err;
}

static bool rx_closed(void *arg)
{
	return ((struct rx *)arg)->closes > 0;
}

static bool rx_got(void *arg)
{
	return ((struct rx *)arg)->n > 0;
}

/* A framed stream on sv[0] of a socketpair; sv[1] in *_peer. */
static struct mg_stream *pair(TALLOC_CTX *ctx, struct mg_loop *loop, struct rx *r, int *_peer)
{
	int sv[2];
	struct mg_stream *s;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0) {
		return NULL;
	}
	s = mg__stream_new(ctx, loop, sv[0], sv[0], "test", 4096);
	mg__stream_set_frames(s, rx_msg, r);
	mg__stream_on_close(s, rx_close, r);
	*_peer = sv[1];
	return s;
}

/* Send a frame (flags as given) from the raw peer with fd attached. */
static bool send_raw(int peer, uint16_t flags, int fd)
{
	struct mg_msg m = { .flags = flags, .dst = 1, .src = 0, .handle = 300, .len = 3,
			    .data = (uint8_t *)"abc" };
	uint8_t buf[MG_HDR_LEN + 3];
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
	struct mg_fds *f = mg__fds_new(NULL);
	ssize_t n;

	mg__msg_header(&m, buf);
	memcpy(buf + MG_HDR_LEN, "abc", 3);
	if (f == NULL || mg__fds_add_dup(f, fd) != 0) {
		return false;
	}
	n = mg__fds_sendmsg(peer, &iov, 1, f);
	talloc_free(f);
	return n == (ssize_t)sizeof(buf);
}

/* The pipe's read end sees end of file: every write end is closed. */
static bool write_ends_closed(int rd)
{
	char c;

	return read(rd, &c, 1) == 0;
}

/* A child may never hand its parent a descriptor: a frame marked with
 * them, on a link that takes none, breaks the protocol, and what came
 * is closed at once (not kept until the stream goes). */
static void test_child_fds_refused(void)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	struct mg_loop *loop = mg_loop_new(tmp);
	struct rx rx = { .ctx = tmp };
	int peer, p[2];
	struct mg_stream *s = pair(tmp, loop, &rx, &peer);

	ASSERT_PTR_NOT_NULL(s);
	ASSERT_INT_EQ(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
	ASSERT_TRUE(send_raw(peer, MG_F_FDS, p[1]));
	close(p[1]);
	ASSERT_TRUE(run_until(loop, rx_closed, &rx, 2000));
	ASSERT_INT_EQ(rx.err, MG_ERR_PROTOCOL);
	ASSERT_INT_EQ(rx.n, 0);
	ASSERT_TRUE(write_ends_closed(p[0]));
	/* Unmarked, they are dropped all the same; the frame is no harm. */
	talloc_free(tmp);
	tmp = talloc_new(NULL);
	loop = mg_loop_new(tmp);
	rx = (struct rx){ .ctx = tmp };
	close(peer);
	s = pair(tmp, loop, &rx, &peer);
	ASSERT_PTR_NOT_NULL(s);
	close(p[0]);
	ASSERT_INT_EQ(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
	ASSERT_TRUE(send_raw(peer, 0, p[1]));
	close(p[1]);
	ASSERT_TRUE(run_until(loop, rx_got, &rx, 2000));
	ASSERT_PTR_NULL(rx.m[0]->fds);
	ASSERT_TRUE(write_ends_closed(p[0]));
	close(p[0]);
	close(peer);
	talloc_free(tmp);
}

/* From the parent, on a link that takes them: the frame brings them,
 * close-on-exec; descriptors with no marked frame break the protocol
 * and are closed. */
static void test_parent_fds(void)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	struct mg_loop *loop = mg_loop_new(tmp);
	struct rx rx = { .ctx = tmp };
	int peer, p[2];
	char c = 0;
	struct mg_stream *s = pair(tmp, loop, &rx, &peer);

	ASSERT_PTR_NOT_NULL(s);
	mg__stream_take_fds(s, true);
	ASSERT_INT_EQ(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
	ASSERT_TRUE(send_raw(peer, MG_F_FDS, p[1]));
	ASSERT_TRUE(run_until(loop, rx_got, &rx, 2000));
	ASSERT_INT_EQ(rx.closes, 0);
	ASSERT_PTR_NOT_NULL(rx.m[0]->fds);
	ASSERT_INT_EQ(rx.m[0]->fds->n, 1);
	ASSERT_TRUE((fcntl(rx.m[0]->fds->fd[0], F_GETFD) & FD_CLOEXEC) != 0);
	ASSERT_INT_EQ(write(rx.m[0]->fds->fd[0], "x", 1), 1);
	ASSERT_INT_EQ(read(p[0], &c, 1), 1);
	ASSERT_INT_EQ(c, 'x');
	/* The message's are closed with it. */
	close(p[1]);
	talloc_free(rx.m[0]);
	ASSERT_TRUE(write_ends_closed(p[0]));
	close(p[0]);
	/* Unmarked: nothing may claim them. */
	ASSERT_INT_EQ(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
	ASSERT_TRUE(send_raw(peer, 0, p[1]));
	close(p[1]);
	ASSERT_TRUE(run_until(loop, rx_closed, &rx, 2000));
	ASSERT_INT_EQ(rx.err, MG_ERR_PROTOCOL);
	ASSERT_TRUE(write_ends_closed(p[0]));
	close(p[0]);
	close(peer);
	talloc_free(tmp);
}

/* Stream to stream: sent with the frame's first byte, whether at once or
 * from the queue once the peer reads; the sender keeps its own; a link
 * that gives none refuses them. */
static void test_stream_to_stream(void)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	struct mg_loop *loop = mg_loop_new(tmp);
	struct rx ra = { .ctx = tmp }, rb = { .ctx = tmp };
	int peer, p[2];
	struct mg_stream *a = pair(tmp, loop, &ra, &peer), *b;
	struct mg_fds *f = mg__fds_new(tmp);
	static uint8_t big[3000];
	struct mg_msg m = { .dst = 1, .handle = 300, .len = 3, .data = (uint8_t *)"abc" };
	struct mg_msg fill = { .dst = 1, .handle = 1000, .len = sizeof(big), .data = big };
	char c = 0;
	int queued = 0;

	ASSERT_PTR_NOT_NULL(a);
	b = mg__stream_new(tmp, loop, peer, peer, "b", 4096);
	mg__stream_set_frames(b, rx_msg, &rb);
	mg__stream_on_close(b, rx_close, &rb);
	mg__stream_take_fds(b, true);
	ASSERT_INT_EQ(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
	ASSERT_INT_EQ(mg__fds_add_dup(f, p[1]), 0);
	m.fds = f;
	ASSERT_INT_EQ(mg__stream_send(a, &m), -EOPNOTSUPP);
	mg__stream_give_fds(a, true);
	/* Fill the socket so that the frame waits in the queue. */
	while (mg__stream_pending(a) == 0 && queued < 10000) {
		ASSERT_INT_EQ(mg__stream_send(a, &fill), 0);
		queued++;
	}
	ASSERT_INT_EQ(mg__stream_send(a, &m), 0);
	TALLOC_FREE(f);
	close(p[1]);
	rb.n = 0;
	for (int i = 0; i < 200 && rb.closes == 0; i++) {
		run_until(loop, rx_got, &rb, 50);
		for (int k = 0; k < rb.n; k++) {
			if (rb.m[k]->handle == 300) {
				ASSERT_PTR_NOT_NULL(rb.m[k]->fds);
				ASSERT_INT_EQ(write(rb.m[k]->fds->fd[0], "y", 1), 1);
				i = 1000;
			}
			talloc_free(rb.m[k]);
		}
		rb.n = 0;
	}
	ASSERT_INT_EQ(rb.closes, 0);
	ASSERT_INT_EQ(read(p[0], &c, 1), 1);
	ASSERT_INT_EQ(c, 'y');
	close(p[0]);
	talloc_free(tmp);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	TESTS_BEGIN();
	RUN(test_child_fds_refused);
	RUN(test_parent_fds);
	RUN(test_stream_to_stream);
	return TESTS_END();
}
