/*
 * Connecting from code (mitogen/connect.h, lib/session/connect-api.c):
 * each method's option struct gives exactly the hop its chain text parses
 * to (fields, canonical text, --dry-run lines); hostile values stay in
 * their field or are refused as the parser refuses them; 'via' gives the
 * session's shared context for the whole chain, with real local agents.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "chain-private.h"
#include "loop-helpers.h"
#include "method.h"
#include "mitogen/connect.h"
#include "mitogen/context.h"
#include "mitogen/error.h"

/* --- comparing a built chain with a parsed one --- */

static const struct mg_chain *parsed(TALLOC_CTX *ctx, const char *text)
{
	struct mg_chain_list *list = NULL;
	char *err = NULL;

	if (mg_chain_parse(ctx, text, &list, &err) != 0) {
		printf("#   '%s': %s\n", text, err);
		return NULL;
	}
	return list->n_chains == 1 ? &list->chains[0] : NULL;
}

static bool str_same(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* Every field of two hops equal; prints the first difference. */
static bool hop_same(const struct mg_hop *a, const struct mg_hop *b)
{
	bool same = str_same(a->method, b->method) && str_same(a->spec, b->spec)
		    && str_same(a->user, b->user) && str_same(a->host, b->host)
		    && a->port == b->port && str_same(a->text, b->text)
		    && a->n_opts == b->n_opts;

	for (size_t i = 0; same && i < a->n_opts; i++) {
		same = str_same(a->opts[i].key, b->opts[i].key)
		       && str_same(a->opts[i].value, b->opts[i].value);
	}
	if (!same) {
		printf("#   hop '%s' (%zu options) != '%s' (%zu options)\n", a->text, a->n_opts,
		       b->text, b->n_opts);
	}
	return same;
}

/* A dry-run line with its nonce, new on every call and of varying
 * length, as "N": "mitogen-boot LEN NONCE". */
static char *no_nonce(TALLOC_CTX *ctx, const char *line)
{
	const char *p = strstr(line, "mitogen-boot ");
	size_t n;

	if (p == NULL || (p = strchr(p + 13, ' ')) == NULL) {
		return talloc_strdup(ctx, line);
	}
	n = strspn(++p, "0123456789abcdef");
	return talloc_asprintf(ctx, "%.*sN%s", (int)(p - line), line, p + n);
}

/* 'got' is the chain 'text' parses to, field by field, and --dry-run
 * shows the same command lines for both. */
static bool same_as_text(const struct mg_chain *got, const char *text)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	const struct mg_chain *want = parsed(tmp, text);
	char **l1 = NULL, **l2 = NULL, *err = NULL;
	bool ok = want != NULL && got != NULL && got->n_hops == want->n_hops
		  && str_same(got->text, want->text);

	if (!ok) {
		printf("#   built '%s', expected '%s'\n", got != NULL ? got->text : "(none)",
		       want != NULL ? want->text : "(unparsed)");
	}
	for (size_t i = 0; ok && i < got->n_hops; i++) {
		ok = hop_same(&got->hops[i], &want->hops[i]);
	}
	if (ok && (mg_dry_run(tmp, got, NULL, &l1, &err) != 0 ||
		   mg_dry_run(tmp, want, NULL, &l2, &err) != 0)) {
		printf("#   dry run of '%s': %s\n", text, err);
		ok = false;
	}
	for (size_t i = 0; ok && i < got->n_hops; i++) {
		ok = str_same(no_nonce(tmp, l1[i]), no_nonce(tmp, l2[i]));
		if (!ok) {
			printf("#   dry run: '%s' != '%s'\n", l1[i], l2[i]);
		}
	}
	talloc_free(tmp);
	return ok;
}

/* --- every method: the struct and the text give the same hop --- */

