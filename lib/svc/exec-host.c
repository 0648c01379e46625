/*
 * What this host says about running a command as sshd would: whether
 * /etc/shells lists a login shell, whether a directory can be entered.
 * Plain C library calls and no allocation: the leaf agent
 * (cmd/agent-leaf), which links no library, compiles it in too.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "exec-host.h"

/* Whether /etc/shells lists SHELL, a line of its own (blanks around it
 * ignored); without the file, /bin/sh and /bin/csh are listed, as
 * getusershell has them. By hand: getusershell would bring musl's
 * fmemopen into the agent. */
bool mg__shells_list(const char *shell)
{
	char buf[8192];
	size_t len = 0, n = strlen(shell);
	ssize_t k;
	int fd = open("/etc/shells", O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		return strcmp(shell, "/bin/sh") == 0 || strcmp(shell, "/bin/csh") == 0;
	}
	while (len < sizeof(buf) - 1 &&
	       ((k = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0 || (k < 0 && errno == EINTR))) {
		len += k > 0 ? (size_t)k : 0;
	}
	close(fd);
	buf[len] = '\0';
	for (char *line = buf, *next; line != NULL; line = next) {
		char *end;
		next = strchr(line, '\n');
		end = next != NULL ? next++ : line + strlen(line);
		line += strspn(line, " \t");
		while (end > line && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r')) {
			end--;
		}
		if ((size_t)(end - line) == n && memcmp(line, shell, n) == 0) {
			return true;
		}
	}
	return false;
}

/* Whether the command may enter 'dir': 0, or the negative errno that
 * chdir would give (checked first, so that a missing directory is not
 * taken for a missing command). */
int mg__dir_enterable(const char *dir)
{
	struct stat st;

	if (stat(dir, &st) != 0) {
		return -errno;
	}
	if (!S_ISDIR(st.st_mode)) {
		return -ENOTDIR;
	}
	return access(dir, X_OK) == 0 ? 0 : -errno;
}

/*
 * Why a pushed program (its copy open on fd, run through /proc/self/fd) got ENOENT
 * from execve, though it is there: /proc is missing, or, most often, the
 * interpreter it names is (a #! line, a CR at its end included, or the
 * dynamic loader of an ELF program built for another C library). As the
 * shells say it, rather than "command not found".
 */
void mg__image_enoent(char *out, size_t n, int fd, bool script, const char *argv0)
{
	char line[256];
	ssize_t k;
	size_t a, b;

	snprintf(line, sizeof(line), "/proc/self/fd/%d", fd);
	if (access(line, F_OK) != 0) {
		snprintf(out, n, "%s: cannot execute: %s is missing (is /proc mounted?)", argv0, line);
		return;
	}
	if (!script) {
		snprintf(out, n, "%s: cannot execute: required file not found (its ELF interpreter "
			 "is not here)", argv0);
		return;
	}
	k = pread(fd, line, sizeof(line) - 1, 0);
	line[k > 2 ? k : 2] = '\0';
	/* The kernel's reading: blanks after #!, the name up to a blank. */
	for (a = 2; line[a] == ' ' || line[a] == '\t'; a++) {
	}
	for (b = a; line[b] != '\0' && line[b] != ' ' && line[b] != '\t' && line[b] != '\n'; b++) {
	}
	if (b > a && line[b - 1] == '\r') {
		snprintf(out, n, "%s: %.*s^M: bad interpreter: No such file or directory (DOS line "
			 "ends)", argv0, (int)(b - 1 - a), line + a);
		return;
	}
	snprintf(out, n, "%s: %.*s: bad interpreter: No such file or directory", argv0, (int)(b - a),
		 line + a);
}
