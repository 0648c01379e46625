/*
 * The reporter for runs on many targets: targets, whole-line printing,
 * --outdir files, results and the exit status. The end of the run (JSON
 * objects, gathering, the summary, --failed) is in report-finish.c, names
 * and node sets in report-fold.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <mitogen/log.h>
#include "report-private.h"

/* Whether t's stream s is the long line being passed through. */
static bool owns(const struct mg_report *rep, const struct mg__report_target *t, int s)
{
	int l = rep->lane[s];

	return rep->owner[l] == t && rep->owner_stream[l] == s;
}

/* Whether text for stream s must wait: another line is half printed. */
static bool must_hold(const struct mg_report *rep, const struct mg__report_target *t, int s)
{
	return rep->owner[rep->lane[s]] != NULL && !owns(rep, t, s);
}

static void hold(struct mg_report *rep, int s, const void *p, size_t n)
{
	int l = rep->lane[s];

	mg__rbuf_put(rep, &rep->held[l], p, n);
	if (rep->held[l].oom) {
		mg__report_fail(rep, -ENOMEM, "out of memory for output lines");
		rep->held[l].oom = false;
		return;
	}
	rep->held_len[l] += n;
}

/* Text for stream 'which' not of a target's output (its errors): now, or
 * held until the long line being passed through on that file ends. */
static void emit_line(struct mg_report *rep, int which, const void *p,
		      size_t n)
{
	if (must_hold(rep, NULL, which)) {
		hold(rep, which, p, n);
	} else {
		mg__report_emit(rep, which, p, n);
	}
}

/* Bytes of a partial line past MG_REPORT_LINE_MAX: it grew while another
 * target's long line was being passed through. */
static size_t excess(const struct mg__rbuf *b)
{
	return b->len > MG_REPORT_LINE_MAX ? b->len - MG_REPORT_LINE_MAX : 0;
}

static void part_put(struct mg_report *rep, struct mg__report_target *t, int s,
		     const char *p, size_t n)
{
	struct mg__rbuf *pl = &t->part[s];
	size_t before = excess(pl);

	mg__rbuf_put(t, pl, p, n);
	if (pl->oom) {
		mg__report_fail(rep, -ENOMEM, "out of memory for output of %s", t->name);
		pl->oom = false;
	}
	rep->held_len[rep->lane[s]] += excess(pl) - before;
}

static void part_clear(struct mg_report *rep, struct mg__report_target *t, int s)
{
	struct mg__rbuf *pl = &t->part[s];

	rep->held_len[rep->lane[s]] -= excess(pl);
	pl->len = 0;
	/* One that grew while another's long line passed goes: kept, every
	 * target's would stay at its peak, up to the whole hold each. */
	if (pl->p != NULL && talloc_get_size(pl->p) > 4 * MG_REPORT_LINE_MAX) {
		TALLOC_FREE(pl->p);
	}
}

static int target_destructor(struct mg__report_target *t)
{
	for (int s = 0; s < 2; s++) {
		if (t->file_fd[s] >= 0) {
			close(t->file_fd[s]);
			t->file_fd[s] = -1;
		}
	}
	return 0;
}

static int report_destructor(struct mg_report *rep)
{
	/* Never finished: what waits is dropped, the fds are put back. */
	for (int w = 0; w < 2; w++) {
		if (rep->old_flags[w] >= 0) {
			fcntl(rep->user_fd[w], F_SETFL, rep->old_flags[w]);
		}
	}
	if (rep->dir_fd >= 0) {
		close(rep->dir_fd);
		rep->dir_fd = -1;
	}
	return 0;
}

/* mkdir -p, new directories 0700: the outputs may be private. */
static int make_dirs(char *path)
{
	for (char *s = path + 1; ; s++) {
		if (*s != '/' && *s != '\0') {
			continue;
		}
		char c = *s;

		*s = '\0';
		if (mkdir(path, 0700) != 0 && errno != EEXIST) {
			int r = -errno;

			*s = c;
			return r;
		}
		*s = c;
		if (c == '\0') {
			return 0;
		}
	}
}

static bool same_file(int a, int b)
{
	struct stat x, y;

	if (a == b) {
		return true;
	}
	return a >= 0 && b >= 0 && fstat(a, &x) == 0 && fstat(b, &y) == 0
	       && x.st_dev == y.st_dev && x.st_ino == y.st_ino;
}

