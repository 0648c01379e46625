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

/* Why 'word' has no chain: the parser's message for the text before its
 * first ":/" (an absolute path was meant), else before its last ':'
 * (the most text the chain may be: "ssh:we%20b:f" is about the space,
 * not "ssh needs a host"). */
static char *no_chain(TALLOC_CTX *mem_ctx, const char *word, long first_slash)
{
	long c = first_slash;
	struct mg_chain_list *list = NULL;
	char *errmsg = NULL, *text;

	for (long k = next_colon(word, 0); first_slash < 0 && k >= 0; k = next_colon(word, (size_t)k + 1)) {
		c = k;
	}
	text = talloc_strndup(mem_ctx, word, c > 0 ? (size_t)c : strlen(word));
	if (text == NULL) {
		return NULL;
	}
	if (mg_chain_parse(mem_ctx, text, &list, &errmsg) == 0) {
		return talloc_asprintf(mem_ctx, "'%s': no chain before a ':'", word);
	}
	/* Named as mitogen-run names a chain it cannot parse. */
	return talloc_asprintf(mem_ctx, "chain '%s': %s", text, errmsg != NULL ? errmsg : "bad chain");
}

int mg_cp_split(TALLOC_CTX *mem_ctx, const char *word, char **_chain, char **_path,
		char **_errmsg)
{
	long c, best = -1, first_slash = -1;

	*_chain = *_path = *_errmsg = NULL;
	if (word[0] == '/' || word[0] == '.' || strchr(word, ':') == NULL) {
		return 0;
	}
	for (c = next_colon(word, 0); c >= 0; c = next_colon(word, (size_t)c + 1)) {
		if (first_slash < 0 && word[c + 1] == '/') {
			first_slash = c;
		}
		if (c > 0 && is_chain(word, (size_t)c)) {
			best = c;
			if (word[c + 1] == '/') {
				break;
			}
		}
	}
	/* "ssh:web1/sudo:root?usr=x:/etc/f" is a mistyped chain before an
	 * absolute path, not ssh:web1/sudo and a relative path: a relative
	 * path holding ":/" must start with "./". */
	if (best < 0 || (first_slash >= 0 && word[best + 1] != '/' &&
			 strncmp(word + best + 1, "./", 2) != 0)) {
		*_errmsg = no_chain(mem_ctx, word, first_slash);
		if (best >= 0 && *_errmsg != NULL) {
			*_errmsg = talloc_asprintf(mem_ctx, "%s (a relative path holding ':/' is "
						   "written ./PATH)", *_errmsg);
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
