/*
 * Persistent chains: the holder (a forked copy of the first command that
 * wanted one, detached: its own session, stdio on /dev/null) and the
 * commands' way to it. Start-up is serialised by flock on persist.lock,
 * so that commands started together end with one holder; the holder
 * takes the same lock, without waiting, to remove its socket and lock on
 * the way out, so that a command never attaches to a holder leaving (a
 * lock a starting command holds stays: that command uses it).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include "persist.h"
#include "persist-private.h"

/* How long a new holder gets to say it listens. */
#define START_MS 10000
/* How soon to try leaving again when a command holds the lock. */
#define RETRY_EXIT_MS 100
/* How long the hops get to stop when the holder leaves. */
#define SHUTDOWN_MS 5000

struct paths {
	char *dir, *sock, *lock, *log;
};

static int get_paths(TALLOC_CTX *mem_ctx, struct paths *p, char **_errmsg)
{
	int ret = mg_unix_dir(mem_ctx, &p->dir, _errmsg);

	if (ret != 0) {
		return ret;
	}
	p->sock = talloc_asprintf(mem_ctx, "%s/persist.sock", p->dir);
	p->lock = talloc_asprintf(mem_ctx, "%s/persist.lock", p->dir);
	p->log = talloc_asprintf(mem_ctx, "%s/persist.log", p->dir);
	return p->sock != NULL && p->lock != NULL && p->log != NULL ? 0 : -ENOMEM;
}

/* A socket there must be ours and closed to others: never talk to, nor
 * replace, what someone else put in our directory. */
static int check_socket(TALLOC_CTX *mem_ctx, const char *path, char **_errmsg)
{
	struct stat st;

	if (lstat(path, &st) != 0) {
		return errno == ENOENT ? 0 : -errno;
	}
	if (!S_ISSOCK(st.st_mode)) {
		*_errmsg = talloc_asprintf(mem_ctx, "%s: not a socket: refused", path);
		return -EPERM;
	}
	if (st.st_uid != geteuid()) {
		*_errmsg = talloc_asprintf(mem_ctx, "%s: owned by uid %u, not by us (uid %u): refused",
					   path, (unsigned)st.st_uid, (unsigned)geteuid());
		return -EPERM;
	}
	if ((st.st_mode & 077) != 0) {
		*_errmsg = talloc_asprintf(mem_ctx, "%s: mode %03o lets others in: refused", path,
					   (unsigned)(st.st_mode & 0777));
		return -EPERM;
	}
	return 0;
}

/* The lock, held when this returns an fd: the file at 'path' still (a
 * holder leaving unlinks it while holding it). */
static int take_lock(const char *path, bool wait)
{
	for (;;) {
		struct stat a, b;
		int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd < 0) {
			return -errno;
		}
		if (flock(fd, wait ? LOCK_EX : LOCK_EX | LOCK_NB) != 0) {
			int err = -errno;
			close(fd);
			if (err == -EINTR) {
				continue;
			}
			return err;
		}
		if (fstat(fd, &a) == 0 && stat(path, &b) == 0 && a.st_ino == b.st_ino &&
		    a.st_dev == b.st_dev) {
			return fd;
		}
		close(fd);
	}
}

/* --- the holder ------------------------------------------------------------ */

void mg__holder_exit(struct mg_holder *h)
{
	if (h->exiting) {
		return;
	}
	h->exiting = true;
	/* The lock file goes only under the lock, so that a command waiting
	 * on it starts another holder afterwards. Never wait for it here: a
	 * command in its start-up may hold it as long as it likes, and it
	 * starts another holder itself when it finds our socket gone. */
	if (h->lock_fd < 0) {
		h->lock_fd = take_lock(h->lock, false);
	}
	TALLOC_FREE(h->l);
	/* The clients first: each says its link to us is lost (255), never
	 * the 143 of a command our teardown stopped, nor "parent lost". */
	if (h->s != NULL) {
		mg_session_drop_clients(h->s);
	}
	if (h->lock_fd >= 0) {
		unlink(h->lock);
	}
	mg_loop_stop(h->loop, 0);
}

