/*
 * What each first hop of a session gets, decided from every chain given
 * before the loop runs: the exec-only agent (docs/PROTOCOL.md 2.3.2), and
 * sudo run in an ssh hop's own command (2.3.3). A run (session.c) and
 * --dry-run (dry-run.c) both ask here, so that a dry run shows what a run
 * starts.
 */
#ifndef MG_PLAN_H
#define MG_PLAN_H

#include <stdbool.h>
#include <talloc.h>
#include "mitogen/chain.h"

struct mg_image;
struct mg_names;

/* Zeroed: no chain noted yet. The sets are allocated on the owner given
 * to mg__plan_note. */
struct mg_plan {
	struct mg_names *whole;      /* first hops some chain needs whole */
	/* First hops of "ssh:H/sudo" chains, those chains, and the first
	 * hops some other chain names. */
	struct mg_names *fuse_firsts, *fuse_chains, *unfused;
};

/* Note a chain given (exec_only as in mg_connect_opts): 0 or -ENOMEM. */
int mg__plan_note(TALLOC_CTX *owner, struct mg_plan *p, const struct mg_chain *chain,
		  bool exec_only);
/* Whether FIRST, the first hop of CHAIN, may get the exec-only agent
 * (when one is at hand). */
bool mg__plan_lite(const struct mg_plan *p, const struct mg_chain *chain, bool exec_only,
		   const char *first);
/* The image a first hop of CHAIN gets where it may get the exec-only
 * agent: the leaf agent (leaf as in mg_connect_opts) where the chain
 * takes it (its image is pushed, not a local hop exec'd in place, and no
 * descriptors go down its link: not sudo or doas, PROTOCOL 3.1) and one
 * is at hand beside an exec-only agent; else the exec-only agent; NULL
 * when there is none. session.c and --dry-run both choose here. */
const struct mg_image *mg__plan_exec_image(struct mg_image *full, const struct mg_chain *chain,
					   bool leaf);
/* Whether FIRST, the first hop of CHAIN, may run its sudo hop in its own
 * command (when the exec-only agent is at hand and the method can). */
bool mg__plan_fused(const struct mg_plan *p, const struct mg_chain *chain, bool exec_only,
		    const char *first);

#endif
