/* mitogen-run: run a command at the end of one or many hop chains. */
#include "runner.h"

int main(int argc, const char **argv)
{
	int shell = 0, no_shell = 0;
	struct poptOption options[] = {
		{ "shell", '\0', POPT_ARG_NONE, &shell, 0, "Run COMMAND through /bin/sh -c even with arguments", NULL },
		{ "no-shell", '\0', POPT_ARG_NONE, &no_shell, 0, "Run COMMAND directly even when it is one word", NULL },
		POPT_TABLEEND
	};

	return mg_runner_cli(argc, argv, "mitogen-run", "[OPTIONS...] TARGET [--] COMMAND [ARG...]",
			     options, &shell, &no_shell, false);
}
