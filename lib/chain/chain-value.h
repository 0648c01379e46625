/*
 * The forms of option values, one checker per kind: the chain parser
 * checks every value as a chain is read (chain-spec.c), and the hop
 * layer reads values through the same functions as a hop starts
 * (hop/method.c, hop/connect/), so both say the same. Messages go on
 * mem_ctx ("option debug: expected yes or no, not '2'"), the value quoted
 * for a terminal; each returns 0 or -EINVAL (-ENOMEM when out of memory).
 */
#ifndef MG_CHAIN_VALUE_H
#define MG_CHAIN_VALUE_H

#include <stdbool.h>
#include <talloc.h>
#include "chain-method.h"

/* check_host_keys= */
enum mg_hostkeys { MG_HK_ENFORCE, MG_HK_ACCEPT, MG_HK_IGNORE };

/* Option 'key' = 'value' has the form of the option's kind. */
int mg__value_check(TALLOC_CTX *mem_ctx, const char *key, const char *value, char **_errmsg);

/* 1/yes/true/on or 0/no/false/off, in any case. */
int mg__value_bool(TALLOC_CTX *mem_ctx, const char *key, const char *v, bool *_on,
		   char **_errmsg);
/* Seconds: digits and at most one point, from 0.001 to 86400; in ms. */
int mg__value_seconds(TALLOC_CTX *mem_ctx, const char *key, const char *v, unsigned *_ms,
		      char **_errmsg);
/* A whole number from 0 to 1000000, digits only. */
int mg__value_count(TALLOC_CTX *mem_ctx, const char *key, const char *v, unsigned long *_n,
		    char **_errmsg);
/* accept, enforce or ignore. */
int mg__value_hostkeys(TALLOC_CTX *mem_ctx, const char *key, const char *v,
		       enum mg_hostkeys *_hk, char **_errmsg);
/* Words split like a POSIX shell's (quotes and backslashes, no
 * expansions): a NULL-terminated vector on mem_ctx in *_words (when not
 * NULL). A quote left open is an error. */
int mg__value_words(TALLOC_CTX *mem_ctx, const char *key, const char *v, char ***_words,
		    char **_errmsg);
/* A path, a name (no leading '-': a tool would read it as an option) or
 * any text, not empty. */
int mg__value_path(TALLOC_CTX *mem_ctx, const char *key, const char *v, char **_errmsg);
int mg__value_name(TALLOC_CTX *mem_ctx, const char *key, const char *v, char **_errmsg);
int mg__value_nonempty(TALLOC_CTX *mem_ctx, const char *key, const char *v, char **_errmsg);

/* ssh_args= and sudo_args=: the last word is no flag waiting for its
 * argument, which would take the host or the command we put after it
 * (most often a path whose '/' ended the hop). 0 for other options. */
int mg__value_args_end(TALLOC_CTX *mem_ctx, const char *key, const char *v, char **_errmsg);

#endif
