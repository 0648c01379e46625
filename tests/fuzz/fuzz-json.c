/*
 * The JSON writer of the reporter (tool/report*.c, --json): targets with
 * arbitrary names and chain texts, arbitrary bytes as their stdout and
 * stderr in chunks of any size, and any result. A tiny validator below
 * reads back what was written: every line must be one valid JSON object
 * (RFC 8259, UTF-8, no raw control characters), and its "stdout",
 * "stderr" and "target" strings must decode to the bytes given, valid
 * UTF-8 as its characters and every other byte as U+00XX.
 *
 * Input: u8 targets (1-4), then per target a u16-length name and chain
 * text; then records of u8 op: bit 0 clear, output (u8 target, u8 stream
 * 1 or 2, u16-length bytes); set, done (u8 target, u8 outcome, u8 exit
 * code, u8 signal, u32 ms, u8 flag, u16-length error message if set).
 */
#include <sys/mman.h>
#include "fuzz.h"
#include "report.h"

#define MAX_T 4

/* --- expectations --- */

/* One character of valid UTF-8 at p: its length (1-4) and value, or 0. */
static size_t utf8_char(const uint8_t *p, size_t n, uint32_t *_cp)
{
	uint32_t cp;
	size_t len;

	if (p[0] < 0x80) {
		*_cp = p[0];
		return 1;
	} else if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		len = 2, cp = p[0] & 0x1f;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		len = 3, cp = p[0] & 0x0f;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		len = 4, cp = p[0] & 0x07;
	} else {
		return 0;
	}
	if (n < len) {
		return 0;
	}
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80) {
			return 0;
		}
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff)) {
		return 0;
	}
	*_cp = cp;
	return len;
}

/* What bytes should read back as: characters, or U+00XX per bad byte. */
static uint32_t *expect(TALLOC_CTX *ctx, const uint8_t *p, size_t n, size_t *_k)
{
	uint32_t *v = talloc_array(ctx, uint32_t, n + 1);
	size_t k = 0;

	FUZZ_CHECK(v != NULL);
	for (size_t i = 0; i < n;) {
		size_t len = utf8_char(p + i, n - i, &v[k]);
		if (len == 0) {
			v[k] = p[i];
			len = 1;
		}
		k++;
		i += len;
	}
	*_k = k;
	return v;
}

/* --- a validating JSON reader --- */

struct js {
	const uint8_t *p;
	size_t n;
	size_t i;
	int depth;
	TALLOC_CTX *ctx;
};

static bool js_value(struct js *j, uint32_t **_str, size_t *_len);

static void js_ws(struct js *j)
{
	while (j->i < j->n && (j->p[j->i] == ' ' || j->p[j->i] == '\t' ||
			       j->p[j->i] == '\n' || j->p[j->i] == '\r')) {
		j->i++;
	}
}

