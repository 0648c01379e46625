/*
 * Broadcasting one input (stdin) to many targets over byte channels,
 * reading it once, in bounded memory: a chunk is read only when every
 * live target has room for it, so the slowest target sets the pace and
 * nothing is buffered for anyone.
 */
#ifndef MG_BCAST_H
#define MG_BCAST_H

#include <stdint.h>
#include "router.h"

struct mg_bcast;
struct mg_bcast_target;

/* Read 'fd' (owned, closed at the end) for targets added below. */
struct mg_bcast *mg__bcast_new(TALLOC_CTX *mem_ctx, struct mg_router *r, int fd, uint32_t window);
/* A target, added before reading may begin: reading waits until every
 * target added has started or been dropped. */
struct mg_bcast_target *mg__bcast_add(struct mg_bcast *b);
/* The target's context is known: its credit comes back on the ack handle
 * registered now. Returns 0 or -ENOMEM. */
int mg__bcast_bind(struct mg_bcast_target *t, uint32_t dst);
uint32_t mg__bcast_ack_handle(const struct mg_bcast_target *t);
/* The target's stdin handle is known: it may be sent data. */
void mg__bcast_start(struct mg_bcast_target *t, uint32_t handle);
/* The target is gone (failed, ended, or will never start). */
void mg__bcast_drop(struct mg_bcast_target *t);

#endif
