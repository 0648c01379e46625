/*
 * The reporter's texts made from results: JSON objects, clush -b style
 * groups, the one-line failure summary and the --failed file.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "report-private.h"

bool mg__report_target_failed(const struct mg__report_target *t)
{
	return t->status != 0 || t->cut[0] || t->cut[1];
}

/* Length of the valid UTF-8 sequence at s (not ASCII), or 0: overlong
 * forms, surrogates and code points past U+10FFFF are not valid. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	size_t len;
	uint32_t cp;

	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		len = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if (n < len) {
		return 0;
	}
	for (size_t k = 1; k < len; k++) {
		if ((s[k] & 0xc0) != 0x80) {
			return 0;
		}
		cp = cp << 6 | (s[k] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (cp >= 0xd800 && cp <= 0xdfff)
	    || (len == 4 && (cp < 0x10000 || cp > 0x10ffff))) {
		return 0;
	}
	return len;
}

/*
 * Command output is bytes, JSON strings are Unicode. Valid UTF-8 is
 * copied as it is; every byte that is not part of valid UTF-8 is written
 * as \u00XX with the byte's value. That is lossy (it reads back as
 * U+00XX, as if the byte were Latin-1, so "\xe9" and "é" look alike
 * once decoded) but keeps the text readable and every JSON parser happy;
 * use --outdir for the exact bytes.
 */
static void json_chars(TALLOC_CTX *mem_ctx, struct mg__rbuf *b,
		       const char *p, size_t n)
{
	const unsigned char *u = (const unsigned char *)p;
	size_t i = 0, run = 0;

	while (i < n) {
		unsigned char c = u[i];
		const char *esc = NULL;
		size_t len = 1;

		if (c >= 0x80) {
			len = utf8_seq(u + i, n - i);
		} else if (c == '"') {
			esc = "\\\"";
		} else if (c == '\\') {
			esc = "\\\\";
		} else if (c == '\n') {
			esc = "\\n";
		} else if (c == '\t') {
			esc = "\\t";
		} else if (c == '\r') {
			esc = "\\r";
		} else if (c < 0x20 || c == 0x7f) {
			len = 0;
		}
		if (esc == NULL && len > 0) {
			/* Copied in runs, not byte by byte. */
			i += len;
			run += len;
			continue;
		}
		mg__rbuf_put(mem_ctx, b, p + i - run, run);
		run = 0;
		if (esc != NULL) {
			mg__rbuf_puts(mem_ctx, b, esc);
		} else {
			mg__rbuf_printf(mem_ctx, b, "\\u%04x", c);
		}
		i++;
	}
	mg__rbuf_put(mem_ctx, b, p + i - run, run);
}

void mg__report_json_str(TALLOC_CTX *mem_ctx, struct mg__rbuf *b,
			 const char *p, size_t n)
{
	mg__rbuf_put(mem_ctx, b, "\"", 1);
	json_chars(mem_ctx, b, p, n);
	mg__rbuf_put(mem_ctx, b, "\"", 1);
}

#define JSON_PIECE (256u << 10)

/*
 * A target's output as a JSON string, written out a piece at a time once
 * 'b' holds a few pieces: escaping may make each byte six (\u00XX), and
 * up to MG_REPORT_KEEP_MAX bytes of output must not need six times that
 * in one buffer. A piece never ends inside a UTF-8 sequence (it ends
 * before the lead byte of continuation bytes that have one within 3 bytes
 * back), so the text is the same as in one piece. *_emitted says whether
 * part of 'b' went out.
 */
