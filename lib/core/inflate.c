/*
 * Raw deflate decoding (RFC 1951) into a flat buffer (deflate.h). Codes
 * of up to 9 bits are read through a table; longer ones walk the
 * canonical code one bit at a time. The input is read through a 64-bit
 * bit buffer that is topped up with zero bytes past the end, so a cut
 * stream is found by counting those, never by reading past 'in'.
 */
#include <string.h>
#include "deflate.h"

#define FAST_BITS 9

struct bits {
	const uint8_t *p, *end;
	uint64_t v;
	unsigned n;     /* bits in v */
	unsigned pad;   /* zero bytes put in v past the end */
};

static void refill(struct bits *b)
{
	while (b->n <= 56) {
		if (b->p < b->end) {
			b->v |= (uint64_t)*b->p++ << b->n;
		} else {
			b->pad++;
		}
		b->n += 8;
	}
}

/* Taking more than the input holds is caught by the caller (cut()). */
static unsigned take(struct bits *b, unsigned k)
{
	unsigned r;

	if (k == 0) {
		return 0;
	}
	if (b->n < k) {
		refill(b);
	}
	r = (unsigned)(b->v & ((1u << k) - 1));
	b->v >>= k;
	b->n -= k;
	return r;
}

/* Have we used bits that were not in the input? */
static int cut(const struct bits *b)
{
	return b->n < 8u * b->pad;
}

static unsigned reverse(unsigned code, unsigned len)
{
	unsigned r = 0;

	while (len-- > 0) {
		r = (r << 1) | (code & 1);
		code >>= 1;
	}
	return r;
}

/* Make h from the code lengths of n symbols. An over-full code is bad;
 * an incomplete one is allowed (a code that is not in it is bad when
 * read). */
static int build(struct mg__huff *h, const uint8_t *len, unsigned n)
{
	uint16_t offs[16], next[16];
	unsigned code = 0;
	int left = 1;

	memset(h->count, 0, sizeof(h->count));
	memset(h->fast, 0, sizeof(h->fast));
	for (unsigned s = 0; s < n; s++) {
		h->count[len[s]]++;
	}
	h->count[0] = 0;
	offs[1] = 0;
	for (unsigned l = 1; l < 16; l++) {
		left = 2 * left - h->count[l];
		if (left < 0) {
			return -1;
		}
		if (l < 15) {
			offs[l + 1] = (uint16_t)(offs[l] + h->count[l]);
		}
		code = (code + (l > 1 ? h->count[l - 1] : 0)) << 1;
		next[l] = (uint16_t)code;
	}
	for (unsigned s = 0; s < n; s++) {
		unsigned l = len[s];

		if (l == 0) {
			continue;
		}
		h->sym[offs[l]++] = (uint16_t)s;
		if (l <= FAST_BITS) {
			unsigned r = reverse(next[l], l);

			for (unsigned i = r; i < (1u << FAST_BITS); i += 1u << l) {
				h->fast[i] = (uint16_t)(s << 4 | l);
			}
		}
		next[l]++;
	}
	return 0;
}

/* The next symbol, or -1 for a code the table does not have. */
static int decode(struct bits *b, const struct mg__huff *h)
{
	unsigned e, code = 0, first = 0, index = 0;

	if (b->n < 15) {
		refill(b);
	}
	e = h->fast[b->v & ((1u << FAST_BITS) - 1)];
	if (e != 0) {
		b->v >>= e & 15;
		b->n -= e & 15;
		return (int)(e >> 4);
	}
	for (unsigned l = 1; l < 16; l++) {
		unsigned c;

		code |= (unsigned)(b->v & 1);
		b->v >>= 1;
		b->n--;
		c = h->count[l];
		if (code - first < c) {
			return h->sym[index + code - first];
		}
		index += c;
		first = (first + c) << 1;
		code <<= 1;
	}
	return -1;
}

static const uint16_t len_base[29] = {
	3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31,
	35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258 };
static const uint8_t len_extra[29] = {
	0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2,
	3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0 };
static const uint16_t dist_base[30] = {
	1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193,
	257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577 };
static const uint8_t dist_extra[30] = {
	0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6,
	7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13 };

/* The symbols of one compressed block, up to its end code. */
static long codes(struct bits *b, const struct mg__inflate *st, uint8_t *out, size_t pos,
		  size_t cap)
{
	for (;;) {
		int s = decode(b, &st->lit);
		size_t len, dist;

		if (s < 0 || cut(b)) {
			return s < 0 ? MG__INFLATE_BAD : MG__INFLATE_SHORT;
		}
		if (s < 256) {
			if (pos >= cap) {
				return MG__INFLATE_BIG;
			}
			out[pos++] = (uint8_t)s;
			continue;
		}
		if (s == 256) {
			return (long)pos;
		}
		if ((s -= 257) >= 29) {
			return MG__INFLATE_BAD;
		}
		len = len_base[s] + take(b, len_extra[s]);
		s = decode(b, &st->dist);
		if (s < 0 || s >= 30) {
			return MG__INFLATE_BAD;
		}
		dist = dist_base[s] + take(b, dist_extra[s]);
		if (cut(b)) {
			return MG__INFLATE_SHORT;
		}
		if (dist > pos) {
			return MG__INFLATE_BAD;
		}
		if (len > cap - pos) {
			return MG__INFLATE_BIG;
		}
		if (dist >= len) {
			memcpy(out + pos, out + pos - dist, len);
			pos += len;
		} else {
			while (len-- > 0) {
				out[pos] = out[pos - dist];
				pos++;
			}
		}
	}
}

