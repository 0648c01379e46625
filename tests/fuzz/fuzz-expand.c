/*
 * The host-list expander (lib/chain/chain-expand.c, mg__chain_expand) on one
 * hop's text: "web[01-20,33]", "web{a,b}", nested and multiplied.
 *
 * Checked on success: 1 to MG_CHAIN_MAX_CHAINS variants, none holding a
 * brace, nor a bracket unless around an address ("[::1]"), every column
 * one of the input's; a text without
 * brackets or braces is its own single variant. On failure: a message.
 *
 * Input: the hop's text (up to 512 bytes).
 */
#include "fuzz.h"
#include "chain-private.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fz_quiet_logs();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FUZZ_LEAKS_BEGIN;
	struct mg__chain_parser p;
	struct mg__span in, *out = NULL;
	size_t n = 0;
	int *col;
	int r;

	if (size > 512) {
		return 0;
	}
	memset(&p, 0, sizeof(p));
	p.tmp = talloc_new(NULL);
	FUZZ_CHECK(p.tmp != NULL);
	col = talloc_array(p.tmp, int, size + 1);
	FUZZ_CHECK(col != NULL);
	for (size_t i = 0; i < size; i++) {
		col[i] = 10 + (int)i;
	}
	in.s = (const char *)data;
	in.col = col;
	in.n = size;
	in.end_col = 10 + (int)size;
	r = mg__chain_expand(&p, p.tmp, &in, &out, &n);
	if (r == 0) {
		bool plain = memchr(data, '[', size) == NULL && memchr(data, ']', size) == NULL &&
			     memchr(data, '{', size) == NULL && memchr(data, '}', size) == NULL;
		bool colon = memchr(data, ':', size) != NULL;
		FUZZ_CHECK(out != NULL && n >= 1 && n <= MG_CHAIN_MAX_CHAINS);
		for (size_t i = 0; i < n; i++) {
			FUZZ_CHECK(out[i].n == 0 || (out[i].s != NULL && out[i].col != NULL));
			FUZZ_CHECK(out[i].end_col == in.end_col);
			for (size_t k = 0; k < out[i].n; k++) {
				char c = out[i].s[k];
				FUZZ_CHECK(c != '{' && c != '}');
				/* Brackets stay only around an address ("[::1]"). */
				FUZZ_CHECK((c != '[' && c != ']') || colon);
				FUZZ_CHECK(out[i].col[k] >= 10 && out[i].col[k] < in.end_col);
			}
		}
		if (plain) {
			FUZZ_CHECK(n == 1 && out[0].n == size && memcmp(out[0].s, data, size) == 0);
		}
	} else {
		FUZZ_CHECK(p.errmsg != NULL && p.errmsg[0] != '\0');
	}
	talloc_free(p.tmp);
	FUZZ_LEAKS_END;
	return 0;
}
