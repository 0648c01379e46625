/* Unit tests for lib/core/stream.c: framing, raw mode, limits, flow. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "buf.h"
#include "mitogen/error.h"
#include "mitogen/loop.h"
#include "protocol.h"
#include "stream.h"

#define MAX_RX 1100

#include "loop-helpers.h"


/* What one stream received. */
struct rx {
	TALLOC_CTX *ctx;
	struct mg_msg *m[MAX_RX];
	int n;
	int want;		/* for rx_has_want */
	int pause_at;		/* pause the stream when n reaches it */
	int closes;
	int err;
	char why[256];
};

static void rx_msg(struct mg_stream *s, struct mg_msg *m, void *data)
{
	struct rx *r = data;

	if (r->n < MAX_RX) {
		/* Payloads are borrowed from the receive buffer: keep a copy. */
		if (mg__msg_keep(r->ctx, m) != 0) {
			abort();
		}
		r->m[r->n++] = m;
	} else {
		talloc_free(m);
	}
	if (r->pause_at > 0 && r->n == r->pause_at) {
		mg__stream_pause(s, true);
	}
}

static void rx_close(struct mg_stream *s, int err, const char *why, void *data)
{
	struct rx *r = data;

	r->closes++;
	r->err = err;
	snprintf(r->why, sizeof(r->why), "%s", why != NULL ? why : "");
}

static bool rx_has_want(void *arg)
{
	struct rx *r = arg;

	return r->n >= r->want;
}

static bool rx_closed(void *arg)
{
	return ((struct rx *)arg)->closes > 0;
}

/* A framed stream on one end of a socketpair; the other end is returned
 * raw in *_peer (non-blocking, close-on-exec). */
static struct mg_stream *stream_raw_pair(TALLOC_CTX *mem_ctx, struct mg_loop *loop,
					 uint32_t max, struct rx *r, int *_peer)
{
	struct mg_stream *s;
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0) {
		return NULL;
	}
	s = mg__stream_new(mem_ctx, loop, sv[0], sv[0], "test", max);
	if (s == NULL) {
		close(sv[0]);
		close(sv[1]);
		return NULL;
	}
	mg__stream_set_frames(s, rx_msg, r);
	mg__stream_on_close(s, rx_close, r);
	*_peer = sv[1];
	return s;
}

/* Two framed streams connected to each other. */
static bool stream_pair(TALLOC_CTX *mem_ctx, struct mg_loop *loop, uint32_t max,
			struct rx *ra, struct rx *rb,
			struct mg_stream **_a, struct mg_stream **_b)
{
	int peer;

	*_a = stream_raw_pair(mem_ctx, loop, max, ra, &peer);
	if (*_a == NULL) {
		return false;
	}
	*_b = mg__stream_new(mem_ctx, loop, peer, peer, "peer", max);
	if (*_b == NULL) {
		close(peer);
		return false;
	}
	mg__stream_set_frames(*_b, rx_msg, rb);
	mg__stream_on_close(*_b, rx_close, rb);
	return true;
}

/* A whole frame (header and payload) in a fresh talloc buffer. */
static uint8_t *frame(TALLOC_CTX *mem_ctx, const struct mg_msg *m, size_t *_len)
{
	uint8_t *p = talloc_size(mem_ctx, MG_HDR_LEN + m->len);

	if (p != NULL) {
		mg__msg_header(m, p);
		if (m->len > 0) {
			memcpy(p + MG_HDR_LEN, m->data, m->len);
		}
		*_len = MG_HDR_LEN + m->len;
	}
	return p;
}

static bool write_all(int fd, const void *p, size_t n)
{
	const uint8_t *q = p;

	while (n > 0) {
		ssize_t w = write(fd, q, n);
		if (w < 0 && errno == EINTR) {
			continue;
		}
		if (w <= 0) {
			return false;
		}
		q += w;
		n -= (size_t)w;
	}
	return true;
}

