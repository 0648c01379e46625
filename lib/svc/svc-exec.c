/*
 * The EXEC service: run a command in its own process group with its stdio
 * carried over byte channels, report its status, and stop it when told or
 * when the parent goes away.
 *
 * Request: u32 flags, strv argv, u32 h_stdout, u32 h_stderr, u32 h_stdin_ack,
 *          str cwd (may be null), ... (docs/PROTOCOL.md section 5.3).
 * A shell command runs as sshd runs it: the user's login shell with -c
 * (when /etc/shells lists it, else /bin/sh); a file the kernel cannot
 * execute is run by /bin/sh, as execvp does.
 * Events to reply_to (u8 type first): STARTED u32 pid, u32 h_stdin,
 *          u32 h_stdout_ack, u32 h_stderr_ack, u32 h_ctl; EXITED u32 status;
 *          FAILED i32 errno, str message [, u32 status].
 * Control (h_ctl): u32 signal number, sent to the whole process group,
 *          which is signalled until it is empty, not only until its leader
 *          is reaped: a background member may still hold our pipes.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "images.h"
#include <sys/utsname.h>
#include <sys/ioctl.h>
#include <termios.h>
#include "buf.h"
#include "fds.h"
#include "channel.h"
#include "mitogen/error.h"
#include "mitogen/log.h"
#include "protocol.h"
#include "process.h"
#include "exec-host.h"
#include "passwd.h"
#include "svc-exec.h"

#define KILL_GRACE_MS 1000
/* Where a pushed #! script stays open for its interpreter. */
#define SCRIPT_FD 63

struct exec_svc {
	struct mg_router *r;
	struct mg_images *images;
	struct job *jobs;
};

/* A request waiting for its program to arrive. */
struct request {
	struct exec_svc *svc;
	struct mg_msg *m;       /* kept: the reply goes to its sender */
	struct mg__exec_req req;
};

struct job {
	struct job *next;
	struct job **prevp;
	struct exec_svc *svc;
	uint32_t master;   /* who asked */
	uint32_t reply_to;
	pid_t pid;         /* also the process group's id */
	int status;
	bool exited;       /* the leader is reaped */
	bool group_gone;   /* kill(-pid) said ESRCH: nobody left to signal */
	bool stopping;     /* told to stop for good */
	int outs_open;     /* stdout and stderr channels still sending */
	struct mg_child *child;
	struct mg_chan_out *out;
	struct mg_chan_out *err;
	struct mg_chan_in *in;
	struct mg_handler *ctl;
	struct mg_route_watch *gone; /* the requester's loss */
	int pty;           /* the terminal's master side (owned by j->out), or -1 */
	int pty_keep;      /* our own copy of it until the command is reaped, or -1 */
	struct mg_timer *kill_timer;
	struct mg__join *join;  /* MG_EXEC_JOIN: the worker's link */
	struct mg__exec_hold *hold; /* passed output: who still holds it */
	bool hold_waiting;
	bool hold_done;
};

static void send_event(struct job *j, const void *p, size_t n)
{
	mg__router_send(j->svc->r, j->master, j->reply_to, 0, 0, p, n);
}

/* Signal what is left of the job's process group. Members may outlive
 * the leader (a background job holding our pipes), and kill(-pgid) still
 * reaches them; once it says ESRCH the group is empty for good, and we
 * stop before its id can name someone else's group. */
static void group_kill(struct job *j, int signo)
{
	if (j->group_gone || j->pid <= 0) {
		return;
	}
	if (kill(-j->pid, signo) != 0 && errno == ESRCH) {
		j->group_gone = true;
	}
}

/* The terminal hangs up (SIGHUP to the command) when its master's last
 * descriptor closes. The output's end (EIO: no slave descriptor open)
 * closes one while the command may still be running its exit (head
 * closes its stdio first): so we keep one until it is reaped, as sshd. */
static void pty_release(struct job *j)
{
	if (j->pty_keep >= 0) {
		close(j->pty_keep);
		j->pty_keep = -1;
	}
}

static int job_destructor(struct job *j)
{
	pty_release(j);
	*j->prevp = j->next;
	if (j->next != NULL) {
		j->next->prevp = j->prevp;
	}
	/* Nobody will wait for it, read its output or stop it any more:
	 * whatever of a group still running or told to stop goes now. */
	if (!j->exited || j->outs_open > 0 || j->stopping || (j->hold != NULL && !j->hold_done)) {
		group_kill(j, SIGKILL);
	}
	return 0;
}

