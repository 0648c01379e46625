/* Target lists as commands take them: -w, -x, files and stdin. */
#ifndef MITOGEN_TARGETS_H
#define MITOGEN_TARGETS_H

#include <talloc.h>
#include "mitogen/chain.h"

/*
 * Build the target list from 'includes' (each a target expression, "^FILE"
 * for one expression per line of FILE — blank lines and '#' comments
 * skipped — or "-" for the same read from stdin) minus 'excludes' (target
 * expressions or "^FILE"; a target goes when its chain text, or the last
 * host in it, matches one of them). Duplicates keep their first place.
 * Returns 0, or MG_ERR_CHAIN / a negative errno with *_errmsg naming what
 * failed ("file hosts.txt: line 3: column 5: ...").
 */
int mg_targets_build(TALLOC_CTX *mem_ctx, const char *const *includes,
		     const char *const *excludes, struct mg_chain_list **_list, char **_errmsg);

#endif
