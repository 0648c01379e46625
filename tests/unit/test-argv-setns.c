/* Unit tests for lib/hop/connect/setns.c: the argv, the leader pid in each
 * tool's real output format, the error texts, the container's passwd and
 * group files, and the child's error line. The file is included so its
 * static functions can be reached; the library copy is not linked in
 * (nothing else there defines mg__method_setns). */
#include "connect/setns.c"

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

/* Every element of argv in brackets, so blanks and empty words show. */
static char *render(TALLOC_CTX *ctx, char **argv)
{
	char *s = talloc_strdup(ctx, "");

	for (size_t i = 0; s != NULL && argv[i] != NULL; i++) {
		s = talloc_asprintf_append(s, "[%s]", argv[i]);
	}
	return s;
}

static const char *argv_of_hop_boot(TALLOC_CTX *ctx, const struct mg_hop *hop,
				    const char *const *words)
{
	struct mg_boot_cmd boot = { .argv = words, .self = "/agent" };
	char **argv = NULL, *err = NULL;
	bool direct = true;
	int r;

	r = mg__method_setns.build_argv(ctx, hop, &boot, &argv, &direct, &err);
	if (r != 0) {
		return talloc_asprintf(ctx, "ERR %d: %s", -r, err != NULL ? err : "(no message)");
	}
	if (direct) {
		return "(direct)";
	}
	return render(ctx, argv);
}

/* The last hop of the chain 'text', or NULL. */
static const struct mg_hop *hop_of(TALLOC_CTX *ctx, const char *text)
{
	struct mg_chain_list *list = NULL;
	char *err = NULL;

	if (mg_chain_parse(ctx, text, &list, &err) != 0) {
		/* A value the parser refuses: what the method says of it. */
		return raw_hop(ctx, text);
	}
	if (list->n_chains != 1) {
		return NULL;
	}
	return &list->chains[0].hops[list->chains[0].n_hops - 1];
}

static const char *argv_of(TALLOC_CTX *ctx, const char *text)
{
	const struct mg_hop *hop = hop_of(ctx, text);

	if (hop == NULL) {
		return "(does not parse)";
	}
	return argv_of_hop_boot(ctx, hop, boot_words);
}

static void test_method(void)
{
	const struct mg_method *m = mg__method_find("setns");

	ASSERT_TRUE(m == &mg__method_setns);
	ASSERT_INT_EQ(m->mode, MG_SPAWN_SOCKET);
	ASSERT_TRUE(!m->eager);
	ASSERT_TRUE(!m->fork);
	ASSERT_TRUE(!m->takes_password);
	ASSERT_PTR_NOT_NULL(m->build_argv);
	/* The tool is asked through the loop, never waited for. */
	ASSERT_PTR_NULL(m->prepare);
	ASSERT_PTR_NOT_NULL(m->prepare_async);
	ASSERT_PTR_NOT_NULL(m->pre_exec);
	ASSERT_PTR_NULL(m->prompts);
	ASSERT_STR_EQ(m->options[0], "username");
	ASSERT_STR_EQ(m->options[1], "docker_path");
	ASSERT_STR_EQ(m->options[2], "lxc_path");
	ASSERT_STR_EQ(m->options[3], "lxc_info_path");
	ASSERT_STR_EQ(m->options[4], "machinectl_path");
	ASSERT_PTR_NULL(m->options[5]);
}

