/*
 * A small matcher for the prompt and error patterns of the hop methods:
 * the subset of POSIX extended regular expressions those patterns use,
 * matched case-insensitively (ASCII) anywhere in a text, in time linear
 * in the text (a Thompson simulation, no backtracking). The agent is
 * pushed over every first hop, and libc's regex engine was a sixth of it.
 *
 * Syntax: literal bytes; "\c" for a literal c; "." any byte; "[...]" and
 * "[^...]" with ranges and [:alpha:] [:digit:] [:alnum:] [:space:]
 * [:upper:] [:lower:] [:punct:]; "(...)" with "|"; "*", "+", "?",
 * "{m}", "{m,}", "{m,n}" (n <= 255) after an atom; "^" at the start of
 * the text and "$" at its end. A ']' or '}' outside a bracket is literal,
 * as in POSIX.
 */
#ifndef MG_MATCH_H
#define MG_MATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <talloc.h>

struct mg__re;

/* Compile 'pattern' into *_re (on mem_ctx). -EINVAL with *_errmsg (on
 * mem_ctx) for a pattern outside the subset or too large. */
int mg__re_compile(TALLOC_CTX *mem_ctx, const char *pattern, struct mg__re **_re,
		   char **_errmsg);

/* Whether the pattern matches somewhere in text[0..n). */
bool mg__re_search(struct mg__re *re, const char *text, size_t n);

/* Whether the whole of s matches an ssh_config pattern (OpenSSH's
 * match_pattern): '*' any bytes, '?' one byte, anything else itself,
 * case included. fnmatch(3) would also read brackets and backslashes,
 * and brought libc's wide-character tables into the agent. */
bool mg__wild_match(const char *pattern, const char *s);

#endif
