/*
 * Host lists inside a hop ("web[01-20,33]", "web{a,b}", several of them
 * giving their cartesian product in written order) and the spelling
 * suggestions of error messages.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "chain-private.h"

/* Numbers in a range have at most this many digits (no overflow). */
#define MAX_DIGITS 9

/* A list of expanded variants. Every variant is a child of 'v'. */
struct vlist {
	struct mg__span *v;
	size_t n;
};

struct xctx {
	struct mg__chain_parser *p;
	const struct mg__span *in;
	TALLOC_CTX *mem;
};

static int expand_seq(struct xctx *x, size_t *pos, bool in_brace,
		      struct vlist *out);

/* A variant of 'n' bytes: the columns and the text in one allocation. */
static struct mg__span *span_alloc(TALLOC_CTX *mem, struct mg__span *sp,
				   size_t n)
{
	char *block;

	block = talloc_size(mem, n * sizeof(int) + n + 1);
	if (block == NULL) {
		return NULL;
	}
	sp->col = (const int *)block;
	sp->s = block + n * sizeof(int);
	sp->n = n;
	block[n * sizeof(int) + n] = '\0';
	return sp;
}

static int vlist_new(TALLOC_CTX *mem, size_t n, struct vlist *out)
{
	out->v = talloc_zero_array(mem, struct mg__span, n > 0 ? n : 1);
	out->n = n;
	return out->v != NULL ? 0 : -ENOMEM;
}

/* A list of one variant: 'n' bytes of the input at 'pos'. */
static int vlist_literal(struct xctx *x, size_t pos, size_t n,
			 struct vlist *out)
{
	int r;

	if ((r = vlist_new(x->mem, 1, out)) != 0) {
		return r;
	}
	if (span_alloc(out->v, &out->v[0], n) == NULL) {
		return -ENOMEM;
	}
	memcpy((char *)out->v[0].s, x->in->s + pos, n);
	memcpy((int *)out->v[0].col, x->in->col + pos, n * sizeof(int));
	return 0;
}

/* *a = every variant of *a followed by every variant of *b (a-major);
 * frees both inputs. 'col' names the list for the size error. */
static int vlist_product(struct xctx *x, struct vlist *a, struct vlist *b,
			 int col)
{
	struct vlist out;
	size_t k = 0;
	int r;

	if (b->n != 0 && a->n > MG_CHAIN_MAX_CHAINS / b->n) {
		return mg__chain_fail(x->p, col, "host list expands to more "
				      "than %d names", MG_CHAIN_MAX_CHAINS);
	}
	if ((r = vlist_new(x->mem, a->n * b->n, &out)) != 0) {
		return r;
	}
	for (size_t i = 0; i < a->n; i++) {
		for (size_t j = 0; j < b->n; j++) {
			struct mg__span *va = &a->v[i], *vb = &b->v[j];
			struct mg__span *o = &out.v[k++];

			if (span_alloc(out.v, o, va->n + vb->n) == NULL) {
				return -ENOMEM;
			}
			memcpy((char *)o->s, va->s, va->n);
			memcpy((char *)o->s + va->n, vb->s, vb->n);
			memcpy((int *)o->col, va->col, va->n * sizeof(int));
			memcpy((int *)o->col + va->n, vb->col,
			       vb->n * sizeof(int));
		}
	}
	talloc_free(a->v);
	talloc_free(b->v);
	*a = out;
	return 0;
}

/* A decimal number of at most MAX_DIGITS digits at [*pos, end). */
static int range_number(struct xctx *x, size_t *pos, size_t end,
			bool after_dash, long *_v, size_t *_len)
{
	const struct mg__span *in = x->in;
	size_t i = *pos;
	long v = 0;

	while (i < end && isdigit((unsigned char)in->s[i])) {
		if (i - *pos == MAX_DIGITS) {
			return mg__chain_fail(x->p, in->col[*pos],
					      "number too long in '[...]' "
					      "(at most %d digits)", MAX_DIGITS);
		}
		v = v * 10 + (in->s[i] - '0');
		i++;
	}
	if (i == *pos && after_dash) {
		return mg__chain_fail(x->p, i < end ? in->col[i] : in->col[end],
				      "expected a number after '-' in '[...]'");
	}
	if (i == *pos && (i == end || in->s[i] == ',')) {
		return mg__chain_fail(x->p, in->col[i], "empty item in '[...]' "
				      "(expected a number or a range such as "
				      "01-20)");
	}
	if (i == *pos) {
		char *q = mg__chain_quote(x->p->tmp, in->s + i, 1);

		return mg__chain_fail(x->p, in->col[i], "expected a number or "
				      "a range such as 01-20 in '[...]', got "
				      "'%s'", q != NULL ? q : "");
	}
	*_v = v;
	*_len = i - *pos;
	*pos = i;
	return 0;
}

