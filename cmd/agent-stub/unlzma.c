/*
 * Raw LZMA decoding (see unlzma.h), written from the format's
 * description: a binary range coder whose adaptive bit probabilities
 * drive literals, matches at a coded distance and "rep" matches that
 * reuse one of the last four distances, under a 12-state history.
 * Properties are fixed at lc=3, lp=0, pb=0, so no position state.
 */
#include "unlzma.h"

/* Where each group of probabilities lives in st->probs. */
enum {
	IS_MATCH = 0,
	IS_REP = IS_MATCH + 12,
	IS_REP_G0 = IS_REP + 12,
	IS_REP_G1 = IS_REP_G0 + 12,
	IS_REP_G2 = IS_REP_G1 + 12,
	IS_REP0_LONG = IS_REP_G2 + 12,
	POS_SLOT = IS_REP0_LONG + 12,      /* 4 length classes x 64 */
	SPEC_POS = POS_SLOT + 4 * 64,      /* slots 4..13: 115 (0 unused) */
	ALIGN = SPEC_POS + 115,
	LEN = ALIGN + 16,                  /* choice, choice2, low 8, mid 8, high 256 */
	REP_LEN = LEN + 274,
	LITERAL = REP_LEN + 274,           /* 0x300 per context */
	N_PROBS = LITERAL + (0x300 << MG_LZMA_LC),
};

_Static_assert(N_PROBS <= MG_LZMA_PROBS, "probability table too small");

struct rc {
	const uint8_t *in;
	size_t pos, len;
	uint32_t range, code;
	int bad;                           /* read past the input */
	uint16_t *p;
};

static void normalize(struct rc *rc)
{
	if (rc->range < (1u << 24)) {
		rc->range <<= 8;
		rc->code <<= 8;
		if (rc->pos < rc->len) {
			rc->code |= rc->in[rc->pos++];
		} else {
			rc->bad = 1;
		}
	}
}

/* One bit under the adaptive probability p[i] (of a 0, in 1/2048). */
static unsigned bit(struct rc *rc, unsigned i)
{
	uint16_t *p = rc->p + i;
	uint32_t bound;

	normalize(rc);
	bound = (rc->range >> 11) * *p;
	if (rc->code < bound) {
		rc->range = bound;
		*p = (uint16_t)(*p + ((2048 - *p) >> 5));
		return 0;
	}
	rc->range -= bound;
	rc->code -= bound;
	*p = (uint16_t)(*p - (*p >> 5));
	return 1;
}

/* N bits, most significant first, through a binary tree at BASE. */
static uint32_t tree(struct rc *rc, unsigned base, unsigned n)
{
	uint32_t m = 1;

	for (unsigned i = 0; i < n; i++) {
		m = (m << 1) | bit(rc, base + m);
	}
	return m - (1u << n);
}

/* The same, least significant bit first. */
static uint32_t tree_rev(struct rc *rc, unsigned base, unsigned n)
{
	uint32_t m = 1, v = 0;

	for (unsigned i = 0; i < n; i++) {
		unsigned b = bit(rc, base + m);
		m = (m << 1) | b;
		v |= b << i;
	}
	return v;
}

/* N bits of even probability. */
static uint32_t direct(struct rc *rc, unsigned n)
{
	uint32_t v = 0;

	while (n-- > 0) {
		normalize(rc);
		rc->range >>= 1;
		if (rc->code >= rc->range) {
			rc->code -= rc->range;
			v = (v << 1) | 1;
		} else {
			v <<= 1;
		}
	}
	return v;
}

/* A match length less 2: 0..271. */
static uint32_t length(struct rc *rc, unsigned base)
{
	if (bit(rc, base) == 0) {
		return tree(rc, base + 2, 3);
	}
	if (bit(rc, base + 1) == 0) {
		return 8 + tree(rc, base + 10, 3);
	}
	return 16 + tree(rc, base + 18, 8);
}

/* A match distance less 1; 0xffffffff is the end marker. */
static uint32_t distance(struct rc *rc, uint32_t len)
{
	uint32_t slot = tree(rc, POS_SLOT + 64 * (len < 3 ? len : 3), 6), d;
	unsigned n;

	if (slot < 4) {
		return slot;
	}
	n = (slot >> 1) - 1;
	d = (2 | (slot & 1)) << n;
	if (slot < 14) {
		return d + tree_rev(rc, SPEC_POS + d - slot, n);
	}
	d += direct(rc, n - 4) << 4;
	return d + tree_rev(rc, ALIGN, 4);
}

