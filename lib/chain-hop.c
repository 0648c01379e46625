/*
 * One hop of a chain: "method[:spec][?key=value&...]", an alias from the
 * config file, or a bare host ("web1", "root@web1:2222" = ssh:...). Host
 * lists are already expanded (chain-expand.c).
 */
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include "mitogen/error.h"
#include "method.h"
#include "chain-private.h"

/* Options that may repeat: every value is kept, in order. */
static const char *const list_options[] = {
	"ssh_args", "sudo_args", "kubectl_args", "incorrect_prompts", NULL,
};

static const char *const setns_kinds[] = {
	"docker", "lxc", "lxd", "machinectl", NULL,
};

/* Bytes written as %XX in canonical texts, beyond controls and space. */
#define NAME_SPECIAL "%/,?&+[]{}@:=#"
#define ADDR_SPECIAL "%/,?&+[]{}@=#"
#define VALUE_SPECIAL "%/,&+#"

/* Percent-decoded text; col[i] is the column of the byte, or of its '%'. */
struct dec {
	char *s;
	int *col;
	size_t n;
	int end_col;
};

/* A hop being built. */
struct hopb {
	struct mg__chain_parser *p;
	TALLOC_CTX *mem;
	const struct mg_method *m;
	struct mg_hop hop;
	const char *kind;    /* setns */
	bool user_from_opt;
	bool port_from_opt;
	int image_col;
};

static bool in_list(const char *const *list, const char *s, size_t n)
{
	for (size_t i = 0; list[i] != NULL; i++) {
		if (strlen(list[i]) == n && memcmp(list[i], s, n) == 0) {
			return true;
		}
	}
	return false;
}

static struct mg__span sub(const struct mg__span *sp, size_t from, size_t to)
{
	struct mg__span r;

	r.s = sp->s + from;
	r.col = sp->col + from;
	r.n = to - from;
	r.end_col = to < sp->n ? sp->col[to] : sp->end_col;
	return r;
}

static int col_at(const struct mg__span *sp, size_t i)
{
	return i < sp->n ? sp->col[i] : sp->end_col;
}

static const char *quote(struct mg__chain_parser *p, const char *s, size_t n)
{
	char *q = mg__chain_quote(p->tmp, s, n);

	return q != NULL ? q : "?";
}

/* How the method's spec is written, for messages (on p->tmp). */
static const char *usage(struct mg__chain_parser *p, const struct mg_method *m)
{
	static const struct {
		const char *name;
		const char *usage;
	} forms[] = {
		{ "kubectl", "kubectl:POD" },
		{ "jail", "jail:JAIL" },
		{ "setns", "setns:KIND:[USER@]CONTAINER" },
		{ "docker", "docker:[USER@]CONTAINER or docker:?image=IMAGE" },
	};
	const char *form;
	char *s;

	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		if (strcmp(forms[i].name, m->name) == 0) {
			return forms[i].usage;
		}
	}
	switch (m->spec) {
	case MG_SPEC_HOST:
		form = "%s:[USER@]HOST[:PORT]";
		break;
	case MG_SPEC_USER:
		form = "%s[:USER]";
		break;
	case MG_SPEC_CONTAINER:
		form = in_list(m->options, "username", 8)
		       ? "%s:[USER@]CONTAINER" : "%s:CONTAINER";
		break;
	case MG_SPEC_NONE:
	default:
		form = "%s with nothing after it";
		break;
	}
	s = talloc_asprintf(p->tmp, form, m->name);
	return s != NULL ? s : m->name;
}

static const char *noun(const struct mg_method *m)
{
	if (strcmp(m->name, "kubectl") == 0) {
		return "pod";
	}
	if (strcmp(m->name, "jail") == 0) {
		return "jail";
	}
	return "container";
}

