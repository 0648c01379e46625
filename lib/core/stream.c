/* Streams: see stream.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include "buf.h"
#include "fds.h"
#include "mitogen/error.h"
#include "mitogen/log.h"
#include "protocol.h"
#include "stream.h"

#define RX_MIN (256u * 1024)
/* Frames with at least this much payload still to come are spliced into
 * a pipe (a tail) rather than read. */
#define TAIL_MIN (16u * 1024)
/* Reads (or tail splices) per wake-up at most: other fds get their turn. */
#define READ_TURNS 16u
/* A corked stream gathers frames up to this size (mg__stream_set_cork). */
#define CORK_MAX 4096u
/* A drained chunk at least this big is kept for the next backlog: in the
 * musl agent a big malloc is an mmap, page faults and a munmap each time,
 * and a sender that outruns its peer queues a frame's rest every time. */
#define SPARE_MIN (64u * 1024)

struct tx_chunk {
	struct tx_chunk *next;
	size_t len;
	size_t off;
	size_t cap;	/* room in data (a corked chunk has spare) */
	bool piped;	/* the bytes wait in txp, not in data */
	struct mg_fds *fds;	/* go with the first byte (a copy, closed after) */
	uint8_t data[];
};

struct mg_stream {
	struct mg_loop *loop;
	int rfd;
	int wfd;
	struct mg_io *rio;
	struct mg_io *wio;
	char *name;
	uint32_t max_msg;
	uint32_t remote_id;

	uint8_t *rx;
	size_t rx_len;
	size_t rx_alloc;

	struct tx_chunk *tx_head;
	struct tx_chunk *tx_tail;
	struct tx_chunk *tx_spare;	/* drained, kept for reuse (SPARE_MIN) */
	size_t tx_bytes;

	bool framed;
	bool paused;
	bool rejected;	/* mg__stream_fail: deliver nothing more */
	bool was_high;	/* tx reached MG_STREAM_TX_HIGH since the last drain */
	bool closed;
	bool shut_wr;
	bool in_read;
	bool privileged;
	bool attached;	/* a UNIX-attached client's link (section 5.7) */
	bool tails;	/* deliver large frames with a pipe tail */
	bool cork;	/* small frames wait for the loop's next turn */
	bool corked;	/* some wait now: a flush is deferred */
	bool bulk;	/* large frames come: read headers alone */
	unsigned smalls;	/* small frames since the last large one */
	bool no_splice_in;
	bool no_splice_out;
	bool take_fds;	/* recvmsg: descriptors may come (parent link) */
	bool give_fds;	/* descriptors may go (a same-kernel child) */
	struct mg_fdq fdq;	/* groups received, waiting for their frames */
	int txp[2];	/* pipe for queued tails, -1 until needed */
	int rxp[2];	/* pipe for the tail being received */
	size_t rxp_size;
	size_t rx_next;	/* where the frame being read ends in rx */
	struct mg_tail rx_tail;
	size_t rx_want;	/* tail bytes still to splice into rxp */
	bool collecting;	/* rx holds a header and prefix; tail in rxp */
	bool skip_tail;
	unsigned tail_stuck;	/* splices in a row that found the pipe full */		/* the frame in rx is read whole (abandon_tail) */
	int werr;          /* a write error to report from the loop */
	const char *wwhy;
	mg_stream_raw_cb raw_cb;
	mg_stream_msg_cb msg_cb;
	mg_stream_close_cb close_cb;
	void *raw_data;
	void *msg_data;
	void *close_data;
	mg_stream_drain_cb drain_cb;
	void *drain_data;
	bool *gone;	/* set by the destructor: a delivery on the stack */
};

static void update_read(struct mg_stream *s);
static bool parse_frames(struct mg_stream *s);

/* Stop watching the fds and close them (one fd or a pair). */
static void release_fds(struct mg_stream *s)
{
	TALLOC_FREE(s->rio);
	TALLOC_FREE(s->wio);
	if (s->rfd >= 0) {
		close(s->rfd);
	}
	if (s->wfd >= 0 && s->wfd != s->rfd) {
		close(s->wfd);
	}
	s->rfd = s->wfd = -1;
	s->rx_tail.fd = -1;
	s->rx_tail.len = 0;
	mg__tail_pipe_close(s->txp);
	mg__tail_pipe_close(s->rxp);
	mg__fdq_clear(&s->fdq);
}

static int flush(struct mg_stream *s);

static int stream_destructor(struct mg_stream *s)
{
	struct tx_chunk *c;

	if (s->gone != NULL) {
		*s->gone = true;
	}
	/* Frames it gathered were as good as written: try, never wait. */
	if (s->corked && s->wfd >= 0 && !s->closed) {
		flush(s);
	}
	c = s->tx_head;

	while (c != NULL) {
		struct tx_chunk *next = c->next;
		talloc_free(c);
		c = next;
	}
	release_fds(s);
	return 0;
}

