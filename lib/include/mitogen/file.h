/*
 * Copying files and trees to and from chain ends (mitogen-cp), over the
 * file service of the agents (docs/PROTOCOL.md section 5.9).
 *
 * A copy is one stream of records on a flow-controlled byte channel: no
 * round trip per file, memory bounded by the channel window whatever the
 * size. The receiving end writes each file beside its target (an
 * unnamed file, or a temporary one), checks its size and checksum,
 * fsyncs it and renames it over the target: a failure leaves the old
 * file as it was and no partial file. Names from the far end of a pull
 * never lead outside the destination.
 */
#ifndef MITOGEN_FILE_H
#define MITOGEN_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <talloc.h>
#include "mitogen/session.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MG_FILE_RECURSIVE 0x01u /* copy directories and what they hold */
#define MG_FILE_PRESERVE  0x02u /* mode and times; owner when root at the receiver */
#define MG_FILE_LINKS     0x04u /* symlinks as symlinks, hard links within the copy */
#define MG_FILE_SPARSE    0x08u /* runs of zero blocks become holes */
#define MG_FILE_INTO      0x10u /* dest names a directory (DEST/): no file goes as it */
#define MG_FILE_COMPRESS  0x20u /* deflate the stream (data that does not shrink goes as it is) */
#define MG_FILE_UMASK     0x40u /* new files' modes less opts.umask, not the receiver's umask */
#define MG_FILE_NO_RELAY  0x100u /* a stream from here to each target (benchmarks) */

/* Free a copy (talloc_free) to stop it, from any of its callbacks as
 * well: none comes after that. */
struct mg_file_copy;

struct mg_file_opts {
	unsigned flags; /* MG_FILE_* */
	/* With MG_FILE_UMASK: the umask new files get at the receiver (a
	 * holder's agent, which has the holder's, copying for a client). */
	unsigned umask;
	/* A file that could not be copied to target 'idx', 'msg' says why:
	 * at_source when it could not be read ('path' as the sending side
	 * names it), else where it could not be written ('path' as the
	 * receiving side names it). */
	void (*on_error)(size_t idx, bool at_source, const char *path, const char *msg,
			 void *data);
	/* Target 'idx' has ended, once each, never from inside the call that
	 * started it: err 0 (its file failures went to on_error), or a
	 * negative error with errmsg, naming the hop (not reached, refused,
	 * lost while copying). */
	void (*on_done)(size_t idx, int err, const char *errmsg, void *data);
	/* File bytes sent (a push: once for every target) or received. */
	void (*on_bytes)(uint64_t bytes, void *data);
	void *data;
	/* A pull or a transfer: the bytes of files the source will send, at
	 * most once, when it could count them (at most 20,000 entries). Set,
	 * it asks the source to count. */
	void (*on_total)(uint64_t total, void *data);
};

/*
 * Copy local 'srcs' (a NULL-terminated list) to 'dest' at every context
 * of 'ctxs' (n of them, targets 0 to n-1): each source is read once and
 * sent to all, at the pace of the slowest. With more than one source,
 * dest must be a directory there; else dest names the copy unless it is
 * an existing directory (with MG_FILE_INTO, only a directory's copy).
 * NULL on ENOMEM.
 */
struct mg_file_copy *mg_file_push(TALLOC_CTX *mem_ctx, struct mg_context *const *ctxs, size_t n,
				  const char *const *srcs, const char *dest,
				  const struct mg_file_opts *opts);

/*
 * Copy 'srcs' at context 'ctx' to the local 'dest' (target 0), with the
 * same rules for dest. NULL with *_errmsg (on mem_ctx) when dest does
 * not fit, or on ENOMEM.
 */
struct mg_file_copy *mg_file_pull(TALLOC_CTX *mem_ctx, struct mg_context *ctx,
				  const char *const *srcs, const char *dest,
				  const struct mg_file_opts *opts, char **_errmsg);

/*
 * Copy 'srcs' at context 'from' to 'dest' at each of 'ctxs' (n of them,
 * targets 0 to n-1). When they all share a hop, the deepest context
 * above them all (or among them) does the copy: the stream never comes
 * here. Else it passes through this process as it comes. Either way at
 * the pace of the slowest target, in bounded memory; errors at_source
 * name paths at 'from'. NULL on ENOMEM.
 */
struct mg_file_copy *mg_file_transfer(TALLOC_CTX *mem_ctx, struct mg_context *from,
				      const char *const *srcs, struct mg_context *const *ctxs,
				      size_t n, const char *dest, const struct mg_file_opts *opts);

/*
 * Bytes so far: *_bytes of files sent or received (as on_bytes gives),
 * *_wire of the stream here, after compression with MG_FILE_COMPRESS (a
 * push counts them once whatever the number of targets). A transfer
 * does not decode the stream: both are its bytes.
 */
void mg_file_stats(const struct mg_file_copy *fc, uint64_t *_bytes, uint64_t *_wire);

#ifdef __cplusplus
}
#endif

#endif
