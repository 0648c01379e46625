/* Target lists: see mitogen/targets.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "chain-private.h"
#include "mitogen/error.h"
#include "mitogen/targets.h"

/* As many targets as one expression may give, for all of them together. */
#define MG_TARGETS_MAX MG_CHAIN_MAX_CHAINS

struct acc {
	struct mg_chain *chains;
	size_t n;
	size_t alloc;
};

static int add_text(TALLOC_CTX *mem_ctx, struct acc *a, const char *text, const char *where,
		    char **_errmsg)
{
	struct mg_chain_list *l = NULL;
	char *err = NULL;
	int ret = mg_chain_parse(mem_ctx, text, &l, &err);

	if (ret != 0) {
		*_errmsg = talloc_asprintf(mem_ctx, "%schain '%s': %s", where, text,
					   err != NULL ? err : mg_strerror(ret));
		return ret;
	}
	/* An endless list (yes | mitogen-run -w -) must end, and early. */
	if (l->n_chains > MG_TARGETS_MAX - a->n) {
		*_errmsg = talloc_asprintf(mem_ctx, "%smore than %d targets", where, MG_TARGETS_MAX);
		return -E2BIG;
	}
	if (a->n + l->n_chains > a->alloc) {
		size_t na = a->alloc > 0 ? a->alloc : 16;
		struct mg_chain *c;

		while (na < a->n + l->n_chains) {
			na *= 2;
		}
		c = talloc_realloc(mem_ctx, a->chains, struct mg_chain, na);
		if (c == NULL) {
			return -ENOMEM;
		}
		a->chains = c;
		a->alloc = na;
	}
	for (size_t i = 0; i < l->n_chains; i++) {
		a->chains[a->n++] = l->chains[i];
	}
	return 0;
}

/*
 * One line of f, without its newline, into buf (MG_TARGETS_LINE_MAX + 1
 * bytes): its length, -1 at end of file, or a negative error: -E2BIG for
 * a line too long, -EFBIG once *_total passes MG_TARGETS_FILE_MAX, -EIO.
 * Bounded so that -w ^/dev/zero fails instead of eating all memory.
 */
static ssize_t read_line(FILE *f, char *buf, size_t *_total)
{
	size_t n = 0;
	int ch;

	while ((ch = getc_unlocked(f)) != EOF) {
		if (++*_total > MG_TARGETS_FILE_MAX) {
			return -EFBIG;
		}
		if (ch == '\n') {
			break;
		}
		if (n == MG_TARGETS_LINE_MAX) {
			return -E2BIG;
		}
		buf[n++] = (char)ch;
	}
	if (ch == EOF && ferror(f)) {
		return -EIO;
	}
	if (ch == EOF && n == 0) {
		return -1;
	}
	buf[n] = '\0';
	return (ssize_t)n;
}

/* Why line 'lineno' of 'name' could not be read (n from read_line). */
static char *read_error(TALLOC_CTX *mem_ctx, const char *name, unsigned lineno, ssize_t n)
{
	switch (n) {
	case -E2BIG:
		return talloc_asprintf(mem_ctx, "%s: line %u: longer than %d bytes", name, lineno,
				       MG_TARGETS_LINE_MAX);
	case -EFBIG:
		return talloc_asprintf(mem_ctx, "%s: larger than %u MiB (at line %u)", name,
				       MG_TARGETS_FILE_MAX >> 20, lineno);
	default:
		return talloc_asprintf(mem_ctx, "%s: line %u: read error", name, lineno);
	}
}

