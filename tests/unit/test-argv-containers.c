/* Unit tests for the argv of the container methods (lib/hop/connect/docker.c,
 * podman.c, buildah.c, lxc.c, lxd.c, jail.c, kubectl.c): every option
 * combination, exactly, and the errors. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "harness.h"
#include "raw-hop.h"
#include "method.h"
#include "mitogen/chain.h"

static const char *const boot_words[] = {
	"/bin/sh", "-c", "S", "mitogen-boot", "10", "n", NULL,
};

/* How the boot words look in the output of render(). */
#define BOOT "[/bin/sh][-c][S][mitogen-boot][10][n]"

/* Every element of argv in brackets, so blanks and empty words show. */
static char *render(TALLOC_CTX *ctx, char **argv)
{
	char *s = talloc_strdup(ctx, "");

	for (size_t i = 0; s != NULL && argv[i] != NULL; i++) {
		s = talloc_asprintf_append(s, "[%s]", argv[i]);
	}
	return s;
}

/* build_argv for 'hop': the rendered argv, or "ERR errno: message". */
static const char *argv_of_hop(TALLOC_CTX *ctx, const struct mg_hop *hop)
{
	const struct mg_method *m = mg__method_find(hop->method);
	struct mg_boot_cmd boot = { .argv = boot_words, .self = "/agent" };
	char **argv = NULL, *err = NULL;
	bool direct = true;
	int r;

	if (m == NULL || m->build_argv == NULL) {
		return "(no build_argv)";
	}
	r = m->build_argv(ctx, hop, &boot, &argv, &direct, &err);
	if (r != 0) {
		return talloc_asprintf(ctx, "ERR %d: %s", -r, err != NULL ? err : "(no message)");
	}
	if (direct) {
		return "(direct)";
	}
	return render(ctx, argv);
}

/* The argv for the last hop of the chain 'text', or "PARSE: message". */
static const char *argv_of(TALLOC_CTX *ctx, const char *text)
{
	struct mg_chain_list *list = NULL;
	const struct mg_chain *c;
	char *err = NULL;

	if (mg_chain_parse(ctx, text, &list, &err) != 0) {
		/* A value the parser refuses: what the method says of it. */
		const struct mg_hop *raw = raw_hop(ctx, text);

		if (raw != NULL && strstr(err, ": option ") != NULL
		    && strstr(err, "given twice") == NULL) {
			return argv_of_hop(ctx, raw);
		}
		return talloc_asprintf(ctx, "PARSE: %s", err != NULL ? err : "(no message)");
	}
	if (list->n_chains != 1) {
		return "(not one chain)";
	}
	c = &list->chains[0];
	return argv_of_hop(ctx, &c->hops[c->n_hops - 1]);
}

static void test_docker(void)
{
	TALLOC_CTX *ctx = talloc_new(NULL);

	ASSERT_STR_EQ(argv_of(ctx, "docker:app"),
		      "[docker][exec][--interactive][app]" BOOT);
	ASSERT_STR_EQ(argv_of(ctx, "docker:www-data@app"),
		      "[docker][exec][--interactive][--user=www-data][app]" BOOT);
	ASSERT_STR_EQ(argv_of(ctx, "docker:app?username=1000"),
		      "[docker][exec][--interactive][--user=1000][app]" BOOT);
	/* '/' separates hops: a '/' in an option value is written %2F. */
	ASSERT_STR_EQ(argv_of(ctx, "docker:app?docker_path=%2Fopt%2Fbin%2Fdocker"),
		      "[/opt/bin/docker][exec][--interactive][app]" BOOT);
	ASSERT_STR_EQ(argv_of(ctx, "docker:?image=alpine:3.20"),
		      "[docker][run][--interactive][--rm][alpine:3.20]" BOOT);
	ASSERT_STR_EQ(argv_of(ctx, "docker:root@?image=debian&docker_path=d%20x"),
		      "[d x][run][--interactive][--user=root][--rm][debian]" BOOT);
	ASSERT_STR_EQ(argv_of(ctx, "docker?image=reg.example:5000%2Fimg%40sha256:ab"),
		      "[docker][run][--interactive][--rm][reg.example:5000/img@sha256:ab]" BOOT);
	/* Through a chain: the argv of the last hop only. */
	ASSERT_STR_EQ(argv_of(ctx, "local/docker:app/docker:u@inner"),
		      "[docker][exec][--interactive][--user=u][inner]" BOOT);
	talloc_free(ctx);
}

