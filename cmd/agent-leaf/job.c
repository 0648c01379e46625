/*
 * The leaf agent's command: EXEC as lib/svc/svc-exec.c serves it
 * (docs/PROTOCOL.md 5.3), for the requests a leaf takes (2.3.4), and
 * its byte channels as lib/core/channel.c runs them (section 7): the
 * same events, texts, signals and credit, one command at a time.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "exec-host.h"
#include "leaf.h"

#define KILL_GRACE_MS 1000
/* As lib/svc/svc-exec-msg.c: the payload bounds the words; Linux takes
 * more than 65,536. */
#define ARGV_MAX (1u << 21)
/* A read from a command's output: one DATA frame (at most MG_CHUNK). */
#define DATA_MAX (256u << 10)
#define CREDIT_STEP (MG_WINDOW_DEFAULT / 8)
#define UNSUPPORTED "this hop runs the leaf agent (mitogen-agent-leaf): it runs commands, " \
		    "but not pushed programs, terminals or workers"

struct out_chan {
	int fd;
	uint32_t handle;   /* the requester's, for DATA */
	uint32_t ack;      /* ours, for its credit */
	uint64_t credit;
};

static struct {
	bool active, exited, group_gone, stopping;
	uint32_t requester, reply_to, ctl;
	pid_t pid;
	int status, outs_open;
	uint64_t kill_at;
	struct out_chan out[2];
	struct {
		int fd;
		uint32_t handle, ack;
		uint8_t *hold;
		size_t hold_off, hold_len;
		uint64_t unacked, written; /* received and written, not credited */
		bool eof;
	} in;
} J = { .kill_at = UINT64_MAX };

static void event(uint8_t type, const void *p, size_t n)
{
	leaf_send(J.requester, J.reply_to, 0, 0, &type, 1, p, n);
}

static void failed(const struct leaf_msg *m, int err, const char *what, uint32_t status)
{
	uint8_t p[1 + 4 + 4 + 4096 + 4];
	size_t n = strnlen(what, 4096);

	p[0] = MG_EXEC_EV_FAILED;
	leaf_put32(p + 1, (uint32_t)err);
	leaf_put32(p + 5, (uint32_t)n);
	memcpy(p + 9, what, n);
	leaf_put32(p + 9 + n, status);
	leaf_send(m->src, m->reply_to, 0, 0, p, 9 + n + (status != 0 ? 4 : 0), NULL, 0);
}

static void group_kill(int signo)
{
	if (!J.group_gone && J.pid > 0 && kill(-J.pid, signo) != 0 && errno == ESRCH) {
		J.group_gone = true;
	}
}

static void deliver(int signo)
{
	group_kill(signo);
	if (signo == SIGTERM || signo == SIGHUP || signo == SIGINT) {
		group_kill(SIGCONT);
	}
	if (signo == SIGTERM || signo == SIGHUP || signo == SIGINT || signo == SIGQUIT) {
		J.stopping = true;
	}
}

/* Stop for good, nobody being left to escalate: SIGKILL a second later. */
static void stop_for_good(void)
{
	deliver(SIGTERM);
	J.stopping = true;
	if (!J.group_gone && J.kill_at == UINT64_MAX) {
		J.kill_at = leaf_now_ms() + KILL_GRACE_MS;
	}
}

static void close_fd(int *fd)
{
	if (*fd >= 0) {
		close(*fd);
		*fd = -1;
	}
}

static void job_end(void)
{
	if (!J.exited || J.outs_open > 0 || J.stopping) {
		group_kill(SIGKILL);
	}
	close_fd(&J.out[0].fd);
	close_fd(&J.out[1].fd);
	close_fd(&J.in.fd);
	J.active = false;
	J.kill_at = UINT64_MAX;
}

static void maybe_done(void)
{
	uint8_t p[4];

	if (J.active && J.exited && J.outs_open == 0) {
		leaf_put32(p, (uint32_t)J.status);
		event(MG_EXEC_EV_EXITED, p, 4);
		job_end();
	}
}