static bool msg_eq(const struct mg_msg *a, const struct mg_msg *b)
{
	return a->flags == b->flags && a->dst == b->dst && a->src == b->src &&
	       a->auth_id == b->auth_id && a->handle == b->handle &&
	       a->reply_to == b->reply_to && a->len == b->len &&
	       (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

/* --- tests --- */

static void test_header_round_trip(void)
{
	struct mg_msg m = {
		.flags = MG_F_DEAD | MG_F_ZLIB, .dst = 0x01020304u, .src = 0xa0b0c0d0u,
		.auth_id = 7, .handle = 0xfffffffeu, .reply_to = 1000, .len = 12345,
	};
	struct mg_msg d;
	uint8_t hdr[MG_HDR_LEN];

	mg__msg_header(&m, hdr);
	/* Magic "MG", then big-endian fields at the documented offsets. */
	ASSERT_INT_EQ(hdr[0], 0x4d);
	ASSERT_INT_EQ(hdr[1], 0x47);
	ASSERT_INT_EQ(mg__get_be32(hdr + 4), 0x01020304u);
	ASSERT_INT_EQ(mg__get_be32(hdr + 24), 12345);

	memset(&d, 0xaa, sizeof(d));
	ASSERT_INT_EQ(mg__msg_parse_header(hdr, 12345, &d), 0);
	ASSERT_INT_EQ(d.flags, m.flags);
	ASSERT_INT_EQ(d.dst, m.dst);
	ASSERT_INT_EQ(d.src, m.src);
	ASSERT_INT_EQ(d.auth_id, m.auth_id);
	ASSERT_INT_EQ(d.handle, m.handle);
	ASSERT_INT_EQ(d.reply_to, m.reply_to);
	ASSERT_INT_EQ(d.len, m.len);

	/* One byte over the maximum. */
	ASSERT_INT_EQ(mg__msg_parse_header(hdr, 12344, &d), MG_ERR_TOO_BIG);
	/* Bad magic. */
	hdr[1] ^= 1;
	ASSERT_INT_EQ(mg__msg_parse_header(hdr, 1u << 20, &d), MG_ERR_PROTOCOL);
	hdr[1] ^= 1;
	/* Every undefined flag bit is refused. */
	for (unsigned bit = 0; bit < 16; bit++) {
		uint16_t f = (uint16_t)(1u << bit);
		if ((f & MG_F_KNOWN) != 0) {
			continue;
		}
		m.flags = f;
		mg__msg_header(&m, hdr);
		ASSERT_INT_EQ(mg__msg_parse_header(hdr, 1u << 20, &d), MG_ERR_PROTOCOL);
	}
}

static void test_send_receive(void)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	struct mg_loop *loop = mg_loop_new(tmp);
	struct rx ra = { .ctx = tmp }, rb = { .ctx = tmp, .want = 2 };
	struct mg_stream *a, *b;
	uint8_t payload[300];
	struct mg_msg m = {
		.flags = MG_F_DEAD, .dst = 0x11223344u, .src = 0x55667788u,
		.auth_id = 0x99aabbccu, .handle = 0xddeeff00u, .reply_to = 0x12345678u,
		.data = payload, .len = sizeof(payload),
	};
	struct mg_msg empty = { .dst = 1, .src = 2, .auth_id = 2, .handle = 3 };

	for (size_t i = 0; i < sizeof(payload); i++) {
		payload[i] = (uint8_t)(i * 7);
	}
	ASSERT_PTR_NOT_NULL(loop);
	ASSERT_TRUE(stream_pair(tmp, loop, 4096, &ra, &rb, &a, &b));
	ASSERT_INT_EQ(mg__stream_send(a, &m), 0);
	ASSERT_INT_EQ(mg__stream_send(a, &empty), 0);
	/* Small writes go out at once. */
	ASSERT_INT_EQ(mg__stream_pending(a), 0);
	/* Nothing is delivered from inside the send. */
	ASSERT_INT_EQ(rb.n, 0);
	ASSERT_TRUE(run_until(loop, rx_has_want, &rb, 2000));
	ASSERT_INT_EQ(rb.n, 2);
	ASSERT_TRUE(msg_eq(rb.m[0], &m));
	ASSERT_TRUE(rb.m[0]->in == b);
	ASSERT_TRUE(talloc_parent(rb.m[0]->data) == rb.m[0] && !rb.m[0]->borrowed);
	ASSERT_TRUE(msg_eq(rb.m[1], &empty));
	ASSERT_INT_EQ(ra.n, 0);
	ASSERT_INT_EQ(ra.closes + rb.closes, 0);

	/* And the other way. */
	rb.want = 1;
	ra.want = 1;
	ASSERT_INT_EQ(mg__stream_send(b, &m), 0);
	ASSERT_TRUE(run_until(loop, rx_has_want, &ra, 2000));
	ASSERT_TRUE(msg_eq(ra.m[0], &m));
	ASSERT_TRUE(ra.m[0]->in == a);
	talloc_free(tmp);
}

static void test_back_to_back(void)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	struct mg_loop *loop = mg_loop_new(tmp);
	struct rx ra = { .ctx = tmp }, rb = { .ctx = tmp, .want = 1000 };
	struct mg_stream *a, *b;
	uint8_t payload[700];
	int bad = -1;

	for (size_t i = 0; i < sizeof(payload); i++) {
		payload[i] = (uint8_t)(i ^ 0x5a);
	}
	ASSERT_TRUE(stream_pair(tmp, loop, 4096, &ra, &rb, &a, &b));
	for (uint32_t i = 0; i < 1000; i++) {
		struct mg_msg m = {
			.dst = 1, .src = 2, .auth_id = 2, .handle = 5000 + i, .reply_to = i,
			.data = payload + (i % 300), .len = i % 400,
		};
		ASSERT_INT_EQ(mg__stream_send(a, &m), 0);
	}
	ASSERT_TRUE(run_until(loop, rx_has_want, &rb, 5000));
	ASSERT_INT_EQ(rb.n, 1000);
	for (uint32_t i = 0; i < 1000 && bad < 0; i++) {
		struct mg_msg *m = rb.m[i];
		if (m->handle != 5000 + i || m->reply_to != i || m->len != i % 400 ||
		    (m->len > 0 && memcmp(m->data, payload + (i % 300), m->len) != 0)) {
			bad = (int)i;
		}
	}
	ASSERT_INT_EQ(bad, -1);
	ASSERT_INT_EQ(rb.closes, 0);
	talloc_free(tmp);
}

/* Frames trickling in one byte per loop iteration. */
struct trickle {
	const uint8_t *p;
	size_t len;
	size_t off;
	size_t ends[4];		/* where each frame ends */
	int nframes;
	struct rx *rx;
	bool early;		/* a frame was delivered before its last byte */
	bool write_failed;
};

static void trickle_cb(struct mg_io *io, unsigned events, void *data)
{
	struct trickle *t = data;
	int complete = 0;

	for (int i = 0; i < t->nframes; i++) {
		if (t->ends[i] <= t->off) {
			complete++;
		}
	}
	if (t->rx->n > complete) {
		t->early = true;
	}
	if (t->off == t->len) {
		mg_io_set(io, 0);
		return;
	}
	if (write(mg_io_fd(io), t->p + t->off, 1) != 1) {
		t->write_failed = true;
		mg_io_set(io, 0);
		return;
	}
	t->off++;
}

static void test_byte_by_byte(void)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	struct mg_loop *loop = mg_loop_new(tmp);
	struct rx rx = { .ctx = tmp, .want = 3 };
	struct trickle t = { .rx = &rx };
	struct mg_msg m[3] = {
		{ .dst = 1, .src = 2, .auth_id = 2, .handle = 10, .data = (uint8_t *)"first", .len = 5 },
		{ .dst = 1, .src = 2, .auth_id = 2, .handle = 11, .len = 0 },
		{ .dst = 1, .src = 2, .auth_id = 2, .handle = 12, .reply_to = 9,
		  .data = (uint8_t *)"the third message", .len = 17 },
	};
	uint8_t all[256];
	struct mg_stream *s;
	int peer;

	for (int i = 0; i < 3; i++) {
		size_t n;
		uint8_t *f = frame(tmp, &m[i], &n);
		ASSERT_PTR_NOT_NULL(f);
		memcpy(all + t.len, f, n);
		t.len += n;
		t.ends[t.nframes++] = t.len;
	}
	t.p = all;
	s = stream_raw_pair(tmp, loop, 4096, &rx, &peer);
	ASSERT_PTR_NOT_NULL(s);
	ASSERT_PTR_NOT_NULL(mg_io_new(tmp, loop, peer, MG_IO_WRITE, trickle_cb, &t));
	ASSERT_TRUE(run_until(loop, rx_has_want, &rx, 5000));
	ASSERT_TRUE(!t.write_failed);
	ASSERT_TRUE(!t.early);
	ASSERT_INT_EQ(t.off, t.len);
	ASSERT_INT_EQ(rx.n, 3);
	for (int i = 0; i < 3; i++) {
		ASSERT_TRUE(msg_eq(rx.m[i], &m[i]));
	}
	ASSERT_INT_EQ(rx.closes, 0);
	talloc_free(tmp);
	close(peer);
}

