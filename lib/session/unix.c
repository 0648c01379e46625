/*
 * Attach from outside: a master listens on a UNIX socket and processes of
 * the same user join its session as leaf child contexts. See
 * mitogen/unix.h and docs/PROTOCOL.md, section 5.7.
 *
 * Listener side: accept, check the peer's uid (SO_PEERCRED), give the
 * peer a fresh id and send HELLO, wait for the reply, then hand the
 * stream to the master's router as a child route. Client side: connect,
 * check the listener's uid, take HELLO, make a router whose parent is the
 * listener, and answer through it. Nothing blocks: connect, accept and
 * both halves of the handshake run from the loop.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include "buf.h"
#include "conn.h"
#include "mitogen/broker.h"
#include "mitogen/error.h"
#include "mitogen/log.h"
#include "mitogen/unix.h"
#include "protocol.h"
#include "router.h"
#include "session.h"
#include "stream.h"

/* Time a connected peer has to answer HELLO. */
#define HANDSHAKE_MS 10000
#define ATTACH_TIMEOUT_DEFAULT 10000
/* Connections in their handshake at once; more are refused. */
#define PENDING_MAX 64
/* The largest frame a connection in its handshake may send: its HELLO
 * reply is a few short fields. The 64 of them must not each make us hold
 * a frame of MG_MSG_MAX_DEFAULT. */
#define HELLO_REPLY_MAX 4096
/* Connections taken per wake-up, so one listener cannot starve the loop. */
#define ACCEPT_BURST 16
/* How long a listener that could not accept waits before trying again. */
#define ACCEPT_PAUSE_MS 250u
/* Retry delay when the listener's backlog is full (connect: EAGAIN). */
#define RETRY_MS 20
/* The HELLO of a refused peer goes to no context. */
#define NO_ID UINT32_MAX

static int set_err(TALLOC_CTX *mem_ctx, char **_errmsg, int err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int set_err(TALLOC_CTX *mem_ctx, char **_errmsg, int err, const char *fmt, ...)
{
	va_list ap;

	if (_errmsg != NULL) {
		va_start(ap, fmt);
		*_errmsg = talloc_vasprintf(mem_ctx, fmt, ap);
		va_end(ap);
	}
	return err;
}

/* Drop a stream from anywhere, its own callbacks included. */
static void drop_stream(struct mg_loop *loop, struct mg_stream **sp)
{
	if (*sp != NULL) {
		mg__stream_abort(*sp);
		mg_loop_free_later(loop, *sp);
		*sp = NULL;
	}
}

/* --- directories ------------------------------------------------------ */

static int check_dir(TALLOC_CTX *mem_ctx, const char *dir, bool create, char **_errmsg)
{
	struct stat st;

	if (create && mkdir(dir, 0700) != 0 && errno != EEXIST) {
		return set_err(mem_ctx, _errmsg, -errno, "cannot create %s: %s", dir, strerror(errno));
	}
	if (lstat(dir, &st) != 0) {
		return set_err(mem_ctx, _errmsg, -errno, "%s: %s", dir, strerror(errno));
	}
	if (!S_ISDIR(st.st_mode)) {
		return set_err(mem_ctx, _errmsg, -ENOTDIR, "%s is not a directory", dir);
	}
	if (st.st_uid != geteuid()) {
		return set_err(mem_ctx, _errmsg, -EPERM, "%s is owned by uid %u, not by uid %u",
			       dir, (unsigned)st.st_uid, (unsigned)geteuid());
	}
	if ((st.st_mode & 077) != 0) {
		return set_err(mem_ctx, _errmsg, -EPERM,
			       "%s has mode %04o: group or others may enter it (want 0700)",
			       dir, (unsigned)(st.st_mode & 07777));
	}
	return 0;
}

/* Whether only we (or root) may rename entries in 'dir': anyone else who
 * may could swap our checked directory for one of theirs before we use
 * it. One open to others is safe if sticky, as /tmp is. */
static bool safe_parent(const char *dir)
{
	struct stat st;

	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode) ||
	    (st.st_uid != geteuid() && st.st_uid != 0)) {
		return false;
	}
	return (st.st_mode & 022) == 0 || (st.st_mode & S_ISVTX) != 0;
}

