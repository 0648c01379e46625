/*
 * The file service (docs/PROTOCOL.md section 5.9): copying files and
 * trees to and from a context as one stream of records on a byte
 * channel (section 7), with no round trip per file.
 *
 *  - svc-file.c: the services "file.push" and "file.pull" and the codecs
 *    of their requests and reports;
 *  - file-rec.c: the records of the stream and the checksum;
 *  - file-pack.c: the sending end (walks local sources, emits records,
 *    paced by the credit of every receiver);
 *  - file-unpack.c: the receiving end (parses records, writes each file
 *    to an unnamed or temporary file beside its target, fsync, rename);
 *  - file-fan.c: one stream passed on to many contexts, grouped by the
 *    child connection that leads to them (a tree: once down each link);
 *  - file-relay.c: "file.relay" (a push passed on to contexts below) and
 *    "file.copy" (a copy between contexts below, done here);
 *  - file-z.c: the frames of a compressed stream (-z).
 *
 * Both ends serve the master (mg_file_push, mg_file_pull) and agents.
 */
#ifndef MG_SVC_FILE_H
#define MG_SVC_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <talloc.h>
#include "buf.h"
#include "router.h"

/* Request flags (u32 flags of both requests). */
#define MG__FILE_RECURSIVE 0x01u /* copy directories */
#define MG__FILE_PRESERVE  0x02u /* mode and times; owner as root */
#define MG__FILE_LINKS     0x04u /* symlinks as symlinks, hard links kept */
#define MG__FILE_SPARSE    0x08u /* holes for runs of zero blocks */
#define MG__FILE_INTO      0x10u /* DEST must be a directory (DEST/) */
#define MG__FILE_COMPRESS  0x20u /* the stream goes in frames, deflated or stored */
#define MG__FILE_UMASK     0x40u /* new files' modes less the request's umask, not the receiver's */
#define MG__FILE_KNOWN     0x7fu

/* Record types of the stream. */
enum mg__rec {
	MG__REC_DIR = 'D',
	MG__REC_FILE = 'F',    /* then 'size' raw bytes, then MG__REC_TAIL */
	MG__REC_CFILE = 'C',   /* a file in pieces: MG__REC_BYTES, then MG__REC_TAIL */
	MG__REC_BYTES = 'B',   /* the length is of the file's bytes that follow */
	MG__REC_TAIL = 'T',    /* in a 'C' file, early with err != 0: it ended there */
	MG__REC_LINK = 'L',    /* a symbolic link */
	MG__REC_HARD = 'H',    /* a hard link to an earlier file */
	MG__REC_ERROR = 'E',   /* the sender could not read or send a path */
	MG__REC_END = 'Z',
};

/* A tail's err when the file ended before its announced size: outside
 * errno's range, so that the receiver can say so. */
#define MG__FILE_SHRANK 65536u
/* The most file bytes one 'B' record holds: a sender that finds its file
 * shorter sends at most this much more before it says so. */
#define MG__REC_BYTES_MAX (1u << 20)

/* A path in the stream is shorter than this (the receiver refuses
 * longer ones; the sender says they are too long). */
#define MG__REC_PATH_MAX 4096u
/* Largest record header: two paths and the fixed fields. */
#define MG__REC_MAX (2u * MG__REC_PATH_MAX + 64)
/* Every record: u8 type, u32 length, then that many bytes of fields. */
#define MG__REC_PREFIX 5u

struct mg__rec_meta {
	char type;
	const char *path;        /* relative, '/'-separated */
	size_t path_len;
	uint32_t mode;           /* permission bits (07777) */
	uint64_t mtime_s, atime_s;
	uint32_t mtime_ns, atime_ns;
	uint32_t uid, gid;
	uint64_t size;           /* FILE, CFILE */
	const char *target;      /* LINK, HARD: the target; ERROR: the reason */
	size_t target_len;
	uint64_t hash;           /* TAIL */
	uint32_t err;            /* TAIL: 0, or the sender's errno */
	uint64_t host;           /* DIR: the sender's host (mg__file_host_id), 0: none */
	uint64_t dev, ino;       /* DIR: the source directory there */
};

/* Encode a record (prefix and fields) into b. */
int mg__rec_encode(struct mg_buf *b, const struct mg__rec_meta *m);
/* Decode the fields of a record of 'type' (the prefix already read);
 * strings point into p. 0 or MG_ERR_PROTOCOL. */
int mg__rec_decode(char type, const uint8_t *p, size_t n, struct mg__rec_meta *m);

/* This kernel's boot, hashed: two ends with the same one see the same
 * files under the same device and inode numbers. 0 when unknown. */
