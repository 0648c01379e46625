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
	const char *path = mg_hop_opt(hop, "jexec_path");
	char **argv;
	bool ok;

	*_direct = false;
	if (path == NULL) {
		path = "/usr/sbin/jexec";
	}
	if (path[0] == '\0') {
		*_errmsg = talloc_strdup(mem_ctx, "jexec_path is empty");
		return -EINVAL;
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