static void on_idle(struct mg_timer *t, void *data)
{
	struct mg_holder *h = data;
	int fd;

	TALLOC_FREE(h->idle);
	if (h->n_clients > 0) {
		return;
	}
	/* A command in its start-up holds the lock: it may be about to
	 * attach. Never wait for it in the loop. A lock that cannot be
	 * opened at all (the runtime directory removed, as logind does at
	 * logout) has no such command behind it: retried, it kept the
	 * holder and its hops for ever. */
	fd = take_lock(h->lock, false);
	if (fd == -EWOULDBLOCK) {
		h->idle = mg_timer_new(h, h->loop, RETRY_EXIT_MS, on_idle, h);
		return;
	}
	mg_info("idle for %u ms: exiting", h->idle_ms);
	h->lock_fd = fd >= 0 ? fd : -1;
	mg__holder_exit(h);
}

static int client_destructor(struct mg_client *c)
{
	struct mg_client **pp = &c->h->clients;

	while (*pp != NULL && *pp != c) {
		pp = &(*pp)->next;
	}
	if (*pp == c) {
		*pp = c->next;
	}
	return 0;
}

static void on_client_gone(struct mg_router *r, uint32_t id, const char *reason, void *data)
{
	struct mg_client *c = data;
	struct mg_holder *h = c->h;

	mg_debug("client %u gone: %s", id, reason);
	talloc_free(c);
	if (--h->n_clients == 0 && !h->exiting) {
		TALLOC_FREE(h->idle);
		h->idle = mg_timer_new(h, h->loop, h->idle_ms, on_idle, h);
	}
}

static void on_client(struct mg_listener *l, uint32_t id, pid_t pid, void *data)
{
	struct mg_holder *h = data;
	struct mg_client *c = talloc_zero(h, struct mg_client);

	if (c == NULL) {
		return;
	}
	c->h = h;
	c->id = id;
	c->watch = mg_router_on_disconnect(c, mg_session_router(h->s), id, on_client_gone, c);
	if (c->watch == NULL) {
		talloc_free(c);
		return;
	}
	/* Newest first: the one most likely waiting for a password. */
	c->next = h->clients;
	h->clients = c;
	talloc_set_destructor(c, client_destructor);
	h->n_clients++;
	TALLOC_FREE(h->idle);
}

static void on_term(struct mg_signal *sig, int signo, void *data)
{
	mg_info("signal %d: exiting", signo);
	mg__holder_exit(data);
}

/* Set up; tell the command on 'ready' ("" or an error); run until idle. */
static void holder_run(struct mg_holder *h, int ready)
{
	char *err = NULL;
	const char *msg = "out of memory";

	h->loop = mg_loop_new(h);
	h->s = h->loop != NULL ? mg_session_new(h, h->loop) : NULL;
	if (h->s == NULL || mg_session_serve(h->s) != 0 || mg__holder_ctl_init(h) != 0 ||
	    mg__holder_pw_init(h) != 0 ||
	    mg_signal_new(h, h->loop, SIGTERM, on_term, h) == NULL ||
	    mg_signal_new(h, h->loop, SIGINT, on_term, h) == NULL ||
	    mg_signal_new(h, h->loop, SIGHUP, on_term, h) == NULL) {
		goto fail;
	}
	/* As every command's own session: no hop reaches another. */
	mg_router_set_unidirectional(mg_session_router(h->s), true);
	if (mg_listener_new(h, h->s, h->sock, &h->l, &err) != 0) {
		msg = err != NULL ? err : "cannot listen";
		goto fail;
	}
	mg_listener_set_privileged(h->l, true);
	mg_listener_on_attach(h->l, on_client, h);
	h->started = mg_loop_now(h->loop);
	h->idle = mg_timer_new(h, h->loop, h->idle_ms, on_idle, h);
	if (h->idle == NULL || write(ready, "", 1) != 1) {
		goto fail;
	}
	close(ready);
	mg_info("listening on %s, pid %d", h->sock, (int)getpid());
	mg_loop_run(h->loop);
	mg_session_shutdown(h->s, SHUTDOWN_MS);
	return;
fail:
	if (write(ready, msg, strlen(msg)) < 0) {
		/* The command sees EOF: no holder. */
	}
	TALLOC_FREE(h->l);
}

/* In the grandchild: no terminal, stdio on /dev/null (with -v, the log
 * in persist.log), nothing else of the command's open; then hold. */
