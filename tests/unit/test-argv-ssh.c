/* Unit tests for the ssh method (lib/hop/connect/ssh.c): the exact argv for
 * every option, the spawn mode, and the prompt and error patterns against
 * OpenSSH's real texts. */
#include <errno.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "harness.h"
#include "raw-hop.h"
#include "boot.h"
#include "method.h"
#include "mitogen/chain.h"
#include "mitogen/error.h"

static const char *const boot_argv[] = {
	"/bin/sh", "-c", "S", "mitogen-boot", "10", "n", NULL,
};

/* What every default argv ends with: the host, then the boot command as
 * one word. */
#define BOOT "[/bin/sh -c S mitogen-boot 10 n]"
/* The options every hop gets by default, in mitogen's order. */
#define LOGLEVEL "[ssh][-o][LogLevel ERROR]"
#define COMPRESSION ""
#define COMPRESSION_ON "[-o][Compression yes]"
#define KEEPALIVE "[-o][ServerAliveInterval 15][-o][ServerAliveCountMax 3]"
#define BATCH "[-o][BatchMode yes]"
#define ENFORCE "[-o][StrictHostKeyChecking yes]"
#define ACCEPT "[-o][StrictHostKeyChecking ask]"
#define IGNORE "[-o][StrictHostKeyChecking no][-o][UserKnownHostsFile /dev/null]" \
	"[-o][GlobalKnownHostsFile /dev/null]"

/* The single hop of 'text', or NULL (with the parse error printed). */
static const struct mg_hop *hop_of(TALLOC_CTX *ctx, const char *text)
{
	struct mg_chain_list *list = NULL;
	char *err = NULL;

	if (mg_chain_parse(ctx, text, &list, &err) != 0) {
		/* A value the parser refuses: what the method says of it. */
		return raw_hop(ctx, text);
	}
	if (list->n_chains != 1 || list->chains[0].n_hops != 1) {
		printf("#   '%s': not one hop\n", text);
		return NULL;
	}
	return &list->chains[0].hops[0];
}

/* The argv for 'text' as "[w1][w2]...", or "ERR(code): message". */
static const char *argv_of_boot(TALLOC_CTX *ctx, const char *text, const char *const *boot_words)
{
	const struct mg_method *m = mg__method_find("ssh");
	struct mg_boot_cmd boot = { .argv = boot_words, .self = "/agent" };
	const struct mg_hop *hop = hop_of(ctx, text);
	char **argv = NULL, *err = NULL, *out;
	bool direct = true;
	int r;

	if (hop == NULL) {
		return "(no hop)";
	}
	r = m->build_argv(ctx, hop, &boot, &argv, &direct, &err);
	if (r != 0) {
		return talloc_asprintf(ctx, "ERR(%d): %s", r, err != NULL ? err : "(no message)");
	}
	if (direct) {
		return "(direct)";
	}
	out = talloc_strdup(ctx, "");
	for (size_t i = 0; argv[i] != NULL; i++) {
		out = talloc_asprintf_append(out, "[%s]", argv[i]);
	}
	return out;
}

static const char *argv_of(TALLOC_CTX *ctx, const char *text)
{
	return argv_of_boot(ctx, text, boot_argv);
}

static void test_method(void)
{
	const struct mg_method *m = mg__method_find("ssh");

	ASSERT_PTR_NOT_NULL(m);
	ASSERT_PTR_NOT_NULL(m->build_argv);
	ASSERT_PTR_NOT_NULL(m->spawn_mode);
	ASSERT_PTR_NOT_NULL(m->prompts);
	ASSERT_TRUE(m->takes_password);
	/* Prompts go to the tty, never to stdin: the image follows at once. */
	ASSERT_TRUE(m->eager);
	ASSERT_INT_EQ(m->mode, MG_SPAWN_SOCKET);
}

static void test_defaults(void)
{
	TALLOC_CTX *ctx = talloc_new(NULL);

	ASSERT_STR_EQ(argv_of(ctx, "ssh:web1"),
		      LOGLEVEL COMPRESSION KEEPALIVE BATCH ENFORCE "[web1]" BOOT);
	/* A bare word is an ssh hop too. */
	ASSERT_STR_EQ(argv_of(ctx, "web1"),
		      LOGLEVEL COMPRESSION KEEPALIVE BATCH ENFORCE "[web1]" BOOT);
	talloc_free(ctx);
}

