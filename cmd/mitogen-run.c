/* mitogen-run: run a command at the end of a hop chain. */
#include <popt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <mitogen/mitogen.h>
#include "common.h"

int main(int argc, const char **argv)
{
	TALLOC_CTX *tmp = NULL;
	int shell = 0, no_shell = 0, null_stdin = 0, cmd_timeout = 0, help = 0;
	struct poptOption options[] = {
		POPT_AUTOHELP
		{ NULL, 'h', POPT_ARG_NONE, &help, 0, NULL, NULL },
		{ NULL, '\0', POPT_ARG_INCLUDE_TABLE, mg_common_popt_table, 0, "Common options:", NULL },
		{ "command-timeout", 'u', POPT_ARG_INT, &cmd_timeout, 0,
		  "Stop the remote command after SECS seconds (exit 124)", "SECS" },
		{ "null-stdin", 'n', POPT_ARG_NONE, &null_stdin, 0, "Give the command /dev/null as stdin", NULL },
		{ "shell", '\0', POPT_ARG_NONE, &shell, 0, "Run COMMAND through /bin/sh -c even with arguments", NULL },
		{ "no-shell", '\0', POPT_ARG_NONE, &no_shell, 0, "Run COMMAND directly even when it is one word", NULL },
		POPT_TABLEEND
	};
	struct mg_run_opts ro = { 0 };
	struct mg_run_result res;
	struct mg_chain_list *list = NULL;
	const char **rest, *target;
	char *errmsg = NULL, *joined = NULL;
	poptContext pc;
	int rc, n_rest = 0, status = 0;

	mg_cmd_init("mitogen-run");
	signal(SIGPIPE, SIG_IGN);
	pc = poptGetContext("mitogen-run", argc, argv, options, POPT_CONTEXT_POSIXMEHARDER);
	poptSetOtherOptionHelp(pc, "[OPTIONS...] TARGET [--] COMMAND [ARG...]");
	while ((rc = poptGetNextOpt(pc)) > 0) {
		if (rc == 'v') {
			mg_common.verbose++;
		}
	}
	/* Only now: popt's --help exits from inside the loop above. */
	tmp = talloc_new(NULL);
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
	if (n_rest < 1) {
		status = mg_cmd_usage_error("no TARGET given");
		goto done;
	}
	target = rest[0];
	rest++;
	n_rest--;
	if (n_rest > 0 && strcmp(rest[0], "--") == 0) {
		rest++;
		n_rest--;
	}
	if (n_rest < 1 && !mg_common.dry_run) {
		status = mg_cmd_usage_error("no COMMAND given");
		goto done;
	}
	if (shell && no_shell) {
		status = mg_cmd_usage_error("--shell and --no-shell exclude each other");
		goto done;
	}
	if (mg_common.connect_timeout <= 0 || cmd_timeout < 0) {
		status = mg_cmd_usage_error("timeouts must be positive numbers of seconds");
		goto done;
	}
	if (mg_chain_parse(tmp, target, &list, &errmsg) != 0) {
		status = mg_cmd_usage_error("chain '%s': %s", target, errmsg);
		goto done;
	}
	if (list->n_chains != 1) {
		status = mg_cmd_usage_error("'%s' names %zu targets; several targets are not supported yet",
				   target, list->n_chains);
		goto done;
	}
	if (mg_common.dry_run) {
		char **lines = NULL;
		if (mg_dry_run(tmp, &list->chains[0], &lines, &errmsg) != 0) {
			mg_cmd_error("%s", errmsg != NULL ? errmsg : "dry run failed");
			status = 255;
			goto done;
		}
		for (size_t i = 0; lines[i] != NULL; i++) {
			printf("%s\n", lines[i]);
		}
		goto done;
	}
	ro.chain = &list->chains[0];
	ro.shell = shell || (!no_shell && n_rest == 1);
	if (ro.shell && n_rest > 1) {
		/* --shell with several words: join them as ssh would. */
		joined = talloc_strdup(tmp, rest[0]);
		for (int i = 1; joined != NULL && i < n_rest; i++) {
			joined = talloc_asprintf_append(joined, " %s", rest[i]);
		}
		rest = (const char **)talloc_zero_array(tmp, char *, 2);
		rest[0] = joined;
	}
	ro.argv = rest;
	ro.null_stdin = null_stdin;
	ro.connect_timeout_ms = (unsigned)mg_common.connect_timeout * 1000u;
	ro.command_timeout_ms = (unsigned)cmd_timeout * 1000u;
	fflush(stdout);
	if (mg_run(tmp, &ro, &res) != 0) {
		mg_cmd_error("out of memory");
		status = 255;
		goto done;
	}
	if (res.errmsg != NULL) {
		mg_cmd_error("%s", res.errmsg);
	}
	status = res.exit_code;
done:
	poptFreeContext(pc);
	talloc_free(tmp);
	return status;
}
