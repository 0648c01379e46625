/*
 * Hop chains, see mitogen-chain(7): a target text is chains separated by
 * top-level commas, a chain is hops separated by '/'. This file splits the
 * text, expands each hop (host lists, aliases: chain-expand.c,
 * chain-hop.c) and forms the cartesian product of the hops' variants.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "mitogen/error.h"
#include "chain-private.h"

/* Where one hop lies in the text: [start, end), '?' at q when has_q. */
struct hop_range {
	size_t start;
	size_t end;
	size_t q;
	bool has_q;
};

struct chain_range {
	size_t start;
	size_t first_hop;
	size_t n_hops;
};

struct scan {
	struct hop_range *hops;
	size_t n_hops;
	struct chain_range *chains;
	size_t n_chains;
};

/*
 * The path-safe spelling, for tools that split "host:path" themselves:
 * a text with no ':' and no '/' at all reads '+' as '/' and, in each hop,
 * every '=' before the hop's '?' as ':' ("ssh=web1=2222+sudo=root").
 */
static void path_safe(char *t, size_t n)
{
	bool opts = false;

	if (memchr(t, ':', n) != NULL || memchr(t, '/', n) != NULL
	    || (memchr(t, '=', n) == NULL && memchr(t, '+', n) == NULL)) {
		return;
	}
	for (size_t i = 0; i < n; i++) {
		switch (t[i]) {
		case '+':
			t[i] = '/';
			opts = false;
			break;
		case ',':
			opts = false;
			break;
		case '?':
			opts = true;
			break;
		case '=':
			if (!opts) {
				t[i] = ':';
			}
			break;
		default:
			break;
		}
	}
}

/* Errors for an empty hop ending at i (after a '/' when 'after_slash'). */
static int empty_hop(struct mg__chain_parser *p, const char *t, size_t n,
		     size_t i, size_t start, bool after_slash, bool first_chain,
		     size_t comma)
{
	if (after_slash) {
		if (i == n || t[i] == ',') {
			return mg__chain_fail(p, (int)start, "trailing '/' "
					      "(expected a hop after it)");
		}
		return mg__chain_fail(p, (int)i + 1, "empty hop (expected a "
				      "method, alias or host before '/')");
	}
	if (i < n && t[i] == '/') {
		return mg__chain_fail(p, (int)i + 1, "empty hop (expected a "
				      "method, alias or host before '/')");
	}
	if (i < n) {
		return mg__chain_fail(p, (int)i + 1, "empty chain before ','");
	}
	if (first_chain) {
		return mg__chain_fail(p, 1, "empty target (expected a hop chain "
				      "such as ssh:HOST/sudo)");
	}
	return mg__chain_fail(p, (int)comma + 1, "trailing ',' (expected a "
			      "chain after it)");
}

/* A bracket or brace at t[i]: push or pop the stack of open ones. */
static int bracket(struct mg__chain_parser *p, const char *t, size_t i,
		   size_t *stack, size_t *depth)
{
	char c = t[i], open = c == ']' ? '[' : '{';
	size_t top;

	if (c == '[' || c == '{') {
		if (*depth == MG_CHAIN_MAX_NESTING) {
			return mg__chain_fail(p, (int)i + 1, "'[' and '{' "
					      "nested too deeply");
		}
		stack[(*depth)++] = i;
		return 0;
	}
	if (*depth == 0) {
		return mg__chain_fail(p, (int)i + 1, "unexpected '%c' (no '%c' "
				      "before it)", c, open);
	}
	top = stack[*depth - 1];
	if (t[top] != open) {
		return mg__chain_fail(p, (int)i + 1, "expected '%c' to close "
				      "the '%c' at column %zu, got '%c'",
				      t[top] == '[' ? ']' : '}', t[top],
				      top + 1, c);
	}
	(*depth)--;
	return 0;
}

