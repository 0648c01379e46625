/* Growable byte strings on talloc, for the reporter: see report-private.h. */
#include <stdarg.h>
#include <stdint.h>
#include <string.h>
#include "report-private.h"

void mg__rbuf_put(TALLOC_CTX *mem_ctx, struct mg__rbuf *b, const void *p,
		  size_t n)
{
	size_t have, want;
	char *np;

	if (b->oom || n == 0) {
		return;
	}
	have = b->p != NULL ? talloc_get_size(b->p) : 0;
	/* One byte more for a NUL, so that texts can be used as strings. */
	if (n >= SIZE_MAX / 2 - b->len) {
		b->oom = true;
		return;
	}
	if (b->len + n + 1 > have) {
		want = have > 0 ? have : 64;
		while (want < b->len + n + 1) {
			want *= 2;
		}
		np = talloc_realloc(mem_ctx, b->p, char, want);
		if (np == NULL) {
			b->oom = true;
			return;
		}
		b->p = np;
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void mg__rbuf_puts(TALLOC_CTX *mem_ctx, struct mg__rbuf *b, const char *s)
{
	mg__rbuf_put(mem_ctx, b, s, strlen(s));
}

void mg__rbuf_printf(TALLOC_CTX *mem_ctx, struct mg__rbuf *b,
		     const char *fmt, ...)
{
	char *s;
	va_list ap;

	va_start(ap, fmt);
	s = talloc_vasprintf(NULL, fmt, ap);
	va_end(ap);
	if (s == NULL) {
		b->oom = true;
		return;
	}
	mg__rbuf_puts(mem_ctx, b, s);
	talloc_free(s);
}
