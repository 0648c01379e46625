/* Shared by sudo, su and doas: see become.h. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "become.h"
#include "mitogen/error.h"

/*
 * Linux-PAM's "Password: " in every language of its po files (1.1.3 to
 * 1.7), so a localized su or doas is still understood. Only known words:
 * a bare "anything:" would also match the "su: " that util-linux writes
 * before "Authentication failure" in a separate write() (mitogen #363),
 * and answer a failure as if it were a prompt. Non-ASCII words are
 * matched as bytes (UTF-8), in the case PAM writes them; the matcher
 * folds ASCII. Two groups: one alternation holds at most 64 choices.
 */
#define PROMPT_WORDS_LATIN \
	"password|passwort|mot de passe|contrase(n|\xc3\xb1)a|contrasenya|senha|" \
	"wachtwoord|l\xc3\xb6senord|passord|adgangskode|salasana|heslo|" \
	"has\xc5\x82o|parol(a|e|\xc4\x83)|parool|jelsz\xc3\xb3|lozinka|geslo|" \
	"palavra-passe|pasvorto|pasahitza|contrasigno|focal faire|iphasiwedi|" \
	"slapta\xc5\xbeodis|awal n u\xc9\x9b" "eddi|\xc5\x9eifr\xc9\x99|"          /* lt kab az */ \
	"m\xe1\xba\xadt kh\xe1\xba\xa9u|(^|[^a-z])sandi"                    /* vi id */
