/* Unit tests for lib/core/buf.c: bounded payload encoding. */
#include <stdint.h>
#include <string.h>

#include "harness.h"
#include "buf.h"
#include "mitogen/error.h"

/* Every value type written, then read back in order. */
static void test_round_trip(void)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	struct mg_buf *b = mg__buf_new(tmp, 4096);
	const char *const strv[] = { "one", "", "three with spaces", NULL };
	const char *const empty_strv[] = { NULL };
	const uint8_t blob[] = { 0, 1, 0xff, 0, 0x80 };
	const uint8_t *p;
	struct mg_buf r;
	uint8_t u8;
	uint32_t u32;
	uint64_t u64;
	char *s;
	char **v;
	size_t n;

	ASSERT_PTR_NOT_NULL(b);
	ASSERT_INT_EQ(mg__buf_put_u8(b, 0), 0);
	ASSERT_INT_EQ(mg__buf_put_u8(b, 0xff), 0);
	ASSERT_INT_EQ(mg__buf_put_u32(b, 0), 0);
	ASSERT_INT_EQ(mg__buf_put_u32(b, 0xdeadbeefu), 0);
	ASSERT_INT_EQ(mg__buf_put_u32(b, UINT32_MAX), 0);
	ASSERT_INT_EQ(mg__buf_put_u64(b, 0x0123456789abcdefULL), 0);
	ASSERT_INT_EQ(mg__buf_put_u64(b, UINT64_MAX), 0);
	ASSERT_INT_EQ(mg__buf_put_str(b, "hello"), 0);
	ASSERT_INT_EQ(mg__buf_put_str(b, ""), 0);
	ASSERT_INT_EQ(mg__buf_put_str(b, NULL), 0);
	ASSERT_INT_EQ(mg__buf_put_bytes(b, blob, sizeof(blob)), 0);
	ASSERT_INT_EQ(mg__buf_put_bytes(b, NULL, 0), 0);
	ASSERT_INT_EQ(mg__buf_put_strv(b, strv), 0);
	ASSERT_INT_EQ(mg__buf_put_strv(b, empty_strv), 0);
	ASSERT_INT_EQ(mg__buf_put_strv(b, NULL), 0);

	mg__buf_view(&r, b->data, b->len);
	ASSERT_INT_EQ(mg__buf_left(&r), b->len);
	ASSERT_INT_EQ(mg__buf_get_u8(&r, &u8), 0);
	ASSERT_INT_EQ(u8, 0);
	ASSERT_INT_EQ(mg__buf_get_u8(&r, &u8), 0);
	ASSERT_INT_EQ(u8, 0xff);
	ASSERT_INT_EQ(mg__buf_get_u32(&r, &u32), 0);
	ASSERT_INT_EQ(u32, 0);
	ASSERT_INT_EQ(mg__buf_get_u32(&r, &u32), 0);
	ASSERT_INT_EQ(u32, 0xdeadbeefu);
	ASSERT_INT_EQ(mg__buf_get_u32(&r, &u32), 0);
	ASSERT_INT_EQ(u32, UINT32_MAX);
	ASSERT_INT_EQ(mg__buf_get_u64(&r, &u64), 0);
	ASSERT_TRUE(u64 == 0x0123456789abcdefULL);
	ASSERT_INT_EQ(mg__buf_get_u64(&r, &u64), 0);
	ASSERT_TRUE(u64 == UINT64_MAX);
	ASSERT_INT_EQ(mg__buf_get_str(&r, tmp, &s), 0);
	ASSERT_STR_EQ(s, "hello");
	ASSERT_TRUE(talloc_parent(s) == tmp);
	ASSERT_INT_EQ(mg__buf_get_str(&r, tmp, &s), 0);
	ASSERT_STR_EQ(s, "");
	/* NULL and "" are distinct on the wire. */
	s = (char *)"sentinel";
	ASSERT_INT_EQ(mg__buf_get_str(&r, tmp, &s), 0);
	ASSERT_PTR_NULL(s);
	ASSERT_INT_EQ(mg__buf_get_bytes(&r, &p, &n), 0);
	ASSERT_INT_EQ(n, sizeof(blob));
	ASSERT_TRUE(memcmp(p, blob, sizeof(blob)) == 0);
	ASSERT_INT_EQ(mg__buf_get_bytes(&r, &p, &n), 0);
	ASSERT_INT_EQ(n, 0);
	ASSERT_INT_EQ(mg__buf_get_strv(&r, tmp, 16, &v), 0);
	ASSERT_STR_EQ(v[0], "one");
	ASSERT_STR_EQ(v[1], "");
	ASSERT_STR_EQ(v[2], "three with spaces");
	ASSERT_PTR_NULL(v[3]);
	ASSERT_INT_EQ(mg__buf_get_strv(&r, tmp, 16, &v), 0);
	ASSERT_PTR_NULL(v[0]);
	ASSERT_INT_EQ(mg__buf_get_strv(&r, tmp, 16, &v), 0);
	ASSERT_PTR_NULL(v[0]);
	/* Everything was consumed, and nothing more can be read. */
	ASSERT_INT_EQ(mg__buf_left(&r), 0);
	ASSERT_INT_EQ(mg__buf_get_u8(&r, &u8), MG_ERR_PROTOCOL);
	talloc_free(tmp);
}