static void job_maybe_done(struct job *j);

static void on_holders_gone(void *data)
{
	struct job *j = talloc_get_type_abort(data, struct job);

	j->hold_done = true;
	job_maybe_done(j);
}

static void job_maybe_done(struct job *j)
{
	struct mg__exec_event ev = { .type = MG_EXEC_EV_EXITED };
	struct mg_buf *b;

	if (!j->exited || j->outs_open > 0) {
		return;
	}
	if (j->hold != NULL && !j->hold_done) {
		/* As a relayed pipe's end of file would wait for them. */
		if (!j->hold_waiting) {
			j->hold_waiting = true;
			mg__exec_hold_wait(j->hold, j->pid, on_holders_gone, j);
		}
		return;
	}
	/* A worker that has not answered HELLO by now never joins: JOINED
	 * would follow EXITED, for a job its requester is done with. Its
	 * link closes at once, before anything more is read from it. */
	TALLOC_FREE(j->join);
	ev.status = (uint32_t)j->status;
	/* On the heap: gcc -O2 takes a stack buffer here for one that may
	 * dangle (-Wdangling-pointer), through the inlined callers. */
	b = mg__buf_new(j, 64);
	if (b != NULL && mg__exec_event_encode(b, &ev) == 0) {
		send_event(j, b->data, b->len);
	}
	talloc_free(b);
	mg_loop_free_later(mg__router_loop(j->svc->r), j);
}

static void on_out_done(void *data, int err)
{
	struct job *j = talloc_get_type_abort(data, struct job);

	j->outs_open--;
	job_maybe_done(j);
}

static void on_in_done(void *data, int err)
{
}

