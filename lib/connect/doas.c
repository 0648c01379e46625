/* doas: become [user] (default root) (mitogen.md 3.4).
 * argv: doas -u USER -- BOOT.
 */
#include <stddef.h>
#include "method.h"

static const char *const doas_options[] = {
	"username", "doas_path", "password_env", "password_file",
	"password_prompt", "incorrect_prompts", NULL,
};

const struct mg_method mg__method_doas = {
	.name = "doas",
	.options = doas_options,
	.spec = MG_SPEC_USER,
	.mode = MG_SPAWN_HYBRID,
	.eager = false,
	.build_argv = NULL, /* not implemented yet */
};