/* safe_parent() for 'dir' and every directory above it, symlinks
 * resolved first (as OpenSSH's safe_path): whoever may rename any of them
 * may swap the whole tree below. */
static bool safe_path(const char *dir)
{
	char *real = realpath(dir, NULL), *slash;
	bool ok = real != NULL;

	while (ok) {
		ok = safe_parent(real);
		if ((slash = strrchr(real, '/')) == NULL || slash == real) {
			break;
		}
		*slash = '\0';
	}
	ok = ok && safe_parent("/");
	free(real);
	return ok;
}

int mg_unix_dir(TALLOC_CTX *mem_ctx, char **_dir, char **_errmsg)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	char *dir;
	int ret;

	*_dir = NULL;
	if (xdg != NULL && xdg[0] == '/' && safe_path(xdg)) {
		dir = talloc_asprintf(mem_ctx, "%s/mitogen", xdg);
	} else {
		/* The XDG spec says to ignore a relative value, and the
		 * directory must be the user's alone: ignore one that is not. */
		if (xdg != NULL && xdg[0] == '/') {
			mg_info("XDG_RUNTIME_DIR %s is not this user's alone: using /tmp", xdg);
		}
		if (!safe_parent("/tmp")) {
			return set_err(mem_ctx, _errmsg, -EPERM,
				       "/tmp is open to others and not sticky: no place for sockets");
		}
		dir = talloc_asprintf(mem_ctx, "/tmp/mitogen-%u", (unsigned)geteuid());
	}
	if (dir == NULL) {
		return -ENOMEM;
	}
	if ((ret = check_dir(mem_ctx, dir, true, _errmsg)) != 0) {
		talloc_free(dir);
		return ret;
	}
	*_dir = dir;
	return 0;
}

static int fill_addr(struct sockaddr_un *sa, const char *path)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa->sun_path)) {
		return -ENAMETOOLONG;
	}
	memcpy(sa->sun_path, path, strlen(path) + 1);
	return 0;
}

/* The uid of the peer of a connected UNIX socket. */
static int peer_cred(int fd, struct ucred *uc)
{
	socklen_t len = sizeof(*uc);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, uc, &len) != 0) {
		return -errno;
	}
	return 0;
}

/* --- listener ----------------------------------------------------------- */

struct mg_listener {
	struct mg_session *s;
	struct mg_router *r;
	struct mg_loop *loop;
	char *path;
	int fd;
	dev_t dev;
	ino_t ino;
	uid_t uid;
	struct mg_io *io;
	struct mg_timer *paused;	/* accept failed: resume when it fires */
	unsigned n_pending;
	bool privileged;
	mg_listener_fn fn;
	void *fn_data;
};

/* An accepted connection in its handshake. */
struct pending {
	struct mg_listener *l;	/* NULL once ended: the listener may go first */
	struct mg_loop *loop;
	struct mg_stream *stream;
	struct mg_timer *timer;
	uint32_t id;
	pid_t pid;
	char *name;
};

static int pending_destructor(struct pending *p)
{
	drop_stream(p->loop, &p->stream);
	if (p->l != NULL) {
		p->l->n_pending--;
	}
	return 0;
}

/* Done with 'p', possibly from its own stream's callback: it goes at
 * the end of the iteration, when its listener may be gone (freed from
 * the attach callback, say), so it lets go of it now. */
static void pending_end(struct pending *p)
{
	drop_stream(p->loop, &p->stream);
	TALLOC_FREE(p->timer);
	p->l->n_pending--;
	p->l = NULL;
	mg_loop_free_later(p->loop, p);
}

static void pending_timeout(struct mg_timer *t, void *data)
{
	struct pending *p = talloc_get_type_abort(data, struct pending);

	p->timer = NULL;
	mg_warn("%s: %s did not answer HELLO in time", p->l->path, p->name);
	pending_end(p);
}

static void pending_close(struct mg_stream *s, int err, const char *why, void *data)
{
	struct pending *p = talloc_get_type_abort(data, struct pending);

	mg_debug("%s: %s left before HELLO was answered: %s", p->l->path, p->name, why);
	pending_end(p);
}

