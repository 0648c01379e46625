/* The agent's own entry points, past mg_agent_main. */
#ifndef MG_AGENT_PRIV_H
#define MG_AGENT_PRIV_H

#include "boot.h"

/* A fork hop's child (conn.h's mg_run_agent_fn): serve as an agent on
 * fds 0/1 until the parent goes, with the parent's image, already in
 * memory, as its own. Returns the exit status. */
int mg__agent_run_forked(const struct mg_image *image);

#endif
