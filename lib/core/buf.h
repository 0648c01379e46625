/*
 * Bounded buffers for payload encoding: every put/get returns 0 or a
 * negative error, and a buffer never grows past its limit.
 */
#ifndef MG_BUF_H
#define MG_BUF_H

#include <stddef.h>
#include <stdint.h>
#include <talloc.h>

struct mg_buf {
	uint8_t *data;
	size_t len;   /* bytes written */
	size_t off;   /* read offset */
	size_t alloc;
	size_t max;
};

/* A growable buffer for writing, limited to 'max' bytes. NULL on ENOMEM. */
struct mg_buf *mg__buf_new(TALLOC_CTX *mem_ctx, size_t max);
/* A read-only view of 'data' (not copied, not owned). */
void mg__buf_view(struct mg_buf *b, const void *data, size_t len);

int mg__buf_reserve(struct mg_buf *b, size_t n);
int mg__buf_put(struct mg_buf *b, const void *p, size_t n);
int mg__buf_put_u8(struct mg_buf *b, uint8_t v);
int mg__buf_put_u32(struct mg_buf *b, uint32_t v);
int mg__buf_put_u64(struct mg_buf *b, uint64_t v);
/* u32 length, bytes; NULL is encoded as length 0xffffffff. */
int mg__buf_put_str(struct mg_buf *b, const char *s);
int mg__buf_put_bytes(struct mg_buf *b, const void *p, size_t n);
/* u32 count, then each string. */
int mg__buf_put_strv(struct mg_buf *b, const char *const *v);

/* Getters fail with MG_ERR_PROTOCOL on a short or malformed buffer. */
int mg__buf_get_u8(struct mg_buf *b, uint8_t *_v);
int mg__buf_get_u32(struct mg_buf *b, uint32_t *_v);
int mg__buf_get_u64(struct mg_buf *b, uint64_t *_v);
/* A string in place: a pointer into the buffer and its length (not
 * NUL-terminated), *_p NULL for the null string; NUL bytes inside are
 * refused. */
int mg__buf_get_strn(struct mg_buf *b, const char **_p, size_t *_n);
/* A NUL-terminated copy on mem_ctx; NUL bytes inside are refused. */
int mg__buf_get_str(struct mg_buf *b, TALLOC_CTX *mem_ctx, char **_s);
/* A pointer into the buffer; valid while the buffer lives. */
int mg__buf_get_bytes(struct mg_buf *b, const uint8_t **_p, size_t *_n);
/* A copy of a NULL-terminated vector (NULL: an empty one) on mem_ctx,
 * or NULL on ENOMEM. */
char **mg__strv_copy(TALLOC_CTX *mem_ctx, const char *const *v);
/* A NULL-terminated vector on mem_ctx; at most 'max_items' items. */
int mg__buf_get_strv(struct mg_buf *b, TALLOC_CTX *mem_ctx, size_t max_items, char ***_v);
size_t mg__buf_left(const struct mg_buf *b);

static inline void mg__put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline uint32_t mg__get_be32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
	       ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

#endif
