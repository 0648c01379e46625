/* Target lists as commands take them: -w, -x, files and stdin. */
#ifndef MITOGEN_TARGETS_H
#define MITOGEN_TARGETS_H

#include <talloc.h>
#include "mitogen/chain.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Bounds on target files (and stdin): an endless or binary one is a
 * usage error, not a reason to read forever. */
#define MG_TARGETS_LINE_MAX 65536        /* bytes in one line */
#define MG_TARGETS_FILE_MAX (64u << 20)  /* bytes read from one file */

/*
 * Build the target list from 'includes' (each a target expression, "^FILE"
 * for one expression per line of FILE — blank lines and '#' comments
 * skipped — or "-" for the same read from stdin) minus 'excludes' (target
 * expressions or "^FILE"; a target goes when its chain text, or the last
 * host in it, matches one of them). Duplicates keep their first place.
 * At most 100,000 targets in all, MG_TARGETS_LINE_MAX bytes a line and
 * MG_TARGETS_FILE_MAX bytes a file (-E2BIG, -EFBIG; a NUL byte: -EINVAL).
 * Returns 0, or MG_ERR_CHAIN / a negative errno with *_errmsg naming what
 * failed ("file hosts.txt: line 3: column 5: ...").
 */
int mg_targets_build(TALLOC_CTX *mem_ctx, const char *const *includes,
		     const char *const *excludes, struct mg_chain_list **_list, char **_errmsg);

#ifdef __cplusplus
}
#endif

#endif
