/*
 * The deflate codec (lib/core/deflate.h) against zlib on both sides: our
 * encoder's streams decoded by zlib, zlib's (every block type) decoded
 * by ours, and corrupt or cut streams refused cleanly.
 */
#include <zlib.h>
#include "harness.h"
#include "deflate.h"

#define BIG (256u * 1024)

static uint64_t rng = 88172645463325252ull;

static uint32_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)rng;
}

/* Text-like: words from a small vocabulary, numbers, newlines. */
static void make_text(uint8_t *p, size_t n)
{
	static const char *const w[] = { "the ", "router ", "sends ", "a ", "message ", "to ",
					 "context ", "42 ", "handle ", "\n", "of ", "stream " };
	size_t i = 0;

	while (i < n) {
		const char *s = w[rnd() % 12];

		for (; *s != '\0' && i < n; s++) {
			p[i++] = (uint8_t)*s;
		}
	}
}

/* zlib raw deflate of p at 'level' and 'strategy' into out: its size. */
static size_t z_deflate(const uint8_t *p, size_t n, uint8_t *out, size_t cap, int level,
			int strategy)
{
	z_stream z = { 0 };
	size_t got;

	if (deflateInit2(&z, level, Z_DEFLATED, -15, 8, strategy) != Z_OK) {
		return 0;
	}
	z.next_in = (Bytef *)p;
	z.avail_in = (uInt)n;
	z.next_out = out;
	z.avail_out = (uInt)cap;
	got = deflate(&z, Z_FINISH) == Z_STREAM_END ? cap - z.avail_out : 0;
	deflateEnd(&z);
	return got;
}

/* zlib raw inflate: the size decoded, or -1 (also for bytes left over). */
static long z_inflate(const uint8_t *p, size_t n, uint8_t *out, size_t cap)
{
	z_stream z = { 0 };
	long got = -1;

	if (inflateInit2(&z, -15) != Z_OK) {
		return -1;
	}
	z.next_in = (Bytef *)p;
	z.avail_in = (uInt)n;
	z.next_out = out;
	z.avail_out = (uInt)cap;
	if (inflate(&z, Z_FINISH) == Z_STREAM_END && z.avail_in == 0) {
		got = (long)(cap - z.avail_out);
	}
	inflateEnd(&z);
	return got;
}

struct bufs {
	uint8_t in[BIG], z[BIG + 1024], out[BIG];
	struct mg__deflate d;
	struct mg__inflate i;
};

/* Ours to zlib and ours to ours; then zlib at each level and strategy to
 * ours. */
static int round_trips(struct bufs *b, size_t n, char *why, size_t whylen)
{
	static const int strat[] = { Z_DEFAULT_STRATEGY, Z_FIXED, Z_HUFFMAN_ONLY, Z_RLE };
	size_t zn = mg__deflate(&b->d, b->in, n, b->z, sizeof(b->z));
	long got;

	if (zn == 0 && n > 65536) {
		/* Gave up: a first block did not shrink (random data). */
	} else if (zn == 0) {
		snprintf(why, whylen, "ours: no room for %zu bytes", n);
		return -1;
	}
	got = zn > 0 ? z_inflate(b->z, zn, b->out, sizeof(b->out)) : (long)n;
	if (got != (long)n || (zn > 0 && memcmp(b->in, b->out, n) != 0)) {
		snprintf(why, whylen, "ours -> zlib: %ld of %zu bytes", got, n);
		return -1;
	}
	got = zn > 0 ? mg__inflate(&b->i, b->z, zn, b->out, n) : (long)n;
	if (got != (long)n || (zn > 0 && memcmp(b->in, b->out, n) != 0)) {
		snprintf(why, whylen, "ours -> ours: %ld of %zu bytes", got, n);
		return -1;
	}
	for (int level = 0; level <= 9; level += 3) {
		for (size_t s = 0; s < sizeof(strat) / sizeof(strat[0]); s++) {
			zn = z_deflate(b->in, n, b->z, sizeof(b->z), level, strat[s]);
			got = mg__inflate(&b->i, b->z, zn, b->out, n);
			if (zn == 0 || got != (long)n || memcmp(b->in, b->out, n) != 0) {
				snprintf(why, whylen, "zlib %d/%d -> ours: %ld of %zu bytes", level,
					 strat[s], got, n);
				return -1;
			}
		}
	}
	return 0;
}

