/*
 * fakessh: an ssh look-alike over a hop chain, so that rsync, scp, sftp,
 * git and any program that runs ssh can use a chain as its transport.
 * Direct mode only: fakessh [SSH OPTIONS] DEST [COMMAND...].
 */
#include <errno.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <mitogen/mitogen.h>
#include "common.h"
#include "config.h"
#include "fakessh-run.h"
#include "fakessh-ssh.h"
#include "runner.h"
#include "ssh-opts.h"

#define FAKESSH_FAIL 255
/* The OpenSSH release whose ssh(1) options fakessh reads (-P TAG: 9.4). */
#define FAKESSH_OPENSSH "9.4"

/* Run by a POSIX sh at the far end: the first sftp-server found. */
static const char sftp_snippet[] =
	"for p in /usr/lib/openssh/sftp-server /usr/libexec/openssh/sftp-server "
	"/usr/lib/ssh/sftp-server /usr/libexec/sftp-server; do "
	"if [ -x \"$p\" ]; then exec \"$p\"; fi; done; "
	"echo 'fakessh: no sftp-server at the far end' >&2; exit 255";

/* No COMMAND: the far user's login shell as a login shell, as sshd
 * starts it; on a terminal when ours is one, else reading our stdin. */
static const char login_snippet[] =
	"s=$(getent passwd \"$(id -un)\" 2>/dev/null | cut -d: -f7); "
	"[ -n \"$s\" ] && [ -x \"$s\" ] || s=${SHELL:-/bin/sh}; exec \"$s\" -l";

/* -N: no command; hold the chain open until we are stopped, as ssh -N
 * holds its connection. */
static const char wait_snippet[] = "while :; do sleep 86400; done";

/* A value for a hop option: every byte but [A-Za-z0-9._~-] as %XX. */
static char *pct(TALLOC_CTX *ctx, const char *s)
{
	char *out = talloc_strdup(ctx, "");

	for (const unsigned char *p = (const unsigned char *)s; out != NULL && *p != '\0'; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		    strchr("._~-", *p) != NULL) {
			out = talloc_asprintf_append_buffer(out, "%c", *p);
		} else {
			out = talloc_asprintf_append_buffer(out, "%%%02X", *p);
		}
	}
	return out;
}

/* One ssh_args word, quoted for the option's shell-like word split. */
static char *quote_word(TALLOC_CTX *ctx, const char *w)
{
	char *out = talloc_strdup(ctx, "'");

	for (const char *p = w; out != NULL && *p != '\0'; p++) {
		out = *p == '\'' ? talloc_strdup_append_buffer(out, "'\"'\"'")
				 : talloc_asprintf_append_buffer(out, "%c", *p);
	}
	return out != NULL ? talloc_strdup_append_buffer(out, "'") : NULL;
}

static char *add_opt(char *text, bool *first, const char *key, const char *value)
{
	char *v = text != NULL ? pct(text, value) : NULL;

	text = v != NULL ? talloc_asprintf_append_buffer(text, "%c%s=%s", *first ? '?' : '&', key, v) : NULL;
	*first = false;
	return text;
}

/* The first ssh hop again, with what the command line gives it. */
static char *ssh_hop_text(TALLOC_CTX *ctx, const struct mg_hop *hop, const struct mg_ssh_cmdline *o,
			  const char *dest_user)
{
	const char *user = o->user != NULL && o->user_before_dest ? o->user
			 : dest_user != NULL ? dest_user : hop->user != NULL ? hop->user : o->user;
	int port = o->port != 0 && o->port_before_dest ? o->port : hop->port != 0 ? hop->port : o->port;
	char *text = talloc_asprintf(ctx, "ssh:%s", pct(ctx, hop->host != NULL ? hop->host : ""));
	bool first = true, have_id = mg_hop_opt(hop, "identity_file") != NULL;
	char num[16];

	for (size_t i = 0; text != NULL && i < hop->n_opts; i++) {
		const char *k = hop->opts[i].key;
		if (strcmp(k, "username") != 0 && strcmp(k, "port") != 0) {
			text = add_opt(text, &first, k, hop->opts[i].value);
		}
	}
	if (user != NULL) {
		text = add_opt(text, &first, "username", user);
	}
	if (port != 0) {
		snprintf(num, sizeof(num), "%d", port);
		text = add_opt(text, &first, "port", num);
	}
	if (o->check_host_keys != NULL && mg_hop_opt(hop, "check_host_keys") == NULL) {
		text = add_opt(text, &first, "check_host_keys", o->check_host_keys);
	}
	for (size_t i = 0; text != NULL && i < o->n_identities; i++) {
		if (i == 0 && !have_id) {
			text = add_opt(text, &first, "identity_file", o->identities[i]);
			continue;
		}
		text = add_opt(text, &first, "ssh_args", "-i");
		text = text != NULL ? add_opt(text, &first, "ssh_args", quote_word(ctx, o->identities[i])) : NULL;
	}
	for (size_t i = 0; text != NULL && i < o->n_ssh_args; i++) {
		char *q = quote_word(ctx, o->ssh_args[i]);
		text = q != NULL ? add_opt(text, &first, "ssh_args", q) : NULL;
	}
	return text;
}

