/* The public payload codec (mitogen/codec.h): a thin layer over buf.c with
 * sticky errors. */
#include <errno.h>
#include <string.h>
#include "buf.h"
#include "mitogen/codec.h"
#include "mitogen/error.h"

struct mg_enc {
	struct mg_buf *b;
	int err;
};

struct mg_enc *mg_enc_new(TALLOC_CTX *mem_ctx)
{
	struct mg_enc *e = talloc_zero(mem_ctx, struct mg_enc);

	if (e == NULL) {
		return NULL;
	}
	e->b = mg__buf_new(e, MG_ENC_MAX);
	if (e->b == NULL) {
		talloc_free(e);
		return NULL;
	}
	return e;
}

/* Record the first error; a failed put has written nothing. */
static int enc_result(struct mg_enc *e, int ret)
{
	if (ret != 0 && e->err == 0) {
		e->err = ret;
	}
	return e->err != 0 ? e->err : 0;
}

int mg_enc_u8(struct mg_enc *e, uint8_t v)
{
	return e->err != 0 ? e->err : enc_result(e, mg__buf_put_u8(e->b, v));
}

int mg_enc_u32(struct mg_enc *e, uint32_t v)
{
	return e->err != 0 ? e->err : enc_result(e, mg__buf_put_u32(e->b, v));
}

int mg_enc_u64(struct mg_enc *e, uint64_t v)
{
	return e->err != 0 ? e->err : enc_result(e, mg__buf_put_u64(e->b, v));
}

int mg_enc_i32(struct mg_enc *e, int32_t v)
{
	return mg_enc_u32(e, (uint32_t)v);
}

int mg_enc_str(struct mg_enc *e, const char *s)
{
	return e->err != 0 ? e->err : enc_result(e, mg__buf_put_str(e->b, s));
}

int mg_enc_strv(struct mg_enc *e, const char *const *v)
{
	return e->err != 0 ? e->err : enc_result(e, mg__buf_put_strv(e->b, v));
}

int mg_enc_bytes(struct mg_enc *e, const void *p, size_t n)
{
	return e->err != 0 ? e->err : enc_result(e, mg__buf_put_bytes(e->b, p, n));
}

const void *mg_enc_data(const struct mg_enc *e, size_t *_len)
{
	if (e->err != 0) {
		*_len = 0;
		return NULL;
	}
	*_len = e->b->len;
	/* An empty encoding is still a valid one. */
	return e->b->data != NULL ? (const void *)e->b->data : (const void *)"";
}

int mg_enc_error(const struct mg_enc *e)
{
	return e->err;
}

void mg_dec_init(struct mg_dec *d, const void *data, size_t len)
{
	d->data = data;
	d->len = data != NULL ? len : 0;
	d->off = 0;
	d->err = 0;
}

/* The decoder as a buf.c view at its read offset. */
static void dec_view(const struct mg_dec *d, struct mg_buf *b)
{
	mg__buf_view(b, d->data, d->len);
	b->off = d->off;
}

/* Take the view's progress, or fail for good. */
static int dec_result(struct mg_dec *d, const struct mg_buf *b, int ret)
{
	if (ret != 0) {
		d->err = ret == -ENOMEM ? ret : -EBADMSG;
		return d->err;
	}
	d->off = b->off;
	return 0;
}

int mg_dec_u8(struct mg_dec *d, uint8_t *_v)
{
	struct mg_buf b;

	*_v = 0;
	if (d->err != 0) {
		return d->err;
	}
	dec_view(d, &b);
	return dec_result(d, &b, mg__buf_get_u8(&b, _v));
}

int mg_dec_u32(struct mg_dec *d, uint32_t *_v)
{
	struct mg_buf b;

	*_v = 0;
	if (d->err != 0) {
		return d->err;
	}
	dec_view(d, &b);
	return dec_result(d, &b, mg__buf_get_u32(&b, _v));
}

int mg_dec_u64(struct mg_dec *d, uint64_t *_v)
{
	struct mg_buf b;

	*_v = 0;
	if (d->err != 0) {
		return d->err;
	}
	dec_view(d, &b);
	return dec_result(d, &b, mg__buf_get_u64(&b, _v));
}

int mg_dec_i32(struct mg_dec *d, int32_t *_v)
{
	uint32_t u;
	int ret = mg_dec_u32(d, &u);

	*_v = (int32_t)u;
	return ret;
}

int mg_dec_str(struct mg_dec *d, TALLOC_CTX *mem_ctx, char **_s)
{
	struct mg_buf b;
	int ret;

	*_s = NULL;
	if (d->err != 0) {
		return d->err;
	}
	dec_view(d, &b);
	ret = dec_result(d, &b, mg__buf_get_str(&b, mem_ctx, _s));
	if (ret != 0) {
		*_s = NULL;
	}
	return ret;
}

int mg_dec_str_ref(struct mg_dec *d, const char **_s, size_t *_n)
{
	struct mg_buf b;
	int ret;

	*_s = NULL;
	*_n = 0;
	if (d->err != 0) {
		return d->err;
	}
	dec_view(d, &b);
	ret = dec_result(d, &b, mg__buf_get_strn(&b, _s, _n));
	if (ret != 0) {
		*_s = NULL;
		*_n = 0;
	}
	return ret;
}

int mg_dec_strv(struct mg_dec *d, TALLOC_CTX *mem_ctx, size_t max_items, char ***_v)
{
	struct mg_buf b;

	*_v = NULL;
	if (d->err != 0) {
		return d->err;
	}
	dec_view(d, &b);
	return dec_result(d, &b, mg__buf_get_strv(&b, mem_ctx, max_items, _v));
}

int mg_dec_bytes(struct mg_dec *d, const void **_p, size_t *_n)
{
	const uint8_t *p = NULL;
	struct mg_buf b;
	int ret;

	*_p = NULL;
	*_n = 0;
	if (d->err != 0) {
		return d->err;
	}
	dec_view(d, &b);
	ret = dec_result(d, &b, mg__buf_get_bytes(&b, &p, _n));
	if (ret != 0) {
		*_n = 0;
		return ret;
	}
	*_p = p;
	return 0;
}

size_t mg_dec_left(const struct mg_dec *d)
{
	return d->err != 0 ? 0 : d->len - d->off;
}

int mg_dec_done(const struct mg_dec *d)
{
	if (d->err != 0) {
		return d->err;
	}
	return d->off == d->len ? 0 : -EBADMSG;
}
