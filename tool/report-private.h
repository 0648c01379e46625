/*
 * Reporter internals. The files depend on each other in one direction
 * only: report.c (targets, lines, files) uses report-finish.c (JSON,
 * gathering, summary, --failed), which uses report-fold.c (names and node
 * sets) and report-out.c (the output fds, the run's first error); all of
 * them use rbuf.c (growable byte strings).
 */
#ifndef MG_REPORT_PRIVATE_H
#define MG_REPORT_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <talloc.h>
#include "report.h"

#define MG_REPORT_LINE_MAX 65536  /* longest line waiting for its end */
/* Bytes held for one output file while a target's long line is being
 * passed through on it (other targets' lines wait): past that the long
 * line is ended, the one case where a line is cut (mitogen-run(1)). */
#define MG_REPORT_HOLD_MAX (64u << 20)
#define MG_REPORT_BATCH 65536     /* bytes of whole lines per write */
#define MG_REPORT_SUMMARY_MAX 300 /* summary text before "... and N more" */
#define MG_REPORT_REASON_MAX 120  /* one error message in a header */
/* Bytes of one stream kept per target for -b and --json: past that it is
 * cut, and the target fails (mitogen-run(1) documents the figure). */
#define MG_REPORT_KEEP_MAX (64u << 20)
/* Bytes waiting for out_fd and err_fd (with a loop) past which the
 * caller is asked to hold its producers, and below which to resume. The
 * producers' data already in flight still comes: a channel window each. */
#define MG_REPORT_QUEUE_HIGH (1u << 20)
#define MG_REPORT_QUEUE_LOW (256u << 10)

/* rbuf.c: a growable byte string on talloc; 'oom' sticks after a failed growth so
 * that callers check once at the end. */
struct mg__rbuf {
	char *p;
	size_t len;
	bool oom;
};

void mg__rbuf_put(TALLOC_CTX *mem_ctx, struct mg__rbuf *b, const void *p,
		  size_t n);
void mg__rbuf_puts(TALLOC_CTX *mem_ctx, struct mg__rbuf *b, const char *s);
void mg__rbuf_printf(TALLOC_CTX *mem_ctx, struct mg__rbuf *b,
		     const char *fmt, ...) __attribute__((format(printf, 3, 4)));

struct mg__report_target {
	size_t index;
	char *name;
	char *file;               /* its files' stem (mg_report_file_stem) */
	char *chain;
	struct mg__rbuf part[2];  /* partial line of stdout, stderr */
	struct mg__rbuf kept[2];  /* GATHER stdout, JSON both */
	bool cut[2];              /* kept[s] stopped at MG_REPORT_KEEP_MAX */
	int file_fd[2];           /* outdir NAME.out, NAME.err, or -1 */
	bool file_failed[2];      /* stop writing a file after an error */
	bool done;
	struct mg_target_result res; /* res.errmsg on the target */
	int status;               /* shell-style status, valid when done */
	const char *reason;       /* "" when ok, else "exit 1", the error... */
};

struct mg__rchunk;

struct mg_report {
	enum mg_report_mode mode;
	int fd[2];                /* out_fd, err_fd; -1 after a write error */
	bool fd_failed[2];        /* that write error happened */
	/* report-out.c, with a loop: output waiting for its fd, per lane. */
	bool async;               /* emits are queued (the run goes on) */
	int user_fd[2];           /* fd[] as given, to restore their flags */
	int old_flags[2];         /* flags to restore, or -1 */
	struct mg_io *io[2];      /* per fd; NULL for err_fd == out_fd */
	struct mg__rchunk *queue[2], *queue_tail[2];
	size_t queued[2];         /* bytes in queue[] */
	bool backlog_full;        /* past MG_REPORT_QUEUE_HIGH, not yet LOW */
	mg_report_backlog_fn backlog;
	void *backlog_data;
	char *outdir;
	int dir_fd;
	char *failed_file;
	char *ident;              /* opts->ident, or NULL */
	struct mg__report_target **t;
	size_t n, alloc;
	struct mg__rbuf batch;    /* lines being assembled for one write */
	/* A line longer than MG_REPORT_LINE_MAX is passed through as it
	 * comes, under one prefix: its target owns the output file (lane)
	 * until its newline, and the other targets' lines wait in held[]. */
	int lane[2];              /* stream -> lane; 0 for both on one file */
	struct mg__report_target *owner[2]; /* per lane, or NULL */
	int owner_stream[2];      /* per lane: the owner's stream */
	struct mg__rbuf held[2];  /* per lane: whole lines waiting */
	size_t held_len[2];       /* per lane: held[] and partial lines past
				   * MG_REPORT_LINE_MAX of other targets */
	bool finished;
	int err;                  /* first error, negative errno */
	char *errmsg;
};

/* report-out.c: write all of p (EINTR, short writes and EAGAIN handled). 0 or -errno. */
int mg__report_write(int fd, const void *p, size_t n);

/* Queue writes through 'loop' from now on: 0 or -ENOMEM. */
int mg__report_out_start(struct mg_report *rep, struct mg_loop *loop);
/* Write out what waits (blocking), restore the fds' flags, and write
 * without a queue from now on. */
void mg__report_out_stop(struct mg_report *rep);

/* Remember the first error of the run. */
void mg__report_fail(struct mg_report *rep, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Write text to fd 0 (out) or 1 (err) of the report; errors remembered. */
void mg__report_emit(struct mg_report *rep, int which, const void *p,
		     size_t n);

/* report-finish.c: whether t failed: its status, or output cut short
 * (never when ok). */
bool mg__report_target_failed(const struct mg__report_target *t);

/* Append 'n' bytes as the contents of a JSON string (quotes included);
 * invalid UTF-8 bytes become \u00XX. */
void mg__report_json_str(TALLOC_CTX *mem_ctx, struct mg__rbuf *b,
			 const char *p, size_t n);

/* Print target t's JSON object line. */
void mg__report_json(struct mg_report *rep, struct mg__report_target *t);

/* The end-of-run work of mg_report_finish(): gather, summary, --failed. */
void mg__report_gather(struct mg_report *rep);
void mg__report_summary(struct mg_report *rep);
void mg__report_failed_file(struct mg_report *rep);

/* The summary line's text (without newline) on mem_ctx; "" when nothing
 * failed; NULL on ENOMEM. */
char *mg__report_summary_text(TALLOC_CTX *mem_ctx, struct mg_report *rep);

#endif