static void test_local_fork(void)
{
	TALLOC_CTX *ctx = talloc_new(NULL);
	struct mg_local_opts lo = { .first_stage = true, .common = {
		.connect_timeout_ms = 1500, .remote_name = "agent one", .debug = true } };
	struct mg_fork_opts fo = { .common.connect_timeout_ms = 2000 };
	struct mg_chain *c = NULL;
	char *err = NULL;

	ASSERT_INT_EQ(mg_chain_local(ctx, NULL, &lo, &c, &err), 0);
	ASSERT_TRUE(same_as_text(c, "local?first_stage=1&connect_timeout=1.5"
				 "&remote_name=agent%20one&debug=1"));
	ASSERT_INT_EQ(mg_chain_local(ctx, NULL, NULL, &c, &err), 0);
	ASSERT_TRUE(same_as_text(c, "local"));
	ASSERT_INT_EQ(mg_chain_fork(ctx, NULL, &fo, &c, &err), 0);
	ASSERT_TRUE(same_as_text(c, "fork?connect_timeout=2"));
	fo.common.connect_timeout_ms = 1;
	ASSERT_INT_EQ(mg_chain_fork(ctx, NULL, &fo, &c, &err), 0);
	ASSERT_TRUE(same_as_text(c, "fork?connect_timeout=0.001"));
	talloc_free(ctx);
}

static void test_ssh(void)
{
	TALLOC_CTX *ctx = talloc_new(NULL);
	const char *args[] = { "-o", "Ciphers=aes128-ctr", "-4 x", NULL };
	struct mg_ssh_opts o = {
		.hostname = "web1", .username = "deploy", .port = 2222,
		.check_host_keys = "accept", .identity_file = "/home/me/.ssh/id",
		.identities_only = MG_FLAG_NO, .compression = true, .ssh_path = "/usr/bin/ssh",
		.ssh_args = args, .ssh_debug_level = 2, .password_env = "PW",
		.keepalive_enabled = MG_FLAG_YES, .keepalive_count = 5, .keepalive_interval = 7,
		.tcp_nodelay = MG_FLAG_NO, .image_in_command = MG_FLAG_NO,
		.common.remote_name = "r",
	};
	struct mg_ssh_opts v6 = { .hostname = "fe80::1%eth0", .port = 22,
				  .password_file = "/tmp/pw" };
	struct mg_chain *c = NULL;
	char *err = NULL;

	ASSERT_INT_EQ(mg_chain_ssh(ctx, NULL, &o, &c, &err), 0);
	ASSERT_TRUE(same_as_text(c, "ssh:deploy@web1:2222?check_host_keys=accept"
				 "&identity_file=%2Fhome%2Fme%2F.ssh%2Fid&identities_only=0"
				 "&compression=1&ssh_path=%2Fusr%2Fbin%2Fssh&ssh_args=-o"
				 "&ssh_args=Ciphers=aes128-ctr&ssh_args='-4%20x'"
				 "&ssh_debug_level=2&password_env=PW&keepalive_enabled=1"
				 "&keepalive_count=5&keepalive_interval=7&tcp_nodelay=0"
				 "&image_in_command=0&remote_name=r"));
	/* The same written with username= and port= options. */
	ASSERT_INT_EQ(mg_chain_ssh(ctx, NULL, &v6, &c, &err), 0);
	ASSERT_TRUE(same_as_text(c, "ssh:[fe80::1%25eth0]:22?password_file=%2Ftmp%2Fpw"));
	ASSERT_STR_EQ(c->hops[0].host, "fe80::1%eth0");
	ASSERT_TRUE(same_as_text(c, "ssh:[fe80::1%25eth0]?port=22&password_file=%2Ftmp%2Fpw"));
	talloc_free(ctx);
}

