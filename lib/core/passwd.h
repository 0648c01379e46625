/* Our user's passwd entry, read by hand where getpwuid costs too much:
 * see passwd.c. */
#ifndef MG_PASSWD_H
#define MG_PASSWD_H

#include <stdbool.h>
#include <stddef.h>

/* /etc/passwd into db (at most cap - 1 bytes; a last line cut short by
 * that is left out, not read as whole). Its length, or -1 without it. */
long mg__passwd_read(char *db, size_t cap);
/* Field 'field' (5: the home, 6: the shell) of the entry of 'uid' in the
 * len bytes of /etc/passwd at db, into buf; NULL when there is none or
 * it does not fit. By hand, for the agents: musl's getpwuid brings
 * getdelim and an nscd client (3.5 KB). An entry NSS alone knows (LDAP)
 * is what sshd, su and sudo put in $HOME and $SHELL: callers fall back
 * on those. */
const char *mg__passwd_field(const char *db, long len, unsigned long uid, int field, char *buf,
			     size_t cap);
/* Field 5 (the home) or 6 (the login shell) of our user's entry, into
 * buf; else $HOME or $SHELL, which sshd, su and sudo set from it; NULL
 * when neither. In the static agent /etc/passwd is read by hand (above);
 * elsewhere getpwuid, NSS included. */
const char *mg__user_field(int field, char *buf, size_t cap);

#endif
