/* lxc: a classic LXC container through lxc-attach (mitogen.md 3.8).
 * argv: lxc-attach --clear-env --name CONTAINER -- BOOT.
 */
#include <stddef.h>
#include "method.h"

static const char *const lxc_options[] = {
	"lxc_attach_path", NULL,
};

const struct mg_method mg__method_lxc = {
	.name = "lxc",
	.options = lxc_options,
	.spec = MG_SPEC_CONTAINER,
	.mode = MG_SPAWN_SOCKET,
	.eager = false,
	.build_argv = NULL, /* not implemented yet */
};
