/* The SFTP requests on handles (OPEN, READ, WRITE, directories, ...),
 * the extensions, and the dispatch of every packet. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <unistd.h>
#include "sftp.h"

void sftp_status(struct sftp_server *s, uint32_t id, uint32_t code, const char *msg)
{
	sftp_begin(&s->out, SSH_FXP_STATUS, id, true);
	sftp_put_u32(&s->out, code);
	sftp_put_cstr(&s->out, msg);
	sftp_put_cstr(&s->out, "");
	sftp_end(&s->out);
}

void sftp_status_errno(struct sftp_server *s, uint32_t id, int err)
{
	sftp_status(s, id, sftp_errno_status(err), err == 0 ? "Success" : strerror(err));
}

static void bad_message(struct sftp_server *s, uint32_t id)
{
	sftp_status(s, id, SSH_FX_BAD_MESSAGE, "Bad message");
}

/* A handle is its slot's number, four bytes. */
static void reply_handle(struct sftp_server *s, uint32_t id, uint32_t slot)
{
	uint8_t h[4] = { (uint8_t)(slot >> 24), (uint8_t)(slot >> 16), (uint8_t)(slot >> 8), (uint8_t)slot };

	sftp_begin(&s->out, SSH_FXP_HANDLE, id, true);
	sftp_put_str(&s->out, h, sizeof(h));
	sftp_end(&s->out);
}

static int new_handle(struct sftp_server *s)
{
	for (int i = 0; i < SFTP_MAX_HANDLES; i++) {
		if (!s->handles[i].used) {
			s->handles[i] = (struct sftp_handle){ .fd = -1, .used = true };
			return i;
		}
	}
	return -1;
}

/* The handle argument, if it names an open file (dir false) or
 * directory (dir true). */
static struct sftp_handle *get_handle(struct sftp_server *s, struct sftp_in *in, bool dir)
{
	uint32_t n, slot;
	const uint8_t *p = sftp_get_str(in, &n);
	struct sftp_handle *h;

	if (p == NULL || n != 4) {
		return NULL;
	}
	slot = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
	if (slot >= SFTP_MAX_HANDLES) {
		return NULL;
	}
	h = &s->handles[slot];
	return h->used && (dir ? h->dir != NULL : h->fd >= 0) ? h : NULL;
}

static void close_handle(struct sftp_handle *h)
{
	if (h->dir != NULL) {
		closedir(h->dir);
	} else if (h->fd >= 0) {
		close(h->fd);
	}
	*h = (struct sftp_handle){ .fd = -1 };
}

void sftp_close_all(struct sftp_server *s)
{
	for (int i = 0; i < SFTP_MAX_HANDLES; i++) {
		if (s->handles[i].used) {
			close_handle(&s->handles[i]);
		}
	}
}

static int open_flags(uint32_t pf)
{
	int flags = (pf & SSH_FXF_READ) && (pf & SSH_FXF_WRITE) ? O_RDWR
		    : (pf & SSH_FXF_WRITE) ? O_WRONLY : O_RDONLY;

	flags |= (pf & SSH_FXF_APPEND) ? O_APPEND : 0;
	flags |= (pf & SSH_FXF_CREAT) ? O_CREAT : 0;
	flags |= (pf & SSH_FXF_TRUNC) ? O_TRUNC : 0;
	flags |= (pf & SSH_FXF_EXCL) ? O_EXCL : 0;
	return flags | O_CLOEXEC | O_NOCTTY;
}

static void do_open(struct sftp_server *s, uint32_t id, struct sftp_in *in)
{
	char path[PATH_MAX];
	struct sftp_attrs a;
	bool ok = sftp_get_path(s, in, path);
	uint32_t pf = sftp_get_u32(in);
	int slot, fd;

	sftp_get_attrs(in, &a);
	if (!ok || !in->ok) {
		bad_message(s, id);
		return;
	}
	if ((slot = new_handle(s)) < 0) {
		sftp_status(s, id, SSH_FX_FAILURE, "Too many open handles");
		return;
	}
	fd = open(path, open_flags(pf), (a.flags & SSH_FILEXFER_ATTR_PERMISSIONS) ? a.perm & 07777 : 0666);
	if (fd < 0) {
		s->handles[slot].used = false;
		sftp_status_errno(s, id, errno);
		return;
	}
	s->handles[slot].fd = fd;
	reply_handle(s, id, (uint32_t)slot);
}