struct range_item {
	long lo;
	long hi;
	int width; /* zero padding, from a leading zero */
	int col;
};

/* One item of "[...]" at *pos: N or N-M; leaves *pos on the ',' or ']'. */
static int range_item(struct xctx *x, size_t *pos, size_t close,
		      struct range_item *it)
{
	const struct mg__span *in = x->in;
	size_t start = *pos, end = 0, lo_len = 0, hi_len = 0;
	int r, lo_width, hi_width;

	if ((r = range_number(x, pos, close, false, &it->lo, &lo_len)) != 0) {
		return r;
	}
	it->hi = it->lo;
	if (*pos < close && in->s[*pos] == '-') {
		(*pos)++;
		end = *pos;
		r = range_number(x, pos, close, true, &it->hi, &hi_len);
		if (r != 0) {
			return r;
		}
	}
	if (it->hi < it->lo) {
		return mg__chain_fail(x->p, in->col[start], "bad range "
				      "%ld-%ld (the end is before the start)",
				      it->lo, it->hi);
	}
	/* A leading zero on either number sets the width of the whole range
	 * ("1-003" is 001 to 003); two different widths are refused, as
	 * ClusterShell's nodeset does. */
	lo_width = lo_len > 1 && in->s[start] == '0' ? (int)lo_len : 0;
	hi_width = hi_len > 1 && in->s[end] == '0' ? (int)hi_len : 0;
	if (lo_width != 0 && hi_width != 0 && lo_width != hi_width) {
		return mg__chain_fail(x->p, in->col[start], "zero padding "
				      "differs in '%.*s' (%d and %d digits): "
				      "write both ends with the same width",
				      (int)(*pos - start), in->s + start,
				      lo_width, hi_width);
	}
	it->width = lo_width != 0 ? lo_width : hi_width;
	it->col = in->col[start];
	if (*pos < close && in->s[*pos] != ',') {
		char *q = mg__chain_quote(x->p->tmp, in->s + *pos, 1);

		return mg__chain_fail(x->p, in->col[*pos], "expected ',' or "
				      "']' in '[...]', got '%s'",
				      q != NULL ? q : "");
	}
	return 0;
}

/* "[01-20,33]" at *pos (the '['); 'close' is the index of its ']'. The
 * size is known before anything is made, so "[1-999999999]" fails fast. */
static int expand_range(struct xctx *x, size_t *pos, size_t close,
			struct vlist *out)
{
	const struct mg__span *in = x->in;
	struct range_item *items;
	size_t n_items = 1, total = 0, k = 0, i = *pos + 1;
	int r = 0;

	for (size_t j = i; j < close; j++) {
		n_items += in->s[j] == ',';
	}
	items = talloc_array(x->mem, struct range_item, n_items);
	if (items == NULL) {
		return -ENOMEM;
	}
	for (size_t j = 0; j < n_items; j++, i++) {
		if ((r = range_item(x, &i, close, &items[j])) != 0) {
			goto done;
		}
		total += (size_t)(items[j].hi - items[j].lo + 1);
		if (total > MG_CHAIN_MAX_CHAINS) {
			r = mg__chain_fail(x->p, in->col[*pos], "host list "
					   "expands to more than %d names",
					   MG_CHAIN_MAX_CHAINS);
			goto done;
		}
	}
	if ((r = vlist_new(x->mem, total, out)) != 0) {
		goto done;
	}
	for (size_t j = 0; j < n_items; j++) {
		for (long v = items[j].lo; v <= items[j].hi; v++) {
			struct mg__span *o = &out->v[k++];
			char buf[32];
			int len;

			len = snprintf(buf, sizeof(buf), "%0*ld", items[j].width, v);
			if (span_alloc(out->v, o, (size_t)len) == NULL) {
				r = -ENOMEM;
				goto done;
			}
			memcpy((char *)o->s, buf, (size_t)len);
			for (int c = 0; c < len; c++) {
				((int *)o->col)[c] = items[j].col;
			}
		}
	}
	*pos = close + 1;
done:
	talloc_free(items);
	return r;
}