/* One expression per line of f. */
static int add_file(TALLOC_CTX *mem_ctx, struct acc *a, FILE *f, const char *name,
		    char **_errmsg)
{
	char *line = talloc_size(mem_ctx, MG_TARGETS_LINE_MAX + 1);
	size_t total = 0;
	ssize_t n;
	unsigned lineno = 0;
	int ret = 0;

	if (line == NULL) {
		return -ENOMEM;
	}
	while (ret == 0 && (n = read_line(f, line, &total)) >= 0) {
		char *p = line, *where;
		lineno++;
		if (memchr(line, '\0', (size_t)n) != NULL) {
			*_errmsg = talloc_asprintf(mem_ctx, "%s: line %u: not text (a NUL byte)",
						   name, lineno);
			ret = -EINVAL;
			break;
		}
		for (char *h = strchr(p, '#'); h != NULL; h = strchr(h + 1, '#')) {
			/* "web3  # rack 4": a chain holds no blank, so a '#'
			 * after one starts a comment, as in pdsh's files. */
			if (h > p && (h[-1] == ' ' || h[-1] == '\t')) {
				*h = '\0';
				n = h - p;
				break;
			}
		}
		while (n > 0 && (p[n - 1] == '\r' || p[n - 1] == ' ' || p[n - 1] == '\t')) {
			p[--n] = '\0';
		}
		while (*p == ' ' || *p == '\t') {
			p++;
		}
		if (*p == '\0' || *p == '#') {
			continue;
		}
		where = talloc_asprintf(mem_ctx, "%s: line %u: ", name, lineno);
		ret = where != NULL ? add_text(mem_ctx, a, p, where, _errmsg) : -ENOMEM;
		talloc_free(where);
	}
	if (ret == 0 && n < -1) {
		ret = (int)n;
		*_errmsg = read_error(mem_ctx, name, lineno + 1, n);
	}
	talloc_free(line);
	return ret;
}

static int add_item(TALLOC_CTX *mem_ctx, struct acc *a, const char *item, char **_errmsg)
{
	FILE *f;
	int ret;

	if (strcmp(item, "-") == 0) {
		return add_file(mem_ctx, a, stdin, "stdin", _errmsg);
	}
	if (item[0] != '^') {
		return add_text(mem_ctx, a, item, "", _errmsg);
	}
	f = fopen(item + 1, "re");
	if (f == NULL) {
		ret = -errno;
		*_errmsg = talloc_asprintf(mem_ctx, "%s: %s", item + 1, mg_strerror(ret));
		return ret;
	}
	ret = add_file(mem_ctx, a, f, item + 1, _errmsg);
	fclose(f);
	return ret;
}

/* The last host, container or pod named in the chain, or NULL. */
static const char *last_host(const struct mg_chain *c)
{
	for (size_t i = c->n_hops; i > 0; i--) {
		if (c->hops[i - 1].host != NULL) {
			return c->hops[i - 1].host;
		}
	}
	return NULL;
}

/* What -x removes, sorted for binary search: whole chain texts, and host
 * names that remove every target ending on that host. */
struct exclusions {
	const char **texts;
	size_t n_texts;
	const char **hosts;
	size_t n_hosts;
};

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static bool has_str(const char *const *v, size_t n, const char *s)
{
	return n > 0 && bsearch(&s, v, n, sizeof(*v), cmp_str) != NULL;
}

/* Sorted, not compared pairwise: 100,000 targets less 50,000 would be
 * 5e9 comparisons. -ENOMEM or 0. */
static int exclusions_new(TALLOC_CTX *mem_ctx, const struct acc *ex, const char *const *raw,
			  struct exclusions *x)
{
	size_t n_raw = 0;

	while (raw != NULL && raw[n_raw] != NULL) {
		n_raw++;
	}
	x->texts = talloc_array(mem_ctx, const char *, ex->n + 1);
	x->hosts = talloc_array(mem_ctx, const char *, ex->n + n_raw + 1);
	if (x->texts == NULL || x->hosts == NULL) {
		return -ENOMEM;
	}
	x->n_texts = x->n_hosts = 0;
	for (size_t i = 0; i < ex->n; i++) {
		const struct mg_chain *e = &ex->chains[i];

		x->texts[x->n_texts++] = e->text;
		/* A bare host name (it parses as ssh:NAME) removes every target
		 * ending on that host, whatever its method. */
		if (e->n_hops == 1 && strcmp(e->hops[0].method, "ssh") == 0 &&
		    e->hops[0].user == NULL && e->hops[0].port == 0 && e->hops[0].n_opts == 0 &&
		    e->hops[0].host != NULL) {
			x->hosts[x->n_hosts++] = e->hops[0].host;
		}
	}
	/* A bare name excludes every target ending on that host. */
	for (size_t i = 0; i < n_raw; i++) {
		x->hosts[x->n_hosts++] = raw[i];
	}
	qsort(x->texts, x->n_texts, sizeof(*x->texts), cmp_str);
	qsort(x->hosts, x->n_hosts, sizeof(*x->hosts), cmp_str);
	return 0;
}

