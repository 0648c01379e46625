/*
 * mitogen-sftp-server [-b]: serve SFTP on stdin and stdout. Without -b,
 * the first sftp-server found where distributions put it is run instead,
 * so a host that has its own keeps using it; -b always serves from here.
 * Exits 0 when the client closes the session, 1 on a broken packet
 * stream (a message on stderr), 2 on a bad command line.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "sftp.h"

#define PROG "mitogen-sftp-server"

static const char *const system_servers[] = {
	"/usr/lib/openssh/sftp-server", "/usr/libexec/openssh/sftp-server",
	"/usr/lib/ssh/sftp-server", "/usr/libexec/sftp-server",
};

/* Our stdin or stdout may be a non-blocking file shared with whoever
 * started us: EAGAIN means wait, not the end. False on a poll error. */
static bool wait_ready(int fd, short events, int err)
{
	struct pollfd pfd = { .fd = fd, .events = events };

	if (err != EAGAIN && err != EWOULDBLOCK) {
		return err == EINTR;
	}
	while (poll(&pfd, 1, -1) < 0) {
		if (errno != EINTR) {
			return false;
		}
	}
	return true;
}

/* Read exactly n bytes: n, 0 at end of input, or what came before the
 * end; -1 on a read error (errno set). */
static ssize_t read_full(int fd, uint8_t *p, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = read(fd, p + got, n - got);
		if (r < 0 && wait_ready(fd, POLLIN, errno)) {
			continue;
		}
		if (r < 0) {
			return -1;
		}
		if (r == 0) {
			break;
		}
		got += (size_t)r;
	}
	return (ssize_t)got;
}

static bool write_full(int fd, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && wait_ready(fd, POLLOUT, errno)) {
			continue;
		}
		if (w <= 0) {
			return false;
		}
		p += w;
		n -= (size_t)w;
	}
	return true;
}

static int fail(const char *msg, unsigned long n)
{
	fprintf(stderr, PROG ": ");
	fprintf(stderr, msg, n);
	fputc('\n', stderr);
	return 1;
}

static int fail_errno(const char *what)
{
	fprintf(stderr, PROG ": %s: %s\n", what, strerror(errno));
	return 1;
}

static int serve(struct sftp_server *s, uint8_t *pkt)
{
	for (;;) {
		uint8_t hdr[4];
		ssize_t got = read_full(STDIN_FILENO, hdr, 4);
		if (got == 0) {
			return 0;
		}
		if (got < 0) {
			return fail_errno("cannot read a request");
		}
		if (got < 4) {
			return fail("truncated packet length (%lu of 4 bytes)", (unsigned long)got);
		}
		uint32_t len = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 | (uint32_t)hdr[2] << 8 | hdr[3];
		if (len == 0 || len > SFTP_MAX_PACKET) {
			return fail("bad packet length %lu", len);
		}
		if ((got = read_full(STDIN_FILENO, pkt, len)) < 0) {
			return fail_errno("cannot read a request");
		}
		if ((size_t)got < len) {
			return fail("truncated packet (the input ended after %lu bytes)", (unsigned long)got);
		}
		s->out.len = 0;
		if (sftp_process(s, pkt, len) != 0) {
			return 1;
		}
		if (!write_full(STDOUT_FILENO, s->out.buf, s->out.len)) {
			fprintf(stderr, PROG ": cannot write a reply: %s\n", strerror(errno));
			return 1;
		}
	}
}

int main(int argc, char **argv)
{
	static struct sftp_server s;
	const char *home = getenv("HOME");
	int ret;

	if (argc > 2 || (argc == 2 && strcmp(argv[1], "-b") != 0)) {
		fprintf(stderr, "usage: " PROG " [-b]\n");
		return 2;
	}
	if (argc == 1) {
		for (size_t i = 0; i < sizeof(system_servers) / sizeof(system_servers[0]); i++) {
			if (access(system_servers[i], X_OK) == 0) {
				execv(system_servers[i], (char *[]){ "sftp-server", NULL });
			}
		}
	}
	signal(SIGPIPE, SIG_IGN);
	/* Where sshd starts a session; relative paths are from there. */
	if (home != NULL && home[0] != '\0' && chdir(home) != 0) {
		fprintf(stderr, PROG ": cannot enter %s: %s\n", home, strerror(errno));
	}
	s.out.cap = SFTP_MAX_PACKET + 4;
	s.out.buf = malloc(s.out.cap);
	uint8_t *pkt = malloc(SFTP_MAX_PACKET);
	if (s.out.buf == NULL || pkt == NULL) {
		fprintf(stderr, PROG ": out of memory\n");
		return 1;
	}
	s.out.ok = true;
	ret = serve(&s, pkt);
	sftp_close_all(&s);
	free(pkt);
	free(s.out.buf);
	return ret;
}