static void test_user_port(void)
{
	TALLOC_CTX *ctx = talloc_new(NULL);

	ASSERT_STR_EQ(argv_of(ctx, "ssh:root@web1"),
		      LOGLEVEL "[-l][root]" COMPRESSION KEEPALIVE BATCH ENFORCE "[web1]" BOOT);
	ASSERT_STR_EQ(argv_of(ctx, "ssh:web1:2222"),
		      LOGLEVEL "[-p][2222]" COMPRESSION KEEPALIVE BATCH ENFORCE "[web1]" BOOT);
	ASSERT_STR_EQ(argv_of(ctx, "ssh:deploy@web1:22"),
		      LOGLEVEL "[-l][deploy][-p][22]" COMPRESSION KEEPALIVE BATCH ENFORCE
		      "[web1]" BOOT);
	/* The same as options. */
	ASSERT_STR_EQ(argv_of(ctx, "ssh:web1?username=deploy&port=22"),
		      LOGLEVEL "[-l][deploy][-p][22]" COMPRESSION KEEPALIVE BATCH ENFORCE
		      "[web1]" BOOT);
	/* IPv6: ssh takes the address bare. */
	ASSERT_STR_EQ(argv_of(ctx, "ssh:root@[::1]:2222"),
		      LOGLEVEL "[-l][root][-p][2222]" COMPRESSION KEEPALIVE BATCH ENFORCE
		      "[::1]" BOOT);
	ASSERT_STR_EQ(argv_of(ctx, "ssh:[fe80::1]"),
		      LOGLEVEL COMPRESSION KEEPALIVE BATCH ENFORCE "[fe80::1]" BOOT);
	talloc_free(ctx);
}

static void test_debug_level(void)
{
	TALLOC_CTX *ctx = talloc_new(NULL);
	const char *rest = COMPRESSION KEEPALIVE BATCH ENFORCE "[h]" BOOT;

	ASSERT_STR_EQ(argv_of(ctx, "ssh:h?ssh_debug_level=0"),
		      talloc_asprintf(ctx, "[ssh][-o][LogLevel ERROR]%s", rest));
	ASSERT_STR_EQ(argv_of(ctx, "ssh:h?ssh_debug_level=1"),
		      talloc_asprintf(ctx, "[ssh][-v]%s", rest));
	ASSERT_STR_EQ(argv_of(ctx, "ssh:h?ssh_debug_level=2"),
		      talloc_asprintf(ctx, "[ssh][-vv]%s", rest));
	ASSERT_STR_EQ(argv_of(ctx, "ssh:h?ssh_debug_level=3"),
		      talloc_asprintf(ctx, "[ssh][-vvv]%s", rest));
	/* More than 3 is 3, as in mitogen. */
	ASSERT_STR_EQ(argv_of(ctx, "ssh:h?ssh_debug_level=9"),
		      talloc_asprintf(ctx, "[ssh][-vvv]%s", rest));
	ASSERT_STR_CONTAINS(argv_of(ctx, "ssh:h?ssh_debug_level=x"),
			    "ssh_debug_level: expected a whole number, not 'x'");
	ASSERT_STR_CONTAINS(argv_of(ctx, "ssh:h?ssh_debug_level=-1"), "ERR(");
	ASSERT_STR_CONTAINS(argv_of(ctx, "ssh:h?ssh_debug_level="), "ERR(");
	ASSERT_STR_CONTAINS(argv_of(ctx, "ssh:h?ssh_debug_level=%201"), "ERR(");
	talloc_free(ctx);
}

static void test_identity(void)
{
	TALLOC_CTX *ctx = talloc_new(NULL);

	ASSERT_STR_EQ(argv_of(ctx, "ssh:h?identity_file=%2Froot%2Fid%20key"),
		      LOGLEVEL "[-o][IdentitiesOnly yes][-i][/root/id key]" COMPRESSION KEEPALIVE
		      BATCH ENFORCE "[h]" BOOT);
	ASSERT_STR_EQ(argv_of(ctx, "ssh:h?identity_file=k&identities_only=no"),
		      LOGLEVEL "[-i][k]" COMPRESSION KEEPALIVE BATCH ENFORCE "[h]" BOOT);
	/* identities_only alone (no key, no password) adds nothing. */
	ASSERT_STR_EQ(argv_of(ctx, "ssh:h?identities_only=yes"),
		      LOGLEVEL COMPRESSION KEEPALIVE BATCH ENFORCE "[h]" BOOT);
	ASSERT_STR_CONTAINS(argv_of(ctx, "ssh:h?identities_only=maybe"),
			    "identities_only: expected yes or no, not 'maybe'");
	talloc_free(ctx);
}

