/* Starting child processes with chosen stdio and a clean signal state. */
#ifndef MG_PROCESS_H
#define MG_PROCESS_H

#include <stdbool.h>
#include <sys/types.h>
#include <talloc.h>

struct mg_spawn_opts {
	const char *const *argv;
	const char *path;        /* what to exec; NULL: argv[0] */
	int pass_fd;             /* > 0: this fd stays open in the child as pass_fd_at */
	int pass_fd_at;
	const char *const *envp; /* NULL: inherit */
	const char *cwd;         /* NULL: inherit */
	bool search_path;        /* look argv[0] up in PATH */
	bool setsid;             /* new session (hop agents) */
	bool setpgid;            /* new process group (commands) */
	int stdio[3];            /* fds for 0, 1, 2; -1 means /dev/null */
	bool set_ctty;           /* make 'ctty' the controlling tty (needs setsid) */
	int ctty;
	int (*pre_exec)(void *state); /* run in the child before exec (fork path) */
	void *pre_exec_state;
};

/* Make room for 'n' more descriptors before a hop starts: with
 * mg_connect_nofile_auto on, raise the soft RLIMIT_NOFILE when fewer are
 * free. 0, or a negative errno (the hard limit is reached). */
int mg__nofile_room(int n);
#define MG_NOFILE_ROOM_MAX 64

/* Start a process. Returns 0 with *_pid set, or a negative errno (the
 * exec failure itself, e.g. -ENOENT, is reported here). */
int mg__spawn(const struct mg_spawn_opts *opts, pid_t *_pid);

/* Keep the variable 'name' out of the environment of every child this
 * process starts from now on (it holds a password: password_env=). The
 * process's own environment is left alone. 0 or a negative errno. */
int mg__env_hide(const char *name);

/* This process's environment with each "NAME=VALUE" of over in place of
 * NAME's own entry, as a new array on mem_ctx sharing the strings (over's
 * must outlive it). NULL on ENOMEM. */
char **mg__env_with(TALLOC_CTX *mem_ctx, const char *const *over);

/* The same without the hidden variables (mg__env_hide): what a child
 * of ours would get. */
char **mg__env_for_children(TALLOC_CTX *mem_ctx, const char *const *over);

/* In a child forked without exec (a fork agent): remove the hidden
 * variables from our own environment, wipe them from the block
 * /proc/PID/environ shows, and forget the list. */
void mg__env_scrub_self(void);

/* In a forked child: nothing blocked, every signal at its default. */
void mg__child_reset_signals(void);

/* Field k of /proc/PID/stat, numbered as in proc(5) (5: the process
 * group, 6: the session), or -1. */
long mg__proc_stat_field(long pid, int k);

/* Send 'sig' (0: none) to every process in session 'sid' but its leader
 * (a hop's leftovers), zombies aside; returns how many there were. */
int mg__kill_session(pid_t sid, int sig);
/* Whether PID exists and is no zombie. */
bool mg__proc_live(long pid);

/* A new PTY: *_master (non-blocking, close-on-exec) and *_slave
 * (close-on-exec). With raw, the slave is put in raw mode so binary data
 * passes untouched; with quiet, it never echoes (prompt PTYs, so that a
 * password written early cannot come back). Returns 0 or a negative errno. */
int mg__openpty(int *_master, int *_slave, bool raw, bool quiet);

/* Close-on-exec pipe / socketpair helpers returning a negative errno. */
int mg__pipe(int fds[2]);
int mg__socketpair(int fds[2]);

#endif
