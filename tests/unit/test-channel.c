/*
 * Unit tests for lib/core/channel.c: byte channels between two routers (0, the
 * master, and its child 1) joined by a socketpair, with a pipe feeding the
 * sending end and a pipe drained (or not) behind the receiving end.
 *
 * Every test runs in its own process (a crash fails that test only) and
 * checks for talloc leaks there.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "channel.h"
#include "mitogen/error.h"
#include "mitogen/log.h"
#include "mitogen/loop.h"
#include "protocol.h"
#include "router.h"
#include "stream.h"

#include "loop-helpers.h"

/* --- two routers --- */

struct net {
	struct mg_loop *loop;
	struct mg_router *r[2];
	int downfd;	/* master's end of the link */
	int upfd;	/* child's end */
};

static struct net *net_new(void)
{
	static const uint32_t parents[] = { 0 };
	struct net *n = talloc_zero(NULL, struct net);
	struct mg_stream *down, *up;
	int sv[2];

	if (n == NULL) {
		return NULL;
	}
	n->loop = mg_loop_new(n);
	n->r[0] = n->loop != NULL ? mg__router_new(n, n->loop, 0, NULL, 0) : NULL;
	n->r[1] = n->loop != NULL ? mg__router_new(n, n->loop, 1, parents, 1) : NULL;
	if (n->r[0] == NULL || n->r[1] == NULL ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0) {
		talloc_free(n);
		return NULL;
	}
	n->downfd = sv[0];
	n->upfd = sv[1];
	down = mg__stream_new(n, n->loop, sv[0], sv[0], "c1", MG_MSG_MAX_DEFAULT);
	up = mg__stream_new(n, n->loop, sv[1], sv[1], "parent", MG_MSG_MAX_DEFAULT);
	if (down == NULL || up == NULL ||
	    mg__router_add_stream(n->r[1], up, 0, "parent", true) != 0 ||
	    mg__router_add_stream(n->r[0], down, 1, "c1", false) != 0) {
		talloc_free(n);
		return NULL;
	}
	return n;
}

/* --- the bytes: a position-dependent pattern --- */

static uint8_t pat(size_t i)
{
	return (uint8_t)(i * 7 + (i >> 13) + (i >> 21));
}

/* Writes pat() into a pipe as fast as it drains, 'total' bytes, then
 * optionally closes it. */
struct source {
	int fd;
	struct mg_io *io;
	size_t total;
	size_t written;
	bool close_at_end;
	int err;
};

static void source_cb(struct mg_io *io, unsigned events, void *data)
{
	struct source *s = data;
	uint8_t buf[16384];
	size_t want = s->total - s->written;
	ssize_t n;

	if (want > sizeof(buf)) {
		want = sizeof(buf);
	}
	if (want == 0) {
		TALLOC_FREE(s->io);
		if (s->close_at_end) {
			close(s->fd);
			s->fd = -1;
		}
		return;
	}
	for (size_t i = 0; i < want; i++) {
		buf[i] = pat(s->written + i);
	}
	n = write(s->fd, buf, want);
	if (n > 0) {
		s->written += (size_t)n;
	} else if (n < 0 && errno != EAGAIN && errno != EINTR) {
		s->err = errno;
		TALLOC_FREE(s->io);
	}
}

static bool source_start(TALLOC_CTX *mem_ctx, struct mg_loop *loop, struct source *s)
{
	s->io = mg_io_new(mem_ctx, loop, s->fd, MG_IO_WRITE, source_cb, s);
	return s->io != NULL;
}

/* Reads a pipe, checking the pattern, until EOF. */
struct sink {
	int fd;
	struct mg_io *io;
	size_t got;
	size_t bad_at;
	bool eof;
	int err;
};

/* Read at most 'want' bytes and check them against the pattern. */
static void sink_take(struct sink *s, size_t want)
{
	uint8_t buf[65536];
	ssize_t n = read(s->fd, buf, want < sizeof(buf) ? want : sizeof(buf));

	if (n > 0) {
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] != pat(s->got + (size_t)i) && s->bad_at == SIZE_MAX) {
				s->bad_at = s->got + (size_t)i;
			}
		}
		s->got += (size_t)n;
	} else if (n == 0) {
		s->eof = true;
		TALLOC_FREE(s->io);
	} else if (errno != EAGAIN && errno != EINTR) {
		s->err = errno;
		TALLOC_FREE(s->io);
	}
}

static void sink_cb(struct mg_io *io, unsigned events, void *data)
{
	sink_take(data, 65536);
}

static bool sink_start(TALLOC_CTX *mem_ctx, struct mg_loop *loop, struct sink *s)
{
	s->bad_at = SIZE_MAX;
	s->io = mg_io_new(mem_ctx, loop, s->fd, MG_IO_READ, sink_cb, s);
	return s->io != NULL;
}

/* --- channels --- */

struct done {
	int calls;
	int err;
};

