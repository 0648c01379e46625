/* OpenSSH's command line for fakessh: see ssh-opts.h. */
#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "ssh-opts.h"

const char mg_ssh_cmdline_usage[] =
	"usage: fakessh [-46AaCfGgKkMNnqsTtVvXxYy] [-B bind_interface] [-b bind_address]\n"
	"           [-c cipher_spec] [-D [bind_address:]port] [-E log_file]\n"
	"           [-e escape_char] [-F configfile] [-I pkcs11] [-i identity_file]\n"
	"           [-J destination] [-L address] [-l login_name] [-m mac_spec]\n"
	"           [-O ctl_cmd] [-o option] [-P tag] [-p port] [-R address]\n"
	"           [-S ctl_path] [-W host:port] [-w local_tun[:remote_tun]]\n"
	"           destination [command [argument ...]]\n";

/* ssh's getopt string, less the letters: those with ':' take an argument. */
static const char optstring[] =
	"1246ab:c:e:fgi:kl:m:no:p:qstvxAB:CD:E:F:GI:J:KL:MNO:P:Q:R:S:TVw:W:XYy";

/* Flags and argument options that a real ssh on the first hop may use. */
static const char pass_flags[] = "46AaCgKkMXxYy";
static const char pass_args[] = "BbcDEFIJLmRS";

struct parse {
	TALLOC_CTX *ctx;
	struct mg_ssh_cmdline *o;
	char **errmsg;
};

static int push(struct parse *p, const char ***v, size_t *n, const char *s)
{
	const char **nv = talloc_realloc(p->o, *v, const char *, *n + 2);

	if (nv == NULL) {
		return -ENOMEM;
	}
	nv[*n] = talloc_strdup(nv, s);
	nv[*n + 1] = NULL;
	*v = nv;
	if (nv[*n] == NULL) {
		return -ENOMEM;
	}
	(*n)++;
	return 0;
}

/* An error in ssh's words, with a string or an option letter. */
static int fail(struct parse *p, const char *fmt, const char *arg)
{
	*p->errmsg = talloc_asprintf(p->ctx, fmt, arg);
	return *p->errmsg != NULL ? -EINVAL : -ENOMEM;
}

static int fail_opt(struct parse *p, const char *fmt, char opt)
{
	*p->errmsg = talloc_asprintf(p->ctx, fmt, opt);
	return *p->errmsg != NULL ? -EINVAL : -ENOMEM;
}

static int note(struct parse *p, const char *what)
{
	return push(p, &p->o->notes, &p->o->n_notes, what);
}

/* A port as ssh's a2port takes it: 1 to 65535, decimal. */
static int parse_port(struct parse *p, const char *text)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(text, &end, 10);
	if (!isdigit((unsigned char)text[0]) || *end != '\0' || errno != 0 || v < 1 || v > 65535) {
		return fail(p, "Bad port '%s'", text);
	}
	if (p->o->port == 0) {
		p->o->port = (int)v;
		p->o->port_before_dest = p->o->dest == NULL;
	}
	return 0;
}

static void set_user(struct parse *p, const char *user)
{
	if (p->o->user == NULL) {
		p->o->user = talloc_strdup(p->o, user);
		p->o->user_before_dest = p->o->dest == NULL;
	}
}

static int host_keys(struct parse *p, const char *v)
{
	const char *mode = strcasecmp(v, "yes") == 0 || strcasecmp(v, "ask") == 0 ? "enforce"
			 : strcasecmp(v, "accept-new") == 0 ? "accept"
			 : strcasecmp(v, "no") == 0 || strcasecmp(v, "off") == 0 ? "ignore" : NULL;

	if (mode == NULL) {
		return fail(p, "unsupported StrictHostKeyChecking value '%s'", v);
	}
	if (p->o->check_host_keys == NULL) {
		p->o->check_host_keys = mode;
	}
	return 0;
}

/* The words of a SendEnv or SetEnv value, as ssh_config splits them:
 * blanks between, quotes and backslashes honoured. */
static int split_words(struct parse *p, const char *v, const char ***_w, size_t *_n)
{
	char *cur = NULL, q = 0;
	int ret;

	for (;; v++) {
		char c = *v;
		if (c == '\0' || (q == 0 && (c == ' ' || c == '\t'))) {
			if (q != 0) {
				return fail(p, "unterminated quote in \"%s\"", cur);
			}
			if (cur != NULL && (ret = push(p, _w, _n, cur)) != 0) {
				return ret;
			}
			cur = NULL;
			if (c == '\0') {
				return 0;
			}
			continue;
		}
		cur = cur != NULL ? cur : talloc_strdup(p->ctx, "");
		if (cur == NULL) {
			return -ENOMEM;
		}
		if (q == 0 && (c == '"' || c == '\'')) {
			q = c;
			continue;
		}
		if (q == c) {
			q = 0;
			continue;
		}
		if (c == '\\' && q != '\'' && v[1] != '\0') {
			c = *++v;
		}
		cur = talloc_asprintf_append_buffer(cur, "%c", c);
		if (cur == NULL) {
			return -ENOMEM;
		}
	}
}

