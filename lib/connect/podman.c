/* podman: [user@]container (mitogen.md 3.6).
 * argv: podman exec [--user=USER] --interactive -- CONTAINER BOOT.
 */
#include <stddef.h>
#include "method.h"

static const char *const podman_options[] = {
	"username", "podman_path", NULL,
};

const struct mg_method mg__method_podman = {
	.name = "podman",
	.options = podman_options,
	.spec = MG_SPEC_CONTAINER,
	.mode = MG_SPAWN_SOCKET,
	.eager = false,
	.build_argv = NULL, /* not implemented yet */
};