static void holder_main(const struct paths *p, const struct mg_persist_opts *o, int ready)
{
	struct mg_holder *h = talloc_zero(NULL, struct mg_holder);
	int null = open("/dev/null", O_RDWR);

	if (h == NULL || null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 || dup2(null, 2) < 0 ||
	    dup2(ready, 3) < 0) {
		_exit(1);
	}
	close_range(4, ~0U, 0);
	/* Hold no directory of the first command's busy (an unmount). */
	if (chdir("/") != 0) {
		_exit(1);
	}
	if (o->verbose > 0) {
		mg_log_to_file(p->log, mg_log_get_level());
	}
	fcntl(3, F_SETFD, FD_CLOEXEC);
	mg_loop_child_sigmask();
	signal(SIGINT, SIG_DFL);
	signal(SIGPIPE, SIG_IGN);
	mg_log_set_ident("mitogen-persist");
	h->sock = talloc_strdup(h, p->sock);
	h->lock = talloc_strdup(h, p->lock);
	h->idle_ms = o->idle_ms;
	h->lock_fd = -1;
	if (h->sock != NULL && h->lock != NULL) {
		holder_run(h, 3);
	}
	_exit(0);
}

/* Start a holder (we hold the lock) and wait until it listens. */
static int spawn_holder(TALLOC_CTX *mem_ctx, const struct paths *p,
			const struct mg_persist_opts *o, char **_errmsg)
{
	char buf[512];
	struct pollfd pfd;
	int fds[2], status = 0;
	ssize_t n;
	pid_t pid;

	if (pipe2(fds, O_CLOEXEC) != 0) {
		return -errno;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		return -errno;
	}
	if (pid == 0) {
		close(fds[0]);
		if (setsid() < 0 || fork() != 0) {
			_exit(0);
		}
		holder_main(p, o, fds[1]);
	}
	close(fds[1]);
	waitpid(pid, &status, 0);
	pfd.fd = fds[0];
	pfd.events = POLLIN;
	n = poll(&pfd, 1, START_MS) == 1 ? read(fds[0], buf, sizeof(buf) - 1) : -1;
	close(fds[0]);
	if (n == 1 && buf[0] == '\0') {
		return 0;
	}
	buf[n > 0 ? n : 0] = '\0';
	*_errmsg = talloc_asprintf(mem_ctx, "the background holder did not start%s%s",
				   n > 0 ? ": " : "", buf);
	return -ECHILD;
}

/* --- the commands' side ------------------------------------------------------ */

/* Nobody accepts there (or someone just stopped): start a holder. */
static bool stale(int err)
{
	return err == -ENOENT || err == -ECONNREFUSED || err == -ECONNRESET || err == -EPIPE ||
	       err == MG_ERR_DISCONNECTED || err == MG_ERR_EOF;
}

static int try_attach(TALLOC_CTX *mem_ctx, struct mg_loop *loop, const struct paths *p,
		      struct mg_session **_s, char **_errmsg)
{
	int ret = check_socket(mem_ctx, p->sock, _errmsg);

	if (ret != 0) {
		return ret;
	}
	ret = mg_session_attach(mem_ctx, loop, p->sock, 0, _s, _errmsg);
	if (ret == 0 && (ret = mg__persist_pw_serve(*_s)) != 0) {
		TALLOC_FREE(*_s);
	}
	return ret;
}

/* A holder we cannot talk to: of another build (its protocol version, or
 * its HELLO, not ours). */
static bool other_build(int err)
{
	return err == MG_ERR_VERSION || err == MG_ERR_PROTOCOL;
}

/* Say how to be rid of it: it would refuse every command until idle. */
static void other_build_hint(TALLOC_CTX *mem_ctx, char **_errmsg)
{
	*_errmsg = talloc_asprintf(mem_ctx, "%s: a holder of another mitogen build: "
				   "--persist-stop stops it", *_errmsg);
}