static bool ssh_settings(const struct mg_ssh_cmdline *o, const char *dest_user)
{
	return o->user != NULL || dest_user != NULL || o->port != 0 || o->n_identities > 0 ||
	       o->n_ssh_args > 0 || o->check_host_keys != NULL;
}

/* A bare IPv6 address ([USER@]::1, as ssh and rsync pass it) in the
 * brackets a chain wants; anything else as it is. */
static const char *bracket_ipv6(TALLOC_CTX *ctx, const char *dest)
{
	const char *at = strrchr(dest, '@'), *host = at != NULL ? at + 1 : dest;
	struct in6_addr a;

	if (inet_pton(AF_INET6, host, &a) != 1) {
		return dest;
	}
	return talloc_asprintf(ctx, "%.*s[%s]", (int)(host - dest), dest, host);
}

/* DEST as one chain's text, the command line's ssh settings on its first
 * ssh hop; NULL with the error printed. */
static char *resolve_dest(TALLOC_CTX *ctx, const struct mg_ssh_cmdline *o, const struct mg_hop **_ssh)
{
	const char *dest = bracket_ipv6(ctx, o->dest), *dest_user = NULL, *at;
	struct mg_chain_list *list = NULL;
	char *errmsg = NULL, *text = NULL, *hop;
	size_t i;

	if (dest == NULL) {
		mg_cmd_error("out of memory");
		return NULL;
	}
	if (mg_chain_parse(ctx, dest, &list, &errmsg) != 0 && (at = strchr(dest, '@')) != NULL &&
	    at != dest) {
		/* "user@CHAIN": the user goes to the first ssh hop. */
		char *e2 = NULL;
		if (mg_chain_parse(ctx, at + 1, &list, &e2) == 0) {
			dest_user = talloc_strndup(ctx, dest, (size_t)(at - dest));
			errmsg = NULL;
		}
	}
	if (list == NULL || errmsg != NULL) {
		mg_cmd_error("bad destination '%s': %s", dest, errmsg != NULL ? errmsg : "out of memory");
		return NULL;
	}
	if (list->n_chains != 1) {
		mg_cmd_error("bad destination '%s': it names %zu chains, not one", dest, list->n_chains);
		return NULL;
	}
	const struct mg_chain *c = &list->chains[0];
	for (i = 0; i < c->n_hops && strcmp(c->hops[i].method, "ssh") != 0; i++) {
	}
	*_ssh = i < c->n_hops ? &c->hops[i] : NULL;
	if (i == c->n_hops || !ssh_settings(o, dest_user)) {
		if (ssh_settings(o, dest_user)) {
			mg__log(MG_LOG_INFO, NULL, 0, "no ssh hop in %s: -l, -p, -i, user@ and ssh options are ignored",
			       c->text);
		}
		return talloc_strdup(ctx, c->text);
	}
	text = i > 0 ? talloc_asprintf(ctx, "%s/", mg_chain_prefix(ctx, c, i)) : talloc_strdup(ctx, "");
	hop = text != NULL ? ssh_hop_text(ctx, &c->hops[i], o, dest_user) : NULL;
	text = hop != NULL ? talloc_asprintf_append_buffer(text, "%s", hop) : NULL;
	for (size_t j = i + 1; text != NULL && j < c->n_hops; j++) {
		text = talloc_asprintf_append_buffer(text, "/%s", c->hops[j].text);
	}
	if (text == NULL) {
		mg_cmd_error("out of memory");
		return NULL;
	}
	/* What the command line added must make a chain too (no control
	 * characters in a user name, ...): a setup error, as ssh's. */
	if (mg_chain_parse(ctx, text, &list, &errmsg) != 0) {
		mg_cmd_error("bad options for the ssh hop of '%s': %s", dest,
			     errmsg != NULL ? errmsg : "out of memory");
		return NULL;
	}
	return text;
}

