/*
 * One command at the end of one chain, run to completion: connect, exec,
 * stream stdio, forward signals, apply timeouts. The commands use this.
 */
#ifndef MITOGEN_RUN_H
#define MITOGEN_RUN_H

#include <stdbool.h>
#include <talloc.h>
#include "mitogen/chain.h"

enum mg_run_outcome {
	MG_RUN_EXITED,      /* the command ran; exit_code is its status */
	MG_RUN_NOT_STARTED, /* the command could not start (127/126) */
	MG_RUN_UNREACHABLE, /* the chain could not be set up (255) */
	MG_RUN_LOST,        /* a hop was lost while it ran (255) */
	MG_RUN_TIMED_OUT,   /* the command timeout hit (124) */
};

struct mg_run_opts {
	const struct mg_chain *chain;
	const char *const *argv;
	bool shell;
	bool null_stdin;
	unsigned connect_timeout_ms; /* 0 = 30 s */
	unsigned command_timeout_ms; /* 0 = none */
};

struct mg_run_result {
	enum mg_run_outcome outcome;
	int exit_code;  /* what the program should exit with */
	char *errmsg;   /* for everything but MG_RUN_EXITED */
};

/* Returns 0 with *res filled, or a negative error (ENOMEM, signals). */
int mg_run(TALLOC_CTX *mem_ctx, const struct mg_run_opts *opts, struct mg_run_result *res);

#endif
