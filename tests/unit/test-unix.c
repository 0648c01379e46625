/*
 * Attach from outside (mitogen/unix.h): a master listens on a UNIX
 * socket, a client joins as a leaf child context, messages go both ways
 * under the usual policies; the socket directory's checks, stale sockets,
 * and a peer of another uid refused with a reason.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include "buf.h"
#include "loop-helpers.h"
#include "mitogen/chain.h"
#include "mitogen/context.h"
#include "mitogen/error.h"
#include "mitogen/service.h"
#include "mitogen/message.h"
#include "mitogen/receiver.h"
#include "mitogen/router.h"
#include "mitogen/session.h"
#include "mitogen/unix.h"
#include "protocol.h"
#include "router.h"

#define H_CLIENT 2000 /* the client's receiver for the master's requests */
#define H_MASTER 2001 /* a master handle with parent policy */

struct fx {
	TALLOC_CTX *ctx;
	struct mg_loop *loop;
	struct mg_session *s;
	struct mg_router *mr; /* the master's */
	struct mg_listener *l;
	char *dir;
	char *path;
	uint32_t attached; /* id given by on_attach, 0 before */
	pid_t attached_pid;
	int n_attached;
};

static int fx_destructor(struct fx *f)
{
	char cmd[512];

	if (f->dir != NULL) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
		if (system(cmd) != 0) {
			printf("# cannot remove %s\n", f->dir);
		}
	}
	return 0;
}

static void on_attach(struct mg_listener *l, uint32_t id, pid_t pid, void *data)
{
	struct fx *f = data;

	f->attached = id;
	f->attached_pid = pid;
	f->n_attached++;
}

/* A session and a 0700 temporary directory; no listener yet. */
static struct fx *fx_new(void)
{
	struct fx *f = talloc_zero(NULL, struct fx);
	char tmpl[] = "/tmp/mg-unix-XXXXXX";

	if (f == NULL) {
		return NULL;
	}
	talloc_set_destructor(f, fx_destructor);
	f->ctx = f;
	if (mkdtemp(tmpl) == NULL) {
		talloc_free(f);
		return NULL;
	}
	f->dir = talloc_strdup(f, tmpl);
	f->path = talloc_asprintf(f, "%s/sock", tmpl);
	f->loop = mg_loop_new(f);
	f->s = f->loop != NULL ? mg_session_new(f, f->loop) : NULL;
	if (f->dir == NULL || f->path == NULL || f->s == NULL) {
		talloc_free(f);
		return NULL;
	}
	f->mr = mg_session_router(f->s);
	return f;
}

/* The same, listening on f->path. */
static struct fx *fx_listen(void)
{
	struct fx *f = fx_new();
	char *err = NULL;

	if (f == NULL || mg_listener_new(f, f->s, f->path, &f->l, &err) != 0) {
		printf("# listen: %s\n", err != NULL ? err : "?");
		talloc_free(f);
		return NULL;
	}
	mg_listener_on_attach(f->l, on_attach, f);
	return f;
}

static bool attached(void *arg)
{
	return ((struct fx *)arg)->n_attached > 0;
}

static void test_attach_basic_body(void)
{
	struct fx *f = fx_listen();
	struct mg_router *cr = NULL;
	const uint32_t *pids;
	char *err = NULL;
	struct stat st;
	size_t n = 0;

	ASSERT_PTR_NOT_NULL(f);
	ASSERT_STR_EQ(mg_listener_path(f->l), f->path);
	ASSERT_INT_EQ(stat(f->path, &st), 0);
	ASSERT_TRUE(S_ISSOCK(st.st_mode));
	ASSERT_INT_EQ(st.st_mode & 0777, 0600);
	ASSERT_INT_EQ(mg_attach(f, f->loop, f->path, 0, &cr, &err), 0);
	ASSERT_PTR_NULL(err);
	ASSERT_PTR_NOT_NULL(cr);
	ASSERT_TRUE(run_until(f->loop, attached, f, 2000));
	/* The master hands out ids: the first context of the session. */
	ASSERT_INT_EQ(mg_router_id(cr), 1);
	ASSERT_INT_EQ(f->attached, 1);
	ASSERT_INT_EQ(f->attached_pid, getpid());
	ASSERT_TRUE(!mg_router_is_master(cr));
	ASSERT_INT_EQ(mg_router_parent_id(cr), 0);
	pids = mg_router_parent_ids(cr, &n);
	ASSERT_INT_EQ(n, 1);
	ASSERT_INT_EQ(pids[0], 0);
	ASSERT_TRUE(mg__router_reachable(f->mr, 1));
	ASSERT_STR_CONTAINS(mg__router_name(f->mr, 1), "unix:");
	/* The client goes: so does its route. */
	talloc_free(cr);
	run_until(f->loop, NULL, NULL, 50);
	ASSERT_TRUE(!mg__router_reachable(f->mr, 1));
	/* The socket is unlinked with its listener. */
	TALLOC_FREE(f->l);
	ASSERT_INT_EQ(stat(f->path, &st), -1);
	talloc_free(f);
}
ISOLATED(test_attach_basic)

