/*
 * mitogen-connect: the ProxyCommand an ssh hop runs with ProxyUseFdpass
 * (lib/hop/connect/ssh.c). It opens the TCP connection to HOST PORT with
 * TCP_NODELAY set from the first byte, passes the socket to ssh over its
 * stdout and exits. OpenSSH sets TCP_NODELAY only once the session starts,
 * so its key exchange and authentication round trips otherwise wait on
 * Nagle's algorithm and delayed acknowledgements.
 *
 *   mitogen-connect HOST PORT [TIMEOUT_SECS [FAMILY [quickack]]]
 *
 * FAMILY is ssh's AddressFamily (any, inet, inet6). With "quickack", a
 * copy of the socket also goes, with one NUL byte, to whoever reads our
 * stderr, if that is a unix socket: the process that started ssh, which
 * acknowledges the login's packets at once (lib/hop/quickack.h). Failures
 * are reported as ssh reports its own connect failures, and exit 255.
 *
 * ssh runs a ProxyCommand as `$SHELL -c "exec COMMAND"`. Where nothing
 * else of ssh's uses $SHELL, lib/hop/connect/ssh.c sets SHELL to this
 * program, which then takes COMMAND's words itself when they are its own
 * command line as ssh.c quotes it: one exec of /bin/sh fewer before every
 * login. Any other -c text goes to /bin/sh, as it would have.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "connect-words.h"

static void fail(const char *host, const char *port, const char *why)
{
	fprintf(stderr, "ssh: connect to host %s port %s: %s\n", host, port, why);
	exit(255);
}

/* Connect one address within timeout_ms (0: the kernel's own limit). */
static int try_connect(const struct addrinfo *ai, int timeout_ms, int *_err)
{
	int one = 1, fd, flags, err = 0;
	socklen_t len = sizeof(err);
	struct pollfd p;

	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
	if (fd < 0) {
		*_err = errno;
		return -1;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	flags = fcntl(fd, F_GETFL);
	fcntl(fd, F_SETFL, flags | O_NONBLOCK);
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0 && errno != EINPROGRESS) {
		err = errno;
	} else {
		p.fd = fd;
		p.events = POLLOUT;
		int n = poll(&p, 1, timeout_ms > 0 ? timeout_ms : -1);
		if (n == 0) {
			err = ETIMEDOUT;
		} else if (n < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) {
			err = errno;
		}
	}
	if (err != 0) {
		close(fd);
		*_err = err;
		return -1;
	}
	fcntl(fd, F_SETFL, flags);
	return fd;
}

/* Hand fd over 'to', a unix socket (ssh made our stdout for this). */
static int pass_fd(int to, int fd, int flags)
{
	char byte = 0, cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			      .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *c;

	memset(cbuf, 0, sizeof(cbuf));
	c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	while (sendmsg(to, &msg, flags) != 1) {
		if (errno != EINTR) {
			return -1;
		}
	}
	return 0;
}

static int connect_main(int argc, char **argv);

int main(int argc, char **argv)
{
	char *words[7], *text;
	int n;

	if (argc >= 3 && strcmp(argv[1], "-c") == 0) {
		/* Read in a copy: the text goes to /bin/sh whole otherwise. */
		text = argc == 3 ? strdup(argv[2]) : NULL;
		if (text != NULL && (n = mg_connect_words(text, argv[0], words, 6)) > 0) {
			words[n] = NULL;
			n = connect_main(n, words);
			free(text);
			return n;
		}
		free(text);
		argv[0] = "sh";
		execv("/bin/sh", argv);
		fprintf(stderr, "mitogen-connect: cannot run /bin/sh: %s\n", strerror(errno));
		return 255;
	}
	return connect_main(argc, argv);
}

static int connect_main(int argc, char **argv)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_ADDRCONFIG };
	struct addrinfo *res = NULL;
	const char *host, *port;
	int timeout_ms = 0, fd = -1, err = ECONNREFUSED, r;

	if (argc < 3 || argc > 6 || (argc == 6 && strcmp(argv[5], "quickack") != 0)) {
		fprintf(stderr, "usage: mitogen-connect HOST PORT [TIMEOUT_SECS [any|inet|inet6 [quickack]]]\n"
			"(run by ssh as a ProxyCommand with ProxyUseFdpass; not meant to be run by hand)\n");
		return 2;
	}
	host = argv[1];
	port = argv[2];
	if (argc >= 4) {
		timeout_ms = atoi(argv[3]) > 0 && atoi(argv[3]) < 86400 ? atoi(argv[3]) * 1000 : 0;
	}
	if (argc >= 5 && strcmp(argv[4], "inet") == 0) {
		hints.ai_family = AF_INET;
	} else if (argc >= 5 && strcmp(argv[4], "inet6") == 0) {
		hints.ai_family = AF_INET6;
	}
	if ((r = getaddrinfo(host, port, &hints, &res)) != 0) {
		/* ssh's own words for it, which the hop's error patterns know. */
		fprintf(stderr, "ssh: Could not resolve hostname %s: %s\n", host, gai_strerror(r));
		return 255;
	}
	for (const struct addrinfo *ai = res; ai != NULL && fd < 0; ai = ai->ai_next) {
		fd = try_connect(ai, timeout_ms, &err);
	}
	freeaddrinfo(res);
	if (fd < 0) {
		fail(host, port, strerror(err));
	}
	if (pass_fd(1, fd, 0) != 0) {
		fail(host, port, "cannot pass the connection to ssh");
	}
	/* Best effort: a pipe, a terminal or a full buffer only costs speed. */
	if (argc == 6) {
		(void)pass_fd(2, fd, MSG_DONTWAIT | MSG_NOSIGNAL);
	}
	return 0;
}
