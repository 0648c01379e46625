/* su: become [user] (default root); all stdio on a PTY, as BSD su
 * rejects a socket stdin (mitogen.md 3.3). argv: su USER -c "BOOT".
 */
#include <stddef.h>
#include "method.h"

static const char *const su_options[] = {
	"username", "su_path", "password_env", "password_file",
	"password_prompt", "incorrect_prompts", NULL,
};

const struct mg_method mg__method_su = {
	.name = "su",
	.options = su_options,
	.spec = MG_SPEC_USER,
	.mode = MG_SPAWN_PTY,
	.eager = false,
	.build_argv = NULL, /* not implemented yet */
};
