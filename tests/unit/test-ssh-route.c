/*
 * Reading ssh's route from its config without ssh -G (ssh-route.c): each
 * case is checked against what it must say and, where OpenSSH is here,
 * against `ssh -G` itself: a "helper" answer must be one ssh -G agrees
 * with (no proxy, no bind, the same host, port, timeout and family), an
 * "ssh" answer one where ssh -G shows the config's own way.
 */
#include <fcntl.h>
#include <fnmatch.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "harness.h"
#include "connect/ssh-route.h"

extern char **environ;

static char dir[256];
static int n_oracle;

static void write_file(const char *name, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0) {
		T_FAIL("cannot write %s", path);
	}
}

/* `ssh -G WORDS HOST`, or NULL where ssh is not installed. */
static char *ssh_g(const char *const *words, size_t n, const char *host)
{
	const char *argv[64] = { "ssh", "-G" };
	static char out[65536];
	posix_spawn_file_actions_t fa;
	size_t len = 0;
	ssize_t r;
	int p[2], status;
	pid_t pid;

	if (access("/usr/bin/ssh", X_OK) != 0 || n + 4 > sizeof(argv) / sizeof(argv[0]) || pipe(p) != 0) {
		return NULL;
	}
	memcpy(&argv[2], words, n * sizeof(char *));
	argv[2 + n] = host;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, p[1], 1);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	if (posix_spawn(&pid, "/usr/bin/ssh", &fa, NULL, (char *const *)argv, environ) != 0) {
		return NULL;
	}
	posix_spawn_file_actions_destroy(&fa);
	close(p[1]);
	while ((r = read(p[0], out + len, sizeof(out) - 1 - len)) > 0) {
		len += (size_t)r;
	}
	close(p[0]);
	out[len] = '\0';
	waitpid(pid, &status, 0);
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? out : NULL;
}

static const char *g_val(const char *out, const char *key, char *buf, size_t size)
{
	size_t k = strlen(key);

	for (const char *l = out; l != NULL && *l != '\0'; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
		if (strncmp(l, key, k) == 0 && l[k] == ' ') {
			snprintf(buf, size, "%.*s", (int)strcspn(l + k + 1, "\n"), l + k + 1);
			return buf;
		}
	}
	return "";
}

static bool g_set(const char *out, const char *key)
{
	char b[512];
	const char *v = g_val(out, key, b, sizeof(b));

	return v[0] != '\0' && strcmp(v, "none") != 0;
}

/* Whether a "sendenv" line of ssh -G's takes $SHELL. */
static bool g_sends_shell(const char *out)
{
	for (const char *l = out; l != NULL && *l != '\0'; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
		char pat[256];

		if (strncmp(l, "sendenv ", 8) == 0 &&
		    snprintf(pat, sizeof(pat), "%.*s", (int)strcspn(l + 8, "\n"), l + 8) > 0 &&
		    fnmatch(pat, "SHELL", 0) == 0) {
			return true;
		}
	}
	return false;
}

/* The answer must agree with ssh -G's. */
static void oracle(const char *const *words, size_t n, const char *host, enum mg_ssh_route r,
		   const struct mg_ssh_direct *d)
{
	const char *out = r == MG_SSH_ROUTE_UNSURE ? NULL : ssh_g(words, n, host);
	char b[512], canon[64];
	bool own;

	if (out == NULL) {
		return;
	}
	n_oracle++;
	g_val(out, "canonicalizehostname", canon, sizeof(canon));
	/* A bind address "none" is one ssh binds to (and fails). */
	own = g_set(out, "proxycommand") || g_set(out, "proxyjump") ||
	      g_val(out, "bindaddress", b, sizeof(b))[0] != '\0' ||
	      g_val(out, "bindinterface", b, sizeof(b))[0] != '\0' ||
	      (canon[0] != '\0' && strcmp(canon, "false") != 0);
	if (r == MG_SSH_ROUTE_SSH) {
		ASSERT_TRUE(own);
		return;
	}
	ASSERT_TRUE(!own);
	ASSERT_STR_EQ(d->host, g_val(out, "hostname", b, sizeof(b)));
	ASSERT_STR_EQ(d->port, g_val(out, "port", b, sizeof(b)));
	ASSERT_STR_EQ(d->family, g_val(out, "addressfamily", b, sizeof(b)));
	g_val(out, "connecttimeout", b, sizeof(b));
	ASSERT_STR_EQ(d->timeout, strcmp(b, "none") == 0 ? "0" : b);
	/* $SHELL may be the helper's alone only where ssh uses it for
	 * nothing else (the reader may be more careful than that). */
	if (d->own_shell) {
		ASSERT_TRUE(!g_set(out, "localcommand") && !g_sends_shell(out));
	}
}