static void test_become(void)
{
	TALLOC_CTX *ctx = talloc_new(NULL);
	const char *sargs[] = { "-H", NULL };
	const char *wrong[] = { "Sorry, try again.", "nope", NULL };
	struct mg_sudo_opts sudo = {
		.username = "app", .sudo_path = "/usr/bin/sudo", .sudo_args = sargs,
		.set_home = true, .login = true, .selinux_role = "r", .selinux_type = "t",
		.password_file = "/tmp/pw", .password_prompt = "Pass:",
		.incorrect_prompts = wrong,
	};
	struct mg_su_opts su = { .username = "postgres", .su_path = "/bin/su",
				 .password_env = "PW", .password_prompt = "Passwort:",
				 .incorrect_prompts = wrong + 1 };
	struct mg_doas_opts doas = { .doas_path = "/usr/bin/doas", .password_file = "f" };
	struct mg_chain *c = NULL;
	char *err = NULL;

	ASSERT_INT_EQ(mg_chain_sudo(ctx, NULL, &sudo, &c, &err), 0);
	ASSERT_TRUE(same_as_text(c, "sudo:app?sudo_path=%2Fusr%2Fbin%2Fsudo&sudo_args=-H"
				 "&set_home=1&login=1&selinux_role=r&selinux_type=t"
				 "&password_file=%2Ftmp%2Fpw&password_prompt=Pass:"
				 "&incorrect_prompts='Sorry%2C%20try%20again.'"
				 "&incorrect_prompts=nope"));
	ASSERT_INT_EQ(mg_chain_sudo(ctx, NULL, NULL, &c, &err), 0);
	ASSERT_TRUE(same_as_text(c, "sudo"));
	ASSERT_INT_EQ(mg_chain_su(ctx, NULL, &su, &c, &err), 0);
	ASSERT_TRUE(same_as_text(c, "su:postgres?su_path=%2Fbin%2Fsu&password_env=PW"
				 "&password_prompt=Passwort:&incorrect_prompts=nope"));
	ASSERT_INT_EQ(mg_chain_doas(ctx, NULL, &doas, &c, &err), 0);
	ASSERT_TRUE(same_as_text(c, "doas?doas_path=%2Fusr%2Fbin%2Fdoas&password_file=f"));
	talloc_free(ctx);
}

/* The config's [defaults] reach a hop given field by field as they reach
 * the same hop written: the text and the typed API give one context. */
static void test_defaults(void)
{
	TALLOC_CTX *ctx = talloc_new(NULL);
	char path[] = "/tmp/test-connect-api-XXXXXX";
	static const char cfg[] = "[defaults]\nsudo.sudo_args = -H\nconnect_timeout = 5\n";
	struct mg_sudo_opts sudo = { .sudo_args = (const char *[]){ "-E", NULL } };
	struct mg_chain *c = NULL;
	char *err = NULL;
	int fd = mkstemp(path);

	ASSERT_TRUE(fd >= 0 && write(fd, cfg, sizeof(cfg) - 1) == (ssize_t)(sizeof(cfg) - 1));
	close(fd);
	setenv("MITOGEN_CONFIG", path, 1);
	ASSERT_INT_EQ(mg_chain_sudo(ctx, NULL, NULL, &c, &err), 0);
	ASSERT_TRUE(same_as_text(c, "sudo"));
	ASSERT_STR_EQ(mg_hop_opt(&c->hops[0], "sudo_args"), "-H");
	ASSERT_STR_EQ(mg_hop_opt(&c->hops[0], "connect_timeout"), "5");
	ASSERT_STR_EQ(c->text, "sudo");
	ASSERT_INT_EQ(mg_chain_sudo(ctx, NULL, &sudo, &c, &err), 0);
	ASSERT_TRUE(same_as_text(c, "sudo?sudo_args=-E"));
	ASSERT_STR_EQ(mg_hop_opt(&c->hops[0], "sudo_args"), "-E");
	unlink(path);
	setenv("MITOGEN_CONFIG", "", 1);
	talloc_free(ctx);
}