static bool excluded(const struct mg_chain *c, const struct exclusions *x)
{
	const char *host = last_host(c);

	return has_str(x->texts, x->n_texts, c->text) ||
	       (host != NULL && has_str(x->hosts, x->n_hosts, host));
}

static int cmp_text(const void *a, const void *b)
{
	const struct mg_chain *x = *(const struct mg_chain *const *)a;
	const struct mg_chain *y = *(const struct mg_chain *const *)b;
	int c = strcmp(x->text, y->text);

	return c != 0 ? c : (x < y ? -1 : x > y);
}

/* Which chains repeat an earlier one's text: sorted, not compared pairwise
 * (100,000 targets would be 5e9 comparisons). NULL on ENOMEM. */
static bool *later_copies(TALLOC_CTX *mem_ctx, const struct acc *a)
{
	const struct mg_chain **v = talloc_array(mem_ctx, const struct mg_chain *, a->n + 1);
	bool *dup = talloc_zero_array(mem_ctx, bool, a->n + 1);

	if (v == NULL || dup == NULL) {
		return NULL;
	}
	for (size_t i = 0; i < a->n; i++) {
		v[i] = &a->chains[i];
	}
	/* Equal texts sort by position: all but the first are copies. */
	qsort(v, a->n, sizeof(*v), cmp_text);
	for (size_t i = 1; i < a->n; i++) {
		if (strcmp(v[i]->text, v[i - 1]->text) == 0) {
			dup[v[i] - a->chains] = true;
		}
	}
	talloc_free(v);
	return dup;
}

int mg_targets_build(TALLOC_CTX *mem_ctx, const char *const *includes,
		     const char *const *excludes, struct mg_chain_list **_list, char **_errmsg)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	struct acc in = { 0 }, ex = { 0 };
	struct exclusions x;
	struct mg_chain_list *out;
	bool *dup;
	int ret = 0;

	if (tmp == NULL) {
		return -ENOMEM;
	}
	for (size_t i = 0; ret == 0 && includes != NULL && includes[i] != NULL; i++) {
		ret = add_item(tmp, &in, includes[i], _errmsg);
	}
	for (size_t i = 0; ret == 0 && excludes != NULL && excludes[i] != NULL; i++) {
		ret = add_item(tmp, &ex, excludes[i], _errmsg);
	}
	if (ret != 0) {
		if (*_errmsg != NULL) {
			talloc_steal(mem_ctx, *_errmsg);
		}
		talloc_free(tmp);
		return ret;
	}
	dup = later_copies(tmp, &in);
	out = talloc_zero(mem_ctx, struct mg_chain_list);
	if (dup == NULL || out == NULL || exclusions_new(tmp, &ex, excludes, &x) != 0 ||
	    (out->chains = talloc_zero_array(out, struct mg_chain, in.n > 0 ? in.n : 1)) == NULL) {
		talloc_free(out);
		talloc_free(tmp);
		return -ENOMEM;
	}
	for (size_t i = 0; i < in.n; i++) {
		if (!dup[i] && !excluded(&in.chains[i], &x)) {
			out->chains[out->n_chains++] = in.chains[i];
		}
	}
	/* The chains' strings live under tmp: keep them with the list. */
	talloc_steal(out, tmp);
	*_list = out;
	return 0;
}
