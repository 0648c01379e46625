/* sudo: become [user] (default root) on the same host (mitogen.md 3.2).
 * argv: sudo -p mitogen-sudo-prompt: -u USER [-E] [-H] [-i] [-r ROLE]
 * [-t TYPE] -- BOOT; sudo_args is parsed for those flags.
 */
#include <stddef.h>
#include "method.h"

static const char *const sudo_options[] = {
	"username", "sudo_path", "sudo_args", "set_home", "preserve_env",
	"login", "selinux_role", "selinux_type", "password_env",
	"password_file", "password_prompt", "incorrect_prompts", NULL,
};

const struct mg_method mg__method_sudo = {
	.name = "sudo",
	.options = sudo_options,
	.spec = MG_SPEC_USER,
	.mode = MG_SPAWN_HYBRID,
	.eager = false,
	.build_argv = NULL, /* not implemented yet */
};