/* Raw mode: collect bytes up to the MITO002 marker, then switch to frames
 * from inside the callback. */
struct boot {
	struct rx *rx;
	char raw[256];
	size_t nraw;
	int calls;
	int calls_after_switch;
	bool switched;
	bool switch_outside;	/* leave the switch to the test */
};

static size_t boot_raw(struct mg_stream *s, const uint8_t *p, size_t n, void *data)
{
	struct boot *b = data;
	const uint8_t *mark;

	b->calls++;
	if (b->switched) {
		b->calls_after_switch++;
	}
	mark = memmem(p, n, MG_MARK_UP, MG_MARK_LEN);
	if (mark == NULL) {
		/* Keep a possible partial marker for next time. */
		size_t keep = n < MG_MARK_LEN - 1 ? n : MG_MARK_LEN - 1;
		size_t used = n - keep;
		if (b->nraw + used < sizeof(b->raw)) {
			memcpy(b->raw + b->nraw, p, used);
			b->nraw += used;
		}
		return used;
	}
	if (b->nraw + (size_t)(mark - p) < sizeof(b->raw)) {
		memcpy(b->raw + b->nraw, p, (size_t)(mark - p));
		b->nraw += (size_t)(mark - p);
	}
	if (!b->switch_outside) {
		b->switched = true;
		mg__stream_set_frames(s, rx_msg, b->rx);
	}
	return (size_t)(mark - p) + MG_MARK_LEN;
}

static void test_raw_then_frames(void)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	struct mg_loop *loop = mg_loop_new(tmp);
	struct rx rx = { .ctx = tmp, .want = 2 };
	struct boot bt = { .rx = &rx };
	struct mg_msg m1 = { .dst = 1, .handle = 100, .data = (uint8_t *)"hello", .len = 5 };
	struct mg_msg m2 = { .dst = 1, .handle = 101, .data = (uint8_t *)"world!", .len = 6 };
	uint8_t all[512];
	size_t len = 0, n;
	struct mg_stream *s;
	uint8_t *f;
	int peer;

	s = stream_raw_pair(tmp, loop, 4096, &rx, &peer);
	ASSERT_PTR_NOT_NULL(s);
	mg__stream_set_raw(s, boot_raw, &bt);
	/* Junk, the marker and two frames, all in one write and one read. */
	memcpy(all, "junk before", 11);
	len = 11;
	memcpy(all + len, MG_MARK_UP, MG_MARK_LEN);
	len += MG_MARK_LEN;
	f = frame(tmp, &m1, &n);
	memcpy(all + len, f, n);
	len += n;
	f = frame(tmp, &m2, &n);
	memcpy(all + len, f, n);
	len += n;
	ASSERT_TRUE(write_all(peer, all, len));
	ASSERT_TRUE(run_until(loop, rx_has_want, &rx, 2000));
	ASSERT_TRUE(bt.switched);
	ASSERT_INT_EQ(bt.nraw, 11);
	ASSERT_TRUE(memcmp(bt.raw, "junk before", 11) == 0);
	ASSERT_INT_EQ(bt.calls_after_switch, 0);
	ASSERT_INT_EQ(rx.n, 2);
	ASSERT_TRUE(msg_eq(rx.m[0], &m1));
	ASSERT_TRUE(msg_eq(rx.m[1], &m2));
	ASSERT_INT_EQ(rx.closes, 0);
	talloc_free(tmp);
	close(peer);
}

/* The marker arrives split, then half a frame with it, then the rest. */
static void test_raw_then_frames_split(void)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	struct mg_loop *loop = mg_loop_new(tmp);
	struct rx rx = { .ctx = tmp, .want = 1 };
	struct boot bt = { .rx = &rx };
	uint8_t payload[1000];
	struct mg_msg m = { .dst = 1, .handle = 100, .data = payload, .len = sizeof(payload) };
	struct mg_stream *s;
	uint8_t *f;
	size_t n;
	int peer;

	memset(payload, 'p', sizeof(payload));
	s = stream_raw_pair(tmp, loop, 4096, &rx, &peer);
	ASSERT_PTR_NOT_NULL(s);
	mg__stream_set_raw(s, boot_raw, &bt);
	f = frame(tmp, &m, &n);
	ASSERT_TRUE(write_all(peer, "xyMITO0", 7));
	run_until(loop, NULL, NULL, 30);
	ASSERT_TRUE(!bt.switched);
	ASSERT_TRUE(write_all(peer, "02\n", 3));
	ASSERT_TRUE(write_all(peer, f, 100));
	run_until(loop, NULL, NULL, 30);
	ASSERT_TRUE(bt.switched);
	ASSERT_INT_EQ(rx.n, 0);
	ASSERT_TRUE(write_all(peer, f + 100, n - 100));
	ASSERT_TRUE(run_until(loop, rx_has_want, &rx, 2000));
	ASSERT_INT_EQ(bt.nraw, 2);
	ASSERT_TRUE(memcmp(bt.raw, "xy", 2) == 0);
	ASSERT_TRUE(msg_eq(rx.m[0], &m));
	ASSERT_INT_EQ(bt.calls_after_switch, 0);
	talloc_free(tmp);
	close(peer);
}

/* Switching to frames outside any callback parses what is buffered
 * already, without new bytes arriving, and not from inside the call. */
