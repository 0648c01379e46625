/*
 * Streams: one connection to a neighbour context over non-blocking fds,
 * first in raw mode (boot markers, agent image), then framed messages.
 * Writes go out at once when nothing is queued ("write first"); the rest
 * is queued and flushed when the fd is writable.
 */
#ifndef MG_STREAM_H
#define MG_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <talloc.h>
#include "mitogen/loop.h"

struct mg_fds;

struct mg_stream;

/*
 * The last 'len' bytes of a payload, waiting in the pipe 'fd' instead of
 * memory (bulk data spliced rather than copied; see tail.c). Whoever takes
 * such a message moves them out before its call returns.
 */
struct mg_tail {
	int fd;
	size_t len;
};

struct mg_msg {
	uint16_t flags;
	uint32_t dst;
	uint32_t src;
	uint32_t auth_id;
	uint32_t handle;
	uint32_t reply_to;
	uint8_t *data; /* talloc child of the message, or borrowed */
	size_t len;
	struct mg_stream *in; /* arrival stream; NULL when made locally */
	/* Payloads that arrive on a stream point into its receive buffer and
	 * are valid only during the callback: mg__msg_keep before keeping. */
	bool borrowed;
	/* Non-NULL when the payload's end is in a pipe: only the first
	 * mg__msg_mem_len() bytes are at data. */
	struct mg_tail *tail;
	/* Descriptors that came with it (MG_F_FDS), a talloc child that
	 * closes them; a sender or copier duplicates, never takes them. */
	struct mg_fds *fds;
};

/* Take ownership of 'm' under mem_ctx, copying a borrowed payload. */
int mg__msg_keep(TALLOC_CTX *mem_ctx, struct mg_msg *m);

/* Raw mode: consume what is useful of p[0..n) and return how much. */
typedef size_t (*mg_stream_raw_cb)(struct mg_stream *s, const uint8_t *p, size_t n, void *data);
/* A whole message; the callee owns 'msg' (talloc_free it). */
typedef void (*mg_stream_msg_cb)(struct mg_stream *s, struct mg_msg *msg, void *data);
/* The stream ended: err is 0 on a clean EOF. Called once; the stream is
 * no longer usable but must be freed by its owner. */
typedef void (*mg_stream_close_cb)(struct mg_stream *s, int err, const char *why, void *data);

/* Queued output above which we stop reading from the same peer. */
#define MG_STREAM_TX_HIGH (8u << 20)
/* Queued output above which the peer is dropped as not reading. */
#define MG_STREAM_TX_MAX (64u << 20)

/* A stream over rfd/wfd (may be equal); it owns and closes both. */
struct mg_stream *mg__stream_new(TALLOC_CTX *mem_ctx, struct mg_loop *loop,
				 int rfd, int wfd, const char *name, uint32_t max_msg);
void mg__stream_set_raw(struct mg_stream *s, mg_stream_raw_cb cb, void *data);
/* Switch to frames; bytes already buffered are parsed as frames. */
void mg__stream_set_frames(struct mg_stream *s, mg_stream_msg_cb cb, void *data);
void mg__stream_on_close(struct mg_stream *s, mg_stream_close_cb cb, void *data);
/* Stop or resume reading. */
void mg__stream_pause(struct mg_stream *s, bool pause);
bool mg__stream_paused(const struct mg_stream *s);
/* Called from the loop when queued output, having reached
 * MG_STREAM_TX_HIGH, is back under half of it. */
typedef void (*mg_stream_drain_cb)(struct mg_stream *s, void *data);
void mg__stream_on_drain(struct mg_stream *s, mg_stream_drain_cb cb, void *data);

int mg__stream_send(struct mg_stream *s, const struct mg_msg *m);
int mg__stream_write_raw(struct mg_stream *s, const void *p, size_t n);
/* Half-close the write side once the queue has drained. */
void mg__stream_shutdown(struct mg_stream *s);
/* Drop the stream because the peer broke the protocol: nothing more is
 * delivered from it, and the close callback runs from the loop with
 * (err, why). 'why' must be a string constant. */