/* route(EXPECTED, HOST, WORDS...): the words before the host. */
#define ROUTE(expect, host, ...) do { \
	const char *const w_[] = { __VA_ARGS__ }; \
	size_t n_ = sizeof(w_) / sizeof(w_[0]); \
	enum mg_ssh_route r_ = mg__ssh_route(w_, n_, (host), &d); \
	if (r_ != (expect)) T_FAIL("%s: route %d, expected %d", (host), (int)r_, (int)(expect)); \
	oracle(w_, n_, (host), r_, &d); \
} while (0)

static char cfg[512];

static void config(const char *text)
{
	write_file("cfg", text);
}

static void test_plain(void)
{
	struct mg_ssh_direct d;

	config("");
	ROUTE(MG_SSH_ROUTE_HELPER, "h1", "-F", cfg);
	ASSERT_STR_EQ(d.host, "h1");
	ASSERT_STR_EQ(d.port, "22");
	ASSERT_STR_EQ(d.timeout, "0");
	ASSERT_STR_EQ(d.family, "any");
	config("Host wan1\n  HostName 127.0.0.1\n  Port 2222\n\n# ProxyCommand x\nHost *\n  Port 23\n");
	ROUTE(MG_SSH_ROUTE_HELPER, "wan1", "-o", "LogLevel ERROR", "-F", cfg);
	ASSERT_STR_EQ(d.host, "127.0.0.1");
	ASSERT_STR_EQ(d.port, "2222");
	ROUTE(MG_SSH_ROUTE_HELPER, "other", "-F", cfg);
	ASSERT_STR_EQ(d.port, "23");
	/* The command line comes first. */
	ROUTE(MG_SSH_ROUTE_HELPER, "wan1", "-p", "2200", "-F", cfg);
	ASSERT_STR_EQ(d.port, "2200");
	config("Host web*\n HostName %h.example.org\n ConnectTimeout=7\n AddressFamily inet\n");
	ROUTE(MG_SSH_ROUTE_HELPER, "web1", "-F", cfg);
	ASSERT_STR_EQ(d.host, "web1.example.org");
	ASSERT_STR_EQ(d.timeout, "7");
	ASSERT_STR_EQ(d.family, "inet");
	ROUTE(MG_SSH_ROUTE_HELPER, "web1", "-6", "-o", "ConnectTimeout 3", "-F", cfg);
	ASSERT_STR_EQ(d.timeout, "3");
	ASSERT_STR_EQ(d.family, "inet6");
	/* Values as ssh reads them: the name lowercased, numbers as such. */
	config("Host web*\n HostName %h.EXAMPLE.org\n Port 0022\n ConnectTimeout 07\n");
	ROUTE(MG_SSH_ROUTE_HELPER, "web1", "-F", cfg);
	ASSERT_STR_EQ(d.host, "web1.example.org");
	ASSERT_STR_EQ(d.port, "22");
	ASSERT_STR_EQ(d.timeout, "7");
	ROUTE(MG_SSH_ROUTE_UNSURE, "web1", "-p", "0", "-F", cfg);
	ROUTE(MG_SSH_ROUTE_UNSURE, "web1", "-o", "Port 65536", "-F", cfg);
	/* The last of -4 and -6 wins, over -o too. */
	ROUTE(MG_SSH_ROUTE_HELPER, "web1", "-6", "-4", "-F", cfg);
	ASSERT_STR_EQ(d.family, "inet");
	ROUTE(MG_SSH_ROUTE_HELPER, "web1", "-o", "AddressFamily inet", "-6", "-F", cfg);
	ASSERT_STR_EQ(d.family, "inet6");
}

