/*
 * Hop chains: "local/local", "ssh:web1/sudo:root?set_home=1", host lists,
 * top-level commas. See mitogen-chain(7).
 */
#ifndef MITOGEN_CHAIN_H
#define MITOGEN_CHAIN_H

#include <stddef.h>
#include <talloc.h>

#ifdef __cplusplus
extern "C" {
#endif

struct mg_hop_opt {
	char *key;
	char *value; /* percent-decoded */
};

struct mg_hop {
	char *method;  /* canonical method name: "local", "ssh", "sudo", ... */
	char *spec;    /* decoded text after "method:", "" when absent */
	char *user;    /* "user@" part or sudo/su user; NULL when absent */
	char *host;    /* host, container, pod or jail; NULL when absent */
	int port;      /* 0 when absent */
	struct mg_hop_opt *opts; /* in the order written; lists repeat keys */
	size_t n_opts;
	char *text;    /* canonical text of this hop, e.g. "ssh:web1:2222" */
};

struct mg_chain {
	struct mg_hop *hops;
	size_t n_hops;
	char *text; /* canonical text of the whole chain, hops joined by "/" */
};

struct mg_chain_list {
	struct mg_chain *chains;
	size_t n_chains;
};

/*
 * Parse 'text' (one target expression: chains separated by top-level
 * commas, host lists expanded) into a list owned by 'mem_ctx'.
 * Returns 0, or MG_ERR_CHAIN with *_errmsg set (allocated on mem_ctx) to a
 * message naming the 1-based column and what was expected, e.g.
 * "column 7: unknown method 'lcoal' (did you mean 'local'?)".
 */
int mg_chain_parse(TALLOC_CTX *mem_ctx, const char *text,
		   struct mg_chain_list **_list, char **_errmsg);

/* The value of option 'key' on 'hop' (the last one given), or NULL. */
const char *mg_hop_opt(const struct mg_hop *hop, const char *key);

/* The canonical text of hops [0, n) of 'chain', allocated on mem_ctx. */
char *mg_chain_prefix(TALLOC_CTX *mem_ctx, const struct mg_chain *chain, size_t n);

#ifdef __cplusplus
}
#endif

#endif