/* SendEnv: add name patterns; "-PATTERN" takes out those it matches. */
static int send_env(struct parse *p, const char *const *w, size_t n)
{
	struct mg_ssh_cmdline *o = p->o;

	for (size_t i = 0; i < n; i++) {
		if (w[i][0] != '-') {
			int ret = push(p, &o->send_env, &o->n_send_env, w[i]);
			if (ret != 0) {
				return ret;
			}
			continue;
		}
		for (size_t k = 0; k < o->n_send_env;) {
			if (fnmatch(w[i] + 1, o->send_env[k], 0) == 0) {
				memmove(&o->send_env[k], &o->send_env[k + 1], (o->n_send_env - k) * sizeof(char *));
				o->n_send_env--;
			} else {
				k++;
			}
		}
	}
	return 0;
}

/* SetEnv: K=V words; only the first SetEnv counts, as in ssh, and in it
 * a name's first value. */
static int set_env(struct parse *p, const char *const *w, size_t n)
{
	struct mg_ssh_cmdline *o = p->o;
	bool first = !o->set_env_given;

	o->set_env_given = true;
	for (size_t i = 0; i < n; i++) {
		size_t len = strcspn(w[i], "=");
		bool dup = false;
		if (w[i][len] != '=' || len == 0) {
			return fail(p, "Invalid SetEnv '%s'", w[i]);
		}
		for (size_t k = 0; k < o->n_set_env; k++) {
			dup = dup || (strncmp(o->set_env[k], w[i], len + 1) == 0);
		}
		if (first && !dup) {
			int ret = push(p, &o->set_env, &o->n_set_env, w[i]);
			if (ret != 0) {
				return ret;
			}
		}
	}
	return 0;
}

static bool is_yes(const char *v)
{
	return strcasecmp(v, "yes") == 0 || strcasecmp(v, "true") == 0;
}

/*
 * Keys about the session rather than the connection: they are ours to
 * apply, never words for the hop's ssh (a RequestTTY=force or a
 * RemoteCommand there would break the hop itself). 1: not one of them.
 */
static int session_option(struct parse *p, const char *key, const char *v)
{
	struct mg_ssh_cmdline *o = p->o;
	const char **w = NULL;
	size_t n = 0;
	int ret;

	if (strcasecmp(key, "SendEnv") == 0 || strcasecmp(key, "SetEnv") == 0) {
		ret = split_words(p, v, &w, &n);
		ret = ret != 0 ? ret : strcasecmp(key, "SendEnv") == 0 ? send_env(p, w, n) : set_env(p, w, n);
		talloc_free(w);
		return ret;
	}
	if (strcasecmp(key, "RequestTTY") == 0) {
		int t = strcasecmp(v, "no") == 0 || strcasecmp(v, "false") == 0 ? MG_SSH_TTY_NO
		      : is_yes(v) ? MG_SSH_TTY_YES : strcasecmp(v, "force") == 0 ? MG_SSH_TTY_FORCE
		      : strcasecmp(v, "auto") == 0 ? MG_SSH_TTY_AUTO : MG_SSH_TTY_UNSET;
		if (t == MG_SSH_TTY_UNSET) {
			return fail(p, "unsupported RequestTTY value '%s'", v);
		}
		o->request_tty = o->request_tty != MG_SSH_TTY_UNSET ? o->request_tty : t;
		return 0;
	}
	if (strcasecmp(key, "RemoteCommand") == 0) {
		if (o->remote_command == NULL && strcasecmp(v, "none") != 0) {
			o->remote_command = talloc_strdup(o, v);
			return o->remote_command != NULL ? 0 : -ENOMEM;
		}
		return 0;
	}
	if (strcasecmp(key, "SessionType") == 0) {
		o->no_command = o->no_command || strcasecmp(v, "none") == 0;
		o->subsystem = o->subsystem || strcasecmp(v, "subsystem") == 0;
		return 0;
	}
	if (strcasecmp(key, "StdinNull") == 0) {
		o->null_stdin = o->null_stdin || is_yes(v);
		return 0;
	}
	if (strcasecmp(key, "ForkAfterAuthentication") == 0) {
		o->background = o->background || is_yes(v);
		return 0;
	}
	return 1;
}