static unsigned literal(struct rc *rc, const uint8_t *out, size_t pos, unsigned state,
			uint32_t rep0)
{
	unsigned base = LITERAL + 0x300 * (pos > 0 ? out[pos - 1] >> (8 - MG_LZMA_LC) : 0);
	unsigned sym = 1;

	/* After a match, the byte at the last distance guides the first
	 * bits, for as long as they agree with it. */
	if (state >= 7) {
		unsigned mb = out[pos - rep0 - 1];
		do {
			unsigned mbit = (mb >> 7) & 1, b;
			mb <<= 1;
			b = bit(rc, base + 0x100 + (mbit << 8) + sym);
			sym = (sym << 1) | b;
			if (b != mbit) {
				break;
			}
		} while (sym < 0x100);
	}
	while (sym < 0x100) {
		sym = (sym << 1) | bit(rc, base + sym);
	}
	return sym & 0xff;
}

int mg__unlzma(struct mg_unlzma *st, const uint8_t *in, size_t in_len,
	       uint8_t *out, size_t out_len)
{
	struct rc rc = { in, 5, in_len, 0xffffffffu, 0, 0, st->probs };
	uint32_t rep0 = 0, rep1 = 0, rep2 = 0, rep3 = 0, len;
	unsigned state = 0;
	size_t pos = 0;

	if (in_len < 5 || in[0] != 0) {
		return -1;
	}
	rc.code = (uint32_t)in[1] << 24 | (uint32_t)in[2] << 16 | (uint32_t)in[3] << 8 | in[4];
	if (rc.code == 0xffffffffu) {
		return -1;
	}
	for (unsigned i = 0; i < N_PROBS; i++) {
		st->probs[i] = 1024;
	}
	while (pos < out_len && !rc.bad) {
		if (bit(&rc, IS_MATCH + state) == 0) {
			if (state >= 7 && rep0 >= pos) {
				return -1;
			}
			out[pos] = (uint8_t)literal(&rc, out, pos, state, rep0);
			pos++;
			state = state < 4 ? 0 : state < 10 ? state - 3 : state - 6;
			continue;
		}
		if (bit(&rc, IS_REP + state) == 0) {
			len = length(&rc, LEN) + 2;
			state = state < 7 ? 7 : 10;
			rep3 = rep2;
			rep2 = rep1;
			rep1 = rep0;
			rep0 = distance(&rc, len - 2);
			if (rep0 == 0xffffffffu) {
				break;
			}
		} else if (bit(&rc, IS_REP_G0 + state) == 0) {
			if (bit(&rc, IS_REP0_LONG + state) == 0) {
				/* One byte at the last distance. */
				state = state < 7 ? 9 : 11;
				len = 1;
			} else {
				len = length(&rc, REP_LEN) + 2;
				state = state < 7 ? 8 : 11;
			}
		} else {
			/* An older distance moves to the front. */
			uint32_t d;
			if (bit(&rc, IS_REP_G1 + state) == 0) {
				d = rep1;
			} else {
				if (bit(&rc, IS_REP_G2 + state) == 0) {
					d = rep2;
				} else {
					d = rep3;
					rep3 = rep2;
				}
				rep2 = rep1;
			}
			rep1 = rep0;
			rep0 = d;
			len = length(&rc, REP_LEN) + 2;
			state = state < 7 ? 8 : 11;
		}
		if (rep0 >= pos || len > out_len - pos) {
			return -1;
		}
		for (uint32_t i = 0; i < len; i++, pos++) {
			out[pos] = out[pos - rep0 - 1];
		}
	}
	return pos == out_len && !rc.bad ? 0 : -1;
}

void mg__unfilter_calls(uint8_t *buf, size_t len)
{
	const uint32_t window = 1u << 26, half = window / 2;

	for (size_t i = 0; i + 5 <= len;) {
		size_t at;
		if (buf[i] == 0xe8 || buf[i] == 0xe9) {
			at = i + 1;
		} else if (buf[i] == 0x0f && i + 6 <= len && (buf[i + 1] & 0xf0) == 0x80) {
			at = i + 2;
		} else {
			i++;
			continue;
		}
		uint32_t v = (uint32_t)buf[at] | (uint32_t)buf[at + 1] << 8 |
			     (uint32_t)buf[at + 2] << 16 | (uint32_t)buf[at + 3] << 24;
		uint32_t u = v + half;
		if (u < window) {
			v = ((u - (uint32_t)(at + 4)) & (window - 1)) - half;
			for (int k = 0; k < 4; k++, v >>= 8) {
				buf[at + k] = (uint8_t)v;
			}
		}
		i = at + 4;
	}
}

uint32_t mg__fnv1a(const uint8_t *buf, size_t len)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < len; i++) {
		h = (h ^ buf[i]) * 16777619u;
	}
	return h;
}