static int decode(struct mg__chain_parser *p, TALLOC_CTX *mem,
		  const struct mg__span *in, struct dec *out)
{
	size_t k = 0;

	out->s = talloc_array(mem, char, in->n + 1);
	out->col = talloc_array(mem, int, in->n + 1);
	if (out->s == NULL || out->col == NULL) {
		return -ENOMEM;
	}
	for (size_t i = 0; i < in->n; i++) {
		unsigned char c = (unsigned char)in->s[i];

		if (c == '%') {
			unsigned int v;

			if (i + 2 >= in->n
			    || !isxdigit((unsigned char)in->s[i + 1])
			    || !isxdigit((unsigned char)in->s[i + 2])) {
				size_t len = in->n - i < 3 ? in->n - i : 3;

				return mg__chain_fail(p, in->col[i], "bad "
						      "percent-escape '%s' "
						      "(expected %%XX with two "
						      "hex digits; write '%%' "
						      "as %%25)",
						      quote(p, in->s + i, len));
			}
			sscanf(in->s + i + 1, "%2x", &v);
			if (v == 0) {
				return mg__chain_fail(p, in->col[i], "%%00 (a NUL "
						      "byte) is not allowed");
			}
			c = (unsigned char)v;
			out->col[k] = in->col[i];
			i += 2;
		} else {
			out->col[k] = in->col[i];
		}
		out->s[k++] = (char)c;
	}
	out->s[k] = '\0';
	out->n = k;
	out->end_col = in->end_col;
	return 0;
}

/* Bytes OpenSSH (9.6) refuses in host and user names: ProxyCommand and
 * friends substitute them into a shell command line. */
#define HOST_BAD "'`\"$\\;&<>|(){}"
#define USER_BAD "'`\";&<>|(){}"

/* A user, host, container or pod: no controls, spaces, shell
 * metacharacters ('bad') or leading '-' (it would be read as an option by
 * ssh, sudo, docker...). */
static int check_name(struct mg__chain_parser *p, const struct dec *d,
		      const char *what, const char *bad)
{
	if (d->n == 0) {
		return mg__chain_fail(p, d->end_col, "expected a %s", what);
	}
	if (d->s[0] == '-') {
		return mg__chain_fail(p, d->col[0], "%s '%s' may not begin "
				      "with '-'", what, quote(p, d->s, d->n));
	}
	for (size_t i = 0; i < d->n; i++) {
		unsigned char c = (unsigned char)d->s[i];

		if (c < 0x20 || c == 0x7f) {
			return mg__chain_fail(p, d->col[i], "control character "
					      "0x%02x in %s", c, what);
		}
		if (c == ' ') {
			return mg__chain_fail(p, d->col[i], "space in %s", what);
		}
		if (strchr(bad, c) != NULL) {
			return mg__chain_fail(p, d->col[i], "character %s%c%s "
					      "not allowed in %s",
					      c == '\'' ? "\"" : "'", c,
					      c == '\'' ? "\"" : "'", what);
		}
	}
	return 0;
}

/* Bytes of 'forbid' may not appear unencoded in 'sp'. */
static int check_raw(struct hopb *b, const struct mg__span *sp,
		     const char *forbid)
{
	for (size_t i = 0; i < sp->n; i++) {
		if (strchr(forbid, sp->s[i]) != NULL && sp->s[i] != '\0') {
			return mg__chain_fail(b->p, sp->col[i], "unexpected "
					      "'%c' (expected %s)", sp->s[i],
					      usage(b->p, b->m));
		}
	}
	return 0;
}

static int set_user(struct hopb *b, const struct mg__span *sp)
{
	struct dec d;
	int r;

	if ((r = decode(b->p, b->mem, sp, &d)) != 0
	    || (r = check_name(b->p, &d, "user", USER_BAD)) != 0) {
		return r;
	}
	b->hop.user = d.s;
	return 0;
}

static int set_host(struct hopb *b, const struct mg__span *sp,
		    const char *what)
{
	const char *eq = memchr(sp->s, '=', sp->n);
	struct dec d;
	int r;

	if ((r = decode(b->p, b->mem, sp, &d)) != 0
	    || (r = check_name(b->p, &d, what, HOST_BAD)) != 0) {
		return r;
	}
	if (eq != NULL) {
		return mg__chain_fail(b->p, sp->col[eq - sp->s], "'=' in %s (the "
				      "path-safe spelling ssh=HOST+sudo=USER "
				      "cannot be mixed with ':' or '/')", what);
	}
	b->hop.host = d.s;
	return 0;
}

