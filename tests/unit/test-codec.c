/* Unit tests for lib/core/codec.c: the public payload codec. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "harness.h"
#include "mitogen/codec.h"
#include "mitogen/error.h"

/* One of every item, the same sequence the tests below decode. */
static struct mg_enc *encode_all(TALLOC_CTX *mem_ctx)
{
	const char *const v[] = { "a", "", "c d", NULL };
	struct mg_enc *e = mg_enc_new(mem_ctx);

	if (e == NULL) {
		return NULL;
	}
	mg_enc_u8(e, 0xfe);
	mg_enc_u32(e, 0xdeadbeefu);
	mg_enc_u64(e, 0x0123456789abcdefULL);
	mg_enc_i32(e, -42);
	mg_enc_str(e, "hello");
	mg_enc_str(e, NULL);
	mg_enc_strv(e, v);
	mg_enc_bytes(e, "\0\1\2", 3);
	return e;
}

struct all {
	uint8_t u8;
	uint32_t u32;
	uint64_t u64;
	int32_t i32;
	char *s, **v;
	const char *null_s;
	size_t len;
	const void *bytes;
	int err;
};

/* Decode what encode_all wrote into *a; returns mg_dec_done's answer. */
static int decode_all(TALLOC_CTX *mem_ctx, const void *p, size_t n, struct all *a)
{
	struct mg_dec d;
	size_t null_len;

	mg_dec_init(&d, p, n);
	mg_dec_u8(&d, &a->u8);
	mg_dec_u32(&d, &a->u32);
	mg_dec_u64(&d, &a->u64);
	mg_dec_i32(&d, &a->i32);
	mg_dec_str(&d, mem_ctx, &a->s);
	mg_dec_str_ref(&d, &a->null_s, &null_len);
	mg_dec_strv(&d, mem_ctx, 16, &a->v);
	mg_dec_bytes(&d, &a->bytes, &a->len);
	a->err = d.err;
	return mg_dec_done(&d);
}

static void test_round_trip(void)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	struct mg_enc *e = encode_all(tmp);
	struct all a;
	const void *p;
	size_t n;

	ASSERT_PTR_NOT_NULL(e);
	ASSERT_INT_EQ(mg_enc_error(e), 0);
	p = mg_enc_data(e, &n);
	ASSERT_PTR_NOT_NULL(p);
	/* 1 + 4 + 8 + 4 + (4+5) + 4 + (4 + 5 + 4 + 7) + (4+3) */
	ASSERT_INT_EQ(n, 57);
	ASSERT_INT_EQ(decode_all(tmp, p, n, &a), 0);
	ASSERT_INT_EQ(a.u8, 0xfe);
	ASSERT_TRUE(a.u32 == 0xdeadbeefu);
	ASSERT_TRUE(a.u64 == 0x0123456789abcdefULL);
	ASSERT_INT_EQ(a.i32, -42);
	ASSERT_STR_EQ(a.s, "hello");
	ASSERT_PTR_NULL(a.null_s);
	ASSERT_PTR_NOT_NULL(a.v);
	ASSERT_STR_EQ(a.v[0], "a");
	ASSERT_STR_EQ(a.v[1], "");
	ASSERT_STR_EQ(a.v[2], "c d");
	ASSERT_PTR_NULL(a.v[3]);
	ASSERT_INT_EQ(a.len, 3);
	ASSERT_TRUE(a.bytes != NULL && memcmp(a.bytes, "\0\1\2", 3) == 0);
	talloc_free(tmp);
}

/* The bytes are section 4's: big-endian, null string 0xffffffff. */
static void test_wire_format(void)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	struct mg_enc *e = mg_enc_new(tmp);
	const uint8_t want[] = { 0xff, 0xff, 0xff, 0xfe, 0, 0, 0, 2, 'h', 'i',
				 0xff, 0xff, 0xff, 0xff };
	const void *p;
	size_t n;

	mg_enc_i32(e, -2);
	mg_enc_str(e, "hi");
	mg_enc_str(e, NULL);
	p = mg_enc_data(e, &n);
	ASSERT_INT_EQ(n, sizeof(want));
	ASSERT_TRUE(p != NULL && memcmp(p, want, n) == 0);
	talloc_free(tmp);
}

/* Cut anywhere, the decoder fails with -EBADMSG and never reads past
 * the end (ASan would see it: each cut is a copy of that length). */