/* A request from the master reaches the client's receiver, the reply
 * comes back; the client cannot command the master. */
static void test_messages_and_policy_body(void)
{
	struct fx *f = fx_listen();
	struct mg_router *cr = NULL;
	struct mg_receiver *rx_c, *rx_m, *rx_reply, *rx_parent;
	struct mg_message *msg;
	const char *text;
	size_t len;
	uint32_t id;

	ASSERT_PTR_NOT_NULL(f);
	ASSERT_INT_EQ(mg_attach(f, f->loop, f->path, 0, &cr, NULL), 0);
	id = mg_router_id(cr);
	ASSERT_TRUE(run_until(f->loop, attached, f, 2000));
	/* The client obeys its parent only (MG_ANY: parent authority). */
	ASSERT_INT_EQ(mg_receiver_new(f, cr, H_CLIENT, MG_ANY, 0, &rx_c), 0);
	ASSERT_INT_EQ(mg_receiver_new(f, f->mr, 0, id, MG_RECV_ONESHOT, &rx_m), 0);
	ASSERT_INT_EQ(mg_router_send(f->mr, id, H_CLIENT, mg_receiver_handle(rx_m), "ping", 4), 0);
	ASSERT_INT_EQ(mg_receiver_get(f, rx_c, 2000, &msg), 0);
	text = mg_message_data(msg, &len);
	ASSERT_STR_EQ(text, "ping");
	ASSERT_INT_EQ(mg_message_src(msg), 0);
	ASSERT_INT_EQ(mg_message_reply(msg, "pong", 4), 0);
	talloc_free(msg);
	ASSERT_INT_EQ(mg_receiver_get(f, rx_m, 2000, &msg), 0);
	ASSERT_STR_EQ(mg_message_data(msg, &len), "pong");
	ASSERT_INT_EQ(mg_message_src(msg), id);
	talloc_free(msg);

	/* A master handle taking parent authority refuses the child. */
	ASSERT_INT_EQ(mg_receiver_new(f, f->mr, H_MASTER, MG_ANY, 0, &rx_parent), 0);
	ASSERT_INT_EQ(mg_receiver_new(f, cr, 0, 0, MG_RECV_ONESHOT, &rx_reply), 0);
	ASSERT_INT_EQ(mg_router_send(cr, 0, H_MASTER, mg_receiver_handle(rx_reply), "order", 5), 0);
	ASSERT_INT_EQ(mg_receiver_get(f, rx_reply, 2000, &msg), MG_ERR_CHANNEL);
	ASSERT_STR_CONTAINS(mg_message_dead_reason(msg), "refused by policy");
	talloc_free(msg);
	ASSERT_INT_EQ(mg_receiver_queued(rx_parent), 0);
	/* Nor can it reach a sibling or a context it made up. */
	ASSERT_INT_EQ(mg_receiver_new(f, cr, 0, 0, MG_RECV_ONESHOT, &rx_reply), 0);
	ASSERT_INT_EQ(mg_router_send(cr, 77, H_CLIENT, mg_receiver_handle(rx_reply), "x", 1), 0);
	ASSERT_INT_EQ(mg_receiver_get(f, rx_reply, 2000, &msg), MG_ERR_CHANNEL);
	ASSERT_STR_CONTAINS(mg_message_dead_reason(msg), "no route to 77");
	talloc_free(msg);
	talloc_free(rx_c);
	talloc_free(cr);
	talloc_free(f);
}
ISOLATED(test_messages_and_policy)

/* An attached client is a leaf: announcing a context drops it. */
static void test_leaf_body(void)
{
	struct fx *f = fx_listen();
	struct mg_router *cr = NULL;
	uint8_t p[8];

	ASSERT_PTR_NOT_NULL(f);
	ASSERT_INT_EQ(mg_attach(f, f->loop, f->path, 0, &cr, NULL), 0);
	ASSERT_TRUE(run_until(f->loop, attached, f, 2000));
	mg__put_be32(p, 99);
	mg__put_be32(p + 4, 0); /* name "" */
	ASSERT_INT_EQ(mg__router_send(cr, 0, MG_H_ADD_ROUTE, 0, 0, p, sizeof(p)), 0);
	run_until(f->loop, NULL, NULL, 100);
	ASSERT_TRUE(!mg__router_reachable(f->mr, 99));
	ASSERT_TRUE(!mg__router_reachable(f->mr, mg_router_id(cr)));
	ASSERT_TRUE(!mg__router_reachable(cr, 0));
	talloc_free(cr);
	talloc_free(f);
}
ISOLATED(test_leaf)