/* One hop starting at *pos; leaves *pos on the '/', ',' or end after it.
 * After the hop's '?', brackets are plain and only '/' and ',' end it. */
static int scan_hop(struct mg__chain_parser *p, const char *t, size_t n,
		    size_t *pos, struct hop_range *h)
{
	size_t stack[MG_CHAIN_MAX_NESTING];
	size_t depth = 0, i;
	int r;

	h->start = *pos;
	h->has_q = false;
	for (i = *pos; i < n; i++) {
		unsigned char c = (unsigned char)t[i];

		if (c < 0x20 || c == 0x7f) {
			return mg__chain_fail(p, (int)i + 1, "control character "
					      "0x%02x (percent-encode it as "
					      "%%%02X)", c, c);
		}
		if (h->has_q) {
			if (c == '/' || c == ',') {
				break;
			}
			continue;
		}
		if (c == '[' || c == '{' || c == ']' || c == '}') {
			if ((r = bracket(p, t, i, stack, &depth)) != 0) {
				return r;
			}
			continue;
		}
		if (depth > 0 && (c == '/' || c == '?')) {
			char open = t[stack[depth - 1]];

			return mg__chain_fail(p, (int)stack[depth - 1] + 1,
					      "unbalanced '%c' (expected '%c' "
					      "before the '%c' at column %zu)",
					      open, open == '[' ? ']' : '}', c,
					      i + 1);
		}
		if (depth > 0) {
			continue;
		}
		if (c == '?') {
			h->has_q = true;
			h->q = i;
		} else if (c == '/' || c == ',') {
			break;
		}
	}
	if (depth > 0) {
		char open = t[stack[depth - 1]];

		return mg__chain_fail(p, (int)stack[depth - 1] + 1, "unbalanced "
				      "'%c' (expected '%c')", open,
				      open == '[' ? ']' : '}');
	}
	h->end = i;
	if (i == n || t[i] == ',') {
		while (h->end > h->start && t[h->end - 1] == ' ') {
			h->end--;
		}
	}
	*pos = i;
	return 0;
}

/*
 * "?docker_path=/usr/bin/docker": the '/' at i, right after an option's
 * '=', ends the hop, though it was surely meant as the value's first byte.
 * Say so, with the value as it must be written.
 */
static int slash_in_value(struct mg__chain_parser *p, const char *t, size_t n, size_t i)
{
	size_t key = i, end = i;
	char *fixed, *shown;

	while (key > 0 && t[key - 1] != '?' && t[key - 1] != '&') {
		key--;
	}
	while (end < n && t[end] != '&' && t[end] != ',') {
		end++;
	}
	fixed = talloc_strndup(p->tmp, t + key, i - key);
	for (size_t k = i; fixed != NULL && k < end; k++) {
		fixed = t[k] == '/' ? talloc_strdup_append(fixed, "%2F")
			: talloc_strndup_append(fixed, t + k, 1);
	}
	shown = fixed != NULL ? mg__chain_quote(p->tmp, fixed, strlen(fixed)) : NULL;
	if (shown == NULL) {
		return -ENOMEM;
	}
	return mg__chain_fail(p, (int)i + 1, "'/' in an option value must be written "
			      "%%2F ('/' separates hops): %s", shown);
}

