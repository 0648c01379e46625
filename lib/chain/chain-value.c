/* The forms of option values (chain-value.h): one checker per kind. */
#include <errno.h>
#include <string.h>
#include <strings.h>
#include "chain-private.h"
#include "chain-value.h"

/* 'v' quoted for a message, or "?" without memory. */
static const char *q(TALLOC_CTX *mem_ctx, const char *v)
{
	char *s = mg__chain_quote(mem_ctx, v, strlen(v));

	return s != NULL ? s : "?";
}

/* Set *_errmsg to 'msg' (allocated on mem_ctx) and return -EINVAL, or
 * -ENOMEM when msg is NULL. */
static int fail(char *msg, char **_errmsg)
{
	if (msg == NULL) {
		return -ENOMEM;
	}
	*_errmsg = msg;
	return -EINVAL;
}

int mg__value_bool(TALLOC_CTX *mem_ctx, const char *key, const char *v, bool *_on,
		   char **_errmsg)
{
	static const char *const yes[] = { "1", "yes", "true", "on", NULL };
	static const char *const no[] = { "0", "no", "false", "off", NULL };

	for (size_t i = 0; yes[i] != NULL; i++) {
		if (strcasecmp(v, yes[i]) == 0 || strcasecmp(v, no[i]) == 0) {
			*_on = strcasecmp(v, yes[i]) == 0;
			return 0;
		}
	}
	return fail(talloc_asprintf(mem_ctx, "option %s: expected yes or no, not '%s'", key,
				    q(mem_ctx, v)), _errmsg);
}

int mg__value_seconds(TALLOC_CTX *mem_ctx, const char *key, const char *v, unsigned *_ms,
		      char **_errmsg)
{
	const char *point = strchr(v, '.');
	unsigned long long whole = 0, frac = 0;
	bool ok = false;

	/* Digits and at most one point, read by hand: strtod takes " 1",
	 * "1e3", "0x10" and "inf", and brings musl's float scanner (6 KB)
	 * into the agent. frac is in tenths of a millisecond; a value under
	 * a millisecond would time out at once. */
	if (v[0] != '\0' && strspn(v, "0123456789.") == strlen(v) &&
	    (point == NULL || strchr(point + 1, '.') == NULL) && strcmp(v, ".") != 0) {
		const char *p = v;
		bool extra = false;
		for (; *p >= '0' && *p <= '9'; p++) {
			whole = whole > 100000 ? whole : whole * 10 + (unsigned)(*p - '0');
		}
		for (int i = 0; *p != '\0'; p++) {
			if (*p == '.') {
				continue;
			}
			if (i < 4) {
				frac = frac * 10 + (unsigned)(*p - '0');
				i++;
			} else {
				extra = extra || *p != '0';
			}
		}
		for (size_t n = point != NULL ? strlen(point + 1) : 0; n < 4; n++) {
			frac *= 10;
		}
		ok = (whole > 0 || frac >= 10) &&
		     (whole < 86400 || (whole == 86400 && frac == 0 && !extra));
	}
	if (!ok) {
		return fail(talloc_asprintf(mem_ctx, "option %s: expected seconds from 0.001 to "
					    "86400 (digits and at most one point), not '%s'",
					    key, q(mem_ctx, v)), _errmsg);
	}
	*_ms = (unsigned)(whole * 1000 + (frac + 5) / 10);
	return 0;
}

int mg__value_count(TALLOC_CTX *mem_ctx, const char *key, const char *v, unsigned long *_n,
		    char **_errmsg)
{
	unsigned long n = 0;
	size_t i = 0;

	/* By hand: strtoul would take " 5", "+5" and "-5". */
	for (; v[i] >= '0' && v[i] <= '9' && n <= 1000000; i++) {
		n = n * 10 + (unsigned long)(v[i] - '0');
	}
	if (i == 0 || v[i] != '\0' || n > 1000000) {
		return fail(talloc_asprintf(mem_ctx, "option %s: expected a whole number, "
					    "not '%s'", key, q(mem_ctx, v)), _errmsg);
	}
	*_n = n;
	return 0;
}

int mg__value_hostkeys(TALLOC_CTX *mem_ctx, const char *key, const char *v,
		       enum mg_hostkeys *_hk, char **_errmsg)
{
	static const char *const names[] = { "enforce", "accept", "ignore" };

	for (int i = 0; i < 3; i++) {
		if (strcmp(v, names[i]) == 0) {
			*_hk = (enum mg_hostkeys)i;
			return 0;
		}
	}
	return fail(talloc_asprintf(mem_ctx, "%s= must be accept, enforce or ignore", key),
		    _errmsg);
}

/* Append 'len' bytes of 's' to *w (NULL: a new empty word on 'words'). */
static bool word_add(char **words, char **w, const char *s, size_t len)
{
	if (*w == NULL) {
		*w = talloc_strdup(words, "");
	}
	*w = *w != NULL ? talloc_strndup_append(*w, s, len) : NULL;
	return *w != NULL;
}

/* Move the word *w (if any) to the end of *_words. */
static bool word_end(char ***_words, char **w)
{
	size_t n = talloc_array_length(*_words);
	char **nv;

	if (*w == NULL) {
		return true;
	}
	nv = talloc_realloc(NULL, *_words, char *, n + 1);
	if (nv == NULL) {
		return false;
	}
	nv[n - 1] = *w;
	nv[n] = NULL;
	*_words = nv;
	*w = NULL;
	return true;
}