/* -G: what ssh -G says of the first ssh hop (its ssh_config applied),
 * else our own few lines in its style; then the whole chain. */
static int dump_config(TALLOC_CTX *ctx, const struct mg_ssh_cmdline *o, const char *text)
{
	struct mg_chain_list *list = NULL;
	char *errmsg = NULL;
	const struct mg_hop *h = NULL;
	struct passwd *pw = getpwuid(getuid());
	int status = mg_fakessh_ssh_dump(ctx, o, text);

	if (status >= 0) {
		if (status == 0) {
			printf("chain %s\n", text);
		}
		return status;
	}
	if (mg_chain_parse(ctx, text, &list, &errmsg) == 0) {
		for (size_t i = 0; i < list->chains[0].n_hops && h == NULL; i++) {
			if (strcmp(list->chains[0].hops[i].method, "ssh") == 0) {
				h = &list->chains[0].hops[i];
			}
		}
	}
	printf("host %s\n", o->dest);
	printf("user %s\n", h != NULL && h->user != NULL ? h->user : o->user != NULL ? o->user
	       : pw != NULL ? pw->pw_name : "root");
	printf("hostname %s\n", h != NULL && h->host != NULL ? h->host : o->dest);
	printf("port %d\n", h != NULL && h->port != 0 ? h->port : o->port != 0 ? o->port : 22);
	for (size_t i = 0; i < o->n_identities; i++) {
		printf("identityfile %s\n", o->identities[i]);
	}
	printf("chain %s\n", text);
	return 0;
}

/* ssh shows its usage after getopt's complaints only, not after a bad
 * value ("Bad port 'x'"). */
static int usage_fail(const char *msg)
{
	if (msg != NULL) {
		fprintf(stderr, "fakessh: %s\n", msg);
	}
	if (msg == NULL || strncmp(msg, "unknown option", 14) == 0 ||
	    strncmp(msg, "option requires", 15) == 0) {
		fputs(mg_ssh_cmdline_usage, stderr);
	}
	return FAKESSH_FAIL;
}

/* Whether the -s COMMAND words name the sftp subsystem. ssh sends them
 * joined with spaces as one name and sshd looks the whole name up, so
 * "sftp extra" (or "sftp ") is a subsystem no server has. */
static bool names_sftp(const struct mg_ssh_cmdline *o)
{
	return o->n_command == 1 && strcmp(o->command[0], "sftp") == 0;
}

/* What the command line asks for that is not built: refuse, never fake.
 * The message is talloc'ed on tmp. */
static const char *not_built(TALLOC_CTX *tmp, const struct mg_ssh_cmdline *o)
{
	if (o->background && o->n_command == 0 && o->remote_command == NULL && !o->no_command) {
		return "Cannot fork into background without a command to execute.";
	}
	if (o->remote_command != NULL && o->n_command > 0) {
		return "Cannot execute command-line and remote command.";
	}
	if (o->subsystem && !names_sftp(o)) {
		char *name = talloc_strdup(tmp, o->command[0]);
		for (size_t i = 1; name != NULL && i < o->n_command; i++) {
			name = talloc_asprintf_append_buffer(name, " %s", o->command[i]);
		}
		char *msg = name == NULL ? NULL :
			    talloc_asprintf(tmp, "only the sftp subsystem is supported, not '%s'", name);
		return msg != NULL ? msg : "out of memory";
	}
	return NULL;
}

/* ssh's INFO lines (the pseudo-terminal warning, "Connection to HOST
 * closed.") are not printed: -q, or -o LogLevel QUIET, FATAL, ERROR. */
