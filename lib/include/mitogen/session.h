/*
 * The master side: a session owns the router of context 0 and every hop it
 * connects. Hops are shared: chains with a common prefix reuse the
 * contexts already connected for it.
 */
#ifndef MITOGEN_SESSION_H
#define MITOGEN_SESSION_H

#include <talloc.h>
#include "mitogen/chain.h"
#include "mitogen/loop.h"

struct mg_session;
struct mg_context;

/* A session on 'loop', or NULL on ENOMEM. */
struct mg_session *mg_session_new(TALLOC_CTX *mem_ctx, struct mg_loop *loop);
struct mg_loop *mg_session_loop(const struct mg_session *s);
/* At most 'fanout' hops connecting at once under any one parent (the
 * master, or each gateway's agent); 0 means the default, 64. */
void mg_session_set_fanout(struct mg_session *s, unsigned fanout);

/*
 * Shut down every first hop (mg_context_shutdown), and with them every
 * context of the session. timeout_ms 0 returns at once; otherwise the
 * loop runs until every first hop is gone and its process reaped, or
 * timeout_ms pass (< 0: no bound; agents end within seconds, or are
 * killed). Returns 0, MG_ERR_TIMEOUT, MG_ERR_CANCELLED (the loop was
 * stopped), or -EDEADLK when waiting from inside a loop callback (where
 * 0 is the only timeout allowed). The session stays usable: a later
 * mg_connect connects anew.
 */
int mg_session_shutdown(struct mg_session *s, int timeout_ms);

struct mg_connect_opts {
	unsigned timeout_ms; /* per hop, including login and become; 0 = 30 s */
};

/* err 0: ctx is the end of the chain. Otherwise errmsg names the failing
 * hop ("local/local: hop exited with status 1 before the agent was up").
 * It holds text from far ends as it came: escape it (mg_log_escape) to
 * print it. Called once, never from inside mg_connect. */
typedef void (*mg_connect_cb)(struct mg_context *ctx, int err, const char *errmsg, void *data);

/* Connect every hop of 'chain'. Returns 0 (cb will be called) or a
 * negative error with *_errmsg set on mem_ctx (cb will not be called).
 * From this call on, no process the library starts inherits a variable
 * a hop names with password_env=: give every chain before running the
 * loop, so that even a local agent for another chain lacks it. */
int mg_connect(TALLOC_CTX *mem_ctx, struct mg_session *s, const struct mg_chain *chain,
	       const struct mg_connect_opts *opts, mg_connect_cb cb, void *data, char **_errmsg);

/* The chain text that leads to 'ctx'. */
const char *mg_context_name(const struct mg_context *ctx);

/* One line per hop, "HOP: ARGV", as each hop would be started. */
int mg_dry_run(TALLOC_CTX *mem_ctx, const struct mg_chain *chain, char ***_lines, char **_errmsg);

/* The same for n chains, each line given to 'line' (which returns 0, or
 * an error that stops the run and is returned); the agent image is read
 * once, so 100,000 chains cost no more each than one. */
int mg_dry_run_list(TALLOC_CTX *mem_ctx, const struct mg_chain *chains, size_t n,
		    int (*line)(void *data, const char *text), void *data, char **_errmsg);

#endif