static void test_set_frames_later(void)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	struct mg_loop *loop = mg_loop_new(tmp);
	struct rx rx = { .ctx = tmp, .want = 2 };
	struct boot bt = { .rx = &rx, .switch_outside = true };
	struct mg_msg m1 = { .dst = 1, .handle = 100, .data = (uint8_t *)"a", .len = 1 };
	struct mg_msg m2 = { .dst = 1, .handle = 101, .data = (uint8_t *)"bc", .len = 2 };
	struct mg_stream *s;
	uint8_t *f;
	size_t n;
	int peer;

	s = stream_raw_pair(tmp, loop, 4096, &rx, &peer);
	ASSERT_PTR_NOT_NULL(s);
	mg__stream_set_raw(s, boot_raw, &bt);
	ASSERT_TRUE(write_all(peer, MG_MARK_UP, MG_MARK_LEN));
	f = frame(tmp, &m1, &n);
	ASSERT_TRUE(write_all(peer, f, n));
	f = frame(tmp, &m2, &n);
	ASSERT_TRUE(write_all(peer, f, n));
	run_until(loop, NULL, NULL, 30);
	ASSERT_INT_EQ(bt.calls, 1);
	ASSERT_INT_EQ(rx.n, 0);
	mg__stream_set_frames(s, rx_msg, &rx);
	ASSERT_INT_EQ(rx.n, 0);
	ASSERT_TRUE(run_until(loop, rx_has_want, &rx, 2000));
	ASSERT_TRUE(msg_eq(rx.m[0], &m1));
	ASSERT_TRUE(msg_eq(rx.m[1], &m2));
	talloc_free(tmp);
	close(peer);
}

static void test_bad_magic(void)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	struct mg_loop *loop = mg_loop_new(tmp);
	struct rx rx = { .ctx = tmp };
	struct mg_msg m = { .dst = 1, .handle = 100, .data = (uint8_t *)"ok", .len = 2 };
	struct mg_stream *s;
	uint8_t *good, *bad;
	size_t n;
	int peer;

	s = stream_raw_pair(tmp, loop, 4096, &rx, &peer);
	ASSERT_PTR_NOT_NULL(s);
	good = frame(tmp, &m, &n);
	bad = talloc_memdup(tmp, good, n);
	bad[0] = 'X';
	/* One good frame, then garbage. */
	ASSERT_TRUE(write_all(peer, good, n));
	ASSERT_TRUE(write_all(peer, bad, n));
	ASSERT_TRUE(run_until(loop, rx_closed, &rx, 2000));
	ASSERT_INT_EQ(rx.closes, 1);
	ASSERT_INT_EQ(rx.err, MG_ERR_PROTOCOL);
	ASSERT_TRUE(rx.why[0] != '\0');
	ASSERT_INT_EQ(rx.n, 1);
	ASSERT_TRUE(mg__stream_closed(s));
	ASSERT_INT_EQ(mg__stream_send(s, &m), MG_ERR_DISCONNECTED);
	/* Closed once, and nothing more is read. */
	ASSERT_TRUE(write_all(peer, good, n));
	run_until(loop, NULL, NULL, 20);
	ASSERT_INT_EQ(rx.closes, 1);
	ASSERT_INT_EQ(rx.n, 1);
	talloc_free(tmp);
	close(peer);
}

static void test_unknown_flags(void)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	struct mg_loop *loop = mg_loop_new(tmp);
	struct rx rx = { .ctx = tmp };
	struct mg_msg m = { .flags = 0x0010, .dst = 1, .handle = 100 }; /* not in MG_F_KNOWN */
	uint8_t hdr[MG_HDR_LEN];
	struct mg_stream *s;
	int peer;

	s = stream_raw_pair(tmp, loop, 4096, &rx, &peer);
	ASSERT_PTR_NOT_NULL(s);
	mg__msg_header(&m, hdr);
	ASSERT_TRUE(write_all(peer, hdr, sizeof(hdr)));
	ASSERT_TRUE(run_until(loop, rx_closed, &rx, 2000));
	ASSERT_INT_EQ(rx.err, MG_ERR_PROTOCOL);
	ASSERT_TRUE(rx.why[0] != '\0');
	ASSERT_INT_EQ(rx.n, 0);
	talloc_free(tmp);
	close(peer);
}

/* Only the header of an oversized frame is sent: the stream must give up
 * on it without waiting for (or allocating) the payload. */
static void test_too_big(void)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	struct mg_loop *loop = mg_loop_new(tmp);
	struct rx rx = { .ctx = tmp };
	struct mg_msg m = { .dst = 1, .handle = 100, .len = 1025 };
	uint8_t hdr[MG_HDR_LEN];
	struct mg_stream *s;
	int peer;

	s = stream_raw_pair(tmp, loop, 1024, &rx, &peer);
	ASSERT_PTR_NOT_NULL(s);
	mg__msg_header(&m, hdr);
	ASSERT_TRUE(write_all(peer, hdr, sizeof(hdr)));
	ASSERT_TRUE(run_until(loop, rx_closed, &rx, 2000));
	ASSERT_INT_EQ(rx.err, MG_ERR_TOO_BIG);
	ASSERT_TRUE(rx.why[0] != '\0');
	ASSERT_INT_EQ(rx.n, 0);
	/* The sending side refuses too. */
	{
		uint8_t big[1025] = { 0 };
		struct mg_msg mb = { .dst = 1, .handle = 100, .data = big, .len = sizeof(big) };
		int sv[2];
		struct mg_stream *s2;

		ASSERT_INT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
		s2 = mg__stream_new(tmp, loop, sv[0], sv[0], "s2", 1024);
		ASSERT_PTR_NOT_NULL(s2);
		ASSERT_INT_EQ(mg__stream_send(s2, &mb), MG_ERR_TOO_BIG);
		ASSERT_INT_EQ(mg__stream_pending(s2), 0);
		mb.len = 1024;
		ASSERT_INT_EQ(mg__stream_send(s2, &mb), 0);
		close(sv[1]);
	}
	talloc_free(tmp);
	close(peer);
}

/* A frame of exactly max_msg bytes is fine. */
static void test_max_boundary(void)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	struct mg_loop *loop = mg_loop_new(tmp);
	struct rx ra = { .ctx = tmp }, rb = { .ctx = tmp, .want = 1 };
	uint8_t *p = talloc_zero_size(tmp, 65536);
	struct mg_msg m = { .dst = 1, .handle = 100, .data = p, .len = 65536 };
	struct mg_stream *a, *b;

	p[65535] = 'z';
	ASSERT_TRUE(stream_pair(tmp, loop, 65536, &ra, &rb, &a, &b));
	ASSERT_INT_EQ(mg__stream_send(a, &m), 0);
	ASSERT_TRUE(run_until(loop, rx_has_want, &rb, 2000));
	ASSERT_TRUE(msg_eq(rb.m[0], &m));
	ASSERT_INT_EQ(rb.closes, 0);
	talloc_free(tmp);
}