static void do_opendir(struct sftp_server *s, uint32_t id, struct sftp_in *in)
{
	char path[PATH_MAX];
	DIR *d;
	int slot;

	if (!sftp_get_path(s, in, path)) {
		bad_message(s, id);
		return;
	}
	if ((slot = new_handle(s)) < 0) {
		sftp_status(s, id, SSH_FX_FAILURE, "Too many open handles");
		return;
	}
	if ((d = opendir(path)) == NULL) {
		s->handles[slot].used = false;
		sftp_status_errno(s, id, errno);
		return;
	}
	s->handles[slot].dir = d;
	reply_handle(s, id, (uint32_t)slot);
}

static void do_close(struct sftp_server *s, uint32_t id, struct sftp_in *in)
{
	struct sftp_in again = *in;
	struct sftp_handle *h = get_handle(s, in, false);

	if (h == NULL) {
		h = get_handle(s, &again, true);
	}
	if (h == NULL) {
		/* OpenSSH's status for a handle that is not open. */
		sftp_status(s, id, SSH_FX_NO_SUCH_FILE, "Invalid handle");
		return;
	}
	/* close() reports a delayed write error (NFS, quotas). */
	int err = h->dir == NULL && close(h->fd) != 0 ? errno : 0;
	if (h->dir == NULL) {
		h->fd = -1;
	}
	close_handle(h);
	sftp_status_errno(s, id, err);
}

static void do_read(struct sftp_server *s, uint32_t id, struct sftp_in *in)
{
	struct sftp_handle *h = get_handle(s, in, false);
	uint64_t off = sftp_get_u64(in);
	uint32_t len = sftp_get_u32(in);
	struct sftp_out *out = &s->out;
	ssize_t n;

	if (h == NULL || !in->ok || off > INT64_MAX) {
		sftp_status(s, id, h == NULL ? SSH_FX_FAILURE : SSH_FX_BAD_MESSAGE,
			    h == NULL ? "Invalid handle" : "Bad message");
		return;
	}
	len = len > SFTP_MAX_DATA ? SFTP_MAX_DATA : len;
	sftp_begin(out, SSH_FXP_DATA, id, true);
	sftp_put_u32(out, 0);
	if (!out->ok || out->cap - out->len < len) {
		out->ok = false;
		sftp_end(out);
		return;
	}
	do {
		n = len > 0 ? pread(h->fd, out->buf + out->len, len, (off_t)off) : 0;
	} while (n < 0 && errno == EINTR);
	/* Asked for nothing: an empty DATA, even at the end, as OpenSSH's. */
	if (n < 0 || (n == 0 && len > 0)) {
		int err = errno;
		out->len = out->start;
		if (n == 0) {
			sftp_status(s, id, SSH_FX_EOF, "End of file");
		} else {
			sftp_status_errno(s, id, err);
		}
		return;
	}
	out->len -= 4;
	sftp_put_u32(out, (uint32_t)n);
	out->len += (size_t)n;
	sftp_end(out);
}

static void do_write(struct sftp_server *s, uint32_t id, struct sftp_in *in)
{
	struct sftp_handle *h = get_handle(s, in, false);
	uint64_t off = sftp_get_u64(in);
	uint32_t len;
	const uint8_t *p = sftp_get_str(in, &len);
	int err = 0;

	if (h == NULL || p == NULL || off > INT64_MAX - (uint64_t)len) {
		sftp_status(s, id, h == NULL ? SSH_FX_FAILURE : SSH_FX_BAD_MESSAGE,
			    h == NULL ? "Invalid handle" : "Bad message");
		return;
	}
	while (len > 0) {
		ssize_t n = pwrite(h->fd, p, len, (off_t)off);
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n <= 0) {
			err = n < 0 ? errno : EIO;
			break;
		}
		p += n;
		len -= (uint32_t)n;
		off += (uint64_t)n;
	}
	sftp_status_errno(s, id, err);
}

static void reply_attrs(struct sftp_server *s, uint32_t id, const struct stat *st)
{
	struct sftp_attrs a;

	sftp_stat_to_attrs(st, &a);
	sftp_begin(&s->out, SSH_FXP_ATTRS, id, true);
	sftp_put_attrs(&s->out, &a);
	sftp_end(&s->out);
}

static void do_fstat(struct sftp_server *s, uint32_t id, struct sftp_in *in)
{
	struct sftp_handle *h = get_handle(s, in, false);
	struct stat st;

	if (h == NULL) {
		sftp_status(s, id, SSH_FX_FAILURE, "Invalid handle");
	} else if (fstat(h->fd, &st) != 0) {
		sftp_status_errno(s, id, errno);
	} else {
		reply_attrs(s, id, &st);
	}
}