static bool no_notes(const struct mg_ssh_cmdline *o)
{
	return o->quiet || (o->verbose == 0 && o->log_level == MG_SSH_LOG_ERROR);
}

/* -o LogLevel, unless -q or -v (which win, as in ssh) says otherwise:
 * QUIET and FATAL as -q, DEBUGn as n times -v. */
static void apply_log_level(struct mg_ssh_cmdline *o)
{
	if (o->quiet || o->verbose > 0) {
		return;
	}
	if (o->log_level == MG_SSH_LOG_QUIET) {
		o->quiet = true;
	} else if (o->log_level >= MG_SSH_LOG_DEBUG1) {
		o->verbose = o->log_level - MG_SSH_LOG_DEBUG1 + 1;
	}
}

/* A terminal at the far end? As ssh decides: -T (or -N) none, -tt
 * always, -t and a login (unless RequestTTY says) only when our stdin
 * is a terminal that -n (or -f) does not replace, else ssh's warning. */
static bool want_pty(const struct mg_ssh_cmdline *o, bool login)
{
	int r = o->no_tty || o->no_command ? MG_SSH_TTY_NO : o->tty > 1 ? MG_SSH_TTY_FORCE
	      : o->tty == 1 ? MG_SSH_TTY_YES : o->request_tty;
	bool asked = r == MG_SSH_TTY_YES || ((r == MG_SSH_TTY_UNSET || r == MG_SSH_TTY_AUTO) && login);
	bool term = isatty(STDIN_FILENO) && !o->null_stdin && !o->background;

	if (asked && !term && !no_notes(o)) {
		dprintf(mg_cmd_err_fd(), "Pseudo-terminal will not be allocated because stdin is not a terminal.\r\n");
	}
	return r == MG_SSH_TTY_FORCE || (asked && term);
}

/* K=V into env[0..*n), replacing a value the name has already. */
static char **env_set(TALLOC_CTX *ctx, char **env, size_t *n, const char *kv)
{
	size_t len = kv != NULL ? strcspn(kv, "=") : 0;

	if (kv == NULL) {
		return NULL;
	}
	for (size_t i = 0; env != NULL && i < *n; i++) {
		if (strncmp(env[i], kv, len + 1) == 0) {
			env[i] = talloc_strdup(env, kv);
			return env[i] != NULL ? env : NULL;
		}
	}
	env = env != NULL ? talloc_realloc(ctx, env, char *, *n + 2) : NULL;
	if (env != NULL && (env[*n] = talloc_strdup(env, kv)) != NULL) {
		env[++*n] = NULL;
		return env;
	}
	return NULL;
}

/* The command's extra environment, as sshd would set it from what ssh
 * sends: TERM with a terminal, our variables SendEnv names, SetEnv's
 * (which win). No AcceptEnv filter: the far user is ours already. */
static char **remote_env(TALLOC_CTX *ctx, const struct mg_ssh_cmdline *o, bool pty)
{
	extern char **environ;
	char **env = talloc_zero_array(ctx, char *, 1);
	size_t n = 0;
	const char *term = getenv("TERM");

	if (pty && term != NULL) {
		env = env_set(ctx, env, &n, talloc_asprintf(ctx, "TERM=%s", term));
	}
	for (size_t i = 0; env != NULL && o->n_send_env > 0 && environ[i] != NULL; i++) {
		size_t len = strcspn(environ[i], "=");
		char *name = talloc_strndup(ctx, environ[i], len);
		bool match = false;
		for (size_t k = 0; name != NULL && k < o->n_send_env; k++) {
			match = match || fnmatch(o->send_env[k], name, 0) == 0;
		}
		talloc_free(name);
		if (match && len > 0 && environ[i][len] == '=') {
			env = env_set(ctx, env, &n, environ[i]);
		}
	}
	for (size_t i = 0; env != NULL && i < o->n_set_env; i++) {
		env = env_set(ctx, env, &n, o->set_env[i]);
	}
	return env;
}

static int launch(TALLOC_CTX *tmp, struct mg_ssh_cmdline *o, const char *text);

/* A local program to push, 'name': $'var', else beside this program (a
 * build tree), else where it is installed ('path'). */