static void test_podman_buildah(void)
{
	TALLOC_CTX *ctx = talloc_new(NULL);

	ASSERT_STR_EQ(argv_of(ctx, "podman:app"),
		      "[podman][exec][--interactive][--][app]" BOOT);
	ASSERT_STR_EQ(argv_of(ctx, "podman:root@app"),
		      "[podman][exec][--user=root][--interactive][--][app]" BOOT);
	ASSERT_STR_EQ(argv_of(ctx, "podman:app?username=root&podman_path=%2Fusr%2Flocal%2Fbin%2Fpodman"),
		      "[/usr/local/bin/podman][exec][--user=root][--interactive][--][app]" BOOT);

	ASSERT_STR_EQ(argv_of(ctx, "buildah:wc"),
		      "[buildah][run][--][wc]" BOOT);
	ASSERT_STR_EQ(argv_of(ctx, "buildah:bob@wc"),
		      "[buildah][run][--user=bob][--][wc]" BOOT);
	ASSERT_STR_EQ(argv_of(ctx, "buildah:wc?buildah_path=bh&username=bob"),
		      "[bh][run][--user=bob][--][wc]" BOOT);
	talloc_free(ctx);
}

static void test_lxc_lxd(void)
{
	TALLOC_CTX *ctx = talloc_new(NULL);
	const struct mg_method *lxc = mg__method_find("lxc");
	const struct mg_method *lxd = mg__method_find("lxd");

	ASSERT_STR_EQ(argv_of(ctx, "lxc:c1"),
		      "[lxc-attach][--clear-env][--name][c1][--]" BOOT);
	ASSERT_STR_EQ(argv_of(ctx, "lxc:c1?lxc_attach_path=%2Fsnap%2Fbin%2Flxc-attach"),
		      "[/snap/bin/lxc-attach][--clear-env][--name][c1][--]" BOOT);
	/* lxc exec knows the modes auto, interactive and non-interactive
	 * (lxc exec --help; LXD and Incus lxc/exec.go): any other word is
	 * taken as auto, silently. */
	ASSERT_STR_EQ(argv_of(ctx, "lxd:c2"),
		      "[lxc][exec][--mode=non-interactive][c2][--]" BOOT);
	ASSERT_STR_EQ(argv_of(ctx, "lxd:c2?lxc_path=%2Fsnap%2Fbin%2Flxc"),
		      "[/snap/bin/lxc][exec][--mode=non-interactive][c2][--]" BOOT);

	/* Both name LXC's poor error reports after a failed boot. */
	ASSERT_PTR_NOT_NULL(lxc);
	ASSERT_PTR_NOT_NULL(lxd);
	ASSERT_STR_EQ(lxc->eof_hint, "Note: many versions of LXC do not report program "
		      "execution failure meaningfully. Please check the host logs "
		      "(/var/log) for more information.");
	ASSERT_STR_EQ(lxd->eof_hint, lxc->eof_hint);
	talloc_free(ctx);
}

static void test_jail(void)
{
	TALLOC_CTX *ctx = talloc_new(NULL);

	ASSERT_STR_EQ(argv_of(ctx, "jail:www"),
		      "[/usr/sbin/jexec][www]" BOOT);
	ASSERT_STR_EQ(argv_of(ctx, "jail:toor@www"),
		      "[/usr/sbin/jexec][-U][toor][www]" BOOT);
	ASSERT_STR_EQ(argv_of(ctx, "jail:www?username=toor&jexec_path=jexec"),
		      "[jexec][-U][toor][www]" BOOT);
	talloc_free(ctx);
}