static void on_done(void *data, int err)
{
	struct done *d = data;

	d->calls++;
	d->err = err;
}

struct chan {
	struct mg_chan_out *out;
	struct mg_chan_in *in;
	struct done dout, din;
	int src[2];	/* src[0] is the chan_out's, src[1] the test's */
	int dst[2];	/* dst[1] is the chan_in's, dst[0] the test's */
};

/* A channel from router 'from' to router 'to', with fresh pipes. */
static bool chan_open(TALLOC_CTX *mem_ctx, struct net *n, uint32_t from, uint32_t to,
		      uint32_t window, int dst_pipe_size, struct chan *c)
{
	if (pipe2(c->src, O_CLOEXEC | O_NONBLOCK) != 0) {
		return false;
	}
	if (pipe2(c->dst, O_CLOEXEC | O_NONBLOCK) != 0) {
		return false;
	}
	if (dst_pipe_size > 0 && fcntl(c->dst[1], F_SETPIPE_SZ, dst_pipe_size) < 0) {
		return false;
	}
	c->in = mg__chan_in_new(mem_ctx, n->r[to], c->dst[1], from, on_done, &c->din);
	c->out = mg__chan_out_new(mem_ctx, n->r[from], c->src[0], to, window, on_done, &c->dout);
	if (c->in == NULL || c->out == NULL) {
		return false;
	}
	mg__chan_in_set_ack(c->in, mg__chan_out_ack_handle(c->out));
	mg__chan_out_start(c->out, mg__chan_in_handle(c->in));
	return true;
}

static int fionread(int fd)
{
	int n = -1;

	return ioctl(fd, FIONREAD, &n) == 0 ? n : -1;
}

/* --- tests --- */

struct transfer {
	struct chan *c;
	struct sink *sink;
};

static bool transfer_done(void *arg)
{
	struct transfer *t = arg;

	return (t->sink->eof || t->sink->err != 0) && t->c->din.calls > 0 && t->c->dout.calls > 0;
}

/* 8 MiB of a pattern arrive intact and in order; EOF closes the output. */
static void transfer(uint32_t from, uint32_t to)
{
	struct net *n = net_new();
	struct chan c = { 0 };
	struct source src = { .total = 8u << 20, .close_at_end = true };
	struct sink sink = { 0 };
	struct transfer t = { &c, &sink };

	ASSERT_PTR_NOT_NULL(n);
	ASSERT_TRUE(chan_open(n, n, from, to, MG_WINDOW_DEFAULT, 0, &c));
	src.fd = c.src[1];
	sink.fd = c.dst[0];
	ASSERT_TRUE(source_start(n, n->loop, &src));
	ASSERT_TRUE(sink_start(n, n->loop, &sink));
	ASSERT_TRUE(run_until(n->loop, transfer_done, &t, 20000));
	ASSERT_INT_EQ(src.err, 0);
	ASSERT_INT_EQ(sink.err, 0);
	ASSERT_INT_EQ(sink.got, 8u << 20);
	ASSERT_TRUE(sink.bad_at == SIZE_MAX);
	ASSERT_TRUE(sink.eof);
	ASSERT_INT_EQ(c.din.calls, 1);
	ASSERT_INT_EQ(c.din.err, 0);
	ASSERT_INT_EQ(c.dout.calls, 1);
	ASSERT_INT_EQ(c.dout.err, 0);
	ASSERT_TRUE(mg__chan_in_done(c.in));
	close(sink.fd);
	talloc_free(c.out);
	talloc_free(c.in);
	talloc_free(n);
}

static void test_child_to_master_body(void)
{
	transfer(1, 0);
}
ISOLATED(test_child_to_master)

static void test_master_to_child_body(void)
{
	transfer(0, 1);
}
ISOLATED(test_master_to_child)

/*
 * Flow control: the reader never drains its output pipe. Whatever the
 * sender took from its source beyond what reached the output pipe is in
 * flight, and must stay within the window.
 */
struct flow {
	struct chan *c;
	struct source *src;
	size_t window;
	size_t max_inflight;
	size_t consumed;
	size_t delivered;
	bool stop_when_full;
};

/* Sample the counters; with stop_when_full, say when the window is used. */
static bool flow_sample(void *arg)
{
	struct flow *f = arg;
	int in_src = fionread(f->c->src[1]);
	int in_dst = fionread(f->c->dst[0]);

	if (in_src >= 0 && in_dst >= 0) {
		f->consumed = f->src->written - (size_t)in_src;
		f->delivered = (size_t)in_dst;
		if (f->consumed - f->delivered > f->max_inflight) {
			f->max_inflight = f->consumed - f->delivered;
		}
	}
	return f->stop_when_full && f->consumed >= f->window;
}

