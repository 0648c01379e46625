/*
 * The sending end of a file stream (svc-file.h): walks the sources and
 * emits records and file bytes in chunks, sending each chunk to every
 * receiver. A chunk is made only when every live receiver has started
 * and has credit, and is at most the smallest credit: the sources are
 * read once whatever the number of receivers, the slowest sets the pace,
 * and memory stays at one chunk plus what the windows allow.
 *
 * With MG__FILE_COMPRESS the stream goes in frames (file-z.c), made
 * from what fill() gives, and credit counts the frames' bytes. Coding
 * is slow, so a frame is made a slice per loop turn (ZSLICE bytes of
 * input): the loop goes on serving every other channel.
 *
 * A relay (mg__pack_new_relay) sends on a stream it receives instead of
 * walking files: the bytes wait in a queue of at most two windows, and
 * the caller holds its own receiver's credit while the queue is full.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "mitogen/error.h"
#include "images.h"
#include "protocol.h"
#include "svc-file.h"

#define ZSLICE 16384u
/* The most a file of unknown size may hold (see spool). */
#define SPOOL_MAX (64u << 20)

struct pdest {
	struct mg__pack *p;
	size_t idx;
	uint32_t dst, h_data;
	struct mg_handler *ack;
	uint64_t credit;
	bool started, gone;
};

struct frame {
	DIR *d;
	char *rel;
	char *src;      /* its path here, for messages */
	dev_t dev;
	ino_t ino;
};

struct hardlink {
	dev_t dev;
	ino_t ino;
	char *rel;
};

struct mg__pack {
	struct mg_router *r;
	uint32_t flags;
	char **srcs;
	size_t next_src;
	struct frame *stack;
	size_t depth;
	int fd;                 /* the file being sent, or -1 */
	uint64_t left;          /* its bytes still to send */
	struct mg__hash hash;
	int rerr;               /* why it ended early (its tail says so) */
	struct hardlink *links;
	size_t n_links;
	const char *shown;      /* the source path being read, for messages */
	char *pend_path, *pend_why;  /* an error to send after its directory */
	struct mg_buf *hdr;     /* a record not yet all in chunks */
	size_t hdr_off;
	uint8_t *chunk;
	struct mg__zenc *z;     /* compressing: the encoder, and a frame's bytes */
	uint8_t *raw;
	bool zframe, zlater;    /* a frame is being made; the next slice is deferred */
	struct pdest **dests;
	size_t n_dests;
	bool end_queued, ended, busy;
	bool relay, relay_eof;  /* a relay; its stream has ended */
	uint8_t *q;             /* a relay's queue: q[qoff, qlen) */
	size_t qoff, qlen;
	uint64_t sent, wire;
	bool counting;          /* mg__pack_total: sizes only */
	bool host_read;
	uint64_t host;          /* mg__file_host_id, read at the first directory */
	uint64_t total;
	mg__pack_done_fn done;
	mg__pack_bytes_fn bytes;
	void *data;
	TALLOC_CTX *owner;      /* freed once quiet (mg__pack_free_when_quiet) */
};

static void close_all(struct mg__pack *p)
{
	while (p->depth > 0) {
		closedir(p->stack[--p->depth].d);
	}
	if (p->fd >= 0) {
		close(p->fd);
		p->fd = -1;
	}
}

static int pack_destructor(struct mg__pack *p)
{
	close_all(p);
	return 0;
}

static int queue(struct mg__pack *p, const struct mg__rec_meta *m)
{
	p->hdr->len = 0;
	p->hdr_off = 0;
	return mg__rec_encode(p->hdr, m);
}