int mg__msg_keep(TALLOC_CTX *mem_ctx, struct mg_msg *m)
{
	if (m->tail != NULL) {
		int r = mg__msg_flatten(m, m);
		if (r != 0) {
			return r;
		}
	}
	if (m->borrowed) {
		uint8_t *p = talloc_memdup(m, m->data, m->len);
		if (p == NULL) {
			return -ENOMEM;
		}
		m->data = p;
		m->borrowed = false;
	}
	talloc_steal(mem_ctx, m);
	return 0;
}

void mg__msg_header(const struct mg_msg *m, uint8_t *hdr)
{
	hdr[0] = MG_MAGIC >> 8;
	hdr[1] = MG_MAGIC & 0xff;
	hdr[2] = (uint8_t)(m->flags >> 8);
	hdr[3] = (uint8_t)m->flags;
	mg__put_be32(hdr + 4, m->dst);
	mg__put_be32(hdr + 8, m->src);
	mg__put_be32(hdr + 12, m->auth_id);
	mg__put_be32(hdr + 16, m->handle);
	mg__put_be32(hdr + 20, m->reply_to);
	mg__put_be32(hdr + 24, (uint32_t)m->len);
}

int mg__msg_parse_header(const uint8_t *hdr, uint32_t max, struct mg_msg *m)
{
	uint32_t len;

	if (((hdr[0] << 8) | hdr[1]) != MG_MAGIC) {
		return MG_ERR_PROTOCOL;
	}
	m->flags = (uint16_t)((hdr[2] << 8) | hdr[3]);
	if ((m->flags & ~MG_F_KNOWN) != 0) {
		return MG_ERR_PROTOCOL;
	}
	m->dst = mg__get_be32(hdr + 4);
	m->src = mg__get_be32(hdr + 8);
	m->auth_id = mg__get_be32(hdr + 12);
	m->handle = mg__get_be32(hdr + 16);
	m->reply_to = mg__get_be32(hdr + 20);
	len = mg__get_be32(hdr + 24);
	if (len > max) {
		return MG_ERR_TOO_BIG;
	}
	m->len = len;
	return 0;
}

static void stream_fail(struct mg_stream *s, int err, const char *why)
{
	if (s->closed) {
		return;
	}
	s->closed = true;
	TALLOC_FREE(s->rio);
	TALLOC_FREE(s->wio);
	if (s->close_cb != NULL) {
		s->close_cb(s, err, why, s->close_data);
	}
}

/* Room for 'need' bytes in rx; false when the stream failed for it. */
static bool rx_reserve(struct mg_stream *s, size_t need)
{
	uint8_t *p;

	if (need <= s->rx_alloc) {
		return true;
	}
	p = talloc_realloc(s, s->rx, uint8_t, need);
	if (p == NULL) {
		stream_fail(s, -ENOMEM, "out of memory");
		return false;
	}
	s->rx = p;
	s->rx_alloc = need;
	return true;
}

/*
 * Note in *gone whether s is freed meanwhile: a delivery may end in a
 * callback that frees its owner (a program freeing its session from a
 * reply's callback, or an attached router from the attach callback).
 * Returns the previous note, for watch_end.
 */
static bool *watch_begin(struct mg_stream *s, bool *gone)
{
	bool *saved = s->gone;

	*gone = false;
	s->gone = gone;
	return saved;
}

/* False when s was freed (the callers above hear of it too). */
static bool watch_end(struct mg_stream *s, bool gone, bool *saved)
{
	if (gone) {
		if (saved != NULL) {
			*saved = true;
		}
		return false;
	}
	s->gone = saved;
	return true;
}

/* A message for frame header h, its payload at p (then t), to the owner.
 * False when the owner freed s meanwhile. */
static bool hand_over(struct mg_stream *s, const struct mg_msg *h, uint8_t *p, struct mg_tail *t)
{
	struct mg_msg *m = talloc_zero(NULL, struct mg_msg);
	bool gone, *saved;

	if (m == NULL) {
		stream_fail(s, -ENOMEM, "out of memory");
		return true;
	}
	*m = *h;
	m->in = s;
	m->tail = t;
	if ((h->flags & MG_F_FDS) != 0) {
		/* Checked with the header: a group waits for it. */
		m->fds = talloc_steal(m, mg__fdq_pop(&s->fdq));
	}
	if (h->len > 0) {
		/* Forwarding and most handlers need no copy. */
		m->data = p;
		m->borrowed = true;
	}
	saved = watch_begin(s, &gone);
	s->msg_cb(s, m, s->msg_data);
	return watch_end(s, gone, saved);
}

/* The frame at rx[0] has 'rest' bytes of payload still to come: take
 * them into rxp (a tail) rather than into memory, when worth it. */
static bool start_tail(struct mg_stream *s, size_t rest)
{
	if (!s->tails || s->no_splice_in || s->skip_tail || rest < TAIL_MIN) {
		return false;
	}
	if (s->rxp[0] < 0) {
		int size;
		if (mg__tail_pipe(s->rxp, MG_WINDOW_DEFAULT) != 0 ||
		    (size = fcntl(s->rxp[1], F_GETPIPE_SZ)) <= 0) {
			s->no_splice_in = true;
			return false;
		}
		s->rxp_size = (size_t)size;
	}
	/* Half the pipe at most: spliced pages may be partly filled. */
	if (rest > s->rxp_size / 2) {
		return false;
	}
	s->collecting = true;
	s->rx_want = rest;
	s->tail_stuck = 0;
	s->rx_tail.fd = s->rxp[0];
	s->rx_tail.len = 0;
	return true;
}

