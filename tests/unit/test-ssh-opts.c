/* fakessh's reading of OpenSSH's command line (tool/ssh-opts.c). */
#include <errno.h>
#include "harness.h"
#include "ssh-opts.h"

/* Parse a NULL-terminated word list (argv[0] included). */
static int parse(TALLOC_CTX *ctx, const char *const *argv, struct mg_ssh_cmdline **o, char **err)
{
	int argc = 0;

	while (argv[argc] != NULL) {
		argc++;
	}
	return mg_ssh_cmdline_parse(ctx, argc, argv, o, err);
}

#define PARSE_OK(...) do { \
	const char *const argv_[] = { "fakessh", __VA_ARGS__, NULL }; \
	int r_ = parse(tmp, argv_, &o, &err); \
	if (r_ != 0) { talloc_free(tmp); T_FAIL("parse: %d %s", r_, err ? err : ""); } \
} while (0)

static void test_flags(void)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	struct mg_ssh_cmdline *o = NULL;
	char *err = NULL;

	PARSE_OK("-ttvvv", "-T", "-n", "-q", "-N", "-G", "-V", "-s", "host");
	ASSERT_INT_EQ(o->tty, 0);
	ASSERT_INT_EQ(o->verbose, 3);
	ASSERT_TRUE(o->no_tty && o->null_stdin && o->quiet && o->no_command);
	ASSERT_TRUE(o->dump_config && o->version && o->subsystem);
	ASSERT_STR_EQ(o->dest, "host");
	ASSERT_INT_EQ(o->n_command, 0);
	/* The last of -t and -T counts, as in ssh. */
	PARSE_OK("-T", "-tt", "host");
	ASSERT_TRUE(!o->no_tty);
	ASSERT_INT_EQ(o->tty, 2);
	talloc_free(tmp);
}

static void test_pass_and_ignore(void)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	struct mg_ssh_cmdline *o = NULL;
	char *err = NULL;

	/* For the first ssh hop: flags and argument options, bundled. */
	PARSE_OK("-4CA", "-Jjump", "-F", "/cfg", "-L", "1:h:2", "-x", "-f", "-e", "~", "-Wh:1", "-O", "exit",
		 "-w", "0", "-1", "-Q", "cipher", "-Pmytag", "h");
	ASSERT_INT_EQ(o->n_ssh_args, 12);
	ASSERT_STR_EQ(o->ssh_args[0], "-4");
	ASSERT_STR_EQ(o->ssh_args[1], "-C");
	ASSERT_STR_EQ(o->ssh_args[2], "-A");
	ASSERT_STR_EQ(o->ssh_args[3], "-J");
	ASSERT_STR_EQ(o->ssh_args[4], "jump");
	ASSERT_STR_EQ(o->ssh_args[5], "-F");
	ASSERT_STR_EQ(o->ssh_args[6], "/cfg");
	ASSERT_STR_EQ(o->ssh_args[8], "1:h:2");
	ASSERT_STR_EQ(o->ssh_args[9], "-x");
	/* -P TAG as an option: an ssh older than 9.4 reads -P alone. */
	ASSERT_STR_EQ(o->ssh_args[10], "-o");
	ASSERT_STR_EQ(o->ssh_args[11], "Tag=mytag");
	/* Noted, never a failure; -f is applied (cmd/fakessh.c). */
	ASSERT_INT_EQ(o->n_notes, 3);
	ASSERT_STR_EQ(o->notes[2], "-1");
	ASSERT_TRUE(o->background);
	/* What fakessh answers or refuses itself (cmd/fakessh.c). */
	ASSERT_STR_EQ(o->query, "cipher");
	ASSERT_STR_EQ(o->ctl_cmd, "exit");
	ASSERT_STR_EQ(o->stdio_forward, "h:1");
	ASSERT_STR_EQ(o->dest, "h");
	/* LogLevel: ours (the first one), and the hop's ssh's too. */
	PARSE_OK("-oLogLevel=error", "-o", "LogLevel QUIET", "h");
	ASSERT_INT_EQ(o->log_level, MG_SSH_LOG_ERROR);
	ASSERT_INT_EQ(o->n_ssh_args, 4);
	ASSERT_STR_EQ(o->ssh_args[1], "LogLevel=error");
	/* -E: our log file, and the first ssh hop's ssh's. */
	PARSE_OK("-E/log", "h");
	ASSERT_STR_EQ(o->log_file, "/log");
	ASSERT_INT_EQ(o->n_ssh_args, 2);
	ASSERT_STR_EQ(o->ssh_args[0], "-E");
	ASSERT_STR_EQ(o->ssh_args[1], "/log");
	talloc_free(tmp);
}

