/* The commands' signal watchers: see signals.h. */
#include <errno.h>
#include <signal.h>
#include "signals.h"

int mg_watch_signals(TALLOC_CTX *mem_ctx, struct mg_loop *loop, const int *sigs, size_t n,
		     mg_signal_cb cb, void *data)
{
	for (size_t i = 0; i < n; i++) {
		struct sigaction sa;

		if (sigaction(sigs[i], NULL, &sa) == 0 && sa.sa_handler == SIG_IGN) {
			continue;
		}
		if (mg_signal_new(mem_ctx, loop, sigs[i], cb, data) == NULL) {
			return -ENOMEM;
		}
	}
	return 0;
}
