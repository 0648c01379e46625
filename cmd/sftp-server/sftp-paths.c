/* The SFTP requests on paths: STAT, SETSTAT, REMOVE, MKDIR, RENAME,
 * REALPATH, links, and the path extensions. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/time.h>
#include <unistd.h>
#include "sftp.h"

bool sftp_get_path(struct sftp_server *s, struct sftp_in *in, char *buf)
{
	char raw[PATH_MAX];

	if (s->sandbox == NULL) {
		return sftp_get_cstr(in, buf, PATH_MAX);
	}
	if (!sftp_get_cstr(in, raw, sizeof(raw))) {
		return false;
	}
	for (const char *p = raw; (p = strstr(p, "..")) != NULL; p += 2) {
		if ((p == raw || p[-1] == '/') && (p[2] == '\0' || p[2] == '/')) {
			return false;
		}
	}
	return (size_t)snprintf(buf, PATH_MAX, "%s/%s", s->sandbox, raw) < PATH_MAX;
}

/* As OpenSSH's server: every attribute asked for is tried, and the
 * last failure is the answer (a size refused still leaves the mode set). */
int sftp_set_attrs(const char *path, int fd, const struct sftp_attrs *a)
{
	int err = 0;

	if (a->flags & SSH_FILEXFER_ATTR_SIZE) {
		if (a->size > INT64_MAX) {
			err = EINVAL;
		} else if ((fd >= 0 ? ftruncate(fd, (off_t)a->size) : truncate(path, (off_t)a->size)) != 0) {
			err = errno;
		}
	}
	if ((a->flags & SSH_FILEXFER_ATTR_PERMISSIONS) &&
	    (fd >= 0 ? fchmod(fd, a->perm & 07777) : chmod(path, a->perm & 07777)) != 0) {
		err = errno;
	}
	if (a->flags & SSH_FILEXFER_ATTR_ACMODTIME) {
		struct timespec ts[2] = { { .tv_sec = a->atime }, { .tv_sec = a->mtime } };
		if ((fd >= 0 ? futimens(fd, ts) : utimensat(AT_FDCWD, path, ts, 0)) != 0) {
			err = errno;
		}
	}
	if ((a->flags & SSH_FILEXFER_ATTR_UIDGID) &&
	    (fd >= 0 ? fchown(fd, a->uid, a->gid) : chown(path, a->uid, a->gid)) != 0) {
		err = errno;
	}
	return err;
}

static void bad_message(struct sftp_server *s, uint32_t id)
{
	sftp_status(s, id, SSH_FX_BAD_MESSAGE, "Bad message");
}

static void stat_common(struct sftp_server *s, uint32_t id, struct sftp_in *in, bool follow)
{
	char path[PATH_MAX];
	struct sftp_attrs a;
	struct stat st;

	if (!sftp_get_path(s, in, path)) {
		bad_message(s, id);
	} else if ((follow ? stat(path, &st) : lstat(path, &st)) != 0) {
		sftp_status_errno(s, id, errno);
	} else {
		sftp_stat_to_attrs(&st, &a);
		sftp_begin(&s->out, SSH_FXP_ATTRS, id, true);
		sftp_put_attrs(&s->out, &a);
		sftp_end(&s->out);
	}
}

void sftp_do_stat(struct sftp_server *s, uint32_t id, struct sftp_in *in)
{
	stat_common(s, id, in, true);
}

void sftp_do_lstat(struct sftp_server *s, uint32_t id, struct sftp_in *in)
{
	stat_common(s, id, in, false);
}

/* A path, then attributes (SETSTAT, MKDIR); false after answering a
 * malformed request. */
static bool path_and_attrs(struct sftp_server *s, uint32_t id, struct sftp_in *in,
			   char *path, struct sftp_attrs *a)
{
	bool ok = sftp_get_path(s, in, path);

	sftp_get_attrs(in, a);
	if (!ok || !in->ok) {
		bad_message(s, id);
		return false;
	}
	return true;
}

void sftp_do_setstat(struct sftp_server *s, uint32_t id, struct sftp_in *in)
{
	char path[PATH_MAX];
	struct sftp_attrs a;

	if (path_and_attrs(s, id, in, path, &a)) {
		sftp_status_errno(s, id, sftp_set_attrs(path, -1, &a));
	}
}