/* Give up the tail (the pipe is full, or the fd takes no splice): its
 * bytes go to memory and the frame is read as any other. */
static void abandon_tail(struct mg_stream *s)
{
	ssize_t n;

	s->skip_tail = true;
	s->collecting = false;
	if (!rx_reserve(s, s->rx_len + s->rx_tail.len + s->rx_want)) {
		return;
	}
	n = mg__tail_read(&s->rx_tail, s->rx + s->rx_len, s->rx_tail.len);
	if (n < 0) {
		stream_fail(s, (int)n, "read failed");
		return;
	}
	s->rx_len += (size_t)n;
}

/* The frame at rx[0] has its whole tail: deliver it. False when s was
 * freed meanwhile. */
static bool deliver_tail(struct mg_stream *s)
{
	struct mg_msg h = { 0 };

	/* Checked when the header came in. */
	(void)mg__msg_parse_header(s->rx, UINT32_MAX, &h);
	s->collecting = false;
	s->bulk = true;
	s->smalls = 0;
	s->rx_len = 0;
	s->rx_next = MG_HDR_LEN;
	if (!hand_over(s, &h, s->rx + MG_HDR_LEN, &s->rx_tail)) {
		return false;
	}
	/* Whatever the taker left (a dropped message) goes. */
	mg__tail_discard(&s->rx_tail);
	return true;
}

/* Splice more of the tail being received: true once it is all in (and
 * its frame delivered), when the next header may already be there. */