uint64_t mg__file_host_id(void);

/* The end-to-end checksum of a file's bytes (see svc-file.c). */
#define MG__HASH_BLOCK 32u
struct mg__hash {
	uint64_t h[4], len;
	uint8_t buf[MG__HASH_BLOCK];
	unsigned nb;
};
void mg__hash_init(struct mg__hash *s);
void mg__hash_update(struct mg__hash *s, const uint8_t *p, size_t n);
uint64_t mg__hash_final(const struct mg__hash *s);

/* "file.push" request: the far end receives a stream. */
struct mg__file_push_req {
	const char *dest;  /* where the sources go */
	uint32_t flags;
	uint32_t n_top;    /* sources: more than one means DEST is a directory */
	uint32_t h_ack;    /* the sender's credit handle */
	uint32_t h_report; /* the sender's handle for errors and the end */
	uint32_t umask;    /* with MG__FILE_UMASK, right after h_report */
	/* The names the sources have in the stream (mg__file_src_names), or
	 * NULL: the receiver then takes any. Optional, after the request
	 * (after the ids of "file.relay"); "file.copy" has the sources. */
	const char *const *names;
};
int mg__file_push_req_encode(struct mg_buf *b, const struct mg__file_push_req *rq);
int mg__file_push_req_decode(TALLOC_CTX *mem_ctx, const void *p, size_t n,
			     struct mg__file_push_req *rq);
/* Append rq->names (nothing when NULL), the optional last field. */
int mg__file_names_encode(struct mg_buf *b, const struct mg__file_push_req *rq);

/* The first component each of 'srcs' has in a stream, as a sender names
 * it (its last component); "" for one ending in . or .., which is named
 * after the directory it resolves to there; none for / or "". On
 * mem_ctx, NULL-terminated; NULL on ENOMEM. */
char **mg__file_src_names(TALLOC_CTX *mem_ctx, const char *const *srcs);

/* "file.relay": the push request, then the targets' ids (*_ids on
 * mem_ctx, *_n of them, 1 to MG__FILE_RELAY_MAX). */
int mg__file_relay_req_decode(TALLOC_CTX *mem_ctx, const void *p, size_t n,
			      struct mg__file_push_req *rq, uint32_t **_ids, uint32_t *_n);

/* "file.copy": u32 from, strv srcs, then a "file.relay" request (its
 * h_ack unused): 'srcs' at context 'from' to the targets. */
struct mg__file_copy_req {
	uint32_t from;
	char **srcs;
	struct mg__file_push_req rq;
	uint32_t *ids;
	uint32_t n;
	bool want_total;   /* optional trailing u8: report the source's total */
};
int mg__file_copy_req_decode(TALLOC_CTX *mem_ctx, const void *p, size_t n,
			     struct mg__file_copy_req *rq);

/* "file.pull" request: the far end sends a stream of 'srcs'. */
struct mg__file_pull_req {
	char **srcs;
	uint32_t flags;
	uint32_t h_data;   /* the receiver's byte channel */
	bool want_total;   /* optional trailing u8: the answer adds the total */
};
int mg__file_pull_req_encode(struct mg_buf *b, const char *const *srcs, uint32_t flags,
			     uint32_t h_data, bool want_total);
int mg__file_pull_req_decode(TALLOC_CTX *mem_ctx, const void *p, size_t n,
			     struct mg__file_pull_req *rq);

/* The u32 answer of file.push, file.relay or file.pull (a handle): 0
 * and *_v, or an error and *_why (a dead answer's reason, or 'bad'). */
struct mg_message;
int mg__file_answer(const struct mg_message *reply, int err, const char *bad, uint32_t *_v,
		    const char **_why);
/* The optional u64 after file.pull's handle: the bytes of the files it
 * sends, or MG__FILE_NO_TOTAL. */
#define MG__FILE_NO_TOTAL UINT64_MAX
uint64_t mg__file_answer_total(const struct mg_message *reply);

/* Reports of a push receiver, on h_report: an error or the end; a relay
 * puts u32 target before each and adds "failed" (str reason). */
