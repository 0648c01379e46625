/* --dry-run: each hop's argv as a connect would build it, nothing run
 * (mitogen/session.h). Which agent a first hop gets, and whether its sudo
 * hop runs in its command, is decided as a run decides it (plan.h). */
#include <errno.h>
#include <talloc.h>
#include "boot.h"
#include "conn.h"
#include "method.h"
#include "mitogen/error.h"
#include "mitogen/session.h"
#include "plan.h"

/* What every chain of one dry run shares: the images, read once, and the
 * chains given, noted before any line is made. */
struct dry {
	struct mg_image *img;
	bool exec_only;
	bool leaf;          /* opts->leaf */
	struct mg_plan plan;
};

/* The argv of hop i, or for i 0 with *_fused set that of the ssh hop
 * running the sudo hop (hop 1) in its command. */
static int hop_argv(TALLOC_CTX *tmp, struct dry *d, const struct mg_chain *chain, size_t i,
		    bool *_fused, char ***_argv, char **_err)
{
	const struct mg_image *img = d->img, *lite;
	const char *first;
	bool direct;
	int ret;

	if (i == 0) {
		/* The exec-only agent, or the leaf one (session.c's choice). */
		lite = mg__plan_exec_image(d->img, chain, d->leaf);
		if ((first = mg_chain_prefix(tmp, chain, 1)) == NULL) {
			return -ENOMEM;
		}
		if (mg__plan_fused(&d->plan, chain, d->exec_only, first) && lite != NULL) {
			ret = mg__conn_argv_fused(tmp, &chain->hops[0], &chain->hops[1], lite,
						  d->img, _argv, _err);
			if (ret != -ENOTSUP) {
				*_fused = ret == 0;
				return ret;
			}
		}
		if (mg__plan_lite(&d->plan, chain, d->exec_only, first) && lite != NULL) {
			img = lite;
		}
	}
	return mg__conn_argv(tmp, &chain->hops[i], img, 0, _argv, &direct, _err);
}

/* The lines of one chain: one per process a run would start. */
static int dry_run_chain(TALLOC_CTX *mem_ctx, struct dry *d, const struct mg_chain *chain,
			 char ***_lines, char **_errmsg)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	char **lines;
	size_t n = 0;
	bool fused = false;
	int ret = 0;

	if (tmp == NULL) {
		return -ENOMEM;
	}
	lines = talloc_zero_array(tmp, char *, chain->n_hops + 1);
	for (size_t i = 0; lines != NULL && i < chain->n_hops; i++) {
		char **argv = NULL;
		char *err = NULL;
		unsigned ms;
		bool given;
		/* What a run would refuse (start_ctx), --dry-run refuses too. */
		ret = mg__hop_seconds(tmp, &chain->hops[i], "connect_timeout", &ms, &given, &err);
		if (ret == 0 && !(fused && i == 1)) {
			ret = hop_argv(tmp, d, chain, i, &fused, &argv, &err);
		}
		if (ret != 0) {
			*_errmsg = talloc_asprintf(mem_ctx, "%s: %s", chain->hops[i].text,
						   err != NULL ? err : mg_strerror(ret));
			goto done;
		}
		if (argv == NULL) {
			/* The sudo hop, started by the ssh hop's line. */
			continue;
		}
		lines[n] = talloc_asprintf(lines, "%s: %s", mg_chain_prefix(tmp, chain, fused ? 2 : i + 1),
					   mg__shell_join(tmp, (const char *const *)argv));
		if (lines[n++] == NULL) {
			lines = NULL;
		}
	}
	if (lines == NULL) {
		ret = -ENOMEM;
		goto done;
	}
	*_lines = talloc_steal(mem_ctx, lines);
done:
	talloc_free(tmp);
	return ret;
}

/* A dry run of n chains on tmp, every chain noted; an error message goes
 * on mem_ctx. */
static int dry_new(TALLOC_CTX *mem_ctx, TALLOC_CTX *tmp, const struct mg_chain *chains, size_t n,
		   const struct mg_connect_opts *opts, struct dry **_d, char **_errmsg)
{
	struct dry *d = tmp != NULL ? talloc_zero(tmp, struct dry) : NULL;
	int ret;

	if (d == NULL) {
		return -ENOMEM;
	}
	d->exec_only = opts != NULL && opts->exec_only;
	d->leaf = d->exec_only && opts->leaf;
	if ((ret = mg__image_load(d, &d->img, _errmsg)) != 0) {
		if (*_errmsg != NULL) {
			*_errmsg = talloc_steal(mem_ctx, *_errmsg);
		}
		return ret;
	}
	for (size_t c = 0; c < n; c++) {
		if ((ret = mg__plan_note(d, &d->plan, &chains[c], d->exec_only)) != 0) {
			return ret;
		}
	}
	*_d = d;
	return 0;
}

int mg_dry_run_list(TALLOC_CTX *mem_ctx, const struct mg_chain *chains, size_t n,
		    const struct mg_connect_opts *opts, int (*line)(void *data, const char *text),
		    void *data, char **_errmsg)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	struct dry *d = NULL;
	int ret;

	if ((ret = dry_new(mem_ctx, tmp, chains, n, opts, &d, _errmsg)) != 0) {
		goto done;
	}
	for (size_t c = 0; ret == 0 && c < n; c++) {
		char **lines = NULL;

		ret = dry_run_chain(mem_ctx, d, &chains[c], &lines, _errmsg);
		for (size_t i = 0; ret == 0 && lines[i] != NULL; i++) {
			ret = line(data, lines[i]);
		}
		talloc_free(lines);
	}
done:
	talloc_free(tmp);
	return ret;
}

int mg_dry_run(TALLOC_CTX *mem_ctx, const struct mg_chain *chain,
	       const struct mg_connect_opts *opts, char ***_lines, char **_errmsg)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	struct dry *d = NULL;
	int ret;

	if ((ret = dry_new(mem_ctx, tmp, chain, 1, opts, &d, _errmsg)) == 0) {
		ret = dry_run_chain(mem_ctx, d, chain, _lines, _errmsg);
	}
	talloc_free(tmp);
	return ret;
}