static const char *image_path(TALLOC_CTX *ctx, const char *var, const char *name, const char *path)
{
	const char *env = getenv(var);
	char self[PATH_MAX];
	ssize_t n;

	if (env != NULL && env[0] != '\0') {
		return env;
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = '\0';
		char *slash = strrchr(self, '/');
		char *p = slash != NULL ? talloc_asprintf(ctx, "%.*s/%s", (int)(slash - self), self, name)
					: NULL;
		if (p != NULL && access(p, R_OK) == 0) {
			return p;
		}
	}
	return path;
}

static const char *sftp_image(TALLOC_CTX *ctx)
{
	return image_path(ctx, "MITOGEN_SFTP_SERVER", "mitogen-sftp-server", MG_SFTP_SERVER_PATH);
}

/*
 * -W HOST:PORT, as ssh's stdio forwarding: mitogen-forward, pushed to
 * the chain's end, connects there and relays our stdin and stdout. A
 * COMMAND is ignored, as ssh ignores it.
 */
static int run_forward(TALLOC_CTX *tmp, const struct mg_ssh_cmdline *o, const char **words)
{
	const char *spec = o->stdio_forward, *colon, *image;
	char *host, *end;
	long port;

	if (spec[0] == '[' && (colon = strstr(spec, "]:")) != NULL) {
		host = talloc_strndup(tmp, spec + 1, (size_t)(colon - spec - 1));
		colon++;
	} else {
		colon = strchr(spec, ':');
		host = colon != NULL ? talloc_strndup(tmp, spec, (size_t)(colon - spec)) : NULL;
	}
	port = colon != NULL ? strtol(colon + 1, &end, 10) : 0;
	if (host == NULL || host[0] == '\0' || colon[1] == '\0' || *end != '\0' || port < 1 || port > 65535) {
		mg_cmd_error("Bad stdio forwarding specification '%s'", spec);
		return FAKESSH_FAIL;
	}
	if (o->n_command > 0) {
		mg__log(MG_LOG_INFO, NULL, 0, "-W: the command is not run");
	}
	image = image_path(tmp, "MITOGEN_FORWARD", "mitogen-forward", MG_FORWARD_PATH);
	if (access(image, R_OK) != 0) {
		mg_cmd_error("-W: %s: %s", image, strerror(errno));
		return FAKESSH_FAIL;
	}
	words[1] = image;
	words[2] = host;
	words[3] = talloc_asprintf(tmp, "%ld", port);
	return words[3] != NULL ? mg_runner_main(tmp, words, 4, 0, 1, true) : FAKESSH_FAIL;
}

/*
 * -s sftp, as FAKESSH_SFTP_SERVER says: "auto" (the default) pushes our
 * mitogen-sftp-server, which runs the far end's own sftp-server where
 * there is one and serves SFTP itself where there is none; "builtin"
 * always serves from ours; an absolute path runs that program there.
 */
static int run_sftp(TALLOC_CTX *tmp, const char **words)
{
	const char *mode = getenv("FAKESSH_SFTP_SERVER");
	const char *image;

	if (mode == NULL || mode[0] == '\0') {
		mode = "auto";
	}
	if (mode[0] == '/') {
		words[1] = talloc_asprintf(tmp, "exec %s", quote_word(tmp, mode));
		return mg_runner_main(tmp, words, 2, 3, 0, false);
	}
	if (strcmp(mode, "auto") != 0 && strcmp(mode, "builtin") != 0) {
		mg_cmd_error("FAKESSH_SFTP_SERVER=%s: expected auto, builtin or an absolute path", mode);
		return FAKESSH_FAIL;
	}
	image = sftp_image(tmp);
	/* Under fakessh run, the run loads it by this path (session.program). */
	const char *why = access(image, R_OK) != 0 ? strerror(errno) : NULL;
	if (why != NULL) {
		if (strcmp(mode, "builtin") == 0) {
			mg_cmd_error("no built-in SFTP server: %s: %s", image, why);
			return FAKESSH_FAIL;
		}
		/* Only the far end's own server can serve, if it has one. */
		mg__log(MG_LOG_INFO, NULL, 0, "%s: %s: only a far sftp-server can serve", image, why);
		words[1] = sftp_snippet;
		return mg_runner_main(tmp, words, 2, 3, 0, false);
	}
	words[1] = image;
	words[2] = strcmp(mode, "builtin") == 0 ? "-b" : NULL;
	return mg_runner_main(tmp, words, words[2] != NULL ? 3 : 2, 0, 1, true);
}

