/* su: become [user] (default root); all stdio on a PTY, as BSD su
 * rejects a socket stdin (mitogen.md 3.3). argv: su USER -c 'BOOT'.
 *
 * This file also holds what sudo, su and doas share (mg__become_*): the
 * declarations are repeated in sudo.c and doas.c until method.h holds
 * them. mg__ere_escape is not static for the unit tests.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "boot.h"
#include "method.h"
#include "mitogen/error.h"

/* A failure line of a become method; fmt's one %s is the target user. */
struct mg__become_error {
	const char *re;
	int err;
	const char *fmt;
};

/* What sudo, su and doas watch for, before options change it. */
struct mg__become_spec {
	const char *what;                     /* "su": "su password is incorrect" */
	const char *password;                 /* default partial-line ERE */
	bool prompt_adds;                     /* password_prompt= adds to .password (sudo) */
	const char *const *incorrect;         /* default line EREs; NULL-terminated */
	const struct mg__become_error *errors; /* terminated by re == NULL */
};

extern const char mg__become_default_prompt[];
char *mg__ere_escape(TALLOC_CTX *mem_ctx, const char *s);
int mg__become_prompts(TALLOC_CTX *mem_ctx, const struct mg_hop *hop, const char *user,
		       const struct mg__become_spec *spec, struct mg_prompts **_p,
		       char **_errmsg);

/*
 * Linux-PAM's "Password: " in the languages it is most often translated
 * to (its po files), so a localized su or doas is still understood. Only
 * known words: a bare "anything:" would also match the "su: " that util-
 * linux writes before "Authentication failure" in a separate write()
 * (mitogen #363), and answer a failure as if it were a prompt. Non-ASCII
 * words are matched as bytes (UTF-8); REG_ICASE folds the ASCII ones.
 */
#define PROMPT_WORDS \
	"password|passwort|mot de passe|contrase(n|\xc3\xb1)a|contrasenya|senha|" \
	"wachtwoord|l\xc3\xb6senord|passord|adgangskode|salasana|heslo|" \
	"has\xc5\x82o|parola|parool|parole|jelsz\xc3\xb3|lozinka|geslo|" \
	"\xd0\x9f\xd0\xb0\xd1\x80\xd0\xbe\xd0\xbb\xd1\x8c|"             /* Пароль */ \
	"\xd0\xbf\xd0\xb0\xd1\x80\xd0\xbe\xd0\xbb\xd1\x8c|"             /* пароль */ \
	"\xe3\x83\x91\xe3\x82\xb9\xe3\x83\xaf\xe3\x83\xbc\xe3\x83\x89|" /* パスワード */ \
	"\xe5\xaf\x86\xe7\xa0\x81|\xe5\xaf\x86\xe7\xa2\xbc|"             /* 密码 密碼 */ \
	"\xec\x95\x94\xed\x98\xb8|\xeb\xb9\x84\xeb\xb0\x80\xeb\xb2\x88\xed\x98\xb8" /* 암호 비밀번호 */

/*
 * The default prompt of su and doas: one of those words, then up to 40
 * bytes that are no colon or newline ("doas (alice@host) password: ",
 * "Mot de passe : ", NBSP included), an ASCII or fullwidth colon, and
 * nothing but blanks up to the end of the output seen so far.
 */
#define DEFAULT_PROMPT \
	"(" PROMPT_WORDS ")[^:\n]{0,40}(:|\xef\xbc\x9a)[[:space:]]*$"

const char mg__become_default_prompt[] = DEFAULT_PROMPT;

char *mg__ere_escape(TALLOC_CTX *mem_ctx, const char *s)
{
	/* The characters POSIX makes special in an ERE; a backslash before
	 * each of them is defined to match it literally. ']' and '}' are
	 * ordinary on their own. */
	const char *special = "^.[$()|*+?{\\";
	char *out = talloc_strdup(mem_ctx, "");

	for (const char *p = s; out != NULL && *p != '\0'; p++) {
		if (strchr(special, *p) != NULL) {
			out = talloc_asprintf_append_buffer(out, "\\%c", *p);
		} else {
			out = talloc_strndup_append_buffer(out, p, 1);
		}
	}
	return out;
}