static void on_exit_status(struct mg_child *c, pid_t pid, int status, void *data)
{
	struct job *j = talloc_get_type_abort(data, struct job);

	j->child = NULL;
	j->exited = true;
	j->status = status;
	pty_release(j);
	/* The kill timer stays: the rest of the group may still hold our
	 * pipes, and EXITED waits for them. */
	mg_info("command %d ended (%s %d)", (int)pid, WIFSIGNALED(status) ? "signal" : "status",
		WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
	job_maybe_done(j);
}

static void on_kill_timer(struct mg_timer *t, void *data)
{
	struct job *j = talloc_get_type_abort(data, struct job);

	j->kill_timer = NULL;
	group_kill(j, SIGKILL);
}

/* Signal the group; a stop signal marks the job as stopping, so that
 * what is left of its group goes when it ends. The leader having
 * exited is no reason to stop: the rest of its group counts too. */
static void job_deliver(struct job *j, int signo)
{
	group_kill(j, signo);
	if (signo == SIGTERM || signo == SIGHUP || signo == SIGINT) {
		group_kill(j, SIGCONT);
	}
	if (signo == SIGTERM || signo == SIGHUP || signo == SIGINT || signo == SIGQUIT) {
		j->stopping = true;
	}
}

/* Stop the job for good, nobody being left to escalate: SIGKILL follows
 * if the group ignores the signal. */
static void job_signal(struct job *j, int signo, bool for_good)
{
	job_deliver(j, signo);
	if (for_good) {
		j->stopping = true;
	}
	if (for_good && !j->group_gone && j->kill_timer == NULL) {
		j->kill_timer = mg_timer_new(j, mg__router_loop(j->svc->r), KILL_GRACE_MS,
					     on_kill_timer, j);
	}
}

/* Whoever asked is gone (an attached client killed, section 5.7): nobody
 * reads the output or can stop the command any more. */
static void on_requester_lost(struct mg_router *r, uint32_t id, const char *why, void *data)
{
	struct job *j = talloc_get_type_abort(data, struct job);

	mg_info("command %d: its requester %u is gone: stopping it", (int)j->pid, id);
	job_signal(j, SIGTERM, true);
}

static void on_ctl(struct mg_router *r, struct mg_msg *m, void *data)
{
	struct job *j = talloc_get_type_abort(data, struct job);
	struct mg__exec_ctl c;

	if (mg__exec_ctl_decode(m->data, m->len, &c) != 0) {
		return;
	}
	if (c.op == MG_EXEC_CTL_WINSIZE) {
		/* The terminal was resized: the kernel tells the command. */
		struct winsize ws = { .ws_row = (unsigned short)c.rows, .ws_col = (unsigned short)c.cols };
		if (j->pty >= 0) {
			ioctl(j->pty, TIOCSWINSZ, &ws);
		}
		return;
	}
	if (c.op >= 65) {
		return;
	}
	/* The sender escalates when it chooses (mitogen-run: SIGKILL 5 s
	 * after a signal, 2 s after -u's SIGTERM): no timer here cuts the
	 * command's clean-up short, nor kills it for a SIGUSR1. */
	job_deliver(j, (int)c.op);
}

/* FAILED: the command could not start. A non-zero 'status' is the one
 * the target ends with instead of 127/126 (a directory it cannot enter,
 * a pushed program that could not be fetched or stored). */
static void send_failed_status(struct mg_router *r, const struct mg_msg *req, int err,
			       const char *what, uint32_t status)
{
	struct mg_buf *b = mg__buf_new(NULL, 4096);
	struct mg__exec_event ev = {
		.type = MG_EXEC_EV_FAILED, .err = (uint32_t)-err,
		.what = (char *)(what != NULL ? what : "out of memory"), /* a failed asprintf */
		.fail_status = status,
	};

	if (b == NULL) {
		return;
	}
	if (mg__exec_event_encode(b, &ev) == 0) {
		mg__router_reply(r, req, b->data, b->len);
	}
	talloc_free(b);
}

/* A pushed program that never got here whole (the transfer, or our
 * store, failed) is our failure, as one that cannot be sent is: ssh's
 * 255, not the shell's 126 for a file that is there but will not run. */
#define FETCH_FAILED_STATUS 255

static void send_failed(struct mg_router *r, const struct mg_msg *req, int err, const char *what)
{
	send_failed_status(r, req, err, what, 0);
}

/* The shell sshd would run a command line with: the user's login shell
 * when /etc/shells lists it and it can be run, else /bin/sh (a nologin
 * account, a minimal container). */
static const char *login_shell(TALLOC_CTX *mem_ctx)
{
	char buf[PATH_MAX];
	const char *sh = mg__user_field(6, buf, sizeof(buf));

	if (sh == NULL || sh[0] != '/' || !mg__shells_list(sh) || access(sh, X_OK) != 0) {
		return "/bin/sh";
	}
	sh = talloc_strdup(mem_ctx, sh);
	return sh != NULL ? sh : "/bin/sh";
}

/* Where posix_spawnp found 'name': the first file of the agent's PATH
 * that is executable (glibc's own default when PATH is unset). NULL
 * when there is none. */
static char *find_in_path(TALLOC_CTX *mem_ctx, const char *name)
{
	const char *path = getenv("PATH");
	struct stat st;

	if (strchr(name, '/') != NULL) {
		return talloc_strdup(mem_ctx, name);
	}
	for (const char *p = path != NULL ? path : "/bin:/usr/bin";; p++) {
		size_t len = strcspn(p, ":");
		/* An empty entry is the current directory. */
		char *f = talloc_asprintf(mem_ctx, "%.*s%s%s", (int)len, p, len > 0 ? "/" : "", name);
		if (f != NULL && stat(f, &st) == 0 && S_ISREG(st.st_mode) && access(f, X_OK) == 0) {
			return f;
		}
		talloc_free(f);
		p += len;
		if (*p == '\0') {
			return NULL;
		}
	}
}

/* cwd "~": the user's home as sshd enters it (the passwd entry, else
 * $HOME), or "/" when that cannot be entered, where sshd goes on. */
static char *home_dir(TALLOC_CTX *mem_ctx)
{
	char buf[PATH_MAX];
	const char *home = mg__user_field(5, buf, sizeof(buf));

	return talloc_strdup(mem_ctx, home != NULL && home[0] == '/' && mg__dir_enterable(home) == 0 ? home : "/");
}

/* cwd as a shell's `cd` reads it: "~" is the home, "~/DIR" DIR in it
 * (the master sends the word unexpanded: only this end knows the home).
 * Anything else, "~user" too, is used as it is. NULL on ENOMEM. */
static char *expand_cwd(TALLOC_CTX *mem_ctx, char *cwd)
{
	char *home;

	if (cwd == NULL || cwd[0] != '~' || (cwd[1] != '\0' && cwd[1] != '/')) {
		return cwd;
	}
	home = home_dir(mem_ctx);
	if (home == NULL || cwd[1] == '\0') {
		return home;
	}
	/* "/" + "/DIR": no "//" in what an error names. */
	return talloc_asprintf(mem_ctx, "%s%s", strcmp(home, "/") == 0 ? "" : home, cwd + 1);
}

/* The ELF machine of this host, from uname. */
static uint32_t host_machine(const char **_name)
{
	static const struct { const char *uname; uint32_t em; } map[] = {
		{ "x86_64", 62 }, { "aarch64", 183 }, { "i686", 3 }, { "i386", 3 },
		{ "armv7l", 40 }, { "armv6l", 40 }, { "riscv64", 243 }, { "ppc64le", 21 },
		{ "ppc64", 21 }, { "s390x", 22 }, { "mips64", 8 }, { "loongarch64", 258 },
	};
	static struct utsname u;

	uname(&u);
	*_name = u.machine;
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		if (strcmp(map[i].uname, u.machine) == 0) {
			return map[i].em;
		}
	}
	return 0;
}

