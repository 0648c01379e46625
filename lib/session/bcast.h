/*
 * Broadcasting one input (stdin) to many targets over byte channels: the
 * public side is mitogen/bcast.h; these are the calls of the exec client
 * (exec.c), which binds each target to its command's channels.
 */
#ifndef MG_BCAST_H
#define MG_BCAST_H

#include <stdint.h>
#include "mitogen/bcast.h"
#include "router.h"

/* The target's context is known: its credit comes back on the ack handle
 * registered now. Returns 0 or -ENOMEM. */
/* '*user' (the exec's pointer to t) is cleared if the broadcast is freed
 * first; mg__bcast_drop lets go of it. */
int mg__bcast_bind(struct mg_bcast_target *t, uint32_t dst, struct mg_bcast_target **user);
uint32_t mg__bcast_ack_handle(const struct mg_bcast_target *t);
/* The target's stdin handle is known: it may be sent data. */
void mg__bcast_start(struct mg_bcast_target *t, uint32_t handle);
/* The target is gone: mg_bcast_drop, and its exec lets go of it. */
void mg__bcast_drop(struct mg_bcast_target *t);

#endif
