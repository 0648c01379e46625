/*
 * Connecting contexts from code (mitogen's router.ssh(hostname=...,
 * via=ctx), router.sudo(...)): one option struct and one function per
 * connection method, or a chain's text; each after an optional 'via'
 * context, NULL for the master.
 *
 *	struct mg_ssh_opts ssh = { .hostname = "web1", .username = "deploy" };
 *	struct mg_sudo_opts sudo = { .username = "root", .set_home = true };
 *
 *	mg_connect_ssh(mem, s, NULL, &ssh, on_web1, data, &errmsg);
 *	... and once on_web1 has its context 'web1':
 *	mg_connect_sudo(mem, s, web1, &sudo, on_root, data, &errmsg);
 *
 * connects "ssh:deploy@web1" then "ssh:deploy@web1/sudo:root?set_home=1";
 * mg_connect_text(mem, s, web1, "sudo:root?set_home=1", ...) connects the
 * same context. The result is always the session's shared context for the
 * whole chain (via's chain, "/", the new hop): mg_connect() of that text
 * gives the same context, each prefix is connected once per session, and a
 * connect after one still under way waits for it.
 *
 * The option structs mirror the chain grammar of mitogen-chain(7), one
 * field per option, and a zeroed struct means "every option left out".
 * Values are taken verbatim, never parsed as chain text: a '/', '?', '&',
 * '%' or ',' in a host name or an option value stays in that field. What
 * the grammar refuses in a written hop is refused here with the same
 * message (a space, control character or shell metacharacter in a host,
 * container or user name, a name beginning with '-', a port over 65535,
 * an unknown setns kind...). Values the grammar leaves to the method (a
 * check_host_keys word, an empty *_path) fail when the hop is started, as
 * they do for chain text. The hop's canonical text is what the grammar
 * prints for the same hop: options in the order of the struct's fields
 * (the grammar's order in mitogen-chain(7)), the common ones last; flags
 * written 1 or 0; connect_timeout in seconds ("1.5").
 *
 * No field holds a password: password_env names a variable and
 * password_file a file the master reads when it starts the hop, so no
 * secret is ever part of a hop's text. A program that supplies passwords
 * itself sets the session's password callback (mg_session_set_password_fn).
 *
 * The struct and its strings are copied: they may go once the call
 * returns. The new hop may take common.connect_timeout_ms to come up
 * (30 s when 0). 'via' must be a context of the same session; it need not
 * be up yet (the connect then waits for it, and fails with it).
 *
 * Every function returns 0, after which cb is called once (never from
 * inside the call; not at all when the session is freed first), or a
 * negative error (MG_ERR_CHAIN for a refused value, -EINVAL for a 'via'
 * of another session, -ENOMEM, or what mg_connect() returns) with
 * *_errmsg set on mem_ctx, and then cb is never called.
 */
#ifndef MITOGEN_CONNECT_H
#define MITOGEN_CONNECT_H

#include <stdbool.h>
#include <talloc.h>
#include "mitogen/chain.h"
#include "mitogen/session.h"

