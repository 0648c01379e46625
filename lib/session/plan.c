/* Which agent each first hop gets, and where sudo runs: see plan.h. */
#include <errno.h>
#include <string.h>
#include "boot.h"
#include "method.h"
#include "names.h"
#include "plan.h"

static int add(TALLOC_CTX *owner, struct mg_names **set, const char *name)
{
	if (*set == NULL && (*set = mg__names_new(owner)) == NULL) {
		return -ENOMEM;
	}
	return mg__names_add(*set, name);
}

/* Whether CHAIN, as given, could have its sudo hop run in its ssh hop's
 * command: "ssh:H/sudo" for root, without a login shell, and without a
 * password given by option (its CONNECT could not ride in a command). */
static bool chain_fits(const struct mg_chain *chain, bool exec_only)
{
	const struct mg_hop *sudo = chain->n_hops == 2 ? &chain->hops[1] : NULL;
	TALLOC_CTX *tmp;
	char **words = NULL;
	bool ok;

	if (!exec_only || sudo == NULL || strcmp(chain->hops[0].method, "ssh") != 0 ||
	    strcmp(sudo->method, "sudo") != 0 || mg_hop_opt(sudo, "password_env") != NULL ||
	    mg_hop_opt(sudo, "password_file") != NULL) {
		return false;
	}
	tmp = talloc_new(NULL);
	ok = tmp != NULL && mg__sudo_fuse_words(tmp, sudo, &words) == 0;
	talloc_free(tmp);
	return ok;
}

/* Sudo in the command: a first hop named by one "ssh:H/sudo" chain and
 * by no other chain. */
static int note_fuse(TALLOC_CTX *owner, struct mg_plan *p, const struct mg_chain *chain,
		     bool exec_only, const char *first)
{
	char *full = chain->n_hops >= 2 ? mg_chain_prefix(NULL, chain, 2) : NULL;
	int ret;

	if (chain->n_hops >= 2 && full == NULL) {
		ret = -ENOMEM;
	} else if (!chain_fits(chain, exec_only)) {
		ret = add(owner, &p->unfused, first);
	} else if (p->fuse_firsts != NULL && mg__names_has(p->fuse_firsts, first) &&
		   !mg__names_has(p->fuse_chains, full)) {
		/* Two sudo hops below one ssh hop: only one could run in
		 * its command. */
		ret = add(owner, &p->unfused, first);
	} else {
		ret = add(owner, &p->fuse_firsts, first);
		ret = ret == 0 ? add(owner, &p->fuse_chains, full) : ret;
	}
	talloc_free(full);
	return ret;
}

int mg__plan_note(TALLOC_CTX *owner, struct mg_plan *p, const struct mg_chain *chain,
		  bool exec_only)
{
	char *first = mg_chain_prefix(NULL, chain, 1);
	int ret = first != NULL ? 0 : -ENOMEM;

	/* A chain that goes on below its first hop, or was not given
	 * exec_only, needs the whole agent there: only first hops may get
	 * the exec-only one, so their names alone are kept. */
	if (ret == 0 && (!exec_only || chain->n_hops >= 2)) {
		ret = add(owner, &p->whole, first);
	}
	if (ret == 0) {
		ret = note_fuse(owner, p, chain, exec_only, first);
	}
	talloc_free(first);
	return ret;
}

bool mg__plan_lite(const struct mg_plan *p, const struct mg_chain *chain, bool exec_only,
		   const char *first)
{
	const struct mg_method *m = mg__method_find(chain->hops[0].method);

	/* A fork runs our own agent code, whatever the image. */
	return exec_only && chain->n_hops == 1 && (m == NULL || !m->fork) &&
	       (p->whole == NULL || !mg__names_has(p->whole, first));
}

bool mg__plan_fused(const struct mg_plan *p, const struct mg_chain *chain, bool exec_only,
		    const char *first)
{
	return chain_fits(chain, exec_only) && p->fuse_firsts != NULL &&
	       mg__names_has(p->fuse_firsts, first) &&
	       (p->unfused == NULL || !mg__names_has(p->unfused, first));
}

static bool leaf_fits(const struct mg_chain *chain, bool leaf)
{
	const struct mg_hop *hop = &chain->hops[0];
	char *err = NULL;
	bool first_stage = false;

	if (!leaf || strcmp(hop->method, "sudo") == 0 || strcmp(hop->method, "doas") == 0) {
		return false;
	}
	if (strcmp(hop->method, "local") != 0) {
		return true;
	}
	if (mg__hop_bool(NULL, hop, "first_stage", false, &first_stage, &err) != 0) {
		talloc_free(err);
		return false;
	}
	return first_stage;
}

const struct mg_image *mg__plan_exec_image(struct mg_image *full, const struct mg_chain *chain,
					   bool leaf)
{
	const struct mg_image *lite = mg__image_lite(full), *leaf_img;

	/* No exec-only agent (MITOGEN_AGENT_LITE set but empty): no leaf. */
	if (lite != NULL && leaf_fits(chain, leaf) && (leaf_img = mg__image_leaf(full)) != NULL) {
		return leaf_img;
	}
	return lite;
}