static void test_build_argv(void)
{
	TALLOC_CTX *ctx = talloc_new(NULL);
	static const char *const quoted[] = {
		"/bin/sh", "-c", "printf 'MITO000\\n'; x=\"$1\"", "mitogen-boot", "10", "n", NULL,
	};
	const struct mg_hop *hop;

	/* The same wrapper for every kind and user: the kind only matters
	 * to prepare. */
	ASSERT_STR_EQ(argv_of(ctx, "setns:docker:app"),
		      "[/bin/sh][-c][trap : TERM HUP INT;/bin/sh -c S mitogen-boot 10 n; exit $?]");
	ASSERT_STR_EQ(argv_of(ctx, "setns:docker:www-data@app"),
		      "[/bin/sh][-c][trap : TERM HUP INT;/bin/sh -c S mitogen-boot 10 n; exit $?]");
	ASSERT_STR_EQ(argv_of(ctx, "setns:lxc:c1?lxc_info_path=%2Fopt%2Flxc-info"),
		      "[/bin/sh][-c][trap : TERM HUP INT;/bin/sh -c S mitogen-boot 10 n; exit $?]");
	ASSERT_STR_EQ(argv_of(ctx, "setns:lxd:c2?username=bob"),
		      "[/bin/sh][-c][trap : TERM HUP INT;/bin/sh -c S mitogen-boot 10 n; exit $?]");
	ASSERT_STR_EQ(argv_of(ctx, "ssh:h/setns:machinectl:m1"),
		      "[/bin/sh][-c][trap : TERM HUP INT;/bin/sh -c S mitogen-boot 10 n; exit $?]");
	/* The boot words are quoted for the outer shell. */
	hop = hop_of(ctx, "setns:docker:app");
	ASSERT_PTR_NOT_NULL(hop);
	ASSERT_STR_EQ(argv_of_hop_boot(ctx, hop, quoted),
		      "[/bin/sh][-c][trap : TERM HUP INT;/bin/sh -c 'printf '\\''MITO000\\n'\\''; x=\"$1\"' "
		      "mitogen-boot 10 n; exit $?]");
	/* Errors. */
	ASSERT_STR_EQ(argv_of(ctx, "setns:docker:app?docker_path="), "ERR 22: option docker_path: expected a path");
	ASSERT_STR_EQ(argv_of(ctx, "setns:lxd:app?lxc_path="), "ERR 22: option lxc_path: expected a path");
	{
		struct mg_hop h = { .method = "setns", .spec = "bogus:c", .host = "c" };
		ASSERT_STR_EQ(argv_of_hop_boot(ctx, &h, boot_words),
			      "ERR 22: unsupported container kind: 'bogus'");
		h.spec = "c";
		ASSERT_STR_EQ(argv_of_hop_boot(ctx, &h, boot_words),
			      "ERR 22: setns needs KIND:CONTAINER (KIND is docker, lxc, lxd or "
			      "machinectl)");
		h.spec = "docker:-x";
		h.host = "-x";
		ASSERT_STR_EQ(argv_of_hop_boot(ctx, &h, boot_words),
			      "ERR 22: setns: container '-x' may not begin with '-'");
		h.spec = "docker:";
		h.host = NULL;
		ASSERT_STR_EQ(argv_of_hop_boot(ctx, &h, boot_words),
			      "ERR 22: setns needs a container name");
	}
	talloc_free(ctx);
}

static void test_parse_docker(void)
{
	ASSERT_INT_EQ(setns_parse_pid("docker", "4242\n"), 4242);
	ASSERT_INT_EQ(setns_parse_pid("docker", " 17 \r\n"), 17);
	/* A stopped container. */
	ASSERT_INT_EQ(setns_parse_pid("docker", "0\n"), 0);
	ASSERT_INT_EQ(setns_parse_pid("docker", ""), -1);
	ASSERT_INT_EQ(setns_parse_pid("docker", "\n"), -1);
	ASSERT_INT_EQ(setns_parse_pid("docker", "<no value>\n"), -1);
	ASSERT_INT_EQ(setns_parse_pid("docker", "12abc\n"), -1);
	ASSERT_INT_EQ(setns_parse_pid("docker", "-5\n"), -1);
	ASSERT_INT_EQ(setns_parse_pid("docker", "12\n13\n"), -1);
	ASSERT_INT_EQ(setns_parse_pid("docker", "99999999999999\n"), -1);
	ASSERT_INT_EQ(setns_parse_pid("docker", "Error: No such object: nope\n"), -1);
}

static void test_parse_lxc(void)
{
	/* lxc-info -n NAME (LXC 3-5). */
	ASSERT_INT_EQ(setns_parse_pid("lxc",
				      "Name:           c1\n"
				      "State:          RUNNING\n"
				      "PID:            12345\n"
				      "IP:             10.0.3.100\n"
				      "CPU use:        0.53 seconds\n"
				      "BlkIO use:      8.00 KiB\n"
				      "Memory use:     2.32 MiB\n"
				      "KMem use:       0 bytes\n"
				      "Link:           vethABC\n"
				      " TX bytes:      1.42 KiB\n"), 12345);
	/* A stopped container has no PID line. */
	ASSERT_INT_EQ(setns_parse_pid("lxc", "Name:           c1\nState:          STOPPED\n"), -1);
	ASSERT_INT_EQ(setns_parse_pid("lxc", "PID: x\n"), -1);
	ASSERT_INT_EQ(setns_parse_pid("lxc", "PID:7"), 7);
}

