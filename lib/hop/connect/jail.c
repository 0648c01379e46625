/* jail: a FreeBSD jail, [user@]jail (mitogen.md 3.10).
 * argv: /usr/sbin/jexec [-U USER] JAIL BOOT. -U names a user of the
 * jail's own password database (-u would look it up on the host).
 */
#include <errno.h>
#include <stddef.h>
#include "method.h"

static int jail_build_argv(TALLOC_CTX *mem_ctx, const struct mg_hop *hop,
			   const struct mg_boot_cmd *boot, char ***_argv, bool *_direct,
			   char **_errmsg)
{
	const char *path;
	char **argv;
	bool ok;
	int ret;

	*_direct = false;
	if ((ret = mg__hop_path(mem_ctx, hop, "jexec_path", "/usr/sbin/jexec", &path,
				_errmsg)) != 0) {
		return ret;
	}
	if (hop->host == NULL || hop->host[0] == '\0') {
		*_errmsg = talloc_strdup(mem_ctx, "jail needs a jail name");
		return -EINVAL;
	}
	argv = talloc_zero_array(mem_ctx, char *, 1);
	if (argv == NULL) {
		return -ENOMEM;
	}
	ok = mg__strv_add(&argv, path);
	if (ok && hop->user != NULL) {
		ok = mg__strv_add(&argv, "-U") && mg__strv_add(&argv, hop->user);
	}
	ok = ok && mg__strv_add(&argv, hop->host);
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

const struct mg_method mg__method_jail = {
	.name = "jail",
	.options = mg__jail_options,
	.spec = MG_SPEC_CONTAINER,
	.mode = MG_SPAWN_SOCKET,
	.eager = false,
	.build_argv = jail_build_argv,
};
