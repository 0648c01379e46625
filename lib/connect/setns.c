/* setns: enter the namespaces of a container's leader process, spec
 * KIND:[user@]CONTAINER with KIND docker, lxc, lxd or machinectl; needs
 * root at that hop (mitogen.md 3.12). hop->spec keeps the kind, hop->host
 * is the container. argv: /bin/sh -c 'BOOT; exit $?' after setns().
 */
#include <stddef.h>
#include "method.h"

static const char *const setns_options[] = {
	"username", "docker_path", "lxc_path", "lxc_info_path",
	"machinectl_path", NULL,
};

const struct mg_method mg__method_setns = {
	.name = "setns",
	.options = setns_options,
	.spec = MG_SPEC_CONTAINER,
	.mode = MG_SPAWN_SOCKET,
	.eager = false,
	.build_argv = NULL, /* not implemented yet */
};
