/* Process spawning through posix_spawn (vfork speed, exec errors reported
 * synchronously). */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <talloc.h>
#include <termios.h>
#include <unistd.h>
#include "mitogen/connect.h"
#include "mitogen/loop.h"
#include "process.h"
#include "scan.h"
#include "protocol.h"

extern char **environ;

/* Variables no child of this process may inherit: they hold hop
 * passwords (password_env=). One list for the process, since every child
 * inherits the same environment whichever session starts it; environ
 * itself stays as the library's user set it. NULL-terminated. */
static char **hidden_env;

int mg__env_hide(const char *name)
{
	size_t n = 0;
	char **v;

	if (name == NULL || name[0] == '\0' || strchr(name, '=') != NULL) {
		return -EINVAL;
	}
	for (; hidden_env != NULL && hidden_env[n] != NULL; n++) {
		if (strcmp(hidden_env[n], name) == 0) {
			return 0;
		}
	}
	v = talloc_realloc(NULL, hidden_env, char *, n + 2);
	if (v == NULL) {
		return -ENOMEM;
	}
	hidden_env = v;
	v[n] = talloc_strdup(v, name);
	v[n + 1] = NULL;
	return v[n] != NULL ? 0 : -ENOMEM;
}

/* The soft RLIMIT_NOFILE every child gets back once this process may
 * raise its own (mg_connect_nofile_auto); 0 while it may not. One value
 * for the process, as the limit is. */
static rlim_t nofile_child;

void mg_connect_nofile_auto(void)
{
	struct rlimit rl;

	if (nofile_child == 0 && getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    rl.rlim_cur > 0) {
		nofile_child = rl.rlim_cur;
	}
}

int mg__nofile_room(int n)
{
	int fds[MG_NOFILE_ROOM_MAX], got = 0;
	struct rlimit rl;
	rlim_t want;

	if (n <= 0 || nofile_child == 0 || getrlimit(RLIMIT_NOFILE, &rl) != 0 ||
	    rl.rlim_cur == RLIM_INFINITY) {
		return 0;
	}
	/* Take n descriptors and give them back: what the lowest free one
	 * says could be a hole among a full table. */
	n = n < MG_NOFILE_ROOM_MAX ? n : MG_NOFILE_ROOM_MAX;
	fds[0] = open("/", O_PATH | O_CLOEXEC);
	for (got = fds[0] >= 0; got > 0 && got < n; got++) {
		if ((fds[got] = fcntl(fds[0], F_DUPFD_CLOEXEC, 0)) < 0) {
			break;
		}
	}
	for (int i = 0; i < got; i++) {
		close(fds[i]);
	}
	if (got == n) {
		return 0;
	}
	/* Doubling: a fan-out of thousands raises it a few times, not per hop. */
	want = rl.rlim_cur * 2;
	if (rl.rlim_max != RLIM_INFINITY && want > rl.rlim_max) {
		want = rl.rlim_max;
	}
	if (want <= rl.rlim_cur) {
		return -EMFILE;
	}
	rl.rlim_cur = want;
	return setrlimit(RLIMIT_NOFILE, &rl) == 0 ? 0 : -errno;
}

/* Whether this process's soft limit is not the one children get. */
static bool nofile_raised(void)
{
	struct rlimit rl;

	return nofile_child != 0 && getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != nofile_child;
}