static void json_output(struct mg_report *rep, TALLOC_CTX *mem_ctx,
			struct mg__rbuf *b, const char *p, size_t n,
			bool *_emitted)
{
	const unsigned char *u = (const unsigned char *)p;
	size_t i = 0;

	mg__rbuf_put(mem_ctx, b, "\"", 1);
	while (i < n) {
		size_t end = n - i > JSON_PIECE ? i + JSON_PIECE : n;

		/* Before a continuation byte, go back to its lead, if any:
		 * a stray continuation byte after a whole sequence must not
		 * send the split into that sequence. */
		for (size_t k = 1; k <= 3 && end < n && (u[end] & 0xc0) == 0x80; k++) {
			if ((u[end - k] & 0xc0) != 0x80) {
				end -= u[end - k] >= 0xc0 ? k : 0;
				break;
			}
		}
		json_chars(mem_ctx, b, p + i, end - i);
		i = end;
		if (b->len >= 4 * JSON_PIECE && !b->oom) {
			mg__report_emit(rep, 0, b->p, b->len);
			b->len = 0;
			*_emitted = true;
		}
	}
	mg__rbuf_put(mem_ctx, b, "\"", 1);
}

static const char *outcome_name(const struct mg__report_target *t)
{
	switch (t->res.outcome) {
	case MG_OUTCOME_RAN:
		/* Output cut short counts as failed (255): never "ok". */
		return mg__report_target_failed(t) ? "failed" : "ok";
	case MG_OUTCOME_NOT_STARTED:
		return "not-started";
	case MG_OUTCOME_UNREACHABLE:
		return "unreachable";
	case MG_OUTCOME_TIMEOUT:
		return "timeout";
	default:
		return "lost";
	}
}

void mg__report_json(struct mg_report *rep, struct mg__report_target *t)
{
	TALLOC_CTX *tmp_ctx = talloc_new(NULL);
	const struct mg_target_result *r = &t->res;
	struct mg__rbuf b = { 0 };
	bool has_rc = r->outcome == MG_OUTCOME_RAN
		      || r->outcome == MG_OUTCOME_NOT_STARTED;
	bool cut = t->cut[0] || t->cut[1], emitted = false;

	if (tmp_ctx == NULL) {
		mg__report_fail(rep, -ENOMEM, "out of memory");
		return;
	}
	mg__rbuf_puts(tmp_ctx, &b, "{\"target\":");
	mg__report_json_str(tmp_ctx, &b, t->name, strlen(t->name));
	mg__rbuf_puts(tmp_ctx, &b, ",\"chain\":");
	mg__report_json_str(tmp_ctx, &b, t->chain, strlen(t->chain));
	mg__rbuf_printf(tmp_ctx, &b, ",\"outcome\":\"%s\"", outcome_name(t));
	if (has_rc) {
		mg__rbuf_printf(tmp_ctx, &b, ",\"rc\":%d", t->status);
	} else {
		mg__rbuf_puts(tmp_ctx, &b, ",\"rc\":null");
	}
	if (r->signal != 0) {
		mg__rbuf_printf(tmp_ctx, &b, ",\"signal\":%d", r->signal);
	} else {
		mg__rbuf_puts(tmp_ctx, &b, ",\"signal\":null");
	}
	mg__rbuf_printf(tmp_ctx, &b, ",\"duration\":%" PRIu64 ".%03u",
			r->duration_ms / 1000, (unsigned)(r->duration_ms % 1000));
	mg__rbuf_puts(tmp_ctx, &b, ",\"stdout\":");
	json_output(rep, tmp_ctx, &b, t->kept[0].p, t->kept[0].len, &emitted);
	mg__rbuf_puts(tmp_ctx, &b, ",\"stderr\":");
	json_output(rep, tmp_ctx, &b, t->kept[1].p, t->kept[1].len, &emitted);
	/* Only when true: the objects of whole outputs keep their keys. */
	if (cut) {
		mg__rbuf_puts(tmp_ctx, &b, ",\"truncated\":true");
	}
	mg__rbuf_puts(tmp_ctx, &b, ",\"error\":");
	if (r->errmsg != NULL) {
		mg__report_json_str(tmp_ctx, &b, r->errmsg, strlen(r->errmsg));
	} else if (r->outcome != MG_OUTCOME_RAN || cut) {
		mg__report_json_str(tmp_ctx, &b, t->reason, strlen(t->reason));
	} else {
		mg__rbuf_puts(tmp_ctx, &b, "null");
	}
	mg__rbuf_puts(tmp_ctx, &b, "}\n");
	if (b.oom) {
		mg__report_fail(rep, -ENOMEM, "out of memory for the JSON "
				"object of %s", t->name);
		if (emitted) {
			/* End the broken line: the next object has its own. */
			mg__report_emit(rep, 0, "\n", 1);
		}
	} else {
		mg__report_emit(rep, 0, b.p, b.len);
	}
	talloc_free(tmp_ctx);
}