static void test_password(void)
{
	TALLOC_CTX *ctx = talloc_new(NULL);

	/* A password: IdentitiesOnly, and no BatchMode (ssh must ask). */
	ASSERT_STR_EQ(argv_of(ctx, "ssh:h?password_env=PW"),
		      LOGLEVEL "[-o][IdentitiesOnly yes]" COMPRESSION KEEPALIVE ENFORCE "[h]" BOOT);
	ASSERT_STR_EQ(argv_of(ctx, "ssh:h?password_file=%2Fetc%2Fpw"),
		      LOGLEVEL "[-o][IdentitiesOnly yes]" COMPRESSION KEEPALIVE ENFORCE "[h]" BOOT);
	ASSERT_STR_EQ(argv_of(ctx, "ssh:h?password_env=PW&identities_only=0"),
		      LOGLEVEL COMPRESSION KEEPALIVE ENFORCE "[h]" BOOT);
	ASSERT_STR_EQ(argv_of(ctx, "ssh:h?password_env=PW&identity_file=k"),
		      LOGLEVEL "[-o][IdentitiesOnly yes][-i][k]" COMPRESSION KEEPALIVE ENFORCE
		      "[h]" BOOT);
	ASSERT_STR_EQ(argv_of(ctx, "ssh:h?password_env=PW&check_host_keys=ignore"),
		      LOGLEVEL "[-o][IdentitiesOnly yes]" COMPRESSION KEEPALIVE IGNORE "[h]" BOOT);
	talloc_free(ctx);
}

static void test_compression_keepalive(void)
{
	TALLOC_CTX *ctx = talloc_new(NULL);

	ASSERT_STR_EQ(argv_of(ctx, "ssh:h?compression=no"),
		      LOGLEVEL KEEPALIVE BATCH ENFORCE "[h]" BOOT);
	/* Off by default (measured: it costs more CPU than it saves on fast
	 * links); yes turns it on for slow ones. */
	ASSERT_STR_EQ(argv_of(ctx, "ssh:h?compression=yes"),
		      LOGLEVEL COMPRESSION_ON KEEPALIVE BATCH ENFORCE "[h]" BOOT);
	ASSERT_STR_EQ(argv_of(ctx, "ssh:h?compression=off&keepalive_enabled=false"),
		      LOGLEVEL BATCH ENFORCE "[h]" BOOT);
	ASSERT_STR_EQ(argv_of(ctx, "ssh:h?keepalive_interval=30&keepalive_count=5"),
		      LOGLEVEL COMPRESSION "[-o][ServerAliveInterval 30][-o][ServerAliveCountMax 5]"
		      BATCH ENFORCE "[h]" BOOT);
	/* Values without keepalive_enabled are accepted and unused. */
	ASSERT_STR_EQ(argv_of(ctx, "ssh:h?keepalive_enabled=0&keepalive_interval=30"),
		      LOGLEVEL COMPRESSION BATCH ENFORCE "[h]" BOOT);
	ASSERT_STR_CONTAINS(argv_of(ctx, "ssh:h?keepalive_count=3x"),
			    "keepalive_count: expected a whole number, not '3x'");
	ASSERT_STR_CONTAINS(argv_of(ctx, "ssh:h?keepalive_interval=%2B5"),
			    "keepalive_interval: expected a whole number, not '+5'");
	ASSERT_STR_CONTAINS(argv_of(ctx, "ssh:h?compression=2"),
			    "compression: expected yes or no, not '2'");
	ASSERT_STR_CONTAINS(argv_of(ctx, "ssh:h?keepalive_enabled=sometimes"),
			    "keepalive_enabled: expected yes or no");
	talloc_free(ctx);
}

