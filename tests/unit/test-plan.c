/*
 * Which first hops get the exec-only agent and run sudo in their own
 * command (lib/session/plan.c), from the chains given; and the dry run,
 * which asks the same code (mg_dry_run_list with opts).
 */
#include <string.h>
#include <unistd.h>
#include "harness.h"
#include "mitogen/chain.h"
#include "mitogen/session.h"
#include "plan.h"

/* A plan with every chain of 'text' noted; the chains in *_list. */
static struct mg_plan *plan_of(TALLOC_CTX *ctx, const char *text, bool exec_only,
			       struct mg_chain_list **_list)
{
	struct mg_plan *p = talloc_zero(ctx, struct mg_plan);
	char *err = NULL;

	if (p == NULL || mg_chain_parse(ctx, text, _list, &err) != 0) {
		printf("#   '%s': %s\n", text, err != NULL ? err : "out of memory");
		return NULL;
	}
	for (size_t i = 0; i < (*_list)->n_chains; i++) {
		if (mg__plan_note(p, p, &(*_list)->chains[i], exec_only) != 0) {
			return NULL;
		}
	}
	return p;
}

/* Whether chain i of 'text' gets the exec-only agent / runs sudo in its
 * ssh hop's command. */
static bool lite(TALLOC_CTX *ctx, const char *text, bool exec_only, size_t i)
{
	struct mg_chain_list *l = NULL;
	struct mg_plan *p = plan_of(ctx, text, exec_only, &l);

	return p != NULL && mg__plan_lite(p, &l->chains[i], exec_only,
					  mg_chain_prefix(ctx, &l->chains[i], 1));
}

static bool fused(TALLOC_CTX *ctx, const char *text, bool exec_only, size_t i)
{
	struct mg_chain_list *l = NULL;
	struct mg_plan *p = plan_of(ctx, text, exec_only, &l);

	return p != NULL && mg__plan_fused(p, &l->chains[i], exec_only,
					   mg_chain_prefix(ctx, &l->chains[i], 1));
}

static void test_lite(void)
{
	TALLOC_CTX *ctx = talloc_new(NULL);

	ASSERT_TRUE(lite(ctx, "ssh:a", true, 0));
	ASSERT_TRUE(!lite(ctx, "ssh:a", false, 0));
	ASSERT_TRUE(lite(ctx, "ssh:a,ssh:b/local", true, 0));
	/* Another chain through the hop, before or after: the whole one. */
	ASSERT_TRUE(!lite(ctx, "ssh:a,ssh:a/local", true, 0));
	ASSERT_TRUE(!lite(ctx, "ssh:a/local,ssh:a", true, 1));
	ASSERT_TRUE(!lite(ctx, "ssh:a/local", true, 0));
	/* A fork runs the master's own agent code. */
	ASSERT_TRUE(!lite(ctx, "fork", true, 0));
	ASSERT_TRUE(lite(ctx, "local", true, 0));
	talloc_free(ctx);
}

static void test_fused(void)
{
	TALLOC_CTX *ctx = talloc_new(NULL);

	ASSERT_TRUE(fused(ctx, "ssh:a/sudo", true, 0));
	ASSERT_TRUE(!fused(ctx, "ssh:a/sudo", false, 0));
	ASSERT_TRUE(fused(ctx, "ssh:a/sudo:root?sudo_args=-H", true, 0));
	/* What sudo -n in the login's command could not do as asked. */
	ASSERT_TRUE(!fused(ctx, "ssh:a/sudo:bob", true, 0));
	ASSERT_TRUE(!fused(ctx, "ssh:a/sudo?login=1", true, 0));
	ASSERT_TRUE(!fused(ctx, "ssh:a/sudo?password_env=X", true, 0));
	ASSERT_TRUE(!fused(ctx, "ssh:a/su", true, 0));
	ASSERT_TRUE(!fused(ctx, "local/sudo", true, 0));
	/* The ssh hop named otherwise, in either order: two agents. */
	ASSERT_TRUE(!fused(ctx, "ssh:a/sudo,ssh:a", true, 0));
	ASSERT_TRUE(!fused(ctx, "ssh:a,ssh:a/sudo", true, 1));
	ASSERT_TRUE(!fused(ctx, "ssh:a/sudo,ssh:a/sudo?sudo_args=-H", true, 0));
	/* The same chain twice, or another host's: still one. */
	ASSERT_TRUE(fused(ctx, "ssh:a/sudo,ssh:a/sudo", true, 0));
	ASSERT_TRUE(fused(ctx, "ssh:a/sudo,ssh:b", true, 0));
	talloc_free(ctx);
}

