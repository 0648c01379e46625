/*
 * mitogen-forward: fakessh -W HOST:PORT at a chain's end. fakessh pushes
 * it there as it pushes mitogen-sftp-server; it connects to HOST PORT and
 * relays standard input to the connection and the connection to standard
 * output, byte for byte, as ssh's stdio forwarding does. End of input
 * half-closes the connection; the connection's end ends the program.
 * Static and standalone: no libmitogen, no talloc.
 *
 *   mitogen-forward HOST PORT
 *
 * A failure to connect is told on stderr, status 255.
 */
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define PROG "mitogen-forward"

/* One direction: bytes read from 'from' waiting to go to 'to'. */
struct flow {
	int from, to;
	bool from_sock, to_sock, eof;
	size_t off, len;
	char buf[65536];
};

static int dial(const char *host, const char *port)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res, *ai;
	int fd = -1, err = 0, r = getaddrinfo(host, port, &hints, &res);

	if (r != 0) {
		fprintf(stderr, PROG ": %s: %s\n", host, gai_strerror(r));
		return -1;
	}
	for (ai = res; ai != NULL && fd < 0; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
			err = errno;
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(res);
	if (fd < 0) {
		fprintf(stderr, PROG ": connect to host %s port %s: %s\n", host, port, strerror(err));
	}
	return fd;
}

/* Read what is there (poll said so); false on end of input or error. */
static bool fill(struct flow *f)
{
	ssize_t n;

	do {
		n = f->from_sock ? recv(f->from, f->buf, sizeof(f->buf), MSG_DONTWAIT)
				 : read(f->from, f->buf, sizeof(f->buf));
	} while (n < 0 && errno == EINTR);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
		return true;
	}
	f->off = 0;
	f->len = n > 0 ? (size_t)n : 0;
	return n > 0;
}

/* Write some (poll said there is room): at most PIPE_BUF to a pipe, so
 * that a blocking descriptor does not block; false on error. */
static bool drain(struct flow *f)
{
	size_t want = f->to_sock || f->len < PIPE_BUF ? f->len : PIPE_BUF;
	ssize_t n;

	do {
		n = f->to_sock ? send(f->to, f->buf + f->off, want, MSG_DONTWAIT | MSG_NOSIGNAL)
			       : write(f->to, f->buf + f->off, want);
	} while (n < 0 && errno == EINTR);
	if (n < 0) {
		return errno == EAGAIN || errno == EWOULDBLOCK;
	}
	f->off += (size_t)n;
	f->len -= (size_t)n;
	return true;
}

/* Both ways until the connection ends (or stdout goes): 0, else 255. */
static int relay(int sock)
{
	static struct flow up, down;
	bool shut = false;

	up = (struct flow){ .from = STDIN_FILENO, .to = sock, .to_sock = true };
	down = (struct flow){ .from = sock, .to = STDOUT_FILENO, .from_sock = true };
	for (;;) {
		struct flow *fl[2] = { &up, &down };
		struct pollfd p[2];
		for (int i = 0; i < 2; i++) {
			bool out = fl[i]->len > 0;
			p[i].fd = out ? fl[i]->to : fl[i]->eof ? -1 : fl[i]->from;
			p[i].events = out ? POLLOUT : POLLIN;
		}
		if (up.eof && up.len == 0 && !shut) {
			shutdown(sock, SHUT_WR);
			shut = true;
		}
		if (down.eof && down.len == 0) {
			return 0;
		}
		if (poll(p, 2, -1) < 0 && errno != EINTR) {
			return 255;
		}
		for (int i = 0; i < 2; i++) {
			if (p[i].fd < 0 || p[i].revents == 0) {
				continue;
			}
			if (fl[i]->len > 0 ? !drain(fl[i]) : !fill(fl[i])) {
				if (fl[i]->len > 0 || fl[i] == &down) {
					/* A write failed, or the connection
					 * went: nothing more can pass. */
					return fl[i]->len > 0 ? 255 : 0;
				}
				fl[i]->eof = true;
			}
		}
	}
}

int main(int argc, char **argv)
{
	int sock;

	if (argc != 3) {
		fprintf(stderr, "usage: " PROG " HOST PORT\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	sock = dial(argv[1], argv[2]);
	return sock < 0 ? 255 : relay(sock);
}