int mg__value_words(TALLOC_CTX *mem_ctx, const char *key, const char *v, char ***_words,
		    char **_errmsg)
{
	char **words = talloc_zero_array(mem_ctx, char *, 1);
	char *w = NULL;
	char quote = 0;
	bool ok = words != NULL;

	for (const char *p = v; ok && *p != '\0'; p++) {
		char ch = *p;

		if (quote == ch) {
			quote = 0;
			continue;
		}
		if (quote == '"' && ch == '\\' && strchr("\"\\$`", p[1]) != NULL && p[1] != '\0') {
			ch = *++p;
		} else if (quote == 0 && (ch == ' ' || ch == '\t' || ch == '\n')) {
			ok = word_end(&words, &w);
			continue;
		} else if (quote == 0 && (ch == '\'' || ch == '"')) {
			quote = ch;
			ok = word_add(words, &w, "", 0);
			continue;
		} else if (quote == 0 && ch == '\\' && p[1] != '\0') {
			ch = *++p;
		}
		ok = word_add(words, &w, &ch, 1);
	}
	ok = ok && word_end(&words, &w);
	if (ok && quote != 0) {
		char *msg = talloc_asprintf(mem_ctx, "option %s: unterminated %c quote in '%s'",
					    key, quote, q(mem_ctx, v));
		talloc_free(words);
		return fail(msg, _errmsg);
	}
	if (!ok || _words == NULL) {
		talloc_free(words);
		return ok ? 0 : -ENOMEM;
	}
	*_words = words;
	return 0;
}

int mg__value_path(TALLOC_CTX *mem_ctx, const char *key, const char *v, char **_errmsg)
{
	if (v[0] == '\0') {
		return fail(talloc_asprintf(mem_ctx, "option %s: expected a path", key), _errmsg);
	}
	return 0;
}

int mg__value_name(TALLOC_CTX *mem_ctx, const char *key, const char *v, char **_errmsg)
{
	if (v[0] == '\0' || v[0] == '-') {
		return fail(talloc_asprintf(mem_ctx, "option %s: expected a name, not '%s'", key,
					    q(mem_ctx, v)), _errmsg);
	}
	return 0;
}

int mg__value_nonempty(TALLOC_CTX *mem_ctx, const char *key, const char *v, char **_errmsg)
{
	if (v[0] == '\0') {
		return fail(talloc_asprintf(mem_ctx, "option %s is empty", key), _errmsg);
	}
	return 0;
}

int mg__value_check(TALLOC_CTX *mem_ctx, const char *key, const char *value, char **_errmsg)
{
	union {
		bool on;
		unsigned ms;
		unsigned long n;
		enum mg_hostkeys hk;
	} out;

	switch (mg__option_kind(key)) {
	case MG_OPT_BOOL:
		return mg__value_bool(mem_ctx, key, value, &out.on, _errmsg);
	case MG_OPT_SECONDS:
		return mg__value_seconds(mem_ctx, key, value, &out.ms, _errmsg);
	case MG_OPT_COUNT:
		return mg__value_count(mem_ctx, key, value, &out.n, _errmsg);
	case MG_OPT_HOSTKEYS:
		return mg__value_hostkeys(mem_ctx, key, value, &out.hk, _errmsg);
	case MG_OPT_WORDS:
		return mg__value_words(mem_ctx, key, value, NULL, _errmsg);
	case MG_OPT_PATH:
		return mg__value_path(mem_ctx, key, value, _errmsg);
	case MG_OPT_NAME:
		return mg__value_name(mem_ctx, key, value, _errmsg);
	case MG_OPT_NONEMPTY:
		return mg__value_nonempty(mem_ctx, key, value, _errmsg);
	case MG_OPT_TEXT:
	default:
		return 0;
	}
}

/* The flags of ssh(1) and sudo(8) that take an argument (their getopt
 * strings), for mg__value_args_end(). */
static const char *arg_flags(const char *key)
{
	if (strcmp(key, "ssh_args") == 0) {
		return "BDEFIJLOPQRSWbceilmopw";
	}
	if (strcmp(key, "sudo_args") == 0) {
		return "CDRTUacgprtu";
	}
	return NULL;
}

int mg__value_args_end(TALLOC_CTX *mem_ctx, const char *key, const char *v, char **_errmsg)
{
	const char *flags = arg_flags(key);
	char **words = NULL, *last;
	size_t n = 0;
	int r;

	if (flags == NULL || (r = mg__value_words(mem_ctx, key, v, &words, _errmsg)) != 0) {
		return flags == NULL ? 0 : r;
	}
	while (words[n] != NULL) {
		n++;
	}
	last = n > 0 ? words[n - 1] : "";
	/* "-vF": each letter a flag until one takes an argument, which is
	 * the rest of the word, or the next word when there is no rest. */
	for (const char *c = last + 1; last[0] == '-' && last[1] != '-' && *c != '\0'; c++) {
		if (strchr(flags, *c) == NULL) {
			continue;
		}
		if (c[1] != '\0') {
			break;
		}
		r = fail(talloc_asprintf(mem_ctx, "option %s: '%s' is missing its argument (a '/' "
					 "in a value is written %%2F)", key, q(mem_ctx, last)),
			 _errmsg);
		break;
	}
	talloc_free(words);
	return r;
}