/* In a child before exec: the soft limit its user set. */
static void nofile_restore(void)
{
	struct rlimit rl;

	if (nofile_child != 0 && getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != nofile_child) {
		rl.rlim_cur = nofile_child;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* Whether "NAME=VALUE" names a hidden variable. Async-signal-safe. */
static bool env_hidden(const char *entry)
{
	for (size_t i = 0; hidden_env != NULL && hidden_env[i] != NULL; i++) {
		size_t len = strlen(hidden_env[i]);
		if (strncmp(entry, hidden_env[i], len) == 0 && entry[len] == '=') {
			return true;
		}
	}
	return false;
}

/* Drop the hidden variables from 'env' in place (a forked child's own
 * copy). Async-signal-safe. */
static void env_drop_hidden(char **env)
{
	size_t j = 0;

	for (size_t i = 0; env != NULL && env[i] != NULL; i++) {
		if (!env_hidden(env[i])) {
			env[j++] = env[i];
		}
	}
	if (env != NULL) {
		env[j] = NULL;
	}
}

/* 'env' without the hidden variables, as a new array on mem_ctx sharing
 * its strings; 'env' itself when nothing is hidden. NULL on ENOMEM. */
static char *const *env_for_child(TALLOC_CTX *mem_ctx, char *const *env)
{
	size_t n = 0;
	char **copy;

	if (hidden_env == NULL || env == NULL) {
		return env;
	}
	while (env[n] != NULL) {
		n++;
	}
	copy = talloc_array(mem_ctx, char *, n + 1);
	if (copy == NULL) {
		return NULL;
	}
	memcpy(copy, env, (n + 1) * sizeof(*copy));
	env_drop_hidden(copy);
	return copy;
}

/* Whether "NAME=..." entry names the variable of "NAME=VALUE" any of over. */
static bool env_overridden(const char *entry, const char *const *over)
{
	size_t len = strcspn(entry, "=");

	for (size_t j = 0; over[j] != NULL; j++) {
		if (strncmp(over[j], entry, len) == 0 && over[j][len] == '=') {
			return true;
		}
	}
	return false;
}

char **mg__env_with(TALLOC_CTX *mem_ctx, const char *const *over)
{
	size_t n = 0, k = 0, out = 0;
	char **env;

	while (environ != NULL && environ[n] != NULL) {
		n++;
	}
	while (over[k] != NULL) {
		k++;
	}
	if ((env = talloc_array(mem_ctx, char *, n + k + 1)) == NULL) {
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		if (!env_overridden(environ[i], over)) {
			env[out++] = environ[i];
		}
	}
	for (size_t j = 0; j < k; j++) {
		env[out++] = (char *)over[j];
	}
	env[out] = NULL;
	return env;
}

char **mg__env_for_children(TALLOC_CTX *mem_ctx, const char *const *over)
{
	char **env = mg__env_with(mem_ctx, over);

	env_drop_hidden(env);
	return env;
}

/* Overwrite the "NAME=VALUE" strings of hidden variables in the block the
 * kernel shows as /proc/PID/environ (the environment this process was
 * started with), which unsetenv does not touch. Only ever in a forked
 * child: its pages are its own copy. */
static void env_wipe_initial_block(void)
{
	char buf[1024], *p;
	const char *cp;
	unsigned long se[2], start, end;
	int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;

	if (fd >= 0) {
		close(fd);
	}
	if (n <= 0) {
		return;
	}
	buf[n] = '\0';
	/* env_start and env_end are fields 50 and 51; the command name,
	 * field 2, may hold spaces but ends at the last ')'. */
	p = strrchr(buf, ')');
	for (int field = 3; p != NULL && field <= 50; field++) {
		p = strchr(p + 1, ' ');
	}
	if (p == NULL) {
		return;
	}
	cp = p;
	if (mg__scan_ulongs(&cp, se, 2) != 2) {
		return;
	}
	start = se[0];
	end = se[1];
	if (start == 0 || end <= start || end - start > (64ul << 20)) {
		return;
	}
	for (char *e = (char *)start; e < (char *)end; e += strnlen(e, (size_t)((char *)end - e)) + 1) {
		if (env_hidden(e)) {
			explicit_bzero(e, strnlen(e, (size_t)((char *)end - e)));
		}
	}
}

void mg__env_scrub_self(void)
{
	if (hidden_env == NULL) {
		return;
	}
	env_wipe_initial_block();
	for (size_t i = 0; hidden_env[i] != NULL; i++) {
		unsetenv(hidden_env[i]);
	}
	/* Our environment is clean now: our own children need no filter,
	 * and a K=V the user asked for by name is theirs to have. */
	TALLOC_FREE(hidden_env);
}

int mg__pipe(int fds[2])
{
	return pipe2(fds, O_CLOEXEC) == 0 ? 0 : -errno;
}

int mg__socketpair(int fds[2])
{
	int size = MG_SOCK_BUF;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
		return -errno;
	}
	/* Room for several chunks per wake-up; the kernel may cap it. */
	for (int i = 0; i < 2; i++) {
		setsockopt(fds[i], SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
		setsockopt(fds[i], SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	}
	return 0;
}

int mg__openpty(int *_master, int *_slave, bool raw, bool quiet)
{
	char name[128];
	int m, sl, err;

	m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (m < 0) {
		return -errno;
	}
	if (grantpt(m) != 0 || unlockpt(m) != 0 || ptsname_r(m, name, sizeof(name)) != 0) {
		err = -errno;
		close(m);
		return err;
	}
	sl = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (sl < 0) {
		err = -errno;
		close(m);
		return err;
	}
	{
		struct termios t;
		if (tcgetattr(sl, &t) == 0) {
			if (raw) {
				cfmakeraw(&t);
			}
			/* Prompt PTYs never echo: a password written before the
			 * prompter turns echo off would come back into our logs. */
			if (quiet) {
				t.c_lflag &= ~(tcflag_t)(ECHO | ECHOE | ECHOK | ECHONL);
			}
			tcsetattr(sl, TCSANOW, &t);
		}
	}
	fcntl(m, F_SETFL, fcntl(m, F_GETFL) | O_NONBLOCK);
	*_master = m;
	*_slave = sl;
	return 0;
}

void mg__child_reset_signals(void)
{
	mg_loop_child_sigmask();
	for (int sig = 1; sig < 65; sig++) {
		signal(sig, SIG_DFL);
	}
}

/* The child side of the fork path: only async-signal-safe calls. */
static void child_exec(const struct mg_spawn_opts *opts, int errfd)
{
	int fds[3];
	int err;

	mg__child_reset_signals();
	if (opts->setsid) {
		setsid();
	} else if (opts->setpgid) {
		setpgid(0, 0);
	}
	if (opts->set_ctty && ioctl(opts->ctty, TIOCSCTTY, 0) != 0) {
		goto fail;
	}
	/* Move the sources out of the way first: they may sit on 0..2. */
	for (int i = 0; i < 3; i++) {
		if (opts->stdio[i] < 0) {
			fds[i] = open("/dev/null", i == 0 ? O_RDONLY : O_WRONLY);
		} else {
			fds[i] = fcntl(opts->stdio[i], F_DUPFD, 10);
		}
		if (fds[i] < 0) {
			goto fail;
		}
	}
	for (int i = 0; i < 3; i++) {
		if (dup2(fds[i], i) < 0) {
			goto fail;
		}
	}
	for (int i = 0; i < 3; i++) {
		close(fds[i]);
	}
	if (opts->pass_fd > 0 && dup2(opts->pass_fd, opts->pass_fd_at) < 0) {
		goto fail;
	}
	if (opts->cwd != NULL && chdir(opts->cwd) != 0) {
		goto fail;
	}
	if (opts->pre_exec != NULL && opts->pre_exec(opts->pre_exec_state) != 0) {
		errno = EPERM;
		goto fail;
	}
	if (opts->envp != NULL) {
		environ = (char **)opts->envp;
	}
	/* After pre_exec, which may have set its own environment (setns). */
	env_drop_hidden(environ);
	/* Last: every descriptor this child needed is open (the parent's are
	 * inherited, many past the limit restored). */
	nofile_restore();
	if (opts->path != NULL) {
		execv(opts->path, (char *const *)opts->argv);
	} else if (opts->search_path) {
		execvp(opts->argv[0], (char *const *)opts->argv);
	} else {
		execv(opts->argv[0], (char *const *)opts->argv);
	}
fail:
	err = errno;
	if (write(errfd, &err, sizeof(err)) < 0) {
		/* Nothing more to do. */
	}
	_exit(127);
}

/* fork + exec, for what posix_spawn cannot do: a controlling tty, or
 * work between fork and exec. An exec failure comes back on a pipe. */
static int spawn_fork(const struct mg_spawn_opts *opts, pid_t *_pid)
{
	int ep[2], err = 0;
	ssize_t n;
	pid_t pid;

	if (pipe2(ep, O_CLOEXEC) != 0) {
		return -errno;
	}
	pid = fork();
	if (pid < 0) {
		err = -errno;
		close(ep[0]);
		close(ep[1]);
		return err;
	}
	if (pid == 0) {
		close(ep[0]);
		child_exec(opts, ep[1]);
	}
	close(ep[1]);
	do {
		n = read(ep[0], &err, sizeof(err));
	} while (n < 0 && errno == EINTR);
	close(ep[0]);
	if (n == sizeof(err)) {
		waitpid(pid, NULL, 0);
		return -(err != 0 ? err : EIO);
	}
	*_pid = pid;
	return 0;
}

int mg__spawn(const struct mg_spawn_opts *opts, pid_t *_pid)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	TALLOC_CTX *tmp;
	sigset_t none, all;
	short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
	int ret;

	/* posix_spawn cannot set a child's limit: a raised one takes fork. */
	if (opts->set_ctty || opts->pre_exec != NULL || nofile_raised()) {
		return spawn_fork(opts, _pid);
	}

	if ((tmp = talloc_new(NULL)) == NULL) {
		return -ENOMEM;
	}
	if ((ret = posix_spawn_file_actions_init(&fa)) != 0) {
		talloc_free(tmp);
		return -ret;
	}
	if ((ret = posix_spawnattr_init(&attr)) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		talloc_free(tmp);
		return -ret;
	}
	/* dup2 clears close-on-exec on the target; /dev/null where asked. */
	for (int i = 0; i < 3 && ret == 0; i++) {
		if (opts->stdio[i] < 0) {
			ret = posix_spawn_file_actions_addopen(&fa, i, "/dev/null",
							       i == 0 ? O_RDONLY : O_WRONLY, 0);
		} else if (opts->stdio[i] == i) {
			/* Same number: clear close-on-exec through a dup dance. */
			ret = posix_spawn_file_actions_adddup2(&fa, i, 100 + i);
			if (ret == 0) {
				ret = posix_spawn_file_actions_adddup2(&fa, 100 + i, i);
			}
			if (ret == 0) {
				ret = posix_spawn_file_actions_addclose(&fa, 100 + i);
			}
		} else {
			ret = posix_spawn_file_actions_adddup2(&fa, opts->stdio[i], i);
		}
	}
	if (ret == 0 && opts->pass_fd > 0) {
		/* dup2 leaves the copy open across exec (a #! script's path). */
		ret = posix_spawn_file_actions_adddup2(&fa, opts->pass_fd, opts->pass_fd_at);
	}
	if (ret == 0 && opts->cwd != NULL) {
		ret = posix_spawn_file_actions_addchdir_np(&fa, opts->cwd);
	}
	if (opts->setsid) {
		flags |= POSIX_SPAWN_SETSID;
	} else if (opts->setpgid) {
		flags |= POSIX_SPAWN_SETPGROUP;
		posix_spawnattr_setpgroup(&attr, 0);
	}
	/* Nothing blocked, every signal (SIGPIPE above all) at its default,
	 * including those libc keeps for itself: sigfillset leaves them out,
	 * and musl's posix_spawn (the static agent) then starts the program
	 * with 32 to 34 ignored, which would stay so across every exec. */
	sigemptyset(&none);
	memset(&all, 0xff, sizeof(all));
	sigdelset(&all, SIGKILL);
	sigdelset(&all, SIGSTOP);
	if (ret == 0) {
		posix_spawnattr_setsigmask(&attr, &none);
		posix_spawnattr_setsigdefault(&attr, &all);
		ret = posix_spawnattr_setflags(&attr, flags);
	}
	if (ret == 0) {
		char *const *argv = (char *const *)opts->argv;
		char *const *envp = env_for_child(tmp, opts->envp != NULL ? (char *const *)opts->envp
									   : environ);
		if (envp == NULL) {
			ret = ENOMEM;
		} else if (opts->path != NULL) {
			ret = posix_spawn(_pid, opts->path, &fa, &attr, argv, envp);
		} else if (opts->search_path) {
			ret = posix_spawnp(_pid, argv[0], &fa, &attr, argv, envp);
		} else {
			ret = posix_spawn(_pid, argv[0], &fa, &attr, argv, envp);
		}
	}
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	talloc_free(tmp);
	return -ret;
}

/* /proc/PID/stat into buf: what follows the command name, which may
 * hold spaces but ends at the last ')' (from " S ..."), or NULL. */
static const char *read_stat(long pid, char *buf, size_t len)
{
	char path[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		return NULL;
	}
	n = read(fd, buf, len - 1);
	close(fd);
	if (n <= 0) {
		return NULL;
	}
	buf[n] = '\0';
	return strrchr(buf, ')');
}

/* Field k (from 3) of the text after the command name; by hand: sscanf
 * would bring musl's scanf into the agent. */
static long stat_field(const char *p, int k)
{
	for (int field = 2; field < k && p != NULL; field++) {
		p = strchr(p + 1, ' ');
	}
	return p != NULL ? strtol(p + 1, NULL, 10) : -1;
}

/* The state after the command name is no zombie's: a zombie has ended,
 * its reaper, not its session, is late (a container whose init reaps
 * nothing). */
static bool stat_live(const char *st)
{
	return st != NULL && st[1] == ' ' && st[2] != 'Z';
}

long mg__proc_stat_field(long pid, int k)
{
	char buf[512];

	return stat_field(read_stat(pid, buf, sizeof(buf)), k);
}

bool mg__proc_live(long pid)
{
	char buf[512];

	return stat_live(read_stat(pid, buf, sizeof(buf)));
}

int mg__kill_session(pid_t sid, int sig)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	int n = 0;

	if (d == NULL || sid <= 1) {
		if (d != NULL) {
			closedir(d);
		}
		return 0;
	}
	while ((e = readdir(d)) != NULL) {
		char *p;
		long pid = strtol(e->d_name, &p, 10);
		char buf[512];
		const char *st;

		if (*p != '\0' || pid <= 1 || pid == sid ||
		    (st = read_stat(pid, buf, sizeof(buf))) == NULL) {
			continue;
		}
		if (stat_live(st) && stat_field(st, 6) == sid) {
			kill((pid_t)pid, sig);
			n++;
		}
	}
	closedir(d);
	return n;
}