static void start_job(struct request *rq, int image_fd);

static void on_image(void *data, int fd, const char *errmsg)
{
	struct request *rq = talloc_get_type_abort(data, struct request);

	if (fd < 0) {
		char *what = talloc_asprintf(rq, "%s: %s", rq->req.argv[0], errmsg);
		send_failed_status(rq->svc->r, rq->m, -EIO, what != NULL ? what : "program transfer failed",
				   FETCH_FAILED_STATUS);
		talloc_free(rq);
		return;
	}
	start_job(rq, fd);
	talloc_free(rq);
}

/* Whether the stdio the request says it passes came with it. */
static bool fds_came(uint32_t flags, const struct mg_msg *m)
{
	unsigned want = ((flags & MG_EXEC_FD_IN) != 0) + ((flags & MG_EXEC_FD_OUT) != 0) +
			((flags & MG_EXEC_FD_ERR) != 0);

	if (want == 0) {
		return true;
	}
	/* Never with a terminal of ours, nor a passed stdin with /dev/null
	 * asked too; a passed output with /dev/null as stdin is fine (-n). */
	if ((flags & MG_EXEC_PTY) != 0 ||
	    (flags & (MG_EXEC_FD_IN | MG_EXEC_NO_STDIN)) == (MG_EXEC_FD_IN | MG_EXEC_NO_STDIN)) {
		return false;
	}
	return m->fds != NULL && m->fds->n == want;
}

/* Take fd k of f in place of *end (closed). */
static void take_fd(struct mg_fds *f, unsigned k, int *end)
{
	close(*end);
	*end = f->fd[k];
	f->fd[k] = -1;
}

/* The passed descriptors (fds_came) in place of the pipes' command ends,
 * ours now: those pipes' other ends read end of file at once, or EPIPE. */
static void use_passed(uint32_t flags, struct mg_fds *f, int *in, int *out, int *err)
{
	unsigned k = 0;

	if ((flags & MG_EXEC_FD_IN) != 0) {
		take_fd(f, k++, in);
	}
	if ((flags & MG_EXEC_FD_OUT) != 0) {
		take_fd(f, k++, out);
	}
	if ((flags & MG_EXEC_FD_ERR) != 0) {
		take_fd(f, k++, err);
	}
}

