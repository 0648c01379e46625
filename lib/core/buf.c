/* Bounded buffers: see buf.h. */
#include <errno.h>
#include <string.h>
#include "buf.h"
#include "mitogen/error.h"

struct mg_buf *mg__buf_new(TALLOC_CTX *mem_ctx, size_t max)
{
	struct mg_buf *b = talloc_zero(mem_ctx, struct mg_buf);

	if (b != NULL) {
		b->max = max;
	}
	return b;
}

void mg__buf_view(struct mg_buf *b, const void *data, size_t len)
{
	memset(b, 0, sizeof(*b));
	b->data = (uint8_t *)data;
	b->len = len;
	b->max = len;
}

int mg__buf_reserve(struct mg_buf *b, size_t n)
{
	size_t want;
	uint8_t *p;

	if (n > b->max - b->len) {
		return MG_ERR_TOO_BIG;
	}
	want = b->len + n;
	if (want <= b->alloc) {
		return 0;
	}
	if (want < b->alloc * 2) {
		want = b->alloc * 2;
	}
	if (want < 256) {
		want = 256;
	}
	if (want > b->max) {
		want = b->max;
	}
	p = talloc_realloc_size(b, b->data, want);
	if (p == NULL) {
		return -ENOMEM;
	}
	b->data = p;
	b->alloc = want;
	return 0;
}

int mg__buf_put(struct mg_buf *b, const void *p, size_t n)
{
	int r;

	if (n == 0) {
		return 0;
	}
	if ((r = mg__buf_reserve(b, n)) != 0) {
		return r;
	}
	memcpy(b->data + b->len, p, n);
	b->len += n;
	return 0;
}

int mg__buf_put_u8(struct mg_buf *b, uint8_t v)
{
	return mg__buf_put(b, &v, 1);
}

int mg__buf_put_u32(struct mg_buf *b, uint32_t v)
{
	uint8_t p[4];

	mg__put_be32(p, v);
	return mg__buf_put(b, p, 4);
}

int mg__buf_put_u64(struct mg_buf *b, uint64_t v)
{
	uint8_t p[8];

	mg__put_be32(p, (uint32_t)(v >> 32));
	mg__put_be32(p + 4, (uint32_t)v);
	return mg__buf_put(b, p, 8);
}

int mg__buf_put_bytes(struct mg_buf *b, const void *p, size_t n)
{
	int r;

	if (n >= UINT32_MAX || n > b->max - 4) {
		return MG_ERR_TOO_BIG;
	}
	/* Reserve the whole item first, so a failure leaves nothing behind. */
	if ((r = mg__buf_reserve(b, 4 + n)) != 0) {
		return r;
	}
	mg__buf_put_u32(b, (uint32_t)n);
	return mg__buf_put(b, p, n);
}

int mg__buf_put_str(struct mg_buf *b, const char *s)
{
	if (s == NULL) {
		return mg__buf_put_u32(b, UINT32_MAX);
	}
	return mg__buf_put_bytes(b, s, strlen(s));
}

int mg__buf_put_strv(struct mg_buf *b, const char *const *v)
{
	size_t n = 0, start = b->len;
	int r;

	while (v != NULL && v[n] != NULL) {
		n++;
	}
	if ((r = mg__buf_put_u32(b, (uint32_t)n)) != 0) {
		return r;
	}
	for (size_t i = 0; i < n; i++) {
		if ((r = mg__buf_put_str(b, v[i])) != 0) {
			b->len = start;
			return r;
		}
	}
	return 0;
}

size_t mg__buf_left(const struct mg_buf *b)
{
	return b->len - b->off;
}

int mg__buf_get_u8(struct mg_buf *b, uint8_t *_v)
{
	if (mg__buf_left(b) < 1) {
		return MG_ERR_PROTOCOL;
	}
	*_v = b->data[b->off++];
	return 0;
}

int mg__buf_get_u32(struct mg_buf *b, uint32_t *_v)
{
	if (mg__buf_left(b) < 4) {
		return MG_ERR_PROTOCOL;
	}
	*_v = mg__get_be32(b->data + b->off);
	b->off += 4;
	return 0;
}

int mg__buf_get_u64(struct mg_buf *b, uint64_t *_v)
{
	uint32_t hi, lo;
	int r;

	if ((r = mg__buf_get_u32(b, &hi)) != 0 || (r = mg__buf_get_u32(b, &lo)) != 0) {
		return r;
	}
	*_v = ((uint64_t)hi << 32) | lo;
	return 0;
}

int mg__buf_get_bytes(struct mg_buf *b, const uint8_t **_p, size_t *_n)
{
	uint32_t n;
	int r;

	if ((r = mg__buf_get_u32(b, &n)) != 0) {
		return r;
	}
	if (n > mg__buf_left(b)) {
		return MG_ERR_PROTOCOL;
	}
	*_p = b->data + b->off;
	*_n = n;
	b->off += n;
	return 0;
}

int mg__buf_get_strn(struct mg_buf *b, const char **_p, size_t *_n)
{
	const uint8_t *p;
	size_t n;
	int r;

	if (mg__buf_left(b) >= 4 && mg__get_be32(b->data + b->off) == UINT32_MAX) {
		b->off += 4;
		*_p = NULL;
		*_n = 0;
		return 0;
	}
	if ((r = mg__buf_get_bytes(b, &p, &n)) != 0) {
		return r;
	}
	if (memchr(p, '\0', n) != NULL) {
		b->off -= 4 + n;
		return MG_ERR_PROTOCOL;
	}
	*_p = (const char *)p;
	*_n = n;
	return 0;
}

int mg__buf_get_str(struct mg_buf *b, TALLOC_CTX *mem_ctx, char **_s)
{
	const char *p;
	size_t n;
	int r;

	if ((r = mg__buf_get_strn(b, &p, &n)) != 0) {
		return r;
	}
	if (p == NULL) {
		*_s = NULL;
		return 0;
	}
	*_s = talloc_strndup(mem_ctx, p, n);
	return *_s == NULL ? -ENOMEM : 0;
}

char **mg__strv_copy(TALLOC_CTX *mem_ctx, const char *const *v)
{
	size_t n = 0;
	char **out;

	while (v != NULL && v[n] != NULL) {
		n++;
	}
	out = talloc_zero_array(mem_ctx, char *, n + 1);
	for (size_t i = 0; out != NULL && i < n; i++) {
		out[i] = talloc_strdup(out, v[i]);
		if (out[i] == NULL) {
			TALLOC_FREE(out);
		}
	}
	return out;
}

int mg__buf_get_strv(struct mg_buf *b, TALLOC_CTX *mem_ctx, size_t max_items, char ***_v)
{
	uint32_t n;
	char **v;
	int r;

	if ((r = mg__buf_get_u32(b, &n)) != 0) {
		return r;
	}
	/* Each item needs at least 4 bytes, so a lying count fails early. */
	if (n > max_items || n > mg__buf_left(b) / 4) {
		return MG_ERR_PROTOCOL;
	}
	v = talloc_zero_array(mem_ctx, char *, n + 1);
	if (v == NULL) {
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < n; i++) {
		if ((r = mg__buf_get_str(b, v, &v[i])) != 0 || v[i] == NULL) {
			talloc_free(v);
			return r != 0 ? r : MG_ERR_PROTOCOL;
		}
	}
	*_v = v;
	return 0;
}
