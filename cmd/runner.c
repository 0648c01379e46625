/* Running on targets, shared by mitogen-run and mitogen-exec. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <mitogen/mitogen.h>
#include "common.h"
#include "persist.h"
#include "report.h"
#include "run.h"
#include "runner.h"

struct mg_runner mg_runner = { .fanout = 64 };

struct poptOption mg_runner_popt_table[] = {
	{ "targets", 'w', POPT_ARG_STRING, NULL, 'w',
	  "Targets: chains, host lists, ^FILE (one per line) or - (stdin); repeatable", "TARGETS" },
	{ "exclude", 'x', POPT_ARG_STRING, NULL, 'x', "Leave these targets out; repeatable", "TARGETS" },
	{ "fanout", 'f', POPT_ARG_INT, &mg_runner.fanout, 0,
	  "At most N hops connecting at once under each parent (default 64)", "N" },
	{ "command-timeout", 'u', POPT_ARG_STRING, NULL, 'u',
	  "Stop the remote command after SECS seconds (exit 124)", "SECS" },
	{ "null-stdin", 'n', POPT_ARG_NONE, &mg_runner.null_stdin, 0, "Give the command /dev/null as stdin", NULL },
	{ "relay-stdio", '\0', POPT_ARG_NONE, &mg_runner.relay_stdio, 0,
	  "Carry stdio through the hops even where the command could have ours", NULL },
	{ "env", 'e', POPT_ARG_STRING, NULL, 'e', "Set K=V in the command's environment; repeatable", "K=V" },
	{ "chdir", 'C', POPT_ARG_STRING, &mg_runner.cwd, 0, "Run the command in DIR at the far end", "DIR" },
	{ "tty", 'T', POPT_ARG_NONE, &mg_runner.tty, 0,
	  "One target: run the command on a terminal there (interactive programs)", NULL },
	{ "no-prefix", 'N', POPT_ARG_NONE, &mg_runner.no_prefix, 0, "Many targets: print lines without 'target: '", NULL },
	{ "gather", 'b', POPT_ARG_NONE, &mg_runner.gather, 0,
	  "Many targets: group targets with the same output and status", NULL },
	{ "json", '\0', POPT_ARG_NONE, &mg_runner.json, 0, "One JSON object per target per line", NULL },
	{ "outdir", '\0', POPT_ARG_STRING, &mg_runner.outdir, 0, "Write DIR/TARGET.out, .err and .rc", "DIR" },
	{ "failed", '\0', POPT_ARG_STRING, &mg_runner.failed, 0, "Write the failed targets to FILE (for -w ^FILE)", "FILE" },
	POPT_TABLEEND
};

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

/* A terminal at the far end gets our TERM, as ssh's terminal request
 * carries it (an ssh hop's login has none, or "dumb"); -e TERM= wins. */
static void add_term(TALLOC_CTX *ctx, char ***env)
{
	const char *term = getenv("TERM");

	for (size_t i = 0; *env != NULL && (*env)[i] != NULL; i++) {
		if (strncmp((*env)[i], "TERM=", 5) == 0) {
			return;
		}
	}
	if (term != NULL) {
		add_item(ctx, env, talloc_asprintf(ctx, "TERM=%s", term));
	}
}

void mg_runner_option(poptContext pc, int rc, TALLOC_CTX *tmp)
{
	char *arg;

	mg_cmd_option(pc, rc, tmp);
	if (rc != 'w' && rc != 'x' && rc != 'e' && rc != 't' && rc != 'u') {
		return;
	}
	arg = poptGetOptArg(pc);
	if (rc == 't' || rc == 'u') {
		/* Checked with the other options, in mg_runner_main. */
		char *copy = talloc_strdup(tmp, arg != NULL ? arg : "");
		if (rc == 't') {
			mg_common.connect_timeout = copy;
		} else {
			mg_runner.cmd_timeout = copy;
		}
		free(arg);
		return;
	}
	add_item(tmp, rc == 'w' ? &mg_runner.includes : rc == 'x' ? &mg_runner.excludes : &mg_runner.env, arg);
	free(arg);
}

/* One --dry-run line: a chain's decoded bytes must not reach the terminal raw. */
static int dry_run_line(void *data, const char *text)
{
	const unsigned char *p = (const unsigned char *)text;
	char *shown;

	/* Printable ASCII and tabs are shown as they are: no copy. */
	while (*p == '\t' || (*p >= 0x20 && *p < 0x7f)) {
		p++;
	}
	if (*p == '\0') {
		puts(text);
		return 0;
	}
	shown = mg_log_escape(NULL, text, strlen(text));
	if (shown == NULL) {
		return -ENOMEM;
	}
	printf("%s\n", shown);
	talloc_free(shown);
	return 0;
}