static void flow_control(uint32_t window)
{
	struct net *n = net_new();
	struct chan c = { 0 };
	struct source src = { .total = 64u << 20, .close_at_end = true };
	struct sink sink = { 0 };
	struct flow f = { &c, &src, window, 0, 0, 0, true };
	struct transfer t = { &c, &sink };
	int dst_size;

	ASSERT_PTR_NOT_NULL(n);
	ASSERT_TRUE(chan_open(n, n, 1, 0, window, 4096, &c));
	dst_size = fcntl(c.dst[0], F_GETPIPE_SZ);
	ASSERT_TRUE(dst_size > 0);
	src.fd = c.src[1];
	ASSERT_TRUE(source_start(n, n->loop, &src));
	/* It flows as far as the window allows... */
	ASSERT_TRUE(run_until(n->loop, flow_sample, &f, 10000));
	/* ...and, however long we wait, no further. */
	f.stop_when_full = false;
	run_until(n->loop, flow_sample, &f, 300);
	flow_sample(&f);
	printf("#   window %u, output pipe %d: consumed %zu, delivered %zu, max in flight %zu\n",
	       window, dst_size, f.consumed, f.delivered, f.max_inflight);
	ASSERT_TRUE(f.delivered > 0 && f.delivered <= (size_t)dst_size);
	ASSERT_TRUE(f.max_inflight <= window);
	ASSERT_TRUE(f.consumed <= window + (size_t)dst_size);
	ASSERT_INT_GE(src.written, f.consumed + 65536);
	ASSERT_INT_EQ(c.din.calls + c.dout.calls, 0);

	/* Once the reader drains, everything arrives, in order. */
	src.total = src.written + (1u << 20);
	sink.fd = c.dst[0];
	ASSERT_TRUE(sink_start(n, n->loop, &sink));
	ASSERT_TRUE(run_until(n->loop, transfer_done, &t, 20000));
	ASSERT_INT_EQ(sink.got, src.total);
	ASSERT_TRUE(sink.bad_at == SIZE_MAX);
	ASSERT_INT_EQ(c.din.err, 0);
	ASSERT_INT_EQ(c.dout.err, 0);
	close(sink.fd);
	talloc_free(c.out);
	talloc_free(c.in);
	talloc_free(n);
}

static void test_flow_control_body(void)
{
	flow_control(256u << 10);
}
ISOLATED(test_flow_control)

/* A sender using the whole default window is within what the receiver
 * accepts, to the byte: the window check never drops a legitimate one. */
static void test_flow_control_full_window_body(void)
{
	flow_control(MG_WINDOW_DEFAULT);
}
ISOLATED(test_flow_control_full_window)

static bool both_done(void *arg)
{
	struct chan *c = arg;

	return c->din.calls > 0 && c->dout.calls > 0;
}

/* The reader of the output pipe goes away: the chan_in fails with EPIPE,
 * tells the sender, and the sender stops reading its source. */
static void test_reader_gone_body(void)
{
	struct net *n = net_new();
	struct chan c = { 0 };
	struct source src = { .total = 1u << 20 };
	uint8_t byte = 0;

	ASSERT_PTR_NOT_NULL(n);
	ASSERT_TRUE(chan_open(n, n, 1, 0, 256u << 10, 0, &c));
	close(c.dst[0]);
	src.fd = c.src[1];
	ASSERT_TRUE(source_start(n, n->loop, &src));
	ASSERT_TRUE(run_until(n->loop, both_done, &c, 5000));
	ASSERT_INT_EQ(c.din.err, -EPIPE);
	ASSERT_INT_EQ(c.dout.err, -EPIPE);
	/* The source was closed by the sender: nobody reads it any more. */
	run_until(n->loop, NULL, NULL, 20);
	ASSERT_TRUE(write(c.src[1], &byte, 1) < 0);
	ASSERT_INT_EQ(errno, EPIPE);
	ASSERT_INT_EQ(c.din.calls, 1);
	ASSERT_INT_EQ(c.dout.calls, 1);
	close(c.src[1]);
	talloc_free(c.out);
	talloc_free(c.in);
	talloc_free(n);
}
ISOLATED(test_reader_gone)

struct got_bytes {
	struct sink *sink;
	size_t want;
};

static bool sink_has(void *arg)
{
	struct got_bytes *g = arg;

	return g->sink->got >= g->want;
}

static bool sink_eof(void *arg)
{
	struct sink *s = arg;

	return s->eof || s->err != 0;
}

/* The sending context disappears: the chan_in ends as at EOF, after
 * writing what it had, and closes its output. */
