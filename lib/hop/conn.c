/* Connecting a hop: see conn.h. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <stdarg.h>
#include "buf.h"
#include "channel.h"
#include "conn.h"
#include "conn-private.h"
#include "fds.h"
#include "method.h"
#include "mitogen/broker.h"
#include "mitogen/error.h"
#include "mitogen/log.h"
#include "protocol.h"
#include "process.h"
#include "prompt.h"
#include "quickack.h"
#include "stream.h"

#define TAIL_LINES 10
#define TAIL_MAX 4096

/* Every hop process this program started and has not reaped yet: an agent
 * that goes away takes them with it (mg__conn_kill_hops), or a stuck
 * `docker exec` or an ssh that ignores end of input would outlive it. */
static struct mg_conn *live_hops;

/* Until when conns freed together may wait for their killed agents to
 * become reapable (agent_ended): 50 ms for them all, not each. */
static uint64_t ended_wait_until;

static void live_link(struct mg_conn *c)
{
	c->live_next = live_hops;
	if (live_hops != NULL) {
		live_hops->live_prevp = &c->live_next;
	}
	c->live_prevp = &live_hops;
	live_hops = c;
}

static void live_unlink(struct mg_conn *c)
{
	if (c->live_prevp == NULL) {
		return;
	}
	*c->live_prevp = c->live_next;
	if (c->live_next != NULL) {
		c->live_next->live_prevp = c->live_prevp;
	}
	c->live_prevp = NULL;
	c->live_next = NULL;
}

static void kill_hop(const struct mg_conn *c)
{
	mg__hop_kill(c->pid, c->agent_sid, false);
}

/* A hop not yet up: SIGTERM, once, to its process group alone. Its first
 * stage then ends through its EXIT trap, which removes the agent file
 * (PROTOCOL 2.1) and ignores more signals (sudo passes on hangups as
 * well); a second SIGTERM could still end a shell between us and it. */
static void term_hop(struct mg_conn *c)
{
	if (c->term_at != 0) {
		return;
	}
	c->term_at = mg_now();
	if (kill(-c->pid, SIGTERM) != 0) {
		/* A forked hop not yet in its own session. */
		kill(c->pid, SIGTERM);
	}
}

static void stop_hop(struct mg_conn *c);
static bool agent_gone(const struct mg_conn *c);

void mg__conn_kill_hops(bool all)
{
	struct mg_conn *c;

	for (c = live_hops; c != NULL; c = c->live_next) {
		if (!c->up) {
			stop_hop(c);
		} else if (all && agent_gone(c) && mg__hop_stop_left(NULL, c->pid, c->agent_sid, false)) {
			/* What an agent killed left: as on_child_exit. */
			c->left_at = mg_now();
		} else if (all) {
			kill_hop(c);
		}
	}
	/* all: the loop is over, and no timer will fire. They all got
	 * SIGTERM about together: MG_CONN_TERM_MS (MG_CONN_LEFT_MS) at
	 * most in all. */
	for (c = all ? live_hops : NULL; c != NULL; c = c->live_next) {
		if (!c->up) {
			mg__hop_kill_by(c->pid, 0, c->term_at + MG_CONN_TERM_MS, false);
		} else if (c->left_at != 0) {
			mg__hop_kill_by(c->pid, c->agent_sid, c->left_at + MG_CONN_LEFT_MS, false);
		}
	}
}

static void tail_add(struct mg_conn *c, const char *line, size_t n)
{
	char *t;
	size_t lines = 0;

	if (n == 0) {
		return;
	}
	t = talloc_asprintf_append(c->tail, "%.*s\n", (int)n, line);
	if (t == NULL) {
		return;
	}
	c->tail = t;
	/* Keep the last TAIL_LINES lines and at most TAIL_MAX bytes. */
	for (char *p = c->tail + strlen(c->tail) - 1; p > c->tail; p--) {
		if (p[-1] == '\n' && ++lines >= TAIL_LINES) {
			memmove(c->tail, p, strlen(p) + 1);
			break;
		}
	}
	if (strlen(c->tail) > TAIL_MAX) {
		char *cut = c->tail + strlen(c->tail) - TAIL_MAX;
		memmove(c->tail, cut, strlen(cut) + 1);
	}
}

/* The session has started, or never will: no more quick ACKs. */
static void login_over(struct mg_conn *c)
{
	c->login_done = true;
	if (c->qa != NULL) {
		mg_debug("%s: %u arrivals acknowledged at once during the login", c->name,
			 mg__quickack_count(c->qa));
		TALLOC_FREE(c->qa);
	}
}

