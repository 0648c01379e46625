/*
 * One hop of a chain: "method[:spec][?key=value&...]", an alias from the
 * config file, or a bare host ("web1", "root@web1:2222" = ssh:...). Host
 * lists are already expanded (chain-expand.c).
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "mitogen/error.h"
#include "chain-private.h"

/* Bytes written as %XX in canonical texts, beyond controls and space. */
#define NAME_SPECIAL "%/,?&+[]{}@:=#"
#define ADDR_SPECIAL "%/,?&+[]{}@=#"
#define VALUE_SPECIAL "%/,&+#"

static const char *quote(struct mg__chain_parser *p, const char *s, size_t n)
{
	char *q = mg__chain_quote(p->tmp, s, n);

	return q != NULL ? q : "?";
}

/* 's' with every control byte, space, DEL and byte of 'special' written
 * as %XX. */
static char *enc(TALLOC_CTX *mem, const char *s, const char *special)
{
	size_t n = strlen(s), k = 0;
	char *out = talloc_array(mem, char, n * 3 + 1);

	if (out == NULL) {
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c <= 0x20 || c == 0x7f || strchr(special, c) != NULL) {
			k += (size_t)snprintf(out + k, 4, "%%%02X", c);
		} else {
			out[k++] = (char)c;
		}
	}
	out[k] = '\0';
	return out;
}

/* hop->spec (decoded) and hop->text (canonical, encoded). */
static int canonical(struct mg__hop_build *b)
{
	struct mg_hop *h = &b->hop;
	const char *host = h->host != NULL ? h->host : "";
	/* Only a host is bracketed: a container's ':' is encoded. */
	bool v6 = b->m->spec == MG_SPEC_HOST && strchr(host, ':') != NULL;
	const char *us = "", *ut = "", *ht, *spec_t;
	char port[8] = "", *text;

	if (h->user != NULL) {
		const char *e = enc(b->mem, h->user, NAME_SPECIAL);

		us = talloc_asprintf(b->mem, "%s@", h->user);
		ut = e != NULL ? talloc_asprintf(b->mem, "%s@", e) : NULL;
	}
	if (h->port != 0) {
		snprintf(port, sizeof(port), ":%d", h->port);
	}
	ht = enc(b->mem, host, v6 ? ADDR_SPECIAL : NAME_SPECIAL);
	switch (b->m->spec) {
	case MG_SPEC_HOST:
		h->spec = talloc_asprintf(b->mem, "%s%s%s%s%s", us,
					  v6 ? "[" : "", host, v6 ? "]" : "",
					  port);
		spec_t = talloc_asprintf(b->mem, "%s%s%s%s%s", ut,
					 v6 ? "[" : "", ht, v6 ? "]" : "",
					 port);
		break;
	case MG_SPEC_USER:
		h->spec = talloc_strdup(b->mem, h->user != NULL ? h->user : "");
		spec_t = h->user != NULL ? enc(b->mem, h->user, NAME_SPECIAL)
			: "";
		break;
	case MG_SPEC_CONTAINER:
		h->spec = talloc_asprintf(b->mem, "%s%s%s%s", b->kind != NULL
					  ? b->kind : "", b->kind != NULL
					  ? ":" : "", us, host);
		spec_t = talloc_asprintf(b->mem, "%s%s%s%s", b->kind != NULL
					 ? b->kind : "", b->kind != NULL
					 ? ":" : "", ut, ht);
		break;
	case MG_SPEC_NONE:
	default:
		h->spec = talloc_strdup(b->mem, "");
		spec_t = "";
		break;
	}
	if (us == NULL || ut == NULL || ht == NULL || h->spec == NULL
	    || spec_t == NULL) {
		return -ENOMEM;
	}
	text = talloc_asprintf(b->mem, "%s%s%s", h->method,
			       spec_t[0] != '\0' ? ":" : "", spec_t);
	for (size_t i = 0; i < h->n_opts && text != NULL; i++) {
		char *v = enc(b->mem, h->opts[i].value, VALUE_SPECIAL);
		size_t vl = v != NULL ? strlen(v) : 0;

		if (vl > 0 && v[vl - 1] == '=') {
			/* "k=x=" then '/' would read as a '/' opening a value
			 * (slash_in_value): the text must parse again. */
			v = talloc_asprintf(b->mem, "%.*s%%3D", (int)(vl - 1), v);
		}
		if (v == NULL) {
			text = NULL;
			break;
		}
		text = talloc_asprintf_append_buffer(text, "%c%s=%s",
						     i == 0 ? '?' : '&',
						     h->opts[i].key, v);
	}
	h->text = text;
	return text != NULL ? 0 : -ENOMEM;
}

