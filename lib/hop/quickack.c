/* Quick acknowledgements during an ssh login: see quickack.h. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>
#include "quickack.h"
#include "mitogen/log.h"

struct mg_quickack {
	int fd;                 /* the copy of ssh's socket */
	int ep;                 /* epoll on it, edge-triggered: one wake per arrival */
	struct mg_io *io;       /* the loop's watch on ep */
	unsigned count;
};

static int quickack_destructor(struct mg_quickack *q)
{
	TALLOC_FREE(q->io);
	if (q->ep >= 0) {
		close(q->ep);
	}
	close(q->fd);
	return 0;
}

static void quickack(int fd)
{
	int one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one));
}

/*
 * New bytes came (ssh reads them, never us): ACK them now. Set before
 * ssh's read, the kernel sends the ACK as ssh reads; set after, at once.
 */
static void on_arrival(struct mg_io *io, unsigned events, void *data)
{
	struct mg_quickack *q = data;
	struct epoll_event ev[4];
	bool gone = false;
	int n;

	while ((n = epoll_wait(q->ep, ev, 4, 0)) > 0) {
		for (int i = 0; i < n; i++) {
			gone |= (ev[i].events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0;
		}
		q->count++;
	}
	if (gone) {
		mg_debug("quick ACKs: the connection was shut down after %u arrivals", q->count);
		mg_io_set(io, 0);
		return;
	}
	quickack(q->fd);
}

static bool is_tcp(int fd)
{
	int v = 0;
	socklen_t len = sizeof(v);

	if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &v, &len) != 0 || (v != AF_INET && v != AF_INET6)) {
		return false;
	}
	len = sizeof(v);
	return getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &v, &len) == 0 && v == IPPROTO_TCP;
}

struct mg_quickack *mg__quickack_new(TALLOC_CTX *mem_ctx, struct mg_loop *loop, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLET | EPOLLRDHUP };
	struct mg_quickack *q;

	if (!is_tcp(fd) || (q = talloc_zero(mem_ctx, struct mg_quickack)) == NULL) {
		close(fd);
		return NULL;
	}
	q->fd = fd;
	q->ep = epoll_create1(EPOLL_CLOEXEC);
	talloc_set_destructor(q, quickack_destructor);
	if (q->ep < 0 || epoll_ctl(q->ep, EPOLL_CTL_ADD, fd, &ev) != 0 ||
	    (q->io = mg_io_new(q, loop, q->ep, MG_IO_READ, on_arrival, q)) == NULL) {
		talloc_free(q);
		return NULL;
	}
	mg_io_set_keepalive(q->io, false);
	quickack(fd);
	return q;
}

unsigned mg__quickack_count(const struct mg_quickack *q)
{
	return q->count;
}
