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
 * EREs as they are. Then PAM's "Authentication failure" in the languages
 * of Linux-PAM's po files (1.1.3 to 1.7; util-linux and shadow su print
 * "su: " and pam_strerror()), matched as UTF-8 bytes, in the case PAM
 * writes them; two patterns, as one alternation holds at most 64. Left
 * out for the agent's size (issue 11's 96 KiB: 360 bytes packed), the
 * Indic scripts', Sinhala's and Khmer's: there the hop fails with su's
 * own words (its prompt is still answered, become.c). */
static const char *const su_incorrect[] = {
	"su: sorry",
	"su: authentication failure",
	"su: incorrect password",
	"authentication is denied",
	"^su: (fehler bei authentifizierung|"
	"\xc3\x89" "chec d(e l)?(\xe2\x80\x99|')authentification|"  /* fr */
	"fallo de autenticaci\xc3\xb3n|error d'autenticaci\xc3\xb3|"
	"falha de autentica\xc3\xa7\xc3\xa3o|authenticatie ?fout|autentiseringsfe(i)?l|"
	"fejl ved godkendelse|tunnistautumisvirhe|"
	"selh\xc3\xa1n\xc3\xad autentizace|nezdar p\xc5\x99i ov\xc4\x9b\xc5\x99ov\xc3\xa1n\xc3\xad|"
	"zlyhanie overenia|uwierzytelnienie (si\xc4\x99 )?nie powiod\xc5\x82o|"
	"autenticazione (non riuscita|fallita)|"
	"autentimine nurjus|hiteles\xc3\xadt\xc3\xa9si hiba|yetkilendirme hatas\xc4\xb1|"
	"autentificare e\xc8\x99uat\xc4\x83|neuspe\xc5\xa1na autentifikacija|"
	"gre\xc5\xa1ka ovjere|napaka overjanja|autentifikacijos nes\xc4\x97km\xc4\x97|"
	"do\xc4\x9frulama u\xc4\x9fursuzlu\xc4\x9fu|a\xc5\xadtentiga malsukceso|"
	"teip f\xc3\xadordheimhnithe|fallimento de authentication|otentikasi gagal|"
	"yecce\xe1\xb8\x8d usesteb|ukwehluleka kokugunyaza|"
	"x\xc3\xa1" "c th\xe1\xbb\xb1" "c th\xe1\xba\xa5t b\xe1\xba\xa1i)",          /* vi */
	"^su: ("
	"\xd0\xa1\xd0\xb1\xd0\xbe\xd0\xb9 \xd0\xbf\xd1\x80\xd0\xb8 "  /* ru */
	"\xd0\xbf\xd1\x80\xd0\xbe\xd0\xb2\xd0\xb5\xd1\x80\xd0\xba\xd0\xb5 "
	"\xd0\xbf\xd0\xbe\xd0\xb4\xd0\xbb\xd0\xb8\xd0\xbd\xd0\xbd\xd0\xbe\xd1\x81\xd1\x82\xd0\xb8|"
	"\xd0\x9f\xd0\xbe\xd0\xbc\xd0\xb8\xd0\xbb\xd0\xba\xd0\xb0 "  /* uk */
	"\xd1\x80\xd0\xbe\xd0\xb7\xd0\xbf\xd1\x96\xd0\xb7\xd0\xbd\xd0\xb0\xd0\xb2\xd0\xb0"
	"\xd0\xbd\xd0\xbd\xd1\x8f|"
	"\xd0\x93\xd1\x80\xd0\xb5\xd1\x88\xd0\xba\xd0\xb0 \xd0\xbf\xd1\x80\xd0\xb8 "  /* bg */
	"\xd1\x83\xd0\xb4\xd0\xbe\xd1\x81\xd1\x82\xd0\xbe\xd0\xb2\xd0\xb5\xd1\x80\xd1\x8f"
	"\xd0\xb2\xd0\xb0\xd0\xbd\xd0\xb5|"
	"\xd0\x9d\xd0\xb5\xd1\x83\xd1\x81\xd0\xbf\xd0\xb5\xd1\x88\xd0\xbd\xd0\xb0 "  /* sr */
	"\xd0\xb0\xd1\x83\xd1\x82\xd0\xb5\xd0\xbd\xd1\x82\xd0\xb8\xd1\x84\xd0\xb8\xd0\xba"
	"\xd0\xb0\xd1\x86\xd0\xb8\xd1\x98\xd0\xb0|"
	"\xd0\xa8\xd1\x8b\xd0\xbd\xd0\xb4\xd1\x8b\xd0\xbb\xd1\x8b\xd2\x9b\xd1\x82\xd1\x8b "  /* kk */
	"\xd1\x82\xd0\xb5\xd0\xba\xd1\x81\xd0\xb5\xd1\x80\xd1\x83 \xd2\x9b\xd0\xb0\xd1\x82"
	"\xd0\xb5\xd1\x81\xd1\x96|"
	"\xce\x91\xcf\x80\xce\xbf\xcf\x84\xcf\x85\xcf\x87\xce\xaf\xce\xb1 "  /* el */
	"\xcf\x84\xce\xb1\xcf\x85\xcf\x84\xce\xbf\xcf\x80\xce\xbf\xce\xaf\xce\xb7\xcf\x83"
	"\xce\xb7\xcf\x82|"
	"\xd7\x9b\xd7\xa9\xd7\x9c \xd7\x91\xd7\x90\xd7\x99\xd7\x9e\xd7\x95\xd7\xaa|"  /* he */
	"\xd9\x81\xd8\xb4\xd9\x84 \xd8\xa7\xd9\x84\xd8\xaa\xd8\xb5\xd8\xaf\xd9\x8a\xd9\x82|"  /* ar */
	"\xe1\x83\x90\xe1\x83\x95\xe1\x83\x97\xe1\x83\x94\xe1\x83\x9c\xe1\x83\xa2\xe1\x83\x98"  /* ka */
	"(\xe1\x83\xa4\xe1\x83\x98)?\xe1\x83\x99\xe1\x83\x90\xe1\x83\xaa\xe1\x83\x98"
	"(\xe1\x83\x98\xe1\x83\xa1 \xe1\x83\xa8\xe1\x83\x94\xe1\x83\xaa\xe1\x83\x93\xe1\x83\x9d"
	"\xe1\x83\x9b\xe1\x83\x90|"
	"\xe1\x83\x90 \xe1\x83\xa9\xe1\x83\x90\xe1\x83\x95\xe1\x83\x90\xe1\x83\xa0\xe1\x83\x93"
	"\xe1\x83\x90)|"
	"\xe8\xaa\x8d\xe8\xa8\xbc\xe5\xa4\xb1\xe6\x95\x97|"              /* ja */
	"\xe9\x89\xb4\xe5\xae\x9a\xe6\x95\x85\xe9\x9a\x9c|"              /* zh_CN <= 1.5.2 */
	"\xe8\xba\xab\xe4\xbb\xbd\xe9\xaa\x8c\xe8\xaf\x81\xe5\xa4\xb1\xe8\xb4\xa5|"  /* zh_CN */
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
	const char *su_path;
	char **argv;
	char *cmd;
	bool ok;
	int ret;

	*_direct = false;
	if ((ret = mg__hop_path(mem_ctx, hop, "su_path", "su", &su_path, _errmsg)) != 0) {
		return ret;
	}
	argv = talloc_zero_array(mem_ctx, char *, 1);
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
	     mg__strv_add(&argv, su_path) &&
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
