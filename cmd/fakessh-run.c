/*
 * fakessh run [OPTIONS] CHAIN -- PROGRAM [ARG...]: CHAIN is set up once
 * (each password asked once), then PROGRAM runs with every ssh it starts
 * riding on it. We serve our session on a privileged UNIX socket in a
 * private 0700 directory, which also holds an "ssh" link to fakessh put
 * first in PROGRAM's PATH; each fakessh started under PROGRAM finds the
 * socket in its environment and attaches (mitogen/unix.h) instead of
 * connecting: DEST "." is CHAIN's end, any other is reached from there.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <mitogen/mitogen.h>
#include "common.h"
#include "fakessh-run.h"
#include "fakessh-ssh.h"
#include "runner.h"

#define ENV_SOCKET "MITOGEN_FAKESSH_SOCKET"
#define ENV_CHAIN "MITOGEN_FAKESSH_CHAIN"
#define FAIL 255
/* How long the hops get to stop when we are done. */
#define SHUTDOWN_MS 5000

static const char usage[] =
	"Usage: fakessh run [-qv] [-t SECS] CHAIN -- PROGRAM [ARG...]\n"
	"Set CHAIN up once, then run PROGRAM; every ssh it starts (ssh, fakessh,\n"
	"rsync -e, scp -S, GIT_SSH_COMMAND) rides on CHAIN: host '.' is CHAIN's\n"
	"end, any other host is reached over ssh from there.\n"
	"\n"
	"  -t, --connect-timeout=SECS   Seconds allowed for each hop to connect (default 30)\n"
	"  -v, --verbose                Log each hop's progress on stderr (repeat for more)\n"
	"  -q, --quiet                  Print only errors\n"
	"  -h, --help                   Show this help\n";

struct frun {
	struct mg_loop *loop;
	struct mg_session *s;
	struct mg_context *ctx;
	bool connected;
	int err;
	char *errmsg;
	char *dir, *bin, *link, *sock;
	pid_t pid;
	bool exited;
	int status;
};

static void on_connected(struct mg_context *ctx, int err, const char *errmsg, void *data)
{
	struct frun *f = data;

	f->connected = true;
	f->err = err;
	f->ctx = ctx;
	f->errmsg = errmsg != NULL ? talloc_strdup(f, errmsg) : NULL;
}

/* CHAIN, connected before anything runs: prompts come now, not amid
 * PROGRAM's output. */
static int connect_chain(struct frun *f, const char *text, unsigned timeout_ms)
{
	struct mg_connect_opts co = { .timeout_ms = timeout_ms };
	struct mg_chain_list *list = NULL;
	char *err = NULL;
	int ret;

	if (mg_chain_parse(f, text, &list, &err) != 0) {
		return mg_cmd_usage_error("bad chain '%s': %s", text, err != NULL ? err : "?");
	}
	if (list->n_chains != 1) {
		return mg_cmd_usage_error("'%s' names %zu chains, not one", text, list->n_chains);
	}
	ret = mg_connect(f, f->s, &list->chains[0], &co, on_connected, f, &err);
	while (ret == 0 && !f->connected) {
		ret = mg_loop_run_once(f->loop, -1) < 0 ? -EIO : 0;
	}
	if (ret != 0 || f->err != 0) {
		mg_cmd_error("%s", ret != 0 ? (err != NULL ? err : mg_strerror(ret)) : f->errmsg);
		return FAIL;
	}
	return 0;
}

/* The private directory: the socket, and bin/ssh -> this fakessh. */
#define SOCK_IN_BASE "/fakessh-XXXXXX/sock"

