/*
 * fakessh and the real ssh: handing over to it when fakessh is run as an
 * ssh hop's ssh, and asking it what only it can answer (-Q, -O).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <mitogen/mitogen.h>
#include "common.h"
#include "fakessh-ssh.h"

#define FAKESSH_FAIL 255

/* Set by a fakessh for the ssh its hops start: the file identities
 * ("DEV:INO", space-separated) of itself and of each fakessh that handed
 * over since. Not a parent test alone: a copy of fakessh named ssh is
 * another file than the fakessh that runs it. */
#define ENV_HOP_SSH "MITOGEN_FAKESSH_HOP_SSH"

static char *file_id(TALLOC_CTX *ctx, const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? talloc_asprintf(ctx, "%ju:%ju", (uintmax_t)st.st_dev,
						      (uintmax_t)st.st_ino) : NULL;
}

/* Is 'path' a fakessh: this very program, or one named in ENV_HOP_SSH? */
static bool is_fakessh(TALLOC_CTX *ctx, const char *path)
{
	char *id = file_id(ctx, path), *self = file_id(ctx, "/proc/self/exe");
	const char *list = getenv(ENV_HOP_SSH), *p;
	size_t n = id != NULL ? strlen(id) : 0;

	if (id == NULL) {
		return false;
	}
	if (self != NULL && strcmp(id, self) == 0) {
		return true;
	}
	for (p = list != NULL ? strstr(list, id) : NULL; p != NULL; p = strstr(p + 1, id)) {
		if ((p == list || p[-1] == ' ') && (p[n] == '\0' || p[n] == ' ')) {
			return true;
		}
	}
	return false;
}

/* The first "ssh" in PATH that is no fakessh, or NULL. */
static const char *real_ssh(TALLOC_CTX *ctx)
{
	const char *path = getenv("PATH");
	char *copy = talloc_strdup(ctx, path != NULL ? path : "/usr/bin:/bin"), *save = NULL;

	for (char *d = copy != NULL ? strtok_r(copy, ":", &save) : NULL; d != NULL; d = strtok_r(NULL, ":", &save)) {
		char *ssh = talloc_asprintf(ctx, "%s/ssh", d[0] != '\0' ? d : ".");
		if (ssh != NULL && access(ssh, X_OK) == 0 && !is_fakessh(ctx, ssh)) {
			return ssh;
		}
	}
	return NULL;
}

/* See fakessh-ssh.h. */
int mg_fakessh_mark_hops(void)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	const char *old = getenv(ENV_HOP_SSH);
	char *self = tmp != NULL ? file_id(tmp, "/proc/self/exe") : NULL;
	char *list = self == NULL ? NULL : old != NULL && old[0] != '\0'
		   ? talloc_asprintf(tmp, "%s %s", old, self) : self;
	int ret = list == NULL ? -ENOMEM : setenv(ENV_HOP_SSH, list, 1) != 0 ? -errno : 0;

	talloc_free(tmp);
	return ret;
}

void mg_fakessh_unmark_hops(void)
{
	unsetenv(ENV_HOP_SSH);
}

/* See fakessh-ssh.h. A fakessh whose parent is a fakessh (this program,
 * or one that marked the environment: its persist holder is a fork of
 * it) and that is not attached to a run is the ssh of one of that
 * fakessh's ssh hops. */
bool mg_fakessh_hand_over(TALLOC_CTX *ctx, char **argv)
{
	/* The parent as this /proc numbers it (a pid namespace may see
	 * another /proc than getppid() counts in). */
	char *stat = NULL, *parent = NULL;
	const char *ssh;
	FILE *f = fopen("/proc/self/stat", "re");
	int ppid = 0;

	if (f != NULL) {
		char buf[512];
		size_t n = fread(buf, 1, sizeof(buf) - 1, f);
		buf[n] = '\0';
		stat = strrchr(buf, ')');
		if (stat == NULL || sscanf(stat, ") %*c %d", &ppid) != 1) {
			ppid = 0;
		}
		fclose(f);
	}
	parent = ppid > 1 ? talloc_asprintf(ctx, "/proc/%d/exe", ppid) : NULL;
	if (parent == NULL || getenv("MITOGEN_FAKESSH_SOCKET") != NULL || !is_fakessh(ctx, parent)) {
		return false;
	}
	/* The next fakessh this hands over to (another copy further on in
	 * PATH) must not hand back to this one. */
	ssh = mg_fakessh_mark_hops() == 0 ? real_ssh(ctx) : NULL;
	if (ssh != NULL) {
		execv(ssh, argv);
	}
	fprintf(stderr, "fakessh: started as a hop's ssh, and no other ssh in PATH: %s\n",
		ssh != NULL ? strerror(errno) : "not found");
	return true;
}

