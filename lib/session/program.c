/*
 * Programs for mitogen-exec (mg_program_load, docs/PROTOCOL.md section
 * 5.5): a local file put in the session's store, which the hops FETCH
 * from. On an attached session the master loads it ("session.program",
 * section 5.7), so that the master's hops can fetch it from the master.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "buf.h"
#include "images.h"
#include "mitogen/error.h"
#include "mitogen/exec.h"
#include "mitogen/message.h"
#include "mitogen/service.h"
#include "session.h"

#define PROGRAM_SERVICE "session.program"
/* Room for the answer: codes, sizes and a message. */
#define REPLY_MAX (64u * 1024)
#define COPY_CHUNK (256u * 1024)

/* Freed: out of the store, its file closed (a persistence holder serves
 * programs for each client that comes, for days). */
static int program_destructor(struct mg_program *p)
{
	mg__images_drop(&p->img);
	return 0;
}

/* Whether st and now describe the same unchanged file: any write moves
 * its ctime (fine-grained once it has been looked at, since Linux 6.13). */
static bool same_file(const struct stat *st, const struct stat *now)
{
	return st->st_dev == now->st_dev && st->st_ino == now->st_ino && st->st_size == now->st_size &&
	       st->st_mtim.tv_sec == now->st_mtim.tv_sec && st->st_mtim.tv_nsec == now->st_mtim.tv_nsec &&
	       st->st_ctim.tv_sec == now->st_ctim.tv_sec && st->st_ctim.tv_nsec == now->st_ctim.tv_nsec;
}

/* Whether another descriptor holds the file open for writing: the
 * kernel then refuses a read lease (EAGAIN). A writer stopped halfway
 * leaves a torn file that holds still, which no second read can tell
 * from a whole one; execve() refuses such a file too (ETXTBSY). The
 * lease lasts two system calls; a writer opening in between makes the
 * kernel signal us, so the signal is SIGURG, ignored unless the caller
 * handles it. Not our file, or a file system without leases: no answer
 * (false), and the reads alone decide. */
static bool open_for_writing(int fd)
{
	if (fcntl(fd, F_SETSIG, SIGURG) != 0) {
		return false;
	}
	if (fcntl(fd, F_SETLEASE, F_RDLCK) != 0) {
		return errno == EAGAIN;
	}
	(void)fcntl(fd, F_SETLEASE, F_UNLCK);
	return false;
}

/* Copy [off, end) of fd to the same place in copy: 0 or a negative
 * errno, -ESTALE at an end of file before 'end'. */
static int copy_range(int fd, int copy, off_t off, off_t end, uint8_t *buf)
{
	while (off < end) {
		size_t want = (size_t)(end - off) < COPY_CHUNK ? (size_t)(end - off) : COPY_CHUNK;
		ssize_t n = pread(fd, buf, want, off);
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n <= 0) {
			return n < 0 ? -errno : -ESTALE;
		}
		for (ssize_t k = 0; k < n;) {
			ssize_t w = pwrite(copy, buf + k, (size_t)(n - k), off + k);
			if (w < 0 && errno != EINTR) {
				return -errno;
			}
			k += w > 0 ? w : 0;
		}
		off += n;
	}
	return 0;
}

/* Whether [off, end) of fd still reads as the copy has it: 0, -ESTALE
 * when not, or a negative errno. buf holds two chunks. */
static int same_range(int fd, int copy, off_t off, off_t end, uint8_t *buf)
{
	uint8_t *had = buf + COPY_CHUNK;

	while (off < end) {
		size_t want = (size_t)(end - off) < COPY_CHUNK ? (size_t)(end - off) : COPY_CHUNK;
		ssize_t n = pread(fd, buf, want, off), m;

		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n <= 0) {
			return n < 0 ? -errno : -ESTALE;
		}
		while ((m = pread(copy, had, (size_t)n, off)) < 0 && errno == EINTR) {
		}
		if (m != n || memcmp(buf, had, (size_t)n) != 0) {
			return m < 0 ? -errno : -ESTALE;
		}
		off += n;
	}
	return 0;
}

/* fn(fd, copy, start, end, buf) over each range of fd that holds data
 * (all of it on a file system without SEEK_DATA), up to 'size'. */
static int each_data_range(int fd, int copy, off_t size, uint8_t *buf,
			   int (*fn)(int fd, int copy, off_t off, off_t end, uint8_t *buf))
{
	int ret = 0;

	for (off_t off = 0; ret == 0 && off < size;) {
		off_t data = lseek(fd, off, SEEK_DATA), hole;
		if (data < 0 && errno == ENXIO) {
			break; /* a hole to the end */
		}
		data = data < 0 ? off : data;
		hole = lseek(fd, data, SEEK_HOLE);
		hole = hole < data || hole > size ? size : hole;
		ret = fn(fd, copy, data, hole, buf);
		off = hole;
	}
	return ret;
}