static void test_dir_checks_body(void)
{
	struct fx *f = fx_new();
	struct mg_listener *l = NULL;
	char *err = NULL, *dir = NULL, *sub, *link, *path;
	struct stat st;

	ASSERT_PTR_NOT_NULL(f);
	/* A directory group or others may enter is refused. */
	sub = talloc_asprintf(f, "%s/open", f->dir);
	ASSERT_INT_EQ(mkdir(sub, 0700), 0);
	ASSERT_INT_EQ(chmod(sub, 0755), 0);
	path = talloc_asprintf(f, "%s/sock", sub);
	ASSERT_INT_EQ(mg_listener_new(f, f->s, path, &l, &err), -EPERM);
	ASSERT_PTR_NULL(l);
	ASSERT_STR_CONTAINS(err, "has mode 0755");
	ASSERT_INT_EQ(stat(path, &st), -1);
	/* A symlink to a good directory is refused. */
	link = talloc_asprintf(f, "%s/link", f->dir);
	ASSERT_INT_EQ(chmod(sub, 0700), 0);
	ASSERT_INT_EQ(symlink(sub, link), 0);
	path = talloc_asprintf(f, "%s/sock", link);
	ASSERT_INT_EQ(mg_listener_new(f, f->s, path, &l, &err), -ENOTDIR);
	ASSERT_STR_CONTAINS(err, "is not a directory");
	/* Another owner is refused (root can make one). */
	if (geteuid() == 0) {
		ASSERT_INT_EQ(chown(sub, 65534, 65534), 0);
		path = talloc_asprintf(f, "%s/sock", sub);
		ASSERT_INT_EQ(mg_listener_new(f, f->s, path, &l, &err), -EPERM);
		ASSERT_STR_CONTAINS(err, "is owned by uid 65534");
	} else {
		printf("# skip the other-owner case: not root\n");
	}
	/* The default directory: $XDG_RUNTIME_DIR/mitogen, made 0700. */
	ASSERT_INT_EQ(setenv("XDG_RUNTIME_DIR", f->dir, 1), 0);
	ASSERT_INT_EQ(mg_unix_dir(f, &dir, &err), 0);
	ASSERT_STR_EQ(dir, talloc_asprintf(f, "%s/mitogen", f->dir));
	ASSERT_INT_EQ(lstat(dir, &st), 0);
	ASSERT_INT_EQ(st.st_mode & 0777, 0700);
	ASSERT_INT_EQ(mg_listener_new(f, f->s, NULL, &l, &err), 0);
	ASSERT_TRUE(strncmp(mg_listener_path(l), dir, strlen(dir)) == 0);
	ASSERT_INT_EQ(lstat(mg_listener_path(l), &st), 0);
	ASSERT_INT_EQ(st.st_mode & 0777, 0600);
	TALLOC_FREE(l);
	/* An existing default directory with the wrong mode is refused. */
	ASSERT_INT_EQ(chmod(dir, 0750), 0);
	ASSERT_INT_EQ(mg_listener_new(f, f->s, NULL, &l, &err), -EPERM);
	ASSERT_STR_CONTAINS(err, "has mode 0750");
	/* Without XDG_RUNTIME_DIR (or a relative one): /tmp/mitogen-UID. */
	ASSERT_INT_EQ(setenv("XDG_RUNTIME_DIR", "relative", 1), 0);
	ASSERT_INT_EQ(mg_unix_dir(f, &dir, &err), 0);
	ASSERT_STR_EQ(dir, talloc_asprintf(f, "/tmp/mitogen-%u", (unsigned)geteuid()));
	/* So too when others may rename entries in it (not sticky): they
	 * could swap our directory for theirs. */
	sub = talloc_asprintf(f, "%s/xdg", f->dir);
	ASSERT_INT_EQ(mkdir(sub, 0700), 0);
	ASSERT_INT_EQ(chmod(sub, 0777), 0);
	ASSERT_INT_EQ(setenv("XDG_RUNTIME_DIR", sub, 1), 0);
	ASSERT_INT_EQ(mg_unix_dir(f, &dir, &err), 0);
	ASSERT_STR_EQ(dir, talloc_asprintf(f, "/tmp/mitogen-%u", (unsigned)geteuid()));
	ASSERT_INT_EQ(rmdir(sub), 0);
	/* ...or another user owns it (root can make one). */
	if (geteuid() == 0) {
		ASSERT_INT_EQ(mkdir(sub, 0700), 0);
		ASSERT_INT_EQ(chown(sub, 65534, 65534), 0);
		ASSERT_INT_EQ(mg_unix_dir(f, &dir, &err), 0);
		ASSERT_STR_EQ(dir, talloc_asprintf(f, "/tmp/mitogen-%u", (unsigned)geteuid()));
		ASSERT_INT_EQ(rmdir(sub), 0);
	}
	/* Sticky, as /tmp: used. */
	ASSERT_INT_EQ(mkdir(sub, 0700), 0);
	ASSERT_INT_EQ(chmod(sub, 01777), 0);
	ASSERT_INT_EQ(mg_unix_dir(f, &dir, &err), 0);
	ASSERT_STR_EQ(dir, talloc_asprintf(f, "%s/mitogen", sub));
	ASSERT_INT_EQ(rmdir(dir), 0);
	ASSERT_INT_EQ(rmdir(sub), 0);
	/* Our own 0700 directory below one where others may rename: they
	 * could swap its parent, and so it, for theirs. */
	ASSERT_INT_EQ(mkdir(sub, 0700), 0);
	ASSERT_INT_EQ(chmod(sub, 0777), 0);
	path = talloc_asprintf(f, "%s/run", sub);
	ASSERT_INT_EQ(mkdir(path, 0700), 0);
	ASSERT_INT_EQ(setenv("XDG_RUNTIME_DIR", path, 1), 0);
	ASSERT_INT_EQ(mg_unix_dir(f, &dir, &err), 0);
	ASSERT_STR_EQ(dir, talloc_asprintf(f, "/tmp/mitogen-%u", (unsigned)geteuid()));
	/* ...nor through a symlink that leads there from a safe place. */
	link = talloc_asprintf(f, "%s/to-run", f->dir);
	ASSERT_INT_EQ(symlink(path, link), 0);
	ASSERT_INT_EQ(setenv("XDG_RUNTIME_DIR", link, 1), 0);
	ASSERT_INT_EQ(mg_unix_dir(f, &dir, &err), 0);
	ASSERT_STR_EQ(dir, talloc_asprintf(f, "/tmp/mitogen-%u", (unsigned)geteuid()));
	/* Once the parent is ours alone, the same path is used. */
	ASSERT_INT_EQ(chmod(sub, 0755), 0);
	ASSERT_INT_EQ(mg_unix_dir(f, &dir, &err), 0);
	ASSERT_STR_EQ(dir, talloc_asprintf(f, "%s/mitogen", link));
	unsetenv("XDG_RUNTIME_DIR");
	talloc_free(f);
}
ISOLATED(test_dir_checks)