/* Split the text into chains and hops, checking brackets. */
static int scan(struct mg__chain_parser *p, TALLOC_CTX *mem, const char *t,
		size_t n, struct scan *sc)
{
	size_t i = 0, comma = 0;
	int r;

	memset(sc, 0, sizeof(*sc));
	for (;;) {
		struct chain_range *cr;

		while (i < n && t[i] == ' ') {
			i++;
		}
		sc->chains = mg__chain_grow(mem, sc->chains, sizeof(*sc->chains),
				  sc->n_chains);
		if (sc->chains == NULL) {
			return -ENOMEM;
		}
		cr = &sc->chains[sc->n_chains++];
		cr->start = i;
		cr->first_hop = sc->n_hops;
		cr->n_hops = 0;
		for (;;) {
			struct hop_range h;

			if ((r = scan_hop(p, t, n, &i, &h)) != 0) {
				return r;
			}
			if (h.end == h.start) {
				return empty_hop(p, t, n, i, h.start,
						 cr->n_hops > 0,
						 sc->n_chains == 1, comma);
			}
			if (h.has_q && i < n && t[i] == '/' && t[i - 1] == '=') {
				return slash_in_value(p, t, n, i);
			}
			sc->hops = mg__chain_grow(mem, sc->hops, sizeof(*sc->hops),
					sc->n_hops);
			if (sc->hops == NULL) {
				return -ENOMEM;
			}
			sc->hops[sc->n_hops++] = h;
			cr->n_hops++;
			if (i == n || t[i] != '/') {
				break;
			}
			i++;
		}
		if (i == n) {
			return 0;
		}
		if (p->one_chain) {
			return mg__chain_fail(p, (int)i + 1, "',' separates "
					      "chains, but one chain is expected "
					      "here");
		}
		comma = i++;
	}
}

/*
 * Every chain made of one segment per hop position, first position
 * varying slowest (written order), appended to 'out'. *total counts the
 * chains made so far, against the cap.
 */
static int product(struct mg__chain_parser *p, struct mg_chain_list *out,
		   struct mg_chain_list *const *segs, size_t n_pos, int col,
		   size_t *total)
{
	TALLOC_CTX *tmp_ctx;
	const struct mg_hop **ptrs;
	size_t *idx, count = 1, max_hops = 0;
	int r = 0;

	for (size_t i = 0; i < n_pos; i++) {
		size_t longest = 0;

		if (count > MG_CHAIN_MAX_CHAINS / segs[i]->n_chains) {
			count = MG_CHAIN_MAX_CHAINS + 1;
			break;
		}
		count *= segs[i]->n_chains;
		for (size_t j = 0; j < segs[i]->n_chains; j++) {
			if (segs[i]->chains[j].n_hops > longest) {
				longest = segs[i]->chains[j].n_hops;
			}
		}
		max_hops += longest;
	}
	if (count > MG_CHAIN_MAX_CHAINS - *total) {
		return mg__chain_fail(p, col, "expands to more than %d chains",
				      MG_CHAIN_MAX_CHAINS);
	}
	tmp_ctx = talloc_new(NULL);
	idx = tmp_ctx != NULL ? talloc_zero_array(tmp_ctx, size_t, n_pos) : NULL;
	ptrs = idx != NULL ? talloc_array(tmp_ctx, const struct mg_hop *,
					  max_hops) : NULL;
	if (ptrs == NULL) {
		r = -ENOMEM;
		goto done;
	}
	for (;;) {
		struct mg_chain *slot;
		size_t k = 0, pos;

		for (size_t i = 0; i < n_pos; i++) {
			const struct mg_chain *seg = &segs[i]->chains[idx[i]];

			for (size_t j = 0; j < seg->n_hops; j++) {
				ptrs[k++] = &seg->hops[j];
			}
		}
		if (k > MG_CHAIN_MAX_HOPS) {
			r = mg__chain_fail(p, col, "chain of %zu hops (at most "
					   "%d)", k, MG_CHAIN_MAX_HOPS);
			goto done;
		}
		if ((slot = mg__chain_list_push(out)) == NULL
		    || (r = mg__chain_pack(out->chains, ptrs, k, slot)) != 0) {
			r = r != 0 ? r : -ENOMEM;
			goto done;
		}
		(*total)++;
		for (pos = n_pos; pos > 0; pos--) {
			if (++idx[pos - 1] < segs[pos - 1]->n_chains) {
				break;
			}
			idx[pos - 1] = 0;
		}
		if (pos == 0) {
			break;
		}
	}
done:
	talloc_free(tmp_ctx);
	return r;
}