/* The HELLO reply: the peer is up; route it as a child. */
static void pending_msg(struct mg_stream *s, struct mg_msg *m, void *data)
{
	struct pending *p = talloc_get_type_abort(data, struct pending);
	struct mg_listener *l = p->l;
	struct mg_buf b;
	uint32_t version = 0, pid = 0;
	int ret;

	if (m->src != p->id || m->auth_id != p->id || m->dst != mg__router_id(l->r) ||
	    m->handle != MG_H_HELLO || (m->flags & MG_F_DEAD) != 0) {
		mg_warn("%s: %s: unexpected frame before the HELLO reply: dropped", l->path, p->name);
		goto drop;
	}
	mg__buf_view(&b, m->data, m->len);
	if (mg__buf_get_u32(&b, &version) != 0 || mg__buf_get_u32(&b, &pid) != 0) {
		mg_warn("%s: %s: malformed HELLO reply: dropped", l->path, p->name);
		goto drop;
	}
	if (version != MG_PROTOCOL_VERSION) {
		mg_warn("%s: %s speaks protocol %u, we speak %u: dropped", l->path, p->name,
			version, MG_PROTOCOL_VERSION);
		goto drop;
	}
	TALLOC_FREE(p->timer);
	mg__stream_set_max_msg(p->stream, MG_MSG_MAX_DEFAULT);
	mg__stream_set_privileged(p->stream, l->privileged);
	mg__stream_set_attached(p->stream, true);
	/* What one wakeup here sends a client (a command's ends of output
	 * and exit status, come up together) goes in one write. */
	mg__stream_set_cork(p->stream, true);
	ret = mg__router_add_stream(l->r, p->stream, p->id, p->name, false);
	p->stream = NULL;
	if (ret != 0) {
		mg_warn("%s: %s: cannot route it: %s", l->path, p->name, mg_strerror(ret));
		goto drop;
	}
	mg_info("%s: context %u attached (%s%s)", l->path, p->id, p->name,
		l->privileged ? ", privileged" : "");
	talloc_free(m);
	pending_end(p);
	if (l->fn != NULL) {
		l->fn(l, p->id, p->pid, l->fn_data);
	}
	return;
drop:
	talloc_free(m);
	pending_end(p);
}

static int send_hello(struct pending *p)
{
	struct mg_listener *l = p->l;
	struct mg_buf *b = mg__buf_new(NULL, 65536);
	struct mg_msg m = { 0 };
	int ret;

	if (b == NULL) {
		return -ENOMEM;
	}
	/* As conn.c sends it to an agent (section 5.1); this context is the
	 * master, so the peer's only ancestor is us. */
	ret = mg__hello_encode(b, l->r, p->id, (uint8_t)mg_log_get_level(), p->name);
	if (ret != 0) {
		goto out;
	}
	m.dst = p->id;
	m.src = mg__router_id(l->r);
	m.auth_id = m.src;
	m.handle = MG_H_HELLO;
	m.reply_to = MG_H_HELLO;
	m.data = b->data;
	m.len = b->len;
	ret = mg__stream_send(p->stream, &m);
out:
	talloc_free(b);
	return ret;
}

/* Tell a refused peer why in a dead HELLO, then hang up. The socket is
 * new and empty: one small write fits; if not, the peer sees only EOF. */
static void refuse(struct mg_listener *l, int fd, const char *why)
{
	uint8_t frame[MG_HDR_LEN + 256];
	size_t len = strlen(why) < 256 ? strlen(why) : 256;
	struct mg_msg m = {
		.flags = MG_F_DEAD, .dst = NO_ID, .src = mg__router_id(l->r),
		.auth_id = mg__router_id(l->r), .handle = MG_H_HELLO, .len = len,
	};
	ssize_t n;

	mg__msg_header(&m, frame);
	memcpy(frame + MG_HDR_LEN, why, len);
	do {
		n = write(fd, frame, MG_HDR_LEN + len);
	} while (n < 0 && errno == EINTR);
	close(fd);
}

