/*
 * The deflate decoder (lib/core/inflate.c) on streams a hostile sender
 * chose: it never writes past the buffer it is given (the buffer is
 * exactly that size, for the sanitizer), and what it accepts codes back
 * with our encoder to a stream it decodes to the same bytes (unless the
 * encoder gave up on data that did not shrink). The input itself, taken
 * as data, round-trips through the encoder too.
 *
 * Input: u16 cap (big-endian), then a raw deflate stream.
 */
#include "fuzz.h"
#include "deflate.h"

static struct mg__inflate st;
static struct mg__deflate enc;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	return 0;
}

/* data through our encoder and back. */
static void round_trip(const uint8_t *data, size_t n)
{
	/* A dynamic block's header is under 400 bytes. */
	size_t zcap = n + n / 8 + 1024, zn;
	uint8_t *z = malloc(zcap), *back = malloc(n + 1);
	long got;

	FUZZ_CHECK(z != NULL && back != NULL);
	zn = mg__deflate(&enc, data, n, z, zcap);
	/* It gives up only after a whole block that did not shrink. */
	FUZZ_CHECK(zn > 0 || n >= MG__DEFLATE_TOKENS);
	if (zn > 0) {
		got = mg__inflate(&st, z, zn, back, n);
		FUZZ_CHECK(got == (long)n);
		FUZZ_CHECK(n == 0 || memcmp(back, data, n) == 0);
	}
	free(z);
	free(back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t cap;
	uint8_t *out;
	long got;

	if (size < 2) {
		return 0;
	}
	cap = (size_t)data[0] << 8 | data[1];
	out = malloc(cap > 0 ? cap : 1);
	FUZZ_CHECK(out != NULL);
	got = mg__inflate(&st, data + 2, size - 2, out, cap);
	FUZZ_CHECK(got <= (long)cap);
	FUZZ_CHECK(got >= 0 || got == MG__INFLATE_BAD || got == MG__INFLATE_SHORT ||
		   got == MG__INFLATE_BIG);
	if (got >= 0) {
		round_trip(out, (size_t)got);
	}
	free(out);
	round_trip(data, size);
	return 0;
}
