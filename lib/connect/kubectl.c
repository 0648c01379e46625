/* kubectl: a pod (mitogen.md 3.11).
 * argv: kubectl [kubectl_args...] [--context C] [-n NS] exec -it POD
 * [-c CONTAINER] -- BOOT.
 */
#include <stddef.h>
#include "method.h"

static const char *const kubectl_options[] = {
	"container", "namespace", "context", "kubectl_args",
	"kubectl_path", NULL,
};

const struct mg_method mg__method_kubectl = {
	.name = "kubectl",
	.options = kubectl_options,
	.spec = MG_SPEC_CONTAINER,
	.mode = MG_SPAWN_SOCKET,
	.eager = false,
	.build_argv = NULL, /* not implemented yet */
};
