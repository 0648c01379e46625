/*
 * fork: a forked copy of the current process serves as the new agent, no
 * exec and no first stage (mitogen.md 3.13). Cheap; the child starts with
 * a copy of its parent's memory but uses none of its state: a fresh loop
 * and router on the new socket, everything else closed.
 */
#include <stddef.h>
#include "method.h"

const struct mg_method mg__method_fork = {
	.name = "fork",
	.options = mg__fork_options,
	.spec = MG_SPEC_NONE,
	.mode = MG_SPAWN_SOCKET,
	.fork = true,
};