static void test_proxies(void)
{
	struct mg_ssh_direct d;

	config("Host wan1\n  ProxyCommand nc %h %p\n");
	ROUTE(MG_SSH_ROUTE_SSH, "wan1", "-F", cfg);
	ROUTE(MG_SSH_ROUTE_HELPER, "wan2", "-F", cfg);
	config("Host !web* *\n proxyjump=bastion\n");
	ROUTE(MG_SSH_ROUTE_SSH, "db1", "-F", cfg);
	ROUTE(MG_SSH_ROUTE_HELPER, "web1", "-F", cfg);
	/* The first value wins, "none" included; the command line first. */
	config("Host db1\n ProxyCommand none\nHost *\n ProxyCommand nc %h %p\n");
	ROUTE(MG_SSH_ROUTE_HELPER, "db1", "-F", cfg);
	ROUTE(MG_SSH_ROUTE_SSH, "db2", "-F", cfg);
	ROUTE(MG_SSH_ROUTE_HELPER, "db2", "-oProxyCommand=none", "-F", cfg);
	ROUTE(MG_SSH_ROUTE_SSH, "db1", "-J", "bastion", "-F", cfg);
	config("Host a\n BindAddress 127.0.0.1\nHost b\n CanonicalizeHostname yes\n"
	       "Host c\n CanonicalizeHostname no\n");
	ROUTE(MG_SSH_ROUTE_SSH, "a", "-F", cfg);
	ROUTE(MG_SSH_ROUTE_SSH, "b", "-F", cfg);
	ROUTE(MG_SSH_ROUTE_HELPER, "c", "-F", cfg);
	/* BindAddress none is a name to ssh; -b and -B win over -o. */
	ROUTE(MG_SSH_ROUTE_SSH, "c", "-o", "BindAddress=none", "-F", cfg);
	ROUTE(MG_SSH_ROUTE_SSH, "c", "-o", "BindInterface none", "-B", "lo", "-F", cfg);
	ROUTE(MG_SSH_ROUTE_SSH, "c", "-o", "BindAddress none", "-b", "127.0.0.1", "-F", cfg);
	/* Include, with a glob, inside a block that applies. */
	write_file("inc-1.conf", "Host in1\n ProxyCommand nc %h %p\n");
	{
		char text[600];

		snprintf(text, sizeof(text), "Host in*\n Include %s/inc-*.conf\n", dir);
		config(text);
	}
	ROUTE(MG_SSH_ROUTE_SSH, "in1", "-F", cfg);
	ROUTE(MG_SSH_ROUTE_HELPER, "in2", "-F", cfg);
	/* The files in byte order, the first value winning; a name starting
	 * with '.' only for a pattern that does; '?' one byte. */
	write_file("inc-b.conf", "Host in3\n ProxyCommand none\n");
	write_file("inc-a.conf", "Host in3 i?4\n ProxyCommand nc %h %p\n");
	write_file(".inc-0.conf", "Host in5\n ProxyCommand nc %h %p\n");
	write_file("inc-c.conf", "Host in5\n ProxyCommand none\nHost *\n ProxyCommand nc %h %p\n");
	ROUTE(MG_SSH_ROUTE_SSH, "in3", "-F", cfg);
	ROUTE(MG_SSH_ROUTE_SSH, "in4", "-F", cfg);
	ROUTE(MG_SSH_ROUTE_HELPER, "in5", "-F", cfg);
	{
		char text[600];

		snprintf(text, sizeof(text), "Include %s/.inc-*.conf %s/inc-c.conf\n", dir, dir);
		config(text);
		ROUTE(MG_SSH_ROUTE_SSH, "in5", "-F", cfg);
		/* Brackets, which glob reads and ssh's patterns do not: ssh -G. */
		snprintf(text, sizeof(text), "Include %s/inc-[ab].conf\n", dir);
		config(text);
		ROUTE(MG_SSH_ROUTE_UNSURE, "in3", "-F", cfg);
		/* Nothing matches, or no such directory: no config. */
		snprintf(text, sizeof(text), "Include %s/none-*.conf %s/nodir/*\n", dir, dir);
		config(text);
		ROUTE(MG_SSH_ROUTE_HELPER, "in3", "-F", cfg);
	}
	/* '*' and '?' in Host patterns, byte for byte. */
	config("Host w?b* !*.x\n ProxyCommand nc %h %p\n");
	ROUTE(MG_SSH_ROUTE_SSH, "web1", "-F", cfg);
	ROUTE(MG_SSH_ROUTE_SSH, "wxb", "-F", cfg);
	ROUTE(MG_SSH_ROUTE_HELPER, "wb1", "-F", cfg);
	ROUTE(MG_SSH_ROUTE_HELPER, "web1.x", "-F", cfg);
	ROUTE(MG_SSH_ROUTE_HELPER, "db1", "-F", cfg);
}

