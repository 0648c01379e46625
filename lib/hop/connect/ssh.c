/* ssh: OpenSSH to [user@]host[:port] (mitogen.md 3.1).
 * argv: ssh [-v..|-o LogLevel ERROR] [-l USER] [-p PORT]
 * [-o IdentitiesOnly yes] [-i FILE] [-o Compression yes (compression=yes; off
 * by default: on loopback and LAN links it costs more CPU than it saves)]
 * [-o ServerAlive*] [-o BatchMode yes] [-o StrictHostKeyChecking ...]
 * [-o ConnectTimeout N] [ssh_args...] HOST 'BOOT'.
 * The spawn mode is SOCKET; a password or check_host_keys=accept needs
 * the hybrid PTY mode (ssh asks on /dev/tty), which spawn_mode reports.
 * The parser puts the user and port in hop->user and hop->port, whether
 * they were written in the spec or as ?username= / ?port=, strips the
 * brackets of an IPv6 host (ssh takes it bare) and refuses a host or user
 * that begins with '-'.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "boot.h"
#include "capture.h"
#include "config.h"
#include "method.h"
#include "mitogen/error.h"
#include "mitogen/log.h"
#include "mitogen/loop.h"
#include "process.h"
#include "ssh-route.h"

static int host_keys(TALLOC_CTX *mem_ctx, const struct mg_hop *hop, enum mg_hostkeys *_hk,
		     char **_errmsg)
{
	const char *v = mg_hop_opt(hop, "check_host_keys");

	*_hk = MG_HK_ENFORCE;
	return v != NULL ? mg__value_hostkeys(mem_ctx, "check_host_keys", v, _hk, _errmsg) : 0;
}

static bool has_password(const struct mg_hop *hop)
{
	return mg_hop_opt(hop, "password_env") != NULL || mg_hop_opt(hop, "password_file") != NULL;
}

/* A whole number option; *_given says whether it was written at all. */
static int hop_uint(TALLOC_CTX *mem_ctx, const struct mg_hop *hop, const char *key,
		    unsigned long dflt, unsigned long *_value, bool *_given, char **_errmsg)
{
	const char *v = mg_hop_opt(hop, key);

	*_value = dflt;
	*_given = v != NULL;
	return v != NULL ? mg__value_count(mem_ctx, key, v, _value, _errmsg) : 0;
}

static bool add_opt(char ***argv, const char *opt)
{
	return mg__strv_add(argv, "-o") && mg__strv_add(argv, opt);
}

