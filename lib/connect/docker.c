/* docker: [user@]container, or a throw-away container from ?image=
 * (mitogen.md 3.5). argv: docker exec --interactive [--user=USER]
 * CONTAINER BOOT, or docker run --interactive [--user=USER] --rm IMAGE BOOT.
 */
#include <stddef.h>
#include "method.h"

static const char *const docker_options[] = {
	"username", "docker_path", "image", NULL,
};

const struct mg_method mg__method_docker = {
	.name = "docker",
	.options = docker_options,
	.spec = MG_SPEC_CONTAINER,
	.mode = MG_SPAWN_SOCKET,
	.eager = false,
	.build_argv = NULL, /* not implemented yet */
};