static void test_containers(void)
{
	TALLOC_CTX *ctx = talloc_new(NULL);
	struct mg_docker_opts d1 = { .container = "app", .username = "www",
				     .docker_path = "/bin/docker" };
	struct mg_docker_opts d2 = { .username = "www", .image = "alpine:3" };
	struct mg_podman_opts p = { .container = "c1", .username = "u",
				    .podman_path = "/bin/podman" };
	struct mg_buildah_opts b = { .container = "w", .buildah_path = "bh" };
	struct mg_lxc_opts lxc = { .container = "c", .lxc_attach_path = "/bin/la" };
	struct mg_lxd_opts lxd = { .container = "c", .lxc_path = "/bin/lxc" };
	struct mg_jail_opts j = { .jail = "j1", .username = "u", .jexec_path = "/sbin/jexec" };
	const char *kargs[] = { "--kubeconfig=/k", "--v=2", NULL };
	struct mg_kubectl_opts k = { .pod = "pod1", .container = "c", .kube_namespace = "ns",
				     .context = "ctx", .kubectl_args = kargs,
				     .kubectl_path = "kc" };
	struct mg_setns_opts sn = { .kind = "docker", .container = "app", .username = "u",
				    .docker_path = "/d", .lxc_path = "/l", .lxc_info_path = "/i",
				    .machinectl_path = "/m" };
	struct mg_chain *c = NULL;
	char *err = NULL;

	ASSERT_INT_EQ(mg_chain_docker(ctx, NULL, &d1, &c, &err), 0);
	ASSERT_TRUE(same_as_text(c, "docker:www@app?docker_path=%2Fbin%2Fdocker"));
	ASSERT_INT_EQ(mg_chain_docker(ctx, NULL, &d2, &c, &err), 0);
	ASSERT_TRUE(same_as_text(c, "docker:?username=www&image=alpine:3"));
	ASSERT_INT_EQ(mg_chain_podman(ctx, NULL, &p, &c, &err), 0);
	ASSERT_TRUE(same_as_text(c, "podman:u@c1?podman_path=%2Fbin%2Fpodman"));
	ASSERT_INT_EQ(mg_chain_buildah(ctx, NULL, &b, &c, &err), 0);
	ASSERT_TRUE(same_as_text(c, "buildah:w?buildah_path=bh"));
	ASSERT_INT_EQ(mg_chain_lxc(ctx, NULL, &lxc, &c, &err), 0);
	ASSERT_TRUE(same_as_text(c, "lxc:c?lxc_attach_path=%2Fbin%2Fla"));
	ASSERT_INT_EQ(mg_chain_lxd(ctx, NULL, &lxd, &c, &err), 0);
	ASSERT_TRUE(same_as_text(c, "lxd:c?lxc_path=%2Fbin%2Flxc"));
	ASSERT_INT_EQ(mg_chain_jail(ctx, NULL, &j, &c, &err), 0);
	ASSERT_TRUE(same_as_text(c, "jail:u@j1?jexec_path=%2Fsbin%2Fjexec"));
	ASSERT_INT_EQ(mg_chain_kubectl(ctx, NULL, &k, &c, &err), 0);
	ASSERT_TRUE(same_as_text(c, "kubectl:pod1?container=c&namespace=ns&context=ctx"
				 "&kubectl_args=--kubeconfig=%2Fk&kubectl_args=--v=2"
				 "&kubectl_path=kc"));
	ASSERT_INT_EQ(mg_chain_setns(ctx, NULL, &sn, &c, &err), 0);
	ASSERT_TRUE(same_as_text(c, "setns:docker:u@app?docker_path=%2Fd&lxc_path=%2Fl"
				 "&lxc_info_path=%2Fi&machinectl_path=%2Fm"));
	talloc_free(ctx);
}

/* --- hostile values --- */

/* The ssh hop for 'hostname': one hop holding it verbatim, whose text
 * parses back to the same hop; or NULL with the message in *_err. */
