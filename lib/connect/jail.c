/* jail: a FreeBSD jail (mitogen.md 3.10).
 * argv: /usr/sbin/jexec JAIL BOOT.
 */
#include <stddef.h>
#include "method.h"

static const char *const jail_options[] = {
	"jexec_path", NULL,
};

const struct mg_method mg__method_jail = {
	.name = "jail",
	.options = jail_options,
	.spec = MG_SPEC_CONTAINER,
	.mode = MG_SPAWN_SOCKET,
	.eager = false,
	.build_argv = NULL, /* not implemented yet */
};