static int hexval(uint8_t c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
	       : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

static bool js_hex4(struct js *j, uint32_t *_v)
{
	uint32_t v = 0;

	if (j->n - j->i < 4) {
		return false;
	}
	for (int k = 0; k < 4; k++) {
		int h = hexval(j->p[j->i++]);
		if (h < 0) {
			return false;
		}
		v = v << 4 | (uint32_t)h;
	}
	*_v = v;
	return true;
}

/* A string; its characters in *_s when asked for. */
static bool js_string(struct js *j, uint32_t **_s, size_t *_len)
{
	uint32_t *s = talloc_array(j->ctx, uint32_t, j->n - j->i + 1);
	size_t k = 0;

	if (s == NULL || j->i >= j->n || j->p[j->i] != '"') {
		return false;
	}
	j->i++;
	for (;;) {
		uint32_t cp;
		size_t len;
		if (j->i >= j->n) {
			return false;
		}
		if (j->p[j->i] == '"') {
			j->i++;
			break;
		}
		if (j->p[j->i] < 0x20) {
			return false;
		}
		if (j->p[j->i] != '\\') {
			len = utf8_char(j->p + j->i, j->n - j->i, &cp);
			if (len == 0) {
				return false;
			}
			j->i += len;
			s[k++] = cp;
			continue;
		}
		if (++j->i >= j->n) {
			return false;
		}
		switch (j->p[j->i++]) {
		case '"': s[k++] = '"'; break;
		case '\\': s[k++] = '\\'; break;
		case '/': s[k++] = '/'; break;
		case 'b': s[k++] = '\b'; break;
		case 'f': s[k++] = '\f'; break;
		case 'n': s[k++] = '\n'; break;
		case 'r': s[k++] = '\r'; break;
		case 't': s[k++] = '\t'; break;
		case 'u':
			if (!js_hex4(j, &cp)) {
				return false;
			}
			if (cp >= 0xd800 && cp <= 0xdbff) {
				uint32_t lo;
				if (j->n - j->i < 2 || j->p[j->i] != '\\' || j->p[j->i + 1] != 'u') {
					return false;
				}
				j->i += 2;
				if (!js_hex4(j, &lo) || lo < 0xdc00 || lo > 0xdfff) {
					return false;
				}
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			} else if (cp >= 0xdc00 && cp <= 0xdfff) {
				return false;
			}
			s[k++] = cp;
			break;
		default:
			return false;
		}
	}
	if (_s != NULL) {
		*_s = s;
		*_len = k;
	}
	return true;
}

static bool js_number(struct js *j)
{
	size_t start = j->i;

	if (j->i < j->n && j->p[j->i] == '-') {
		j->i++;
	}
	if (j->i >= j->n || j->p[j->i] < '0' || j->p[j->i] > '9') {
		return false;
	}
	if (j->p[j->i] == '0') {
		j->i++;
	} else {
		while (j->i < j->n && j->p[j->i] >= '0' && j->p[j->i] <= '9') {
			j->i++;
		}
	}
	if (j->i < j->n && j->p[j->i] == '.') {
		size_t d = ++j->i;
		while (j->i < j->n && j->p[j->i] >= '0' && j->p[j->i] <= '9') {
			j->i++;
		}
		if (j->i == d) {
			return false;
		}
	}
	if (j->i < j->n && (j->p[j->i] == 'e' || j->p[j->i] == 'E')) {
		size_t d;
		j->i++;
		if (j->i < j->n && (j->p[j->i] == '+' || j->p[j->i] == '-')) {
			j->i++;
		}
		d = j->i;
		while (j->i < j->n && j->p[j->i] >= '0' && j->p[j->i] <= '9') {
			j->i++;
		}
		if (j->i == d) {
			return false;
		}
	}
	return j->i > start;
}

static bool js_word(struct js *j, const char *w)
{
	size_t n = strlen(w);

	if (j->n - j->i < n || memcmp(j->p + j->i, w, n) != 0) {
		return false;
	}
	j->i += n;
	return true;
}

/* The members of the top-level object we compare, by key. */
struct members {
	uint32_t *target, *out, *err;
	size_t target_n, out_n, err_n;
};

static bool js_container(struct js *j, struct members *top)
{
	bool obj = j->p[j->i] == '{';
	char close = obj ? '}' : ']';

	if (++j->depth > 64) {
		return false;
	}
	j->i++;
	js_ws(j);
	if (j->i < j->n && j->p[j->i] == close) {
		j->i++;
		j->depth--;
		return true;
	}
	for (;;) {
		uint32_t *key = NULL, *val = NULL;
		size_t key_n = 0, val_n = 0;
		js_ws(j);
		if (obj) {
			if (!js_string(j, &key, &key_n)) {
				return false;
			}
			js_ws(j);
			if (j->i >= j->n || j->p[j->i++] != ':') {
				return false;
			}
			js_ws(j);
		}
		if (!js_value(j, &val, &val_n)) {
			return false;
		}
		if (top != NULL && key != NULL && val != NULL) {
			static const char *const names[] = { "target", "stdout", "stderr" };
			uint32_t **slot[] = { &top->target, &top->out, &top->err };
			size_t *len[] = { &top->target_n, &top->out_n, &top->err_n };
			for (int k = 0; k < 3; k++) {
				bool same = key_n == strlen(names[k]);
				for (size_t c = 0; same && c < key_n; c++) {
					same = key[c] == (uint8_t)names[k][c];
				}
				if (same) {
					*slot[k] = val;
					*len[k] = val_n;
				}
			}
		}
		js_ws(j);
		if (j->i >= j->n) {
			return false;
		}
		if (j->p[j->i] == ',') {
			j->i++;
			continue;
		}
		if (j->p[j->i] == close) {
			j->i++;
			j->depth--;
			return true;
		}
		return false;
	}
}

static bool js_value(struct js *j, uint32_t **_str, size_t *_len)
{
	js_ws(j);
	if (j->i >= j->n) {
		return false;
	}
	switch (j->p[j->i]) {
	case '{':
	case '[':
		return js_container(j, NULL);
	case '"':
		return js_string(j, _str, _len);
	case 't':
		return js_word(j, "true");
	case 'f':
		return js_word(j, "false");
	case 'n':
		return js_word(j, "null");
	default:
		return js_number(j);
	}
}

/* One line: exactly one object, nothing after it. */
static bool js_line(TALLOC_CTX *ctx, const uint8_t *p, size_t n, struct members *m)
{
	struct js j = { p, n, 0, 0, ctx };

	js_ws(&j);
	if (j.i >= n || p[j.i] != '{' || !js_container(&j, m)) {
		return false;
	}
	js_ws(&j);
	return j.i == n;
}

/* --- the target --- */

struct tgt {
	uint8_t *name;
	size_t name_n;
	uint8_t *bytes[2];
	size_t n[2];
	bool done;
};

static bool same(const uint32_t *a, size_t an, const uint32_t *b, size_t bn)
{
	return an == bn && (an == 0 || memcmp(a, b, an * sizeof(*a)) == 0);
}

static int out_fd = -1, err_fd = -1;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fz_quiet_logs();
	out_fd = memfd_create("fuzz-json-out", MFD_CLOEXEC);
	err_fd = memfd_create("fuzz-json-err", MFD_CLOEXEC);
	FUZZ_CHECK(out_fd >= 0 && err_fd >= 0);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FUZZ_LEAKS_BEGIN;
	struct fz f = { data, size };
	TALLOC_CTX *ctx = talloc_new(NULL);
	struct mg_report_opts opts = { .mode = MG_REPORT_JSON };
	struct tgt t[MAX_T];
	size_t nt = 1 + fz_u8(&f) % MAX_T;
	struct mg_report *rep;
	char *errmsg = NULL;
	uint8_t *out;
	off_t len;

	FUZZ_CHECK(ftruncate(out_fd, 0) == 0 && ftruncate(err_fd, 0) == 0);
	FUZZ_CHECK(lseek(out_fd, 0, SEEK_SET) == 0 && lseek(err_fd, 0, SEEK_SET) == 0);
	opts.out_fd = out_fd;
	opts.err_fd = err_fd;
	rep = mg_report_new(ctx, &opts, &errmsg);
	FUZZ_CHECK(rep != NULL);
	memset(t, 0, sizeof(t));
	for (size_t i = 0; i < nt; i++) {
		size_t n;
		const uint8_t *p = fz_chunk(&f, &n);
		char *name = talloc_strndup(ctx, (const char *)p, n);
		char *chain;
		p = fz_chunk(&f, &n);
		chain = talloc_strndup(ctx, (const char *)p, n);
		FUZZ_CHECK(name != NULL && chain != NULL);
		if (mg_report_add(rep, name, chain) != 0) {
			/* A name it refuses (empty, '/', ':', controls). */
			name = talloc_asprintf(ctx, "t%zu", i);
			FUZZ_CHECK(mg_report_add(rep, name, chain) == 0);
		}
		t[i].name = (uint8_t *)name;
		t[i].name_n = strlen(name);
		for (int s = 0; s < 2; s++) {
			t[i].bytes[s] = talloc_size(ctx, 0);
		}
	}
	while (!fz_empty(&f)) {
		uint8_t op = fz_u8(&f);
		size_t i = fz_u8(&f) % nt;
		if ((op & 1) == 0) {
			int s = (fz_u8(&f) & 1) + 1;
			size_t n;
			const uint8_t *p = fz_chunk(&f, &n);
			mg_report_output(rep, i, s, p, n);
			if (!t[i].done) {
				uint8_t *b = talloc_realloc_size(ctx, t[i].bytes[s - 1], t[i].n[s - 1] + n);
				FUZZ_CHECK(b != NULL || t[i].n[s - 1] + n == 0);
				if (n > 0) {
					memcpy(b + t[i].n[s - 1], p, n);
				}
				t[i].bytes[s - 1] = b;
				t[i].n[s - 1] += n;
			}
		} else {
			struct mg_target_result r = { 0 };
			char *msg = NULL;
			r.outcome = fz_u8(&f) % 5;
			r.exit_code = fz_u8(&f);
			r.signal = fz_u8(&f) % 65;
			r.duration_ms = fz_u32(&f);
			if (fz_u8(&f) & 1) {
				size_t n;
				const uint8_t *p = fz_chunk(&f, &n);
				msg = talloc_strndup(ctx, (const char *)p, n);
			}
			r.errmsg = msg;
			mg_report_done(rep, i, &r);
			t[i].done = true;
		}
	}
	errmsg = NULL;
	(void)mg_report_finish(rep, &errmsg);

	len = lseek(out_fd, 0, SEEK_END);
	FUZZ_CHECK(len >= 0);
	out = talloc_size(ctx, (size_t)len + 1);
	FUZZ_CHECK(out != NULL);
	FUZZ_CHECK(pread(out_fd, out, (size_t)len, 0) == len);
	for (size_t at = 0; at < (size_t)len;) {
		const uint8_t *nl = memchr(out + at, '\n', (size_t)len - at);
		size_t n = nl != NULL ? (size_t)(nl - (out + at)) : (size_t)len - at;
		struct members m = { 0 };
		FUZZ_CHECK(nl != NULL);  /* every object ends its line */
		if (!js_line(ctx, out + at, n, &m)) {
			fprintf(stderr, "not a JSON object: %.*s\n", (int)n, (const char *)out + at);
			abort();
		}
		FUZZ_CHECK(m.target != NULL && m.out != NULL && m.err != NULL);
		/* Some target of that name (names may repeat) wrote exactly
		 * that stdout and stderr. */
		bool found = false;
		for (size_t i = 0; i < nt && !found; i++) {
			size_t en;
			uint32_t *e = expect(ctx, t[i].name, t[i].name_n, &en);
			if (!same(m.target, m.target_n, e, en)) {
				continue;
			}
			e = expect(ctx, t[i].bytes[0], t[i].n[0], &en);
			found = same(m.out, m.out_n, e, en);
			e = expect(ctx, t[i].bytes[1], t[i].n[1], &en);
			found = found && same(m.err, m.err_n, e, en);
		}
		if (!found) {
			fprintf(stderr, "no target wrote what this object says: %.*s\n", (int)n,
				(const char *)out + at);
			abort();
		}
		at += n + 1;
	}
	talloc_free(ctx);
	FUZZ_LEAKS_END;
	return 0;
}
