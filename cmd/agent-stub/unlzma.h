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

/* Undo the packer's call filter: each E8 (x86 CALL rel32) byte's 4
 * operand bytes were made absolute (rel + offset of the next insn, mod
 * 2^32), so that calls to one function look alike to the compressor. */
void mg__unfilter_calls(uint8_t *buf, size_t len);

/* FNV-1a over BUF: the packed image's check of the inflated bytes. */
uint32_t mg__fnv1a(const uint8_t *buf, size_t len);

#endif
