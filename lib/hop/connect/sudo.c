/* sudo: become [user] (default root) on the same host (mitogen.md 3.2).
 * argv: sudo -p mitogen-sudo-prompt: -u USER [-E] [-H] [-i] [-r ROLE]
 * [-t TYPE] -- BOOT (with -i, no -p: see login_prompt); sudo_args is
 * parsed for those flags.
 * Short options only: sudo releases before 2013 have no long ones.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include "boot.h"
#include "become.h"
#include "method.h"
#include "mitogen/error.h"

/*
 * The prompt we make sudo print with -p, whatever its locale and sudoers'
 * passprompt say (unless passprompt_override is set: password_prompt=
 * then adds the text it prints).
 */
#define SUDO_PROMPT "mitogen-sudo-prompt:"

/*
 * sudo.ws prints the -p text as it is; sudo-rs as "[sudo: TEXT] " and its
 * own, translated, "Password: " ("Mot de passe\u00a0: ", "密码： "). Either
 * must end the output seen so far: once a '*' (pwfeedback) or a newline
 * follows, the prompt was answered. The first form must not be the start
 * of the second ("[sudo: mitogen-sudo-prompt:" read before "] ..."), or
 * one prompt would be seen twice, and twice means a wrong password.
 * TEXT holds no character special in an ERE.
 */
#define SUDO_PROMPT_FMT "(^|[^ ])%s$|\\[sudo: %s] [^*\n]{1,50}$"

/* After a password was sent: sudo.ws, then sudo-rs. sudo.ws's last
 * refusal is "sudo: N incorrect password attempts", translated with the
 * count first in most languages ("sudo: 1 Fehlversuch ..."), and in its
 * po files (1.8.20 to 1.9.17) otherwise in ka, ko, ro, uk and vi; its
 * "Sorry, try again" needs no translation: the prompt that follows says
 * it. */
static const char *const sudo_incorrect[] = {
	"sorry, try again",
	"^sudo(-rs)?: [0-9]+ [^ ]",
	"^sudo: ((o \xc3\xaencercare|dou\xc4\x83 \xc3\xaencerc\xc4\x83ri) de parol\xc4\x83|"  /* ro */
	"\xd0\xbe\xd0\xb4\xd0\xbd\xd0\xb0 \xd0\xbd\xd0\xb5\xd0\xb2\xd0\xb4\xd0\xb0\xd0\xbb"  /* uk */
	"\xd0\xb0 |"
	"\xec\x9e\x98\xeb\xaa\xbb\xeb\x90\x9c \xec\x95\x94\xed\x98\xb8 |"  /* ko */
	"\xe1\x83\x90\xe1\x83\xa0\xe1\x83\x90\xe1\x83\xa1\xe1\x83\xac\xe1\x83\x9d\xe1\x83\xa0"  /* ka */
	"\xe1\x83\x98 |"
	"\xc4\x91\xc3\xa3 sai m\xe1\xba\xadt kh\xe1\xba\xa9u [0-9])",  /* vi */
	"authentication failed, try again",
	"incorrect authentication attempt",
	NULL,
};

/* Texts of sudo.ws (1.8, 1.9) and sudo-rs. The messages must not say
 * "authentication": the engine reads that as a refused password. */
static const struct mg__become_error sudo_errors[] = {
	{ "a terminal is required|no tty present|you must have a tty", MG_ERR_BOOT,
	  "sudo found no terminal to read the password from" },
	{ "is not in the sudoers file|i'm sorry .*i'm afraid i can't do that", -EACCES,
	  "the calling user may not run sudo here (not in sudoers)" },
	{ "is not allowed to (run|execute)|may not run ", -EACCES,
	  "the calling user is not allowed to run commands as '%s' here (sudoers)" },
	{ "sudo(-rs)?: a password is required|interactive authentication is required", -EACCES,
	  "sudo password is required" },
	{ "sudo(-rs)?: unknown user|sudo(-rs)?: user '[^']*' not found", MG_ERR_BOOT,
	  "there is no user '%s' here" },
	/* nologin, run as a login shell by sudo -i. */
	{ "this account is currently not available", MG_ERR_BOOT,
	  "user '%s' has no login shell (nologin)" },
	{ "account validation failure|account is locked", -EACCES,
	  "the calling user's account is locked or expired (sudo account validation failed)" },
	{ "you are required to change your password|password has expired", -EACCES,
	  "the calling user's password has expired: change it first" },
	{ NULL, 0, NULL },
};