static void test_parse_lxd(void)
{
	/* lxc info NAME: LXD 3 writes "Pid:", LXD 5 and incus "PID:". */
	ASSERT_INT_EQ(setns_parse_pid("lxd",
				      "Name: c2\n"
				      "Location: none\n"
				      "Remote: unix://\n"
				      "Architecture: x86_64\n"
				      "Created: 2024/01/02 10:00 UTC\n"
				      "Status: Running\n"
				      "Type: container\n"
				      "Profiles: default\n"
				      "Pid: 2468\n"
				      "Ips:\n"
				      "  eth0:\tinet\t10.1.2.3\tvethXYZ\n"
				      "Resources:\n"
				      "  Processes: 9\n"), 2468);
	ASSERT_INT_EQ(setns_parse_pid("lxd",
				      "Name: c2\n"
				      "Status: RUNNING\n"
				      "Type: container\n"
				      "Architecture: x86_64\n"
				      "PID: 1357\n"
				      "Created: 2024/01/02 10:00 UTC\n"
				      "Last Used: 2024/01/02 10:00 UTC\n"
				      "\n"
				      "Resources:\n"
				      "  Processes: 9\n"), 1357);
	/* mitogen's own stub. */
	ASSERT_INT_EQ(setns_parse_pid("lxd", "Pid: 1\n"), 1);
	ASSERT_INT_EQ(setns_parse_pid("lxd", "Name: c2\nStatus: STOPPED\n"), -1);
}

static void test_parse_machinectl(void)
{
	ASSERT_INT_EQ(setns_parse_pid("machinectl",
				      "box(ee5ecf8cd0ba4d0c8ec6ee6e7f0e7b2c)\n"
				      "           Since: Tue 2024-01-02 10:00:00 UTC; 1h ago\n"
				      "          Leader: 12345 (systemd)\n"
				      "         Service: systemd-nspawn; class container\n"
				      "            Root: /var/lib/machines/box\n"
				      "           Iface: ve-box\n"
				      "              OS: Debian GNU/Linux 12 (bookworm)\n"
				      "            Unit: systemd-nspawn@box.service\n"
				      "                  \u251c\u2500payload\n"
				      "                  \u2502 \u2514\u250012345 /lib/systemd/systemd\n"),
		      12345);
	ASSERT_INT_EQ(setns_parse_pid("machinectl", "Leader: 99\n"), 99);
	ASSERT_INT_EQ(setns_parse_pid("machinectl", "Leader: 99(sh)\n"), 99);
	ASSERT_INT_EQ(setns_parse_pid("machinectl", "Leader: abc (sh)\n"), -1);
	ASSERT_INT_EQ(setns_parse_pid("machinectl",
				      "Could not get path to machine: No machine 'x' known\n"), -1);
	ASSERT_INT_EQ(setns_parse_pid("nope", "1\n"), -1);
}

/* A private directory with fake tools in it. */
static char tooldir[64];

static const char *tool(TALLOC_CTX *ctx, const char *name, const char *body)
{
	char *path = talloc_asprintf(ctx, "%s/%s", tooldir, name);
	FILE *f = fopen(path, "w");

	if (f == NULL) {
		return NULL;
	}
	fprintf(f, "#!/bin/sh\nprintf '%%s\\n' \"$*\" >\"%s/args\"\n%s\n", tooldir, body);
	fclose(f);
	chmod(path, 0755);
	return path;
}

static char *tool_args(TALLOC_CTX *ctx)
{
	char *path = talloc_asprintf(ctx, "%s/args", tooldir);
	char buf[256] = { 0 };
	FILE *f = fopen(path, "r");

	if (f == NULL) {
		return talloc_strdup(ctx, "(none)");
	}
	if (fgets(buf, sizeof(buf), f) == NULL) {
		buf[0] = '\0';
	}
	fclose(f);
	unlink(path);
	buf[strcspn(buf, "\n")] = '\0';
	return talloc_strdup(ctx, buf);
}

struct answer {
	bool done;
	int err;
	long pid;
	void *state;
	char *msg;
};

static void on_pid(void *data, int err, long pid, const char *errmsg)
{
	struct answer *a = data;

	a->done = true;
	a->err = err;
	a->pid = pid;
	a->msg = err != 0 ? talloc_strdup(NULL, errmsg) : NULL;
}

static void on_prepared(void *data, int err, void *state, const char *errmsg)
{
	struct answer *a = data;

	a->done = true;
	a->err = err;
	a->state = state;
	a->msg = err != 0 ? talloc_strdup(NULL, errmsg) : NULL;
}

/* Turn the loop until the answer comes (the tool times out after 30 s). */
static void wait_answer(struct mg_loop *loop, struct answer *a)
{
	for (int i = 0; i < 400 && !a->done; i++) {
		mg_loop_run_once(loop, 100);
	}
}

