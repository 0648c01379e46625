/*
 * The chain parser (lib/chain*.c, mg_chain_parse) on any target text,
 * host lists included, and the display names the reporter makes for the
 * chains it gives (mg_report_names). No config file is read.
 *
 * Checked on success: every chain has 1 to MG_CHAIN_MAX_HOPS hops of a
 * known method; its canonical text parses back to one chain of the same
 * text; its prefixes are prefixes of that text; the names are unique and
 * free of ':', '/' and whitespace. On failure: a message.
 *
 * Input: the text (up to its first NUL).
 */
#include "fuzz.h"
#include "chain-private.h"
#include "method.h"
#include "mitogen/chain.h"
#include "report.h"

#define CHECK_CHAINS 8    /* chains re-parsed per input */
#define NAMES_MAX 300     /* chains named per input */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fz_quiet_logs();
	setenv("MITOGEN_CONFIG", "", 1);
	return 0;
}

static void check_chain(TALLOC_CTX *ctx, const struct mg_chain *c)
{
	struct mg_chain_list *again = NULL;
	char *err = NULL;

	FUZZ_CHECK(c->n_hops >= 1 && c->n_hops <= MG_CHAIN_MAX_HOPS);
	FUZZ_CHECK(c->text != NULL && c->text[0] != '\0');
	for (size_t i = 0; i < c->n_hops; i++) {
		const struct mg_hop *h = &c->hops[i];
		char *pre;
		FUZZ_CHECK(h->method != NULL && mg__method_find(h->method) != NULL);
		FUZZ_CHECK(h->spec != NULL && h->text != NULL);
		FUZZ_CHECK(h->port >= 0 && h->port <= 65535);
		pre = mg_chain_prefix(ctx, c, i + 1);
		FUZZ_CHECK(pre != NULL && strncmp(c->text, pre, strlen(pre)) == 0);
	}
	if (mg_chain_parse(ctx, c->text, &again, &err) != 0) {
		fprintf(stderr, "canonical text '%s' does not parse: %s\n", c->text, err);
		abort();
	}
	FUZZ_CHECK(again->n_chains == 1);
	if (strcmp(again->chains[0].text, c->text) != 0) {
		fprintf(stderr, "canonical text '%s' parses as '%s'\n", c->text, again->chains[0].text);
		abort();
	}
	FUZZ_CHECK(again->chains[0].n_hops == c->n_hops);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FUZZ_LEAKS_BEGIN;
	TALLOC_CTX *ctx = talloc_new(NULL);
	char *text = talloc_strndup(ctx, (const char *)data, size);
	struct mg_chain_list *list = NULL;
	char *err = NULL;

	FUZZ_CHECK(text != NULL);
	if (mg_chain_parse(ctx, text, &list, &err) == 0) {
		FUZZ_CHECK(list != NULL && list->n_chains >= 1 &&
			   list->n_chains <= MG_CHAIN_MAX_CHAINS);
		for (size_t i = 0; i < list->n_chains && i < CHECK_CHAINS; i++) {
			check_chain(ctx, &list->chains[i]);
		}
		if (list->n_chains <= NAMES_MAX) {
			char **names = mg_report_names(ctx, list->chains, list->n_chains);
			FUZZ_CHECK(names != NULL);
			for (size_t i = 0; i < list->n_chains; i++) {
				FUZZ_CHECK(names[i] != NULL && names[i][0] != '\0');
				FUZZ_CHECK(strpbrk(names[i], ":/ \t\n\r\v\f") == NULL);
				for (size_t j = 0; j < i; j++) {
					FUZZ_CHECK(strcmp(names[i], names[j]) != 0);
				}
			}
			FUZZ_CHECK(names[list->n_chains] == NULL);
		}
	} else {
		FUZZ_CHECK(err != NULL && err[0] != '\0');
	}
	talloc_free(ctx);
	FUZZ_LEAKS_END;
	return 0;
}
