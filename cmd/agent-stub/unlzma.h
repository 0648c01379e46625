/*
 * The packed agent's decoding (tools/pack-agent.py makes it), written for
 * the agent's self-inflating stub (stub.c): freestanding, no allocation,
 * no libc. Every read and write is bounds checked: a corrupt payload gives
 * an error, never a wild access.
 *
 * The packer splits the agent's x86 code in two, so that LZMA finds more
 * repeats: the main stream is the agent without the 4-byte operands
 * below; the operand stream holds those, grouped by kind, big-endian,
 * position-relative ones made absolute (the offset of the operand's end
 * added, modulo 2^32), so that every call to one function or use of one
 * variable reads alike:
 * - MG_OP_BRANCH: the rel32 of E8, E9 (CALL, JMP);
 * - MG_OP_RIP: the disp32 of a RIP-relative memory operand (ModRM 00 reg
 *   101) after 39, 3B, 80, 83, 89, 8B, 8D, C6, C7 (cmp, mov, lea) or
 *   0F B6 (movzx);
 * - MG_OP_JCC: the rel32 of 0F 80..8F (Jcc);
 * - MG_OP_IMM: the imm32 of B8..BF (mov r32, imm32: addresses, in a
 *   program that is not position-independent), kept as it is.
 * The scan goes forward from the first byte; an instruction found skips
 * its operand; one whose operand would reach past the end is not one.
 * Bytes that are not code are split alike: only the same rule both ways
 * matters.
 *
 * The payload: u8 LZMA properties of the main stream and of the operand
 * stream ((pb * 5 + lp) * 9 + lc, with lc + lp <= 3 and pb <= 2), or
 * MG_PROPS_DEFLATE for a raw deflate stream, two zero bytes, u32 LE
 * length of the main stream inflated, u32 LE length of it compressed,
 * four u32 LE counts of operands (in MG_OP_* order, which is their order
 * in the operand stream); then the two raw LZMA streams
 * ("lzma1" as Python's lzma module and xz --format=raw write: no header),
 * or the two raw deflate streams: the exec-only agent's, which inflate
 * ten times faster for 10% more bytes (tools/pack-agent.py --deflate).
 */
#ifndef MG_UNLZMA_H
#define MG_UNLZMA_H

#include <stddef.h>
#include <stdint.h>

#define MG_PACK_HEAD 28

enum { MG_OP_BRANCH, MG_OP_RIP, MG_OP_JCC, MG_OP_IMM, MG_OP_KINDS };

#define MG_LZMA_PROBS 7320

/* Scratch state for one decode: large, so the caller provides it. */
struct mg_unlzma {
	uint16_t probs[MG_LZMA_PROBS];
};

/* Decode one raw LZMA stream, properties PROPS (as above), IN (IN_LEN
 * bytes) into exactly OUT_LEN bytes at OUT, which is the whole
 * dictionary. An end marker may follow the last byte or not. 0 on
 * success, -1 when the stream is corrupt, too short or describes more or
 * less output. */
int mg__unlzma(struct mg_unlzma *st, unsigned props, const uint8_t *in, size_t in_len,
	       uint8_t *out, size_t out_len);

/* Join the main stream CODE (CODE_LEN bytes) and the operands OPS
 * (COUNT[k] of each kind, in order: 4 bytes each) into the agent's
 * OUT_LEN bytes at OUT, which must be as many as both. CODE may lie at OUT + 4 * (operands in all), its end at OUT's:
 * the join never overwrites what it has still to read. 0, or -1 when
 * they do not fit together. */
int mg__unsplit(uint8_t *out, size_t out_len, const uint8_t *code, size_t code_len,
		const uint8_t *ops, const uint32_t count[MG_OP_KINDS]);

/* One stream of a payload: its properties byte PROPS, IN (IN_LEN bytes)
 * into exactly OUT_LEN bytes at OUT, with the decoder's state ST. 0, or
 * -1 when it is corrupt or of another kind. */
typedef int mg_stream_fn(void *st, unsigned props, const uint8_t *in, size_t in_len,
			 uint8_t *out, size_t out_len);
/* LZMA, ST a struct mg_unlzma (mg__unlzma). */
int mg__unlzma_stream(void *st, unsigned props, const uint8_t *in, size_t in_len,
		      uint8_t *out, size_t out_len);
/* Raw deflate (lib/core/inflate.c), ST a struct mg__inflate; PROPS must
 * be MG_PROPS_DEFLATE (uninflate.c, linked only where it is used). */
#define MG_PROPS_DEFLATE 0xff
int mg__inflate_stream(void *st, unsigned props, const uint8_t *in, size_t in_len,
		       uint8_t *out, size_t out_len);
/* Either of the two by PROPS, ST a struct mg_unlzma (uninflate.c): what
 * the tests and the fuzzer decode with. */
int mg__either_stream(void *st, unsigned props, const uint8_t *in, size_t in_len, uint8_t *out,
		      size_t out_len);

/* The whole payload IN into exactly OUT_LEN bytes at OUT, each stream
 * decoded by DEC with ST, the operand stream in SCRATCH (at most
 * SCRATCH_LEN bytes; OUT_LEN is always enough). 0, or -1 when the
 * payload is corrupt. */
int mg__unpack(mg_stream_fn *dec, void *st, const uint8_t *in, size_t in_len, uint8_t *out,
	       size_t out_len, uint8_t *scratch, size_t scratch_len);

/* The payload is masked (tools/pack-agent.py mask) so that it needs few
 * escapes in a shell's command: each block of up to MG_MASK_BLOCK bytes
 * follows a key byte and was XORed with it. Unmask IN (LEN bytes) into
 * OUT, which may be IN itself; the length unmasked. */
#define MG_MASK_BLOCK 224 /* tools/pack-agent.py MASK_BLOCK: why 224 */
size_t mg__unmask(const uint8_t *in, size_t len, uint8_t *out);

/* FNV-1a over BUF: the packed image's check of the inflated bytes. */
uint32_t mg__fnv1a(const uint8_t *buf, size_t len);

#endif
