/* mitogen-exec: push a local program through the chain and run it there from memory. */
#include <popt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <mitogen/mitogen.h>
#include "common.h"
#include "runner.h"

int main(int argc, const char **argv)
{
	TALLOC_CTX *tmp = NULL;
	int help = 0;
	struct poptOption options[] = {
		POPT_AUTOHELP
		{ NULL, 'h', POPT_ARG_NONE, &help, 0, NULL, NULL },
		{ NULL, '\0', POPT_ARG_INCLUDE_TABLE, mg_common_popt_table, 0, "Common options:", NULL },
		{ NULL, '\0', POPT_ARG_INCLUDE_TABLE, mg_runner_popt_table, 0, "Targets and output:", NULL },
		POPT_TABLEEND
	};
	const char **rest;
	poptContext pc;
	int rc, n_rest = 0, status = 0;

	mg_cmd_init("mitogen-exec");
	signal(SIGPIPE, SIG_IGN);
	pc = poptGetContext("mitogen-exec", argc, argv, options, POPT_CONTEXT_POSIXMEHARDER);
	poptSetOtherOptionHelp(pc, "[OPTIONS...] TARGET [--] PROGRAM [ARG...]");
	/* tmp only once an option needs it: popt's --help exits from inside. */
	while ((rc = poptGetNextOpt(pc)) > 0) {
		if (tmp == NULL) {
			tmp = talloc_new(NULL);
		}
		if (rc == 'v') {
			mg_common.verbose++;
		}
		mg_runner_option(pc, rc, tmp);
	}
	if (tmp == NULL) {
		tmp = talloc_new(NULL);
	}
	if (rc < -1) {
		status = mg_cmd_usage_error("%s: %s", poptBadOption(pc, POPT_BADOPTION_NOALIAS), poptStrerror(rc));
		goto done;
	}
	if (help) {
		poptPrintHelp(pc, stdout, 0);
		goto done;
	}
	if (mg_cmd_apply_common()) {
		goto done;
	}
	rest = poptGetArgs(pc);
	while (rest != NULL && rest[n_rest] != NULL) {
		n_rest++;
	}
	status = mg_runner_main(tmp, rest, n_rest, 0, 0, true);
done:
	free(mg_runner.outdir);
	free(mg_runner.failed);
	free(mg_runner.cwd);
	poptFreeContext(pc);
	talloc_free(tmp);
	return status;
}
