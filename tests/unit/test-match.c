/* Unit tests for lib/hop/match.c: the prompt matcher, checked against the
 * C library's own regex engine on the methods' patterns and on random
 * patterns of the same subset. */
#include <errno.h>
#include <regex.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "become.h"
#include "harness.h"
#include "match.h"
#include "prompt.h"

/* The patterns the methods use (lib/hop/connect, lib/hop/become.c). */
static const char *const patterns[] = {
	mg__become_default_prompt,
	"password:? *$",
	"^([^@ ]+@[^ ]+: )?permission denied",
	"are you sure you want to continue connecting \\(yes/no(/\\[fingerprint\\])?\\)\\? *$",
	"(^|[^ ])mitogen-sudo-prompt:$|\\[sudo: mitogen-sudo-prompt:] [^*\n]{1,50}$",
	"sudo(-rs)?: [0-9]+ incorrect password attempts?",
	"is not allowed to (run|execute)|may not run ",
	"sudo(-rs)?: unknown user|sudo(-rs)?: user '[^']*' not found",
	"i'm sorry .*i'm afraid i can't do that",
	"^su: user .* does not exist|^su: unknown (login|user)|^no passwd entry for user",
	"^doas: (unknown user|no passwd entry)",
	"a\\.b\\$c\\(d\\)e\\|f\\*g\\+h\\?i\\{j\\\\k\\^l\\[m[[:space:]]*$",
};

static const char *const texts[] = {
	"", "Password:", "password: ", "Password: \n", "[sudo] password for alice: ",
	"doas (alice@host) password: ", "Mot de passe : ", "Mot de passe\xc2\xa0: ",
	"\xe5\xaf\x86\xe7\xa0\x81\xef\xbc\x9a ", "su: Authentication failure",
	"root@web1's password: ", "(root@web1) Password:  ", "alice@host: Permission denied (publickey).",
	"sh: 1: x: Permission denied", "Permission denied, please try again.",
	"Are you sure you want to continue connecting (yes/no/[fingerprint])? ",
	"Are you sure you want to continue connecting (yes/no)? ",
	"mitogen-sudo-prompt:", "xmitogen-sudo-prompt:", " mitogen-sudo-prompt:",
	"[sudo: mitogen-sudo-prompt:] Password: ", "[sudo: mitogen-sudo-prompt:] Pass***",
	"sudo: 3 incorrect password attempts", "sudo-rs: 1 incorrect password attempt",
	"alice is not allowed to execute '/bin/sh' as bob", "Sorry, user alice may not run sudo",
	"sudo: unknown user bob", "sudo-rs: user 'bob' not found",
	"alice is not in the sudoers file. I'm sorry Dave, I'm afraid I can't do that",
	"su: user bob does not exist", "su: unknown login", "no passwd entry for user 'x'",
	"doas: unknown user", "doas: no passwd entry for x", "a.b$c(d)e|f*g+h?i{j\\k^l[m  ",
	"a.b$c(d)e|f*g+h?i{j\\k^l[m x", "PASSWORD:\t", "passwd:",
};

static bool libc_matches(const char *pattern, const char *text)
{
	regex_t re;
	bool m;

	if (regcomp(&re, pattern, REG_EXTENDED | REG_ICASE | REG_NOSUB) != 0) {
		return false;
	}
	m = regexec(&re, text, 0, NULL, 0) == 0;
	regfree(&re);
	return m;
}

static bool ours(TALLOC_CTX *ctx, const char *pattern, const char *text, bool *_ok)
{
	struct mg__re *re = NULL;
	char *err = NULL;

	*_ok = mg__re_compile(ctx, pattern, &re, &err) == 0;
	if (!*_ok) {
		printf("# %s\n", err != NULL ? err : "?");
		return false;
	}
	return mg__re_search(re, text, strlen(text));
}

static void test_methods_patterns(void)
{
	TALLOC_CTX *ctx = talloc_new(NULL);
	size_t np = sizeof(patterns) / sizeof(patterns[0]);
	size_t nt = sizeof(texts) / sizeof(texts[0]);
	int hits = 0;

	for (size_t i = 0; i < np; i++) {
		for (size_t j = 0; j < nt; j++) {
			bool ok, m = ours(ctx, patterns[i], texts[j], &ok);
			ASSERT_TRUE(ok);
			if (m != libc_matches(patterns[i], texts[j])) {
				T_FAIL("pattern %zu, text '%s': ours %d", i, texts[j], m);
			}
			hits += m;
		}
	}
	/* Not vacuous: many pairs match. */
	ASSERT_INT_GE(hits, 25);
	talloc_free(ctx);
}