static int parse_port(struct mg__chain_parser *p, const struct dec *d,
		      int *_port)
{
	int v = 0;

	if (d->n == 0) {
		return mg__chain_fail(p, d->end_col, "expected a port number");
	}
	for (size_t i = 0; i < d->n; i++) {
		if (!isdigit((unsigned char)d->s[i]) || i == 5) {
			v = 0;
			break;
		}
		v = v * 10 + (d->s[i] - '0');
	}
	if (v < 1 || v > 65535) {
		return mg__chain_fail(p, d->col[0], "bad port '%s' (expected a "
				      "number from 1 to 65535)",
				      quote(p, d->s, d->n));
	}
	*_port = v;
	return 0;
}

/* [user@]host[:port], host maybe "[v6addr]". */
static int spec_host(struct hopb *b, const struct mg__span *sp)
{
	struct mg__span host, port;
	size_t rest = 0, end = sp->n;
	const char *c;
	int r;

	if (sp->n == 0) {
		return 0;
	}
	for (size_t i = sp->n; i > 0; i--) {
		if (sp->s[i - 1] == '@') {
			struct mg__span u = sub(sp, 0, i - 1);

			if (i == 1) {
				return mg__chain_fail(b->p, sp->col[0], "empty "
						      "user before '@'");
			}
			if ((r = check_raw(b, &u, ":[]")) != 0
			    || (r = set_user(b, &u)) != 0) {
				return r;
			}
			rest = i;
			break;
		}
	}
	if (rest == sp->n) {
		return mg__chain_fail(b->p, sp->end_col, "expected a host after "
				      "'@'");
	}
	if (sp->s[rest] == '[') {
		c = memchr(sp->s + rest, ']', sp->n - rest);
		if (c == NULL) {
			return mg__chain_fail(b->p, sp->col[rest], "unbalanced "
					      "'[' (expected ']')");
		}
		end = (size_t)(c - sp->s) + 1;
		host = sub(sp, rest + 1, end - 1);
		if (host.n == 0) {
			return mg__chain_fail(b->p, sp->col[rest], "empty "
					      "address in '[]'");
		}
		if (end < sp->n && sp->s[end] != ':') {
			return mg__chain_fail(b->p, sp->col[end], "expected "
					      "':PORT' or the end after ']'");
		}
	} else {
		c = memchr(sp->s + rest, ':', sp->n - rest);
		end = c != NULL ? (size_t)(c - sp->s) : sp->n;
		host = sub(sp, rest, end);
		if (c != NULL && memchr(c + 1, ':', sp->n - end - 1) != NULL) {
			return mg__chain_fail(b->p, sp->col[rest], "an IPv6 "
					      "address needs brackets: "
					      "[ADDRESS] or [ADDRESS]:PORT");
		}
	}
	if ((r = check_raw(b, &host, "[]")) != 0
	    || (r = set_host(b, &host, "host")) != 0) {
		return r;
	}
	if (end < sp->n) {
		struct dec d;

		port = sub(sp, end + 1, sp->n);
		if ((r = decode(b->p, b->mem, &port, &d)) != 0
		    || (r = parse_port(b->p, &d, &b->hop.port)) != 0) {
			return r;
		}
	}
	return 0;
}

/* [user@]container, the user only for methods with a username option. */
static int spec_container(struct hopb *b, const struct mg__span *sp)
{
	const char *at = memchr(sp->s, '@', sp->n);
	struct mg__span c = *sp;
	int r;

	if (at != NULL && in_list(b->m->options, "username", 8)) {
		struct mg__span u = sub(sp, 0, (size_t)(at - sp->s));

		if (u.n == 0) {
			return mg__chain_fail(b->p, sp->col[0], "empty user "
					      "before '@'");
		}
		if ((r = check_raw(b, &u, ":[]")) != 0
		    || (r = set_user(b, &u)) != 0) {
			return r;
		}
		c = sub(sp, (size_t)(at - sp->s) + 1, sp->n);
	}
	if (c.n == 0) {
		return 0;
	}
	if ((r = check_raw(b, &c, ":@[]")) != 0) {
		return r;
	}
	return set_host(b, &c, noun(b->m));
}

