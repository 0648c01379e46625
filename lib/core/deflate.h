/*
 * A compact raw deflate codec (RFC 1951), written from the RFC for the
 * file stream's -z (docs/PROTOCOL.md section 5.9): the agent cannot
 * carry zlib (issue 11 wants it small), and both ends run the same code.
 *
 * One call codes one whole, independent stream between flat buffers: no
 * window is kept between calls. Neither side allocates: the caller owns
 * the state. Both use nothing from libc beyond memcpy and memset, so a
 * freestanding boot stub may link inflate.c alone.
 */
#ifndef MG_DEFLATE_H
#define MG_DEFLATE_H

#include <stddef.h>
#include <stdint.h>

/* inflate.c: what a decoder needs (about 3.5 KB, on the stack is fine). */
struct mg__huff {
	uint16_t fast[512];  /* by the next 9 bits: symbol << 4 | length, 0 = longer */
	uint16_t count[16];  /* codes of each length */
	uint16_t sym[288];   /* symbols in canonical order */
};
struct mg__inflate {
	struct mg__huff lit, dist;
};

#define MG__INFLATE_BAD   (-1)  /* not a valid deflate stream */
#define MG__INFLATE_SHORT (-2)  /* cut short, or bytes after its end */
#define MG__INFLATE_BIG   (-3)  /* decodes to more than 'cap' bytes */

/* Decode exactly in[0, n) (one stream, its last block marked final) into
 * out[0, cap): the number of bytes decoded, or MG__INFLATE_*. Every
 * length and distance is checked: no input can make it touch memory
 * outside out, in and st. */
long mg__inflate(struct mg__inflate *st, const uint8_t *in, size_t n, uint8_t *out, size_t cap);

/* deflate.c: LZ77 (hash chains over a 32 KiB window, one-step lazy) with a
 * dynamic Huffman block per 16 Ki symbols. A stream may be coded in
 * steps (start, then step until done), so that a caller on an event loop
 * can yield between them: the state keeps where it is. */
#define MG__DEFLATE_HASH_BITS 15
#define MG__DEFLATE_TOKENS 16384u
struct mg__bits {
	uint8_t *p, *end;
	uint64_t v;
	unsigned n;
	int full;
};
struct mg__deflate {
	uint32_t head[1u << MG__DEFLATE_HASH_BITS];  /* last position + 1 of each hash */
	uint32_t prev[32768];                        /* the chain, by position mod 32 Ki */
	uint32_t tok[MG__DEFLATE_TOKENS];            /* the block being gathered */
	const uint8_t *in;                           /* the stream being coded */
	uint8_t *out;
	struct mg__bits o;
	uint32_t len, pos, nt;
};

#define MG__DEFLATE_MORE (-1L)  /* mg__deflate_step: input is left */

/* Start coding in[0, n) as one stream (n may be 0) into out[0, cap);
 * both must stay in place until the last step. */
void mg__deflate_start(struct mg__deflate *st, const uint8_t *in, size_t n, uint8_t *out,
		       size_t cap);

/* Code about 'step' more bytes of input: MG__DEFLATE_MORE while some are
 * left, else the stream's size, or 0 when it does not fit, or when a
 * first block did not shrink what it held (the caller then sends the
 * bytes stored). */
long mg__deflate_step(struct mg__deflate *st, size_t step);

/* The whole stream at once: mg__deflate_step's answer, never MORE. */
size_t mg__deflate(struct mg__deflate *st, const uint8_t *in, size_t n, uint8_t *out, size_t cap);

#endif