static void do_fsetstat(struct sftp_server *s, uint32_t id, struct sftp_in *in)
{
	struct sftp_handle *h = get_handle(s, in, false);
	struct sftp_attrs a;

	sftp_get_attrs(in, &a);
	if (h == NULL || !in->ok) {
		sftp_status(s, id, h == NULL ? SSH_FX_FAILURE : SSH_FX_BAD_MESSAGE,
			    h == NULL ? "Invalid handle" : "Bad message");
		return;
	}
	sftp_status_errno(s, id, sftp_set_attrs(NULL, h->fd, &a));
}

/* At most this many names per READDIR reply: well under a packet. */
#define READDIR_BATCH 100

static void do_readdir(struct sftp_server *s, uint32_t id, struct sftp_in *in)
{
	struct sftp_handle *h = get_handle(s, in, true);
	struct sftp_out *out = &s->out;
	uint32_t count = 0;
	size_t count_at;
	struct dirent *de;

	if (h == NULL) {
		sftp_status(s, id, SSH_FX_FAILURE, "Invalid handle");
		return;
	}
	sftp_begin(out, SSH_FXP_NAME, id, true);
	count_at = out->len;
	sftp_put_u32(out, 0);
	while (count < READDIR_BATCH && (de = readdir(h->dir)) != NULL) {
		char longname[1024];
		struct sftp_attrs a;
		struct stat st;
		if (fstatat(dirfd((DIR *)h->dir), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
			continue;
		}
		sftp_stat_to_attrs(&st, &a);
		sftp_longname(longname, sizeof(longname), de->d_name, &st);
		sftp_put_cstr(out, de->d_name);
		sftp_put_cstr(out, longname);
		sftp_put_attrs(out, &a);
		count++;
	}
	if (count == 0) {
		out->len = out->start;
		sftp_status(s, id, SSH_FX_EOF, "End of directory");
		return;
	}
	if (out->ok) {
		size_t end = out->len;
		out->len = count_at;
		sftp_put_u32(out, count);
		out->len = end;
	}
	sftp_end(out);
}

uint64_t sftp_fsid(int fd, const char *path)
{
	struct statfs f;
	int32_t half[2];

	if ((fd >= 0 ? fstatfs(fd, &f) : statfs(path, &f)) != 0) {
		return 0;
	}
	memcpy(half, &f.f_fsid, sizeof(half));
	/* glibc's statvfs f_fsid, which OpenSSH's server sends: both halves
	 * of the kernel's, the first sign-extended (musl's keeps it alone). */
	return (uint64_t)(int64_t)half[0] | (uint64_t)(uint32_t)half[1] << 32;
}

void sftp_statvfs_reply(struct sftp_server *s, uint32_t id, const struct statvfs *v, uint64_t fsid)
{
	sftp_begin(&s->out, SSH_FXP_EXTENDED_REPLY, id, true);
	sftp_put_u64(&s->out, v->f_bsize);
	sftp_put_u64(&s->out, v->f_frsize);
	sftp_put_u64(&s->out, v->f_blocks);
	sftp_put_u64(&s->out, v->f_bfree);
	sftp_put_u64(&s->out, v->f_bavail);
	sftp_put_u64(&s->out, v->f_files);
	sftp_put_u64(&s->out, v->f_ffree);
	sftp_put_u64(&s->out, v->f_favail);
	sftp_put_u64(&s->out, fsid);
	/* The extension's own bits: 1 read-only, 2 nosuid. */
	sftp_put_u64(&s->out, ((v->f_flag & ST_RDONLY) ? 1u : 0u) | ((v->f_flag & ST_NOSUID) ? 2u : 0u));
	sftp_put_u64(&s->out, v->f_namemax);
	sftp_end(&s->out);
}

static void do_fstatvfs(struct sftp_server *s, uint32_t id, struct sftp_in *in)
{
	struct sftp_handle *h = get_handle(s, in, false);
	struct statvfs v;

	if (h == NULL) {
		sftp_status(s, id, SSH_FX_FAILURE, "Invalid handle");
	} else if (fstatvfs(h->fd, &v) != 0) {
		sftp_status_errno(s, id, errno);
	} else {
		sftp_statvfs_reply(s, id, &v, sftp_fsid(h->fd, NULL));
	}
}

static void do_fsync(struct sftp_server *s, uint32_t id, struct sftp_in *in)
{
	struct sftp_handle *h = get_handle(s, in, false);

	if (h == NULL) {
		sftp_status(s, id, SSH_FX_NO_SUCH_FILE, "Invalid handle");
	} else {
		sftp_status_errno(s, id, fsync(h->fd) != 0 ? errno : 0);
	}
}

static void do_limits(struct sftp_server *s, uint32_t id, struct sftp_in *in)
{
	(void)in;
	sftp_begin(&s->out, SSH_FXP_EXTENDED_REPLY, id, true);
	sftp_put_u64(&s->out, SFTP_MAX_PACKET);
	sftp_put_u64(&s->out, SFTP_MAX_DATA);
	sftp_put_u64(&s->out, SFTP_MAX_DATA);
	sftp_put_u64(&s->out, SFTP_MAX_HANDLES);
	sftp_end(&s->out);
}

/* copy-data: bytes from one open file to another, within the server;
 * a length of 0 copies to the end. Short of the length: EOF. */
static int copy_range(int from, uint64_t roff, uint64_t len, int to, uint64_t woff)
{
	uint8_t buf[64 * 1024];

	while (len > 0) {
		ssize_t n = pread(from, buf, len < sizeof(buf) ? (size_t)len : sizeof(buf), (off_t)roff);
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n <= 0) {
			return n < 0 ? errno : -1;
		}
		for (ssize_t done = 0; done < n;) {
			ssize_t w = pwrite(to, buf + done, (size_t)(n - done), (off_t)(woff + (uint64_t)done));
			if (w < 0 && errno == EINTR) {
				continue;
			}
			if (w <= 0) {
				return w < 0 ? errno : EIO;
			}
			done += w;
		}
		roff += (uint64_t)n;
		woff += (uint64_t)n;
		len -= (uint64_t)n;
	}
	return 0;
}

