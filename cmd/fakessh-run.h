/* fakessh run: one chain set up once for every ssh a program starts. */
#ifndef MG_CMD_FAKESSH_RUN_H
#define MG_CMD_FAKESSH_RUN_H

#include <talloc.h>

/* "fakessh run [OPTIONS] CHAIN -- PROGRAM [ARG...]"; argv[0] is "run".
 * Returns the exit status. */
int mg_fakessh_run_main(int argc, char **argv);

/* The chain of the "fakessh run" this fakessh was started under (from
 * its environment), or NULL. */
const char *mg_fakessh_run_chain(void);

/*
 * Under "fakessh run": the chain for DEST's resolved text 'text' ("." is
 * the run's chain end, anything else is reached from there), and the
 * runner told to attach to the run's socket. Otherwise 'text' itself.
 * NULL on ENOMEM.
 */
char *mg_fakessh_run_dest(TALLOC_CTX *mem_ctx, char *text);

#endif