#ifdef __cplusplus
extern "C" {
#endif

/* An option whose default is yes: left out, or written no or yes. */
enum mg_flag {
	MG_FLAG_DEFAULT = 0,
	MG_FLAG_NO,
	MG_FLAG_YES,
};

/* Options every method takes; the first field of every option struct. */
struct mg_hop_common {
	/* connect_timeout=: how long the hop may take to come up, password
	 * prompt included, in milliseconds (1 to 86400000; written as
	 * seconds). 0: the session's default (30 s). */
	unsigned connect_timeout_ms;
	/* remote_name=: the agent's process name as ps(1) shows it (15
	 * bytes kept). NULL: "mitogen:ID". */
	const char *remote_name;
	/* debug=1: the hop's agent logs in detail, its lines always shown. */
	bool debug;
};

/* local: a new agent process on this host. */
struct mg_local_opts {
	struct mg_hop_common common;
	/* first_stage=1: boot through the POSIX-sh first stage, as remote
	 * hops are, instead of executing the agent file in place. */
	bool first_stage;
};

/* fork: a forked copy of the process at 'via' becomes the agent. */
struct mg_fork_opts {
	struct mg_hop_common common;
};

/* ssh: OpenSSH to a host. */
struct mg_ssh_opts {
	struct mg_hop_common common;
	/* The host: a name or an address (IPv6 without brackets).
	 * Required. */
	const char *hostname;
	/* username=: the login user. NULL: ssh's own choice. */
	const char *username;
	/* port=: 1 to 65535; 0: ssh's own choice. */
	unsigned port;
	/* check_host_keys=: "enforce" (the default), "accept" or "ignore". */
	const char *check_host_keys;
	/* identity_file=: a private key file (ssh -i). */
	const char *identity_file;
	/* identities_only=: IdentitiesOnly yes with identity_file or a
	 * password (default yes). */
	enum mg_flag identities_only;
	/* compression=1: ssh compresses (Compression yes). */
	bool compression;
	/* ssh_path=: the ssh program. NULL: ssh from PATH. */
	const char *ssh_path;
	/* ssh_args=: extra arguments before the host, NULL-terminated, one
	 * word each (quoted in the hop's text so that each stays one word).
	 * NULL: none. */
	const char *const *ssh_args;
	/* ssh_debug_level=: 1, 2, 3 give -v, -vv, -vvv; 0: LogLevel ERROR. */
	unsigned ssh_debug_level;
	/* password_env=: the variable holding the password. */
	const char *password_env;
	/* password_file=: the file holding the password. */
	const char *password_file;
	/* keepalive_enabled=: the ServerAlive options (default yes). */
	enum mg_flag keepalive_enabled;
	/* keepalive_count=: ServerAliveCountMax; 0: the default, 3. */
	unsigned keepalive_count;
	/* keepalive_interval=: ServerAliveInterval in seconds; 0: the
	 * default, 15. */
	unsigned keepalive_interval;
	/* tcp_nodelay=: connect with TCP_NODELAY from the first byte
	 * through mitogen-connect where the ssh_config allows (default
	 * yes). */
	enum mg_flag tcp_nodelay;
	/* image_in_command=: the agent image rides in the remote command
	 * rather than on ssh's stdin, which saves a round trip (default
	 * yes). */
	enum mg_flag image_in_command;
};

/* sudo: become another user with sudo(8). */
struct mg_sudo_opts {
	struct mg_hop_common common;
	/* The user to become. NULL: root (or sudo_args' -u). */
	const char *username;
	/* sudo_path=: the sudo program. NULL: sudo from PATH. */
	const char *sudo_path;
	/* sudo_args=: sudo's own flags (-E, -H, -i, -r ROLE, -t TYPE, -u
	 * USER, their long forms; -S and -n are ignored), NULL-terminated,
	 * one word each. The fields below win over them. */
	const char *const *sudo_args;
	/* set_home=1: sudo -H. */
	bool set_home;
	/* preserve_env=1: sudo -E (not with login). */
	bool preserve_env;
	/* login=1: sudo -i, through the user's login shell. */
	bool login;
	/* selinux_role=: sudo -r ROLE. */
	const char *selinux_role;
	/* selinux_type=: sudo -t TYPE. */
	const char *selinux_type;
	/* password_env=, password_file=: where the master reads the
	 * password; neither: asked (see above) when sudo prompts. */
	const char *password_env;
	const char *password_file;
	/* password_prompt=: the prompt text sudoers' passprompt_override
	 * makes sudo print, recognised as well as the forced one. */
	const char *password_prompt;
	/* incorrect_prompts=: the texts meaning the password was refused,
	 * replacing the defaults; NULL-terminated. NULL: the defaults. */
	const char *const *incorrect_prompts;
};

/* su: become another user with su(1). */
struct mg_su_opts {
	struct mg_hop_common common;
	/* The user to become. NULL: root. */
	const char *username;
	/* su_path=: the su program. NULL: su from PATH. */
	const char *su_path;
	/* As for sudo; password_prompt replaces the recognised prompt. */
	const char *password_env;
	const char *password_file;
	const char *password_prompt;
	const char *const *incorrect_prompts;
};

/* doas: become another user with doas(1). */
struct mg_doas_opts {
	struct mg_hop_common common;
	/* The user to become. NULL: root. */
	const char *username;
	/* doas_path=: the doas program. NULL: doas from PATH. */
	const char *doas_path;
	/* As for su. */
	const char *password_env;
	const char *password_file;
	const char *password_prompt;
	const char *const *incorrect_prompts;
};

/* docker: enter a running container, or run a throw-away one. */
struct mg_docker_opts {
	struct mg_hop_common common;
	/* The container; or NULL with image set. */
	const char *container;
	/* username=: the user inside (docker --user). NULL: the image's. */
	const char *username;
	/* docker_path=: the docker program. NULL: docker from PATH. */
	const char *docker_path;
	/* image=: run a new container from this image (docker run --rm)
	 * instead of entering one; not with container. */
	const char *image;
};

/* podman: enter a running container. */
struct mg_podman_opts {
	struct mg_hop_common common;
	/* The container. Required. */
	const char *container;
	/* username=: the user inside (podman --user). */
	const char *username;
	/* podman_path=: the podman program. NULL: podman from PATH. */
	const char *podman_path;
};

/* buildah: enter a working container. */
struct mg_buildah_opts {
	struct mg_hop_common common;
	/* The container. Required. */
	const char *container;
	/* username=: the user inside (buildah --user). */
	const char *username;
	/* buildah_path=: the buildah program. NULL: buildah from PATH. */
	const char *buildah_path;
};

/* lxc: enter a container with lxc-attach (no user: add a sudo or su hop). */
struct mg_lxc_opts {
	struct mg_hop_common common;
	/* The container. Required. */
	const char *container;
	/* lxc_attach_path=: the lxc-attach program. */
	const char *lxc_attach_path;
};

/* lxd: enter a container with lxc exec (no user either). */
struct mg_lxd_opts {
	struct mg_hop_common common;
	/* The container. Required. */
	const char *container;
	/* lxc_path=: the lxc program. */
	const char *lxc_path;
};

/* jail: enter a FreeBSD jail with jexec. */
struct mg_jail_opts {
	struct mg_hop_common common;
	/* The jail's name or id. Required. */
	const char *jail;
	/* username=: a user of the jail's own password database (-U). */
	const char *username;
	/* jexec_path=: the jexec program. NULL: /usr/sbin/jexec. */
	const char *jexec_path;
};

/* kubectl: a pod (no user: add a sudo or su hop). */
struct mg_kubectl_opts {
	struct mg_hop_common common;
	/* The pod. Required. */
	const char *pod;
	/* container=, namespace=, context=: where the pod is (kubectl
	 * --container, --namespace, --context); NULL: kubectl's default,
	 * "": an error when started. namespace= is kube_namespace, as
	 * "namespace" is a C++ keyword. */
	const char *container;
	const char *kube_namespace;
	const char *context;
	/* kubectl_args=: global flags before "exec" (--kubeconfig=...),
	 * NULL-terminated, one word each. */
	const char *const *kubectl_args;
	/* kubectl_path=: the kubectl program. NULL: kubectl from PATH. */
	const char *kubectl_path;
};

/* setns: enter a container's namespaces directly (needs root at 'via'). */
struct mg_setns_opts {
	struct mg_hop_common common;
	/* What finds the container's leader process: "docker", "lxc",
	 * "lxd" or "machinectl". Required. */
	const char *kind;
	/* The container. Required. */
	const char *container;
	/* username=: a name or uid of the container's /etc/passwd. NULL:
	 * root. */
	const char *username;
	/* The tools of each kind: docker_path=, lxc_path= (lxc info),
	 * lxc_info_path= (lxc-info), machinectl_path=. */
	const char *docker_path;
	const char *lxc_path;
	const char *lxc_info_path;
	const char *machinectl_path;
};

/*
 * Connect 'chain_text' after 'via' (NULL: from the master): exactly one
 * chain, so a ',' between chains or a host list ("web[1-3]", "{a,b}") is
 * refused (MG_ERR_CHAIN, "column 5: ',' separates chains, but one chain
 * is expected here"); aliases of the config file are expanded. The
 * context is the one mg_connect() gives for via's chain, "/" and the
 * text; opts as for mg_connect().
 */
int mg_connect_text(TALLOC_CTX *mem_ctx, struct mg_session *s, struct mg_context *via,
		    const char *chain_text, const struct mg_connect_opts *opts,
		    mg_connect_cb cb, void *data, char **_errmsg);

/* Connect one hop of each method after 'via' (NULL: from the master),
 * described by the method's option struct (see above). */
int mg_connect_local(TALLOC_CTX *mem_ctx, struct mg_session *s, struct mg_context *via,
		     const struct mg_local_opts *o, mg_connect_cb cb, void *data,
		     char **_errmsg);
int mg_connect_fork(TALLOC_CTX *mem_ctx, struct mg_session *s, struct mg_context *via,
		    const struct mg_fork_opts *o, mg_connect_cb cb, void *data, char **_errmsg);
int mg_connect_ssh(TALLOC_CTX *mem_ctx, struct mg_session *s, struct mg_context *via,
		   const struct mg_ssh_opts *o, mg_connect_cb cb, void *data, char **_errmsg);
int mg_connect_sudo(TALLOC_CTX *mem_ctx, struct mg_session *s, struct mg_context *via,
		    const struct mg_sudo_opts *o, mg_connect_cb cb, void *data, char **_errmsg);
int mg_connect_su(TALLOC_CTX *mem_ctx, struct mg_session *s, struct mg_context *via,
		  const struct mg_su_opts *o, mg_connect_cb cb, void *data, char **_errmsg);
int mg_connect_doas(TALLOC_CTX *mem_ctx, struct mg_session *s, struct mg_context *via,
		    const struct mg_doas_opts *o, mg_connect_cb cb, void *data, char **_errmsg);
int mg_connect_docker(TALLOC_CTX *mem_ctx, struct mg_session *s, struct mg_context *via,
		      const struct mg_docker_opts *o, mg_connect_cb cb, void *data,
		      char **_errmsg);
int mg_connect_podman(TALLOC_CTX *mem_ctx, struct mg_session *s, struct mg_context *via,
		      const struct mg_podman_opts *o, mg_connect_cb cb, void *data,
		      char **_errmsg);
int mg_connect_buildah(TALLOC_CTX *mem_ctx, struct mg_session *s, struct mg_context *via,
		       const struct mg_buildah_opts *o, mg_connect_cb cb, void *data,
		       char **_errmsg);
int mg_connect_lxc(TALLOC_CTX *mem_ctx, struct mg_session *s, struct mg_context *via,
		   const struct mg_lxc_opts *o, mg_connect_cb cb, void *data, char **_errmsg);
int mg_connect_lxd(TALLOC_CTX *mem_ctx, struct mg_session *s, struct mg_context *via,
		   const struct mg_lxd_opts *o, mg_connect_cb cb, void *data, char **_errmsg);
int mg_connect_jail(TALLOC_CTX *mem_ctx, struct mg_session *s, struct mg_context *via,
		    const struct mg_jail_opts *o, mg_connect_cb cb, void *data, char **_errmsg);
int mg_connect_kubectl(TALLOC_CTX *mem_ctx, struct mg_session *s, struct mg_context *via,
		       const struct mg_kubectl_opts *o, mg_connect_cb cb, void *data,
		       char **_errmsg);
int mg_connect_setns(TALLOC_CTX *mem_ctx, struct mg_session *s, struct mg_context *via,
		     const struct mg_setns_opts *o, mg_connect_cb cb, void *data,
		     char **_errmsg);

/*
 * The chain each mg_connect_METHOD() call above would connect, without
 * connecting it: via's hops then the new one, allocated on mem_ctx (for
 * mg_dry_run(), or to print its text). Returns 0, or MG_ERR_CHAIN,
 * -EINVAL or -ENOMEM with *_errmsg set on mem_ctx, as those do.
 */
int mg_chain_local(TALLOC_CTX *mem_ctx, const struct mg_context *via,
		   const struct mg_local_opts *o, struct mg_chain **_chain, char **_errmsg);
int mg_chain_fork(TALLOC_CTX *mem_ctx, const struct mg_context *via,
		  const struct mg_fork_opts *o, struct mg_chain **_chain, char **_errmsg);
int mg_chain_ssh(TALLOC_CTX *mem_ctx, const struct mg_context *via,
		 const struct mg_ssh_opts *o, struct mg_chain **_chain, char **_errmsg);
int mg_chain_sudo(TALLOC_CTX *mem_ctx, const struct mg_context *via,
		  const struct mg_sudo_opts *o, struct mg_chain **_chain, char **_errmsg);
int mg_chain_su(TALLOC_CTX *mem_ctx, const struct mg_context *via,
		const struct mg_su_opts *o, struct mg_chain **_chain, char **_errmsg);
int mg_chain_doas(TALLOC_CTX *mem_ctx, const struct mg_context *via,
		  const struct mg_doas_opts *o, struct mg_chain **_chain, char **_errmsg);
int mg_chain_docker(TALLOC_CTX *mem_ctx, const struct mg_context *via,
		    const struct mg_docker_opts *o, struct mg_chain **_chain, char **_errmsg);
int mg_chain_podman(TALLOC_CTX *mem_ctx, const struct mg_context *via,
		    const struct mg_podman_opts *o, struct mg_chain **_chain, char **_errmsg);
int mg_chain_buildah(TALLOC_CTX *mem_ctx, const struct mg_context *via,
		     const struct mg_buildah_opts *o, struct mg_chain **_chain, char **_errmsg);
int mg_chain_lxc(TALLOC_CTX *mem_ctx, const struct mg_context *via,
		 const struct mg_lxc_opts *o, struct mg_chain **_chain, char **_errmsg);
int mg_chain_lxd(TALLOC_CTX *mem_ctx, const struct mg_context *via,
		 const struct mg_lxd_opts *o, struct mg_chain **_chain, char **_errmsg);
int mg_chain_jail(TALLOC_CTX *mem_ctx, const struct mg_context *via,
		  const struct mg_jail_opts *o, struct mg_chain **_chain, char **_errmsg);
int mg_chain_kubectl(TALLOC_CTX *mem_ctx, const struct mg_context *via,
		     const struct mg_kubectl_opts *o, struct mg_chain **_chain, char **_errmsg);
int mg_chain_setns(TALLOC_CTX *mem_ctx, const struct mg_context *via,
		   const struct mg_setns_opts *o, struct mg_chain **_chain, char **_errmsg);

/*
 * Let this process raise its soft limit on open files (RLIMIT_NOFILE),
 * as far as its hard limit allows, whenever a hop it starts would leave
 * few descriptors free: a connected hop holds about four here, so the
 * usual soft limit of 1024 fails a fan-out's hops past the 250th with
 * EMFILE. Every process the library starts from then on (hops, commands)
 * gets back the soft limit this process had at the first call, so
 * commands see the limit their user set. Off until called: a program
 * that uses select(2) must not get descriptors past FD_SETSIZE. For the
 * whole process, as the limit is.
 */
void mg_connect_nofile_auto(void);

#ifdef __cplusplus
}
#endif

#endif
