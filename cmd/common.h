/* Shared by the commands: the common popt table and output helpers. */
#ifndef MG_CMD_COMMON_H
#define MG_CMD_COMMON_H

#include <popt.h>
#include <stdbool.h>

#define MG_EXIT_USAGE 2
/* popt values of the options mg_cmd_option takes. */
#define MG_OPT_PERSIST 0x5000
#define MG_OPT_PERSIST_CHECK 0x5001
#define MG_OPT_PERSIST_STOP 0x5002

struct mg_common_opts {
	int verbose;
	int quiet;
	int version;
	int dry_run;
	const char *connect_timeout; /* -t as given; checked by mg_cmd_parse_secs */
	const char *persist;       /* --persist as given ("" without DURATION) */
	const char *persist_check; /* --persist-check TARGET */
	const char *persist_stop;  /* --persist-stop ("" without TARGET) */
	int persist_list;
	int argc;            /* the command line, for mg_cmd_option */
	const char **argv;
};

extern struct mg_common_opts mg_common;
extern struct poptOption mg_common_popt_table[];

/* Set up logging for program 'prog' from the common options. */
void mg_cmd_init(const char *prog);
/* The name given to mg_cmd_init. */
const char *mg_cmd_prog(void);
/* Apply -v/-q; true when --version was printed and the program is done. */
bool mg_cmd_apply_common(void);
/* Print "prog: message" on stderr. */
void mg_cmd_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* From now on, print no error and no log line at all (fakessh -q, as
 * ssh's LogLevel QUIET); usage errors and --help are not affected. */
void mg_cmd_errors_off(void);
/* From now on, errors and log lines go to the file 'path' (appended,
 * created mode 0600) instead of stderr, as ssh -E logs: 0 or a negative
 * errno. mg_cmd_err_fd: where errors go now. */
int mg_cmd_log_to_file(const char *path);
int mg_cmd_err_fd(void);
/* A usage error: message and hint on one line; returns MG_EXIT_USAGE. */
int mg_cmd_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Seconds given to option 'opt' ("-t"): a decimal number, fractions
 * allowed, from 0 (only with zero_ok) to 'max_secs', in milliseconds in
 * *_ms. Empty text, signs, exponents, "nan" and anything longer refuse.
 * Returns 0, or prints a usage error and returns MG_EXIT_USAGE. */
int mg_cmd_parse_secs(const char *opt, const char *text, unsigned max_secs, bool zero_ok,
		      unsigned *_ms);

/* An option of the common table with an argument seen by the popt loop
 * (--persist...): keep it (on tmp). */
void mg_cmd_option(poptContext pc, int rc, void *tmp);

/* A duration given to 'opt': seconds, or a number with s, m or h
 * ("90", "30s", "10m", "2h"), more than 0 and at most a week, in
 * milliseconds in *_ms. Returns 0, or prints a usage error and returns
 * MG_EXIT_USAGE. */
int mg_cmd_parse_duration(const char *opt, const char *text, unsigned *_ms);

/* --persist[=DURATION], else MITOGEN_PERSIST (unless 'flag_only'): 0
 * with *_ms its idle time (0: no persistence), or MG_EXIT_USAGE. */
int mg_cmd_persist_idle(bool flag_only, unsigned *_ms);

/* When --persist-list, --persist-check or --persist-stop was given: ask
 * the holder, and return true with *_status the exit status; 'rest', the
 * words left after the options, must be empty (else a usage error). */
bool mg_cmd_persist_control(const char *const *rest, int *_status);

#endif