static void take(struct mg_listener *l, int fd)
{
	struct ucred uc;
	struct pending *p;
	char why[160];
	int ret;

	if ((ret = peer_cred(fd, &uc)) != 0) {
		mg_warn("%s: cannot read a peer's credentials: %s", l->path, mg_strerror(ret));
		close(fd);
		return;
	}
	if (uc.uid != l->uid) {
		snprintf(why, sizeof(why), "refused: peer uid %u is not the owner uid %u",
			 (unsigned)uc.uid, (unsigned)l->uid);
		mg_warn("%s: pid %d %s", l->path, (int)uc.pid, why);
		refuse(l, fd, why);
		return;
	}
	if (l->n_pending >= PENDING_MAX) {
		snprintf(why, sizeof(why), "refused: %d connections already in their handshake",
			 PENDING_MAX);
		mg_warn("%s: pid %d %s", l->path, (int)uc.pid, why);
		refuse(l, fd, why);
		return;
	}
	p = talloc_zero(l, struct pending);
	if (p == NULL) {
		close(fd);
		return;
	}
	p->l = l;
	p->loop = l->loop;
	l->n_pending++;
	talloc_set_destructor(p, pending_destructor);
	p->id = mg__session_new_id(l->s);
	p->pid = uc.pid;
	p->name = talloc_asprintf(p, "unix:%d", (int)uc.pid);
	p->stream = p->name != NULL ?
		mg__stream_new(p, l->loop, fd, fd, p->name, HELLO_REPLY_MAX) : NULL;
	if (p->stream == NULL) {
		close(fd);
		talloc_free(p);
		return;
	}
	mg__stream_set_frames(p->stream, pending_msg, p);
	mg__stream_on_close(p->stream, pending_close, p);
	p->timer = mg_timer_new(p, l->loop, HANDSHAKE_MS, pending_timeout, p);
	if (p->timer == NULL || send_hello(p) != 0) {
		talloc_free(p);
		return;
	}
	mg_debug("%s: pid %d connected, offered context %u", l->path, (int)uc.pid, p->id);
}

static void on_resume(struct mg_timer *t, void *data)
{
	struct mg_listener *l = talloc_get_type_abort(data, struct mg_listener);

	(void)t;
	TALLOC_FREE(l->paused);
	mg_io_set(l->io, MG_IO_READ);
}

static void on_accept(struct mg_io *io, unsigned events, void *data)
{
	struct mg_listener *l = talloc_get_type_abort(data, struct mg_listener);

	(void)events;
	for (int i = 0; i < ACCEPT_BURST; i++) {
		int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd >= 0) {
			take(l, fd);
			continue;
		}
		if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED) {
			return;
		}
		/* Out of descriptors or memory: the connection stays queued
		 * and the socket readable, so retrying at once would spin.
		 * Clients wait in the backlog until a descriptor is free. */
		mg_warn("%s: accept: %s: not accepting for %u ms", l->path, strerror(errno),
			ACCEPT_PAUSE_MS);
		l->paused = mg_timer_new(l, l->loop, ACCEPT_PAUSE_MS, on_resume, l);
		if (l->paused != NULL) {
			mg_io_set(io, 0);
		}
		return;
	}
}

static int listener_destructor(struct mg_listener *l)
{
	struct stat st;

	TALLOC_FREE(l->io);
	if (l->fd >= 0) {
		close(l->fd);
	}
	/* Only our own socket: another listener may have replaced it. */
	if (l->path != NULL && lstat(l->path, &st) == 0 && st.st_dev == l->dev &&
	    st.st_ino == l->ino) {
		unlink(l->path);
	}
	return 0;
}

static char *fresh_path(TALLOC_CTX *mem_ctx, const char *dir)
{
	uint32_t rnd;

	if (getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK) != sizeof(rnd)) {
		rnd = (uint32_t)mg_now() ^ (uint32_t)(uintptr_t)mem_ctx;
	}
	return talloc_asprintf(mem_ctx, "%s/%d-%08x.sock", dir, (int)getpid(), rnd);
}