static void test_eof(void)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	struct mg_loop *loop = mg_loop_new(tmp);
	struct rx rx = { .ctx = tmp }, rb = { .ctx = tmp };
	struct mg_stream *s, *a, *b;
	int peer;

	s = stream_raw_pair(tmp, loop, 4096, &rx, &peer);
	ASSERT_PTR_NOT_NULL(s);
	close(peer);
	ASSERT_TRUE(run_until(loop, rx_closed, &rx, 2000));
	ASSERT_INT_EQ(rx.err, 0);
	ASSERT_TRUE(mg__stream_closed(s));
	run_until(loop, NULL, NULL, 20);
	ASSERT_INT_EQ(rx.closes, 1);
	talloc_free(s);

	/* Freeing a stream closes its fd (the peer sees EOF) and calls no
	 * callback of its own. */
	rx.closes = 0;
	ASSERT_TRUE(stream_pair(tmp, loop, 4096, &rx, &rb, &a, &b));
	talloc_free(a);
	ASSERT_TRUE(run_until(loop, rx_closed, &rb, 2000));
	ASSERT_INT_EQ(rb.err, 0);
	ASSERT_INT_EQ(rx.closes, 0);
	talloc_free(b);
	/* Both fds are gone: nothing is left for the loop to wait on. */
	ASSERT_INT_EQ(mg_loop_run(loop), 0);
	talloc_free(tmp);
}

/* A 3 MiB message to a reader that takes 16 KiB per loop iteration. */
struct slow {
	uint8_t *buf;
	size_t len, cap;
	size_t chunk;
	struct mg_stream *s;
	size_t max_pending;
	bool eof;
	int err;
};

static void slow_read(struct mg_io *io, unsigned events, void *data)
{
	struct slow *sl = data;
	size_t want = sl->cap - sl->len < sl->chunk ? sl->cap - sl->len : sl->chunk;
	ssize_t n;

	if (sl->s != NULL && mg__stream_pending(sl->s) > sl->max_pending) {
		sl->max_pending = mg__stream_pending(sl->s);
	}
	if (want == 0) {
		uint8_t extra;
		n = read(mg_io_fd(io), &extra, 1);
		if (n > 0) {
			sl->err = 1;
		}
	} else {
		n = read(mg_io_fd(io), sl->buf + sl->len, want);
	}
	if (n == 0) {
		sl->eof = true;
		mg_io_set(io, 0);
	} else if (n > 0 && want > 0) {
		sl->len += (size_t)n;
	} else if (n < 0 && errno != EAGAIN) {
		sl->err = errno;
		mg_io_set(io, 0);
	}
}

static bool slow_full(void *arg)
{
	struct slow *sl = arg;

	return sl->len == sl->cap || sl->err != 0;
}

static bool slow_eof(void *arg)
{
	struct slow *sl = arg;

	return sl->eof || sl->err != 0;
}

static void test_large_slow_reader(void)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	struct mg_loop *loop = mg_loop_new(tmp);
	struct rx rx = { .ctx = tmp };
	const size_t big = 3u << 20;
	uint8_t *p = talloc_size(tmp, big);
	struct mg_msg m = { .dst = 7, .src = 8, .auth_id = 8, .handle = 1234, .data = p, .len = big };
	struct mg_msg tail = { .dst = 7, .src = 8, .auth_id = 8, .handle = 1235,
			       .data = (uint8_t *)"after", .len = 5 };
	struct slow sl = { .chunk = 16384 };
	struct mg_msg d;
	struct mg_stream *s;
	int peer;

	ASSERT_PTR_NOT_NULL(p);
	for (size_t i = 0; i < big; i++) {
		p[i] = (uint8_t)(i * 31 + (i >> 16));
	}
	s = stream_raw_pair(tmp, loop, 4u << 20, &rx, &peer);
	ASSERT_PTR_NOT_NULL(s);
	sl.s = s;
	sl.cap = 2 * MG_HDR_LEN + big + 5;
	sl.buf = talloc_size(tmp, sl.cap);
	ASSERT_INT_EQ(mg__stream_send(s, &m), 0);
	/* The socket cannot take 3 MiB at once: the rest is queued... */
	ASSERT_TRUE(mg__stream_pending(s) > 0);
	ASSERT_TRUE(mg__stream_pending(s) <= big + MG_HDR_LEN);
	/* ...and a later message queues behind it, whole. */
	ASSERT_INT_EQ(mg__stream_send(s, &tail), 0);
	ASSERT_PTR_NOT_NULL(mg_io_new(tmp, loop, peer, MG_IO_READ, slow_read, &sl));
	ASSERT_TRUE(run_until(loop, slow_full, &sl, 10000));
	ASSERT_INT_EQ(sl.err, 0);
	ASSERT_INT_EQ(sl.len, sl.cap);
	ASSERT_TRUE(sl.max_pending > 0);
	ASSERT_INT_EQ(mg__stream_pending(s), 0);
	ASSERT_INT_EQ(mg__msg_parse_header(sl.buf, 4u << 20, &d), 0);
	ASSERT_INT_EQ(d.handle, 1234);
	ASSERT_INT_EQ(d.len, big);
	ASSERT_TRUE(memcmp(sl.buf + MG_HDR_LEN, p, big) == 0);
	ASSERT_INT_EQ(mg__msg_parse_header(sl.buf + MG_HDR_LEN + big, 4u << 20, &d), 0);
	ASSERT_INT_EQ(d.handle, 1235);
	ASSERT_INT_EQ(d.len, 5);
	ASSERT_TRUE(memcmp(sl.buf + 2 * MG_HDR_LEN + big, "after", 5) == 0);
	ASSERT_INT_EQ(rx.closes, 0);
	talloc_free(tmp);
	close(peer);
}

static bool slow_half(void *arg)
{
	struct slow *sl = arg;

	return sl->len >= sl->cap / 2 || sl->err != 0;
}

/* A sender that outruns its peer queues a frame's rest each time: the
 * drained chunk is kept and the next backlog goes into it (no new
 * allocation; in the musl agent a big one is an mmap and page faults),
 * and the bytes come out right and in order. */
