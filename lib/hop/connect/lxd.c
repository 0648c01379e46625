/* lxd: an LXD container through the lxc client (mitogen.md 3.9).
 * argv: lxc exec --mode=non-interactive CONTAINER -- BOOT. No user: use a
 * sudo or su hop after this one. (mitogen writes "noninteractive", which
 * lxc does not know and takes for "auto".)
 */
#include <errno.h>
#include <stddef.h>
#include "method.h"

static int lxd_build_argv(TALLOC_CTX *mem_ctx, const struct mg_hop *hop,
			  const struct mg_boot_cmd *boot, char ***_argv, bool *_direct,
			  char **_errmsg)
{
	const char *path;
	int ret;

	*_direct = false;
	if ((ret = mg__container_check(mem_ctx, hop, "lxd", "lxc_path", "lxc", false,
				       &path, _errmsg)) != 0) {
		return ret;
	}
	{
		const char *words[] = { path, "exec", "--mode=non-interactive", hop->host, "--" };
		*_argv = mg__argv_then_boot(mem_ctx, words, 5, boot);
	}
	return *_argv != NULL ? 0 : -ENOMEM;
}

const struct mg_method mg__method_lxd = {
	.name = "lxd",
	.options = mg__lxd_options,
	.spec = MG_SPEC_CONTAINER,
	.mode = MG_SPAWN_SOCKET,
	.eager = false,
	.build_argv = lxd_build_argv,
	.eof_hint = "Note: many versions of LXC do not report program execution failure "
		    "meaningfully. Please check the host logs (/var/log) for more information.",
};