static void test_truncated_everywhere(void)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	struct mg_enc *e = encode_all(tmp);
	const void *p;
	size_t n;

	p = mg_enc_data(e, &n);
	for (size_t cut = 0; cut < n; cut++) {
		void *copy = talloc_memdup(tmp, p, cut > 0 ? cut : 1);
		struct all a;
		int ret = decode_all(tmp, cut > 0 ? copy : NULL, cut, &a);
		if (ret != -EBADMSG || a.err != -EBADMSG || a.bytes != NULL || a.len != 0) {
			T_FAIL("cut at %zu: %d, not -EBADMSG", cut, ret);
		}
		talloc_free(copy);
	}
	talloc_free(tmp);
}

/* Left-over bytes fail mg_dec_done; the error is sticky. */
static void test_left_over_and_sticky(void)
{
	const uint8_t p[] = { 0, 0, 0, 7, 1 };
	const uint8_t nul[] = { 0, 0, 0, 3, 'a', 0, 'b' };
	struct mg_dec d;
	uint32_t u32;
	uint8_t u8;
	char *s;

	mg_dec_init(&d, p, sizeof(p));
	ASSERT_INT_EQ(mg_dec_u32(&d, &u32), 0);
	ASSERT_INT_EQ(u32, 7);
	ASSERT_INT_EQ(mg_dec_left(&d), 1);
	ASSERT_INT_EQ(mg_dec_done(&d), -EBADMSG);
	ASSERT_INT_EQ(mg_dec_u32(&d, &u32), -EBADMSG);
	ASSERT_INT_EQ(u32, 0);
	/* The byte that was there cannot be read after the failure. */
	ASSERT_INT_EQ(mg_dec_u8(&d, &u8), -EBADMSG);
	ASSERT_INT_EQ(mg_dec_left(&d), 0);

	/* A NUL inside a string is refused. */
	mg_dec_init(&d, nul, sizeof(nul));
	ASSERT_INT_EQ(mg_dec_str(&d, NULL, &s), -EBADMSG);
	ASSERT_PTR_NULL(s);
	ASSERT_INT_EQ(mg_dec_done(&d), -EBADMSG);

	/* Nothing at all is a complete, empty payload. */
	mg_dec_init(&d, NULL, 0);
	ASSERT_INT_EQ(mg_dec_done(&d), 0);
}

/* A vector's items are never null, and its count is bounded. */
static void test_strv_bounds(void)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	const uint8_t null_item[] = { 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff };
	const char *const v[] = { "x", "y", "z", NULL };
	struct mg_enc *e = mg_enc_new(tmp);
	struct mg_dec d;
	const void *p;
	char **out;
	size_t n;

	mg_dec_init(&d, null_item, sizeof(null_item));
	ASSERT_INT_EQ(mg_dec_strv(&d, tmp, 8, &out), -EBADMSG);
	ASSERT_PTR_NULL(out);
	mg_enc_strv(e, v);
	p = mg_enc_data(e, &n);
	mg_dec_init(&d, p, n);
	ASSERT_INT_EQ(mg_dec_strv(&d, tmp, 2, &out), -EBADMSG);
	mg_dec_init(&d, p, n);
	ASSERT_INT_EQ(mg_dec_strv(&d, tmp, 3, &out), 0);
	ASSERT_INT_EQ(mg_dec_done(&d), 0);
	ASSERT_TRUE(talloc_parent(out) == tmp);
	talloc_free(tmp);
}

/* The encoder's error is sticky, and a failed item leaves nothing. */
static void test_encoder_too_big(void)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	struct mg_enc *e = mg_enc_new(tmp);
	size_t big = MG_ENC_MAX, n = 1;
	char *blob = talloc_zero_size(tmp, big);

	ASSERT_INT_EQ(mg_enc_u32(e, 1), 0);
	ASSERT_INT_EQ(mg_enc_bytes(e, blob, big), MG_ERR_TOO_BIG);
	ASSERT_INT_EQ(mg_enc_error(e), MG_ERR_TOO_BIG);
	ASSERT_INT_EQ(mg_enc_u8(e, 1), MG_ERR_TOO_BIG);
	ASSERT_PTR_NULL(mg_enc_data(e, &n));
	ASSERT_INT_EQ(n, 0);
	/* An empty encoder has data: zero bytes. */
	e = mg_enc_new(tmp);
	ASSERT_PTR_NOT_NULL(mg_enc_data(e, &n));
	ASSERT_INT_EQ(n, 0);
	talloc_free(tmp);
}

int main(void)
{
	TESTS_BEGIN();
	RUN(test_round_trip);
	RUN(test_wire_format);
	RUN(test_truncated_everywhere);
	RUN(test_left_over_and_sticky);
	RUN(test_strv_bounds);
	RUN(test_encoder_too_big);
	return TESTS_END();
}