static const struct mg_hop *ssh_to(TALLOC_CTX *ctx, const char *hostname, char **_err)
{
	struct mg_ssh_opts o = { .hostname = hostname };
	struct mg_chain *c = NULL;

	*_err = NULL;
	if (mg_chain_ssh(ctx, NULL, &o, &c, _err) != 0) {
		return NULL;
	}
	if (c->n_hops != 1 || c->hops[0].n_opts != 0 || strcmp(c->hops[0].host, hostname) != 0
	    || !same_as_text(c, c->text)) {
		*_err = "not verbatim";
		return NULL;
	}
	return &c->hops[0];
}

static void test_hostile_hosts(void)
{
	TALLOC_CTX *ctx = talloc_new(NULL);
	const struct mg_hop *h;
	char *err;

	/* Kept, each in its one field, encoded as the grammar prints it. */
	h = ssh_to(ctx, "web1/sudo:root", &err);
	ASSERT_PTR_NOT_NULL(h);
	ASSERT_STR_EQ(h->text, "ssh:[web1%2Fsudo:root]");
	h = ssh_to(ctx, "a?b=c%d,e+f#g@h/i", &err);
	ASSERT_PTR_NOT_NULL(h);
	ASSERT_STR_EQ(h->text, "ssh:a%3Fb%3Dc%25d%2Ce%2Bf%23g%40h%2Fi");
	h = ssh_to(ctx, "[::1]", &err);
	ASSERT_PTR_NOT_NULL(h);
	ASSERT_STR_EQ(h->text, "ssh:[%5B::1%5D]");
	h = ssh_to(ctx, "\xff\xfe", &err);
	ASSERT_PTR_NOT_NULL(h);
	ASSERT_STR_EQ(h->text, "ssh:\xff\xfe");
	/* Refused as the parser refuses them, with its messages. */
	ASSERT_PTR_NULL(ssh_to(ctx, "web 1", &err));
	ASSERT_STR_EQ(err, "space in host");
	ASSERT_PTR_NULL(ssh_to(ctx, "a&port=1", &err));
	ASSERT_STR_EQ(err, "character '&' not allowed in host");
	ASSERT_PTR_NULL(ssh_to(ctx, "$(reboot)", &err));
	ASSERT_STR_EQ(err, "character '$' not allowed in host");
	ASSERT_PTR_NULL(ssh_to(ctx, "a'b", &err));
	ASSERT_STR_EQ(err, "character \"'\" not allowed in host");
	ASSERT_PTR_NULL(ssh_to(ctx, "a\"b", &err));
	ASSERT_STR_EQ(err, "character '\"' not allowed in host");
	ASSERT_PTR_NULL(ssh_to(ctx, "a\nb", &err));
	ASSERT_STR_EQ(err, "control character 0x0a in host");
	ASSERT_PTR_NULL(ssh_to(ctx, "-oProxyCommand=x", &err));
	ASSERT_STR_EQ(err, "host '-oProxyCommand=x' may not begin with '-'");
	ASSERT_PTR_NULL(ssh_to(ctx, "", &err));
	ASSERT_STR_EQ(err, "expected a host");
	ASSERT_PTR_NULL(ssh_to(ctx, NULL, &err));
	ASSERT_STR_EQ(err, "ssh needs a host: ssh:[USER@]HOST[:PORT]");
	talloc_free(ctx);
}

/* The message of 'call', which must refuse with MG_ERR_CHAIN. */
#define REFUSAL(call) (err = NULL, (call) == MG_ERR_CHAIN ? err : "(not MG_ERR_CHAIN)")

