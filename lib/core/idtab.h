/*
 * A hash table of intrusive entries keyed by a 32-bit context id, for the
 * router's routes, route expectations and watches: O(1) on average per
 * lookup however many contexts a session holds, so no child can make
 * every message slower by announcing many of them.
 *
 * Entries embed a struct mg__ident and belong to their owner; the table
 * only links them. Several entries may share an id (watches).
 */
#ifndef MG_IDTAB_H
#define MG_IDTAB_H

#include <stddef.h>
#include <stdint.h>
#include <talloc.h>

struct mg__ident {
	struct mg__ident *next;
	uint32_t id;
};

struct mg__idtab {
	struct mg__ident **b;
	size_t mask;	/* bucket count - 1, a power of two minus one */
	size_t n;
};

/* The bucket array is allocated under mem_ctx. Returns 0 or -ENOMEM. */
int mg__idtab_init(TALLOC_CTX *mem_ctx, struct mg__idtab *t);
/* The first entry with 'id', or NULL; mg__idtab_next() gives the others. */
struct mg__ident *mg__idtab_find(const struct mg__idtab *t, uint32_t id);
struct mg__ident *mg__idtab_next(const struct mg__ident *e);
/* Link 'e'. The table grows under mem_ctx as it fills; when that
 * allocation fails it keeps its size (slower, still correct). */
void mg__idtab_add(TALLOC_CTX *mem_ctx, struct mg__idtab *t, struct mg__ident *e);
/* Unlink 'e' if linked; harmless otherwise. */
void mg__idtab_del(struct mg__idtab *t, struct mg__ident *e);
/* Every entry, in no particular order, into a new talloc array of
 * pointers under mem_ctx (so callers may unlink while they walk it). */
struct mg__ident **mg__idtab_list(TALLOC_CTX *mem_ctx, const struct mg__idtab *t, size_t *_n);

#endif