static void test_host_keys(void)
{
	TALLOC_CTX *ctx = talloc_new(NULL);
	const char *r;

	ASSERT_STR_EQ(argv_of(ctx, "ssh:h?check_host_keys=enforce"),
		      LOGLEVEL COMPRESSION KEEPALIVE BATCH ENFORCE "[h]" BOOT);
	/* accept needs a PTY for the question: no BatchMode. */
	ASSERT_STR_EQ(argv_of(ctx, "ssh:h?check_host_keys=accept"),
		      LOGLEVEL COMPRESSION KEEPALIVE ACCEPT "[h]" BOOT);
	ASSERT_STR_EQ(argv_of(ctx, "ssh:h?check_host_keys=ignore"),
		      LOGLEVEL COMPRESSION KEEPALIVE BATCH IGNORE "[h]" BOOT);
	ASSERT_STR_EQ(argv_of(ctx, "ssh:h?check_host_keys=accept&password_env=X"),
		      LOGLEVEL "[-o][IdentitiesOnly yes]" COMPRESSION KEEPALIVE ACCEPT "[h]" BOOT);

	r = argv_of(ctx, "ssh:h?check_host_keys=yes");
	ASSERT_STR_EQ(r, talloc_asprintf(ctx, "ERR(%d): check_host_keys= must be accept, "
					 "enforce or ignore", -EINVAL));
	ASSERT_STR_CONTAINS(argv_of(ctx, "ssh:h?check_host_keys="), "check_host_keys= must be");
	ASSERT_STR_CONTAINS(argv_of(ctx, "ssh:h?check_host_keys=Enforce"), "check_host_keys= must be");
	talloc_free(ctx);
}

static void test_connect_timeout(void)
{
	TALLOC_CTX *ctx = talloc_new(NULL);

	ASSERT_STR_EQ(argv_of(ctx, "ssh:h?connect_timeout=7"),
		      LOGLEVEL COMPRESSION KEEPALIVE BATCH ENFORCE "[-o][ConnectTimeout 7][h]" BOOT);
	/* The grammar of every method (issue 13, item 7): a fraction is
	 * rounded up for ssh's whole seconds. */
	ASSERT_STR_EQ(argv_of(ctx, "ssh:h?connect_timeout=0.5"),
		      LOGLEVEL COMPRESSION KEEPALIVE BATCH ENFORCE "[-o][ConnectTimeout 1][h]" BOOT);
	ASSERT_STR_EQ(argv_of(ctx, "ssh:h?connect_timeout=2.001"),
		      LOGLEVEL COMPRESSION KEEPALIVE BATCH ENFORCE "[-o][ConnectTimeout 3][h]" BOOT);
	ASSERT_STR_CONTAINS(argv_of(ctx, "ssh:h?connect_timeout=0"),
			    "connect_timeout: expected seconds from 0.001 to 86400");
	ASSERT_STR_CONTAINS(argv_of(ctx, "ssh:h?connect_timeout=1.5.1"),
			    "connect_timeout: expected seconds from 0.001 to 86400 (digits and at "
			    "most one point), not '1.5.1'");
	ASSERT_STR_CONTAINS(argv_of(ctx, "ssh:h?connect_timeout=1e3"), "not '1e3'");
	/* Read by hand (no strtod in the agent): the bounds are exact. */
	ASSERT_STR_EQ(argv_of(ctx, "ssh:h?connect_timeout=86400.000"),
		      LOGLEVEL COMPRESSION KEEPALIVE BATCH ENFORCE "[-o][ConnectTimeout 86400][h]" BOOT);
	ASSERT_STR_EQ(argv_of(ctx, "ssh:h?connect_timeout=.25"),
		      LOGLEVEL COMPRESSION KEEPALIVE BATCH ENFORCE "[-o][ConnectTimeout 1][h]" BOOT);
	ASSERT_STR_CONTAINS(argv_of(ctx, "ssh:h?connect_timeout=86400.00001"), "not '86400.00001'");
	ASSERT_STR_CONTAINS(argv_of(ctx, "ssh:h?connect_timeout=0.00099"), "not '0.00099'");
	ASSERT_STR_CONTAINS(argv_of(ctx, "ssh:h?connect_timeout=99999999999999999999"), "not '9999");
	talloc_free(ctx);
}

