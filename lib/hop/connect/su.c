/* su: become [user] (default root); all stdio on a PTY, as BSD su
 * rejects a socket stdin (mitogen.md 3.3). argv: su USER -c 'BOOT'.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "boot.h"
#include "become.h"
#include "method.h"
#include "mitogen/error.h"

/* mitogen's defaults: BSD, Linux, CentOS 6, AIX. Literal texts, and valid
 * EREs as they are. Then PAM's "Authentication failure" as Linux-PAM
 * translates it in the languages whose prompt become.c recognises (util-
 * linux and shadow su print "su: " and pam_strerror()); matched as UTF-8
 * bytes, in the case PAM writes them. */
static const char *const su_incorrect[] = {
	"su: sorry",
	"su: authentication failure",
	"su: incorrect password",
	"authentication is denied",
	"^su: (fehler bei authentifizierung|"
	"\xc3\x89" "chec de l(\xe2\x80\x99|')authentification|"  /* fr */
	"fallo de autenticaci\xc3\xb3n|error d'autenticaci\xc3\xb3|"
	"falha de autentica\xc3\xa7\xc3\xa3o|authenticatiefout|autentiseringsfel|"
	"autentiseringsfeil|fejl ved godkendelse|tunnistautumisvirhe|"
	"selh\xc3\xa1n\xc3\xad autentizace|zlyhanie overenia|"
	"uwierzytelnienie si\xc4\x99 nie powiod\xc5\x82o|autenticazione non riuscita|"
	"autentimine nurjus|hiteles\xc3\xadt\xc3\xa9si hiba|yetkilendirme hatas\xc4\xb1|"
	"\xd0\xa1\xd0\xb1\xd0\xbe\xd0\xb9 \xd0\xbf\xd1\x80\xd0\xb8 "  /* ru */
	"\xd0\xbf\xd1\x80\xd0\xbe\xd0\xb2\xd0\xb5\xd1\x80\xd0\xba\xd0\xb5 "
	"\xd0\xbf\xd0\xbe\xd0\xb4\xd0\xbb\xd0\xb8\xd0\xbd\xd0\xbd\xd0\xbe\xd1\x81\xd1\x82\xd0\xb8|"
	"\xd0\x9f\xd0\xbe\xd0\xbc\xd0\xb8\xd0\xbb\xd0\xba\xd0\xb0 "  /* uk */
	"\xd1\x80\xd0\xbe\xd0\xb7\xd0\xbf\xd1\x96\xd0\xb7\xd0\xbd\xd0\xb0\xd0\xb2\xd0\xb0\xd0\xbd\xd0\xbd\xd1\x8f|"
	"\xe8\xaa\x8d\xe8\xa8\xbc\xe5\xa4\xb1\xe6\x95\x97|"              /* ja */
	"\xe9\x89\xb4\xe5\xae\x9a\xe6\x95\x85\xe9\x9a\x9c|"              /* zh_CN */
	"\xe9\xa9\x97\xe8\xad\x89\xe5\xa4\xb1\xe6\x95\x97|"              /* zh_TW */
	"\xec\x9d\xb8\xec\xa6\x9d \xec\x8b\xa4\xed\x8c\xa8)",         /* ko */
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
	.options = mg__su_options,
	.spec = MG_SPEC_USER,
	.mode = MG_SPAWN_PTY,
	.eager = false,
	.build_argv = su_build_argv,
	.prompts = su_prompts,
	.takes_password = true,
};
