/* local: a new agent process on the same host, started directly. */
#include <errno.h>
#include "method.h"

static const char *const local_options[] = { NULL };

static int local_build_argv(TALLOC_CTX *mem_ctx, const struct mg_hop *hop,
			    const char *const *boot, char ***_argv, char **_errmsg)
{
	size_t n = 0;
	char **argv;

	while (boot[n] != NULL) {
		n++;
	}
	argv = talloc_zero_array(mem_ctx, char *, n + 1);
	if (argv == NULL) {
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		argv[i] = talloc_strdup(argv, boot[i]);
		if (argv[i] == NULL) {
			talloc_free(argv);
			return -ENOMEM;
		}
	}
	*_argv = argv;
	return 0;
}

const struct mg_method mg__method_local = {
	.name = "local",
	.options = local_options,
	.spec = MG_SPEC_NONE,
	.mode = MG_SPAWN_SOCKET,
	.eager = true,
	.build_argv = local_build_argv,
};