static void test_hostile_values(void)
{
	TALLOC_CTX *ctx = talloc_new(NULL);
	const char *words[] = { "ProxyCommand=sh -c 'x'", "", "a'b", "t\tab", "back\\slash",
				"new\nline", "$(x)&y=/z", NULL };
	struct mg_ssh_opts o = { .hostname = "h", .username = "root@evil",
				 .identity_file = "x&port=1/sudo:root,local",
				 .ssh_args = words, .common.remote_name = "a\nb" };
	struct mg_sudo_opts su = { .username = "root?x=1" };
	struct mg_setns_opts sn = { .kind = "dokcer", .container = "app" };
	struct mg_docker_opts d = { .container = "a:b" };
	struct mg_docker_opts dp = { .container = "a", .docker_path = "" };
	struct mg_chain *c = NULL;
	char **split = NULL, *err = NULL;
	size_t n = 0;

	ASSERT_INT_EQ(mg_chain_ssh(ctx, NULL, &o, &c, &err), 0);
	ASSERT_INT_EQ(c->n_hops, 1);
	ASSERT_STR_EQ(c->hops[0].user, "root@evil");
	ASSERT_STR_EQ(mg_hop_opt(&c->hops[0], "identity_file"), "x&port=1/sudo:root,local");
	ASSERT_PTR_NULL(mg_hop_opt(&c->hops[0], "port"));
	ASSERT_STR_EQ(mg_hop_opt(&c->hops[0], "remote_name"), "a\nb");
	ASSERT_INT_EQ(c->hops[0].n_opts, 9);
	ASSERT_STR_EQ(c->text, "ssh:root%40evil@h?identity_file=x%26port=1%2Fsudo:root%2Clocal"
		      "&ssh_args='ProxyCommand=sh%20-c%20'\\''x'\\'''&ssh_args=''"
		      "&ssh_args='a'\\''b'&ssh_args='t%09ab'&ssh_args='back\\slash'"
		      "&ssh_args='new%0Aline'&ssh_args=$(x)%26y=%2Fz&remote_name=a%0Ab");
	ASSERT_TRUE(same_as_text(c, c->text));
	/* Each word comes back as that one word. */
	ASSERT_INT_EQ(mg__hop_list(ctx, ctx, &c->hops[0], "ssh_args", &split, &err), 0);
	while (split[n] != NULL) {
		ASSERT_STR_EQ(split[n], words[n]);
		n++;
	}
	ASSERT_INT_EQ(n, 7);
	/* A ':' in a container is encoded, not read as a port. */
	ASSERT_INT_EQ(mg_chain_docker(ctx, NULL, &d, &c, &err), 0);
	ASSERT_STR_EQ(c->text, "docker:a%3Ab");
	ASSERT_TRUE(same_as_text(c, c->text));
	ASSERT_INT_EQ(mg_chain_sudo(ctx, NULL, &su, &c, &err), 0);
	ASSERT_STR_EQ(c->text, "sudo:root%3Fx%3D1");
	ASSERT_INT_EQ(c->hops[0].n_opts, 0);
	/* The parser's refusals. */
	o = (struct mg_ssh_opts){ .hostname = "h", .port = 70000 };
	ASSERT_STR_EQ(REFUSAL(mg_chain_ssh(ctx, NULL, &o, &c, &err)),
		      "bad port '70000' (expected a number from 1 to 65535)");
	o = (struct mg_ssh_opts){ .hostname = "h", .username = "a b" };
	ASSERT_STR_EQ(REFUSAL(mg_chain_ssh(ctx, NULL, &o, &c, &err)), "space in user");
	o = (struct mg_ssh_opts){ .hostname = "h", .identities_only = (enum mg_flag)7 };
	ASSERT_STR_EQ(REFUSAL(mg_chain_ssh(ctx, NULL, &o, &c, &err)),
		      "option identities_only: expected MG_FLAG_DEFAULT, MG_FLAG_NO or "
		      "MG_FLAG_YES, not 7");
	/* Values of a form the grammar checks: its words, no column. */
	o = (struct mg_ssh_opts){ .hostname = "h", .check_host_keys = "bogus" };
	ASSERT_STR_EQ(REFUSAL(mg_chain_ssh(ctx, NULL, &o, &c, &err)),
		      "check_host_keys= must be accept, enforce or ignore");
	ASSERT_STR_EQ(REFUSAL(mg_chain_docker(ctx, NULL, &dp, &c, &err)),
		      "option docker_path: expected a path");
	ASSERT_STR_EQ(REFUSAL(mg_chain_setns(ctx, NULL, &sn, &c, &err)),
		      "unknown setns kind 'dokcer' (did you mean 'docker'?)");
	sn.kind = NULL;
	ASSERT_STR_EQ(REFUSAL(mg_chain_setns(ctx, NULL, &sn, &c, &err)),
		      "expected KIND:CONTAINER (KIND is docker, lxc, lxd or machinectl)");
	d.image = "alpine";
	ASSERT_STR_EQ(REFUSAL(mg_chain_docker(ctx, NULL, &d, &c, &err)),
		      "give either a container or image=, not both");
	ASSERT_STR_EQ(REFUSAL(mg_chain_docker(ctx, NULL, NULL, &c, &err)),
		      "docker needs a container: docker:[USER@]CONTAINER or "
		      "docker:?image=IMAGE");
	ASSERT_STR_EQ(REFUSAL(mg_chain_kubectl(ctx, NULL, NULL, &c, &err)),
		      "kubectl needs a pod: kubectl:POD");
	talloc_free(ctx);
}

