/* sudo in an ssh hop's own command (docs/PROTOCOL.md 2.3.3). */
#ifndef MG_FUSE_H
#define MG_FUSE_H

#include <stddef.h>
#include <stdint.h>
#include <talloc.h>

/*
 * Of the N bytes of whole frames held for ssh hop A: those for the agent
 * sudo starts in A's command (context B), in *_rest on mem_ctx. 0, or
 * -ENOTSUP unless exactly one frame is for A itself and it is the CONNECT
 * that opens B (then only the whole agent, run by A, will do).
 */
int mg__fuse_split(TALLOC_CTX *mem_ctx, const uint8_t *frames, size_t n, uint32_t a,
		   uint32_t b, uint8_t **_rest, size_t *_nrest);

#endif
