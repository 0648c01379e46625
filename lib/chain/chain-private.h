/*
 * Hop-chain parser internals, shared by chain.c (targets, chains, the
 * cartesian product), chain-hop.c (one hop), chain-spec.c (its spec and
 * options), chain-expand.c (host lists, spelling suggestions),
 * chain-config.c (the config file's aliases), chain-value.c (the forms of
 * option values, chain-value.h) and chain-base.c (what they all use).
 * Each calls only files after it in that list, and chain-method.c.
 */
#ifndef MG_CHAIN_PRIVATE_H
#define MG_CHAIN_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <talloc.h>
#include "mitogen/chain.h"
#include "chain-method.h"

#define MG_CHAIN_MAX_CHAINS 100000  /* chains one target text may give */
#define MG_CHAIN_MAX_HOPS 128       /* hops in one chain */
#define MG_CHAIN_MAX_ALIAS_DEPTH 16 /* aliases naming aliases */
#define MG_CHAIN_MAX_NESTING 32     /* '[' and '{' inside each other */

/*
 * A piece of chain text. col[i] is the 1-based column of s[i] in the text
 * being parsed (bytes made by a host list map to the list item); end_col is
 * the column just after the piece, for "expected ..." errors.
 */
struct mg__span {
	const char *s;
	const int *col;
	size_t n;
	int end_col;
};

struct mg__config;
struct mg__chain_parser;

/* Parse one target text (chains, commas, host lists, aliases): chain.c's,
 * given to chain-hop.c in the parser for an alias's text. */
typedef int (*mg__chain_parse_fn)(struct mg__chain_parser *p, TALLOC_CTX *mem_ctx,
				  const char *text, size_t len,
				  struct mg_chain_list **_list);

/* The state of one mg_chain_parse() call. */
struct mg__chain_parser {
	TALLOC_CTX *tmp;         /* owns everything temporary */
	mg__chain_parse_fn parse_text; /* for an alias's text */
	char *errmsg;            /* the error, on tmp */
	struct mg__config *cfg;  /* loaded on the first alias look-up */
	bool cfg_loaded;
	bool one_chain;          /* refuse ',' and host lists */
	bool bad_value;          /* the error is an option value's form */
	size_t depth;            /* aliases being expanded */
	const char *stack[MG_CHAIN_MAX_ALIAS_DEPTH];
};

/* Set p->errmsg to "column COL: ..." (no prefix when col <= 0) and return
 * MG_ERR_CHAIN, or -ENOMEM. */
