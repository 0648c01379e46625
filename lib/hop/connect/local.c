/*
 * local: a new agent process on the same host. Nothing needs copying:
 * the agent image is exec'd directly (the master's agent file, or an
 * agent's own image through /proc/self/fd). first_stage=1 boots it through
 * the POSIX-sh first stage instead, as remote methods do.
 */
#include <errno.h>
#include "boot.h"
#include "method.h"

static int local_build_argv(TALLOC_CTX *mem_ctx, const struct mg_hop *hop,
			    const struct mg_boot_cmd *boot, char ***_argv, bool *_direct,
			    char **_errmsg)
{
	bool first_stage;
	int ret;

	if ((ret = mg__hop_bool(mem_ctx, hop, "first_stage", false, &first_stage, _errmsg)) != 0) {
		return ret;
	}
	*_direct = !first_stage && boot->self != NULL;
	if (*_direct && boot->plain != NULL) {
		/* No inflating: the unpacked agent, given the image to push on. */
		const char *plain[] = { boot->plain, "--local", MG_BOOT_IMAGE_FD_STR, NULL };
		*_argv = mg__strv_copy(mem_ctx, plain);
	} else if (*_direct) {
		const char *direct[] = { boot->self, "--local", NULL };
		*_argv = mg__strv_copy(mem_ctx, direct);
	} else {
		*_argv = mg__strv_copy(mem_ctx, boot->argv);
	}
	return *_argv == NULL ? -ENOMEM : 0;
}

const struct mg_method mg__method_local = {
	.name = "local",
	.options = mg__local_options,
	.spec = MG_SPEC_NONE,
	.mode = MG_SPAWN_SOCKET,
	.eager = true,
	.build_argv = local_build_argv,
};