static int add_line(void *data, const char *text)
{
	char ***lines = data;
	size_t n = talloc_array_length(*lines);

	*lines = talloc_realloc(NULL, *lines, char *, n + 1);
	(*lines)[n] = talloc_strdup(*lines, text);
	return 0;
}

/* The lines of a dry run of 'text', exec_only or not. */
static char **dry(TALLOC_CTX *ctx, const char *text, bool exec_only)
{
	const struct mg_connect_opts co = { .exec_only = exec_only };
	struct mg_chain_list *l = NULL;
	char **lines = talloc_array(ctx, char *, 0), *err = NULL;

	if (mg_chain_parse(ctx, text, &l, &err) != 0 ||
	    mg_dry_run_list(ctx, l->chains, l->n_chains, &co, add_line, &lines, &err) != 0) {
		printf("#   '%s': %s\n", text, err != NULL ? err : "failed");
		return NULL;
	}
	return lines;
}

static bool has_lite(void)
{
	const char *a = getenv("MITOGEN_AGENT");
	char path[4096];

	snprintf(path, sizeof(path), "%s-lite", a != NULL ? a : "");
	return a != NULL && access(path, R_OK) == 0;
}

static void test_dry_run(void)
{
	TALLOC_CTX *ctx = talloc_new(NULL);
	char **l;

	unsetenv("MITOGEN_AGENT_LITE");
	l = dry(ctx, "ssh:a/sudo", false);
	ASSERT_PTR_NOT_NULL(l);
	ASSERT_INT_EQ(talloc_array_length(l), 2);
	ASSERT_TRUE(strncmp(l[1], "ssh:a/sudo: sudo ", 17) == 0);
	if (!has_lite()) {
		printf("# no exec-only agent beside $MITOGEN_AGENT: the rest is not shown\n");
		talloc_free(ctx);
		return;
	}
	l = dry(ctx, "ssh:a/sudo", true);
	ASSERT_PTR_NOT_NULL(l);
	ASSERT_INT_EQ(talloc_array_length(l), 1);
	ASSERT_TRUE(strncmp(l[0], "ssh:a/sudo: ssh ", 16) == 0);
	ASSERT_STR_CONTAINS(l[0], " sudo -n -p mitogen-sudo-prompt: -u root --'");
	/* Given with the ssh hop alone too: as a run, two hops. */
	l = dry(ctx, "ssh:a/sudo,ssh:a", true);
	ASSERT_PTR_NOT_NULL(l);
	ASSERT_INT_EQ(talloc_array_length(l), 3);
	ASSERT_TRUE(strstr(l[0], "sudo -n") == NULL);
	/* Set but empty: no exec-only agent, and so no sudo in the command. */
	setenv("MITOGEN_AGENT_LITE", "", 1);
	l = dry(ctx, "ssh:a/sudo", true);
	unsetenv("MITOGEN_AGENT_LITE");
	ASSERT_PTR_NOT_NULL(l);
	ASSERT_INT_EQ(talloc_array_length(l), 2);
	talloc_free(ctx);
}

int main(void)
{
	/* No alias of the user's config file may change what "ssh:a" is. */
	setenv("MITOGEN_CONFIG", "", 1);
	TESTS_BEGIN();
	RUN(test_lite);
	RUN(test_fused);
	RUN(test_dry_run);
	return TESTS_END();
}
