/*
 * The prompt matcher: see match.h. A pattern compiles to a small program
 * (one instruction per byte to consume, plus SPLIT and JMP for choices
 * and loops, with offsets relative to the instruction so that a piece of
 * code can be copied for "{m,n}"), run as a Thompson simulation: every
 * live thread advances one byte at a time, so the cost is the text length
 * times the program size, whatever the pattern.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include "match.h"

#define MAX_INST 4096
#define MAX_SETS 256
#define MAX_DEPTH 16
#define MAX_REPEAT 255

enum op { OP_CHAR, OP_SET, OP_SPLIT, OP_JMP, OP_BOL, OP_EOL, OP_MATCH };

struct inst {
	uint8_t op;
	uint8_t a, b;        /* OP_CHAR: the byte in either case */
	int16_t x, y;        /* OP_SPLIT, OP_JMP: relative targets; OP_SET: set */
};

struct mg__re {
	struct inst *code;
	size_t n;
	struct set { uint32_t w[8]; } *sets;
	/* Scratch for the simulation, sized at compile time. */
	uint16_t *clist, *nlist, *stack;
	uint32_t *mark;
};

struct comp {
	const char *p;
	struct mg__re *re;
	size_t cap, nsets;
	int depth;
	const char *err;
};

static int parse_alt(struct comp *c);

static int emit(struct comp *c, uint8_t op, int x, int y)
{
	if (c->re->n >= MAX_INST) {
		c->err = "pattern too large";
		return -EINVAL;
	}
	c->re->code[c->re->n++] = (struct inst){ .op = op, .x = (int16_t)x, .y = (int16_t)y };
	return 0;
}

/* Insert one instruction at 'at', moving what follows: relative offsets
 * inside the moved code stay right, and nothing before 'at' jumps past it
 * (code is only inserted in front of the piece just parsed). */
static int insert(struct comp *c, size_t at, uint8_t op, int x, int y)
{
	struct mg__re *re = c->re;

	if (emit(c, OP_MATCH, 0, 0) != 0) {
		return -EINVAL;
	}
	memmove(&re->code[at + 1], &re->code[at], (re->n - 1 - at) * sizeof(re->code[0]));
	re->code[at] = (struct inst){ .op = op, .x = (int16_t)x, .y = (int16_t)y };
	return 0;
}

static int new_set(struct comp *c)
{
	if (c->nsets >= MAX_SETS) {
		c->err = "pattern too large";
		return -1;
	}
	memset(&c->re->sets[c->nsets], 0, sizeof(c->re->sets[0]));
	return (int)c->nsets++;
}

static void set_add(uint32_t *s, unsigned ch)
{
	s[ch >> 5] |= 1u << (ch & 31);
}

static bool set_has(const uint32_t *s, unsigned ch)
{
	return (s[ch >> 5] >> (ch & 31)) & 1u;
}

static unsigned lower(unsigned ch)
{
	return ch >= 'A' && ch <= 'Z' ? ch + 32 : ch;
}

static unsigned upper(unsigned ch)
{
	return ch >= 'a' && ch <= 'z' ? ch - 32 : ch;
}

static bool in_class(const char *name, size_t len, unsigned ch)
{
	static const struct { const char *name; const char *spec; } classes[] = {
		{ "alpha", "az AZ" }, { "digit", "09" }, { "alnum", "az AZ 09" },
		{ "upper", "AZ" }, { "lower", "az" }, { "space", "\t\r   " },
		{ "punct", "!/ :@ [` {~" },
	};

	for (size_t i = 0; i < sizeof(classes) / sizeof(classes[0]); i++) {
		const char *s = classes[i].spec;
		if (strlen(classes[i].name) != len || memcmp(classes[i].name, name, len) != 0) {
			continue;
		}
		for (; s[0] != '\0' && s[1] != '\0'; s += s[2] == ' ' ? 3 : 2) {
			if (ch >= (unsigned char)s[0] && ch <= (unsigned char)s[1]) {
				return true;
			}
		}
		return false;
	}
	return false;
}

/* "[:name:]" at c->p (after its '['): add the class to s. */
static int parse_class(struct comp *c, uint32_t *s)
{
	const char *name = c->p + 1, *end = strstr(name, ":]");
	bool known = false;

	if (end == NULL) {
		c->err = "unterminated character class";
		return -EINVAL;
	}
	for (unsigned ch = 0; ch < 256; ch++) {
		if (in_class(name, (size_t)(end - name), ch)) {
			set_add(s, ch);
			known = true;
		}
	}
	if (!known) {
		c->err = "unknown character class";
		return -EINVAL;
	}
	c->p = end + 2;
	return 0;
}