/* Clear the way for bind(): a stale socket goes, anything else stays. */
static int clear_stale(TALLOC_CTX *mem_ctx, const char *path, const struct sockaddr_un *sa,
		       char **_errmsg)
{
	struct stat st;
	int fd, ret;

	if (lstat(path, &st) != 0) {
		return errno == ENOENT ? 0 : set_err(mem_ctx, _errmsg, -errno, "%s: %s", path,
						     strerror(errno));
	}
	if (!S_ISSOCK(st.st_mode)) {
		return set_err(mem_ctx, _errmsg, -EEXIST, "%s exists and is not a socket", path);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		return set_err(mem_ctx, _errmsg, -errno, "socket: %s", strerror(errno));
	}
	ret = connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0 ? 0 : -errno;
	close(fd);
	if (ret == 0 || ret == -EAGAIN) {
		return set_err(mem_ctx, _errmsg, -EADDRINUSE, "%s: a listener is alive there", path);
	}
	if (ret != -ECONNREFUSED) {
		return set_err(mem_ctx, _errmsg, ret, "%s: %s", path, mg_strerror(ret));
	}
	mg_debug("%s: replacing a stale socket", path);
	if (unlink(path) != 0 && errno != ENOENT) {
		return set_err(mem_ctx, _errmsg, -errno, "cannot remove %s: %s", path, strerror(errno));
	}
	return 0;
}

/* Held from the stale check to listen(): listeners started at once would
 * each find the stale socket, and a late one would unlink the live socket
 * of the first and bind its own, both thinking they own the path. The
 * directory has passed check_dir(): only our user can take the lock. */
static int lock_dir(TALLOC_CTX *mem_ctx, const char *dir, char **_errmsg)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0) {
		return set_err(mem_ctx, _errmsg, -errno, "%s: %s", dir, strerror(errno));
	}
	while (flock(fd, LOCK_EX) != 0) {
		if (errno != EINTR) {
			int err = -errno;
			close(fd);
			return set_err(mem_ctx, _errmsg, err, "cannot lock %s: %s", dir, strerror(-err));
		}
	}
	return fd;
}

/* Bind l->fd at path, mode 0600, listening. It is bound under a name of
 * its own first and renamed into place: bind() makes it by the umask
 * (0755), and a client finding it so between bind() and chmod() refused
 * it as open to others. Where that name would not fit, at path itself. */
static int bind_private(TALLOC_CTX *mem_ctx, struct mg_listener *l, const char *path,
			const struct sockaddr_un *sa, struct stat *st, char **_errmsg)
{
	char *fresh = talloc_asprintf(mem_ctx, "%s.%d", path, (int)getpid());
	struct sockaddr_un fa;
	const char *at = path;

	if (fresh == NULL) {
		return -ENOMEM;
	}
	if (fill_addr(&fa, fresh) == 0 && (unlink(fresh) == 0 || errno == ENOENT)) {
		at = fresh;
		sa = &fa;
	}
	if (bind(l->fd, (const struct sockaddr *)sa, sizeof(*sa)) != 0) {
		int err = -errno;
		TALLOC_FREE(l->path); /* not ours: never unlink it */
		return set_err(mem_ctx, _errmsg, err, "cannot bind %s: %s", at, strerror(-err));
	}
	if (chmod(at, 0600) != 0 || lstat(at, st) != 0 || listen(l->fd, 64) != 0 ||
	    (at != path && rename(at, path) != 0)) {
		int err = -errno;
		if (at != path) {
			unlink(at);
		}
		return set_err(mem_ctx, _errmsg, err, "cannot listen on %s: %s", path, strerror(-err));
	}
	return 0;
}

