/* Connection methods: one file per method in lib/connect/, listed in
 * connect/methods.c. */
#ifndef MG_METHOD_H
#define MG_METHOD_H

#include <stdbool.h>
#include <talloc.h>
#include "mitogen/chain.h"

struct mg_boot_cmd {
	const char *const *argv; /* the first stage, as an argv */
	const char *self;        /* a path that execs the agent image here, or NULL */
};

enum mg_spawn_mode {
	MG_SPAWN_SOCKET, /* socketpair on fd 0/1, pipe on fd 2 */
	MG_SPAWN_HYBRID, /* socketpair for data, a PTY as controlling tty */
	MG_SPAWN_PTY,    /* everything on a PTY */
};

struct mg_method {
	const char *name;
	/* Options this method accepts beyond mg__common_options; NULL-terminated. */
	const char *const *options;
	/* What the spec means: for error messages and the parser. */
	enum { MG_SPEC_NONE, MG_SPEC_USER, MG_SPEC_HOST, MG_SPEC_CONTAINER } spec;
	enum mg_spawn_mode mode;
	/* True when no prompt can appear, so the agent image may be sent
	 * without waiting for the first stage's marker. */
	bool eager;
	/*
	 * Build the argv that runs boot->argv (the first stage through
	 * /bin/sh) for 'hop'. A method that runs on this host may instead
	 * exec boot->self directly with "--local" and set *_direct: then no
	 * image is pushed. Returns 0 or a negative error with *_errmsg set.
	 */
	int (*build_argv)(TALLOC_CTX *mem_ctx, const struct mg_hop *hop,
			  const struct mg_boot_cmd *boot, char ***_argv, bool *_direct,
			  char **_errmsg);
};

/* A boolean hop option: 1/yes/true/on or 0/no/false/off. Returns 0, or
 * -EINVAL with *_errmsg set. */
int mg__hop_bool(TALLOC_CTX *mem_ctx, const struct mg_hop *hop, const char *key, bool dflt,
		 bool *_value, char **_errmsg);

/* Options every method accepts. NULL-terminated. */
extern const char *const mg__common_options[];

/* The method called 'name', or NULL. */
const struct mg_method *mg__method_find(const char *name);
/* All methods, NULL-terminated (for suggestions and completions). */
extern const struct mg_method *const mg__methods[];

#endif
