/* mitogen-run: run a command at the end of one or many hop chains. */
#include <popt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <mitogen/mitogen.h>
#include "common.h"

/* Collect repeated string options (-w, -x). */
static void add_item(TALLOC_CTX *ctx, char ***v, const char *s)
{
	size_t n = 0;

	while (*v != NULL && (*v)[n] != NULL) {
		n++;
	}
	*v = talloc_realloc(ctx, *v, char *, n + 2);
	(*v)[n] = talloc_strdup(*v, s);
	(*v)[n + 1] = NULL;
}

int main(int argc, const char **argv)
{
	TALLOC_CTX *tmp = NULL;
	int shell = 0, no_shell = 0, null_stdin = 0, cmd_timeout = 0, help = 0, fanout = 64;
	int no_prefix = 0, gather = 0, json = 0;
	char *outdir = NULL, *failed = NULL;
	struct poptOption options[] = {
		POPT_AUTOHELP
		{ NULL, 'h', POPT_ARG_NONE, &help, 0, NULL, NULL },
		{ NULL, '\0', POPT_ARG_INCLUDE_TABLE, mg_common_popt_table, 0, "Common options:", NULL },
		{ "targets", 'w', POPT_ARG_STRING, NULL, 'w',
		  "Targets: chains, host lists, ^FILE (one per line) or - (stdin); repeatable", "TARGETS" },
		{ "exclude", 'x', POPT_ARG_STRING, NULL, 'x', "Leave these targets out; repeatable", "TARGETS" },
		{ "fanout", 'f', POPT_ARG_INT, &fanout, 0,
		  "At most N hops connecting at once under each parent (default 64)", "N" },
		{ "command-timeout", 'u', POPT_ARG_INT, &cmd_timeout, 0,
		  "Stop the remote command after SECS seconds (exit 124)", "SECS" },
		{ "null-stdin", 'n', POPT_ARG_NONE, &null_stdin, 0, "Give the command /dev/null as stdin", NULL },
		{ "shell", '\0', POPT_ARG_NONE, &shell, 0, "Run COMMAND through /bin/sh -c even with arguments", NULL },
		{ "no-shell", '\0', POPT_ARG_NONE, &no_shell, 0, "Run COMMAND directly even when it is one word", NULL },
		{ "no-prefix", 'N', POPT_ARG_NONE, &no_prefix, 0, "Many targets: print lines without 'target: '", NULL },
		{ "gather", 'b', POPT_ARG_NONE, &gather, 0,
		  "Many targets: group targets with the same output and status", NULL },
		{ "json", '\0', POPT_ARG_NONE, &json, 0, "One JSON object per target per line", NULL },
		{ "outdir", '\0', POPT_ARG_STRING, &outdir, 0, "Write DIR/TARGET.out, .err and .rc", "DIR" },
		{ "failed", '\0', POPT_ARG_STRING, &failed, 0, "Write the failed targets to FILE (for -w ^FILE)", "FILE" },
		POPT_TABLEEND
	};
	struct mg_run_opts ro = { 0 };
	struct mg_run_result res;
	struct mg_chain_list *list = NULL;
	struct mg_report *report = NULL;
	char **includes = NULL, **excludes = NULL;
	const char **rest;
	char *errmsg = NULL, *joined = NULL;
	poptContext pc;
	int rc, n_rest = 0, status = 0;
	bool many_output, used_w;

	mg_cmd_init("mitogen-run");
	signal(SIGPIPE, SIG_IGN);
	pc = poptGetContext("mitogen-run", argc, argv, options, POPT_CONTEXT_POSIXMEHARDER);
	poptSetOtherOptionHelp(pc, "[OPTIONS...] TARGET [--] COMMAND [ARG...]");
	/* Only now: popt's --help exits from inside the loop below. */
	while ((rc = poptGetNextOpt(pc)) > 0) {
		if (tmp == NULL) {
			tmp = talloc_new(NULL);
		}
		if (rc == 'v') {
			mg_common.verbose++;
		} else if (rc == 'w' || rc == 'x') {
			char *arg = poptGetOptArg(pc);
			add_item(tmp, rc == 'w' ? &includes : &excludes, arg);
			free(arg);
		}
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
	used_w = includes != NULL;
	if (includes == NULL) {
		/* No -w: the first word is the target. */
		if (n_rest < 1) {
			status = mg_cmd_usage_error("no TARGET given");
			goto done;
		}
		add_item(tmp, &includes, rest[0]);
		rest++;
		n_rest--;
	}
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
	if (gather + json + no_prefix > 1) {
		status = mg_cmd_usage_error("-N, -b and --json exclude each other");
		goto done;
	}
	if (mg_common.connect_timeout <= 0 || cmd_timeout < 0 || fanout <= 0) {
		status = mg_cmd_usage_error("timeouts and the fan-out must be positive numbers");
		goto done;
	}
	if (mg_targets_build(tmp, (const char *const *)includes, (const char *const *)excludes,
			     &list, &errmsg) != 0) {
		status = mg_cmd_usage_error("%s", errmsg != NULL ? errmsg : "bad target");
		goto done;
	}
	if (list->n_chains == 0) {
		status = mg_cmd_usage_error("no target left to run on");
		goto done;
	}
	if (mg_common.dry_run) {
		for (size_t c = 0; c < list->n_chains; c++) {
			char **lines = NULL;
			if (mg_dry_run(tmp, &list->chains[c], &lines, &errmsg) != 0) {
				mg_cmd_error("%s", errmsg != NULL ? errmsg : "dry run failed");
				status = 255;
				goto done;
			}
			for (size_t i = 0; lines[i] != NULL; i++) {
				printf("%s\n", lines[i]);
			}
		}
		goto done;
	}
	ro.chains = list->chains;
	ro.n_chains = list->n_chains;
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
	/* Targets read from stdin leave nothing there for the command. */
	ro.null_stdin = null_stdin;
	for (size_t i = 0; includes[i] != NULL; i++) {
		if (strcmp(includes[i], "-") == 0) {
			ro.null_stdin = true;
		}
	}
	ro.connect_timeout_ms = (unsigned)mg_common.connect_timeout * 1000u;
	ro.command_timeout_ms = (unsigned)cmd_timeout * 1000u;
	ro.fanout = (unsigned)fanout;
	many_output = gather || json || no_prefix || outdir != NULL || failed != NULL;
	/* -w means "targets": prefixed output even if only one is left. */
	if (list->n_chains > 1 || many_output || used_w) {
		struct mg_report_opts rop = {
			.mode = gather ? MG_REPORT_GATHER : json ? MG_REPORT_JSON
			      : no_prefix ? MG_REPORT_PLAIN : MG_REPORT_PREFIX,
			.out_fd = 1, .err_fd = 2, .outdir = outdir, .failed_file = failed,
		};
		char **names = mg_report_names(tmp, list->chains, list->n_chains);
		report = names != NULL ? mg_report_new(tmp, &rop, &errmsg) : NULL;
		if (report == NULL) {
			mg_cmd_error("%s", errmsg != NULL ? errmsg : "out of memory");
			status = 255;
			goto done;
		}
		for (size_t i = 0; i < list->n_chains; i++) {
			mg_report_add(report, names[i], list->chains[i].text);
		}
		ro.report = report;
	}
	fflush(stdout);
	if (mg_run(tmp, &ro, &res) != 0) {
		mg_cmd_error("out of memory");
		status = 255;
		goto done;
	}
	if (report != NULL) {
		if (mg_report_finish(report, &errmsg) != 0) {
			mg_cmd_error("%s", errmsg != NULL ? errmsg : "cannot write the report");
		}
	} else if (res.errmsg != NULL) {
		mg_cmd_error("%s", res.errmsg);
	}
	status = res.exit_code;
done:
	free(outdir);
	free(failed);
	poptFreeContext(pc);
	talloc_free(tmp);
	return status;
}