static int run(TALLOC_CTX *tmp, struct mg_ssh_cmdline *o)
{
	const struct mg_hop *ssh = NULL;
	const char *msg;
	char *text;

	for (size_t i = 0; i < o->n_notes; i++) {
		mg__log(MG_LOG_INFO, NULL, 0, "%s does not apply here: ignored", o->notes[i]);
	}
	/* Under "fakessh run", "." is its chain's end, which resolve_dest
	 * would take for a host. */
	text = mg_fakessh_run_chain() != NULL && strcmp(o->dest, ".") == 0 ?
	       talloc_strdup(tmp, ".") : resolve_dest(tmp, o, &ssh);
	text = text != NULL ? mg_fakessh_run_dest(tmp, text) : NULL;
	if (text == NULL) {
		return FAKESSH_FAIL;
	}
	if (ssh == NULL && o->n_ssh_args > 0) {
		char *words = talloc_strdup(tmp, "");
		for (size_t i = 0; words != NULL && i < o->n_ssh_args; i++) {
			if (strcmp(o->ssh_args[i], "-E") == 0) {
				i++; /* ours too: not ignored */
				continue;
			}
			words = talloc_asprintf_append_buffer(words, " %s", o->ssh_args[i]);
		}
		mg__log(MG_LOG_INFO, NULL, 0, "no ssh hop to give these options to: ignored:%s",
			words != NULL ? words : "");
	}
	if (o->dump_config) {
		return dump_config(tmp, o, text);
	}
	if (o->ctl_cmd != NULL) {
		return mg_fakessh_ask_ssh(tmp, o, text);
	}
	if (o->subsystem && o->n_command == 0) {
		return usage_fail("-s needs a subsystem name");
	}
	if ((msg = not_built(tmp, o)) != NULL) {
		mg_cmd_error("%s", msg);
		return FAKESSH_FAIL;
	}
	return launch(tmp, o, text);
}

/*
 * -f, as ssh's: the chain is set up in front (passwords asked, errors
 * told, 255), then the command goes on in the background. A child does
 * the work; we wait for its word that the chain is up (exit 0) or for
 * its end (its status). Returns -1 in the child.
 */
