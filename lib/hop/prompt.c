/* The prompt engine: see prompt.h. */
#include <errno.h>
#include <regex.h>
#include <string.h>
#include "mitogen/error.h"
#include "prompt.h"

#define MAX_PATTERNS 32

struct mg_prompt_engine {
	const struct mg_prompts *p;
	regex_t password;
	bool has_password_re;
	regex_t hostkey;
	bool has_hostkey_re;
	regex_t incorrect[MAX_PATTERNS];
	size_t n_incorrect;
	regex_t errors[MAX_PATTERNS];
	size_t n_errors;
	bool have_password;
	int sent;            /* passwords written so far */
	char *msg;
};

static int engine_destructor(struct mg_prompt_engine *e)
{
	if (e->has_password_re) {
		regfree(&e->password);
	}
	if (e->has_hostkey_re) {
		regfree(&e->hostkey);
	}
	for (size_t i = 0; i < e->n_incorrect; i++) {
		regfree(&e->incorrect[i]);
	}
	for (size_t i = 0; i < e->n_errors; i++) {
		regfree(&e->errors[i]);
	}
	return 0;
}

static int compile(TALLOC_CTX *mem_ctx, regex_t *re, const char *pattern, char **_errmsg)
{
	int r = regcomp(re, pattern, REG_EXTENDED | REG_ICASE | REG_NOSUB);

	if (r != 0) {
		char buf[128];
		regerror(r, re, buf, sizeof(buf));
		*_errmsg = talloc_asprintf(mem_ctx, "bad pattern '%s': %s", pattern, buf);
		return -EINVAL;
	}
	return 0;
}

int mg__prompt_new(TALLOC_CTX *mem_ctx, const struct mg_prompts *p,
		   struct mg_prompt_engine **_e, char **_errmsg)
{
	struct mg_prompt_engine *e = talloc_zero(mem_ctx, struct mg_prompt_engine);
	int ret = 0;

	if (e == NULL) {
		return -ENOMEM;
	}
	e->p = p;
	talloc_set_destructor(e, engine_destructor);
	if (p->password != NULL) {
		if ((ret = compile(mem_ctx, &e->password, p->password, _errmsg)) != 0) {
			goto fail;
		}
		e->has_password_re = true;
	}
	if (p->hostkey != NULL) {
		if ((ret = compile(mem_ctx, &e->hostkey, p->hostkey, _errmsg)) != 0) {
			goto fail;
		}
		e->has_hostkey_re = true;
	}
	for (size_t i = 0; p->incorrect != NULL && p->incorrect[i] != NULL && i < MAX_PATTERNS; i++) {
		if ((ret = compile(mem_ctx, &e->incorrect[i], p->incorrect[i], _errmsg)) != 0) {
			goto fail;
		}
		e->n_incorrect++;
	}
	for (size_t i = 0; p->errors != NULL && p->errors[i].re != NULL && i < MAX_PATTERNS; i++) {
		if ((ret = compile(mem_ctx, &e->errors[i], p->errors[i].re, _errmsg)) != 0) {
			goto fail;
		}
		e->n_errors++;
	}
	*_e = e;
	return 0;
fail:
	talloc_free(e);
	return ret;
}

void mg__prompt_set_have_password(struct mg_prompt_engine *e, bool have)
{
	e->have_password = have;
}

static bool matches(regex_t *re, const char *text, size_t n)
{
	char buf[1024];

	/* regexec wants a C string; prompts are short, keep the tail. */
	if (n >= sizeof(buf)) {
		text += n - (sizeof(buf) - 1);
		n = sizeof(buf) - 1;
	}
	memcpy(buf, text, n);
	buf[n] = '\0';
	return regexec(re, buf, 0, NULL, 0) == 0;
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
	if (e->has_password_re && matches(&e->password, text, n)) {
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
	if (e->has_hostkey_re && matches(&e->hostkey, text, n)) {
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
	if (e->sent > 0) {
		for (size_t i = 0; i < e->n_incorrect; i++) {
			if (matches(&e->incorrect[i], line, n)) {
				return fail(e, -EACCES, "incorrect", _err, _msg);
			}
		}
	}
	for (size_t i = 0; i < e->n_errors; i++) {
		if (matches(&e->errors[i], line, n)) {
			*_err = e->p->errors[i].err != 0 ? e->p->errors[i].err : MG_ERR_BOOT;
			*_msg = e->p->errors[i].msg;
			if (e->sent > 0 && strstr(*_msg, "authentication") != NULL) {
				/* The password we sent was the credential refused. */
				return fail(e, -EACCES, "incorrect", _err, _msg);
			}
			return MG_PROMPT_FAIL;
		}
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
