/*
 * The leaf agent (cmd/agent-leaf, docs/PROTOCOL.md 2.3.4) driven with raw
 * frames as its parent: HELLO and its reply, a command's events and byte
 * channels with their credit, signals, and every request or frame it
 * refuses, with the texts the whole agent gives; a parent that goes or
 * sends garbage ends it, and what it ran with it.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "buf.h"
#include "harness.h"
#include "protocol.h"

#define ME 1     /* the master, the leaf's parent */
#define LEAF 5   /* the leaf's id */
#define EV 7001  /* our handle for EXEC's events */
#define OUT 7002
#define ERR 7003
#define IN_ACK 7004

struct leaf {
	pid_t pid;
	int fd;      /* our end of its link */
	int err;     /* its stderr */
};

struct frame {
	uint16_t flags;
	uint32_t dst, src, auth, handle, reply_to, len;
	uint8_t data[1 << 20];
};

static struct frame fr;

static char *leaf_path(TALLOC_CTX *mem_ctx)
{
	const char *agent = getenv("MITOGEN_AGENT");

	return talloc_asprintf(mem_ctx, "%s-leaf", agent != NULL ? agent : "cmd/mitogen-agent");
}

static bool start(TALLOC_CTX *mem_ctx, struct leaf *l)
{
	int sv[2], ep[2];
	char *path = leaf_path(mem_ctx);

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0 || pipe2(ep, O_CLOEXEC) != 0) {
		return false;
	}
	l->pid = fork();
	if (l->pid == 0) {
		dup2(sv[1], 0);
		dup2(sv[1], 1);
		dup2(ep[1], 2);
		execl(path, path, "--local", (char *)NULL);
		_exit(127);
	}
	close(sv[1]);
	close(ep[1]);
	l->fd = sv[0];
	l->err = ep[0];
	return l->pid > 0;
}

/* Read exactly n bytes within 10 s; false on end of file or timeout. */
static bool read_n(int fd, void *p, size_t n)
{
	size_t got = 0;

	while (got < n) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t k;
		if (poll(&pfd, 1, 10000) <= 0) {
			return false;
		}
		k = read(fd, (uint8_t *)p + got, n - got);
		if (k <= 0) {
			return false;
		}
		got += (size_t)k;
	}
	return true;
}

static bool send_frame_from(struct leaf *l, uint32_t dst, uint32_t src, uint32_t auth,
			    uint32_t handle, uint32_t reply_to, uint16_t flags, const void *p,
			    size_t n)
{
	uint8_t h[MG_HDR_LEN];

	h[0] = 0x4d;
	h[1] = 0x47;
	h[2] = (uint8_t)(flags >> 8);
	h[3] = (uint8_t)flags;
	mg__put_be32(h + 4, dst);
	mg__put_be32(h + 8, src);
	mg__put_be32(h + 12, auth);
	mg__put_be32(h + 16, handle);
	mg__put_be32(h + 20, reply_to);
	mg__put_be32(h + 24, (uint32_t)n);
	return write(l->fd, h, sizeof(h)) == (ssize_t)sizeof(h) &&
	       (n == 0 || write(l->fd, p, n) == (ssize_t)n);
}

/* A frame sent by context 'auth' on its own authority. */
static bool send_frame(struct leaf *l, uint32_t dst, uint32_t auth, uint32_t handle,
		       uint32_t reply_to, uint16_t flags, const void *p, size_t n)
{
	return send_frame_from(l, dst, auth, auth, handle, reply_to, flags, p, n);
}

/* The next frame from the leaf into fr. */
static bool next(struct leaf *l)
{
	uint8_t h[MG_HDR_LEN];

	if (!read_n(l->fd, h, sizeof(h)) || mg__get_be32(h) >> 16 != MG_MAGIC) {
		return false;
	}
	fr.flags = (uint16_t)(h[2] << 8 | h[3]);
	fr.dst = mg__get_be32(h + 4);
	fr.src = mg__get_be32(h + 8);
	fr.auth = mg__get_be32(h + 12);
	fr.handle = mg__get_be32(h + 16);
	fr.reply_to = mg__get_be32(h + 20);
	fr.len = mg__get_be32(h + 24);
	if (fr.len >= sizeof(fr.data)) {
		return false;
	}
	fr.data[fr.len] = '\0';
	return read_n(l->fd, fr.data, fr.len);
}