static void test_spare_reused(void)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	struct mg_loop *loop = mg_loop_new(tmp);
	struct rx rx = { .ctx = tmp };
	const size_t big = 2u << 20;
	uint8_t *p = talloc_size(tmp, big);
	struct mg_msg m = { .dst = 7, .src = 8, .auth_id = 8, .handle = 1, .data = p, .len = big };
	struct slow sl = { .chunk = 65536 };
	struct mg_msg d;
	struct mg_stream *s;
	size_t blocks;
	int peer;

	ASSERT_PTR_NOT_NULL(p);
	s = stream_raw_pair(tmp, loop, 4u << 20, &rx, &peer);
	ASSERT_PTR_NOT_NULL(s);
	sl.s = s;
	sl.cap = 2 * (MG_HDR_LEN + big);
	sl.buf = talloc_size(tmp, sl.cap);
	ASSERT_PTR_NOT_NULL(mg_io_new(tmp, loop, peer, MG_IO_READ, slow_read, &sl));
	memset(p, 'a', big);
	ASSERT_INT_EQ(mg__stream_send(s, &m), 0);
	ASSERT_TRUE(mg__stream_pending(s) > 0);
	ASSERT_TRUE(run_until(loop, slow_half, &sl, 10000));
	ASSERT_INT_EQ(mg__stream_pending(s), 0);
	blocks = talloc_total_blocks(s);
	memset(p, 'b', big);
	m.handle = 2;
	ASSERT_INT_EQ(mg__stream_send(s, &m), 0);
	ASSERT_TRUE(mg__stream_pending(s) > 0);
	/* The backlog went into the kept chunk: no block more. */
	ASSERT_INT_EQ(talloc_total_blocks(s), blocks);
	ASSERT_TRUE(run_until(loop, slow_full, &sl, 10000));
	ASSERT_INT_EQ(sl.err, 0);
	ASSERT_INT_EQ(mg__stream_pending(s), 0);
	for (int i = 0; i < 2; i++) {
		const uint8_t *f = sl.buf + (size_t)i * (MG_HDR_LEN + big);
		ASSERT_INT_EQ(mg__msg_parse_header(f, 4u << 20, &d), 0);
		ASSERT_INT_EQ(d.handle, (uint32_t)i + 1);
		ASSERT_INT_EQ(d.len, big);
		ASSERT_TRUE(f[MG_HDR_LEN] == "ab"[i] && f[MG_HDR_LEN + big - 1] == "ab"[i]);
		ASSERT_TRUE(memchr(f + MG_HDR_LEN, "ba"[i], big) == NULL);
	}
	ASSERT_INT_EQ(rx.closes, 0);
	talloc_free(tmp);
	close(peer);
}

/* What a tails-enabled stream received: how much of each large payload
 * came in memory rather than in a pipe. */
struct bulk {
	int n;
	int want;
	int large;
	size_t mem_max;		/* most memory bytes of a large frame past the first */
	bool bad;
};

static void bulk_msg(struct mg_stream *s, struct mg_msg *m, void *data)
{
	struct bulk *b = data;

	if (m->len >= 65536) {
		if (b->large++ > 0 && mg__msg_mem_len(m) > b->mem_max) {
			b->mem_max = mg__msg_mem_len(m);
		}
		if (mg__msg_flatten(m, m) != 0 || m->data[0] != (uint8_t)b->n ||
		    m->data[m->len - 1] != (uint8_t)b->n) {
			b->bad = true;
		}
	} else if (m->len != 4 || memcmp(m->data, "ack!", 4) != 0) {
		b->bad = true;
	}
	b->n++;
	talloc_free(m);
}

static bool bulk_has(void *arg)
{
	struct bulk *b = arg;

	return b->n >= b->want;
}

/* Large frames with small ones between them (data and its credit, as on
 * a hop carrying both ways): past the first, every large payload is
 * spliced, however many small frames came in between. */
static void test_bulk_stays_spliced(void)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	struct mg_loop *loop = mg_loop_new(tmp);
	struct bulk b = { 0 };
	uint8_t *p = talloc_zero_size(tmp, 65536);
	struct mg_msg big = { .dst = 1, .src = 2, .handle = 1000, .data = p, .len = 65536 };
	struct mg_msg ack = { .dst = 1, .src = 2, .handle = 1001, .data = (uint8_t *)"ack!", .len = 4 };
	struct mg_stream *s;
	int sv[2];

	ASSERT_PTR_NOT_NULL(p);
	ASSERT_INT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
	s = mg__stream_new(tmp, loop, sv[0], sv[0], "bulk", 1u << 20);
	ASSERT_PTR_NOT_NULL(s);
	mg__stream_set_frames(s, bulk_msg, &b);
	mg__stream_set_tails(s, true);
	for (int i = 0; i < 200; i++) {
		uint8_t *f;
		size_t len;
		p[0] = p[65535] = (uint8_t)(2 * i);
		f = frame(tmp, &big, &len);
		ASSERT_TRUE(f != NULL && write_all(sv[1], f, len));
		f = frame(tmp, &ack, &len);
		ASSERT_TRUE(f != NULL && write_all(sv[1], f, len));
		b.want = 2 * (i + 1);
		ASSERT_TRUE(run_until(loop, bulk_has, &b, 5000));
	}
	ASSERT_TRUE(!b.bad);
	ASSERT_INT_EQ(b.large, 200);
	ASSERT_INT_EQ(b.mem_max, 0);
	talloc_free(tmp);
	close(sv[1]);
}

/* shutdown() waits for the queue to drain, then the peer sees EOF. */
static void test_shutdown_after_drain(void)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	struct mg_loop *loop = mg_loop_new(tmp);
	struct rx rx = { .ctx = tmp };
	const size_t big = 1u << 20;
	uint8_t *p = talloc_zero_size(tmp, big);
	struct mg_msg m = { .dst = 7, .handle = 1234, .data = p, .len = big };
	struct slow sl = { .chunk = 16384 };
	struct mg_stream *s;
	int peer;

	s = stream_raw_pair(tmp, loop, 4u << 20, &rx, &peer);
	ASSERT_PTR_NOT_NULL(s);
	sl.cap = MG_HDR_LEN + big;
	sl.buf = talloc_size(tmp, sl.cap);
	ASSERT_INT_EQ(mg__stream_send(s, &m), 0);
	ASSERT_TRUE(mg__stream_pending(s) > 0);
	mg__stream_shutdown(s);
	ASSERT_PTR_NOT_NULL(mg_io_new(tmp, loop, peer, MG_IO_READ, slow_read, &sl));
	ASSERT_TRUE(run_until(loop, slow_eof, &sl, 10000));
	ASSERT_INT_EQ(sl.err, 0);
	ASSERT_INT_EQ(sl.len, sl.cap);
	ASSERT_TRUE(sl.eof);
	/* Only the write side is shut: the stream still reads. */
	ASSERT_INT_EQ(rx.closes, 0);
	talloc_free(tmp);
	close(peer);
}