static int make_dir(struct frun *f)
{
	char *base = NULL, *err = NULL, self[PATH_MAX];
	ssize_t n;

	if (mg_unix_dir(f, &base, &err) != 0) {
		mg_cmd_error("%s", err != NULL ? err : "no socket directory");
		return FAIL;
	}
	/* bin/ goes first in PATH, which ':' would split: PROGRAM's ssh
	 * would be the real one, and PATH would gain pieces of the name. */
	if (strchr(base, ':') != NULL) {
		mg_cmd_error("%s: cannot go in PATH, as it holds a ':' (set XDG_RUNTIME_DIR "
			     "to another directory)", base);
		return FAIL;
	}
	if (strlen(base) + sizeof(SOCK_IN_BASE) > sizeof(((struct sockaddr_un *)NULL)->sun_path)) {
		mg_cmd_error("%s%s: path too long for a UNIX socket (set XDG_RUNTIME_DIR "
			     "to a shorter directory)", base, SOCK_IN_BASE);
		return FAIL;
	}
	f->dir = talloc_asprintf(f, "%s/fakessh-XXXXXX", base);
	if (f->dir == NULL || mkdtemp(f->dir) == NULL) {
		mg_cmd_error("cannot make a directory in %s: %s", base, strerror(errno));
		f->dir = NULL;
		return FAIL;
	}
	f->sock = talloc_asprintf(f, "%s/sock", f->dir);
	f->bin = talloc_asprintf(f, "%s/bin", f->dir);
	f->link = talloc_asprintf(f, "%s/bin/ssh", f->dir);
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (f->sock == NULL || f->link == NULL || n <= 0) {
		mg_cmd_error("cannot find this program: %s", strerror(errno));
		return FAIL;
	}
	self[n] = '\0';
	if (mkdir(f->bin, 0700) != 0 || symlink(self, f->link) != 0) {
		mg_cmd_error("%s: %s", f->bin, strerror(errno));
		return FAIL;
	}
	return 0;
}

static void remove_dir(struct frun *f)
{
	if (f->dir == NULL) {
		return;
	}
	unlink(f->link);
	rmdir(f->bin);
	unlink(f->sock); /* gone with the listener already, unless stale */
	if (rmdir(f->dir) != 0) {
		mg_cmd_error("cannot remove %s: %s", f->dir, strerror(errno));
	}
}

static void on_exit_status(struct mg_child *c, pid_t pid, int status, void *data)
{
	struct frun *f = data;

	f->exited = true;
	f->status = status;
}

/* SIGTERM and SIGHUP go on to PROGRAM, which ends the run; SIGINT and
 * SIGQUIT from the terminal reach it (our process group) by themselves. */
static void on_signal(struct mg_signal *sig, int signo, void *data)
{
	struct frun *f = data;

	if (signo == SIGTERM || signo == SIGHUP) {
		kill(f->pid, signo);
	}
}

/* PROGRAM with the socket, the chain and bin/ first in PATH. */
static int spawn(struct frun *f, char **argv)
{
	const char *path = getenv("PATH");
	char *newpath = talloc_asprintf(f, "%s:%s", f->bin, path != NULL ? path : "/usr/bin:/bin");
	sigset_t none;

	if (newpath == NULL) {
		return -ENOMEM;
	}
	f->pid = fork();
	if (f->pid < 0) {
		return -errno;
	}
	if (f->pid > 0) {
		return 0;
	}
	/* What the loop blocked and we ignored is PROGRAM's own again. */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	/* PROGRAM's ssh is fakessh on the run, not a hop's. */
	mg_fakessh_unmark_hops();
	if (setenv(ENV_SOCKET, f->sock, 1) != 0 ||
	    setenv(ENV_CHAIN, mg_context_name(f->ctx), 1) != 0 || setenv("PATH", newpath, 1) != 0) {
		_exit(FAIL);
	}
	execvp(argv[0], argv);
	fprintf(stderr, "fakessh run: %s: %s\n", argv[0], strerror(errno));
	_exit(errno == ENOENT ? 127 : 126);
}

static int wait_program(struct frun *f)
{
	static const int sigs[] = { SIGTERM, SIGHUP, SIGINT, SIGQUIT };

	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		if (mg_signal_new(f, f->loop, sigs[i], on_signal, f) == NULL) {
			return -ENOMEM;
		}
	}
	if (mg_child_new(f, f->loop, f->pid, on_exit_status, f) == NULL) {
		return -ENOMEM;
	}
	while (!f->exited) {
		if (mg_loop_run_once(f->loop, -1) < 0) {
			return -EIO;
		}
	}
	return WIFSIGNALED(f->status) ? 128 + WTERMSIG(f->status) : WEXITSTATUS(f->status);
}