static const struct mg__become_spec sudo_spec = {
	.what = "sudo",
	.prompt_adds = true,
	.incorrect = sudo_incorrect,
	.errors = sudo_errors,
};

/* What the hop asks of sudo: explicit options, else sudo_args. */
struct sudo_req {
	const char *user;
	bool preserve_env;
	bool set_home;
	bool login;
	const char *role;
	const char *type;
};

/* The value of an option that takes one: "-uX", "-u X", "--user=X",
 * "--user X". NULL with *_errmsg when it is missing. */
static const char *opt_value(TALLOC_CTX *mem_ctx, const char *name, const char *inline_v,
			     char **words, size_t *_i, char **_errmsg)
{
	const char *v = inline_v;

	if (v == NULL) {
		v = words[*_i + 1];
		/* "-u -E" is a forgotten value, not a user called "-E". */
		if (v != NULL && v[0] == '-') {
			v = NULL;
		}
		if (v != NULL) {
			(*_i)++;
		}
	}
	if (v == NULL || v[0] == '\0') {
		*_errmsg = talloc_asprintf(mem_ctx, "sudo: option %s requires an argument", name);
		return NULL;
	}
	return v;
}

/*
 * sudo_args, parsed as mitogen parses it (optparse): -E/--preserve-env,
 * -H/--set-home, -i/--login, -r/--role, -t/--type, -u/--user; -S/--stdin
 * and -n/--non-interactive are accepted and ignored (Ansible passes
 * "-H -S -n": our sudo always has a terminal). Short flags may be grouped
 * ("-HSn", "-Hualice"). Anything else is an error: silently dropping a
 * flag would run something other than what was asked.
 */
static int parse_sudo_args(TALLOC_CTX *mem_ctx, TALLOC_CTX *tmp, char **words,
			   struct sudo_req *from_args, char **_errmsg)
{
	char **left = talloc_zero_array(tmp, char *, 1);
	bool dashdash = false;

	if (left == NULL) {
		return -ENOMEM;
	}
	for (size_t i = 0; words[i] != NULL; i++) {
		const char *w = words[i];

		if (dashdash || w[0] != '-' || w[1] == '\0') {
			if (!mg__strv_add(&left, w)) {
				return -ENOMEM;
			}
			continue;
		}
		if (strcmp(w, "--") == 0) {
			dashdash = true;
			continue;
		}
		if (w[1] == '-') {
			const char *name = w + 2, *eq = strchr(name, '=');
			size_t n = eq != NULL ? (size_t)(eq - name) : strlen(name);
			const char *inl = eq != NULL ? eq + 1 : NULL;
			char *opt = talloc_asprintf(tmp, "--%.*s", (int)n, name);
			bool *flag = NULL;
			const char **value = NULL;

			if (opt == NULL) {
				return -ENOMEM;
			}
			if (strcmp(opt, "--preserve-env") == 0) {
				flag = &from_args->preserve_env;
			} else if (strcmp(opt, "--set-home") == 0) {
				flag = &from_args->set_home;
			} else if (strcmp(opt, "--login") == 0) {
				flag = &from_args->login;
			} else if (strcmp(opt, "--stdin") == 0 || strcmp(opt, "--non-interactive") == 0) {
				flag = NULL;
			} else if (strcmp(opt, "--role") == 0) {
				value = &from_args->role;
			} else if (strcmp(opt, "--type") == 0) {
				value = &from_args->type;
			} else if (strcmp(opt, "--user") == 0) {
				value = &from_args->user;
			} else {
				*_errmsg = talloc_asprintf(mem_ctx, "sudo: unsupported option %s", opt);
				return -EINVAL;
			}
			if (value == NULL && inl != NULL) {
				/* --preserve-env=LIST (sudo 1.8.21) is not mitogen's -E. */
				*_errmsg = talloc_asprintf(mem_ctx, "sudo: option %s takes no value", opt);
				return -EINVAL;
			}
			if (flag != NULL) {
				*flag = true;
			} else if (value != NULL) {
				*value = opt_value(mem_ctx, opt, inl, words, &i, _errmsg);
				if (*value == NULL) {
					return -EINVAL;
				}
			}
			continue;
		}
		for (const char *c = w + 1; *c != '\0'; c++) {
			const char **value = NULL;
			char name[3] = { '-', *c, '\0' };

			switch (*c) {
			case 'E':
				from_args->preserve_env = true;
				break;
			case 'H':
				from_args->set_home = true;
				break;
			case 'i':
				from_args->login = true;
				break;
			case 'S':
			case 'n':
				break;
			case 'r':
				value = &from_args->role;
				break;
			case 't':
				value = &from_args->type;
				break;
			case 'u':
				value = &from_args->user;
				break;
			default:
				*_errmsg = talloc_asprintf(mem_ctx, "sudo: unsupported option %s", name);
				return -EINVAL;
			}
			if (value != NULL) {
				/* The rest of the group, or the next word. */
				*value = opt_value(mem_ctx, name, c[1] != '\0' ? c + 1 : NULL, words, &i,
						   _errmsg);
				if (*value == NULL) {
					return -EINVAL;
				}
				break;
			}
		}
	}
	if (left[0] != NULL) {
		char *joined = mg__shell_join(tmp, (const char *const *)left);
		*_errmsg = joined != NULL
			? talloc_asprintf(mem_ctx, "unsupported sudo arguments: %s", joined) : NULL;
		return joined != NULL ? -EINVAL : -ENOMEM;
	}
	return 0;
}