static void test_kubectl(void)
{
	TALLOC_CTX *ctx = talloc_new(NULL);

	ASSERT_STR_EQ(argv_of(ctx, "kubectl:web-0"),
		      "[kubectl][exec][-i][web-0][--]" BOOT);
	ASSERT_STR_EQ(argv_of(ctx, "kubectl:web-0?namespace=prod"),
		      "[kubectl][--namespace=prod][exec][-i][web-0][--]" BOOT);
	ASSERT_STR_EQ(argv_of(ctx, "kubectl:web-0?context=kind-kind"),
		      "[kubectl][--context=kind-kind][exec][-i][web-0][--]" BOOT);
	ASSERT_STR_EQ(argv_of(ctx, "kubectl:web-0?container=app"),
		      "[kubectl][exec][-i][web-0][--container=app][--]" BOOT);
	ASSERT_STR_EQ(argv_of(ctx, "kubectl:web-0?kubectl_path=%2Fopt%2Fk"),
		      "[/opt/k][exec][-i][web-0][--]" BOOT);
	/* Repeated and shell-split list values, in order, always first;
	 * the order of the other options in the text does not matter. */
	ASSERT_STR_EQ(argv_of(ctx, "kubectl:web-0?kubectl_args=--v%3D2"
			      "&kubectl_args=--request-timeout%3D5s"),
		      "[kubectl][--v=2][--request-timeout=5s][exec][-i][web-0][--]" BOOT);
	ASSERT_STR_EQ(argv_of(ctx, "kubectl:web-0?container=c&context=ctx&namespace=ns"
			      "&kubectl_args=--kubeconfig%20%27%2Fmy%20conf%27&kubectl_path=k"
			      "&kubectl_args=-v%3D1"),
		      "[k][--kubeconfig][/my conf][-v=1][--namespace=ns][--context=ctx]"
		      "[exec][-i][web-0][--container=c][--]" BOOT);
	/* A value that is only blanks adds no words. */
	ASSERT_STR_EQ(argv_of(ctx, "kubectl:web-0?kubectl_args=%20"),
		      "[kubectl][exec][-i][web-0][--]" BOOT);
	talloc_free(ctx);
}

/* Through the parser, a '@' is refused where no user can be chosen, and
 * a missing container is a parse error (build_argv checks again below). */
static void test_parse_errors(void)
{
	TALLOC_CTX *ctx = talloc_new(NULL);

	ASSERT_STR_CONTAINS(argv_of(ctx, "lxc:root@c1"), "PARSE: ");
	ASSERT_STR_CONTAINS(argv_of(ctx, "kubectl:u@pod"), "PARSE: ");
	ASSERT_STR_CONTAINS(argv_of(ctx, "docker"), "docker needs a container");
	ASSERT_STR_CONTAINS(argv_of(ctx, "docker:app?image=x"), "not both");
	ASSERT_STR_CONTAINS(argv_of(ctx, "podman:?image=x"), "PARSE: ");
	ASSERT_STR_CONTAINS(argv_of(ctx, "kubectl:pod?namespace=a&namespace=b"), "given twice");
	talloc_free(ctx);
}

