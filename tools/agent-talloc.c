/*
 * The agent's allocator: the part of talloc's API that the library calls,
 * with talloc's semantics, for the static mitogen-agent only (issue 11:
 * every byte of the agent crosses the link to every hop). Debian's
 * libtalloc.a is one object, so linking it pulls in all of talloc, 26 KB,
 * most of it pools, references, reports and memory limits nobody here
 * uses. lib/ and the commands keep the real talloc; tools/build-agent.sh
 * links this file instead for the musl agent. A link error naming a
 * talloc function means the library started using one more: add it here,
 * with a case in tests/unit/test-agent-talloc.c.
 *
 * What is kept, as talloc does it: a tree of chunks (each knows its parent
 * and children; freeing one frees its subtree, children newest first);
 * destructors, run before the children are freed, a destructor returning
 * -1 refusing the free (its children then move to the freed chunk's
 * parent); names, which talloc_get_type_abort checks; the 256 MB cap on
 * one allocation (MAX_TALLOC_SIZE), which also rules out size overflows.
 * What is not: references, pools, memory limits, null tracking, reports.
 * A pointer that is not a live chunk aborts the agent, as talloc does,
 * its magic random per process as talloc's.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <talloc.h>

#define TC_MAX_SIZE 0x10000000u /* talloc's MAX_TALLOC_SIZE */
#define TC_LOOP 1u              /* being freed: a second free is a no-op */
#define TC_RUNNING ((int (*)(void *))-1) /* destructor in progress */

/* As in talloc, only the first child holds the parent pointer: adding
 * and unlinking stay O(1), and realloc fixes up one child, not all. */
struct tc {
	struct tc *parent, *child, *prev, *next;
	int (*destructor)(void *);
	const char *name;
	size_t size;
	uint32_t flags; /* tc_magic | TC_LOOP */
	uint32_t pad_;
};
#define TC_HDR sizeof(struct tc) /* 64: keeps malloc's 16-byte alignment */
#define TC_PTR(tc) ((void *)((char *)(tc) + TC_HDR))

/* Random for each process, as talloc's: a header forged by an overflow
 * (a destructor pointer to call) must guess it. The only global. */
static uint32_t tc_magic;

static uint32_t tc_magic_of_process(void)
{
	if (tc_magic == 0) {
		const uint8_t *r = (const uint8_t *)getauxval(AT_RANDOM);
		uint32_t m = 0x6d67a110u;

		if (r)
			memcpy(&m, r + 12, sizeof m); /* musl's canary takes 0-7 */
		tc_magic = (m & ~TC_LOOP) | 2u;
	}
	return tc_magic;
}

static struct tc *tc_of(const void *ptr)
{
	struct tc *tc = (struct tc *)((char *)ptr - TC_HDR);

	if ((tc->flags & ~TC_LOOP) != tc_magic || tc_magic == 0)
		abort(); /* freed, or never ours: as talloc's "Bad talloc magic" */
	return tc;
}

static struct tc *tc_parent(const struct tc *tc)
{
	while (tc->prev)
		tc = tc->prev;
	return tc->parent;
}

static void tc_unlink(struct tc *tc)
{
	if (tc->prev) {
		tc->prev->next = tc->next;
	} else if (tc->parent) {
		tc->parent->child = tc->next;
		if (tc->next)
			tc->next->parent = tc->parent;
	}
	if (tc->next)
		tc->next->prev = tc->prev;
	tc->parent = tc->prev = tc->next = NULL;
}

/* Newest child first, as talloc: the free order of siblings follows. */
static void tc_link(struct tc *tc, const void *ctx)
{
	struct tc *p;

	if (!ctx)
		return;
	p = tc_of(ctx);
	tc->next = p->child;
	if (p->child) {
		p->child->parent = NULL;
		p->child->prev = tc;
	}
	tc->parent = p;
	p->child = tc;
}

static void *tc_alloc(const void *ctx, size_t size, const char *name)
{
	struct tc *tc;

	if (size >= TC_MAX_SIZE)
		return NULL;
	tc = malloc(TC_HDR + size);
	if (!tc)
		return NULL;
	memset(tc, 0, TC_HDR);
	tc->flags = tc_magic_of_process();
	tc->name = name;
	tc->size = size;
	tc_link(tc, ctx);
	return TC_PTR(tc);
}

void *talloc_named_const(const void *context, size_t size, const char *name)
{
	return tc_alloc(context, size, name);
}

void *_talloc_zero(const void *ctx, size_t size, const char *name)
{
	void *p = tc_alloc(ctx, size, name);

	if (p)
		memset(p, 0, size);
	return p;
}