static void test_o_spellings(void)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	struct mg_ssh_cmdline *o = NULL;
	char *err = NULL;

	PARSE_OK("-oUser=a", "-o", "port 2222", "-o", "IDENTITYFILE = /k", "-oStrictHostKeyChecking=no",
		 "-o", "ForwardX11 no", "-i", "/k2", "h");
	ASSERT_STR_EQ(o->user, "a");
	ASSERT_INT_EQ(o->port, 2222);
	ASSERT_INT_EQ(o->n_identities, 2);
	ASSERT_STR_EQ(o->identities[0], "/k");
	ASSERT_STR_EQ(o->identities[1], "/k2");
	ASSERT_STR_EQ(o->check_host_keys, "ignore");
	ASSERT_INT_EQ(o->n_ssh_args, 2);
	ASSERT_STR_EQ(o->ssh_args[0], "-o");
	ASSERT_STR_EQ(o->ssh_args[1], "ForwardX11=no");
	talloc_free(tmp);
}

/* As ssh: the first user and port given win, DEST's user@ in its place. */
static void test_first_wins(void)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	struct mg_ssh_cmdline *o = NULL;
	char *err = NULL;

	PARSE_OK("-l", "bob", "-o", "User=carol", "-p22", "-p", "23", "h");
	ASSERT_STR_EQ(o->user, "bob");
	ASSERT_TRUE(o->user_before_dest);
	ASSERT_INT_EQ(o->port, 22);
	ASSERT_TRUE(o->port_before_dest);
	PARSE_OK("alice@h", "-l", "bob", "-p", "24", "ls");
	ASSERT_STR_EQ(o->user, "bob");
	ASSERT_TRUE(!o->user_before_dest);
	ASSERT_TRUE(!o->port_before_dest);
	talloc_free(tmp);
}

static void test_after_dest_and_dashes(void)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	struct mg_ssh_cmdline *o = NULL;
	char *err = NULL;

	/* Options after DEST until the first COMMAND word. */
	PARSE_OK("h", "-t", "ls", "-l", "-t");
	ASSERT_INT_EQ(o->tty, 1);
	ASSERT_INT_EQ(o->n_command, 3);
	ASSERT_STR_EQ(o->command[0], "ls");
	ASSERT_STR_EQ(o->command[1], "-l");
	ASSERT_STR_EQ(o->command[2], "-t");
	ASSERT_PTR_NULL(o->command[3]);
	/* "--" ends options before or after DEST. */
	PARSE_OK("--", "-h", "-t");
	ASSERT_STR_EQ(o->dest, "-h");
	ASSERT_INT_EQ(o->tty, 0);
	ASSERT_STR_EQ(o->command[0], "-t");
	PARSE_OK("-s", "h", "--", "-v", "sftp");
	ASSERT_INT_EQ(o->verbose, 0);
	ASSERT_INT_EQ(o->n_command, 2);
	ASSERT_STR_EQ(o->command[0], "-v");
	/* "-" alone is a word, not an option. */
	PARSE_OK("h", "-");
	ASSERT_STR_EQ(o->command[0], "-");
	talloc_free(tmp);
}

static void expect_error(const char *const *argv, const char *msg)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	struct mg_ssh_cmdline *o = NULL;
	char *err = NULL;
	int r = parse(tmp, argv, &o, &err);

	if (r != -EINVAL || o != NULL || err == NULL || strcmp(err, msg) != 0) {
		printf("#   wanted \"%s\", got %d \"%s\"\n", msg, r, err != NULL ? err : "(null)");
		t__failed = 1;
	}
	talloc_free(tmp);
}

static void test_errors(void)
{
	expect_error((const char *const[]){ "fakessh", "-z", "h", NULL }, "unknown option -- z");
	expect_error((const char *const[]){ "fakessh", "-tz", NULL }, "unknown option -- z");
	expect_error((const char *const[]){ "fakessh", "h", "-:", NULL }, "unknown option -- :");
	expect_error((const char *const[]){ "fakessh", "h", "-p", NULL }, "option requires an argument -- p");
	expect_error((const char *const[]){ "fakessh", "-o", NULL }, "option requires an argument -- o");
	expect_error((const char *const[]){ "fakessh", "-p", "0", "h", NULL }, "Bad port '0'");
	expect_error((const char *const[]){ "fakessh", "-p", "65536", "h", NULL }, "Bad port '65536'");
	expect_error((const char *const[]){ "fakessh", "-p", " 22", "h", NULL }, "Bad port ' 22'");
	expect_error((const char *const[]){ "fakessh", "-p", "22x", "h", NULL }, "Bad port '22x'");
	expect_error((const char *const[]){ "fakessh", "-p", "99999999999999999999", "h", NULL },
		     "Bad port '99999999999999999999'");
	expect_error((const char *const[]){ "fakessh", "-oPort=-1", "h", NULL }, "Bad port '-1'");
	expect_error((const char *const[]){ "fakessh", "-o", "User", "h", NULL },
		     "no argument after keyword \"User\"");
	expect_error((const char *const[]){ "fakessh", "-o", "=x", "h", NULL }, "no argument after keyword \"\"");
	expect_error((const char *const[]){ "fakessh", "-oStrictHostKeyChecking=maybe", "h", NULL },
		     "unsupported StrictHostKeyChecking value 'maybe'");
}

