/*
 * Descriptors riding on frames (MG_F_FDS, docs/PROTOCOL.md section 3.1):
 * a group of up to MG_FDS_MAX fds goes with a frame's first byte over an
 * AF_UNIX link (SCM_RIGHTS), from a parent to its child only. A group is
 * a talloc object that closes its fds when freed.
 */
#ifndef MG_FDS_H
#define MG_FDS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <talloc.h>

#define MG_FDS_MAX 3u
/* Groups received and not yet claimed by their frame, at most. */
#define MG_FDQ_MAX 2u

struct mg_fds {
	unsigned n;
	int fd[MG_FDS_MAX];
};

/* An empty group. */
struct mg_fds *mg__fds_new(TALLOC_CTX *mem_ctx);
/* Add a copy of fd (close-on-exec, its flags untouched). 0 or -errno. */
int mg__fds_add_dup(struct mg_fds *f, int fd);
/* A group of copies of f's fds, or NULL. */
struct mg_fds *mg__fds_dup(TALLOC_CTX *mem_ctx, const struct mg_fds *f);

/* sendmsg(2) of iov with f's fds attached to the first byte: bytes
 * written, or -errno (-EAGAIN). */
ssize_t mg__fds_sendmsg(int sock, const struct iovec *iov, int niov, const struct mg_fds *f);

/* Groups received on a link, in order, waiting for their frames. */
struct mg_fdq {
	struct mg_fds *q[MG_FDQ_MAX];
	unsigned n;
};

/* recvmsg(2) into p: bytes read, 0 at end, -errno, or MG_ERR_PROTOCOL
 * when descriptors came that cannot be taken (cut short, too many in a
 * group, too many groups waiting): those are closed at once. A group
 * received is queued on q (under mem_ctx). */
ssize_t mg__fdq_recv(TALLOC_CTX *mem_ctx, struct mg_fdq *q, int fd, void *p, size_t n);
/* The oldest group, now the caller's; NULL when none waits. */
struct mg_fds *mg__fdq_pop(struct mg_fdq *q);
/* Close every group waiting. */
void mg__fdq_clear(struct mg_fdq *q);

/* Whether fd is an AF_UNIX stream socket. */
bool mg__fd_is_unix(int fd);
/* The pid that made the socket at fd's other end (SO_PEERCRED), or 0. */
unsigned mg__fd_peer_pid(int fd);

#endif