void *_talloc_memdup(const void *t, const void *p, size_t size, const char *name)
{
	void *n = tc_alloc(t, size, name);

	if (n && size)
		memcpy(n, p, size);
	return n;
}

void *_talloc_array(const void *ctx, size_t el_size, unsigned count, const char *name)
{
	if (el_size && count >= TC_MAX_SIZE / el_size)
		return NULL;
	return tc_alloc(ctx, el_size * count, name);
}

void *_talloc_zero_array(const void *ctx, size_t el_size, unsigned count, const char *name)
{
	if (el_size && count >= TC_MAX_SIZE / el_size)
		return NULL;
	return _talloc_zero(ctx, el_size * count, name);
}

static int tc_free(struct tc *tc);

/* A child that refuses to go moves up to the freed chunk's own parent
 * (talloc's rule), unless its destructor already moved it elsewhere. */
static void tc_free_children(struct tc *tc, struct tc *up)
{
	while (tc->child) {
		struct tc *c = tc->child;

		if (tc_free(c) == -1 && tc_parent(c) == tc) {
			tc_unlink(c);
			tc_link(c, up ? TC_PTR(up) : NULL);
		}
	}
}

static int tc_free(struct tc *tc)
{
	struct tc *up;

	if (tc->flags & TC_LOOP)
		return 0;
	if (tc->destructor) {
		int (*d)(void *) = tc->destructor;

		if (d == TC_RUNNING)
			return -1;
		tc->destructor = TC_RUNNING;
		if (d(TC_PTR(tc)) == -1) {
			if (tc->destructor == TC_RUNNING)
				tc->destructor = d;
			return -1;
		}
		tc->destructor = NULL;
	}
	up = tc_parent(tc);
	tc_unlink(tc);
	tc->flags |= TC_LOOP;
	tc_free_children(tc, up);
	tc->flags = 0; /* a later use of this pointer aborts, if still mapped */
	free(tc);
	return 0;
}

int _talloc_free(void *ptr, const char *location)
{
	(void)location;
	if (!ptr)
		return -1;
	return tc_free(tc_of(ptr));
}

void _talloc_set_destructor(const void *ptr, int (*destructor)(void *))
{
	tc_of(ptr)->destructor = destructor;
}

void *_talloc_steal_loc(const void *new_ctx, const void *ptr, const char *location)
{
	struct tc *tc;

	(void)location;
	if (!ptr)
		return NULL;
	tc = tc_of(ptr);
	if (new_ctx && (tc_of(new_ctx) == tc || tc->parent == tc_of(new_ctx)))
		return (void *)ptr;
	tc_unlink(tc);
	tc_link(tc, new_ctx);
	return (void *)ptr;
}

void *talloc_parent(const void *ptr)
{
	struct tc *p;

	if (!ptr)
		return NULL;
	p = tc_parent(tc_of(ptr));
	return p ? TC_PTR(p) : NULL;
}

void talloc_set_name_const(const void *ptr, const char *name)
{
	tc_of(ptr)->name = name;
}

size_t talloc_get_size(const void *ctx)
{
	return ctx ? tc_of(ctx)->size : 0;
}

void *talloc_check_name(const void *ptr, const char *name)
{
	const char *pname;

	if (!ptr)
		return NULL;
	pname = tc_of(ptr)->name;
	if (pname == name || (pname && strcmp(pname, name) == 0))
		return (void *)ptr;
	return NULL;
}

void *_talloc_get_type_abort(const void *ptr, const char *name, const char *location)
{
	(void)location;
	if (!talloc_check_name(ptr, name))
		abort(); /* talloc's "Type mismatch": a bug, never input */
	return (void *)ptr;
}

/* Size zero frees (talloc_unlink: only from its own parent), NULL
 * allocates; the chunk keeps its place in the tree and takes NAME. */
void *_talloc_realloc(const void *context, void *ptr, size_t size, const char *name)
{
	struct tc *tc, *n;

	if (size == 0) {
		if (ptr && talloc_parent(ptr) == context)
			_talloc_free(ptr, NULL);
		return NULL;
	}
	if (size >= TC_MAX_SIZE)
		return NULL;
	if (!ptr)
		return tc_alloc(context, size, name);
	tc = tc_of(ptr);
	n = realloc(tc, TC_HDR + size);
	if (!n)
		return NULL;
	if (n != tc) {
		if (n->prev)
			n->prev->next = n;
		else if (n->parent)
			n->parent->child = n;
		if (n->next)
			n->next->prev = n;
		if (n->child)
			n->child->parent = n;
	}
	n->size = size;
	n->name = name;
	return TC_PTR(n);
}

