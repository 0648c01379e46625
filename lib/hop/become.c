/* Shared by sudo, su and doas: see become.h. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "become.h"
#include "mitogen/error.h"

/*
 * Linux-PAM's "Password: " in the languages it is most often translated
 * to (its po files), so a localized su or doas is still understood. Only
 * known words: a bare "anything:" would also match the "su: " that util-
 * linux writes before "Authentication failure" in a separate write()
 * (mitogen #363), and answer a failure as if it were a prompt. Non-ASCII
 * words are matched as bytes (UTF-8); REG_ICASE folds the ASCII ones.
 */
#define PROMPT_WORDS \
	"password|passwort|mot de passe|contrase(n|\xc3\xb1)a|contrasenya|senha|" \
	"wachtwoord|l\xc3\xb6senord|passord|adgangskode|salasana|heslo|" \
	"has\xc5\x82o|parola|parool|parole|jelsz\xc3\xb3|lozinka|geslo|" \
	"\xd0\x9f\xd0\xb0\xd1\x80\xd0\xbe\xd0\xbb\xd1\x8c|"             /* Пароль */ \
	"\xd0\xbf\xd0\xb0\xd1\x80\xd0\xbe\xd0\xbb\xd1\x8c|"             /* пароль */ \
	"\xe3\x83\x91\xe3\x82\xb9\xe3\x83\xaf\xe3\x83\xbc\xe3\x83\x89|" /* パスワード */ \
	"\xe5\xaf\x86\xe7\xa0\x81|\xe5\xaf\x86\xe7\xa2\xbc|"             /* 密码 密碼 */ \
	"\xec\x95\x94\xed\x98\xb8|\xeb\xb9\x84\xeb\xb0\x80\xeb\xb2\x88\xed\x98\xb8" /* 암호 비밀번호 */

/*
 * The default prompt of su and doas: one of those words, then up to 40
 * bytes that are no colon or newline ("doas (alice@host) password: ",
 * "Mot de passe : ", NBSP included), an ASCII or fullwidth colon, and
 * nothing but blanks up to the end of the output seen so far.
 */
#define DEFAULT_PROMPT \
	"(" PROMPT_WORDS ")[^:\n]{0,40}(:|\xef\xbc\x9a)[[:space:]]*$"

const char mg__become_default_prompt[] = DEFAULT_PROMPT;

char *mg__ere_escape(TALLOC_CTX *mem_ctx, const char *s)
{
	/* The characters POSIX makes special in an ERE; a backslash before
	 * each of them is defined to match it literally. ']' and '}' are
	 * ordinary on their own. */
	const char *special = "^.[$()|*+?{\\";
	char *out = talloc_strdup(mem_ctx, "");

	for (const char *p = s; out != NULL && *p != '\0'; p++) {
		if (strchr(special, *p) != NULL) {
			out = talloc_asprintf_append_buffer(out, "\\%c", *p);
		} else {
			out = talloc_strndup_append_buffer(out, p, 1);
		}
	}
	return out;
}

/* "incorrect_prompts" as EREs matching the literal texts, on 'owner'; or
 * NULL with *_ret set (and *_errmsg on mem_ctx). */
static char **user_incorrect(TALLOC_CTX *mem_ctx, TALLOC_CTX *owner, const struct mg_hop *hop,
			     int *_ret, char **_errmsg)
{
	char **words = NULL, **out;

	*_ret = mg__hop_list_named(mem_ctx, owner, hop, "incorrect_prompts", &words, _errmsg);
	if (*_ret != 0) {
		return NULL;
	}
	out = talloc_zero_array(owner, char *, 1);
	for (size_t i = 0; out != NULL && words[i] != NULL; i++) {
		char *re = mg__ere_escape(out, words[i]);
		if (re == NULL || !mg__strv_add(&out, re)) {
			TALLOC_FREE(out);
		}
	}
	talloc_free(words);
	if (out == NULL) {
		*_ret = -ENOMEM;
	}
	return out;
}

int mg__become_prompts(TALLOC_CTX *mem_ctx, const struct mg_hop *hop, const char *user,
		       const struct mg__become_spec *spec, struct mg_prompts **_p,
		       char **_errmsg)
{
	const char *given = mg_hop_opt(hop, "password_prompt");
	struct mg_prompts *p = talloc_zero(mem_ctx, struct mg_prompts);
	struct mg_line_error *errors;
	size_t n = 0;
	int ret = -ENOMEM;

	if (p == NULL) {
		return -ENOMEM;
	}
	p->what = spec->what;
	if (given != NULL && given[0] == '\0') {
		*_errmsg = talloc_strdup(mem_ctx, "option password_prompt: expected a prompt text");
		ret = -EINVAL;
		goto fail;
	}
	if (given != NULL) {
		/* A literal text, as in mitogen, ending the output but for
		 * blanks; matched case-insensitively like every pattern. */
		char *lit = mg__ere_escape(p, given);
		if (lit == NULL) {
			goto fail;
		}
		p->password = spec->prompt_adds
			? talloc_asprintf(p, "%s|%s[[:space:]]*$", spec->password, lit)
			: talloc_asprintf(p, "%s[[:space:]]*$", lit);
	} else {
		p->password = talloc_strdup(p, spec->password);
	}
	if (p->password == NULL) {
		goto fail;
	}
	if (mg_hop_opt(hop, "incorrect_prompts") != NULL) {
		/* Given: they replace the defaults, as in mitogen. */
		p->incorrect = user_incorrect(mem_ctx, p, hop, &ret, _errmsg);
		if (p->incorrect == NULL) {
			goto fail;
		}
	} else {
		p->incorrect = mg__strv_copy(p, spec->incorrect);
		if (p->incorrect == NULL) {
			goto fail;
		}
	}
	while (spec->errors != NULL && spec->errors[n].re != NULL) {
		n++;
	}
	errors = talloc_zero_array(p, struct mg_line_error, n + 1);
	if (errors == NULL) {
		goto fail;
	}
	for (size_t i = 0; i < n; i++) {
		char *msg = talloc_asprintf(errors, spec->errors[i].fmt, user);
		if (msg == NULL) {
			goto fail;
		}
		errors[i].re = spec->errors[i].re;
		errors[i].err = spec->errors[i].err;
		errors[i].msg = msg;
	}
	p->errors = errors;
	*_p = p;
	return 0;
fail:
	talloc_free(p);
	return ret;
}