int mg_listener_new(TALLOC_CTX *mem_ctx, struct mg_session *s, const char *path,
		    struct mg_listener **_l, char **_errmsg)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	struct mg_listener *l;
	struct sockaddr_un sa;
	struct stat st;
	char *dir = NULL;
	int ret, dir_fd = -1;

	*_l = NULL;
	if (_errmsg != NULL) {
		*_errmsg = NULL;
	}
	l = tmp != NULL ? talloc_zero(tmp, struct mg_listener) : NULL;
	if (l == NULL) {
		ret = -ENOMEM;
		goto done;
	}
	l->fd = -1;
	talloc_set_destructor(l, listener_destructor);
	l->s = s;
	l->r = mg__session_router(s);
	l->loop = mg__router_loop(l->r);
	l->uid = geteuid();
	if (path == NULL) {
		if ((ret = mg_unix_dir(tmp, &dir, _errmsg)) != 0) {
			goto done;
		}
		path = fresh_path(tmp, dir);
	} else {
		const char *slash = strrchr(path, '/');
		dir = slash == NULL ? talloc_strdup(tmp, ".") :
		      slash == path ? talloc_strdup(tmp, "/") :
		      talloc_strndup(tmp, path, (size_t)(slash - path));
		if (dir == NULL) {
			ret = -ENOMEM;
			goto done;
		}
		if ((ret = check_dir(tmp, dir, false, _errmsg)) != 0) {
			goto done;
		}
	}
	if (path == NULL || (l->path = talloc_strdup(l, path)) == NULL) {
		ret = -ENOMEM;
		goto done;
	}
	if ((ret = fill_addr(&sa, path)) != 0) {
		set_err(tmp, _errmsg, ret, "%s: path too long for a UNIX socket", path);
		goto done;
	}
	if ((dir_fd = lock_dir(tmp, dir, _errmsg)) < 0) {
		ret = dir_fd;
		goto done;
	}
	if ((ret = clear_stale(tmp, path, &sa, _errmsg)) != 0) {
		goto done;
	}
	l->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (l->fd < 0) {
		ret = set_err(tmp, _errmsg, -errno, "socket: %s", strerror(errno));
		goto done;
	}
	if ((ret = bind_private(tmp, l, path, &sa, &st, _errmsg)) != 0) {
		goto done;
	}
	l->dev = st.st_dev;
	l->ino = st.st_ino;
	l->io = mg_io_new(l, l->loop, l->fd, MG_IO_READ, on_accept, l);
	if (l->io == NULL) {
		ret = -ENOMEM;
		goto done;
	}
	mg_debug("listening on %s", path);
	*_l = talloc_steal(mem_ctx, l);
	ret = 0;
done:
	if (dir_fd >= 0) {
		close(dir_fd);
	}
	if (ret != 0 && _errmsg != NULL) {
		if (*_errmsg == NULL) {
			set_err(tmp, _errmsg, ret, "cannot listen: %s", mg_strerror(ret));
		}
		*_errmsg = talloc_steal(mem_ctx, *_errmsg);
	}
	talloc_free(tmp);
	return ret;
}

const char *mg_listener_path(const struct mg_listener *l)
{
	return l->path;
}

void mg_listener_set_privileged(struct mg_listener *l, bool on)
{
	l->privileged = on;
}

void mg_listener_on_attach(struct mg_listener *l, mg_listener_fn fn, void *data)
{
	l->fn = fn;
	l->fn_data = data;
}

/* --- attaching ---------------------------------------------------------- */

struct mg_attach {
	struct mg_loop *loop;
	char *path;
	struct mg_stream *stream;   /* until HELLO makes a router of it */
	struct mg_timer *timer;     /* the deadline */
	struct mg_timer *step;      /* the next connect attempt */
	mg_attach_cb cb;
	void *data;
	pid_t peer_pid;             /* the listener's, from SO_PEERCRED */
	bool done;
};

static int attach_destructor(struct mg_attach *a)
{
	drop_stream(a->loop, &a->stream);
	return 0;
}