/* The config files, read once per parse. */
static int load_config(struct mg__chain_parser *p)
{
	char *msg = NULL;
	int r;

	if (p->cfg_loaded) {
		return 0;
	}
	if ((r = mg__config_load(p->tmp, &p->cfg, &msg)) != 0) {
		p->errmsg = msg;
		return r;
	}
	p->cfg_loaded = true;
	return 0;
}

/* [defaults] for the options hop h (of method m) does not give, copied on
 * mem. Its text stays as written: the name its contexts go by. */
static int add_defaults(TALLOC_CTX *mem, const struct mg__config *cfg,
			const struct mg_method_syntax *m, struct mg_hop *h)
{
	const char *const *lists[] = { m->options, mg__common_options };

	for (size_t l = 0; l < 2; l++) {
		for (const char *const *k = lists[l]; *k != NULL; k++) {
			const char *v = mg__config_default(cfg, m->name, *k);
			struct mg_hop_opt *o;

			if (v == NULL || mg_hop_opt(h, *k) != NULL) {
				continue;
			}
			o = talloc_array(mem, struct mg_hop_opt, h->n_opts + 2);
			if (o == NULL) {
				return -ENOMEM;
			}
			if (h->n_opts > 0) {
				memcpy(o, h->opts, h->n_opts * sizeof(*o));
			}
			o[h->n_opts].key = talloc_strdup(o, *k);
			o[h->n_opts].value = talloc_strdup(o, v);
			if (o[h->n_opts].key == NULL || o[h->n_opts].value == NULL) {
				return -ENOMEM;
			}
			memset(&o[h->n_opts + 1], 0, sizeof(*o));
			h->opts = o;
			h->n_opts++;
		}
	}
	return 0;
}

int mg__chain_defaults(struct mg__chain_parser *p, TALLOC_CTX *mem_ctx, struct mg_chain *c)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	struct mg_hop *hops = tmp != NULL ? talloc_array(tmp, struct mg_hop, c->n_hops) : NULL;
	const struct mg_hop **ptrs = hops != NULL ? talloc_array(tmp, const struct mg_hop *, c->n_hops) : NULL;
	bool more = false;
	struct mg_chain out;
	int r = ptrs != NULL ? load_config(p) : -ENOMEM;

	for (size_t i = 0; r == 0 && i < c->n_hops; i++) {
		const struct mg_method_syntax *m = mg__method_syntax(c->hops[i].method);

		hops[i] = c->hops[i];
		ptrs[i] = &hops[i];
		r = m != NULL ? add_defaults(tmp, p->cfg, m, &hops[i]) : 0;
		more = more || hops[i].n_opts != c->hops[i].n_opts;
	}
	if (r == 0 && more && (r = mg__chain_pack(mem_ctx, ptrs, c->n_hops, &out)) == 0) {
		talloc_free(c->hops);
		*c = out;
	}
	talloc_free(tmp);
	return r;
}

static int method_hop(struct mg__chain_parser *p, struct mg_chain_list *segs,
		      const struct mg_method_syntax *m, const struct mg__span *spec,
		      const struct mg__span *tail)
{
	TALLOC_CTX *tmp_ctx = talloc_new(NULL);
	const struct mg_hop *ptr;
	struct mg_chain *slot;
	struct mg__hop_build b;
	int r;

	if (tmp_ctx == NULL) {
		return -ENOMEM;
	}
	memset(&b, 0, sizeof(b));
	b.p = p;
	b.mem = tmp_ctx;
	b.m = m;
	b.hop.method = talloc_strdup(tmp_ctx, m->name);
	if (b.hop.method == NULL) {
		r = -ENOMEM;
		goto done;
	}
	if ((r = mg__chain_spec(&b, spec)) != 0
	    || (tail != NULL && (r = mg__chain_opts(&b, tail)) != 0)
	    || (r = mg__chain_check(&b, spec)) != 0
	    || (r = canonical(&b)) != 0) {
		goto done;
	}
	ptr = &b.hop;
	slot = mg__chain_list_push(segs);
	r = slot != NULL ? mg__chain_pack(segs->chains, &ptr, 1, slot) : -ENOMEM;
done:
	talloc_free(tmp_ctx);
	return r;
}