/*
 * The stdout that gathering compares, as -b prints it: an unended last
 * line is printed ended, so "abc" and "abc\n" are one group (as with
 * clush -b and dshbak -c, which read lines). -1 for no output at all,
 * which prints nothing where "\n" prints an empty line.
 */
static ssize_t gather_len(const struct mg__report_target *t)
{
	const struct mg__rbuf *out = &t->kept[0];

	if (out->len == 0) {
		return -1;
	}
	return (ssize_t)out->len - (out->p[out->len - 1] == '\n');
}

/* Whether x and y print the same stdout under -b. */
static int cmp_shown(const struct mg__report_target *x,
		     const struct mg__report_target *y)
{
	ssize_t xn = gather_len(x), yn = gather_len(y);

	if (xn != yn) {
		return xn < yn ? -1 : 1;
	}
	return xn > 0 ? memcmp(x->kept[0].p, y->kept[0].p, (size_t)xn) : 0;
}

/* Order for gathering: same reason and stdout next to each other, then
 * target order, so that each run starts with its first target. */
static int cmp_gather(const void *a, const void *b)
{
	const struct mg__report_target *x = *(struct mg__report_target *const *)a;
	const struct mg__report_target *y = *(struct mg__report_target *const *)b;
	int c = strcmp(x->reason, y->reason);

	if (c == 0) {
		c = cmp_shown(x, y);
	}
	if (c == 0) {
		c = x->index < y->index ? -1 : (x->index > y->index ? 1 : 0);
	}
	return c;
}

/* Same reason only, for the summary. */
static int cmp_reason(const void *a, const void *b)
{
	const struct mg__report_target *x = *(struct mg__report_target *const *)a;
	const struct mg__report_target *y = *(struct mg__report_target *const *)b;
	int c = strcmp(x->reason, y->reason);

	if (c == 0) {
		c = x->index < y->index ? -1 : (x->index > y->index ? 1 : 0);
	}
	return c;
}

struct group {
	struct mg__report_target **t; /* into the sorted vector */
	size_t n;
};

static int cmp_group(const void *a, const void *b)
{
	const struct group *x = a, *y = b;

	return x->t[0]->index < y->t[0]->index ? -1 : 1;
}

/*
 * Targets 'v' (n of them, reordered) grouped by reason, and by stdout
 * too when 'gather' ('cmp' must sort those keys together); groups in the
 * order of their first target. NULL on ENOMEM.
 */
static struct group *group_by(TALLOC_CTX *mem_ctx,
			      struct mg__report_target **v, size_t n,
			      int (*cmp)(const void *, const void *),
			      bool gather, size_t *_ng)
{
	struct group *g = talloc_array(mem_ctx, struct group, n > 0 ? n : 1);
	size_t ng = 0;

	if (g == NULL) {
		return NULL;
	}
	qsort(v, n, sizeof(*v), cmp);
	for (size_t i = 0; i < n; i++) {
		bool same = i > 0 && strcmp(v[i]->reason, v[i - 1]->reason) == 0;

		if (same && gather) {
			same = cmp_shown(v[i], v[i - 1]) == 0;
		}
		if (!same) {
			g[ng].t = &v[i];
			g[ng].n = 0;
			ng++;
		}
		g[ng - 1].n++;
	}
	qsort(g, ng, sizeof(*g), cmp_group);
	*_ng = ng;
	return g;
}