static void do_copy_data(struct sftp_server *s, uint32_t id, struct sftp_in *in)
{
	struct sftp_handle *from = get_handle(s, in, false);
	uint64_t roff = sftp_get_u64(in), len = sftp_get_u64(in);
	struct sftp_handle *to = get_handle(s, in, false);
	uint64_t woff = sftp_get_u64(in);
	struct stat a, b;
	int err;

	if (!in->ok || roff > INT64_MAX || woff > INT64_MAX) {
		bad_message(s, id);
	} else if (from == NULL || to == NULL) {
		sftp_status(s, id, SSH_FX_FAILURE, "Invalid handle");
	} else if (fstat(from->fd, &a) != 0 || fstat(to->fd, &b) != 0) {
		sftp_status_errno(s, id, errno);
	} else if (a.st_dev == b.st_dev && a.st_ino == b.st_ino) {
		/* Refused as OpenSSH's server refuses it. */
		sftp_status(s, id, SSH_FX_FAILURE, "Source and destination are the same file");
	} else if ((err = copy_range(from->fd, roff, len == 0 ? UINT64_MAX : len, to->fd, woff)) < 0) {
		sftp_status(s, id, len == 0 ? SSH_FX_OK : SSH_FX_EOF, len == 0 ? "Success" : "End of file");
	} else {
		sftp_status_errno(s, id, err);
	}
}

/* users-groups-by-id@openssh.com: the name of each id in the string
 * (four bytes each), "" for an unknown one, as one string. */
static void put_id_names(struct sftp_out *out, const uint8_t *ids, uint32_t n, bool users)
{
	size_t at = out->len, end;

	sftp_put_u32(out, 0);
	for (uint32_t i = 0; i + 4 <= n; i += 4) {
		uint32_t v = (uint32_t)ids[i] << 24 | (uint32_t)ids[i + 1] << 16 | (uint32_t)ids[i + 2] << 8 | ids[i + 3];
		struct passwd *pw = users ? getpwuid(v) : NULL;
		struct group *gr = users ? NULL : getgrgid(v);
		sftp_put_cstr(out, pw != NULL ? pw->pw_name : gr != NULL ? gr->gr_name : "");
	}
	if (out->ok) {
		end = out->len;
		out->len = at;
		sftp_put_u32(out, (uint32_t)(end - at - 4));
		out->len = end;
	}
}

static void do_users_groups(struct sftp_server *s, uint32_t id, struct sftp_in *in)
{
	uint32_t nu, ng;
	const uint8_t *u = sftp_get_str(in, &nu), *g = sftp_get_str(in, &ng);

	if (u == NULL || g == NULL || nu % 4 != 0 || ng % 4 != 0) {
		bad_message(s, id);
		return;
	}
	sftp_begin(&s->out, SSH_FXP_EXTENDED_REPLY, id, true);
	put_id_names(&s->out, u, nu, true);
	put_id_names(&s->out, g, ng, false);
	sftp_end(&s->out);
}

