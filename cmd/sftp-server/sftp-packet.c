/* SFTP's wire types (big-endian integers, length-prefixed strings, the
 * attribute block) and what a reply says of a file or an errno. */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "sftp.h"

static const uint8_t *take(struct sftp_in *in, size_t n)
{
	const uint8_t *p = in->p;

	if (!in->ok || in->left < n) {
		in->ok = false;
		return NULL;
	}
	in->p += n;
	in->left -= n;
	return p;
}

uint8_t sftp_get_u8(struct sftp_in *in)
{
	const uint8_t *p = take(in, 1);

	return p != NULL ? p[0] : 0;
}

uint32_t sftp_get_u32(struct sftp_in *in)
{
	const uint8_t *p = take(in, 4);

	return p != NULL ? (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3] : 0;
}

uint64_t sftp_get_u64(struct sftp_in *in)
{
	uint64_t hi = sftp_get_u32(in);

	return hi << 32 | sftp_get_u32(in);
}

const uint8_t *sftp_get_str(struct sftp_in *in, uint32_t *len)
{
	*len = sftp_get_u32(in);
	return take(in, *len);
}

bool sftp_get_cstr(struct sftp_in *in, char *buf, size_t size)
{
	uint32_t n;
	const uint8_t *p = sftp_get_str(in, &n);

	if (p == NULL || n >= size || memchr(p, '\0', n) != NULL) {
		in->ok = false;
		return false;
	}
	memcpy(buf, p, n);
	buf[n] = '\0';
	return true;
}

void sftp_get_attrs(struct sftp_in *in, struct sftp_attrs *a)
{
	memset(a, 0, sizeof(*a));
	a->flags = sftp_get_u32(in);
	if (a->flags & SSH_FILEXFER_ATTR_SIZE) {
		a->size = sftp_get_u64(in);
	}
	if (a->flags & SSH_FILEXFER_ATTR_UIDGID) {
		a->uid = sftp_get_u32(in);
		a->gid = sftp_get_u32(in);
	}
	if (a->flags & SSH_FILEXFER_ATTR_PERMISSIONS) {
		a->perm = sftp_get_u32(in);
	}
	if (a->flags & SSH_FILEXFER_ATTR_ACMODTIME) {
		a->atime = sftp_get_u32(in);
		a->mtime = sftp_get_u32(in);
	}
	if (a->flags & SSH_FILEXFER_ATTR_EXTENDED) {
		/* Name and value pairs we know none of: skipped. */
		uint32_t n = sftp_get_u32(in), len;
		for (uint32_t i = 0; i < n && in->ok; i++) {
			sftp_get_str(in, &len);
			sftp_get_str(in, &len);
		}
	}
}

static uint8_t *room(struct sftp_out *out, size_t n)
{
	uint8_t *p;

	if (!out->ok || out->cap - out->len < n) {
		out->ok = false;
		return NULL;
	}
	p = out->buf + out->len;
	out->len += n;
	return p;
}

void sftp_put_u8(struct sftp_out *out, uint8_t v)
{
	uint8_t *p = room(out, 1);

	if (p != NULL) {
		p[0] = v;
	}
}

void sftp_put_u32(struct sftp_out *out, uint32_t v)
{
	uint8_t *p = room(out, 4);

	if (p != NULL) {
		p[0] = (uint8_t)(v >> 24);
		p[1] = (uint8_t)(v >> 16);
		p[2] = (uint8_t)(v >> 8);
		p[3] = (uint8_t)v;
	}
}

void sftp_put_u64(struct sftp_out *out, uint64_t v)
{
	sftp_put_u32(out, (uint32_t)(v >> 32));
	sftp_put_u32(out, (uint32_t)v);
}

void sftp_put_str(struct sftp_out *out, const void *s, size_t n)
{
	uint8_t *p;

	if (n > UINT32_MAX) {
		out->ok = false;
		return;
	}
	sftp_put_u32(out, (uint32_t)n);
	p = room(out, n);
	if (p != NULL && n > 0) {
		memcpy(p, s, n);
	}
}

void sftp_put_cstr(struct sftp_out *out, const char *s)
{
	sftp_put_str(out, s, strlen(s));
}

void sftp_put_attrs(struct sftp_out *out, const struct sftp_attrs *a)
{
	sftp_put_u32(out, a->flags);
	if (a->flags & SSH_FILEXFER_ATTR_SIZE) {
		sftp_put_u64(out, a->size);
	}
	if (a->flags & SSH_FILEXFER_ATTR_UIDGID) {
		sftp_put_u32(out, a->uid);
		sftp_put_u32(out, a->gid);
	}
	if (a->flags & SSH_FILEXFER_ATTR_PERMISSIONS) {
		sftp_put_u32(out, a->perm);
	}
	if (a->flags & SSH_FILEXFER_ATTR_ACMODTIME) {
		sftp_put_u32(out, a->atime);
		sftp_put_u32(out, a->mtime);
	}
}

