/* Shared by the commands: the common popt table and output helpers. */
#ifndef MG_CMD_COMMON_H
#define MG_CMD_COMMON_H

#include <popt.h>
#include <stdbool.h>

#define MG_EXIT_USAGE 2

struct mg_common_opts {
	int verbose;
	int quiet;
	int version;
	int dry_run;
	const char *connect_timeout; /* -t as given; checked by mg_cmd_parse_secs */
};

extern struct mg_common_opts mg_common;
extern struct poptOption mg_common_popt_table[];

/* Set up logging for program 'prog' from the common options. */
void mg_cmd_init(const char *prog);
/* Apply -v/-q; true when --version was printed and the program is done. */
bool mg_cmd_apply_common(void);
/* Print "prog: message" on stderr. */
void mg_cmd_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A usage error: message and hint on one line; returns MG_EXIT_USAGE. */
int mg_cmd_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Seconds given to option 'opt' ("-t"): a decimal number, fractions
 * allowed, from 0 (only with zero_ok) to 'max_secs', in milliseconds in
 * *_ms. Empty text, signs, exponents, "nan" and anything longer refuse.
 * Returns 0, or prints a usage error and returns MG_EXIT_USAGE. */
int mg_cmd_parse_secs(const char *opt, const char *text, unsigned max_secs, bool zero_ok,
		      unsigned *_ms);

#endif
