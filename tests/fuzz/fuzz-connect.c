/*
 * The CONNECT request an agent reads (mg__connect_decode in
 * lib/svc/svc-connect.c): u32 new id, u32 timeout, str name, the hop (str
 * method, spec, user, host, u32 port, str text, u32 n, n x (str key, str
 * value)), then an optional str password. What is accepted must encode
 * back to the bytes read; a hop of a known method then goes through its
 * argv builder, as the agent's connection does before it spawns anything.
 *
 * Input: the payload.
 */
#include "fuzz.h"
#include "boot.h"
#include "buf.h"
#include "conn.h"
#include "method.h"
#include "svc-connect.h"

static uint8_t image_bytes[64];
static const struct mg_image image = { image_bytes, sizeof(image_bytes), NULL };

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fz_quiet_logs();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FUZZ_LEAKS_BEGIN;
	TALLOC_CTX *ctx = talloc_new(NULL);
	struct mg__connect_req rq;
	char *errmsg = NULL, **argv = NULL;
	struct mg_hop *hop;
	struct mg_buf *b;
	bool direct;

	if (mg__connect_decode(ctx, data, size, &rq) == 0) {
		hop = rq.hop;
		FUZZ_CHECK(rq.name != NULL && hop != NULL);
		FUZZ_CHECK(hop->method != NULL && hop->spec != NULL && hop->text != NULL);
		FUZZ_CHECK(hop->port >= 0 && hop->port <= 65535);
		for (size_t i = 0; i < hop->n_opts; i++) {
			FUZZ_CHECK(hop->opts[i].key != NULL && hop->opts[i].value != NULL);
		}
		FUZZ_CHECK(hop->opts[hop->n_opts].key == NULL);
		b = mg__buf_new(ctx, size + 16);
		FUZZ_CHECK(b != NULL);
		/* The encoder always writes the password, null when none came. */
		FUZZ_CHECK(mg__connect_encode(b, &rq) == 0);
		FUZZ_CHECK(b->len >= 4 && (rq.password != NULL ? b->len : b->len - 4) <= size);
		FUZZ_CHECK(memcmp(b->data, data, rq.password != NULL ? b->len : b->len - 4) == 0);
		if (mg__method_find(hop->method) != NULL) {
			if (mg__conn_argv(ctx, hop, &image, 0, &argv, &direct, &errmsg) == 0) {
				FUZZ_CHECK(argv != NULL && argv[0] != NULL);
			} else {
				FUZZ_CHECK(errmsg != NULL);
			}
		}
	}
	talloc_free(ctx);
	FUZZ_LEAKS_END;
	return 0;
}