/* The wire format is big endian, as docs/PROTOCOL.md says. */
static void test_wire_format(void)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	struct mg_buf *b = mg__buf_new(tmp, 64);
	const uint8_t want[] = {
		0x01, 0x02, 0x03, 0x04,				/* u32 */
		0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18,	/* u64 */
		0x00, 0x00, 0x00, 0x02, 'h', 'i',		/* str */
		0xff, 0xff, 0xff, 0xff,				/* NULL str */
		0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 'x', /* strv */
	};

	ASSERT_INT_EQ(mg__buf_put_u32(b, 0x01020304u), 0);
	ASSERT_INT_EQ(mg__buf_put_u64(b, 0x1112131415161718ULL), 0);
	ASSERT_INT_EQ(mg__buf_put_str(b, "hi"), 0);
	ASSERT_INT_EQ(mg__buf_put_str(b, NULL), 0);
	ASSERT_INT_EQ(mg__buf_put_strv(b, (const char *const[]){ "x", NULL }), 0);
	ASSERT_INT_EQ(b->len, sizeof(want));
	ASSERT_TRUE(memcmp(b->data, want, sizeof(want)) == 0);
	talloc_free(tmp);
}

/* Every getter refuses every truncation of a valid encoding. */
static void test_short_buffers(void)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	struct mg_buf *b = mg__buf_new(tmp, 256);
	struct mg_buf r;
	const uint8_t *p;
	uint8_t u8;
	uint32_t u32;
	uint64_t u64;
	char *s;
	char **v;
	size_t n, len;

	/* u8 */
	mg__buf_view(&r, "", 0);
	ASSERT_INT_EQ(mg__buf_get_u8(&r, &u8), MG_ERR_PROTOCOL);

	/* u32, u64 */
	ASSERT_INT_EQ(mg__buf_put_u64(b, 0x0102030405060708ULL), 0);
	for (len = 0; len < 4; len++) {
		mg__buf_view(&r, b->data, len);
		ASSERT_INT_EQ(mg__buf_get_u32(&r, &u32), MG_ERR_PROTOCOL);
	}
	for (len = 0; len < 8; len++) {
		mg__buf_view(&r, b->data, len);
		ASSERT_INT_EQ(mg__buf_get_u64(&r, &u64), MG_ERR_PROTOCOL);
	}

	/* str, bytes: every prefix of "u32 5, hello" is short. */
	b->len = 0;
	ASSERT_INT_EQ(mg__buf_put_str(b, "hello"), 0);
	for (len = 0; len < b->len; len++) {
		mg__buf_view(&r, b->data, len);
		ASSERT_INT_EQ(mg__buf_get_str(&r, tmp, &s), MG_ERR_PROTOCOL);
		mg__buf_view(&r, b->data, len);
		ASSERT_INT_EQ(mg__buf_get_bytes(&r, &p, &n), MG_ERR_PROTOCOL);
	}
	/* A length far past the end, e.g. 0xfffffffe. */
	mg__buf_view(&r, "\xff\xff\xff\xfe" "abc", 7);
	ASSERT_INT_EQ(mg__buf_get_bytes(&r, &p, &n), MG_ERR_PROTOCOL);
	mg__buf_view(&r, "\xff\xff\xff\xfe" "abc", 7);
	ASSERT_INT_EQ(mg__buf_get_str(&r, tmp, &s), MG_ERR_PROTOCOL);
	/* A NULL marker cut short is not a NULL string. */
	mg__buf_view(&r, "\xff\xff\xff", 3);
	ASSERT_INT_EQ(mg__buf_get_str(&r, tmp, &s), MG_ERR_PROTOCOL);

	/* strv: every prefix of a two-item vector is short. */
	b->len = 0;
	ASSERT_INT_EQ(mg__buf_put_strv(b, (const char *const[]){ "ab", "cde", NULL }), 0);
	for (len = 0; len < b->len; len++) {
		mg__buf_view(&r, b->data, len);
		ASSERT_INT_EQ(mg__buf_get_strv(&r, tmp, 16, &v), MG_ERR_PROTOCOL);
	}
	/* Failed decodes leave nothing behind on mem_ctx. */
	ASSERT_INT_EQ(talloc_total_blocks(tmp), 3);
	talloc_free(tmp);
}

