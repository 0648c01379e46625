/* EXEC's messages (svc-exec.h): each encoder and its decoder side by
 * side. The agent's service (svc-exec.c, svc-exec-join.c) and the
 * master's client (session/exec.c) use them. */
#include <errno.h>
#include <string.h>
#include <termios.h>
#include "mitogen/error.h"
#include "protocol.h"
#include "svc-exec.h"

/* Words of argv or env: what a message holds bounds them (4 bytes at
 * least each, mg__buf_get_strv); this only refuses what no exec takes.
 * Linux takes more than 65,536 words ("echo $(seq 70000)"). */
#define ARGV_MAX (1u << 21)

/* ssh's terminal mode opcodes (RFC 4254, 8; OpenSSH's ttymodes.h) for
 * what a pty's line discipline uses: a control character's index, or a
 * flag's bit in c_iflag (1), c_lflag (2) or c_oflag (3). Not the speeds,
 * nor the character size and parity, which a pty ignores. */
static const struct tty_mode {
	uint8_t op, field;
	tcflag_t bit;
} tty_modes[] = {
	{ 1, 0, VINTR }, { 2, 0, VQUIT }, { 3, 0, VERASE }, { 4, 0, VKILL }, { 5, 0, VEOF },
	{ 6, 0, VEOL }, { 7, 0, VEOL2 }, { 8, 0, VSTART }, { 9, 0, VSTOP }, { 10, 0, VSUSP },
	{ 12, 0, VREPRINT }, { 13, 0, VWERASE }, { 14, 0, VLNEXT }, { 18, 0, VDISCARD },
	{ 30, 1, IGNPAR }, { 31, 1, PARMRK }, { 32, 1, INPCK }, { 33, 1, ISTRIP }, { 34, 1, INLCR },
	{ 35, 1, IGNCR }, { 36, 1, ICRNL }, { 37, 1, IUCLC }, { 38, 1, IXON }, { 39, 1, IXANY },
	{ 40, 1, IXOFF }, { 41, 1, IMAXBEL }, { 42, 1, IUTF8 },
	{ 50, 2, ISIG }, { 51, 2, ICANON }, { 52, 2, XCASE }, { 53, 2, ECHO }, { 54, 2, ECHOE },
	{ 55, 2, ECHOK }, { 56, 2, ECHONL }, { 57, 2, NOFLSH }, { 58, 2, TOSTOP }, { 59, 2, IEXTEN },
	{ 60, 2, ECHOCTL }, { 61, 2, ECHOKE }, { 62, 2, PENDIN },
	{ 70, 3, OPOST }, { 71, 3, OLCUC }, { 72, 3, ONLCR }, { 73, 3, OCRNL }, { 74, 3, ONOCR },
	{ 75, 3, ONLRET },
};
#define N_TTY_MODES (sizeof(tty_modes) / sizeof(tty_modes[0]))

static tcflag_t *tty_flags(struct termios *t, unsigned field)
{
	return field == 1 ? &t->c_iflag : field == 2 ? &t->c_lflag : &t->c_oflag;
}

size_t mg__tty_modes_put(uint8_t *p, const struct termios *t)
{
	struct termios c = *t;
	size_t n = 0;

	for (size_t i = 0; i < N_TTY_MODES; i++) {
		const struct tty_mode *m = &tty_modes[i];
		uint32_t v = m->field == 0 ? c.c_cc[m->bit] : (*tty_flags(&c, m->field) & m->bit) != 0;
		p[n] = m->op;
		mg__put_be32(p + n + 1, v);
		n += 5;
	}
	p[n++] = 0;
	return n;
}

void mg__tty_modes_apply(struct termios *t, const uint8_t *p, size_t n)
{
	/* Opcodes 1 to 159 take a u32; 0 (or 160 and above, unknown
	 * lengths) ends the list, as in sshd. */
	for (size_t k = 0; k + 5 <= n && p[k] != 0 && p[k] < 160; k += 5) {
		uint32_t v = mg__get_be32(p + k + 1);
		for (size_t i = 0; i < N_TTY_MODES; i++) {
			const struct tty_mode *m = &tty_modes[i];
			tcflag_t *f = m->field != 0 ? tty_flags(t, m->field) : NULL;
			if (m->op != p[k]) {
				continue;
			} else if (f == NULL) {
				t->c_cc[m->bit] = (cc_t)v;
			} else if (v != 0) {
				*f |= m->bit;
			} else {
				*f &= ~m->bit;
			}
		}
	}
}

static size_t strv_count(char *const *v)
{
	size_t n = 0;

	while (v != NULL && v[n] != NULL) {
		n++;
	}
	return n;
}