static int ssh_build_argv(TALLOC_CTX *mem_ctx, const struct mg_hop *hop,
			  const struct mg_boot_cmd *boot, char ***_argv, bool *_direct,
			  char **_errmsg)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	const char *ssh_path = mg_hop_opt(hop, "ssh_path");
	const char *identity = mg_hop_opt(hop, "identity_file");
	unsigned long debug, interval, count, timeout;
	unsigned timeout_ms = 0;
	bool identities_only, compression, keepalive, nodelay, in_cmd, given, ok;
	enum mg_hostkeys hk;
	char **extra = NULL, **argv;
	char *remote;
	int ret;

	*_direct = false;
	if (tmp == NULL) {
		return -ENOMEM;
	}
	if (hop->host == NULL || hop->host[0] == '\0') {
		*_errmsg = talloc_strdup(mem_ctx, "ssh needs a host");
		ret = -EINVAL;
		goto done;
	}
	if ((ret = host_keys(mem_ctx, hop, &hk, _errmsg)) != 0 ||
	    (ret = mg__hop_bool(mem_ctx, hop, "identities_only", true, &identities_only, _errmsg)) != 0 ||
	    (ret = mg__hop_bool(mem_ctx, hop, "compression", false, &compression, _errmsg)) != 0 ||
	    (ret = mg__hop_bool(mem_ctx, hop, "keepalive_enabled", true, &keepalive, _errmsg)) != 0 ||
	    /* Used by prepare_async; checked here so --dry-run says so too. */
	    (ret = mg__hop_bool(mem_ctx, hop, "tcp_nodelay", true, &nodelay, _errmsg)) != 0 ||
	    /* Used by the connection (ssh_image_arg), checked here too. */
	    (ret = mg__hop_bool(mem_ctx, hop, "image_in_command", true, &in_cmd, _errmsg)) != 0 ||
	    (ret = hop_uint(mem_ctx, hop, "ssh_debug_level", 0, &debug, &given, _errmsg)) != 0 ||
	    (ret = hop_uint(mem_ctx, hop, "keepalive_interval", 15, &interval, &given, _errmsg)) != 0 ||
	    (ret = hop_uint(mem_ctx, hop, "keepalive_count", 3, &count, &given, _errmsg)) != 0) {
		goto done;
	}
	/* The grammar of every method; ssh's ConnectTimeout takes whole
	 * seconds: rounded up, so that ssh never gives up first. */
	if ((ret = mg__hop_seconds(mem_ctx, hop, "connect_timeout", &timeout_ms, &given,
				   _errmsg)) != 0) {
		goto done;
	}
	timeout = given ? (timeout_ms + 999) / 1000 : 0;
	if ((ret = mg__hop_list(mem_ctx, tmp, hop, "ssh_args", &extra, _errmsg)) != 0) {
		goto done;
	}
	argv = talloc_zero_array(tmp, char *, 1);
	ok = argv != NULL && mg__strv_add(&argv, ssh_path != NULL && ssh_path[0] != '\0' ? ssh_path : "ssh");
	if (ok && debug > 0) {
		/* -v, -vv or -vvv: ssh caps it at 3 levels anyway. */
		ok = mg__strv_add(&argv, debug == 1 ? "-v" : debug == 2 ? "-vv" : "-vvv");
	} else if (ok) {
		/* Login banners are noise before the agent is up (mitogen #307). */
		ok = add_opt(&argv, "LogLevel ERROR");
	}
	if (ok && hop->user != NULL) {
		ok = mg__strv_add(&argv, "-l") && mg__strv_add(&argv, hop->user);
	}
	if (ok && hop->port != 0) {
		char port[16];
		snprintf(port, sizeof(port), "%d", hop->port);
		ok = mg__strv_add(&argv, "-p") && mg__strv_add(&argv, port);
	}
	if (ok && identities_only && (identity != NULL || has_password(hop))) {
		ok = add_opt(&argv, "IdentitiesOnly yes");
	}
	if (ok && identity != NULL) {
		ok = mg__strv_add(&argv, "-i") && mg__strv_add(&argv, identity);
	}
	if (ok && compression) {
		ok = add_opt(&argv, "Compression yes");
	}
	if (ok && keepalive) {
		char *a = talloc_asprintf(tmp, "ServerAliveInterval %lu", interval);
		char *b = talloc_asprintf(tmp, "ServerAliveCountMax %lu", count);
		ok = a != NULL && b != NULL && add_opt(&argv, a) && add_opt(&argv, b);
	}
	if (ok && hk != MG_HK_ACCEPT && !has_password(hop)) {
		/* No PTY: ssh must fail rather than wait for an answer. */
		ok = add_opt(&argv, "BatchMode yes");
	}
	if (ok && hk == MG_HK_ENFORCE) {
		ok = add_opt(&argv, "StrictHostKeyChecking yes");
	} else if (ok && hk == MG_HK_ACCEPT) {
		ok = add_opt(&argv, "StrictHostKeyChecking ask");
	} else if (ok) {
		ok = add_opt(&argv, "StrictHostKeyChecking no") &&
		     add_opt(&argv, "UserKnownHostsFile /dev/null") &&
		     add_opt(&argv, "GlobalKnownHostsFile /dev/null");
	}
	if (ok && timeout > 0) {
		char *t = talloc_asprintf(tmp, "ConnectTimeout %lu", timeout);
		ok = t != NULL && add_opt(&argv, t);
	}
	for (size_t i = 0; ok && extra[i] != NULL; i++) {
		ok = mg__strv_add(&argv, extra[i]);
	}
	/*
	 * ssh joins the words after the host with spaces and the remote login
	 * shell parses the result: send one word, quoted for a POSIX shell.
	 * The first stage holds no '!' or newline, nor does the image after
	 * it (boot.c escapes them), so csh, tcsh and fish read the same
	 * single-quoted words.
	 */
	remote = ok ? mg__shell_join(tmp, boot->argv) : NULL;
	ok = remote != NULL && mg__strv_add(&argv, hop->host) && mg__strv_add(&argv, remote);
	if (!ok) {
		ret = -ENOMEM;
		goto done;
	}
	*_argv = talloc_steal(mem_ctx, argv);
	ret = 0;
