/*
 * The receiving end of a file stream (svc-file.h). Names from the stream
 * are checked (relative, no "." or ".." component) and every directory
 * on the way is opened without following symlinks, so nothing the sender
 * says lands outside the destination. Each file is written to an
 * unnamed file (O_TMPFILE) in its directory, or where that is not
 * supported to a new temporary file there (O_EXCL, 0600), fsync'd,
 * checked against the sender's size and checksum, and renamed over its
 * target: a failure leaves the old file as it was and nothing behind.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>
#include "mitogen/error.h"
#include "svc-file.h"

enum pstate { P_PREFIX, P_HDR, P_DATA, P_DONE, P_BAD };

struct dirid {
	uint64_t dev, ino;
};

/* A directory whose mode (and with -p times, owner) is set once the
 * stream has left it: what is written in it meanwhile would change its
 * times, and a mode without write permission would refuse it. */
struct fixdir {
	size_t len;            /* its name: the first len bytes of fix_rel */
	struct mg__rec_meta m; /* path not kept */
};

struct cur {
	char *disp;     /* for messages */
	int dirfd;      /* borrowed (the cache) */
	char *name;
	int fd;
	char *tmp;      /* a named temporary file, or NULL */
	bool failed;
	bool existed;
	struct stat old;
	struct mg__rec_meta m;
	struct mg__hash h;
};

struct mg__unpack {
	uint32_t flags;
	int root;
	char *root_disp;
	char *rename_top;    /* the first component's new name, or NULL */
	char *dir_only;      /* DEST/ made by the copy: only a directory goes there */
	mode_t umask;
	bool is_root, use_tmpfile;
	bool host_read;
	uint64_t host;       /* mg__file_host_id, read at the first directory */
	bool above_read;
	struct dirid *above; /* the root and each directory above it */
	size_t n_above;
	struct dirid *trail; /* the D records' directories on the way down */
	size_t n_trail;
	enum pstate st;
	uint8_t pre[MG__REC_PREFIX];
	size_t pre_n;
	uint8_t *hbuf;
	uint32_t hlen, hgot;
	bool expect_tail;    /* in a file: its bytes or tail come next */
	bool pieces;         /* that file is a 'C' one: 'B' records, then the tail */
	uint64_t left;       /* its bytes still to come */
	uint64_t run;        /* raw bytes still to come in a row ('F' data, a 'B') */
	struct cur c;
	char *cache_rel;
	int cache_fd;
	char *skip;
	/* The directories to fix up, each inside the one before (the
	 * stream goes depth first): bounded by the tree's depth. */
	struct fixdir *fix;
	size_t n_fix;
	char *fix_rel;       /* the name of the last of them */
	unsigned seq;
	uint64_t files, bytes, data_bytes;
	struct mg__zdec *z;   /* a compressed stream's frames */
	unsigned failures;
	mg__unpack_error_fn err;
	void *data;
	char **names;         /* the first components that may be written, or NULL */
};

static void report(struct mg__unpack *u, bool at_source, const char *disp, const char *msg)
{
	u->failures++;
	if (u->err != NULL) {
		u->err(u->data, at_source, disp != NULL ? disp : "?", msg != NULL ? msg : "?");
	}
}

static void fail(struct mg__unpack *u, const char *disp, const char *msg)
{
	report(u, false, disp, msg);
}

static void drop_file(struct mg__unpack *u)
{
	if (u->c.fd >= 0) {
		close(u->c.fd);
		u->c.fd = -1;
	}
	if (u->c.tmp != NULL) {
		unlinkat(u->c.dirfd, u->c.tmp, 0);
		TALLOC_FREE(u->c.tmp);
	}
}

static int unpack_destructor(struct mg__unpack *u)
{
	drop_file(u);
	if (u->cache_fd >= 0) {
		close(u->cache_fd);
	}
	if (u->root >= 0) {
		close(u->root);
	}
	return 0;
}

/* A name no one else uses in the destination directory. */
static char *tmp_name(struct mg__unpack *u, TALLOC_CTX *mem_ctx)
{
	uint32_t rnd = 0;

	if (getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK) != sizeof(rnd)) {
		rnd = (uint32_t)(uintptr_t)u ^ u->seq;
	}
	return talloc_asprintf(mem_ctx, ".mgcp.%d.%u.%lx", (int)getpid(), ++u->seq,
			       (unsigned long)rnd);
}

