/*
 * Persistent chains (--persist, MITOGEN_PERSIST): one background holder
 * per user keeps a session and every hop it connected, serves it on a
 * privileged socket in mg_unix_dir() (persist.sock, with persist.lock
 * beside it), and exits after an idle time with no client attached. The
 * commands attach to it instead of connecting their own hops.
 */
#ifndef MG_TOOL_PERSIST_H
#define MG_TOOL_PERSIST_H

#include <talloc.h>
#include <mitogen/mitogen.h>

/* The idle time when none is given: 10 minutes. */
#define MG_PERSIST_IDLE_DEFAULT_MS (600u * 1000)

struct mg_persist_opts {
	unsigned idle_ms; /* a holder started now exits after this long unused */
	int verbose;      /* > 0: a holder started now logs to persist.log */
};

/*
 * Attach to this user's holder, starting one when none accepts on the
 * socket (none yet, or a stale socket); two commands starting at once
 * end with one holder. A socket that is not ours or is open to others
 * is refused (-EPERM). Returns 0 with *_s (an attached session on
 * mem_ctx), or a negative code with *_errmsg on mem_ctx.
 */
int mg_persist_attach(TALLOC_CTX *mem_ctx, struct mg_loop *loop,
		      const struct mg_persist_opts *o, struct mg_session **_s, char **_errmsg);

enum mg_persist_op {
	MG_PERSIST_LIST = 1,  /* the holder and the chains held */
	MG_PERSIST_CHECK = 2, /* whether 'target' is held */
	MG_PERSIST_STOP = 3,  /* stop 'target's hops, or the holder (NULL) */
	MG_PERSIST_IDLE = 4,  /* (a command's own) raise the idle time */
};

/*
 * Ask the running holder (never start one): 'target' is a canonical
 * chain text, or NULL. What it answers is printed on stdout. Returns 0,
 * or 1 (no holder, or the chain not held) with *_errmsg (on mem_ctx)
 * saying so or what failed.
 */
int mg_persist_control(TALLOC_CTX *mem_ctx, enum mg_persist_op op, const char *target,
		       char **_errmsg);

#endif
