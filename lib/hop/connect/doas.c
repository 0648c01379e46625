/* doas: become [user] (default root) (mitogen.md 3.4).
 * argv: doas -u USER -- BOOT.
 */
#include <errno.h>
#include <stddef.h>
#include "become.h"
#include "method.h"
#include "mitogen/error.h"

/*
 * doas has no option to choose its prompt. OpenBSD's and OpenDoas print
 * "doas (alice@host) password: "; OpenDoas built with PAM may print PAM's
 * own, translated, prompt. The default is su's pattern: "password" or a
 * translation of it, then a colon, at the end of the output.
 */
/* mitogen's defaults; OpenDoas writes "doas: Authentication failed". */
static const char *const doas_incorrect[] = {
	"doas: authentication failed",
	"doas: authorization failed",
	NULL,
};

/* Texts of OpenBSD doas and OpenDoas. No "authentication" in messages:
 * the engine reads that as a refused password. */
static const struct mg__become_error doas_errors[] = {
	{ "^doas: operation not permitted", -EACCES,
	  "the calling user is not allowed to run commands as '%s' here (doas.conf)" },
	{ "^doas: a tty is required", MG_ERR_BOOT,
	  "doas found no terminal to read the password from" },
	{ "^doas: (unknown user|no passwd entry)", MG_ERR_BOOT,
	  "there is no user '%s' here" },
	{ "^doas: not installed setuid", MG_ERR_BOOT,
	  "doas is not installed setuid root" },
	{ "you are required to change your password|password has expired", -EACCES,
	  "the calling user's password has expired: change it first" },
	{ NULL, 0, NULL },
};

static const struct mg__become_spec doas_spec = {
	.what = "doas",
	.password = mg__become_default_prompt,
	.incorrect = doas_incorrect,
	.errors = doas_errors,
};

static const char *doas_user(const struct mg_hop *hop)
{
	return hop->user != NULL ? hop->user : "root";
}

static int doas_build_argv(TALLOC_CTX *mem_ctx, const struct mg_hop *hop,
			   const struct mg_boot_cmd *boot, char ***_argv, bool *_direct,
			   char **_errmsg)
{
	const char *doas_path;
	char **argv;
	bool ok;
	int ret;

	*_direct = false;
	if ((ret = mg__hop_path(mem_ctx, hop, "doas_path", "doas", &doas_path, _errmsg)) != 0) {
		return ret;
	}
	argv = talloc_zero_array(mem_ctx, char *, 1);
	ok = argv != NULL &&
	     mg__strv_add(&argv, doas_path) &&
	     mg__strv_add(&argv, "-u") && mg__strv_add(&argv, doas_user(hop)) &&
	     mg__strv_add(&argv, "--");
	for (size_t i = 0; ok && boot->argv[i] != NULL; i++) {
		ok = mg__strv_add(&argv, boot->argv[i]);
	}
	if (!ok) {
		talloc_free(argv);
		return -ENOMEM;
	}
	*_argv = argv;
	return 0;
}

static int doas_prompts(TALLOC_CTX *mem_ctx, const struct mg_hop *hop,
			struct mg_prompts **_p, char **_errmsg)
{
	return mg__become_prompts(mem_ctx, hop, doas_user(hop), &doas_spec, _p, _errmsg);
}

const struct mg_method mg__method_doas = {
	.name = "doas",
	.options = mg__doas_options,
	.spec = MG_SPEC_USER,
	.mode = MG_SPAWN_HYBRID,
	.eager = false,
	.plain_first = true,
	.build_argv = doas_build_argv,
	.prompts = doas_prompts,
	.takes_password = true,
};