/* The stream's name as a path under root: NULL when unsafe. */
static char *map_path(struct mg__unpack *u, TALLOC_CTX *mem_ctx, const char *p, size_t n)
{
	const char *c = p, *end = p + n;

	if (n == 0 || n >= MG__REC_PATH_MAX || *p == '/') {
		return NULL;
	}
	while (c < end) {
		const char *slash = memchr(c, '/', (size_t)(end - c));
		size_t len = (size_t)((slash != NULL ? slash : end) - c);

		if (len == 0 || (len == 1 && c[0] == '.') || (len == 2 && c[0] == '.' && c[1] == '.')) {
			return NULL;
		}
		c += len + 1;
	}
	if (u->rename_top == NULL) {
		return talloc_strndup(mem_ctx, p, n);
	}
	c = memchr(p, '/', n);
	return talloc_asprintf(mem_ctx, "%s%.*s", u->rename_top, c != NULL ? (int)(end - c) : 0,
			       c != NULL ? c : "");
}

/* Whether rel's first component is the name of a source asked for;
 * 'bind' gives a name to a source named at the sender (""). With DEST
 * the copy of one source, that name is DEST's own (rename_top). */
static bool top_ok(struct mg__unpack *u, const char *rel, bool bind)
{
	size_t len = strcspn(rel, "/");

	if (u->names == NULL || u->rename_top != NULL) {
		return true;
	}
	for (size_t i = 0; u->names[i] != NULL; i++) {
		if (strlen(u->names[i]) == len && memcmp(u->names[i], rel, len) == 0) {
			return true;
		}
	}
	for (size_t i = 0; bind && u->names[i] != NULL; i++) {
		if (u->names[i][0] == '\0') {
			char *name = talloc_strndup(u->names, rel, len);

			if (name != NULL) {
				talloc_free(u->names[i]);
				u->names[i] = name;
			}
			return name != NULL;
		}
	}
	return false;
}

int mg__unpack_expect(struct mg__unpack *u, const char *const *names)
{
	TALLOC_FREE(u->names);
	u->names = mg__strv_copy(u, names);
	return u->names != NULL ? 0 : -ENOMEM;
}

static char *disp_path(struct mg__unpack *u, TALLOC_CTX *mem_ctx, const char *rel)
{
	if (strcmp(u->root_disp, ".") == 0) {
		return talloc_strdup(mem_ctx, rel);
	}
	return talloc_asprintf(mem_ctx, "%s%s%s", u->root_disp,
			       u->root_disp[strlen(u->root_disp) - 1] == '/' ? "" : "/", rel);
}

/* Open the directory holding rel, never through a symlink: a new fd,
 * with *_name pointing at rel's last component. */
