/* Target lists: see mitogen/targets.h. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "method.h"
#include "mitogen/error.h"
#include "mitogen/targets.h"

struct acc {
	struct mg_chain *chains;
	size_t n;
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
	for (size_t i = 0; i < l->n_chains; i++) {
		struct mg_chain *c = talloc_realloc(mem_ctx, a->chains, struct mg_chain, a->n + 1);
		if (c == NULL) {
			return -ENOMEM;
		}
		a->chains = c;
		a->chains[a->n++] = l->chains[i];
	}
	return 0;
}

/* One expression per line of f. */
static int add_file(TALLOC_CTX *mem_ctx, struct acc *a, FILE *f, const char *name,
		    char **_errmsg)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	unsigned lineno = 0;
	int ret = 0;

	while (ret == 0 && (n = getline(&line, &cap, f)) >= 0) {
		char *p = line, *where;
		lineno++;
		while (n > 0 && (p[n - 1] == '\n' || p[n - 1] == '\r' || p[n - 1] == ' ' || p[n - 1] == '\t')) {
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
	}
	free(line);
	if (ret == 0 && ferror(f)) {
		ret = -EIO;
		*_errmsg = talloc_asprintf(mem_ctx, "%s: read error", name);
	}
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

static bool excluded(const struct mg_chain *c, const struct acc *ex, const char *const *raw)
{
	const char *host = last_host(c);

	for (size_t i = 0; i < ex->n; i++) {
		const struct mg_chain *e = &ex->chains[i];
		if (strcmp(e->text, c->text) == 0) {
			return true;
		}
		/* A bare host name (it parses as ssh:NAME) removes every target
		 * ending on that host, whatever its method. */
		if (host != NULL && e->n_hops == 1 && strcmp(e->hops[0].method, "ssh") == 0 &&
		    e->hops[0].user == NULL && e->hops[0].port == 0 && e->hops[0].n_opts == 0 &&
		    e->hops[0].host != NULL && strcmp(e->hops[0].host, host) == 0) {
			return true;
		}
	}
	/* A bare name excludes every target ending on that host. */
	for (size_t i = 0; raw != NULL && raw[i] != NULL && host != NULL; i++) {
		if (strcmp(raw[i], host) == 0) {
			return true;
		}
	}
	return false;
}

int mg_targets_build(TALLOC_CTX *mem_ctx, const char *const *includes,
		     const char *const *excludes, struct mg_chain_list **_list, char **_errmsg)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	struct acc in = { 0 }, ex = { 0 };
	struct mg_chain_list *out;
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
	out = talloc_zero(mem_ctx, struct mg_chain_list);
	out->chains = talloc_zero_array(out, struct mg_chain, in.n > 0 ? in.n : 1);
	for (size_t i = 0; i < in.n; i++) {
		bool dup = false;
		if (excluded(&in.chains[i], &ex, excludes)) {
			continue;
		}
		for (size_t j = 0; j < out->n_chains && !dup; j++) {
			dup = strcmp(out->chains[j].text, in.chains[i].text) == 0;
		}
		if (!dup) {
			out->chains[out->n_chains++] = in.chains[i];
		}
	}
	/* The chains' strings live under tmp: keep them with the list. */
	talloc_steal(out, tmp);
	*_list = out;
	return 0;
}