void sftp_begin(struct sftp_out *out, uint8_t type, uint32_t id, bool with_id)
{
	out->start = out->len;
	sftp_put_u32(out, 0);
	sftp_put_u8(out, type);
	if (with_id) {
		sftp_put_u32(out, id);
	}
}

void sftp_end(struct sftp_out *out)
{
	size_t n = out->len - out->start - 4;

	if (!out->ok) {
		/* Never sent half a reply: the caller sees ok false. */
		out->len = out->start;
		return;
	}
	out->buf[out->start] = (uint8_t)(n >> 24);
	out->buf[out->start + 1] = (uint8_t)(n >> 16);
	out->buf[out->start + 2] = (uint8_t)(n >> 8);
	out->buf[out->start + 3] = (uint8_t)n;
}

void sftp_stat_to_attrs(const struct stat *st, struct sftp_attrs *a)
{
	a->flags = SSH_FILEXFER_ATTR_SIZE | SSH_FILEXFER_ATTR_UIDGID | SSH_FILEXFER_ATTR_PERMISSIONS |
		   SSH_FILEXFER_ATTR_ACMODTIME;
	a->size = (uint64_t)st->st_size;
	a->uid = (uint32_t)st->st_uid;
	a->gid = (uint32_t)st->st_gid;
	a->perm = (uint32_t)st->st_mode;
	a->atime = (uint32_t)st->st_atime;
	a->mtime = (uint32_t)st->st_mtime;
}

uint32_t sftp_errno_status(int err)
{
	switch (err) {
	case 0:
		return SSH_FX_OK;
	case ENOENT:
	case ENOTDIR:
	case EBADF:
	case ELOOP:
		return SSH_FX_NO_SUCH_FILE;
	case EPERM:
	case EACCES:
	case EFAULT:
		return SSH_FX_PERMISSION_DENIED;
	case ENAMETOOLONG:
	case EINVAL:
		return SSH_FX_BAD_MESSAGE;
	case ENOSYS:
		return SSH_FX_OP_UNSUPPORTED;
	default:
		return SSH_FX_FAILURE;
	}
}

static char type_char(mode_t m)
{
	return S_ISDIR(m) ? 'd' : S_ISLNK(m) ? 'l' : S_ISCHR(m) ? 'c' : S_ISBLK(m) ? 'b'
	       : S_ISFIFO(m) ? 'p' : S_ISSOCK(m) ? 's' : '-';
}

/* ls -l's line, as OpenSSH's sftp-server words it (sftp's ls -l shows
 * it as is): the mode and a blank, whole user and group names (numbers
 * when unknown), the time of day for the last six months, else the year. */
void sftp_longname(char *buf, size_t size, const char *name, const struct stat *st)
{
	static const char rwx[] = "rwxrwxrwx";
	char mode[11], when[16] = "", uid[16], gid[16];
	struct passwd *pw = getpwuid(st->st_uid);
	struct group *gr = getgrgid(st->st_gid);
	time_t t = st->st_mtime, now = time(NULL);
	bool recent = now - 365 * 24 * 60 * 60 / 2 < t && t <= now;
	struct tm tm;

	mode[0] = type_char(st->st_mode);
	for (int i = 0; i < 9; i++) {
		mode[i + 1] = (st->st_mode & (0400u >> i)) ? rwx[i] : '-';
	}
	if (st->st_mode & S_ISUID) {
		mode[3] = (st->st_mode & S_IXUSR) ? 's' : 'S';
	}
	if (st->st_mode & S_ISGID) {
		mode[6] = (st->st_mode & S_IXGRP) ? 's' : 'S';
	}
	if (st->st_mode & S_ISVTX) {
		mode[9] = (st->st_mode & S_IXOTH) ? 't' : 'T';
	}
	mode[10] = '\0';
	snprintf(uid, sizeof(uid), "%u", (unsigned)st->st_uid);
	snprintf(gid, sizeof(gid), "%u", (unsigned)st->st_gid);
	if (localtime_r(&t, &tm) == NULL ||
	    strftime(when, sizeof(when), recent ? "%b %e %H:%M" : "%b %e  %Y", &tm) == 0) {
		when[0] = '\0';
	}
	snprintf(buf, size, "%s  %3u %-8s %-8s %8llu %s %s", mode, (unsigned)st->st_nlink,
		 pw != NULL ? pw->pw_name : uid, gr != NULL ? gr->gr_name : gid,
		 (unsigned long long)st->st_size, when, name);
}
