/*
 * Raw LZMA decoding (see unlzma.h), written from the format's
 * description: a binary range coder whose adaptive bit probabilities
 * drive literals, matches at a coded distance and "rep" matches that
 * reuse one of the last four distances, under a 12-state history; then
 * the packer's split of x86 code undone.
 */
#include "unlzma.h"

/* Where each group of probabilities lives in st->probs; those that
 * depend on the position have 4 slots per state (pb <= 2). */
enum {
	IS_MATCH = 0,                      /* 12 states x 4 positions */
	IS_REP0_LONG = IS_MATCH + 48,      /* likewise */
	IS_REP = IS_REP0_LONG + 48,
	IS_REP_G0 = IS_REP + 12,
	IS_REP_G1 = IS_REP_G0 + 12,
	IS_REP_G2 = IS_REP_G1 + 12,
	POS_SLOT = IS_REP_G2 + 12,         /* 4 length classes x 64 */
	SPEC_POS = POS_SLOT + 4 * 64,      /* slots 4..13: 115 (0 unused) */
	ALIGN = SPEC_POS + 115,
	LEN = ALIGN + 16,                  /* choice, choice2, low 4x8, mid 4x8, high 256 */
	REP_LEN = LEN + 322,
	LITERAL = REP_LEN + 322,           /* 0x300 per context, lc + lp <= 3 */
	N_PROBS = LITERAL + 0x300 * 8,
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

/* One bit under the adaptive probability p[i] (of a 0, in 1/2048),
 * without a branch on the bit, which is hard to predict: 16% faster. */
static unsigned bit(struct rc *rc, unsigned i)
{
	uint16_t *p = rc->p + i;
	int32_t v = *p;
	uint32_t bound, one;

	normalize(rc);
	bound = (rc->range >> 11) * (uint32_t)v;
	one = 0u - (uint32_t)(rc->code >= bound);          /* all ones for a 1 */
	rc->range = (bound & ~one) | ((rc->range - bound) & one);
	rc->code -= bound & one;
	/* A 0: p += (2048 - p) >> 5; a 1: p -= p >> 5; both floors. */
	*p = (uint16_t)(v - ((v - (int32_t)(~one & 2017)) >> 5));
	return one & 1;
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
static uint32_t length(struct rc *rc, unsigned base, unsigned ps)
{
	if (bit(rc, base) == 0) {
		return tree(rc, base + 2 + 8 * ps, 3);
	}
	if (bit(rc, base + 1) == 0) {
		return 8 + tree(rc, base + 34 + 8 * ps, 3);
	}
	return 16 + tree(rc, base + 66, 8);
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

static unsigned literal(struct rc *rc, unsigned base, const uint8_t *out, size_t pos,
			unsigned state, uint32_t rep0)
{
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

int mg__unlzma(struct mg_unlzma *st, unsigned props, const uint8_t *in, size_t in_len,
	       uint8_t *out, size_t out_len)
{
	struct rc rc = { in, 5, in_len, 0xffffffffu, 0, 0, st->probs };
	unsigned lc = props % 9, lp = props / 9 % 5, pb = props / 45;
	uint32_t rep0 = 0, rep1 = 0, rep2 = 0, rep3 = 0, len;
	unsigned state = 0, ps;
	size_t pos = 0;

	if (in_len < 5 || in[0] != 0 || lc + lp > 3 || pb > 2) {
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
		ps = (unsigned)pos & ((1u << pb) - 1);
		if (bit(&rc, IS_MATCH + 4 * state + ps) == 0) {
			unsigned ctx = ((unsigned)pos & ((1u << lp) - 1)) << lc |
				       (pos > 0 ? out[pos - 1] >> (8 - lc) : 0);
			if (state >= 7 && rep0 >= pos) {
				return -1;
			}
			out[pos] = (uint8_t)literal(&rc, LITERAL + 0x300 * ctx, out, pos, state, rep0);
			pos++;
			state = state < 4 ? 0 : state < 10 ? state - 3 : state - 6;
			continue;
		}
		if (bit(&rc, IS_REP + state) == 0) {
			len = length(&rc, LEN, ps) + 2;
			state = state < 7 ? 7 : 10;
			rep3 = rep2;
			rep2 = rep1;
			rep1 = rep0;
			rep0 = distance(&rc, len - 2);
			if (rep0 == 0xffffffffu) {
				break;
			}
		} else if (bit(&rc, IS_REP_G0 + state) == 0) {
			if (bit(&rc, IS_REP0_LONG + 4 * state + ps) == 0) {
				/* One byte at the last distance. */
				state = state < 7 ? 9 : 11;
				len = 1;
			} else {
				len = length(&rc, REP_LEN, ps) + 2;
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
			len = length(&rc, REP_LEN, ps) + 2;
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

/* Which operand an instruction starting at code[i] of the agent (N bytes
 * in all) has, per the packer's split (tools/pack-agent.py operand: both
 * must agree), and how many bytes precede it; -1 for none. Only code[i],
 * code[i + 1] and, after 0F B6, code[i + 2] are looked at: never an
 * operand moved away. NEXT is what follows code[i] in the main stream. */
static int operand(size_t i, size_t n, unsigned op, const uint8_t *next, size_t avail,
		   unsigned *head)
{
	unsigned b1 = avail > 0 ? next[0] : 0x100;

	*head = 1;
	if (i + 5 > n) {
		return -1;
	}
	switch (op) {
	case 0xe8:                         /* CALL, JMP rel32 */
	case 0xe9:
		return MG_OP_BRANCH;
	case 0x0f:
		if (i + 6 > n) {
			return -1;
		}
		*head = 2;
		if ((b1 & 0xf0) == 0x80) {
			return MG_OP_JCC;
		}
		*head = 3;                 /* MOVZX r, byte [rip + disp32] */
		return b1 == 0xb6 && i + 7 <= n && avail > 1 && (next[1] & 0xc7) == 0x05 ?
		       MG_OP_RIP : -1;
	case 0x39: case 0x3b: case 0x80: case 0x83: case 0x89:
	case 0x8b: case 0x8d: case 0xc6: case 0xc7:
		*head = 2;                 /* cmp, mov, lea with [rip + disp32] */
		return i + 6 <= n && (b1 & 0xc7) == 0x05 ? MG_OP_RIP : -1;
	case 0xb8: case 0xb9: case 0xba: case 0xbb:
	case 0xbc: case 0xbd: case 0xbe: case 0xbf:
		return MG_OP_IMM;          /* mov r32, imm32 */
	default:
		return -1;
	}
}

/* The bytes operand() never takes, as a bit map: most bytes are such,
 * and this is twice as fast as its switch. Those it may take are the 0
 * bits, not the 1s: fewer NUL bytes in the stub (boot.c esc_len). */
static const uint8_t plain[32] __attribute__((aligned(1))) = {
	0xff, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xf5, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	0xf6, 0xd5, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x3f, 0xff, 0xff, 0xff, 0xff, 0xfc, 0xff, 0xff,
};

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

int mg__unsplit(uint8_t *out, size_t out_len, const uint8_t *code, size_t code_len,
		const uint8_t *ops, const uint32_t count[MG_OP_KINDS])
{
	const uint8_t *at[MG_OP_KINDS], *end[MG_OP_KINDS];
	uint64_t all = code_len;
	size_t i = 0, j = 0;

	for (int k = 0; k < MG_OP_KINDS; k++) {
		all += 4 * (uint64_t)count[k];
	}
	if (all != out_len) {
		return -1;
	}
	for (int k = 0; k < MG_OP_KINDS; k++) {
		at[k] = k == 0 ? ops : end[k - 1];
		end[k] = at[k] + 4 * (size_t)count[k];
	}
	while (j < code_len) {
		unsigned head, b = code[j];
		int k = (plain[b >> 3] >> (b & 7)) & 1 ?
			-1 : operand(i, out_len, b, code + j + 1, code_len - j - 1, &head);
		if (k < 0) {
			if (i >= out_len) {
				return -1;
			}
			out[i++] = code[j++];
			continue;
		}
		if (head > code_len - j || i + head + 4 > out_len || at[k] + 4 > end[k]) {
			return -1;
		}
		for (unsigned h = 0; h < head; h++) {
			out[i++] = code[j++];
		}
		uint32_t v = be32(at[k]);
		at[k] += 4;
		if (k != MG_OP_IMM) {
			v -= (uint32_t)(i + 4);    /* absolute back to relative */
		}
		for (int n = 0; n < 4; n++, v >>= 8) {
			out[i++] = (uint8_t)v;
		}
	}
	for (int k = 0; k < MG_OP_KINDS; k++) {
		if (at[k] != end[k]) {
			return -1;
		}
	}
	return i == out_len ? 0 : -1;
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int mg__unlzma_stream(void *st, unsigned props, const uint8_t *in, size_t in_len,
		      uint8_t *out, size_t out_len)
{
	return mg__unlzma(st, props, in, in_len, out, out_len);
}

int mg__unpack(mg_stream_fn *dec, void *st, const uint8_t *in, size_t in_len, uint8_t *out,
	       size_t out_len, uint8_t *scratch, size_t scratch_len)
{
	uint32_t count[MG_OP_KINDS], code_len, len1;
	uint64_t ops_len = 0;
	uint8_t *code;

	if (in_len < MG_PACK_HEAD) {
		return -1;
	}
	code_len = le32(in + 4);
	len1 = le32(in + 8);
	for (int k = 0; k < MG_OP_KINDS; k++) {
		count[k] = le32(in + 12 + 4 * k);
		ops_len += 4 * (uint64_t)count[k];
	}
	if (ops_len > scratch_len || code_len + ops_len != out_len ||
	    len1 > in_len - MG_PACK_HEAD) {
		return -1;
	}
	/* The code at the end of OUT: the split is undone forwards, and never
	 * overtakes what it reads. */
	code = out + ops_len;
	if (dec(st, in[0], in + MG_PACK_HEAD, len1, code, code_len) != 0 ||
	    dec(st, in[1], in + MG_PACK_HEAD + len1, in_len - MG_PACK_HEAD - len1,
		scratch, (size_t)ops_len) != 0) {
		return -1;
	}
	return mg__unsplit(out, out_len, code, code_len, scratch, count);
}

size_t mg__unmask(const uint8_t *in, size_t len, uint8_t *out)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i += MG_MASK_BLOCK + 1) {
		uint8_t key = in[i];
		for (size_t j = i + 1; j < len && j <= i + MG_MASK_BLOCK; j++) {
			out[n++] = in[j] ^ key;
		}
	}
	return n;
}

uint32_t mg__fnv1a(const uint8_t *buf, size_t len)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < len; i++) {
		h = (h ^ buf[i]) * 16777619u;
	}
	return h;
}