/* The output channel ends: EOF sent when 'eof', else the reader went. */
static void out_end(struct out_chan *c, bool eof)
{
	if (c->fd < 0) {
		return;
	}
	if (eof) {
		leaf_send(J.requester, c->handle, c->ack, 0, NULL, 0, NULL, 0);
	}
	close_fd(&c->fd);
	J.outs_open--;
	maybe_done();
}

/* Credit back what the command has read, once an eighth of the window
 * is, or all of it after end of input ('all'). */
static void in_credit(bool all)
{
	uint8_t p[4];

	if (J.in.ack != 0 && J.in.written > 0 && (all || J.in.written >= CREDIT_STEP)) {
		leaf_put32(p, (uint32_t)J.in.written);
		leaf_send(J.requester, J.in.ack, 0, 0, p, 4, NULL, 0);
		J.in.unacked -= J.in.written;
		J.in.written = 0;
	}
}

/* The command's stdin is gone (it closed it, or the window was broken):
 * the sender hears why on its ack handle; what comes later is dropped. */
static void in_reader_gone(const char *why)
{
	close_fd(&J.in.fd);
	J.in.hold_len = J.in.hold_off = 0;
	if (J.in.ack != 0) {
		leaf_send(J.requester, J.in.ack, 0, MG_F_DEAD, why, strlen(why), NULL, 0);
	}
}

/* Keep n bytes for the command's stdin after what is held already (at
 * most the window: what is held is received and not yet credited). */
static void in_hold(const uint8_t *p, size_t n)
{
	memmove(J.in.hold, J.in.hold + J.in.hold_off, J.in.hold_len);
	J.in.hold_off = 0;
	memcpy(J.in.hold + J.in.hold_len, p, n);
	J.in.hold_len += n;
}

/* Write what is held to the command's stdin, as far as it takes. */
static void in_write(const uint8_t *p, size_t n, bool held)
{
	while (n > 0 && J.in.fd >= 0) {
		ssize_t k = write(J.in.fd, p, n);
		if (k < 0 && errno == EINTR) {
			continue;
		}
		if (k < 0 && errno == EAGAIN) {
			break;
		}
		if (k <= 0) {
			in_reader_gone("reader closed");
			return;
		}
		p += k;
		n -= (size_t)k;
		J.in.written += (uint64_t)k;
		if (held) {
			J.in.hold_off += (size_t)k;
			J.in.hold_len -= (size_t)k;
		}
	}
	if (!held && n > 0 && J.in.fd >= 0) {
		in_hold(p, n);
	}
	in_credit(false);
	if (J.in.eof && J.in.hold_len == 0 && J.in.fd >= 0) {
		close_fd(&J.in.fd);
		in_credit(true);
	}
}

static void on_stdin(const struct leaf_msg *m)
{
	if ((m->flags & MG_F_DEAD) != 0 || m->len == 0) {
		/* End of input; a dead sender's too. */
		J.in.eof = true;
		in_write(NULL, 0, false);
		return;
	}
	if (J.in.fd < 0 || J.in.eof) {
		return;
	}
	if (J.in.unacked + m->len > MG_WINDOW_DEFAULT) {
		/* As OpenSSH: never held, the channel ends. */
		in_reader_gone("rcvd too much data");
		return;
	}
	J.in.unacked += m->len;
	if (J.in.hold_len > 0) {
		/* What is held goes first, as far as the pipe takes it now. */
		in_write(J.in.hold + J.in.hold_off, J.in.hold_len, true);
	}
	if (J.in.hold_len > 0) {
		in_hold(m->data, m->len);
		return;
	}
	in_write(m->data, m->len, false);
}