static void test_sender_context_lost_body(void)
{
	struct net *n = net_new();
	struct chan c = { 0 };
	struct source src = { .total = 100000 };
	struct sink sink = { 0 };
	struct got_bytes g = { &sink, 100000 };

	ASSERT_PTR_NOT_NULL(n);
	ASSERT_TRUE(chan_open(n, n, 1, 0, 256u << 10, 0, &c));
	src.fd = c.src[1];
	sink.fd = c.dst[0];
	ASSERT_TRUE(source_start(n, n->loop, &src));
	ASSERT_TRUE(sink_start(n, n->loop, &sink));
	ASSERT_TRUE(run_until(n->loop, sink_has, &g, 5000));
	ASSERT_INT_EQ(c.din.calls, 0);
	/* The link to 1 breaks (the source is still open). */
	ASSERT_INT_EQ(shutdown(n->downfd, SHUT_RDWR), 0);
	ASSERT_TRUE(run_until(n->loop, sink_eof, &sink, 5000));
	ASSERT_INT_EQ(sink.err, 0);
	ASSERT_INT_EQ(sink.got, 100000);
	ASSERT_TRUE(sink.bad_at == SIZE_MAX);
	run_until(n->loop, NULL, NULL, 20);
	ASSERT_INT_EQ(c.din.calls, 1);
	ASSERT_INT_EQ(c.din.err, 0);
	close(c.src[1]);
	close(sink.fd);
	talloc_free(c.out);
	talloc_free(c.in);
	talloc_free(n);
}
ISOLATED(test_sender_context_lost)

static bool out_done(void *arg)
{
	return ((struct chan *)arg)->dout.calls > 0;
}

/* The receiving context disappears: the sender ends with EPIPE. */
static void test_receiver_context_lost_body(void)
{
	struct net *n = net_new();
	struct chan c = { 0 };
	struct source src = { .total = 100000 };
	struct sink sink = { 0 };
	struct got_bytes g = { &sink, 100000 };
	uint8_t byte = 0;

	ASSERT_PTR_NOT_NULL(n);
	ASSERT_TRUE(chan_open(n, n, 0, 1, 256u << 10, 0, &c));
	src.fd = c.src[1];
	sink.fd = c.dst[0];
	ASSERT_TRUE(source_start(n, n->loop, &src));
	ASSERT_TRUE(sink_start(n, n->loop, &sink));
	ASSERT_TRUE(run_until(n->loop, sink_has, &g, 5000));
	ASSERT_INT_EQ(shutdown(n->downfd, SHUT_RDWR), 0);
	ASSERT_TRUE(run_until(n->loop, out_done, &c, 5000));
	ASSERT_INT_EQ(c.dout.err, -EPIPE);
	ASSERT_TRUE(write(c.src[1], &byte, 1) < 0);
	ASSERT_INT_EQ(errno, EPIPE);
	close(c.src[1]);
	close(sink.fd);
	talloc_free(c.out);
	talloc_free(c.in);
	talloc_free(n);
}
ISOLATED(test_receiver_context_lost)

/* mg__chan_out_close: stop reading, send EOF now. */
static void test_out_close_body(void)
{
	struct net *n = net_new();
	struct chan c = { 0 };
	struct source src = { .total = 50000 };
	struct sink sink = { 0 };
	struct got_bytes g = { &sink, 50000 };
	uint8_t byte = 0;

	ASSERT_PTR_NOT_NULL(n);
	ASSERT_TRUE(chan_open(n, n, 1, 0, 256u << 10, 0, &c));
	src.fd = c.src[1];
	sink.fd = c.dst[0];
	ASSERT_TRUE(source_start(n, n->loop, &src));
	ASSERT_TRUE(sink_start(n, n->loop, &sink));
	ASSERT_TRUE(run_until(n->loop, sink_has, &g, 5000));
	mg__chan_out_close(c.out);
	ASSERT_INT_EQ(c.dout.calls, 1);
	ASSERT_INT_EQ(c.dout.err, 0);
	ASSERT_TRUE(run_until(n->loop, sink_eof, &sink, 5000));
	ASSERT_INT_EQ(sink.got, 50000);
	ASSERT_INT_EQ(c.din.calls, 1);
	ASSERT_INT_EQ(c.din.err, 0);
	ASSERT_TRUE(write(c.src[1], &byte, 1) < 0);
	ASSERT_INT_EQ(errno, EPIPE);
	/* Once only. */
	mg__chan_out_close(c.out);
	ASSERT_INT_EQ(c.dout.calls, 1);
	close(c.src[1]);
	close(sink.fd);
	talloc_free(c.out);
	talloc_free(c.in);
	talloc_free(n);
}
ISOLATED(test_out_close)

/*
 * docs/PROTOCOL.md section 7: "If the receiver goes away (its descriptor
 * fails, or it is closed early), it sends a dead message to the ack handle
 * and the sender stops reading". Freeing the chan_in is how its owner
 * closes it early (svc-exec frees a job's channels with the job).
 */