/* "[...]" with c->p after the '['. In a bracket a backslash is literal. */
static int parse_bracket(struct comp *c)
{
	int si = new_set(c);
	bool negate = false, first = true;
	uint32_t *s;

	if (si < 0) {
		return -EINVAL;
	}
	s = c->re->sets[si].w;
	if (*c->p == '^') {
		negate = true;
		c->p++;
	}
	while (*c->p != ']' || first) {
		unsigned lo = (unsigned char)*c->p, hi;
		first = false;
		if (lo == '\0') {
			c->err = "unterminated bracket expression";
			return -EINVAL;
		}
		if (c->p[0] == '[' && c->p[1] == ':') {
			c->p++;
			if (parse_class(c, s) != 0) {
				return -EINVAL;
			}
			continue;
		}
		hi = lo;
		if (c->p[1] == '-' && c->p[2] != ']' && c->p[2] != '\0') {
			hi = (unsigned char)c->p[2];
			c->p += 2;
		}
		if (hi < lo) {
			c->err = "invalid range in bracket expression";
			return -EINVAL;
		}
		for (unsigned ch = lo; ch <= hi; ch++) {
			set_add(s, ch);
		}
		c->p++;
	}
	c->p++;
	for (unsigned ch = 'a'; ch <= 'z'; ch++) {
		if (set_has(s, ch) || set_has(s, upper(ch))) {
			set_add(s, ch);
			set_add(s, upper(ch));
		}
	}
	for (size_t i = 0; negate && i < 8; i++) {
		s[i] = ~s[i];
	}
	return emit(c, OP_SET, si, 0);
}

static int emit_char(struct comp *c, unsigned ch)
{
	if (emit(c, OP_CHAR, 0, 0) != 0) {
		return -EINVAL;
	}
	c->re->code[c->re->n - 1].a = (uint8_t)lower(ch);
	c->re->code[c->re->n - 1].b = (uint8_t)upper(ch);
	return 0;
}

static int parse_atom(struct comp *c, bool *_anchor)
{
	unsigned ch = (unsigned char)*c->p++;
	int si;

	*_anchor = false;
	switch (ch) {
	case '(':
		if (++c->depth > MAX_DEPTH) {
			c->err = "groups nested too deep";
			return -EINVAL;
		}
		if (parse_alt(c) != 0) {
			return -EINVAL;
		}
		if (*c->p++ != ')') {
			c->err = "unmatched '('";
			return -EINVAL;
		}
		c->depth--;
		return 0;
	case '^':
	case '$':
		*_anchor = true;
		return emit(c, ch == '^' ? OP_BOL : OP_EOL, 0, 0);
	case '.':
		if ((si = new_set(c)) < 0) {
			return -EINVAL;
		}
		memset(&c->re->sets[si], 0xff, sizeof(c->re->sets[0]));
		return emit(c, OP_SET, si, 0);
	case '[':
		return parse_bracket(c);
	case '\\':
		if (*c->p == '\0') {
			c->err = "trailing backslash";
			return -EINVAL;
		}
		return emit_char(c, (unsigned char)*c->p++);
	case '*':
	case '+':
	case '?':
	case '{':
		c->err = "nothing to repeat";
		return -EINVAL;
	default:
		return emit_char(c, ch);
	}
}

static int read_num(struct comp *c, int *_v)
{
	int v = 0;

	if (*c->p < '0' || *c->p > '9') {
		return -EINVAL;
	}
	while (*c->p >= '0' && *c->p <= '9') {
		v = v * 10 + (*c->p++ - '0');
		if (v > MAX_REPEAT) {
			return -EINVAL;
		}
	}
	*_v = v;
	return 0;
}

/* "{m}", "{m,}", "{m,n}" at c->p (after the '{'); *_n < 0: no bound. */
static int parse_bounds(struct comp *c, int *_m, int *_n)
{
	if (read_num(c, _m) != 0) {
		goto bad;
	}
	if (*c->p == '}') {
		*_n = *_m;
	} else if (*c->p == ',' && c->p[1] == '}') {
		c->p++;
		*_n = -1;
	} else if (*c->p == ',') {
		c->p++;
		if (read_num(c, _n) != 0 || *c->p != '}' || *_n < *_m) {
			goto bad;
		}
	} else {
		goto bad;
	}
	c->p++;
	return 0;
bad:
	c->err = "bad repetition bounds";
	return -EINVAL;
}