/* The folded names of the first n targets of g. */
static char *fold_group(TALLOC_CTX *mem_ctx, const struct group *g, size_t n)
{
	const char **names = talloc_array(mem_ctx, const char *, n);
	char *s;

	if (names == NULL) {
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		names[i] = g->t[i]->name;
	}
	s = mg_report_fold(mem_ctx, names, n);
	talloc_free(names);
	return s;
}

void mg__report_gather(struct mg_report *rep)
{
	static const char line[] = "---------------\n";
	TALLOC_CTX *tmp_ctx = talloc_new(NULL);
	struct mg__report_target **v;
	struct group *g = NULL;
	size_t ng = 0;

	v = tmp_ctx != NULL ? talloc_array(tmp_ctx, struct mg__report_target *,
					   rep->n + 1) : NULL;
	if (v != NULL) {
		for (size_t i = 0; i < rep->n; i++) {
			v[i] = rep->t[i];
		}
		g = group_by(tmp_ctx, v, rep->n, cmp_gather, true, &ng);
	}
	if (g == NULL) {
		mg__report_fail(rep, -ENOMEM, "out of memory");
		talloc_free(tmp_ctx);
		return;
	}
	for (size_t k = 0; k < ng; k++) {
		const struct mg__rbuf *out = &g[k].t[0]->kept[0];
		const char *reason = g[k].t[0]->reason;
		char *names, *head;

		if (out->len == 0 && reason[0] == '\0') {
			/* Nothing to show, and nothing wrong: no group, as
			 * clush -b and dshbak -c print none. */
			continue;
		}
		names = fold_group(tmp_ctx, &g[k], g[k].n);
		head = names == NULL ? NULL
			     : talloc_asprintf(tmp_ctx, "%s%s%s%s%s\n%s", line,
					       names, reason[0] != '\0' ? " (" : "",
					       reason, reason[0] != '\0' ? ")" : "",
					       line);

		if (head == NULL) {
			mg__report_fail(rep, -ENOMEM, "out of memory");
			break;
		}
		/* The output is not copied: it may be large. */
		mg__report_emit(rep, 0, head, strlen(head));
		mg__report_emit(rep, 0, out->p, out->len);
		if (out->len > 0 && out->p[out->len - 1] != '\n') {
			mg__report_emit(rep, 0, "\n", 1);
		}
		talloc_free(head);
		talloc_free(names);
	}
	talloc_free(tmp_ctx);
}

/* "NAMES (REASON)" for the first n targets of g. */
static char *item(TALLOC_CTX *mem_ctx, const struct group *g, size_t n)
{
	char *names = fold_group(mem_ctx, g, n);
	char *s;

	if (names == NULL) {
		return NULL;
	}
	s = talloc_asprintf(mem_ctx, "%s (%s)", names, g->t[0]->reason);
	talloc_free(names);
	return s;
}

/* Whether 's' still fits after the b->len bytes listed so far. */
static bool fits(const struct mg__rbuf *b, const char *s)
{
	return b->len + (b->len > 0 ? 2 : 0) + strlen(s)
	       <= MG_REPORT_SUMMARY_MAX;
}