/* The variants of one hop: host lists expanded, each variant parsed. */
static int hop_segments(struct mg__chain_parser *p, TALLOC_CTX *mem,
			const char *t, const int *cols,
			const struct hop_range *h, struct mg_chain_list **_segs)
{
	TALLOC_CTX *tmp_ctx;
	struct mg_chain_list *segs;
	struct mg__span head, tail, *vars;
	size_t head_end = h->has_q ? h->q : h->end, n_vars;
	int r;

	head.s = t + h->start;
	head.col = cols + h->start;
	head.n = head_end - h->start;
	head.end_col = (int)head_end + 1;
	if (h->has_q) {
		tail.s = t + h->q + 1;
		tail.col = cols + h->q + 1;
		tail.n = h->end - h->q - 1;
		tail.end_col = (int)h->end + 1;
	}
	tmp_ctx = talloc_new(NULL);
	segs = talloc_zero(mem, struct mg_chain_list);
	if (tmp_ctx == NULL || segs == NULL) {
		r = -ENOMEM;
		goto done;
	}
	if ((r = mg__chain_expand(p, tmp_ctx, &head, &vars, &n_vars)) != 0) {
		goto done;
	}
	if (p->one_chain && (n_vars != 1 || vars[0].n != head.n
			     || memcmp(vars[0].s, head.s, head.n) != 0)) {
		/* Even a list of one: the text must read as written. */
		const char *q = mg__chain_quote(p->tmp, head.s, head.n);

		r = mg__chain_fail(p, head.col[0], "host list in '%s', but one "
				   "chain is expected here", q != NULL ? q : "?");
		goto done;
	}
	for (size_t i = 0; i < n_vars; i++) {
		if (vars[i].n == 0 && head.n > 0) {
			r = mg__chain_fail(p, head.col[0], "host list gives an "
					   "empty hop");
			goto done;
		}
		r = mg__chain_hop(p, segs, &vars[i], h->has_q ? &tail : NULL);
		if (r != 0) {
			goto done;
		}
		if (segs->n_chains > MG_CHAIN_MAX_CHAINS) {
			r = mg__chain_fail(p, (int)h->start + 1, "expands to "
					   "more than %d chains",
					   MG_CHAIN_MAX_CHAINS);
			goto done;
		}
	}
	*_segs = segs;
done:
	if (r != 0) {
		talloc_free(segs);
	}
	talloc_free(tmp_ctx);
	return r;
}

static int parse_text(struct mg__chain_parser *p, TALLOC_CTX *mem_ctx,
		      const char *text, size_t len,
		      struct mg_chain_list **_list)
{
	TALLOC_CTX *tmp_ctx;
	struct mg_chain_list *list;
	struct scan sc;
	size_t total = 0;
	char *t;
	int *cols;
	int r;

