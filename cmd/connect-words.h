#ifndef MG_CONNECT_WORDS_H
#define MG_CONNECT_WORDS_H

/*
 * mitogen-connect as ssh's $SHELL (cmd/mitogen-connect.c): the words of
 * S, "exec WORD...", when each is a run of the characters mg__shell_quote
 * leaves bare, of '...' and of \' (nothing a shell would expand, split or
 * redirect) and the first is ARGV0: their number (at most MAX), written
 * over S and pointed to from WORDS. 0 otherwise: the text is /bin/sh's.
 */
int mg_connect_words(char *s, const char *argv0, char **words, int max);

#endif