done:
	talloc_free(tmp);
	return ret;
}

/* image_in_command=, default yes. */
static bool ssh_image_arg(const struct mg_hop *hop)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	char *errmsg = NULL;
	bool on = true;

	/* A bad value has failed the hop in ssh_build_argv already. */
	if (mg__hop_bool(tmp, hop, "image_in_command", true, &on, &errmsg) != 0) {
		on = true;
	}
	talloc_free(tmp);
	return on;
}

static enum mg_spawn_mode ssh_spawn_mode(const struct mg_hop *hop)
{
	const char *v = mg_hop_opt(hop, "check_host_keys");

	if ((v != NULL && strcmp(v, "accept") == 0) || has_password(hop)) {
		return MG_SPAWN_HYBRID;
	}
	/* Without a PTY, many hops cannot exhaust the ptys (mitogen #337). */
	return MG_SPAWN_SOCKET;
}

/*
 * A shell's own "x: Permission denied" must not end the boot (mitogen
 * #271), so the pattern is anchored: the line starts with it, or with
 * "user@host: " as OpenSSH writes it. The host part may hold colons
 * (root@::1) but no blank, which a shell's "sh: 1: ..." line always has.
 * ssh also writes "Permission denied, please try again." between password
 * attempts.
 */
#define SSH_DENIED "^([^@ ]+@[^ ]+: )?permission denied"

/* Whole lines of ssh's stderr that end the boot. The failure message
 * carries the hop's last lines too, so ssh's own text (which names the
 * host it could not resolve, say) is shown as well. */
static const struct mg_line_error ssh_errors[] = {
	{ "host key verification failed", MG_ERR_BOOT,
	  "host key verification failed: the host key is unknown or has changed "
	  "(check_host_keys=enforce)" },
	{ SSH_DENIED, -EACCES, "SSH authentication is incorrect" },
	{ "could not resolve hostname", MG_ERR_BOOT, "could not resolve the host name" },
	{ "connection refused", -ECONNREFUSED, "connection refused" },
	{ "connection timed out", -ETIMEDOUT, "connection timed out" },
	{ "operation timed out", -ETIMEDOUT, "connection timed out" },
	{ "no route to host", -EHOSTUNREACH, "no route to host" },
	{ "network is unreachable", -ENETUNREACH, "network is unreachable" },
	{ NULL, 0, NULL },
};

/* With check_host_keys=accept only a changed key fails verification. */
static const struct mg_line_error ssh_errors_accept[] = {
	{ "host key verification failed", MG_ERR_BOOT,
	  "host key verification failed: the host key has changed "
	  "(check_host_keys=accept takes unknown keys only)" },
};

static int ssh_prompts(TALLOC_CTX *mem_ctx, const struct mg_hop *hop,
		       struct mg_prompts **_p, char **_errmsg)
{
	struct mg_prompts *p = talloc_zero(mem_ctx, struct mg_prompts);
	enum mg_hostkeys hk;
	int ret;

	if (p == NULL) {
		return -ENOMEM;
	}
	if ((ret = host_keys(mem_ctx, hop, &hk, _errmsg)) != 0) {
		talloc_free(p);
		return ret;
	}
	p->what = "SSH";
	/* "root@web1's password: ", "Password: ", "(root@web1) Password: ". */
	p->password = talloc_strdup(p, "password:? *$");
	p->incorrect = talloc_zero_array(p, char *, 2);
	if (p->password == NULL || p->incorrect == NULL) {
		talloc_free(p);
		return -ENOMEM;
	}
	/* After a password was sent, a denial means it was wrong. */
	p->incorrect[0] = talloc_strdup(p->incorrect, SSH_DENIED);
	if (p->incorrect[0] == NULL) {
		talloc_free(p);
		return -ENOMEM;
	}
	p->hostkey = "are you sure you want to continue connecting "
		     "\\(yes/no(/\\[fingerprint\\])?\\)\\? *$";
	p->accept_hostkey = hk == MG_HK_ACCEPT;
	p->errors = ssh_errors;
	if (hk == MG_HK_ACCEPT) {
		/* "ED25519 key fingerprint is SHA256:...", before the question. */
		p->hostkey_id = "^[a-z0-9-]+ key fingerprint is [^ ]+$";
		struct mg_line_error *e = talloc_memdup(p, ssh_errors, sizeof(ssh_errors));
		if (e == NULL) {
			talloc_free(p);
			return -ENOMEM;
		}
		e[0] = ssh_errors_accept[0];
		p->errors = e;
	}
	*_p = p;
	return 0;
}