/* ssh runs $SHELL for the helper alone unless a LocalCommand applies or
 * a SendEnv pattern (a removal counted too) takes SHELL. */
static void test_own_shell(void)
{
	struct mg_ssh_direct d;

	config("Host *\n SendEnv LANG LC_*\n");
	ROUTE(MG_SSH_ROUTE_HELPER, "h1", "-F", cfg);
	ASSERT_TRUE(d.own_shell);
	config("Host h1\n LocalCommand echo %h\nHost *\n SendEnv LANG\n");
	ROUTE(MG_SSH_ROUTE_HELPER, "h1", "-F", cfg);
	ASSERT_TRUE(!d.own_shell);
	ROUTE(MG_SSH_ROUTE_HELPER, "h2", "-F", cfg);
	ASSERT_TRUE(d.own_shell);
	ROUTE(MG_SSH_ROUTE_HELPER, "h2", "-o", "LocalCommand=true", "-F", cfg);
	ASSERT_TRUE(!d.own_shell);
	for (int i = 0; i < 4; i++) {
		static const char *const pats[] = { "SHELL", "SH*", "*", "-S?ELL" };
		char text[64];

		snprintf(text, sizeof(text), "Host *\n SendEnv LANG\n SendEnv %s\n", pats[i]);
		config(text);
		ROUTE(MG_SSH_ROUTE_HELPER, "h1", "-F", cfg);
		if (d.own_shell) {
			T_FAIL("SendEnv %s: $SHELL taken for the helper", pats[i]);
		}
	}
	ROUTE(MG_SSH_ROUTE_HELPER, "h1", "-o", "SendEnv=LANG", "-F", "none");
	ASSERT_TRUE(d.own_shell);
	ROUTE(MG_SSH_ROUTE_HELPER, "h1", "-o", "SendEnv=SHELL", "-F", "none");
	ASSERT_TRUE(!d.own_shell);
}

/* A relative Include in a user config is found in $HOME/.ssh, even where
 * $HOME is not the passwd entry's home (the config itself is). */
static void test_home(void)
{
	struct mg_ssh_direct d;
	char home[300], *old = getenv("HOME") ? strdup(getenv("HOME")) : NULL;

	snprintf(home, sizeof(home), "%s/home", dir);
	write_file("home/.ssh/inc.conf", "Host in1\n ProxyCommand nc %h %p\n");
	config("Include inc.conf\n");
	setenv("HOME", home, 1);
	ROUTE(MG_SSH_ROUTE_SSH, "in1", "-F", cfg);
	ROUTE(MG_SSH_ROUTE_HELPER, "in2", "-F", cfg);
	setenv("HOME", "", 1);
	ROUTE(MG_SSH_ROUTE_UNSURE, "in1", "-F", cfg);
	if (old != NULL) {
		setenv("HOME", old, 1);
		free(old);
	} else {
		unsetenv("HOME");
	}
}

