/* mitogen-cp: copy files and trees to and from the ends of hop chains. */
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
#include "cp.h"
#include "report.h"
#include "runner.h"

static struct {
	int recursive, preserve, archive, compress, progress, no_progress, plan, json;
} o;

static struct poptOption cp_table[] = {
	{ "recursive", 'r', POPT_ARG_NONE, &o.recursive, 0, "Copy directories and what they hold", NULL },
	{ "preserve", 'p', POPT_ARG_NONE, &o.preserve, 0,
	  "Keep mode and times (and owner when root at the receiving end)", NULL },
	{ "archive", 'a', POPT_ARG_NONE, &o.archive, 0,
	  "-rp, symlinks as symlinks, hard links within the copy, sparse files", NULL },
	{ "compress", 'z', POPT_ARG_NONE, &o.compress, 0,
	  "Compress the stream (deflate); what does not shrink goes as it is", NULL },
	{ "progress", '\0', POPT_ARG_NONE, &o.progress, 0,
	  "Show bytes, rate and ETA on stderr (default when stderr is a terminal)", NULL },
	{ "no-progress", '\0', POPT_ARG_NONE, &o.no_progress, 0, "Show no progress bar", NULL },
	{ "plan", 'n', POPT_ARG_NONE, &o.plan, 0, "Print what would be copied where, copy nothing", NULL },
	{ "targets", 'w', POPT_ARG_STRING, NULL, 'w',
	  "Targets: chains, host lists, ^FILE or -; far paths are then written :PATH", "TARGETS" },
	{ "exclude", 'x', POPT_ARG_STRING, NULL, 'x', "Leave these targets out; repeatable", "TARGETS" },
	{ "fanout", 'f', POPT_ARG_INT, &mg_runner.fanout, 0,
	  "At most N hops connecting at once under each parent (default 64)", "N" },
	{ "json", '\0', POPT_ARG_NONE, &o.json, 0, "One JSON object per target per line", NULL },
	{ "timeout", 'u', POPT_ARG_STRING, NULL, 'u',
	  "Stop copying after SECS seconds (exit 124); what was being written is dropped", "SECS" },
	POPT_TABLEEND
};

/* One word: *_far the chain ("" with -w) when it names a far path. */
static int classify(TALLOC_CTX *tmp, const char *word, bool targets, char **_far, char **_path)
{
	char *errmsg = NULL;
	int r;

	if (targets) {
		*_far = word[0] == ':' ? "" : NULL;
		*_path = talloc_strdup(tmp, word[0] == ':' ? (word[1] != '\0' ? word + 1 : ".") : word);
		return 0;
	}
	r = mg_cp_split(tmp, word, _far, _path, &errmsg);
	if (r < 0) {
		return mg_cmd_usage_error("%s", errmsg != NULL ? errmsg : "bad CHAIN:PATH");
	}
	if (r == 0) {
		*_path = talloc_strdup(tmp, word);
	}
	return 0;
}

static int dry_line(void *data, const char *text)
{
	char *shown = mg_log_escape(NULL, text, strlen(text));

	printf("%s\n", shown != NULL ? shown : text);
	talloc_free(shown);
	return 0;
}

static void plan(const struct mg_cp_opts *co)
{
	for (size_t i = 0; i < co->n_chains; i++) {
		for (size_t j = 0; co->srcs[j] != NULL; j++) {
			char *line;

			if (co->pull) {
				char *stem = co->report != NULL ? mg_report_file_stem(NULL, co->names[i]) : NULL;
				size_t n = strlen(co->dest);
				/* DEST/ as given: no second slash before the stem. */
				bool sep = stem != NULL && (n == 0 || co->dest[n - 1] != '/');

				line = talloc_asprintf(NULL, "%s:%s -> %s%s%s", co->chains[i].text,
						       co->srcs[j], co->dest, sep ? "/" : "",
						       stem != NULL ? stem : "");
				talloc_free(stem);
			} else {
				line = talloc_asprintf(NULL, "%s%s%s -> %s:%s",
						       co->from != NULL ? co->from->text : "",
						       co->from != NULL ? ":" : "", co->srcs[j],
						       co->chains[i].text, co->dest);
			}
			/* One per line: a newline in a name is shown escaped,
			 * as errors show it. */
			dry_line(NULL, line != NULL ? line : "?");
			talloc_free(line);
		}
	}
}

