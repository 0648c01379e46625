/*
 * The leaf agent's link to its parent: boot (its file, HELLO from the
 * image's tail), frames in and out, the dispatch of what arrives, and the
 * loop. The rules are lib/session/agent.c's and lib/core/router.c's for a
 * context with no children (docs/PROTOCOL.md 2.3, 3, 5.1, 6): the same
 * checks, answers and texts, so that the master cannot tell the two apart
 * except by what the leaf refuses (2.3.4).
 */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include "leaf.h"

/* What the receive buffer holds at most: one whole frame of the largest
 * size an agent's parent link takes, and room to read ahead. */
#define RX_CAP (MG_HDR_LEN + MG_MSG_MAX_DEFAULT + (64u << 10))
/* The send queue: frames are handled only while it holds less than
 * TX_HIGH, output read only then, so it never holds much more. */
#define TX_HIGH (1u << 20)
#define TX_CAP (TX_HIGH + (4u << 20))
/* After losing its parent, as lib/session/agent.c (a first hop). */
#define STOP_DEADLINE_MS 3000
/* Vector room for the strvs of one payload, and an environment. */
#define VEC_CAP (MG_MSG_MAX_DEFAULT / 4 + 2 + (1u << 20))
#define REFUSED "this hop runs the leaf agent (mitogen-agent-leaf): it runs commands, " \
		"but cannot connect further hops, copy files or serve calls"

static struct {
	int in, out, sig;
	uint8_t *rx, *tx;
	size_t rx_len, tx_off, tx_len;
	uint32_t id, max_msg, next_handle;
	uint32_t parents[1024];
	size_t n_parents;
	bool up, unidirectional, reading, gone;
	uint64_t deadline;
} L; /* zero: in .bss, not in the file (main sets the rest) */

uint32_t leaf_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

void leaf_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

uint32_t leaf_u32(struct leaf_dec *d)
{
	uint32_t v;

	if (d->bad || d->n < 4) {
		d->bad = true;
		return 0;
	}
	v = leaf_be32(d->p);
	d->p += 4;
	d->n -= 4;
	return v;
}

char *leaf_str(struct leaf_dec *d, bool *is_null)
{
	uint8_t *at = d->p;
	uint32_t n = leaf_u32(d);

	*is_null = false;
	if (d->bad) {
		return NULL;
	}
	if (n == UINT32_MAX) {
		*is_null = true;
		return NULL;
	}
	if (n > d->n || memchr(d->p, '\0', n) != NULL) {
		d->bad = true;
		return NULL;
	}
	/* Over its own length: the next item stays whole. */
	memmove(at, d->p, n);
	at[n] = '\0';
	d->p += n;
	d->n -= n;
	return (char *)at;
}

static char **vec;
static size_t vec_used;

void leaf_vec_reset(void)
{
	vec_used = 0;
}

