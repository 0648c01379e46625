/*
 * mitogen-connect's reading of the -c text ssh gives its $SHELL
 * (cmd/connect-words.c).
 *
 * Checked: words are taken only from text that starts "exec " and whose
 * first word is the helper's path; none is empty; and quoted again as
 * lib/hop/boot.c quotes them, they read back the same (what a shell
 * would make of that text, since it holds nothing a shell expands).
 *
 * Input: the text.
 */
#include "fuzz.h"
#include "boot.h"
#include "connect-words.h"

#define SELF "/usr/libexec/mitogen/mitogen-connect"
#define MAX_WORDS 6

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fz_quiet_logs();
	return 0;
}

/* "exec W1 W2...", each quoted by mg__shell_quote, on mem_ctx. */
static char *requote(TALLOC_CTX *mem_ctx, char **words, int n)
{
	char *s = talloc_strdup(mem_ctx, "exec");

	for (int i = 0; s != NULL && i < n; i++) {
		char *q = mg__shell_quote(mem_ctx, words[i]);

		s = q != NULL ? talloc_asprintf_append(s, " %s", q) : NULL;
	}
	return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FUZZ_LEAKS_BEGIN;
	TALLOC_CTX *tmp = talloc_new(NULL);
	char *text = talloc_strndup(tmp, (const char *)data, size), *again;
	char *words[MAX_WORDS], *words2[MAX_WORDS];
	int n, n2;

	FUZZ_CHECK(text != NULL);
	n = mg_connect_words(text, SELF, words, MAX_WORDS);
	FUZZ_CHECK(n >= 0 && n <= MAX_WORDS);
	if (n > 0) {
		FUZZ_CHECK(size > 5 && memcmp(data, "exec ", 5) == 0);
		FUZZ_CHECK(strcmp(words[0], SELF) == 0);
		for (int i = 0; i < n; i++) {
			FUZZ_CHECK(words[i][0] != '\0');
		}
		again = requote(tmp, words, n);
		FUZZ_CHECK(again != NULL);
		n2 = mg_connect_words(again, SELF, words2, MAX_WORDS);
		FUZZ_CHECK(n2 == n);
		for (int i = 0; i < n; i++) {
			FUZZ_CHECK(strcmp(words[i], words2[i]) == 0);
		}
	}
	talloc_free(tmp);
	FUZZ_LEAKS_END;
	return 0;
}