static bool collect_tail(struct mg_stream *s)
{
	ssize_t n;
	int avail = 0;

	do {
		n = splice(s->rfd, NULL, s->rxp[1], NULL, s->rx_want,
			   SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
	} while (n < 0 && errno == EINTR);
	if (n > 0) {
		s->tail_stuck = 0;
		s->rx_tail.len += (size_t)n;
		s->rx_want -= (size_t)n;
		if (s->rx_want == 0) {
			s->in_read = true;
			if (!parse_frames(s)) {
				return false;
			}
			if (!s->closed) {
				s->in_read = false;
			}
			return !s->closed;
		}
		return false;
	}
	if (n == 0 || (n < 0 && (errno == EIO || errno == ECONNRESET))) {
		stream_fail(s, 0, "end of stream");
		return false;
	}
	if (errno == EAGAIN && (ioctl(s->rfd, FIONREAD, &avail) != 0 || avail <= 0 ||
				++s->tail_stuck < 3)) {
		/* Nothing to read yet, or it came just now: try again. */
		return false;
	}
	/* Bytes wait but the pipe is full, or no splice from this fd. */
	if (errno == EINVAL) {
		s->no_splice_in = true;
	} else if (errno != EAGAIN) {
		stream_fail(s, -errno, "read failed");
		return false;
	}
	abandon_tail(s);
	return false;
}

/* Drop the first 'off' bytes of the receive buffer. */
static void rx_shift(struct mg_stream *s, size_t off)
{
	if (off > 0) {
		memmove(s->rx, s->rx + off, s->rx_len - off);
		s->rx_len -= off;
	}
}

/* Parse and deliver whole frames from the receive buffer. False when s
 * was freed meanwhile (by whoever a frame went to). */
static bool parse_frames(struct mg_stream *s)
{
	size_t off = 0;

	if (s->collecting) {
		if (s->rx_want == 0 && !s->closed && !s->rejected && s->framed && !s->paused) {
			return deliver_tail(s);
		}
		return true;
	}
	while (!s->closed && !s->rejected && s->framed && !s->paused &&
	       s->rx_len - off >= MG_HDR_LEN) {
		struct mg_msg hdr = { 0 };
		uint8_t *p;
		char why[160];
		int r;

		r = mg__msg_parse_header(s->rx + off, s->max_msg, &hdr);
		if (r == MG_ERR_TOO_BIG) {
			snprintf(why, sizeof(why), "message too large (%u bytes, max %u)",
				 mg__get_be32(s->rx + off + 24), s->max_msg);
			stream_fail(s, r, why);
			return true;
		} else if (r != 0) {
			stream_fail(s, r, "corrupt frame (bad signature); something else is writing to the connection");
			return true;
		}
		if ((hdr.flags & MG_F_FDS) != 0 && (!s->take_fds || s->fdq.n == 0)) {
			/* From a child, or its descriptors did not come. */
			stream_fail(s, MG_ERR_PROTOCOL, "frame marked with descriptors that did not come");
			return true;
		}
		if (s->rx_len - off - MG_HDR_LEN < hdr.len) {
			size_t rest = hdr.len - (s->rx_len - off - MG_HDR_LEN);
			/* (Moves only when off > 0: musl's memmove copies a
			 * buffer onto itself byte by byte, backwards; this was
			 * ~20% of an agent's CPU receiving a big file.) */
			if ((hdr.flags & MG_F_FDS) == 0 && start_tail(s, rest)) {
				rx_shift(s, off);
				return true;
			}
			/* Make room for the whole frame at once. */
			size_t need = MG_HDR_LEN + hdr.len;
			s->rx_next = need;
			if (need > s->rx_alloc) {
				rx_shift(s, off);
				off = 0;
				if (!rx_reserve(s, need)) {
					return true;
				}
			}
			break;
		}
		p = s->rx + off + MG_HDR_LEN;
		off += MG_HDR_LEN + hdr.len;
		s->skip_tail = false;
		/* A run of small frames ends bulk mode. */
		if (hdr.len >= TAIL_MIN) {
			s->bulk = true;
			s->smalls = 0;
		} else if (s->bulk && ++s->smalls > 64) {
			s->bulk = false;
		}
		if (!hand_over(s, &hdr, p, NULL)) {
			return false;
		}
	}
	if (!s->closed) {
		rx_shift(s, off);
	}
	if (s->rx_len < MG_HDR_LEN) {
		s->rx_next = MG_HDR_LEN;
	}
	/* A group comes with its frame's first byte: with every byte read
	 * parsed, none may be left over. */
	if (s->fdq.n > 0 && s->rx_len == 0 && !s->closed && !s->rejected && !s->paused) {
		mg__fdq_clear(&s->fdq);
		stream_fail(s, MG_ERR_PROTOCOL, "descriptors with no frame to carry them");
	}
	return true;
}

/* False when s was freed meanwhile. */
static bool deliver(struct mg_stream *s)
{
	if (!s->framed && s->raw_cb != NULL && s->rx_len > 0) {
		bool gone, *saved = watch_begin(s, &gone);
		size_t used = s->raw_cb(s, s->rx, s->rx_len, s->raw_data);
		if (!watch_end(s, gone, saved)) {
			return false;
		}
		if (s->closed) {
			return true;
		}
		if (used > s->rx_len) {
			used = s->rx_len;
		}
		rx_shift(s, used);
	}
	return !s->framed || parse_frames(s);
}

/* Read what the fd has and deliver it: true when the read filled all it
 * asked for (more may wait) or began a tail. */
static bool read_once(struct mg_stream *s)
{
	size_t room;
	ssize_t n;

	if (s->rx_alloc - s->rx_len < 4096 &&
	    !rx_reserve(s, s->rx_alloc < RX_MIN ? RX_MIN : s->rx_alloc * 2)) {
		return false;
	}
	room = s->rx_alloc - s->rx_len;
	if (s->bulk && s->tails && !s->no_splice_in && s->framed && s->rx_next > s->rx_len &&
	    room > s->rx_next - s->rx_len + MG_HDR_LEN) {
		/* Up to the next header: its payload may be spliced. */
		room = s->rx_next - s->rx_len + (s->rx_len < MG_HDR_LEN ? 0 : MG_HDR_LEN);
	}
	if (s->take_fds) {
		n = mg__fdq_recv(s, &s->fdq, s->rfd, s->rx + s->rx_len, room);
		if (n == MG_ERR_PROTOCOL) {
			stream_fail(s, MG_ERR_PROTOCOL, "descriptors that cannot be taken");
			return false;
		}
		errno = n < 0 ? (int)-n : 0;
		n = n < 0 ? -1 : n;
	} else {
		n = read(s->rfd, s->rx + s->rx_len, room);
	}
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR) {
			return false;
		}
		/* EIO from a PTY and resets are plain disconnections. */
		if (errno == EIO || errno == ECONNRESET) {
			stream_fail(s, 0, "end of stream");
		} else {
			stream_fail(s, -errno, "read failed");
		}
		return false;
	}
	if (n == 0) {
		stream_fail(s, 0, "end of stream");
		return false;
	}
	s->rx_len += (size_t)n;
	s->in_read = true;
	if (!deliver(s) || s->closed) {
		return false;
	}
	s->in_read = false;
	return (size_t)n == room || s->collecting;
}

static void on_read(struct mg_io *io, unsigned events, void *data)
{
	struct mg_stream *s = talloc_get_type_abort(data, struct mg_stream);

	/* Headers and spliced payloads until the fd is dry, a few frames per
	 * wake-up: a bulk stream then costs no poll per frame. */
	for (unsigned turn = 0; turn < READ_TURNS; turn++) {
		if (turn > 0 && (s->closed || s->rejected || (mg_io_get(s->rio) & MG_IO_READ) == 0)) {
			return;
		}
		if (s->collecting) {
			/* rx_want 0: complete, waiting for a resume (paused). */
			if (s->rx_want == 0 || !collect_tail(s)) {
				return;
			}
		} else if (!read_once(s)) {
			return;
		}
	}
}

static void update_read(struct mg_stream *s)
{
	bool want;

	if (s->rio == NULL) {
		return;
	}
	want = !s->paused && s->tx_bytes < MG_STREAM_TX_HIGH;
	mg_io_set(s->rio, want ? MG_IO_READ : 0);
	/* Not read only until the peer takes our output: still a live
	 * link, which must keep the loop running (an agent whose parent is
	 * slow to read used to exit at once, its loop idle). */
	mg_io_set_keepalive(s->wio, !s->paused && !want);
}