static void expect(TALLOC_CTX *ctx, const char *pattern, const char *text, bool want)
{
	bool ok, m = ours(ctx, pattern, text, &ok);

	if (!ok || m != want) {
		T_FAIL("'%s' on '%s': expected %s", pattern, text, want ? "a match" : "none");
	}
}

static void test_syntax(void)
{
	TALLOC_CTX *ctx = talloc_new(NULL);
	const char *const bad[] = {
		"(", "a)", "*a", "a**", "a{", "a{2", "a{3,2}", "a{256}", "a{1,x}", "[a", "[[:nope:]]",
		"[z-a]", "\\", "^*", "((((((((((((((((((a))))))))))))))))))", "a{,3}",
	};
	struct mg__re *re;
	char *err;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err = NULL;
		if (mg__re_compile(ctx, bad[i], &re, &err) != -EINVAL || err == NULL) {
			T_FAIL("'%s' was accepted", bad[i]);
		}
	}
	expect(ctx, "^abc$", "ABC", true);
	expect(ctx, "^abc$", "xabc", false);
	expect(ctx, "b{2,3}c", "abbc", true);
	expect(ctx, "ab{2,3}c", "abbbbc", false);
	expect(ctx, "ab{2,}c", "abbbbbbc", true);
	expect(ctx, "ab{0}c", "ac", true);
	expect(ctx, "a]b}", "a]b}", true);
	expect(ctx, "[]a]x", "]x", true);
	expect(ctx, "[a-]x", "-x", true);
	expect(ctx, "[\\]x", "\\x", true);
	expect(ctx, "()*a", "a", true);
	expect(ctx, "(a*)*b", "aaab", true);
	expect(ctx, "(a|b|c|)d", "d", true);
	expect(ctx, "[[:punct:]]", "~", true);
	expect(ctx, "[^[:alpha:]]", "Q", false);
	/* A byte >= 0x80 and a NUL are bytes like any other. */
	{
		bool ok;
		ASSERT_TRUE(mg__re_compile(ctx, "a.b", &re, &err) == 0);
		ASSERT_TRUE(mg__re_search(re, "a\0b", 3));
		ASSERT_TRUE(ours(ctx, "\xc3\xb1$", "contrase\xc3\xb1", &ok) && ok);
	}
	/* Linear time: a pattern that backtracks exponentially elsewhere. */
	{
		char text[1000];
		memset(text, 'a', sizeof(text));
		ASSERT_TRUE(mg__re_compile(ctx, "(a*)*(a|b)*c", &re, &err) == 0);
		ASSERT_TRUE(!mg__re_search(re, text, sizeof(text)));
	}
	talloc_free(ctx);
}

/* Random patterns over a tiny alphabet, so that matches are common. */
static void gen(char *out, size_t cap, size_t *n, int depth)
{
	int pieces = 1 + rand() % 3;

	for (int i = 0; i < pieces && *n + 16 < cap; i++) {
		int r = rand() % 10;
		if (r < 4) {
			out[(*n)++] = "abAB"[rand() % 4];
		} else if (r == 4) {
			out[(*n)++] = '.';
		} else if (r == 5) {
			static const char *const brackets[] = {
				"[ab]", "[^a\n]", "[[:space:]]", "[^[:alpha:]]", "[a-c]",
			};
			*n += (size_t)sprintf(out + *n, "%s", brackets[rand() % 5]);
		} else if (r == 6 && depth < 3) {
			out[(*n)++] = '(';
			gen(out, cap, n, depth + 1);
			if (rand() % 2) {
				out[(*n)++] = '|';
				gen(out, cap, n, depth + 1);
			}
			out[(*n)++] = ')';
		} else {
			out[(*n)++] = "ab"[rand() % 2];
		}
		switch (rand() % 7) {
		case 0: out[(*n)++] = '*'; break;
		case 1: out[(*n)++] = '+'; break;
		case 2: out[(*n)++] = '?'; break;
		case 3: *n += (size_t)sprintf(out + *n, "{%d,%d}", rand() % 2, 1 + rand() % 3); break;
		default: break;
		}
	}
	out[*n] = '\0';
}