/* A buffer never grows past its limit, and a put that does not fit
 * leaves the buffer as it was. */
static void test_max(void)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	struct mg_buf *b = mg__buf_new(tmp, 16);
	uint8_t fill[16];
	uint8_t before[16];
	struct mg_buf *big;
	struct mg_buf view;

	memset(fill, 'a', sizeof(fill));
	ASSERT_INT_EQ(mg__buf_put(b, fill, 10), 0);
	ASSERT_INT_EQ(mg__buf_put(b, fill, 7), MG_ERR_TOO_BIG);
	ASSERT_INT_EQ(b->len, 10);
	ASSERT_INT_EQ(mg__buf_put(b, fill, 6), 0);
	ASSERT_INT_EQ(b->len, 16);
	ASSERT_INT_EQ(mg__buf_put_u8(b, 1), MG_ERR_TOO_BIG);
	ASSERT_INT_EQ(b->len, 16);
	ASSERT_TRUE(b->alloc <= 16);

	/* A scalar that does not fit whole is refused whole. */
	b->len = 13;
	memcpy(before, b->data, 16);
	ASSERT_INT_EQ(mg__buf_put_u32(b, 0x01020304u), MG_ERR_TOO_BIG);
	ASSERT_INT_EQ(b->len, 13);
	ASSERT_TRUE(memcmp(b->data, before, 16) == 0);

	/* Growth works up to the limit, in many steps. */
	big = mg__buf_new(tmp, 1u << 20);
	ASSERT_PTR_NOT_NULL(big);
	for (size_t i = 0; i < (1u << 20) / 16; i++) {
		ASSERT_INT_EQ(mg__buf_put(big, fill, 16), 0);
	}
	ASSERT_INT_EQ(big->len, 1u << 20);
	ASSERT_INT_EQ(mg__buf_put_u8(big, 0), MG_ERR_TOO_BIG);
	ASSERT_INT_EQ(big->len, 1u << 20);

	/* A view is read-only: nothing can be added to it. */
	mg__buf_view(&view, "abcd", 4);
	ASSERT_INT_EQ(mg__buf_put_u8(&view, 0), MG_ERR_TOO_BIG);
	ASSERT_INT_EQ(view.len, 4);

	/* Zero bytes always fit. */
	ASSERT_INT_EQ(mg__buf_put(b, fill, 0), 0);
	talloc_free(tmp);
}

/*
 * Compound puts (u64, str, bytes, strv) that do not fit must leave the
 * buffer unchanged, like the single puts: a caller that gets
 * MG_ERR_TOO_BIG must not be left with half an item in its payload.
 */