/* An error about the path being read, named as it is named here. */
static void queue_error(struct mg__pack *p, const char *rel, const char *why)
{
	const char *path = p->shown != NULL ? p->shown : rel;
	size_t n = strlen(path);
	struct mg__rec_meta m = { .type = MG__REC_ERROR, .path = path, .path_len = n,
				  .target = why, .target_len = strlen(why) };
	char *end = NULL;

	if (n >= MG__REC_PATH_MAX) {
		/* Too long for a record: its end, which names the file. */
		end = talloc_asprintf(p, "...%s", path + n - (MG__REC_PATH_MAX - 4));
		m.path = end != NULL ? end : "...";
		m.path_len = strlen(m.path);
	}
	queue(p, &m);
	talloc_free(end);
}

static void set_meta(struct mg__rec_meta *m, char type, const char *rel, const struct stat *st)
{
	memset(m, 0, sizeof(*m));
	m->type = type;
	m->path = rel;
	m->path_len = strlen(rel);
	m->mode = st->st_mode & 07777;
	m->mtime_s = (uint64_t)st->st_mtim.tv_sec;
	m->mtime_ns = (uint32_t)st->st_mtim.tv_nsec;
	m->atime_s = (uint64_t)st->st_atim.tv_sec;
	m->atime_ns = (uint32_t)st->st_atim.tv_nsec;
	m->uid = st->st_uid;
	m->gid = st->st_gid;
}

/* A file with other names: the first one sent, or NULL (remembered). */
static const char *hard_link(struct mg__pack *p, const struct stat *st, const char *rel)
{
	struct hardlink *l;

	for (size_t i = 0; i < p->n_links; i++) {
		if (p->links[i].dev == st->st_dev && p->links[i].ino == st->st_ino) {
			return p->links[i].rel;
		}
	}
	l = talloc_realloc(p, p->links, struct hardlink, p->n_links + 1);
	if (l != NULL) {
		p->links = l;
		l[p->n_links].dev = st->st_dev;
		l[p->n_links].ino = st->st_ino;
		l[p->n_links].rel = talloc_strdup(l, rel);
		p->n_links++;
	}
	return NULL;
}

static void emit_dir(struct mg__pack *p, int dirfd, const char *name, const char *rel,
		     const struct stat *st)
{
	int nofollow = (p->flags & MG__FILE_LINKS) != 0 ? O_NOFOLLOW : 0;
	struct mg__rec_meta m;
	struct frame *f;
	int fd;

	if ((p->flags & MG__FILE_RECURSIVE) == 0) {
		queue_error(p, rel, "is a directory (not copied without -r)");
		return;
	}
	for (size_t i = 0; i < p->depth; i++) {
		if (p->stack[i].dev == st->st_dev && p->stack[i].ino == st->st_ino) {
			queue_error(p, rel, "directory loop (not copied)");
			return;
		}
	}
	f = talloc_realloc(p, p->stack, struct frame, p->depth + 1);
	if (f == NULL) {
		queue_error(p, rel, strerror(ENOMEM));
		return;
	}
	p->stack = f;
	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | nofollow);
	f[p->depth].d = fd >= 0 ? fdopendir(fd) : NULL;
	if (f[p->depth].d == NULL) {
		int e = errno;

		if (fd >= 0) {
			close(fd);
		}
		if ((e != EACCES && e != EPERM) || p->counting) {
			queue_error(p, rel, strerror(e));
			return;
		}
		/* Unreadable: made there, empty, as cp -r and rsync do; its
		 * error goes next (next_entry). */
		p->pend_path = talloc_strdup(p, p->shown != NULL ? p->shown : rel);
		p->pend_why = talloc_strdup(p, strerror(e));
	} else {
		f[p->depth].rel = talloc_strdup(p->stack, rel);
		f[p->depth].src = talloc_strdup(p->stack, p->shown);
		f[p->depth].dev = st->st_dev;
		f[p->depth].ino = st->st_ino;
		p->depth++;
	}
	set_meta(&m, MG__REC_DIR, rel, st);
	if (!p->host_read) {
		p->host_read = true;
		p->host = mg__file_host_id();
	}
	/* The receiver refuses to copy it into itself. */
	m.host = p->host;
	m.dev = (uint64_t)st->st_dev;
	m.ino = (uint64_t)st->st_ino;
	queue(p, &m);
}