static int walk(struct mg__unpack *u, const char *rel, const char **_name)
{
	const char *last = strrchr(rel, '/');
	int fd = dup(u->root);
	const char *c = rel;

	*_name = last != NULL ? last + 1 : rel;
	while (fd >= 0 && last != NULL && c <= last) {
		const char *slash = strchr(c, '/');
		char comp[256];
		int nfd;

		if ((size_t)(slash - c) >= sizeof(comp)) {
			close(fd);
			errno = ENAMETOOLONG;
			return -1;
		}
		memcpy(comp, c, (size_t)(slash - c));
		comp[slash - c] = '\0';
		nfd = openat(fd, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		close(fd);
		fd = nfd;
		c = slash + 1;
	}
	return fd;
}

/* The parent of rel through a one-entry cache (records come in tree
 * order, so most share their parent with the one before). */
static int parent(struct mg__unpack *u, const char *rel, const char **_name)
{
	const char *last = strrchr(rel, '/');
	size_t plen = last != NULL ? (size_t)(last - rel) : 0;
	int fd;

	if (u->cache_rel != NULL && strlen(u->cache_rel) == plen &&
	    memcmp(u->cache_rel, rel, plen) == 0) {
		*_name = last != NULL ? last + 1 : rel;
		return u->cache_fd;
	}
	fd = walk(u, rel, _name);
	if (fd < 0) {
		return -1;
	}
	if (u->cache_fd >= 0) {
		close(u->cache_fd);
	}
	talloc_free(u->cache_rel);
	u->cache_rel = talloc_strndup(u, rel, plen);
	u->cache_fd = fd;
	if (u->cache_rel == NULL) {
		u->cache_fd = -1;
		close(fd);
		errno = ENOMEM;
		return -1;
	}
	return fd;
}

static void fail_errno(struct mg__unpack *u, const char *disp, int e)
{
	fail(u, disp, strerror(e));
}

static bool same_id(const struct dirid *d, const struct mg__rec_meta *m)
{
	return d->dev == m->dev && d->ino == m->ino;
}

static struct dirid id_of(const struct stat *st)
{
	return (struct dirid){ (uint64_t)st->st_dev, (uint64_t)st->st_ino };
}

/* dfd's directory and each above it up to '/' (or, with stop, up to a
 * directory that is stop), appended to *_v: false when one could not
 * be opened. */
static bool ids_up(TALLOC_CTX *mem_ctx, int dfd, const struct dirid *stop, struct dirid **_v,
		   size_t *_n)
{
	int fd = openat(dfd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC), ufd;
	struct stat st, up;
	bool ok = fd >= 0 && fstat(fd, &st) == 0;

	while (ok) {
		struct dirid id = id_of(&st), *v;

		if (stop != NULL && id.dev == stop->dev && id.ino == stop->ino) {
			break;
		}
		v = talloc_realloc(mem_ctx, *_v, struct dirid, *_n + 1);
		if (v == NULL) {
			ok = false;
			break;
		}
		*_v = v;
		v[(*_n)++] = id;
		ufd = openat(fd, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
		close(fd);
		fd = ufd;
		ok = fd >= 0 && fstat(fd, &up) == 0;
		if (ok && up.st_dev == st.st_dev && up.st_ino == st.st_ino) {
			break;  /* '/' */
		}
		st = up;
	}
	if (fd >= 0) {
		close(fd);
	}
	return ok;
}

/* Why the source directory m may not go to NAME in dfd, depth
 * components below the root (there: NAME's stat, NULL if none), or
 * NULL: on this host it is that directory or above it, and its copy
 * would land in itself and grow as the sender walks it (cp refuses that
 * too). Above it: the D records' directories on the way down (the
 * trail, when it is dfd's), the root and what is above (read once). */
static const char *into_itself(struct mg__unpack *u, int dfd, const struct stat *there,
			       size_t depth, const struct mg__rec_meta *m)
{
	struct dirid *v = NULL;
	size_t n = 0;
	bool hit = false;
	struct stat st;

	if (!u->host_read) {
		u->host_read = true;
		u->host = mg__file_host_id();
	}
	if (m->host == 0 || m->host != u->host) {
		return NULL;
	}
	if (there != NULL && S_ISDIR(there->st_mode)) {
		struct dirid t = id_of(there);

		if (same_id(&t, m)) {
			return "is the source directory itself (not copied)";
		}
	}
	if (!u->above_read) {
		/* Once; what could be read when not all. */
		u->above_read = true;
		ids_up(u, u->root, NULL, &u->above, &u->n_above);
	}
	if (depth > 1 && (u->n_trail < depth - 1 || fstat(dfd, &st) != 0 ||
			  (uint64_t)st.st_dev != u->trail[depth - 2].dev ||
			  (uint64_t)st.st_ino != u->trail[depth - 2].ino)) {
		/* Records out of the order they are sent in: the long way. */
		ids_up(u, dfd, u->n_above > 0 ? &u->above[0] : NULL, &v, &n);
	} else {
		for (size_t i = 0; i + 1 < depth; i++) {
			hit = hit || same_id(&u->trail[i], m);
		}
	}
	for (size_t i = 0; i < n; i++) {
		hit = hit || same_id(&v[i], m);
	}
	for (size_t i = 0; i < u->n_above; i++) {
		hit = hit || same_id(&u->above[i], m);
	}
	talloc_free(v);
	return hit ? "cannot copy a directory into itself (not copied)" : NULL;
}

/* dfd/name, depth components below the root, is a directory of the
 * copy: the trail of what is above the next records. */
static void trail_set(struct mg__unpack *u, size_t depth, int dfd, const char *name,
		      const struct stat *known, const struct mg__rec_meta *m)
{
	struct dirid *v = u->trail;
	struct stat st;

	if (m->host == 0 || m->host != u->host) {
		return;  /* not from this host: not needed */
	}
	if (known == NULL && fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
		u->n_trail = 0;
		return;
	}
	if (depth > talloc_array_length(u->trail)) {
		v = talloc_realloc(u, u->trail, struct dirid, depth + 8);
	}
	if (v == NULL || depth - 1 > u->n_trail) {
		u->n_trail = 0;
		return;
	}
	u->trail = v;
	v[depth - 1] = id_of(known != NULL ? known : &st);
	u->n_trail = depth;
}

/* Components in rel: 1 for a source's own name. */
static size_t rel_depth(const char *rel)
{
	size_t depth = 1;

	for (const char *c = rel; *c != '\0'; c++) {
		depth += *c == '/';
	}
	return depth;
}

static void do_dir(struct mg__unpack *u, const char *rel, const char *disp,
		   const struct mg__rec_meta *m)
{
	const char *name, *why;
	int dfd = parent(u, rel, &name);
	size_t depth = rel_depth(rel);
	bool there = false, fresh = false;
	struct fixdir *f;
	char *last;
	struct stat st;
	int r = dfd >= 0 ? fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) : -1;

	if (r != 0 && (dfd < 0 || errno != ENOENT)) {
		fail_errno(u, disp, errno);
		goto skip;
	}
	there = r == 0;
	if ((why = into_itself(u, dfd, there ? &st : NULL, depth, m)) != NULL) {
		fail(u, disp, why);
		goto skip;
	}
	if (!there && mkdirat(dfd, name, 0700) == 0) {
		fresh = true;
	} else if (!there && (errno != EEXIST || fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)) {
		/* EEXIST: another copy made it meanwhile (many targets on one host). */
		fail_errno(u, disp, errno);
		goto skip;
	}
	if (!fresh && !S_ISDIR(st.st_mode)) {
		fail(u, disp, "exists and is not a directory");
		goto skip;
	}
	trail_set(u, depth, dfd, name, fresh ? NULL : &st, m);
	if (!fresh && (u->flags & MG__FILE_PRESERVE) == 0) {
		return;
	}
	/* on_record has fixed up those rel is not in (fix_left). */
	f = u->fix;
	if (u->n_fix == talloc_array_length(u->fix)) {
		f = talloc_realloc(u, u->fix, struct fixdir, 2 * u->n_fix + 8);
	}
	last = talloc_strdup(u, rel);
	if (f == NULL || last == NULL) {
		talloc_free(last);
		fail(u, disp, strerror(ENOMEM));
		return;
	}
	u->fix = f;
	talloc_free(u->fix_rel);
	u->fix_rel = last;
	f[u->n_fix].len = strlen(rel);
	f[u->n_fix].m = *m;
	u->n_fix++;
	return;
skip:
	/* What the stream holds under it fails with it, silently. */
	talloc_free(u->skip);
	u->skip = talloc_strdup(u, rel);
}

static bool skipped(const struct mg__unpack *u, const char *rel)
{
	size_t n = u->skip != NULL ? strlen(u->skip) : 0;

	return n > 0 && strncmp(rel, u->skip, n) == 0 && rel[n] == '/';
}

/* Put 'tmp' (in dfd) in the place of 'name', atomically. */
static int place(int dfd, const char *tmp, const char *name)
{
	if (renameat(dfd, tmp, dfd, name) != 0) {
		int e = errno;
		unlinkat(dfd, tmp, 0);
		return e;
	}
	return 0;
}

/* Why the entry st (dfd/name) may not be replaced by a file or a link,
 * or NULL. A device, fifo or socket, or a symlink to one, is kept: cp
 * would write into it, and a file renamed over it would lose the node
 * (an image copied to /dev/sdb would replace the disk's node with a
 * file in /dev). */
static const char *no_replace(int dfd, const char *name, const struct stat *st)
{
	struct stat t;

	if (S_ISDIR(st->st_mode)) {
		return "is a directory";
	}
	if (S_ISLNK(st->st_mode) && fstatat(dfd, name, &t, 0) == 0) {
		st = &t;
	}
	if (S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode) || S_ISFIFO(st->st_mode) ||
	    S_ISSOCK(st->st_mode)) {
		return "not a regular file (a device, fifo or socket): not replaced";
	}
	return NULL;
}

