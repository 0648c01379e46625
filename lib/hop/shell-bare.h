#ifndef MG_SHELL_BARE_H
#define MG_SHELL_BARE_H

/* The bytes a word may hold and still go to a shell unquoted: what
 * mg__shell_quote (boot.c) leaves bare, and what mitogen-connect takes
 * bare from ssh's -c text (cmd/connect-words.c). One list, so that the
 * two always agree. */
#define MG_SHELL_BARE "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789@%+=:,./-_"

#endif
