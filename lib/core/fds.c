/* Descriptors on frames: see fds.h. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "fds.h"
#include "mitogen/error.h"

static int fds_destructor(struct mg_fds *f)
{
	for (unsigned i = 0; i < f->n; i++) {
		if (f->fd[i] >= 0) {
			close(f->fd[i]);
		}
	}
	f->n = 0;
	return 0;
}

struct mg_fds *mg__fds_new(TALLOC_CTX *mem_ctx)
{
	struct mg_fds *f = talloc_zero(mem_ctx, struct mg_fds);

	if (f != NULL) {
		talloc_set_destructor(f, fds_destructor);
	}
	return f;
}

int mg__fds_add_dup(struct mg_fds *f, int fd)
{
	int nfd;

	if (f->n >= MG_FDS_MAX) {
		return -EMFILE;
	}
	/* A new descriptor of the same open file: O_NONBLOCK and the offset
	 * are shared, and stay as the owner set them. */
	nfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (nfd < 0) {
		return -errno;
	}
	f->fd[f->n++] = nfd;
	return 0;
}

struct mg_fds *mg__fds_dup(TALLOC_CTX *mem_ctx, const struct mg_fds *f)
{
	struct mg_fds *c = mg__fds_new(mem_ctx);

	for (unsigned i = 0; c != NULL && i < f->n; i++) {
		if (mg__fds_add_dup(c, f->fd[i]) != 0) {
			TALLOC_FREE(c);
		}
	}
	return c;
}

ssize_t mg__fds_sendmsg(int sock, const struct iovec *iov, int niov, const struct mg_fds *f)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int) * MG_FDS_MAX)];
	} u;
	struct msghdr mh = { .msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)niov };
	struct cmsghdr *c;
	ssize_t n;

	memset(&u, 0, sizeof(u));
	mh.msg_control = u.buf;
	mh.msg_controllen = CMSG_SPACE(sizeof(int) * f->n);
	c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int) * f->n);
	memcpy(CMSG_DATA(c), f->fd, sizeof(int) * f->n);
	do {
		n = sendmsg(sock, &mh, MSG_NOSIGNAL);
	} while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : n;
}

/* Close every fd an SCM_RIGHTS message brought. */
static void close_rights(struct msghdr *mh)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c != NULL; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
			size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			for (size_t i = 0; i < k; i++) {
				int fd;
				memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
				close(fd);
			}
		}
	}
}

/* The one group mh brought, queued: 0, or MG_ERR_PROTOCOL (all closed). */
static int take_rights(TALLOC_CTX *mem_ctx, struct mg_fdq *q, struct msghdr *mh)
{
	struct cmsghdr *c = CMSG_FIRSTHDR(mh), *more;
	struct mg_fds *f;
	size_t k;

	if (c == NULL) {
		return 0;
	}
	more = CMSG_NXTHDR(mh, c);
	k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
	if ((mh->msg_flags & MSG_CTRUNC) != 0 || more != NULL || c->cmsg_level != SOL_SOCKET ||
	    c->cmsg_type != SCM_RIGHTS || k == 0 || k > MG_FDS_MAX || q->n >= MG_FDQ_MAX ||
	    (f = mg__fds_new(mem_ctx)) == NULL) {
		close_rights(mh);
		return MG_ERR_PROTOCOL;
	}
	memcpy(f->fd, CMSG_DATA(c), k * sizeof(int));
	f->n = (unsigned)k;
	q->q[q->n++] = f;
	return 0;
}

ssize_t mg__fdq_recv(TALLOC_CTX *mem_ctx, struct mg_fdq *q, int fd, void *p, size_t n)
{
	union {
		struct cmsghdr h;
		/* Room for more than a group: a bigger one is refused, not
		 * cut short unseen. */
		char buf[CMSG_SPACE(sizeof(int) * (MG_FDS_MAX + 5))];
	} u;
	struct iovec iov = { .iov_base = p, .iov_len = n };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
			     .msg_controllen = sizeof(u.buf) };
	ssize_t r;

	do {
		r = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	} while (r < 0 && errno == EINTR);
	if (r < 0) {
		return -errno;
	}
	if (mh.msg_controllen > 0 || (mh.msg_flags & MSG_CTRUNC) != 0) {
		int ret = take_rights(mem_ctx, q, &mh);
		if (ret != 0) {
			return ret;
		}
	}
	return r;
}

struct mg_fds *mg__fdq_pop(struct mg_fdq *q)
{
	struct mg_fds *f;

	if (q->n == 0) {
		return NULL;
	}
	f = q->q[0];
	memmove(q->q, q->q + 1, (q->n - 1) * sizeof(q->q[0]));
	q->q[--q->n] = NULL;
	return f;
}

void mg__fdq_clear(struct mg_fdq *q)
{
	while (q->n > 0) {
		talloc_free(mg__fdq_pop(q));
	}
}

bool mg__fd_is_unix(int fd)
{
	int v = 0;
	socklen_t len = sizeof(v);

	if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &v, &len) != 0 || v != AF_UNIX) {
		return false;
	}
	len = sizeof(v);
	return getsockopt(fd, SOL_SOCKET, SO_TYPE, &v, &len) == 0 && v == SOCK_STREAM;
}

unsigned mg__fd_peer_pid(int fd)
{
	struct ucred cr = { 0 };
	socklen_t len = sizeof(cr);

	if (!mg__fd_is_unix(fd) || getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) != 0 ||
	    cr.pid <= 0) {
		return 0;
	}
	return (unsigned)cr.pid;
}
