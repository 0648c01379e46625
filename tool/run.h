/*
 * One command at the end of each of many chains, run to completion on a
 * session the caller owns: connect, exec, stream stdio, forward signals,
 * apply timeouts. The commands use this. Nothing here touches the
 * process's stdio, terminal or signals but what the caller hands over in
 * struct mg_run_opts.
 */
#ifndef MG_TOOL_RUN_H
#define MG_TOOL_RUN_H

#include <stdbool.h>
#include <talloc.h>
#include <mitogen/chain.h>
#include <mitogen/session.h>

enum mg_run_outcome {
	MG_RUN_EXITED,      /* the command ran; exit_code is its status */
	MG_RUN_NOT_STARTED, /* the command could not start (127/126) */
	MG_RUN_UNREACHABLE, /* the chain could not be set up (255) */
	MG_RUN_LOST,        /* a hop was lost while it ran, or (one target)
			     * its output could not be written (255) */
	MG_RUN_TIMED_OUT,   /* the command timeout hit (124) */
};

struct mg_report;

struct mg_run_opts {
	const struct mg_chain *chains; /* the targets */
	size_t n_chains;
	const char *const *argv;
	bool shell;                  /* argv[0] is a command line for the login shell */
	bool posix_sh;               /* with shell: /bin/sh, not the login shell */
	bool null_stdin;             /* else in_fd goes to every target */
	int in_fd;                   /* the commands' input; not closed */
	int out_fd, err_fd;          /* without a report: the output, raw */
	int tty_fd;                  /* with pty: our terminal, made raw for
				      * the run (its size goes to the far
				      * end, SIGWINCH resizes), or -1 */
	bool signals;                /* handle SIGINT, SIGTERM, SIGHUP and
				      * SIGQUIT for the run: forwarded to
				      * the commands; the second one ends
				      * the run */
	unsigned connect_timeout_ms; /* 0 = 30 s */
	unsigned command_timeout_ms; /* 0 = none */
	unsigned fanout;             /* per parent hop; 0 = 64 */
	const char *const *env;      /* K=V set for the command, or NULL */
	const char *cwd;             /* directory at the far end, or NULL */
	const char *program;         /* mitogen-exec: this local program is argv[0] */
	bool pty;                    /* one target: a terminal at the far end, ours raw */
	bool pass_stdio;             /* one target, no report: hand it in_fd,
				      * out_fd, err_fd where the chain allows
				      * (mg_exec_opts.pass_stdio) */
	/* Called once per target whose chain came up (fakessh -f). */
	void (*on_up)(void *data);
	void *on_up_data;
	/* Where output and results of many targets go; give it the
	 * session's loop, so that a slow reader does not stall the run.
	 * NULL (one target only): output goes to out_fd and err_fd, raw. */
	struct mg_report *report;
};

struct mg_run_result {
	enum mg_run_outcome outcome; /* one target: how it ended */
	int exit_code;  /* what the program should exit with */
	int signal;     /* one target, MG_RUN_EXITED: the signal that ended
			 * the command (exit_code is 128+signal), else 0 */
	char *errmsg;   /* one target: for everything but MG_RUN_EXITED */
	int our_signal; /* with opts->signals: the last signal we got
			 * during the run (SIGTERM, ...), else 0 */
};

/*
 * Run opts->argv on every chain, turning the loop of session 's' until
 * every target has ended (or a second signal). Returns 0 with *res filled
 * (errmsg on mem_ctx), or a negative error (ENOMEM). With a report,
 * per-target results went to it and exit_code follows its rules (0 all
 * ok, 255 if any unreachable or lost, else the highest status). Commands
 * still running when it returns (after a second signal) stop when the
 * caller frees the session, which closes their hops.
 */
/* Whether the run's targets may get the leaf agent (mg_connect_opts.leaf):
 * a plain command, no terminal and no pushed program. */
bool mg_run_leaf(const struct mg_run_opts *opts);
int mg_run(TALLOC_CTX *mem_ctx, struct mg_session *s, const struct mg_run_opts *opts,
	   struct mg_run_result *res);

#endif
