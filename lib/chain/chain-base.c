/*
 * What every chain-*.c file uses: the parser's errors, quoting for
 * messages, growing arrays, packing hops into a chain, and option look-up.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "mitogen/error.h"
#include "chain-private.h"

int mg__chain_fail(struct mg__chain_parser *p, int col, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	msg = talloc_vasprintf(p->tmp, fmt, ap);
	va_end(ap);
	if (msg != NULL && col > 0) {
		msg = talloc_asprintf(p->tmp, "column %d: %s", col, msg);
	}
	if (msg == NULL) {
		return -ENOMEM;
	}
	p->errmsg = msg;
	return MG_ERR_CHAIN;
}

char *mg__chain_quote(TALLOC_CTX *mem_ctx, const char *s, size_t n)
{
	size_t max = n > 64 ? 64 : n;
	char *out = talloc_array(mem_ctx, char, max * 4 + 4);
	size_t k = 0;

	if (out == NULL) {
		return NULL;
	}
	for (size_t i = 0; i < max; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c >= 0x7f || c == '\'' || c == '\\') {
			k += (size_t)snprintf(out + k, 5, "\\x%02x", c);
		} else {
			out[k++] = (char)c;
		}
	}
	if (max < n) {
		memcpy(out + k, "...", 3);
		k += 3;
	}
	out[k] = '\0';
	return out;
}

void *mg__chain_grow(TALLOC_CTX *mem, void *array, size_t size, size_t n)
{
	size_t have = array != NULL ? talloc_get_size(array) / size : 0;

	if (n < have) {
		return array;
	}
	return talloc_realloc_size(mem, array, size * (have > 0 ? have * 2 : 8));
}

struct mg_chain *mg__chain_list_push(struct mg_chain_list *list)
{
	struct mg_chain *c;

	c = mg__chain_grow(list, list->chains, sizeof(*c), list->n_chains);
	if (c == NULL) {
		return NULL;
	}
	list->chains = c;
	c = &list->chains[list->n_chains++];
	memset(c, 0, sizeof(*c));
	return c;
}

static char *put(char **w, const char *s)
{
	size_t len = strlen(s) + 1;
	char *r = *w;

	memcpy(r, s, len);
	*w += len;
	return r;
}

int mg__chain_pack(TALLOC_CTX *mem_ctx, const struct mg_hop *const *hops,
		   size_t n, struct mg_chain *out)
{
	size_t size = 1, n_opts = 0, k = 0;
	struct mg_hop_opt *opts = NULL;
	struct mg_hop *h;
	char *w;

	for (size_t i = 0; i < n; i++) {
		const struct mg_hop *s = hops[i];

		size += strlen(s->method) + strlen(s->spec)
			+ 2 * strlen(s->text) + 4;
		size += s->user != NULL ? strlen(s->user) + 1 : 0;
		size += s->host != NULL ? strlen(s->host) + 1 : 0;
		for (size_t j = 0; j < s->n_opts; j++) {
			size += strlen(s->opts[j].key)
				+ strlen(s->opts[j].value) + 2;
		}
		n_opts += s->n_opts;
	}
	h = talloc_zero_array(mem_ctx, struct mg_hop, n > 0 ? n : 1);
	w = h != NULL ? talloc_size(h, size) : NULL;
	if (w != NULL && n_opts > 0) {
		opts = talloc_array(h, struct mg_hop_opt, n_opts);
	}
	if (w == NULL || (n_opts > 0 && opts == NULL)) {
		talloc_free(h);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		const struct mg_hop *s = hops[i];

		h[i].method = put(&w, s->method);
		h[i].spec = put(&w, s->spec);
		h[i].user = s->user != NULL ? put(&w, s->user) : NULL;
		h[i].host = s->host != NULL ? put(&w, s->host) : NULL;
		h[i].port = s->port;
		h[i].text = put(&w, s->text);
		h[i].opts = s->n_opts > 0 ? &opts[k] : NULL;
		h[i].n_opts = s->n_opts;
		for (size_t j = 0; j < s->n_opts; j++) {
			opts[k].key = put(&w, s->opts[j].key);
			opts[k].value = put(&w, s->opts[j].value);
			k++;
		}
	}
	out->hops = h;
	out->n_hops = n;
	out->text = w;
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(h[i].text);

		if (i > 0) {
			*w++ = '/';
		}
		memcpy(w, h[i].text, len);
		w += len;
	}
	*w = '\0';
	return 0;
}

const char *mg_hop_opt(const struct mg_hop *hop, const char *key)
{
	for (size_t i = hop->n_opts; i > 0; i--) {
		if (strcmp(hop->opts[i - 1].key, key) == 0) {
			return hop->opts[i - 1].value;
		}
	}
	return NULL;
}
