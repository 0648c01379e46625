/* ssh: OpenSSH to [user@]host[:port] (mitogen.md 3.1).
 * argv: ssh [-v..|-o LogLevel ERROR] [-l USER] [-p PORT]
 * [-o IdentitiesOnly yes] [-i FILE] [-o Compression yes]
 * [-o ServerAlive*] [-o BatchMode yes] [-o StrictHostKeyChecking ...]
 * [ssh_args...] HOST BOOT.
 * The spawn mode is SOCKET; a password or check_host_keys=accept needs
 * the hybrid PTY mode, which the connection code picks.
 * The parser puts the user and port in hop->user and hop->port, whether
 * they were written in the spec or as ?username= / ?port=.
 */
#include <stddef.h>
#include "method.h"

static const char *const ssh_options[] = {
	"username", "port", "check_host_keys", "identity_file",
	"identities_only", "compression", "ssh_path", "ssh_args",
	"ssh_debug_level", "password_env", "password_file",
	"keepalive_enabled", "keepalive_count", "keepalive_interval", NULL,
};

const struct mg_method mg__method_ssh = {
	.name = "ssh",
	.options = ssh_options,
	.spec = MG_SPEC_HOST,
	.mode = MG_SPAWN_SOCKET,
	.eager = false,
	.build_argv = NULL, /* not implemented yet */
};