/* Hostile words are kept as they are, byte for byte. */
static void test_hostile_values(void)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	struct mg_ssh_cmdline *o = NULL;
	char *err = NULL;

	PARSE_OK("-l", "a'b\"$(x)\n", "-i", "/k y\xff", "-o", "ControlPath=A B", "-o", "SetEnv=K='$(x) \n'",
		 "h;rm", "$(x)", "a\nb");
	ASSERT_STR_EQ(o->user, "a'b\"$(x)\n");
	ASSERT_STR_EQ(o->identities[0], "/k y\xff");
	ASSERT_STR_EQ(o->ssh_args[1], "ControlPath=A B");
	ASSERT_STR_EQ(o->set_env[0], "K=$(x) \n");
	ASSERT_STR_EQ(o->dest, "h;rm");
	ASSERT_STR_EQ(o->command[1], "a\nb");
	/* Nothing at all: no DEST, no error. */
	{
		const char *const argv[] = { "fakessh", NULL };
		ASSERT_INT_EQ(parse(tmp, argv, &o, &err), 0);
		ASSERT_PTR_NULL(o->dest);
	}
	talloc_free(tmp);
}

/* Session keys are ours, never words for the hop's ssh. */
static void test_session_options(void)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	struct mg_ssh_cmdline *o = NULL;
	char *err = NULL;

	PARSE_OK("-o", "SendEnv=A B_* LC_*", "-oSendEnv=-B* C", "-o", "setenv=X=1 'Y=a b' X=2 Z=\"q\\\"\"",
		 "-o", "SetEnv=W=1", "-oRequestTTY=force", "-oRequestTTY=no", "-oRemoteCommand=echo hi",
		 "-oSessionType=none", "-oStdinNull=yes", "-oForkAfterAuthentication=yes", "h");
	ASSERT_INT_EQ(o->n_ssh_args, 0);
	ASSERT_INT_EQ(o->n_send_env, 3);
	ASSERT_STR_EQ(o->send_env[0], "A");
	ASSERT_STR_EQ(o->send_env[1], "LC_*");
	ASSERT_STR_EQ(o->send_env[2], "C");
	ASSERT_PTR_NULL(o->send_env[3]);
	/* The first SetEnv only, a name's first value. */
	ASSERT_INT_EQ(o->n_set_env, 3);
	ASSERT_STR_EQ(o->set_env[0], "X=1");
	ASSERT_STR_EQ(o->set_env[1], "Y=a b");
	ASSERT_STR_EQ(o->set_env[2], "Z=q\"");
	ASSERT_INT_EQ(o->request_tty, MG_SSH_TTY_FORCE);
	ASSERT_STR_EQ(o->remote_command, "echo hi");
	ASSERT_TRUE(o->no_command && o->null_stdin && o->background);
	ASSERT_INT_EQ(o->n_notes, 0);
	PARSE_OK("-oRemoteCommand=none", "-oSessionType=subsystem", "-oRequestTTY=auto", "h", "sftp");
	ASSERT_PTR_NULL(o->remote_command);
	ASSERT_TRUE(o->subsystem && !o->no_command);
	ASSERT_INT_EQ(o->request_tty, MG_SSH_TTY_AUTO);
	talloc_free(tmp);
	expect_error((const char *const[]){ "fakessh", "-oSetEnv=X", "h", NULL }, "Invalid SetEnv 'X'");
	expect_error((const char *const[]){ "fakessh", "-oSetEnv==1", "h", NULL }, "Invalid SetEnv '=1'");
	expect_error((const char *const[]){ "fakessh", "-oSendEnv=\"A", "h", NULL },
		     "unterminated quote in \"A\"");
	expect_error((const char *const[]){ "fakessh", "-oRequestTTY=maybe", "h", NULL },
		     "unsupported RequestTTY value 'maybe'");
}

int main(void)
{
	TESTS_BEGIN();
	RUN(test_flags);
	RUN(test_pass_and_ignore);
	RUN(test_o_spellings);
	RUN(test_first_wins);
	RUN(test_after_dest_and_dashes);
	RUN(test_errors);
	RUN(test_hostile_values);
	RUN(test_session_options);
	return TESTS_END();
}
