/*
 * The agent's talloc subset (tools/agent-talloc.c), linked here instead of
 * libtalloc: each function the agent calls, with the talloc behaviour the
 * library relies on. Every test must free every block it took.
 */
#include <signal.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>
#include "harness.h"

struct thing {
	int id;
};

static char order[64]; /* which destructors ran, in order */

static void order_add(char c)
{
	size_t n = strlen(order);

	if (n + 1 < sizeof order) {
		order[n] = c;
		order[n + 1] = '\0';
	}
}

/* The destructor's object holds its letter; '!' refuses once. */
static int note_destructor(char *p)
{
	order_add(p[0]);
	if (p[1] == '!') {
		p[1] = '.';
		return -1;
	}
	return 0;
}

static char *named(const void *ctx, char c, int refuse)
{
	char *p = talloc_array(ctx, char, 2);

	if (p) {
		p[0] = c;
		p[1] = refuse ? '!' : '.';
		talloc_set_destructor(p, note_destructor);
	}
	return p;
}

/* The allocator's own calls to malloc, realloc and free come here
 * (-Wl,--wrap in tests/meson.build): a count of live blocks. */
static long live_blocks;
void *__real_malloc(size_t n);
void *__real_realloc(void *p, size_t n);
void __real_free(void *p);
void *__wrap_malloc(size_t n);
void *__wrap_realloc(void *p, size_t n);
void __wrap_free(void *p);

void *__wrap_malloc(size_t n)
{
	void *p = __real_malloc(n);

	live_blocks += p != NULL;
	return p;
}

void *__wrap_realloc(void *p, size_t n)
{
	void *r = __real_realloc(p, n);

	live_blocks += p == NULL && r != NULL;
	return r;
}

void __wrap_free(void *p)
{
	live_blocks -= p != NULL;
	__real_free(p);
}

static long heap_used(void)
{
	return live_blocks;
}