/* --- one chain for mg_connect_text --- */

static void test_one_chain(void)
{
	TALLOC_CTX *ctx = talloc_new(NULL);
	struct mg_chain_list *list = NULL;
	char *err = NULL;

	ASSERT_INT_EQ(mg__chain_parse_one(ctx, "local,local", &list, &err), MG_ERR_CHAIN);
	ASSERT_STR_EQ(err, "column 6: ',' separates chains, but one chain is expected here");
	ASSERT_INT_EQ(mg__chain_parse_one(ctx, "ssh:web[1-3]/sudo", &list, &err), MG_ERR_CHAIN);
	ASSERT_STR_EQ(err, "column 1: host list in 'ssh:web[1-3]', but one chain is expected "
		      "here");
	ASSERT_INT_EQ(mg__chain_parse_one(ctx, "local/ssh:{a}", &list, &err), MG_ERR_CHAIN);
	ASSERT_STR_CONTAINS(err, "host list in 'ssh:{a}'");
	ASSERT_INT_EQ(mg__chain_parse_one(ctx, "ssh:web[1]", &list, &err), MG_ERR_CHAIN);
	/* Brackets of an address are no list. */
	ASSERT_INT_EQ(mg__chain_parse_one(ctx, "ssh:[::1]:22/sudo", &list, &err), 0);
	ASSERT_INT_EQ(list->n_chains, 1);
	ASSERT_STR_EQ(list->chains[0].text, "ssh:[::1]:22/sudo");
	talloc_free(ctx);
}

/* --- via, with real local agents --- */

struct got {
	struct mg_context *ctx;
	int err;
	int calls;
};

static void on_connect(struct mg_context *ctx, int err, const char *errmsg, void *data)
{
	struct got *g = data;

	g->ctx = ctx;
	g->err = err;
	g->calls++;
	if (err != 0) {
		printf("#   connect: %s\n", errmsg);
	}
}

static bool called(void *arg)
{
	return ((struct got *)arg)->calls > 0;
}

