/*
 * The agent stubs' decoders (cmd/agent-stub/unlzma.c, and uninflate.c with
 * lib/core/inflate.c for the exec-only agent) on any payload:
 * a bit flip on the way must give an error, never a read or write out of
 * bounds. Input: u32 LE inflated length (at most 1 MiB), u32 LE FNV-1a
 * (unused here), then the payload (tools/pack-agent.py's form).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "unlzma.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct mg_unlzma st;
	uint32_t raw_len;
	uint8_t *out;

	if (size < 8) {
		return 0;
	}
	raw_len = (uint32_t)data[0] | (uint32_t)data[1] << 8 | (uint32_t)data[2] << 16 |
		  (uint32_t)data[3] << 24;
	raw_len %= 1u << 20;
	/* The agent, the operand stream's room, the payload unmasked, as
	 * the stub has them. */
	out = malloc(2 * (size_t)raw_len + size);
	if (out == NULL) {
		return 0;
	}
	if (mg__unpack(mg__either_stream, &st, out + 2 * (size_t)raw_len,
		       mg__unmask(data + 8, size - 8, out + 2 * (size_t)raw_len),
		       out, raw_len, out + raw_len, raw_len) == 0) {
		(void)mg__fnv1a(out, raw_len);
	}
	free(out);
	return 0;
}