static int go_background(void)
{
	int fds[2], status = 0;
	char c;
	ssize_t n;
	pid_t pid;

	if (pipe2(fds, O_CLOEXEC) != 0 || (pid = fork()) < 0) {
		mg_cmd_error("-f: %s", strerror(errno));
		return FAKESSH_FAIL;
	}
	if (pid == 0) {
		close(fds[0]);
		mg_runner.up_fd = fds[1];
		return -1;
	}
	close(fds[1]);
	while ((n = read(fds[0], &c, 1)) < 0 && errno == EINTR) {
	}
	close(fds[0]);
	if (n == 1) {
		return 0;
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : FAKESSH_FAIL;
}

/* The command, login, subsystem or -N wait at the end of chain 'text'. */
static int launch(TALLOC_CTX *tmp, struct mg_ssh_cmdline *o, const char *text)
{
	if (o->n_command == 0 && o->remote_command != NULL) {
		o->command = talloc_zero_array(o, const char *, 2);
		if (o->command == NULL) {
			mg_cmd_error("out of memory");
			return FAKESSH_FAIL;
		}
		o->command[0] = o->remote_command;
		o->n_command = 1;
	}
	if (o->no_command && o->n_command > 0 && !o->subsystem) {
		mg__log(MG_LOG_INFO, NULL, 0, "-N: the command is not run");
	}
	/* -f implies -n, as in ssh. */
	mg_runner.null_stdin = o->null_stdin || o->no_command || o->background;
	if (o->background) {
		int status = go_background();
		if (status >= 0) {
			return status;
		}
	}
	/* ssh has no status for a command a signal ended: 255. */
	mg_runner.signal_status = FAKESSH_FAIL;
	/* -W: a byte stream, never a terminal. */
	mg_runner.tty = o->stdio_forward == NULL && want_pty(o, o->n_command == 0 && !o->no_command);
	mg_runner.closed_host = no_notes(o) ? NULL : o->dest;
	mg_runner.env = remote_env(tmp, o, mg_runner.tty);
	/* In the far user's home, as sshd starts every session. */
	mg_runner.cwd = talloc_strdup(tmp, "~");
	/* The runner's words: the target first (no -w: output raw, as one
	 * target's), then the COMMAND words it joins for the shell. */
	/* Room for the longest (-W: target, program, host, port) and NULL. */
	const char **words = talloc_zero_array(tmp, const char *, o->n_command + 5);
	if (words == NULL || mg_runner.env == NULL || mg_runner.cwd == NULL) {
		mg_cmd_error("out of memory");
		return FAKESSH_FAIL;
	}
	words[0] = text;
	if (o->no_command) {
		/* ssh -N ends only when stopped or cut off: 255, but 0 for a
		 * SIGTERM (no remote status, and the end was asked for). */
		words[1] = wait_snippet;
		mg_runner.signal_status = 0;
		return mg_runner_main(tmp, words, 2, 3, 0, false) == 128 + SIGTERM ? 0 : FAKESSH_FAIL;
	}
	if (o->stdio_forward != NULL) {
		return run_forward(tmp, o, words);
	}
	if (o->subsystem) {
		return run_sftp(tmp, words);
	}
	if (o->n_command == 0) {
		/* shell 3: /bin/sh -c, whatever the login shell is. */
		words[1] = login_snippet;
		return mg_runner_main(tmp, words, 2, 3, 0, false);
	}
	memcpy(words + 1, o->command, o->n_command * sizeof(*words));
	return mg_runner_main(tmp, words, (int)o->n_command + 1, 1, 0, false);
}

int main(int argc, const char **argv)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	struct mg_ssh_cmdline *o = NULL;
	char *errmsg = NULL;
	unsigned persist_ms;
	int ret, status;

	signal(SIGPIPE, SIG_IGN);
	if (argc >= 2 && strcmp(argv[1], "run") == 0) {
		talloc_free(tmp);
		return mg_fakessh_run_main(argc - 1, (char **)argv + 1);
	}
	if (mg_fakessh_hand_over(tmp, (char **)argv)) {
		talloc_free(tmp);
		return FAKESSH_FAIL;
	}
	mg_cmd_init("fakessh");
	/* The ssh our hops start may be a copy of us (see hand_over). */
	if (mg_fakessh_mark_hops() != 0) {
		mg_warn("cannot mark the environment for the hops' ssh");
	}
	ret = mg_ssh_cmdline_parse(tmp, argc, (const char *const *)argv, &o, &errmsg);
	if (ret != 0) {
		status = usage_fail(ret == -ENOMEM ? "out of memory" : errmsg);
	} else if (o->version) {
		/* Version probes take the first word's OpenSSH_X.Y (up to a
		 * space or comma); ours is the ssh whose command line we read. */
		fprintf(stderr, "OpenSSH_%s command line, fakessh (mitogen-c %s), not OpenSSH\n",
			FAKESSH_OPENSSH, MG_VERSION);
		status = 0;
	} else if (o->query != NULL) {
		status = mg_fakessh_ask_ssh(tmp, o, NULL);
	} else if (o->dest == NULL) {
		status = usage_fail(NULL);
	} else {
		apply_log_level(o);
		mg_common.verbose = o->verbose;
		mg_common.quiet = o->quiet;
		mg_cmd_apply_common();
		if (o->log_file != NULL && (ret = mg_cmd_log_to_file(o->log_file)) != 0) {
			/* ssh's words; 255, a setup error. */
			fprintf(stderr, "Couldn't open logfile %s: %s\n", o->log_file, strerror(-ret));
			talloc_free(tmp);
			return FAKESSH_FAIL;
		}
		if (o->quiet && o->verbose == 0) {
			mg_cmd_errors_off();
		}
		/* A bad MITOGEN_PERSIST is a setup error, ssh's 255: the usage
		 * status 2 of mitogen-run would pass for the far command's. */
		status = mg_cmd_persist_idle(false, &persist_ms) != 0 ? FAKESSH_FAIL : run(tmp, o);
	}
	talloc_free(tmp);
	return status;
}