/* The extensions, by name, and the version each announces: OpenSSH's
 * list, in its order. */
static const struct {
	const char *name, *version;
	sftp_handler *fn;
} extensions[] = {
	{ "posix-rename@openssh.com", "1", sftp_do_posix_rename },
	{ "statvfs@openssh.com", "2", sftp_do_statvfs },
	{ "fstatvfs@openssh.com", "2", do_fstatvfs },
	{ "hardlink@openssh.com", "1", sftp_do_hardlink },
	{ "fsync@openssh.com", "1", do_fsync },
	{ "lsetstat@openssh.com", "1", sftp_do_lsetstat },
	{ "limits@openssh.com", "1", do_limits },
	{ "expand-path@openssh.com", "1", sftp_do_expand_path },
	{ "copy-data", "1", do_copy_data },
	{ "home-directory", "1", sftp_do_home_directory },
	{ "users-groups-by-id@openssh.com", "1", do_users_groups },
};

static void do_extended(struct sftp_server *s, uint32_t id, struct sftp_in *in)
{
	uint32_t n;
	const uint8_t *name = sftp_get_str(in, &n);

	for (size_t i = 0; name != NULL && i < sizeof(extensions) / sizeof(extensions[0]); i++) {
		if (strlen(extensions[i].name) == n && memcmp(name, extensions[i].name, n) == 0) {
			extensions[i].fn(s, id, in);
			return;
		}
	}
	sftp_status(s, id, name == NULL ? SSH_FX_BAD_MESSAGE : SSH_FX_OP_UNSUPPORTED,
		    name == NULL ? "Bad message" : "Unsupported extension");
}

static sftp_handler *const handlers[] = {
	[SSH_FXP_OPEN] = do_open, [SSH_FXP_CLOSE] = do_close, [SSH_FXP_READ] = do_read,
	[SSH_FXP_WRITE] = do_write, [SSH_FXP_LSTAT] = sftp_do_lstat, [SSH_FXP_FSTAT] = do_fstat,
	[SSH_FXP_SETSTAT] = sftp_do_setstat, [SSH_FXP_FSETSTAT] = do_fsetstat,
	[SSH_FXP_OPENDIR] = do_opendir, [SSH_FXP_READDIR] = do_readdir,
	[SSH_FXP_REMOVE] = sftp_do_remove, [SSH_FXP_MKDIR] = sftp_do_mkdir,
	[SSH_FXP_RMDIR] = sftp_do_rmdir, [SSH_FXP_REALPATH] = sftp_do_realpath,
	[SSH_FXP_STAT] = sftp_do_stat, [SSH_FXP_RENAME] = sftp_do_rename,
	[SSH_FXP_READLINK] = sftp_do_readlink, [SSH_FXP_SYMLINK] = sftp_do_symlink,
};

static void reply_version(struct sftp_server *s)
{
	sftp_begin(&s->out, SSH_FXP_VERSION, 0, false);
	sftp_put_u32(&s->out, 3);
	for (size_t i = 0; i < sizeof(extensions) / sizeof(extensions[0]); i++) {
		sftp_put_cstr(&s->out, extensions[i].name);
		sftp_put_cstr(&s->out, extensions[i].version);
	}
	sftp_end(&s->out);
}

int sftp_process(struct sftp_server *s, const uint8_t *pkt, size_t len)
{
	struct sftp_in in = { .p = pkt, .left = len, .ok = true };
	uint8_t type = sftp_get_u8(&in);
	uint32_t id;

	if (type == SSH_FXP_INIT || !s->initialized) {
		if (type != SSH_FXP_INIT || s->initialized) {
			fprintf(stderr, "mitogen-sftp-server: %s\n",
				s->initialized ? "a second INIT" : "a request before INIT");
			return -1;
		}
		/* The client's version and extensions: we speak 3 whatever. */
		s->initialized = true;
		reply_version(s);
		return 0;
	}
	id = sftp_get_u32(&in);
	if (!in.ok) {
		bad_message(s, id);
	} else if (type < sizeof(handlers) / sizeof(handlers[0]) && handlers[type] != NULL) {
		handlers[type](s, id, &in);
	} else if (type == SSH_FXP_EXTENDED) {
		do_extended(s, id, &in);
	} else {
		sftp_status(s, id, SSH_FX_OP_UNSUPPORTED, "Operation unsupported");
	}
	if (!s->out.ok) {
		/* A reply that did not fit was dropped: the client still
		 * gets one. */
		s->out.ok = true;
		sftp_status(s, id, SSH_FX_FAILURE, "Reply too long");
	}
	return 0;
}
