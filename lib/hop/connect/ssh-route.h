/*
 * How ssh would reach a host, read from its config files without running
 * `ssh -G` (which costs an ssh start on the way of a cold hop): whether
 * ssh opens the TCP connection itself, so that mitogen-connect may open
 * it instead (lib/hop/connect/ssh.c), whether the config hands it to
 * something else (ProxyCommand, ProxyJump, a bind address,
 * canonicalization), or whether this reader cannot tell.
 */
#ifndef MG_SSH_ROUTE_H
#define MG_SSH_ROUTE_H

#include <stddef.h>

enum mg_ssh_route {
	MG_SSH_ROUTE_UNSURE,  /* ask ssh -G */
	MG_SSH_ROUTE_HELPER,  /* ssh would connect itself: the helper may */
	MG_SSH_ROUTE_SSH,     /* ssh's config has its own way: leave it */
};

/* For MG_SSH_ROUTE_HELPER: where, ConnectTimeout and AddressFamily. */
struct mg_ssh_direct {
	char host[256];       /* HostName, its tokens put in */
	char port[8];
	char timeout[8];      /* seconds, "0": none */
	char family[8];       /* any, inet, inet6 */
	/* ssh runs $SHELL for the helper alone: no LocalCommand applies,
	 * no SendEnv pattern takes SHELL, no Match (exec) anywhere. */
	bool own_shell;
};

/*
 * words: ssh's options (argv[1..n], without the host and command); host:
 * as given to ssh. Reads the files ssh would read (-F, else ~/.ssh/config
 * and /etc/ssh/ssh_config, with their Includes) for what applies to host.
 */
enum mg_ssh_route mg__ssh_route(const char *const *words, size_t n, const char *host,
				struct mg_ssh_direct *d);

#endif
