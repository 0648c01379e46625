/*
 * The agent stub's decoder (cmd/agent-stub/unlzma.c): the seeds of
 * tests/fuzz/corpus/unlzma inflate to what they record, the packed agent
 * of this build inflates to the plain one byte for byte, and bit flips
 * and cuts in a payload give an error or a wrong checksum, never a wild
 * access (run under the sanitizer build too).
 */
#include <dirent.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include "harness.h"
#include "unlzma.h"

static struct mg_unlzma st;

static uint8_t *slurp(TALLOC_CTX *ctx, const char *path, size_t *_n)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	long n;

	if (f == NULL) {
		return NULL;
	}
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
	    (buf = talloc_size(ctx, (size_t)n + 1)) != NULL &&
	    fread(buf, 1, (size_t)n, f) == (size_t)n) {
		*_n = (size_t)n;
	} else {
		talloc_free(buf);
		buf = NULL;
	}
	fclose(f);
	return buf;
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* What the stub accepts: inflates, and the checksum agrees. */
static bool inflates(const uint8_t *in, size_t n, uint8_t *out, uint32_t raw_len, uint32_t hash)
{
	uint8_t *scratch = malloc(raw_len + n + 1);
	bool ok = scratch != NULL &&
		  mg__unpack(mg__either_stream, &st, scratch + raw_len,
			     mg__unmask(in, n, scratch + raw_len), out, raw_len, scratch, raw_len) == 0;

	free(scratch);
	return ok && mg__fnv1a(out, raw_len) == hash;
}

/* Bit flips and cuts of IN (N bytes, sampled: STEP apart): how many the
 * stub would run although they inflate to something else than GOOD.
 * Flips in the bytes after the last one needed (the end marker) do not
 * change the output: those may pass. */
static int corruptions_run(TALLOC_CTX *ctx, const uint8_t *in, size_t n, const uint8_t *good,
			   uint32_t raw_len, uint32_t hash, size_t step)
{
	uint8_t *bad = talloc_memdup(ctx, in, n), *out = talloc_size(ctx, raw_len + 1);
	int wrong = 0;

	for (size_t i = 0; i < n; i += step) {
		uint8_t bit = (uint8_t)(1u << (i % 8));
		bad[i] ^= bit;
		wrong += inflates(bad, n, out, raw_len, hash) && memcmp(out, good, raw_len) != 0;
		bad[i] ^= bit;
		wrong += inflates(bad, i, out, raw_len, hash) && memcmp(out, good, raw_len) != 0;
	}
	/* One byte of output fewer than recorded: never a success. */
	wrong += raw_len > 1 && inflates(in, n, out, raw_len - 1, hash);
	talloc_free(bad);
	talloc_free(out);
	return wrong;
}

static void test_seeds(void)
{
	TALLOC_CTX *ctx = talloc_new(NULL);
	const char *src = getenv("MG_SRC_DIR");
	char *dir = talloc_asprintf(ctx, "%s/tests/fuzz/corpus/unlzma", src != NULL ? src : ".");
	DIR *d = opendir(dir);
	struct dirent *e;
	int seen = 0;

	ASSERT_PTR_NOT_NULL(d);
	while ((e = readdir(d)) != NULL) {
		size_t n = 0;
		uint8_t *in, *out;
		if (strncmp(e->d_name, "seed-", 5) != 0) {
			continue;
		}
		in = slurp(ctx, talloc_asprintf(ctx, "%s/%s", dir, e->d_name), &n);
		if (in == NULL || n < 8) {
			closedir(d);
			T_FAIL("%s: cannot read it", e->d_name);
		}
		out = talloc_size(ctx, le32(in) + 1);
		if (!inflates(in + 8, n - 8, out, le32(in), le32(in + 4))) {
			closedir(d);
			T_FAIL("%s: does not inflate to what it records", e->d_name);
		}
		if (corruptions_run(ctx, in + 8, n - 8, out, le32(in), le32(in + 4), n / 300 + 1) != 0) {
			closedir(d);
			T_FAIL("%s: a corrupt copy was accepted", e->d_name);
		}
		seen++;
	}
	closedir(d);
	ASSERT_INT_GE(seen, 3);
	talloc_free(ctx);
}