static int bound_socket(const char *path, bool do_listen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    (do_listen && listen(fd, 4) != 0)) {
		return -1;
	}
	return fd;
}

static void test_stale_and_live_body(void)
{
	struct fx *f = fx_new();
	struct mg_listener *l = NULL, *l2 = NULL;
	struct mg_router *cr = NULL;
	char *err = NULL, *file;
	int fd;

	ASSERT_PTR_NOT_NULL(f);
	/* Nobody there yet. */
	ASSERT_INT_EQ(mg_attach(f, f->loop, f->path, 0, &cr, &err), -ENOENT);
	ASSERT_STR_CONTAINS(err, "cannot connect to");
	/* A socket file nobody accepts on: refused to clients, replaced by
	 * a listener. */
	fd = bound_socket(f->path, false);
	ASSERT_INT_GE(fd, 0);
	close(fd);
	ASSERT_INT_EQ(mg_attach(f, f->loop, f->path, 0, &cr, &err), -ECONNREFUSED);
	ASSERT_INT_EQ(mg_listener_new(f, f->s, f->path, &l, &err), 0);
	mg_listener_on_attach(l, on_attach, f);
	ASSERT_INT_EQ(mg_attach(f, f->loop, f->path, 0, &cr, &err), 0);
	/* A live one stays. */
	ASSERT_INT_EQ(mg_listener_new(f, f->s, f->path, &l2, &err), -EADDRINUSE);
	ASSERT_STR_CONTAINS(err, "a listener is alive there");
	/* So does anything that is not a socket. */
	file = talloc_asprintf(f, "%s/file", f->dir);
	fd = open(file, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	ASSERT_INT_GE(fd, 0);
	close(fd);
	ASSERT_INT_EQ(mg_listener_new(f, f->s, file, &l2, &err), -EEXIST);
	ASSERT_STR_CONTAINS(err, "is not a socket");
	talloc_free(cr);
	talloc_free(l);
	talloc_free(f);
}
ISOLATED(test_stale_and_live)

/*
 * Listeners started at once where a stale socket lies: exactly one may
 * own the path. Without serialising, each saw the stale socket, and a
 * late one unlinked the first's live socket and bound its own: two
 * thought they listened there, one on a socket nobody could reach. The
 * race is narrow: many rounds of many processes, for at most
 * RACE_SECONDS (a sanitizer build on a loaded machine gets through fewer
 * rounds within the isolated test's 30 s alarm).
 */
#define RACERS 16
#define RACE_ROUNDS 150
#define RACE_SECONDS 8

static void test_stale_race_body(void)
{
	struct fx *f = fx_new();
	int rounds_bad = 0;
	time_t until = time(NULL) + RACE_SECONDS;

	ASSERT_PTR_NOT_NULL(f);
	for (int r = 0; r < RACE_ROUNDS && time(NULL) < until; r++) {
		int go[2], res[2], hold[2], fd, owners = 0;
		char c;

		unlink(f->path);
		fd = bound_socket(f->path, false);
		ASSERT_INT_GE(fd, 0);
		close(fd);
		ASSERT_INT_EQ(pipe2(go, O_CLOEXEC), 0);
		ASSERT_INT_EQ(pipe2(res, O_CLOEXEC), 0);
		ASSERT_INT_EQ(pipe2(hold, O_CLOEXEC), 0);
		fflush(stdout);
		for (int i = 0; i < RACERS; i++) {
			pid_t pid = fork();
			ASSERT_INT_GE(pid, 0);
			if (pid == 0) {
				struct mg_loop *loop = mg_loop_new(NULL);
				struct mg_session *s = loop != NULL ? mg_session_new(loop, loop) : NULL;
				struct mg_listener *l = NULL;

				close(go[1]);
				close(res[0]);
				close(hold[1]);
				/* All start when the parent closes 'go'; each
				 * keeps its listener until it closes 'hold'. */
				if (read(go[0], &c, 1) != 0 || s == NULL) {
					_exit(1);
				}
				c = mg_listener_new(loop, s, f->path, &l, NULL) == 0 ? 'Y' : 'n';
				if (write(res[1], &c, 1) != 1) {
					_exit(1);
				}
				close(res[1]);
				while (read(hold[0], &c, 1) > 0) {
				}
				_exit(0);
			}
		}
		close(go[0]);
		close(res[1]);
		close(hold[0]);
		close(go[1]);
		for (int i = 0; i < RACERS && read(res[0], &c, 1) == 1; i++) {
			owners += c == 'Y';
		}
		close(res[0]);
		close(hold[1]);
		while (wait(NULL) > 0) {
		}
		if (owners != 1) {
			printf("# round %d: %d listeners own %s\n", r, owners, f->path);
			rounds_bad++;
		}
	}
	/* Its directory goes even when the test fails. */
	talloc_free(f);
	ASSERT_INT_EQ(rounds_bad, 0);
}
ISOLATED(test_stale_race)

/* A listener that never says HELLO: the client gives up in time. */
static void test_attach_timeout_body(void)
{
	struct fx *f = fx_new();
	struct mg_router *cr = NULL;
	char *err = NULL;
	uint64_t t0;
	int fd;

	ASSERT_PTR_NOT_NULL(f);
	fd = bound_socket(f->path, true);
	ASSERT_INT_GE(fd, 0);
	/* The loop's time, which the timeout counts from: it was read when
	 * the loop last woke, and a slow setup (a sanitizer build under
	 * load: 22 ms) would make the clock's own look early. */
	t0 = mg_loop_now(f->loop);
	ASSERT_INT_EQ(mg_attach(f, f->loop, f->path, 200, &cr, &err), MG_ERR_TIMEOUT);
	ASSERT_INT_GE(now_ms() - t0, 190);
	ASSERT_STR_CONTAINS(err, "no HELLO");
	close(fd);
	talloc_free(f);
}
ISOLATED(test_attach_timeout)

struct child_done {
	bool done;
	int status;
};

static void on_child(struct mg_child *c, pid_t pid, int status, void *data)
{
	struct child_done *d = data;

	d->done = true;
	d->status = status;
}

static bool child_ended(void *arg)
{
	return ((struct child_done *)arg)->done;
}

/*
 * Another uid is refused by the listener itself, which tells it why. So
 * that the peer can reach the socket at all, the test opens the directory
 * and the socket to everyone after the listener has checked them: the
 * SO_PEERCRED check must hold even then.
 */
static void test_other_uid_refused_body(void)
{
	struct fx *f;
	struct child_done d = { 0 };
	struct mg_child *w;
	char buf[512] = "";
	int pfd[2];
	ssize_t n;
	pid_t pid;

	if (geteuid() != 0) {
		printf("# skip: needs root to setuid() to nobody (65534)\n");
		return;
	}
	f = fx_listen();
	ASSERT_PTR_NOT_NULL(f);
	ASSERT_INT_EQ(chmod(f->dir, 0711), 0);
	ASSERT_INT_EQ(chmod(f->path, 0666), 0);
	ASSERT_INT_EQ(pipe2(pfd, O_CLOEXEC), 0);
	fflush(stdout);
	pid = fork();
	ASSERT_INT_GE(pid, 0);
	if (pid == 0) {
		struct mg_loop *loop;
		struct mg_router *cr = NULL;
		char *err = NULL;
		int ret;

		close(pfd[0]);
		if (setgroups(0, NULL) != 0 || setgid(65534) != 0 || setuid(65534) != 0) {
			dprintf(pfd[1], "setuid failed");
			_exit(3);
		}
		loop = mg_loop_new(NULL);
		ret = loop != NULL ? mg_attach(loop, loop, f->path, 5000, &cr, &err) : -ENOMEM;
		dprintf(pfd[1], "%d %s", ret, err != NULL ? err : "");
		_exit(ret == MG_ERR_DEAD ? 0 : 1);
	}
	close(pfd[1]);
	w = mg_child_new(f, f->loop, pid, on_child, &d);
	ASSERT_PTR_NOT_NULL(w);
	ASSERT_TRUE(run_until(f->loop, child_ended, &d, 10000));
	n = read(pfd[0], buf, sizeof(buf) - 1);
	close(pfd[0]);
	buf[n > 0 ? n : 0] = '\0';
	printf("# the client saw: %s\n", buf);
	ASSERT_TRUE(WIFEXITED(d.status) && WEXITSTATUS(d.status) == 0);
	ASSERT_STR_CONTAINS(buf, "refused: peer uid 65534 is not the owner uid 0");
	ASSERT_INT_EQ(f->n_attached, 0);
	ASSERT_TRUE(!mg__router_reachable(f->mr, 1));
	talloc_free(f);
}
ISOLATED(test_other_uid_refused)

struct conn_wait {
	bool done;
	int err;
	struct mg_context *ctx;
};

static void on_connected(struct mg_context *ctx, int err, const char *errmsg, void *data)
{
	struct conn_wait *w = data;

	w->done = true;
	w->err = err;
	w->ctx = ctx;
	if (err != 0) {
		printf("# connect: %s\n", errmsg);
	}
}

static bool conn_done(void *arg)
{
	return ((struct conn_wait *)arg)->done;
}

/* A real agent ("local") in f's session: its context, or NULL. */
static struct mg_context *fx_local(struct fx *f)
{
	struct mg_chain_list *chains = NULL;
	struct conn_wait w = { 0 };

	if (mg_chain_parse(f, "local", &chains, NULL) != 0 ||
	    mg_connect(f, f->s, &chains->chains[0], NULL, on_connected, &w, NULL) != 0 ||
	    !run_until(f->loop, conn_done, &w, 20000) || w.err != 0) {
		return NULL;
	}
	return w.ctx;
}

/* A privileged client calls a service of a hop below the master and gets
 * the hop's answer; a plain client is refused by the hop's policy. */
static void test_privileged_calls_hop_body(void)
{
	struct fx *f = fx_listen();
	struct mg_router *cr = NULL, *plain = NULL;
	struct mg_context *ctx;
	struct mg_message *reply = NULL;
	size_t len;

	ASSERT_PTR_NOT_NULL(f);
	ctx = fx_local(f);
	ASSERT_PTR_NOT_NULL(ctx);
	ASSERT_INT_EQ(mg_attach(f, f->loop, f->path, 0, &plain, NULL), 0);
	/* The listener takes the flag when the client's HELLO reply comes. */
	ASSERT_TRUE(run_until(f->loop, attached, f, 2000));
	mg_listener_set_privileged(f->l, true);
	ASSERT_INT_EQ(mg_attach(f, f->loop, f->path, 0, &cr, NULL), 0);
	ASSERT_INT_EQ(mg_router_call(f, cr, mg_context_id(ctx), "echo", "hi", 2, 5000, &reply), 0);
	ASSERT_STR_EQ(mg_message_data(reply, &len), "hi");
	ASSERT_INT_EQ(mg_message_src(reply), mg_context_id(ctx));
	TALLOC_FREE(reply);
	ASSERT_INT_EQ(mg_router_call(f, plain, mg_context_id(ctx), "echo", "hi", 2, 5000, &reply),
		      MG_ERR_CALL);
	ASSERT_STR_CONTAINS(mg_message_dead_reason(reply), "refused by policy");
	TALLOC_FREE(reply);
	talloc_free(plain);
	talloc_free(cr);
	ASSERT_INT_EQ(mg_session_shutdown(f->s, 5000), 0);
	talloc_free(f);
}
ISOLATED(test_privileged_calls_hop)

/* --- a hand-made client --------------------------------------------- */

static bool read_all(int fd, void *p, size_t n)
{
	uint8_t *b = p;

	while (n > 0) {
		ssize_t k = read(fd, b, n);
		if (k <= 0) {
			return false;
		}
		b += k;
		n -= (size_t)k;
	}
	return true;
}

static bool write_all(int fd, const void *p, size_t n)
{
	const uint8_t *b = p;

	while (n > 0) {
		ssize_t k = write(fd, b, n);
		if (k <= 0) {
			return false;
		}
		b += k;
		n -= (size_t)k;
	}
	return true;
}

/* A frame's header, as the wire has it (section 3). */
static void put_header(uint8_t *h, uint32_t dst, uint32_t src, uint32_t handle,
		       uint32_t reply_to, uint32_t len)
{
	mg__put_be32(h, (uint32_t)MG_MAGIC << 16);
	mg__put_be32(h + 4, dst);
	mg__put_be32(h + 8, src);
	mg__put_be32(h + 12, src);
	mg__put_be32(h + 16, handle);
	mg__put_be32(h + 20, reply_to);
	mg__put_be32(h + 24, len);
}

/* Connect to 'path' (blocking), take HELLO and answer it as a client
 * does: the fd, *_id the context id offered, or -1. */
static int raw_attach(const char *path, uint32_t *_id)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	uint8_t h[MG_HDR_LEN], p[64], *hello;
	struct mg_buf *b = mg__buf_new(NULL, 256);
	uint32_t len;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (fd < 0 || b == NULL || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    !read_all(fd, h, sizeof(h)) || (len = mg__get_be32(h + 24)) < 8 || len > 65536 ||
	    (hello = talloc_size(b, len)) == NULL || !read_all(fd, hello, len)) {
		goto fail;
	}
	*_id = mg__get_be32(hello + 4);
	if (mg__buf_put_u32(b, MG_PROTOCOL_VERSION) != 0 || mg__buf_put_u32(b, (uint32_t)getpid()) != 0 ||
	    mg__buf_put_u32(b, (uint32_t)getuid()) != 0 || mg__buf_put_str(b, "x") != 0 ||
	    mg__buf_put_str(b, "raw") != 0 || mg__buf_put_u32(b, 0) != 0 || b->len > sizeof(p)) {
		goto fail;
	}
	memcpy(p, b->data, b->len);
	put_header(h, 0, *_id, MG_H_HELLO, 0, (uint32_t)b->len);
	if (!write_all(fd, h, sizeof(h)) || !write_all(fd, p, b->len)) {
		goto fail;
	}
	talloc_free(b);
	return fd;
fail:
	talloc_free(b);
	if (fd >= 0) {
		close(fd);
	}
	return -1;
}

