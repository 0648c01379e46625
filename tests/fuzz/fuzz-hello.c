/*
 * The HELLO payload an agent reads from its parent (mg__hello_decode in
 * lib/hop/conn.c): u32 version, u32 id, u32 n, n x u32 parents, u32 max_msg,
 * u32 window, u8 log level, str name, then an optional u8 flags. What it
 * accepts must encode back to the bytes it read.
 *
 * Input: the payload.
 */
#include "fuzz.h"
#include "buf.h"
#include "conn.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fz_quiet_logs();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FUZZ_LEAKS_BEGIN;
	TALLOC_CTX *ctx = talloc_new(NULL);
	struct mg_hello h;
	struct mg_buf *b;

	if (mg__hello_decode(ctx, data, size, &h) == 0) {
		FUZZ_CHECK(h.n_parents >= 1 && h.n_parents <= 1024);
		FUZZ_CHECK(h.parents != NULL);
		b = mg__buf_new(ctx, size + 16);
		FUZZ_CHECK(b != NULL);
		FUZZ_CHECK(mg__buf_put_u32(b, h.version) == 0);
		FUZZ_CHECK(mg__buf_put_u32(b, h.id) == 0);
		FUZZ_CHECK(mg__buf_put_u32(b, (uint32_t)h.n_parents) == 0);
		for (size_t i = 0; i < h.n_parents; i++) {
			FUZZ_CHECK(mg__buf_put_u32(b, h.parents[i]) == 0);
		}
		FUZZ_CHECK(mg__buf_put_u32(b, h.max_msg) == 0);
		FUZZ_CHECK(mg__buf_put_u32(b, h.window) == 0);
		FUZZ_CHECK(mg__buf_put_u8(b, h.log_level) == 0);
		FUZZ_CHECK(mg__buf_put_str(b, h.name) == 0);
		/* The flags byte is read when there is one, else 0. */
		if (b->len < size) {
			FUZZ_CHECK(mg__buf_put_u8(b, h.flags) == 0);
		} else {
			FUZZ_CHECK(h.flags == 0);
		}
		/* Trailing bytes are ignored; the rest reads back the same. */
		FUZZ_CHECK(b->len <= size);
		FUZZ_CHECK(memcmp(b->data, data, b->len) == 0);
	}
	talloc_free(ctx);
	FUZZ_LEAKS_END;
	return 0;
}
