/* Exec events as the master reads them: see protocol.h (enum
 * mg_exec_event) and svc-exec.c. Exposed for tests/fuzz. */
#ifndef MG_EXEC_EVENT_H
#define MG_EXEC_EVENT_H

#include <stddef.h>
#include <stdint.h>
#include <talloc.h>

/*
 * Decode one event: *_type, then by type STARTED v[0..4] (pid, h_stdin,
 * h_stdout_ack, h_stderr_ack, h_ctl), EXITED v[0] (wait status), FAILED
 * v[0] (errno), v[1] (the status to end with, 0 when not given) and *_what
 * (the message on mem_ctx, or NULL). An unknown
 * type decodes to its type alone. Returns 0 or MG_ERR_PROTOCOL.
 */
int mg__exec_event_decode(TALLOC_CTX *mem_ctx, const uint8_t *p, size_t n, uint8_t *_type,
			  uint32_t v[5], char **_what);

#endif