static void on_credit(struct out_chan *c, const struct leaf_msg *m)
{
	if ((m->flags & MG_F_DEAD) != 0) {
		/* The reader is gone (EPIPE): stop reading, no end of file. */
		out_end(c, false);
	} else if (m->len >= 4) {
		c->credit += leaf_be32(m->data);
	}
}

static void on_ctl(const struct leaf_msg *m)
{
	uint32_t op = m->len >= 4 ? leaf_be32(m->data) : 0;

	/* A size change: no terminal here. 0 and others: ignored. */
	if (op >= 1 && op <= 64) {
		deliver((int)op);
	}
}

bool job_frame(const struct leaf_msg *m)
{
	/* Respondent handles take their end's frames, or a dead answer on
	 * the way from above (router.c's policy_ok). */
	bool respondent = m->src == J.requester ||
			  ((m->flags & MG_F_DEAD) != 0 && leaf_parent_authority(m));

	if (!J.active || m->handle < MG_H_DYNAMIC) {
		return false;
	}
	if (m->handle == J.ctl) {
		if (!leaf_parent_authority(m)) {
			leaf_reply_dead(m, "refused by policy");
		} else {
			on_ctl(m);
		}
		return true;
	}
	if (m->handle != J.in.handle && m->handle != J.out[0].ack && m->handle != J.out[1].ack) {
		return false;
	}
	if (!respondent) {
		leaf_reply_dead(m, "refused by policy");
	} else if (m->handle == J.in.handle) {
		on_stdin(m);
	} else {
		on_credit(&J.out[m->handle == J.out[0].ack ? 0 : 1], m);
	}
	return true;
}

struct req {
	uint32_t flags, h_out, h_err, h_in_ack;
	char **argv, **env, *cwd;
};

/* EXEC's request (svc-exec-msg.c's decoder: the same fields and rules). */
static bool decode(const struct leaf_msg *m, struct req *q)
{
	struct leaf_dec d = { m->data, m->len, false };
	bool null;

	leaf_vec_reset();
	q->flags = leaf_u32(&d);
	q->argv = leaf_strv(&d, ARGV_MAX);
	q->h_out = leaf_u32(&d);
	q->h_err = leaf_u32(&d);
	q->h_in_ack = leaf_u32(&d);
	q->cwd = leaf_str(&d, &null);
	if (d.bad || q->argv == NULL || q->argv[0] == NULL) {
		return false;
	}
	/* An old master may stop before the environment. */
	q->env = d.n > 0 ? leaf_strv(&d, ARGV_MAX) : NULL;
	if ((q->flags & MG_EXEC_IMAGE) != 0) {
		leaf_u32(&d);
		leaf_u32(&d);
		leaf_u32(&d);
		leaf_u32(&d);
	}
	if ((q->flags & MG_EXEC_PTY) != 0) {
		leaf_u32(&d);
		leaf_u32(&d);
	}
	if ((q->flags & MG_EXEC_JOIN) != 0 && (leaf_u32(&d) == 0 || d.n != 0)) {
		return false;
	}
	return !d.bad;
}

static int pipes(int in[2], int out[2], int err[2], bool no_stdin)
{
	if ((!no_stdin && pipe2(in, O_CLOEXEC) != 0) || pipe2(out, O_CLOEXEC) != 0 ||
	    pipe2(err, O_CLOEXEC) != 0) {
		return -errno;
	}
	/* Bigger pipes mean fewer, larger messages on a busy stream. */
	fcntl(in[1], F_SETPIPE_SZ, MG_PIPE_SIZE);
	fcntl(out[0], F_SETPIPE_SZ, MG_PIPE_SIZE);
	fcntl(err[0], F_SETPIPE_SZ, MG_PIPE_SIZE / 4);
	fcntl(in[1], F_SETFL, O_NONBLOCK);
	fcntl(out[0], F_SETFL, O_NONBLOCK);
	fcntl(err[0], F_SETFL, O_NONBLOCK);
	return 0;
}