int mg__exec_req_encode(struct mg_buf *b, const struct mg__exec_req *rq)
{
	int ret;

	if (strv_count(rq->argv) > ARGV_MAX || strv_count(rq->env) > ARGV_MAX) {
		return -E2BIG;
	}
	if ((ret = mg__buf_put_u32(b, rq->flags)) != 0 ||
	    (ret = mg__buf_put_strv(b, (const char *const *)rq->argv)) != 0 ||
	    (ret = mg__buf_put_u32(b, rq->h_out)) != 0 ||
	    (ret = mg__buf_put_u32(b, rq->h_err)) != 0 ||
	    (ret = mg__buf_put_u32(b, rq->h_in_ack)) != 0 ||
	    (ret = mg__buf_put_str(b, rq->cwd)) != 0 ||
	    (ret = mg__buf_put_strv(b, (const char *const *)rq->env)) != 0) {
		return ret;
	}
	if ((rq->flags & MG_EXEC_IMAGE) != 0 &&
	    ((ret = mg__buf_put_u32(b, rq->image_id)) != 0 ||
	     (ret = mg__buf_put_u64(b, rq->image_size)) != 0 ||
	     (ret = mg__buf_put_u32(b, rq->machine)) != 0)) {
		return ret;
	}
	if ((rq->flags & MG_EXEC_PTY) != 0 &&
	    ((ret = mg__buf_put_u32(b, rq->rows)) != 0 || (ret = mg__buf_put_u32(b, rq->cols)) != 0)) {
		return ret;
	}
	if ((rq->flags & MG_EXEC_PTY_MODES) != 0 && (ret = mg__buf_put_bytes(b, rq->modes, rq->n_modes)) != 0) {
		return ret;
	}
	if ((rq->flags & MG_EXEC_UMASK) != 0 && (ret = mg__buf_put_u32(b, rq->umask)) != 0) {
		return ret;
	}
	/* Last, always: routers on the way read it from the end. */
	if ((rq->flags & MG_EXEC_JOIN) != 0 && (ret = mg__buf_put_u32(b, rq->join_id)) != 0) {
		return ret;
	}
	return 0;
}

int mg__exec_req_decode(TALLOC_CTX *mem_ctx, const uint8_t *p, size_t n, struct mg__exec_req *rq)
{
	struct mg_buf b;
	int ret;

	memset(rq, 0, sizeof(*rq));
	mg__buf_view(&b, p, n);
	if ((ret = mg__buf_get_u32(&b, &rq->flags)) != 0 ||
	    (ret = mg__buf_get_strv(&b, mem_ctx, ARGV_MAX, &rq->argv)) != 0 ||
	    (ret = mg__buf_get_u32(&b, &rq->h_out)) != 0 ||
	    (ret = mg__buf_get_u32(&b, &rq->h_err)) != 0 ||
	    (ret = mg__buf_get_u32(&b, &rq->h_in_ack)) != 0 ||
	    (ret = mg__buf_get_str(&b, mem_ctx, &rq->cwd)) != 0) {
		return ret == -ENOMEM ? ret : MG_ERR_PROTOCOL;
	}
	if (rq->argv[0] == NULL) {
		return MG_ERR_PROTOCOL;
	}
	/* An old master may stop before the environment. */
	if ((mg__buf_left(&b) > 0 && (ret = mg__buf_get_strv(&b, mem_ctx, ARGV_MAX, &rq->env)) != 0) ||
	    ((rq->flags & MG_EXEC_IMAGE) != 0 &&
	     ((ret = mg__buf_get_u32(&b, &rq->image_id)) != 0 ||
	      (ret = mg__buf_get_u64(&b, &rq->image_size)) != 0 ||
	      (ret = mg__buf_get_u32(&b, &rq->machine)) != 0)) ||
	    ((rq->flags & MG_EXEC_PTY) != 0 &&
	     ((ret = mg__buf_get_u32(&b, &rq->rows)) != 0 ||
	      (ret = mg__buf_get_u32(&b, &rq->cols)) != 0)) ||
	    ((rq->flags & MG_EXEC_PTY_MODES) != 0 &&
	     ((ret = mg__buf_get_bytes(&b, &rq->modes, &rq->n_modes)) != 0 ||
	      (rq->modes = talloc_memdup(mem_ctx, rq->modes, rq->n_modes)) == NULL)) ||
	    ((rq->flags & MG_EXEC_UMASK) != 0 && (ret = mg__buf_get_u32(&b, &rq->umask)) != 0)) {
		/* ret 0: the copy failed. */
		return ret == -ENOMEM || ret == 0 ? -ENOMEM : MG_ERR_PROTOCOL;
	}
	if ((rq->flags & MG_EXEC_JOIN) != 0 &&
	    (mg__buf_get_u32(&b, &rq->join_id) != 0 || mg__buf_left(&b) != 0 || rq->join_id == 0)) {
		return MG_ERR_PROTOCOL;
	}
	return 0;
}