static void test_edges(void)
{
	struct bufs *b = calloc(1, sizeof(*b));
	size_t sizes[] = { 0, 1, 2, 3, 4, 257, 258, 259, 65536, 70000 };
	char why[128];

	ASSERT_PTR_NOT_NULL(b);
	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		memset(b->in, 'x', sizes[k]);
		if (round_trips(b, sizes[k], why, sizeof(why)) != 0) {
			free(b);
			T_FAIL("one byte %zu times: %s", sizes[k], why);
		}
	}
	b->in[0] = 0;
	if (round_trips(b, 1, why, sizeof(why)) != 0) {
		free(b);
		T_FAIL("a zero byte: %s", why);
	}
	free(b);
}

static void test_text_binary_random(void)
{
	struct bufs *b = calloc(1, sizeof(*b));
	char why[128];
	size_t zn;

	ASSERT_PTR_NOT_NULL(b);
	make_text(b->in, BIG);
	if (round_trips(b, BIG, why, sizeof(why)) != 0) {
		free(b);
		T_FAIL("text: %s", why);
	}
	zn = mg__deflate(&b->d, b->in, BIG, b->z, sizeof(b->z));
	if (zn > BIG / 3) {
		free(b);
		T_FAIL("text compressed to only %zu of %u", zn, BIG);
	}
	/* Binary-like: small numbers, structured. */
	for (size_t i = 0; i < BIG; i++) {
		b->in[i] = (uint8_t)(i % 4 == 0 ? rnd() % 8 : i % 4 == 1 ? (i >> 10) : 0);
	}
	if (round_trips(b, BIG, why, sizeof(why)) != 0) {
		free(b);
		T_FAIL("binary: %s", why);
	}
	for (size_t i = 0; i < BIG; i++) {
		b->in[i] = (uint8_t)rnd();
	}
	/* Given up after the first block, whatever the room. */
	ASSERT_INT_EQ(mg__deflate(&b->d, b->in, BIG, b->z, sizeof(b->z)), 0);
	if (round_trips(b, BIG, why, sizeof(why)) != 0) {
		free(b);
		T_FAIL("random: %s", why);
	}
	free(b);
}

/* A stream coded in steps of any size is the stream coded at once. */
static void test_steps(void)
{
	static const size_t steps[] = { 1, 7, 1000, 16384, 65536 };
	struct bufs *b = calloc(1, sizeof(*b));
	uint8_t *once = malloc(sizeof(b->z));
	size_t zn;

	ASSERT_PTR_NOT_NULL(b);
	ASSERT_PTR_NOT_NULL(once);
	for (int kind = 0; kind < 2; kind++) {
		if (kind == 0) {
			make_text(b->in, BIG);
		} else {
			for (size_t i = 0; i < BIG; i++) {
				b->in[i] = (uint8_t)rnd();
			}
		}
		zn = mg__deflate(&b->d, b->in, BIG, once, sizeof(b->z));
		ASSERT_TRUE(kind == 0 ? zn > 0 : zn == 0);
		for (size_t k = 0; k < sizeof(steps) / sizeof(steps[0]); k++) {
			long r, calls = 0;

			memset(b->z, 0, sizeof(b->z));
			mg__deflate_start(&b->d, b->in, BIG, b->z, sizeof(b->z));
			while ((r = mg__deflate_step(&b->d, steps[k])) == MG__DEFLATE_MORE) {
				calls++;
			}
			ASSERT_INT_EQ(r, (long)zn);
			ASSERT_INT_EQ(memcmp(b->z, once, zn), 0);
			/* Steps of 1 KB and more stop where they were asked to
			 * (a match may run some bytes past). */
			if (kind == 0 && steps[k] >= 1000) {
				ASSERT_INT_GE(calls, BIG / (steps[k] + 258) - 1);
			}
		}
	}
	free(once);
	free(b);
}

/* Short inputs over alphabets of every size: codes of one or two
 * symbols, and zlib's fixed code with its 9-bit literals (144-255). */