static void do_file(struct mg__unpack *u, const char *rel, const char *disp,
		    const struct mg__rec_meta *m)
{
	bool pieces = m->type == MG__REC_CFILE;
	struct cur *c = &u->c;
	const char *name;

	c->m = *m;
	c->disp = talloc_strdup(u, disp);
	c->failed = true;
	c->existed = false;
	mg__hash_init(&c->h);
	u->left = m->size;
	u->run = pieces ? 0 : m->size;
	u->st = u->run > 0 ? P_DATA : P_PREFIX;
	u->expect_tail = true;
	u->pieces = pieces;
	if (rel == NULL || skipped(u, rel)) {
		return;
	}
	c->dirfd = parent(u, rel, &name);
	if (c->dirfd < 0) {
		fail_errno(u, disp, errno);
		return;
	}
	c->name = talloc_strdup(u, name);
	if (fstatat(c->dirfd, c->name, &c->old, AT_SYMLINK_NOFOLLOW) == 0) {
		const char *why = no_replace(c->dirfd, c->name, &c->old);

		if (why != NULL) {
			fail(u, disp, why);
			return;
		}
		c->existed = S_ISREG(c->old.st_mode);
	}
	c->fd = u->use_tmpfile ? openat(c->dirfd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600) : -1;
	for (int i = 0; c->fd < 0 && i < 100; i++) {
		talloc_free(c->tmp);
		c->tmp = tmp_name(u, u);
		c->fd = openat(c->dirfd, c->tmp, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC,
			       0600);
		if (c->fd < 0 && errno != EEXIST) {
			break;
		}
	}
	if (c->fd < 0) {
		fail_errno(u, disp, errno);
		TALLOC_FREE(c->tmp);
		return;
	}
	c->failed = false;
}