static int run(TALLOC_CTX *tmp, struct mg_cp_opts *co, const struct mg_chain_list *list,
	       bool many)
{
	struct mg_loop *loop = mg_loop_new(tmp);
	struct mg_session *s = NULL;
	struct mg_report_opts rop = { .mode = o.json ? MG_REPORT_JSON : MG_REPORT_PREFIX,
				      .out_fd = STDOUT_FILENO, .err_fd = STDERR_FILENO, .loop = loop,
				      .ident = mg_cmd_prog() };
	struct mg_persist_opts po = { .verbose = mg_common.verbose };
	char *errmsg = NULL;
	int status;

	if (mg_cmd_persist_idle(false, &po.idle_ms) != 0) {
		return MG_EXIT_USAGE;
	}
	if (loop != NULL && po.idle_ms != 0 && !o.plan) {
		/* The hops are the holder's, kept for the next command. */
		status = mg_persist_attach(tmp, loop, &po, &s, &errmsg);
		if (status != 0) {
			mg_cmd_error("--persist: %s", errmsg != NULL ? errmsg : mg_strerror(status));
			return 255;
		}
	} else if (loop != NULL) {
		s = mg_session_new(tmp, loop);
	}
	if (s == NULL) {
		mg_cmd_error("out of memory");
		return 255;
	}
	if (!mg_session_attached(s)) {
		mg_router_set_unidirectional(mg_session_router(s), true);
	}
	if (many) {
		co->names = mg_report_names(tmp, list->chains, list->n_chains);
		co->report = co->names != NULL ? mg_report_new(tmp, &rop, &errmsg) : NULL;
		if (co->report == NULL) {
			mg_cmd_error("%s", errmsg != NULL ? errmsg : "out of memory");
			return 255;
		}
		for (size_t i = 0; i < list->n_chains; i++) {
			mg_report_add(co->report, co->names[i], list->chains[i].text);
		}
	}
	if (o.plan) {
		plan(co);
		talloc_free(co->report);
		return 0;
	}
	status = mg_cp(tmp, s, co);
	talloc_free(s);
	if (co->report != NULL && mg_report_finish(co->report, &errmsg) != 0) {
		mg_cmd_error("%s", errmsg != NULL ? errmsg : "cannot write the report");
		status = 255;
	}
	talloc_free(co->report);
	talloc_free(loop);
	return status;
}

