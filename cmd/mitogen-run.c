/* mitogen-run: run a command at the end of one or many hop chains. */
#include "runner.h"

int main(int argc, const char **argv)
{
	/* shell: 1 with --shell, 2 with --sh, both bits with both. */
	int shell = 0, no_shell = 0;
	struct poptOption options[] = {
		{ "shell", '\0', POPT_ARG_VAL | POPT_ARGFLAG_OR, &shell, 1,
		  "Run COMMAND through the login shell's -c even with arguments", NULL },
		{ "sh", '\0', POPT_ARG_VAL | POPT_ARGFLAG_OR, &shell, 2,
		  "Run COMMAND through /bin/sh -c, not the login shell (implies --shell)", NULL },
		{ "no-shell", '\0', POPT_ARG_NONE, &no_shell, 0, "Run COMMAND directly even when it is one word", NULL },
		POPT_TABLEEND
	};

	return mg_runner_cli(argc, argv, "mitogen-run", "[OPTIONS...] TARGET [--] COMMAND [ARG...]",
			     options, &shell, &no_shell, false);
}