static bool all_zero(const uint8_t *p, size_t n)
{
	return n > 0 && p[0] == 0 && memcmp(p, p + 1, n - 1) == 0;
}

static void file_data(struct mg__unpack *u, const uint8_t *p, size_t n)
{
	struct cur *c = &u->c;

	mg__hash_update(&c->h, p, n);
	while (!c->failed && n > 0) {
		size_t k = n < 65536 ? n : 65536;
		ssize_t w;

		if ((u->flags & MG__FILE_SPARSE) != 0 && all_zero(p, k)) {
			w = lseek(c->fd, (off_t)k, SEEK_CUR) < 0 ? -1 : (ssize_t)k;
		} else {
			w = write(c->fd, p, k);
		}
		if (w < 0 && errno == EINTR) {
			continue;
		}
		if (w <= 0) {
			fail_errno(u, c->disp, w < 0 ? errno : EIO);
			c->failed = true;
			drop_file(u);   /* give the space back now */
			break;
		}
		p += w;
		n -= (size_t)w;
	}
}

static int set_attrs(struct mg__unpack *u, int fd, const struct mg__rec_meta *m,
		     const struct stat *old)
{
	bool keep = (u->flags & MG__FILE_PRESERVE) != 0;
	mode_t mode = keep ? m->mode : old != NULL ? old->st_mode & 07777 : m->mode & 0777 & ~u->umask;
	struct timespec ts[2] = { { (time_t)m->atime_s, m->atime_ns },
				  { (time_t)m->mtime_s, m->mtime_ns } };

	if (u->is_root && (keep || old != NULL) &&
	    fchown(fd, keep ? m->uid : old->st_uid, keep ? m->gid : old->st_gid) != 0) {
		return errno;
	}
	if (fchmod(fd, mode) != 0 || (keep && futimens(fd, ts) != 0)) {
		return errno;
	}
	return 0;
}

static void file_tail(struct mg__unpack *u, const struct mg__rec_meta *t)
{
	struct cur *c = &u->c;
	char buf[160];
	int e = 0;

	if (c->failed) {
		/* already said, or under a directory that failed */
	} else if (t->err == MG__FILE_SHRANK) {
		fail(u, c->disp, "the source shrank while it was read (not copied)");
	} else if (t->err != 0) {
		snprintf(buf, sizeof(buf), "read error at the source: %s", strerror((int)t->err));
		fail(u, c->disp, buf);
	} else if (t->hash != mg__hash_final(&c->h)) {
		fail(u, c->disp, "checksum mismatch: the copy differs from the source");
	} else {
		if ((u->flags & MG__FILE_SPARSE) != 0 && ftruncate(c->fd, (off_t)c->m.size) != 0) {
			e = errno;
		}
		if (e == 0) {
			e = set_attrs(u, c->fd, &c->m, c->existed ? &c->old : NULL);
		}
		if (e == 0 && fsync(c->fd) != 0) {
			e = errno;
		}
		if (e == 0 && c->tmp == NULL) {
			char proc[64];

			snprintf(proc, sizeof(proc), "/proc/self/fd/%d", c->fd);
			c->tmp = tmp_name(u, u);
			if (linkat(AT_FDCWD, proc, c->dirfd, c->tmp, AT_SYMLINK_FOLLOW) != 0) {
				e = errno;
				TALLOC_FREE(c->tmp);
			}
		}
		if (e == 0) {
			e = place(c->dirfd, c->tmp, c->name);
			TALLOC_FREE(c->tmp);
		}
		if (e != 0) {
			fail_errno(u, c->disp, e);
		} else {
			u->files++;
			u->bytes += c->m.size;
		}
	}
	drop_file(u);
	TALLOC_FREE(c->disp);
	TALLOC_FREE(c->name);
	u->expect_tail = false;
}

