/*
 * A payload stream in raw deflate (unlzma.h, mg__inflate_stream): the
 * exec-only agent's stub links this and lib/core/inflate.c instead of the
 * LZMA decoder.
 */
#include "deflate.h"
#include "unlzma.h"

int mg__inflate_stream(void *st, unsigned props, const uint8_t *in, size_t in_len,
		       uint8_t *out, size_t out_len)
{
	if (props != MG_PROPS_DEFLATE) {
		return -1;
	}
	return mg__inflate(st, in, in_len, out, out_len) == (long)out_len ? 0 : -1;
}

/* Either decoder, by PROPS, ST a struct mg_unlzma: for the tests and the
 * fuzzer, which see both forms (a stub links only its own; this one is
 * dropped from it with the unused sections). */
int mg__either_stream(void *st, unsigned props, const uint8_t *in, size_t in_len, uint8_t *out,
		      size_t out_len)
{
	static struct mg__inflate inf;

	return props == MG_PROPS_DEFLATE ? mg__inflate_stream(&inf, props, in, in_len, out, out_len) :
	       mg__unlzma_stream(st, props, in, in_len, out, out_len);
}