static void test_via_body(void)
{
	TALLOC_CTX *ctx = talloc_new(NULL);
	struct mg_loop *loop = mg_loop_new(ctx);
	struct mg_session *s = loop != NULL ? mg_session_new(ctx, loop) : NULL;
	struct mg_session *s2 = loop != NULL ? mg_session_new(ctx, loop) : NULL;
	struct got g1 = { 0 }, g2 = { 0 }, g3 = { 0 }, g4 = { 0 };
	const struct mg_chain *ll = parsed(ctx, "local/local");
	struct mg_chain *c = NULL;
	char *err = NULL;

	ASSERT_PTR_NOT_NULL(s2);
	ASSERT_INT_EQ(mg_connect_local(ctx, s, NULL, NULL, on_connect, &g1, &err), 0);
	ASSERT_INT_EQ(g1.calls, 0);
	ASSERT_TRUE(run_until(loop, called, &g1, 10000));
	ASSERT_INT_EQ(g1.err, 0);
	ASSERT_STR_EQ(mg_context_name(g1.ctx), "local");
	/* After via: the context of "local/local", connected once. */
	ASSERT_INT_EQ(mg_chain_local(ctx, g1.ctx, NULL, &c, &err), 0);
	ASSERT_STR_EQ(c->text, "local/local");
	ASSERT_INT_EQ(mg_connect_local(ctx, s, g1.ctx, NULL, on_connect, &g2, &err), 0);
	ASSERT_TRUE(run_until(loop, called, &g2, 10000));
	ASSERT_INT_EQ(g2.err, 0);
	ASSERT_STR_EQ(mg_context_name(g2.ctx), "local/local");
	ASSERT_INT_EQ(mg_context_parent_id(g2.ctx), mg_context_id(g1.ctx));
	ASSERT_INT_EQ(mg_connect(ctx, s, ll, NULL, on_connect, &g3, &err), 0);
	ASSERT_TRUE(run_until(loop, called, &g3, 10000));
	ASSERT_TRUE(g3.ctx == g2.ctx);
	ASSERT_INT_EQ(mg_connect_text(ctx, s, g1.ctx, "local", NULL, on_connect, &g4, &err), 0);
	ASSERT_TRUE(run_until(loop, called, &g4, 10000));
	ASSERT_TRUE(g4.ctx == g2.ctx);
	ASSERT_INT_EQ(mg_context_id(g4.ctx), mg_context_id(g2.ctx));
	/* Refused before anything starts: cb is never called. */
	g4.calls = 0;
	ASSERT_INT_EQ(mg_connect_text(ctx, s, g1.ctx, "local,local", NULL, on_connect, &g4,
				      &err), MG_ERR_CHAIN);
	ASSERT_STR_EQ(err, "column 6: ',' separates chains, but one chain is expected here");
	ASSERT_INT_EQ(mg_connect_text(ctx, s, NULL, "local/ssh:web[1-2]", NULL, on_connect,
				      &g4, &err), MG_ERR_CHAIN);
	ASSERT_STR_CONTAINS(err, "host list");
	ASSERT_INT_EQ(mg_connect_local(ctx, s2, g1.ctx, NULL, on_connect, &g4, &err), -EINVAL);
	ASSERT_STR_EQ(err, "via: a context of another session");
	ASSERT_INT_EQ(mg_connect_sudo(ctx, s, g1.ctx, &(struct mg_sudo_opts){ .username = "-x" },
				      on_connect, &g4, &err), MG_ERR_CHAIN);
	ASSERT_STR_EQ(err, "user '-x' may not begin with '-'");
	ASSERT_TRUE(!run_until(loop, called, &g4, 50));
	/* A connect still pending when the session goes: nothing left. */
	ASSERT_INT_EQ(mg_connect_fork(ctx, s, g2.ctx, NULL, on_connect, &g4, &err), 0);
	talloc_free(ctx);
}
ISOLATED(test_via)

int main(void)
{
	/* No alias of the user's config file may change what "local" is. */
	setenv("MITOGEN_CONFIG", "", 1);
	TESTS_BEGIN();
	RUN(test_local_fork);
	RUN(test_ssh);
	RUN(test_become);
	RUN(test_defaults);
	RUN(test_containers);
	RUN(test_hostile_hosts);
	RUN(test_hostile_values);
	RUN(test_one_chain);
	RUN(test_via);
	return TESTS_END();
}