static struct mg_buf *full_but(TALLOC_CTX *mem_ctx, size_t room)
{
	struct mg_buf *b = mg__buf_new(mem_ctx, 16);

	if (b != NULL && mg__buf_put(b, "0123456789abcdef", 16 - room) != 0) {
		return NULL;
	}
	return b;
}

static void test_too_big_u64_unchanged(void)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	struct mg_buf *b = full_but(tmp, 6);
	int r;
	size_t len;

	ASSERT_PTR_NOT_NULL(b);
	r = mg__buf_put_u64(b, 0x0102030405060708ULL);
	len = b->len;
	talloc_free(tmp);
	ASSERT_INT_EQ(r, MG_ERR_TOO_BIG);
	ASSERT_INT_EQ(len, 10);
}

static void test_too_big_str_unchanged(void)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	struct mg_buf *b = full_but(tmp, 6);
	struct mg_buf *c = full_but(tmp, 6);
	int rb, rc;
	size_t blen, clen;

	ASSERT_PTR_NOT_NULL(b);
	ASSERT_PTR_NOT_NULL(c);
	/* The length prefix fits, the bytes do not. */
	rb = mg__buf_put_str(b, "too long");
	rc = mg__buf_put_bytes(c, "abc", 3);
	blen = b->len;
	clen = c->len;
	talloc_free(tmp);
	ASSERT_INT_EQ(rb, MG_ERR_TOO_BIG);
	ASSERT_INT_EQ(rc, MG_ERR_TOO_BIG);
	ASSERT_INT_EQ(blen, 10);
	ASSERT_INT_EQ(clen, 10);
}

static void test_too_big_strv_unchanged(void)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	struct mg_buf *b = full_but(tmp, 12);
	int r;
	size_t len;

	ASSERT_PTR_NOT_NULL(b);
	/* Count and first item fit, the second does not. */
	r = mg__buf_put_strv(b, (const char *const[]){ "x", "yyyy", NULL });
	len = b->len;
	talloc_free(tmp);
	ASSERT_INT_EQ(r, MG_ERR_TOO_BIG);
	ASSERT_INT_EQ(len, 4);
}

/* A count that promises more items than the payload can hold. */
static void test_strv_lying_count(void)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	struct mg_buf *b = mg__buf_new(tmp, 256);
	struct mg_buf r;
	char **v = NULL;
	size_t base;

	ASSERT_INT_EQ(mg__buf_put_strv(b, (const char *const[]){ "a", "b", NULL }), 0);
	base = talloc_total_blocks(tmp);

	/* Claims 1000 items with two present. */
	b->data[0] = 0; b->data[1] = 0; b->data[2] = 0x03; b->data[3] = 0xe8;
	mg__buf_view(&r, b->data, b->len);
	ASSERT_INT_EQ(mg__buf_get_strv(&r, tmp, SIZE_MAX, &v), MG_ERR_PROTOCOL);
	/* Claims 4 billion: must fail without trying to allocate for them. */
	memset(b->data, 0xff, 4);
	mg__buf_view(&r, b->data, b->len);
	ASSERT_INT_EQ(mg__buf_get_strv(&r, tmp, SIZE_MAX, &v), MG_ERR_PROTOCOL);
	/* Claims 3 with room for a third length, which then lies too. */
	b->data[0] = 0; b->data[1] = 0; b->data[2] = 0; b->data[3] = 3;
	ASSERT_INT_EQ(mg__buf_put_u32(b, 100), 0);
	mg__buf_view(&r, b->data, b->len);
	ASSERT_INT_EQ(mg__buf_get_strv(&r, tmp, SIZE_MAX, &v), MG_ERR_PROTOCOL);
	/* A NULL item is not a valid vector member. */
	b->len = 0;
	ASSERT_INT_EQ(mg__buf_put_u32(b, 2), 0);
	ASSERT_INT_EQ(mg__buf_put_str(b, "a"), 0);
	ASSERT_INT_EQ(mg__buf_put_str(b, NULL), 0);
	mg__buf_view(&r, b->data, b->len);
	ASSERT_INT_EQ(mg__buf_get_strv(&r, tmp, SIZE_MAX, &v), MG_ERR_PROTOCOL);
	/* Nothing half-built was left on mem_ctx. */
	ASSERT_INT_EQ(talloc_total_blocks(tmp), base);
	ASSERT_PTR_NULL(v);
	talloc_free(tmp);
}