/*
 * TCP_NODELAY from the first byte (tcp_nodelay=yes, the default): ssh
 * turns it on only once the session starts, so its key exchange and
 * authentication wait on Nagle's algorithm and delayed ACKs. Where the
 * hop's ssh_config leaves ssh to open the connection itself (no
 * ProxyCommand or ProxyJump, no BindAddress, no canonicalization, as
 * `ssh -G` tells), mitogen-connect opens it instead and hands it to ssh
 * (ProxyUseFdpass); every other setting, the host key check and ssh's
 * messages stay ssh's own. Without the helper program on this host (an
 * agent's hop), nothing changes.
 */
#define SSH_G_TIMEOUT_MS 5000

/*
 * What prepare found, the hop's state (NULL: ssh's own way): our
 * ProxyCommand, and the SHELL ssh gets for it. ssh runs it through
 * $SHELL -c, whose start a login shell's rc files can make slow (zsh's
 * .zshenv, fish's config.fish; bash takes twice dash's time), and even
 * /bin/sh is one exec more before the login: where the config was read
 * directly and ssh uses $SHELL for nothing else (ssh-route.h,
 * own_shell), SHELL is the helper itself, which takes its own words
 * (cmd/mitogen-connect.c).
 */
struct ssh_via {
	char *proxy;
	char *shell_env;             /* "SHELL=HELPER", or NULL */
};

struct ssh_prep {
	TALLOC_CTX *mem_ctx;
	struct mg_capture *cap;
	struct mg_timer *later;
	char *helper;
	struct ssh_via *via;         /* found without ssh -G, on mem_ctx */
	mg_prepare_done_fn done;
	void *data;
};

/* shell: the helper where it is to be ssh's SHELL, else NULL. */
static struct ssh_via *via_new(TALLOC_CTX *mem_ctx, char *proxy, const char *shell)
{
	struct ssh_via *v = proxy != NULL ? talloc_zero(mem_ctx, struct ssh_via) : NULL;

	if (v != NULL) {
		v->proxy = talloc_steal(v, proxy);
		if (shell != NULL && (v->shell_env = talloc_asprintf(v, "SHELL=%s", shell)) == NULL) {
			TALLOC_FREE(v);
		}
	} else {
		talloc_free(proxy);
	}
	return v;
}

/* The helper: $MITOGEN_CONNECT (empty: none), else the installed one;
 * NULL when there is none to run. Never a file beside this program: an
 * agent's program is a temporary file, in a directory others may write. */
static char *connect_helper(TALLOC_CTX *mem_ctx)
{
	const char *env = getenv("MITOGEN_CONNECT");
	const char *path = env != NULL ? env : MG_CONNECT_PATH;

	return path[0] == '/' && access(path, X_OK) == 0 ? talloc_strdup(mem_ctx, path) : NULL;
}

/* A value of `ssh -G` output ("key value\n"), or NULL. */
static char *g_value(TALLOC_CTX *mem_ctx, const char *out, const char *key)
{
	size_t k = strlen(key);

	for (const char *l = out; l != NULL && *l != '\0'; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
		if (strncmp(l, key, k) == 0 && l[k] == ' ') {
			return talloc_strndup(mem_ctx, l + k + 1, strcspn(l + k + 1, "\n"));
		}
	}
	return NULL;
}

/* ssh's % tokens: a literal % is written %%. */
static char *pct_escape(TALLOC_CTX *mem_ctx, const char *s)
{
	char *out = talloc_strdup(mem_ctx, "");

	for (; out != NULL && *s != '\0'; s++) {
		out = talloc_asprintf_append_buffer(out, *s == '%' ? "%%" : "%c", *s);
	}
	return out;
}

/* -o ProxyCommand for the helper to connect to host:port (ct, fam: as
 * it takes them, no quoting needed), % escaped for ssh, on mem_ctx. */
