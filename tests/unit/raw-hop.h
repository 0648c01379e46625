/*
 * A hop whose option values the chain parser has not checked, as a hop
 * reaches a method without the parser (a library caller's struct): the
 * text before '?' is parsed, the options after it are only
 * percent-decoded. For tests of the checks the hop layer keeps.
 */
#ifndef MG_TEST_RAW_HOP_H
#define MG_TEST_RAW_HOP_H

#include <stdlib.h>
#include <string.h>
#include <talloc.h>
#include "mitogen/chain.h"

static char *raw_decode(TALLOC_CTX *ctx, const char *s, size_t n)
{
	char *out = talloc_array(ctx, char, n + 1);
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] == '%' && i + 2 < n + 1) {
			char hex[3] = { s[i + 1], s[i + 2], '\0' };

			out[k++] = (char)strtol(hex, NULL, 16);
			i += 2;
		} else {
			out[k++] = s[i];
		}
	}
	out[k] = '\0';
	return out;
}

/* The last hop of 'text' with its options unchecked, or NULL. */
static struct mg_hop *raw_hop(TALLOC_CTX *ctx, const char *text)
{
	const char *q = strrchr(text, '?');
	struct mg_chain_list *list = NULL;
	struct mg_chain *c;
	struct mg_hop *h;
	char *err = NULL;

	if (q == NULL || mg_chain_parse(ctx, talloc_strndup(ctx, text, (size_t)(q - text)),
					&list, &err) != 0 || list->n_chains != 1) {
		return NULL;
	}
	c = &list->chains[0];
	h = &c->hops[c->n_hops - 1];
	h->opts = talloc_zero_array(ctx, struct mg_hop_opt, strlen(q));
	h->n_opts = 0;
	for (const char *p = q + 1; *p != '\0';) {
		size_t n = strcspn(p, "&");
		const char *eq = memchr(p, '=', n);

		if (eq == NULL) {
			return NULL;
		}
		h->opts[h->n_opts].key = talloc_strndup(ctx, p, (size_t)(eq - p));
		h->opts[h->n_opts].value = raw_decode(ctx, eq + 1, n - (size_t)(eq - p) - 1);
		h->n_opts++;
		p += n + (p[n] == '&');
	}
	return h;
}

#endif