char **leaf_vec_take(size_t n)
{
	char **v;

	if (vec == NULL) {
		vec = mmap(NULL, VEC_CAP * sizeof(char *), PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (vec == MAP_FAILED) {
			vec = NULL;
		}
	}
	if (vec == NULL || n > VEC_CAP - vec_used) {
		return NULL;
	}
	v = vec + vec_used;
	vec_used += n;
	return v;
}

char **leaf_strv(struct leaf_dec *d, size_t max)
{
	uint32_t n = leaf_u32(d);
	char **v;
	bool null;

	/* Each item takes 4 bytes at least, so the vectors of one payload
	 * (its count of items, plus one NULL each) fit in the room. */
	if (d->bad || n > max || n > d->n / 4 || (v = leaf_vec_take(n + 1)) == NULL) {
		d->bad = true;
		return NULL;
	}
	for (uint32_t i = 0; i < n; i++) {
		if ((v[i] = leaf_str(d, &null)) == NULL) {
			d->bad = true;
			return NULL;
		}
	}
	v[n] = NULL;
	return v;
}

void leaf_format(char *buf, size_t cap, const char *fmt, ...)
{
	va_list ap;
	size_t at = 0;

	va_start(ap, fmt);
	for (const char *f = fmt; *f != '\0' && at + 1 < cap; f++) {
		char num[24], *s = num + sizeof(num) - 1;
		if (*f != '%') {
			buf[at++] = *f;
			continue;
		}
		*s = '\0';
		if (*++f == 's') {
			s = va_arg(ap, char *);
		} else {
			/* %u: an unsigned long, whatever the caller's type. */
			unsigned long v = va_arg(ap, unsigned long);
			do {
				*--s = (char)('0' + v % 10);
			} while ((v /= 10) != 0);
		}
		while (*s != '\0' && at + 1 < cap) {
			buf[at++] = *s++;
		}
	}
	buf[at] = '\0';
	va_end(ap);
}

uint64_t leaf_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint32_t leaf_handle(void)
{
	return L.next_handle++;
}

/* Append a frame's header at the end of the send queue. */
static void put_header(uint8_t *h, uint32_t dst, uint32_t handle, uint32_t reply_to,
		       uint16_t flags, size_t n)
{
	h[0] = (uint8_t)(MG_MAGIC >> 8);
	h[1] = (uint8_t)MG_MAGIC;
	h[2] = (uint8_t)(flags >> 8);
	h[3] = (uint8_t)flags;
	leaf_put32(h + 4, dst);
	leaf_put32(h + 8, L.id);
	leaf_put32(h + 12, L.id);
	leaf_put32(h + 16, handle);
	leaf_put32(h + 20, reply_to);
	leaf_put32(h + 24, (uint32_t)n);
}

void leaf_send(uint32_t dst, uint32_t handle, uint32_t reply_to, uint16_t flags,
	       const void *p, size_t n, const void *p2, size_t n2)
{
	uint8_t *h = L.tx + L.tx_len;

	/* Never past the queue: frames are handled only below TX_HIGH and
	 * each makes a few of these small ones. A link gone sends nothing. */
	if (L.gone || L.tx_len + MG_HDR_LEN + n + n2 > TX_CAP) {
		return;
	}
	put_header(h, dst, handle, reply_to, flags, n + n2);
	if (n > 0) {
		memcpy(h + MG_HDR_LEN, p, n);
	}
	if (n2 > 0) {
		memcpy(h + MG_HDR_LEN + n, p2, n2);
	}
	L.tx_len += MG_HDR_LEN + n + n2;
}

uint8_t *leaf_data_room(size_t max)
{
	if (L.gone || L.tx_len >= TX_HIGH || L.tx_len + MG_HDR_LEN + max > TX_CAP) {
		return NULL;
	}
	return L.tx + L.tx_len + MG_HDR_LEN;
}

void leaf_send_data(uint32_t dst, uint32_t handle, uint32_t reply_to, size_t n)
{
	put_header(L.tx + L.tx_len, dst, handle, reply_to, 0, n);
	L.tx_len += MG_HDR_LEN + n;
}

void leaf_reply_dead(const struct leaf_msg *m, const char *why)
{
	if ((m->flags & MG_F_DEAD) == 0 && m->reply_to != 0) {
		leaf_send(m->src, m->reply_to, 0, MG_F_DEAD, why, strlen(why), NULL, 0);
	}
}

static bool is_ancestor(uint32_t id)
{
	for (size_t i = 0; i < L.n_parents; i++) {
		if (L.parents[i] == id) {
			return true;
		}
	}
	return false;
}

bool leaf_parent_authority(const struct leaf_msg *m)
{
	return m->auth_id == L.id || is_ancestor(m->auth_id);
}

/* The parent's link is lost (or told us to go): stop what runs, and
 * exit once it is reaped, or at the deadline. */
static void parent_lost(bool link_gone)
{
	L.reading = false;
	if (link_gone && !L.gone) {
		L.gone = true;
		L.tx_len = L.tx_off = 0;
	}
	if (L.deadline == UINT64_MAX) {
		L.deadline = leaf_now_ms() + STOP_DEADLINE_MS;
		job_stop(link_gone);
	}
}

/* HELLO (PROTOCOL 5.1): who we are. False when it is not one we take. */
static bool take_hello(const struct leaf_msg *m)
{
	struct leaf_dec d = { m->data, m->len, false };
	uint8_t reply[4 * 4 + 2 * (4 + sizeof(((struct utsname *)0)->machine))];
	struct utsname u;
	uint32_t version, n;
	char *name;
	bool null;
	size_t at;

	if (m->handle != MG_H_HELLO) {
		return false;
	}
	version = leaf_u32(&d);
	L.id = leaf_u32(&d);
	n = leaf_u32(&d);
	if (d.bad || version != MG_PROTOCOL_VERSION || n == 0 || n > 1024) {
		return false;
	}
	for (uint32_t i = 0; i < n; i++) {
		L.parents[i] = leaf_u32(&d);
	}
	L.n_parents = n;
	L.max_msg = leaf_u32(&d);
	leaf_u32(&d); /* the window: both ends use MG_WINDOW_DEFAULT */
	if (d.bad || d.n < 1) {
		return false;
	}
	/* The log level: the leaf logs nothing (2.3.4). */
	d.p++;
	d.n--;
	name = leaf_str(&d, &null);
	if (d.bad || m->src != L.parents[0] || m->dst != L.id) {
		return false;
	}
	L.unidirectional = d.n > 0 && (d.p[0] & 0x01) != 0;
	prctl(PR_SET_NAME, name != NULL && name[0] != '\0' ? name : "mitogen", 0, 0, 0);
	if (uname(&u) != 0) {
		memset(&u, 0, sizeof(u));
	}
	leaf_put32(reply, MG_PROTOCOL_VERSION);
	leaf_put32(reply + 4, (uint32_t)getpid());
	leaf_put32(reply + 8, (uint32_t)getuid());
	at = 12;
	for (const char *s = u.machine;; s = u.nodename) {
		size_t k = strnlen(s, sizeof(u.machine) - 1);
		leaf_put32(reply + at, (uint32_t)k);
		memcpy(reply + at + 4, s, k);
		at += 4 + k;
		if (s == u.nodename) {
			break;
		}
	}
	leaf_put32(reply + at, 0); /* link_pid: take no descriptors (3.1) */
	L.up = true;
	leaf_send(m->src, m->reply_to, 0, 0, reply, at + 4, NULL, 0);
	return true;
}

/* A frame for us (router.c's invoke, with our few handlers). */
static void dispatch(const struct leaf_msg *m)
{
	bool parent = leaf_parent_authority(m);
	struct leaf_dec d = { m->data, m->len, false };
	uint32_t id;

	switch (m->handle) {
	case MG_H_SHUTDOWN:
		if (!parent) {
			break;
		}
		parent_lost(false);
		return;
	case MG_H_EXEC:
		if (!parent) {
			break;
		}
		job_exec(m);
		return;
	case MG_H_DEL_ROUTE:
		/* A context up there is gone, on our parent's word alone (as
		 * router.c's): a sibling would stop its cousin's command. An
		 * ancestor's loss is our link's. No answer either way. */
		id = leaf_u32(&d);
		if (parent && !d.bad && id != L.id && !is_ancestor(id)) {
			job_requester_lost(id);
		}
		return;
	case MG_H_CONNECT:
	case MG_H_CALL:
		leaf_reply_dead(m, parent || m->handle == MG_H_CONNECT ? REFUSED : "refused by policy");
		return;
	default:
		if (job_frame(m)) {
			return;
		}
		leaf_reply_dead(m, "invalid handle");
		return;
	}
	leaf_reply_dead(m, "refused by policy");
}

/* One whole frame from the parent (router.c's arrival checks). */
static void receive(const struct leaf_msg *m)
{
	char why[96];

	if (!L.up) {
		if (!take_hello(m)) {
			static const char bad[] = "mitogen-agent: bad HELLO from parent\n";
			if (write(2, bad, sizeof(bad) - 1) < 0) {
				/* exiting anyway */
			}
			_exit(1);
		}
		return;
	}
	if (!leaf_parent_authority(m) &&
	    (L.unidirectional || m->auth_id != m->src || m->src == L.id)) {
		return;
	}
	if (m->len > L.max_msg) {
		leaf_format(why, sizeof(why), "message too large (%u bytes, max %u)",
			    (unsigned long)m->len, (unsigned long)L.max_msg);
		leaf_reply_dead(m, why);
		return;
	}
	if (m->dst != L.id) {
		/* Nowhere to go: we have no children. */
		leaf_format(why, sizeof(why), "no route to %u, my id is %u", (unsigned long)m->dst,
			    (unsigned long)L.id);
		leaf_reply_dead(m, why);
		return;
	}
	dispatch(m);
}

/* Parse and serve the whole frames at 'p' (n bytes) while the send queue
 * has room; what is left (a frame cut short, or not served yet) stays.
 * -1 on a protocol error: the link is dropped. */
static ssize_t frames(uint8_t *p, size_t n)
{
	size_t at = 0;

	while (n - at >= MG_HDR_LEN && L.tx_len < TX_HIGH && L.reading) {
		uint8_t *h = p + at;
		struct leaf_msg m = {
			.flags = (uint16_t)(h[2] << 8 | h[3]),
			.dst = leaf_be32(h + 4), .src = leaf_be32(h + 8), .auth_id = leaf_be32(h + 12),
			.handle = leaf_be32(h + 16), .reply_to = leaf_be32(h + 20),
			.len = leaf_be32(h + 24), .data = h + MG_HDR_LEN,
		};
		/* A link that takes no descriptors gets no marked frame. */
		if ((h[0] << 8 | h[1]) != MG_MAGIC || (m.flags & ~MG_F_KNOWN) != 0 ||
		    (m.flags & MG_F_FDS) != 0 || m.len > MG_MSG_MAX_DEFAULT) {
			return -1;
		}
		if (m.len > n - at - MG_HDR_LEN) {
			break;
		}
		at += MG_HDR_LEN + m.len;
		receive(&m);
	}
	return (ssize_t)at;
}

/* Serve what the receive buffer holds, keeping the rest at its start. */
static void drain_rx(void)
{
	ssize_t k = frames(L.rx, L.rx_len);

	if (k < 0) {
		parent_lost(true);
		return;
	}
	memmove(L.rx, L.rx + k, L.rx_len - (size_t)k);
	L.rx_len -= (size_t)k;
}

/* Write what the send queue holds, as much as the link takes now. */
static void flush(void)
{
	while (L.tx_off < L.tx_len && !L.gone) {
		ssize_t k = write(L.out, L.tx + L.tx_off, L.tx_len - L.tx_off);
		if (k > 0) {
			L.tx_off += (size_t)k;
		} else if (k < 0 && errno == EINTR) {
			continue;
		} else if (k < 0 && errno == EAGAIN) {
			break;
		} else {
			parent_lost(true);
			return;
		}
	}
	if (L.tx_off == L.tx_len) {
		L.tx_off = L.tx_len = 0;
	} else if (L.tx_off >= (64u << 10)) {
		memmove(L.tx, L.tx + L.tx_off, L.tx_len - L.tx_off);
		L.tx_len -= L.tx_off;
		L.tx_off = 0;
	}
}

/* HELLO and what our parent held for us, from the end of our own file
 * (PROTOCOL 2.2: MGH1, or MGH2 behind an unpacked agent), served as if
 * they came on the link. A malformed frame ends the list. */
static void take_tail(int fd)
{
	uint8_t last[12];
	struct stat st;
	uint64_t size, frames_len, trailer = 8, plain = 0;
	ssize_t k;

	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < 12 ||
	    pread(fd, last, sizeof(last), st.st_size - 12) != (ssize_t)sizeof(last)) {
		return;
	}
	size = (uint64_t)st.st_size;
	if (memcmp(last + 8, "MGH2", 4) == 0) {
		plain = leaf_be32(last);
		trailer = 12;
		if (plain == 0) {
			return;
		}
	} else if (memcmp(last + 8, "MGH1", 4) != 0) {
		return;
	}
	frames_len = leaf_be32(last + 4);
	if (frames_len < MG_HDR_LEN || frames_len > MG_MSG_MAX_DEFAULT ||
	    frames_len + trailer + plain > size ||
	    pread(fd, L.rx, frames_len, (off_t)(size - trailer - frames_len)) != (ssize_t)frames_len) {
		return;
	}
	k = frames(L.rx, frames_len);
	(void)k;
}