#undef RUN
#define RUN(fn) do { \
	long before_ = heap_used(); \
	t__failed = 0; t__name = #fn; t__count++; order[0] = '\0'; \
	fn(); \
	if (!t__failed && heap_used() != before_) { \
		printf("#   leak: %ld blocks left by %s\n", heap_used() - before_, #fn); \
		t__failed = 1; \
	} \
	printf("%s %d - %s\n", t__failed ? "not ok" : "ok", t__count, #fn); \
	if (t__failed) t__fails++; } while (0)

/* The parent's destructor first, then children newest first, depth first. */
static void test_tree_free_order(void)
{
	char *a = named(NULL, 'a', 0);
	char *b = named(a, 'b', 0);

	named(b, 'c', 0);
	named(a, 'd', 0);
	ASSERT_PTR_NOT_NULL(a);
	ASSERT_TRUE(talloc_parent(b) == a);
	ASSERT_PTR_NULL(talloc_parent(a));
	ASSERT_INT_EQ(talloc_free(a), 0);
	ASSERT_STR_EQ(order, "adbc");
	ASSERT_INT_EQ(talloc_free(NULL), -1);
}

/* A refusing child moves to the freed chunk's parent; a refusing
 * top-level chunk stays whole. */
static void test_destructor_refuses(void)
{
	char *top = talloc_new(NULL);
	char *a = named(top, 'a', 0);
	char *b = named(a, 'b', 1);
	char *c = named(b, 'c', 0);

	ASSERT_INT_EQ(talloc_free(a), 0);
	ASSERT_STR_EQ(order, "ab");
	ASSERT_TRUE(talloc_parent(b) == top);
	ASSERT_TRUE(talloc_parent(c) == b);
	ASSERT_INT_EQ(talloc_free(top), 0);
	ASSERT_STR_EQ(order, "abbc");

	a = named(NULL, 'x', 1);
	ASSERT_INT_EQ(talloc_free(a), -1);
	ASSERT_INT_EQ(a[0], 'x');
	ASSERT_INT_EQ(talloc_free(a), 0);
	ASSERT_STR_EQ(order, "abbcxx");
}

static void *freeing_parent;

/* Frees itself (refused: its destructor runs) and its parent (a no-op:
 * the parent is being freed already). */
static int reentrant_destructor(char *p)
{
	order_add(talloc_free(p) == -1 ? 'r' : 'R');
	order_add(talloc_free(freeing_parent) == 0 ? 'p' : 'P');
	return 0;
}

static void test_destructor_reentry(void)
{
	char *a = talloc_new(NULL);
	char *b = talloc_size(a, 4);

	freeing_parent = a;
	talloc_set_destructor(b, reentrant_destructor);
	ASSERT_INT_EQ(talloc_free(a), 0);
	ASSERT_STR_EQ(order, "rp");
}

static void test_steal_and_parent(void)
{
	char *a = talloc_new(NULL), *b = talloc_new(NULL);
	char *x = named(a, 'x', 0);
	char *y = named(a, 'y', 0);

	ASSERT_PTR_NULL(talloc_steal(b, (char *)NULL));
	ASSERT_TRUE(talloc_steal(b, x) == x);
	ASSERT_TRUE(talloc_parent(x) == b);
	ASSERT_TRUE(talloc_parent(y) == a); /* the sibling's links still hold */
	ASSERT_TRUE(talloc_steal(b, x) == x);
	ASSERT_TRUE(talloc_steal(NULL, y) == y);
	ASSERT_PTR_NULL(talloc_parent(y));
	talloc_free(a);
	ASSERT_STR_EQ(order, "");
	talloc_free(b);
	ASSERT_STR_EQ(order, "x");
	talloc_free(y);
	ASSERT_STR_EQ(order, "xy");
}

/* Growing moves the chunk: its parent, siblings and children follow. */
static void test_realloc_keeps_links(void)
{
	char *top = talloc_new(NULL);
	char *s1 = named(top, '1', 0);
	char *m = talloc_array(top, char, 8);
	char *s3 = named(top, '3', 0);
	char *k1, *k2;

	ASSERT_PTR_NOT_NULL(m);
	memcpy(m, "abcdefg", 8);
	k1 = named(m, 'k', 0);
	k2 = named(m, 'l', 0);
	m = talloc_realloc(top, m, char, 1 << 20);
	ASSERT_PTR_NOT_NULL(m);
	ASSERT_STR_EQ(m, "abcdefg");
	ASSERT_INT_EQ(talloc_get_size(m), 1 << 20);
	ASSERT_TRUE(talloc_parent(m) == top);
	ASSERT_TRUE(talloc_parent(k1) == m && talloc_parent(k2) == m);
	ASSERT_TRUE(talloc_get_type_abort(m, char) == m);
	(void)s1, (void)s3;
	talloc_free(top);
	ASSERT_STR_EQ(order, "3lk1");
}

static void test_realloc_edges(void)
{
	char *top = talloc_new(NULL), *other = talloc_new(NULL);
	char *p = talloc_realloc(top, NULL, char, 3);
	uint64_t *big;

	ASSERT_PTR_NOT_NULL(p);
	ASSERT_TRUE(talloc_parent(p) == top);
	talloc_set_destructor(p, note_destructor);
	p[0] = 'z', p[1] = '.';
	ASSERT_PTR_NULL(talloc_realloc(other, p, char, 0)); /* not its parent */
	ASSERT_STR_EQ(order, "");
	ASSERT_PTR_NULL(talloc_realloc(top, p, char, 0));
	ASSERT_STR_EQ(order, "z");
	ASSERT_PTR_NULL(talloc_array(top, uint64_t, 0x2000000));
	ASSERT_PTR_NULL(talloc_zero_array(top, uint64_t, 0xffffffffu));
	ASSERT_PTR_NULL(talloc_size(top, 0x10000000));
	ASSERT_PTR_NULL(talloc_memdup(top, "x", 0x10000000));
	big = talloc_array(top, uint64_t, 4);
	ASSERT_PTR_NOT_NULL(big);
	big[3] = 7;
	ASSERT_PTR_NULL(talloc_realloc(top, big, uint64_t, 0x2000000));
	ASSERT_INT_EQ(big[3], 7);
	ASSERT_PTR_NULL(talloc_realloc_size(top, big, 0x10000000));
	ASSERT_INT_EQ(talloc_get_size(big), 32);
	talloc_free(top);
	talloc_free(other);
}

static void test_alloc_family(void)
{
	char *top = talloc_new(NULL);
	struct thing *t = talloc_zero(top, struct thing);
	int *z = talloc_zero_array(top, int, 100);
	char *e = talloc_size(top, 0);
	char *d = talloc_memdup(top, "hello", 6);
	int i, sum = 0;

	ASSERT_TRUE(t && z && e && d);
	ASSERT_INT_EQ(t->id, 0);
	for (i = 0; i < 100; i++)
		sum |= z[i];
	ASSERT_INT_EQ(sum, 0);
	ASSERT_INT_EQ(talloc_get_size(e), 0);
	ASSERT_INT_EQ(talloc_get_size(z), 400);
	ASSERT_INT_EQ(talloc_get_size(NULL), 0);
	ASSERT_STR_EQ(d, "hello");
	ASSERT_TRUE(talloc_get_type_abort(t, struct thing) == t);
	ASSERT_PTR_NULL(talloc_get_type(z, struct thing));
	talloc_set_name_const(z, "struct thing");
	ASSERT_TRUE(talloc_get_type(z, struct thing) == (void *)z);
	talloc_set_type(z, int);
	ASSERT_TRUE(talloc_get_type(z, int) == z);
	talloc_free(top);
}

/* In a child: a type mismatch, a NULL pointer and a pointer that is no
 * chunk each abort, as with talloc. */
static void expect_abort(int which)
{
	static uint64_t fake[16];
	pid_t pid = fork();
	int st = 0;

	if (pid == 0) {
		char *top = talloc_new(NULL);

		if (which == 0)
			talloc_get_type_abort(top, struct thing);
		else if (which == 1)
			talloc_get_type_abort(NULL, struct thing);
		else
			talloc_free((char *)fake + 64);
		_exit(0);
	}
	ASSERT_TRUE(pid > 0 && waitpid(pid, &st, 0) == pid);
	ASSERT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT);
}