/* The files ssh reads without -F, whatever this machine has there: any
 * answer but "unsure" must agree with ssh -G. */
static void test_default_files(void)
{
	const char *const none[] = { "-o", "LogLevel ERROR" };
	struct mg_ssh_direct d;
	enum mg_ssh_route r = mg__ssh_route(none, 2, "h1", &d);

	printf("# without -F: route %d\n", (int)r);
	oracle(none, 2, "h1", r, &d);
}

static void test_unsure(void)
{
	struct mg_ssh_direct d;

	config("Match host x\n ProxyCommand nc %h %p\n");
	ROUTE(MG_SSH_ROUTE_UNSURE, "h", "-F", cfg);
	config("Host \"h\"\n ProxyCommand nc %h %p\n");
	ROUTE(MG_SSH_ROUTE_UNSURE, "h", "-F", cfg);
	/* A quoted keyword is the keyword to ssh. */
	config("\"ProxyCommand\" nc %h %p\n");
	ROUTE(MG_SSH_ROUTE_UNSURE, "h", "-F", cfg);
	ROUTE(MG_SSH_ROUTE_UNSURE, "h", "-o", "\"ProxyJump\"=b", "-F", "none");
	ROUTE(MG_SSH_ROUTE_UNSURE, "h", "-o", "ProxyCommand==none", "-F", "none");
	config("Host h # a comment\n ProxyCommand nc %h %p\n");
	ROUTE(MG_SSH_ROUTE_UNSURE, "h", "-F", cfg);
	config("Include /proc/*/nosuchfile\n");
	ROUTE(MG_SSH_ROUTE_UNSURE, "h", "-F", cfg);
	config("Host h\n HostName $(reboot)\n");
	ROUTE(MG_SSH_ROUTE_UNSURE, "h", "-F", cfg);
	config("");
	ROUTE(MG_SSH_ROUTE_UNSURE, "H1", "-F", cfg);
	ROUTE(MG_SSH_ROUTE_UNSURE, "h'1", "-F", cfg);
	ROUTE(MG_SSH_ROUTE_UNSURE, "h", "-vF", cfg);
	/* ProxyJump none leaves a later ProxyCommand in force. */
	config("Host h\n ProxyJump none\nHost *\n ProxyCommand nc %h %p\n");
	ROUTE(MG_SSH_ROUTE_UNSURE, "h", "-F", cfg);
	config("ProxyCommand nc %h %p\n");
	ROUTE(MG_SSH_ROUTE_UNSURE, "h", "-J", "none", "-F", cfg);
	ROUTE(MG_SSH_ROUTE_UNSURE, "h", "-o", "ProxyJump=none", "-F", cfg);
	ROUTE(MG_SSH_ROUTE_UNSURE, "h", "-F", "/nonexistent/cfg");
	ROUTE(MG_SSH_ROUTE_UNSURE, "h", "-F");
}

int main(void)
{
	char tmpl[] = "/tmp/mg-ssh-route-XXXXXX";

	if (mkdtemp(tmpl) == NULL) {
		return 1;
	}
	snprintf(dir, sizeof(dir), "%s", tmpl);
	snprintf(cfg, sizeof(cfg), "%s/cfg", dir);
	{
		char d2[300];

		snprintf(d2, sizeof(d2), "%s/home", dir);
		mkdir(d2, 0700);
		snprintf(d2, sizeof(d2), "%s/home/.ssh", dir);
		mkdir(d2, 0700);
	}
	TESTS_BEGIN();
	RUN(test_plain);
	RUN(test_proxies);
	RUN(test_unsure);
	RUN(test_own_shell);
	RUN(test_home);
	RUN(test_default_files);
	printf("# %d answers checked against ssh -G\n", n_oracle);
	{
		char cmd[600];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0) {
			printf("# cannot remove %s\n", dir);
		}
	}
	return TESTS_END();
}
