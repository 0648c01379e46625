/*
 * The frame decoder (lib/core/stream.c): bytes from a hostile peer arrive on a
 * real socket, in pieces, first in raw mode (boot noise and the "agent is
 * up" marker) when asked, then as frames. Every frame delivered must be
 * exactly the next header and payload of the input, and the stream must
 * end on the first header it refuses, for the right reason.
 *
 * Input: u8 mode (bit 0: raw mode first; bit 1: pause after each frame;
 * bit 2: keep each payload), u16 max_msg (0: the default, else 28 +
 * value), u8 piece (bytes per write: 1 + piece * 64), then the bytes.
 */
#include "fuzz.h"
#include "buf.h"
#include "mitogen/error.h"
#include "protocol.h"
#include "stream.h"

struct state {
	struct mg_loop *loop;
	struct mg_stream *s;
	const uint8_t *in;  /* the bytes the peer sends */
	size_t n_in;
	size_t sent;        /* how many of them were written */
	size_t pos;         /* offset of the next frame expected */
	size_t raw_off;     /* offset of what the raw callback sees first */
	uint32_t max;
	bool raw;           /* still in raw mode */
	bool pause;
	bool keep;
	bool closed;
	int err;
	struct mg_timer *resume;
};

static void on_resume(struct mg_timer *t, void *data)
{
	struct state *st = data;

	talloc_free(t);
	st->resume = NULL;
	if (!st->closed) {
		mg__stream_pause(st->s, false);
	}
}

static void on_msg(struct mg_stream *s, struct mg_msg *m, void *data)
{
	struct state *st = data;
	uint8_t hdr[MG_HDR_LEN];

	FUZZ_CHECK(!st->raw);
	FUZZ_CHECK(m->len <= st->max);
	FUZZ_CHECK((m->flags & ~MG_F_KNOWN) == 0);
	FUZZ_CHECK(m->in == s);
	/* Exactly the next frame of the input. */
	FUZZ_CHECK(st->pos + MG_HDR_LEN + m->len <= st->sent);
	mg__msg_header(m, hdr);
	FUZZ_CHECK(memcmp(hdr, st->in + st->pos, MG_HDR_LEN) == 0);
	FUZZ_CHECK(m->len == 0 || memcmp(m->data, st->in + st->pos + MG_HDR_LEN, m->len) == 0);
	st->pos += MG_HDR_LEN + m->len;
	if (st->keep) {
		TALLOC_CTX *ctx = talloc_new(NULL);
		FUZZ_CHECK(ctx != NULL && mg__msg_keep(ctx, m) == 0);
		FUZZ_CHECK(!m->borrowed);
		talloc_free(ctx);
	} else {
		talloc_free(m);
	}
	if (st->pause && st->resume == NULL) {
		mg__stream_pause(s, true);
		st->resume = mg_timer_new(NULL, st->loop, 0, on_resume, st);
	}
}

/* Raw mode as a hop's boot: lines of noise until the "up" marker. */
static size_t on_raw(struct mg_stream *s, const uint8_t *p, size_t n, void *data)
{
	struct state *st = data;
	size_t used = 0;

	FUZZ_CHECK(st->raw);
	while (used < n) {
		const uint8_t *nl = memchr(p + used, '\n', n - used);
		size_t len;
		if (nl == NULL) {
			used = n - used > 4096 ? n : used;
			break;
		}
		len = (size_t)(nl - (p + used)) + 1;
		used += len;
		if (len == MG_MARK_LEN && memcmp(nl + 1 - len, MG_MARK_UP, MG_MARK_LEN) == 0) {
			st->raw = false;
			/* Frames start right after the marker. */
			st->pos = st->raw_off + used;
			mg__stream_set_frames(s, on_msg, st);
			return used;
		}
	}
	st->raw_off += used;
	return used;
}

static void on_close(struct mg_stream *s, int err, const char *why, void *data)
{
	struct state *st = data;

	FUZZ_CHECK(!st->closed);
	FUZZ_CHECK(why != NULL);
	st->closed = true;
	st->err = err;
}

static bool is_closed(void *arg)
{
	return ((struct state *)arg)->closed;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fz_quiet_logs();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FUZZ_LEAKS_BEGIN;
	struct fz f = { data, size };
	uint8_t mode = fz_u8(&f);
	uint16_t max = fz_u16(&f);
	size_t piece = 1 + (size_t)fz_u8(&f) * 64;
	TALLOC_CTX *ctx = talloc_new(NULL);
	struct state st = { 0 };
	int sv[2];

	st.loop = mg_loop_new(ctx);
	FUZZ_CHECK(st.loop != NULL);
	FUZZ_CHECK(fz_socketpair(sv) == 0);
	st.max = max == 0 ? MG_MSG_MAX_DEFAULT : MG_HDR_LEN + max;
	st.in = f.p;
	st.n_in = f.n;
	st.raw = (mode & 1) != 0;
	st.pause = (mode & 2) != 0;
	st.keep = (mode & 4) != 0;
	st.s = mg__stream_new(ctx, st.loop, sv[0], sv[0], "peer", st.max);
	FUZZ_CHECK(st.s != NULL);
	if (st.raw) {
		mg__stream_set_raw(st.s, on_raw, &st);
	} else {
		mg__stream_set_frames(st.s, on_msg, &st);
	}
	mg__stream_on_close(st.s, on_close, &st);

	while (st.sent < st.n_in && !st.closed) {
		size_t k = st.n_in - st.sent < piece ? st.n_in - st.sent : piece;
		ssize_t w = write(sv[1], st.in + st.sent, k);
		if (w > 0) {
			st.sent += (size_t)w;
		}
		fz_run(st.loop, NULL, NULL, 1000);
	}
	shutdown(sv[1], SHUT_WR);
	fz_run(st.loop, is_closed, &st, 5000);
	FUZZ_CHECK(st.closed);
	if (st.err == 0 && !st.raw) {
		/* A clean end: what is left is less than one whole frame. */
		struct mg_msg h;
		size_t left = st.sent - st.pos;
		if (left >= MG_HDR_LEN) {
			FUZZ_CHECK(mg__msg_parse_header(st.in + st.pos, st.max, &h) == 0);
			FUZZ_CHECK(left < MG_HDR_LEN + h.len);
		}
	} else if (st.err == MG_ERR_PROTOCOL || st.err == MG_ERR_TOO_BIG) {
		/* Refused: the next header really is bad, or marked with
		 * descriptors, which a link that takes none never gets. */
		struct mg_msg h;
		int r;
		FUZZ_CHECK(!st.raw);
		FUZZ_CHECK(st.sent - st.pos >= MG_HDR_LEN);
		r = mg__msg_parse_header(st.in + st.pos, st.max, &h);
		FUZZ_CHECK(r == st.err || (r == 0 && st.err == MG_ERR_PROTOCOL &&
					   (h.flags & MG_F_FDS) != 0));
	} else {
		FUZZ_CHECK(st.err == 0);
	}
	TALLOC_FREE(st.resume);
	close(sv[1]);
	talloc_free(ctx);
	FUZZ_LEAKS_END;
	return 0;
}
