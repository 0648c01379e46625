/* Id hash table: see idtab.h. */
#include <errno.h>
#include "idtab.h"

#define INITIAL_BUCKETS 64

static size_t slot(size_t mask, uint32_t id)
{
	/* Ids are sequential: Fibonacci hashing spreads them evenly. */
	return (size_t)((id * 2654435761u) >> 7) & mask;
}

int mg__idtab_init(TALLOC_CTX *mem_ctx, struct mg__idtab *t)
{
	t->b = talloc_zero_array(mem_ctx, struct mg__ident *, INITIAL_BUCKETS);
	t->mask = INITIAL_BUCKETS - 1;
	t->n = 0;
	return t->b != NULL ? 0 : -ENOMEM;
}

struct mg__ident *mg__idtab_find(const struct mg__idtab *t, uint32_t id)
{
	struct mg__ident *e;

	for (e = t->b[slot(t->mask, id)]; e != NULL && e->id != id; e = e->next) {
	}
	return e;
}

struct mg__ident *mg__idtab_next(const struct mg__ident *e)
{
	uint32_t id = e->id;

	for (e = e->next; e != NULL && e->id != id; e = e->next) {
	}
	return (struct mg__ident *)e;
}

static void grow(TALLOC_CTX *mem_ctx, struct mg__idtab *t)
{
	size_t nb = (t->mask + 1) * 2;
	struct mg__ident **b = talloc_zero_array(mem_ctx, struct mg__ident *, nb);

	if (b == NULL) {
		return;
	}
	for (size_t i = 0; i <= t->mask; i++) {
		struct mg__ident *e = t->b[i], *next;
		for (; e != NULL; e = next) {
			size_t k = slot(nb - 1, e->id);
			next = e->next;
			e->next = b[k];
			b[k] = e;
		}
	}
	talloc_free(t->b);
	t->b = b;
	t->mask = nb - 1;
}

void mg__idtab_add(TALLOC_CTX *mem_ctx, struct mg__idtab *t, struct mg__ident *e)
{
	size_t k = slot(t->mask, e->id);

	e->next = t->b[k];
	t->b[k] = e;
	t->n++;
	if (t->n > 2 * (t->mask + 1)) {
		grow(mem_ctx, t);
	}
}

void mg__idtab_del(struct mg__idtab *t, struct mg__ident *e)
{
	struct mg__ident **pp = &t->b[slot(t->mask, e->id)];

	while (*pp != NULL) {
		if (*pp == e) {
			*pp = e->next;
			e->next = NULL;
			t->n--;
			return;
		}
		pp = &(*pp)->next;
	}
}

struct mg__ident **mg__idtab_list(TALLOC_CTX *mem_ctx, const struct mg__idtab *t, size_t *_n)
{
	struct mg__ident **v = talloc_array(mem_ctx, struct mg__ident *, t->n > 0 ? t->n : 1);
	size_t n = 0;

	if (v == NULL) {
		return NULL;
	}
	for (size_t i = 0; i <= t->mask; i++) {
		for (struct mg__ident *e = t->b[i]; e != NULL && n < t->n; e = e->next) {
			v[n++] = e;
		}
	}
	*_n = n;
	return v;
}