/* LogLevel's value as an MG_SSH_LOG_*; UNSET for a name ssh lacks. */
static int log_level(const char *v)
{
	static const struct { const char *name; int level; } map[] = {
		{ "QUIET", MG_SSH_LOG_QUIET }, { "FATAL", MG_SSH_LOG_QUIET },
		{ "ERROR", MG_SSH_LOG_ERROR }, { "INFO", MG_SSH_LOG_INFO },
		{ "VERBOSE", MG_SSH_LOG_INFO }, { "DEBUG", MG_SSH_LOG_DEBUG1 },
		{ "DEBUG1", MG_SSH_LOG_DEBUG1 }, { "DEBUG2", MG_SSH_LOG_DEBUG2 },
		{ "DEBUG3", MG_SSH_LOG_DEBUG3 },
	};

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		if (strcasecmp(v, map[i].name) == 0) {
			return map[i].level;
		}
	}
	return MG_SSH_LOG_UNSET;
}

/* -o: "K=V", "K V" or "K = V"; the keys we apply, the rest for ssh. */
static int option(struct parse *p, const char *text)
{
	size_t klen = strcspn(text, "= \t");
	const char *v = text + klen;
	char *key = talloc_strndup(p->ctx, text, klen);
	char *pair;
	int ret;

	v += strspn(v, " \t");
	if (*v == '=') {
		v++;
		v += strspn(v, " \t");
	}
	if (key == NULL) {
		return -ENOMEM;
	}
	if (klen == 0 || *v == '\0') {
		return fail(p, "no argument after keyword \"%s\"", key);
	}
	if (strcasecmp(key, "User") == 0) {
		set_user(p, v);
		return 0;
	}
	if (strcasecmp(key, "Port") == 0) {
		return parse_port(p, v);
	}
	if (strcasecmp(key, "IdentityFile") == 0) {
		return push(p, &p->o->identities, &p->o->n_identities, v);
	}
	if (strcasecmp(key, "StrictHostKeyChecking") == 0) {
		return host_keys(p, v);
	}
	if ((ret = session_option(p, key, v)) != 1) {
		return ret;
	}
	if (strcasecmp(key, "LogLevel") == 0) {
		int l = log_level(v);
		if (l == MG_SSH_LOG_UNSET) {
			return fail(p, "unsupported LogLevel value '%s'", v);
		}
		/* Ours, and the first ssh hop's ssh's too. */
		p->o->log_level = p->o->log_level != MG_SSH_LOG_UNSET ? p->o->log_level : l;
	}
	pair = talloc_asprintf(p->ctx, "%s=%s", key, v);
	if (pair == NULL || push(p, &p->o->ssh_args, &p->o->n_ssh_args, "-o") != 0) {
		return -ENOMEM;
	}
	return push(p, &p->o->ssh_args, &p->o->n_ssh_args, pair);
}

static int flag(struct parse *p, char c)
{
	struct mg_ssh_cmdline *o = p->o;
	char word[3] = { '-', c, '\0' };

	switch (c) {
	/* The last of -t and -T counts, as in ssh: -T -tt forces one. */
	case 't': o->tty++; o->no_tty = false; return 0;
	case 'v': o->verbose++; return 0;
	case 'T': o->no_tty = true; o->tty = 0; return 0;
	case 'n': o->null_stdin = true; return 0;
	case 'q': o->quiet = true; return 0;
	case 'N': o->no_command = true; return 0;
	case 'G': o->dump_config = true; return 0;
	case 'V': o->version = true; return 0;
	case 's': o->subsystem = true; return 0;
	case 'f': o->background = true; return 0;
	default: break;
	}
	if (strchr(pass_flags, c) != NULL) {
		return push(p, &o->ssh_args, &o->n_ssh_args, word);
	}
	/* -1 -2 (obsolete). */
	return note(p, word);
}