/* "incorrect_prompts" as literal texts, or NULL with *_ret set. */
static char **user_incorrect(TALLOC_CTX *mem_ctx, const struct mg_hop *hop, int *_ret,
			     char **_errmsg)
{
	char **words = NULL, **out;
	char *err = NULL;

	/* mg__hop_list puts its message on the vector it frees: keep ours. */
	*_ret = mg__hop_list(mem_ctx, hop, "incorrect_prompts", &words, &err);
	if (*_ret != 0) {
		if (err != NULL) {
			*_errmsg = talloc_asprintf(mem_ctx, "option incorrect_prompts: %s", err);
		}
		return NULL;
	}
	out = talloc_zero_array(mem_ctx, char *, 1);
	for (size_t i = 0; out != NULL && words[i] != NULL; i++) {
		char *re = mg__ere_escape(out, words[i]);
		if (re == NULL || !mg__strv_add(&out, re)) {
			TALLOC_FREE(out);
		}
	}
	talloc_free(words);
	if (out == NULL) {
		*_ret = -ENOMEM;
	}
	return out;
}

int mg__become_prompts(TALLOC_CTX *mem_ctx, const struct mg_hop *hop, const char *user,
		       const struct mg__become_spec *spec, struct mg_prompts **_p,
		       char **_errmsg)
{
	const char *given = mg_hop_opt(hop, "password_prompt");
	struct mg_prompts *p = talloc_zero(mem_ctx, struct mg_prompts);
	struct mg_line_error *errors;
	size_t n = 0;
	int ret = -ENOMEM;

	if (p == NULL) {
		return -ENOMEM;
	}
	p->what = spec->what;
	if (given != NULL && given[0] == '\0') {
		*_errmsg = talloc_strdup(mem_ctx, "option password_prompt: expected a prompt text");
		ret = -EINVAL;
		goto fail;
	}
	if (given != NULL) {
		/* A literal text, as in mitogen, ending the output but for
		 * blanks; matched case-insensitively like every pattern. */
		char *lit = mg__ere_escape(p, given);
		if (lit == NULL) {
			goto fail;
		}
		p->password = spec->prompt_adds
			? talloc_asprintf(p, "%s|%s[[:space:]]*$", spec->password, lit)
			: talloc_asprintf(p, "%s[[:space:]]*$", lit);
	} else {
		p->password = talloc_strdup(p, spec->password);
	}
	if (p->password == NULL) {
		goto fail;
	}
	if (mg_hop_opt(hop, "incorrect_prompts") != NULL) {
		/* Given: they replace the defaults, as in mitogen. */
		p->incorrect = user_incorrect(p, hop, &ret, _errmsg);
		if (p->incorrect == NULL) {
			goto fail;
		}
	} else {
		p->incorrect = mg__strv_copy(p, spec->incorrect);
		if (p->incorrect == NULL) {
			goto fail;
		}
	}
	while (spec->errors != NULL && spec->errors[n].re != NULL) {
		n++;
	}
	errors = talloc_zero_array(p, struct mg_line_error, n + 1);
	if (errors == NULL) {
		goto fail;
	}
	for (size_t i = 0; i < n; i++) {
		char *msg = talloc_asprintf(errors, spec->errors[i].fmt, user);
		if (msg == NULL) {
			goto fail;
		}
		errors[i].re = spec->errors[i].re;
		errors[i].err = spec->errors[i].err;
		errors[i].msg = msg;
	}
	p->errors = errors;
	*_p = p;
	return 0;
fail:
	talloc_free(p);
	return ret;
}

static const char *const su_options[] = {
	"username", "su_path", "password_env", "password_file",
	"password_prompt", "incorrect_prompts", NULL,
};