/* With more than MG_STREAM_TX_HIGH queued towards a peer, the stream stops
 * reading from that peer until the queue drains. */
static void test_tx_high_stops_reading(void)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	struct mg_loop *loop = mg_loop_new(tmp);
	struct rx rx = { .ctx = tmp, .want = 1 };
	const size_t big = 3u << 20;
	uint8_t *p = talloc_zero_size(tmp, big);
	struct mg_msg m = { .dst = 7, .handle = 1, .data = p, .len = big };
	struct mg_msg ping = { .dst = 1, .handle = 2, .data = (uint8_t *)"ping", .len = 4 };
	struct slow sl = { .chunk = 65536 };
	struct mg_stream *s;
	uint8_t *f;
	size_t n;
	int peer;

	s = stream_raw_pair(tmp, loop, 4u << 20, &rx, &peer);
	ASSERT_PTR_NOT_NULL(s);
	while (mg__stream_pending(s) <= MG_STREAM_TX_HIGH) {
		ASSERT_INT_EQ(mg__stream_send(s, &m), 0);
	}
	f = frame(tmp, &ping, &n);
	ASSERT_TRUE(write_all(peer, f, n));
	run_until(loop, NULL, NULL, 50);
	ASSERT_INT_EQ(rx.n, 0);
	/* Held back by its own output alone, the link is still live: it
	 * keeps the loop running (an agent whose parent was slow to read
	 * found its loop idle and exited). Paused, it does not. */
	ASSERT_TRUE(mg_loop_alive(loop));
	mg__stream_pause(s, true);
	ASSERT_TRUE(!mg_loop_alive(loop));
	mg__stream_pause(s, false);
	ASSERT_TRUE(mg_loop_alive(loop));
	/* Drain it all: reading resumes. */
	sl.cap = mg__stream_pending(s) + 4 * (MG_HDR_LEN + big);
	sl.buf = talloc_size(tmp, sl.cap);
	ASSERT_PTR_NOT_NULL(mg_io_new(tmp, loop, peer, MG_IO_READ, slow_read, &sl));
	ASSERT_TRUE(run_until(loop, rx_has_want, &rx, 10000));
	ASSERT_TRUE(msg_eq(rx.m[0], &ping));
	ASSERT_INT_EQ(rx.closes, 0);
	talloc_free(tmp);
	close(peer);
}

/* A peer that lets MG_STREAM_TX_MAX pile up is dropped as not reading.
 * The close callback comes from the loop, not from inside the send that
 * overflowed (callbacks never run inside the call that caused them). */
struct overflow {
	struct rx rx;
	bool in_send;
	bool close_in_send;
};

static void overflow_close(struct mg_stream *s, int err, const char *why, void *data)
{
	struct overflow *o = data;

	if (o->in_send) {
		o->close_in_send = true;
	}
	rx_close(s, err, why, &o->rx);
}

static void test_tx_max_drops_peer(void)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	struct mg_loop *loop = mg_loop_new(tmp);
	struct overflow o = { .rx = { .ctx = tmp } };
	const size_t big = 4u << 20;
	uint8_t *p = talloc_zero_size(tmp, big);
	struct mg_msg m = { .dst = 7, .handle = 1, .data = p, .len = big };
	struct mg_stream *s;
	int peer, r = 0, sends = 0;
	size_t pending;

	s = stream_raw_pair(tmp, loop, 4u << 20, &o.rx, &peer);
	ASSERT_PTR_NOT_NULL(s);
	mg__stream_on_close(s, overflow_close, &o);
	while (r == 0 && sends < 40) {
		o.in_send = true;
		r = mg__stream_send(s, &m);
		o.in_send = false;
		sends++;
	}
	pending = mg__stream_pending(s);
	run_until(loop, rx_closed, &o.rx, 2000);
	talloc_free(tmp);
	close(peer);
	ASSERT_INT_NE(r, 0);
	ASSERT_TRUE(pending <= MG_STREAM_TX_MAX);
	ASSERT_INT_EQ(o.rx.closes, 1);
	ASSERT_INT_NE(o.rx.err, 0);
	ASSERT_TRUE(!o.close_in_send);
}

/* A write error (the reader of our write pipe went away while our read
 * side stays open) must end the stream through close_cb, from the loop. */
static void test_write_error_reported(void)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	struct mg_loop *loop = mg_loop_new(tmp);
	struct rx rx = { .ctx = tmp };
	struct mg_msg m = { .dst = 1, .handle = 2, .data = (uint8_t *)"x", .len = 1 };
	struct mg_stream *s;
	int in[2], out[2], r;

	ASSERT_INT_EQ(pipe2(in, O_NONBLOCK | O_CLOEXEC), 0);
	ASSERT_INT_EQ(pipe2(out, O_NONBLOCK | O_CLOEXEC), 0);
	s = mg__stream_new(tmp, loop, in[0], out[1], "pipes", 4096);
	ASSERT_PTR_NOT_NULL(s);
	mg__stream_set_frames(s, rx_msg, &rx);
	mg__stream_on_close(s, rx_close, &rx);
	close(out[0]);
	r = mg__stream_send(s, &m);
	ASSERT_INT_NE(r, 0);
	ASSERT_INT_EQ(rx.closes, 0);
	run_until(loop, rx_closed, &rx, 500);
	close(in[1]);
	talloc_free(tmp);
	ASSERT_INT_EQ(rx.closes, 1);
}