#define MG__FILE_REPORT_ERROR  1u
#define MG__FILE_REPORT_END    2u
#define MG__FILE_REPORT_FAILED 3u
#define MG__FILE_REPORT_BYTES  4u /* file.copy, behind id 0: u64 bytes so far
				    * [u64 the source's total, when asked] */

/* "file.relay" request: a push request, then u32 count and the ids of
 * the targets (contexts below the callee) to push to. */
#define MG__FILE_RELAY_MAX 4096u

/* --- frames of a compressed stream (file-z.c) ---
 *
 * With MG__FILE_COMPRESS the stream of records is cut into frames, each
 * u8 kind, u32 length, then that many bytes: stored, or one whole raw
 * deflate stream (lib/core/deflate.h) that decodes to at most
 * MG__ZF_RAW bytes. Relays pass frames on as bytes, like any stream. */
#define MG__ZF_RAW     131072u
#define MG__ZF_HDR     5u
#define MG__ZF_STORED  'S'
#define MG__ZF_DEFLATE 'D'

struct mg__zenc;
struct mg__zenc *mg__zenc_new(TALLOC_CTX *mem_ctx);
/* Start a frame of raw[0, n) (1 to MG__ZF_RAW bytes) into out, which has
 * room for n + MG__ZF_HDR; both stay in place until it is made. */
void mg__zenc_start(struct mg__zenc *z, const uint8_t *raw, size_t n, uint8_t *out);
/* Code about 'step' more bytes of it (the caller yields to its loop
 * between steps): 0 while some are left, then the frame's size. Stored
 * when deflate does not make it smaller, or while the file being sent
 * has not compressed. */
size_t mg__zenc_step(struct mg__zenc *z, size_t step);
/* A new file starts: worth trying again. */
void mg__zenc_file(struct mg__zenc *z);

typedef void (*mg__zdec_sink_fn)(void *data, const uint8_t *p, size_t n);
struct mg__zdec;
struct mg__zdec *mg__zdec_new(TALLOC_CTX *mem_ctx, mg__zdec_sink_fn sink, void *data);
/* Bytes off the wire; what they decode to goes to the sink. 0, or
 * MG_ERR_PROTOCOL from a bad frame on (nothing more is decoded). */
int mg__zdec_feed(struct mg__zdec *z, const uint8_t *p, size_t n);

/* --- the sending end (file-pack.c) --- */

struct mg__pack;
/* Each receiver ends once: err 0 after the end was sent, else why. */
typedef void (*mg__pack_done_fn)(void *data, size_t idx, int err);
/* Bytes of file data sent so far (progress). */
typedef void (*mg__pack_bytes_fn)(void *data, uint64_t bytes);

struct mg__pack *mg__pack_new(TALLOC_CTX *mem_ctx, struct mg_router *r,
			      const char *const *srcs, uint32_t flags,
			      mg__pack_done_fn done, mg__pack_bytes_fn bytes, void *data);
/* The bytes of the files a pack of 'srcs' with 'flags' sends (hard
 * links once with MG__FILE_LINKS), counted by the same walk without
 * reading them: MG__FILE_NO_TOTAL after 'max' entries. */
uint64_t mg__pack_total(TALLOC_CTX *mem_ctx, const char *const *srcs, uint32_t flags,
			unsigned max);
/* A relay: it sends what mg__pack_relay_feed gives it (at most two
 * windows queued: false when that is full, or the relay has ended), and
 * ends once mg__pack_relay_end was called and the queue is sent. 'bytes'
 * is called as the queue drains. */
struct mg__pack *mg__pack_new_relay(TALLOC_CTX *mem_ctx, struct mg_router *r,
				    mg__pack_done_fn done, mg__pack_bytes_fn bytes, void *data);
bool mg__pack_relay_feed(struct mg__pack *p, const uint8_t *data, size_t n);
size_t mg__pack_relay_queued(const struct mg__pack *p);
void mg__pack_relay_end(struct mg__pack *p);
/* A receiver in context dst; returns its index, or a negative error. Its
 * credit handle is mg__pack_ack(p, idx). */
int mg__pack_add(struct mg__pack *p, uint32_t dst);
uint32_t mg__pack_ack(const struct mg__pack *p, size_t idx);
/* Bytes put on the wire so far (once whatever the number of receivers). */
uint64_t mg__pack_wire_bytes(const struct mg__pack *p);
/* The receiver's data handle is known: it may be sent to. */
void mg__pack_start(struct mg__pack *p, size_t idx, uint32_t h_data);
/* Drop a receiver (it failed); the others go on. */
void mg__pack_drop(struct mg__pack *p, size_t idx, int err);
/* Free 'owner' (from the loop) once no receiver can send credit any
 * more: each ended with an error, or ended and its credit is all back
 * (its late credit is then not "for an unknown handle"), or its context
 * is gone. Now if that is so already. */
void mg__pack_free_when_quiet(struct mg__pack *p, TALLOC_CTX *owner);

/* --- one stream to many targets, at any depth (file-fan.c) --- */

struct mg__fan;
struct mg__fan_cb {
	/* A report of target idx's receiver (ERROR, END, or a relay's
	 * FAILED), its payload as sent, without a relay's id. */
	void (*report)(void *data, size_t idx, const uint8_t *p, size_t n);
	/* Target idx failed here: not reached, refused, lost, cut. */
	void (*failed)(void *data, size_t idx, int err, const char *why);
	/* Bytes read from local sources, or of the stream received (last:
	 * all of it, once, before the receivers can end). */
	void (*bytes)(void *data, uint64_t bytes, bool last);
	/* Every target has ended (from the loop: the fan may be freed). */
	void (*end)(void *data);
	/* Optional: where the targets tix[0..n) part (the deepest context
	 * above or among them), to relay there rather than at the child. */
	uint32_t (*meet)(void *data, const size_t *tix, size_t n);
	void *data;
};

/* A copy of rq's dest, flags and n_top to the contexts 'ids' (n, 1 or
 * more, each this context or one below it, or for the master any);
 * 'group': targets behind one child get one stream relayed there.
 * Then one of the four below starts it. NULL on ENOMEM. */
struct mg__fan *mg__fan_new(TALLOC_CTX *mem_ctx, struct mg_router *r,
			    const struct mg__file_push_req *rq, const uint32_t *ids, size_t n,
			    bool group, const struct mg__fan_cb *cb);
/* Send local 'srcs'. */
int mg__fan_push(struct mg__fan *f, const char *const *srcs);
/* Pass on a stream from context 'from': returns the handle it takes
 * (0 on ENOMEM); its credit goes to mg__fan_in_ack's handle. */
uint32_t mg__fan_relay(struct mg__fan *f, uint32_t from);
void mg__fan_in_ack(struct mg__fan *f, uint32_t h_ack);
/* Pass on 'srcs' at context 'from', asked with "file.pull". */
int mg__fan_pull(struct mg__fan *f, uint32_t from, const char *const *srcs);
/* Have context 'at' (above 'from' and every target, or one of them) do
 * the whole copy of 'srcs' at 'from' ("file.copy"). */
int mg__fan_copy_at(struct mg__fan *f, uint32_t at, uint32_t from, const char *const *srcs);
/* Stop: every target still going fails with 'why' (its receiver drops
 * what it was writing), and the stream received stops. */
void mg__fan_abort(struct mg__fan *f, const char *why);
/* Bytes of the stream put on the wire by a push (once whatever the
 * number of targets). */
uint64_t mg__fan_wire_bytes(const struct mg__fan *f);
/* Ask the source for its total (before mg__fan_pull or mg__fan_copy_at),
 * for a progress bar; mg__fan_total says it once known, else
 * MG__FILE_NO_TOTAL. */
void mg__fan_want_total(struct mg__fan *f);
uint64_t mg__fan_total(const struct mg__fan *f);

/* --- the receiving end (file-unpack.c) --- */

struct mg__unpack;
/* A failure: at_source when the sender could not read 'path' (its name
 * there), else 'path' is where it could not be written here. */
typedef void (*mg__unpack_error_fn)(void *data, bool at_source, const char *path,
				    const char *msg);

/* Receive into 'dest'. NULL with *_errmsg (on mem_ctx) when dest does not
 * fit (missing, not a directory where one is needed). 'umask' counts
 * with MG__FILE_UMASK, else the process's own. */
struct mg__unpack *mg__unpack_new(TALLOC_CTX *mem_ctx, const char *dest, uint32_t flags,
				  uint32_t umask, uint32_t n_top, mg__unpack_error_fn err, void *data,
				  char **_errmsg);
/* Only these first components may be written (a copy of 'names', from
 * mg__file_src_names; "" takes any one name) when dest is a directory
 * the sources go into: a sender cannot put other names beside them. */
int mg__unpack_expect(struct mg__unpack *u, const char *const *names);
/* Bytes of the stream (a channel sink). */
void mg__unpack_feed(void *data, const uint8_t *p, size_t n);
/* The stream ended (err from the channel): finish directories; returns
 * the number of failures, reported through err, including a cut stream. */
unsigned mg__unpack_finish(struct mg__unpack *u, int err);
/* Files and bytes written. */
void mg__unpack_counts(const struct mg__unpack *u, uint64_t *_files, uint64_t *_bytes);
/* File bytes received so far, written or not (progress). */
uint64_t mg__unpack_data_bytes(const struct mg__unpack *u);

/* Register the services in the table of r (agents): file.push and
 * file.pull (svc-file.c), file.relay and file.copy (file-relay.c). */
int mg__svc_file_init(struct mg_router *r);
int mg__svc_file_relay_init(struct mg_router *r);

#endif