int mg__exec_event_encode(struct mg_buf *b, const struct mg__exec_event *ev)
{
	int ret;

	if ((ret = mg__buf_put_u8(b, ev->type)) != 0) {
		return ret;
	}
	switch (ev->type) {
	case MG_EXEC_EV_STARTED:
		if ((ret = mg__buf_put_u32(b, ev->pid)) != 0 ||
		    (ret = mg__buf_put_u32(b, ev->h_stdin)) != 0 ||
		    (ret = mg__buf_put_u32(b, ev->h_stdout_ack)) != 0 ||
		    (ret = mg__buf_put_u32(b, ev->h_stderr_ack)) != 0 ||
		    (ret = mg__buf_put_u32(b, ev->h_ctl)) != 0) {
			return ret;
		}
		return 0;
	case MG_EXEC_EV_EXITED:
		return mg__buf_put_u32(b, ev->status);
	case MG_EXEC_EV_FAILED:
		if ((ret = mg__buf_put_u32(b, ev->err)) != 0 ||
		    (ret = mg__buf_put_str(b, ev->what)) != 0) {
			return ret;
		}
		return ev->fail_status != 0 ? mg__buf_put_u32(b, ev->fail_status) : 0;
	case MG_EXEC_EV_JOINED:
		return mg__buf_put_u32(b, ev->join_id);
	default:
		return 0;
	}
}

int mg__exec_event_decode(TALLOC_CTX *mem_ctx, const uint8_t *p, size_t n,
			  struct mg__exec_event *ev)
{
	struct mg_buf b;

	memset(ev, 0, sizeof(*ev));
	mg__buf_view(&b, p, n);
	if (mg__buf_get_u8(&b, &ev->type) != 0) {
		return MG_ERR_PROTOCOL;
	}
	switch (ev->type) {
	case MG_EXEC_EV_STARTED:
		if (mg__buf_get_u32(&b, &ev->pid) != 0 || mg__buf_get_u32(&b, &ev->h_stdin) != 0 ||
		    mg__buf_get_u32(&b, &ev->h_stdout_ack) != 0 ||
		    mg__buf_get_u32(&b, &ev->h_stderr_ack) != 0 || mg__buf_get_u32(&b, &ev->h_ctl) != 0) {
			return MG_ERR_PROTOCOL;
		}
		return 0;
	case MG_EXEC_EV_EXITED:
		return mg__buf_get_u32(&b, &ev->status) != 0 ? MG_ERR_PROTOCOL : 0;
	case MG_EXEC_EV_FAILED:
		if (mg__buf_get_u32(&b, &ev->err) != 0 || mg__buf_get_str(&b, mem_ctx, &ev->what) != 0) {
			return MG_ERR_PROTOCOL;
		}
		/* An optional status: 1 for a directory it could not enter. */
		return mg__buf_left(&b) > 0 && mg__buf_get_u32(&b, &ev->fail_status) != 0 ?
		       MG_ERR_PROTOCOL : 0;
	case MG_EXEC_EV_JOINED:
		return mg__buf_get_u32(&b, &ev->join_id) != 0 ? MG_ERR_PROTOCOL : 0;
	default:
		return 0;
	}
}

size_t mg__exec_ctl_encode(uint8_t *p, const struct mg__exec_ctl *c)
{
	mg__put_be32(p, c->op);
	if (c->op != MG_EXEC_CTL_WINSIZE) {
		return 4;
	}
	mg__put_be32(p + 4, c->rows);
	mg__put_be32(p + 8, c->cols);
	return 12;
}

int mg__exec_ctl_decode(const uint8_t *p, size_t n, struct mg__exec_ctl *c)
{
	struct mg_buf b;

	memset(c, 0, sizeof(*c));
	mg__buf_view(&b, p, n);
	if (mg__buf_get_u32(&b, &c->op) != 0 || c->op == 0) {
		return MG_ERR_PROTOCOL;
	}
	if (c->op == MG_EXEC_CTL_WINSIZE &&
	    (mg__buf_get_u32(&b, &c->rows) != 0 || mg__buf_get_u32(&b, &c->cols) != 0)) {
		return MG_ERR_PROTOCOL;
	}
	return 0;
}