static char *helper_proxy(TALLOC_CTX *mem_ctx, const char *helper, const char *host,
			  const char *port, const char *ct, const char *fam)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	char *cmd = talloc_asprintf(tmp, "ProxyCommand=%s %s %s %s %s quickack", mg__shell_quote(tmp, helper),
				    mg__shell_quote(tmp, host), mg__shell_quote(tmp, port), ct, fam);

	cmd = cmd != NULL ? pct_escape(mem_ctx, cmd) : NULL;
	talloc_free(tmp);
	return cmd;
}

/* The ProxyCommand for this config, or NULL to leave ssh alone. */
static char *proxy_command(TALLOC_CTX *mem_ctx, const char *helper, const char *out)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	char *host = g_value(tmp, out, "hostname"), *port = g_value(tmp, out, "port");
	char *fam = g_value(tmp, out, "addressfamily"), *ct = g_value(tmp, out, "connecttimeout");
	char *canon = g_value(tmp, out, "canonicalizehostname"), *cmd = NULL;
	const char *const must_be_unset[] = { "proxycommand", "proxyjump", "bindaddress",
					      "bindinterface" };

	for (size_t i = 0; i < sizeof(must_be_unset) / sizeof(must_be_unset[0]); i++) {
		char *v = g_value(tmp, out, must_be_unset[i]);
		/* ssh binds to a bind address "none" as to any name. */
		if (v != NULL && (strcmp(v, "none") != 0 || i >= 2)) {
			goto done;
		}
	}
	if (host == NULL || port == NULL || host[0] == '\0' || (canon != NULL && strcmp(canon, "false") != 0)) {
		goto done;
	}
	cmd = helper_proxy(mem_ctx, helper, host, port,
			   ct != NULL && strcmp(ct, "none") != 0 ? ct : "0",
			   fam != NULL && strcspn(fam, "'\"\\ ") == strlen(fam) ? fam : "any");
done:
	talloc_free(tmp);
	return cmd;
}

static void ssh_g_done(void *data, int err, int status, const char *out)
{
	struct ssh_prep *pr = talloc_get_type_abort(data, struct ssh_prep);
	char *proxy = NULL;

	/* Any failure here is ssh's to report, from the real run. */
	if (err == 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		proxy = proxy_command(pr->mem_ctx, pr->helper, out);
	}
	if (proxy != NULL) {
		mg_debug("ssh: connecting with TCP_NODELAY through %s", pr->helper);
	}
	pr->done(pr->data, 0, via_new(pr->mem_ctx, proxy, NULL), NULL);
}

static void ssh_prep_later(struct mg_timer *t, void *data)
{
	struct ssh_prep *pr = talloc_get_type_abort(data, struct ssh_prep);

	pr->later = NULL;
	pr->done(pr->data, 0, pr->via, NULL);
}

/*
 * Where the config files say plainly how ssh would connect (ssh-route.c),
 * the answer without `ssh -G`, whose run (an ssh start, ~3 ms of CPU and
 * more of wall time) would delay the hop: true when found (pr->via set,
 * or NULL for ssh's own way). Not in the agent: it never has the helper.
 */
static bool quick_route(struct ssh_prep *pr, char **argv, size_t n)
{
#ifdef MG_STATIC_AGENT
	return false;
#else
	struct mg_ssh_direct d;

	switch (mg__ssh_route((const char *const *)&argv[1], n - 3, argv[n - 2], &d)) {
	case MG_SSH_ROUTE_HELPER:
		pr->via = via_new(pr->mem_ctx,
				  helper_proxy(pr->mem_ctx, pr->helper, d.host, d.port, d.timeout, d.family),
				  d.own_shell ? pr->helper : NULL);
		if (pr->via == NULL) {
			return false;
		}
		mg_debug("ssh: connecting with TCP_NODELAY through %s (config read directly)", pr->helper);
		if (pr->via->shell_env != NULL) {
			mg_debug("ssh: its ProxyCommand run without a shell (SHELL=%s for ssh)", pr->helper);
		}
		return true;
	case MG_SSH_ROUTE_SSH:
		return true;
	case MG_SSH_ROUTE_UNSURE:
	default:
		return false;
	}
#endif
}

