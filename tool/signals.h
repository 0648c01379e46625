/* The commands' signal watchers (tool layer). */
#ifndef MG_TOOL_SIGNALS_H
#define MG_TOOL_SIGNALS_H

#include <stddef.h>
#include <talloc.h>
#include <mitogen/loop.h>

/*
 * Watch each of the n signals in sigs through 'loop' (mg_signal_new),
 * but for those ignored when we started (nohup's SIGHUP, a background
 * job's SIGINT): they stay ignored, as ssh and the shells leave them;
 * watched, they would arrive, since a watched signal is blocked.
 * Returns 0 or -ENOMEM.
 */
int mg_watch_signals(TALLOC_CTX *mem_ctx, struct mg_loop *loop, const int *sigs, size_t n,
		     mg_signal_cb cb, void *data);

#endif