/* mitogen's defaults: BSD, Linux, CentOS 6, AIX. Literal texts, and valid
 * EREs as they are. */
static const char *const su_incorrect[] = {
	"su: sorry",
	"su: authentication failure",
	"su: incorrect password",
	"authentication is denied",
	NULL,
};

/* Texts of util-linux, shadow, BSD and busybox su. */
static const struct mg__become_error su_errors[] = {
	{ "^su: user .* does not exist|^su: unknown (login|user)|^no passwd entry for user",
	  MG_ERR_BOOT,
	  "there is no user '%s' here" },
	{ "this account is currently not available", MG_ERR_BOOT,
	  "user '%s' has no login shell (nologin)" },
	{ "^su: must be run from a terminal", MG_ERR_BOOT,
	  "su needs a terminal, and found none" },
	{ "^su: permission denied|^su: you are not in the correct group", -EACCES,
	  "su to '%s' is not permitted here (pam_wheel or su group)" },
	{ "you are required to change your password|password has expired", -EACCES,
	  "the password of '%s' has expired: change it first" },
	{ NULL, 0, NULL },
};

static const struct mg__become_spec su_spec = {
	.what = "su",
	.password = mg__become_default_prompt,
	.incorrect = su_incorrect,
	.errors = su_errors,
};

static const char *su_user(const struct mg_hop *hop)
{
	return hop->user != NULL ? hop->user : "root";
}

static int su_build_argv(TALLOC_CTX *mem_ctx, const struct mg_hop *hop,
			 const struct mg_boot_cmd *boot, char ***_argv, bool *_direct,
			 char **_errmsg)
{
	const char *su_path = mg_hop_opt(hop, "su_path");
	char **argv = talloc_zero_array(mem_ctx, char *, 1);
	char *cmd;
	bool ok;

	*_direct = false;
	if (su_path != NULL && su_path[0] == '\0') {
		talloc_free(argv);
		*_errmsg = talloc_strdup(mem_ctx, "option su_path: expected a path");
		return -EINVAL;
	}
	/*
	 * su hands "-c CMD" to USER's login shell, which may be no POSIX
	 * shell at all. mitogen wraps words in "..." with \ escapes, which csh
	 * does not honour inside double quotes ("\$" stays "\$"). POSIX
	 * single quotes (with '\'' for a quote) read the same in sh, bash,
	 * dash, ksh, zsh, csh, tcsh and fish, as long as the text holds no
	 * newline, no '!' (csh history) and no "\\" or "\'" (fish): the first
	 * stage holds none of them, and the other words are plain. A login
	 * shell of nologin or false fails with its own message. "su USER -c"
	 * (USER first) is what both util-linux and BSD su read: on BSD, -c
	 * before the user would name a login class.
	 */
	cmd = mg__shell_join(argv, boot->argv);
	ok = argv != NULL && cmd != NULL &&
	     mg__strv_add(&argv, su_path != NULL ? su_path : "su") &&
	     mg__strv_add(&argv, su_user(hop)) &&
	     mg__strv_add(&argv, "-c") &&
	     mg__strv_add(&argv, cmd);
	if (!ok) {
		talloc_free(argv);
		return -ENOMEM;
	}
	talloc_free(cmd);
	*_argv = argv;
	return 0;
}

static int su_prompts(TALLOC_CTX *mem_ctx, const struct mg_hop *hop,
		      struct mg_prompts **_p, char **_errmsg)
{
	return mg__become_prompts(mem_ctx, hop, su_user(hop), &su_spec, _p, _errmsg);
}

const struct mg_method mg__method_su = {
	.name = "su",
	.options = su_options,
	.spec = MG_SPEC_USER,
	.mode = MG_SPAWN_PTY,
	.eager = false,
	.build_argv = su_build_argv,
	.prompts = su_prompts,
	.takes_password = true,
};
