/*
 * Helpers shared by the libFuzzer targets in tests/fuzz/: reading a fuzz
 * input as a sequence of small fields, running the loop for a bounded
 * time, a router with a real parent and child stream, and a log sink that
 * formats every line (the formatting of hostile text is part of what is
 * fuzzed) and drops it.
 *
 * A target fails by crashing: a sanitizer report, or FUZZ_CHECK() calling
 * abort() with a message when an invariant of the code under test breaks.
 * Every input must leave no talloc memory behind (checked by FUZZ_LEAKS).
 */
#ifndef MG_FUZZ_H
#define MG_FUZZ_H

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <talloc.h>

#include "mitogen/log.h"
#include "mitogen/loop.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define FUZZ_CHECK(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
		abort(); \
	} } while (0)

/* Wrap a whole input: talloc memory under NULL must come back to where it
 * was (libFuzzer's own leak check sees only malloc). */
#define FUZZ_LEAKS_BEGIN size_t fz__before = talloc_total_size(NULL)
#define FUZZ_LEAKS_END do { \
	if (talloc_total_size(NULL) != fz__before) { \
		talloc_report_full(NULL, stderr); \
		FUZZ_CHECK(talloc_total_size(NULL) == fz__before); \
	} } while (0)

/* --- reading the input --- */

struct fz {
	const uint8_t *p;
	size_t n;
};

static inline bool fz_empty(const struct fz *f)
{
	return f->n == 0;
}

/* Missing bytes read as zero: every input means something. */
static inline uint8_t fz_u8(struct fz *f)
{
	uint8_t v = 0;

	if (f->n > 0) {
		v = f->p[0];
		f->p++;
		f->n--;
	}
	return v;
}

static inline uint16_t fz_u16(struct fz *f)
{
	uint16_t hi = fz_u8(f);

	return (uint16_t)(hi << 8 | fz_u8(f));
}

static inline uint32_t fz_u32(struct fz *f)
{
	uint32_t hi = fz_u16(f);

	return hi << 16 | fz_u16(f);
}

/* A u16 length, then that many bytes (fewer at the end of the input). */
static inline const uint8_t *fz_chunk(struct fz *f, size_t *_n)
{
	size_t n = fz_u16(f);
	const uint8_t *p = f->p;

	if (n > f->n) {
		n = f->n;
	}
	f->p += n;
	f->n -= n;
	*_n = n;
	return p;
}

/* --- logging --- */

static void fz_log_sink(enum mg_log_level level, const char *msg, void *data)
{
	/* The line was formatted; look at every byte of it. */
	volatile size_t n = strlen(msg);

	(void)n;
}

static inline void fz_quiet_logs(void)
{
	mg_log_set_sink(fz_log_sink, NULL);
	mg_log_set_level(MG_LOG_TRACE);
}

/* --- the loop --- */

static inline uint64_t fz_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

struct fz_run {
	struct mg_loop *loop;
	bool (*pred)(void *arg);
	void *arg;
	uint64_t deadline;
	unsigned ticks;       /* loop iterations left when pred is NULL */
	struct mg_timer *t;
};

static void fz_tick(struct mg_timer *t, void *data)
{
	struct fz_run *w = data;

	talloc_free(t);
	w->t = NULL;
	if ((w->pred != NULL && w->pred(w->arg)) || (w->pred == NULL && w->ticks-- == 0) ||
	    fz_now_ms() >= w->deadline) {
		mg_loop_stop(w->loop, 1);
		return;
	}
	w->t = mg_timer_new(NULL, w->loop, 0, fz_tick, w);
}

/* Run until pred(arg) holds or 'ms' pass; pred NULL: a few iterations,
 * enough for deferred calls and local deliveries to settle. */
static inline bool fz_run(struct mg_loop *loop, bool (*pred)(void *), void *arg, unsigned ms)
{
	struct fz_run w = { loop, pred, arg, fz_now_ms() + ms, 8, NULL };

	w.t = mg_timer_new(NULL, loop, 0, fz_tick, &w);
	mg_loop_run(loop);
	TALLOC_FREE(w.t);
	return pred == NULL || pred(arg);
}

/* Read and drop whatever is waiting on a non-blocking fd. */
static inline void fz_drain(int fd)
{
	char buf[65536];

	while (fd >= 0 && read(fd, buf, sizeof(buf)) > 0) {
	}
}

static inline int fz_socketpair(int sv[2])
{
	return socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv);
}

#endif