/* Report once. 'r' is a child of the attach's parent then. */
static void finish(struct mg_attach *a, struct mg_router *r, int err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void finish(struct mg_attach *a, struct mg_router *r, int err, const char *fmt, ...)
{
	char *msg = NULL;
	va_list ap;

	if (a->done) {
		return;
	}
	a->done = true;
	TALLOC_FREE(a->timer);
	TALLOC_FREE(a->step);
	drop_stream(a->loop, &a->stream);
	if (fmt != NULL) {
		va_start(ap, fmt);
		msg = talloc_vasprintf(NULL, fmt, ap);
		va_end(ap);
	}
	if (r != NULL) {
		talloc_steal(talloc_parent(a), r);
	}
	/* cb may free a. */
	a->cb(r, err, err != 0 ? (msg != NULL ? msg : mg_strerror(err)) : NULL, a->data);
	talloc_free(msg);
}

static void attach_timeout(struct mg_timer *t, void *data)
{
	struct mg_attach *a = talloc_get_type_abort(data, struct mg_attach);

	TALLOC_FREE(a->timer);
	finish(a, NULL, MG_ERR_TIMEOUT, "%s: no HELLO from the listener in time", a->path);
}

static void attach_closed(struct mg_stream *s, int err, const char *why, void *data)
{
	struct mg_attach *a = talloc_get_type_abort(data, struct mg_attach);

	finish(a, NULL, err != 0 ? err : MG_ERR_DISCONNECTED,
	       "%s: the listener hung up before HELLO (%s)", a->path, why);
}

/* The first frame: HELLO, or a dead one saying why we are refused. */
static void attach_msg(struct mg_stream *s, struct mg_msg *m, void *data)
{
	struct mg_attach *a = talloc_get_type_abort(data, struct mg_attach);
	TALLOC_CTX *tmp = talloc_new(NULL);
	struct mg_router *r;
	struct mg_hello h;
	int ret;

	talloc_steal(tmp, m);
	if ((m->flags & MG_F_DEAD) != 0) {
		char *why = mg_log_escape(tmp, (const char *)m->data, m->len);
		finish(a, NULL, MG_ERR_DEAD, "%s: %s", a->path, why != NULL ? why : "refused");
		goto out;
	}
	if (m->handle != MG_H_HELLO || mg__hello_decode(tmp, m->data, m->len, &h) != 0) {
		finish(a, NULL, MG_ERR_PROTOCOL, "%s: malformed HELLO from the listener", a->path);
		goto out;
	}
	if (h.version != MG_PROTOCOL_VERSION) {
		finish(a, NULL, MG_ERR_VERSION, "%s: the listener (pid %d) speaks protocol %u, "
		       "we speak %u", a->path, (int)a->peer_pid, h.version, MG_PROTOCOL_VERSION);
		goto out;
	}
	if (m->src != h.parents[0] || m->dst != h.id || m->auth_id != m->src) {
		finish(a, NULL, MG_ERR_PROTOCOL, "%s: HELLO from the listener does not add up",
		       a->path);
		goto out;
	}
	r = mg__router_new(tmp, a->loop, h.id, h.parents, h.n_parents);
	if (r == NULL) {
		finish(a, NULL, -ENOMEM, NULL);
		goto out;
	}
	mg__router_set_max_msg(r, h.max_msg);
	/* The router owns the stream from here; its parent is the listener. */
	ret = mg__router_add_stream(r, s, h.parents[0], "parent", true);
	a->stream = NULL;
	m->in = NULL;
	if (ret != 0 || (ret = mg__hello_reply(r, m, 0)) != 0) {
		mg__stream_abort(s);
		mg_loop_free_later(a->loop, r);
		finish(a, NULL, ret, "%s: cannot answer HELLO: %s", a->path, mg_strerror(ret));
		goto out;
	}
	mg_debug("%s: attached as context %u", a->path, h.id);
	finish(a, r, 0, NULL);
out:
	talloc_free(tmp);
}

static void try_connect(struct mg_timer *t, void *data)
{
	struct mg_attach *a = talloc_get_type_abort(data, struct mg_attach);
	struct sockaddr_un sa;
	struct ucred uc;
	int fd, ret;

	TALLOC_FREE(a->step);
	if ((ret = fill_addr(&sa, a->path)) != 0) {
		finish(a, NULL, ret, "%s: path too long for a UNIX socket", a->path);
		return;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		finish(a, NULL, -errno, "socket: %s", strerror(errno));
		return;
	}
	if (connect(fd, (const struct sockaddr *)&sa, sizeof(sa)) != 0) {
		ret = -errno;
		close(fd);
		if (ret == -EAGAIN || ret == -EINTR) {
			/* The backlog is full: try again shortly. */
			a->step = mg_timer_new(a, a->loop, RETRY_MS, try_connect, a);
			if (a->step == NULL) {
				finish(a, NULL, -ENOMEM, NULL);
			}
			return;
		}
		finish(a, NULL, ret, "cannot connect to %s: %s", a->path, mg_strerror(ret));
		return;
	}
	/* Obey only our own user's master (or root's, who could take us over
	 * anyway). */
	if ((ret = peer_cred(fd, &uc)) != 0 || (uc.uid != geteuid() && uc.uid != 0)) {
		close(fd);
		if (ret != 0) {
			finish(a, NULL, ret, "%s: cannot read the listener's credentials", a->path);
		} else {
			finish(a, NULL, -EACCES, "%s: refused: listener uid %u is not our uid %u",
			       a->path, (unsigned)uc.uid, (unsigned)geteuid());
		}
		return;
	}
	a->peer_pid = uc.pid;
	a->stream = mg__stream_new(a, a->loop, fd, fd, a->path, MG_MSG_MAX_DEFAULT);
	if (a->stream == NULL) {
		close(fd);
		finish(a, NULL, -ENOMEM, NULL);
		return;
	}
	mg__stream_set_frames(a->stream, attach_msg, a);
	mg__stream_on_close(a->stream, attach_closed, a);
}

int mg_attach_start(TALLOC_CTX *mem_ctx, struct mg_loop *loop, const char *path,
		    unsigned timeout_ms, mg_attach_cb cb, void *data, struct mg_attach **_a)
{
	struct mg_attach *a;

	if (path == NULL || cb == NULL) {
		return -EINVAL;
	}
	a = talloc_zero(mem_ctx, struct mg_attach);
	if (a == NULL) {
		return -ENOMEM;
	}
	talloc_set_destructor(a, attach_destructor);
	a->loop = loop;
	a->cb = cb;
	a->data = data;
	a->path = talloc_strdup(a, path);
	/* Everything happens from the loop, so cb never runs from here. */
	a->step = mg_timer_new(a, loop, 0, try_connect, a);
	a->timer = mg_timer_new(a, loop, timeout_ms != 0 ? timeout_ms : ATTACH_TIMEOUT_DEFAULT,
				attach_timeout, a);
	if (a->path == NULL || a->step == NULL || a->timer == NULL) {
		talloc_free(a);
		return -ENOMEM;
	}
	if (_a != NULL) {
		*_a = a;
	}
	return 0;
}

struct attach_sync {
	bool done;
	int err;
	struct mg_router *r;
	char *errmsg;
	TALLOC_CTX *holder;
};

static void attach_sync_cb(struct mg_router *r, int err, const char *errmsg, void *data)
{
	struct attach_sync *st = data;

	st->done = true;
	st->err = err;
	st->r = r;
	if (errmsg != NULL) {
		st->errmsg = talloc_strdup(st->holder, errmsg);
	}
}

int mg_attach(TALLOC_CTX *mem_ctx, struct mg_loop *loop, const char *path, unsigned timeout_ms,
	      struct mg_router **_r, char **_errmsg)
{
	struct attach_sync st = { 0 };
	int ret;

	*_r = NULL;
	if (_errmsg != NULL) {
		*_errmsg = NULL;
	}
	if (mg_loop_running(loop)) {
		return -EDEADLK;
	}
	st.holder = talloc_new(NULL);
	if (st.holder == NULL) {
		return -ENOMEM;
	}
	ret = mg_attach_start(st.holder, loop, path, timeout_ms, attach_sync_cb, &st, NULL);
	while (ret == 0 && !st.done) {
		ret = mg_loop_run_once(loop, -1);
		if (ret == 1) {
			ret = MG_ERR_CANCELLED;
		}
	}
	if (ret == 0) {
		ret = st.err;
	}
	if (ret == 0) {
		*_r = talloc_steal(mem_ctx, st.r);
	} else if (_errmsg != NULL) {
		*_errmsg = st.errmsg != NULL ? talloc_steal(mem_ctx, st.errmsg) :
			   talloc_strdup(mem_ctx, mg_strerror(ret));
	}
	talloc_free(st.holder);
	return ret;
}
