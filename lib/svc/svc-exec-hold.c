/*
 * A command whose stdout or stderr was passed (MG_EXEC_FD_OUT/ERR) has no
 * pipe of ours to tell when the last holder of that output goes. Relayed,
 * EXITED waits for a job the command left in the background with its
 * output (PROTOCOL 5.3): -u, SIGTERM and Ctrl-C then reach it, and the
 * run does not end under it. Passed, we look instead: EXITED waits while a
 * process of the command's group has one of those files open.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "mitogen/loop.h"
#include "process.h"
#include "svc-exec.h"

/* How often to look again while a holder is left. */
#define HOLD_POLL_MS 100

struct mg__exec_hold {
	struct mg_loop *loop;
	pid_t pgid;
	struct stat files[2];
	unsigned n;
	struct mg_timer *t;
	void (*done)(void *data);
	void *data;
	pid_t last;	/* the process last found holding one, or 0 */
};

/* The process group of process 'pid' (from /proc), or -1. */
static pid_t pgrp_of(const char *pid)
{
	return (pid_t)mg__proc_stat_field(strtol(pid, NULL, 10), 5);
}

/* Whether process 'pid' has one of h's files open. */
static bool holds(const struct mg__exec_hold *h, const char *pid)
{
	char path[64], fdpath[64 + 256 + 2];
	struct dirent *e;
	bool found = false;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%s/fd", pid);
	d = opendir(path);
	if (d == NULL) {
		return false;
	}
	while (!found && (e = readdir(d)) != NULL) {
		struct stat st;
		if (e->d_name[0] == '.') {
			continue;
		}
		snprintf(fdpath, sizeof(fdpath), "%s/%s", path, e->d_name);
		if (stat(fdpath, &st) != 0) {
			continue;
		}
		for (unsigned i = 0; i < h->n && !found; i++) {
			found = st.st_dev == h->files[i].st_dev && st.st_ino == h->files[i].st_ino;
		}
	}
	closedir(d);
	return found;
}

/* Whether any process of the group holds one of the files (h->last: which). */
static bool held(struct mg__exec_hold *h)
{
	struct dirent *e;
	bool found = false;
	DIR *d;

	/* Most often the group ended with its leader: one call then, not a
	 * read of every process on the host. (EPERM: one of it lives.) */
	if (kill(-h->pgid, 0) != 0 && errno == ESRCH) {
		return false;
	}
	/* The one found last time, while it still holds one (and is still
	 * of the group: not a new process with its pid); every process only
	 * once it lets go, a read of three files each. */
	if (h->last > 0) {
		char pid[16];
		snprintf(pid, sizeof(pid), "%d", (int)h->last);
		if (pgrp_of(pid) == h->pgid && holds(h, pid)) {
			return true;
		}
		h->last = 0;
	}
	if ((d = opendir("/proc")) == NULL) {
		return false;
	}
	while (!found && (e = readdir(d)) != NULL) {
		if (e->d_name[0] >= '1' && e->d_name[0] <= '9' && pgrp_of(e->d_name) == h->pgid &&
		    holds(h, e->d_name)) {
			found = true;
			h->last = (pid_t)strtol(e->d_name, NULL, 10);
		}
	}
	closedir(d);
	return found;
}

static void on_poll(struct mg_timer *t, void *data)
{
	struct mg__exec_hold *h = data;

	h->t = NULL;
	if (held(h)) {
		h->t = mg_timer_new(h, h->loop, HOLD_POLL_MS, on_poll, h);
		if (h->t != NULL) {
			return;
		}
	}
	h->done(h->data);
}

struct mg__exec_hold *mg__exec_hold_new(TALLOC_CTX *mem_ctx, struct mg_loop *loop,
					const int *fds, unsigned n)
{
	struct mg__exec_hold *h = talloc_zero(mem_ctx, struct mg__exec_hold);

	if (h == NULL) {
		return NULL;
	}
	h->loop = loop;
	for (unsigned i = 0; i < n && i < 2; i++) {
		if (fstat(fds[i], &h->files[h->n]) == 0) {
			h->n++;
		}
	}
	return h;
}

void mg__exec_hold_wait(struct mg__exec_hold *h, pid_t pgid, void (*done)(void *data), void *data)
{
	h->pgid = pgid;
	h->done = done;
	h->data = data;
	if (h->t == NULL) {
		h->t = mg_timer_new(h, h->loop, 0, on_poll, h);
	}
	if (h->t == NULL) {
		done(data);
	}
}