static void test_aborts(void)
{
	expect_abort(0);
	expect_abort(1);
	expect_abort(2);
}

static void test_strings(void)
{
	char *top = talloc_new(NULL);
	char *s = talloc_strdup(top, "abc");

	ASSERT_PTR_NULL(talloc_strdup(top, NULL));
	ASSERT_PTR_NULL(talloc_strndup(top, NULL, 3));
	ASSERT_STR_EQ(talloc_strndup(top, "abcdef", 2), "ab");
	ASSERT_STR_EQ(talloc_strndup(top, "ab", 9), "ab");
	ASSERT_TRUE(talloc_check_name(s, "abc") == s); /* named by its text */
	ASSERT_INT_EQ(talloc_get_size(s), 4);
	s[1] = '\0';
	s = talloc_strdup_append_buffer(s, "X");
	ASSERT_TRUE(s && memcmp(s, "a\0cX", 5) == 0); /* after the whole buffer */
	s = talloc_strdup_append(s, "Y");
	ASSERT_STR_EQ(s, "aY"); /* after the string */
	s = talloc_strndup_append(s, "Zzz", 1);
	ASSERT_STR_EQ(s, "aYZ");
	s = talloc_strndup_append_buffer(s, "Www", 2);
	ASSERT_STR_EQ(s, "aYZWw");
	ASSERT_TRUE(talloc_strdup_append(s, NULL) == s);
	ASSERT_TRUE(talloc_parent(s) == top);
	s = talloc_strdup_append(NULL, "new");
	ASSERT_STR_EQ(s, "new");
	ASSERT_PTR_NULL(talloc_parent(s));
	talloc_free(s);
	s = talloc_strndup_append_buffer(NULL, "newer", 3);
	ASSERT_STR_EQ(s, "new");
	talloc_free(s);
	talloc_free(top);
}

static char *vfmt(const void *t, const char *fmt, ...)
{
	va_list ap;
	char *r;

	va_start(ap, fmt);
	r = talloc_vasprintf(t, fmt, ap);
	va_end(ap);
	return r;
}

static void test_printf_family(void)
{
	char *top = talloc_new(NULL);
	char *s = talloc_asprintf(top, "%d-%s", 42, "x");
	char *long_s = talloc_asprintf(top, "%300s|", "r");

	ASSERT_STR_EQ(s, "42-x");
	ASSERT_INT_EQ(talloc_get_size(s), 5);
	ASSERT_PTR_NOT_NULL(long_s);
	ASSERT_INT_EQ(strlen(long_s), 301);
	ASSERT_TRUE(long_s[299] == 'r' && long_s[300] == '|');
	ASSERT_STR_EQ(talloc_asprintf(top, "%s", ""), "");
	ASSERT_STR_EQ(vfmt(top, "%u/%c", 7u, 'q'), "7/q");
	ASSERT_TRUE(talloc_asprintf_append(s, "%s", "") == s);
	s = talloc_asprintf_append(s, "+%d", 1);
	ASSERT_STR_EQ(s, "42-x+1");
	s[2] = '\0';
	s = talloc_asprintf_append_buffer(s, "%s", "B");
	ASSERT_TRUE(s && memcmp(s, "42\0x+1B", 8) == 0);
	s = talloc_asprintf_append(s, "%200s", "L");
	ASSERT_INT_EQ(strlen(s), 202);
	ASSERT_TRUE(talloc_parent(s) == top);
	s = talloc_asprintf_append(NULL, "%s", "fresh");
	ASSERT_STR_EQ(s, "fresh");
	talloc_free(s);
	s = talloc_asprintf_append_buffer(NULL, "%d", 5);
	ASSERT_STR_EQ(s, "5");
	talloc_free(s);
	talloc_free(top);
}

/* Many siblings and a deep chain: nothing recursive per sibling, and the
 * whole lot goes with one free. */
static void test_many(void)
{
	char *top = talloc_new(NULL), *p = top;
	int i;

	for (i = 0; i < 10000; i++)
		ASSERT_PTR_NOT_NULL(talloc_size(top, (size_t)i % 64));
	for (i = 0; i < 1000; i++) {
		p = talloc_new(p);
		ASSERT_PTR_NOT_NULL(p);
	}
	ASSERT_INT_EQ(talloc_free(top), 0);
}

int main(void)
{
	printf("TAP version 13\n");
	RUN(test_tree_free_order);
	RUN(test_destructor_refuses);
	RUN(test_destructor_reentry);
	RUN(test_steal_and_parent);
	RUN(test_realloc_keeps_links);
	RUN(test_realloc_edges);
	RUN(test_alloc_family);
	RUN(test_aborts);
	RUN(test_strings);
	RUN(test_printf_family);
	RUN(test_many);
	printf("1..%d\n", t__count);
	return t__fails ? 1 : 0;
}