/* "{a,b,...}" at *pos (the '{'): alternatives are patterns themselves. */
static int expand_brace(struct xctx *x, size_t *pos, struct vlist *out)
{
	const struct mg__span *in = x->in;
	size_t open = *pos;
	bool comma = false;
	int r;

	if ((r = vlist_new(x->mem, 0, out)) != 0) {
		return r;
	}
	(*pos)++;
	for (;;) {
		struct vlist alt;
		struct mg__span *v;

		if ((r = expand_seq(x, pos, true, &alt)) != 0) {
			return r;
		}
		if (out->n + alt.n > MG_CHAIN_MAX_CHAINS) {
			return mg__chain_fail(x->p, in->col[open], "host list "
					      "expands to more than %d names",
					      MG_CHAIN_MAX_CHAINS);
		}
		v = talloc_realloc(x->mem, out->v, struct mg__span,
				   out->n + alt.n);
		if (v == NULL) {
			return -ENOMEM;
		}
		out->v = v;
		for (size_t i = 0; i < alt.n; i++) {
			/* Move the text block under the new list. */
			talloc_steal(out->v, alt.v[i].col);
			out->v[out->n++] = alt.v[i];
		}
		talloc_free(alt.v);
		if (*pos == in->n) {
			return mg__chain_fail(x->p, in->col[open], "unbalanced "
					      "'{' (expected '}')");
		}
		if (in->s[*pos] == '}') {
			(*pos)++;
			break;
		}
		comma = true;
		(*pos)++;
	}
	if (!comma && out->n == 1 && out->v[0].n == 0) {
		return mg__chain_fail(x->p, in->col[open], "empty '{}' "
				      "(expected alternatives such as {a,b})");
	}
	return 0;
}

/* The index of the ']' closing the '[' at 'open', checking that no other
 * bracket comes first. */
static int find_close(struct xctx *x, size_t open, size_t *_close)
{
	const struct mg__span *in = x->in;

	for (size_t i = open + 1; i < in->n; i++) {
		char c = in->s[i];

		if (c == ']') {
			*_close = i;
			return 0;
		}
		if (c == '[' || c == '{' || c == '}') {
			return mg__chain_fail(x->p, in->col[i], "unexpected "
					      "'%c' inside '[...]'", c);
		}
	}
	return mg__chain_fail(x->p, in->col[open], "unbalanced '[' "
			      "(expected ']')");
}

/* A pattern up to the end, or (in braces) up to ',' or '}'. */
static int expand_seq(struct xctx *x, size_t *pos, bool in_brace,
		      struct vlist *out)
{
	const struct mg__span *in = x->in;
	struct vlist cur, part;
	int r;

	/* Defined on every return: failures come back as whatever non-zero
	 * mg__chain_fail() returns, which the compiler cannot see. */
	*out = (struct vlist){ NULL, 0 };
	if ((r = vlist_literal(x, *pos, 0, &cur)) != 0) {
		return r;
	}
	while (*pos < in->n) {
		char c = in->s[*pos];
		int col = in->col[*pos];

		if (in_brace && (c == ',' || c == '}')) {
			break;
		}
		if (c == '{') {
			r = expand_brace(x, pos, &part);
		} else if (c == '[') {
			size_t close = 0;

			if ((r = find_close(x, *pos, &close)) != 0) {
				return r;
			}
			if (memchr(in->s + *pos, ':', close - *pos) != NULL) {
				/* "[2001:db8::1]": an address, not a list. */
				r = vlist_literal(x, *pos, close + 1 - *pos,
						  &part);
				*pos = close + 1;
			} else {
				r = expand_range(x, pos, close, &part);
			}
		} else if (c == ']' || c == '}') {
			return mg__chain_fail(x->p, col, "unexpected '%c'", c);
		} else {
			size_t start = *pos;

			while (*pos < in->n
			       && memchr("[]{}", in->s[*pos], 4) == NULL
			       && !(in_brace && in->s[*pos] == ',')) {
				(*pos)++;
			}
			r = vlist_literal(x, start, *pos - start, &part);
		}
		if (r != 0 || (r = vlist_product(x, &cur, &part, col)) != 0) {
			return r;
		}
	}
	*out = cur;
	return 0;
}

