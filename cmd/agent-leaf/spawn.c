/*
 * The leaf agent's command start (lib/svc/svc-exec.c and lib/hop/process.c
 * for a leaf): which shell and home, the environment, and the fork and
 * exec with their errors reported back.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "exec-host.h"
#include "passwd.h"
#include "leaf.h"

extern char **environ;

/* Our user's entry in /etc/passwd: its 'field'th field (5 the home, 6
 * the shell) into buf, or NULL (exec-host.c: no getpwuid here either). */
static const char *passwd_field(int field, char *buf, size_t cap)
{
	static char db[1 << 16];
	static long len = -2;

	if (len == -2) {
		len = mg__passwd_read(db, sizeof(db));
	}
	return mg__passwd_field(db, len, (unsigned long)getuid(), field, buf, cap);
}

/* Our user's login shell or home: /etc/passwd, else what sshd (or su,
 * sudo) put in our environment from the user's entry, NSS included. */
static const char *user_field(int field, char *buf, size_t cap)
{
	const char *v = passwd_field(field, buf, cap);

	return v != NULL ? v : getenv(field == 6 ? "SHELL" : "HOME");
}

/* The shell sshd runs a command line with (svc-exec.c's login_shell). */
const char *leaf_login_shell(void)
{
	static char buf[PATH_MAX];
	const char *sh = user_field(6, buf, sizeof(buf));

	if (sh == NULL || sh[0] != '/' || !mg__shells_list(sh) || access(sh, X_OK) != 0) {
		return "/bin/sh";
	}
	return sh;
}

/* Where the PATH lookup finds 'name' (svc-exec.c's find_in_path), in
 * 'buf'; NULL when nowhere. */
static const char *find_in_path(const char *name, char *buf, size_t cap)
{
	const char *path = getenv("PATH");
	struct stat st;

	if (strchr(name, '/') != NULL) {
		return name;
	}
	for (const char *p = path != NULL ? path : "/bin:/usr/bin";; p++) {
		size_t len = strcspn(p, ":");
		if (len + strlen(name) + 2 <= cap) {
			memcpy(buf, p, len);
			buf[len] = '/';
			strcpy(buf + len + (len > 0), name);
			if (stat(buf, &st) == 0 && S_ISREG(st.st_mode) && access(buf, X_OK) == 0) {
				return buf;
			}
		}
		p += len;
		if (*p == '\0') {
			return NULL;
		}
	}
}

/* The child side: its own group, signals at their defaults, the pipes
 * as its stdio, then exec; the errno of a failure goes back on 'ep'. */
static void child(const char *path, char **argv, char **envp, const char *cwd, const int io[3],
		  int ep)
{
	sigset_t none;
	int fds[3], err;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (int sig = 1; sig < 65; sig++) {
		signal(sig, SIG_DFL);
	}
	setpgid(0, 0);
	for (int i = 0; i < 3; i++) {
		fds[i] = io[i] < 0 ? open("/dev/null", i == 0 ? O_RDONLY : O_WRONLY)
				   : fcntl(io[i], F_DUPFD, 10);
		if (fds[i] < 0) {
			goto fail;
		}
	}
	for (int i = 0; i < 3; i++) {
		if (dup2(fds[i], i) < 0) {
			goto fail;
		}
		close(fds[i]);
	}
	if (cwd != NULL && chdir(cwd) != 0) {
		goto fail;
	}
	/* PATH is ours (PROTOCOL 5.3), as posix_spawnp's: execvpe looks in
	 * our environment, not in the command's. */
	if (path != NULL) {
		execve(path, argv, envp != NULL ? envp : environ);
	} else {
		execvpe(argv[0], argv, envp != NULL ? envp : environ);
	}
fail:
	err = errno;
	if (write(ep, &err, sizeof(err)) < 0) {
		/* nothing more to do */
	}
	_exit(127);
}

