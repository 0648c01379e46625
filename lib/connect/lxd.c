/* lxd: an LXD container through the lxc client (mitogen.md 3.9).
 * argv: lxc exec --mode=noninteractive CONTAINER -- BOOT.
 */
#include <stddef.h>
#include "method.h"

static const char *const lxd_options[] = {
	"lxc_path", NULL,
};

const struct mg_method mg__method_lxd = {
	.name = "lxd",
	.options = lxd_options,
	.spec = MG_SPEC_CONTAINER,
	.mode = MG_SPAWN_SOCKET,
	.eager = false,
	.build_argv = NULL, /* not implemented yet */
};
