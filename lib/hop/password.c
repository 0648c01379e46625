/* Hop passwords: see password.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>
#include "conn.h"
#include "mitogen/error.h"
#include "password.h"

#define PASSWORD_MAX 1024

/* Read up to a newline or EOF; the buffer is wiped by the caller. */
static ssize_t read_line(int fd, char *buf, size_t cap)
{
	size_t n = 0;

	while (n + 1 < cap) {
		ssize_t r = read(fd, buf + n, 1);
		if (r < 0 && errno == EINTR) {
			continue;
		}
		if (r <= 0 || buf[n] == '\n') {
			break;
		}
		n++;
	}
	if (n > 0 && buf[n - 1] == '\r') {
		n--;
	}
	buf[n] = '\0';
	return (ssize_t)n;
}

int mg__password_from_options(TALLOC_CTX *mem_ctx, const struct mg_hop *hop, char **_pw,
			      char **_errmsg)
{
	const char *env = mg_hop_opt(hop, "password_env");
	const char *file = mg_hop_opt(hop, "password_file");
	char buf[PASSWORD_MAX];
	int fd, err;

	*_pw = NULL;
	if (env != NULL) {
		const char *v = getenv(env);
		if (v == NULL) {
			*_errmsg = talloc_asprintf(mem_ctx, "password_env: %s is not set", env);
			return -ENOENT;
		}
		*_pw = mg__secret_dup(mem_ctx, v);
		return *_pw == NULL ? -ENOMEM : 0;
	}
	if (file == NULL) {
		return 0;
	}
	fd = open(file, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		err = -errno;
		*_errmsg = talloc_asprintf(mem_ctx, "password_file: %s: %s", file, mg_strerror(err));
		return err;
	}
	read_line(fd, buf, sizeof(buf));
	close(fd);
	*_pw = mg__secret_dup(mem_ctx, buf);
	explicit_bzero(buf, sizeof(buf));
	return *_pw == NULL ? -ENOMEM : 0;
}

char *mg__password_ask_tty(TALLOC_CTX *mem_ctx, const char *label, char **_errmsg)
{
	struct termios old, quiet;
	char buf[PASSWORD_MAX];
	char *pw = NULL;
	bool restore = false;
	int fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);

	if (fd < 0) {
		*_errmsg = talloc_strdup(mem_ctx, "there is no terminal to ask on: "
					 "use password_env= or password_file=");
		return NULL;
	}
	if (tcgetattr(fd, &old) == 0) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHOE | ECHOK | ECHONL);
		quiet.c_lflag |= ICANON;
		restore = tcsetattr(fd, TCSANOW, &quiet) == 0;
	}
	if (write(fd, label, strlen(label)) < 0) {
		/* The read below fails too and says so. */
	}
	if (read_line(fd, buf, sizeof(buf)) >= 0) {
		pw = mg__secret_dup(mem_ctx, buf);
	}
	explicit_bzero(buf, sizeof(buf));
	if (restore) {
		tcsetattr(fd, TCSANOW, &old);
	}
	if (write(fd, "\n", 1) < 0) {
		/* Cosmetic only. */
	}
	close(fd);
	if (pw == NULL) {
		*_errmsg = talloc_strdup(mem_ctx, "no password was given");
	}
	return pw;
}
