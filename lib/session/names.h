/*
 * A set of chain prefixes by name ("ssh:a", "ssh:a/sudo"): the session
 * notes every prefix some chain goes through, so that the last hop of
 * another may get the exec-only agent only when no chain needs it as a
 * parent (docs/PROTOCOL.md 2.3.2).
 */
#ifndef MG_NAMES_H
#define MG_NAMES_H

#include <stdbool.h>
#include <stddef.h>
#include <talloc.h>

struct mg_names;

/* The FNV-1a hash the session's tables use for names. */
size_t mg__name_hash(const char *name);

struct mg_names *mg__names_new(TALLOC_CTX *mem_ctx);
/* Add 'name' (copied) unless present: 0, or -ENOMEM. */
int mg__names_add(struct mg_names *set, const char *name);
bool mg__names_has(const struct mg_names *set, const char *name);

#endif
