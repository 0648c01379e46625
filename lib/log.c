/*
 * Logging. Messages are formatted on the stack (no allocation, so logging
 * works when memory is short) and control characters are escaped, since
 * they may carry text from a remote host to the user's terminal.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "mitogen/error.h"
#include "mitogen/log.h"

#define LOG_MAX 2048

/* The library's only globals: the level, the sink and its ident. */
static enum mg_log_level log_level = MG_LOG_WARN;
static mg_log_sink log_sink;
static void *log_sink_data;
static char log_ident[64] = "mitogen";

/* A bounded output buffer; once something did not fit, nothing more is
 * added (no hole in the middle), and "..." marks the cut. */
struct out {
	char *buf;
	size_t len, cap;
	bool truncated;
};

static void out_bytes(struct out *o, const char *s, size_t n)
{
	/* Room is kept for the "..." and the NUL. */
	if (o->truncated || o->len + n + 3 >= o->cap) {
		o->truncated = true;
		return;
	}
	memcpy(o->buf + o->len, s, n);
	o->len += n;
}

static void out_str(struct out *o, const char *s)
{
	out_bytes(o, s, strlen(s));
}

static void out_finish(struct out *o)
{
	if (o->truncated) {
		memcpy(o->buf + o->len, "...", 3);
		o->len += 3;
	}
	o->buf[o->len] = '\0';
}

/* Length of the valid, printable UTF-8 sequence at 's', or 0. C1 controls
 * (U+0080..U+009F) count as unprintable: some terminals obey them. */
static size_t utf8_len(const unsigned char *s)
{
	uint32_t cp;
	size_t n, i;

	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		n = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80) {
			return 0;
		}
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if (cp < 0xa0 || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff) {
		return 0;
	}
	return n;
}

static void out_escaped(struct out *o, const char *text)
{
	const unsigned char *s = (const unsigned char *)text;
	char hex[5];
	size_t n;

	while (*s != '\0') {
		if (*s == '\t' || (*s >= 0x20 && *s < 0x7f)) {
			out_bytes(o, (const char *)s, 1);
			s++;
		} else if ((n = utf8_len(s)) > 0) {
			out_bytes(o, (const char *)s, n);
			s += n;
		} else {
			snprintf(hex, sizeof(hex), "\\x%02x", *s);
			out_bytes(o, hex, 4);
			s++;
		}
	}
}

static void default_sink(enum mg_log_level level, const char *msg, void *data)
{
	char line[LOG_MAX + sizeof(log_ident) + 8];
	struct out o = { line, 0, sizeof(line), false };
	ssize_t r;

	(void)level;
	(void)data;
	out_str(&o, log_ident);
	out_str(&o, ": ");
	out_str(&o, msg);
	out_finish(&o);
	/* One write(2), so lines from several processes do not interleave. */
	line[o.len++] = '\n';
	do {
		r = write(STDERR_FILENO, line, o.len);
	} while (r < 0 && errno == EINTR);
}

void mg_log_set_level(enum mg_log_level level)
{
	log_level = level;
}

enum mg_log_level mg_log_get_level(void)
{
	return log_level;
}

void mg_log_set_sink(mg_log_sink sink, void *data)
{
	log_sink = sink;
	log_sink_data = sink != NULL ? data : NULL;
}

void mg_log_set_ident(const char *ident)
{
	snprintf(log_ident, sizeof(log_ident), "%s", ident != NULL ? ident : "mitogen");
}

void mg_vlog(enum mg_log_level level, const char *func, int err, const char *fmt, va_list ap)
{
	char raw[LOG_MAX / 2], msg[LOG_MAX];
	struct out o = { msg, 0, sizeof(msg), false };
	int saved_errno = errno;
	int n;

	if (level > log_level) {
		return;
	}
	n = vsnprintf(raw, sizeof(raw), fmt, ap);
	if (n < 0) {
		raw[0] = '\0';
	}
	if (func != NULL) {
		out_str(&o, func);
		out_str(&o, ": ");
	}
	out_escaped(&o, raw);
	if (n >= (int)sizeof(raw)) {
		out_str(&o, "...");
	}
	if (err != 0) {
		out_str(&o, ": ");
		out_str(&o, mg_strerror(err));
	}
	out_finish(&o);
	if (log_sink != NULL) {
		log_sink(level, msg, log_sink_data);
	} else {
		default_sink(level, msg, NULL);
	}
	errno = saved_errno;
}

void mg_log(enum mg_log_level level, const char *func, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	mg_vlog(level, func, err, fmt, ap);
	va_end(ap);
}
