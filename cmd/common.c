/* Shared command helpers: see common.h. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common.h"
#include "config.h"
#include <mitogen/mitogen.h>

struct mg_common_opts mg_common = { .connect_timeout = 30 };
static const char *prog_name = "mitogen";

struct poptOption mg_common_popt_table[] = {
	{ "verbose", 'v', POPT_ARG_NONE, NULL, 'v', "Log each hop's progress on stderr (repeat for more)", NULL },
	{ "quiet", 'q', POPT_ARG_NONE, &mg_common.quiet, 0, "Print only errors", NULL },
	{ "connect-timeout", 't', POPT_ARG_INT, &mg_common.connect_timeout, 0,
	  "Seconds allowed for each hop to connect, login and become (default 30)", "SECS" },
	{ "dry-run", '\0', POPT_ARG_NONE, &mg_common.dry_run, 0, "Print each hop's command, run nothing", NULL },
	{ "version", 'V', POPT_ARG_NONE, &mg_common.version, 0, "Print the version and exit", NULL },
	POPT_TABLEEND
};

void mg_cmd_init(const char *prog)
{
	prog_name = prog;
	mg_log_set_ident(prog);
}

bool mg_cmd_apply_common(void)
{
	int level = MG_LOG_WARN + mg_common.verbose;

	if (mg_common.quiet) {
		level = MG_LOG_ERROR;
	}
	if (level > MG_LOG_TRACE) {
		level = MG_LOG_TRACE;
	}
	mg_log_set_level((enum mg_log_level)level);
	if (mg_common.version) {
		printf("%s %s\n", prog_name, MG_VERSION);
		return true;
	}
	return false;
}

void mg_cmd_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog_name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int mg_cmd_usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog_name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (see '%s --help')\n", prog_name);
	return MG_EXIT_USAGE;
}