/* A file of /proc tells no size (0), one of sysfs a page's, and cp reads
 * either to its end: since its size goes before its bytes, those are
 * read here first when it may be such a file (no block on disk, at most
 * a page), into an unnamed file that is sent instead (FD closed then;
 * -errno on a failure). An empty file costs one read more, a small file
 * all holes a copy. */
static int spool(int fd, struct stat *st)
{
	uint8_t buf[16384];
	int out = -1, e = 0;
	off_t n = 0;
	ssize_t k;

	if (st->st_blocks != 0 || st->st_size > 4096) {
		return fd;
	}
	while (e == 0 && (k = read(fd, buf, sizeof(buf))) != 0) {
		if (k < 0) {
			e = -errno;  /* EAGAIN: it would block */
		} else if (n + k > (off_t)SPOOL_MAX) {
			e = -EFBIG;  /* maybe endless (/proc/PID/pagemap) */
		} else if (out < 0 && (out = mg__anon_file("", false)) < 0) {
			e = -errno;
		} else if (pwrite(out, buf, (size_t)k, n) != k) {
			e = -ENOSPC;  /* short or failed: where it goes is full */
		} else {
			n += k;
		}
	}
	st->st_size = n;
	if (out < 0 && e == 0) {
		return fd;  /* empty */
	}
	close(fd);
	if (e != 0) {
		close(out);  /* maybe -1: nothing to close */
	}
	return e != 0 ? e : out;
}

static void emit_file(struct mg__pack *p, int dirfd, const char *name, const char *rel,
		      const struct stat *lst)
{
	int nofollow = (p->flags & MG__FILE_LINKS) != 0 ? O_NOFOLLOW : 0;
	struct mg__rec_meta m;
	const char *first;
	struct stat st;
	int fd;

	if ((p->flags & MG__FILE_LINKS) != 0 && lst->st_nlink > 1 &&
	    (first = hard_link(p, lst, rel)) != NULL) {
		m = (struct mg__rec_meta){ .type = MG__REC_HARD, .path = rel, .path_len = strlen(rel),
					   .target = first, .target_len = strlen(first) };
		queue(p, &m);
		return;
	}
	if (p->counting) {
		p->total += (uint64_t)lst->st_size;
		return;
	}
	/* O_NONBLOCK: what was a file may be a fifo by now. */
	fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY | nofollow);
	if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		queue_error(p, rel, fd < 0 ? strerror(errno) : "changed while being read");
		if (fd >= 0) {
			close(fd);
		}
		return;
	}
	/* Still O_NONBLOCK: a file that would block (/proc/kmsg) fails
	 * with EAGAIN rather than hold the agent. */
	fd = spool(fd, &st);
	if (fd < 0) {
		queue_error(p, rel, strerror(-fd));
		return;
	}
	fcntl(fd, F_SETFL, O_RDONLY);
	if (p->z != NULL) {
		mg__zenc_file(p->z);
	}
	p->fd = fd;
	p->left = (uint64_t)st.st_size;
	p->rerr = 0;
	mg__hash_init(&p->hash);
	/* In pieces: it can end early, should it shrink meanwhile. */
	set_meta(&m, MG__REC_CFILE, rel, &st);
	m.size = (uint64_t)st.st_size;
	queue(p, &m);
}

