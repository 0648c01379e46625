/* mitogen-exec: push a local program through the chain and run it there
 * from memory. */
#include "runner.h"

int main(int argc, const char **argv)
{
	struct poptOption options[] = {
		POPT_TABLEEND
	};

	return mg_runner_cli(argc, argv, "mitogen-exec", "[OPTIONS...] TARGET [--] PROGRAM [ARG...]",
			     options, NULL, NULL, true);
}
