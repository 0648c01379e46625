/* What this host says about running a command: see exec-host.c. */
#ifndef MG_EXEC_HOST_H
#define MG_EXEC_HOST_H

#include <stdbool.h>
#include <stddef.h>

/* Whether /etc/shells lists SHELL (without the file: /bin/sh, /bin/csh). */
bool mg__shells_list(const char *shell);
/* Whether a command may enter DIR: 0, or the negative errno chdir would
 * give (checked first, so that a missing directory is not taken for a
 * missing command). */
int mg__dir_enterable(const char *dir);
/* Into out: why a pushed program (its copy open on fd; a #! script or
 * an ELF program) got ENOENT from execve, "ARGV0: ...". */
void mg__image_enoent(char *out, size_t n, int fd, bool script, const char *argv0);

#endif