/* MITO002, HELLO (max_msg as given), and its reply checked. */
static bool hello(struct leaf *l, uint32_t max_msg)
{
	struct mg_buf *b = mg__buf_new(NULL, 4096);
	char mark[8];
	uint32_t v = 0, pid = 0, link = 1;
	bool ok;

	mg__buf_put_u32(b, MG_PROTOCOL_VERSION);
	mg__buf_put_u32(b, LEAF);
	mg__buf_put_u32(b, 1);
	mg__buf_put_u32(b, ME);
	mg__buf_put_u32(b, max_msg);
	mg__buf_put_u32(b, MG_WINDOW_DEFAULT);
	mg__buf_put_u8(b, 2);
	mg__buf_put_str(b, "mitogen:5");
	ok = read_n(l->fd, mark, 8) && memcmp(mark, MG_MARK_UP, 8) == 0 &&
	     send_frame(l, LEAF, ME, MG_H_HELLO, 900, 0, b->data, b->len) && next(l) &&
	     fr.handle == 900 && fr.dst == ME && fr.src == LEAF && fr.auth == LEAF;
	talloc_free(b);
	if (ok) {
		struct mg_buf r;
		mg__buf_view(&r, fr.data, fr.len);
		/* version, pid, uid, machine, nodename, link_pid 0 */
		ok = mg__buf_get_u32(&r, &v) == 0 && v == MG_PROTOCOL_VERSION &&
		     mg__buf_get_u32(&r, &pid) == 0 && pid == (uint32_t)l->pid &&
		     mg__buf_get_u32(&r, &v) == 0 && v == getuid();
		r.off = fr.len - 4;
		ok = ok && mg__buf_get_u32(&r, &link) == 0 && link == 0;
	}
	return ok;
}

/* The leaf's exit status within 10 s, or -1. */
static int reap(struct leaf *l)
{
	int st;

	for (int i = 0; i < 1000; i++) {
		pid_t p = waitpid(l->pid, &st, WNOHANG);
		if (p == l->pid) {
			close(l->fd);
			close(l->err);
			return st;
		}
		usleep(10000);
	}
	kill(l->pid, SIGKILL);
	waitpid(l->pid, &st, 0);
	close(l->fd);
	close(l->err);
	return -1;
}

/* EXEC of a shell line; 'extra' flags; the env items given (NULL: none). */
/* EXEC of a shell line, requested by 'src' on the master's authority (a
 * privileged client of it acts so). */
static bool exec_sh_from(struct leaf *l, uint32_t src, const char *line, uint32_t flags,
			 const char *const *env)
{
	static const char *const none[] = { NULL };
	const char *argv[] = { line, NULL };
	struct mg_buf *b = mg__buf_new(NULL, 1 << 16);
	bool ok;

	mg__buf_put_u32(b, MG_EXEC_SHELL | MG_EXEC_SH | flags);
	mg__buf_put_strv(b, argv);
	mg__buf_put_u32(b, OUT);
	mg__buf_put_u32(b, ERR);
	mg__buf_put_u32(b, IN_ACK);
	mg__buf_put_str(b, NULL);
	mg__buf_put_strv(b, env != NULL ? env : none);
	if ((flags & MG_EXEC_PTY) != 0) {
		mg__buf_put_u32(b, 24);
		mg__buf_put_u32(b, 80);
	}
	ok = send_frame_from(l, LEAF, src, ME, MG_H_EXEC, EV, 0, b->data, b->len);
	talloc_free(b);
	return ok;
}

static bool exec_sh(struct leaf *l, const char *line, uint32_t flags, const char *const *env)
{
	return exec_sh_from(l, ME, line, flags, env);
}

struct started {
	uint32_t pid, h_in, out_ack, err_ack, ctl;
};