/* setns_query_start for 'kind' with the tool at 'path', its answer
 * through a loop: "PID n" or the error message. */
static const char *query(TALLOC_CTX *ctx, const char *kind, const char *path, const char *name)
{
	const struct setns_tool *t = setns_tool_find(kind, strlen(kind));
	struct mg_loop *loop = mg_loop_new(ctx);
	struct setns_query *q = NULL;
	struct answer a = { 0 };
	const char *res;
	char *err = NULL;
	int r;

	if (t == NULL || path == NULL || loop == NULL) {
		return "(no tool)";
	}
	r = setns_query_start(ctx, loop, t, path, name, on_pid, &a, &q, &err);
	if (r != 0) {
		res = err != NULL ? err : "(no message)";
	} else {
		wait_answer(loop, &a);
		res = !a.done ? "(no answer)" : a.err != 0 ? talloc_strdup(ctx, a.msg)
		      : talloc_asprintf(ctx, "PID %ld", a.pid);
		/* The answer comes once the tool is reaped: nothing left. */
		if (a.done && mg__capture_pid(q->cap) != 0) {
			res = "(tool not reaped)";
		}
	}
	talloc_free(a.msg);
	talloc_free(q);
	talloc_free(loop);
	return res;
}

static void test_query(void)
{
	TALLOC_CTX *ctx = talloc_new(NULL);
	const char *p;

	/* Each kind's command line. */
	p = tool(ctx, "docker", "echo 4242");
	ASSERT_STR_EQ(query(ctx, "docker", p, "app"), "PID 4242");
	ASSERT_STR_EQ(tool_args(ctx), "inspect --format={{.State.Pid}} app");
	p = tool(ctx, "lxc-info", "printf 'Name: c1\\nState: RUNNING\\nPID: 77\\n'");
	ASSERT_STR_EQ(query(ctx, "lxc", p, "c1"), "PID 77");
	ASSERT_STR_EQ(tool_args(ctx), "-n c1");
	p = tool(ctx, "lxc", "printf 'Name: c2\\nPid: 78\\n'");
	ASSERT_STR_EQ(query(ctx, "lxd", p, "c2"), "PID 78");
	ASSERT_STR_EQ(tool_args(ctx), "info c2");
	p = tool(ctx, "machinectl", "printf 'm\\n    Leader: 79 (sh)\\n'");
	ASSERT_STR_EQ(query(ctx, "machinectl", p, "m1"), "PID 79");
	ASSERT_STR_EQ(tool_args(ctx), "status m1");

	/* Errors: stdout and stderr both land in the message. */
	ASSERT_STR_EQ(query(ctx, "docker", "/nonexistent/docker", "app"),
		      "could not execute /nonexistent/docker: No such file or directory");
	p = tool(ctx, "docker", "echo 'Error: No such object: nope' >&2; exit 1");
	ASSERT_STR_EQ(query(ctx, "docker", p, "nope"),
		      talloc_asprintf(ctx, "%s exited with status 1: Error: No such object: nope", p));
	p = tool(ctx, "docker", "echo junk");
	ASSERT_STR_EQ(query(ctx, "docker", p, "app"),
		      talloc_asprintf(ctx, "could not find PID from %s output: junk", p));
	p = tool(ctx, "docker", "true");
	ASSERT_STR_EQ(query(ctx, "docker", p, "app"),
		      talloc_asprintf(ctx, "could not find PID from %s output: (no output)", p));
	p = tool(ctx, "docker", "echo 0");
	ASSERT_STR_EQ(query(ctx, "docker", p, "app"),
		      talloc_asprintf(ctx, "container 'app' is not running (%s reports PID 0)", p));
	p = tool(ctx, "lxc-info", "printf 'Name: c1\\nState: STOPPED\\n'");
	ASSERT_STR_EQ(query(ctx, "lxc", p, "c1"),
		      talloc_asprintf(ctx, "could not find PID from %s output: Name: c1\n"
				      "State: STOPPED", p));
	p = tool(ctx, "docker", "echo dying; kill -9 $$");
	ASSERT_STR_EQ(query(ctx, "docker", p, "app"),
		      talloc_asprintf(ctx, "%s was killed by signal 9: dying", p));
	talloc_free(ctx);
}

static const char passwd[] =
	"root:x:0:0:root:/root:/bin/bash\n"
	"daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
	"# a comment\n"
	"broken:x:abc:1:::\n"
	"mguser:x:1234:1235:MG User,,,:/home/mguser:/bin/ash\r\n"
	"nohome:x:1300:1300:::\n";