int mg__chain_hop_fields(TALLOC_CTX *mem_ctx, const struct mg__hop_fields *f,
			 struct mg_chain *out, char **_errmsg)
{
	struct mg__span none = { "", NULL, 0, 0 };
	struct mg__chain_parser p;
	struct mg__hop_build b;
	const struct mg_hop *ptr = &b.hop;
	int r;

	memset(&p, 0, sizeof(p));
	memset(&b, 0, sizeof(b));
	if ((p.tmp = talloc_new(NULL)) == NULL) {
		return -ENOMEM;
	}
	b.p = &p;
	b.mem = p.tmp;
	b.m = mg__method_syntax(f->method);
	if (b.m == NULL) {
		r = mg__chain_fail(&p, 0, "unknown method '%s'",
				   quote(&p, f->method, strlen(f->method)));
	} else if ((b.hop.method = talloc_strdup(p.tmp, b.m->name)) == NULL) {
		r = -ENOMEM;
	} else if ((r = mg__chain_fields(&b, f)) == 0
		   && (r = mg__chain_check(&b, &none)) == 0
		   && (r = canonical(&b)) == 0
		   && (r = load_config(&p)) == 0
		   && (r = add_defaults(p.tmp, p.cfg, b.m, &b.hop)) == 0) {
		r = mg__chain_pack(mem_ctx, &ptr, 1, out);
	}
	if (r != 0 && _errmsg != NULL) {
		*_errmsg = talloc_strdup(mem_ctx, p.errmsg != NULL ? p.errmsg
					 : "out of memory");
	}
	talloc_free(p.tmp);
	return r;
}

static const struct mg_method_syntax *find_method(const char *s, size_t n)
{
	char name[32];

	if (n == 0 || n >= sizeof(name)) {
		return NULL;
	}
	memcpy(name, s, n);
	name[n] = '\0';
	return mg__method_syntax(name);
}

/* Could be an alias name: [A-Za-z0-9_.-]+, not starting with '-'. */
static bool alias_shaped(const struct mg__span *h)
{
	if (h->n == 0 || h->n > 64 || h->s[0] == '-') {
		return false;
	}
	for (size_t i = 0; i < h->n; i++) {
		unsigned char c = (unsigned char)h->s[i];

		if (!isalnum(c) && c != '_' && c != '.' && c != '-') {
			return false;
		}
	}
	return true;
}

static int expand_alias(struct mg__chain_parser *p, struct mg_chain_list *segs,
			const struct mg__alias *a, int col)
{
	struct mg_chain_list *inner = NULL;
	int r;

	for (size_t i = 0; i < p->depth; i++) {
		if (strcmp(p->stack[i], a->name) == 0) {
			char *loop = talloc_strdup(p->tmp, "");

			for (size_t j = i; j < p->depth && loop != NULL; j++) {
				loop = talloc_asprintf_append_buffer(loop,
						"%s -> ", p->stack[j]);
			}
			return mg__chain_fail(p, col, "alias loop: %s%s",
					      loop != NULL ? loop : "", a->name);
		}
	}
	if (p->depth == MG_CHAIN_MAX_ALIAS_DEPTH) {
		return mg__chain_fail(p, col, "aliases nested more than %d "
				      "deep", MG_CHAIN_MAX_ALIAS_DEPTH);
	}
	p->stack[p->depth++] = a->name;
	r = p->parse_text(p, p->tmp, a->text, strlen(a->text), &inner);
	p->depth--;
	if (r == MG_ERR_CHAIN) {
		return mg__chain_fail(p, col, "in alias '%s' (%s:%d): %s",
				      a->name, a->file, a->line, p->errmsg);
	}
	if (r != 0) {
		return r;
	}
	for (size_t i = 0; i < inner->n_chains; i++) {
		struct mg_chain *slot = mg__chain_list_push(segs);

		if (slot == NULL) {
			talloc_free(inner);
			return -ENOMEM;
		}
		*slot = inner->chains[i];
		talloc_steal(segs->chains, slot->hops);
	}
	talloc_free(inner);
	return 0;
}

static int find_alias(struct mg__chain_parser *p, const struct mg__span *h,
		      const struct mg__alias **_a)
{
	int r = load_config(p);

	if (r == 0) {
		*_a = mg__config_alias(p->cfg, h->s, h->n);
	}
	return r;
}

