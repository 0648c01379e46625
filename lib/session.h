/* Session internals shared with exec.c. */
#ifndef MG_SESSION_PRIV_H
#define MG_SESSION_PRIV_H

#include "mitogen/session.h"
#include "router.h"

struct mg_router *mg__session_router(const struct mg_session *s);
uint32_t mg__context_id(const struct mg_context *ctx);
struct mg_session *mg__context_session(const struct mg_context *ctx);

#endif