static void fixed(struct mg__inflate *st)
{
	uint8_t len[288];

	memset(len, 8, 144);
	memset(len + 144, 9, 112);
	memset(len + 256, 7, 24);
	memset(len + 280, 8, 8);
	build(&st->lit, len, 288);
	memset(len, 5, 30);
	build(&st->dist, len, 30);
}

/* The code lengths of a dynamic block's two codes. */
static int dynamic(struct bits *b, struct mg__inflate *st)
{
	static const uint8_t order[19] = { 16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13,
					   2, 14, 1, 15 };
	unsigned nlit = take(b, 5) + 257, ndist = take(b, 5) + 1, ncl = take(b, 4) + 4;
	uint8_t len[286 + 30];
	unsigned i = 0;

	if (nlit > 286 || ndist > 30) {
		return MG__INFLATE_BAD;
	}
	memset(len, 0, 19);
	for (unsigned k = 0; k < ncl; k++) {
		len[order[k]] = (uint8_t)take(b, 3);
	}
	if (cut(b) || build(&st->lit, len, 19) != 0) {
		return cut(b) ? MG__INFLATE_SHORT : MG__INFLATE_BAD;
	}
	while (i < nlit + ndist) {
		int s = decode(b, &st->lit);
		unsigned rep;
		uint8_t v = 0;

		if (s < 0 || cut(b)) {
			return s < 0 ? MG__INFLATE_BAD : MG__INFLATE_SHORT;
		}
		if (s < 16) {
			len[i++] = (uint8_t)s;
			continue;
		}
		if (s == 16) {
			if (i == 0) {
				return MG__INFLATE_BAD;
			}
			v = len[i - 1];
			rep = 3 + take(b, 2);
		} else {
			rep = s == 17 ? 3 + take(b, 3) : 11 + take(b, 7);
		}
		if (rep > nlit + ndist - i) {
			return MG__INFLATE_BAD;
		}
		memset(len + i, v, rep);
		i += rep;
	}
	if (len[256] == 0 || build(&st->lit, len, nlit) != 0 ||
	    build(&st->dist, len + nlit, ndist) != 0) {
		return MG__INFLATE_BAD;
	}
	return 0;
}

/* A stored block: its bytes are whole bytes of the input. */
static long stored(struct bits *b, uint8_t *out, size_t pos, size_t cap)
{
	unsigned len, nlen;
	size_t held;

	take(b, b->n & 7);
	len = take(b, 16);
	nlen = take(b, 16);
	if (cut(b)) {
		return MG__INFLATE_SHORT;
	}
	if ((len ^ 0xffffu) != nlen) {
		return MG__INFLATE_BAD;
	}
	/* Give back the whole bytes the bit buffer holds. */
	held = b->n / 8 - b->pad;
	b->p -= held;
	b->v = 0;
	b->n = 0;
	b->pad = 0;
	if (len > (size_t)(b->end - b->p)) {
		return MG__INFLATE_SHORT;
	}
	if (len > cap - pos) {
		return MG__INFLATE_BIG;
	}
	memcpy(out + pos, b->p, len);
	b->p += len;
	return (long)(pos + len);
}

long mg__inflate(struct mg__inflate *st, const uint8_t *in, size_t n, uint8_t *out, size_t cap)
{
	struct bits b = { .p = in, .end = in + n };
	long pos = 0;
	unsigned last;

	do {
		unsigned type;

		last = take(&b, 1);
		type = take(&b, 2);
		if (cut(&b)) {
			return MG__INFLATE_SHORT;
		}
		if (type == 0) {
			pos = stored(&b, out, (size_t)pos, cap);
		} else if (type == 3) {
			return MG__INFLATE_BAD;
		} else {
			int r = 0;

			if (type == 1) {
				fixed(st);
			} else {
				r = dynamic(&b, st);
			}
			pos = r != 0 ? r : codes(&b, st, out, (size_t)pos, cap);
		}
	} while (pos >= 0 && !last);
	/* Exactly the stream: no whole byte of the input left over. */
	if (pos >= 0 && (b.n / 8 != b.pad || b.p != b.end)) {
		return MG__INFLATE_SHORT;
	}
	return pos;
}