/* The reporter for many targets (or any of -w, -N, -b, --json, --outdir,
 * --failed), writing our stdout and stderr through 'loop'; NULL when
 * output goes out raw, or on error (*_failed set, the error printed). */
static struct mg_report *make_report(TALLOC_CTX *tmp, const struct mg_chain_list *list,
				     bool used_w, struct mg_loop *loop, bool *_failed)
{
	struct mg_runner *o = &mg_runner;
	struct mg_report_opts rop = {
		.mode = o->gather ? MG_REPORT_GATHER : o->json ? MG_REPORT_JSON
		      : o->no_prefix ? MG_REPORT_PLAIN : MG_REPORT_PREFIX,
		.out_fd = STDOUT_FILENO, .err_fd = STDERR_FILENO,
		.outdir = o->outdir, .failed_file = o->failed, .loop = loop,
		.ident = mg_cmd_prog(),
	};
	struct mg_report *report;
	char **names;
	char *errmsg = NULL;

	*_failed = false;
	/* -w means "targets": prefixed output even if only one is left. */
	if (!(list->n_chains > 1 || used_w || o->gather || o->json || o->no_prefix ||
	      o->outdir != NULL || o->failed != NULL)) {
		return NULL;
	}
	names = mg_report_names(tmp, list->chains, list->n_chains);
	report = names != NULL ? mg_report_new(tmp, &rop, &errmsg) : NULL;
	if (report == NULL) {
		mg_cmd_error("%s", errmsg != NULL ? errmsg : "out of memory");
		*_failed = true;
		return NULL;
	}
	for (size_t i = 0; i < list->n_chains; i++) {
		mg_report_add(report, names[i], list->chains[i].text);
	}
	return report;
}

/* The chain is up: tell the parent waiting in front (fakessh -f) and
 * go on in a session of our own, as ssh -f does. */
static void on_up(void *data)
{
	struct mg_runner *o = data;
	char c = 0;

	if (o->up_fd > 0) {
		if (write(o->up_fd, &c, 1) != 1) {
			mg__log(MG_LOG_INFO, NULL, 0, "cannot tell the foreground: %s", strerror(errno));
		}
		close(o->up_fd);
		o->up_fd = 0;
		setsid();
	}
}

/*
 * The run itself: our loop and session, the report, and what the run is
 * handed of this process (stdio, the terminal for -T, the signals). The
 * session goes before the report finishes, so that no hop outlives the
 * run while the last output waits for a slow reader.
 */
static int run_targets(TALLOC_CTX *tmp, const struct mg_chain_list *list,
		       struct mg_run_opts *ro, bool used_w, unsigned persist_ms)
{
	struct mg_persist_opts po = { .idle_ms = persist_ms, .verbose = mg_common.verbose };
	TALLOC_CTX *run_ctx = talloc_new(tmp);
	struct mg_loop *loop = run_ctx != NULL ? mg_loop_new(run_ctx) : NULL;
	struct mg_session *s = NULL;
	struct mg_report *report;
	struct mg_run_result res;
	char *errmsg = NULL;
	bool failed;
	int ret;