static void emit_path(struct mg__pack *p, int dirfd, const char *name, const char *rel)
{
	bool links = (p->flags & MG__FILE_LINKS) != 0;
	struct mg__rec_meta m;
	char target[4096];
	struct stat st;
	ssize_t n;

	if (fstatat(dirfd, name, &st, links ? AT_SYMLINK_NOFOLLOW : 0) != 0) {
		queue_error(p, rel, strerror(errno));
	} else if (S_ISLNK(st.st_mode)) {
		n = readlinkat(dirfd, name, target, sizeof(target));
		if (n < 0 || (size_t)n >= sizeof(target)) {
			queue_error(p, rel, n < 0 ? strerror(errno) : strerror(ENAMETOOLONG));
			return;
		}
		set_meta(&m, MG__REC_LINK, rel, &st);
		m.target = target;
		m.target_len = (size_t)n;
		queue(p, &m);
	} else if (S_ISDIR(st.st_mode)) {
		emit_dir(p, dirfd, name, rel, &st);
	} else if (S_ISREG(st.st_mode)) {
		emit_file(p, dirfd, name, rel, &st);
	} else {
		queue_error(p, rel, "not a regular file (a device, fifo or socket): not copied");
	}
}

/* The name the directory PATH has in its parent, as realpath would end
 * ("" for the root); NULL on an error. By a scan of the parent for the
 * entry with the same device and inode, as getcwd once did: realpath
 * would bring 1 KB (packed) into the agent for this one use. */
static char *dir_name(TALLOC_CTX *mem_ctx, const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int pfd = fd >= 0 ? openat(fd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
	struct stat st, pst, est;
	char *name = NULL;
	struct dirent *e;
	DIR *d;

	if (pfd < 0 || fstat(fd, &st) != 0 || fstat(pfd, &pst) != 0) {
		goto done;
	}
	if (st.st_dev == pst.st_dev && st.st_ino == pst.st_ino) {
		name = talloc_strdup(mem_ctx, "");
		goto done;
	}
	d = fdopendir(pfd);
	if (d == NULL) {
		goto done;
	}
	pfd = -1;
	while (name == NULL && (e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0 &&
		    fstatat(dirfd(d), e->d_name, &est, AT_SYMLINK_NOFOLLOW) == 0 &&
		    est.st_dev == st.st_dev && est.st_ino == st.st_ino) {
			name = talloc_strdup(mem_ctx, e->d_name);
		}
	}
	closedir(d);
done:
	if (pfd >= 0) {
		close(pfd);
	}
	if (fd >= 0) {
		close(fd);
	}
	return name;
}

/* The name a source has in the stream: its last component. */
static char *top_name(TALLOC_CTX *mem_ctx, const char *src)
{
	char *s = talloc_strdup(mem_ctx, src), *base;
	size_t n = s != NULL ? strlen(s) : 0;

	while (n > 1 && s[n - 1] == '/') {
		s[--n] = '\0';
	}
	base = s != NULL ? strrchr(s, '/') : NULL;
	base = base != NULL ? base + 1 : s;
	if (base != NULL && (strcmp(base, ".") == 0 || strcmp(base, "..") == 0)) {
		base = dir_name(mem_ctx, s);
	} else if (base != NULL) {
		base = talloc_strdup(mem_ctx, base);
	}
	talloc_free(s);
	return base;
}

/* Why a source has no name to copy it under (top_name gave none). */
static const char *no_name(const char *src, const char *name)
{
	struct stat st;

	if (src[0] == '\0') {
		return strerror(ENOENT);  /* as cp: an empty word names nothing */
	}
	if (stat(src, &st) != 0) {
		return strerror(errno);   /* x/. or x/.. of a missing x */
	}
	return name != NULL ? "cannot copy a root directory by its name"
			    : "its name cannot be read in its parent directory";
}

static void next_entry(struct mg__pack *p)
{
	if (p->pend_path != NULL) {
		p->shown = p->pend_path;
		queue_error(p, p->pend_path, p->pend_why != NULL ? p->pend_why : "?");
		p->shown = NULL;
		TALLOC_FREE(p->pend_path);
		TALLOC_FREE(p->pend_why);
		return;
	}
	while (p->depth > 0) {
		struct frame *f = &p->stack[p->depth - 1];
		struct dirent *e = readdir(f->d);
		char *rel;

		if (e == NULL) {
			closedir(f->d);
			talloc_free(f->rel);
			talloc_free(f->src);
			p->depth--;
			continue;
		}
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) {
			continue;
		}
		rel = talloc_asprintf(p, "%s/%s", f->rel, e->d_name);
		p->shown = rel != NULL ? talloc_asprintf(rel, "%s/%s", f->src, e->d_name) : NULL;
		if (p->shown == NULL) {
			queue_error(p, f->rel, strerror(ENOMEM));
		} else if (strlen(rel) >= MG__REC_PATH_MAX) {
			/* Deeper than a record may name: said, not walked (cp
			 * cannot stat it either). */
			queue_error(p, rel, strerror(ENAMETOOLONG));
		} else {
			emit_path(p, dirfd(f->d), e->d_name, rel);
		}
		p->shown = NULL;
		talloc_free(rel);
		return;
	}
	if (p->srcs[p->next_src] != NULL) {
		const char *src = p->srcs[p->next_src++];
		char *name = top_name(p, src);

		p->shown = src;
		if (name == NULL || name[0] == '\0' || strcmp(name, "/") == 0) {
			queue_error(p, src, no_name(src, name));
		} else {
			emit_path(p, AT_FDCWD, src, name);
		}
		p->shown = NULL;
		talloc_free(name);
		return;
	}
	queue(p, &(struct mg__rec_meta){ .type = MG__REC_END });
	p->end_queued = true;
}