static void report_drain(void *data)
{
	struct mg_stream *s = talloc_get_type_abort(data, struct mg_stream);

	if (!s->closed && s->drain_cb != NULL) {
		s->drain_cb(s, s->drain_data);
	}
}

static int flush(struct mg_stream *s)
{
	while (s->tx_head != NULL) {
		struct tx_chunk *c = s->tx_head;
		ssize_t n;
		if (c->piped) {
			n = splice(s->txp[0], NULL, s->wfd, NULL, c->len - c->off,
				   SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
		} else if (c->fds != NULL) {
			struct iovec iov = { .iov_base = c->data + c->off, .iov_len = c->len - c->off };
			n = mg__fds_sendmsg(s->wfd, &iov, 1, c->fds);
			errno = n < 0 ? (int)-n : 0;
			n = n < 0 ? -1 : n;
			if (n > 0) {
				/* They went with the first byte. */
				TALLOC_FREE(c->fds);
			}
		} else {
			n = write(s->wfd, c->data + c->off, c->len - c->off);
		}
		if (n < 0) {
			if (errno == EINTR) {
				continue;
			}
			if (errno == EAGAIN) {
				break;
			}
			return -errno;
		}
		c->off += (size_t)n;
		s->tx_bytes -= (size_t)n;
		if (c->off == c->len) {
			s->tx_head = c->next;
			if (s->tx_head == NULL) {
				s->tx_tail = NULL;
			}
			if (!c->piped && c->cap >= SPARE_MIN && s->tx_spare == NULL) {
				s->tx_spare = c;
			} else {
				talloc_free(c);
			}
		}
	}
	if (s->wio != NULL) {
		mg_io_set(s->wio, s->tx_head != NULL ? MG_IO_WRITE : 0);
	}
	if (s->tx_head == NULL && s->shut_wr) {
		shutdown(s->wfd, SHUT_WR);
	}
	update_read(s);
	if (s->was_high && s->tx_bytes <= MG_STREAM_TX_HIGH / 2) {
		s->was_high = false;
		if (s->drain_cb != NULL) {
			/* From the loop: the callee may send on this stream. */
			mg_loop_defer(s->loop, s, report_drain, s);
		}
	}
	return 0;
}

static void on_write(struct mg_io *io, unsigned events, void *data)
{
	struct mg_stream *s = talloc_get_type_abort(data, struct mg_stream);
	int r = s->werr != 0 ? s->werr : flush(s);

	if (s->werr != 0) {
		stream_fail(s, s->werr == -EPIPE ? 0 : s->werr, s->wwhy);
		return;
	}

	if (r != 0) {
		stream_fail(s, r == -EPIPE ? 0 : r, "write failed");
	}
}

struct mg_stream *mg__stream_new(TALLOC_CTX *mem_ctx, struct mg_loop *loop,
				 int rfd, int wfd, const char *name, uint32_t max_msg)
{
	struct mg_stream *s = talloc_zero(mem_ctx, struct mg_stream);

	if (s == NULL) {
		return NULL;
	}
	s->loop = loop;
	s->rfd = rfd;
	/* epoll watches an fd once: write through a second descriptor of
	 * the same socket so reading and writing are watched separately. */
	if (wfd == rfd) {
		wfd = fcntl(rfd, F_DUPFD_CLOEXEC, 3);
		if (wfd < 0) {
			/* The caller still owns rfd on failure. */
			talloc_free(s);
			return NULL;
		}
	}
	s->wfd = wfd;
	s->max_msg = max_msg;
	s->txp[0] = s->txp[1] = s->rxp[0] = s->rxp[1] = -1;
	s->rx_tail.fd = -1;
	s->no_splice_in = !mg__tail_fd(rfd, false);
	s->no_splice_out = !mg__tail_fd(wfd, false);
	talloc_set_destructor(s, stream_destructor);
	s->name = talloc_strdup(s, name);
	s->rio = mg_io_new(s, loop, rfd, MG_IO_READ, on_read, s);
	s->wio = mg_io_new(s, loop, wfd, 0, on_write, s);
	if (s->name == NULL || s->rio == NULL || s->wio == NULL) {
		talloc_free(s);
		return NULL;
	}
	/* The write side alone must not keep a loop alive. */
	mg_io_set_keepalive(s->wio, false);
	return s;
}

void mg__stream_set_raw(struct mg_stream *s, mg_stream_raw_cb cb, void *data)
{
	s->framed = false;
	s->raw_cb = cb;
	s->raw_data = data;
}

static void deferred_parse(void *data)
{
	struct mg_stream *s = talloc_get_type_abort(data, struct mg_stream);

	if (!s->closed) {
		parse_frames(s);
	}
}

void mg__stream_set_frames(struct mg_stream *s, mg_stream_msg_cb cb, void *data)
{
	s->framed = true;
	s->msg_cb = cb;
	s->msg_data = data;
	/* Leftover bytes are parsed after the raw callback returns. */
	if (s->rx_len > 0 && !s->in_read) {
		mg_loop_defer(s->loop, s, deferred_parse, s);
	}
}

void mg__stream_on_close(struct mg_stream *s, mg_stream_close_cb cb, void *data)
{
	s->close_cb = cb;
	s->close_data = data;
}

bool mg__stream_paused(const struct mg_stream *s)
{
	return s->paused;
}

void mg__stream_on_drain(struct mg_stream *s, mg_stream_drain_cb cb, void *data)
{
	s->drain_cb = cb;
	s->drain_data = data;
}

void mg__stream_pause(struct mg_stream *s, bool pause)
{
	bool was = s->paused;

	s->paused = pause;
	update_read(s);
	if (was && !pause && s->framed && s->rx_len > 0) {
		mg_loop_defer(s->loop, s, deferred_parse, s);
	}
}

/* A chunk with room for cap bytes (none for a piped one): the spare
 * when it is big enough, else a new one; appended to the queue. */
static struct tx_chunk *tx_append(struct mg_stream *s, size_t cap, bool piped)
{
	struct tx_chunk *c = s->tx_spare;

	if (c != NULL && !piped && cap >= SPARE_MIN && c->cap >= cap) {
		s->tx_spare = NULL;
		cap = c->cap;
	} else {
		c = talloc_size(s, sizeof(*c) + cap);
		if (c == NULL) {
			return NULL;
		}
		talloc_set_name_const(c, "struct tx_chunk");
	}
	*c = (struct tx_chunk){ .cap = cap, .piped = piped };
	if (s->tx_tail != NULL) {
		s->tx_tail->next = c;
	} else {
		s->tx_head = c;
	}
	s->tx_tail = c;
	return c;
}

/* Queued output past which the peer is dropped as not reading. None for
 * an attached client: a hop's output to it is bounded by the credit it
 * gives (section 7), and the answers to its requests by what it sent
 * before its queue reached MG_STREAM_TX_HIGH, when we stop reading it.
 * A client merely slow (its pager stopped) with many targets' windows
 * on the way (40 x 2 MiB) must not lose its run: without --persist the
 * master would hold the same bytes for it. */
static size_t tx_max(const struct mg_stream *s)
{
	return s->attached ? SIZE_MAX : MG_STREAM_TX_MAX;
}

static int queue(struct mg_stream *s, const uint8_t *a, size_t alen,
		 const uint8_t *b, size_t blen)
{
	struct tx_chunk *c;

	if (s->tx_bytes + alen + blen > tx_max(s)) {
		return -ENOBUFS;
	}
	c = tx_append(s, alen + blen, false);
	if (c == NULL) {
		return -ENOMEM;
	}
	c->len = alen + blen;
	memcpy(c->data, a, alen);
	if (blen > 0) {
		memcpy(c->data + alen, b, blen);
	}
	s->tx_bytes += c->len;
	if (s->tx_bytes >= MG_STREAM_TX_HIGH) {
		s->was_high = true;
	}
	mg_io_set(s->wio, MG_IO_WRITE);
	update_read(s);
	return 0;
}

/* Report a write failure from the loop, never inside the caller's send:
 * mark the stream unusable now and let on_write report it. */
static void report_werr(void *data)
{
	struct mg_stream *s = talloc_get_type_abort(data, struct mg_stream);

	stream_fail(s, s->werr == -EPIPE ? 0 : s->werr, s->wwhy);
}

static void fail_later(struct mg_stream *s, int err, const char *why)
{
	if (s->werr != 0) {
		return;
	}
	s->werr = err;
	s->wwhy = why;
	if (mg_loop_defer(s->loop, s, report_werr, s) != 0 && s->wio != NULL) {
		mg_io_set(s->wio, MG_IO_WRITE);
	}
}

void mg__stream_fail(struct mg_stream *s, int err, const char *why)
{
	s->rejected = true;
	fail_later(s, err, why);
}

static void deferred_flush(void *data)
{
	struct mg_stream *s = talloc_get_type_abort(data, struct mg_stream);

	s->corked = false;
	if (s->werr == 0 && !s->closed) {
		on_write(s->wio, MG_IO_WRITE, s);
	}
}

/* Corked: a small frame joins the last chunk, all written at once when
 * the loop turns (the agent's events, exit status and ends of output
 * from one wakeup go up in one write). False: send it as usual. */
static bool cork(struct mg_stream *s, const uint8_t *a, size_t alen,
		 const uint8_t *b, size_t blen)
{
	struct tx_chunk *c = s->tx_tail;
	size_t n = alen + blen;

	if (!s->cork || n > CORK_MAX || (s->tx_head != NULL && !s->corked)) {
		return false;
	}
	if (!s->corked && mg_loop_defer(s->loop, s, deferred_flush, s) != 0) {
		return false;
	}
	s->corked = true;
	if (c == NULL || c->piped || c->cap - c->len < n) {
		/* A command's last events take ~150 bytes: room for a few. */
		c = tx_append(s, n > CORK_MAX / 4 ? n : CORK_MAX / 4, false);
		if (c == NULL) {
			return false;
		}
	}
	memcpy(c->data + c->len, a, alen);
	if (blen > 0) {
		memcpy(c->data + c->len + alen, b, blen);
	}
	c->len += n;
	s->tx_bytes += n;
	return true;
}

/* A bigger frame, or one with descriptors, is not corked: what waits
 * goes first, then as ever. */
static int uncork(struct mg_stream *s)
{
	int r;

	if (!s->corked) {
		return 0;
	}
	s->corked = false;
	if ((r = flush(s)) != 0) {
		fail_later(s, r, "write failed");
	}
	return r;
}

/* Write a and b: directly when nothing is queued, the rest queued. */
static int send2_now(struct mg_stream *s, const uint8_t *a, size_t alen,
		     const uint8_t *b, size_t blen)
{
	size_t done = 0;
	int r;

	if ((r = uncork(s)) != 0) {
		return r;
	}
	if (s->tx_head == NULL) {
		struct iovec iov[2] = {
			{ .iov_base = (void *)a, .iov_len = alen },
			{ .iov_base = (void *)b, .iov_len = blen },
		};
		ssize_t n;
		do {
			n = writev(s->wfd, iov, blen > 0 ? 2 : 1);
		} while (n < 0 && errno == EINTR);
		if (n < 0 && errno != EAGAIN) {
			r = -errno;
			fail_later(s, r, "write failed");
			return r;
		}
		done = n > 0 ? (size_t)n : 0;
	}
	if (done >= alen + blen) {
		return 0;
	}
	if (done >= alen) {
		r = queue(s, b + (done - alen), blen - (done - alen), NULL, 0);
		if (r == -ENOBUFS) {
			fail_later(s, r, "peer is not reading");
		}
		return r;
	}
	r = queue(s, a + done, alen - done, b, blen);
	if (r == -ENOBUFS) {
		/* Part of a frame may be out: the stream is unusable now. */
		fail_later(s, r, "peer is not reading");
	}
	return r;
}

static int send2(struct mg_stream *s, const uint8_t *a, size_t alen,
		 const uint8_t *b, size_t blen)
{
	if (s->closed || s->wio == NULL || s->werr != 0) {
		return MG_ERR_DISCONNECTED;
	}
	return cork(s, a, alen, b, blen) ? 0 : send2_now(s, a, alen, b, blen);
}

/* Queue what is left of t after what is queued: into txp while it
 * fits (no copy), the rest read into memory. */
static int queue_tail(struct mg_stream *s, struct mg_tail *t)
{
	while (t->len > 0 && !s->no_splice_out) {
		ssize_t n;
		if (s->txp[0] < 0 && mg__tail_pipe(s->txp, 2 * MG_WINDOW_DEFAULT) != 0) {
			break;
		}
		n = mg__tail_splice(t, s->txp[1]);
		if (n <= 0) {
			break;
		}
		if ((s->tx_tail == NULL || !s->tx_tail->piped) &&
		    tx_append(s, 0, true) == NULL) {
			/* Those bytes are in txp already. */
			fail_later(s, -ENOMEM, "out of memory");
			return -ENOMEM;
		}
		s->tx_tail->len += (size_t)n;
		s->tx_bytes += (size_t)n;
	}
	if (t->len > 0) {
		size_t n = t->len;
		uint8_t *p = talloc_size(NULL, n);
		int r = p == NULL ? -ENOMEM : (int)mg__tail_read(t, p, n);
		r = r < 0 ? r : queue(s, p, n, NULL, 0);
		talloc_free(p);
		if (r != 0) {
			fail_later(s, r, "out of memory");
			return r;
		}
	}
	if (s->tx_head == NULL) {
		/* All of it went out: no wake-up for an empty queue. */
		return 0;
	}
	if (s->tx_bytes >= MG_STREAM_TX_HIGH) {
		s->was_high = true;
	}
	mg_io_set(s->wio, MG_IO_WRITE);
	update_read(s);
	return 0;
}

/* A frame whose payload ends in a pipe: header and the rest written as
 * any frame, then the tail spliced straight out, or queued. */
static int send_tail(struct mg_stream *s, const uint8_t *hdr, const struct mg_msg *m)
{
	struct mg_tail *t = m->tail;
	int r;

	if (s->closed || s->wio == NULL || s->werr != 0) {
		return MG_ERR_DISCONNECTED;
	}
	if (s->tx_bytes + MG_HDR_LEN + m->len > tx_max(s)) {
		fail_later(s, -ENOBUFS, "peer is not reading");
		return -ENOBUFS;
	}
	r = send2_now(s, hdr, MG_HDR_LEN, m->data, mg__msg_mem_len(m));
	if (r != 0) {
		return r;
	}
	while (s->tx_head == NULL && !s->no_splice_out && t->len > 0) {
		ssize_t n = mg__tail_splice(t, s->wfd);
		if (n == -EAGAIN) {
			break;
		} else if (n == -EINVAL) {
			s->no_splice_out = true;
		} else if (n < 0) {
			fail_later(s, (int)n, "write failed");
			return (int)n;
		}
	}
	return queue_tail(s, t);
}

/* A frame with descriptors: they go with its first byte, by sendmsg
 * now, or later from the queue with copies of them. */
static int send_fds(struct mg_stream *s, uint8_t *hdr, const struct mg_msg *m)
{
	struct iovec iov[2] = {
		{ .iov_base = hdr, .iov_len = MG_HDR_LEN },
		{ .iov_base = m->data, .iov_len = m->len },
	};
	struct tx_chunk *c;
	ssize_t n = -EAGAIN;
	size_t done;
	int r;

	if (s->closed || s->wio == NULL || s->werr != 0) {
		return MG_ERR_DISCONNECTED;
	}
	if (m->tail != NULL || !s->give_fds) {
		return -EOPNOTSUPP;
	}
	hdr[3] |= MG_F_FDS;
	if ((r = uncork(s)) != 0) {
		return r;
	}
	if (s->tx_head == NULL) {
		n = mg__fds_sendmsg(s->wfd, iov, m->len > 0 ? 2 : 1, m->fds);
		if (n < 0 && n != -EAGAIN) {
			fail_later(s, (int)n, "write failed");
			return (int)n;
		}
	}
	if (n > 0) {
		/* The descriptors are out: the rest as any frame's. */
		done = (size_t)n;
		if (done >= MG_HDR_LEN + m->len) {
			return 0;
		}
		r = done >= MG_HDR_LEN ?
		    queue(s, m->data + (done - MG_HDR_LEN), m->len - (done - MG_HDR_LEN), NULL, 0) :
		    queue(s, hdr + done, MG_HDR_LEN - done, m->data, m->len);
		if (r != 0) {
			fail_later(s, r, "peer is not reading");
		}
		return r;
	}
	if ((r = queue(s, hdr, MG_HDR_LEN, m->data, m->len)) != 0) {
		fail_later(s, r, "peer is not reading");
		return r;
	}
	c = s->tx_tail;
	c->fds = mg__fds_dup(c, m->fds);
	if (c->fds == NULL) {
		/* Its frame is queued: the stream is unusable without them. */
		fail_later(s, -ENOMEM, "out of memory");
		return -ENOMEM;
	}
	return 0;
}

int mg__stream_send(struct mg_stream *s, const struct mg_msg *m)
{
	uint8_t hdr[MG_HDR_LEN];

	if (m->len > s->max_msg) {
		return MG_ERR_TOO_BIG;
	}
	mg__msg_header(m, hdr);
	/* Set by the stream alone, when the descriptors go with it. */
	hdr[3] &= (uint8_t)~MG_F_FDS;
	if (m->fds != NULL && m->fds->n > 0) {
		return send_fds(s, hdr, m);
	}
	if (m->tail != NULL && m->tail->len > 0) {
		return send_tail(s, hdr, m);
	}
	return send2(s, hdr, sizeof(hdr), m->data, mg__msg_mem_len(m));
}

void mg__stream_take_fds(struct mg_stream *s, bool on)
{
	s->take_fds = on;
}

void mg__stream_give_fds(struct mg_stream *s, bool on)
{
	s->give_fds = on;
}

bool mg__stream_gives_fds(const struct mg_stream *s)
{
	return s->give_fds;
}

void mg__stream_set_tails(struct mg_stream *s, bool on)
{
	s->tails = on;
}

void mg__stream_set_cork(struct mg_stream *s, bool on)
{
	s->cork = on;
}

int mg__stream_write_raw(struct mg_stream *s, const void *p, size_t n)
{
	return send2(s, p, n, NULL, 0);
}

void mg__stream_shutdown(struct mg_stream *s)
{
	s->shut_wr = true;
	if (s->tx_head == NULL && !s->closed) {
		shutdown(s->wfd, SHUT_WR);
	}
}

size_t mg__stream_pending(const struct mg_stream *s)
{
	return s->tx_bytes;
}

bool mg__stream_closed(const struct mg_stream *s)
{
	return s->closed;
}

const char *mg__stream_name(const struct mg_stream *s)
{
	return s->name;
}

void mg__stream_set_name(struct mg_stream *s, const char *name)
{
	char *n = talloc_strdup(s, name);

	if (n != NULL) {
		talloc_free(s->name);
		s->name = n;
	}
}

uint32_t mg__stream_remote_id(const struct mg_stream *s)
{
	return s->remote_id;
}

void mg__stream_set_remote_id(struct mg_stream *s, uint32_t id)
{
	s->remote_id = id;
}

bool mg__stream_privileged(const struct mg_stream *s)
{
	return s->privileged;
}

void mg__stream_set_privileged(struct mg_stream *s, bool on)
{
	s->privileged = on;
}

void mg__stream_set_max_msg(struct mg_stream *s, uint32_t max_msg)
{
	s->max_msg = max_msg;
}

bool mg__stream_attached(const struct mg_stream *s)
{
	return s->attached;
}

void mg__stream_set_attached(struct mg_stream *s, bool on)
{
	s->attached = on;
}

void mg__stream_abort(struct mg_stream *s)
{
	s->closed = true;
	release_fds(s);
}
