/* Running a command at a chain end, its stdio carried over byte channels. */
#ifndef MITOGEN_EXEC_H
#define MITOGEN_EXEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <talloc.h>
#include "mitogen/session.h"

#ifdef __cplusplus
extern "C" {
#endif

struct mg_exec;
struct mg_bcast_target;
struct termios;
struct mg_program;
struct mg_chain;

/* What a command gets of its caller's own state (mg_exec_opts.inherit). */
enum mg_exec_inherit {
	MG_EXEC_INHERIT_NONE = 0, /* the agent's, as ever */
	MG_EXEC_INHERIT_CWD,      /* our working directory (unless cwd is set) */
	MG_EXEC_INHERIT_ALL,      /* that, our umask and our whole environment (env on top) */
};

/*
 * A local program (ELF or #! script) to run at chain ends from memory:
 * registered with the session, sent once per link when a target asks for
 * it. Returns NULL with *_errmsg set (unreadable, empty, too large).
 */
struct mg_program *mg_program_load(TALLOC_CTX *mem_ctx, struct mg_session *s, const char *path,
				   char **_errmsg);

/* Output of a command for a sink: stream 1 or 2. */
typedef void (*mg_exec_sink)(void *data, int stream, const uint8_t *p, size_t n);

struct mg_exec_opts {
	const char *const *argv; /* with shell, argv[0] is the whole command */
	bool shell;              /* run argv[0] through the login shell's -c, as sshd */
	bool posix_sh;           /* with shell: /bin/sh -c, whatever the login shell */
	int stdin_fd;            /* -1: /dev/null at the far end */
	int stdout_fd;           /* fds are dup'd; the caller keeps its own */
	int stderr_fd;
	const char *cwd;         /* NULL: the agent's */
	const char *const *env;  /* K=V set in the command's environment, or NULL */
	const struct mg_program *program; /* run this pushed program (argv[0] names it) */
	bool pty;                /* on a terminal at the far end (stderr merged) */
	unsigned rows, cols;     /* its size */
	const struct termios *modes; /* with pty: its modes, as ssh sends its
				      * terminal's (control characters, echo,
				      * icanon, ...); NULL: the far defaults */
	mg_exec_sink sink;       /* when set, output goes here, not to the fds */
	void *sink_data;
	struct mg_bcast_target *stdin_bcast; /* a shared stdin (mg_bcast_add) */
	/* Hand the command stdin_fd, stdout_fd and stderr_fd themselves, as
	 * `sudo cmd` inherits them in a pipeline, where the chain runs on
	 * this kernel all the way (local, sudo, doas, fork hops): no
	 * byte then passes through us. Not a terminal, nor one the caller
	 * made non-blocking, nor an output that is a device (/dev/null), nor with sink, stdin_bcast, pty or join; any
	 * other chain relays them as ever. */
	bool pass_stdio;
	/* The command joins the tree as a child context of ctx (a program
	 * calling mg_worker_join, mitogen/worker.h): on_join is called once
	 * it is routed, with its context id; then it can be called and sent
	 * to like any context, until it exits. */
	bool join;
	void (*on_join)(struct mg_exec *e, uint32_t id, void *data);
	void *join_data;
	/* For a session attached to a holder (mg_session_attach), whose hops
	 * are the holder's children, not ours: what the command would have
	 * had from us had we connected the chain (mg_exec_inherits). */
	enum mg_exec_inherit inherit;
};

/* What a command at the end of chain c gets of the process that connects
 * it: ALL through local and fork hops alone; CWD through sudo (without
 * login), su and doas too; NONE past any other hop. */
enum mg_exec_inherit mg_exec_inherits(const struct mg_chain *c);

struct mg_exec_result {
	int err;            /* 0 when the command ran and ended */
	const char *errmsg; /* with err: why, naming the hop */
	int wait_status;    /* as from waitpid(), when err is 0 */
	int exec_errno;     /* when the command could not start (ENOENT...) */
	int fail_status;    /* with exec_errno: the status the far end gave for it
			       (1: the directory could not be entered; 255:
			       a pushed program could not be fetched or
			       stored there), or 0 */
	int write_err;      /* -errno: the first error writing the command's
			       output to stdout_fd or stderr_fd (-EPIPE: its
			       reader went away), or 0 */
	int write_stream;   /* with write_err: 1 stdout, 2 stderr */
};

typedef void (*mg_exec_cb)(struct mg_exec *e, const struct mg_exec_result *res, void *data);

/* Start argv at 'ctx'. NULL on ENOMEM, when the descriptors given cannot
 * be duplicated (EMFILE), when the request cannot be sent (ctx gone, or
 * argv and env past the message size), or with join or a program on an
 * attached session (mitogen/unix.h), with errno set to the error negated
 * (mg_strerror(-errno)); errors after that come to cb.
 * Freeing e before cb cancels cb, and nothing is sent to the command any
 * more: its input ends (as at the end of stdin_fd), its stdin_bcast
 * target is dropped, and its output, with nowhere to go, fails as into
 * a closed pipe. It is not signalled: mg_exec_signal first to stop it.
 * Like a receiver, e must not outlive the session. */
struct mg_exec *mg_exec_start(TALLOC_CTX *mem_ctx, struct mg_context *ctx,
			      const struct mg_exec_opts *opts, mg_exec_cb cb, void *data);
/* With opts->join: the id the command joins as (0 without join). It is
 * reachable once on_join has been called. */
uint32_t mg_exec_join_id(const struct mg_exec *e);
/* Send 'signo' to the remote process group (queued until it started). */
int mg_exec_signal(struct mg_exec *e, int signo);
/* Whether the far end said the command started (false while a pushed
 * program is still on its way, and after a failure to start). */
bool mg_exec_started(const struct mg_exec *e);
/* The local terminal was resized: resize the remote one (with pty). */
int mg_exec_winsize(struct mg_exec *e, unsigned rows, unsigned cols);

/*
 * With opts.sink: stop (hold true) or resume crediting the far end for the
 * output given to the sink, for a sink whose own reader is slow. The far
 * end sends at most one window more (per stream) and then waits; its
 * command blocks on a full pipe. Without a sink, output already waits for
 * its fd and this does nothing.
 */
void mg_exec_hold_output(struct mg_exec *e, bool hold);

/*
 * With opts.sink: the sink's own reader of 'stream' (1 stdout, 2 stderr)
 * is gone. Nothing more of it comes to the sink, and the far end's pipe
 * is closed as a pipe's reader closes it: the command's next write there
 * fails (SIGPIPE, EPIPE). Without a sink, a write error on the fd does
 * this by itself, and this does nothing.
 */
void mg_exec_drop_output(struct mg_exec *e, int stream);

#ifdef __cplusplus
}
#endif

#endif
