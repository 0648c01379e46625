/*
 * Pipe tails: bulk payloads moved with splice(2) from pipe to pipe or
 * socket, so that a byte of a command's output is not copied in and out
 * of every process on its way (docs/PROTOCOL.md section 7). Nothing here
 * changes the wire: a tail is the end of a frame's payload, still in a
 * pipe of ours rather than in memory.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "stream.h"

size_t mg__msg_mem_len(const struct mg_msg *m)
{
	return m->tail != NULL ? m->len - m->tail->len : m->len;
}

ssize_t mg__tail_read(struct mg_tail *t, void *p, size_t n)
{
	size_t done = 0;

	if (n > t->len) {
		n = t->len;
	}
	while (done < n) {
		ssize_t k = read(t->fd, (uint8_t *)p + done, n - done);
		if (k < 0 && errno == EINTR) {
			continue;
		}
		if (k <= 0) {
			/* The bytes were in our own pipe: never short. */
			return k < 0 ? -errno : -EIO;
		}
		done += (size_t)k;
		t->len -= (size_t)k;
	}
	return (ssize_t)done;
}

int mg__msg_flatten(TALLOC_CTX *mem_ctx, struct mg_msg *m)
{
	size_t mem = mg__msg_mem_len(m);
	uint8_t *p;
	ssize_t n;

	if (m->tail == NULL) {
		return 0;
	}
	p = talloc_size(mem_ctx, m->len > 0 ? m->len : 1);
	if (p == NULL) {
		return -ENOMEM;
	}
	if (mem > 0) {
		/* A frame all in its tail has no data at all (NULL). */
		memcpy(p, m->data, mem);
	}
	n = mg__tail_read(m->tail, p + mem, m->len - mem);
	if (n < 0) {
		talloc_free(p);
		return (int)n;
	}
	m->data = p;
	m->borrowed = false;
	m->tail = NULL;
	return 0;
}

ssize_t mg__tail_splice(struct mg_tail *t, int fd)
{
	ssize_t n;

	if (t->len == 0) {
		return 0;
	}
	do {
		n = splice(t->fd, NULL, fd, NULL, t->len, SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
	} while (n < 0 && errno == EINTR);
	if (n < 0) {
		return -errno;
	}
	t->len -= (size_t)n;
	return n;
}

void mg__tail_discard(struct mg_tail *t)
{
	uint8_t junk[4096];

	while (t->len > 0 && mg__tail_read(t, junk, t->len < sizeof(junk) ? t->len : sizeof(junk)) > 0) {
	}
	t->len = 0;
}

bool mg__tail_fd(int fd, bool files)
{
	struct stat st;

	return fstat(fd, &st) == 0 && (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode) ||
				       (files && S_ISREG(st.st_mode)));
}

void mg__tail_pipe_close(int fds[2])
{
	for (int i = 0; i < 2; i++) {
		if (fds[i] >= 0) {
			close(fds[i]);
			fds[i] = -1;
		}
	}
}

int mg__tail_pipe(int fds[2], size_t size)
{
	if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) {
		return -errno;
	}
	/* Best effort: past pipe-max-size (1 MiB unless root) try less; a
	 * user over its pipe quota keeps the default. */
	while (size >= (128u << 10) && fcntl(fds[1], F_SETPIPE_SZ, (int)size) < 0) {
		size /= 2;
	}
	return 0;
}