static int ssh_prepare_async(TALLOC_CTX *mem_ctx, struct mg_loop *loop, const struct mg_hop *hop,
			     mg_prepare_done_fn done, void *data, char **_errmsg)
{
	struct ssh_prep *pr = talloc_zero(mem_ctx, struct ssh_prep);
	const char *const dummy[] = { "true", NULL };
	struct mg_boot_cmd boot = { .argv = dummy };
	char **argv = NULL, **g;
	bool on = true, direct;
	size_t n = 0;
	int ret;

	if (pr == NULL) {
		return -ENOMEM;
	}
	pr->mem_ctx = mem_ctx;
	pr->done = done;
	pr->data = data;
	if ((ret = mg__hop_bool(mem_ctx, hop, "tcp_nodelay", true, &on, _errmsg)) != 0) {
		talloc_free(pr);
		return ret;
	}
	/* Only OpenSSH answers -G: not a program of the user's choosing. */
	pr->helper = on && mg_hop_opt(hop, "ssh_path") == NULL ? connect_helper(pr) : NULL;
	if (pr->helper != NULL &&
	    ssh_build_argv(pr, hop, &boot, &argv, &direct, _errmsg) == 0) {
		while (argv[n] != NULL) {
			n++;
		}
		/* The config read directly, else the same words asking for
		 * it: ssh -G OPTIONS... HOST (the remote command left out). */
		g = n >= 3 && !quick_route(pr, argv, n) ? talloc_zero_array(pr, char *, n + 1) : NULL;
		if (g != NULL) {
			g[0] = argv[0];
			g[1] = "-G";
			memcpy(&g[2], &argv[1], (n - 2) * sizeof(char *));
			if (mg__capture_start(pr, loop, (const char *const *)g, SSH_G_TIMEOUT_MS,
					      ssh_g_done, pr, &pr->cap) == 0) {
				return 0;
			}
		}
	}
	/* Nothing to ask (or already known): from the loop as promised. */
	TALLOC_FREE(*_errmsg);
	pr->later = mg_timer_new(pr, loop, 0, ssh_prep_later, pr);
	if (pr->later == NULL) {
		talloc_free(pr);
		return -ENOMEM;
	}
	return 0;
}

/* Our ProxyCommand, when prepare found it fits, before the host. */
static int ssh_amend_argv(TALLOC_CTX *mem_ctx, void *state, char ***_argv)
{
	const struct ssh_via *via = state;
	char **argv = *_argv;
	size_t n = 0;

	if (via == NULL) {
		return 0;
	}
	while (argv[n] != NULL) {
		n++;
	}
	argv = talloc_realloc(mem_ctx, argv, char *, n + 5);
	if (argv == NULL || n < 2) {
		return -ENOMEM;
	}
	memmove(&argv[n + 2], &argv[n - 2], 3 * sizeof(char *));
	argv[n - 2] = "-o";
	argv[n - 1] = talloc_strdup(argv, via->proxy);
	argv[n] = "-o";
	argv[n + 1] = "ProxyUseFdpass=yes";
	*_argv = argv;
	return argv[n - 1] == NULL ? -ENOMEM : 0;
}

/* SHELL=HELPER for ssh where struct ssh_via says so. */
static int ssh_amend_env(TALLOC_CTX *mem_ctx, void *state, char ***_envp)
{
	const struct ssh_via *via = state;
	const char *sh[2] = { NULL, NULL };

	if (via == NULL || via->shell_env == NULL) {
		return 0;
	}
	sh[0] = via->shell_env;
	*_envp = mg__env_with(mem_ctx, sh);
	return *_envp != NULL ? 0 : -ENOMEM;
}

const struct mg_method mg__method_ssh = {
	.name = "ssh",
	.options = mg__ssh_options,
	.spec = MG_SPEC_HOST,
	.mode = MG_SPAWN_SOCKET,
	/* mitogen-connect hands us a copy of ssh's socket on it. */
	.err_socket = true,
	/* ssh reads passwords and host-key answers from the tty, never from
	 * stdin: the image can follow at once, saving a round trip. */
	.eager = true,
	/* sshd opens the session's window only once the command runs: on
	 * stdin the image would wait a round trip for it. */
	.image_arg = ssh_image_arg,
	.build_argv = ssh_build_argv,
	.spawn_mode = ssh_spawn_mode,
	.prompts = ssh_prompts,
	.takes_password = true,
	.prepare_async = ssh_prepare_async,
	.prepare_optional = true,
	.amend_argv = ssh_amend_argv,
	.amend_env = ssh_amend_env,
};