static void test_random_against_libc(void)
{
	TALLOC_CTX *ctx = talloc_new(NULL);
	int matched = 0;

	srand(7);
	for (int i = 0; i < 3000; i++) {
		char pat[256], text[12];
		size_t n = 0, tl = (size_t)(rand() % 10);
		if (rand() % 4 == 0) {
			pat[n++] = '^';
		}
		gen(pat, sizeof(pat) - 2, &n, 0);
		if (rand() % 4 == 0) {
			pat[n++] = '$';
			pat[n] = '\0';
		}
		for (size_t k = 0; k < tl; k++) {
			text[k] = "abAB\nc \t"[rand() % 8];
		}
		text[tl] = '\0';
		bool ok, m = ours(ctx, pat, text, &ok);
		if (!ok || m != libc_matches(pat, text)) {
			T_FAIL("'%s' on '%s': ours %d (compiled %d)", pat, text, m, ok);
		}
		matched += m;
	}
	ASSERT_INT_GE(matched, 500);
	talloc_free(ctx);
}

/*
 * The prompt engine compiles its patterns when the hop first prints
 * something (most never do): making one costs nothing, and a bad
 * pattern fails the hop at that first line, saying why.
 */
static void test_engine_compiles_late(void)
{
	TALLOC_CTX *ctx = talloc_new(NULL);
	const struct mg_line_error errors[] = {
		{ "unknown user", -EINVAL, "no such user" },
		{ NULL, 0, NULL },
	};
	struct mg_prompts good = { .what = "sudo", .password = "password: *$", .errors = errors };
	struct mg_prompts bad = { .what = "sudo", .password = "(password" };
	struct mg_prompt_engine *e;
	const char *msg = NULL;
	char *errmsg = NULL;
	int err = 0;

	ASSERT_INT_EQ(mg__prompt_new(ctx, &good, &e, &errmsg), 0);
	ASSERT_INT_EQ(talloc_total_blocks(e), 1);
	ASSERT_INT_EQ(mg__prompt_partial(e, "Password: ", 10, &err, &msg), MG_PROMPT_NEED_PASSWORD);
	ASSERT_INT_EQ(mg__prompt_line(e, "sudo: unknown user x", 20, &err, &msg), MG_PROMPT_FAIL);
	ASSERT_STR_EQ(msg, "no such user");

	ASSERT_INT_EQ(mg__prompt_new(ctx, &bad, &e, &errmsg), 0);
	ASSERT_INT_EQ(mg__prompt_line(e, "hello", 5, &err, &msg), MG_PROMPT_FAIL);
	ASSERT_INT_EQ(err, -EINVAL);
	ASSERT_STR_CONTAINS(msg, "bad pattern '(password'");
	/* Failed once, it matches nothing after. */
	ASSERT_INT_EQ(mg__prompt_partial(e, "password", 8, &err, &msg), MG_PROMPT_NONE);
	talloc_free(ctx);
}

/* The line naming an unknown host key is kept (not an error, not a
 * prompt), whatever else the hop prints around it. */
static void test_engine_hostkey_id(void)
{
	TALLOC_CTX *ctx = talloc_new(NULL);
	struct mg_prompts p = { .what = "SSH", .hostkey = "continue connecting.*\\? *$",
				.accept_hostkey = true,
				.hostkey_id = "^[a-z0-9-]+ key fingerprint is [^ ]+$" };
	const char *fp = "ED25519 key fingerprint is SHA256:OQH6bzv3TBk5ye1vL3LX7BlNFJw412CMXv4zn/JQBAM.";
	struct mg_prompt_engine *e;
	const char *msg = NULL;
	char *errmsg = NULL;
	int err = 0;

	ASSERT_INT_EQ(mg__prompt_new(ctx, &p, &e, &errmsg), 0);
	ASSERT_INT_EQ(mg__prompt_line(e, "The authenticity of host 'h' can't be established.", 51,
				      &err, &msg), MG_PROMPT_NONE);
	ASSERT_INT_EQ(mg__prompt_line(e, fp, strlen(fp), &err, &msg), MG_PROMPT_HOSTKEY_ID);
	ASSERT_INT_EQ(mg__prompt_line(e, "Warning: the RSA key fingerprint is x", 37, &err, &msg), MG_PROMPT_NONE);
	ASSERT_INT_EQ(mg__prompt_partial(e, "continue connecting (yes/no)? ", 30, &err, &msg),
		      MG_PROMPT_SEND_YES);
	talloc_free(ctx);
}

int main(void)
{
	TESTS_BEGIN();
	RUN(test_engine_hostkey_id);
	RUN(test_methods_patterns);
	RUN(test_syntax);
	RUN(test_random_against_libc);
	RUN(test_engine_compiles_late);
	return TESTS_END();
}