static bool started(struct leaf *l, struct started *s)
{
	if (!next(l) || fr.handle != EV || fr.len != 21 || fr.data[0] != MG_EXEC_EV_STARTED) {
		return false;
	}
	s->pid = mg__get_be32(fr.data + 1);
	s->h_in = mg__get_be32(fr.data + 5);
	s->out_ack = mg__get_be32(fr.data + 9);
	s->err_ack = mg__get_be32(fr.data + 13);
	s->ctl = mg__get_be32(fr.data + 17);
	return true;
}

/* Collect output until EXITED: its status, or -1. */
static int until_exit(struct leaf *l, const struct started *s, char *out, size_t cap)
{
	size_t n = 0;
	int eofs = 0;

	while (next(l)) {
		if (fr.handle == OUT || fr.handle == ERR) {
			if (fr.reply_to != (fr.handle == OUT ? s->out_ack : s->err_ack)) {
				return -1;
			}
			eofs += fr.len == 0;
			if (fr.handle == OUT && n + fr.len < cap) {
				memcpy(out + n, fr.data, fr.len);
				n += fr.len;
			}
		} else if (fr.handle == EV && fr.data[0] == MG_EXEC_EV_EXITED) {
			out[n] = '\0';
			/* Always last: after both ends of file. */
			return eofs == 2 ? (int)mg__get_be32(fr.data + 1) : -1;
		}
	}
	return -1;
}

static void test_hello_and_run(void)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	const char *env[] = { "LEAF_T=x y", NULL };
	struct leaf l;
	struct started s;
	char out[256];

	ASSERT_TRUE(start(tmp, &l));
	ASSERT_TRUE(hello(&l, MG_MSG_MAX_DEFAULT));
	ASSERT_TRUE(exec_sh(&l, "echo \"$LEAF_T\"; echo e >&2; exit 3", MG_EXEC_NO_STDIN, env));
	ASSERT_TRUE(started(&l, &s));
	ASSERT_INT_EQ(until_exit(&l, &s, out, sizeof(out)), 3 << 8);
	ASSERT_STR_EQ(out, "x y\n");
	/* A second command once the first is done; its handles are new. */
	ASSERT_TRUE(exec_sh(&l, "kill -TERM $$", MG_EXEC_NO_STDIN, NULL));
	{
		struct started s2;
		ASSERT_TRUE(started(&l, &s2));
		ASSERT_TRUE(s2.ctl != s.ctl && s2.h_in != s.h_in);
		ASSERT_INT_EQ(until_exit(&l, &s2, out, sizeof(out)), SIGTERM);
	}
	close(l.fd);
	ASSERT_INT_EQ(reap(&l), 0);
	talloc_free(tmp);
}

static void test_stdin_and_credit(void)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	struct leaf l;
	struct started s;
	char out[256];
	uint32_t credited = 0;
	int eofs = 0;

	ASSERT_TRUE(start(tmp, &l));
	ASSERT_TRUE(hello(&l, MG_MSG_MAX_DEFAULT));
	ASSERT_TRUE(exec_sh(&l, "cat", 0, NULL));
	ASSERT_TRUE(started(&l, &s));
	ASSERT_TRUE(send_frame(&l, LEAF, ME, s.h_in, 8000, 0, "abc", 3));
	ASSERT_TRUE(send_frame(&l, LEAF, ME, s.h_in, 8000, 0, "", 0));
	/* The bytes back, the credit for them after end of input, EXITED. */
	while (next(&l) && !(fr.handle == EV && fr.data[0] == MG_EXEC_EV_EXITED)) {
		if (fr.handle == IN_ACK && fr.len == 4) {
			credited += mg__get_be32(fr.data);
		} else if (fr.handle == OUT && fr.len > 0) {
			ASSERT_INT_EQ(fr.len, 3);
			memcpy(out, fr.data, 3);
		}
		eofs += (fr.handle == OUT || fr.handle == ERR) && fr.len == 0;
	}
	ASSERT_INT_EQ(fr.handle, EV);
	ASSERT_INT_EQ(mg__get_be32(fr.data + 1), 0);
	ASSERT_INT_EQ(eofs, 2);
	ASSERT_INT_EQ(credited, 3);
	ASSERT_TRUE(memcmp(out, "abc", 3) == 0);
	close(l.fd);
	ASSERT_INT_EQ(reap(&l), 0);
	talloc_free(tmp);
}