/* The current file's bytes, a 'B' record per read, in buf (which has
 * room for more than a record's prefix); or its tail once all are sent,
 * or as soon as a read fails or finds the file shorter than the size
 * announced: the receiver drops it then, and nothing pads it out. */
static size_t file_bytes(struct mg__pack *p, uint8_t *buf, size_t cap)
{
	size_t want = cap - MG__REC_PREFIX;
	ssize_t k = 0;

	want = p->left < want ? (size_t)p->left : want;
	want = want < MG__REC_BYTES_MAX ? want : MG__REC_BYTES_MAX;
	if (p->left > 0) {
		do {
			k = read(p->fd, buf + MG__REC_PREFIX, want);
		} while (k < 0 && errno == EINTR);
		if (k <= 0) {
			p->rerr = k < 0 ? errno : (int)MG__FILE_SHRANK;
		}
	}
	if (k <= 0) {
		struct mg__rec_meta m = { .type = MG__REC_TAIL, .err = (uint32_t)p->rerr,
					  .hash = mg__hash_final(&p->hash) };
		close(p->fd);
		p->fd = -1;
		queue(p, &m);
		return 0;
	}
	buf[0] = MG__REC_BYTES;
	mg__put_be32(buf + 1, (uint32_t)k);
	mg__hash_update(&p->hash, buf + MG__REC_PREFIX, (size_t)k);
	p->left -= (uint64_t)k;
	p->sent += (uint64_t)k;
	return MG__REC_PREFIX + (size_t)k;
}

static size_t fill(struct mg__pack *p, uint8_t *buf, size_t cap)
{
	size_t off = 0;

	if (p->relay) {
		off = p->qlen - p->qoff < cap ? p->qlen - p->qoff : cap;
		memcpy(buf, p->q + p->qoff, off);
		p->qoff += off;
		if (p->qoff == p->qlen) {
			p->qoff = p->qlen = 0;
		}
		p->end_queued = p->relay_eof && p->qlen == 0;
		return off;
	}

	while (off < cap) {
		if (p->hdr_off < p->hdr->len) {
			size_t k = p->hdr->len - p->hdr_off;

			k = k < cap - off ? k : cap - off;
			memcpy(buf + off, p->hdr->data + p->hdr_off, k);
			p->hdr_off += k;
			off += k;
		} else if (p->fd >= 0 && p->left > 0 && cap - off <= MG__REC_PREFIX) {
			break;  /* no room for a byte of a 'B' record: the next chunk */
		} else if (p->fd >= 0) {
			off += file_bytes(p, buf + off, cap - off);
		} else if (p->end_queued) {
			break;
		} else {
			next_entry(p);
		}
	}
	return off;
}

