/*
 * The spec and options of one hop: "[user@]host[:port]", "[user]",
 * "[user@]container", "kind:[user@]container", then "?key=value&...",
 * percent-decoded and checked (chain-hop.c builds the hop around them).
 */
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include "scan.h"
#include "mitogen/error.h"
#include "chain-private.h"
#include "chain-value.h"

/* Options that may repeat: every value is kept, in order. */
static const char *const list_options[] = {
	"ssh_args", "sudo_args", "kubectl_args", "incorrect_prompts", NULL,
};

static const char *const setns_kinds[] = {
	"docker", "lxc", "lxd", "machinectl", NULL,
};

/* Percent-decoded text; col[i] is the column of the byte, or of its '%'. */
struct dec {
	char *s;
	int *col;
	size_t n;
	int end_col;
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
static const char *usage(struct mg__chain_parser *p, const struct mg_method_syntax *m)
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
		form = ":[USER@]HOST[:PORT]";
		break;
	case MG_SPEC_USER:
		form = "[:USER]";
		break;
	case MG_SPEC_CONTAINER:
		form = in_list(m->options, "username", 8)
		       ? ":[USER@]CONTAINER" : ":CONTAINER";
		break;
	case MG_SPEC_NONE:
	default:
		form = " with nothing after it";
		break;
	}
	s = talloc_asprintf(p->tmp, "%s%s", m->name, form);
	return s != NULL ? s : m->name;
}