static void test_window_broken(void)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	uint8_t *chunk = talloc_zero_size(tmp, 1 << 20);
	struct leaf l;
	struct started s;
	bool dead = false;

	ASSERT_TRUE(start(tmp, &l));
	ASSERT_TRUE(hello(&l, MG_MSG_MAX_DEFAULT));
	/* It never reads its stdin: what its pipe took (at most 1 MiB) is
	 * credited, then 2 MiB + 1 uncredited breaks the window. */
	ASSERT_TRUE(exec_sh(&l, "exec sleep 30", 0, NULL));
	ASSERT_TRUE(started(&l, &s));
	ASSERT_TRUE(send_frame(&l, LEAF, ME, s.h_in, 8000, 0, chunk, 1 << 20));
	ASSERT_TRUE(send_frame(&l, LEAF, ME, s.h_in, 8000, 0, chunk, 1 << 20));
	ASSERT_TRUE(send_frame(&l, LEAF, ME, s.h_in, 8000, 0, chunk, 1 << 20));
	ASSERT_TRUE(send_frame(&l, LEAF, ME, s.h_in, 8000, 0, chunk, 1));
	while (!dead && next(&l)) {
		dead = fr.handle == IN_ACK && (fr.flags & MG_F_DEAD) != 0 &&
		       strcmp((char *)fr.data, "rcvd too much data") == 0;
	}
	ASSERT_TRUE(dead);
	/* Still served: the command stops on a signal. */
	ASSERT_TRUE(send_frame(&l, LEAF, ME, s.ctl, 0, 0, "\0\0\0\x0f", 4));
	while (next(&l) && !(fr.handle == EV && fr.data[0] == MG_EXEC_EV_EXITED)) {
	}
	ASSERT_INT_EQ(mg__get_be32(fr.data + 1), SIGTERM);
	close(l.fd);
	ASSERT_INT_EQ(reap(&l), 0);
	talloc_free(tmp);
}

/* Send one frame, and the dead answer it gets on 'handle' 8000. */
static const char *answer(struct leaf *l, uint32_t dst, uint32_t auth, uint32_t handle,
			  const void *p, size_t n)
{
	if (!send_frame(l, dst, auth, handle, 8000, 0, p, n) || !next(l) || fr.handle != 8000 ||
	    (fr.flags & MG_F_DEAD) == 0 || fr.dst != auth) {
		return "(no dead answer)";
	}
	return (const char *)fr.data;
}

/* Whether process 'pid' runs (is there, and no zombie). */
static bool running(uint32_t pid)
{
	char path[64], buf[256];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%u/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
	if (fd >= 0) {
		close(fd);
	}
	buf[n > 0 ? n : 0] = '\0';
	return n > 0 && strstr(buf, ") Z") == NULL;
}