/* lsetstat@openssh.com: SETSTAT on a link itself, never what it names. */
void sftp_do_lsetstat(struct sftp_server *s, uint32_t id, struct sftp_in *in)
{
	char path[PATH_MAX];
	struct sftp_attrs a;
	int err = 0;

	if (!path_and_attrs(s, id, in, path, &a)) {
		return;
	}
	if (a.flags & SSH_FILEXFER_ATTR_SIZE) {
		/* A link has no size to set: OpenSSH's answer. */
		bad_message(s, id);
		return;
	}
	if ((a.flags & SSH_FILEXFER_ATTR_PERMISSIONS) &&
	    fchmodat(AT_FDCWD, path, a.perm & 07777, AT_SYMLINK_NOFOLLOW) != 0) {
		err = errno;
	}
	if (a.flags & SSH_FILEXFER_ATTR_ACMODTIME) {
		struct timespec ts[2] = { { .tv_sec = a.atime }, { .tv_sec = a.mtime } };
		if (utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW) != 0) {
			err = errno;
		}
	}
	if ((a.flags & SSH_FILEXFER_ATTR_UIDGID) &&
	    fchownat(AT_FDCWD, path, a.uid, a.gid, AT_SYMLINK_NOFOLLOW) != 0) {
		err = errno;
	}
	sftp_status_errno(s, id, err);
}

/* One path argument, then f(path); its errno as the status. */
static void one_path(struct sftp_server *s, uint32_t id, struct sftp_in *in, int (*f)(const char *))
{
	char path[PATH_MAX];

	if (!sftp_get_path(s, in, path)) {
		bad_message(s, id);
		return;
	}
	sftp_status_errno(s, id, f(path) != 0 ? errno : 0);
}

void sftp_do_remove(struct sftp_server *s, uint32_t id, struct sftp_in *in)
{
	one_path(s, id, in, unlink);
}

void sftp_do_rmdir(struct sftp_server *s, uint32_t id, struct sftp_in *in)
{
	one_path(s, id, in, rmdir);
}

void sftp_do_mkdir(struct sftp_server *s, uint32_t id, struct sftp_in *in)
{
	char path[PATH_MAX];
	struct sftp_attrs a;

	if (!path_and_attrs(s, id, in, path, &a)) {
		return;
	}
	mode_t mode = (a.flags & SSH_FILEXFER_ATTR_PERMISSIONS) ? a.perm & 07777 : 0777;
	sftp_status_errno(s, id, mkdir(path, mode) != 0 ? errno : 0);
}

static void reply_name(struct sftp_server *s, uint32_t id, const char *name)
{
	struct sftp_attrs a = { 0 };

	sftp_begin(&s->out, SSH_FXP_NAME, id, true);
	sftp_put_u32(&s->out, 1);
	sftp_put_cstr(&s->out, name);
	sftp_put_cstr(&s->out, name);
	sftp_put_attrs(&s->out, &a);
	sftp_end(&s->out);
}

/* Links a name may go through, as OpenSSH's server counts them (its
 * SYMLOOP_MAX, 32, where <limits.h> has none: 33 are followed). */
#define REALPATH_LINKS 33

/* out (of length *n) without its last name; "/" stays. */
static void drop_last(char *out, size_t *n)
{
	if (*n > 1) {
		out[*n - 1] = '\0';
		*n = (size_t)(strrchr(out, '/') + 1 - out);
		out[*n] = '\0';
	}
}

/* Where the link at out points, put before what is left of the path. */
static int follow(char *out, size_t *n, char *left, bool last)
{
	char target[PATH_MAX];
	ssize_t k = readlink(out, target, sizeof(target) - 1);

	if (k < 0) {
		return errno;
	}
	target[k] = '\0';
	if (target[0] == '/') {
		*n = 1;
		out[1] = '\0';
	} else {
		drop_last(out, n);
	}
	if (!last) {
		size_t rest = strlen(left);

		if (k > 0 && target[k - 1] != '/') {
			target[k++] = '/';
		}
		if ((size_t)k + rest >= sizeof(target)) {
			return ENAMETOOLONG;
		}
		memcpy(target + k, left, rest + 1);
	}
	memcpy(left, target, strlen(target) + 1);
	return 0;
}