/* The stub's record (cmd/agent-stub/stub.c, struct packed). */
struct record {
	uint32_t off, len, raw_len, hash;
};

static bool find_record(const uint8_t *img, size_t n, struct record *r)
{
	static const char magic[8] = "MGPACK2";

	for (size_t i = 0; i + 24 <= n && i < 65536; i++) {
		if (memcmp(img + i, magic, 8) == 0) {
			r->off = le32(img + i + 8);
			r->len = le32(img + i + 12);
			r->raw_len = le32(img + i + 16);
			r->hash = le32(img + i + 20);
			return true;
		}
	}
	return false;
}

/* The packed agent AGENT of this build inflates to its plain form, and
 * its payload's streams are of the kind PROPS says (LZMA: any other). */
static void agent_round_trip(const char *agent, unsigned props)
{
	TALLOC_CTX *ctx = talloc_new(NULL);
	size_t n = 0, raw_n = 0;
	uint8_t *img, *raw, *out, head[2];
	struct record r;

	img = agent != NULL ? slurp(ctx, agent, &n) : NULL;
	raw = agent != NULL ? slurp(ctx, talloc_asprintf(ctx, "%s.raw", agent), &raw_n) : NULL;
	if (img == NULL || raw == NULL || !find_record(img, n, &r)) {
		/* A plain agent (-Dstatic_agent=disabled, MG_AGENT_PACK=0). */
		printf("# no packed agent %s in this build: skipped\n", agent);
		talloc_free(ctx);
		return;
	}
	ASSERT_TRUE(r.len > 3);
	ASSERT_INT_EQ(mg__unmask(img + r.off, 3, head), 2);
	ASSERT_INT_EQ(head[0] == MG_PROPS_DEFLATE, props == MG_PROPS_DEFLATE);
	ASSERT_INT_EQ(head[1] == MG_PROPS_DEFLATE, props == MG_PROPS_DEFLATE);
	ASSERT_TRUE((uint64_t)r.off + r.len == n);
	ASSERT_INT_EQ(r.raw_len, raw_n);
	out = talloc_size(ctx, r.raw_len);
	ASSERT_TRUE(inflates(img + r.off, r.len, out, r.raw_len, r.hash));
	ASSERT_TRUE(memcmp(out, raw, raw_n) == 0);
	/* The real payload, corrupted here and there. */
	ASSERT_INT_EQ(corruptions_run(ctx, img + r.off, r.len, raw, r.raw_len, r.hash, r.len / 61), 0);
	talloc_free(ctx);
}

/* The whole agent in LZMA; the exec-only one in deflate, which inflates
 * faster at every cold start (tools/build-agent.sh). */
static void test_agent_round_trip(void)
{
	const char *agent = getenv("MITOGEN_AGENT");
	char lite[4096];

	agent_round_trip(agent, 0);
	if (agent != NULL && (size_t)snprintf(lite, sizeof(lite), "%s-lite", agent) < sizeof(lite)) {
		agent_round_trip(lite, MG_PROPS_DEFLATE);
	}
}

/* The split of x86 code (unlzma.h), by hand: what tools/pack-agent.py
 * split() makes of these bytes. */