static const char group[] =
	"root:x:0:\n"
	"wheel:x:10:root,mguser\n"
	"mguser:x:1235:\n"
	"audio:x:29:pulse,mguser\n"
	"bad:x:zz:mguser\n"
	"again:x:1235:mguser\n"
	"video:x:44:mguserx\n";

static void test_passwd(void)
{
	TALLOC_CTX *ctx = talloc_new(NULL);
	struct setns_user u = { 0 };
	gid_t *g = NULL;
	size_t n = 0;

	ASSERT_INT_EQ(setns_find_user(ctx, passwd, "mguser", &u), 0);
	ASSERT_STR_EQ(u.name, "mguser");
	ASSERT_INT_EQ(u.uid, 1234);
	ASSERT_INT_EQ(u.gid, 1235);
	ASSERT_STR_EQ(u.home, "/home/mguser");
	ASSERT_STR_EQ(u.shell, "/bin/ash");
	/* A uid finds the name (for USER and the groups). */
	ASSERT_INT_EQ(setns_find_user(ctx, passwd, "1234", &u), 0);
	ASSERT_STR_EQ(u.name, "mguser");
	/* Empty home and shell fields. */
	ASSERT_INT_EQ(setns_find_user(ctx, passwd, "nohome", &u), 0);
	ASSERT_STR_EQ(u.home, "/");
	ASSERT_STR_EQ(u.shell, "/bin/sh");
	ASSERT_INT_EQ(setns_find_user(ctx, passwd, "root", &u), 0);
	ASSERT_INT_EQ(u.uid, 0);
	ASSERT_STR_EQ(u.home, "/root");
	ASSERT_INT_EQ(setns_find_user(ctx, passwd, "nobody", &u), -ENOENT);
	ASSERT_INT_EQ(setns_find_user(ctx, passwd, "broken", &u), -ENOENT);
	ASSERT_INT_EQ(setns_find_user(ctx, passwd, "4321", &u), -ENOENT);
	ASSERT_INT_EQ(setns_find_user(ctx, "", "root", &u), -ENOENT);

	/* The primary group first, then each listing the user, once. */
	ASSERT_INT_EQ(setns_find_groups(ctx, group, "mguser", 1235, &g, &n), 0);
	ASSERT_INT_EQ(n, 3);
	ASSERT_INT_EQ(g[0], 1235);
	ASSERT_INT_EQ(g[1], 10);
	ASSERT_INT_EQ(g[2], 29);
	ASSERT_INT_EQ(setns_find_groups(ctx, NULL, "mguser", 7, &g, &n), 0);
	ASSERT_INT_EQ(n, 1);
	ASSERT_INT_EQ(g[0], 7);
	talloc_free(ctx);
}

/* A stand-in for a container's leader: a process started with 'env'. */
static pid_t leader(char *const env[])
{
	char *const argv[] = { "sleep", "30", NULL };
	pid_t pid = fork();

	if (pid == 0) {
		execve("/bin/sleep", argv, env);
		_exit(127);
	}
	/* Until its environ is the new one: comm says "sleep" a moment
	 * before exec has set the new environ's bounds (seen empty under
	 * load), so the environ itself is read. */
	for (int i = 0; i < 1000; i++) {
		char path[64], buf[256];
		ssize_t n;
		int fd;

		snprintf(path, sizeof(path), "/proc/%d/environ", (int)pid);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
		if (fd >= 0) {
			close(fd);
		}
		if (n > 0 && (buf[n] = '\0', strcmp(buf, env[0]) == 0)) {
			break;
		}
		usleep(10000);
	}
	return pid;
}

static size_t env_count(char **envp, const char *v)
{
	size_t n = 0;

	for (size_t i = 0; envp != NULL && envp[i] != NULL; i++) {
		n += strcmp(envp[i], v) == 0;
	}
	return n;
}

