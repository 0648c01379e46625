/*
 * Smaller stand-ins for a few musl functions, for the static musl agent
 * only (tools/build-agent.sh): the agent is pushed to every hop, and
 * these are most of what musl added to it that the agent never uses.
 *
 * - vfprintf: musl's carries floating point formatting (fmt_fp, 6 KB)
 *   that nothing in the agent asks for. This one does the conversions
 *   the library and talloc use: d i u o x X c s p %, with flags, width,
 *   precision and the hh h l ll z j t lengths. musl's snprintf, fprintf,
 *   dprintf... all come here. A float conversion prints as is (none is
 *   used: tools/check-agent-formats.sh would be the place to enforce it).
 * - qsort: a shell sort instead of smoothsort (2 KB); the agent sorts a
 *   few ids.
 * - strstr: a plain scan instead of two-way (1.3 KB); the agent looks
 *   for short words in short lines.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

struct pf {
	FILE *f;
	size_t n;                  /* in buf */
	int count;
	char buf[1024];
};

static void pf_flush(struct pf *o)
{
	if (o->n > 0) {
		fwrite(o->buf, 1, o->n, o->f);
		o->n = 0;
	}
}

static void pf_out(struct pf *o, const char *s, size_t n)
{
	o->count += (int)n;
	while (n > 0) {
		size_t k = sizeof(o->buf) - o->n;
		if (k == 0) {
			pf_flush(o);
			continue;
		}
		if (k > n) {
			k = n;
		}
		memcpy(o->buf + o->n, s, k);
		o->n += k;
		s += k;
		n -= k;
	}
}

static void pf_pad(struct pf *o, char c, int n)
{
	for (; n > 0; n--) {
		pf_out(o, &c, 1);
	}
}

/* One integer conversion: PREFIX, zeros, DIGITS, padded to WIDTH. */
static void pf_num(struct pf *o, uintmax_t v, unsigned base, int upper, const char *prefix,
		   int prec, int width, int left, int zero)
{
	const char *dig = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	char buf[3 * sizeof(v)], *d = buf + sizeof(buf);
	int nd, zeros, plen = (int)strlen(prefix);

	while (v > 0) {
		*--d = dig[v % base];
		v /= base;
	}
	nd = (int)(buf + sizeof(buf) - d);
	if (prec < 0) {
		prec = 1;
	} else {
		zero = 0;
	}
	zeros = prec > nd ? prec - nd : 0;
	if (base == 8 && plen > 0) {
		/* '#' with octal: one leading zero, not a prefix. */
		plen = 0;
		if (zeros == 0 && (nd == 0 || *d != '0')) {
			zeros = 1;
		}
	}
	if (zero && !left && width > plen + zeros + nd) {
		zeros = width - plen - nd;
	}
	if (!left) {
		pf_pad(o, ' ', width - plen - zeros - nd);
	}
	pf_out(o, prefix, (size_t)plen);
	pf_pad(o, '0', zeros);
	pf_out(o, d, (size_t)nd);
	if (left) {
		pf_pad(o, ' ', width - plen - zeros - nd);
	}
}

static int pf_int(const char **pp, va_list *ap)
{
	const char *p = *pp;
	int v = 0;

	if (*p == '*') {
		*pp = p + 1;
		return va_arg(*ap, int);
	}
	while (*p >= '0' && *p <= '9') {
		v = v * 10 + (*p++ - '0');
	}
	*pp = p;
	return v;
}

int vfprintf(FILE *restrict f, const char *restrict fmt, va_list ap)
{
	struct pf o;
	va_list aq;

	o.f = f;
	o.n = 0;
	o.count = 0;
	va_copy(aq, ap);
	for (const char *p = fmt; *p != '\0';) {
		const char *start = p, *q = strchr(p, '%');
		int left = 0, zero = 0, plus = 0, space = 0, alt = 0, width, prec = -1, len = 0;
		uintmax_t u;
		char c;

		if (q == NULL) {
			pf_out(&o, p, strlen(p));
			break;
		}
		pf_out(&o, p, (size_t)(q - p));
		start = q;
		p = q + 1;
		for (;; p++) {
			if (*p == '-') left = 1;
			else if (*p == '0') zero = 1;
			else if (*p == '+') plus = 1;
			else if (*p == ' ') space = 1;
			else if (*p == '#') alt = 1;
			else break;
		}
		width = pf_int(&p, &aq);
		if (width < 0) {
			left = 1;
			width = -width;
		}
		if (*p == '.') {
			p++;
			prec = pf_int(&p, &aq);
			if (prec < 0) {
				prec = -1;
			}
		}
		/* 1 hh, 2 h, 3 l / z / t, 4 ll / j */
		for (;; p++) {
			if (*p == 'h') len = len == 2 ? 1 : 2;
			else if (*p == 'l') len = len == 3 ? 4 : 3;
			else if (*p == 'z' || *p == 't') len = 3;
			else if (*p == 'j') len = 4;
			else break;
		}
		c = *p++;
		switch (c) {
		case 'd':
		case 'i': {
			intmax_t v = len == 4 ? va_arg(aq, long long) : len == 3 ? va_arg(aq, long) :
				     va_arg(aq, int);
			if (len == 1) {
				v = (signed char)v;
			} else if (len == 2) {
				v = (short)v;
			}
			u = v < 0 ? -(uintmax_t)v : (uintmax_t)v;
			pf_num(&o, u, 10, 0, v < 0 ? "-" : plus ? "+" : space ? " " : "", prec, width,
			       left, zero);
			break;
		}
		case 'u':
		case 'x':
		case 'X':
		case 'o':
			u = len == 4 ? va_arg(aq, unsigned long long) :
			    len == 3 ? va_arg(aq, unsigned long) : va_arg(aq, unsigned);
			if (len == 1) {
				u = (unsigned char)u;
			} else if (len == 2) {
				u = (unsigned short)u;
			}
			pf_num(&o, u, c == 'u' ? 10 : c == 'o' ? 8 : 16, c == 'X',
			       alt && c != 'u' && (c == 'o' || u != 0) ?
			       c == 'X' ? "0X" : c == 'o' ? "0" : "0x" : "",
			       prec, width, left, zero);
			break;
		case 'p':
			u = (uintptr_t)va_arg(aq, void *);
			pf_num(&o, u, 16, 0, "0x", prec, width, left, 0);
			break;
		case 'c':
		case 's': {
			char ch;
			const char *s = &ch;
			size_t n = 1;
			if (c == 'c') {
				ch = (char)va_arg(aq, int);
			} else {
				s = va_arg(aq, const char *);
				if (s == NULL) {
					s = "(null)";
				}
				n = prec >= 0 ? strnlen(s, (size_t)prec) : strlen(s);
			}
			if (!left) {
				pf_pad(&o, ' ', width - (int)n);
			}
			pf_out(&o, s, n);
			if (left) {
				pf_pad(&o, ' ', width - (int)n);
			}
			break;
		}
		case '%':
			pf_out(&o, "%", 1);
			break;
		default:
			/* Not used by the agent (floats, %n...): shown as written. */
			if (c == '\0') {
				p--;
			}
			pf_out(&o, start, (size_t)(p - start));
			break;
		}
	}
	va_end(aq);
	pf_flush(&o);
	return ferror(f) ? -1 : o.count;
}