void *_talloc_realloc_array(const void *ctx, void *ptr, size_t el_size, unsigned count,
			    const char *name)
{
	if (el_size && count >= TC_MAX_SIZE / el_size)
		return NULL;
	return _talloc_realloc(ctx, ptr, el_size * count, name);
}

/* Strings: a string chunk is named by its own text, as in talloc. */
static char *tc_strlendup(const void *t, const char *p, size_t len)
{
	char *r = tc_alloc(t, len + 1, NULL);

	if (!r)
		return NULL;
	memcpy(r, p, len);
	r[len] = '\0';
	tc_of(r)->name = r;
	return r;
}

char *talloc_strdup(const void *t, const char *p)
{
	return p ? tc_strlendup(t, p, strlen(p)) : NULL;
}

char *talloc_strndup(const void *t, const char *p, size_t n)
{
	return p ? tc_strlendup(t, p, strnlen(p, n)) : NULL;
}

/* Where an _append_buffer call writes: the chunk's last byte, the
 * terminator of a string built only by these calls. */
static size_t tc_buflen(const char *s)
{
	size_t n = talloc_get_size(s);

	return n ? n - 1 : 0;
}

static char *tc_append(char *s, size_t slen, const char *a, size_t alen)
{
	char *r = _talloc_realloc(NULL, s, slen + alen + 1, NULL);

	if (!r)
		return NULL; /* S is still whole, as in talloc */
	memcpy(r + slen, a, alen);
	r[slen + alen] = '\0';
	tc_of(r)->name = r;
	return r;
}

char *talloc_strdup_append(char *s, const char *a)
{
	if (!s)
		return talloc_strdup(NULL, a);
	return a ? tc_append(s, strlen(s), a, strlen(a)) : s;
}

char *talloc_strdup_append_buffer(char *s, const char *a)
{
	if (!s)
		return talloc_strdup(NULL, a);
	return a ? tc_append(s, tc_buflen(s), a, strlen(a)) : s;
}

char *talloc_strndup_append(char *s, const char *a, size_t n)
{
	if (!s)
		return talloc_strndup(NULL, a, n);
	return a ? tc_append(s, strlen(s), a, strnlen(a, n)) : s;
}

char *talloc_strndup_append_buffer(char *s, const char *a, size_t n)
{
	if (!s)
		return talloc_strndup(NULL, a, n);
	return a ? tc_append(s, tc_buflen(s), a, strnlen(a, n)) : s;
}

/* Format into a chunk of SLEN + the output, the first SLEN bytes kept
 * (S is NULL: a new chunk under T). Formatting twice, once to measure,
 * as talloc does, unless the text fits a small stack buffer. */
static char *tc_vprintf_at(const void *t, char *s, size_t slen, const char *fmt, va_list ap)
{
	char buf[128];
	va_list ap2;
	int n;
	char *r;

	va_copy(ap2, ap);
	n = vsnprintf(buf, sizeof buf, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return s; /* talloc: NULL for a new string, S kept when appending */
	if (s && n == 0)
		return s;
	r = s ? _talloc_realloc(NULL, s, slen + (size_t)n + 1, NULL)
	      : tc_alloc(t, (size_t)n + 1, NULL);
	if (!r)
		return NULL;
	if ((size_t)n < sizeof buf)
		memcpy(r + slen, buf, (size_t)n + 1);
	else
		vsnprintf(r + slen, (size_t)n + 1, fmt, ap);
	tc_of(r)->name = r;
	return r;
}

char *talloc_vasprintf(const void *t, const char *fmt, va_list ap)
{
	return tc_vprintf_at(t, NULL, 0, fmt, ap);
}

char *talloc_asprintf(const void *t, const char *fmt, ...)
{
	va_list ap;
	char *r;

	va_start(ap, fmt);
	r = tc_vprintf_at(t, NULL, 0, fmt, ap);
	va_end(ap);
	return r;
}

char *talloc_asprintf_append(char *s, const char *fmt, ...)
{
	va_list ap;
	char *r;

	va_start(ap, fmt);
	r = tc_vprintf_at(NULL, s, s ? strlen(s) : 0, fmt, ap);
	va_end(ap);
	return r;
}

char *talloc_asprintf_append_buffer(char *s, const char *fmt, ...)
{
	va_list ap;
	char *r;

	va_start(ap, fmt);
	r = tc_vprintf_at(NULL, s, s ? tc_buflen(s) : 0, fmt, ap);
	va_end(ap);
	return r;
}