static void do_link(struct mg__unpack *u, const char *rel, const char *disp,
		    const struct mg__rec_meta *m, const char *hard)
{
	struct timespec ts[2] = { { (time_t)m->atime_s, m->atime_ns },
				  { (time_t)m->mtime_s, m->mtime_ns } };
	char *tmp = tmp_name(u, u);
	const char *name, *hname, *why;
	int dfd = parent(u, rel, &name), hfd = -1, e = 0;
	struct stat st;

	if (dfd < 0 || tmp == NULL) {
		e = dfd < 0 ? errno : ENOMEM;
	} else if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		   (why = no_replace(dfd, name, &st)) != NULL) {
		fail(u, disp, why);
		talloc_free(tmp);
		return;
	} else if (hard != NULL) {
		hfd = walk(u, hard, &hname);
		if (hfd < 0 || linkat(hfd, hname, dfd, tmp, 0) != 0) {
			e = errno;
		}
	} else {
		char *target = talloc_strndup(tmp, m->target, m->target_len);

		if (target == NULL || symlinkat(target, dfd, tmp) != 0) {
			e = target == NULL ? ENOMEM : errno;
		} else if ((u->flags & MG__FILE_PRESERVE) != 0) {
			utimensat(dfd, tmp, ts, AT_SYMLINK_NOFOLLOW);
			if (u->is_root) {
				fchownat(dfd, tmp, m->uid, m->gid, AT_SYMLINK_NOFOLLOW);
			}
		}
	}
	if (e == 0) {
		e = place(dfd, tmp, name);
	}
	if (e == 0 && hard != NULL) {
		/* name was already a link to that file (its own copy failed
		 * this time): rename(2) then does nothing and leaves tmp. */
		unlinkat(dfd, tmp, 0);
	}
	if (e != 0) {
		fail_errno(u, disp, e);
	} else if (hard == NULL) {
		u->files++;
	}
	if (hfd >= 0) {
		close(hfd);
	}
	talloc_free(tmp);
}

static void bad_stream(struct mg__unpack *u, const char *why)
{
	if (u->st != P_BAD) {
		if (u->c.disp != NULL) {
			fail(u, u->c.disp, why);
		} else {
			fail(u, u->root_disp, why);
		}
		drop_file(u);
	}
	u->st = P_BAD;
}

static void fix_left(struct mg__unpack *u, const char *rel);

static void on_record(struct mg__unpack *u, char type)
{
	TALLOC_CTX *tmp = talloc_new(u);
	struct mg__rec_meta m;
	char *rel = NULL, *disp, *hard = NULL;

	if (tmp == NULL || mg__rec_decode(type, u->hbuf, u->hlen, &m) != 0 ||
	    u->expect_tail != (type == MG__REC_TAIL) ||
	    (type == MG__REC_TAIL && u->left > 0 && m.err == 0)) {
		/* (A tail before the file's size is all there only says why
		 * it ended early.) */
		bad_stream(u, "corrupt file stream from the far end");
		talloc_free(tmp);
		return;
	}
	u->st = P_PREFIX;
	if (type == MG__REC_TAIL) {
		file_tail(u, &m);
	} else if (type == MG__REC_END) {
		u->st = P_DONE;
	} else if (type == MG__REC_ERROR) {
		report(u, true, talloc_strndup(tmp, m.path, m.path_len),
		       talloc_strndup(tmp, m.target, m.target_len));
	} else {
		rel = map_path(u, tmp, m.path, m.path_len);
		disp = rel != NULL ? disp_path(u, tmp, rel) : talloc_strndup(tmp, m.path, m.path_len);
		if (type == MG__REC_HARD) {
			hard = map_path(u, tmp, m.target, m.target_len);
		}
		if (rel == NULL || (type == MG__REC_HARD && hard == NULL)) {
			fail(u, disp, rel == NULL ? "unsafe name from the far end (refused)"
				       : "unsafe hard link target from the far end (refused)");
			rel = NULL;
		} else if (!top_ok(u, rel, true) || (hard != NULL && !top_ok(u, hard, false))) {
			/* Beside the sources in DEST (scp's CVE-2019-6111):
			 * a far end would replace whatever is there. */
			fail(u, disp,
			     "not a name of the sources asked for, from the far end (refused)");
			rel = NULL;
		} else if ((type == MG__REC_LINK || type == MG__REC_HARD) &&
			   (u->flags & MG__FILE_LINKS) == 0) {
			/* Without -a the sender follows symlinks: one sent
			 * anyway would be planted where files were asked for
			 * (and followed by the next copy of this tree). */
			fail(u, disp, "a link from the far end without -a (refused)");
			rel = NULL;
		} else if (u->dir_only != NULL && type != MG__REC_DIR && strchr(rel, '/') == NULL) {
			/* As cp: 'cannot create regular file DEST/' */
			fail(u, u->dir_only, strerror(ENOTDIR));
			rel = NULL;
		}
		if (rel != NULL) {
			fix_left(u, rel);
		}
		if (type == MG__REC_FILE || type == MG__REC_CFILE) {
			do_file(u, rel, disp, &m);
		} else if (rel != NULL && skipped(u, rel)) {
			/* under a directory that failed */
		} else if (type == MG__REC_DIR && rel != NULL) {
			do_dir(u, rel, disp, &m);
		} else if (rel != NULL) {
			do_link(u, rel, disp, &m, hard);
		}
	}
	talloc_free(tmp);
}