static void test_refusals(void)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	uint8_t *big = talloc_zero_size(tmp, (1 << 20) + 1);
	struct leaf l;
	struct started s;

	ASSERT_TRUE(start(tmp, &l));
	ASSERT_TRUE(hello(&l, 1 << 20));
	ASSERT_STR_CONTAINS(answer(&l, LEAF, ME, MG_H_CONNECT, "x", 1),
			    "this hop runs the leaf agent (mitogen-agent-leaf)");
	ASSERT_STR_CONTAINS(answer(&l, LEAF, ME, MG_H_CALL, "x", 1), "cannot connect further hops");
	/* Not our parent's authority (a sibling's frame passed down). */
	ASSERT_STR_EQ(answer(&l, LEAF, 9, MG_H_CALL, "x", 1), "refused by policy");
	ASSERT_STR_EQ(answer(&l, LEAF, 9, MG_H_EXEC, "x", 1), "refused by policy");
	ASSERT_STR_EQ(answer(&l, LEAF, ME, 4242, "x", 1), "invalid handle");
	ASSERT_STR_EQ(answer(&l, 77, ME, MG_H_EXEC, "x", 1), "no route to 77, my id is 5");
	ASSERT_STR_EQ(answer(&l, LEAF, ME, MG_H_EXEC, big, (1 << 20) + 1),
		      "message too large (1048577 bytes, max 1048576)");
	ASSERT_STR_EQ(answer(&l, LEAF, ME, MG_H_EXEC, "\0\0\0\1", 4), "malformed EXEC request");
	/* What a leaf does not run: FAILED, EOPNOTSUPP. */
	ASSERT_TRUE(exec_sh(&l, "true", MG_EXEC_PTY, NULL));
	ASSERT_TRUE(next(&l) && fr.handle == EV && fr.data[0] == MG_EXEC_EV_FAILED);
	ASSERT_INT_EQ(mg__get_be32(fr.data + 1), EOPNOTSUPP);
	ASSERT_TRUE(exec_sh(&l, "true", MG_EXEC_FD_IN, NULL));
	ASSERT_TRUE(next(&l) && fr.handle == EV && fr.data[0] == MG_EXEC_EV_FAILED);
	ASSERT_STR_CONTAINS((char *)fr.data + 9, MG_FDS_REFUSED);
	/* One command at a time (this one for client 11 of the master). */
	ASSERT_TRUE(exec_sh_from(&l, 11, "exec sleep 30", MG_EXEC_NO_STDIN, NULL));
	ASSERT_TRUE(started(&l, &s));
	ASSERT_TRUE(exec_sh(&l, "true", MG_EXEC_NO_STDIN, NULL));
	ASSERT_TRUE(next(&l) && fr.handle == EV && fr.data[0] == MG_EXEC_EV_FAILED);
	ASSERT_STR_CONTAINS((char *)fr.data + 9, "one command at a time");
	/* Its channels answer their own end only. */
	ASSERT_STR_EQ(answer(&l, LEAF, 9, s.h_in, "x", 1), "refused by policy");
	ASSERT_STR_EQ(answer(&l, LEAF, 9, s.ctl, "\0\0\0\x0f", 4), "refused by policy");
	/* The requester said gone by a sibling (9's own authority), or an
	 * ancestor said gone (the link tells that): nothing stops. The
	 * next frame is the answer to the probe, not EXITED. */
	ASSERT_TRUE(send_frame(&l, LEAF, 9, MG_H_DEL_ROUTE, 0, 0, "\0\0\0\x0b\0\0\0\0", 8));
	ASSERT_TRUE(send_frame(&l, LEAF, ME, MG_H_DEL_ROUTE, 0, 0, "\0\0\0\1\0\0\0\0", 8));
	ASSERT_STR_EQ(answer(&l, LEAF, ME, 4242, "x", 1), "invalid handle");
	usleep(200 * 1000);
	ASSERT_TRUE(running(s.pid));
	/* The requester gone (DEL_ROUTE from the parent): the command stops. */
	ASSERT_TRUE(send_frame(&l, LEAF, ME, MG_H_DEL_ROUTE, 0, 0, "\0\0\0\x0b\0\0\0\0", 8));
	while (next(&l) && !(fr.handle == EV && fr.data[0] == MG_EXEC_EV_EXITED)) {
	}
	ASSERT_INT_EQ(mg__get_be32(fr.data + 1), SIGTERM);
	close(l.fd);
	ASSERT_INT_EQ(reap(&l), 0);
	talloc_free(tmp);
}