/* Append a copy of 'len' instructions. */
static int append(struct comp *c, const struct inst *code, size_t len)
{
	if (c->re->n + len > MAX_INST) {
		c->err = "pattern too large";
		return -EINVAL;
	}
	memcpy(&c->re->code[c->re->n], code, len * sizeof(code[0]));
	c->re->n += len;
	return 0;
}

/* "{m,n}" of the atom at [start, end of code): m copies, then n - m
 * optional ones, each "SPLIT next, end; atom"; with no bound, a loop
 * back over the last copy (or around the atom when m is 0). */
static int repeat(struct comp *c, size_t start, int m, int n)
{
	struct mg__re *re = c->re;
	size_t len = re->n - start;
	struct inst *atom;
	int ret = -ENOMEM;

	if (len == 0) {
		return 0; /* "()*": nothing to repeat, nothing to emit */
	}
	atom = talloc_memdup(re, &re->code[start], len * sizeof(re->code[0]));
	if (atom == NULL) {
		c->err = "out of memory";
		return -ENOMEM;
	}
	re->n = start;
	for (int i = 0; i < m; i++) {
		if ((ret = append(c, atom, len)) != 0) {
			goto out;
		}
	}
	if (n < 0 && m > 0) {
		ret = emit(c, OP_SPLIT, -(int)len, 1);
	} else if (n < 0) {
		if ((ret = emit(c, OP_SPLIT, 1, (int)len + 2)) == 0 &&
		    (ret = append(c, atom, len)) == 0) {
			ret = emit(c, OP_JMP, -(int)len - 1, 0);
		}
	}
	for (int i = 0, k = n - m; n >= 0 && i < k; i++) {
		if ((ret = emit(c, OP_SPLIT, 1, (k - i) * ((int)len + 1))) != 0 ||
		    (ret = append(c, atom, len)) != 0) {
			goto out;
		}
	}
	ret = 0;
out:
	talloc_free(atom);
	return ret;
}

static int parse_piece(struct comp *c)
{
	size_t start = c->re->n;
	bool anchor;
	int m = 0, n = 0;

	if (parse_atom(c, &anchor) != 0) {
		return -EINVAL;
	}
	switch (*c->p) {
	case '*': m = 0; n = -1; break;
	case '+': m = 1; n = -1; break;
	case '?': m = 0; n = 1; break;
	case '{': break;
	default: return 0;
	}
	if (anchor) {
		c->err = "nothing to repeat";
		return -EINVAL;
	}
	if (*c->p++ == '{' && parse_bounds(c, &m, &n) != 0) {
		return -EINVAL;
	}
	if (*c->p == '*' || *c->p == '+' || *c->p == '?' || *c->p == '{') {
		c->err = "nothing to repeat";
		return -EINVAL;
	}
	return repeat(c, start, m, n);
}

static int parse_seq(struct comp *c)
{
	while (*c->p != '\0' && *c->p != '|' && *c->p != ')') {
		if (parse_piece(c) != 0) {
			return -EINVAL;
		}
	}
	return 0;
}

/* a|b|c: "SPLIT a, rest; a; JMP end; SPLIT b, c; b; JMP end; c". Code is
 * only ever inserted at the start of the alternative just parsed, after
 * every JMP still to be patched. */
static int parse_alt(struct comp *c)
{
	size_t jumps[64], nj = 0, start = c->re->n;

	if (parse_seq(c) != 0) {
		return -EINVAL;
	}
	while (*c->p == '|') {
		c->p++;
		if (nj == sizeof(jumps) / sizeof(jumps[0])) {
			c->err = "too many alternatives";
			return -EINVAL;
		}
		if (insert(c, start, OP_SPLIT, 1, (int)(c->re->n - start) + 2) != 0 ||
		    emit(c, OP_JMP, 0, 0) != 0) {
			return -EINVAL;
		}
		jumps[nj++] = c->re->n - 1;
		start = c->re->n;
		if (parse_seq(c) != 0) {
			return -EINVAL;
		}
	}
	for (size_t i = 0; i < nj; i++) {
		c->re->code[jumps[i]].x = (int16_t)(c->re->n - jumps[i]);
	}
	return 0;
}

