/* fork: a forked copy of the current agent, no exec and no first
 * stage (mitogen.md 3.13).
 */
#include <stddef.h>
#include "method.h"

static const char *const fork_options[] = {
	NULL,
};

const struct mg_method mg__method_fork = {
	.name = "fork",
	.options = fork_options,
	.spec = MG_SPEC_NONE,
	.mode = MG_SPAWN_SOCKET,
	.eager = false,
	.build_argv = NULL, /* not implemented yet */
};