static void test_pause_resume(void)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	struct mg_loop *loop = mg_loop_new(tmp);
	struct rx ra = { .ctx = tmp }, rb = { .ctx = tmp, .want = 5 };
	struct mg_stream *a, *b;

	ASSERT_TRUE(stream_pair(tmp, loop, 4096, &ra, &rb, &a, &b));
	mg__stream_pause(b, true);
	for (uint32_t i = 0; i < 5; i++) {
		struct mg_msg m = { .dst = 1, .handle = 100 + i };
		ASSERT_INT_EQ(mg__stream_send(a, &m), 0);
	}
	run_until(loop, NULL, NULL, 50);
	ASSERT_INT_EQ(rb.n, 0);
	mg__stream_pause(b, false);
	ASSERT_INT_EQ(rb.n, 0);
	ASSERT_TRUE(run_until(loop, rx_has_want, &rb, 2000));
	for (int i = 0; i < 5; i++) {
		ASSERT_INT_EQ(rb.m[i]->handle, 100 + i);
	}
	talloc_free(tmp);
}

/* Pausing from the message callback holds back frames already read. */
static void test_pause_in_callback(void)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	struct mg_loop *loop = mg_loop_new(tmp);
	struct rx ra = { .ctx = tmp }, rb = { .ctx = tmp, .want = 1, .pause_at = 2 };
	struct mg_stream *a, *b;

	ASSERT_TRUE(stream_pair(tmp, loop, 4096, &ra, &rb, &a, &b));
	for (uint32_t i = 0; i < 5; i++) {
		struct mg_msg m = { .dst = 1, .handle = 100 + i };
		ASSERT_INT_EQ(mg__stream_send(a, &m), 0);
	}
	ASSERT_TRUE(run_until(loop, rx_has_want, &rb, 2000));
	run_until(loop, NULL, NULL, 50);
	ASSERT_INT_EQ(rb.n, 2);
	/* More data arriving meanwhile waits too. */
	{
		struct mg_msg m = { .dst = 1, .handle = 105 };
		ASSERT_INT_EQ(mg__stream_send(a, &m), 0);
	}
	run_until(loop, NULL, NULL, 30);
	ASSERT_INT_EQ(rb.n, 2);
	rb.pause_at = 0;
	rb.want = 6;
	mg__stream_pause(b, false);
	ASSERT_TRUE(run_until(loop, rx_has_want, &rb, 2000));
	ASSERT_INT_EQ(rb.n, 6);
	for (int i = 0; i < 6; i++) {
		ASSERT_INT_EQ(rb.m[i]->handle, 100 + i);
	}
	talloc_free(tmp);
}

/* Corked: small frames wait for the loop's turn and go in one write, in
 * order with a bigger frame, and are still written when the stream goes. */
static void test_cork(void)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	struct mg_loop *loop = mg_loop_new(tmp);
	struct rx ra = { .ctx = tmp };
	struct mg_stream *a;
	static uint8_t big[10000], got[3 * (MG_HDR_LEN + sizeof(big))];
	uint8_t small[40] = "corked";
	struct mg_msg m = { .dst = 1, .src = 2, .auth_id = 2, .handle = 3,
			    .data = small, .len = sizeof(small) };
	struct mg_msg mb = { .dst = 1, .src = 2, .auth_id = 2, .handle = 4,
			     .data = big, .len = sizeof(big) };
	size_t flen = 0, blen = 0;
	uint8_t *f, *fb;
	ssize_t n;
	int peer = -1;

	ASSERT_PTR_NOT_NULL(loop);
	a = stream_raw_pair(tmp, loop, 1 << 20, &ra, &peer);
	ASSERT_PTR_NOT_NULL(a);
	f = frame(tmp, &m, &flen);
	fb = frame(tmp, &mb, &blen);
	ASSERT_TRUE(f != NULL && fb != NULL);
	mg__stream_set_cork(a, true);
	for (int i = 0; i < 3; i++) {
		ASSERT_INT_EQ(mg__stream_send(a, &m), 0);
	}
	/* Held until the loop turns. */
	ASSERT_INT_EQ(mg__stream_pending(a), 3 * flen);
	ASSERT_TRUE(recv(peer, got, sizeof(got), MSG_DONTWAIT) < 0 && errno == EAGAIN);
	ASSERT_INT_EQ(mg_loop_run_once(loop, 0), 0);
	ASSERT_INT_EQ(mg__stream_pending(a), 0);
	/* One write: all three in one read. */
	n = recv(peer, got, sizeof(got), MSG_DONTWAIT);
	ASSERT_INT_EQ(n, 3 * flen);
	for (int i = 0; i < 3; i++) {
		ASSERT_TRUE(memcmp(got + (size_t)i * flen, f, flen) == 0);
	}
	/* A bigger frame is not held, and what waits goes before it. */
	ASSERT_INT_EQ(mg__stream_send(a, &m), 0);
	ASSERT_INT_EQ(mg__stream_send(a, &mb), 0);
	ASSERT_INT_EQ(mg__stream_pending(a), 0);
	n = 0;
	while ((size_t)n < flen + blen) {
		ssize_t k = recv(peer, got + n, sizeof(got) - (size_t)n, MSG_DONTWAIT);
		ASSERT_TRUE(k > 0);
		n += k;
	}
	ASSERT_TRUE(memcmp(got, f, flen) == 0 && memcmp(got + flen, fb, blen) == 0);
	/* Freed with a frame held: it is written, not lost. */
	ASSERT_INT_EQ(mg__stream_send(a, &m), 0);
	talloc_free(a);
	n = recv(peer, got, sizeof(got), MSG_DONTWAIT);
	ASSERT_INT_EQ(n, flen);
	ASSERT_TRUE(memcmp(got, f, flen) == 0);
	close(peer);
	talloc_free(tmp);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	TESTS_BEGIN();
	RUN(test_header_round_trip);
	RUN(test_send_receive);
	RUN(test_back_to_back);
	RUN(test_byte_by_byte);
	RUN(test_raw_then_frames);
	RUN(test_raw_then_frames_split);
	RUN(test_set_frames_later);
	RUN(test_bad_magic);
	RUN(test_unknown_flags);
	RUN(test_too_big);
	RUN(test_max_boundary);
	RUN(test_eof);
	RUN(test_large_slow_reader);
	RUN(test_spare_reused);
	RUN(test_bulk_stays_spliced);
	RUN(test_shutdown_after_drain);
	RUN(test_tx_high_stops_reading);
	RUN(test_tx_max_drops_peer);
	RUN(test_write_error_reported);
	RUN(test_pause_resume);
	RUN(test_pause_in_callback);
	RUN(test_cork);
	return TESTS_END();
}