static int run(struct frun *f, const char *chain, unsigned timeout_ms, char **argv)
{
	struct mg_listener *l = NULL;
	char *err = NULL;
	int ret;

	f->loop = mg_loop_new(f);
	f->s = f->loop != NULL ? mg_session_new(f, f->loop) : NULL;
	if (f->s == NULL || mg_session_serve(f->s) != 0) {
		mg_cmd_error("out of memory");
		return FAIL;
	}
	/* As mitogen-run's: no hop talks to another; the privileged clients'
	 * traffic with the hops still passes (mg_listener_set_privileged). */
	mg_router_set_unidirectional(mg_session_router(f->s), true);
	/* The directory first: a path that cannot serve is said before the
	 * chain's prompts and connect time, not after. */
	if ((ret = make_dir(f)) != 0) {
		return ret;
	}
	if ((ret = connect_chain(f, chain, timeout_ms)) != 0) {
		return ret;
	}
	if (mg_listener_new(f, f->s, f->sock, &l, &err) != 0) {
		mg_cmd_error("%s", err != NULL ? err : "cannot listen");
		return FAIL;
	}
	/* Our own user only (the directory is 0700, and peers are checked). */
	mg_listener_set_privileged(l, true);
	if ((ret = spawn(f, argv)) != 0) {
		mg_cmd_error("%s: %s", argv[0], mg_strerror(ret));
		return FAIL;
	}
	ret = wait_program(f);
	if (ret < 0) {
		mg_cmd_error("%s", mg_strerror(ret));
		kill(f->pid, SIGTERM);
		ret = FAIL;
	}
	/* The socket goes first: no fakessh attaches any more. */
	talloc_free(l);
	return ret;
}

int mg_fakessh_run_main(int argc, char **argv)
{
	static const struct option longs[] = {
		{ "connect-timeout", required_argument, NULL, 't' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct frun *f;
	unsigned timeout_ms = 0;
	int c, ret;

	mg_cmd_init("fakessh run");
	/* The ssh our hops start may be a copy of fakessh (see hand_over). */
	if (mg_fakessh_mark_hops() != 0) {
		mg_warn("cannot mark the environment for the hops' ssh");
	}
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+t:vqh", longs, NULL)) != -1) {
		switch (c) {
		case 't':
			if ((ret = mg_cmd_parse_secs("-t", optarg, 86400, false, &timeout_ms)) != 0) {
				return ret;
			}
			break;
		case 'v':
			mg_common.verbose++;
			break;
		case 'q':
			mg_common.quiet = 1;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			return mg_cmd_usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	mg_cmd_apply_common();
	if (optind >= argc) {
		return mg_cmd_usage_error("no CHAIN given");
	}
	if (optind + 1 < argc && strcmp(argv[optind + 1], "--") == 0) {
		/* CHAIN -- PROGRAM */
		argv[optind + 1] = argv[optind];
		optind++;
	}
	if (optind + 1 >= argc) {
		return mg_cmd_usage_error("no PROGRAM given");
	}
	f = talloc_zero(NULL, struct frun);
	if (f == NULL) {
		mg_cmd_error("out of memory");
		return FAIL;
	}
	ret = run(f, argv[optind], timeout_ms, argv + optind + 1);
	remove_dir(f);
	if (f->s != NULL) {
		mg_session_shutdown(f->s, SHUTDOWN_MS);
	}
	talloc_free(f);
	return ret;
}

const char *mg_fakessh_run_chain(void)
{
	const char *chain = getenv(ENV_CHAIN);

	return getenv(ENV_SOCKET) != NULL && chain != NULL && chain[0] != '\0' ? chain : NULL;
}

char *mg_fakessh_run_dest(TALLOC_CTX *mem_ctx, char *text)
{
	const char *chain = mg_fakessh_run_chain();

	if (chain == NULL) {
		return text;
	}
	mg_runner.attach = getenv(ENV_SOCKET);
	if (strcmp(text, ".") == 0) {
		return talloc_strdup(mem_ctx, chain);
	}
	return talloc_asprintf(mem_ctx, "%s/%s", chain, text);
}
