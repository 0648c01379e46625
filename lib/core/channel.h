/*
 * Byte channels: a flow-controlled one-way pipe between an fd in one
 * context and an fd in another, carried as messages.
 *
 * The sending end reads its fd only while it has credit; the receiving end
 * grants credit back (an ACK message with a byte count) once the bytes are
 * written to its fd, so at most 'window' bytes are in flight per channel
 * however fast either side is. An empty DATA message is EOF. A dead
 * message to the sender's ACK handle means the reader went away.
 */
#ifndef MG_CHANNEL_H
#define MG_CHANNEL_H

#include <stdbool.h>
#include <stdint.h>
#include "router.h"

struct mg_chan_out;
struct mg_chan_in;

/* err is 0 after a clean EOF, -EPIPE when the reader went away, and for a
 * receiver MG_ERR_PROTOCOL when the sender went past its window ("rcvd too
 * much data": the channel is dropped, not buffered). */
typedef void (*mg_chan_done_fn)(void *data, int err);

/*
 * Send what 'fd' yields to (dst, handle). Credit returns on a handle
 * owned by this object (mg__chan_out_ack_handle). 'fd' is owned and closed.
 * Reading starts with mg__chan_out_start (once the peer's handle is known).
 */
struct mg_chan_out *mg__chan_out_new(TALLOC_CTX *mem_ctx, struct mg_router *r, int fd,
				     uint32_t dst, uint32_t window,
				     mg_chan_done_fn done, void *data);
uint32_t mg__chan_out_ack_handle(const struct mg_chan_out *c);
void mg__chan_out_start(struct mg_chan_out *c, uint32_t handle);
/* Stop reading and send EOF now (e.g. the command was told to stop). */
void mg__chan_out_close(struct mg_chan_out *c);

/*
 * Write what arrives on a fresh handle from 'src' to 'fd' (owned, closed at
 * EOF). Credit goes to (src, ack handle) once known. The sender may have at
 * most MG_WINDOW_DEFAULT bytes in flight (received, not credited back):
 * anything past that ends the channel with MG_ERR_PROTOCOL.
 */
struct mg_chan_in *mg__chan_in_new(TALLOC_CTX *mem_ctx, struct mg_router *r, int fd,
				   uint32_t src, mg_chan_done_fn done, void *data);
uint32_t mg__chan_in_handle(const struct mg_chan_in *c);
void mg__chan_in_set_ack(struct mg_chan_in *c, uint32_t ack_handle);
/* Bytes for a sink: consumed at once (the sink may block to apply
 * backpressure, e.g. a blocking write to a terminal). */
typedef void (*mg_chan_sink_fn)(void *data, const uint8_t *p, size_t n);
/* Like mg__chan_in_new, but hand the bytes to 'sink' instead of an fd. */
struct mg_chan_in *mg__chan_in_new_sink(TALLOC_CTX *mem_ctx, struct mg_router *r, uint32_t src,
					mg_chan_sink_fn sink, void *sink_data,
					mg_chan_done_fn done, void *data);

/* Keep back (hold true) or give again the credit for bytes consumed, so
 * that a sink's slow reader stops the sender once its window is used. */
void mg__chan_in_hold(struct mg_chan_in *c, bool hold);

/* End the channel now as a failed write would: nothing more is
 * delivered, and the sender hears that its reader closed (its writes
 * then fail with EPIPE, as into a closed pipe). */
void mg__chan_in_abort(struct mg_chan_in *c, int err);
/* The sender is gone without an EOF of its own: end the channel as at
 * EOF, once what is pending is written. */
void mg__chan_in_end(struct mg_chan_in *c);

/* Keep 'fd' open after EOF (the caller's own stdout). */
void mg__chan_in_keep_fd(struct mg_chan_in *c);
bool mg__chan_in_done(const struct mg_chan_in *c);

/* Make an fd non-blocking; returns the old flags or a negative error. */
int mg__fd_nonblock(int fd);

#endif
