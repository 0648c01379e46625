/* podman: [user@]container (mitogen.md 3.6).
 * argv: podman exec [--user=USER] --interactive -- CONTAINER BOOT.
 */
#include <errno.h>
#include <stddef.h>
#include "method.h"

static int podman_build_argv(TALLOC_CTX *mem_ctx, const struct mg_hop *hop,
			     const struct mg_boot_cmd *boot, char ***_argv, bool *_direct,
			     char **_errmsg)
{
	const char *path;
	char *user = NULL;
	int ret;

	*_direct = false;
	if ((ret = mg__container_check(mem_ctx, hop, "podman", "podman_path", "podman", true,
				       &path, _errmsg)) != 0) {
		return ret;
	}
	if (hop->user != NULL && (user = talloc_asprintf(mem_ctx, "--user=%s", hop->user)) == NULL) {
		return -ENOMEM;
	}
	{
		const char *words[] = { path, "exec", user, "--interactive", "--", hop->host };
		*_argv = mg__argv_then_boot(mem_ctx, words, 6, boot);
	}
	talloc_free(user);
	return *_argv != NULL ? 0 : -ENOMEM;
}

const struct mg_method mg__method_podman = {
	.name = "podman",
	.options = mg__podman_options,
	.spec = MG_SPEC_CONTAINER,
	.mode = MG_SPAWN_SOCKET,
	.eager = false,
	.build_argv = podman_build_argv,
};
