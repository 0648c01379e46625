/*
 * mitogen-sftp-server: an SFTP version 3 server (draft-ietf-secsh-
 * filexfer-02, with the OpenSSH extensions its clients use) on stdin and
 * stdout, as the user it runs as. fakessh pushes it to a chain's end that
 * has no sftp-server of its own. One client, one process: blocking I/O.
 *
 * sftp-packet.c reads and writes the wire types; sftp-handlers.c answers
 * one request; sftp-server.c is the program around them.
 */
#ifndef MG_SFTP_H
#define MG_SFTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

/* The longest packet either way (length field excluded), and the most
 * data a READ or WRITE moves: what limits@openssh.com announces. */
#define SFTP_MAX_PACKET (256 * 1024)
#define SFTP_MAX_DATA (SFTP_MAX_PACKET - 1024)
#define SFTP_MAX_HANDLES 256

enum {
	SSH_FXP_INIT = 1, SSH_FXP_VERSION, SSH_FXP_OPEN, SSH_FXP_CLOSE, SSH_FXP_READ,
	SSH_FXP_WRITE, SSH_FXP_LSTAT, SSH_FXP_FSTAT, SSH_FXP_SETSTAT, SSH_FXP_FSETSTAT,
	SSH_FXP_OPENDIR, SSH_FXP_READDIR, SSH_FXP_REMOVE, SSH_FXP_MKDIR, SSH_FXP_RMDIR,
	SSH_FXP_REALPATH, SSH_FXP_STAT, SSH_FXP_RENAME, SSH_FXP_READLINK, SSH_FXP_SYMLINK,
	SSH_FXP_STATUS = 101, SSH_FXP_HANDLE, SSH_FXP_DATA, SSH_FXP_NAME, SSH_FXP_ATTRS,
	SSH_FXP_EXTENDED = 200, SSH_FXP_EXTENDED_REPLY,
};

enum {
	SSH_FX_OK, SSH_FX_EOF, SSH_FX_NO_SUCH_FILE, SSH_FX_PERMISSION_DENIED, SSH_FX_FAILURE,
	SSH_FX_BAD_MESSAGE, SSH_FX_NO_CONNECTION, SSH_FX_CONNECTION_LOST, SSH_FX_OP_UNSUPPORTED,
};

#define SSH_FILEXFER_ATTR_SIZE 0x1u
#define SSH_FILEXFER_ATTR_UIDGID 0x2u
#define SSH_FILEXFER_ATTR_PERMISSIONS 0x4u
#define SSH_FILEXFER_ATTR_ACMODTIME 0x8u
#define SSH_FILEXFER_ATTR_EXTENDED 0x80000000u

#define SSH_FXF_READ 0x1u
#define SSH_FXF_WRITE 0x2u
#define SSH_FXF_APPEND 0x4u
#define SSH_FXF_CREAT 0x8u
#define SSH_FXF_TRUNC 0x10u
#define SSH_FXF_EXCL 0x20u

/* A packet being read: 'ok' turns false at the first field that does
 * not fit, and every later read yields zeros. */
struct sftp_in {
	const uint8_t *p;
	size_t left;
	bool ok;
};

/* A reply being built, its length field first. */
struct sftp_out {
	uint8_t *buf;
	size_t len;
	size_t cap;
	size_t start; /* where the reply being built begins */
	bool ok;
};

struct sftp_attrs {
	uint32_t flags;
	uint64_t size;
	uint32_t uid, gid, perm, atime, mtime;
};

uint8_t sftp_get_u8(struct sftp_in *in);
uint32_t sftp_get_u32(struct sftp_in *in);
uint64_t sftp_get_u64(struct sftp_in *in);
/* A string's bytes (not terminated) and length; NULL when it does not fit. */
const uint8_t *sftp_get_str(struct sftp_in *in, uint32_t *len);
/* A string as a C string into buf: false for a NUL inside or too long. */
bool sftp_get_cstr(struct sftp_in *in, char *buf, size_t size);
void sftp_get_attrs(struct sftp_in *in, struct sftp_attrs *a);

void sftp_put_u8(struct sftp_out *out, uint8_t v);
void sftp_put_u32(struct sftp_out *out, uint32_t v);
void sftp_put_u64(struct sftp_out *out, uint64_t v);
void sftp_put_str(struct sftp_out *out, const void *p, size_t n);
void sftp_put_cstr(struct sftp_out *out, const char *s);
void sftp_put_attrs(struct sftp_out *out, const struct sftp_attrs *a);
/* Start a reply of this type (and id, but for VERSION); end it with
 * sftp_end, which fills the length field. */
void sftp_begin(struct sftp_out *out, uint8_t type, uint32_t id, bool with_id);
void sftp_end(struct sftp_out *out);

void sftp_stat_to_attrs(const struct stat *st, struct sftp_attrs *a);
/* An errno as the SFTP status a client acts on. */
uint32_t sftp_errno_status(int err);
/* ls -l's line for READDIR's longname. */
void sftp_longname(char *buf, size_t size, const char *name, const struct stat *st);

struct sftp_handle {
	int fd;       /* a file's, or -1 */
	void *dir;    /* a DIR *, or NULL */
	bool used;
};

struct sftp_server {
	bool initialized;
	/* Only for the fuzz target: every path is taken under this
	 * directory, ".." and SYMLINK refused. NULL: paths as given. */
	const char *sandbox;
	struct sftp_handle handles[SFTP_MAX_HANDLES];
	struct sftp_out out;
};

/*
 * Answer one packet (its type byte first, the length field removed): the
 * reply, if any, is appended to s->out. Returns 0, or -1 when the client
 * broke the protocol in a way the session cannot go on from (a request
 * before INIT), with a message on stderr.
 */
int sftp_process(struct sftp_server *s, const uint8_t *pkt, size_t len);
/* Close every handle. */
void sftp_close_all(struct sftp_server *s);

/* Between the handler files (sftp-handlers.c, sftp-paths.c). */
typedef void sftp_handler(struct sftp_server *s, uint32_t id, struct sftp_in *in);
/* A STATUS reply; sftp_status_errno words it from an errno. */
void sftp_status(struct sftp_server *s, uint32_t id, uint32_t code, const char *msg);
void sftp_status_errno(struct sftp_server *s, uint32_t id, int err);
/* A path argument into buf (PATH_MAX bytes), under the sandbox if any;
 * false (in->ok false, or a ".." under the sandbox) when unusable. */
bool sftp_get_path(struct sftp_server *s, struct sftp_in *in, char *buf);
/* Apply what attrs set, to path (fd < 0) or to fd; 0 or an errno. */
int sftp_set_attrs(const char *path, int fd, const struct sftp_attrs *a);
/* The path requests, for the dispatch table. */
sftp_handler sftp_do_lstat, sftp_do_stat, sftp_do_setstat, sftp_do_remove, sftp_do_mkdir,
	sftp_do_rmdir, sftp_do_realpath, sftp_do_rename, sftp_do_readlink, sftp_do_symlink,
	sftp_do_posix_rename, sftp_do_hardlink, sftp_do_statvfs, sftp_do_lsetstat,
	sftp_do_expand_path, sftp_do_home_directory;
struct statvfs;
/* The reply to statvfs@openssh.com and fstatvfs@openssh.com; fsid from
 * sftp_fsid (of fd, or of path when fd < 0; 0 when unknown). */
void sftp_statvfs_reply(struct sftp_server *s, uint32_t id, const struct statvfs *v, uint64_t fsid);
uint64_t sftp_fsid(int fd, const char *path);

#endif
