/*
 * A decoder for raw LZMA (the "lzma1" stream Python's lzma module and
 * xz --format=raw write: no header, the properties known beforehand),
 * written for the agent's self-inflating stub (stub.c): freestanding, no
 * allocation, no libc. The whole output is the dictionary, so the output
 * buffer must hold all of it. Every read and write is bounds checked: a
 * corrupt stream gives an error, never a wild access.
 */
#ifndef MG_UNLZMA_H
#define MG_UNLZMA_H

#include <stddef.h>
#include <stdint.h>

/* The fixed properties the agent is packed with (tools/pack-agent.py):
 * lc=3 literal context bits, lp=0, pb=0. */
#define MG_LZMA_LC 3
#define MG_LZMA_PROBS (1846 + (0x300 << MG_LZMA_LC))

/* Scratch state for one decode: large, so the caller provides it. */
struct mg_unlzma {
	uint16_t probs[MG_LZMA_PROBS];
};

/* Decode IN (IN_LEN bytes) into exactly OUT_LEN bytes at OUT. An end
 * marker may follow the last byte or not. 0 on success, -1 when the
 * stream is corrupt, too short or describes more or less output. */
int mg__unlzma(struct mg_unlzma *st, const uint8_t *in, size_t in_len,
	       uint8_t *out, size_t out_len);

/* Undo the packer's branch filter: the rel32 operand of each E8, E9
 * (x86 CALL, JMP) and 0F 80..8F (Jcc) whose value lies within +-2^25 was
 * made absolute (plus the offset of the next instruction, modulo 2^26,
 * kept in the same window), so that calls to one function look alike to
 * the compressor; values outside the window were left alone. */
void mg__unfilter_calls(uint8_t *buf, size_t len);

/* FNV-1a over BUF: the packed image's check of the inflated bytes. */
uint32_t mg__fnv1a(const uint8_t *buf, size_t len);

#endif
