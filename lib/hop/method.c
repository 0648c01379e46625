/* Helpers shared by the connection methods: option values and argv lists. */
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>
#include "method.h"

bool mg__strv_add(char ***v, const char *s)
{
	size_t n = 0;
	char **nv;

	while ((*v)[n] != NULL) {
		n++;
	}
	nv = talloc_realloc(NULL, *v, char *, n + 2);
	if (nv == NULL) {
		return false;
	}
	nv[n] = talloc_strdup(nv, s);
	nv[n + 1] = NULL;
	*v = nv;
	return nv[n] != NULL;
}

char **mg__split_words(TALLOC_CTX *mem_ctx, const char *value, char **_errmsg)
{
	char **words = talloc_zero_array(mem_ctx, char *, 1);
	char *cur = NULL;
	char quote = 0;

	for (const char *p = value; words != NULL; p++) {
		char ch = *p;

		if (ch == '\0') {
			if (quote != 0) {
				*_errmsg = talloc_asprintf(mem_ctx, "unterminated %c quote in '%s'", quote, value);
				TALLOC_FREE(words);
				break;
			}
			if (cur != NULL && !mg__strv_add(&words, cur)) {
				TALLOC_FREE(words);
			}
			break;
		}
		if (quote == '\'') {
			if (ch == '\'') {
				quote = 0;
				continue;
			}
		} else if (quote == '"') {
			if (ch == '"') {
				quote = 0;
				continue;
			}
			if (ch == '\\' && (p[1] == '"' || p[1] == '\\' || p[1] == '$' || p[1] == '`')) {
				ch = *++p;
			}
		} else if (ch == ' ' || ch == '\t' || ch == '\n') {
			if (cur != NULL) {
				if (!mg__strv_add(&words, cur)) {
					TALLOC_FREE(words);
					break;
				}
				TALLOC_FREE(cur);
			}
			continue;
		} else if (ch == '\'' || ch == '"') {
			quote = ch;
			if (cur == NULL) {
				cur = talloc_strdup(words, "");
			}
			continue;
		} else if (ch == '\\' && p[1] != '\0') {
			ch = *++p;
		}
		if (cur == NULL) {
			cur = talloc_strdup(words, "");
		}
		cur = talloc_strndup_append(cur, &ch, 1);
		if (cur == NULL) {
			TALLOC_FREE(words);
		}
	}
	/* cur is a child of words: freed with it when words went. */
	if (words != NULL) {
		talloc_free(cur);
	}
	return words;
}

int mg__hop_list(TALLOC_CTX *mem_ctx, TALLOC_CTX *owner, const struct mg_hop *hop,
		 const char *key, char ***_words, char **_errmsg)
{
	char **all = talloc_zero_array(owner, char *, 1);

	for (size_t i = 0; all != NULL && i < hop->n_opts; i++) {
		char *err = NULL;
		char **w;
		if (strcmp(hop->opts[i].key, key) != 0) {
			continue;
		}
		/* The message goes on mem_ctx: it must outlive 'all'. */
		w = mg__split_words(mem_ctx, hop->opts[i].value, &err);
		if (w == NULL) {
			talloc_free(all);
			if (err == NULL) {
				return -ENOMEM;
			}
			*_errmsg = err;
			return -EINVAL;
		}
		for (size_t j = 0; w[j] != NULL; j++) {
			if (!mg__strv_add(&all, w[j])) {
				talloc_free(w);
				talloc_free(all);
				return -ENOMEM;
			}
		}
		talloc_free(w);
	}
	if (all == NULL) {
		return -ENOMEM;
	}
	*_words = all;
	return 0;
}

int mg__hop_list_named(TALLOC_CTX *mem_ctx, TALLOC_CTX *owner, const struct mg_hop *hop,
		       const char *key, char ***_words, char **_errmsg)
{
	char *err = NULL;
	int ret = mg__hop_list(mem_ctx, owner, hop, key, _words, &err);

	if (ret == -EINVAL) {
		*_errmsg = talloc_asprintf(mem_ctx, "option %s: %s", key, err);
		talloc_free(err);
	}
	return ret;
}

int mg__hop_bool(TALLOC_CTX *mem_ctx, const struct mg_hop *hop, const char *key, bool dflt,
		 bool *_value, char **_errmsg)
{
	static const char *const yes[] = { "1", "yes", "true", "on", NULL };
	static const char *const no[] = { "0", "no", "false", "off", NULL };
	const char *v = mg_hop_opt(hop, key);

	*_value = dflt;
	if (v == NULL) {
		return 0;
	}
	for (size_t i = 0; yes[i] != NULL; i++) {
		if (strcasecmp(v, yes[i]) == 0) {
			*_value = true;
			return 0;
		}
		if (strcasecmp(v, no[i]) == 0) {
			*_value = false;
			return 0;
		}
	}
	*_errmsg = talloc_asprintf(mem_ctx, "option %s: expected yes or no, not '%s'", key, v);
	return -EINVAL;
}

int mg__hop_seconds(TALLOC_CTX *mem_ctx, const struct mg_hop *hop, const char *key,
		    unsigned *_ms, bool *_given, char **_errmsg)
{
	const char *v = mg_hop_opt(hop, key);
	const char *point;
	unsigned long long whole = 0, frac = 0;
	bool ok = false;

	*_given = v != NULL;
	if (v == NULL) {
		return 0;
	}
	/* Digits and at most one point, read by hand: strtod takes " 1",
	 * "1e3", "0x10" and "inf", and brings musl's float scanner (6 KB)
	 * into the agent. frac is in tenths of a millisecond; a value under
	 * a millisecond would time out at once. */
	point = strchr(v, '.');
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
		*_errmsg = talloc_asprintf(mem_ctx, "option %s: expected seconds from 0.001 to "
					   "86400 (digits and at most one point), not '%s'", key, v);
		return -EINVAL;
	}
	*_ms = (unsigned)(whole * 1000 + (frac + 5) / 10);
	return 0;
}

int mg__container_check(TALLOC_CTX *mem_ctx, const struct mg_hop *hop, const char *method,
			const char *path_opt, const char *dflt, bool user_ok,
			const char **_path, char **_errmsg)
{
	const char *path = mg_hop_opt(hop, path_opt);

	if (path == NULL) {
		path = dflt;
	}
	if (path[0] == '\0') {
		*_errmsg = talloc_asprintf(mem_ctx, "%s is empty", path_opt);
		return -EINVAL;
	}
	if (hop->host == NULL || hop->host[0] == '\0') {
		*_errmsg = talloc_asprintf(mem_ctx, "%s needs a container name", method);
		return -EINVAL;
	}
	if (!user_ok && hop->user != NULL) {
		*_errmsg = talloc_asprintf(mem_ctx, "%s cannot choose a user (add a sudo or su hop)",
					   method);
		return -EINVAL;
	}
	*_path = path;
	return 0;
}

char **mg__argv_then_boot(TALLOC_CTX *mem_ctx, const char *const *words, size_t n,
			  const struct mg_boot_cmd *boot)
{
	char **argv = talloc_zero_array(mem_ctx, char *, 1);
	bool ok = argv != NULL;

	for (size_t i = 0; ok && i < n; i++) {
		if (words[i] != NULL) {
			ok = mg__strv_add(&argv, words[i]);
		}
	}
	for (size_t i = 0; ok && boot->argv[i] != NULL; i++) {
		ok = mg__strv_add(&argv, boot->argv[i]);
	}
	if (!ok) {
		talloc_free(argv);
		return NULL;
	}
	return argv;
}