int mg__chain_fail(struct mg__chain_parser *p, int col, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* 'n' bytes of 's' made printable for a message: quotes, newlines, escape
 * sequences and non-ASCII bytes become \xNN; long texts are cut. */
char *mg__chain_quote(TALLOC_CTX *mem_ctx, const char *s, size_t n);

/* Parse a text that must name exactly one chain: a ',' or a host list
 * is refused. The list has one chain. Otherwise as mg_chain_parse(). */
int mg__chain_parse_one(TALLOC_CTX *mem_ctx, const char *text,
			struct mg_chain_list **_list, char **_errmsg);

/* 'array' with room for at least n + 1 elements of 'size' (doubled when
 * full), or NULL on ENOMEM. */
void *mg__chain_grow(TALLOC_CTX *mem, void *array, size_t size, size_t n);

/* A new slot at the end of 'list' (zeroed), or NULL. Chains in a list own
 * their hops through list->chains, so a pack into the slot passes
 * list->chains as its mem_ctx. */
struct mg_chain *mg__chain_list_push(struct mg_chain_list *list);

/* Copy 'n' hops into 'out' compactly (one string block per chain) and set
 * out->text. */
int mg__chain_pack(TALLOC_CTX *mem_ctx, const struct mg_hop *const *hops,
		   size_t n, struct mg_chain *out);

/*
 * One hop variant (host lists already expanded): 'head' is the text before
 * '?', 'tail' the text after it or NULL when there is no '?'. Appends the
 * resulting segments to 'segs': one chain of one hop, or every chain an
 * alias stands for.
 */
int mg__chain_hop(struct mg__chain_parser *p, struct mg_chain_list *segs,
		  const struct mg__span *head, const struct mg__span *tail);

/* The config's [defaults] for the options the hops of c do not give (c
 * repacked on mem_ctx when one gains any). Once the whole text has parsed:
 * a text that does not parse never reads the config for them. */
int mg__chain_defaults(struct mg__chain_parser *p, TALLOC_CTX *mem_ctx, struct mg_chain *c);

/* A hop being built by chain-hop.c, its spec and options parsed by
 * chain-spec.c. */
struct mg__hop_build {
	struct mg__chain_parser *p;
	TALLOC_CTX *mem;            /* owns the hop's strings */
	const struct mg_method_syntax *m;
	struct mg_hop hop;
	const char *kind;           /* setns */
	bool user_from_opt;
	bool port_from_opt;
	int image_col;              /* column of "image=", 0 when absent */
	int args_col;               /* of the last ssh_args= or sudo_args= */
};

/*
 * A hop given field by field (mitogen/connect.h): values are verbatim
 * (never percent-decoded), checked as the parser checks a written hop,
 * with its messages (without columns).
 */
struct mg__hop_fields {
	const char *method;
	const char *kind;              /* setns: docker, lxc, lxd, machinectl */
	const char *host;              /* host, container, pod or jail */
	const struct mg_hop_opt *opts; /* username= and port= among them */
	size_t n_opts;
};

/* The one-hop chain of 'f' with its canonical text, on mem_ctx. Returns
 * 0, or MG_ERR_CHAIN with *_errmsg on mem_ctx, or -ENOMEM. */
int mg__chain_hop_fields(TALLOC_CTX *mem_ctx, const struct mg__hop_fields *f,
			 struct mg_chain *out, char **_errmsg);
/* Check and set the kind, host and options of 'f' into b->hop. */
int mg__chain_fields(struct mg__hop_build *b, const struct mg__hop_fields *f);

/* Parse the spec (text after "method:") into b->hop. */
int mg__chain_spec(struct mg__hop_build *b, const struct mg__span *spec);
/* Parse the options (text after '?'); username= and port= go to
 * hop->user and hop->port. */
int mg__chain_opts(struct mg__hop_build *b, const struct mg__span *tail);
/* Check that the method has what it needs (a host, a container...). */
int mg__chain_check(struct mg__hop_build *b, const struct mg__span *spec);

/* Expand the host lists ("[01-20,33]", "{a,b}") of 'in' into *_n spans in
 * written order, allocated on mem_ctx. */
int mg__chain_expand(struct mg__chain_parser *p, TALLOC_CTX *mem_ctx,
		     const struct mg__span *in, struct mg__span **_out,
		     size_t *_n);

/* Spelling suggestions: feed candidates, read 'best' (NULL when none is
 * close enough). */
struct mg__suggest {
	const char *word;
	size_t len;
	const char *best;
	int score;
};

void mg__suggest_init(struct mg__suggest *sg, const char *word, size_t len);
void mg__suggest_try(struct mg__suggest *sg, const char *candidate);

/* An alias (or a [defaults] entry) from a config file. */
struct mg__alias {
	const char *name;
	const char *text;
	const char *file;
	int line;
};

/*
 * Read the config files: $MITOGEN_CONFIG alone when set (empty: none), else
 * $XDG_CONFIG_HOME/mitogen/config (~/.config/mitogen/config) and then
 * /etc/mitogen/config; an alias in an earlier file wins. Missing files are
 * fine. Returns 0, or MG_ERR_CHAIN with *_errmsg ("FILE:LINE: ...") on
 * mem_ctx, or -ENOMEM.
 */
int mg__config_load(TALLOC_CTX *mem_ctx, struct mg__config **_cfg,
		    char **_errmsg);

/* The [defaults] value of option 'key' for a hop of 'method': the
 * "method.key" entry, else the "key" one; NULL when neither is set. */
const char *mg__config_default(const struct mg__config *cfg, const char *method,
			       const char *key);

/* The alias called 'name' ('len' bytes), or NULL. */
const struct mg__alias *mg__config_alias(const struct mg__config *cfg,
					 const char *name, size_t len);

#endif