static void conn_fail(struct mg_conn *c, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void conn_fail(struct mg_conn *c, int err, const char *fmt, ...)
{
	char *msg;
	va_list ap;

	if (c->failed || c->up) {
		return;
	}
	c->failed = true;
	login_over(c);
	va_start(ap, fmt);
	msg = talloc_vasprintf(c, fmt, ap);
	va_end(ap);
	if (msg != NULL && c->tail != NULL && c->tail[0] != '\0') {
		msg = talloc_asprintf_append(msg, "; it printed:\n%s", c->tail);
		if (msg != NULL && msg[strlen(msg) - 1] == '\n') {
			msg[strlen(msg) - 1] = '\0';
		}
	}
	TALLOC_FREE(c->timer);
	TALLOC_FREE(c->hello);
	TALLOC_FREE(c->fuse_hello);
	c->fused = false;
	if (c->stream != NULL) {
		mg_loop_free_later(c->loop, c->stream);
		c->stream = NULL;
	}
	stop_hop(c);
	/* c is freed from the loop at the earliest (mg__conn_release). */
	c->done(c, err, msg != NULL ? msg : "out of memory", c->data);
	/* What was sent to the hop before it was up fails as it did, after
	 * the answer to the request that started it. */
	mg__router_unhold(c->r, c->id, msg != NULL ? msg : "out of memory");
}

static void maybe_report(struct mg_conn *c);

int mg__secret_wipe_destructor(char *p)
{
	explicit_bzero(p, strlen(p));
	return 0;
}

char *mg__secret_dup(TALLOC_CTX *mem_ctx, const char *s)
{
	char *p = talloc_strdup(mem_ctx, s);

	if (p != NULL) {
		talloc_set_destructor(p, mg__secret_wipe_destructor);
	}
	return p;
}

/*
 * Write a reply to a prompt where the hop reads it: its PTY. The answer
 * and its newline go in one write: on a raw terminal (su's, in pty mode)
 * the prompter's read may return between two writes, take the answer
 * without its newline and leave the newline for the first stage, which
 * then reads it as the agent image's first byte.
 */
static void answer(struct mg_conn *c, const char *text)
{
	size_t n = strlen(text) + 1, done = 0;
	char *line = talloc_size(c, n);

	if (line == NULL) {
		return;
	}
	memcpy(line, text, n - 1);
	line[n - 1] = '\n';
	if (c->mode == MG_SPAWN_PTY && c->stream != NULL) {
		mg__stream_write_raw(c->stream, line, n);
		done = n;
	}
	while (done < n && c->err_fd >= 0) {
		ssize_t w = write(c->err_fd, line + done, n - done);
		if (w < 0 && errno == EINTR) {
			continue;
		}
		if (w <= 0) {
			break;
		}
		done += (size_t)w;
	}
	explicit_bzero(line, n);
	talloc_free(line);
}

/* A prompt reads one line: of a password holding a line end, the rest
 * would stay on the hop's terminal as its next input, or count as a
 * second, wrong try. Never sent: the hop fails saying why. */
static bool password_sendable(struct mg_conn *c, const char *password)
{
	if (strpbrk(password, "\r\n") == NULL) {
		return true;
	}
	conn_fail(c, MG_ERR_PASSWORD, "%s password holds a line end: it cannot be typed at a prompt",
		  mg__prompt_what(c->pe));
	return false;
}

static void on_password(void *data, const char *password, const char *err)
{
	struct mg_conn *c = talloc_get_type_abort(data, struct mg_conn);

	c->asking = false;
	if (c->failed || c->up) {
		return;
	}
	if (password == NULL) {
		conn_fail(c, MG_ERR_PASSWORD, "%s password is required (%s)", mg__prompt_what(c->pe),
			  err != NULL ? err : "none was given");
		return;
	}
	if (!password_sendable(c, password)) {
		return;
	}
	c->password = mg__secret_dup(c, password);
	mg__prompt_set_have_password(c->pe, true);
	/* The prompt is still waiting: answer it now. */
	answer(c, c->password);
	mg__prompt_mark_sent(c->pe);
}

int mg__conn_error_code(int err, const char *msg)
{
	if (strstr(msg, "host key") != NULL) {
		return MG_ERR_HOSTKEY;
	}
	if (strstr(msg, "password is ") != NULL || strstr(msg, "password has expired") != NULL) {
		return MG_ERR_PASSWORD;
	}
	return err;
}

static void act(struct mg_conn *c, enum mg_prompt_action a, int err, const char *msg)
{
	switch (a) {
	case MG_PROMPT_SEND_PASSWORD:
		if (!password_sendable(c, c->password)) {
			break;
		}
		mg_debug("%s: answering the password prompt", c->name);
		answer(c, c->password);
		break;
	case MG_PROMPT_SEND_YES:
		/* Trust on first use is worth a word, as ssh's accept-new
		 * gives; with the key's fingerprint, to check it by. */
		mg_warn("%s: accepting the unknown host key%s%s", c->name,
			c->hostkey_id != NULL ? ": " : "", c->hostkey_id != NULL ? c->hostkey_id : "");
		answer(c, "yes");
		break;
	case MG_PROMPT_NEED_PASSWORD:
		if (c->ask == NULL) {
			conn_fail(c, MG_ERR_PASSWORD, "%s password is required (use password_env= or password_file=)",
				  mg__prompt_what(c->pe));
		} else if (!c->asking) {
			c->asking = true;
			c->ask(c->ask_data, on_password, c);
		}
		break;
	case MG_PROMPT_FAIL:
		conn_fail(c, mg__conn_error_code(err, msg), "%s", msg);
		break;
	case MG_PROMPT_NONE:
	default:
		break;
	}
}

/* A whole line of output from the hop before it is up. */
static void scan_line(struct mg_conn *c, const char *line, size_t n)
{
	int err = 0;
	const char *msg = NULL;

	if (c->pe != NULL && !c->up && !c->failed) {
		/* Not in one call: argument order is unspecified in C. */
		enum mg_prompt_action a = mg__prompt_line(c->pe, line, n, &err, &msg);

		if (a == MG_PROMPT_HOSTKEY_ID) {
			talloc_free(c->hostkey_id);
			c->hostkey_id = talloc_strndup(c, line, n);
		} else {
			act(c, a, err, msg);
		}
	}
}

/* Output not yet ended by a newline: prompts. True when it was acted on
 * (the caller then drops it). */
static bool scan_partial(struct mg_conn *c, const char *text, size_t n)
{
	int err = 0;
	const char *msg = NULL;
	enum mg_prompt_action a;

	if (c->pe == NULL || c->up || c->failed || c->asking) {
		return false;
	}
	a = mg__prompt_partial(c->pe, text, n, &err, &msg);
	act(c, a, err, msg);
	return a != MG_PROMPT_NONE;
}

/*
 * Read the hop's stderr. On a socketpair, a descriptor may come with a
 * NUL byte (mitogen-connect's copy of ssh's TCP socket): watched until
 * the session starts, and the byte is no text (*_carrier). A group the
 * queue refuses (too many fds) is closed, and its bytes are dropped too.
 */
static ssize_t err_read(struct mg_conn *c, char *buf, size_t len, bool *_carrier)
{
	struct mg_fdq q = { .n = 0 };
	struct mg_fds *f;
	ssize_t n;

	*_carrier = false;
	if (!c->err_sock) {
		return read(c->err_fd, buf, len);
	}
	n = mg__fdq_recv(c, &q, c->err_fd, buf, len);
	if (n == MG_ERR_PROTOCOL) {
		*_carrier = true;
		return 0;
	}
	if (n < 0) {
		errno = (int)-n;
		return -1;
	}
	if ((f = mg__fdq_pop(&q)) == NULL) {
		return n;
	}
	if (c->qa == NULL && !c->login_done) {
		/* The watch owns the first fd; the group closes the rest. */
		c->qa = mg__quickack_new(c, c->loop, f->fd[0]);
		f->fd[0] = -1;
		c->login_done = c->qa == NULL;
		if (c->qa != NULL) {
			mg_debug("%s: acknowledging the login's packets at once", c->name);
		}
	}
	talloc_free(f);
	*_carrier = n == 1 && buf[0] == '\0';
	return n;
}

static void on_err_readable(struct mg_io *io, unsigned events, void *data)
{
	struct mg_conn *c = talloc_get_type_abort(data, struct mg_conn);
	char buf[4096];
	bool carrier;
	ssize_t n = err_read(c, buf, sizeof(buf), &carrier);

	if ((n < 0 && (errno == EAGAIN || errno == EINTR)) || carrier) {
		return;
	}
	if (n <= 0) {
		TALLOC_FREE(c->err_io);
		close(c->err_fd);
		c->err_fd = -1;
		if (c->errline_len > 0) {
			tail_add(c, c->errline, c->errline_len);
			mg_info("%s: %.*s", c->name, (int)c->errline_len, c->errline);
			c->errline_len = 0;
		}
		maybe_report(c);
		return;
	}
	for (ssize_t i = 0; i < n; i++) {
		if (buf[i] == '\n' || buf[i] == '\r' || c->errline_len == sizeof(c->errline)) {
			if (c->errline_len > 0) {
				/* Before the agent is up this is diagnostics; after, stray output. */
				if (c->up) {
					mg_info("%s: %.*s", c->name, (int)c->errline_len, c->errline);
				} else {
					mg_debug("%s: %.*s", c->name, (int)c->errline_len, c->errline);
				}
				tail_add(c, c->errline, c->errline_len);
				scan_line(c, c->errline, c->errline_len);
			}
			c->errline_len = 0;
			if (buf[i] == '\n' || buf[i] == '\r') {
				continue;
			}
		}
		c->errline[c->errline_len++] = buf[i];
	}
	if (c->errline_len > 0 && scan_partial(c, c->errline, c->errline_len)) {
		tail_add(c, c->errline, c->errline_len);
		c->errline_len = 0;
	}
}

static void on_child_exit(struct mg_child *ch, pid_t pid, int status, void *data)
{
	struct mg_conn *c = talloc_get_type_abort(data, struct mg_conn);

	c->child = NULL;
	c->exited = true;
	c->status = status;
	live_unlink(c);
	login_over(c);
	TALLOC_FREE(c->stop_timer);
	/* Whatever the hop left running in its session goes with it:
	 * stopped before it was up, at the end of its grace (a leader may
	 * end at once on SIGTERM, a first stage under it still in its EXIT
	 * trap); an agent gone with commands left (killed, crashed), as its
	 * own parent loss stops them: SIGTERM, so that they may clean up
	 * (rsync's temporary file), SIGKILL later; else at once. */
	if (c->term_at != 0 && !c->up) {
		mg__hop_orphan(c->loop, pid, 0, c->term_at + MG_CONN_TERM_MS, true);
	} else if (!c->up) {
		mg__kill_session(pid, SIGKILL);
	} else {
		mg__hop_stop_left(c->loop, pid, c->agent_sid, true);
	}
	if (c->exit_fn != NULL) {
		void (*fn)(void *data) = c->exit_fn;

		c->exit_fn = NULL;
		fn(c->exit_data);
	}
	if (c->released) {
		mg_loop_free_later(c->loop, c);
		return;
	}
	mg_debug("%s: hop process %d ended (%s %d)", c->name, (int)pid,
		 WIFSIGNALED(status) ? "signal" : "status",
		 WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
	maybe_report(c);
}

static void describe_exit(struct mg_conn *c, char *buf, size_t len)
{
	if (!c->exited) {
		snprintf(buf, len, "connection closed");
	} else if (WIFSIGNALED(c->status)) {
		snprintf(buf, len, "exited on signal %d", WTERMSIG(c->status));
	} else {
		snprintf(buf, len, "exited with status %d", WEXITSTATUS(c->status));
	}
}

/* The hop's stdout ended before the agent was up: report once its stderr
 * and exit status are in, or after a short grace period. */
static void report_boot_failure(struct mg_conn *c)
{
	char how[64];

	describe_exit(c, how, sizeof(how));
	if (c->method->eof_hint != NULL) {
		/* After what the hop printed: the method's own advice. */
		tail_add(c, c->method->eof_hint, strlen(c->method->eof_hint));
	}
	if (c->exited && WIFEXITED(c->status) && WEXITSTATUS(c->status) == 127) {
		conn_fail(c, MG_ERR_BOOT, "hop command not found (%s)", how);
	} else {
		conn_fail(c, MG_ERR_BOOT, "hop %s before the agent was up", how);
	}
}

static void on_grace(struct mg_timer *t, void *data)
{
	struct mg_conn *c = talloc_get_type_abort(data, struct mg_conn);

	c->grace = NULL;
	report_boot_failure(c);
}

static void maybe_report(struct mg_conn *c)
{
	if (!c->boot_eof || c->up || c->failed) {
		return;
	}
	if (c->err_io == NULL && c->exited) {
		report_boot_failure(c);
	} else if (c->grace == NULL) {
		c->grace = mg_timer_new(c, c->loop, 1000, on_grace, c);
	}
}

static void boot_closed(struct mg_stream *s, int err, const char *why, void *data)
{
	struct mg_conn *c = talloc_get_type_abort(data, struct mg_conn);

	if (err != 0) {
		/* A protocol violation says more than the exit status will. */
		conn_fail(c, err, "%s", why);
		return;
	}
	c->boot_eof = true;
	maybe_report(c);
}

static void on_timeout(struct mg_timer *t, void *data)
{
	struct mg_conn *c = talloc_get_type_abort(data, struct mg_conn);

	c->timer = NULL;
	conn_fail(c, MG_ERR_TIMEOUT, "connect timed out");
}

/* Whether descriptors may go down to this hop (PROTOCOL 5.1): it runs on
 * this kernel, and its agent's link is the very socket we made (the rest
 * of HELLO's reply at b says who made it). Not through a relay (sudo's
 * I/O logging), not across a link, a container or a PID namespace. */
static bool link_gives_fds(const struct mg_conn *c, struct mg_buf *b)
{
	static const char *const same[] = { "local", "fork", "sudo", "doas" };
	uint32_t uid, link_pid = 0;
	char *machine = NULL, *node = NULL;
	bool ok = false;

	for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
		ok = ok || strcmp(c->method->name, same[i]) == 0;
	}
	if (!ok || mg__buf_get_u32(b, &uid) != 0 || mg__buf_get_str(b, NULL, &machine) != 0 ||
	    mg__buf_get_str(b, NULL, &node) != 0 || mg__buf_get_u32(b, &link_pid) != 0) {
		ok = false;
	}
	talloc_free(machine);
	talloc_free(node);
	return ok && link_pid == (uint32_t)getpid();
}

static void on_hello_reply(struct mg_router *r, struct mg_msg *m, void *data)
{
	struct mg_conn *c = talloc_get_type_abort(data, struct mg_conn);
	struct mg_buf b;
	uint32_t version = 0, pid = 0;
	int ret;

	c->hello = NULL;
	if ((m->flags & MG_F_DEAD) != 0) {
		conn_fail(c, MG_ERR_BOOT, "agent refused HELLO: %.*s", (int)m->len, (const char *)m->data);
		return;
	}
	mg__buf_view(&b, m->data, m->len);
	if (mg__buf_get_u32(&b, &version) != 0 || mg__buf_get_u32(&b, &pid) != 0) {
		conn_fail(c, MG_ERR_PROTOCOL, "malformed HELLO reply");
		return;
	}
	if (version != MG_PROTOCOL_VERSION) {
		conn_fail(c, MG_ERR_VERSION, "agent speaks protocol %u, we speak %u",
			  version, MG_PROTOCOL_VERSION);
		return;
	}
	TALLOC_FREE(c->timer);
	login_over(c);
	c->up = true;
	c->agent_pid = pid;
	c->agent_sid = mg__hop_agent_session(c->pid, (pid_t)pid, &c->agent_here);
	if (link_gives_fds(c, &b)) {
		mg__stream_give_fds(c->stream, true);
	}
	mg_info("%s: agent up (context %u, pid %u)", c->fused ? c->fuse_name : c->name,
		c->fused ? c->fuse_id : c->id, pid);
	ret = mg__router_add_stream(c->r, c->stream, c->id, c->name, false);
	c->stream = NULL;
	if (ret != 0) {
		c->done(c, ret, "cannot add route", c->data);
		mg__router_unhold(c->r, c->id, "cannot add route");
		return;
	}
	if (c->fused && (ret = mg__router_fuse(c->r, c->id, c->fuse_id, c->fuse_name)) != 0) {
		/* The session hears it from the sudo hop's eviction. */
		mg_warn("%s: cannot route %s: %s", c->name, c->fuse_name, mg_strerror(ret));
		c->fused = false;
	}
	/* What waited for the hop goes now, behind what rode in its image
	 * (fused: what is for the hop itself fails, it has no agent). */
	mg__router_hold_release(c->r, c->id);
	c->done(c, 0, NULL, c->data);
}

/* The agent is up: HELLO now, unless it came with the image. */
static int send_hello(struct mg_conn *c)
{
	if (c->hello_sent) {
		return 0;
	}
	c->hello_sent = true;
	return mg__stream_write_raw(c->stream, c->hello_frame, c->hello_frame_len);
}

/* Frames from the new agent before it is routed: only the HELLO reply. */
static void boot_msg(struct mg_stream *s, struct mg_msg *m, void *data)
{
	struct mg_conn *c = talloc_get_type_abort(data, struct mg_conn);

	if (c->hello != NULL && m->src == c->id && m->dst == mg__router_id(c->r) &&
	    m->handle == mg__handler_handle(c->hello) && m->auth_id == c->id) {
		/* Unregister first: the reply settles the connection. */
		TALLOC_FREE(c->hello);
		TALLOC_FREE(c->fuse_hello);
		c->fused = false;
		on_hello_reply(c->r, m, c);
	} else if (c->fused && c->fuse_hello != NULL && m->src == c->fuse_id &&
		   m->dst == mg__router_id(c->r) && m->auth_id == c->fuse_id &&
		   m->handle == mg__handler_handle(c->fuse_hello)) {
		/* sudo ran the agent: the sudo hop is up in our place. */
		TALLOC_FREE(c->hello);
		TALLOC_FREE(c->fuse_hello);
		on_hello_reply(c->r, m, c);
	} else {
		mg_debug("%s: unexpected frame before HELLO", c->name);
	}
	talloc_free(m);
}

/* Raw bytes on the hop's stdout before the agent is up: markers and any
 * noise a login shell prints. */
static size_t boot_raw(struct mg_stream *s, const uint8_t *p, size_t n, void *data)
{
	struct mg_conn *c = talloc_get_type_abort(data, struct mg_conn);
	size_t used = 0;

	if (c->failed) {
		/* Failed earlier in this turn of the loop (a time limit, a
		 * line on stderr): its stream is gone, whatever came on it. */
		return n;
	}
	/* The hop's command runs: sshd has turned TCP_NODELAY on. */
	login_over(c);
	while (used < n) {
		const uint8_t *nl = memchr(p + used, '\n', n - used);
		size_t len;
		if (nl == NULL) {
			/* A prompt has no newline; otherwise keep the partial line
			 * unless it is hopelessly long. */
			if (scan_partial(c, (const char *)p + used, n - used) || n - used > 4096) {
				tail_add(c, (const char *)p + used, n - used);
				used = n;
			}
			break;
		}
		len = (size_t)(nl - (p + used)) + 1;
		if (len == MG_MARK_LEN && memcmp(p + used, MG_MARK_STAGE1, MG_MARK_LEN) == 0) {
			if (!c->method->eager && !c->direct) {
				mg__conn_send_image(c);
			}
		} else if (len == MG_MARK_LEN && c->fused &&
			   memcmp(p + used, MG_MARK_FUSE_NO, MG_MARK_LEN) == 0) {
			/* sudo did not run it: the whole agent, as the login
			 * user, with our HELLO and every frame held for us. */
			mg_debug("%s: sudo -n did not start the agent: sending the whole agent",
				 c->name);
			c->fused = false;
			c->image_in_argv = false;
			TALLOC_FREE(c->fuse_hello);
			mg__conn_send_image(c);
		} else if (len == MG_MARK_LEN && memcmp(p + used, MG_MARK_UP, MG_MARK_LEN) == 0) {
			used += len;
			mg_trace("%s: agent started", c->name);
			mg__stream_set_frames(s, boot_msg, c);
			if (send_hello(c) != 0) {
				conn_fail(c, MG_ERR_BOOT, "cannot send HELLO");
			}
			return used;
		} else {
			size_t ll = len - 1;
			if (ll > 0 && p[used + ll - 1] == '\r') {
				ll--;
			}
			mg_debug("%s: stdout: %.*s", c->name, (int)ll, (const char *)p + used);
			tail_add(c, (const char *)p + used, ll);
			scan_line(c, (const char *)p + used, ll);
			if (c->failed) {
				return n;
			}
		}
		used += len;
	}
	return used;
}

/* fork: the child becomes an agent on a fresh socketpair, in this very
 * program image. It must not touch its parent's loop (the epoll set is
 * shared), so everything but its new stdio is closed first. */
static int spawn_fork_agent(struct mg_conn *c, int sv[2], int ev[2])
{
	int ret, keep;
	struct rlimit rl;
	long maxfd;

	mg__nofile_room(MG_HOP_FDS_ROOM);
	if ((ret = mg__socketpair(sv)) != 0 || (ret = mg__pipe(ev)) != 0) {
		return ret;
	}
	c->pid = fork();
	if (c->pid < 0) {
		return -errno;
	}
	if (c->pid == 0) {
		mg__child_reset_signals();
		setsid();
		/* Our parent's hops are not ours to kill. */
		live_hops = NULL;
		if (dup2(sv[1], 0) < 0 || dup2(sv[1], 1) < 0 || dup2(ev[1], 2) < 0) {
			_exit(1);
		}
		/* Keep the fd an agent's image path points at (/proc/self/fd/N):
		 * the fork's own local hops exec it. */
		keep = -1;
		if (c->image->self != NULL && strncmp(c->image->self, "/proc/self/fd/", 14) == 0) {
			keep = (int)strtol(c->image->self + 14, NULL, 10);
		}
		/* getrlimit, not sysconf: the agent is smaller without it. */
		maxfd = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY ?
			(long)rl.rlim_cur : 65536;
		for (long fd = 3; fd < (maxfd > 0 && maxfd < 65536 ? maxfd : 65536); fd++) {
			if (fd != keep) {
				close((int)fd);
			}
		}
		mg_log_set_sink(NULL, NULL);
		/* The master's environment came with the fork: no password. */
		mg__env_scrub_self();
		_exit(c->run_agent(c->image));
	}
	close(sv[1]);
	close(ev[1]);
	sv[1] = ev[1] = -1;
	return 0;
}

/* Stop C's hop, not up, once its owner has let go of it: SIGTERM, then
 * SIGKILL by the loop after the grace, or on the loop's end. */
static void orphan_stop(struct mg_conn *c)
{
	term_hop(c);
	mg__hop_orphan(c->loop, c->pid, 0, c->term_at + MG_CONN_TERM_MS, false);
}

/* The agent of C, up, has ended (killed, crashed) though its hop
 * process may not be reaped yet, or still runs (sudo, about to end). */
static bool agent_gone(const struct mg_conn *c)
{
	siginfo_t si = { .si_pid = 0 };

	if (waitid(P_PID, (id_t)c->pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 &&
	    si.si_pid == c->pid) {
		return true;
	}
	return c->agent_here && !mg__proc_live((long)c->agent_pid);
}

/*
 * Whether the agent of C, up, has ended. Its link lost (C released), a
 * killed agent's end of it closes before the kernel has made it a
 * zombie: a program going right after that waits for it a little, 50 ms
 * in all for the conns it frees then (a holder stopping a hundred chains
 * whose agents are still stopping their commands, alive, must not wait
 * 50 ms for each). An agent still alive stops its commands itself.
 */
static bool agent_ended(const struct mg_conn *c)
{
	struct timespec ts = { 0, 2 * 1000 * 1000 };
	uint64_t now = mg_now();

	if (agent_gone(c)) {
		return true;
	}
	if (!c->released) {
		return false;
	}
	if (now > ended_wait_until + 1000) {
		ended_wait_until = now + 50;  /* a new burst of frees */
	}
	while (mg_now() < ended_wait_until) {
		nanosleep(&ts, NULL);
		if (agent_gone(c)) {
			return true;
		}
	}
	return false;
}

static int conn_destructor(struct mg_conn *c)
{
	/* A hop still connecting when its owner lets go of it (the run was
	 * interrupted) has no agent to stop it, and nobody wants it: a stuck
	 * ssh or `docker exec` deaf to SIGTERM and end of input would
	 * outlive us. A forked copy of us does not own it. The loop reaps
	 * it, for a program that goes on (unless the loop is going too). */
	if (!c->up && !c->exited && c->pid > 0 && c->owner == getpid()) {
		orphan_stop(c);
	}
	/* And one whose agent has ended, not yet reaped (the program goes
	 * right after its target was lost): nobody else stops what the
	 * agent left running. A live agent does that itself. */
	if (c->up && !c->exited && c->pid > 0 && c->owner == getpid() && agent_ended(c)) {
		mg__hop_stop_left(c->loop, c->pid, c->agent_sid, false);
	}
	live_unlink(c);
	/* Unwatched before it is closed (mg_io_new): the children would
	 * only be freed after. */
	TALLOC_FREE(c->err_io);
	if (c->err_fd >= 0) {
		close(c->err_fd);
	}
	return 0;
}

void mg__conn_release(struct mg_conn *c)
{
	c->released = true;
	if (c->pid <= 0 && c->exit_fn != NULL) {
		/* Failed before its process started (prepare_async): there
		 * is nothing to reap. */
		void (*fn)(void *data) = c->exit_fn;

		c->exit_fn = NULL;
		fn(c->exit_data);
	}
	if (c->exited || c->pid <= 0) {
		mg_loop_free_later(c->loop, c);
	} else if (c->up) {
		/* Its link ended: the agent stops by itself, or is made to. */
		mg__conn_stop_after(c, MG_CONN_STOP_MS);
	}
}

static void on_stop_timer(struct mg_timer *t, void *data)
{
	struct mg_conn *c = talloc_get_type_abort(data, struct mg_conn);

	c->stop_timer = NULL;
	if (c->exited) {
		return;
	}
	if (c->up) {
		mg_info("%s: the agent did not stop: killing it", c->name);
	} else {
		mg_debug("%s: the hop did not end on SIGTERM: killing it", c->name);
	}
	kill_hop(c);
}

/* Stop the hop's process now: kill one that is up; one not yet up gets
 * SIGTERM, and SIGKILL MG_CONN_TERM_MS later (term_hop). */
static void stop_hop(struct mg_conn *c)
{
	if (c->exited || c->pid <= 0) {
		return;
	}
	if (c->up) {
		kill_hop(c);
		return;
	}
	term_hop(c);
	if (c->stop_timer == NULL) {
		c->stop_timer = mg_timer_new(c, c->loop, MG_CONN_TERM_MS, on_stop_timer, c);
		if (c->stop_timer == NULL) {
			kill_hop(c);
		}
	}
}

void mg__conn_stop_after(struct mg_conn *c, unsigned ms)
{
	if (c->exited || c->pid <= 0 || c->stop_timer != NULL) {
		return;
	}
	c->stop_timer = mg_timer_new(c, c->loop, ms, on_stop_timer, c);
}

void mg__conn_kill(struct mg_conn *c)
{
	if (c->exited || c->pid <= 0) {
		return;
	}
	TALLOC_FREE(c->stop_timer);
	kill_hop(c);
}

void mg__conn_cancel(struct mg_conn *c, const char *why)
{
	conn_fail(c, MG_ERR_CANCELLED, "%s", why);
}

void mg__conn_on_exit(struct mg_conn *c, void (*fn)(void *data), void *data)
{
	c->exit_fn = fn;
	c->exit_data = data;
}

uint32_t mg__conn_fused(const struct mg_conn *c)
{
	return c->up && c->fused ? c->fuse_id : 0;
}

pid_t mg__conn_pid(const struct mg_conn *c)
{
	return c->pid;
}

pid_t mg__conn_agent_pid(const struct mg_conn *c)
{
	return (pid_t)c->agent_pid;
}

/* The unpacked agent run in place (local.c) gets the image it pushes on
 * at MG_BOOT_IMAGE_FD: an fd on it, never that number itself (a dup2
 * onto itself would keep close-on-exec). -1 when not asked for. */
static int plain_image_fd(const struct mg_conn *c, char **argv)
{
	int fd;

	if (!c->direct || c->image == NULL || c->image->plain == NULL ||
	    c->image->self == NULL || strcmp(argv[0], c->image->plain) != 0) {
		return -1;
	}
	fd = open(c->image->self, O_RDONLY | O_CLOEXEC);
	if (fd == MG_BOOT_IMAGE_FD) {
		int other = fcntl(fd, F_DUPFD_CLOEXEC, MG_BOOT_IMAGE_FD + 1);

		close(fd);
		fd = other;
	}
	return fd;
}

/* Start the hop's command in its own session, on a socketpair (and a
 * stderr pipe or PTY) as its mode says. */
static int conn_spawn(struct mg_conn *c, char **argv, int sv[2], int ev[2],
		      TALLOC_CTX *mem_ctx, char **_errmsg)
{
	int ret, image_fd;

	/* A fan-out of hundreds must not fail at the soft limit's end. */
	mg__nofile_room(MG_HOP_FDS_ROOM);
	/* Data on a socketpair; a PTY only where a prompt may appear. */
	if (c->mode == MG_SPAWN_PTY) {
		ret = mg__openpty(&sv[0], &sv[1], true, true);
	} else {
		ret = mg__socketpair(sv);
		c->err_sock = c->mode == MG_SPAWN_SOCKET && c->method->err_socket;
		if (ret == 0) {
			ret = c->mode == MG_SPAWN_HYBRID ? mg__openpty(&ev[0], &ev[1], false, true)
			      : c->err_sock		 ? mg__socketpair(ev)
							 : mg__pipe(ev);
		}
	}
	if (ret != 0) {
		return ret;
	}
	image_fd = plain_image_fd(c, argv);
	{
		char **envp = NULL;
		struct mg_spawn_opts so = {
			.argv = (const char *const *)argv,
			.pass_fd = image_fd > 0 ? image_fd : 0,
			.pass_fd_at = MG_BOOT_IMAGE_FD,
			.search_path = true,
			.setsid = true,
			.stdio = { sv[1], sv[1], c->mode == MG_SPAWN_PTY ? sv[1] : ev[1] },
			.set_ctty = c->mode != MG_SPAWN_SOCKET,
			.ctty = c->mode == MG_SPAWN_PTY ? sv[1] : ev[1],
			.pre_exec = c->direct ? NULL : c->method->pre_exec,
			.pre_exec_state = c->prepared,
		};
		ret = c->direct || c->method->amend_env == NULL ? 0
		      : c->method->amend_env(c, c->prepared, &envp);
		if (ret == 0 && envp == NULL && c->prompt_env != NULL && !c->direct) {
			envp = mg__env_with(c, (const char *const *)c->prompt_env);
			ret = envp != NULL ? 0 : -ENOMEM;
		}
		so.envp = (const char *const *)envp;
		if (ret == 0) {
			ret = mg__spawn(&so, &c->pid);
		}
		talloc_free(envp);
	}
	if (image_fd >= 0) {
		close(image_fd);
	}
	close(sv[1]);
	if (ev[1] >= 0) {
		close(ev[1]);
	}
	sv[1] = ev[1] = -1;
	if (ret != 0) {
		/* A pre-exec step says what failed on its stderr: keep it. */
		char why[512] = "";
		int efd = c->mode == MG_SPAWN_PTY ? sv[0] : ev[0];
		ssize_t n = -1;
		if (efd >= 0) {
			mg__fd_nonblock(efd);
			n = read(efd, why, sizeof(why) - 1);
		}
		while (n > 0 && (why[n - 1] == '\n' || why[n - 1] == '\r')) {
			n--;
		}
		why[n > 0 ? n : 0] = '\0';
		if (why[0] != '\0') {
			*_errmsg = talloc_asprintf(mem_ctx, "%s", why);
		} else {
			*_errmsg = talloc_asprintf(mem_ctx, "cannot run %s: %s", argv[0], mg_strerror(ret));
		}
		c->pid = 0;
		return ret;
	}
	return 0;
}

/* The hop's process (started now, unless a fork agent already runs):
 * its stream on sv[0], its stderr on ev[0], its exit and the time limit. */
static int conn_watch(struct mg_conn *c, int sv[2], int ev[2], unsigned timeout_ms)
{
	c->err_fd = ev[0];
	ev[0] = -1;
	if (c->err_fd >= 0) {
		mg__fd_nonblock(c->err_fd);
	}
	mg__fd_nonblock(sv[0]);
	c->stream = mg__stream_new(c, c->loop, sv[0], sv[0], c->name, mg__router_max_msg(c->r));
	if (c->stream == NULL) {
		return -ENOMEM;
	}
	sv[0] = -1;
	mg__stream_set_raw(c->stream, boot_raw, c);
	mg__stream_on_close(c->stream, boot_closed, c);
	if (c->err_fd >= 0) {
		c->err_io = mg_io_new(c, c->loop, c->err_fd, MG_IO_READ, on_err_readable, c);
		if (c->err_io == NULL) {
			return -ENOMEM;
		}
		/* The stderr reader alone must not keep a finished run alive. */
		mg_io_set_keepalive(c->err_io, false);
	}
	c->child = mg_child_new(c, c->loop, c->pid, on_child_exit, c);
	if (c->timer == NULL) {
		c->timer = mg_timer_new(c, c->loop, timeout_ms, on_timeout, c);
	}
	if (c->child == NULL || c->timer == NULL) {
		return -ENOMEM;
	}
	if (c->method->eager && !c->direct) {
		mg__conn_send_image(c);
	}
	live_link(c);
	return 0;
}

/*
 * Spawn argv (unless c->pid is already set) and watch it. sv and ev are
 * consumed whatever happens. Returns 0, or a negative error with *_errmsg
 * set on mem_ctx when there is more to say; a process started is then
 * killed and reaped.
 */
static int conn_run(struct mg_conn *c, char **argv, int sv[2], int ev[2], unsigned timeout_ms,
		    TALLOC_CTX *mem_ctx, char **_errmsg)
{
	int ret = 0;

	if (c->pid <= 0) {
		ret = conn_spawn(c, argv, sv, ev, mem_ctx, _errmsg);
	}
	if (ret == 0 && (ret = conn_watch(c, sv, ev, timeout_ms)) != 0) {
		kill(-c->pid, SIGKILL);
		waitpid(c->pid, NULL, 0);
		c->pid = 0;
	}
	for (int i = 0; i < 2; i++) {
		if (sv[i] >= 0) {
			close(sv[i]);
			sv[i] = -1;
		}
		if (ev[i] >= 0) {
			close(ev[i]);
			ev[i] = -1;
		}
	}
	return ret;
}

/* The method is ready (prepare_async): start the hop, or fail it. */
static void on_prepared(void *data, int err, void *state, const char *errmsg)
{
	struct mg_conn *c = talloc_get_type_abort(data, struct mg_conn);
	int sv[2] = { -1, -1 }, ev[2] = { -1, -1 };
	char *msg = NULL;
	int ret = err;

	if (c->failed) {
		return;
	}
	if (ret == 0 && (ret = mg__conn_take_held(c)) > 0) {
		/* Sent to the hop while prepare ran: the length the first
		 * stage reads has grown. */
		char **argv = NULL;
		bool direct, in_argv;

		ret = mg__conn_build_argv(c, c->hop, c->image, c->plain_len, NULL, c->hello_tail_len, &argv,
				&direct, &in_argv, &msg);
		if (ret == 0) {
			talloc_free(c->argv);
			c->argv = argv;
		}
	}
	if (ret == 0) {
		c->prepared = state;
		if (c->method->amend_argv != NULL) {
			ret = c->method->amend_argv(c, state, &c->argv);
		}
	}
	if (ret == 0) {
		if (mg_log_get_level() >= MG_LOG_DEBUG && c->method->amend_argv != NULL &&
		    state != NULL) {
			char *line = mg__argv_for_log(c, (const char *const *)c->argv);
			mg_debug("%s: amended: running %s", c->name, line != NULL ? line : "?");
			talloc_free(line);
		}
		ret = conn_run(c, c->argv, sv, ev, 0, c, &msg);
	}
	TALLOC_FREE(c->argv);
	if (ret != 0) {
		conn_fail(c, ret, "%s", err != 0 && errmsg != NULL ? errmsg
			  : msg != NULL ? msg : mg_strerror(ret));
	}
	talloc_free(msg);
}

static void fuse_later(void *data)
{
	on_prepared(data, 0, NULL, NULL);
}

/*
 * Whether this host has CPU to spare for what only saves a hop waiting:
 * an optional prepare step (ssh's TCP_NODELAY helper: a shell and the
 * helper, and an `ssh -G` where the config is not read directly, up to
 * ~7 ms of CPU) and the image in the command (it
 * saves a round trip, but is escaped here and parsed by two shells on the
 * far end, ~1 ms and ~6 ms). While a hop waits, the CPU serves the others
 * starting beside it: with more of them than CPUs, the CPU sets the pace,
 * not the waits, and both would only slow the whole fan-out down.
 */
/* The CPUs this process may run on: a cpuset (taskset, a container's
 * --cpuset-cpus) leaves fewer than the host has online. */
static long usable_cpus(void)
{
	cpu_set_t set;

	/* Failing only past 1024 CPUs: then one, which prepares nothing
	 * (sysconf's tables are 1 KB of the agent). */
	if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0) {
		return CPU_COUNT(&set);
	}
	return 1;
}

static bool spare_cpu(const struct mg_method *m, const struct mg_conn_params *p)
{
	long ncpu = usable_cpus();

	if (p->others_starting < (unsigned long)(ncpu > 0 ? ncpu : 1)) {
		return true;
	}
	if (m->prepare_optional || m->image_arg != NULL) {
		mg_debug("%s: %u other hops starting on %ld CPUs: no %s preparation, the image on stdin",
			 p->name, p->others_starting, ncpu, m->name);
	}
	return false;
}

int mg__conn_start(TALLOC_CTX *mem_ctx, struct mg_router *r, const struct mg_conn_params *p,
		   mg_conn_done_fn done, void *data, struct mg_conn **_c, char **_errmsg)
{
	struct mg_conn *c;
	char **argv = NULL;
	int sv[2] = { -1, -1 }, ev[2] = { -1, -1 };
	bool spare, prepared, fuse_wait;
	int ret;

	*_errmsg = NULL;
	c = talloc_zero(mem_ctx, struct mg_conn);
	if (c == NULL) {
		return -ENOMEM;
	}
	c->err_fd = -1;
	c->owner = getpid();
	c->on_hello = on_hello_reply;
	c->on_timeout = on_timeout;
	talloc_set_destructor(c, conn_destructor);
	c->r = r;
	c->loop = mg__router_loop(r);
	c->image = p->image;
	c->hop = p->hop;
	c->id = p->id;
	c->timeout_ms = p->timeout_ms;
	c->log_level = p->log_level;
	c->done = done;
	c->data = data;
	c->name = talloc_strdup(c, p->name);
	if (mg__conn_agent_naming(c, p->hop, p->id, &c->proc_name, &c->log_level, _errmsg) != 0) {
		ret = -EINVAL;
		goto fail;
	}
	c->tail = talloc_strdup(c, "");
	c->method = mg__method_find(p->hop->method);
	if (c->name == NULL || c->tail == NULL) {
		ret = -ENOMEM;
		goto fail;
	}
	c->run_agent = p->run_agent;
	if (p->fuse_id != 0 && p->fuse_image != NULL && mg__conn_can_fuse(c->method)) {
		c->fuse_id = p->fuse_id;
		c->fuse_timeout_ms = p->fuse_timeout_ms;
		c->fuse_hop = p->fuse_hop;
		c->fuse_image = p->fuse_image;
		c->fuse_name = talloc_strdup(c, p->fuse_name);
		if (c->fuse_name == NULL) {
			ret = -ENOMEM;
			goto fail;
		}
	}
	if (c->method->fork && c->run_agent == NULL) {
		*_errmsg = talloc_strdup(mem_ctx, "cannot fork: no agent to run here");
		ret = -ENOSYS;
		goto fail;
	}
	if (c->method->plain_first) {
		mg__conn_take_plain(c);
	}
	if ((ret = mg__conn_prepare_hello(c)) != 0 || (ret = mg__router_hold(r, c->id, 0)) != 0) {
		goto fail;
	}
	if (c->method->fork) {
		ret = spawn_fork_agent(c, sv, ev);
		if (ret != 0) {
			*_errmsg = talloc_asprintf(mem_ctx, "cannot fork: %s", mg_strerror(ret));
			goto fail;
		}
		c->direct = true;
		goto spawned;
	}
	spare = spare_cpu(c->method, p);
	c->spare = spare;
	if (!spare && c->plain == NULL) {
		mg__conn_take_unpacked(c, c->fuse_id != 0 ? &c->fuse_image : &c->image);
	}
	if ((ret = mg__conn_build_argv(c, p->hop, c->image, c->plain_len, spare ? c->hello_tail : NULL,
			     c->hello_tail_len, &argv, &c->direct, &c->image_in_argv,
			     _errmsg)) != 0) {
		goto fail;
	}

	if (mg_log_get_level() >= MG_LOG_DEBUG) {
		char *line = mg__argv_for_log(c, (const char *const *)argv);
		mg_debug("%s: running %s", c->name, line != NULL ? line : "?");
		talloc_free(line);
	}
	c->mode = c->direct || c->method->spawn_mode == NULL ? c->method->mode
							      : c->method->spawn_mode(p->hop);
	if (!c->direct && c->method->prompts != NULL) {
		struct mg_prompts *pr = NULL;
		if ((ret = c->method->prompts(c, p->hop, &pr, _errmsg)) != 0 ||
		    (ret = mg__prompt_new(c, pr, &c->pe, _errmsg)) != 0) {
			goto fail;
		}
		c->prompt_env = pr->env;
	}
	if (p->password != NULL) {
		c->password = mg__secret_dup(c, p->password);
	}
	if (c->pe != NULL) {
		mg__prompt_set_have_password(c->pe, c->password != NULL);
	}
	c->ask = p->ask;
	c->ask_data = p->ask_data;
	prepared = !c->direct && c->method->prepare_async != NULL &&
		   (spare || !c->method->prepare_optional);
	/* Without that, a hop that may run sudo in its command waits all the
	 * same: the sudo hop's CONNECT and frames come next, in this turn of
	 * the loop; it spawns in the next, as a prepared hop. */
	fuse_wait = !prepared && FUSING && c->fuse_id != 0 && !c->direct &&
		    c->method->prepare == NULL;
	if (prepared || fuse_wait) {
		/* The rest once the method is ready; the time limit runs
		 * from now. */
		c->argv = argv;
		c->timer = mg_timer_new(c, c->loop, p->timeout_ms, on_timeout, c);
		if (c->timer == NULL) {
			ret = -ENOMEM;
			goto fail;
		}
		ret = prepared ? c->method->prepare_async(c, c->loop, p->hop, on_prepared, c, _errmsg)
			       : mg_loop_defer(c->loop, c, fuse_later, c) != 0 ? -ENOMEM : 0;
		if (ret != 0) {
			goto fail;
		}
		*_c = c;
		return 0;
	}
	if (!c->direct && c->method->prepare != NULL &&
	    (ret = c->method->prepare(c, p->hop, &c->prepared, _errmsg)) != 0) {
		goto fail;
	}
spawned:
	ret = conn_run(c, argv, sv, ev, p->timeout_ms, mem_ctx, _errmsg);
	if (ret != 0) {
		goto fail;
	}
	talloc_free(argv);
	*_c = c;
	return 0;

fail:
	if (sv[0] >= 0) {
		close(sv[0]);
	}
	if (sv[1] >= 0) {
		close(sv[1]);
	}
	if (ev[0] >= 0) {
		close(ev[0]);
	}
	if (ev[1] >= 0) {
		close(ev[1]);
	}
	if (*_errmsg != NULL) {
		/* It may live under c: hand it to the caller. */
		talloc_steal(mem_ctx, *_errmsg);
	}
	/* Nothing was sent to it yet: the caller hears of the failure now. */
	mg__router_unhold(r, p->id, NULL);
	talloc_free(c);
	return ret;
}