/* A boolean: the option when written (even "no"), else sudo_args. */
static int explicit_bool(TALLOC_CTX *mem_ctx, const struct mg_hop *hop, const char *key,
			 bool *_value, char **_errmsg)
{
	if (mg_hop_opt(hop, key) == NULL) {
		return 0;
	}
	return mg__hop_bool(mem_ctx, hop, key, false, _value, _errmsg);
}

static int explicit_str(TALLOC_CTX *mem_ctx, const struct mg_hop *hop, const char *key,
			const char **_value, char **_errmsg)
{
	const char *v = mg_hop_opt(hop, key);
	int ret;

	if (v == NULL) {
		return 0;
	}
	if ((ret = mg__value_name(mem_ctx, key, v, _errmsg)) != 0) {
		return ret;
	}
	*_value = v;
	return 0;
}

/* The request of 'hop'; strings point into hop or are allocated on tmp. */
static int sudo_request(TALLOC_CTX *mem_ctx, TALLOC_CTX *tmp, const struct mg_hop *hop,
			struct sudo_req *_req, char **_errmsg)
{
	struct sudo_req r = { 0 };
	char **words = NULL;
	int ret;

	if ((ret = mg__hop_list(mem_ctx, tmp, hop, "sudo_args", &words, _errmsg)) != 0) {
		return ret;
	}
	if ((ret = parse_sudo_args(mem_ctx, tmp, words, &r, _errmsg)) != 0 ||
	    (ret = explicit_bool(mem_ctx, hop, "preserve_env", &r.preserve_env, _errmsg)) != 0 ||
	    (ret = explicit_bool(mem_ctx, hop, "set_home", &r.set_home, _errmsg)) != 0 ||
	    (ret = explicit_bool(mem_ctx, hop, "login", &r.login, _errmsg)) != 0 ||
	    (ret = explicit_str(mem_ctx, hop, "selinux_role", &r.role, _errmsg)) != 0 ||
	    (ret = explicit_str(mem_ctx, hop, "selinux_type", &r.type, _errmsg)) != 0) {
		return ret;
	}
	if (r.login && r.preserve_env) {
		/* sudo.ws refuses the pair with a usage text; say it plainly. */
		*_errmsg = talloc_strdup(mem_ctx, "sudo: login (-i) and preserve_env (-E) "
					 "cannot be combined");
		return -EINVAL;
	}
	if (hop->user != NULL) {
		r.user = hop->user;
	} else if (r.user == NULL) {
		r.user = "root";
	}
	*_req = r;
	return 0;
}

