/*
 * Target names: display names for chains (mg_report_names) and
 * ClusterShell-style folding of name sets (mg_report_fold).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "report-private.h"

/* Digit runs longer than this are not numbers (no overflow). */
#define MAX_DIGITS 18

/* A name split around the last run of digits. */
struct elt {
	const char *s;
	size_t len;     /* strlen(s) */
	size_t pre;     /* bytes before the number; len when not numeric */
	size_t digits;  /* 0 when not numeric */
	unsigned long long v;
	int pad;        /* width written with leading zeros, 0 when none */
	int width;      /* the width it folds with: pad, or that of its peers */
};

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static void parse(struct elt *e, const char *s)
{
	size_t end, start;

	e->s = s;
	e->len = strlen(s);
	e->pre = e->len;
	e->digits = 0;
	e->v = 0;
	e->pad = 0;
	e->width = 0;
	/* A name that already looks folded is kept as it is. */
	if (strpbrk(s, "[],") != NULL) {
		return;
	}
	for (end = e->len; end > 0 && !is_digit(s[end - 1]); end--) {
	}
	for (start = end; start > 0 && is_digit(s[start - 1]); start--) {
	}
	if (end == start || end - start > MAX_DIGITS) {
		return;
	}
	e->pre = start;
	e->digits = end - start;
	for (size_t i = start; i < end; i++) {
		e->v = e->v * 10 + (unsigned long long)(s[i] - '0');
	}
	if (e->digits > 1 && s[start] == '0') {
		e->pad = (int)e->digits;
	}
	e->width = e->pad;
}

static int cmp_bytes(const char *a, size_t an, const char *b, size_t bn)
{
	int c = memcmp(a, b, an < bn ? an : bn);

	if (c != 0) {
		return c;
	}
	return an < bn ? -1 : (an > bn ? 1 : 0);
}

/* Text before and after the number, then numeric after not. */
static int cmp_pattern(const struct elt *x, const struct elt *y)
{
	size_t xs = x->pre + x->digits, ys = y->pre + y->digits;
	int c = cmp_bytes(x->s, x->pre, y->s, y->pre);

	if (c == 0) {
		c = cmp_bytes(x->s + xs, x->len - xs, y->s + ys, y->len - ys);
	}
	if (c == 0) {
		c = (x->digits > 0) - (y->digits > 0);
	}
	return c;
}

static int cmp_elt(const void *a, const void *b)
{
	const struct elt *x = a, *y = b;
	int c = cmp_pattern(x, y);

	if (c != 0) {
		return c;
	}
	if (x->width != y->width) {
		return x->width < y->width ? -1 : 1;
	}
	return x->v < y->v ? -1 : (x->v > y->v ? 1 : 0);
}

struct run {
	unsigned long long lo, hi;
	int width;
};

static int cmp_run(const void *a, const void *b)
{
	const struct run *x = a, *y = b;

	if (x->lo != y->lo) {
		return x->lo < y->lo ? -1 : 1;
	}
	return x->width - y->width;
}

/* Append the numbers e[0..n) (one pattern) as "pre[1-3,07]suf". */
static void put_group(TALLOC_CTX *mem_ctx, struct mg__rbuf *b,
		      struct elt *e, size_t n, struct run *runs)
{
	bool padw[MAX_DIGITS + 1] = { false };
	size_t nr = 0, count = 0, suf = e[0].pre + e[0].digits;

	/* "10" prints the same natural or 2 wide: let it join "09". */
	for (size_t i = 0; i < n; i++) {
		padw[e[i].pad] = true;
	}
	for (size_t i = 0; i < n; i++) {
		if (e[i].pad == 0 && padw[e[i].digits]) {
			e[i].width = (int)e[i].digits;
		}
	}
	qsort(e, n, sizeof(*e), cmp_elt);
	for (size_t i = 0; i < n; i++) {
		if (nr > 0 && runs[nr - 1].width == e[i].width) {
			if (runs[nr - 1].hi == e[i].v) {
				continue; /* the same name twice */
			}
			if (runs[nr - 1].hi + 1 == e[i].v) {
				runs[nr - 1].hi = e[i].v;
				count++;
				continue;
			}
		}
		runs[nr].lo = runs[nr].hi = e[i].v;
		runs[nr].width = e[i].width;
		nr++;
		count++;
	}
	qsort(runs, nr, sizeof(*runs), cmp_run);
	mg__rbuf_put(mem_ctx, b, e[0].s, e[0].pre);
	if (count > 1) {
		mg__rbuf_put(mem_ctx, b, "[", 1);
	}
	for (size_t r = 0; r < nr; r++) {
		mg__rbuf_printf(mem_ctx, b, "%s%0*llu", r > 0 ? "," : "",
				runs[r].width, runs[r].lo);
		if (runs[r].hi != runs[r].lo) {
			mg__rbuf_printf(mem_ctx, b, "-%0*llu", runs[r].width,
					runs[r].hi);
		}
	}
	if (count > 1) {
		mg__rbuf_put(mem_ctx, b, "]", 1);
	}
	mg__rbuf_put(mem_ctx, b, e[0].s + suf, e[0].len - suf);
}

