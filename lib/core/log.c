/*
 * Logging. Messages are formatted on the stack (no allocation, so logging
 * works when memory is short) and control characters are escaped, since
 * they may carry text from a remote host to the user's terminal. The same
 * escaping serves every other diagnostic (mg_log_escape): one rule for
 * what a far end may put on the user's screen.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mitogen/error.h"
#include "mitogen/log.h"

#define LOG_MAX 2048

/* The library's only globals: the level, the sink and its ident. */
static enum mg_log_level log_level = MG_LOG_WARN;
static mg_log_sink log_sink;
static void *log_sink_data;
static char log_ident[64] = "mitogen";
/* The file of mg_log_to_file, while its sink is installed; else -1. */
static int log_fd = -1;

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

/* Length of the valid, printable UTF-8 sequence at 's' (at most 'n'
 * bytes), or 0. C1 controls (U+0080..U+009F) count as unprintable: some
 * terminals obey them; so do the bidirectional overrides, which can make
 * a line read other than it is. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	uint32_t cp;
	size_t len, i;

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
	if (len > n) {
		return 0;
	}
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80) {
			return 0;
		}
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if (cp < 0xa0 || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff ||
	    (cp >= 0x200e && cp <= 0x200f) || (cp >= 0x202a && cp <= 0x202e) ||
	    (cp >= 0x2066 && cp <= 0x2069)) {
		return 0;
	}
	return len;
}

/* How the text at 's' (n > 0 bytes left) is shown: its bytes as they
 * are, or one escape. Returns how many input bytes that covers; 'shown'
 * gets what to print (*_len bytes, at most 4). */
static size_t escape_step(const unsigned char *s, size_t n, char shown[5], size_t *_len)
{
	size_t u;

	if (*s == '\t' || (*s >= 0x20 && *s < 0x7f)) {
		shown[0] = (char)*s;
		*_len = 1;
		return 1;
	}
	if ((u = utf8_len(s, n)) > 0) {
		memcpy(shown, s, u);
		*_len = u;
		return u;
	}
	if (*s == '\n' || *s == '\r') {
		shown[0] = '\\';
		shown[1] = *s == '\n' ? 'n' : 'r';
		*_len = 2;
		return 1;
	}
	snprintf(shown, 5, "\\x%02x", *s);
	*_len = 4;
	return 1;
}

static void out_escaped(struct out *o, const char *text)
{
	const unsigned char *s = (const unsigned char *)text;
	size_t left = strlen(text), used, len;
	char shown[5];

	while (left > 0) {
		used = escape_step(s, left, shown, &len);
		out_bytes(o, shown, len);
		s += used;
		left -= used;
	}
}

char *mg_log_escape(TALLOC_CTX *mem_ctx, const char *text, size_t n)
{
	const unsigned char *s = (const unsigned char *)text;
	size_t used, len, at = 0;
	char shown[5];
	/* At worst every byte becomes four. */
	char *out = n < (SIZE_MAX - 1) / 4 ? talloc_array(mem_ctx, char, n * 4 + 1) : NULL;
	char *fitted;

	if (out == NULL) {
		return NULL;
	}
	while (n > 0) {
		used = escape_step(s, n, shown, &len);
		memcpy(out + at, shown, len);
		at += len;
		s += used;
		n -= used;
	}
	out[at] = '\0';
	fitted = talloc_realloc(mem_ctx, out, char, at + 1);
	return fitted != NULL ? fitted : out;
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

static void file_sink(enum mg_log_level level, const char *msg, void *data);

void mg_log_set_sink(mg_log_sink sink, void *data)
{
	if (log_fd >= 0 && sink != file_sink) {
		close(log_fd);
		log_fd = -1;
	}
	log_sink = sink;
	log_sink_data = sink != NULL ? data : NULL;
}

static const char *const level_names[] = { "ERROR", "WARN", "INFO", "DEBUG", "TRACE" };

/* "2026-12-03T14:05:00" in UTC. By hand: gmtime_r and strftime bring
 * musl's time zone code (8 KB) into the agent, which is pushed to every
 * hop (days to a civil date after H. Hinnant's public algorithm). */
static void utc_stamp(char *buf, size_t size, time_t t)
{
	long long days = (long long)t / 86400, secs = (long long)t % 86400;
	long long era, doe, yoe, doy, mp, y, m, d;

	if (secs < 0) {
		secs += 86400;
		days--;
	}
	days += 719468;
	era = (days >= 0 ? days : days - 146096) / 146097;
	doe = days - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	d = doy - (153 * mp + 2) / 5 + 1;
	m = mp < 10 ? mp + 3 : mp - 9;
	y = yoe + era * 400 + (m <= 2);
	snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d", (int)y, (int)m, (int)d,
		 (int)(secs / 3600), (int)(secs / 60 % 60), (int)(secs % 60));
}

/* "2026-12-03T14:05:00.123Z WARN mitogen[PID]: text", one write(2) per
 * line, so that several processes may append to the same file. */
static void file_sink(enum mg_log_level level, const char *msg, void *data)
{
	char line[LOG_MAX + sizeof(log_ident) + 128], stamp[80];
	struct out o = { line, 0, sizeof(line), false };
	struct timespec ts;
	ssize_t r;

	(void)data;
	clock_gettime(CLOCK_REALTIME, &ts);
	utc_stamp(stamp, sizeof(stamp), ts.tv_sec);
	o.len = (size_t)snprintf(line, sizeof(line), "%s.%03ldZ %s %s[%ld]: ", stamp,
				 ts.tv_nsec / 1000000, level_names[(unsigned)level < 5 ? level : 4],
				 log_ident, (long)getpid());
	out_str(&o, msg);
	out_finish(&o);
	line[o.len++] = '\n';
	do {
		r = write(log_fd, line, o.len);
	} while (r < 0 && errno == EINTR);
}

int mg_log_to_file(const char *path, enum mg_log_level level)
{
	/* Non-blocking: a FIFO with no reader fails instead of hanging. */
	int fd = path != NULL ? open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY |
				    O_NONBLOCK, 0600) : -1;

	if (path == NULL) {
		return -EINVAL;
	}
	if (fd < 0) {
		return -errno;
	}
	mg_log_set_sink(NULL, NULL);
	log_fd = fd;
	mg_log_set_sink(file_sink, NULL);
	mg_log_set_level(level);
	return 0;
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