/* kind:[user@]container */
static int spec_setns(struct hopb *b, const struct mg__span *sp)
{
	const char *c = memchr(sp->s, ':', sp->n);
	struct mg__span kind, rest;
	struct dec d;
	int r;

	if (sp->n == 0) {
		return 0;
	}
	if (c == NULL) {
		return mg__chain_fail(b->p, sp->col[0], "expected KIND:CONTAINER "
				      "(KIND is docker, lxc, lxd or "
				      "machinectl)");
	}
	kind = sub(sp, 0, (size_t)(c - sp->s));
	rest = sub(sp, kind.n + 1, sp->n);
	if ((r = decode(b->p, b->mem, &kind, &d)) != 0) {
		return r;
	}
	if (!in_list(setns_kinds, d.s, d.n)) {
		struct mg__suggest sg;

		mg__suggest_init(&sg, d.s, d.n);
		for (size_t i = 0; setns_kinds[i] != NULL; i++) {
			mg__suggest_try(&sg, setns_kinds[i]);
		}
		return mg__chain_fail(b->p, col_at(sp, 0), "unknown setns kind "
				      "'%s' (%s%s%s)", quote(b->p, d.s, d.n),
				      sg.best != NULL ? "did you mean '" :
				      "expected docker, lxc, lxd or machinectl",
				      sg.best != NULL ? sg.best : "",
				      sg.best != NULL ? "'?" : "");
	}
	b->kind = d.s;
	if (rest.n == 0) {
		return mg__chain_fail(b->p, rest.end_col, "expected a container "
				      "after '%s:'", d.s);
	}
	return spec_container(b, &rest);
}

static int unknown_option(struct hopb *b, const struct mg__span *key)
{
	struct mg__suggest sg;
	const char *other = NULL;
	char *k = talloc_strndup(b->mem, key->s, key->n);

	if (k == NULL) {
		return -ENOMEM;
	}
	mg__suggest_init(&sg, k, key->n);
	for (size_t i = 0; b->m->options[i] != NULL; i++) {
		mg__suggest_try(&sg, b->m->options[i]);
	}
	for (size_t i = 0; mg__common_options[i] != NULL; i++) {
		mg__suggest_try(&sg, mg__common_options[i]);
	}
	for (size_t i = 0; sg.best == NULL && mg__methods[i] != NULL; i++) {
		if (in_list(mg__methods[i]->options, key->s, key->n)) {
			other = mg__methods[i]->name;
			break;
		}
	}
	if (sg.best != NULL) {
		return mg__chain_fail(b->p, key->col[0], "unknown option '%s' "
				      "for %s (did you mean '%s'?)",
				      quote(b->p, key->s, key->n), b->m->name,
				      sg.best);
	}
	if (other != NULL) {
		return mg__chain_fail(b->p, key->col[0], "unknown option '%s' "
				      "for %s (it is an option of %s)",
				      quote(b->p, key->s, key->n), b->m->name,
				      other);
	}
	return mg__chain_fail(b->p, key->col[0], "unknown option '%s' for %s",
			      quote(b->p, key->s, key->n), b->m->name);
}