	tmp_ctx = talloc_new(NULL);
	if (tmp_ctx == NULL) {
		return -ENOMEM;
	}
	t = talloc_memdup(tmp_ctx, text, len + 1);
	cols = talloc_array(tmp_ctx, int, len + 1);
	list = talloc_zero(tmp_ctx, struct mg_chain_list);
	if (t == NULL || cols == NULL || list == NULL) {
		r = -ENOMEM;
		goto done;
	}
	t[len] = '\0';
	for (size_t i = 0; i <= len; i++) {
		cols[i] = (int)i + 1;
	}
	path_safe(t, len);
	if ((r = scan(p, tmp_ctx, t, len, &sc)) != 0) {
		goto done;
	}
	for (size_t c = 0; c < sc.n_chains; c++) {
		const struct chain_range *cr = &sc.chains[c];
		struct mg_chain_list **segs;
		size_t count = 1;

		segs = talloc_zero_array(tmp_ctx, struct mg_chain_list *,
					 cr->n_hops);
		if (segs == NULL) {
			r = -ENOMEM;
			goto done;
		}
		for (size_t h = 0; h < cr->n_hops; h++) {
			const struct hop_range *prev = h > 0 ? &sc.hops[cr->first_hop + h - 1] : NULL;

			r = hop_segments(p, segs, t, cols,
					 &sc.hops[cr->first_hop + h], &segs[h]);
			if (r == MG_ERR_CHAIN && prev != NULL && prev->has_q && p->errmsg != NULL
			    && !p->bad_value) {
				/* "?identity_file=~/.ssh/id": a value cut at a '/'
				 * (a hop that parsed up to a value's form was not). */
				char *m = talloc_asprintf(p->tmp, "%s (if the '/' at column %zu "
							  "is part of an option value, write it "
							  "%%2F)", p->errmsg, prev->end + 1);
				if (m != NULL) {
					p->errmsg = m;
				}
			}
			if (r != 0) {
				goto done;
			}
			/* Refuse at the hop that passes the cap, before the next
			 * hops are expanded: 128 hops of 99999 names each would
			 * take gigabytes to parse in full. */
			if (count > 0 && segs[h]->n_chains > (MG_CHAIN_MAX_CHAINS - total) / count) {
				const struct hop_range *hr = &sc.hops[cr->first_hop + h];

				r = mg__chain_fail(p, (int)hr->start + 1, "expands to more than %d chains",
						   MG_CHAIN_MAX_CHAINS);
				goto done;
			}
			count *= segs[h]->n_chains;
		}
		r = product(p, list, segs, cr->n_hops, (int)cr->start + 1,
			    &total);
		talloc_free(segs);
		if (r != 0) {
			goto done;
		}
	}
	*_list = talloc_steal(mem_ctx, list);
done:
	talloc_free(tmp_ctx);
	return r;
}

static int parse(TALLOC_CTX *mem_ctx, const char *text, bool one_chain,
		 struct mg_chain_list **_list, char **_errmsg)
{
	struct mg__chain_parser p;
	struct mg_chain_list *list = NULL;
	int r;

	memset(&p, 0, sizeof(p));
	p.one_chain = one_chain;
	p.parse_text = parse_text;
	p.tmp = talloc_new(NULL);
	if (p.tmp == NULL) {
		return -ENOMEM;
	}
	if (text == NULL) {
		r = mg__chain_fail(&p, 0, "no target given");
	} else {
		r = parse_text(&p, p.tmp, text, strlen(text), &list);
	}
	for (size_t i = 0; r == 0 && i < list->n_chains; i++) {
		r = mg__chain_defaults(&p, list->chains, &list->chains[i]);
	}
	if (r == 0) {
		*_list = talloc_steal(mem_ctx, list);
	} else if (_errmsg != NULL) {
		*_errmsg = talloc_strdup(mem_ctx, p.errmsg != NULL ? p.errmsg
					 : "out of memory");
	}
	talloc_free(p.tmp);
	return r;
}

int mg_chain_parse(TALLOC_CTX *mem_ctx, const char *text,
		   struct mg_chain_list **_list, char **_errmsg)
{
	return parse(mem_ctx, text, false, _list, _errmsg);
}

int mg__chain_parse_one(TALLOC_CTX *mem_ctx, const char *text,
			struct mg_chain_list **_list, char **_errmsg)
{
	return parse(mem_ctx, text, true, _list, _errmsg);
}

char *mg_chain_prefix(TALLOC_CTX *mem_ctx, const struct mg_chain *chain,
		      size_t n)
{
	char *s = talloc_strdup(mem_ctx, "");

	if (n > chain->n_hops) {
		n = chain->n_hops;
	}
	for (size_t i = 0; i < n && s != NULL; i++) {
		s = talloc_asprintf_append_buffer(s, "%s%s", i > 0 ? "/" : "",
						  chain->hops[i].text);
	}
	return s;
}
