/* What this host says about running a command: see exec-host.c. */
#ifndef MG_EXEC_HOST_H
#define MG_EXEC_HOST_H

#include <stdbool.h>

/* Whether /etc/shells lists SHELL (without the file: /bin/sh, /bin/csh). */
bool mg__shells_list(const char *shell);
/* Whether a command may enter DIR: 0, or the negative errno chdir would
 * give (checked first, so that a missing directory is not taken for a
 * missing command). */
int mg__dir_enterable(const char *dir);

#endif