#define PROMPT_WORDS_OTHER \
	"\xd0\x9f\xd0\xb0\xd1\x80\xd0\xbe\xd0\xbb(\xd1\x8c|\xd0\xb0)|"  /* Пароль Парола */ \
	"\xd0\xbf\xd0\xb0\xd1\x80\xd0\xbe\xd0\xbb\xd1\x8c|"             /* пароль */ \
	"\xd0\x9b\xd0\xbe\xd0\xb7\xd0\xb8\xd0\xbd\xd0\xba\xd0\xb0|"     /* sr */ \
	"\xce\x9a\xcf\x89\xce\xb4\xce\xb9\xce\xba\xcf\x8c\xcf\x82|"     /* el */ \
	"\xd7\xa1\xd7\xa1\xd7\x9e\xd7\x94|"                             /* he */ \
	"\xd9\x83\xd9\x84\xd9\x85\xd8\xa9 \xd8\xa7\xd9\x84\xd8\xb3\xd8\xb1|" /* ar */ \
	"\xe1\x83\x9e\xe1\x83\x90\xe1\x83\xa0\xe1\x83\x9d\xe1\x83\x9a\xe1\x83\x98|" /* ka */ \
	"\xe0\xa4\xb6\xe0\xa4\xac\xe0\xa5\x8d\xe0\xa4\xa6\xe0\xa4\x95\xe0\xa5\x82\xe0\xa4\x9f|"  /* hi */ \
	"\xe0\xa4\x97\xe0\xa5\x81\xe0\xa4\xaa\xe0\xa5\x8d\xe0\xa4\xa4\xe0\xa4\xb6\xe0\xa4\xac"  /* mr */ \
	"\xe0\xa5\x8d\xe0\xa4\xa6|" \
	"\xe0\xa6\x97\xe0\xa7\x81\xe0\xa6\xaa\xe0\xa7\x8d\xe0\xa6\xa4\xe0\xa6\xb6\xe0\xa6\xac"  /* as */ \
	"\xe0\xa7\x8d\xe0\xa6\xa6|" \
	"\xe0\xa6\xaa\xe0\xa6\xbe\xe0\xa6\xb8\xe0\xa6\x93\xe0\xa7\x9f\xe0\xa6\xbe\xe0\xa6\xb0"  /* bn */ \
	"\xe0\xa7\x8d\xe0\xa6\xa1|" \
	"\xe0\xaa\xaa\xe0\xaa\xbe\xe0\xaa\xb8\xe0\xaa\xb5\xe0\xaa\xb0\xe0\xab\x8d\xe0\xaa\xa1|"  /* gu */ \
	"\xe0\xa8\xaa\xe0\xa8\xbe\xe0\xa8\xb8\xe0\xa8\xb5\xe0\xa8\xb0\xe0\xa8\xa1|" /* pa */ \
	"\xe0\xac\xaa\xe0\xad\x8d\xe0\xac\xb0\xe0\xac\xac\xe0\xad\x87\xe0\xac\xb6 \xe0\xac\xb8"  /* or */ \
	"\xe0\xac\x99\xe0\xad\x8d\xe0\xac\x95\xe0\xad\x87\xe0\xac\xa4|" \
	"\xe0\xae\x95\xe0\xae\x9f\xe0\xae\xb5\xe0\xaf\x81\xe0\xae\x9a\xe0\xaf\x8d\xe0\xae\x9a"  /* ta */ \
	"\xe0\xaf\x8a\xe0\xae\xb2\xe0\xaf\x8d|" \
	"\xe0\xb0\xb8\xe0\xb0\x82\xe0\xb0\x95\xe0\xb1\x87\xe0\xb0\xa4\xe0\xb0\xaa\xe0\xb0\xa6"  /* te */ \
	"\xe0\xb0\xae\xe0\xb1\x81|" \
	"\xe0\xb2\x97\xe0\xb3\x81\xe0\xb2\xaa\xe0\xb3\x8d\xe0\xb2\xa4\xe0\xb2\xaa\xe0\xb2\xa6|"  /* kn */ \
	"\xe0\xb4\x85\xe0\xb4\x9f\xe0\xb4\xaf\xe0\xb4\xbe\xe0\xb4\xb3\xe0\xb4\xb5\xe0\xb4\xbe"  /* ml */ \
	"\xe0\xb4\x95\xe0\xb5\x8d\xe0\xb4\x95\xe0\xb5\x8d|" \
	"\xe0\xb6\xbb\xe0\xb7\x84\xe0\xb7\x83\xe0\xb7\x8a\xe0\xb6\xb4\xe0\xb6\xaf\xe0\xb6\xba|"  /* si */ \
	"\xe1\x9e\x96\xe1\x9e\xb6\xe1\x9e\x80\xe1\x9f\x92\xe1\x9e\x99\xe1\x9e\x9f\xe1\x9e\x98"  /* km */ \
	"\xe1\x9f\x92\xe1\x9e\x84\xe1\x9e\xb6\xe1\x9e\x8f\xe1\x9f\x8b|" \
	"\xe3\x83\x91\xe3\x82\xb9\xe3\x83\xaf\xe3\x83\xbc\xe3\x83\x89|" /* パスワード */ \
	"\xe5\xaf\x86\xe7\xa0\x81|\xe5\xaf\x86\xe7\xa2\xbc|"             /* 密码 密碼 */ \
	"\xec\x95\x94\xed\x98\xb8|\xeb\xb9\x84\xeb\xb0\x80\xeb\xb2\x88\xed\x98\xb8" /* 암호 비밀번호 */

/*
 * The default prompt of su and doas: one of those words, then up to 40
 * bytes that are no colon or newline ("doas (alice@host) password: ",
 * "Mot de passe : ", NBSP included), a colon (ASCII, fullwidth, or the
 * Khmer ៖), and nothing but blanks up to the end of the output seen so
 * far.
 */
#define DEFAULT_PROMPT \
	"((" PROMPT_WORDS_LATIN ")|(" PROMPT_WORDS_OTHER "))[^:\n]{0,40}" \
	"(:|\xef\xbc\x9a|\xe1\x9f\x96)[[:space:]]*$"

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

	*_ret = mg__hop_list(mem_ctx, owner, hop, "incorrect_prompts", &words, _errmsg);
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
	if (given != NULL && (ret = mg__value_nonempty(mem_ctx, "password_prompt", given,
						       _errmsg)) != 0) {
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