	if (loop != NULL && mg_runner.attach != NULL) {
		/* The hops are another process's, which we join. */
		ret = mg_session_attach(run_ctx, loop, mg_runner.attach, 0, &s, &errmsg);
		if (ret != 0) {
			mg_cmd_error("cannot attach to %s: %s", mg_runner.attach,
				     errmsg != NULL ? errmsg : mg_strerror(ret));
			talloc_free(run_ctx);
			return 255;
		}
	} else if (loop != NULL && persist_ms != 0) {
		/* The hops are the holder's, kept for the next command. */
		ret = mg_persist_attach(run_ctx, loop, &po, &s, &errmsg);
		if (ret != 0) {
			mg_cmd_error("--persist: %s", errmsg != NULL ? errmsg : mg_strerror(ret));
			talloc_free(run_ctx);
			return 255;
		}
	} else if (loop != NULL) {
		s = mg_session_new(run_ctx, loop);
	}
	if (s == NULL) {
		talloc_free(run_ctx);
		mg_cmd_error("out of memory");
		return 255;
	}
	/* No target of a run has anything to say to another: a hop's frames
	 * go to its ancestors only, never across to a sibling's subtree
	 * (mitogen's unidirectional mode, inherited by every hop). An
	 * attached session's hops are its master's, set as it wants. */
	if (!mg_session_attached(s)) {
		mg_router_set_unidirectional(mg_session_router(s), true);
	}
	report = make_report(run_ctx, list, used_w, loop, &failed);
	if (failed) {
		talloc_free(run_ctx);
		return 255;
	}
	ro->report = report;
	ro->in_fd = STDIN_FILENO;
	ro->out_fd = STDOUT_FILENO;
	ro->err_fd = STDERR_FILENO;
	ro->tty_fd = ro->pty ? STDIN_FILENO : -1;
	/* On a same-kernel chain the command gets our stdio itself. */
	ro->pass_stdio = !mg_runner.relay_stdio;
	ro->signals = true;
	if (mg_runner.up_fd > 0) {
		ro->on_up = on_up;
		ro->on_up_data = &mg_runner;
	}
	fflush(stdout);
	if (mg_run(tmp, s, ro, &res) != 0) {
		talloc_free(run_ctx);
		mg_cmd_error("out of memory");
		return 255;
	}
	/* Closing the hops stops whatever a second signal left running. */
	talloc_free(s);
	if (report != NULL && mg_report_finish(report, &errmsg) != 0) {
		/* Output, --outdir or --failed not written: the run's
		 * result is not all there, as with output cut short. */
		mg_cmd_error("%s", errmsg != NULL ? errmsg : "cannot write the report");
		res.exit_code = 255;
	}
	if (res.errmsg != NULL) {
		mg_cmd_error("%s", res.errmsg);
	}
	/* As ssh: not when a signal of ours ended the session. */
	if (report == NULL && ro->pty && res.outcome == MG_RUN_EXITED && res.our_signal == 0 &&
	    mg_runner.closed_host != NULL) {
		dprintf(mg_cmd_err_fd(), "Connection to %s closed.\r\n", mg_runner.closed_host);
	}
	if (report == NULL && res.signal != 0 && mg_runner.signal_status != 0) {
		mg__log(MG_LOG_INFO, NULL, 0, "the command was killed by signal %d", res.signal);
		res.exit_code = mg_runner.signal_status;
	}
	/* The report before the loop its fds were watched by. */
	talloc_free(report);
	talloc_free(run_ctx);
	return res.exit_code;
}