static void test_ssh_args(void)
{
	TALLOC_CTX *ctx = talloc_new(NULL);
	const char *std = LOGLEVEL COMPRESSION KEEPALIVE BATCH ENFORCE;

	/* Shell-split words, repeatable, in order, after every option of ours. */
	ASSERT_STR_EQ(argv_of(ctx, "ssh:h?ssh_args=-4%20-C"),
		      talloc_asprintf(ctx, "%s[-4][-C][h]" BOOT, std));
	ASSERT_STR_EQ(argv_of(ctx, "ssh:h?ssh_args=-o&ssh_args=Compression=no"),
		      talloc_asprintf(ctx, "%s[-o][Compression=no][h]" BOOT, std));
	ASSERT_STR_EQ(argv_of(ctx, "ssh:h?ssh_args=-F%20'%2Ftmp%2Fa%20b'&connect_timeout=2&ssh_args=-A"),
		      talloc_asprintf(ctx, "%s[-o][ConnectTimeout 2][-F][/tmp/a b][-A][h]" BOOT, std));
	ASSERT_STR_EQ(argv_of(ctx, "ssh:h?ssh_args=%22-o%20ProxyJump%20j%22"),
		      talloc_asprintf(ctx, "%s[-o ProxyJump j][h]" BOOT, std));
	ASSERT_STR_EQ(argv_of(ctx, "ssh:h?ssh_args="),
		      talloc_asprintf(ctx, "%s[h]" BOOT, std));
	ASSERT_STR_CONTAINS(argv_of(ctx, "ssh:h?ssh_args=-F%20'unterminated"),
			    "ssh_args: unterminated ' quote");
	talloc_free(ctx);
}

static void test_ssh_path(void)
{
	TALLOC_CTX *ctx = talloc_new(NULL);

	ASSERT_STR_EQ(argv_of(ctx, "ssh:h?ssh_path=%2Fopt%2Fbin%2Fssh"),
		      "[/opt/bin/ssh][-o][LogLevel ERROR]" COMPRESSION KEEPALIVE BATCH ENFORCE
		      "[h]" BOOT);
	talloc_free(ctx);
}

static void test_everything(void)
{
	TALLOC_CTX *ctx = talloc_new(NULL);

	ASSERT_STR_EQ(argv_of(ctx, "ssh:u@h:23?ssh_path=myssh&ssh_debug_level=2&identity_file=k"
			      "&compression=0&keepalive_interval=1&keepalive_count=2"
			      "&check_host_keys=ignore&connect_timeout=4&ssh_args=-A"),
		      "[myssh][-vv][-l][u][-p][23][-o][IdentitiesOnly yes][-i][k]"
		      "[-o][ServerAliveInterval 1][-o][ServerAliveCountMax 2]"
		      BATCH IGNORE "[-o][ConnectTimeout 4][-A][h]" BOOT);
	talloc_free(ctx);
}

/* The remote command is one word a POSIX shell splits back into the boot
 * argv, whatever it holds. */
static void test_remote_quoting(void)
{
	TALLOC_CTX *ctx = talloc_new(NULL);
	const char *const words[] = {
		"printf", "[%s]", "it's", "$(echo no)", "a\"b", "`x`", "", "*", NULL,
	};
	const char *r = argv_of_boot(ctx, "ssh:h", words);
	const char *last;
	char out[256];
	size_t n;
	FILE *f;
	char *cmd;

	last = strstr(r, "[h][");
	ASSERT_PTR_NOT_NULL(last);
	ASSERT_STR_EQ(last, "[h][printf '[%s]' 'it'\\''s' '$(echo no)' 'a\"b' '`x`' '' '*']");
	/* Run what the remote login shell would run. */
	cmd = mg__shell_join(ctx, words);
	ASSERT_PTR_NOT_NULL(cmd);
	f = popen(cmd, "r");
	ASSERT_PTR_NOT_NULL(f);
	n = fread(out, 1, sizeof(out) - 1, f);
	out[n] = '\0';
	ASSERT_INT_EQ(pclose(f), 0);
	ASSERT_STR_EQ(out, "[it's][$(echo no)][a\"b][`x`][][*]");
	talloc_free(ctx);
}