static void test_in_freed_early_body(void)
{
	struct net *n = net_new();
	struct chan c = { 0 };
	struct source src = { .total = 4u << 20 };
	struct sink sink = { 0 };
	struct got_bytes g = { &sink, 100000 };
	uint8_t byte = 0;
	ssize_t w;
	int saved;

	ASSERT_PTR_NOT_NULL(n);
	ASSERT_TRUE(chan_open(n, n, 1, 0, 256u << 10, 0, &c));
	src.fd = c.src[1];
	sink.fd = c.dst[0];
	ASSERT_TRUE(source_start(n, n->loop, &src));
	ASSERT_TRUE(sink_start(n, n->loop, &sink));
	ASSERT_TRUE(run_until(n->loop, sink_has, &g, 5000));
	TALLOC_FREE(c.in);
	run_until(n->loop, out_done, &c, 1000);
	w = write(c.src[1], &byte, 1);
	saved = errno;
	close(c.src[1]);
	close(sink.fd);
	talloc_free(c.out);
	talloc_free(n);
	ASSERT_INT_EQ(c.dout.calls, 1);
	ASSERT_INT_EQ(c.dout.err, -EPIPE);
	ASSERT_TRUE(w < 0 && saved == EPIPE);
}
ISOLATED(test_in_freed_early)

/*
 * The window, as the receiver keeps it: a sender that goes past its credit
 * is dropped with MG_ERR_PROTOCOL, not buffered (issue 12, defect 3: a far
 * end ignoring credit filled the master's memory). Here context 1 speaks
 * raw DATA to a chan_in of context 0 whose output pipe nobody reads, so
 * only the credit actually sent back lets more in.
 */
struct credit {
	size_t granted;
	int frames;
	int dead;
	char reason[64];
};

static void on_credit(struct mg_router *r, struct mg_msg *m, void *data)
{
	struct credit *k = data;

	if ((m->flags & MG_F_DEAD) != 0) {
		k->dead++;
		snprintf(k->reason, sizeof(k->reason), "%.*s", (int)m->len, (const char *)m->data);
		return;
	}
	if (m->len == 4) {
		k->frames++;
		k->granted += (size_t)m->data[0] << 24 | (size_t)m->data[1] << 16 |
			      (size_t)m->data[2] << 8 | m->data[3];
	}
}

/* Send 'len' bytes of DATA from context 1 to 'handle', 1 MiB a message. */
static void raw_send(struct net *n, uint32_t handle, uint32_t ack, size_t len)
{
	static uint8_t chunk[1u << 20];

	while (len > 0) {
		size_t k = len < sizeof(chunk) ? len : sizeof(chunk);
		mg__router_send(n->r[1], 0, handle, ack, 0, chunk, k);
		len -= k;
	}
}

static bool done_called(void *arg)
{
	return ((struct done *)arg)->calls > 0;
}

static bool granted_some(void *arg)
{
	return ((struct credit *)arg)->granted > 0;
}

static bool got_dead(void *arg)
{
	return ((struct credit *)arg)->dead > 0;
}