static int cp_main(TALLOC_CTX *tmp, const char **rest, int n)
{
	struct mg_cp_opts co = { .err_fd = STDERR_FILENO, .fanout = (unsigned)mg_runner.fanout };
	bool targets = mg_runner.includes != NULL;
	struct mg_chain_list *list = NULL;
	const char *includes[2] = { NULL, NULL };
	char **far = talloc_zero_array(tmp, char *, n + 1);
	char **path = talloc_zero_array(tmp, char *, n + 1);
	char *errmsg = NULL;

	if (n < 2) {
		return mg_cmd_usage_error(n == 0 ? "no SOURCE and DEST given" : "no DEST given");
	}
	if (mg_cmd_parse_secs("-t", mg_common.connect_timeout, 86400, false, &co.connect_timeout_ms) != 0 ||
	    (mg_runner.cmd_timeout != NULL &&
	     mg_cmd_parse_secs("-u", mg_runner.cmd_timeout, UINT_MAX / 1000, false, &co.timeout_ms) != 0)) {
		return MG_EXIT_USAGE;
	}
	if (mg_runner.fanout <= 0) {
		return mg_cmd_usage_error("the fan-out must be a positive number");
	}
	for (int i = 0; i < n; i++) {
		if (classify(tmp, rest[i], targets, &far[i], &path[i]) != 0) {
			return MG_EXIT_USAGE;
		}
	}
	co.pull = far[n - 1] == NULL;
	for (int i = 0; i < n - 1; i++) {
		if (co.pull && far[i] == NULL) {
			return mg_cmd_usage_error("'%s' and DEST are both local: one side must be CHAIN:PATH%s",
						  rest[i], targets ? " (:PATH with -w)" : "");
		}
		if (!co.pull && (far[i] == NULL) != (far[0] == NULL)) {
			return mg_cmd_usage_error("'%s': the sources are all local or all CHAIN:PATH",
						  rest[i]);
		}
		if (far[i] != NULL && strcmp(far[i], far[0]) != 0) {
			return mg_cmd_usage_error("the sources are on different chains ('%s', '%s')",
						  far[0], far[i]);
		}
	}
	if (!co.pull && far[0] != NULL) {
		/* Chain to chain: the sources' chain is one chain. */
		struct mg_chain_list *from = NULL;
		const char *one[2] = { far[0], NULL };

		if (targets) {
			return mg_cmd_usage_error("with -w, far paths are :PATH on one side only");
		}
		if (mg_targets_build(tmp, one, NULL, &from, &errmsg) != 0) {
			return mg_cmd_usage_error("%s", errmsg != NULL ? errmsg : "bad chain");
		}
		if (from->n_chains != 1) {
			return mg_cmd_usage_error("'%s': the sources must be at the end of one chain",
						  far[0]);
		}
		co.from = &from->chains[0];
	}
	co.dest = path[n - 1];
	path[n - 1] = NULL;
	co.srcs = (const char *const *)path;
	if (!targets) {
		includes[0] = co.pull ? far[0] : far[n - 1];
		mg_runner.includes = (char **)includes;
	}
	if (mg_targets_build(tmp, (const char *const *)mg_runner.includes,
			     (const char *const *)mg_runner.excludes, &list, &errmsg) != 0) {
		return mg_cmd_usage_error("%s", errmsg != NULL ? errmsg : "bad target");
	}
	if (list->n_chains == 0) {
		return mg_cmd_usage_error("no target left to copy with");
	}
	co.chains = list->chains;
	co.n_chains = list->n_chains;
	co.flags = (o.recursive || o.archive ? MG_FILE_RECURSIVE : 0) |
		   (o.preserve || o.archive ? MG_FILE_PRESERVE : 0) |
		   (o.archive ? MG_FILE_LINKS | MG_FILE_SPARSE : 0) |
		   (o.compress ? MG_FILE_COMPRESS : 0);
	if (co.dest[0] != '\0' && co.dest[strlen(co.dest) - 1] == '/') {
		co.flags |= MG_FILE_INTO;
	}
	if (getenv("MITOGEN_CP_NO_RELAY") != NULL && getenv("MITOGEN_CP_NO_RELAY")[0] != '\0') {
		co.flags |= MG_FILE_NO_RELAY;  /* benchmarks: the unshared paths */
	}
	co.progress = !o.no_progress && !mg_common.quiet && (o.progress || isatty(STDERR_FILENO));
	co.verbose = mg_common.verbose > 0;
	if (mg_common.dry_run) {
		int r = mg_dry_run_list(tmp, list->chains, list->n_chains, NULL, dry_line, NULL,
					&errmsg);
		if (r != 0) {
			mg_cmd_error("%s", errmsg != NULL ? errmsg : "dry run failed");
			return 255;
		}
		return 0;
	}
	return run(tmp, &co, list, targets || list->n_chains > 1 || o.json);
}

int main(int argc, const char **argv)
{
	TALLOC_CTX *tmp = NULL;
	int help = 0, rc, n = 0, status = 0;
	struct poptOption options[] = {
		POPT_AUTOHELP
		{ NULL, 'h', POPT_ARG_NONE | POPT_ARGFLAG_DOC_HIDDEN, &help, 0, NULL, NULL },
		{ NULL, '\0', POPT_ARG_INCLUDE_TABLE, mg_common_popt_table, 0, "Common options:", NULL },
		{ NULL, '\0', POPT_ARG_INCLUDE_TABLE, cp_table, 0, "Copying:", NULL },
		POPT_TABLEEND
	};
	const char **rest;
	poptContext pc;

	mg_cmd_init("mitogen-cp");
	mg_common.argc = argc;
	mg_common.argv = argv;
	signal(SIGPIPE, SIG_IGN);
	pc = poptGetContext("mitogen-cp", argc, argv, options, POPT_CONTEXT_POSIXMEHARDER);
	poptSetOtherOptionHelp(pc, "[OPTIONS...] SOURCE... DEST");
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
		status = mg_cmd_usage_error("%s: %s", poptBadOption(pc, POPT_BADOPTION_NOALIAS),
					    poptStrerror(rc));
	} else if (help) {
		poptPrintHelp(pc, stdout, 0);
	} else if (!mg_cmd_apply_common() && !mg_cmd_persist_control(poptGetArgs(pc), &status)) {
		rest = poptGetArgs(pc);
		while (rest != NULL && rest[n] != NULL) {
			n++;
		}
		status = cp_main(tmp, rest, n);
	}
	poptFreeContext(pc);
	talloc_free(tmp);
	return status;
}