/*
 * sudo -i hands the command to the target's login shell as one line,
 * backslash-escaping every byte but letters, digits, '_', '-' and '$'
 * (sudo 1.9 leaves '$' so that variables expand): the login shell would
 * expand the "$1" and "$f" of the first stage. So with login, the script
 * becomes one with no '$' that rebuilds it: eval "`printf 'TEXT'`", TEXT
 * spelling in octal every byte that printf, the quotes or the backquotes
 * would read. eval keeps sh's $1 and $2 (the image size and the nonce).
 */
static char *dollar_free(TALLOC_CTX *mem_ctx, const char *script)
{
	char *out = talloc_strdup(mem_ctx, "eval \"`printf '");

	for (const unsigned char *p = (const unsigned char *)script; out != NULL && *p != '\0'; p++) {
		if (*p == '%') {
			out = talloc_strdup_append_buffer(out, "%%");
		} else if (strchr("$\\'\"`", *p) != NULL || *p < 0x20 || *p >= 0x7f) {
			out = talloc_asprintf_append_buffer(out, "\\%03o", *p);
		} else {
			out = talloc_strndup_append_buffer(out, (const char *)p, 1);
		}
	}
	return out != NULL ? talloc_strdup_append_buffer(out, "'`\"") : NULL;
}

/* sudo's words up to "--", on tmp (NONINTERACTIVE: -n, for the fused form). */
static char **sudo_words(TALLOC_CTX *tmp, const char *sudo_path, const struct sudo_req *r,
			 bool noninteractive)
{
	char **argv = talloc_zero_array(tmp, char *, 1);
	bool ok;

	ok = argv != NULL &&
	     mg__strv_add(&argv, sudo_path != NULL ? sudo_path : "sudo") &&
	     (!noninteractive || mg__strv_add(&argv, "-n")) &&
	     (r->login || (mg__strv_add(&argv, "-p") && mg__strv_add(&argv, SUDO_PROMPT))) &&
	     mg__strv_add(&argv, "-u") && mg__strv_add(&argv, r->user);
	if (ok && r->preserve_env) {
		ok = mg__strv_add(&argv, "-E");
	}
	if (ok && r->set_home) {
		ok = mg__strv_add(&argv, "-H");
	}
	if (ok && r->login) {
		ok = mg__strv_add(&argv, "-i");
	}
	if (ok && r->role != NULL) {
		ok = mg__strv_add(&argv, "-r") && mg__strv_add(&argv, r->role);
	}
	if (ok && r->type != NULL) {
		ok = mg__strv_add(&argv, "-t") && mg__strv_add(&argv, r->type);
	}
	/* "--": nothing of the first stage is read as an option of sudo. */
	ok = ok && mg__strv_add(&argv, "--");
	return ok ? argv : NULL;
}

/* The request and sudo_path of 'hop', checked; strings on tmp or in hop. */
static int sudo_parse(TALLOC_CTX *mem_ctx, TALLOC_CTX *tmp, const struct mg_hop *hop,
		      struct sudo_req *_r, const char **_path, char **_errmsg)
{
	int ret = mg__hop_path(mem_ctx, hop, "sudo_path", NULL, _path, _errmsg);

	return ret != 0 ? ret : sudo_request(mem_ctx, tmp, hop, _r, _errmsg);
}

static int sudo_build_argv(TALLOC_CTX *mem_ctx, const struct mg_hop *hop,
			   const struct mg_boot_cmd *boot, char ***_argv, bool *_direct,
			   char **_errmsg)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	const char *sudo_path;
	struct sudo_req r;
	char **argv;
	bool ok;
	int ret;

	*_direct = false;
	if (tmp == NULL) {
		return -ENOMEM;
	}
	if ((ret = sudo_parse(mem_ctx, tmp, hop, &r, &sudo_path, _errmsg)) != 0) {
		goto done;
	}
	argv = sudo_words(tmp, sudo_path, &r, false);
	ok = argv != NULL;
	for (size_t i = 0; ok && boot->argv[i] != NULL; i++) {
		const char *w = boot->argv[i];

		/* boot->argv is { "/bin/sh", "-c", SCRIPT, ... }. */
		if (r.login && i == 2) {
			w = dollar_free(tmp, w);
		}
		ok = w != NULL && mg__strv_add(&argv, w);
	}
	if (!ok) {
		ret = -ENOMEM;
		goto done;
	}
	*_argv = talloc_steal(mem_ctx, argv);
	ret = 0;
