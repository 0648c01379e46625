/* Passwords for hops: from options, or asked on the terminal. Secrets are
 * talloc strings wiped when freed; they never go into argv, the
 * environment of children, or logs. */
#ifndef MG_PASSWORD_H
#define MG_PASSWORD_H

#include <talloc.h>
#include "conn.h"
#include "mitogen/chain.h"
#include "mitogen/session.h"

/* From password_env= (a variable of this process) or password_file= (the
 * first line of a file on this host). 0 with *_pw NULL when neither is
 * given; a negative error with *_errmsg when the one given is unusable. */
int mg__password_from_options(TALLOC_CTX *mem_ctx, const struct mg_hop *hop, char **_pw,
			      char **_errmsg);

/* mg_tty_answer_fn (mitogen/session.h): the line typed (a secret, wiped
 * when freed: copy it to keep it), or NULL and why not. */
struct mg_loop;
/* Ask on the terminal 'path' ("/dev/tty": the controlling one) with echo
 * off: the prompt is written now, the line read from the loop, and fn
 * called once, never from inside this call. Freeing *_p first cancels
 * and restores the terminal. Returns 0, or a negative error with
 * *_errmsg on mem_ctx (no terminal: "there is no terminal to ask on"). */
int mg__tty_prompt_start(TALLOC_CTX *mem_ctx, struct mg_loop *loop, const char *path,
			 const char *label, mg_tty_answer_fn fn, void *data,
			 struct mg_tty_prompt **_p, char **_errmsg);

/*
 * A session's password asker (section 2.5): requests for the same hop
 * text share one answer, one request is shown at a time (on the
 * terminal, or given to the program's mg_password_fn), and answers are
 * cached by hop text for the asker's life.
 */
struct mg_pw_asker;
struct mg_pw_asker *mg__pw_asker_new(TALLOC_CTX *mem_ctx, struct mg_loop *loop);
/* The program answers instead of the terminal (fn NULL: the terminal). */
void mg__pw_asker_set_fn(struct mg_pw_asker *a, mg_password_fn fn, void *data);
/* Ask on another terminal than /dev/tty (tests); 'path' is kept. */
void mg__pw_asker_set_tty(struct mg_pw_asker *a, const char *path);
/* Drop every request (the terminal restored) and ask nothing more: the
 * session is being freed. */
void mg__pw_asker_stop(struct mg_pw_asker *a);
/* Ask for the password of 'hop_text', shown as 'label': cb(cb_data, ...)
 * is called once, from the loop, unless 'owner' (under which the request
 * is made) is freed first. Returns 0 or -ENOMEM. */
int mg__pw_ask(TALLOC_CTX *owner, struct mg_pw_asker *a, const char *hop_text, const char *label,
	       mg_password_cb cb, void *cb_data);

#endif