static void test_small_inputs(void)
{
	struct bufs *b = calloc(1, sizeof(*b));
	char why[128];

	ASSERT_PTR_NOT_NULL(b);
	for (int t = 0; t < 600; t++) {
		size_t n = 1 + rnd() % 400;
		unsigned alpha = t % 3 == 0 ? 256 : 1 + rnd() % 20;

		for (size_t i = 0; i < n; i++) {
			b->in[i] = (uint8_t)(rnd() % 3 == 0 ? 200 : rnd() % alpha);
		}
		if (round_trips(b, n, why, sizeof(why)) != 0) {
			free(b);
			T_FAIL("%zu bytes over %u symbols: %s", n, alpha, why);
		}
	}
	free(b);
}

/* Matches at the far edge of the window, and a run past it. */
static void test_window(void)
{
	struct bufs *b = calloc(1, sizeof(*b));
	char why[128];

	ASSERT_PTR_NOT_NULL(b);
	/* Sixteen symbols: it shrinks, but has no matches of its own. */
	for (size_t i = 0; i < BIG; i++) {
		b->in[i] = (uint8_t)(rnd() % 16);
	}
	memcpy(b->in + 32768, b->in, 1000);       /* distance 32768 exactly */
	memcpy(b->in + 70000, b->in + 37000, 500); /* 33000: too far */
	memcpy(b->in + 100000, b->in + 67233, 300);
	if (round_trips(b, BIG, why, sizeof(why)) != 0) {
		free(b);
		T_FAIL("window: %s", why);
	}
	free(b);
}

/* Corrupt and cut streams: an error, never a crash or a write past cap. */
static void test_corrupt(void)
{
	struct bufs *b = calloc(1, sizeof(*b));
	static const uint8_t bad_type[] = { 0x07 };             /* BTYPE 11 */
	static const uint8_t bad_len[] = { 0x01, 0x05, 0x00, 0x00, 0x00 };  /* NLEN wrong */
	static const uint8_t far[] = { 0x63, 0x00, 0x42, 0x00 }; /* fixed: distance too far */
	size_t zn;
	long r;

	ASSERT_PTR_NOT_NULL(b);
	ASSERT_INT_EQ(mg__inflate(&b->i, bad_type, 1, b->out, 100), MG__INFLATE_BAD);
	ASSERT_INT_EQ(mg__inflate(&b->i, bad_len, 5, b->out, 100), MG__INFLATE_BAD);
	ASSERT_TRUE(mg__inflate(&b->i, far, 4, b->out, 100) < 0);
	ASSERT_INT_EQ(mg__inflate(&b->i, b->z, 0, b->out, 100), MG__INFLATE_SHORT);
	make_text(b->in, 50000);
	zn = mg__deflate(&b->d, b->in, 50000, b->z, sizeof(b->z));
	ASSERT_TRUE(zn > 0);
	/* Cut anywhere, or followed by a byte more, or too small a buffer. */
	for (size_t k = 0; k < zn; k += 1 + k / 16) {
		ASSERT_TRUE(mg__inflate(&b->i, b->z, k, b->out, 50000) < 0);
	}
	b->z[zn] = 0;
	ASSERT_INT_EQ(mg__inflate(&b->i, b->z, zn + 1, b->out, 50000), MG__INFLATE_SHORT);
	ASSERT_INT_EQ(mg__inflate(&b->i, b->z, zn, b->out, 49999), MG__INFLATE_BIG);
	/* Flipped bits: whatever comes out fits in cap. */
	for (int t = 0; t < 2000; t++) {
		uint8_t save;
		size_t at = rnd() % zn;

		save = b->z[at];
		b->z[at] ^= (uint8_t)(1u << (rnd() % 8));
		memset(b->out + 50000, 0xa5, 16);
		r = mg__inflate(&b->i, b->z, zn, b->out, 50000);
		b->z[at] = save;
		ASSERT_TRUE(r <= 50000);
		ASSERT_INT_EQ(b->out[50000], 0xa5);
	}
	free(b);
}

int main(void)
{
	TESTS_BEGIN();
	RUN(test_edges);
	RUN(test_text_binary_random);
	RUN(test_steps);
	RUN(test_small_inputs);
	RUN(test_window);
	RUN(test_corrupt);
	return TESTS_END();
}
