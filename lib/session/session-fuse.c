/*
 * Which first hops run sudo in their own command (docs/PROTOCOL.md 2.3.3):
 * an ssh hop whose only chain is "ssh:HOST/sudo", given exec_only. Any
 * other chain that names that ssh hop needs an agent of the login user
 * there, and so the hop as usual.
 */
#include <errno.h>
#include <string.h>
#include "method.h"
#include "names.h"
#include "session.h"

/* Whether CHAIN, as given, could have its sudo hop run in its ssh hop's
 * command. */
static bool chain_fits(const struct mg_chain *chain, bool exec_only)
{
	TALLOC_CTX *tmp;
	char **words = NULL;
	bool ok;

	if (!exec_only || chain->n_hops != 2 || strcmp(chain->hops[0].method, "ssh") != 0 ||
	    strcmp(chain->hops[1].method, "sudo") != 0) {
		return false;
	}
	/* A password given says sudo will ask for it: sudo -n would only
	 * cost the whole agent a round trip later. */
	if (mg_hop_opt(&chain->hops[1], "password_env") != NULL ||
	    mg_hop_opt(&chain->hops[1], "password_file") != NULL) {
		return false;
	}
	tmp = talloc_new(NULL);
	ok = tmp != NULL && mg__sudo_fuse_words(tmp, &chain->hops[1], &words) == 0;
	talloc_free(tmp);
	return ok;
}

static int add(struct mg_session *s, struct mg_names **set, const char *name)
{
	if (*set == NULL && (*set = mg__names_new(s)) == NULL) {
		return -ENOMEM;
	}
	return mg__names_add(*set, name);
}

int mg__fuse_note(struct mg_session *s, const struct mg_chain *chain, bool exec_only)
{
	char *first = mg_chain_prefix(NULL, chain, 1);
	char *full = chain->n_hops >= 2 ? mg_chain_prefix(first, chain, 2) : NULL;
	int ret;

	if (first == NULL || (chain->n_hops >= 2 && full == NULL)) {
		ret = -ENOMEM;
	} else if (!chain_fits(chain, exec_only)) {
		ret = add(s, &s->unfused, first);
	} else if (s->fuse_firsts != NULL && mg__names_has(s->fuse_firsts, first) &&
		   !mg__names_has(s->fuse_chains, full)) {
		/* Two sudo hops below one ssh hop: only one could run in
		 * its command. */
		ret = add(s, &s->unfused, first);
	} else {
		ret = add(s, &s->fuse_firsts, first);
		ret = ret == 0 ? add(s, &s->fuse_chains, full) : ret;
	}
	talloc_free(first);
	return ret;
}

bool mg__fuse_wanted(const struct mg_session *s, const struct mg_chain *chain, bool exec_only,
		     const char *first)
{
	return chain_fits(chain, exec_only) && s->fuse_firsts != NULL &&
	       mg__names_has(s->fuse_firsts, first) &&
	       (s->unfused == NULL || !mg__names_has(s->unfused, first));
}
