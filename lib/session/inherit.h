/* A command's share of its caller's state through a holder (inherit.c). */
#ifndef MG_INHERIT_H
#define MG_INHERIT_H

#include <talloc.h>
#include "mitogen/exec.h"
#include "svc-exec.h"

/* Fill rq for 'in': cwd (when the request has none), and for ALL the
 * umask and our environment with env (K=V) on top, on mem_ctx. 0 or
 * -ENOMEM. */
int mg__exec_inherit(TALLOC_CTX *mem_ctx, enum mg_exec_inherit in, const char *const *env,
		     struct mg__exec_req *rq);

#endif
