/*
 * What the chain parser knows of each connection method: its name, the
 * options it accepts and what its spec means. How a method starts a hop
 * is in hop/connect/, which uses these option lists.
 */
#ifndef MG_CHAIN_METHOD_H
#define MG_CHAIN_METHOD_H

#include <stdbool.h>

/* What the text after "method:" means. */
enum mg_spec_kind { MG_SPEC_NONE, MG_SPEC_USER, MG_SPEC_HOST, MG_SPEC_CONTAINER };

/* The form of an option's value (chain-value.h checks each). */
enum mg_opt_kind {
	MG_OPT_TEXT,     /* any text */
	MG_OPT_BOOL,     /* yes or no */
	MG_OPT_SECONDS,  /* 0.001 to 86400 */
	MG_OPT_COUNT,    /* a whole number */
	MG_OPT_HOSTKEYS, /* accept, enforce or ignore */
	MG_OPT_WORDS,    /* shell words, quotes closed */
	MG_OPT_PATH,     /* a path, not empty */
	MG_OPT_NAME,     /* not empty, no leading '-' */
	MG_OPT_NONEMPTY, /* not empty */
};

struct mg_option_kind {
	const char *name;
	enum mg_opt_kind kind;
};

struct mg_method_syntax {
	const char *name;
	/* Options beyond mg__common_options; NULL-terminated. */
	const char *const *options;
	enum mg_spec_kind spec;
};

/* Options every method accepts. NULL-terminated. */
extern const char *const mg__common_options[];

/* Each method's options, NULL-terminated. */
extern const char *const mg__local_options[];
extern const char *const mg__ssh_options[];
extern const char *const mg__sudo_options[];
extern const char *const mg__su_options[];
extern const char *const mg__doas_options[];
extern const char *const mg__docker_options[];
extern const char *const mg__podman_options[];
extern const char *const mg__buildah_options[];
extern const char *const mg__lxc_options[];
extern const char *const mg__lxd_options[];
extern const char *const mg__jail_options[];
extern const char *const mg__kubectl_options[];
extern const char *const mg__setns_options[];
extern const char *const mg__fork_options[];

/* All methods, in the order suggestions list them; ends with name NULL. */
extern const struct mg_method_syntax mg__method_syntaxes[];

/* The options whose values have a form, by name (the same for every
 * method that takes one); ends with name NULL. username= and port= are
 * the parser's own. */
extern const struct mg_option_kind mg__option_kinds[];

/* The kind of option 'key': MG_OPT_TEXT when it has no form. */
enum mg_opt_kind mg__option_kind(const char *key);

/* Whether method m takes option 'key' (its own or a common one). */
bool mg__method_takes(const struct mg_method_syntax *m, const char *key);

/* The method called 'name', or NULL. */
const struct mg_method_syntax *mg__method_syntax(const char *name);

#endif