static void started(const struct leaf_msg *m, const struct req *q, int in, int out, int err)
{
	uint8_t p[20];

	J.active = true;
	J.exited = J.group_gone = J.stopping = false;
	J.requester = m->src;
	J.reply_to = m->reply_to;
	J.outs_open = 2;
	J.kill_at = UINT64_MAX;
	J.in.fd = in;
	J.in.handle = leaf_handle();
	J.in.hold_off = J.in.hold_len = 0;
	J.in.unacked = J.in.written = 0;
	J.in.eof = false;
	J.in.ack = q->h_in_ack;
	for (int i = 0; i < 2; i++) {
		J.out[i].fd = i == 0 ? out : err;
		J.out[i].handle = i == 0 ? q->h_out : q->h_err;
		J.out[i].ack = leaf_handle();
		J.out[i].credit = MG_WINDOW_DEFAULT;
	}
	J.ctl = leaf_handle();
	leaf_put32(p, (uint32_t)J.pid);
	leaf_put32(p + 4, J.in.handle);
	leaf_put32(p + 8, J.out[0].ack);
	leaf_put32(p + 12, J.out[1].ack);
	leaf_put32(p + 16, J.ctl);
	event(MG_EXEC_EV_STARTED, p, sizeof(p));
}

void job_exec(const struct leaf_msg *m)
{
	struct req q;
	char why[4200], *sh[4] = { NULL, "-c", NULL, NULL }, **envp;
	const char *cwd, *path = NULL;
	int in[2] = { -1, -1 }, out[2] = { -1, -1 }, err[2] = { -1, -1 }, io[3], ret;

	if (!decode(m, &q) || m->reply_to == 0) {
		leaf_reply_dead(m, "malformed EXEC request");
		return;
	}
	if ((q.flags & (MG_EXEC_FD_IN | MG_EXEC_FD_OUT | MG_EXEC_FD_ERR)) != 0) {
		/* None come down this link: the master runs it relayed. */
		failed(m, EOPNOTSUPP, MG_FDS_REFUSED, 0);
		return;
	}
	if ((q.flags & (MG_EXEC_IMAGE | MG_EXEC_PTY | MG_EXEC_JOIN | MG_EXEC_UMASK | MG_EXEC_ENV_ALL)) != 0 ||
	    J.active) {
		failed(m, EOPNOTSUPP, J.active ? "this hop runs the leaf agent (mitogen-agent-leaf): "
				      "one command at a time" : UNSUPPORTED, 0);
		return;
	}
	cwd = leaf_cwd(q.cwd);
	if (cwd != NULL && (ret = mg__dir_enterable(cwd)) != 0) {
		/* As `cd DIR && COMMAND` fails in a shell: status 1. */
		leaf_format(why, sizeof(why), "cd: %s: %s", cwd, strerror(-ret));
		failed(m, -ret, why, 1);
		return;
	}
	if ((q.flags & MG_EXEC_SHELL) != 0) {
		/* As sshd does: the shell's name as its $0, the line after -c. */
		const char *base;
		path = (q.flags & MG_EXEC_SH) != 0 ? "/bin/sh" : leaf_login_shell();
		base = strrchr(path, '/');
		sh[0] = (char *)(base != NULL && base[1] != '\0' ? base + 1 : path);
		sh[2] = q.argv[0];
		q.argv = sh;
	}
	if (J.in.hold == NULL) {
		/* What the command has not read yet: at most the window. */
		J.in.hold = mmap(NULL, MG_WINDOW_DEFAULT, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		J.in.hold = J.in.hold != MAP_FAILED ? J.in.hold : NULL;
	}
	if (J.in.hold == NULL || leaf_make_env(q.env, &envp) != 0) {
		failed(m, ENOMEM, "out of memory", 0);
		return;
	}
	if ((ret = pipes(in, out, err, (q.flags & MG_EXEC_NO_STDIN) != 0)) != 0) {
		leaf_format(why, sizeof(why), "cannot create pipes: %s", strerror(-ret));
		failed(m, -ret, why, 0);
		ret = 1;
	} else {
		io[0] = in[0];
		io[1] = out[1];
		io[2] = err[1];
		ret = leaf_spawn(path, q.argv, envp, cwd, io, &J.pid);
		if (ret == -ENOEXEC && path == NULL) {
			ret = leaf_spawn_sh(q.argv, envp, cwd, io, &J.pid);
		}
	}
	close_fd(&in[0]);
	close_fd(&out[1]);
	close_fd(&err[1]);
	if (ret == 0) {
		started(m, &q, in[1], out[0], err[0]);
		return;
	}
	if (ret < 0) {
		leaf_format(why, sizeof(why), "%s: %s", q.argv[0],
			    ret == -ENOENT ? "command not found" : strerror(-ret));
		failed(m, -ret, why, 0);
	}
	close_fd(&in[1]);
	close_fd(&out[0]);
	close_fd(&err[0]);
}

static void out_read(struct out_chan *c)
{
	size_t max = c->credit < DATA_MAX ? (size_t)c->credit : DATA_MAX;
	uint8_t *room = leaf_data_room(max);
	ssize_t k;

	if (room == NULL || max == 0) {
		return;
	}
	k = read(c->fd, room, max);
	if (k > 0) {
		leaf_send_data(J.requester, c->handle, c->ack, (size_t)k);
		c->credit -= (uint64_t)k;
	} else if (k == 0 || (errno != EAGAIN && errno != EINTR)) {
		out_end(c, true);
	}
}

size_t job_poll_add(struct pollfd *fds, size_t n)
{
	for (int i = 0; i < 2 && J.active; i++) {
		struct out_chan *c = &J.out[i];
		if (c->fd >= 0 && c->credit > 0 &&
		    leaf_data_room(c->credit < DATA_MAX ? c->credit : DATA_MAX) != NULL) {
			fds[n++] = (struct pollfd){ .fd = c->fd, .events = POLLIN };
		}
	}
	if (J.active && J.in.fd >= 0 && J.in.hold_len > 0) {
		fds[n++] = (struct pollfd){ .fd = J.in.fd, .events = POLLOUT };
	}
	return n;
}

void job_poll_serve(const struct pollfd *fds, size_t n)
{
	for (size_t i = 0; i < n && J.active; i++) {
		if (fds[i].revents == 0 || fds[i].fd < 0) {
			continue;
		}
		if (fds[i].fd == J.out[0].fd || fds[i].fd == J.out[1].fd) {
			out_read(&J.out[fds[i].fd == J.out[0].fd ? 0 : 1]);
		} else if (fds[i].fd == J.in.fd) {
			in_write(J.in.hold + J.in.hold_off, J.in.hold_len, true);
		}
	}
}

void job_reap(void)
{
	pid_t p;
	int st;

	while ((p = waitpid(-1, &st, WNOHANG)) > 0) {
		if (J.active && p == J.pid && !J.exited) {
			J.exited = true;
			J.status = st;
			maybe_done();
		}
	}
}

uint64_t job_next_timer(void)
{
	return J.active ? J.kill_at : UINT64_MAX;
}

void job_timers(uint64_t now)
{
	if (J.active && now >= J.kill_at) {
		J.kill_at = UINT64_MAX;
		group_kill(SIGKILL);
	}
}

void job_requester_lost(uint32_t id)
{
	if (J.active && id == J.requester) {
		stop_for_good();
	}
}

void job_stop(bool link_gone)
{
	if (!J.active) {
		return;
	}
	stop_for_good();
	if (link_gone) {
		/* Nobody reads the output any more. */
		out_end(&J.out[0], false);
		out_end(&J.out[1], false);
	}
}

bool job_running(void)
{
	return J.active;
}

void job_exit(void)
{
	if (J.active) {
		job_end();
	}
}
