/*
 * The prompt engine (lib/hop/prompt.c) with the patterns of every method that
 * prompts, fed what a hop prints before its agent is up the way lib/hop/conn.c
 * feeds it: whole lines (ended by '\n' or '\r', cut at 512 bytes) to
 * mg__prompt_line, and after each read the partial line so far to
 * mg__prompt_partial, dropped once acted on.
 *
 * Checked: a password is sent only when there is one, asked for only when
 * there is none, at most once before a failure; a failure has a message.
 *
 * Input: u8 hop (index into the table below), u8 flags (bit 0: a password
 * is at hand), then records of u8 read size and that many bytes.
 *
 * The same input (up to its first NUL) is also compiled as a pattern by
 * the matcher (lib/hop/match.c) and, when it compiles, searched for in the
 * whole input: no pattern may crash it or leak.
 */
#include "fuzz.h"
#include "match.h"
#include "method.h"
#include "mitogen/chain.h"
#include "prompt.h"

static const char *const hops[] = {
	"sudo:root", "su:root", "doas:root", "ssh:web1", "ssh:web1?check_host_keys=accept",
	"sudo:root?password_prompt=Secret%20word",
	"su:root?incorrect_prompts=nope&incorrect_prompts='go away'",
	"ssh:web1?password_env=PW", "doas:root?password_prompt=Secret",
};
#define N_HOPS (sizeof(hops) / sizeof(hops[0]))

static struct mg_chain_list *chains[N_HOPS];

struct feed {
	struct mg_prompt_engine *e;
	bool have;
	int sent;
	bool failed;
};

static void check(struct feed *fd, enum mg_prompt_action a, int err, const char *msg)
{
	switch (a) {
	case MG_PROMPT_NONE:
	case MG_PROMPT_SEND_YES:
		break;
	case MG_PROMPT_SEND_PASSWORD:
		FUZZ_CHECK(fd->have);
		FUZZ_CHECK(fd->sent++ == 0);
		break;
	case MG_PROMPT_NEED_PASSWORD:
		FUZZ_CHECK(!fd->have);
		break;
	case MG_PROMPT_FAIL:
		FUZZ_CHECK(err != 0 && msg != NULL && msg[0] != '\0');
		fd->failed = true;
		break;
	default:
		FUZZ_CHECK(!"an action out of range");
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fz_quiet_logs();
	for (size_t i = 0; i < N_HOPS; i++) {
		char *err = NULL;
		if (mg_chain_parse(NULL, hops[i], &chains[i], &err) != 0) {
			fprintf(stderr, "%s: %s\n", hops[i], err);
			abort();
		}
	}
	return 0;
}

static void self_pattern(TALLOC_CTX *ctx, const uint8_t *data, size_t size)
{
	char *pattern = talloc_strndup(ctx, (const char *)data, size < 512 ? size : 512);
	struct mg__re *re = NULL;
	char *errmsg = NULL;

	int ret = pattern != NULL ? mg__re_compile(ctx, pattern, &re, &errmsg) : -ENOMEM;

	if (ret == 0) {
		(void)mg__re_search(re, (const char *)data, size);
	}
	FUZZ_CHECK(ret != -EINVAL || errmsg != NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FUZZ_LEAKS_BEGIN;
	struct fz f = { data, size };
	TALLOC_CTX *ctx = talloc_new(NULL);
	const struct mg_hop *hop = &chains[fz_u8(&f) % N_HOPS]->chains[0].hops[0];
	const struct mg_method *m = mg__method_find(hop->method);
	struct feed fd = { 0 };
	struct mg_prompts *p = NULL;
	char *errmsg = NULL, line[512];
	size_t len = 0;

	fd.have = (fz_u8(&f) & 1) != 0;
	FUZZ_CHECK(m != NULL && m->prompts != NULL);
	FUZZ_CHECK(m->prompts(ctx, hop, &p, &errmsg) == 0);
	FUZZ_CHECK(mg__prompt_new(ctx, p, &fd.e, &errmsg) == 0);
	mg__prompt_set_have_password(fd.e, fd.have);
	while (!fz_empty(&f) && !fd.failed) {
		size_t n = fz_u8(&f);
		int err = 0;
		const char *msg = NULL;
		enum mg_prompt_action a;

		for (size_t i = 0; i < n && !fz_empty(&f) && !fd.failed; i++) {
			uint8_t c = fz_u8(&f);
			if (c == '\n' || c == '\r' || len == sizeof(line)) {
				if (len > 0) {
					a = mg__prompt_line(fd.e, line, len, &err, &msg);
					check(&fd, a, err, msg);
				}
				len = 0;
				if (c == '\n' || c == '\r') {
					continue;
				}
			}
			line[len++] = (char)c;
		}
		if (len > 0 && !fd.failed) {
			a = mg__prompt_partial(fd.e, line, len, &err, &msg);
			check(&fd, a, err, msg);
			if (a != MG_PROMPT_NONE) {
				len = 0;
			}
		}
	}
	self_pattern(ctx, data, size);
	talloc_free(ctx);
	FUZZ_LEAKS_END;
	return 0;
}
