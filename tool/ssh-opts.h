/*
 * OpenSSH's command line, read as ssh(1) reads it, for fakessh: a pure
 * function from argv to what the options ask for. Nothing here runs or
 * connects; cmd/fakessh.c decides what applies to a chain.
 */
#ifndef MG_TOOL_SSH_OPTS_H
#define MG_TOOL_SSH_OPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <talloc.h>

enum { MG_SSH_TTY_UNSET, MG_SSH_TTY_NO, MG_SSH_TTY_YES, MG_SSH_TTY_FORCE, MG_SSH_TTY_AUTO };
/* -o LogLevel, as ssh's levels print: nothing (QUIET, FATAL), errors
 * only (ERROR), notes too (INFO, VERBOSE), debug N (DEBUG1..3). */
enum { MG_SSH_LOG_UNSET, MG_SSH_LOG_QUIET, MG_SSH_LOG_ERROR, MG_SSH_LOG_INFO, MG_SSH_LOG_DEBUG1,
       MG_SSH_LOG_DEBUG2, MG_SSH_LOG_DEBUG3 };

struct mg_ssh_cmdline {
	const char *dest;         /* DEST as given, or NULL */
	const char **command;     /* the COMMAND words, NULL-terminated */
	size_t n_command;
	/* The login user and port: the first one given wins, as in ssh;
	 * *_before_dest says it came before DEST (so it beats a user@ or
	 * port in DEST, which beats one given after it). */
	const char *user;
	bool user_before_dest;
	int port;                 /* 0: none given */
	bool port_before_dest;
	const char **identities;  /* -i / -o IdentityFile, in order, NULL-terminated */
	size_t n_identities;
	const char *check_host_keys; /* from StrictHostKeyChecking: enforce, accept, ignore */
	/* Words for the first ssh hop's ssh (options that only make sense
	 * to a real ssh: -o pairs, -J, -F, -C, forwardings ...). */
	const char **ssh_args;
	size_t n_ssh_args;
	/* Options that cannot apply here, one note each, for -v. */
	const char **notes;
	size_t n_notes;
	/* -o SendEnv: the name patterns left after any "-PATTERN" took
	 * earlier ones out; -o SetEnv: the K=V words of the first one given
	 * (ssh uses the first), a name's first value kept. */
	const char **send_env;
	size_t n_send_env;
	const char **set_env;
	size_t n_set_env;
	bool set_env_given;
	const char *remote_command; /* -o RemoteCommand, unless "none" */
	int request_tty;          /* -o RequestTTY: an MG_SSH_TTY_*, first wins */
	int log_level;            /* -o LogLevel: an MG_SSH_LOG_*, first wins
				   * (also passed on) */
	int tty;                  /* -t count */
	int verbose;              /* -v count */
	const char *query;        /* -Q: what to list */
	const char *ctl_cmd;      /* -O: a control command for a master */
	const char *stdio_forward; /* -W host:port */
	const char *log_file;     /* -E: where our messages go (also passed on) */
	bool background;          /* -f, ForkAfterAuthentication=yes */
	bool no_tty, null_stdin, quiet, no_command, dump_config, version, subsystem;
};

/*
 * Read argv[1..argc) as ssh(1) does: bundled short options, an argument
 * glued or in the next word, -o K=V / -oK=V / -o 'K V' (keys in any
 * case), "--" ending options, options after DEST until "--" or the first
 * COMMAND word. Returns 0 with *_opts on mem_ctx, or -EINVAL with
 * *_errmsg (on mem_ctx) in ssh's words ("unknown option -- z",
 * "option requires an argument -- p", "Bad port 'x'"), or -ENOMEM.
 */
int mg_ssh_cmdline_parse(TALLOC_CTX *mem_ctx, int argc, const char *const *argv,
		      struct mg_ssh_cmdline **_opts, char **_errmsg);

/* ssh's usage text, for fakessh (several lines, ending in a newline). */
extern const char mg_ssh_cmdline_usage[];

#endif