static void on_exec(struct mg_router *r, struct mg_msg *m, void *data)
{
	struct exec_svc *svc = talloc_get_type_abort(data, struct exec_svc);
	struct request *rq = talloc_zero(svc, struct request);
	struct mg__exec_req *q = rq != NULL ? &rq->req : NULL;

	if (rq == NULL || mg__exec_req_decode(rq, m->data, m->len, q) != 0 || m->reply_to == 0) {
		mg__router_reply_dead(r, m, "malformed EXEC request");
		talloc_free(rq);
		return;
	}
	rq->svc = svc;
	if (mg__msg_keep(rq, m) != 0) {
		talloc_free(rq);
		return;
	}
	rq->m = m;
	if (!fds_came(q->flags, m)) {
		/* A link on the way could not carry them: the master runs it
		 * again with its stdio relayed (PROTOCOL 5.3). */
		send_failed(r, m, -EOPNOTSUPP, MG_FDS_REFUSED);
		talloc_free(rq);
		return;
	}
	/* A worker given an id in use could never be routed; given ours,
	 * its HELLO answer would even go to itself. */
	if ((q->flags & MG_EXEC_JOIN) != 0 && mg__router_id_taken(r, q->join_id)) {
		char *what = talloc_asprintf(rq, "context %u exists already", q->join_id);
		send_failed(r, m, -EEXIST, what != NULL ? what : "the context exists already");
		talloc_free(rq);
		return;
	}
	if ((q->flags & MG_EXEC_IMAGE) == 0) {
		start_job(rq, -1);
		talloc_free(rq);
		return;
	}
	/* Refuse a program for another machine before fetching it. */
	{
		const char *here;
		uint32_t em = host_machine(&here);
		if (q->machine != 0 && em != 0 && q->machine != em) {
			char *what = talloc_asprintf(rq, "%s: built for another machine (ELF machine %u), "
						     "this host is %s", q->argv[0], q->machine, here);
			send_failed(r, m, -ENOEXEC, what != NULL ? what : "wrong machine");
			talloc_free(rq);
			return;
		}
	}
	if (mg__images_get(svc->images, rq, q->image_id, q->image_size, on_image, rq) != 0) {
		send_failed_status(r, m, -EIO, "cannot fetch the program", FETCH_FAILED_STATUS);
		talloc_free(rq);
	}
}

/* Our environment with the request's K=V on top, less any 'drop' (a
 * "NAME=" only we may set), and then ours, add0 and add1 (NULL: none);
 * with MG_EXEC_ENV_ALL, without ours. NULL when that changes nothing,
 * or on failure. */
static char **env_over(TALLOC_CTX *mem_ctx, const struct mg__exec_req *q, const char *drop,
		       char *add0, char *add1)
{
	char **env = q->env, **over;
	size_t n = 0, k = 0;

	while (env != NULL && env[n] != NULL) {
		n++;
	}
	if ((over = talloc_zero_array(mem_ctx, char *, n + 3)) == NULL) {
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		/* Ours only: getenv would find the request's first. */
		if (drop == NULL || strncmp(env[i], drop, strlen(drop)) != 0) {
			over[k++] = env[i];
		}
	}
	over[k] = add0;
	over[k + (add0 != NULL)] = add1;
	if ((q->flags & MG_EXEC_ENV_ALL) != 0) {
		return over;
	}
	return over[0] != NULL ? mg__env_with(mem_ctx, (const char *const *)over) : NULL;
}

/* The value of NAME ("NAME=") in a K=V vector, or NULL. */
static const char *env_find(char *const *env, const char *name)
{
	size_t len = strlen(name);

	for (size_t i = 0; env != NULL && env[i] != NULL; i++) {
		if (strncmp(env[i], name, len) == 0) {
			return env[i] + len;
		}
	}
	return NULL;
}

/*
 * SSH_TTY=, as sshd sets it for a session with a terminal: a command given
 * one (-T) inside an ssh login (SSH_CONNECTION in 'envp', its environment,
 * NULL for ours) finds ours named there, unless the request sets it. NULL
 * when not wanted.
 */
static char *pty_ssh_tty(TALLOC_CTX *mem_ctx, int master, char *const *req_env,
			 char *const *envp)
{
	char name[128];

	if (env_find(req_env, "SSH_TTY=") != NULL ||
	    env_find(envp != NULL ? envp : environ, "SSH_CONNECTION=") == NULL ||
	    ptsname_r(master, name, sizeof(name)) != 0) {
		return NULL;
	}
	return talloc_asprintf(mem_ctx, "SSH_TTY=%s", name);
}

/* MG_EXEC_JOIN: the worker's link, and the environment naming its end
 * (which only this spawn inherits), with 'add' too. NULL on failure. */
static char **join_prepare(TALLOC_CTX *mem_ctx, struct job *j, const struct mg__exec_req *q,
			   const char *name, char *add)
{
	char *var;

	j->join = mg__join_new(j, j->svc->r, q->join_id, name, j->master, j->reply_to, &var);
	if (j->join == NULL || mg__join_child_fd(j->join, true) != 0) {
		return NULL;
	}
	talloc_steal(mem_ctx, var);
	return env_over(mem_ctx, q, "MITOGEN_FD=", var, add);
}