/* A frame for at most c bytes of credit, a slice at a time: false while
 * it is being made, else true with its size in *_n (0: none now). One
 * frame a message, so that the receiver decodes one at a time too. */
static bool fill_frame(struct mg__pack *p, size_t c, size_t *_n)
{
	size_t k = 0;

	if (!p->zframe) {
		/* A frame waits for room for a useful one. */
		if (c >= MG__ZF_HDR + 4096) {
			k = fill(p, p->raw, c - MG__ZF_HDR < MG__ZF_RAW ? c - MG__ZF_HDR : MG__ZF_RAW);
		}
		if (k == 0) {
			*_n = 0;
			return true;
		}
		mg__zenc_start(p->z, p->raw, k, p->chunk);
		p->zframe = true;
	}
	*_n = mg__zenc_step(p->z, ZSLICE);
	p->zframe = *_n == 0;
	return !p->zframe;
}

static void produce(struct mg__pack *p);

static void produce_later(void *data)
{
	struct mg__pack *p = data;

	p->zlater = false;
	produce(p);
}

/* What goes on the wire for at most c bytes of credit: the stream, or
 * frames of it. False when frames are being made: the next slice is
 * made on the next loop turn. */
static bool fill_wire(struct mg__pack *p, size_t c, size_t *_n)
{
	if (p->z == NULL) {
		*_n = fill(p, p->chunk, c);
		return true;
	}
	while (!fill_frame(p, c, _n)) {
		/* (No memory to defer: then at once.) */
		if (mg_loop_defer(mg__router_loop(p->r), p, produce_later, p) == 0) {
			p->zlater = true;
			return false;
		}
	}
	return true;
}

static void dest_end(struct pdest *d, int err)
{
	struct mg__pack *p = d->p;

	if (d->gone) {
		return;
	}
	d->gone = true;
	if (err != 0 && d->started) {
		/* Tell the receiver the stream is cut: it discards the file
		 * it was writing. */
		mg__router_send(p->r, d->dst, d->h_data, 0, MG_F_DEAD, "sender stopped", 14);
	}
	if (err != 0) {
		/* After a clean end the receiver still credits back what it
		 * writes: the handle takes that until the pack goes, rather
		 * than each ack be "for an unknown handle". */
		TALLOC_FREE(d->ack);
	}
	if (p->done != NULL) {
		p->done(p->data, d->idx, err);
	}
}

/* The smallest credit of the live receivers; 0 also when one has not
 * started or none is left. */
static uint64_t credit(struct mg__pack *p, bool *_any)
{
	uint64_t c = MG_CHUNK;

	*_any = false;
	for (size_t i = 0; i < p->n_dests; i++) {
		struct pdest *d = p->dests[i];

		if (d->gone) {
			continue;
		}
		*_any = true;
		if (!d->started) {
			return 0;
		}
		c = d->credit < c ? d->credit : c;
	}
	return *_any ? c : 0;
}

