/* buildah: [user@]container (mitogen.md 3.7).
 * argv: buildah run [--user=USER] -- CONTAINER BOOT.
 */
#include <errno.h>
#include <stddef.h>
#include "method.h"

static const char *const buildah_options[] = {
	"username", "buildah_path", NULL,
};

static int buildah_build_argv(TALLOC_CTX *mem_ctx, const struct mg_hop *hop,
			      const struct mg_boot_cmd *boot, char ***_argv, bool *_direct,
			      char **_errmsg)
{
	const char *path = mg_hop_opt(hop, "buildah_path");
	char **argv;
	bool ok;

	*_direct = false;
	if (path == NULL) {
		path = "buildah";
	}
	if (path[0] == '\0') {
		*_errmsg = talloc_strdup(mem_ctx, "buildah_path is empty");
		return -EINVAL;
	}
	if (hop->host == NULL || hop->host[0] == '\0') {
		*_errmsg = talloc_strdup(mem_ctx, "buildah needs a container name");
		return -EINVAL;
	}
	argv = talloc_zero_array(mem_ctx, char *, 1);
	if (argv == NULL) {
		return -ENOMEM;
	}
	ok = mg__strv_add(&argv, path) && mg__strv_add(&argv, "run");
	if (ok && hop->user != NULL) {
		char *u = talloc_asprintf(argv, "--user=%s", hop->user);
		ok = u != NULL && mg__strv_add(&argv, u);
		talloc_free(u);
	}
	ok = ok && mg__strv_add(&argv, "--") && mg__strv_add(&argv, hop->host);
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

const struct mg_method mg__method_buildah = {
	.name = "buildah",
	.options = buildah_options,
	.spec = MG_SPEC_CONTAINER,
	.mode = MG_SPAWN_SOCKET,
	.eager = false,
	.build_argv = buildah_build_argv,
};