/* The real first stage, as ssh sends it: csh and tcsh expand '!' even in
 * single quotes and refuse a newline there; fish reads "\\" and "\'" in
 * them. The script must hold none of these for any login shell to pass
 * it on unchanged. */
static void test_first_stage_any_login_shell(void)
{
	TALLOC_CTX *ctx = talloc_new(NULL);
	char **boot = mg__boot_argv(ctx, 12345);
	/* The guarded image's form (no wc after head) goes the same way. */
	char **forms[] = { boot, mg__boot_argv_guarded(ctx, 12345) };
	const char *r;

	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		const char *script;

		ASSERT_PTR_NOT_NULL(forms[i]);
		script = forms[i][2];
		ASSERT_PTR_NULL(strchr(script, '!'));
		ASSERT_PTR_NULL(strchr(script, '\n'));
		ASSERT_PTR_NULL(strchr(script, '\r'));
		ASSERT_PTR_NULL(strstr(script, "\\\\"));
		ASSERT_PTR_NULL(strstr(script, "\\'"));
	}
	r = argv_of_boot(ctx, "ssh:h", (const char *const *)boot);
	ASSERT_STR_CONTAINS(r, "[h][/bin/sh -c 'n=$1;f=;c=");
	ASSERT_STR_CONTAINS(r, ";x=;while f=$(trap \"\" TERM HUP INT;umask 077;set -C;");
	ASSERT_STR_CONTAINS(r, "' mitogen-boot 12345 ");
	talloc_free(ctx);
}

static void test_spawn_mode(void)
{
	TALLOC_CTX *ctx = talloc_new(NULL);
	const struct mg_method *m = mg__method_find("ssh");
	const struct mg_hop *h;

	h = hop_of(ctx, "ssh:h");
	ASSERT_PTR_NOT_NULL(h);
	ASSERT_INT_EQ(m->spawn_mode(h), MG_SPAWN_SOCKET);
	h = hop_of(ctx, "ssh:h?check_host_keys=enforce");
	ASSERT_PTR_NOT_NULL(h);
	ASSERT_INT_EQ(m->spawn_mode(h), MG_SPAWN_SOCKET);
	h = hop_of(ctx, "ssh:h?check_host_keys=ignore&identity_file=k");
	ASSERT_PTR_NOT_NULL(h);
	ASSERT_INT_EQ(m->spawn_mode(h), MG_SPAWN_SOCKET);
	h = hop_of(ctx, "ssh:h?check_host_keys=accept");
	ASSERT_PTR_NOT_NULL(h);
	ASSERT_INT_EQ(m->spawn_mode(h), MG_SPAWN_HYBRID);
	h = hop_of(ctx, "ssh:h?password_env=PW");
	ASSERT_PTR_NOT_NULL(h);
	ASSERT_INT_EQ(m->spawn_mode(h), MG_SPAWN_HYBRID);
	h = hop_of(ctx, "ssh:h?password_file=f&check_host_keys=ignore");
	ASSERT_PTR_NOT_NULL(h);
	ASSERT_INT_EQ(m->spawn_mode(h), MG_SPAWN_HYBRID);
	talloc_free(ctx);
}

/* Whether ERE 're' (case-insensitive) matches 'text'; -1 if it does not
 * compile. */
static int ere_matches(const char *re, const char *text)
{
	regex_t rx;
	int r;

	if (regcomp(&rx, re, REG_EXTENDED | REG_ICASE | REG_NOSUB) != 0) {
		return -1;
	}
	r = regexec(&rx, text, 0, NULL, 0) == 0;
	regfree(&rx);
	return r;
}

/* The first line error matching 'line': its message, or NULL. */
static const char *line_error(const struct mg_prompts *p, const char *line, int *_err)
{
	for (size_t i = 0; p->errors[i].re != NULL; i++) {
		if (ere_matches(p->errors[i].re, line) == 1) {
			*_err = p->errors[i].err;
			return p->errors[i].msg;
		}
	}
	return NULL;
}