/* Start the command: 0, or the negative errno its exec failed with. */
int leaf_spawn(const char *path, char **argv, char **envp, const char *cwd, const int io[3],
	       pid_t *_pid)
{
	int ep[2], err = 0;
	ssize_t k;

#ifdef LEAF_FUZZ
	/* tests/fuzz/fuzz-leaf.c: everything up to here, nothing run. */
	(void)ep, (void)k;
	return path != NULL || argv[0] != NULL ? -EPERM : -EINVAL;
#endif
	if (pipe2(ep, O_CLOEXEC) != 0) {
		return -errno;
	}
	*_pid = fork();
	if (*_pid == 0) {
		child(path, argv, envp, cwd, io, ep[1]);
	}
	close(ep[1]);
	if (*_pid < 0) {
		err = -errno;
	} else {
		/* Before any signal is sent to it as a group. */
		setpgid(*_pid, *_pid);
		while ((k = read(ep[0], &err, sizeof(err))) < 0 && errno == EINTR) {
		}
		if (k == (ssize_t)sizeof(err)) {
			err = -err;
			while (waitpid(*_pid, NULL, 0) < 0 && errno == EINTR) {
			}
			*_pid = 0;
		} else {
			err = 0;
		}
	}
	close(ep[0]);
	return err;
}

/* The request's K=V items on top of our environment in *_env (NULL:
 * ours as it is); -ENOMEM when there is no room for it. */
int leaf_make_env(char **over, char ***_env)
{
	size_t n = 0, k = 0, out = 0;
	char **env;

	*_env = NULL;
	while (environ[n] != NULL) {
		n++;
	}
	while (over != NULL && over[k] != NULL) {
		k++;
	}
	if (k == 0) {
		return 0;
	}
	if ((env = leaf_vec_take(n + k + 1)) == NULL) {
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		size_t len = strcspn(environ[i], "=");
		bool named = false;
		for (size_t j = 0; j < k && !named; j++) {
			named = strncmp(over[j], environ[i], len) == 0 && over[j][len] == '=';
		}
		if (!named) {
			env[out++] = environ[i];
		}
	}
	memcpy(env + out, over, (k + 1) * sizeof(*env));
	*_env = env;
	return 0;
}

/* cwd "~": the user's home as sshd enters it, else "/". */
static const char *home_dir(void)
{
	static char home[PATH_MAX];
	const char *h = user_field(5, home, sizeof(home));

	return h != NULL && h[0] == '/' && mg__dir_enterable(h) == 0 ? h : "/";
}

/* cwd as a shell's `cd` reads it: "~" the home, "~/DIR" DIR in it (only
 * this end knows the home); anything else, "~user" too, as it is. One
 * too long for PATH_MAX stays as it is, and cd reports it. */
const char *leaf_cwd(const char *cwd)
{
	static char path[PATH_MAX];
	const char *home;

	if (cwd == NULL || cwd[0] != '~' || (cwd[1] != '\0' && cwd[1] != '/')) {
		return cwd;
	}
	home = home_dir();
	if (cwd[1] == '\0') {
		return home;
	}
	if (strlen(home) + strlen(cwd) > sizeof(path)) {
		return cwd;
	}
	/* "/" + "/DIR": no "//" in what an error names. */
	leaf_format(path, sizeof(path), "%s%s", strcmp(home, "/") == 0 ? "" : home, cwd + 1);
	return path;
}

/* Run it with /bin/sh, as execvp and POSIX do for a file that is no
 * program (ENOEXEC); posix_spawnp, and so svc-exec.c, needs this too. */
int leaf_spawn_sh(char **argv, char **envp, const char *cwd, const int io[3], pid_t *_pid)
{
	static char file[PATH_MAX];
	size_t n = 0;
	char **shv;

	while (argv[n] != NULL) {
		n++;
	}
	if (find_in_path(argv[0], file, sizeof(file)) == NULL || (shv = leaf_vec_take(n + 2)) == NULL) {
		return -ENOEXEC;
	}
	shv[0] = "/bin/sh";
	shv[1] = strchr(argv[0], '/') != NULL ? argv[0] : file;
	memcpy(shv + 2, argv + 1, n * sizeof(*argv));
	return leaf_spawn("/bin/sh", shv, envp, cwd, io, _pid);
}