/*
 * The name REALPATH answers, found as OpenSSH's sftp-server finds it: by
 * its own walk, not realpath(3), which glibc and musl answer differently
 * ("file/.." is ENOTDIR to glibc). From "/" or the working directory,
 * name by name: "." and empty names are dropped, ".." drops the name
 * before it unlooked-at ("file/.." is the directory holding file), every
 * link is followed (a dangling one too: a client writing "through" it
 * creates what it points to), and a missing last name is kept (a file
 * about to be created); a missing name before it is ENOENT.
 */
static int resolve(const char *path, char *out)
{
	char left[PATH_MAX], name[PATH_MAX];
	unsigned links = 0;
	size_t n;

	if (path[0] == '/') {
		snprintf(out, PATH_MAX, "/");
		path++;
	} else if (getcwd(out, PATH_MAX) == NULL) {
		return errno;
	}
	n = strlen(out);
	if ((size_t)snprintf(left, sizeof(left), "%s", path) >= sizeof(left)) {
		return ENAMETOOLONG;
	}
	while (left[0] != '\0') {
		char *slash = strchr(left, '/');
		size_t len = slash != NULL ? (size_t)(slash - left) : strlen(left);
		struct stat st;

		memcpy(name, left, len);
		name[len] = '\0';
		memmove(left, left + len + (slash != NULL), strlen(left + len + (slash != NULL)) + 1);
		if (out[n - 1] != '/') {
			if (n + 1 >= PATH_MAX) {
				return ENAMETOOLONG;
			}
			out[n++] = '/';
			out[n] = '\0';
		}
		if (name[0] == '\0' || strcmp(name, ".") == 0) {
			continue;
		}
		if (strcmp(name, "..") == 0) {
			drop_last(out, &n);
			continue;
		}
		if (n + len >= PATH_MAX) {
			return ENAMETOOLONG;
		}
		memcpy(out + n, name, len + 1);
		n += len;
		if (lstat(out, &st) != 0) {
			return errno == ENOENT && slash == NULL ? 0 : errno;
		}
		if (S_ISLNK(st.st_mode)) {
			int err;

			if (links++ == REALPATH_LINKS) {
				return ELOOP;
			}
			if ((err = follow(out, &n, left, slash == NULL)) != 0) {
				return err;
			}
		}
	}
	if (n > 1 && out[n - 1] == '/') {
		out[n - 1] = '\0';
	}
	return 0;
}

void sftp_do_realpath(struct sftp_server *s, uint32_t id, struct sftp_in *in)
{
	char path[PATH_MAX], out[PATH_MAX];
	int err;

	if (!sftp_get_path(s, in, path)) {
		bad_message(s, id);
		return;
	}
	if (path[0] == '\0') {
		snprintf(path, sizeof(path), ".");
	}
	if ((err = resolve(path, out)) != 0) {
		sftp_status_errno(s, id, err);
		return;
	}
	reply_name(s, id, out);
}

/* "~", "~/..." and "~user/..." as the path from where we started (the
 * home, as sshd starts its server) and from user's home; into out. */
static int expand_tilde(const char *path, char *out)
{
	char user[256];
	const char *rest = path + 1 + strcspn(path + 1, "/");
	struct passwd *pw;

	if (path[0] != '~') {
		snprintf(out, PATH_MAX, "%s", path[0] != '\0' ? path : ".");
		return 0;
	}
	if (rest == path + 1) {
		snprintf(out, PATH_MAX, ".%s", rest);
		return 0;
	}
	if ((size_t)(rest - path - 1) >= sizeof(user)) {
		return ENOENT;
	}
	snprintf(user, sizeof(user), "%.*s", (int)(rest - path - 1), path + 1);
	if ((pw = getpwnam(user)) == NULL) {
		return ENOENT;
	}
	return (size_t)snprintf(out, PATH_MAX, "%s%s", pw->pw_dir, rest) < PATH_MAX ? 0 : ENAMETOOLONG;
}