static void test_prompts(void)
{
	TALLOC_CTX *ctx = talloc_new(NULL);
	const struct mg_method *m = mg__method_find("ssh");
	const struct mg_hop *h = hop_of(ctx, "ssh:h");
	struct mg_prompts *p = NULL;
	char *err = NULL;

	ASSERT_PTR_NOT_NULL(h);
	ASSERT_INT_EQ(m->prompts(ctx, h, &p, &err), 0);
	ASSERT_PTR_NOT_NULL(p);
	ASSERT_STR_EQ(p->what, "SSH");
	ASSERT_TRUE(!p->accept_hostkey);

	/* Password prompts, as partial lines. */
	ASSERT_INT_EQ(ere_matches(p->password, "root@127.0.0.1's password: "), 1);
	ASSERT_INT_EQ(ere_matches(p->password, "root@::1's password: "), 1);
	ASSERT_INT_EQ(ere_matches(p->password, "Password: "), 1);
	ASSERT_INT_EQ(ere_matches(p->password, "(root@127.0.0.1) Password: "), 1);
	ASSERT_INT_EQ(ere_matches(p->password, "Password:"), 1);
	/* Not a finished line that merely mentions it, nor a passphrase. */
	ASSERT_INT_EQ(ere_matches(p->password, "Your password: expires soon"), 0);
	ASSERT_INT_EQ(ere_matches(p->password, "Enter passphrase for key '/root/.ssh/id_rsa': "), 0);

	/* The unknown host key question, both spellings. */
	ASSERT_INT_EQ(ere_matches(p->hostkey, "Are you sure you want to continue connecting "
			       "(yes/no/[fingerprint])? "), 1);
	ASSERT_INT_EQ(ere_matches(p->hostkey, "Are you sure you want to continue connecting (yes/no)? "), 1);
	ASSERT_INT_EQ(ere_matches(p->hostkey, "Please type 'yes', 'no' or the fingerprint: "), 0);

	/* A wrong password: the lines ssh writes after one. */
	ASSERT_PTR_NOT_NULL(p->incorrect);
	ASSERT_PTR_NOT_NULL(p->incorrect[0]);
	ASSERT_PTR_NULL(p->incorrect[1]);
	ASSERT_INT_EQ(ere_matches(p->incorrect[0], "Permission denied, please try again."), 1);
	ASSERT_INT_EQ(ere_matches(p->incorrect[0], "root@127.0.0.1: Permission denied "
			       "(publickey,password)."), 1);
	ASSERT_INT_EQ(ere_matches(p->incorrect[0], "sh: 1: cannot open x: Permission denied"), 0);
	talloc_free(ctx);
}

