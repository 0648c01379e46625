/* The prompt engine: see prompt.h. */
#include <errno.h>
#include <string.h>
#include "match.h"
#include "mitogen/error.h"
#include "prompt.h"

#define MAX_PATTERNS 32

struct mg_prompt_engine {
	const struct mg_prompts *p;
	struct mg__re *password;
	struct mg__re *hostkey;
	struct mg__re *hostkey_id;
	struct mg__re *incorrect[MAX_PATTERNS];
	size_t n_incorrect;
	struct mg__re *errors[MAX_PATTERNS];
	size_t n_errors;
	bool compiled;
	bool have_password;
	int sent;            /* passwords written so far */
	char *msg;
};

int mg__prompt_new(TALLOC_CTX *mem_ctx, const struct mg_prompts *p,
		   struct mg_prompt_engine **_e, char **_errmsg)
{
	struct mg_prompt_engine *e = talloc_zero(mem_ctx, struct mg_prompt_engine);

	if (e == NULL) {
		return -ENOMEM;
	}
	e->p = p;
	*_e = e;
	return 0;
}

/*
 * The patterns, compiled when the hop first prints something other than
 * a marker: most hops never do (no prompt, no error), and a dozen
 * patterns cost ~0.3 ms of CPU on the way to every hop's start.
 */
static int compile(struct mg_prompt_engine *e, char **_errmsg)
{
	const struct mg_prompts *p = e->p;
	int ret;

	e->compiled = true;
	if (p->password != NULL &&
	    (ret = mg__re_compile(e, p->password, &e->password, _errmsg)) != 0) {
		return ret;
	}
	if (p->hostkey != NULL &&
	    (ret = mg__re_compile(e, p->hostkey, &e->hostkey, _errmsg)) != 0) {
		return ret;
	}
	if (p->hostkey_id != NULL &&
	    (ret = mg__re_compile(e, p->hostkey_id, &e->hostkey_id, _errmsg)) != 0) {
		return ret;
	}
	for (size_t i = 0; p->incorrect != NULL && p->incorrect[i] != NULL && i < MAX_PATTERNS; i++) {
		if ((ret = mg__re_compile(e, p->incorrect[i], &e->incorrect[i], _errmsg)) != 0) {
			return ret;
		}
		e->n_incorrect++;
	}
	for (size_t i = 0; p->errors != NULL && p->errors[i].re != NULL && i < MAX_PATTERNS; i++) {
		if ((ret = mg__re_compile(e, p->errors[i].re, &e->errors[i], _errmsg)) != 0) {
			return ret;
		}
		e->n_errors++;
	}
	return 0;
}

/* Compile on first use; MG_PROMPT_FAIL (with *_err, *_msg) when a
 * pattern is bad, MG_PROMPT_NONE when all is ready. */
static enum mg_prompt_action ready(struct mg_prompt_engine *e, int *_err, const char **_msg)
{
	char *errmsg = NULL;
	int ret;

	if (e->compiled) {
		return MG_PROMPT_NONE;
	}
	ret = compile(e, &errmsg);
	if (ret == 0) {
		return MG_PROMPT_NONE;
	}
	/* No pattern matches from now on. */
	e->password = e->hostkey = e->hostkey_id = NULL;
	e->n_incorrect = e->n_errors = 0;
	talloc_free(e->msg);
	e->msg = errmsg != NULL ? talloc_steal(e, errmsg) : NULL;
	*_err = ret;
	*_msg = e->msg != NULL ? e->msg : "cannot compile the prompt patterns";
	return MG_PROMPT_FAIL;
}

void mg__prompt_set_have_password(struct mg_prompt_engine *e, bool have)
{
	e->have_password = have;
}

static bool matches(struct mg__re *re, const char *text, size_t n)
{
	/* Prompts are short: look at the tail only, so that a flood of
	 * output costs a bounded time per read. */
	if (n > 1023) {
		text += n - 1023;
		n = 1023;
	}
	return mg__re_search(re, text, n);
}

static enum mg_prompt_action fail(struct mg_prompt_engine *e, int err, const char *what,
				  int *_err, const char **_msg)
{
	talloc_free(e->msg);
	e->msg = talloc_asprintf(e, "%s password is %s", e->p->what, what);
	*_err = err;
	*_msg = e->msg != NULL ? e->msg : "password error";
	return MG_PROMPT_FAIL;
}

enum mg_prompt_action mg__prompt_partial(struct mg_prompt_engine *e, const char *text,
					 size_t n, int *_err, const char **_msg)
{
	if (n == 0) {
		return MG_PROMPT_NONE;
	}
	if (ready(e, _err, _msg) != MG_PROMPT_NONE) {
		return MG_PROMPT_FAIL;
	}
	if (e->password != NULL && matches(e->password, text, n)) {
		if (e->sent > 0) {
			/* Asked again: the one we gave was refused. */
			return fail(e, -EACCES, "incorrect", _err, _msg);
		}
		if (!e->have_password) {
			return MG_PROMPT_NEED_PASSWORD;
		}
		e->sent++;
		return MG_PROMPT_SEND_PASSWORD;
	}
	if (e->hostkey != NULL && matches(e->hostkey, text, n)) {
		if (e->p->accept_hostkey) {
			return MG_PROMPT_SEND_YES;
		}
		*_err = -EACCES;
		*_msg = "the host key is unknown and check_host_keys is not 'accept'";
		return MG_PROMPT_FAIL;
	}
	return MG_PROMPT_NONE;
}

enum mg_prompt_action mg__prompt_line(struct mg_prompt_engine *e, const char *line,
				      size_t n, int *_err, const char **_msg)
{
	if (ready(e, _err, _msg) != MG_PROMPT_NONE) {
		return MG_PROMPT_FAIL;
	}
	if (e->sent > 0) {
		for (size_t i = 0; i < e->n_incorrect; i++) {
			if (matches(e->incorrect[i], line, n)) {
				return fail(e, -EACCES, "incorrect", _err, _msg);
			}
		}
	}
	for (size_t i = 0; i < e->n_errors; i++) {
		if (matches(e->errors[i], line, n)) {
			*_err = e->p->errors[i].err != 0 ? e->p->errors[i].err : MG_ERR_BOOT;
			*_msg = e->p->errors[i].msg;
			if (e->sent > 0 && strstr(*_msg, "authentication") != NULL) {
				/* The password we sent was the credential refused. */
				return fail(e, -EACCES, "incorrect", _err, _msg);
			}
			return MG_PROMPT_FAIL;
		}
	}
	if (e->hostkey_id != NULL && matches(e->hostkey_id, line, n)) {
		return MG_PROMPT_HOSTKEY_ID;
	}
	return MG_PROMPT_NONE;
}

void mg__prompt_mark_sent(struct mg_prompt_engine *e)
{
	e->sent++;
}

const char *mg__prompt_what(const struct mg_prompt_engine *e)
{
	return e->p->what != NULL ? e->p->what : "hop";
}