/* A 'B' record's prefix (its length in hlen): its bytes follow, only
 * in a 'C' file and no more than the file has left. */
static void bytes_record(struct mg__unpack *u)
{
	if (!u->pieces || !u->expect_tail || u->hlen == 0 || u->hlen > MG__REC_BYTES_MAX ||
	    u->hlen > u->left) {
		bad_stream(u, "corrupt file stream from the far end");
		return;
	}
	u->run = u->hlen;
	u->st = P_DATA;
}

/* The stream of records, decoded. */
static void feed_records(void *data, const uint8_t *p, size_t n)
{
	struct mg__unpack *u = data;

	while (n > 0) {
		size_t k;

		switch (u->st) {
		case P_PREFIX:
			k = MG__REC_PREFIX - u->pre_n;
			k = k < n ? k : n;
			memcpy(u->pre + u->pre_n, p, k);
			u->pre_n += k;
			if (u->pre_n == MG__REC_PREFIX) {
				u->pre_n = 0;
				u->hlen = mg__get_be32(u->pre + 1);
				u->hgot = 0;
				u->st = P_HDR;
				if (u->pre[0] == MG__REC_BYTES) {
					bytes_record(u);
				} else if (u->hlen > MG__REC_MAX) {
					bad_stream(u, "corrupt file stream from the far end");
				} else if (u->hlen == 0) {
					on_record(u, (char)u->pre[0]);
				}
			}
			break;
		case P_HDR:
			k = u->hlen - u->hgot;
			k = k < n ? k : n;
			memcpy(u->hbuf + u->hgot, p, k);
			u->hgot += (uint32_t)k;
			if (u->hgot == u->hlen) {
				on_record(u, (char)u->pre[0]);
			}
			break;
		case P_DATA:
			k = u->run < n ? (size_t)u->run : n;
			file_data(u, p, k);
			u->data_bytes += k;
			u->left -= k;
			u->run -= k;
			if (u->run == 0) {
				u->st = P_PREFIX;
			}
			break;
		case P_DONE:
			bad_stream(u, "corrupt file stream from the far end");
			return;
		default:
			return;
		}
		p += k;
		n -= k;
	}
}

void mg__unpack_feed(void *data, const uint8_t *p, size_t n)
{
	struct mg__unpack *u = data;

	if (u->z == NULL) {
		feed_records(u, p, n);
	} else if (u->st != P_BAD && mg__zdec_feed(u->z, p, n) != 0) {
		bad_stream(u, "corrupt compressed data from the far end");
	}
}

/* Set the attributes of the last directory to fix up, and forget it. */
static void fix_last(struct mg__unpack *u)
{
	struct fixdir *f = &u->fix[--u->n_fix];
	char *rel = talloc_strndup(u, u->fix_rel, f->len);
	const char *name;
	int dfd = rel != NULL ? walk(u, rel, &name) : -1;
	int fd = dfd >= 0 ? openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) : -1;
	int e = rel == NULL ? ENOMEM : fd < 0 ? errno : set_attrs(u, fd, &f->m, NULL);

	if (e != 0) {
		char *disp = disp_path(u, u, rel != NULL ? rel : u->fix_rel);
		fail_errno(u, disp, e);
		talloc_free(disp);
	}
	if (fd >= 0) {
		close(fd);
	}
	if (dfd >= 0) {
		close(dfd);
	}
	talloc_free(rel);
}

/* The stream has reached rel (NULL: its end): the directories it has
 * left, those rel is not in, are done; fix them up, deepest first. The
 * sender walks depth first and never comes back to one it left. */
static void fix_left(struct mg__unpack *u, const char *rel)
{
	while (u->n_fix > 0) {
		size_t n = u->fix[u->n_fix - 1].len;

		if (rel != NULL && strncmp(rel, u->fix_rel, n) == 0 && rel[n] == '/') {
			break;
		}
		fix_last(u);
	}
}

