/*
 * The exec events the master reads from the agent running a command, and
 * the requests and control messages the agent reads (lib/svc/svc-exec.c): u8 type, then
 * STARTED 5 x u32, EXITED u32, FAILED u32 errno, str message [, u32
 * status]; control u32 op [, u32 rows, u32 cols]. What is accepted must
 * encode back to the bytes read.
 *
 * Input: the payload.
 */
#include "fuzz.h"
#include "buf.h"
#include "svc-exec.h"
#include "protocol.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fz_quiet_logs();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FUZZ_LEAKS_BEGIN;
	TALLOC_CTX *ctx = talloc_new(NULL);
	struct mg__exec_event ev;
	struct mg__exec_ctl c;
	struct mg__exec_req rq, rq2;
	struct mg_buf *b = mg__buf_new(ctx, size + 16);

	FUZZ_CHECK(b != NULL);
	if (mg__exec_event_decode(ctx, data, size, &ev) == 0) {
		FUZZ_CHECK(size >= 1 && ev.type == data[0]);
		FUZZ_CHECK(ev.type == MG_EXEC_EV_FAILED || ev.what == NULL);
		FUZZ_CHECK(mg__exec_event_encode(b, &ev) == 0);
		/* A FAILED status of 0 is the same as none. */
		FUZZ_CHECK(b->len <= size && memcmp(b->data, data, b->len) == 0);
	}
	if (mg__exec_req_decode(ctx, data, size, &rq) == 0) {
		/* What is accepted encodes, and decodes again to the same. */
		struct mg_buf *b2 = mg__buf_new(ctx, size + 64);
		FUZZ_CHECK(b2 != NULL && rq.argv != NULL && rq.argv[0] != NULL);
		FUZZ_CHECK(mg__exec_req_encode(b2, &rq) == 0);
		FUZZ_CHECK(mg__exec_req_decode(ctx, b2->data, b2->len, &rq2) == 0);
		FUZZ_CHECK(rq2.flags == rq.flags && rq2.join_id == rq.join_id &&
			   rq2.image_size == rq.image_size && strcmp(rq2.argv[0], rq.argv[0]) == 0);
	}
	if (mg__exec_ctl_decode(data, size, &c) == 0) {
		uint8_t p[12];
		size_t n = mg__exec_ctl_encode(p, &c);
		FUZZ_CHECK(c.op != 0 && n <= size && memcmp(p, data, n) == 0);
	}
	talloc_free(ctx);
	FUZZ_LEAKS_END;
	return 0;
}