static void start_job(struct request *rq, int image_fd)
{
	struct exec_svc *svc = rq->svc;
	struct mg_router *r = svc->r;
	struct mg_msg *m = rq->m;
	TALLOC_CTX *tmp = talloc_new(NULL);
	const struct mg__exec_req *q = &rq->req;
	uint32_t flags = q->flags, h_out = q->h_out, h_err = q->h_err, h_in_ack = q->h_in_ack;
	char **argv = q->argv, *cwd = q->cwd, **envp = env_over(tmp, q, NULL, NULL, NULL);
	char exec_path[PATH_MAX];
	int in[2] = { -1, -1 }, out[2] = { -1, -1 }, err[2] = { -1, -1 };
	int pty_slave = -1;
	char *tty_var = NULL;
	struct job *j = NULL;
	struct mg__exec_event ev = { .type = MG_EXEC_EV_STARTED };
	uint8_t evp[32];
	struct mg_buf evb = { .data = evp, .alloc = sizeof(evp), .max = sizeof(evp) };
	int ret;

	exec_path[0] = '\0';
	if (image_fd >= 0 && q->machine != 0) {
		/* fexecve by path: the kernel opens it before close-on-exec. */
		snprintf(exec_path, sizeof(exec_path), "/proc/self/fd/%d", image_fd);
	} else if (image_fd >= 0) {
		/* A #! script: its interpreter opens the path after exec, so
		 * the descriptor must stay open in the child. */
		snprintf(exec_path, sizeof(exec_path), "/proc/self/fd/%d", SCRIPT_FD);
	}
	if (cwd != NULL && (cwd = expand_cwd(tmp, cwd)) == NULL) {
		goto out;
	}
	if (cwd != NULL && (ret = mg__dir_enterable(cwd)) != 0) {
		/* As `cd DIR && COMMAND` fails in a shell: status 1. */
		char *what = talloc_asprintf(tmp, "cd: %s: %s", cwd, mg_strerror(ret));
		send_failed_status(r, m, ret, what != NULL ? what : "cd", 1);
		goto out;
	}
	if ((flags & MG_EXEC_SHELL) != 0) {
		/* As sshd does: the shell's name as its $0, the line after -c. */
		const char *shell = (flags & MG_EXEC_SH) != 0 ? "/bin/sh" : login_shell(tmp);
		const char *base = strrchr(shell, '/');
		char **sh = talloc_zero_array(tmp, char *, 4);
		if (sh == NULL) {
			goto out;
		}
		sh[0] = (char *)(base != NULL && base[1] != '\0' ? base + 1 : shell);
		sh[1] = "-c";
		sh[2] = argv[0];
		argv = sh;
		snprintf(exec_path, sizeof(exec_path), "%s", shell);
		if (strlen(shell) >= sizeof(exec_path)) {
			send_failed(r, m, -ENAMETOOLONG, "the login shell's path is too long");
			goto out;
		}
	}
	if ((flags & MG_EXEC_PTY) != 0) {
		/* A terminal for the command: input and output both go through
		 * its master side; stderr is merged there, its channel empty. */
		struct winsize ws = { .ws_row = (unsigned short)q->rows, .ws_col = (unsigned short)q->cols };
		if ((ret = mg__openpty(&out[0], &pty_slave, false, false)) != 0 ||
		    (ret = mg__pipe(err)) != 0) {
			send_failed(r, m, ret, talloc_asprintf(tmp, "cannot create a terminal: %s", mg_strerror(ret)));
			goto out;
		}
		ioctl(pty_slave, TIOCSWINSZ, &ws);
		if ((tty_var = pty_ssh_tty(tmp, out[0], q->env, envp)) != NULL &&
		    (envp = env_over(tmp, q, NULL, tty_var, NULL)) == NULL) {
			send_failed(r, m, -ENOMEM, "cannot build the environment");
			goto out;
		}
		if ((flags & MG_EXEC_PTY_MODES) != 0) {
			/* The caller's line discipline, as sshd applies ssh's. */
			struct termios t;
			if (tcgetattr(pty_slave, &t) == 0) {
				mg__tty_modes_apply(&t, q->modes, q->n_modes);
				tcsetattr(pty_slave, TCSANOW, &t);
			}
		}
		in[1] = fcntl(out[0], F_DUPFD_CLOEXEC, 3);
		close(err[1]);
		err[1] = -1;
	} else {
		if ((ret = mg__pipe(in)) != 0 || (ret = mg__pipe(out)) != 0 || (ret = mg__pipe(err)) != 0) {
			send_failed(r, m, ret, talloc_asprintf(tmp, "cannot create pipes: %s", mg_strerror(ret)));
			goto out;
		}
		/* Bigger pipes mean fewer, larger messages on a busy stream. */
		fcntl(in[1], F_SETPIPE_SZ, MG_PIPE_SIZE);
		fcntl(out[0], F_SETPIPE_SZ, MG_PIPE_SIZE);
		fcntl(err[0], F_SETPIPE_SZ, MG_PIPE_SIZE / 4);
		if (m->fds != NULL) {
			/* The caller's own stdio, as `sudo cmd` in its pipeline
			 * would inherit it. */
			use_passed(flags, m->fds, &in[0], &out[1], &err[1]);
		}
	}
	j = talloc_zero(svc, struct job);
	if (j == NULL) {
		goto out;
	}
	j->svc = svc;
	j->pty_keep = -1;
	j->master = m->src;
	j->reply_to = m->reply_to;
	j->next = svc->jobs;
	if (j->next != NULL) {
		j->next->prevp = &j->next;
	}
	j->prevp = &svc->jobs;
	svc->jobs = j;
	talloc_set_destructor(j, job_destructor);
	if (m->fds != NULL && (flags & (MG_EXEC_FD_OUT | MG_EXEC_FD_ERR)) != 0) {
		int held[2], n = 0;
		if ((flags & MG_EXEC_FD_OUT) != 0) {
			held[n++] = out[1];
		}
		if ((flags & MG_EXEC_FD_ERR) != 0) {
			held[n++] = err[1];
		}
		j->hold = mg__exec_hold_new(j, mg__router_loop(r), held, (unsigned)n);
	}
	if ((flags & MG_EXEC_JOIN) != 0 && (envp = join_prepare(tmp, j, q, argv[0], tty_var)) == NULL) {
		send_failed(r, m, -ENOMEM, "cannot make the worker's link");
		TALLOC_FREE(j);
		goto out;
	}
	{
		struct mg_spawn_opts so = {
			.argv = (const char *const *)argv,
			.path = exec_path[0] != '\0' ? exec_path : NULL,
			.pass_fd = image_fd >= 0 && q->machine == 0 ? image_fd : 0,
			.pass_fd_at = SCRIPT_FD,
			.envp = (const char *const *)envp,
			.cwd = cwd,
			.search_path = true,
			.setpgid = true,
			.stdio = { (flags & MG_EXEC_NO_STDIN) != 0 ? -1 : in[0], out[1], err[1] },
		};
		if (pty_slave >= 0) {
			/* Its own session, with the terminal as the controlling one. */
			so.setpgid = false;
			so.setsid = true;
			so.set_ctty = true;
			so.ctty = pty_slave;
			so.stdio[0] = so.stdio[1] = so.stdio[2] = pty_slave;
		}
		/* The child takes the umask it is spawned with: the request's
		 * for this spawn only (no system call without one). */
		mode_t um = (flags & MG_EXEC_UMASK) != 0 ? umask((mode_t)q->umask & 0777) : 0;
		ret = mg__spawn(&so, &j->pid);
		if (ret == -ENOEXEC && (flags & (MG_EXEC_SHELL | MG_EXEC_IMAGE)) == 0) {
			/* No #! and no ELF (or an empty file): execvp and POSIX
			 * run it with /bin/sh, posix_spawnp does not. */
			size_t n = 0;
			char *file = find_in_path(tmp, argv[0]);
			char **shv;
			while (argv[n] != NULL) {
				n++;
			}
			shv = talloc_zero_array(tmp, char *, n + 2);
			if (file != NULL && shv != NULL) {
				shv[0] = "/bin/sh";
				shv[1] = file;
				memcpy(shv + 2, argv + 1, (n - 1) * sizeof(*argv));
				so.argv = (const char *const *)shv;
				so.path = "/bin/sh";
				ret = mg__spawn(&so, &j->pid);
			}
		}
		if ((flags & MG_EXEC_UMASK) != 0) {
			umask(um);
		}
	}
	if (in[0] >= 0) {
		close(in[0]);
	}
	if (out[1] >= 0) {
		close(out[1]);
	}
	if (err[1] >= 0) {
		close(err[1]);
	}
	if (pty_slave >= 0) {
		close(pty_slave);
		pty_slave = -1;
	}
	in[0] = out[1] = err[1] = -1;
	if (j->join != NULL && mg__join_spawned(j->join, ret == 0) != 0) {
		/* Not a worker now: it finds its link closed. */
		TALLOC_FREE(j->join);
	}
	if (ret != 0) {
		char why[PATH_MAX + 256];
		char *what = talloc_asprintf(tmp, "%s: %s", argv[0],
					     ret == -ENOENT ? "command not found" : mg_strerror(ret));
		if (ret == -ENOENT && image_fd >= 0) {
			/* The program is here: what it needs is not. */
			mg__image_enoent(why, sizeof(why), image_fd, q->machine == 0, argv[0]);
			what = why;
		}
		send_failed(r, m, ret, what != NULL ? what : argv[0]);
		TALLOC_FREE(j);
		goto out;
	}
	mg_info("started %s as %d", argv[0], (int)j->pid);
	j->outs_open = 2;
	j->pty = (flags & MG_EXEC_PTY) != 0 ? out[0] : -1;
	j->pty_keep = j->pty >= 0 ? fcntl(j->pty, F_DUPFD_CLOEXEC, 3) : -1;
	j->child = mg_child_new(j, mg__router_loop(r), j->pid, on_exit_status, j);
	j->out = mg__chan_out_new(j, r, out[0], j->master, MG_WINDOW_DEFAULT, on_out_done, j);
	out[0] = -1;
	j->err = mg__chan_out_new(j, r, err[0], j->master, MG_WINDOW_DEFAULT, on_out_done, j);
	err[0] = -1;
	j->in = mg__chan_in_new(j, r, in[1], j->master, on_in_done, j);
	in[1] = -1;
	j->ctl = mg__router_add_handler(j, r, 0, MG_POL_PARENT, 0, true, on_ctl, j);
	j->gone = mg__router_watch(j, r, j->master, on_requester_lost, j);
	if (j->child == NULL || j->out == NULL || j->err == NULL || j->in == NULL ||
	    j->ctl == NULL || j->gone == NULL) {
		send_failed(r, m, -ENOMEM, "out of memory");
		TALLOC_FREE(j);
		goto out;
	}
	mg__chan_in_set_ack(j->in, h_in_ack);
	ev.pid = (uint32_t)j->pid;
	ev.h_stdin = mg__chan_in_handle(j->in);
	ev.h_stdout_ack = mg__chan_out_ack_handle(j->out);
	ev.h_stderr_ack = mg__chan_out_ack_handle(j->err);
	ev.h_ctl = mg__handler_handle(j->ctl);
	if (mg__exec_event_encode(&evb, &ev) == 0) {
		mg__router_reply(r, m, evb.data, evb.len);
	}
	/* Output may flow only after STARTED is on its way. */
	mg__chan_out_start(j->out, h_out);
	mg__chan_out_start(j->err, h_err);
out:
	if (pty_slave >= 0) {
		close(pty_slave);
	}
	for (int i = 0; i < 2; i++) {
		if (in[i] >= 0) {
			close(in[i]);
		}
		if (out[i] >= 0) {
			close(out[i]);
		}
		if (err[i] >= 0) {
			close(err[i]);
		}
	}
	talloc_free(tmp);
}

struct exec_svc *mg__svc_exec_init(struct mg_router *r, struct mg_images *images)
{
	struct exec_svc *svc = talloc_zero(r, struct exec_svc);

	if (svc == NULL) {
		return NULL;
	}
	svc->r = r;
	svc->images = images;
	if (mg__router_add_handler(svc, r, MG_H_EXEC, MG_POL_PARENT, 0, true, on_exec, svc) == NULL) {
		talloc_free(svc);
		return NULL;
	}
	return svc;
}

void mg__svc_exec_stop(struct exec_svc *svc)
{
	for (struct job *j = svc->jobs; j != NULL; j = j->next) {
		job_signal(j, SIGTERM, true);
	}
}