static void test_line_errors(void)
{
	TALLOC_CTX *ctx = talloc_new(NULL);
	const struct mg_method *m = mg__method_find("ssh");
	const struct mg_hop *h = hop_of(ctx, "ssh:h");
	struct mg_prompts *p = NULL;
	char *err = NULL;
	int code = 0;

	ASSERT_PTR_NOT_NULL(h);
	ASSERT_INT_EQ(m->prompts(ctx, h, &p, &err), 0);
	/* Every pattern compiles, and every error has a message (the prompt
	 * engine prints it). */
	for (size_t i = 0; p->errors[i].re != NULL; i++) {
		ASSERT_INT_EQ(ere_matches(p->errors[i].re, ""), 0);
		ASSERT_PTR_NOT_NULL(p->errors[i].msg);
	}

	ASSERT_STR_EQ(line_error(p, "Host key verification failed.", &code),
		      "host key verification failed: the host key is unknown or has changed "
		      "(check_host_keys=enforce)");
	ASSERT_INT_EQ(code, MG_ERR_BOOT);
	ASSERT_STR_EQ(line_error(p, "root@127.0.0.1: Permission denied (publickey).", &code),
		      "SSH authentication is incorrect");
	ASSERT_STR_EQ(line_error(p, "Permission denied (publickey,password).", &code),
		      "SSH authentication is incorrect");
	ASSERT_STR_EQ(line_error(p, "root@::1: Permission denied (publickey).", &code),
		      "SSH authentication is incorrect");
	ASSERT_STR_EQ(line_error(p, "git@fe80::1%eth0: Permission denied (publickey).", &code),
		      "SSH authentication is incorrect");
	/* A shell's (or the first stage's) own message is not ssh's (#271). */
	ASSERT_PTR_NULL(line_error(p, "sh: 1: cannot open x: Permission denied", &code));
	ASSERT_PTR_NULL(line_error(p, "/bin/sh: 1: /tmp/x: Permission denied", &code));
	ASSERT_PTR_NULL(line_error(p, "sh: 1: a@b: Permission denied", &code));
	ASSERT_PTR_NULL(line_error(p, "bash: /tmp/.mitogen-agent.1.2: Permission denied", &code));

	ASSERT_STR_EQ(line_error(p, "ssh: Could not resolve hostname nosuch: Name or service "
				 "not known", &code), "could not resolve the host name");
	ASSERT_STR_EQ(line_error(p, "ssh: connect to host 127.0.0.1 port 1: Connection refused",
				 &code), "connection refused");
	ASSERT_INT_EQ(code, -ECONNREFUSED);
	ASSERT_STR_EQ(line_error(p, "ssh: connect to host 10.9.9.9 port 22: Connection timed out",
				 &code), "connection timed out");
	ASSERT_INT_EQ(code, -ETIMEDOUT);
	ASSERT_STR_EQ(line_error(p, "ssh: connect to host h port 22: Operation timed out",
				 &code), "connection timed out");
	ASSERT_STR_EQ(line_error(p, "ssh: connect to host 10.0.0.1 port 22: No route to host", &code),
		      "no route to host");
	ASSERT_INT_EQ(code, -EHOSTUNREACH);
	ASSERT_STR_EQ(line_error(p, "ssh: connect to host 10.0.0.1 port 22: Network is unreachable",
				 &code), "network is unreachable");
	ASSERT_INT_EQ(code, -ENETUNREACH);
	ASSERT_PTR_NULL(line_error(p, "Warning: Permanently added '[127.0.0.1]:2222' (ED25519) "
				   "to the list of known hosts.", &code));
	ASSERT_PTR_NULL(line_error(p, "debug1: Connecting to h [127.0.0.1] port 22.", &code));
	talloc_free(ctx);
}

static void test_prompts_accept(void)
{
	TALLOC_CTX *ctx = talloc_new(NULL);
	const struct mg_method *m = mg__method_find("ssh");
	const struct mg_hop *h;
	struct mg_prompts *p = NULL;
	char *err = NULL;
	int code = 0;

	h = hop_of(ctx, "ssh:h?check_host_keys=accept");
	ASSERT_PTR_NOT_NULL(h);
	ASSERT_INT_EQ(m->prompts(ctx, h, &p, &err), 0);
	ASSERT_TRUE(p->accept_hostkey);
	/* Only a changed key can fail verification: the message says so. */
	ASSERT_STR_EQ(line_error(p, "Host key verification failed.", &code),
		      "host key verification failed: the host key has changed "
		      "(check_host_keys=accept takes unknown keys only)");
	ASSERT_INT_EQ(code, MG_ERR_BOOT);
	ASSERT_STR_EQ(line_error(p, "root@h: Permission denied (publickey).", &code),
		      "SSH authentication is incorrect");
	h = hop_of(ctx, "ssh:h?check_host_keys=ignore");
	ASSERT_PTR_NOT_NULL(h);
	ASSERT_INT_EQ(m->prompts(ctx, h, &p, &err), 0);
	ASSERT_TRUE(!p->accept_hostkey);
	h = hop_of(ctx, "ssh:h?check_host_keys=bogus");
	ASSERT_PTR_NOT_NULL(h);
	ASSERT_INT_EQ(m->prompts(ctx, h, &p, &err), -EINVAL);
	ASSERT_STR_EQ(err, "check_host_keys= must be accept, enforce or ignore");
	talloc_free(ctx);
}

int main(void)
{
	TESTS_BEGIN();
	RUN(test_method);
	RUN(test_defaults);
	RUN(test_user_port);
	RUN(test_debug_level);
	RUN(test_identity);
	RUN(test_password);
	RUN(test_compression_keepalive);
	RUN(test_host_keys);
	RUN(test_connect_timeout);
	RUN(test_ssh_args);
	RUN(test_ssh_path);
	RUN(test_everything);
	RUN(test_remote_quoting);
	RUN(test_first_stage_any_login_shell);
	RUN(test_spawn_mode);
	RUN(test_prompts);
	RUN(test_line_errors);
	RUN(test_prompts_accept);
	return TESTS_END();
}
