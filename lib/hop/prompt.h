/*
 * The prompt engine: what a hop prints before its agent is up, read as
 * partial lines (prompts have no newline) and whole lines (failures,
 * which may arrive in pieces), turned into actions for the connection.
 */
#ifndef MG_PROMPT_H
#define MG_PROMPT_H

#include <stddef.h>
#include <talloc.h>
#include "method.h"

struct mg_prompt_engine;

enum mg_prompt_action {
	MG_PROMPT_NONE,
	MG_PROMPT_SEND_PASSWORD, /* write the password and a newline */
	MG_PROMPT_NEED_PASSWORD, /* a prompt, and no password known yet */
	MG_PROMPT_SEND_YES,      /* accept an unknown host key */
	MG_PROMPT_FAIL,          /* give up: *_err and *_msg say why */
	MG_PROMPT_HOSTKEY_ID,    /* the line naming the host key asked about */
};

/* An engine for p's patterns, compiled when first needed (a bad one
 * then fails the hop). Returns 0 or -ENOMEM. */
int mg__prompt_new(TALLOC_CTX *mem_ctx, const struct mg_prompts *p,
		   struct mg_prompt_engine **_e, char **_errmsg);
/* Tell the engine whether a password is at hand. */
void mg__prompt_set_have_password(struct mg_prompt_engine *e, bool have);
/* Output not yet ended by a newline. After an action other than NONE the
 * caller drops that text, so one prompt acts once. */
enum mg_prompt_action mg__prompt_partial(struct mg_prompt_engine *e, const char *text,
					 size_t n, int *_err, const char **_msg);
/* A password was written in answer to a prompt the caller saw itself. */
void mg__prompt_mark_sent(struct mg_prompt_engine *e);
/* The method's name for messages ("sudo"). */
const char *mg__prompt_what(const struct mg_prompt_engine *e);
/* A whole line (without its end-of-line characters). */
enum mg_prompt_action mg__prompt_line(struct mg_prompt_engine *e, const char *line,
				      size_t n, int *_err, const char **_msg);

#endif
