/* Where a CHAIN:PATH word of mitogen-cp splits: see cp.h. */
#include <errno.h>
#include <string.h>
#include <mitogen/chain.h>
#include "cp.h"

static bool is_chain(const char *word, size_t n)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	char *text = talloc_strndup(tmp, word, n);
	struct mg_chain_list *list = NULL;
	char *errmsg = NULL;
	bool ok = text != NULL && mg_chain_parse(tmp, text, &list, &errmsg) == 0;

	talloc_free(tmp);
	return ok;
}

/* The next ':' at or after i outside an [IPv6] bracket, or -1. */
static long next_colon(const char *w, size_t i)
{
	bool bracket = false;

	for (; w[i] != '\0'; i++) {
		if (w[i] == '[') {
			bracket = true;
		} else if (w[i] == ']') {
			bracket = false;
		} else if (w[i] == ':' && !bracket) {
			return (long)i;
		}
	}
	return -1;
}

int mg_cp_split(TALLOC_CTX *mem_ctx, const char *word, char **_chain, char **_path,
		char **_errmsg)
{
	long c, best = -1;
	struct mg_chain_list *list = NULL;

	*_chain = *_path = *_errmsg = NULL;
	if (word[0] == '/' || word[0] == '.' || strchr(word, ':') == NULL) {
		return 0;
	}
	for (c = next_colon(word, 0); c >= 0; c = next_colon(word, (size_t)c + 1)) {
		if (c > 0 && is_chain(word, (size_t)c)) {
			best = c;
			if (word[c + 1] == '/') {
				break;
			}
		}
	}
	if (best < 0) {
		/* No chain ends at any ':': say what is wrong with the first. */
		c = next_colon(word, 0);
		char *text = talloc_strndup(mem_ctx, word, c > 0 ? (size_t)c : strlen(word));
		if (text != NULL && mg_chain_parse(mem_ctx, text, &list, _errmsg) == 0) {
			*_errmsg = talloc_asprintf(mem_ctx, "'%s': no chain before a ':'", word);
		}
		return -EINVAL;
	}
	*_chain = talloc_strndup(mem_ctx, word, (size_t)best);
	*_path = talloc_strdup(mem_ctx, word[best + 1] != '\0' ? word + best + 1 : ".");
	if (*_chain == NULL || *_path == NULL) {
		return -ENOMEM;
	}
	return 1;
}