static void test_failures(void)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	const char *argv[] = { "no-such-command-mg", NULL }, *none[] = { NULL };
	struct mg_buf *b = mg__buf_new(tmp, 4096);
	struct leaf l;

	ASSERT_TRUE(start(tmp, &l));
	ASSERT_TRUE(hello(&l, MG_MSG_MAX_DEFAULT));
	mg__buf_put_u32(b, MG_EXEC_NO_STDIN);
	mg__buf_put_strv(b, argv);
	mg__buf_put_u32(b, OUT);
	mg__buf_put_u32(b, ERR);
	mg__buf_put_u32(b, 0);
	mg__buf_put_str(b, NULL);
	mg__buf_put_strv(b, none);
	ASSERT_TRUE(send_frame(&l, LEAF, ME, MG_H_EXEC, EV, 0, b->data, b->len));
	ASSERT_TRUE(next(&l) && fr.handle == EV && fr.data[0] == MG_EXEC_EV_FAILED);
	ASSERT_INT_EQ(mg__get_be32(fr.data + 1), ENOENT);
	ASSERT_STR_EQ((char *)fr.data + 9, "no-such-command-mg: command not found");
	/* A directory that cannot be entered: status 1, as cd && ... */
	b->len = 0;
	argv[0] = "true";
	mg__buf_put_u32(b, MG_EXEC_NO_STDIN);
	mg__buf_put_strv(b, argv);
	mg__buf_put_u32(b, OUT);
	mg__buf_put_u32(b, ERR);
	mg__buf_put_u32(b, 0);
	mg__buf_put_str(b, "/nonexistent-mg");
	ASSERT_TRUE(send_frame(&l, LEAF, ME, MG_H_EXEC, EV, 0, b->data, b->len));
	ASSERT_TRUE(next(&l) && fr.handle == EV && fr.data[0] == MG_EXEC_EV_FAILED);
	ASSERT_INT_EQ(fr.len, 9 + strlen("cd: /nonexistent-mg: No such file or directory") + 4);
	ASSERT_TRUE(memcmp(fr.data + 9, "cd: /nonexistent-mg: No such file or directory", 46) == 0);
	ASSERT_INT_EQ(mg__get_be32(fr.data + fr.len - 4), 1);
	close(l.fd);
	ASSERT_INT_EQ(reap(&l), 0);
	talloc_free(tmp);
}

/* The parent goes while a command ignores SIGTERM: the leaf ends it
 * (SIGKILL a second later) and exits; garbage on the link does the same. */
static void test_parent_lost(void)
{
	TALLOC_CTX *tmp = talloc_new(NULL);

	for (int garbage = 0; garbage < 2; garbage++) {
		struct leaf l;
		struct started s;
		struct timespec t0, t1;
		ASSERT_TRUE(start(tmp, &l));
		ASSERT_TRUE(hello(&l, MG_MSG_MAX_DEFAULT));
		ASSERT_TRUE(exec_sh(&l, "trap '' TERM; while :; do sleep 1; done", MG_EXEC_NO_STDIN, NULL));
		ASSERT_TRUE(started(&l, &s));
		clock_gettime(CLOCK_MONOTONIC, &t0);
		if (garbage) {
			ASSERT_TRUE(write(l.fd, "not a frame at all, not one", 28) == 28);
		} else {
			shutdown(l.fd, SHUT_WR);
		}
		ASSERT_INT_EQ(reap(&l), 0);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		ASSERT_TRUE(t1.tv_sec - t0.tv_sec < 5);
		/* Its group is gone with it, once whoever inherited the killed
		 * processes has reaped them (kill() still finds a zombie). */
		for (int i = 0; i < 500 && kill(-(pid_t)s.pid, 0) == 0; i++) {
			usleep(10000);
		}
		ASSERT_INT_EQ(kill(-(pid_t)s.pid, 0), -1);
		ASSERT_INT_EQ(errno, ESRCH);
	}
	talloc_free(tmp);
}

static void test_bad_hello(void)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	struct leaf l;
	char mark[8], err[256] = "";
	ssize_t k;

	ASSERT_TRUE(start(tmp, &l));
	ASSERT_TRUE(read_n(l.fd, mark, 8));
	/* Not HELLO first. */
	ASSERT_TRUE(send_frame(&l, LEAF, ME, MG_H_EXEC, EV, 0, "x", 1));
	k = read(l.err, err, sizeof(err) - 1);
	ASSERT_TRUE(k > 0);
	err[k] = '\0';
	ASSERT_STR_EQ(err, "mitogen-agent: bad HELLO from parent\n");
	ASSERT_INT_EQ(reap(&l), 1 << 8);
	talloc_free(tmp);
}

int main(void)
{
	TESTS_BEGIN();
	signal(SIGPIPE, SIG_IGN);
	RUN(test_hello_and_run);
	RUN(test_stdin_and_credit);
	RUN(test_window_broken);
	RUN(test_refusals);
	RUN(test_failures);
	RUN(test_parent_lost);
	RUN(test_bad_hello);
	return TESTS_END();
}