/* A CALL of 'service' on 'dst' from 'src' with 'len' bytes of 'x'. */
static bool raw_call(int fd, uint32_t dst, uint32_t src, const char *service, size_t len,
		     uint32_t reply_to)
{
	size_t slen = strlen(service), plen = 4 + slen + 4 + len;
	uint8_t *f = calloc(1, MG_HDR_LEN + plen);
	bool ok;

	if (f == NULL) {
		return false;
	}
	put_header(f, dst, src, MG_H_CALL, reply_to, (uint32_t)plen);
	mg__put_be32(f + MG_HDR_LEN, (uint32_t)slen);
	memcpy(f + MG_HDR_LEN + 4, service, slen);
	mg__put_be32(f + MG_HDR_LEN + 4 + slen, (uint32_t)len);
	memset(f + MG_HDR_LEN + 8 + slen, 'x', len);
	ok = write_all(fd, f, MG_HDR_LEN + plen);
	free(f);
	return ok;
}

/*
 * A client asks a hop for answers and never reads them (stopped, hung
 * or hostile): the hop still serves everyone else. Before, the master
 * stopped reading the hop as soon as the client's queue was full, so
 * every other command on that hop waited for the client to read.
 */
static void test_deaf_client_starves_nobody_body(void)
{
	struct fx *f = fx_listen();
	struct child_done d = { 0 };
	struct mg_message *reply = NULL;
	struct mg_context *ctx;
	struct mg_child *w;
	uint32_t hop;
	pid_t pid;
	size_t len;

	ASSERT_PTR_NOT_NULL(f);
	ctx = fx_local(f);
	ASSERT_PTR_NOT_NULL(ctx);
	hop = mg_context_id(ctx);
	mg_listener_set_privileged(f->l, true);
	fflush(stdout);
	pid = fork();
	ASSERT_INT_GE(pid, 0);
	if (pid == 0) {
		uint32_t id;
		int fd;

		/* Gone with the test, even one that failed: it holds stdout. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		fd = raw_attach(f->path, &id);
		/* 24 MB of answers asked for, none read. */
		for (int i = 0; fd >= 0 && i < 24; i++) {
			raw_call(fd, hop, id, "echo", 1u << 20, 5000 + (uint32_t)i);
		}
		pause();
		_exit(0);
	}
	w = mg_child_new(f, f->loop, pid, on_child, &d);
	ASSERT_PTR_NOT_NULL(w);
	ASSERT_TRUE(run_until(f->loop, attached, f, 5000));
	run_until(f->loop, NULL, NULL, 1000);
	/* Generous: the hop answers the 24 MB asked before it first. */
	ASSERT_INT_EQ(mg_router_call(f, f->mr, hop, "echo", "hi", 2, 20000, &reply), 0);
	ASSERT_STR_EQ(mg_message_data(reply, &len), "hi");
	TALLOC_FREE(reply);
	kill(pid, SIGKILL);
	ASSERT_TRUE(run_until(f->loop, child_ended, &d, 5000));
	ASSERT_INT_EQ(mg_session_shutdown(f->s, 5000), 0);
	talloc_free(f);
}
ISOLATED(test_deaf_client_starves_nobody)