/* Move fd to a high number, close-on-exec, with /dev/null in its place:
 * nothing we start can write into the stream by accident. */
static int park_fd(int fd)
{
	int nfd = fcntl(fd, F_DUPFD_CLOEXEC, 10);
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);

	if (nfd < 0 || null < 0 || dup2(null, fd) < 0) {
		return -1;
	}
	close(null);
	fcntl(nfd, F_SETFL, fcntl(nfd, F_GETFL) | O_NONBLOCK);
	/* A pipe (sshd's) as large as the library's: fewer wake-ups. */
	if (fcntl(nfd, F_GETPIPE_SZ) > 0 && fcntl(nfd, F_GETPIPE_SZ) < MG_PIPE_SIZE) {
		fcntl(nfd, F_SETPIPE_SZ, MG_PIPE_SIZE);
	}
	return nfd;
}

static int serve(void)
{
	for (;;) {
		struct pollfd fds[8];
		size_t n = 1;
		uint64_t now, next;
		int timeout;

		if (L.rx_len > 0 && L.reading) {
			drain_rx();
		}
		flush();
		now = leaf_now_ms();
		if (!job_running() && (L.gone || (!L.reading && L.tx_len == 0))) {
			return 0;
		}
		if (now >= L.deadline) {
			return 1;
		}
		fds[0] = (struct pollfd){ .fd = L.sig, .events = POLLIN };
		if (L.reading && L.tx_len < TX_HIGH && L.rx_len < RX_CAP) {
			fds[n++] = (struct pollfd){ .fd = L.in, .events = POLLIN };
		}
		if (L.tx_len > L.tx_off && !L.gone) {
			fds[n++] = (struct pollfd){ .fd = L.out, .events = POLLOUT };
		}
		n = job_poll_add(fds, n);
		next = job_next_timer();
		next = next < L.deadline ? next : L.deadline;
		timeout = next == UINT64_MAX ? -1 : next <= now ? 0 : (int)(next - now);
		if (poll(fds, n, timeout) < 0 && errno != EINTR) {
			return 1;
		}
		for (size_t i = 0; i < n; i++) {
			if (fds[i].fd == L.sig && (fds[i].revents & POLLIN) != 0) {
				struct signalfd_siginfo si;
				while (read(L.sig, &si, sizeof(si)) > 0) {
				}
				job_reap();
			} else if (fds[i].fd == L.in && fds[i].revents != 0 && L.reading) {
				ssize_t k = read(L.in, L.rx + L.rx_len, RX_CAP - L.rx_len);
				if (k > 0) {
					L.rx_len += (size_t)k;
					drain_rx();
				} else if (k == 0 || (errno != EAGAIN && errno != EINTR)) {
					parent_lost(true);
				}
			}
		}
		job_poll_serve(fds, n);
		job_timers(leaf_now_ms());
	}
}