/* A lower-case bare word one swap away from a method ("lcoal"), or a
 * method in other case ("SUDO"): surely a typo, not a host. */
static const char *typo_of_method(const struct mg__span *h)
{
	for (size_t i = 0; mg__method_syntaxes[i].name != NULL; i++) {
		const char *name = mg__method_syntaxes[i].name;
		size_t diff = 0, first = 0;
		bool same_case = true;

		if (strlen(name) != h->n) {
			continue;
		}
		for (size_t j = 0; j < h->n; j++) {
			if (tolower((unsigned char)h->s[j]) != name[j]) {
				first = diff++ == 0 ? j : first;
			}
			same_case = same_case && h->s[j] == name[j];
		}
		if (diff == 0 && !same_case) {
			return name;
		}
		if (diff == 2 && h->n >= 4 && first + 1 < h->n
		    && h->s[first] == name[first + 1]
		    && h->s[first + 1] == name[first]) {
			return name;
		}
	}
	return NULL;
}

static int unknown_method(struct mg__chain_parser *p, const struct mg__span *h,
			  size_t t)
{
	struct mg__suggest sg;
	char *names = talloc_strdup(p->tmp, "");

	mg__suggest_init(&sg, h->s, t);
	for (size_t i = 0; mg__method_syntaxes[i].name != NULL; i++) {
		mg__suggest_try(&sg, mg__method_syntaxes[i].name);
		if (names != NULL) {
			names = talloc_asprintf_append_buffer(names, "%s%s",
					i > 0 ? ", " : "", mg__method_syntaxes[i].name);
		}
	}
	if (sg.best != NULL) {
		return mg__chain_fail(p, h->col[0], "unknown method '%s' (did "
				      "you mean '%s'?)", quote(p, h->s, t),
				      sg.best);
	}
	return mg__chain_fail(p, h->col[0], "unknown method '%s' (methods: %s)",
			      quote(p, h->s, t), names != NULL ? names : "");
}

int mg__chain_hop(struct mg__chain_parser *p, struct mg_chain_list *segs,
		  const struct mg__span *head, const struct mg__span *tail)
{
	const struct mg_method_syntax *m = NULL;
	struct mg__span spec;
	size_t t = 0;
	int r;

	if (head->n == 0) {
		return mg__chain_fail(p, head->end_col, "expected a method, "
				      "alias or host before '?'");
	}
	while (t < head->n && (isalnum((unsigned char)head->s[t])
			       || head->s[t] == '_' || head->s[t] == '-')) {
		t++;
	}
	m = find_method(head->s, t);
	if (m != NULL && (t == head->n || head->s[t] == ':')) {
		size_t from = t < head->n ? t + 1 : t;

		spec.s = head->s + from;
		spec.col = head->col + from;
		spec.n = head->n - from;
		spec.end_col = head->end_col;
		return method_hop(p, segs, m, &spec, tail);
	}
	if (alias_shaped(head)) {
		const struct mg__alias *a;

		if ((r = find_alias(p, head, &a)) != 0) {
			return r;
		}
		if (a != NULL && tail != NULL) {
			return mg__chain_fail(p, head->end_col, "options cannot "
					      "follow the alias '%s'", a->name);
		}
		if (a != NULL) {
			return expand_alias(p, segs, a, head->col[0]);
		}
	}
	if (t == head->n && typo_of_method(head) != NULL) {
		const char *w = quote(p, head->s, head->n);

		return mg__chain_fail(p, head->col[0], "unknown method '%s' "
				      "(did you mean '%s'? write ssh:%s for a "
				      "host of that name)", w,
				      typo_of_method(head), w);
	}
	if (t < head->n && head->s[t] == ':'
	    && !(t + 1 < head->n && isdigit((unsigned char)head->s[t + 1]))) {
		if (t == 0) {
			return mg__chain_fail(p, head->col[0], "expected a "
					      "method or host before ':'");
		}
		return unknown_method(p, head, t);
	}
	/* A bare host: ssh. */
	if ((m = mg__method_syntax("ssh")) == NULL) {
		return mg__chain_fail(p, head->col[0], "'%s' is no method or "
				      "alias", quote(p, head->s, head->n));
	}
	return method_hop(p, segs, m, head, tail);
}
