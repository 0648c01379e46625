/*
 * The exec events the master reads from the agent running a command
 * (mg__exec_event_decode in lib/svc/exec.c): u8 type, then STARTED 5 x u32,
 * EXITED u32, FAILED u32 errno and str message. What is accepted must
 * encode back to the bytes read.
 *
 * Input: the payload.
 */
#include "fuzz.h"
#include "buf.h"
#include "exec-event.h"
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
	uint32_t v[5] = { 0 };
	uint8_t type;
	char *what;
	struct mg_buf *b = mg__buf_new(ctx, size + 16);

	FUZZ_CHECK(b != NULL);
	if (mg__exec_event_decode(ctx, data, size, &type, v, &what) == 0) {
		FUZZ_CHECK(size >= 1 && type == data[0]);
		FUZZ_CHECK(mg__buf_put_u8(b, type) == 0);
		switch (type) {
		case MG_EXEC_EV_STARTED:
			for (int i = 0; i < 5; i++) {
				FUZZ_CHECK(mg__buf_put_u32(b, v[i]) == 0);
			}
			FUZZ_CHECK(what == NULL);
			break;
		case MG_EXEC_EV_EXITED:
			FUZZ_CHECK(mg__buf_put_u32(b, v[0]) == 0);
			FUZZ_CHECK(what == NULL);
			break;
		case MG_EXEC_EV_FAILED:
			FUZZ_CHECK(mg__buf_put_u32(b, v[0]) == 0);
			FUZZ_CHECK(mg__buf_put_str(b, what) == 0);
			break;
		default:
			FUZZ_CHECK(what == NULL);
			break;
		}
		FUZZ_CHECK(b->len <= size && memcmp(b->data, data, b->len) == 0);
	}
	talloc_free(ctx);
	FUZZ_LEAKS_END;
	return 0;
}