/* A copy of the file 'fd' (st its stat), taken now: the hops fetch from
 * it, one after another, so that a program rewritten in place meanwhile
 * (a build still writing it) cannot reach them torn, part old and part
 * new. Its holes stay holes: a sparse file costs no memory here. The
 * stat alone cannot tell a write that began before it (the times move as
 * a write starts, its bytes follow): the data is read a second time and
 * must be the same, and no one may have the file open for writing.
 * Returns the copy's descriptor, -ESTALE when the file changed while it
 * was read, -ETXTBSY when it is open for writing, or a negative errno. */
static int snapshot(int fd, const struct stat *st)
{
	uint8_t *buf = talloc_size(NULL, 2 * COPY_CHUNK);
	int copy, ret = 0;
	struct stat now;

	/* Only read here, never run: no MFD_EXEC, which vm.memfd_noexec=2
	 * would refuse. */
	copy = mg__anon_file("mitogen-program", false);
	if (buf == NULL || copy < 0) {
		ret = copy < 0 ? copy : -ENOMEM;
		goto out;
	}
	if (ftruncate(copy, st->st_size) != 0) {
		ret = -errno;
	}
	if (ret == 0) {
		ret = each_data_range(fd, copy, st->st_size, buf, copy_range);
	}
	if (ret == 0) {
		ret = each_data_range(fd, copy, st->st_size, buf, same_range);
	}
	if (ret == 0 && open_for_writing(fd)) {
		ret = -ETXTBSY;
	}
	if (ret == 0 && (fstat(fd, &now) != 0 || !same_file(st, &now))) {
		ret = -ESTALE;
	}
out:
	talloc_free(buf);
	if (ret != 0 && copy >= 0) {
		close(copy);
	}
	return ret != 0 ? ret : copy;
}

struct mg_program *mg_program_load(TALLOC_CTX *mem_ctx, struct mg_session *s, const char *path,
				   char **_errmsg)
{
	struct mg_program *p;
	unsigned char hdr[20];
	struct stat st;
	int fd, copy;

	if (s->remote != NULL) {
		return mg__session_remote_program(mem_ctx, s, path, _errmsg);
	}
	/* Non-blocking, so that a FIFO (or a device) cannot hold us before
	 * fstat shows it is no regular file; a regular file ignores it. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0 || fstat(fd, &st) != 0) {
		*_errmsg = talloc_asprintf(mem_ctx, "%s: %s", path, mg_strerror(-errno));
		if (fd >= 0) {
			close(fd);
		}
		return NULL;
	}
	if (!S_ISREG(st.st_mode) || st.st_size == 0) {
		*_errmsg = talloc_asprintf(mem_ctx, "%s: not a program (empty or not a regular file)", path);
		close(fd);
		return NULL;
	}
	p = talloc_zero(mem_ctx, struct mg_program);
	if (p == NULL) {
		close(fd);
		return NULL;
	}
	p->size = (uint64_t)st.st_size;
	/* An ELF program names its machine: e_machine, in its own byte order. */
	if (pread(fd, hdr, sizeof(hdr), 0) == (ssize_t)sizeof(hdr) &&
	    memcmp(hdr, "\177ELF", 4) == 0) {
		p->machine = hdr[5] == 2 ? (uint32_t)((hdr[18] << 8) | hdr[19])
					 : (uint32_t)((hdr[19] << 8) | hdr[18]);
	} else if (pread(fd, hdr, 2, 0) != 2 || hdr[0] != '#' || hdr[1] != '!') {
		*_errmsg = talloc_asprintf(mem_ctx, "%s: neither an ELF program nor a #! script", path);
		close(fd);
		talloc_free(p);
		return NULL;
	}
	copy = snapshot(fd, &st);
	close(fd);
	if (copy < 0) {
		const char *why = copy == -ESTALE ? "changed while it was read"
				  : copy == -ETXTBSY ? "open for writing elsewhere" : NULL;

		*_errmsg = why != NULL ? talloc_asprintf(mem_ctx, "%s: %s (try again once it is written)",
							 path, why)
				       : talloc_asprintf(mem_ctx, "%s: %s", path, mg_strerror(copy));
		talloc_free(p);
		return NULL;
	}
	p->id = mg__session_next_program(s);
	if (mg__images_put(mg__session_images(s), p->id, copy, p->size, &p->img) != 0) {
		talloc_free(p);
		return NULL;
	}
	talloc_set_destructor(p, program_destructor);
	return p;
}

