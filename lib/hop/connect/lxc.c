/* lxc: a classic LXC container through lxc-attach (mitogen.md 3.8).
 * argv: lxc-attach --clear-env --name CONTAINER -- BOOT. No user: LXC
 * has no switch for it (use a sudo or su hop after this one).
 */
#include <errno.h>
#include <stddef.h>
#include "method.h"

static int lxc_build_argv(TALLOC_CTX *mem_ctx, const struct mg_hop *hop,
			  const struct mg_boot_cmd *boot, char ***_argv, bool *_direct,
			  char **_errmsg)
{
	const char *path;
	int ret;

	*_direct = false;
	if ((ret = mg__container_check(mem_ctx, hop, "lxc", "lxc_attach_path", "lxc-attach", false,
				       &path, _errmsg)) != 0) {
		return ret;
	}
	{
		const char *words[] = { path, "--clear-env", "--name", hop->host, "--" };
		*_argv = mg__argv_then_boot(mem_ctx, words, 5, boot);
	}
	return *_argv != NULL ? 0 : -ENOMEM;
}

const struct mg_method mg__method_lxc = {
	.name = "lxc",
	.options = mg__lxc_options,
	.spec = MG_SPEC_CONTAINER,
	.mode = MG_SPAWN_SOCKET,
	.eager = false,
	.build_argv = lxc_build_argv,
	.eof_hint = "Note: many versions of LXC do not report program execution failure "
		    "meaningfully. Please check the host logs (/var/log) for more information.",
};
