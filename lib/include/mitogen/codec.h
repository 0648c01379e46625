/*
 * The payload encoding of the library's own messages (docs/PROTOCOL.md
 * section 4), for a program's services: items one after the other, in an
 * order the service documents, with no names, tags or padding.
 *
 *   u8, u32, u64   big-endian unsigned integers
 *   i32            a u32 holding the two's complement
 *   str            u32 length, then the bytes (no NUL inside); the null
 *                  string is the length 0xffffffff alone
 *   bytes          u32 length, then the bytes
 *   strv           u32 count, then each item a str (never null)
 *
 * Both sides keep a sticky error: after the first failure every later
 * call fails the same way and does nothing, so a sequence of calls can be
 * checked once at the end (mg_enc_data, mg_dec_done).
 *
 *	struct mg_enc *e = mg_enc_new(tmp);
 *	mg_enc_str(e, "sum");
 *	mg_enc_u32(e, 2); mg_enc_i32(e, 40); mg_enc_i32(e, 2);
 *	p = mg_enc_data(e, &len);        NULL if anything failed
 *
 *	struct mg_dec d;
 *	mg_dec_init(&d, payload, len);
 *	mg_dec_u32(&d, &n);
 *	...
 *	if (mg_dec_done(&d) != 0)        -EBADMSG: short, malformed or
 *		refuse it;               bytes left over
 */
#ifndef MITOGEN_CODEC_H
#define MITOGEN_CODEC_H

#include <stddef.h>
#include <stdint.h>
#include <talloc.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The most an encoder holds: the largest message (4 MiB). */
#define MG_ENC_MAX (4u * 1024 * 1024)

struct mg_enc;

/* A new, empty encoder (a child of mem_ctx). NULL on ENOMEM. */
struct mg_enc *mg_enc_new(TALLOC_CTX *mem_ctx);

/*
 * Append one item. Each returns 0, or the encoder's first error: -ENOMEM
 * or MG_ERR_TOO_BIG (past MG_ENC_MAX). A failed item leaves nothing of
 * itself behind.
 */
int mg_enc_u8(struct mg_enc *e, uint8_t v);
/* As mg_enc_u8. */
int mg_enc_u32(struct mg_enc *e, uint32_t v);
/* As mg_enc_u8. */
int mg_enc_u64(struct mg_enc *e, uint64_t v);
/* As mg_enc_u8. */
int mg_enc_i32(struct mg_enc *e, int32_t v);
/* A string; NULL is the null string. As mg_enc_u8. */
int mg_enc_str(struct mg_enc *e, const char *s);
/* A NULL-terminated vector of strings; NULL is the empty vector. As
 * mg_enc_u8. */
int mg_enc_strv(struct mg_enc *e, const char *const *v);
/* 'n' bytes at p (p may be NULL when n is 0). As mg_enc_u8. */
int mg_enc_bytes(struct mg_enc *e, const void *p, size_t n);

/* The encoded bytes and *_len their count, valid until the next append or
 * the encoder is freed; NULL (and *_len 0) after an error. */
const void *mg_enc_data(const struct mg_enc *e, size_t *_len);
/* The first error, or 0. */
int mg_enc_error(const struct mg_enc *e);

/* A decoder over borrowed bytes: on the caller's stack, fields private. */
struct mg_dec {
	const uint8_t *data;
	size_t len;
	size_t off;
	int err;
};

/* Start decoding 'len' bytes at 'data' (not copied: they must outlive d). */
void mg_dec_init(struct mg_dec *d, const void *data, size_t len);

/*
 * Take one item. Each returns 0, or the decoder's first error: -EBADMSG
 * (too short, a NUL inside a string, a null item in a vector) or -ENOMEM;
 * on error the outputs are zero or NULL.
 */
int mg_dec_u8(struct mg_dec *d, uint8_t *_v);
/* As mg_dec_u8. */
int mg_dec_u32(struct mg_dec *d, uint32_t *_v);
/* As mg_dec_u8. */
int mg_dec_u64(struct mg_dec *d, uint64_t *_v);
/* As mg_dec_u8. */
int mg_dec_i32(struct mg_dec *d, int32_t *_v);
/* A NUL-terminated copy on mem_ctx; NULL for the null string. As mg_dec_u8. */
int mg_dec_str(struct mg_dec *d, TALLOC_CTX *mem_ctx, char **_s);
/* The same without copying: a pointer into the data and the length (not
 * NUL-terminated); *_s NULL for the null string. As mg_dec_u8. */
int mg_dec_str_ref(struct mg_dec *d, const char **_s, size_t *_n);
/* A NULL-terminated vector on mem_ctx (its strings are its children), of
 * at most 'max_items' items (more: -EBADMSG). As mg_dec_u8. */
int mg_dec_strv(struct mg_dec *d, TALLOC_CTX *mem_ctx, size_t max_items, char ***_v);
/* A pointer into the data and the length. As mg_dec_u8. */
int mg_dec_bytes(struct mg_dec *d, const void **_p, size_t *_n);

/* Bytes not read yet (0 after an error). */
size_t mg_dec_left(const struct mg_dec *d);
/* The end: 0 when every item was read and nothing is left; the first
 * error; or -EBADMSG for bytes left over. */
int mg_dec_done(const struct mg_dec *d);

#ifdef __cplusplus
}
#endif

#endif