done:
	talloc_free(tmp);
	return ret;
}

/*
 * Sudo's words for the fused form (PROTOCOL 2.3.3: sudo -n in an ssh
 * hop's own command), up to "--"; -ENOTSUP where that form would not do
 * what this hop asks: another user than root (who could not run the
 * login user's private file) or a login shell (which would expand the
 * command's words again).
 */
int mg__sudo_fuse_words(TALLOC_CTX *mem_ctx, const struct mg_hop *hop, char ***_words)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	const char *sudo_path;
	char *err = NULL;
	struct sudo_req r;
	int ret;

	if (tmp == NULL) {
		return -ENOMEM;
	}
	ret = sudo_parse(tmp, tmp, hop, &r, &sudo_path, &err);
	if (ret == 0 && (strcmp(r.user, "root") != 0 || r.login)) {
		ret = -ENOTSUP;
	}
	if (ret == 0) {
		*_words = sudo_words(tmp, sudo_path, &r, true);
		ret = *_words != NULL ? 0 : -ENOMEM;
		talloc_steal(mem_ctx, *_words);
	}
	talloc_free(tmp);
	return ret;
}

/* Whether sudo starts the agent in the directory it was started in
 * (not so with login, -i: the target's home). */
bool mg__sudo_keeps_cwd(const struct mg_hop *hop)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	const char *sudo_path;
	char *err = NULL;
	struct sudo_req r;
	bool keeps = tmp != NULL && sudo_parse(tmp, tmp, hop, &r, &sudo_path, &err) == 0 && !r.login;

	talloc_free(tmp);
	return keeps;
}

/*
 * With login, the target's login scripts run before the first stage: one
 * that printed our fixed prompt where sudo itself asks nothing (root,
 * NOPASSWD, a cached timestamp) would be sent the caller's password. So
 * the prompt then holds a random part, and reaches sudo as SUDO_PROMPT,
 * which the target cannot see (sudo -i gives it a fresh environment; -p
 * would show in ps). Without login, nothing of the target runs first.
 */
static char *login_prompt(TALLOC_CTX *mem_ctx)
{
	unsigned char rnd[12];
	char hex[2 * sizeof(rnd) + 1];

	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
		return NULL;
	}
	for (size_t i = 0; i < sizeof(rnd); i++) {
		snprintf(hex + 2 * i, 3, "%02x", rnd[i]);
	}
	explicit_bzero(rnd, sizeof(rnd));
	return talloc_asprintf(mem_ctx, "mitogen-sudo-prompt-%s:", hex);
}

static int sudo_prompts(TALLOC_CTX *mem_ctx, const struct mg_hop *hop,
			struct mg_prompts **_p, char **_errmsg)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	struct mg__become_spec spec = sudo_spec;
	const char *text = SUDO_PROMPT;
	char **env = NULL;
	struct sudo_req r;
	int ret;

	if (tmp == NULL) {
		return -ENOMEM;
	}
	/* The user named in messages may come from sudo_args. */
	ret = sudo_request(mem_ctx, tmp, hop, &r, _errmsg);
	if (ret == 0 && r.login) {
		/* NULL: no randomness (getrandom blocks until there is some). */
		text = login_prompt(tmp);
		env = talloc_zero_array(tmp, char *, 2);
		ret = text != NULL && env != NULL &&
		      (env[0] = talloc_asprintf(env, "SUDO_PROMPT=%s", text)) != NULL ? 0 : -ENOMEM;
	}
	if (ret == 0) {
		spec.password = talloc_asprintf(tmp, SUDO_PROMPT_FMT, text, text);
		ret = spec.password != NULL
			? mg__become_prompts(mem_ctx, hop, r.user, &spec, _p, _errmsg) : -ENOMEM;
	}
	if (ret == 0 && env != NULL) {
		(*_p)->env = talloc_steal(*_p, env);
	}
	talloc_free(tmp);
	return ret;
}

const struct mg_method mg__method_sudo = {
	.name = "sudo",
	.options = mg__sudo_options,
	.spec = MG_SPEC_USER,
	.mode = MG_SPAWN_HYBRID,
	.eager = false,
	.plain_first = true,
	.build_argv = sudo_build_argv,
	.prompts = sudo_prompts,
	.takes_password = true,
};