/* No credit known (no ack handle yet): exactly the window, not a byte more. */
static void test_window_no_credit_body(void)
{
	struct net *n = net_new();
	struct done d = { 0 };
	struct mg_chan_in *in;
	uint32_t h;
	int p[2];

	ASSERT_PTR_NOT_NULL(n);
	ASSERT_INT_EQ(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
	ASSERT_TRUE(fcntl(p[1], F_SETPIPE_SZ, 4096) > 0);
	in = mg__chan_in_new(n, n->r[0], p[1], 1, on_done, &d);
	ASSERT_PTR_NOT_NULL(in);
	h = mg__chan_in_handle(in);
	raw_send(n, h, 0, MG_WINDOW_DEFAULT);
	run_until(n->loop, NULL, NULL, 200);
	ASSERT_INT_EQ(d.calls, 0);
	raw_send(n, h, 0, 1);
	ASSERT_TRUE(run_until(n->loop, done_called, &d, 5000));
	ASSERT_INT_EQ(d.err, MG_ERR_PROTOCOL);
	/* What keeps coming is dropped unread. */
	raw_send(n, h, 0, 4u << 20);
	run_until(n->loop, NULL, NULL, 200);
	ASSERT_INT_EQ(d.calls, 1);
	close(p[0]);
	talloc_free(n);
}
ISOLATED(test_window_no_credit)

/* A receiving channel into a pipe of 'size' bytes (p[0] is the test's
 * end), whose credit goes to a handler of router 1 counted in 'k'. */
struct credit_rig {
	struct mg_chan_in *in;
	uint32_t h, a; /* the channel's handle, its ack handle */
	int p[2];
};

static bool credit_open(struct net *n, int size, struct done *d, struct credit *k,
			struct credit_rig *c)
{
	struct mg_handler *ack;

	if (pipe2(c->p, O_CLOEXEC | O_NONBLOCK) != 0 || fcntl(c->p[1], F_SETPIPE_SZ, size) <= 0) {
		return false;
	}
	c->in = mg__chan_in_new(n, n->r[0], c->p[1], 1, on_done, d);
	ack = mg__router_add_handler(n, n->r[1], 0, MG_POL_RESPONDENT, 0, true, on_credit, k);
	if (c->in == NULL || ack == NULL) {
		return false;
	}
	c->h = mg__chan_in_handle(c->in);
	c->a = mg__handler_handle(ack);
	mg__chan_in_set_ack(c->in, c->a);
	return true;
}

/* With credit flowing back: the window plus what was credited, exactly;
 * the sender then hears "rcvd too much data" on its ack handle. */
static void test_window_with_credit_body(void)
{
	struct net *n = net_new();
	struct done d = { 0 };
	struct credit k = { 0 };
	struct credit_rig c;

	ASSERT_PTR_NOT_NULL(n);
	/* Room for more than the eighth of a window that credit waits for. */
	ASSERT_TRUE(credit_open(n, 512 << 10, &d, &k, &c));
	raw_send(n, c.h, c.a, MG_WINDOW_DEFAULT);
	ASSERT_TRUE(run_until(n->loop, granted_some, &k, 5000));
	run_until(n->loop, NULL, NULL, 200);
	/* The output pipe took some, and that much came back as credit. */
	ASSERT_TRUE(k.granted > 0 && k.granted < MG_WINDOW_DEFAULT);
	ASSERT_INT_EQ(d.calls, 0);
	raw_send(n, c.h, c.a, k.granted);
	run_until(n->loop, NULL, NULL, 200);
	ASSERT_INT_EQ(d.calls, 0);
	ASSERT_INT_EQ(k.dead, 0);
	raw_send(n, c.h, c.a, 1);
	ASSERT_TRUE(run_until(n->loop, got_dead, &k, 5000));
	ASSERT_INT_EQ(d.calls, 1);
	ASSERT_INT_EQ(d.err, MG_ERR_PROTOCOL);
	ASSERT_STR_EQ(k.reason, "rcvd too much data");
	close(c.p[0]);
	talloc_free(n);
}
ISOLATED(test_window_with_credit)

/* Small writes: credit waits until an eighth of the window is written,
 * and what is left comes back at the end of file. */
static void test_credit_batched_body(void)
{
	struct net *n = net_new();
	struct done d = { 0 };
	struct credit k = { 0 };
	struct credit_rig c;
	uint32_t h, a;

	ASSERT_PTR_NOT_NULL(n);
	ASSERT_TRUE(credit_open(n, 1 << 20, &d, &k, &c));
	h = c.h;
	a = c.a;
	for (int i = 0; i < 100; i++) {
		raw_send(n, h, a, 1000);
	}
	run_until(n->loop, NULL, NULL, 200);
	ASSERT_INT_EQ(k.granted, 0);
	raw_send(n, h, a, MG_WINDOW_DEFAULT / 8);
	ASSERT_TRUE(run_until(n->loop, granted_some, &k, 5000));
	ASSERT_INT_EQ(k.granted, 100000 + MG_WINDOW_DEFAULT / 8);
	raw_send(n, h, a, 5000);
	run_until(n->loop, NULL, NULL, 200);
	ASSERT_INT_EQ(k.granted, 100000 + MG_WINDOW_DEFAULT / 8);
	mg__router_send(n->r[1], 0, h, a, 0, NULL, 0);
	ASSERT_TRUE(run_until(n->loop, done_called, &d, 5000));
	ASSERT_INT_EQ(d.err, 0);
	run_until(n->loop, NULL, NULL, 200);
	ASSERT_INT_EQ(k.granted, 105000 + MG_WINDOW_DEFAULT / 8);
	close(c.p[0]);
	talloc_free(n);
}
ISOLATED(test_credit_batched)

/* A reader that takes a small pipe's worth each millisecond. */
struct drip {
	int fd;
	struct done *d;
};

static bool drip_until_done(void *arg)
{
	struct drip *dr = arg;
	uint8_t buf[4096];

	if (read(dr->fd, buf, sizeof(buf)) < 0 && errno != EAGAIN) {
		return true;
	}
	return dr->d->calls > 0;
}

/* End of file while much waits for a slow reader: the credit still comes
 * an eighth of the window at a time, the rest once all is written, not a
 * frame for each write the reader makes room for. */
static void test_credit_batched_after_eof_body(void)
{
	struct net *n = net_new();
	struct done d = { 0 };
	struct credit k = { 0 };
	struct drip dr = { -1, &d };
	struct credit_rig c;
	uint32_t h, a;

	ASSERT_PTR_NOT_NULL(n);
	ASSERT_TRUE(credit_open(n, 4096, &d, &k, &c));
	h = c.h;
	a = c.a;
	raw_send(n, h, a, 1u << 20);
	mg__router_send(n->r[1], 0, h, a, 0, NULL, 0);
	run_until(n->loop, NULL, NULL, 200);
	ASSERT_INT_EQ(d.calls, 0);
	dr.fd = c.p[0];
	ASSERT_TRUE(run_until(n->loop, drip_until_done, &dr, 20000));
	ASSERT_INT_EQ(d.err, 0);
	run_until(n->loop, NULL, NULL, 200);
	printf("#   %zu bytes credited in %d frames\n", k.granted, k.frames);
	ASSERT_INT_EQ(k.granted, 1u << 20);
	ASSERT_INT_GE((1 << 20) / (MG_WINDOW_DEFAULT / 8) + 1, k.frames);
	close(c.p[0]);
	talloc_free(n);
}
ISOLATED(test_credit_batched_after_eof)

struct frames {
	size_t bytes;
};

static void on_frame(struct mg_router *r, struct mg_msg *m, void *data)
{
	((struct frames *)data)->bytes += m->len;
}

static bool got_bytes(void *arg)
{
	return ((struct frames *)arg)->bytes > 0;
}

static int open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int k = 0;

	while (d != NULL && readdir(d) != NULL) {
		k++;
	}
	if (d != NULL) {
		closedir(d);
	}
	return k;
}

