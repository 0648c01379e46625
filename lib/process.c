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
#include <unistd.h>
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

int mg__spawn(const struct mg_spawn_opts *opts, pid_t *_pid)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, all;
	short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
	int ret;

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
		if (opts->search_path) {
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
