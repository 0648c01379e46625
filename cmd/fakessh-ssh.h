/* fakessh and the real ssh (cmd/fakessh-ssh.c). */
#ifndef MG_CMD_FAKESSH_SSH_H
#define MG_CMD_FAKESSH_SSH_H

#include <stdbool.h>
#include <talloc.h>
#include "ssh-opts.h"

/*
 * Mark the environment the hops' ssh processes inherit with this
 * program's file (and those already marked): 0 or a negative errno.
 * unmark: for a program that is no hop's ssh (fakessh run's PROGRAM).
 */
int mg_fakessh_mark_hops(void);
void mg_fakessh_unmark_hops(void);

/*
 * With fakessh (a link or a copy) named "ssh" first in PATH, the ssh of
 * every ssh hop would be fakessh again, each starting the next, without
 * end. When this fakessh is such a hop's ssh, exec the first ssh in PATH
 * that is no fakessh; true (with a message printed) when that failed,
 * false when this is no hop's ssh.
 */
bool mg_fakessh_hand_over(TALLOC_CTX *ctx, char **argv);

/*
 * -Q and -O are questions for the local ssh (the one the first ssh hop
 * runs): what it supports, and its control master. Exec it with the
 * question ('text': DEST's chain, for -O); returns only on failure, 255.
 */
int mg_fakessh_ask_ssh(TALLOC_CTX *ctx, const struct mg_ssh_cmdline *o, const char *text);

/*
 * -G with an ssh hop: the local ssh's own -G for the first ssh hop of
 * 'text' (host, user, port, the ssh options given), on our stdout; its
 * exit status, or -1 when there is no such hop or no ssh to ask.
 */
int mg_fakessh_ssh_dump(TALLOC_CTX *ctx, const struct mg_ssh_cmdline *o, const char *text);

#endif