/*
 * A connection in its handshake may send only a HELLO reply, which is
 * small: a header announcing a big frame ends it at once, before any of
 * that payload is taken. Before, each of the 64 connections a listener
 * takes in their handshake could make it hold a frame of up to 4 MiB
 * (a holder reached 268 MB).
 */
static void test_handshake_frame_small_body(void)
{
	struct fx *f = fx_listen();
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	uint8_t h[MG_HDR_LEN], buf[4096];
	uint32_t id, len;
	ssize_t n = 1;
	int fd;

	ASSERT_PTR_NOT_NULL(f);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", f->path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	ASSERT_INT_EQ(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	run_until(f->loop, NULL, NULL, 100);
	/* HELLO: the id offered. */
	ASSERT_INT_EQ(read(fd, h, sizeof(h)), MG_HDR_LEN);
	len = mg__get_be32(h + 24);
	ASSERT_TRUE(len >= 8 && len <= sizeof(buf));
	ASSERT_INT_EQ(read(fd, buf, len), len);
	id = mg__get_be32(buf + 4);
	/* A "reply" of 1 MiB, of which only the start comes. */
	put_header(h, 0, id, MG_H_HELLO, 0, 1u << 20);
	ASSERT_INT_EQ(write(fd, h, sizeof(h)), MG_HDR_LEN);
	ASSERT_INT_EQ(write(fd, buf, 100), 100);
	run_until(f->loop, NULL, NULL, 300);
	while (n > 0) {
		n = read(fd, buf, sizeof(buf));
	}
	/* The listener hung up (EOF), rather than wait for the rest. */
	ASSERT_INT_EQ(n, 0);
	ASSERT_INT_EQ(f->n_attached, 0);
	close(fd);
	talloc_free(f);
}
ISOLATED(test_handshake_frame_small)

