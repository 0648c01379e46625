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

int mg__hop_list(TALLOC_CTX *mem_ctx, TALLOC_CTX *owner, const struct mg_hop *hop,
		 const char *key, char ***_words, char **_errmsg)
{
	char **all = talloc_zero_array(owner, char *, 1);

	for (size_t i = 0; all != NULL && i < hop->n_opts; i++) {
		char **w = NULL;
		int ret;

		if (strcmp(hop->opts[i].key, key) != 0) {
			continue;
		}
		/* The message goes on mem_ctx: it must outlive 'all'. */
		ret = mg__value_words(mem_ctx, key, hop->opts[i].value, &w, _errmsg);
		if (ret != 0) {
			talloc_free(all);
			return ret;
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

int mg__hop_bool(TALLOC_CTX *mem_ctx, const struct mg_hop *hop, const char *key, bool dflt,
		 bool *_value, char **_errmsg)
{
	const char *v = mg_hop_opt(hop, key);

	*_value = dflt;
	return v != NULL ? mg__value_bool(mem_ctx, key, v, _value, _errmsg) : 0;
}

int mg__hop_seconds(TALLOC_CTX *mem_ctx, const struct mg_hop *hop, const char *key,
		    unsigned *_ms, bool *_given, char **_errmsg)
{
	const char *v = mg_hop_opt(hop, key);

	*_given = v != NULL;
	return v != NULL ? mg__value_seconds(mem_ctx, key, v, _ms, _errmsg) : 0;
}

int mg__hop_path(TALLOC_CTX *mem_ctx, const struct mg_hop *hop, const char *key,
		 const char *dflt, const char **_path, char **_errmsg)
{
	const char *v = mg_hop_opt(hop, key);

	*_path = v != NULL ? v : dflt;
	return v != NULL ? mg__value_path(mem_ctx, key, v, _errmsg) : 0;
}

int mg__container_check(TALLOC_CTX *mem_ctx, const struct mg_hop *hop, const char *method,
			const char *path_opt, const char *dflt, bool user_ok,
			const char **_path, char **_errmsg)
{
	const char *path;
	int ret;

	if ((ret = mg__hop_path(mem_ctx, hop, path_opt, dflt, &path, _errmsg)) != 0) {
		return ret;
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
