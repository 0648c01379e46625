/*
 * mitogen-cp's work (tool layer): where a CHAIN:PATH word splits, and a
 * copy between this machine and the ends of one or many chains, run to
 * completion on a session the caller owns.
 */
#ifndef MG_TOOL_CP_H
#define MG_TOOL_CP_H

#include <stdbool.h>
#include <stdint.h>
#include <talloc.h>
#include <mitogen/chain.h>
#include <mitogen/session.h>

struct mg_report;

/*
 * Split a command-line word. A word that starts with '/' or '.', or has
 * no ':', is a local path: returns 0 with *_chain NULL. Otherwise it is
 * CHAIN:PATH: the chain ends at the first ':' followed by '/' when the
 * text before it is a chain (an absolute PATH), else at the last ':'
 * whose text before it is a chain (the longest such chain, so
 * "ssh:web1:2222:f" is port 2222 and file f), a PATH that holds ":/"
 * then starting with "./". An empty PATH is ".". Returns 1 with both set
 * (on mem_ctx), or -EINVAL with *_errmsg when no chain ends where it
 * must (the parser's message for the text before the first ":/", else
 * before the last ':').
 */
int mg_cp_split(TALLOC_CTX *mem_ctx, const char *word, char **_chain, char **_path,
		char **_errmsg);

struct mg_cp_opts {
	const struct mg_chain *chains; /* the far side: one or many targets */
	size_t n_chains;
	bool pull;                     /* from the chains, else to them */
	const struct mg_chain *from;   /* not pull: the sources are at the end
					* of this chain (copied through here) */
	const char *const *srcs;       /* local paths (push) or far ones (pull) */
	const char *dest;              /* far path (push) or local one (pull) */
	unsigned flags;                /* MG_FILE_* */
	unsigned connect_timeout_ms;   /* 0 = 30 s */
	unsigned fanout;               /* 0 = 64 */
	unsigned timeout_ms;           /* the whole copy; 0 = none (124 after it) */
	bool progress;                 /* a bar on err_fd (a terminal) */
	bool verbose;                  /* a line per target at its end */
	int err_fd;
	/* Many targets: results and messages go here (names as
	 * mg_report_names gives, for a pull's DEST/NAME too); NULL for one. */
	struct mg_report *report;
	char **names;
};

/*
 * Run the copy, turning the loop of 's' until every target has ended.
 * Returns the exit status: 0, 1 when a file could not be copied, 124
 * when timeout_ms passed first, 255 when a chain could not be set up or
 * was lost (with a report: its rules). Messages go to err_fd or the report.
 */
int mg_cp(TALLOC_CTX *mem_ctx, struct mg_session *s, const struct mg_cp_opts *opts);

#endif