char *mg_report_fold(TALLOC_CTX *mem_ctx, const char *const *names, size_t n)
{
	TALLOC_CTX *tmp_ctx = talloc_new(NULL);
	struct mg__rbuf b = { 0 };
	struct elt *e;
	struct run *runs;
	char *out = NULL;

	if (tmp_ctx == NULL) {
		return NULL;
	}
	e = talloc_array(tmp_ctx, struct elt, n + 1);
	runs = talloc_array(tmp_ctx, struct run, n + 1);
	if (e == NULL || runs == NULL) {
		goto done;
	}
	for (size_t i = 0; i < n; i++) {
		parse(&e[i], names[i]);
	}
	qsort(e, n, sizeof(*e), cmp_elt);
	for (size_t i = 0, j; i < n; i = j) {
		for (j = i + 1; j < n && cmp_pattern(&e[i], &e[j]) == 0; j++) {
		}
		mg__rbuf_put(tmp_ctx, &b, ",", b.len > 0 ? 1 : 0);
		if (e[i].digits == 0) {
			/* Not numeric: j - i copies of one name. */
			mg__rbuf_put(tmp_ctx, &b, e[i].s, e[i].len);
		} else {
			put_group(tmp_ctx, &b, &e[i], j - i, runs);
		}
	}
	if (!b.oom) {
		out = talloc_strndup(mem_ctx, b.p != NULL ? b.p : "", b.len);
	}
done:
	talloc_free(tmp_ctx);
	return out;
}

/* A set of strings (not copied) for the uniqueness checks. */
struct nset {
	const char **slot;
	size_t mask;
};

static uint64_t hash_str(const char *s)
{
	uint64_t h = 14695981039346656037ULL;

	for (; *s != '\0'; s++) {
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	}
	return h;
}

static bool nset_init(TALLOC_CTX *mem_ctx, struct nset *set, size_t n)
{
	size_t size = 16;

	/* Never more than n strings: at most half full. */
	while (size < 2 * n + 2) {
		size *= 2;
	}
	set->slot = talloc_zero_array(mem_ctx, const char *, size);
	set->mask = size - 1;
	return set->slot != NULL;
}

static bool nset_has(const struct nset *set, const char *s)
{
	for (size_t h = hash_str(s) & set->mask; set->slot[h] != NULL;
	     h = (h + 1) & set->mask) {
		if (strcmp(set->slot[h], s) == 0) {
			return true;
		}
	}
	return false;
}

static void nset_add(struct nset *set, const char *s)
{
	size_t h = hash_str(s) & set->mask;

	for (; set->slot[h] != NULL; h = (h + 1) & set->mask) {
		if (strcmp(set->slot[h], s) == 0) {
			return;
		}
	}
	set->slot[h] = s;
}

/* Bytes that clubak(1) reads as node-set syntax in "NAME: line" ('?'
 * and '*' globs, '&', '!', '^' and ',' operators): a name holding one
 * loses its lines there (a glob that matches no node), so the whole chain
 * has them percent-encoded instead. */
static const char node_set_syntax[] = "?*&!^,";

/* No ':' (the "NAME: " split), '/' (a file name), blanks, controls or
 * node-set syntax. */
static bool good_name(const char *s)
{
	if (s == NULL || s[0] == '\0') {
		return false;
	}
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == ':' || c == '/' || c <= ' ' || c == 0x7f
		    || strchr(node_set_syntax, c) != NULL) {
			return false;
		}
	}
	return true;
}

/* The whole chain, path-safe: "ssh=b1+ssh=web01+sudo", and
 * "local%3Fconnect_timeout=5" for "local?connect_timeout=5". */