/* expand-path@openssh.com: REALPATH after the "~" forms are expanded. */
void sftp_do_expand_path(struct sftp_server *s, uint32_t id, struct sftp_in *in)
{
	char path[PATH_MAX], full[PATH_MAX], out[PATH_MAX];
	int err;

	if (!sftp_get_path(s, in, path)) {
		bad_message(s, id);
		return;
	}
	if ((err = expand_tilde(path, full)) != 0) {
		sftp_status(s, id, sftp_errno_status(err), "No such user");
		return;
	}
	if ((err = resolve(full, out)) != 0) {
		sftp_status_errno(s, id, err);
		return;
	}
	reply_name(s, id, out);
}

/* home-directory: a user's home; ours for an empty name. */
void sftp_do_home_directory(struct sftp_server *s, uint32_t id, struct sftp_in *in)
{
	char user[256];
	struct passwd *pw;

	if (!sftp_get_cstr(in, user, sizeof(user))) {
		bad_message(s, id);
		return;
	}
	pw = user[0] != '\0' ? getpwnam(user) : getpwuid(getuid());
	if (pw == NULL) {
		sftp_status(s, id, SSH_FX_FAILURE, "No such user");
		return;
	}
	reply_name(s, id, pw->pw_dir);
}

void sftp_do_readlink(struct sftp_server *s, uint32_t id, struct sftp_in *in)
{
	char path[PATH_MAX], out[PATH_MAX];
	ssize_t n;

	if (!sftp_get_path(s, in, path)) {
		bad_message(s, id);
	} else if ((n = readlink(path, out, sizeof(out) - 1)) < 0) {
		sftp_status_errno(s, id, errno);
	} else {
		out[n] = '\0';
		reply_name(s, id, out);
	}
}

/* Two path arguments, then f(first, second); its errno as the status. */
static void two_paths(struct sftp_server *s, uint32_t id, struct sftp_in *in,
		      int (*f)(const char *, const char *))
{
	char a[PATH_MAX], b[PATH_MAX];

	if (!sftp_get_path(s, in, a) || !sftp_get_path(s, in, b)) {
		bad_message(s, id);
		return;
	}
	sftp_status_errno(s, id, f(a, b) != 0 ? errno : 0);
}

/* The draft's RENAME fails when the new name exists; a missing old
 * name is told first, as OpenSSH's server tells it. */
static int rename_noreplace(const char *from, const char *to)
{
	struct stat st;

	if (lstat(from, &st) != 0) {
		return -1;
	}
	if (lstat(to, &st) == 0) {
		errno = EEXIST;
		return -1;
	}
	return rename(from, to);
}

void sftp_do_rename(struct sftp_server *s, uint32_t id, struct sftp_in *in)
{
	two_paths(s, id, in, rename_noreplace);
}

void sftp_do_posix_rename(struct sftp_server *s, uint32_t id, struct sftp_in *in)
{
	two_paths(s, id, in, rename);
}

void sftp_do_hardlink(struct sftp_server *s, uint32_t id, struct sftp_in *in)
{
	two_paths(s, id, in, link);
}

void sftp_do_symlink(struct sftp_server *s, uint32_t id, struct sftp_in *in)
{
	char target[PATH_MAX], link_path[PATH_MAX];

	/* OpenSSH's order, which its clients send: the target, then the
	 * link's own path. The target is stored as given, never mapped. */
	if (!sftp_get_cstr(in, target, sizeof(target)) || !sftp_get_path(s, in, link_path)) {
		bad_message(s, id);
	} else if (s->sandbox != NULL) {
		sftp_status(s, id, SSH_FX_OP_UNSUPPORTED, "No links in the sandbox");
	} else {
		sftp_status_errno(s, id, symlink(target, link_path) != 0 ? errno : 0);
	}
}

void sftp_do_statvfs(struct sftp_server *s, uint32_t id, struct sftp_in *in)
{
	char path[PATH_MAX];
	struct statvfs v;

	if (!sftp_get_path(s, in, path)) {
		bad_message(s, id);
	} else if (statvfs(path, &v) != 0) {
		sftp_status_errno(s, id, errno);
	} else {
		sftp_statvfs_reply(s, id, &v, sftp_fsid(-1, path));
	}
}
