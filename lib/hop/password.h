/* Passwords for hops: from options, or asked on the terminal. Secrets are
 * talloc strings wiped when freed; they never go into argv, the
 * environment of children, or logs. */
#ifndef MG_PASSWORD_H
#define MG_PASSWORD_H

#include <talloc.h>
#include "mitogen/chain.h"

/* From password_env= (a variable of this process) or password_file= (the
 * first line of a file on this host). 0 with *_pw NULL when neither is
 * given; a negative error with *_errmsg when the one given is unusable. */
int mg__password_from_options(TALLOC_CTX *mem_ctx, const struct mg_hop *hop, char **_pw,
			      char **_errmsg);

/* Ask on the controlling terminal with echo off. NULL with *_errmsg when
 * there is no terminal or nothing was typed. */
char *mg__password_ask_tty(TALLOC_CTX *mem_ctx, const char *label, char **_errmsg);

#endif