/* A sender splices only what is worth it: less than 64 KiB waiting goes
 * in memory, so that the frame leaves in one write. Seen from here: the
 * pipe a splice goes through is made at the first splice. */
static void test_small_read_not_spliced_body(void)
{
	static uint8_t big[200u << 10];
	struct net *n = net_new();
	struct frames f = { 0 };
	struct done d = { 0 };
	struct mg_handler *h;
	struct mg_chan_out *out;
	int p[2], fds;

	ASSERT_PTR_NOT_NULL(n);
	ASSERT_INT_EQ(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
	ASSERT_TRUE(fcntl(p[1], F_SETPIPE_SZ, 1 << 20) > 0);
	h = mg__router_add_handler(n, n->r[0], 0, MG_POL_RESPONDENT, 0, true, on_frame, &f);
	ASSERT_PTR_NOT_NULL(h);
	out = mg__chan_out_new(n, n->r[0], p[0], 0, MG_WINDOW_DEFAULT, on_done, &d);
	ASSERT_PTR_NOT_NULL(out);
	fds = open_fds();
	ASSERT_INT_EQ(write(p[1], big, 1000), 1000);
	mg__chan_out_start(out, mg__handler_handle(h));
	ASSERT_TRUE(run_until(n->loop, got_bytes, &f, 5000));
	ASSERT_INT_EQ(f.bytes, 1000);
	ASSERT_INT_EQ(open_fds(), fds);
	ASSERT_INT_EQ(write(p[1], big, sizeof(big)), (ssize_t)sizeof(big));
	f.bytes = 0;
	ASSERT_TRUE(run_until(n->loop, got_bytes, &f, 5000));
	ASSERT_INT_EQ(f.bytes, sizeof(big));
	ASSERT_INT_EQ(open_fds(), fds + 2);
	close(p[1]);
	talloc_free(out);
	talloc_free(n);
}
ISOLATED(test_small_read_not_spliced)

/*
 * Odd sizes both sides: the source writes 1 byte to 300 KiB at a time
 * (frames read and frames spliced, mixed), the reader takes 1 byte to
 * 64 KiB at a time from a small pipe or a socket, so that the receiver's
 * writes come up short, bytes queue behind them, and more frames and the
 * end of file arrive while they wait for the descriptor.
 */
static const size_t odd_sizes[] = { 1, 300000, 7, 4097, 65536, 65537, 13, 131072, 4093 };
#define ODD_N (sizeof(odd_sizes) / sizeof(odd_sizes[0]))

struct odd_source {
	int fd;
	struct mg_io *io;
	size_t total, written;
	unsigned k;
};

static void odd_source_cb(struct mg_io *io, unsigned events, void *data)
{
	struct odd_source *s = data;
	static uint8_t buf[300000];
	size_t want = odd_sizes[s->k++ % ODD_N];
	ssize_t n;

	if (want > s->total - s->written) {
		want = s->total - s->written;
	}
	for (size_t i = 0; i < want; i++) {
		buf[i] = pat(s->written + i);
	}
	n = write(s->fd, buf, want);
	if (n > 0) {
		s->written += (size_t)n;
	}
	if (s->written == s->total || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		TALLOC_FREE(s->io);
		close(s->fd);
		s->fd = -1;
	}
}

/* Like sink_cb, a different size each time. */
static void odd_sink_cb(struct mg_io *io, unsigned events, void *data)
{
	static const size_t sizes[] = { 1, 4093, 3, 65536, 1, 4096, 777 };
	struct sink *s = data;

	sink_take(s, sizes[s->got % 7]);
}

/* 'total' bytes from router 'from' to 'to', into a 4 KiB pipe or (sock)
 * a socket with small buffers; all arrive, in order, and both ends end. */
static void odd_transfer(uint32_t from, uint32_t to, bool sock, size_t total)
{
	struct net *n = net_new();
	struct chan c = { 0 };
	struct odd_source src = { .total = total };
	struct sink sink = { .bad_at = SIZE_MAX };
	struct transfer t = { &c, &sink };
	int small = 4096;

	ASSERT_PTR_NOT_NULL(n);
	ASSERT_INT_EQ(pipe2(c.src, O_CLOEXEC | O_NONBLOCK), 0);
	if (sock) {
		ASSERT_INT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
					 c.dst), 0);
		ASSERT_INT_EQ(setsockopt(c.dst[1], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)), 0);
		ASSERT_INT_EQ(setsockopt(c.dst[0], SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)), 0);
	} else {
		ASSERT_INT_EQ(pipe2(c.dst, O_CLOEXEC | O_NONBLOCK), 0);
		ASSERT_TRUE(fcntl(c.dst[1], F_SETPIPE_SZ, small) > 0);
	}
	ASSERT_TRUE(fcntl(c.src[1], F_SETPIPE_SZ, 1 << 20) > 0);
	c.in = mg__chan_in_new(n, n->r[to], c.dst[1], from, on_done, &c.din);
	c.out = mg__chan_out_new(n, n->r[from], c.src[0], to, MG_WINDOW_DEFAULT, on_done, &c.dout);
	ASSERT_PTR_NOT_NULL(c.in);
	ASSERT_PTR_NOT_NULL(c.out);
	mg__chan_in_set_ack(c.in, mg__chan_out_ack_handle(c.out));
	mg__chan_out_start(c.out, mg__chan_in_handle(c.in));
	src.fd = c.src[1];
	sink.fd = c.dst[0];
	src.io = mg_io_new(n, n->loop, src.fd, MG_IO_WRITE, odd_source_cb, &src);
	sink.io = mg_io_new(n, n->loop, sink.fd, MG_IO_READ, odd_sink_cb, &sink);
	ASSERT_TRUE(src.io != NULL && sink.io != NULL);
	ASSERT_TRUE(run_until(n->loop, transfer_done, &t, 60000));
	printf("#   %s: %zu of %zu bytes\n", sock ? "socket" : "pipe", sink.got, total);
	ASSERT_INT_EQ(sink.err, 0);
	ASSERT_INT_EQ(sink.got, total);
	ASSERT_TRUE(sink.bad_at == SIZE_MAX);
	ASSERT_INT_EQ(c.din.err, 0);
	ASSERT_INT_EQ(c.dout.err, 0);
	close(sink.fd);
	talloc_free(c.out);
	talloc_free(c.in);
	talloc_free(n);
}

