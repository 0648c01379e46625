/* --dry-run: each hop's argv as a connect would build it, nothing run
 * (mitogen/session.h). */
#include <errno.h>
#include <talloc.h>
#include "boot.h"
#include "conn.h"
#include "method.h"
#include "mitogen/error.h"
#include "mitogen/session.h"

/* The lines of one chain, with the image loaded already. */
static int dry_run_chain(TALLOC_CTX *mem_ctx, const struct mg_image *img, const struct mg_chain *chain,
			 char ***_lines, char **_errmsg)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	char **lines;
	int ret = 0;

	if (tmp == NULL) {
		return -ENOMEM;
	}
	lines = talloc_zero_array(tmp, char *, chain->n_hops + 1);
	for (size_t i = 0; lines != NULL && i < chain->n_hops; i++) {
		char **argv = NULL;
		char *err = NULL;
		unsigned ms;
		bool direct, given;
		/* What a run would refuse (start_ctx), --dry-run refuses too. */
		ret = mg__hop_seconds(tmp, &chain->hops[i], "connect_timeout", &ms, &given, &err);
		if (ret == 0) {
			ret = mg__conn_argv(tmp, &chain->hops[i], img, 0, &argv, &direct, &err);
		}
		if (ret != 0) {
			*_errmsg = talloc_asprintf(mem_ctx, "%s: %s", chain->hops[i].text,
						   err != NULL ? err : mg_strerror(ret));
			goto done;
		}
		lines[i] = talloc_asprintf(lines, "%s: %s", mg_chain_prefix(tmp, chain, i + 1),
					   mg__shell_join(tmp, (const char *const *)argv));
		if (lines[i] == NULL) {
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

/* The agent image on tmp, which the argv of most methods names; an
 * error message goes on mem_ctx. */
static int load(TALLOC_CTX *mem_ctx, TALLOC_CTX *tmp, struct mg_image **_img, char **_errmsg)
{
	int ret;

	if (tmp == NULL) {
		return -ENOMEM;
	}
	if ((ret = mg__image_load(tmp, _img, _errmsg)) != 0 && *_errmsg != NULL) {
		*_errmsg = talloc_steal(mem_ctx, *_errmsg);
	}
	return ret;
}

int mg_dry_run_list(TALLOC_CTX *mem_ctx, const struct mg_chain *chains, size_t n,
		    int (*line)(void *data, const char *text), void *data, char **_errmsg)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	struct mg_image *img = NULL;
	int ret;

	if ((ret = load(mem_ctx, tmp, &img, _errmsg)) != 0) {
		goto done;
	}
	for (size_t c = 0; ret == 0 && c < n; c++) {
		char **lines = NULL;

		ret = dry_run_chain(mem_ctx, img, &chains[c], &lines, _errmsg);
		for (size_t i = 0; ret == 0 && lines[i] != NULL; i++) {
			ret = line(data, lines[i]);
		}
		talloc_free(lines);
	}
done:
	talloc_free(tmp);
	return ret;
}

int mg_dry_run(TALLOC_CTX *mem_ctx, const struct mg_chain *chain, char ***_lines, char **_errmsg)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	struct mg_image *img = NULL;
	int ret;

	if ((ret = load(mem_ctx, tmp, &img, _errmsg)) == 0) {
		ret = dry_run_chain(mem_ctx, img, chain, _lines, _errmsg);
	}
	talloc_free(tmp);
	return ret;
}
