/* A set of names in a chained hash table: see names.h. */
#include <errno.h>
#include <string.h>
#include "names.h"

struct name {
	struct name *next;
	char *text;
};

struct mg_names {
	struct name **bucket;
	size_t n_bucket, n;
};

size_t mg__name_hash(const char *name)
{
	size_t h = 14695981039346656037u;

	for (const unsigned char *p = (const unsigned char *)name; *p != '\0'; p++) {
		h = (h ^ *p) * 1099511628211u;
	}
	return h;
}

struct mg_names *mg__names_new(TALLOC_CTX *mem_ctx)
{
	return talloc_zero(mem_ctx, struct mg_names);
}

bool mg__names_has(const struct mg_names *set, const char *name)
{
	if (set->n_bucket == 0) {
		return false;
	}
	for (struct name *e = set->bucket[mg__name_hash(name) % set->n_bucket]; e != NULL; e = e->next) {
		if (strcmp(e->text, name) == 0) {
			return true;
		}
	}
	return false;
}

/* Twice the buckets once there are as many names: chains stay short. */
static int grow(struct mg_names *set)
{
	size_t n = set->n_bucket > 0 ? set->n_bucket * 2 : 64;
	struct name **b = talloc_zero_array(set, struct name *, n);

	if (b == NULL) {
		return -ENOMEM;
	}
	for (size_t i = 0; i < set->n_bucket; i++) {
		struct name *e, *next;

		for (e = set->bucket[i]; e != NULL; e = next) {
			size_t k = mg__name_hash(e->text) % n;

			next = e->next;
			e->next = b[k];
			b[k] = e;
		}
	}
	talloc_free(set->bucket);
	set->bucket = b;
	set->n_bucket = n;
	return 0;
}

int mg__names_add(struct mg_names *set, const char *name)
{
	struct name *e;
	size_t k;

	if (mg__names_has(set, name)) {
		return 0;
	}
	if (set->n >= set->n_bucket && grow(set) != 0) {
		return -ENOMEM;
	}
	e = talloc(set, struct name);
	if (e == NULL || (e->text = talloc_strdup(e, name)) == NULL) {
		talloc_free(e);
		return -ENOMEM;
	}
	k = mg__name_hash(name) % set->n_bucket;
	e->next = set->bucket[k];
	set->bucket[k] = e;
	set->n++;
	return 0;
}
