/*
 * One input read once and sent to the stdin of many commands (mg_exec
 * with mg_exec_opts.stdin_bcast), in bounded memory: a chunk is read only
 * when every live target has room for it in its channel window, so the
 * slowest target sets the pace and nothing is buffered for anyone.
 *
 * Single-threaded: call everything from the thread that runs the loop.
 */
#ifndef MITOGEN_BCAST_H
#define MITOGEN_BCAST_H

#include <talloc.h>
#include "mitogen/session.h"

#ifdef __cplusplus
extern "C" {
#endif

struct mg_bcast;
struct mg_bcast_target;

/*
 * Read 'fd' (owned: closed when the broadcast is freed; made non-blocking
 * meanwhile, its flags restored before it is closed) for the targets added
 * with mg_bcast_add(), through the loop of session 's'. Reading starts
 * once every target added has started its command or been dropped, and
 * stops at EOF (each target gets EOF) or when no target is left. Freed
 * before its EOF, it gives each target EOF then; an exec may outlive it.
 * Returns NULL on ENOMEM (the fd is then left open).
 */
struct mg_bcast *mg_bcast_new(TALLOC_CTX *mem_ctx, struct mg_session *s, int fd);

/*
 * A new target, to be given to one mg_exec_start() as opts.stdin_bcast;
 * add every target before running the loop. Owned by 'b'. Returns NULL on
 * ENOMEM.
 */
struct mg_bcast_target *mg_bcast_add(struct mg_bcast *b);

/*
 * Target 't' will read no more (its command ended, failed or will never
 * start): the others no longer wait for it. The exec using it drops it
 * itself when it finishes; calling this again is harmless.
 */
void mg_bcast_drop(struct mg_bcast_target *t);

#ifdef __cplusplus
}
#endif

#endif