/* key=value: username= and port= go to hop->user and hop->port. */
static int add_option(struct hopb *b, const struct mg__span *key,
		      const struct mg__span *value)
{
	struct mg_hop *h = &b->hop;
	struct dec d;
	char *k;
	int r;

	if (!in_list(b->m->options, key->s, key->n)
	    && !in_list(mg__common_options, key->s, key->n)) {
		return unknown_option(b, key);
	}
	if ((k = talloc_strndup(b->mem, key->s, key->n)) == NULL) {
		return -ENOMEM;
	}
	if ((r = decode(b->p, b->mem, value, &d)) != 0) {
		return r;
	}
	if (strcmp(k, "username") == 0) {
		if (h->user != NULL) {
			return mg__chain_fail(b->p, key->col[0], "%s", b->user_from_opt
					      ? "option 'username' given twice"
					      : "user given twice: in the spec "
						"and as username=");
		}
		b->user_from_opt = true;
		if ((r = check_name(b->p, &d, "user", USER_BAD)) != 0) {
			return r;
		}
		h->user = d.s;
		return 0;
	}
	if (strcmp(k, "port") == 0) {
		if (h->port != 0) {
			return mg__chain_fail(b->p, key->col[0], "%s", b->port_from_opt
					      ? "option 'port' given twice"
					      : "port given twice: in the spec "
						"and as port=");
		}
		b->port_from_opt = true;
		return parse_port(b->p, &d, &h->port);
	}
	if (!in_list(list_options, k, key->n) && mg_hop_opt(h, k) != NULL) {
		return mg__chain_fail(b->p, key->col[0], "option '%s' given "
				      "twice (only %s, %s, %s and %s may "
				      "repeat)", k, list_options[0],
				      list_options[1], list_options[2],
				      list_options[3]);
	}
	if (strcmp(k, "image") == 0) {
		b->image_col = key->col[0];
	}
	h->opts[h->n_opts].key = k;
	h->opts[h->n_opts].value = d.s;
	h->n_opts++;
	return 0;
}

static int parse_opts(struct hopb *b, const struct mg__span *tail)
{
	size_t i = 0, n_amp = 0;
	int r;

	for (size_t j = 0; j < tail->n; j++) {
		n_amp += tail->s[j] == '&';
	}
	b->hop.opts = talloc_array(b->mem, struct mg_hop_opt, n_amp + 1);
	if (b->hop.opts == NULL) {
		return -ENOMEM;
	}
	for (;;) {
		size_t start = i, eq = SIZE_MAX;
		struct mg__span key, value;

		while (i < tail->n && tail->s[i] != '&') {
			if (tail->s[i] == '=' && eq == SIZE_MAX) {
				eq = i;
			}
			i++;
		}
		if (i == start) {
			return mg__chain_fail(b->p, col_at(tail, start), "expected "
					      "key=value after '%c'",
					      start == 0 ? '?' : '&');
		}
		if (eq == SIZE_MAX) {
			const char *k = quote(b->p, tail->s + start, i - start);

			return mg__chain_fail(b->p, tail->col[start], "missing "
					      "'=' in option '%s' (expected "
					      "%s=VALUE)", k, k);
		}
		if (eq == start) {
			return mg__chain_fail(b->p, tail->col[start], "expected "
					      "an option name before '='");
		}
		key = sub(tail, start, eq);
		value = sub(tail, eq + 1, i);
		if ((r = add_option(b, &key, &value)) != 0) {
			return r;
		}
		if (i == tail->n) {
			return 0;
		}
		i++;
	}
}

/* percent-encode every byte of 's' that is a control, space, non-ASCII
 * DEL or in 'special'. */
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
static int canonical(struct hopb *b)
{
	struct mg_hop *h = &b->hop;
	const char *host = h->host != NULL ? h->host : "";
	bool v6 = strchr(host, ':') != NULL;
	char *us = "", *ut = "", *ht, *spec_t, *text;
	char port[8] = "";

	if (h->user != NULL) {
		us = talloc_asprintf(b->mem, "%s@", h->user);
		ut = talloc_asprintf(b->mem, "%s@", enc(b->mem, h->user,
							NAME_SPECIAL));
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
		h->spec = "";
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

		text = v == NULL ? NULL : talloc_asprintf_append_buffer(text,
				"%c%s=%s", i == 0 ? '?' : '&', h->opts[i].key, v);
	}
	h->text = text;
	return text != NULL ? 0 : -ENOMEM;
}

