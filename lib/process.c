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
#include <sys/socket.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>
#include "mitogen/loop.h"
#include "process.h"
#include "protocol.h"

extern char **environ;

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
	sigset_t none, all;
	short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
	int ret;

	if (opts->set_ctty || opts->pre_exec != NULL) {
		return spawn_fork(opts, _pid);
	}

	if ((ret = posix_spawn_file_actions_init(&fa)) != 0) {
		return -ret;
	}
	if ((ret = posix_spawnattr_init(&attr)) != 0) {
		posix_spawn_file_actions_destroy(&fa);
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
	/* Nothing blocked, every signal (SIGPIPE above all) at its default. */
	sigemptyset(&none);
	sigfillset(&all);
	sigdelset(&all, SIGKILL);
	sigdelset(&all, SIGSTOP);
	if (ret == 0) {
		posix_spawnattr_setsigmask(&attr, &none);
		posix_spawnattr_setsigdefault(&attr, &all);
		ret = posix_spawnattr_setflags(&attr, flags);
	}
	if (ret == 0) {
		char *const *argv = (char *const *)opts->argv;
		char *const *envp = opts->envp != NULL ? (char *const *)opts->envp : environ;
		if (opts->path != NULL) {
			ret = posix_spawn(_pid, opts->path, &fa, &attr, argv, envp);
		} else if (opts->search_path) {
			ret = posix_spawnp(_pid, argv[0], &fa, &attr, argv, envp);
		} else {
			ret = posix_spawn(_pid, argv[0], &fa, &attr, argv, envp);
		}
	}
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	return -ret;
}

void mg__kill_session(pid_t sid)
{
	DIR *d = opendir("/proc");
	struct dirent *e;

	if (d == NULL || sid <= 1) {
		if (d != NULL) {
			closedir(d);
		}
		return;
	}
	while ((e = readdir(d)) != NULL) {
		char path[64], buf[512], *p;
		long pid = strtol(e->d_name, &p, 10);
		int fd, field;
		ssize_t n;

		if (*p != '\0' || pid <= 1) {
			continue;
		}
		snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			continue;
		}
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n <= 0) {
			continue;
		}
		buf[n] = '\0';
		/* Fields after the command name, which may hold spaces: state,
		 * ppid, pgrp, session. */
		p = strrchr(buf, ')');
		if (p == NULL) {
			continue;
		}
		for (field = 0; field < 4 && p != NULL; field++) {
			p = strchr(p + 1, ' ');
		}
		if (p != NULL && strtol(p + 1, NULL, 10) == sid) {
			kill((pid_t)pid, SIGKILL);
		}
	}
	closedir(d);
}