static void test_env_and_maps(void)
{
	TALLOC_CTX *ctx = talloc_new(NULL);
	struct setns_user u = { .name = "mguser", .uid = 1, .gid = 1, .home = "/home/m",
				.shell = "/bin/ash" };
	char *const with_path[] = { "MG_LEADER=1", "HOME=/leader", "PATH=/leader/bin", "USER=x", NULL };
	char *const no_path[] = { "MG_LEADER=2", NULL };
	char **envp;
	size_t home = 0;
	pid_t pid;

	/* The container's environment, never ours (a token of the caller's
	 * went into the container with the first stage). */
	setenv("HOME", "/host/home", 1);
	setenv("MG_TEST_SECRET", "yes", 1);
	pid = leader(with_path);
	envp = setns_build_env(ctx, (long)pid, &u);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	ASSERT_PTR_NOT_NULL(envp);
	for (size_t i = 0; envp[i] != NULL; i++) {
		if (strncmp(envp[i], "HOME=", 5) == 0) {
			home++;
			ASSERT_STR_EQ(envp[i], "HOME=/home/m");
		}
		ASSERT_TRUE(strncmp(envp[i], "MG_TEST_SECRET=", 15) != 0);
	}
	ASSERT_INT_EQ(home, 1);
	ASSERT_INT_EQ(env_count(envp, "MG_LEADER=1"), 1);
	ASSERT_INT_EQ(env_count(envp, "PATH=/leader/bin"), 1);
	ASSERT_INT_EQ(env_count(envp, "USER=x"), 0);
	/* The four go last, in this order. */
	for (size_t i = 0; envp[i] != NULL; i++) {
		if (envp[i + 1] == NULL) {
			ASSERT_STR_EQ(envp[i - 3], "HOME=/home/m");
			ASSERT_STR_EQ(envp[i - 2], "SHELL=/bin/ash");
			ASSERT_STR_EQ(envp[i - 1], "USER=mguser");
			ASSERT_STR_EQ(envp[i], "LOGNAME=mguser");
		}
	}
	/* A leader without PATH: the usual one. */
	pid = leader(no_path);
	envp = setns_build_env(ctx, (long)pid, &u);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	ASSERT_INT_EQ(env_count(envp, "MG_LEADER=2"), 1);
	ASSERT_INT_EQ(env_count(envp, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"), 1);
	/* One that is gone: the four and PATH alone. */
	envp = setns_build_env(ctx, (long)pid, &u);
	ASSERT_PTR_NOT_NULL(envp);
	ASSERT_STR_EQ(envp[0], "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
	ASSERT_PTR_NULL(envp[5]);

	ASSERT_TRUE(setns_id_mapped("         0          0 4294967295\n", 1234));
	ASSERT_TRUE(setns_id_mapped("0 100000 65536\n", 65535));
	ASSERT_TRUE(!setns_id_mapped("0 100000 65536\n", 65536));
	ASSERT_TRUE(!setns_id_mapped("0 1000 1\n", 1234));
	ASSERT_TRUE(setns_id_mapped("0 1000 1\n1 100000 2000\n", 1234));
	ASSERT_TRUE(!setns_id_mapped("", 0));
	talloc_free(ctx);
}

/* prepare against ourselves: every namespace is shared (none to enter),
 * the root is ours, the user comes from our /etc/passwd. */
/* prepare_async through a loop: 0 with *_state, or the error and *_err. */
static int prepare(TALLOC_CTX *ctx, const struct mg_hop *hop, void **_state, char **_err)
{
	struct mg_loop *loop = mg_loop_new(ctx);
	TALLOC_CTX *conn = talloc_new(ctx);
	struct answer a = { 0 };
	int r;

	r = mg__method_setns.prepare_async(conn, loop, hop, on_prepared, &a, _err);
	if (r != 0) {
		talloc_free(loop);
		return r;
	}
	wait_answer(loop, &a);
	r = a.done ? a.err : -ETIMEDOUT;
	if (r != 0) {
		*_err = talloc_strdup(ctx, a.done ? a.msg : "(no answer)");
		talloc_free(a.msg);
	} else if (talloc_parent(a.state) != conn) {
		/* The state lives on the mem_ctx given. */
		*_err = talloc_strdup(ctx, "(state not on mem_ctx)");
		r = -EINVAL;
	} else {
		*_state = talloc_steal(ctx, a.state);
	}
	talloc_free(conn);
	talloc_free(loop);
	return r;
}

/* prepare against ourselves: every namespace is shared (none to enter),
 * the root is ours, the user comes from our /etc/passwd. */
static void test_prepare_self(void)
{
	TALLOC_CTX *ctx = talloc_new(NULL);
	char *text, *err = NULL;
	const struct mg_hop *hop;
	const char *p;
	void *state = NULL;
	struct setns_state *st;
	int r;

	p = tool(ctx, "docker", talloc_asprintf(ctx, "echo %d", (int)getpid()));
	ASSERT_PTR_NOT_NULL(p);
	/* '/' separates hops: in a value it is written %2F. */
	text = talloc_strdup(ctx, "setns:docker:self?docker_path=");
	for (const char *c = tooldir; *c != '\0'; c++) {
		text = *c == '/' ? talloc_strdup_append(text, "%2F") : talloc_strndup_append(text, c, 1);
	}
	text = talloc_strdup_append(text, "%2Fdocker");
	hop = hop_of(ctx, text);
	ASSERT_PTR_NOT_NULL(hop);
	r = prepare(ctx, hop, &state, &err);
	ASSERT_STR_EQ(err != NULL ? err : "", "");
	ASSERT_INT_EQ(r, 0);
	st = state;
	if (st != NULL) {
		ASSERT_INT_EQ(st->n_ns, 0);
		ASSERT_INT_GE(st->root_fd, 0);
		ASSERT_INT_EQ(st->uid, 0);
		ASSERT_INT_EQ(st->gid, 0);
		ASSERT_INT_GE(st->n_groups, 1);
		ASSERT_INT_EQ(st->groups[0], 0);
	}
	talloc_free(state);

	/* A user we do not have. */
	text = talloc_asprintf(ctx, "%s&username=mg-no-such-user", text);
	hop = hop_of(ctx, text);
	ASSERT_PTR_NOT_NULL(hop);
	err = NULL;
	r = prepare(ctx, hop, &state, &err);
	ASSERT_INT_EQ(r, -ENOENT);
	ASSERT_STR_EQ(err, "no user 'mg-no-such-user' in /etc/passwd of container 'self'");

	/* A tool that cannot be run: said at once, no answer to wait for. */
	hop = hop_of(ctx, "setns:docker:self?docker_path=%2Fnonexistent%2Fdocker");
	ASSERT_PTR_NOT_NULL(hop);
	err = NULL;
	r = mg__method_setns.prepare_async(ctx, NULL, hop, on_prepared, NULL, &err);
	ASSERT_INT_EQ(r, -ENOENT);
	ASSERT_STR_EQ(err, "could not execute /nonexistent/docker: No such file or directory");
	talloc_free(ctx);
}

/* Cancelling: freeing the query kills the tool and reaps it. */
static void test_query_cancel(void)
{
	TALLOC_CTX *ctx = talloc_new(NULL);
	struct mg_loop *loop = mg_loop_new(ctx);
	const struct setns_tool *t = setns_tool_find("docker", 6);
	struct setns_query *q = NULL;
	struct answer a = { 0 };
	const char *p = tool(ctx, "docker", "sleep 30");
	char *err = NULL;
	pid_t pid;

	ASSERT_INT_EQ(setns_query_start(ctx, loop, t, p, "app", on_pid, &a, &q, &err), 0);
	ASSERT_PTR_NOT_NULL(q);
	for (int i = 0; i < 5; i++) {
		mg_loop_run_once(loop, 10);
	}
	ASSERT_TRUE(!a.done);
	pid = mg__capture_pid(q->cap);
	ASSERT_INT_GE(pid, 1);
	talloc_free(q);
	/* Reaped: no such child any more. */
	ASSERT_INT_EQ(waitpid(pid, NULL, WNOHANG), -1);
	ASSERT_INT_EQ(errno, ECHILD);
	talloc_free(ctx);
}

/* A pid that has just exited. */
static void test_prepare_dead(void)
{
	TALLOC_CTX *ctx = talloc_new(NULL);
	struct setns_state *st = talloc_zero(ctx, struct setns_state);
	char *err = NULL;
	pid_t pid;

	fflush(stdout);
	pid = fork();

	if (pid == 0) {
		_exit(0);
	}
	ASSERT_INT_GE(pid, 1);
	waitpid(pid, NULL, 0);
	st->root_fd = -1;
	talloc_set_destructor(st, setns_state_destructor);
	ASSERT_INT_EQ(setns_open_ns(ctx, st, pid, "gone", &err), -ENOENT);
	ASSERT_STR_EQ(err, talloc_asprintf(ctx, "the leader of container 'gone' (PID %d) is "
					   "not running", (int)pid));
	talloc_free(ctx);
}

/* What pre_exec writes on fd 2 in a child, and how it ends. */
static char *child_stderr(TALLOC_CTX *ctx, struct setns_state *st, int *_ret)
{
	int p[2];
	char buf[1024];
	ssize_t n, got = 0;
	int status = 0;
	pid_t pid;

	if (pipe(p) != 0) {
		return NULL;
	}
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		dup2(p[1], 2);
		close(p[0]);
		_exit(setns_pre_exec(st) == -1 ? 1 : 0);
	}
	close(p[1]);
	while ((n = read(p[0], buf + got, sizeof(buf) - 1 - (size_t)got)) > 0) {
		got += n;
	}
	close(p[0]);
	buf[got] = '\0';
	waitpid(pid, &status, 0);
	*_ret = WIFEXITED(status) && WEXITSTATUS(status) == 1 ? -1 : 0;
	return talloc_strdup(ctx, buf);
}

static void test_pre_exec_errors(void)
{
	TALLOC_CTX *ctx = talloc_new(NULL);
	struct setns_state st = { 0 };
	int ret = 0;

	st.n_ns = 1;
	st.ns[0].fd = -1;
	st.ns[0].type = CLONE_NEWNET;
	st.ns[0].what = "cannot enter the net namespace of PID 42";
	st.root_fd = -1;
	ASSERT_STR_EQ(child_stderr(ctx, &st, &ret),
		      "setns: cannot enter the net namespace of PID 42: Bad file descriptor\n");
	ASSERT_INT_EQ(ret, -1);

	st.n_ns = 0;
	st.root_what = "cannot change root to container 'c'";
	ASSERT_STR_EQ(child_stderr(ctx, &st, &ret),
		      "setns: cannot change root to container 'c': Bad file descriptor\n");
	ASSERT_INT_EQ(ret, -1);

	/* A long message still ends in a newline. */
	st.root_what = talloc_zero_size(ctx, 700);
	memset(st.root_what, 'x', 699);
	{
		char *out = child_stderr(ctx, &st, &ret);
		ASSERT_PTR_NOT_NULL(out);
		ASSERT_INT_EQ(strlen(out), 511);
		ASSERT_INT_EQ(out[510], '\n');
	}
	talloc_free(ctx);
}

/* As root: a child that enters "ourselves" as another user ends with that
 * user's ids, environment and home. */
static void test_pre_exec_user(void)
{
	TALLOC_CTX *ctx = talloc_new(NULL);
	struct setns_state *st;
	struct setns_user u = { .name = "mgtest", .uid = 4321, .gid = 4322, .home = "/",
				.shell = "/bin/sh" };
	int p[2], status = 0;
	char buf[256] = { 0 };
	ssize_t n;
	pid_t pid;

	if (geteuid() != 0) {
		printf("# skipped: needs root\n");
		talloc_free(ctx);
		return;
	}
	st = talloc_zero(ctx, struct setns_state);
	st->root_fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	talloc_set_destructor(st, setns_state_destructor);
	st->uid = u.uid;
	st->gid = u.gid;
	st->groups = talloc_array(st, gid_t, 2);
	st->groups[0] = 4322;
	st->groups[1] = 4323;
	st->n_groups = 2;
	st->home = "/";
	st->envp = setns_build_env(st, (long)getpid(), &u);
	st->root_what = "root";
	st->user_what = "user";
	ASSERT_TRUE(pipe(p) == 0);
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		gid_t g[4];
		int ng;

		close(p[0]);
		if (setns_pre_exec(st) != 0) {
			_exit(1);
		}
		ng = getgroups(4, g);
		dprintf(p[1], "%d %d %d %d %s %s", (int)getuid(), (int)getgid(), ng,
			ng == 2 ? (int)g[1] : -1, getenv("USER"), getenv("HOME"));
		_exit(0);
	}
	close(p[1]);
	n = read(p[0], buf, sizeof(buf) - 1);
	close(p[0]);
	waitpid(pid, &status, 0);
	ASSERT_INT_GE(n, 1);
	ASSERT_STR_EQ(buf, "4321 4322 2 4323 mgtest /");
	ASSERT_INT_EQ(status, 0);
	talloc_free(ctx);
}

int main(void)
{
	int ret;

	snprintf(tooldir, sizeof(tooldir), "/tmp/mg-setns-test.XXXXXX");
	if (mkdtemp(tooldir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	TESTS_BEGIN();
	RUN(test_method);
	RUN(test_build_argv);
	RUN(test_parse_docker);
	RUN(test_parse_lxc);
	RUN(test_parse_lxd);
	RUN(test_parse_machinectl);
	RUN(test_query);
	RUN(test_passwd);
	RUN(test_env_and_maps);
	RUN(test_prepare_self);
	RUN(test_query_cancel);
	RUN(test_prepare_dead);
	RUN(test_pre_exec_errors);
	RUN(test_pre_exec_user);
	ret = TESTS_END();
	{
		char cmd[128];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tooldir);
		if (system(cmd) != 0) {
			/* Leave it. */
		}
	}
	return ret;
}