static void test_odd_sizes_pipe_body(void)
{
	odd_transfer(1, 0, false, 6u << 20);
}
ISOLATED(test_odd_sizes_pipe)

static void test_odd_sizes_socket_body(void)
{
	odd_transfer(0, 1, true, 6u << 20);
}
ISOLATED(test_odd_sizes_socket)

/* A sender that grants itself more than the window meets a reader that
 * does not drain: the receiver drops the channel, the sender learns it. */
static void sender_past_window(uint32_t from, uint32_t to)
{
	struct net *n = net_new();
	struct chan c = { 0 };
	struct source src = { .total = 32u << 20 };

	ASSERT_PTR_NOT_NULL(n);
	ASSERT_TRUE(chan_open(n, n, from, to, 4 * MG_WINDOW_DEFAULT, 4096, &c));
	src.fd = c.src[1];
	ASSERT_TRUE(source_start(n, n->loop, &src));
	ASSERT_TRUE(run_until(n->loop, both_done, &c, 10000));
	ASSERT_INT_EQ(c.din.err, MG_ERR_PROTOCOL);
	ASSERT_INT_EQ(c.dout.err, -EPIPE);
	close(c.src[1]);
	close(c.dst[0]);
	talloc_free(c.out);
	talloc_free(c.in);
	talloc_free(n);
}

static void test_sender_past_window_body(void)
{
	sender_past_window(1, 0);
}
ISOLATED(test_sender_past_window)

/* The same check in an agent (the stdin of its command, a program fetch). */
static void test_sender_past_window_to_agent_body(void)
{
	sender_past_window(0, 1);
}
ISOLATED(test_sender_past_window_to_agent)

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	mg_log_set_level(MG_LOG_ERROR);
	TESTS_BEGIN();
	RUN(test_child_to_master);
	RUN(test_master_to_child);
	RUN(test_flow_control);
	RUN(test_flow_control_full_window);
	RUN(test_reader_gone);
	RUN(test_sender_context_lost);
	RUN(test_receiver_context_lost);
	RUN(test_out_close);
	RUN(test_in_freed_early);
	RUN(test_window_no_credit);
	RUN(test_window_with_credit);
	RUN(test_credit_batched);
	RUN(test_credit_batched_after_eof);
	RUN(test_small_read_not_spliced);
	RUN(test_odd_sizes_pipe);
	RUN(test_odd_sizes_socket);
	RUN(test_sender_past_window);
	RUN(test_sender_past_window_to_agent);
	return TESTS_END();
}