int mg_persist_attach(TALLOC_CTX *mem_ctx, struct mg_loop *loop,
		      const struct mg_persist_opts *o, struct mg_session **_s, char **_errmsg)
{
	struct paths p;
	int ret, fd;

	*_errmsg = NULL;
	if ((ret = get_paths(mem_ctx, &p, _errmsg)) != 0) {
		return ret;
	}
	ret = try_attach(mem_ctx, loop, &p, _s, _errmsg);
	if (ret == 0) {
		mg__persist_ctl_idle(*_s, o->idle_ms);
	} else if (other_build(ret) && *_errmsg != NULL) {
		other_build_hint(mem_ctx, _errmsg);
	}
	if (!stale(ret)) {
		return ret;
	}
	fd = take_lock(p.lock, true);
	if (fd < 0) {
		*_errmsg = talloc_asprintf(mem_ctx, "%s: %s", p.lock, strerror(-fd));
		return fd;
	}
	/* Another command may have started one while we waited. */
	ret = try_attach(mem_ctx, loop, &p, _s, _errmsg);
	if (stale(ret)) {
		mg_debug("no holder at %s: starting one", p.sock);
		ret = spawn_holder(mem_ctx, &p, o, _errmsg);
		if (ret == 0) {
			ret = try_attach(mem_ctx, loop, &p, _s, _errmsg);
		}
	}
	close(fd);
	if (ret == 0) {
		mg__persist_ctl_idle(*_s, o->idle_ms);
	}
	return ret;
}

/* The pid of our own user's process listening at 'path', or a negative
 * code. */
static int listener_pid(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	socklen_t len = sizeof(struct ucred);
	struct ucred uc;
	int fd, ret;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		return -ENAMETOOLONG;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		return -errno;
	}
	if (connect(fd, (const struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) != 0) {
		ret = -errno;
	} else {
		ret = uc.uid == geteuid() && uc.pid > 0 ? (int)uc.pid : -EPERM;
	}
	close(fd);
	return ret;
}

/* --persist-stop of a holder we cannot talk to (another build): it
 * leaves on SIGTERM, as every build's holder does. */
static int stop_other_build(TALLOC_CTX *mem_ctx, const char *sock, char **_errmsg)
{
	int pid = listener_pid(sock);

	if (pid < 0 || kill(pid, SIGTERM) != 0) {
		*_errmsg = talloc_asprintf(mem_ctx, "%s: cannot stop the holder of another build: %s",
					   sock, strerror(pid < 0 ? -pid : errno));
		return pid < 0 ? pid : -errno;
	}
	printf("holder pid %d: exiting (another mitogen build: told by SIGTERM)\n", pid);
	fflush(stdout);
	return 0;
}

int mg_persist_control(TALLOC_CTX *mem_ctx, enum mg_persist_op op, const char *target,
		       char **_errmsg)
{
	TALLOC_CTX *tmp = talloc_new(mem_ctx);
	struct mg_loop *loop = tmp != NULL ? mg_loop_new(tmp) : NULL;
	struct mg_message *m = NULL;
	struct mg_router *r = NULL;
	struct mg_enc *req = mg__persist_ctl_request(tmp, op, target);
	struct paths p;
	uint32_t code = 1;
	char *text = NULL;
	const void *data;
	size_t len;
	int ret;

	*_errmsg = NULL;
	if (loop == NULL || req == NULL) {
		ret = -ENOMEM;
		goto out;
	}
	if ((ret = get_paths(tmp, &p, _errmsg)) != 0 ||
	    (ret = check_socket(tmp, p.sock, _errmsg)) != 0) {
		goto out;
	}
	ret = mg_attach(tmp, loop, p.sock, 0, &r, _errmsg);
	if (stale(ret)) {
		*_errmsg = talloc_asprintf(tmp, "no holder running (%s)", p.sock);
		goto out;
	}
	if (other_build(ret)) {
		if (op == MG_PERSIST_STOP && (target == NULL || target[0] == '\0')) {
			*_errmsg = NULL;
			ret = stop_other_build(tmp, p.sock, _errmsg);
			code = 0;
		} else if (*_errmsg != NULL) {
			other_build_hint(tmp, _errmsg);
		}
		goto out;
	}
	data = mg_enc_data(req, &len);
	if (ret == 0) {
		ret = mg_router_call(tmp, r, 0, MG_PERSIST_SERVICE, data, len, 10000, &m);
		if (ret == MG_ERR_CALL) {
			*_errmsg = talloc_asprintf(tmp, "the holder: %s", mg_message_dead_reason(m));
		}
	}
	if (ret == 0 && (ret = mg__persist_ctl_answer(m, tmp, &code, &text)) == 0) {
		fputs(text, stdout);
		fflush(stdout);
	}
out:
	if (ret != 0 && *_errmsg == NULL) {
		*_errmsg = talloc_strdup(tmp, mg_strerror(ret));
	}
	*_errmsg = talloc_steal(mem_ctx, *_errmsg);
	talloc_free(r);
	talloc_free(tmp);
	return ret != 0 ? 1 : code != 0 ? 1 : 0;
}