int mg__re_compile(TALLOC_CTX *mem_ctx, const char *pattern, struct mg__re **_re,
		   char **_errmsg)
{
	struct mg__re *re = talloc_zero(mem_ctx, struct mg__re);
	struct comp c = { .p = pattern, .re = re };

	if (re == NULL || (re->code = talloc_array(re, struct inst, MAX_INST)) == NULL ||
	    (re->sets = talloc_array(re, struct set, MAX_SETS)) == NULL) {
		talloc_free(re);
		return -ENOMEM;
	}
	if (parse_alt(&c) == 0 && *c.p != '\0') {
		c.err = "unmatched ')'";
	}
	if (c.err == NULL) {
		emit(&c, OP_MATCH, 0, 0);
	}
	if (c.err != NULL) {
		*_errmsg = talloc_asprintf(mem_ctx, "bad pattern '%s': %s", pattern, c.err);
		talloc_free(re);
		return -EINVAL;
	}
	re->code = talloc_realloc(re, re->code, struct inst, re->n);
	re->sets = talloc_realloc(re, re->sets, struct set, c.nsets > 0 ? c.nsets : 1);
	re->clist = talloc_array(re, uint16_t, re->n);
	re->nlist = talloc_array(re, uint16_t, re->n);
	re->stack = talloc_array(re, uint16_t, 2 * re->n + 1);
	re->mark = talloc_array(re, uint32_t, re->n);
	if (re->code == NULL || re->sets == NULL || re->clist == NULL || re->nlist == NULL || re->stack == NULL ||
	    re->mark == NULL) {
		talloc_free(re);
		return -ENOMEM;
	}
	*_re = re;
	return 0;
}

/* Add the thread at 'pc' to 'list' for position 'pos', following the
 * instructions that consume nothing; each pc once per position. */
static size_t add_thread(struct mg__re *re, uint16_t *list, size_t nl, unsigned pc,
			 size_t pos, size_t n, uint32_t gen, bool *_matched)
{
	size_t sp = 0;

	re->stack[sp++] = (uint16_t)pc;
	while (sp > 0) {
		const struct inst *in;
		pc = re->stack[--sp];
		if (re->mark[pc] == gen) {
			continue;
		}
		re->mark[pc] = gen;
		in = &re->code[pc];
		switch (in->op) {
		case OP_JMP:
			re->stack[sp++] = (uint16_t)(pc + in->x);
			break;
		case OP_SPLIT:
			re->stack[sp++] = (uint16_t)(pc + in->y);
			re->stack[sp++] = (uint16_t)(pc + in->x);
			break;
		case OP_BOL:
		case OP_EOL:
			if (pos == (in->op == OP_BOL ? 0 : n)) {
				re->stack[sp++] = (uint16_t)(pc + 1);
			}
			break;
		case OP_MATCH:
			*_matched = true;
			break;
		default:
			list[nl++] = (uint16_t)pc;
			break;
		}
	}
	return nl;
}

static bool consumes(const struct mg__re *re, const struct inst *in, unsigned ch)
{
	if (in->op == OP_CHAR) {
		return ch == in->a || ch == in->b;
	}
	return set_has(re->sets[in->x].w, ch);
}

bool mg__re_search(struct mg__re *re, const char *text, size_t n)
{
	uint16_t *clist = re->clist, *nlist = re->nlist, *t;
	size_t nc, nn;
	uint32_t gen = 1;
	bool matched = false;

	memset(re->mark, 0, re->n * sizeof(re->mark[0]));
	nc = add_thread(re, clist, 0, 0, 0, n, gen, &matched);
	for (size_t pos = 0; !matched && pos < n; pos++) {
		unsigned ch = (unsigned char)text[pos];
		gen++;
		nn = 0;
		for (size_t i = 0; i < nc; i++) {
			if (consumes(re, &re->code[clist[i]], ch)) {
				nn = add_thread(re, nlist, nn, clist[i] + 1u, pos + 1, n, gen, &matched);
			}
		}
		/* Unanchored: a match may also start at the next byte. */
		nn = add_thread(re, nlist, nn, 0, pos + 1, n, gen, &matched);
		t = clist, clist = nlist, nlist = t;
		nc = nn;
	}
	return matched;
}

/* --- ssh's wildcards ------------------------------------------------------ */

bool mg__wild_match(const char *p, const char *s)
{
	const char *star = NULL, *from = NULL;

	/* On a mismatch, the last '*' takes one more byte: linear in
	 * practice, quadratic at worst, never exponential. */
	while (*s != '\0') {
		if (*p == '*') {
			star = ++p;
			from = s;
		} else if (*p != '\0' && (*p == '?' || *p == *s)) {
			p++;
			s++;
		} else if (star != NULL) {
			p = star;
			s = ++from;
		} else {
			return false;
		}
	}
	while (*p == '*') {
		p++;
	}
	return *p == '\0';
}