int mg_runner_main(TALLOC_CTX *tmp, const char **rest, int n_rest, int shell, int no_shell,
		   bool program)
{
	struct mg_runner *o = &mg_runner;
	struct mg_run_opts ro = { 0 };
	struct mg_chain_list *list = NULL;
	char *errmsg = NULL;
	bool used_w = o->includes != NULL;
	unsigned persist_ms = 0;

	if (mg_cmd_persist_idle(false, &persist_ms) != 0) {
		return MG_EXIT_USAGE;
	}
	if (o->includes == NULL) {
		/* No -w: the first word is the target. */
		if (n_rest < 1) {
			return mg_cmd_usage_error("no TARGET given");
		}
		add_item(tmp, &o->includes, rest[0]);
		rest++;
		n_rest--;
	}
	if (n_rest > 0 && strcmp(rest[0], "--") == 0) {
		rest++;
		n_rest--;
	}
	if (n_rest < 1 && !mg_common.dry_run) {
		return mg_cmd_usage_error(program ? "no PROGRAM given" : "no COMMAND given");
	}
	if (shell && no_shell) {
		return mg_cmd_usage_error("%s and --no-shell exclude each other",
					  (shell & 1) != 0 ? "--shell" : "--sh");
	}
	if (o->gather + o->json + o->no_prefix > 1) {
		return mg_cmd_usage_error("-N, -b and --json exclude each other");
	}
	/* -t as connect_timeout= allows; -u whatever fits in milliseconds. */
	if (mg_cmd_parse_secs("-t", mg_common.connect_timeout, 86400, false,
			      &ro.connect_timeout_ms) != 0 ||
	    (o->cmd_timeout != NULL &&
	     mg_cmd_parse_secs("-u", o->cmd_timeout, UINT_MAX / 1000, true,
			       &ro.command_timeout_ms) != 0)) {
		return MG_EXIT_USAGE;
	}
	if (o->fanout <= 0) {
		return mg_cmd_usage_error("the fan-out must be a positive number");
	}
	for (size_t i = 0; o->env != NULL && o->env[i] != NULL; i++) {
		const char *eq = strchr(o->env[i], '=');
		if (eq == NULL || eq == o->env[i]) {
			return mg_cmd_usage_error("-e %s: expected K=V", o->env[i]);
		}
	}
	if (mg_targets_build(tmp, (const char *const *)o->includes, (const char *const *)o->excludes,
			     &list, &errmsg) != 0) {
		return mg_cmd_usage_error("%s", errmsg != NULL ? errmsg : "bad target");
	}
	if (list->n_chains == 0) {
		return mg_cmd_usage_error("no target left to run on");
	}
	if (o->tty && (list->n_chains > 1 || used_w)) {
		return mg_cmd_usage_error("-T needs exactly one target");
	}
	if (mg_common.dry_run) {
		/* As mg_run connects; a holder's or an attached master's
		 * hops are connected whole (they serve other commands). */
		const struct mg_run_opts as_run = { .pty = o->tty, .program = program ? rest[0] : NULL };
		struct mg_connect_opts co = { .exec_only = persist_ms == 0 && o->attach == NULL,
					      .leaf = mg_run_leaf(&as_run) };
		int r = mg_dry_run_list(tmp, list->chains, list->n_chains, &co, dry_run_line, NULL,
					&errmsg);
		if (r != 0) {
			mg_cmd_error("%s", errmsg != NULL ? errmsg : r == -ENOMEM ? "out of memory" : "dry run failed");
			return 255;
		}
		return 0;
	}
	ro.chains = list->chains;
	ro.n_chains = list->n_chains;
	ro.shell = !program && (shell || (!no_shell && n_rest == 1));
	ro.posix_sh = (shell & 2) != 0;
	if (ro.shell && n_rest > 1) {
		/* --shell with several words: join them as ssh would. */
		char *joined = talloc_strdup(tmp, rest[0]);
		for (int i = 1; joined != NULL && i < n_rest; i++) {
			joined = talloc_asprintf_append(joined, " %s", rest[i]);
		}
		rest = (const char **)talloc_zero_array(tmp, char *, 2);
		rest[0] = joined;
	}
	ro.argv = rest;
	ro.program = program ? rest[0] : NULL;
	if (o->tty) {
		add_term(tmp, &o->env);
	}
	ro.env = (const char *const *)o->env;
	ro.cwd = o->cwd;
	/* Targets read from stdin leave nothing there for the command. */
	ro.null_stdin = o->null_stdin;
	for (size_t i = 0; o->includes[i] != NULL; i++) {
		if (strcmp(o->includes[i], "-") == 0) {
			ro.null_stdin = true;
		}
	}
	ro.fanout = (unsigned)o->fanout;
	ro.pty = o->tty;
	return run_targets(tmp, list, &ro, used_w, persist_ms);
}

int mg_runner_cli(int argc, const char **argv, const char *name, const char *usage,
		  struct poptOption *extra, int *shell, int *no_shell, bool program)
{
	TALLOC_CTX *tmp = NULL;
	int help = 0;
	struct poptOption options[] = {
		POPT_AUTOHELP
		{ NULL, 'h', POPT_ARG_NONE | POPT_ARGFLAG_DOC_HIDDEN, &help, 0, NULL, NULL },
		{ NULL, '\0', POPT_ARG_INCLUDE_TABLE, mg_common_popt_table, 0, "Common options:", NULL },
		{ NULL, '\0', POPT_ARG_INCLUDE_TABLE, mg_runner_popt_table, 0, "Targets and output:", NULL },
		{ NULL, '\0', POPT_ARG_INCLUDE_TABLE, extra, 0, NULL, NULL },
		POPT_TABLEEND
	};
	const char **rest;
	poptContext pc;
	int rc, n_rest = 0, status = 0;

	mg_cmd_init(name);
	mg_common.argc = argc;
	mg_common.argv = argv;
	signal(SIGPIPE, SIG_IGN);
	pc = poptGetContext(name, argc, argv, options, POPT_CONTEXT_POSIXMEHARDER);
	poptSetOtherOptionHelp(pc, usage);
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
	if (mg_cmd_apply_common() || mg_cmd_persist_control(poptGetArgs(pc), &status)) {
		goto done;
	}
	rest = poptGetArgs(pc);
	while (rest != NULL && rest[n_rest] != NULL) {
		n_rest++;
	}
	status = mg_runner_main(tmp, rest, n_rest, shell != NULL ? *shell : 0,
				no_shell != NULL ? *no_shell : 0, program);
done:
	free(mg_runner.outdir);
	free(mg_runner.failed);
	free(mg_runner.cwd);
	poptFreeContext(pc);
	talloc_free(tmp);
	return status;
}