/* The first ssh hop of chain 'text', or NULL. */
static const struct mg_hop *first_ssh_hop(TALLOC_CTX *ctx, const char *text)
{
	struct mg_chain_list *list = NULL;
	char *err = NULL;

	if (text == NULL || mg_chain_parse(ctx, text, &list, &err) != 0) {
		return NULL;
	}
	for (size_t i = 0; i < list->chains[0].n_hops; i++) {
		if (strcmp(list->chains[0].hops[i].method, "ssh") == 0) {
			return list->chains[0].hops[i].host != NULL ? &list->chains[0].hops[i] : NULL;
		}
	}
	return NULL;
}

/* argv for the real 'ssh' asking 'q1' ['q2'] about hop 'h': its host,
 * user and port, the command line's identities and ssh options. */
static const char **ask_argv(TALLOC_CTX *ctx, const char *ssh, const struct mg_ssh_cmdline *o,
			     const struct mg_hop *h, const char *q1, const char *q2)
{
	const char **argv = talloc_zero_array(ctx, const char *, o->n_ssh_args + 2 * o->n_identities + 10);
	size_t n = 0;

	if (argv == NULL) {
		return NULL;
	}
	argv[n++] = ssh;
	argv[n++] = q1;
	if (q2 != NULL) {
		argv[n++] = q2;
	}
	if (h->user != NULL) {
		argv[n++] = "-l";
		argv[n++] = h->user;
	}
	if (h->port != 0) {
		argv[n++] = talloc_asprintf(argv, "-p%d", h->port);
	}
	for (size_t i = 0; i < o->n_identities; i++) {
		argv[n++] = "-i";
		argv[n++] = o->identities[i];
	}
	for (size_t i = 0; i < o->n_ssh_args; i++) {
		argv[n++] = o->ssh_args[i];
	}
	argv[n++] = "--";
	argv[n++] = h->host;
	return argv;
}

/* -O goes to the ssh of the first ssh hop of 'text', with the host,
 * user and port of that hop and the command line's ssh options. */
int mg_fakessh_ask_ssh(TALLOC_CTX *ctx, const struct mg_ssh_cmdline *o, const char *text)
{
	const char *ssh = real_ssh(ctx);
	const struct mg_hop *h;
	const char **argv;

	if (ssh == NULL) {
		mg_cmd_error("no ssh in PATH to ask");
		return FAKESSH_FAIL;
	}
	if (o->query != NULL) {
		const char *q[] = { ssh, "-Q", o->query, NULL };
		execv(ssh, (char **)q);
		mg_cmd_error("%s: %s", ssh, strerror(errno));
		return FAKESSH_FAIL;
	}
	h = first_ssh_hop(ctx, text);
	if (h == NULL) {
		mg_cmd_error("-O %s: no ssh hop in %s, so no control master", o->ctl_cmd, o->dest);
		return FAKESSH_FAIL;
	}
	argv = ask_argv(ctx, ssh, o, h, "-O", o->ctl_cmd);
	if (argv != NULL) {
		execv(ssh, (char **)argv);
	}
	mg_cmd_error("%s: %s", ssh, argv != NULL ? strerror(errno) : "out of memory");
	return FAKESSH_FAIL;
}

/* See fakessh-ssh.h. */
int mg_fakessh_ssh_dump(TALLOC_CTX *ctx, const struct mg_ssh_cmdline *o, const char *text)
{
	const char *ssh = real_ssh(ctx);
	const struct mg_hop *h = first_ssh_hop(ctx, text);
	const char **argv = ssh != NULL && h != NULL ? ask_argv(ctx, ssh, o, h, "-G", NULL) : NULL;
	int status = 0;
	pid_t pid;

	if (argv == NULL) {
		return -1;
	}
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		execv(ssh, (char **)argv);
		_exit(127);
	}
	while (pid > 0 && waitpid(pid, &status, 0) < 0 && errno == EINTR) {
	}
	if (pid < 0 || !WIFEXITED(status) || WEXITSTATUS(status) == 127) {
		return -1;
	}
	return WEXITSTATUS(status);
}