static int with_arg(struct parse *p, char c, const char *arg)
{
	struct mg_ssh_cmdline *o = p->o;
	char word[3] = { '-', c, '\0' };
	int ret;

	switch (c) {
	case 'l': set_user(p, arg); return 0;
	case 'p': return parse_port(p, arg);
	case 'i': return push(p, &o->identities, &o->n_identities, arg);
	case 'o': return option(p, arg);
	case 'Q': o->query = talloc_strdup(o, arg); return o->query != NULL ? 0 : -ENOMEM;
	case 'O': o->ctl_cmd = talloc_strdup(o, arg); return o->ctl_cmd != NULL ? 0 : -ENOMEM;
	case 'W': o->stdio_forward = talloc_strdup(o, arg); return o->stdio_forward != NULL ? 0 : -ENOMEM;
	case 'E':
		/* Ours, and the first ssh hop's ssh's too (its messages). */
		o->log_file = talloc_strdup(o, arg);
		if (o->log_file == NULL) {
			return -ENOMEM;
		}
		break;
	case 'P': {
		/* -P TAG is OpenSSH 9.4's; older ones took -P alone and would
		 * read TAG as the host: as an option it fails plainly there. */
		char *tag = talloc_asprintf(p->ctx, "Tag=%s", arg);
		ret = tag != NULL ? push(p, &o->ssh_args, &o->n_ssh_args, "-o") : -ENOMEM;
		return ret != 0 ? ret : push(p, &o->ssh_args, &o->n_ssh_args, tag);
	}
	default: break;
	}
	if (strchr(pass_args, c) != NULL) {
		ret = push(p, &o->ssh_args, &o->n_ssh_args, word);
		return ret != 0 ? ret : push(p, &o->ssh_args, &o->n_ssh_args, arg);
	}
	/* -e escape character, -w tunnel. */
	return note(p, word);
}

/* One word of bundled options ("-tt", "-p22", "-oUser=x", "-vT"); *i
 * moves past a separate argument. */
static int cluster(struct parse *p, int argc, const char *const *argv, int *i)
{
	const char *w = argv[*i];

	for (size_t k = 1; w[k] != '\0'; k++) {
		const char *spec = w[k] != ':' ? strchr(optstring, w[k]) : NULL;
		int ret;

		if (spec == NULL) {
			return fail_opt(p, "unknown option -- %c", w[k]);
		}
		if (spec[1] != ':') {
			if ((ret = flag(p, w[k])) != 0) {
				return ret;
			}
			continue;
		}
		if (w[k + 1] != '\0') {
			return with_arg(p, w[k], w + k + 1);
		}
		if (*i + 1 >= argc) {
			return fail_opt(p, "option requires an argument -- %c", w[k]);
		}
		(*i)++;
		return with_arg(p, w[k], argv[*i]);
	}
	return 0;
}

static int parse_all(struct parse *p, int argc, const char *const *argv)
{
	struct mg_ssh_cmdline *o = p->o;
	int i = 1, ret;

	/* Options until DEST, again after it until "--" or a COMMAND word. */
	for (; i < argc; i++) {
		const char *w = argv[i];

		if (strcmp(w, "--") == 0) {
			i++;
			break;
		}
		if (w[0] == '-' && w[1] != '\0') {
			if ((ret = cluster(p, argc, argv, &i)) != 0) {
				return ret;
			}
			continue;
		}
		if (o->dest != NULL) {
			break;
		}
		o->dest = talloc_strdup(o, w);
		if (o->dest == NULL) {
			return -ENOMEM;
		}
	}
	if (o->dest == NULL && i < argc) {
		o->dest = talloc_strdup(o, argv[i++]);
		if (o->dest == NULL) {
			return -ENOMEM;
		}
	}
	for (; i < argc; i++) {
		if ((ret = push(p, &o->command, &o->n_command, argv[i])) != 0) {
			return ret;
		}
	}
	return 0;
}

int mg_ssh_cmdline_parse(TALLOC_CTX *mem_ctx, int argc, const char *const *argv,
		      struct mg_ssh_cmdline **_opts, char **_errmsg)
{
	struct parse p = { .ctx = mem_ctx, .errmsg = _errmsg };
	int ret;

	*_opts = NULL;
	*_errmsg = NULL;
	p.o = talloc_zero(mem_ctx, struct mg_ssh_cmdline);
	if (p.o == NULL) {
		return -ENOMEM;
	}
	p.o->command = talloc_zero_array(p.o, const char *, 1);
	p.o->identities = talloc_zero_array(p.o, const char *, 1);
	p.o->ssh_args = talloc_zero_array(p.o, const char *, 1);
	p.o->notes = talloc_zero_array(p.o, const char *, 1);
	p.o->send_env = talloc_zero_array(p.o, const char *, 1);
	p.o->set_env = talloc_zero_array(p.o, const char *, 1);
	if (p.o->command == NULL || p.o->identities == NULL || p.o->ssh_args == NULL ||
	    p.o->notes == NULL || p.o->send_env == NULL || p.o->set_env == NULL) {
		talloc_free(p.o);
		return -ENOMEM;
	}
	ret = parse_all(&p, argc, argv);
	if (ret != 0) {
		talloc_free(p.o);
		return ret;
	}
	*_opts = p.o;
	return 0;
}
