/*
 * Quick acknowledgements for an ssh login: the hop's process reads ssh's
 * stderr, and mitogen-connect hands it a copy of the TCP socket it gave
 * ssh (cmd/mitogen-connect.c). sshd turns TCP_NODELAY on only once the
 * session starts; until then, a reply of two small packets holds the
 * second back (Nagle's algorithm) until the first is acknowledged, and
 * Linux delays that acknowledgement up to 40 ms once the connection looks
 * interactive, as every login does: one such wait per login, seen here.
 * TCP_QUICKACK undoes the delay but does not stick, so it is set again at
 * each arrival until the session has started (the first stage's first
 * word), when the copy is closed.
 */
#ifndef MG_QUICKACK_H
#define MG_QUICKACK_H

#include <stdbool.h>
#include <talloc.h>
#include "mitogen/loop.h"

struct mg_quickack;

/*
 * Watch fd, which it now owns: NULL (fd closed) unless it is a TCP socket,
 * or on failure. Freeing it stops the watch and closes fd; it never keeps
 * the loop alive, never reads the socket, and stops by itself when the
 * connection is shut down.
 */
struct mg_quickack *mg__quickack_new(TALLOC_CTX *mem_ctx, struct mg_loop *loop, int fd);
/* How many arrivals were acknowledged at once so far. */
unsigned mg__quickack_count(const struct mg_quickack *q);

#endif