/* build_argv's own checks, for hops the parser did not make. */
static void test_errors(void)
{
	TALLOC_CTX *ctx = talloc_new(NULL);
	static const struct {
		const char *method;
		const char *user;
		const char *host;
		const char *key, *value; /* one option, or NULL */
		const char *err;
	} cases[] = {
		{ "docker", NULL, NULL, NULL, NULL,
		  "ERR 22: docker needs a container name or ?image=" },
		{ "docker", "u", NULL, "image", "",
		  "ERR 22: docker needs a container name or ?image=" },
		{ "docker", NULL, "app", "image", "img",
		  "ERR 22: docker: give either a container or ?image=, not both" },
		{ "docker", NULL, NULL, "image", "-x",
		  "ERR 22: docker: image '-x' may not begin with '-'" },
		{ "docker", NULL, "app", "docker_path", "",
		  "ERR 22: option docker_path: expected a path" },
		{ "podman", NULL, NULL, NULL, NULL,
		  "ERR 22: podman needs a container name" },
		{ "podman", NULL, "", NULL, NULL,
		  "ERR 22: podman needs a container name" },
		{ "podman", NULL, "app", "podman_path", "",
		  "ERR 22: option podman_path: expected a path" },
		{ "buildah", NULL, NULL, NULL, NULL,
		  "ERR 22: buildah needs a container name" },
		{ "buildah", NULL, "wc", "buildah_path", "",
		  "ERR 22: option buildah_path: expected a path" },
		{ "lxc", NULL, NULL, NULL, NULL,
		  "ERR 22: lxc needs a container name" },
		{ "lxc", "root", "c1", NULL, NULL,
		  "ERR 22: lxc cannot choose a user (add a sudo or su hop)" },
		{ "lxc", NULL, "c1", "lxc_attach_path", "",
		  "ERR 22: option lxc_attach_path: expected a path" },
		{ "lxd", NULL, NULL, NULL, NULL,
		  "ERR 22: lxd needs a container name" },
		{ "lxd", "root", "c1", NULL, NULL,
		  "ERR 22: lxd cannot choose a user (add a sudo or su hop)" },
		{ "lxd", NULL, "c1", "lxc_path", "",
		  "ERR 22: option lxc_path: expected a path" },
		{ "jail", NULL, NULL, NULL, NULL,
		  "ERR 22: jail needs a jail name" },
		{ "jail", NULL, "www", "jexec_path", "",
		  "ERR 22: option jexec_path: expected a path" },
		{ "kubectl", NULL, NULL, NULL, NULL,
		  "ERR 22: kubectl needs a pod name" },
		{ "kubectl", "u", "pod", NULL, NULL,
		  "ERR 22: kubectl cannot choose a user (add a sudo or su hop)" },
		{ "kubectl", NULL, "pod", "kubectl_path", "",
		  "ERR 22: option kubectl_path: expected a path" },
		{ "kubectl", NULL, "pod", "namespace", "",
		  "ERR 22: option namespace is empty" },
		{ "kubectl", NULL, "pod", "context", "",
		  "ERR 22: option context is empty" },
		{ "kubectl", NULL, "pod", "container", "",
		  "ERR 22: option container is empty" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct mg_hop_opt opt = {
			.key = (char *)cases[i].key, .value = (char *)cases[i].value,
		};
		struct mg_hop hop = {
			.method = (char *)cases[i].method,
			.spec = (char *)"",
			.user = (char *)cases[i].user,
			.host = (char *)cases[i].host,
			.opts = &opt,
			.n_opts = cases[i].key != NULL ? 1 : 0,
			.text = (char *)cases[i].method,
		};
		const char *got = argv_of_hop(ctx, &hop);

		if (strcmp(got, cases[i].err) != 0) {
			T_FAIL("case %zu (%s): \"%s\" != \"%s\"", i, cases[i].method, got,
			       cases[i].err);
		}
	}
	talloc_free(ctx);
}

/* A kubectl_args value that does not split: the message survives. In a
 * child, so that a crash in the error path fails this test only. */
static void test_kubectl_args_error(void)
{
	int status;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	ASSERT_INT_GE(pid, 0);
	if (pid == 0) {
		TALLOC_CTX *ctx = talloc_new(NULL);
		const char *got = argv_of(ctx, "kubectl:pod?kubectl_args=-v%3D2"
					  "&kubectl_args=%27oops");
		const char *want = "ERR 22: option kubectl_args: unterminated ' quote in '\\x27oops'";

		if (strcmp(got, want) != 0) {
			printf("#   got \"%s\", expected \"%s\"\n", got, want);
			fflush(stdout);
			_exit(1);
		}
		talloc_free(ctx);
		_exit(0);
	}
	ASSERT_INT_EQ(waitpid(pid, &status, 0), pid);
	if (WIFSIGNALED(status)) {
		T_FAIL("the child died of signal %d", WTERMSIG(status));
	}
	ASSERT_INT_EQ(WEXITSTATUS(status), 0);
}

/* Every option a container method lists does something: changing it
 * changes the argv (and the spec's user, for those with "username"). */
static void test_options_used(void)
{
	static const char *const names[] = {
		"docker", "podman", "buildah", "lxc", "lxd", "jail", "kubectl", NULL,
	};
	TALLOC_CTX *ctx = talloc_new(NULL);

	for (size_t i = 0; names[i] != NULL; i++) {
		const struct mg_method *m = mg__method_find(names[i]);
		const char *base;

		ASSERT_PTR_NOT_NULL(m);
		ASSERT_PTR_NOT_NULL(m->build_argv);
		ASSERT_INT_EQ(m->mode, MG_SPAWN_SOCKET);
		ASSERT_TRUE(!m->eager);
		ASSERT_TRUE(!m->takes_password);
		ASSERT_PTR_NULL(m->prompts);
		base = argv_of(ctx, talloc_asprintf(ctx, "%s:c", names[i]));
		for (size_t j = 0; m->options[j] != NULL; j++) {
			const char *o = m->options[j];
			const char *text, *got;

			if (strcmp(o, "image") == 0) {
				text = talloc_asprintf(ctx, "%s:?image=v", names[i]);
			} else {
				text = talloc_asprintf(ctx, "%s:c?%s=v", names[i], o);
			}
			got = argv_of(ctx, text);
			if (strncmp(got, "ERR", 3) == 0 || strncmp(got, "PARSE", 5) == 0
			    || strcmp(got, base) == 0) {
				T_FAIL("option %s of %s: %s", o, names[i], got);
			}
		}
	}
	talloc_free(ctx);
}

int main(void)
{
	TESTS_BEGIN();
	RUN(test_docker);
	RUN(test_podman_buildah);
	RUN(test_lxc_lxd);
	RUN(test_jail);
	RUN(test_kubectl);
	RUN(test_parse_errors);
	RUN(test_errors);
	RUN(test_kubectl_args_error);
	RUN(test_options_used);
	return TESTS_END();
}