static void produce(struct mg__pack *p)
{
	bool any;
	uint64_t c;

	if (p->busy || p->ended || p->zlater) {
		return;
	}
	p->busy = true;
	while (!p->ended && (c = credit(p, &any)) > 0) {
		size_t n;

		if (!fill_wire(p, (size_t)c, &n)) {
			break;
		}

		for (size_t i = 0; i < p->n_dests && n > 0; i++) {
			struct pdest *d = p->dests[i];
			int r;

			if (d->gone) {
				continue;
			}
			r = mg__router_send(p->r, d->dst, d->h_data, mg__handler_handle(d->ack), 0,
					    p->chunk, n);
			d->credit -= n;
			if (r != 0) {
				dest_end(d, r);
			}
		}
		p->wire += n;
		if (p->bytes != NULL && n > 0) {
			p->bytes(p->data, p->sent);
		}
		if (p->end_queued && p->hdr_off == p->hdr->len) {
			p->ended = true;
			close_all(p);
			/* A pack may wait for its last credit after this. */
			TALLOC_FREE(p->chunk);
			TALLOC_FREE(p->raw);
			TALLOC_FREE(p->z);
			for (size_t i = 0; i < p->n_dests; i++) {
				struct pdest *d = p->dests[i];

				if (!d->gone) {
					mg__router_send(p->r, d->dst, d->h_data,
							mg__handler_handle(d->ack), 0, NULL, 0);
					dest_end(d, 0);
				}
			}
		}
		if (n == 0) {
			break;  /* a relay waiting for its stream */
		}
	}
	p->busy = false;
}

/* No receiver can send credit any more: the owner may go. */
static void check_quiet(struct mg__pack *p)
{
	for (size_t i = 0; i < p->n_dests; i++) {
		if (p->dests[i]->ack != NULL) {
			return;
		}
	}
	if (p->owner != NULL) {
		mg_loop_free_later(mg__router_loop(p->r), p->owner);
		p->owner = NULL;
	}
}

static void on_ack(struct mg_router *r, struct mg_msg *m, void *data)
{
	struct pdest *d = data;
	struct mg__pack *p = d->p;
	struct mg_buf b;
	uint32_t n;

	(void)r;
	if ((m->flags & MG_F_DEAD) != 0) {
		if (d->gone) {
			/* Ended cleanly; its context is gone since. */
			TALLOC_FREE(d->ack);
			check_quiet(p);
			return;
		}
		dest_end(d, -EPIPE);
		produce(p);
		return;
	}
	mg__buf_view(&b, m->data, m->len);
	if (mg__buf_get_u32(&b, &n) != 0) {
		return;
	}
	d->credit += n;
	if (d->gone) {
		/* After its end: the last credit is back, nothing more comes. */
		if (d->credit >= MG_WINDOW_DEFAULT) {
			TALLOC_FREE(d->ack);
			check_quiet(p);
		}
		return;
	}
	produce(p);
}

void mg__pack_free_when_quiet(struct mg__pack *p, TALLOC_CTX *owner)
{
	p->owner = owner;
	check_quiet(p);
}

struct mg__pack *mg__pack_new(TALLOC_CTX *mem_ctx, struct mg_router *r,
			      const char *const *srcs, uint32_t flags,
			      mg__pack_done_fn done, mg__pack_bytes_fn bytes, void *data)
{
	struct mg__pack *p = talloc_zero(mem_ctx, struct mg__pack);
	size_t n = 0;

	if (p == NULL) {
		return NULL;
	}
	p->r = r;
	p->flags = flags;
	p->fd = -1;
	p->done = done;
	p->bytes = bytes;
	p->data = data;
	talloc_set_destructor(p, pack_destructor);
	while (srcs[n] != NULL) {
		n++;
	}
	p->srcs = talloc_zero_array(p, char *, n + 1);
	p->hdr = mg__buf_new(p, MG__REC_MAX);
	p->chunk = talloc_size(p, MG_CHUNK);
	p->dests = talloc_zero_array(p, struct pdest *, 1);
	if (p->srcs == NULL || p->hdr == NULL || p->chunk == NULL || p->dests == NULL) {
		talloc_free(p);
		return NULL;
	}
	if ((flags & MG__FILE_COMPRESS) != 0 &&
	    ((p->z = mg__zenc_new(p)) == NULL || (p->raw = talloc_size(p, MG__ZF_RAW)) == NULL)) {
		talloc_free(p);
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		if ((p->srcs[i] = talloc_strdup(p->srcs, srcs[i])) == NULL) {
			talloc_free(p);
			return NULL;
		}
	}
	return p;
}

