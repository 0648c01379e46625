/* Unit tests for lib/core/passwd.c: our user's passwd entry read by hand
 * (the agents carry no getpwuid), and the fallback on $HOME and $SHELL. */
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "passwd.h"

static const char db[] =
	"root:x:0:0:root:/root:/bin/bash\n"
	"tenk:x:10000:10000::/home/tenk:/bin/zsh\n"
	"odd:x:100x:1::/home/odd:/bin/sh\n"
	"empty:x:1000:1000::/home/empty:\n"
	"extra:x:1001:1001::/home/extra:/bin/sh:more\n"
	"long:x:1002:1002::/home/long:/bin/a-shell-path-longer-than-the-buffer\n"
	"dup:x:1003:1::/first:/bin/first\n"
	"dup:x:1003:1::/second:/bin/second\n"
	"short:x:1004\n"
	"last:x:1005:1::/home/last:/bin/last";

static const char *field(unsigned long uid, int f, char *buf, size_t cap)
{
	return mg__passwd_field(db, (long)strlen(db), uid, f, buf, cap);
}

static void test_fields(void)
{
	char buf[32];

	ASSERT_STR_EQ(field(0, 6, buf, sizeof(buf)), "/bin/bash");
	ASSERT_STR_EQ(field(0, 5, buf, sizeof(buf)), "/root");
	/* The whole uid, never a prefix of another's. */
	ASSERT_PTR_NULL(field(1, 6, buf, sizeof(buf)));
	ASSERT_PTR_NULL(field(100, 6, buf, sizeof(buf)));
	ASSERT_STR_EQ(field(10000, 6, buf, sizeof(buf)), "/bin/zsh");
	/* An empty shell is given as it is (the caller takes /bin/sh). */
	ASSERT_STR_EQ(field(1000, 6, buf, sizeof(buf)), "");
	ASSERT_STR_EQ(field(1000, 5, buf, sizeof(buf)), "/home/empty");
	/* A field too many: no entry to trust for the shell. */
	ASSERT_PTR_NULL(field(1001, 6, buf, sizeof(buf)));
	ASSERT_STR_EQ(field(1001, 5, buf, sizeof(buf)), "/home/extra");
	/* What does not fit is not cut. */
	ASSERT_PTR_NULL(field(1002, 6, buf, sizeof(buf)));
	/* The first entry of a uid counts, as getpwuid's. */
	ASSERT_STR_EQ(field(1003, 5, buf, sizeof(buf)), "/first");
	ASSERT_PTR_NULL(field(1004, 5, buf, sizeof(buf)));
	/* A last line without its newline is whole here (the reader drops
	 * one it cut short itself). */
	ASSERT_STR_EQ(field(1005, 6, buf, sizeof(buf)), "/bin/last");
	ASSERT_PTR_NULL(mg__passwd_field(db, -1, 0, 6, buf, sizeof(buf)));
	ASSERT_PTR_NULL(mg__passwd_field(db, 0, 0, 6, buf, sizeof(buf)));
}

static void test_read_cut(void)
{
	char big[1 << 16], small[64];
	long n = mg__passwd_read(big, sizeof(big)), k;

	ASSERT_INT_GE(n, 1);
	/* What fits is whole lines only. */
	k = mg__passwd_read(small, sizeof(small));
	ASSERT_INT_GE(k, 0);
	ASSERT_TRUE(k == 0 || small[k - 1] == '\n' || k == n);
	ASSERT_TRUE(k <= n && memcmp(small, big, (size_t)k) == 0);
}

/* This process's own entry, as getpwuid has it (the test's user is in
 * /etc/passwd); without one, $HOME and $SHELL. */
static void test_user_field(void)
{
	const struct passwd *pw = getpwuid(getuid());
	char buf[4096];

	ASSERT_PTR_NOT_NULL(pw);
	ASSERT_STR_EQ(mg__user_field(5, buf, sizeof(buf)), pw->pw_dir);
	ASSERT_STR_EQ(mg__user_field(6, buf, sizeof(buf)), pw->pw_shell);
	ASSERT_PTR_NULL(mg__user_field(6, buf, 1));
}

int main(void)
{
	TESTS_BEGIN();
	RUN(test_fields);
	RUN(test_read_cut);
	RUN(test_user_field);
	return TESTS_END();
}
