/*
 * A tiny TAP harness for the C unit tests. Each test function runs in the
 * same process; every test is wrapped in a talloc leak check.
 */
#ifndef MG_TEST_HARNESS_H
#define MG_TEST_HARNESS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <talloc.h>

static int t__failed;
static int t__count;
static const char *t__name;

#define T_FAIL(...) do { \
	printf("#   %s:%d: ", __FILE__, __LINE__); printf(__VA_ARGS__); printf("\n"); \
	t__failed = 1; return; } while (0)

/* 1 under AddressSanitizer (gcc's macro, clang's feature): for bounds
 * on memory, which its shadow and quarantine multiply. */
#if defined(__SANITIZE_ADDRESS__)
#define T_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define T_ASAN 1
#endif
#endif
#ifndef T_ASAN
#define T_ASAN 0
#endif

#define ASSERT_TRUE(x) do { if (!(x)) T_FAIL("expected true: %s", #x); } while (0)
#define ASSERT_INT_EQ(a, b) do { long long a_ = (long long)(a), b_ = (long long)(b); \
	if (a_ != b_) T_FAIL("%s == %s: %lld != %lld", #a, #b, a_, b_); } while (0)
#define ASSERT_INT_NE(a, b) do { long long a_ = (long long)(a), b_ = (long long)(b); \
	if (a_ == b_) T_FAIL("%s != %s: both %lld", #a, #b, a_); } while (0)
#define ASSERT_INT_GE(a, b) do { long long a_ = (long long)(a), b_ = (long long)(b); \
	if (a_ < b_) T_FAIL("%s >= %s: %lld < %lld", #a, #b, a_, b_); } while (0)
#define ASSERT_STR_EQ(a, b) do { const char *a_ = (a), *b_ = (b); \
	if (a_ == NULL || b_ == NULL || strcmp(a_, b_) != 0) \
		T_FAIL("%s == %s: \"%s\" != \"%s\"", #a, #b, a_ ? a_ : "(null)", b_ ? b_ : "(null)"); } while (0)
#define ASSERT_STR_CONTAINS(a, b) do { const char *a_ = (a), *b_ = (b); \
	if (a_ == NULL || strstr(a_, b_) == NULL) \
		T_FAIL("\"%s\" contains \"%s\"", a_ ? a_ : "(null)", b_); } while (0)
#define ASSERT_PTR_NULL(a) do { if ((a) != NULL) T_FAIL("%s is NULL", #a); } while (0)
#define ASSERT_PTR_NOT_NULL(a) do { if ((a) == NULL) T_FAIL("%s is not NULL", #a); } while (0)

/* Run one test with a leak check: everything allocated under NULL during
 * the test must be freed by its end. */
#define RUN(fn) do { \
	size_t before_ = talloc_total_size(NULL); \
	t__failed = 0; t__name = #fn; t__count++; \
	fn(); \
	if (!t__failed && talloc_total_size(NULL) != before_) { \
		printf("#   leak: %zu bytes left by %s\n", \
		       (size_t)(talloc_total_size(NULL) - before_), #fn); \
		talloc_report_full(NULL, stdout); \
		t__failed = 1; \
	} \
	printf("%s %d - %s\n", t__failed ? "not ok" : "ok", t__count, #fn); \
	if (t__failed) t__fails++; } while (0)

static int t__fails;

/* Line-buffered: a sanitizer that ends the process at exit (a leak
 * report) must not take the results already printed with it. */
#define TESTS_BEGIN() setvbuf(stdout, NULL, _IOLBF, 0); talloc_enable_null_tracking(); \
	printf("TAP version 13\n")
#define TESTS_END() (printf("1..%d\n", t__count), talloc_disable_null_tracking(), t__fails ? 1 : 0)

#endif
