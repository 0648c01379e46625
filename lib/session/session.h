/* Session internals shared with exec.c. */
#ifndef MG_SESSION_PRIV_H
#define MG_SESSION_PRIV_H

#include "mitogen/session.h"
#include "router.h"

struct mg_images;

/* A program registered for mitogen-exec. */
struct mg_program {
	uint32_t id;
	uint64_t size;
	uint32_t machine; /* ELF e_machine, 0 for a script */
};

struct mg_router *mg__session_router(const struct mg_session *s);
struct mg_images *mg__session_images(const struct mg_session *s);
uint32_t mg__session_next_program(struct mg_session *s);
/* A context id never given before (attached processes: unix.c). */
uint32_t mg__session_new_id(struct mg_session *s);
uint32_t mg__context_id(const struct mg_context *ctx);
struct mg_session *mg__context_session(const struct mg_context *ctx);
/* The previous hop's context, NULL for a first hop. */
struct mg_context *mg__context_parent(const struct mg_context *ctx);

#endif
