/*
 * Code at the far end, in C: a program that mg_exec_start pushes and
 * runs at a chain end with opts.join set (mitogen-exec never asks for a
 * join) joins its agent's router as a child context, registers
 * services, and answers the master's calls.
 *
 * The agent starts the program with MITOGEN_FD=N in its environment: N is
 * a socket to the agent. mg_worker_join takes it over (and unsets the
 * variable, so the program's own children do not see it), answers the
 * agent's HELLO and returns a router for the new context. The program
 * then registers services (mitogen/service.h) or receivers on it and runs
 * its loop. The docs/PROTOCOL.md sections 5.3 and 5.8 give the wire side.
 *
 * The worker is a child of its agent like any hop: it answers what its
 * ancestors ask and can never command them (a call it makes to a parent's
 * service is refused by policy); it cannot announce contexts below it.
 * When the link to the agent ends (the agent, or a hop above it, went
 * away), the loop is stopped (mg_loop_stop(loop, 0)), and the router can
 * only be freed.
 */
#ifndef MITOGEN_WORKER_H
#define MITOGEN_WORKER_H

#include <stdbool.h>
#include <talloc.h>
#include "mitogen/loop.h"
#include "mitogen/router.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Whether this process was started to join (MITOGEN_FD is set). */
bool mg_worker_is_joining(void);

/*
 * Join the agent that started this process: take MITOGEN_FD, wait for
 * HELLO (running 'loop', 10 s at most) and answer it. *_r is the new
 * context's router, a child of mem_ctx. Returns 0; -ENOENT (no or a bad
 * MITOGEN_FD: not started to join); MG_ERR_PROTOCOL, MG_ERR_VERSION,
 * MG_ERR_DISCONNECTED (the link closed), MG_ERR_TIMEOUT; -EDEADLK from
 * inside a loop callback; or another negative errno.
 */
int mg_worker_join(TALLOC_CTX *mem_ctx, struct mg_loop *loop, struct mg_router **_r);

#ifdef __cplusplus
}
#endif

#endif