/* A program loaded for a client: unloaded when the client goes. */
struct served_program {
	struct mg_program *p;
	struct mg_watch *watch;
};

static void on_client_gone(struct mg_router *r, uint32_t id, const char *reason, void *data)
{
	talloc_free(data);
}

/* str path (absolute): load it into our store, which our hops FETCH
 * from; answer u32 error, u32 id, u64 size, u32 machine, str message. */
static int serve_program(struct mg_message *req, const void *payload, size_t len, void *data)
{
	struct mg_session *s = data;
	struct served_program *sp = talloc_zero(s, struct served_program);
	struct mg_buf *b = mg__buf_new(sp, REPLY_MAX);
	char *path = NULL, *err = NULL;
	struct mg_buf in;
	int ret = 0;

	if (sp == NULL || b == NULL) {
		talloc_free(sp);
		return -ENOMEM;
	}
	mg__buf_view(&in, payload, len);
	if (mg__buf_get_str(&in, sp, &path) != 0 || path == NULL || path[0] != '/') {
		talloc_free(sp);
		mg_message_reply_dead(req, "malformed request");
		return 0;
	}
	sp->p = mg_program_load(sp, s, path, &err);
	sp->watch = sp->p != NULL ? mg_router_on_disconnect(sp, mg__session_router(s), mg_message_src(req),
							    on_client_gone, sp) : NULL;
	if (sp->p == NULL || sp->watch == NULL) {
		ret = sp->p == NULL ? -EINVAL : -ENOMEM;
	}
	if (mg__buf_put_u32(b, (uint32_t)ret) != 0 || mg__buf_put_u32(b, ret == 0 ? sp->p->id : 0) != 0 ||
	    mg__buf_put_u64(b, ret == 0 ? sp->p->size : 0) != 0 ||
	    mg__buf_put_u32(b, ret == 0 ? sp->p->machine : 0) != 0 ||
	    mg__buf_put_str(b, err != NULL ? err : ret != 0 ? mg_strerror(ret) : "") != 0) {
		mg_message_reply_dead(req, "out of memory");
	} else {
		mg_message_reply(req, b->data, b->len);
	}
	talloc_free(b);
	if (ret != 0) {
		talloc_free(sp);
	}
	return 0;
}

int mg__session_serve_program(struct mg_session *s)
{
	/* Parent policy: only the master itself and privileged clients. */
	return mg_service_register(mg__session_router(s), PROGRAM_SERVICE, 0, serve_program, s);
}

struct mg_program *mg__session_remote_program(TALLOC_CTX *mem_ctx, struct mg_session *s,
					      const char *path, char **_errmsg)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	struct mg_buf *b = tmp != NULL ? mg__buf_new(tmp, REPLY_MAX) : NULL;
	char *abs = realpath(path, NULL), *text = NULL;
	struct mg_program *p = NULL;
	struct mg_message *m = NULL;
	struct mg_buf in;
	uint32_t code = 0;
	const void *data;
	size_t len;
	int ret;

	if (abs == NULL) {
		*_errmsg = talloc_asprintf(mem_ctx, "%s: %s", path, mg_strerror(-errno));
		goto out;
	}
	/* The master opens it: our path, made absolute, is its path too. */
	ret = b != NULL ? mg__buf_put_str(b, abs) : -ENOMEM;
	if (ret == 0) {
		ret = mg_router_call(tmp, mg__session_router(s), 0, PROGRAM_SERVICE, b->data, b->len, -1, &m);
	}
	if (ret != 0) {
		*_errmsg = talloc_asprintf(mem_ctx, "%s: the session's master: %s", path,
					   m != NULL ? mg_message_dead_reason(m) : mg_strerror(ret));
		goto out;
	}
	p = talloc_zero(mem_ctx, struct mg_program);
	data = mg_message_data(m, &len);
	mg__buf_view(&in, data, len);
	if (p == NULL || mg__buf_get_u32(&in, &code) != 0 || mg__buf_get_u32(&in, &p->id) != 0 ||
	    mg__buf_get_u64(&in, &p->size) != 0 || mg__buf_get_u32(&in, &p->machine) != 0 ||
	    mg__buf_get_str(&in, tmp, &text) != 0 || code != 0) {
		*_errmsg = talloc_strdup(mem_ctx, code != 0 && text != NULL ? text :
					 "the session's master: malformed answer");
		TALLOC_FREE(p);
	}
out:
	free(abs);
	talloc_free(tmp);
	return p;
}