/* mg_session_drop_clients: every attached client's link goes at once, and
 * each client hears that its link is lost. */
struct lost {
	int n;
	char reason[256];
};

static void on_lost(struct mg_router *r, uint32_t id, const char *reason, void *data)
{
	struct lost *lo = data;

	lo->n++;
	snprintf(lo->reason, sizeof(lo->reason), "%s", reason != NULL ? reason : "");
}

static bool both_lost(void *arg)
{
	const struct lost *lo = arg;

	return lo[0].n > 0 && lo[1].n > 0;
}

static bool two_attached(void *arg)
{
	return ((struct fx *)arg)->n_attached >= 2;
}

static void test_drop_clients_body(void)
{
	struct fx *f = fx_listen();
	struct mg_router *c1 = NULL, *c2 = NULL;
	struct lost lo[2] = { { 0 } };

	ASSERT_PTR_NOT_NULL(f);
	ASSERT_INT_EQ(mg_session_drop_clients(f->s), 0);
	ASSERT_INT_EQ(mg_attach(f, f->loop, f->path, 0, &c1, NULL), 0);
	ASSERT_INT_EQ(mg_attach(f, f->loop, f->path, 0, &c2, NULL), 0);
	ASSERT_TRUE(run_until(f->loop, two_attached, f, 2000));
	ASSERT_PTR_NOT_NULL(mg_router_on_disconnect(f, c1, 0, on_lost, &lo[0]));
	ASSERT_PTR_NOT_NULL(mg_router_on_disconnect(f, c2, 0, on_lost, &lo[1]));
	ASSERT_TRUE(mg__router_reachable(f->mr, 1) && mg__router_reachable(f->mr, 2));
	ASSERT_INT_EQ(mg_session_drop_clients(f->s), 2);
	/* Their routes are gone at once; the listener still listens. */
	ASSERT_TRUE(!mg__router_reachable(f->mr, 1) && !mg__router_reachable(f->mr, 2));
	ASSERT_TRUE(run_until(f->loop, both_lost, lo, 2000));
	ASSERT_STR_CONTAINS(lo[0].reason, "lost");
	ASSERT_STR_CONTAINS(lo[1].reason, "lost");
	ASSERT_INT_EQ(mg_session_drop_clients(f->s), 0);
	talloc_free(f);
}
ISOLATED(test_drop_clients)

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	TESTS_BEGIN();
	RUN(test_attach_basic);
	RUN(test_messages_and_policy);
	RUN(test_leaf);
	RUN(test_dir_checks);
	RUN(test_stale_and_live);
	RUN(test_stale_race);
	RUN(test_attach_timeout);
	RUN(test_other_uid_refused);
	RUN(test_privileged_calls_hop);
	RUN(test_deaf_client_starves_nobody);
	RUN(test_handshake_frame_small);
	RUN(test_drop_clients);
	return TESTS_END();
}