static void test_unsplit(void)
{
	static const uint8_t orig[] = {
		0x90, 0xe8, 0x10, 0, 0, 0,                  /* call +0x10 */
		0x8b, 0x05, 0xfc, 0xff, 0xff, 0xff,         /* mov eax, [rip - 4] */
		0xb8, 1, 2, 3, 4,                           /* mov eax, 0x04030201 */
		0x0f, 0x84, 0, 0, 0, 0,                     /* je +0 */
		0x0f, 0xb6, 0x0d, 0x20, 0, 0, 0,            /* movzx ecx, byte [rip + 0x20] */
		0xe9, 0xf0, 0xff, 0xff, 0xff,               /* jmp -0x10 */
		0xc3, 0xe8, 1, 2, 3,                        /* ret; an E8 too near the end */
	};
	static const uint8_t code[] = { 0x90, 0xe8, 0x8b, 0x05, 0xb8, 0x0f, 0x84, 0x0f,
					0xb6, 0x0d, 0xe9, 0xc3, 0xe8, 1, 2, 3 };
	static const uint8_t ops[] = {
		0, 0, 0, 0x16, 0, 0, 0, 0x13,               /* branches: 2 + 4 + 0x10, ... */
		0, 0, 0, 0x08, 0, 0, 0, 0x3e,               /* RIP-relative */
		0, 0, 0, 0x17,                              /* Jcc */
		4, 3, 2, 1,                                 /* immediates, as they were */
	};
	uint32_t count[MG_OP_KINDS] = { 2, 2, 1, 1 };
	uint8_t out[sizeof(orig)], in_place[sizeof(orig)];

	_Static_assert(sizeof(code) + sizeof(ops) == sizeof(orig), "sizes");
	ASSERT_INT_EQ(mg__unsplit(out, sizeof(out), code, sizeof(code), ops, count), 0);
	ASSERT_TRUE(memcmp(out, orig, sizeof(orig)) == 0);
	/* The code at the end of the output, as the stub has it. */
	memset(in_place, 0xaa, sizeof(in_place));
	memcpy(in_place + sizeof(ops), code, sizeof(code));
	ASSERT_INT_EQ(mg__unsplit(in_place, sizeof(in_place), in_place + sizeof(ops), sizeof(code),
				  ops, count), 0);
	ASSERT_TRUE(memcmp(in_place, orig, sizeof(orig)) == 0);
	/* Counts that do not fit the code: refused, never a wild access (an
	 * operand more, which OPS_MORE holds; one fewer, or a total that is
	 * not the output's). */
	for (int k = 0; k < MG_OP_KINDS; k++) {
		uint8_t ops_more[sizeof(ops) + 4] = { 0 }, code_more[sizeof(code) + 4] = { 0 };
		uint32_t bad[MG_OP_KINDS];
		memcpy(ops_more, ops, sizeof(ops));
		memcpy(code_more, code, sizeof(code));
		memcpy(bad, count, sizeof(bad));
		bad[k]++;
		ASSERT_INT_EQ(mg__unsplit(out, sizeof(out), code, sizeof(code) - 4, ops_more, bad), -1);
		ASSERT_INT_EQ(mg__unsplit(out, sizeof(out), code, sizeof(code), ops_more, bad), -1);
		bad[k] -= 2;
		ASSERT_INT_EQ(mg__unsplit(out, sizeof(out), code_more, sizeof(code_more), ops, bad), -1);
	}
	ASSERT_INT_EQ(mg__unsplit(out, sizeof(out) - 1, code, sizeof(code), ops, count), -1);
}

/* The mask (unlzma.h): a key byte, then up to MG_MASK_BLOCK bytes XORed
 * with it; in place too. */
static void test_unmask(void)
{
	uint8_t in[2 * (MG_MASK_BLOCK + 1) + 3], out[sizeof(in)], want[sizeof(in)];
	size_t n = 0;

	for (size_t i = 0; i < sizeof(in); i++) {
		bool key = i % (MG_MASK_BLOCK + 1) == 0;
		in[i] = key ? (uint8_t)(0x41 + i) : (uint8_t)(i * 7);
		if (!key) {
			want[n++] = (uint8_t)(in[i] ^ in[i - i % (MG_MASK_BLOCK + 1)]);
		}
	}
	ASSERT_INT_EQ(n, 2 * MG_MASK_BLOCK + 2);
	ASSERT_INT_EQ(mg__unmask(in, sizeof(in), out), n);
	ASSERT_TRUE(memcmp(out, want, n) == 0);
	ASSERT_INT_EQ(mg__unmask(in, sizeof(in), in), n);
	ASSERT_TRUE(memcmp(in, want, n) == 0);
	ASSERT_INT_EQ(mg__unmask(in, 1, out), 0);
}

int main(void)
{
	TESTS_BEGIN();
	RUN(test_seeds);
	RUN(test_agent_round_trip);
	RUN(test_unsplit);
	RUN(test_unmask);
	return TESTS_END();
}