uint64_t mg__pack_total(TALLOC_CTX *mem_ctx, const char *const *srcs, uint32_t flags,
			unsigned max)
{
	struct mg__pack *p = mg__pack_new(mem_ctx, NULL, srcs, flags & ~MG__FILE_COMPRESS, NULL,
					  NULL, NULL);
	uint64_t total = MG__FILE_NO_TOTAL;

	if (p != NULL) {
		p->counting = true;
		while (!p->end_queued && max-- > 0) {
			next_entry(p);
		}
		total = p->end_queued ? p->total : MG__FILE_NO_TOTAL;
		talloc_free(p);
	}
	return total;
}

struct mg__pack *mg__pack_new_relay(TALLOC_CTX *mem_ctx, struct mg_router *r,
				    mg__pack_done_fn done, mg__pack_bytes_fn bytes, void *data)
{
	static const char *const none[] = { NULL };
	struct mg__pack *p = mg__pack_new(mem_ctx, r, none, 0, done, bytes, data);

	if (p != NULL) {
		p->relay = true;
		p->q = talloc_size(p, 2 * MG_WINDOW_DEFAULT);
		if (p->q == NULL) {
			talloc_free(p);
			return NULL;
		}
	}
	return p;
}

bool mg__pack_relay_feed(struct mg__pack *p, const uint8_t *data, size_t n)
{
	if (p->qoff > 0 && p->qlen + n > 2 * MG_WINDOW_DEFAULT) {
		memmove(p->q, p->q + p->qoff, p->qlen - p->qoff);
		p->qlen -= p->qoff;
		p->qoff = 0;
	}
	if (p->ended || p->qlen + n > 2 * MG_WINDOW_DEFAULT) {
		return false;
	}
	memcpy(p->q + p->qlen, data, n);
	p->qlen += n;
	produce(p);
	return true;
}

size_t mg__pack_relay_queued(const struct mg__pack *p)
{
	return p->qlen - p->qoff;
}

void mg__pack_relay_end(struct mg__pack *p)
{
	p->relay_eof = true;
	p->end_queued = p->qlen == p->qoff;
	produce(p);
}

int mg__pack_add(struct mg__pack *p, uint32_t dst)
{
	struct pdest **v = talloc_realloc(p, p->dests, struct pdest *, p->n_dests + 1);
	struct pdest *d;

	if (v == NULL) {
		return -ENOMEM;
	}
	p->dests = v;
	d = talloc_zero(v, struct pdest);
	if (d == NULL) {
		return -ENOMEM;
	}
	d->p = p;
	d->idx = p->n_dests;
	d->dst = dst;
	d->credit = MG_WINDOW_DEFAULT;
	d->ack = mg__router_add_handler(d, p->r, 0, MG_POL_RESPONDENT, dst, true, on_ack, d);
	if (d->ack == NULL) {
		talloc_free(d);
		return -ENOMEM;
	}
	v[p->n_dests] = d;
	return (int)p->n_dests++;
}

uint32_t mg__pack_ack(const struct mg__pack *p, size_t idx)
{
	return idx < p->n_dests && p->dests[idx]->ack != NULL ?
	       mg__handler_handle(p->dests[idx]->ack) : 0;
}

uint64_t mg__pack_wire_bytes(const struct mg__pack *p)
{
	return p->wire;
}

void mg__pack_start(struct mg__pack *p, size_t idx, uint32_t h_data)
{
	if (idx < p->n_dests && !p->dests[idx]->gone) {
		p->dests[idx]->h_data = h_data;
		p->dests[idx]->started = true;
		produce(p);
	}
}

void mg__pack_drop(struct mg__pack *p, size_t idx, int err)
{
	if (idx < p->n_dests) {
		dest_end(p->dests[idx], err != 0 ? err : -ECANCELED);
		produce(p);
	}
}
