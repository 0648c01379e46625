/* lxc: a classic LXC container through lxc-attach (mitogen.md 3.8).
 * argv: lxc-attach --clear-env --name CONTAINER -- BOOT. No user: LXC
 * has no switch for it (use a sudo or su hop after this one).
 */
#include <errno.h>
#include <stddef.h>
#include "method.h"

static const char *const lxc_options[] = {
	"lxc_attach_path", NULL,
};

static int lxc_build_argv(TALLOC_CTX *mem_ctx, const struct mg_hop *hop,
			  const struct mg_boot_cmd *boot, char ***_argv, bool *_direct,
			  char **_errmsg)
{
	const char *path = mg_hop_opt(hop, "lxc_attach_path");
	char **argv;
	bool ok;

	*_direct = false;
	if (path == NULL) {
		path = "lxc-attach";
	}
	if (path[0] == '\0') {
		*_errmsg = talloc_strdup(mem_ctx, "lxc_attach_path is empty");
		return -EINVAL;
	}
	if (hop->host == NULL || hop->host[0] == '\0') {
		*_errmsg = talloc_strdup(mem_ctx, "lxc needs a container name");
		return -EINVAL;
	}
	if (hop->user != NULL) {
		*_errmsg = talloc_strdup(mem_ctx, "lxc cannot choose a user (add a sudo or su hop)");
		return -EINVAL;
	}
	argv = talloc_zero_array(mem_ctx, char *, 1);
	if (argv == NULL) {
		return -ENOMEM;
	}
	ok = mg__strv_add(&argv, path) && mg__strv_add(&argv, "--clear-env")
	     && mg__strv_add(&argv, "--name") && mg__strv_add(&argv, hop->host)
	     && mg__strv_add(&argv, "--");
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

const struct mg_method mg__method_lxc = {
	.name = "lxc",
	.options = lxc_options,
	.spec = MG_SPEC_CONTAINER,
	.mode = MG_SPAWN_SOCKET,
	.eager = false,
	.build_argv = lxc_build_argv,
	.eof_hint = "Note: many versions of LXC do not report program execution failure "
		    "meaningfully. Please check the host logs (/var/log) for more information.",
};
