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

/* A scan for the ':'s of a word that may end its chain: not those inside
 * an [IPv6] bracket, where brackets count only before a hop's '?' (in
 * option values they are plain, mitogen-chain(7)). */
struct colons {
	const char *w;
	size_t i;
	bool bracket;
	bool opts;
};

/* The next such ':', or -1. */
static long next_colon(struct colons *s)
{
	for (; s->w[s->i] != '\0'; s->i++) {
		char c = s->w[s->i];

		if (c == ':' && !s->bracket) {
			return (long)s->i++;
		}
		if (s->opts) {
			s->opts = c != '/' && c != ',';
		} else if (c == '[' || c == ']') {
			s->bracket = c == '[';
		} else if (c == '?' && !s->bracket) {
			s->opts = true;
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
	struct colons scan = { .w = word };
	long c = first_slash;
	struct mg_chain_list *list = NULL;
	char *errmsg = NULL, *text;

	for (long k; first_slash < 0 && (k = next_colon(&scan)) >= 0;) {
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
	struct colons scan = { .w = word };
	long c, best = -1, first_slash = -1;

	*_chain = *_path = *_errmsg = NULL;
	if (word[0] == '/' || word[0] == '.' || strchr(word, ':') == NULL) {
		return 0;
	}
	while ((c = next_colon(&scan)) >= 0) {
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