static const char *noun(const struct mg_method_syntax *m)
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
			v = (unsigned)(mg__hexval(in->s[i + 1]) * 16 + mg__hexval(in->s[i + 2]));
			if (v == 0) {
				return mg__chain_fail(p, in->col[i], "%%00 (a "
						      "NUL byte) is not "
						      "allowed");
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
static int check_raw(struct mg__hop_build *b, const struct mg__span *sp,
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

static int set_user(struct mg__hop_build *b, const struct mg__span *sp)
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

static int set_host(struct mg__hop_build *b, const struct mg__span *sp,
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
		return mg__chain_fail(b->p, sp->col[eq - sp->s], "'=' in %s "
				      "(the path-safe spelling "
				      "ssh=HOST+sudo=USER cannot be mixed "
				      "with ':' or '/')", what);
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
static int spec_host(struct mg__hop_build *b, const struct mg__span *sp)
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
static int spec_container(struct mg__hop_build *b, const struct mg__span *sp)
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

static int set_kind(struct mg__hop_build *b, const struct dec *d, int col)
{
	if (!in_list(setns_kinds, d->s, d->n)) {
		struct mg__suggest sg;

		mg__suggest_init(&sg, d->s, d->n);
		for (size_t i = 0; setns_kinds[i] != NULL; i++) {
			mg__suggest_try(&sg, setns_kinds[i]);
		}
		return mg__chain_fail(b->p, col, "unknown setns kind '%s' "
				      "(%s%s%s)", quote(b->p, d->s, d->n),
				      sg.best != NULL ? "did you mean '" :
				      "expected docker, lxc, lxd or machinectl",
				      sg.best != NULL ? sg.best : "",
				      sg.best != NULL ? "'?" : "");
	}
	b->kind = d->s;
	return 0;
}

/* kind:[user@]container */
static int spec_setns(struct mg__hop_build *b, const struct mg__span *sp)
{
	const char *c = memchr(sp->s, ':', sp->n);
	struct mg__span kind, rest;
	struct dec d;
	int r;

	if (sp->n == 0) {
		return 0;
	}
	if (c == NULL) {
		return mg__chain_fail(b->p, sp->col[0], "expected "
				      "KIND:CONTAINER (KIND is docker, lxc, "
				      "lxd or machinectl)");
	}
	kind = sub(sp, 0, (size_t)(c - sp->s));
	rest = sub(sp, kind.n + 1, sp->n);
	if ((r = decode(b->p, b->mem, &kind, &d)) != 0
	    || (r = set_kind(b, &d, col_at(sp, 0))) != 0) {
		return r;
	}
	if (rest.n == 0) {
		return mg__chain_fail(b->p, rest.end_col, "expected a container "
				      "after '%s:'", d.s);
	}
	return spec_container(b, &rest);
}

static int unknown_option(struct mg__hop_build *b, const struct mg__span *key)
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
	for (size_t i = 0; sg.best == NULL && mg__method_syntaxes[i].name != NULL; i++) {
		if (in_list(mg__method_syntaxes[i].options, key->s, key->n)) {
			other = mg__method_syntaxes[i].name;
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

static bool known_option(const struct mg_method_syntax *m, const struct mg__span *key)
{
	return in_list(m->options, key->s, key->n)
	       || in_list(mg__common_options, key->s, key->n);
}

/* key=value, the value decoded: username= and port= go to hop->user and
 * hop->port. The hop's opts has room for it. */
static int add_value(struct mg__hop_build *b, const struct mg__span *key,
		     const struct dec *d)
{
	struct mg_hop *h = &b->hop;
	char *k, *msg = NULL;
	int r;

	if (!known_option(b->m, key)) {
		return unknown_option(b, key);
	}
	if ((k = talloc_strndup(b->mem, key->s, key->n)) == NULL) {
		return -ENOMEM;
	}
	if (strcmp(k, "username") == 0) {
		if (h->user != NULL) {
			return mg__chain_fail(b->p, key->col[0], "%s",
					      b->user_from_opt
					      ? "option 'username' given twice"
					      : "user given twice: in the spec "
						"and as username=");
		}
		b->user_from_opt = true;
		if ((r = check_name(b->p, d, "user", USER_BAD)) != 0) {
			return r;
		}
		h->user = d->s;
		return 0;
	}
	if (strcmp(k, "port") == 0) {
		if (h->port != 0) {
			return mg__chain_fail(b->p, key->col[0], "%s",
					      b->port_from_opt
					      ? "option 'port' given twice"
					      : "port given twice: in the spec "
						"and as port=");
		}
		b->port_from_opt = true;
		return parse_port(b->p, d, &h->port);
	}
	if (!in_list(list_options, k, key->n) && mg_hop_opt(h, k) != NULL) {
		return mg__chain_fail(b->p, key->col[0], "option '%s' given "
				      "twice (only %s, %s, %s and %s may "
				      "repeat)", k, list_options[0],
				      list_options[1], list_options[2],
				      list_options[3]);
	}
	/* A value whose form is wrong fails here, before any hop starts,
	 * in the words the hop would use. */
	if ((r = mg__value_check(b->p->tmp, k, d->s, &msg)) != 0) {
		b->p->bad_value = r == -EINVAL;
		return r == -EINVAL ? mg__chain_fail(b->p, key->col[0], "%s", msg) : r;
	}
	if (strcmp(k, "image") == 0) {
		b->image_col = key->col[0];
	}
	if (strcmp(k, "ssh_args") == 0 || strcmp(k, "sudo_args") == 0) {
		b->args_col = key->col[0];
	}
	h->opts[h->n_opts].key = k;
	h->opts[h->n_opts].value = d->s;
	h->n_opts++;
	return 0;
}

static int add_option(struct mg__hop_build *b, const struct mg__span *key,
		      const struct mg__span *value)
{
	struct dec d;
	int r;

	if (!known_option(b->m, key)) {
		return unknown_option(b, key);
	}
	if ((r = decode(b->p, b->mem, value, &d)) != 0) {
		return r;
	}
	return add_value(b, key, &d);
}

int mg__chain_opts(struct mg__hop_build *b, const struct mg__span *tail)
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
			return mg__chain_fail(b->p, col_at(tail, start),
					      "expected key=value after '%c'",
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

/* What a method needs: a host, a container (or docker's image=). */
/* The tool's flags end with their arguments: see mg__value_args_end(). */
static int check_args_end(struct mg__hop_build *b)
{
	const char *key = strcmp(b->m->name, "ssh") == 0 ? "ssh_args" : "sudo_args";
	const char *v = mg_hop_opt(&b->hop, key);
	char *msg = NULL;
	int r;

	if (v == NULL || (r = mg__value_args_end(b->p->tmp, key, v, &msg)) == 0) {
		return 0;
	}
	b->p->bad_value = r == -EINVAL;
	return r == -EINVAL ? mg__chain_fail(b->p, b->args_col, "%s", msg) : r;
}

int mg__chain_check(struct mg__hop_build *b, const struct mg__span *spec)
{
	const struct mg_hop *h = &b->hop;
	bool image = mg_hop_opt(h, "image") != NULL;
	int r;

	if ((r = check_args_end(b)) != 0) {
		return r;
	}

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

int mg__chain_spec(struct mg__hop_build *b, const struct mg__span *spec)
{
	int r;

	switch (b->m->spec) {
	case MG_SPEC_HOST:
		r = spec_host(b, spec);
		break;
	case MG_SPEC_USER:
		r = spec->n > 0 ? check_raw(b, spec, ":@[]") : 0;
		if (r == 0 && spec->n > 0) {
			r = set_user(b, spec);
		}
		break;
	case MG_SPEC_CONTAINER:
		if (strcmp(b->m->name, "setns") == 0) {
			r = spec_setns(b, spec);
		} else {
			r = spec_container(b, spec);
		}
		break;
	case MG_SPEC_NONE:
	default:
		r = 0;
		if (spec->n > 0) {
			r = mg__chain_fail(b->p, spec->col[0], "%s takes "
					   "nothing after ':'", b->m->name);
		}
		break;
	}
	return r;
}

/* A verbatim value as the checks above take it, with no columns (so
 * their messages have no "column N:"). */
static int dec_of(TALLOC_CTX *mem, const char *s, struct dec *d)
{
	d->n = strlen(s);
	d->s = talloc_strdup(mem, s);
	d->col = talloc_zero_array(mem, int, d->n + 1);
	d->end_col = 0;
	return d->s != NULL && d->col != NULL ? 0 : -ENOMEM;
}

static int fields_host(struct mg__hop_build *b, const struct mg__hop_fields *f)
{
	bool setns = strcmp(b->m->name, "setns") == 0;
	struct dec d;
	int r;

	if (f->kind != NULL && !setns) {
		return mg__chain_fail(b->p, 0, "%s takes no kind", b->m->name);
	}
	if (setns && f->kind == NULL && f->host != NULL) {
		return mg__chain_fail(b->p, 0, "expected KIND:CONTAINER (KIND is "
				      "docker, lxc, lxd or machinectl)");
	}
	if (f->kind != NULL && ((r = dec_of(b->mem, f->kind, &d)) != 0
				|| (r = set_kind(b, &d, 0)) != 0)) {
		return r;
	}
	if (f->kind != NULL && f->host == NULL) {
		return mg__chain_fail(b->p, 0, "expected a container after "
				      "'%s:'", b->kind);
	}
	if (f->host == NULL) {
		return 0;
	}
	if (b->m->spec != MG_SPEC_HOST && b->m->spec != MG_SPEC_CONTAINER) {
		return mg__chain_fail(b->p, 0, "%s takes no host", b->m->name);
	}
	if ((r = dec_of(b->mem, f->host, &d)) != 0
	    || (r = check_name(b->p, &d, b->m->spec == MG_SPEC_HOST ? "host"
			       : noun(b->m), HOST_BAD)) != 0) {
		return r;
	}
	b->hop.host = d.s;
	return 0;
}

int mg__chain_fields(struct mg__hop_build *b, const struct mg__hop_fields *f)
{
	int r;

	if ((r = fields_host(b, f)) != 0) {
		return r;
	}
	b->hop.opts = talloc_array(b->mem, struct mg_hop_opt, f->n_opts + 1);
	if (b->hop.opts == NULL) {
		return -ENOMEM;
	}
	for (size_t i = 0; i < f->n_opts; i++) {
		const char *k = f->opts[i].key;
		int *cols = talloc_zero_array(b->mem, int, strlen(k) + 1);
		struct mg__span key = { k, cols, strlen(k), 0 };
		struct dec d;

		if (cols == NULL) {
			return -ENOMEM;
		}
		if ((r = dec_of(b->mem, f->opts[i].value, &d)) != 0
		    || (r = add_value(b, &key, &d)) != 0) {
			return r;
		}
	}
	return 0;
}