int mg__chain_expand(struct mg__chain_parser *p, TALLOC_CTX *mem_ctx,
		     const struct mg__span *in, struct mg__span **_out,
		     size_t *_n)
{
	TALLOC_CTX *tmp_ctx;
	struct xctx x;
	struct vlist out;
	size_t pos = 0;
	int r;

	if (memchr(in->s, '[', in->n) == NULL
	    && memchr(in->s, '{', in->n) == NULL
	    && memchr(in->s, ']', in->n) == NULL
	    && memchr(in->s, '}', in->n) == NULL) {
		/* The common case: no list, the span itself. */
		*_out = talloc_memdup(mem_ctx, in, sizeof(*in));
		*_n = 1;
		return *_out != NULL ? 0 : -ENOMEM;
	}
	tmp_ctx = talloc_new(NULL);
	if (tmp_ctx == NULL) {
		return -ENOMEM;
	}
	x.p = p;
	x.in = in;
	x.mem = tmp_ctx;
	if ((r = expand_seq(&x, &pos, false, &out)) != 0) {
		goto done;
	}
	for (size_t i = 0; i < out.n; i++) {
		out.v[i].end_col = in->end_col;
	}
	*_out = talloc_steal(mem_ctx, out.v);
	*_n = out.n;
done:
	talloc_free(tmp_ctx);
	return r;
}

/* Optimal string alignment distance (Damerau-Levenshtein without
 * substring re-edits), case-insensitive; words are short. */
static int osa(const char *a, size_t na, const char *b, size_t nb)
{
	int d[33][33];

	if (na > 32 || nb > 32) {
		return 99;
	}
	for (size_t i = 0; i <= na; i++) {
		d[i][0] = (int)i;
	}
	for (size_t j = 0; j <= nb; j++) {
		d[0][j] = (int)j;
	}
	for (size_t i = 1; i <= na; i++) {
		for (size_t j = 1; j <= nb; j++) {
			int cost = tolower((unsigned char)a[i - 1])
				   != tolower((unsigned char)b[j - 1]);
			int v = d[i - 1][j] + 1;

			if (d[i][j - 1] + 1 < v) {
				v = d[i][j - 1] + 1;
			}
			if (d[i - 1][j - 1] + cost < v) {
				v = d[i - 1][j - 1] + cost;
			}
			if (i > 1 && j > 1
			    && tolower((unsigned char)a[i - 1])
			       == tolower((unsigned char)b[j - 2])
			    && tolower((unsigned char)a[i - 2])
			       == tolower((unsigned char)b[j - 1])
			    && d[i - 2][j - 2] + 1 < v) {
				v = d[i - 2][j - 2] + 1;
			}
			d[i][j] = v;
		}
	}
	return d[na][nb];
}

void mg__suggest_init(struct mg__suggest *sg, const char *word, size_t len)
{
	sg->word = word;
	sg->len = len;
	sg->best = NULL;
	sg->score = 100;
}

/*
 * Close enough: one edit for words up to 5 bytes, two for longer ones
 * ("lcoal" -> "local"); or, for words of 3 bytes or more, one edit from a
 * prefix of the candidate ("usr" -> "username"), ranked after those.
 */
void mg__suggest_try(struct mg__suggest *sg, const char *candidate)
{
	size_t nc = strlen(candidate);
	int limit = sg->len >= 6 ? 2 : 1;
	int d, score = 100;

	d = osa(sg->word, sg->len, candidate, nc);
	if (d <= limit && (size_t)d < sg->len) {
		score = d;
	} else if (sg->len >= 3 && nc > sg->len) {
		for (size_t k = sg->len - 1; k <= sg->len + 1 && k <= nc; k++) {
			d = osa(sg->word, sg->len, candidate, k);
			if (d <= 1 && 3 + d < score) {
				score = 3 + d;
			}
		}
	}
	if (score < sg->score) {
		sg->score = score;
		sg->best = candidate;
	}
}