/* Close fds lo to hi: close_range, or before Linux 5.9 those under 1024. */
static void close_span(unsigned lo, unsigned hi)
{
	if (lo <= hi && syscall(SYS_close_range, lo, hi, 0) != 0) {
		for (unsigned i = lo; i <= hi && i < 1024; i++) {
			close((int)i);
		}
	}
}

int main(int argc, char **argv)
{
	bool boot = argc == 4 && strcmp(argv[1], "--boot") == 0 && strcmp(argv[3], "-") == 0;
	bool local = (argc == 2 || argc == 3) && strcmp(argv[1], "--local") == 0;
	static const char usage[] = "mitogen-agent: this program is started by mitogen on each hop; "
				    "it is not meant to be run by hand\n";
	sigset_t chld;
	int fd = -1, ret;

	if (!boot && !local) {
		ret = (int)write(2, usage, sizeof(usage) - 1);
		return 2;
	}
	L.next_handle = MG_H_DYNAMIC;
	L.deadline = UINT64_MAX;
	if (boot) {
		/* Read for its tail below; a pushed image leaves nothing. */
		fd = open(argv[2], O_RDONLY | O_CLOEXEC);
		unlink(argv[2]);
	}
	/* Only our stdio and image stay (the agent's close_inherited): not
	 * what our spawner left (a shell's fd 10 through a local or setns
	 * hop), nor the stub's own file, left for an agent that pushes it
	 * on: a leaf pushes nothing. */
	if (fd > 2) {
		close_span(3, (unsigned)fd - 1);
		close_span((unsigned)fd + 1, ~0U);
	} else {
		close_span(3, ~0U);
	}
	signal(SIGPIPE, SIG_IGN);
	signal(SIGXFSZ, SIG_IGN);
	/* As the agent: a hangup must not end us before our link's end
	 * stops the command. */
	signal(SIGHUP, SIG_IGN);
	/* As the agent (PROTOCOL 2.5): its command, or another process of
	 * our user, may not trace us, write frames on our link or read it. */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	if (isatty(0)) {
		struct termios t;
		if (tcgetattr(0, &t) == 0) {
			cfmakeraw(&t);
			tcsetattr(0, TCSANOW, &t);
		}
	}
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);
	L.in = park_fd(0);
	L.out = park_fd(1);
	L.sig = signalfd(-1, &chld, SFD_NONBLOCK | SFD_CLOEXEC);
	L.rx = mmap(NULL, RX_CAP, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		    -1, 0);
	L.tx = mmap(NULL, TX_CAP, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		    -1, 0);
	if (L.in < 0 || L.out < 0 || L.sig < 0 || L.rx == MAP_FAILED || L.tx == MAP_FAILED) {
		static const char fail[] = "mitogen-agent: startup failed\n";
		ret = (int)write(2, fail, sizeof(fail) - 1);
		return 1;
	}
	if (write(L.out, MG_MARK_UP, MG_MARK_LEN) != MG_MARK_LEN) {
		return 1;
	}
	L.reading = true;
	if (fd >= 0) {
		take_tail(fd);
		close(fd);
	}
	ret = serve();
	job_exit();
	return ret;
}
