/*
 * The config parser (lib/chain/chain-config.c): the file named by
 * $MITOGEN_CONFIG, loaded directly (mg__config_load) and through a target
 * text that names its aliases (mg_chain_parse), so aliases naming aliases,
 * cycles and bad chain texts inside aliases are reached too.
 *
 * Checked: a load fails with a message or succeeds; an alias found has
 * its name, text and line; a parse fails with a message or gives chains.
 *
 * Input: a target text (up to the first '\n'), then the file.
 */
#include <sys/mman.h>
#include "fuzz.h"
#include "chain-private.h"
#include "mitogen/chain.h"

static int cfg_fd = -1;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char path[64];

	fz_quiet_logs();
	cfg_fd = memfd_create("fuzz-config", MFD_CLOEXEC);
	FUZZ_CHECK(cfg_fd >= 0);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", cfg_fd);
	setenv("MITOGEN_CONFIG", path, 1);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FUZZ_LEAKS_BEGIN;
	TALLOC_CTX *ctx = talloc_new(NULL);
	const uint8_t *nl = memchr(data, '\n', size);
	size_t tlen = nl != NULL ? (size_t)(nl - data) : size;
	char *text = talloc_strndup(ctx, (const char *)data, tlen);
	const uint8_t *file = nl != NULL ? nl + 1 : data + size;
	size_t flen = (size_t)(data + size - file);
	struct mg__config *cfg = NULL;
	struct mg_chain_list *list = NULL;
	char *err = NULL;

	FUZZ_CHECK(text != NULL);
	FUZZ_CHECK(ftruncate(cfg_fd, 0) == 0);
	FUZZ_CHECK(pwrite(cfg_fd, file, flen, 0) == (ssize_t)flen);
	if (mg__config_load(ctx, &cfg, &err) == 0) {
		/* The target text's first word, as an alias name. */
		size_t wl = strcspn(text, "/:?[{");
		const struct mg__alias *a = mg__config_alias(cfg, text, wl);
		if (a != NULL) {
			FUZZ_CHECK(a->name != NULL && a->text != NULL && a->file != NULL);
			FUZZ_CHECK(strlen(a->name) == wl && a->line >= 1);
		}
	} else {
		FUZZ_CHECK(err != NULL && err[0] != '\0');
	}
	err = NULL;
	if (mg_chain_parse(ctx, text, &list, &err) == 0) {
		FUZZ_CHECK(list != NULL && list->n_chains >= 1);
	} else {
		FUZZ_CHECK(err != NULL && err[0] != '\0');
	}
	talloc_free(ctx);
	FUZZ_LEAKS_END;
	return 0;
}
