/*
 * What a command run through a holder gets of its caller (mg_exec_opts
 * inherit). A holder's local, sudo and other same-host hops are its own
 * children: without this, every command through them would run in the
 * holder's directory ("/"), umask and environment, not the caller's.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "inherit.h"
#include "method.h"
#include "mitogen/chain.h"
#include "process.h"
#include "protocol.h"

enum mg_exec_inherit mg_exec_inherits(const struct mg_chain *c)
{
	enum mg_exec_inherit in = MG_EXEC_INHERIT_ALL;

	for (size_t i = 0; c != NULL && i < c->n_hops; i++) {
		const struct mg_hop *h = &c->hops[i];

		if (strcmp(h->method, "local") == 0 || strcmp(h->method, "fork") == 0) {
			continue;
		}
		/* Another user: the directory (su without -, doas and sudo
		 * without -i stay in it); the environment is theirs to filter. */
		if (strcmp(h->method, "su") == 0 || strcmp(h->method, "doas") == 0 ||
		    (strcmp(h->method, "sudo") == 0 && mg__sudo_keeps_cwd(h))) {
			in = MG_EXEC_INHERIT_CWD;
			continue;
		}
		return MG_EXEC_INHERIT_NONE;
	}
	return in;
}

/* Our umask, from /proc without changing it (another thread may be
 * creating files); umask() itself where there is no /proc. */
static mode_t our_umask(void)
{
	FILE *f = fopen("/proc/self/status", "re");
	char line[128];
	unsigned long v;
	mode_t um;

	while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "Umask: %lo", &v) == 1) {
			fclose(f);
			return (mode_t)(v & 0777);
		}
	}
	if (f != NULL) {
		fclose(f);
	}
	um = umask(022);
	umask(um);
	return um;
}

int mg__exec_inherit(TALLOC_CTX *mem_ctx, enum mg_exec_inherit in, const char *const *env,
		     struct mg__exec_req *rq)
{
	static const char *const none[] = { NULL };

	if (in == MG_EXEC_INHERIT_NONE) {
		return 0;
	}
	if (rq->cwd == NULL) {
		/* A directory removed under us: the agent's, as before. */
		char *cwd = getcwd(NULL, 0);
		rq->cwd = cwd != NULL ? talloc_strdup(mem_ctx, cwd) : NULL;
		if (cwd != NULL && rq->cwd == NULL) {
			free(cwd);
			return -ENOMEM;
		}
		free(cwd);
	}
	if (in != MG_EXEC_INHERIT_ALL) {
		return 0;
	}
	/* Less what we keep from our own children (password_env=). */
	rq->env = mg__env_for_children(mem_ctx, env != NULL ? env : none);
	if (rq->env == NULL) {
		return -ENOMEM;
	}
	rq->umask = our_umask();
	rq->flags |= MG_EXEC_UMASK | MG_EXEC_ENV_ALL;
	return 0;
}