void mg__stream_fail(struct mg_stream *s, int err, const char *why);
/* Close the fds now, without callbacks (shutdown). */
void mg__stream_abort(struct mg_stream *s);
size_t mg__stream_pending(const struct mg_stream *s);
bool mg__stream_closed(const struct mg_stream *s);
const char *mg__stream_name(const struct mg_stream *s);
void mg__stream_set_name(struct mg_stream *s, const char *name);
/* The largest frame taken from now on (a larger one fails the stream). */
void mg__stream_set_max_msg(struct mg_stream *s, uint32_t max_msg);
/* The context id at the far end, 0 until known. */
uint32_t mg__stream_remote_id(const struct mg_stream *s);
void mg__stream_set_remote_id(struct mg_stream *s, uint32_t id);
/* A child link whose frames act with the router's own authority (a
 * privileged UNIX attach, docs/PROTOCOL.md section 5.7); false by default. */
bool mg__stream_privileged(const struct mg_stream *s);
void mg__stream_set_privileged(struct mg_stream *s, bool on);
/* A child link to a process attached over a UNIX socket (section 5.7),
 * privileged or not: a leaf serving nobody else, whose full queue never
 * holds back the hops that answer it; false by default. */
bool mg__stream_attached(const struct mg_stream *s);
void mg__stream_set_attached(struct mg_stream *s, bool on);

/* Descriptors: receive them (recvmsg) on a parent link that is an
 * AF_UNIX socket; send them on a child link known to reach its agent
 * directly. Off by default: a frame marked MG_F_FDS on a stream that
 * takes none breaks the protocol, and mg__stream_send refuses a message
 * with fds (-EOPNOTSUPP) on one that gives none. */
void mg__stream_take_fds(struct mg_stream *s, bool on);
void mg__stream_give_fds(struct mg_stream *s, bool on);
bool mg__stream_gives_fds(const struct mg_stream *s);

/* Let the stream deliver large frames with a pipe tail (the router's
 * streams only: every other reader wants whole payloads). */
void mg__stream_set_tails(struct mg_stream *s, bool on);
/* Small frames sent while the loop runs callbacks gather and go in one
 * write when it turns (a deferred call): fewer wakeups for the reader. */
void mg__stream_set_cork(struct mg_stream *s, bool on);

/* Bytes of m's payload at m->data (all of it without a tail). */
size_t mg__msg_mem_len(const struct mg_msg *m);
/* Bring a tail into memory, in a buffer under mem_ctx: then m->tail is
 * NULL and m->data holds the whole payload. 0 or -errno. */
int mg__msg_flatten(TALLOC_CTX *mem_ctx, struct mg_msg *m);
/* Move what fits of t into fd (a pipe, socket or file): bytes moved, or
 * -EAGAIN, or -EINVAL when fd takes no splice, or another -errno. */
ssize_t mg__tail_splice(struct mg_tail *t, int fd);
/* Read up to n bytes of t into p; -errno on failure. */
ssize_t mg__tail_read(struct mg_tail *t, void *p, size_t n);
/* Throw away what is left of t. */
void mg__tail_discard(struct mg_tail *t);
/* Whether fd's bytes move by splice(2): a pipe or socket (or with
 * 'files' a regular file); never a terminal. */
bool mg__tail_fd(int fd, bool files);
/* Close both ends of a pipe (-1 ends are skipped) and set them to -1. */
void mg__tail_pipe_close(int fds[2]);
/* A non-blocking close-on-exec pipe, made 'size' bytes large if allowed. */
int mg__tail_pipe(int fds[2], size_t size);

/* Encode a header into 28 bytes. */
void mg__msg_header(const struct mg_msg *m, uint8_t *hdr);
/* Decode and validate a header; MG_ERR_PROTOCOL on bad magic or flags,
 * MG_ERR_TOO_BIG past max. */
int mg__msg_parse_header(const uint8_t *hdr, uint32_t max, struct mg_msg *m);

#endif