unsigned mg__unpack_finish(struct mg__unpack *u, int err)
{
	if (u->st != P_DONE) {
		bad_stream(u, err != 0 ? mg_strerror(err) : "the transfer was cut short");
	}
	drop_file(u);
	fix_left(u, NULL);
	TALLOC_FREE(u->fix);
	TALLOC_FREE(u->fix_rel);
	return u->failures;
}

uint64_t mg__unpack_data_bytes(const struct mg__unpack *u)
{
	return u->data_bytes;
}

void mg__unpack_counts(const struct mg__unpack *u, uint64_t *_files, uint64_t *_bytes)
{
	*_files = u->files;
	*_bytes = u->bytes;
}

/* Where the stream goes: into dest, or as dest (one source, dest not an
 * existing directory). */
static char *setup_root(struct mg__unpack *u, TALLOC_CTX *mem_ctx, const char *dest,
			uint32_t n_top)
{
	struct stat st;
	char *dir, *slash;
	int e = stat(dest, &st) == 0 ? 0 : errno;

	if (e == 0 && S_ISDIR(st.st_mode)) {
		u->root = open(dest, O_PATH | O_DIRECTORY | O_CLOEXEC);
		u->root_disp = talloc_strdup(u, dest);
		return u->root < 0 ? talloc_asprintf(mem_ctx, "%s: %s", dest, strerror(errno)) : NULL;
	}
	if (n_top > 1 || ((u->flags & MG__FILE_INTO) != 0 && e != ENOENT)) {
		return talloc_asprintf(mem_ctx, "%s: %s", dest,
				       strerror(e == ENOENT ? ENOENT : ENOTDIR));
	}
	if ((u->flags & MG__FILE_INTO) != 0) {
		/* One source to a DEST/ that is not there: made as the copy
		 * of a directory, as cp -r and scp -r make it; a file fails. */
		u->dir_only = talloc_strdup(u, dest);
	}
	dir = talloc_strdup(u, dest);
	if (dir == NULL) {
		return talloc_strdup(mem_ctx, strerror(ENOMEM));
	}
	for (size_t n = strlen(dir); n > 1 && dir[n - 1] == '/'; n--) {
		dir[n - 1] = '\0';
	}
	slash = strrchr(dir, '/');
	u->rename_top = talloc_strdup(u, slash != NULL ? slash + 1 : dir);
	if (slash == dir) {
		dir[1] = '\0';
	} else if (slash != NULL) {
		*slash = '\0';
	} else {
		dir = talloc_strdup(u, ".");
	}
	if (u->rename_top == NULL || u->rename_top[0] == '\0' || strcmp(u->rename_top, ".") == 0 ||
	    strcmp(u->rename_top, "..") == 0) {
		return talloc_asprintf(mem_ctx, "%s: not a file name", dest);
	}
	u->root_disp = dir;
	u->root = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	return u->root < 0 ? talloc_asprintf(mem_ctx, "%s: %s", dest, strerror(errno)) : NULL;
}

struct mg__unpack *mg__unpack_new(TALLOC_CTX *mem_ctx, const char *dest, uint32_t flags,
				  uint32_t umask_given, uint32_t n_top, mg__unpack_error_fn err, void *data,
				  char **_errmsg)
{
	struct mg__unpack *u = talloc_zero(mem_ctx, struct mg__unpack);

	if (u == NULL) {
		return NULL;
	}
	u->root = -1;
	u->cache_fd = -1;
	u->c.fd = -1;
	u->flags = flags;
	u->err = err;
	u->data = data;
	talloc_set_destructor(u, unpack_destructor);
	/* Read the umask: new files get the source's mode less it, as cp.
	 * (One thread runs the loop; nothing creates files in between.) A
	 * holder's agent is given its client's (mitogen-cp --persist). */
	if ((flags & MG__FILE_UMASK) != 0) {
		u->umask = (mode_t)(umask_given & 0777);
	} else {
		u->umask = umask(022);
		umask(u->umask);
	}
	u->is_root = geteuid() == 0;
	u->use_tmpfile = access("/proc/self/fd", X_OK) == 0;
	u->hbuf = talloc_size(u, MG__REC_MAX);
	if ((flags & MG__FILE_COMPRESS) != 0 &&
	    (u->z = mg__zdec_new(u, feed_records, u)) == NULL) {
		talloc_free(u);
		return NULL;
	}
	if (u->hbuf == NULL || (*_errmsg = setup_root(u, mem_ctx, dest, n_top)) != NULL) {
		talloc_free(u);
		return NULL;
	}
	return u;
}
