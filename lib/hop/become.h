/* What sudo, su and doas share: their prompt patterns and option lists. */
#ifndef MG_BECOME_H
#define MG_BECOME_H

#include "method.h"

/* A failure line of a become method; fmt's one %s is the target user. */
struct mg__become_error {
	const char *re;
	int err;
	const char *fmt;
};

/* What sudo, su and doas watch for, before options change it. */
struct mg__become_spec {
	const char *what;                     /* "su": "su password is incorrect" */
	const char *password;                 /* default partial-line ERE */
	bool prompt_adds;                     /* password_prompt= adds to .password (sudo) */
	const char *const *incorrect;         /* default line EREs; NULL-terminated */
	const struct mg__become_error *errors; /* terminated by re == NULL */
};

extern const char mg__become_default_prompt[];
char *mg__ere_escape(TALLOC_CTX *mem_ctx, const char *s);
int mg__become_prompts(TALLOC_CTX *mem_ctx, const struct mg_hop *hop, const char *user,
		       const struct mg__become_spec *spec, struct mg_prompts **_p,
		       char **_errmsg);

#endif
