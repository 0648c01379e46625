/*
 * One command at the end of one chain, run to completion: connect, exec,
 * stream stdio, forward signals, apply timeouts. The commands use this.
 */
#ifndef MG_TOOL_RUN_H
#define MG_TOOL_RUN_H

#include <stdbool.h>
#include <talloc.h>
#include <mitogen/chain.h>

enum mg_run_outcome {
	MG_RUN_EXITED,      /* the command ran; exit_code is its status */
	MG_RUN_NOT_STARTED, /* the command could not start (127/126) */
	MG_RUN_UNREACHABLE, /* the chain could not be set up (255) */
	MG_RUN_LOST,        /* a hop was lost while it ran (255) */
	MG_RUN_TIMED_OUT,   /* the command timeout hit (124) */
};

struct mg_report;

struct mg_run_opts {
	const struct mg_chain *chains; /* the targets */
	size_t n_chains;
	const char *const *argv;
	bool shell;                  /* argv[0] is a command line for the login shell */
	bool posix_sh;               /* with shell: /bin/sh, not the login shell */
	bool null_stdin;             /* else stdin goes to every target */
	unsigned connect_timeout_ms; /* 0 = 30 s */
	unsigned command_timeout_ms; /* 0 = none */
	unsigned fanout;             /* per parent hop; 0 = 64 */
	const char *const *env;      /* K=V set for the command, or NULL */
	const char *cwd;             /* directory at the far end, or NULL */
	const char *program;         /* mitogen-exec: this local program is argv[0] */
	bool pty;                    /* one target: a terminal at the far end, ours raw */
	/* Where output and results of many targets go. NULL (one target
	 * only): the command's stdout and stderr are ours, raw. */
	struct mg_report *report;
};

struct mg_run_result {
	enum mg_run_outcome outcome; /* one target: how it ended */
	int exit_code;  /* what the program should exit with */
	char *errmsg;   /* one target: for everything but MG_RUN_EXITED */
};

/* Returns 0 with *res filled, or a negative error (ENOMEM). With a
 * report, per-target results went to it and exit_code follows its rules
 * (0 all ok, 255 if any unreachable or lost, else the highest status). */
int mg_run(TALLOC_CTX *mem_ctx, const struct mg_run_opts *opts, struct mg_run_result *res);

#endif