char *mg__report_summary_text(TALLOC_CTX *mem_ctx, struct mg_report *rep)
{
	TALLOC_CTX *tmp_ctx = talloc_new(NULL);
	struct mg__report_target **v;
	struct mg__rbuf b = { 0 };
	struct group *g;
	size_t nf = 0, ng = 0, listed = 0;
	char *text = NULL, *s;

	v = tmp_ctx != NULL ? talloc_array(tmp_ctx, struct mg__report_target *,
					   rep->n + 1) : NULL;
	if (v == NULL) {
		goto done;
	}
	for (size_t i = 0; i < rep->n; i++) {
		if (mg__report_target_failed(rep->t[i])) {
			v[nf++] = rep->t[i];
		}
	}
	if (nf == 0) {
		text = talloc_strdup(mem_ctx, "");
		goto done;
	}
	g = group_by(tmp_ctx, v, nf, cmp_reason, false, &ng);
	if (g == NULL) {
		goto done;
	}
	for (size_t k = 0; k < ng; k++) {
		size_t lo = 0, hi = g[k].n, fit = 0;

		if ((s = item(tmp_ctx, &g[k], g[k].n)) == NULL) {
			goto done;
		}
		if (!fits(&b, s)) {
			/* The largest part of this group that still fits
			 * (folding is not monotonic in length, but close). */
			talloc_free(s);
			s = NULL;
			while (hi - lo > 1) {
				size_t mid = lo + (hi - lo) / 2;
				char *m = item(tmp_ctx, &g[k], mid);

				if (m == NULL) {
					goto done;
				}
				if (fits(&b, m)) {
					lo = mid;
					talloc_free(s);
					s = m;
				} else {
					hi = mid;
					talloc_free(m);
				}
			}
			fit = lo;
			if (fit == 0 && listed == 0) {
				/* One name too long for the line is still
				 * better than "... and 1 more" alone. */
				if ((s = item(tmp_ctx, &g[k], 1)) == NULL) {
					goto done;
				}
				fit = 1;
			}
		} else {
			fit = g[k].n;
		}
		if (s != NULL) {
			mg__rbuf_printf(tmp_ctx, &b, "%s%s",
					b.len > 0 ? ", " : "", s);
			listed += fit;
		}
		if (fit < g[k].n) {
			break;
		}
	}
	if (listed < nf) {
		mg__rbuf_printf(tmp_ctx, &b, "%s... and %zu more",
				b.len > 0 ? ", " : "", nf - listed);
	}
	if (!b.oom) {
		text = talloc_asprintf(mem_ctx, "%zu of %zu failed: %s", nf,
				       rep->n, b.p);
	}
done:
	talloc_free(tmp_ctx);
	return text;
}

void mg__report_summary(struct mg_report *rep)
{
	char *text = mg__report_summary_text(rep, rep);

	if (text == NULL) {
		mg__report_fail(rep, -ENOMEM, "out of memory");
		return;
	}
	if (text[0] != '\0') {
		char *line = talloc_asprintf(rep, "%s%s%s\n", rep->ident != NULL ? rep->ident : "",
					     rep->ident != NULL ? ": " : "", text);

		if (line != NULL) {
			mg__report_emit(rep, 1, line, strlen(line));
		}
		talloc_free(line);
	}
	talloc_free(text);
}

void mg__report_failed_file(struct mg_report *rep)
{
	struct mg__rbuf b = { 0 };
	int fd, r;

	for (size_t i = 0; i < rep->n; i++) {
		if (mg__report_target_failed(rep->t[i])) {
			mg__rbuf_puts(rep, &b, rep->t[i]->chain);
			mg__rbuf_put(rep, &b, "\n", 1);
		}
	}
	if (b.oom) {
		mg__report_fail(rep, -ENOMEM, "out of memory");
		talloc_free(b.p);
		return;
	}
	/* Written even when empty: a retry loop must see that nothing is
	 * left to retry. */
	fd = open(rep->failed_file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
		  0666);
	if (fd < 0) {
		r = -errno;
	} else {
		r = mg__report_write(fd, b.p, b.len);
		if (close(fd) != 0 && r == 0 && errno != EINTR) {
			r = -errno;
		}
	}
	if (r != 0) {
		mg__report_fail(rep, r, "cannot write '%s': %s",
				rep->failed_file, strerror(-r));
	}
	talloc_free(b.p);
}