void qsort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
	char *b = base;

	for (size_t gap = n / 2; gap > 0; gap = gap == 2 ? 1 : gap * 5 / 11) {
		for (size_t i = gap; i < n; i++) {
			for (size_t j = i; j >= gap && cmp(b + (j - gap) * size, b + j * size) > 0;
			     j -= gap) {
				char *x = b + (j - gap) * size, *y = b + j * size;
				for (size_t k = 0; k < size; k++) {
					char t = x[k];
					x[k] = y[k];
					y[k] = t;
				}
			}
		}
	}
}

char *strstr(const char *h, const char *n)
{
	size_t k = strlen(n);

	for (;; h++) {
		if (strncmp(h, n, k) == 0) {
			return (char *)h;
		}
		if (*h == '\0') {
			return NULL;
		}
	}
}

/*
 * strtol and friends: musl's go through its scanf number scanner
 * (__intscan, shgetc: 2 KB). Same rules: leading blanks, a sign, "0x" for
 * base 16 (or 0, which also takes a leading 0 for octal), digits up to
 * the first that does not fit the base; ERANGE and the limit on overflow;
 * *end at the first byte not used (the start when no digit was).
 */
_Static_assert(sizeof(long) == sizeof(long long), "LP64 only");

static unsigned long long scan_int(const char *s, char **end, int base, int *neg, int *over)
{
	const char *p = s, *first;
	unsigned long long v = 0;

	while (isspace((unsigned char)*p)) {
		p++;
	}
	*neg = *p == '-';
	if (*p == '+' || *p == '-') {
		p++;
	}
	if ((base == 0 || base == 16) && p[0] == '0' && (p[1] | 32) == 'x' &&
	    isxdigit((unsigned char)p[2])) {
		p += 2;
		base = 16;
	} else if (base == 0) {
		base = *p == '0' ? 8 : 10;
	}
	*over = 0;
	if (base < 2 || base > 36) {
		errno = EINVAL;
		p = s;
	}
	for (first = p; base >= 2 && base <= 36; p++) {
		unsigned d = *p >= '0' && *p <= '9' ? (unsigned)(*p - '0') :
			     (*p | 32) >= 'a' && (*p | 32) <= 'z' ? (unsigned)((*p | 32) - 'a' + 10) : 99;
		if (d >= (unsigned)base) {
			break;
		}
		if (v > (~0ULL - d) / (unsigned)base) {
			*over = 1;
		} else {
			v = v * (unsigned)base + d;
		}
	}
	if (p == first) {
		p = s;
		v = 0;
	}
	if (end != NULL) {
		*end = (char *)p;
	}
	return v;
}

unsigned long long strtoull(const char *restrict s, char **restrict end, int base)
{
	int neg, over;
	unsigned long long v = scan_int(s, end, base, &neg, &over);

	if (over) {
		errno = ERANGE;
		return ~0ULL;
	}
	return neg ? 0 - v : v;
}

long long strtoll(const char *restrict s, char **restrict end, int base)
{
	int neg, over;
	unsigned long long v = scan_int(s, end, base, &neg, &over);

	if (over || v > (neg ? 1ULL << 63 : (1ULL << 63) - 1)) {
		errno = ERANGE;
		return neg ? LLONG_MIN : LLONG_MAX;
	}
	return neg ? (long long)(0 - v) : (long long)v;
}

unsigned long strtoul(const char *restrict s, char **restrict end, int base)
{
	return strtoull(s, end, base);
}

long strtol(const char *restrict s, char **restrict end, int base)
{
	return strtoll(s, end, base);
}
