/*
 * The public decoder (lib/core/codec.c, mitogen/codec.h) as a program's
 * service uses it on a payload a far end chose: a sequence of items, each
 * read with the bounded getters. Whatever it accepts must encode back to
 * the bytes it read, and once it fails it must stay failed.
 *
 * Input: u8 n, then n item kinds (each u8 % 8: u8, u32, u64, i32, str,
 * str_ref, strv, bytes), then the payload.
 */
#include "fuzz.h"
#include "mitogen/codec.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fz_quiet_logs();
	return 0;
}

/* Read one item of 'kind' from d and append it to e. */
static int item(TALLOC_CTX *ctx, struct mg_dec *d, struct mg_enc *e, uint8_t kind)
{
	uint8_t u8;
	uint32_t u32;
	uint64_t u64;
	int32_t i32;
	char *s, **v;
	const char *ref;
	const void *p;
	size_t n;
	int ret;

	switch (kind % 8) {
	case 0:
		return (ret = mg_dec_u8(d, &u8)) != 0 ? ret : mg_enc_u8(e, u8);
	case 1:
		return (ret = mg_dec_u32(d, &u32)) != 0 ? ret : mg_enc_u32(e, u32);
	case 2:
		return (ret = mg_dec_u64(d, &u64)) != 0 ? ret : mg_enc_u64(e, u64);
	case 3:
		return (ret = mg_dec_i32(d, &i32)) != 0 ? ret : mg_enc_i32(e, i32);
	case 4:
		return (ret = mg_dec_str(d, ctx, &s)) != 0 ? ret : mg_enc_str(e, s);
	case 5:
		if ((ret = mg_dec_str_ref(d, &ref, &n)) != 0) {
			return ret;
		}
		s = ref != NULL ? talloc_strndup(ctx, ref, n) : NULL;
		FUZZ_CHECK(ref == NULL || (s != NULL && strlen(s) == n));
		return mg_enc_str(e, s);
	case 6:
		if ((ret = mg_dec_strv(d, ctx, 64, &v)) != 0) {
			return ret;
		}
		FUZZ_CHECK(v != NULL);
		return mg_enc_strv(e, (const char *const *)v);
	default:
		return (ret = mg_dec_bytes(d, &p, &n)) != 0 ? ret : mg_enc_bytes(e, p, n);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FUZZ_LEAKS_BEGIN;
	TALLOC_CTX *ctx = talloc_new(NULL);
	struct mg_enc *e = mg_enc_new(ctx);
	struct mg_dec d;
	size_t n_kinds = size > 0 ? data[0] : 0, len;
	const uint8_t *kinds = data + 1, *payload;
	const void *out;
	uint8_t u8;
	int err = 0;

	FUZZ_CHECK(e != NULL);
	if (size < 1 + n_kinds) {
		goto out;
	}
	payload = kinds + n_kinds;
	mg_dec_init(&d, payload, size - 1 - n_kinds);
	for (size_t i = 0; i < n_kinds && err == 0; i++) {
		err = item(ctx, &d, e, kinds[i]);
	}
	if (err != 0) {
		/* Sticky: nothing more comes out of a failed decoder. */
		FUZZ_CHECK(err == -EBADMSG && mg_dec_done(&d) == -EBADMSG);
		FUZZ_CHECK(mg_dec_u8(&d, &u8) == -EBADMSG && u8 == 0 && mg_dec_left(&d) == 0);
		goto out;
	}
	out = mg_enc_data(e, &len);
	FUZZ_CHECK(out != NULL && len + mg_dec_left(&d) == size - 1 - n_kinds);
	FUZZ_CHECK(memcmp(out, payload, len) == 0);
	FUZZ_CHECK((mg_dec_done(&d) == 0) == (mg_dec_left(&d) == 0));
out:
	talloc_free(ctx);
	FUZZ_LEAKS_END;
	return 0;
}
