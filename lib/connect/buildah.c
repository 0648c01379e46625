/* buildah: [user@]container (mitogen.md 3.7).
 * argv: buildah run [--user=USER] -- CONTAINER BOOT.
 */
#include <stddef.h>
#include "method.h"

static const char *const buildah_options[] = {
	"username", "buildah_path", NULL,
};

const struct mg_method mg__method_buildah = {
	.name = "buildah",
	.options = buildah_options,
	.spec = MG_SPEC_CONTAINER,
	.mode = MG_SPAWN_SOCKET,
	.eager = false,
	.build_argv = NULL, /* not implemented yet */
};
