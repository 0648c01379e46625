/* What mitogen-run and mitogen-exec share: the target and output options,
 * and running a command on the targets. */
#ifndef MG_CMD_RUNNER_H
#define MG_CMD_RUNNER_H

#include <popt.h>
#include <stdbool.h>
#include <talloc.h>

struct mg_runner {
	int null_stdin;
	int relay_stdio; /* never hand the command our own stdio */
	const char *cmd_timeout; /* -u as given */
	int fanout;
	int no_prefix;
	int gather;
	int json;
	int tty;
	char *outdir;
	char *failed;
	char *cwd;
	char **includes; /* -w */
	char **excludes; /* -x */
	char **env;      /* -e */
	const char *attach; /* attach to the session at this socket (fakessh run) */
	int signal_status;  /* one target ended by a signal: exit with this
			     * (fakessh: 255, as ssh), not 128+N; 0: 128+N */
	const char *closed_host; /* with a terminal at the far end, once the
				  * command ended: "Connection to HOST
				  * closed." on stderr, as ssh says (fakessh) */
	int up_fd;          /* > 0: once the chain is up, write a byte to
			     * it, close it and leave the terminal's
			     * session (fakessh -f) */
};

extern struct mg_runner mg_runner;
extern struct poptOption mg_runner_popt_table[];

/* An option with an argument seen by the popt loop (-w, -x, -e, -t,
 * -u): keep it. */
void mg_runner_option(poptContext pc, int rc, TALLOC_CTX *tmp);

/*
 * Take the target (when no -w) from the words left, then run: argv is the
 * command (argv[0] a local program with 'program'); shell forces a shell
 * (bit 1: --shell, the login shell; bit 2: --sh, /bin/sh), no_shell forces
 * none, else one word is a shell command line. Returns the exit status.
 */
int mg_runner_main(TALLOC_CTX *tmp, const char **rest, int n_rest, int shell, int no_shell,
		   bool program);

/* The whole command line of mitogen-run / mitogen-exec: 'extra' holds the
 * command's own options (a popt table, may be empty). */
int mg_runner_cli(int argc, const char **argv, const char *name, const char *usage,
		  struct poptOption *extra, int *shell, int *no_shell, bool program);

#endif