static char *path_safe(TALLOC_CTX *mem_ctx, const char *text)
{
	struct mg__rbuf b = { 0 };
	const char *t = text != NULL && text[0] != '\0' ? text : "target";
	char *s;

	for (const char *c = t; *c != '\0'; c++) {
		if (*c == ':') {
			mg__rbuf_put(mem_ctx, &b, "=", 1);
		} else if (*c == '/') {
			mg__rbuf_put(mem_ctx, &b, "+", 1);
		} else if ((unsigned char)*c <= ' ' || *c == 0x7f) {
			mg__rbuf_put(mem_ctx, &b, "_", 1);
		} else if (strchr(node_set_syntax, *c) != NULL) {
			mg__rbuf_printf(mem_ctx, &b, "%%%02X", (unsigned char)*c);
		} else {
			mg__rbuf_put(mem_ctx, &b, c, 1);
		}
	}
	s = b.oom ? NULL : talloc_strndup(mem_ctx, b.p, b.len);
	talloc_free(b.p);
	return s;
}

char *mg_report_file_stem(TALLOC_CTX *mem_ctx, const char *name)
{
	size_t n = strlen(name), cut = MG_REPORT_STEM_CUT;
	uint64_t h = 0xcbf29ce484222325ull;

	if (n <= MG_REPORT_STEM_MAX) {
		return talloc_strdup(mem_ctx, name);
	}
	/* A file name is bytes, but a name cut in a character is garbled. */
	while (cut > 0 && ((unsigned char)name[cut] & 0xc0) == 0x80) {
		cut--;
	}
	for (const unsigned char *c = (const unsigned char *)name; *c != '\0'; c++) {
		h = (h ^ *c) * 0x100000001b3ull;
	}
	return talloc_asprintf(mem_ctx, "%.*s~%016llx", (int)cut, name, (unsigned long long)h);
}

/* The host of the last hop that has one, if it makes a good name. */
static const char *host_of(const struct mg_chain *c)
{
	for (size_t h = c->n_hops; h > 0; h--) {
		const char *host = c->hops[h - 1].host;

		if (host != NULL && host[0] != '\0') {
			return good_name(host) ? host : NULL;
		}
	}
	return NULL;
}

struct named {
	const char *name;
	size_t i;
};

static int cmp_named(const void *a, const void *b)
{
	const struct named *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	if (c == 0) {
		c = x->i < y->i ? -1 : (x->i > y->i ? 1 : 0);
	}
	return c;
}

char **mg_report_names(TALLOC_CTX *mem_ctx, const struct mg_chain *chains,
		       size_t n)
{
	TALLOC_CTX *tmp_ctx = talloc_new(NULL);
	char **names;
	bool *whole;
	struct named *v;
	struct nset all, seen;
	char **out = NULL;

	if (tmp_ctx == NULL) {
		return NULL;
	}
	names = talloc_zero_array(tmp_ctx, char *, n + 1);
	whole = talloc_zero_array(tmp_ctx, bool, n + 1);
	v = talloc_array(tmp_ctx, struct named, n + 1);
	if (names == NULL || whole == NULL || v == NULL
	    || !nset_init(tmp_ctx, &all, n) || !nset_init(tmp_ctx, &seen, n)) {
		goto done;
	}
	for (size_t i = 0; i < n; i++) {
		const char *host = host_of(&chains[i]);

		whole[i] = host == NULL;
		names[i] = whole[i] ? path_safe(names, chains[i].text)
			   : talloc_strdup(names, host);
		if (names[i] == NULL) {
			goto done;
		}
		v[i].name = names[i];
		v[i].i = i;
	}
	/* Hosts named twice (web01 behind two bastions): whole chains. */
	qsort(v, n, sizeof(*v), cmp_named);
	for (size_t k = 0, j; k < n; k = j) {
		for (j = k + 1; j < n && strcmp(v[k].name, v[j].name) == 0; j++) {
		}
		for (size_t m = k; j - k > 1 && m < j; m++) {
			size_t i = v[m].i;

			if (!whole[i]) {
				names[i] = path_safe(names, chains[i].text);
				if (names[i] == NULL) {
					goto done;
				}
			}
		}
	}
	/* Still the same (the same chain twice): number the later ones. */
	for (size_t i = 0; i < n; i++) {
		nset_add(&all, names[i]);
	}
	for (size_t i = 0; i < n; i++) {
		if (nset_has(&seen, names[i])) {
			char *cand = NULL;

			for (size_t k = 2; cand == NULL || nset_has(&all, cand);
			     k++) {
				talloc_free(cand);
				cand = talloc_asprintf(names, "%s#%zu",
						       names[i], k);
				if (cand == NULL) {
					goto done;
				}
			}
			names[i] = cand;
			nset_add(&all, cand);
		}
		nset_add(&seen, names[i]);
	}
	out = talloc_steal(mem_ctx, names);
done:
	talloc_free(tmp_ctx);
	return out;
}
