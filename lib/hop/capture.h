/*
 * Run a short helper command from the loop and collect what it prints:
 * its stdout and stderr together, up to a bound, then its wait status.
 * For the questions a method asks before it starts a hop (ssh -G), which
 * must never block the loop.
 */
#ifndef MG_CAPTURE_H
#define MG_CAPTURE_H

#include <stddef.h>
#include <sys/types.h>
#include <talloc.h>

struct mg_loop;
struct mg_capture;

/* Called once, from the loop: err 0 with the wait status and the output
 * (NUL-terminated, cut at 64 KiB), or -ETIMEDOUT when the command did not
 * end within its time (it is killed). */
typedef void (*mg_capture_fn)(void *data, int err, int status, const char *out);

/* Start argv[0] (searched in PATH) with stdin on /dev/null. 0 with
 * *_cap (free it to cancel; the command is killed and reaped), or a
 * negative errno when it cannot be started. */
int mg__capture_start(TALLOC_CTX *mem_ctx, struct mg_loop *loop, const char *const *argv,
		      unsigned timeout_ms, mg_capture_fn fn, void *data, struct mg_capture **_cap);

/* The command's pid while it runs; 0 once it is reaped. */
pid_t mg__capture_pid(const struct mg_capture *cap);

#endif