/* What a method needs: a host, a container (or docker's image=). */
static int check_required(struct hopb *b, const struct mg__span *spec)
{
	const struct mg_hop *h = &b->hop;
	bool image = b->image_col != 0;

	if (b->m->spec == MG_SPEC_HOST && h->host == NULL) {
		return mg__chain_fail(b->p, spec->end_col, "%s needs a host: %s",
				      b->m->name, usage(b->p, b->m));
	}
	if (b->m->spec != MG_SPEC_CONTAINER) {
		return 0;
	}
	if (h->host != NULL && image) {
		return mg__chain_fail(b->p, b->image_col, "give either a "
				      "container or image=, not both");
	}
	if (h->host == NULL && !image) {
		return mg__chain_fail(b->p, spec->end_col, "%s needs a %s: %s",
				      b->m->name, noun(b->m), usage(b->p, b->m));
	}
	return 0;
}

static int method_hop(struct mg__chain_parser *p, struct mg_chain_list *segs,
		      const struct mg_method *m, const struct mg__span *spec,
		      const struct mg__span *tail)
{
	TALLOC_CTX *tmp_ctx = talloc_new(NULL);
	const struct mg_hop *ptr;
	struct mg_chain *slot;
	struct hopb b;
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
	switch (m->spec) {
	case MG_SPEC_HOST:
		r = spec_host(&b, spec);
		break;
	case MG_SPEC_USER:
		r = spec->n > 0 ? check_raw(&b, spec, ":@[]") : 0;
		if (r == 0 && spec->n > 0) {
			r = set_user(&b, spec);
		}
		break;
	case MG_SPEC_CONTAINER:
		if (strcmp(m->name, "setns") == 0) {
			r = spec_setns(&b, spec);
		} else {
			r = spec_container(&b, spec);
		}
		break;
	case MG_SPEC_NONE:
	default:
		r = 0;
		if (spec->n > 0) {
			r = mg__chain_fail(p, spec->col[0], "%s takes nothing "
					   "after ':'", m->name);
		}
		break;
	}
	if (r != 0 || (tail != NULL && (r = parse_opts(&b, tail)) != 0)
	    || (r = check_required(&b, spec)) != 0
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

static const struct mg_method *find_method(const char *s, size_t n)
{
	char name[32];

	if (n == 0 || n >= sizeof(name)) {
		return NULL;
	}
	memcpy(name, s, n);
	name[n] = '\0';
	return mg__method_find(name);
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
	r = mg__chain_parse_text(p, p->tmp, a->text, strlen(a->text), &inner);
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
	if (!p->cfg_loaded) {
		char *msg = NULL;
		int r = mg__config_load(p->tmp, &p->cfg, &msg);

		if (r != 0) {
			p->errmsg = msg;
			return r;
		}
		p->cfg_loaded = true;
	}
	*_a = mg__config_alias(p->cfg, h->s, h->n);
	return 0;
}

/* A lower-case bare word one swap away from a method ("lcoal"), or a
 * method in other case ("SUDO"): surely a typo, not a host. */
static const char *typo_of_method(const struct mg__span *h)
{
	for (size_t i = 0; mg__methods[i] != NULL; i++) {
		const char *name = mg__methods[i]->name;
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
	for (size_t i = 0; mg__methods[i] != NULL; i++) {
		mg__suggest_try(&sg, mg__methods[i]->name);
		if (names != NULL) {
			names = talloc_asprintf_append_buffer(names, "%s%s",
					i > 0 ? ", " : "", mg__methods[i]->name);
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
	const struct mg_method *m = NULL;
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
		spec = sub(head, t < head->n ? t + 1 : t, head->n);
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

		return mg__chain_fail(p, head->col[0], "unknown method '%s' (did "
				      "you mean '%s'? write ssh:%s for a host "
				      "of that name)", w, typo_of_method(head), w);
	}
	if (t < head->n && head->s[t] == ':'
	    && !(t + 1 < head->n && isdigit((unsigned char)head->s[t + 1]))) {
		if (t == 0) {
			return mg__chain_fail(p, head->col[0], "expected a method "
					      "or host before ':'");
		}
		return unknown_method(p, head, t);
	}
	/* A bare host: ssh. */
	if ((m = mg__method_find("ssh")) == NULL) {
		return mg__chain_fail(p, head->col[0], "'%s' is no method or "
				      "alias", quote(p, head->s, head->n));
	}
	return method_hop(p, segs, m, head, tail);
}