struct mg_report *mg_report_new(TALLOC_CTX *mem_ctx,
				const struct mg_report_opts *opts,
				char **_errmsg)
{
	struct mg_report *rep;
	char *path, *dummy;
	int r;

	if (_errmsg == NULL) {
		_errmsg = &dummy;
	}
	*_errmsg = NULL;
	if (opts == NULL || opts->mode < MG_REPORT_PREFIX
	    || opts->mode > MG_REPORT_JSON) {
		*_errmsg = talloc_asprintf(mem_ctx, "unknown report mode %d",
					   opts != NULL ? (int)opts->mode : -1);
		return NULL;
	}
	rep = talloc_zero(mem_ctx, struct mg_report);
	if (rep == NULL) {
		return NULL;
	}
	rep->mode = opts->mode;
	rep->fd[0] = opts->out_fd;
	rep->fd[1] = opts->err_fd;
	rep->old_flags[0] = rep->old_flags[1] = -1;
	rep->dir_fd = -1;
	/* stdout and stderr on one file (a terminal, 2>&1): one lane, so
	 * that a long line on one is not broken by a line on the other. */
	rep->lane[0] = 0;
	rep->lane[1] = same_file(opts->out_fd, opts->err_fd) ? 0 : 1;
	talloc_set_destructor(rep, report_destructor);
	if (opts->failed_file != NULL) {
		rep->failed_file = talloc_strdup(rep, opts->failed_file);
		if (rep->failed_file == NULL) {
			goto nomem;
		}
	}
	if (opts->ident != NULL && (rep->ident = talloc_strdup(rep, opts->ident)) == NULL) {
		goto nomem;
	}
	if (opts->loop != NULL && mg__report_out_start(rep, opts->loop) != 0) {
		goto nomem;
	}
	if (opts->outdir == NULL) {
		return rep;
	}
	rep->outdir = talloc_strdup(rep, opts->outdir);
	path = talloc_strdup(rep, opts->outdir);
	if (rep->outdir == NULL || path == NULL) {
		goto nomem;
	}
	if (path[0] == '\0') {
		*_errmsg = talloc_strdup(mem_ctx, "empty --outdir");
		talloc_free(rep);
		return NULL;
	}
	r = make_dirs(path);
	talloc_free(path);
	if (r == 0) {
		rep->dir_fd = open(opts->outdir,
				   O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		r = rep->dir_fd < 0 ? -errno : 0;
	}
	if (r != 0) {
		*_errmsg = talloc_asprintf(mem_ctx, "cannot create directory "
					   "'%s': %s", opts->outdir,
					   strerror(-r));
		talloc_free(rep);
		return NULL;
	}
	return rep;
nomem:
	talloc_free(rep);
	return NULL;
}

int mg_report_add(struct mg_report *rep, const char *name,
		  const char *chain_text)
{
	struct mg__report_target *t;

	if (rep == NULL) {
		return -EINVAL;
	}
	if (rep->finished) {
		return -EBUSY;
	}
	if (name == NULL || name[0] == '\0') {
		return -EINVAL;
	}
	/* The name is a file name in --outdir and comes before ": ". */
	for (const unsigned char *c = (const unsigned char *)name; *c != '\0';
	     c++) {
		if (*c == '/' || *c == ':' || *c <= ' ' || *c == 0x7f) {
			return -EINVAL;
		}
	}
	if (rep->n == rep->alloc) {
		size_t na = rep->alloc > 0 ? rep->alloc * 2 : 16;
		struct mg__report_target **nt;

		nt = talloc_realloc(rep, rep->t, struct mg__report_target *, na);
		if (nt == NULL) {
			return -ENOMEM;
		}
		rep->t = nt;
		rep->alloc = na;
	}
	t = talloc_zero(rep, struct mg__report_target);
	if (t == NULL) {
		return -ENOMEM;
	}
	t->index = rep->n;
	t->file_fd[0] = -1;
	t->file_fd[1] = -1;
	talloc_set_destructor(t, target_destructor);
	t->name = talloc_strdup(t, name);
	t->file = mg_report_file_stem(t, name);
	t->chain = talloc_strdup(t, chain_text != NULL ? chain_text : name);
	if (t->name == NULL || t->file == NULL || t->chain == NULL) {
		talloc_free(t);
		return -ENOMEM;
	}
	rep->t[rep->n++] = t;
	return 0;
}

static void flush_batch(struct mg_report *rep, int s)
{
	if (rep->batch.oom) {
		mg__report_fail(rep, -ENOMEM, "out of memory for output lines");
	} else {
		mg__report_emit(rep, s, rep->batch.p, rep->batch.len);
	}
	rep->batch.len = 0;
	rep->batch.oom = false;
	/* Do not keep a large buffer after a burst. */
	if (rep->batch.p != NULL
	    && talloc_get_size(rep->batch.p) > 4 * MG_REPORT_BATCH) {
		TALLOC_FREE(rep->batch.p);
	}
}

/* Add one line "NAME: " a b "\n" to the batch for stream s, or to the
 * lines held while another target's long line is passed through. */
static void put_line(struct mg_report *rep, struct mg__report_target *t,
		     int s, const char *a, size_t an, const char *b, size_t bn)
{
	struct mg__rbuf *o = &rep->batch;

	if (must_hold(rep, t, s)) {
		if (rep->mode != MG_REPORT_PLAIN) {
			hold(rep, s, t->name, strlen(t->name));
			hold(rep, s, ": ", 2);
		}
		hold(rep, s, a, an);
		hold(rep, s, b, bn);
		hold(rep, s, "\n", 1);
		return;
	}
	if (rep->mode != MG_REPORT_PLAIN) {
		mg__rbuf_puts(rep, o, t->name);
		mg__rbuf_put(rep, o, ": ", 2);
	}
	mg__rbuf_put(rep, o, a, an);
	mg__rbuf_put(rep, o, b, bn);
	mg__rbuf_put(rep, o, "\n", 1);
	if (o->len >= MG_REPORT_BATCH) {
		flush_batch(rep, s);
	}
}

/* The long line on lane l has its newline in the batch: print it, then
 * the lines that waited for it. */
static void end_long_line(struct mg_report *rep, int l)
{
	struct mg__rbuf *h = &rep->held[l];
	int s = rep->owner_stream[l];

	flush_batch(rep, s);
	rep->owner[l] = NULL;
	if (h->len > 0) {
		/* One lane is one file: either of its fds writes there. */
		int which = l == 1 || rep->lane[1] != 0 || rep->fd[0] >= 0 ? l : 1;

		mg__report_emit(rep, which, h->p, h->len);
		rep->held_len[l] -= h->len;
		h->len = 0;
	}
	if (h->p != NULL && talloc_get_size(h->p) > 4 * MG_REPORT_BATCH) {
		TALLOC_FREE(h->p);
	}
}

/*
 * Print the whole lines of p, keep the rest as the partial line. A line
 * longer than MG_REPORT_LINE_MAX is not kept to its end: it is begun at
 * once under its prefix and the rest passed through as it comes, so a
 * line of any length is printed whole in bounded memory; meanwhile the
 * lines of other targets on that file wait.
 */
static void lines(struct mg_report *rep, struct mg__report_target *t, int s,
		  const char *p, size_t n)
{
	struct mg__rbuf *pl = &t->part[s];
	int l = rep->lane[s];

	while (n > 0) {
		const char *nl = memchr(p, '\n', n);
		size_t seg = nl != NULL ? (size_t)(nl - p) : n;

		if (owns(rep, t, s)) {
			mg__rbuf_put(rep, &rep->batch, p, seg);
			if (nl == NULL) {
				if (rep->batch.len >= MG_REPORT_BATCH) {
					flush_batch(rep, s);
				}
				break;
			}
			mg__rbuf_put(rep, &rep->batch, "\n", 1);
			end_long_line(rep, l);
			p += seg + 1;
			n -= seg + 1;
		} else if (nl != NULL) {
			put_line(rep, t, s, pl->p, pl->len, p, seg);
			part_clear(rep, t, s);
			p += seg + 1;
			n -= seg + 1;
		} else if (rep->owner[l] == NULL && pl->len + seg > MG_REPORT_LINE_MAX) {
			/* Too long to wait for its end: begin it. */
			if (rep->mode != MG_REPORT_PLAIN) {
				mg__rbuf_puts(rep, &rep->batch, t->name);
				mg__rbuf_put(rep, &rep->batch, ": ", 2);
			}
			mg__rbuf_put(rep, &rep->batch, pl->p, pl->len);
			mg__rbuf_put(rep, &rep->batch, p, seg);
			part_clear(rep, t, s);
			rep->owner[l] = t;
			rep->owner_stream[l] = s;
			break;
		} else {
			part_put(rep, t, s, p, seg);
			break;
		}
	}
	flush_batch(rep, s);
	if (rep->owner[l] != NULL && rep->held_len[l] > MG_REPORT_HOLD_MAX) {
		/* The others have waited for too much: end the long line
		 * here (mitogen-run(1) documents this one cut). */
		mg__rbuf_put(rep, &rep->batch, "\n", 1);
		end_long_line(rep, l);
	}
}

static const char *const file_ext[2] = { "out", "err" };

/* "stdout over 64 MiB, cut short" for what was cut of t's streams. */
static char *cut_text(TALLOC_CTX *mem_ctx, const struct mg__report_target *t)
{
	return talloc_asprintf(mem_ctx, "%s over %u MiB, cut short",
			       t->cut[0] && t->cut[1] ? "stdout and stderr"
			       : t->cut[0] ? "stdout" : "stderr",
			       MG_REPORT_KEEP_MAX >> 20);
}

/*
 * Keep output for the end of the target (-b, --json), at most
 * MG_REPORT_KEEP_MAX bytes a stream: a far end printing without end must
 * not fill our memory, and what is cut must not pass for the whole output.
 */
static void keep(struct mg_report *rep, struct mg__report_target *t, int s,
		 const void *p, size_t n)
{
	size_t room = MG_REPORT_KEEP_MAX - t->kept[s].len;
	char *cut, *line;

	if (t->cut[s]) {
		return;
	}
	if (n > room) {
		n = room;
		t->cut[s] = true;
	}
	mg__rbuf_put(t, &t->kept[s], p, n);
	if (t->kept[s].oom) {
		t->cut[s] = true;
		mg__report_fail(rep, -ENOMEM, "output of %s too large to keep",
				t->name);
	}
	if (!t->cut[s] || rep->mode == MG_REPORT_JSON) {
		return;
	}
	/* -b prints errors as they happen; --json puts it in the object. */
	cut = cut_text(NULL, t);
	line = cut != NULL ? talloc_asprintf(cut, "%s: %s\n", t->name, cut) : NULL;
	if (line != NULL) {
		emit_line(rep, 1, line, strlen(line));
	}
	talloc_free(cut);
}

/* Open (and truncate) DIR/NAME.EXT; -1 with the error remembered. */
static int open_file(struct mg_report *rep, struct mg__report_target *t,
		     const char *ext)
{
	char *fn = talloc_asprintf(t, "%s.%s", t->file, ext);
	int fd;

	if (fn == NULL) {
		mg__report_fail(rep, -ENOMEM, "out of memory");
		return -1;
	}
	fd = openat(rep->dir_fd, fn, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC
		    | O_NOFOLLOW, 0666);
	if (fd < 0) {
		mg__report_fail(rep, -errno, "cannot write '%s/%s': %s",
				rep->outdir, fn, strerror(errno));
	}
	talloc_free(fn);
	return fd;
}

static void file_write(struct mg_report *rep, struct mg__report_target *t,
		       int s, const void *p, size_t n)
{
	int r;

	if (rep->dir_fd < 0 || t->file_failed[s]) {
		return;
	}
	/* Opened on first output, so that only running targets hold fds. */
	if (t->file_fd[s] < 0) {
		t->file_fd[s] = open_file(rep, t, file_ext[s]);
		if (t->file_fd[s] < 0) {
			t->file_failed[s] = true;
			return;
		}
	}
	r = mg__report_write(t->file_fd[s], p, n);
	if (r != 0) {
		mg__report_fail(rep, r, "cannot write '%s/%s.%s': %s",
				rep->outdir, t->file, file_ext[s],
				strerror(-r));
		t->file_failed[s] = true;
	}
}

void mg_report_output(struct mg_report *rep, size_t i, int stream,
		      const void *p, size_t n)
{
	struct mg__report_target *t;
	int s = stream - 1;

	if (rep == NULL || i >= rep->n || (stream != 1 && stream != 2)
	    || p == NULL || n == 0) {
		return;
	}
	t = rep->t[i];
	if (t->done) {
		return;
	}
	file_write(rep, t, s, p, n);
	if (rep->mode == MG_REPORT_JSON
	    || (rep->mode == MG_REPORT_GATHER && s == 0)) {
		keep(rep, t, s, p, n);
		return;
	}
	lines(rep, t, s, p, n);
}

bool mg_report_output_dead(const struct mg_report *rep, int stream)
{
	int s = stream - 1;

	if (rep == NULL || (stream != 1 && stream != 2) || rep->dir_fd >= 0) {
		return false;
	}
	if (rep->mode == MG_REPORT_JSON || (rep->mode == MG_REPORT_GATHER && s == 0)) {
		return false;
	}
	return rep->fd_failed[s];
}

/* The status the shell would give, 0..255. */
static int status_of(const struct mg_target_result *r)
{
	int st;

	switch (r->outcome) {
	case MG_OUTCOME_RAN:
		st = r->exit_code != 0 ? r->exit_code
		     : (r->signal != 0 ? 128 + r->signal : 0);
		break;
	case MG_OUTCOME_NOT_STARTED:
		st = r->exit_code != 0 ? r->exit_code : 127;
		break;
	case MG_OUTCOME_TIMEOUT:
		st = r->exit_code != 0 ? r->exit_code : 124;
		break;
	default:
		return 255;
	}
	return st < 0 || st > 255 ? 255 : st;
}

/* The first line of an error, printable and not too long. */
static char *short_error(TALLOC_CTX *mem_ctx, const char *msg)
{
	size_t n = strcspn(msg, "\r\n");
	static const char tail[] = "; it printed:";
	char *s, *shown;

	/* What the hop printed is shown in full as it fails; the summary
	 * keeps the cause alone. */
	if (n >= sizeof(tail) - 1 && strncmp(msg + n - (sizeof(tail) - 1), tail, sizeof(tail) - 1) == 0) {
		n -= sizeof(tail) - 1;
	}

	if (n > MG_REPORT_REASON_MAX) {
		s = talloc_asprintf(mem_ctx, "%.*s...",
				    MG_REPORT_REASON_MAX - 3, msg);
	} else {
		s = talloc_strndup(mem_ctx, msg, n);
	}
	/* Text from a far end must not drive the terminal. */
	shown = s != NULL ? mg_log_escape(mem_ctx, s, strlen(s)) : NULL;
	talloc_free(s);
	return shown;
}

/* Why a target failed, "" when it did not. */
static char *reason_of(TALLOC_CTX *mem_ctx, const struct mg_target_result *r,
		       int status)
{
	const char *dflt;

	switch (r->outcome) {
	case MG_OUTCOME_RAN:
		if (r->signal != 0) {
			return talloc_asprintf(mem_ctx, "signal %d", r->signal);
		}
		if (status != 0) {
			return talloc_asprintf(mem_ctx, "exit %d", status);
		}
		return talloc_strdup(mem_ctx, "");
	case MG_OUTCOME_NOT_STARTED:
		dflt = status == 126 ? "cannot execute" : "command not found";
		break;
	case MG_OUTCOME_UNREACHABLE:
		dflt = "unreachable";
		break;
	case MG_OUTCOME_TIMEOUT:
		dflt = "timed out";
		break;
	default:
		dflt = "lost";
		break;
	}
	if (r->errmsg != NULL && r->errmsg[0] != '\0') {
		return short_error(mem_ctx, r->errmsg);
	}
	return talloc_strdup(mem_ctx, dflt);
}

/* Close NAME.out and NAME.err (creating them when empty), write NAME.rc. */
static void close_files(struct mg_report *rep, struct mg__report_target *t)
{
	char rc[16];
	int fd, len, r;

	for (int s = 0; s < 2; s++) {
		if (t->file_fd[s] < 0 && !t->file_failed[s]) {
			t->file_fd[s] = open_file(rep, t, file_ext[s]);
		}
		if (t->file_fd[s] >= 0 && close(t->file_fd[s]) != 0
		    && errno != EINTR) {
			mg__report_fail(rep, -errno, "cannot write '%s/%s.%s': "
					"%s", rep->outdir, t->file,
					file_ext[s], strerror(errno));
		}
		t->file_fd[s] = -1;
	}
	fd = open_file(rep, t, "rc");
	if (fd < 0) {
		return;
	}
	len = snprintf(rc, sizeof(rc), "%d\n", t->status);
	r = mg__report_write(fd, rc, (size_t)len);
	if (close(fd) != 0 && r == 0 && errno != EINTR) {
		r = -errno;
	}
	if (r != 0) {
		mg__report_fail(rep, r, "cannot write '%s/%s.rc': %s",
				rep->outdir, t->file, strerror(-r));
	}
}

static void target_done(struct mg_report *rep, struct mg__report_target *t,
			const struct mg_target_result *r)
{
	t->done = true;
	t->res = *r;
	t->res.errmsg = r->errmsg != NULL ? talloc_strdup(t, r->errmsg) : NULL;
	t->status = status_of(r);
	t->reason = reason_of(t, r, t->status);
	if (t->reason != NULL && (t->cut[0] || t->cut[1])) {
		char *cut = cut_text(t, t);

		t->reason = cut == NULL ? NULL : t->reason[0] == '\0' ? cut
			    : talloc_asprintf(t, "%s; %s", t->reason, cut);
	}
	if (t->reason == NULL || (r->errmsg != NULL && t->res.errmsg == NULL)) {
		mg__report_fail(rep, -ENOMEM, "out of memory");
		t->reason = "?";
	}
	for (int s = 0; s < 2; s++) {
		if (owns(rep, t, s)) {
			mg__rbuf_put(rep, &rep->batch, "\n", 1);
			end_long_line(rep, rep->lane[s]);
		} else if (t->part[s].len > 0) {
			put_line(rep, t, s, t->part[s].p, t->part[s].len,
				 NULL, 0);
			flush_batch(rep, s);
		}
		part_clear(rep, t, s);
		TALLOC_FREE(t->part[s].p);
	}
	if (rep->dir_fd >= 0) {
		close_files(rep, t);
	}
	if (rep->mode != MG_REPORT_JSON && r->errmsg != NULL) {
		/* The whole story now, as "NAME: line" on the error output (the
		 * summary at the end keeps only its first line). */
		char *all = talloc_strdup(NULL, "");
		const char *p = r->errmsg;
		while (all != NULL && *p != '\0') {
			size_t len = strcspn(p, "\n");
			/* Each line escaped: it may be what a far end printed. */
			char *line = mg_log_escape(all, p, len);
			all = line != NULL ? talloc_asprintf_append_buffer(all, "%s: %s\n", t->name, line)
					   : NULL;
			p += len;
			if (*p == '\n') {
				p++;
			}
		}
		if (all != NULL) {
			emit_line(rep, 1, all, strlen(all));
		}
		talloc_free(all);
	}
	if (rep->mode == MG_REPORT_JSON) {
		mg__report_json(rep, t);
		for (int s = 0; s < 2; s++) {
			TALLOC_FREE(t->kept[s].p);
			t->kept[s].len = 0;
		}
	}
}

void mg_report_done(struct mg_report *rep, size_t i,
		    const struct mg_target_result *r)
{
	if (rep == NULL || i >= rep->n || rep->t[i]->done || r == NULL) {
		return;
	}
	target_done(rep, rep->t[i], r);
}

int mg_report_finish(struct mg_report *rep, char **_errmsg)
{
	const struct mg_target_result lost = {
		.outcome = MG_OUTCOME_LOST, .exit_code = 255,
		.errmsg = "no result",
	};
	char *dummy;

	if (_errmsg == NULL) {
		_errmsg = &dummy;
	}
	*_errmsg = NULL;
	if (rep == NULL) {
		return -EINVAL;
	}
	if (rep->finished) {
		return -EALREADY;
	}
	rep->finished = true;
	/* The run is over: what waited goes out now, and the rest after it. */
	mg__report_out_stop(rep);
	for (size_t i = 0; i < rep->n; i++) {
		if (!rep->t[i]->done) {
			target_done(rep, rep->t[i], &lost);
		}
	}
	if (rep->mode == MG_REPORT_GATHER) {
		mg__report_gather(rep);
	}
	mg__report_summary(rep);
	if (rep->failed_file != NULL) {
		mg__report_failed_file(rep);
	}
	if (rep->err != 0) {
		*_errmsg = rep->errmsg;
	}
	return rep->err;
}

int mg_report_exit_status(const struct mg_report *rep)
{
	int worst = 0;

	if (rep == NULL) {
		return 255;
	}
	for (size_t i = 0; i < rep->n; i++) {
		const struct mg__report_target *t = rep->t[i];

		/* Output cut short (-b, --json) is not the whole result. */
		if (!t->done || t->status == 255
		    || t->res.outcome == MG_OUTCOME_UNREACHABLE
		    || t->res.outcome == MG_OUTCOME_LOST
		    || t->cut[0] || t->cut[1]) {
			return 255;
		}
		if (t->status > worst) {
			worst = t->status;
		}
	}
	return worst;
}