/* Strings are C strings: a NUL inside is refused, bytes allow it. */
static void test_embedded_nul(void)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	struct mg_buf *b = mg__buf_new(tmp, 256);
	struct mg_buf r;
	const uint8_t *p;
	char *s = NULL;
	char **v = NULL;
	size_t n;

	ASSERT_INT_EQ(mg__buf_put_bytes(b, "ab\0cd", 5), 0);
	mg__buf_view(&r, b->data, b->len);
	ASSERT_INT_EQ(mg__buf_get_str(&r, tmp, &s), MG_ERR_PROTOCOL);
	ASSERT_PTR_NULL(s);
	mg__buf_view(&r, b->data, b->len);
	ASSERT_INT_EQ(mg__buf_get_bytes(&r, &p, &n), 0);
	ASSERT_INT_EQ(n, 5);
	ASSERT_TRUE(memcmp(p, "ab\0cd", 5) == 0);
	/* A trailing NUL counts too. */
	b->len = 0;
	ASSERT_INT_EQ(mg__buf_put_bytes(b, "abc\0", 4), 0);
	mg__buf_view(&r, b->data, b->len);
	ASSERT_INT_EQ(mg__buf_get_str(&r, tmp, &s), MG_ERR_PROTOCOL);
	/* Inside a vector. */
	b->len = 0;
	ASSERT_INT_EQ(mg__buf_put_u32(b, 2), 0);
	ASSERT_INT_EQ(mg__buf_put_str(b, "ok"), 0);
	ASSERT_INT_EQ(mg__buf_put_bytes(b, "x\0y", 3), 0);
	mg__buf_view(&r, b->data, b->len);
	ASSERT_INT_EQ(mg__buf_get_strv(&r, tmp, 8, &v), MG_ERR_PROTOCOL);
	ASSERT_PTR_NULL(v);
	ASSERT_INT_EQ(talloc_total_blocks(tmp), 3);
	talloc_free(tmp);
}

static void test_strv_max_items(void)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	struct mg_buf *b = mg__buf_new(tmp, 256);
	const char *const three[] = { "a", "b", "c", NULL };
	struct mg_buf r;
	char **v = NULL;

	ASSERT_INT_EQ(mg__buf_put_strv(b, three), 0);
	mg__buf_view(&r, b->data, b->len);
	ASSERT_INT_EQ(mg__buf_get_strv(&r, tmp, 2, &v), MG_ERR_PROTOCOL);
	ASSERT_PTR_NULL(v);
	mg__buf_view(&r, b->data, b->len);
	ASSERT_INT_EQ(mg__buf_get_strv(&r, tmp, 3, &v), 0);
	ASSERT_STR_EQ(v[0], "a");
	ASSERT_STR_EQ(v[2], "c");
	ASSERT_PTR_NULL(v[3]);
	ASSERT_TRUE(talloc_parent(v) == tmp);
	/* An empty vector fits any limit, even 0. */
	b->len = 0;
	ASSERT_INT_EQ(mg__buf_put_strv(b, NULL), 0);
	mg__buf_view(&r, b->data, b->len);
	v = NULL;
	ASSERT_INT_EQ(mg__buf_get_strv(&r, tmp, 0, &v), 0);
	ASSERT_PTR_NOT_NULL(v);
	ASSERT_PTR_NULL(v[0]);
	talloc_free(tmp);
}

int main(void)
{
	TESTS_BEGIN();
	RUN(test_round_trip);
	RUN(test_wire_format);
	RUN(test_short_buffers);
	RUN(test_max);
	RUN(test_too_big_u64_unchanged);
	RUN(test_too_big_str_unchanged);
	RUN(test_too_big_strv_unchanged);
	RUN(test_strv_lying_count);
	RUN(test_embedded_nul);
	RUN(test_strv_max_items);
	return TESTS_END();
}
