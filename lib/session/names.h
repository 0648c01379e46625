/*
 * A set of names ("ssh:a", "local"): the session notes each first hop
 * that some chain needs the whole agent at (it goes on below it, or was
 * not given exec_only), so that the hop gets the exec-only agent only
 * when none does (docs/PROTOCOL.md 2.3.2).
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
