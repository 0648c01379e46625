/* mitogen-cp's copy: see cp.h. */
#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <mitogen/mitogen.h>
#include "cp.h"
#include "report.h"
#include "signals.h"

enum outcome { T_OK, T_FAILED, T_UNREACHABLE, T_LOST, T_TIMEOUT, T_SIGNAL };

struct cp_target {
	struct cp *cp;
	size_t idx;
	const struct mg_chain *chain;
	struct mg_context *ctx;
	struct mg_file_copy *fc;  /* a pull's copy */
	bool connected;   /* the connection attempt has ended */
	bool ready;       /* connected, or every hop started (on_start) */
	bool done;
	bool named;       /* its message names the hop already */
	bool early;       /* failed before it was said up: early_err, early_msg */
	int early_err;
	char *early_msg;
	unsigned failures;
	uint64_t start_ms;
	uint64_t bytes;   /* a pull's bytes received so far */
};

struct cp {
	const struct mg_cp_opts *o;
	struct mg_loop *loop;
	struct mg_session *s;
	struct cp_target *t;
	size_t n, n_connected, n_ready, n_done;
	int exit_code;
	int signo;        /* the signal that stopped the copy (T_SIGNAL) */
	struct mg_file_copy *push;
	size_t *map;      /* a push's target index -> ours */
	struct mg_context *from;  /* a transfer's source, once connected */
	bool from_done;           /* its connection attempt has ended */
	char *from_err;
	/* "CWD/", once here_path made a relative far path absolute: taken
	 * off the far ends' messages again, which show the path as given. */
	char *here_prefix;
	/* progress */
	uint64_t total, bytes, start_ms, shown_ms;
};

/* "mitogen-cp: WHO: TEXT" on err_fd in one write, each line escaped
 * (far ends' text), the lines after the first indented. */
static void say(struct cp *cp, const char *who, const char *text)
{
	char *w = who != NULL ? mg_log_escape(cp, who, strlen(who)) : NULL;
	char *line = talloc_asprintf(cp, "%smitogen-cp: %s%s", cp->o->progress ? "\r\033[K" : "",
				     w != NULL ? w : "", w != NULL ? ": " : "");

	while (line != NULL) {
		size_t n = strcspn(text, "\n");
		char *t = mg_log_escape(line, text, n);

		line = t != NULL ? talloc_asprintf_append_buffer(line, "%s", t) : NULL;
		text += n;
		if (*text == '\0' || line == NULL) {
			break;
		}
		text++;
		line = talloc_strdup_append_buffer(line, "\n  ");
	}
	line = line != NULL ? talloc_strdup_append_buffer(line, "\n") : NULL;
	if (line != NULL && write(cp->o->err_fd, line, strlen(line)) < 0) {
		/* nowhere else to say it */
	}
	talloc_free(w);
	talloc_free(line);
}

static void target_end(struct cp_target *t, enum outcome oc, const char *msg)
{
	struct cp *cp = t->cp;
	int code = oc == T_OK ? 0 : oc == T_FAILED ? 1 : oc == T_TIMEOUT ? 124
		 : oc == T_SIGNAL ? 128 + cp->signo : 255;

	if (t->done) {
		return;
	}
	t->done = true;
	if (cp->o->report != NULL) {
		struct mg_target_result r = {
			.outcome = oc == T_UNREACHABLE ? MG_OUTCOME_UNREACHABLE
				 : oc == T_LOST ? MG_OUTCOME_LOST
				 : oc == T_TIMEOUT ? MG_OUTCOME_TIMEOUT : MG_OUTCOME_RAN,
			.exit_code = code,
			.duration_ms = t->start_ms > 0 ? mg_loop_now(cp->loop) - t->start_ms : 0,
			.errmsg = msg,
		};
		mg_report_done(cp->o->report, t->idx, &r);
	} else {
		if (msg != NULL) {
			say(cp, t->named ? NULL : t->chain->text, msg);
		}
		cp->exit_code = code > cp->exit_code ? code : cp->exit_code;
	}
	if (++cp->n_done == cp->n) {
		mg_loop_stop(cp->loop, 1);
	}
}

/* 'who' names the chain where 'path' is, NULL for here. */
static void target_error(struct cp_target *t, const char *who, const char *path, const char *msg)
{
	struct cp *cp = t->cp;
	size_t idx = t->idx;

	t->failures++;
	if (who != NULL && cp->here_prefix != NULL &&
	    strncmp(path, cp->here_prefix, strlen(cp->here_prefix)) == 0) {
		path += strlen(cp->here_prefix);
	}
	if (cp->o->report != NULL) {
		char *line = talloc_asprintf(cp, "%s: %s\n", path, msg);

		if (line != NULL) {
			mg_report_output(cp->o->report, idx, 2, line, strlen(line));
		}
		talloc_free(line);
	} else {
		char *line = talloc_asprintf(cp, "%s: %s", path, msg);

		say(cp, who, line != NULL ? line : msg);
		talloc_free(line);
	}
}

static void target_result(struct cp_target *t, int err, const char *errmsg)
{
	struct cp *cp = t->cp;

	if (err == 0) {
		if (cp->o->verbose && cp->o->report == NULL && t->failures == 0) {
			struct mg_file_copy *fc = t->fc != NULL ? t->fc : cp->push;
			uint64_t bytes = 0, wire = 0;
			char *line;

			if (fc != NULL) {
				mg_file_stats(fc, &bytes, &wire);
			}
			line = talloc_asprintf(cp, "copied (%llu bytes of files, %llu on the wire)",
					       (unsigned long long)bytes, (unsigned long long)wire);
			say(cp, t->chain->text, line != NULL ? line : "copied");
			talloc_free(line);
		}
		target_end(t, t->failures > 0 ? T_FAILED : T_OK, NULL);
	} else if (!t->connected) {
		/* Sent early (on_start), failed before the chain was said
		 * up: with its chain (on_connected says why, naming the hop),
		 * or refused there (a reply can come first): kept for then. */
		t->early = true;
		t->early_err = err;
		t->early_msg = talloc_strdup(cp, errmsg != NULL ? errmsg : mg_strerror(err));
	} else if (mg_context_gone(t->ctx) || err != MG_ERR_CALL) {
		target_end(t, T_LOST, errmsg);
	} else {
		/* The far end refused (its DEST does not fit, a source list
		 * it cannot take): a file-level failure, like cp's. */
		target_end(t, T_FAILED, errmsg);
	}
}

/* The sending end's paths are far for a pull, the receiving end's for a push. */
static void pull_error(size_t idx, bool at_source, const char *path, const char *msg, void *data)
{
	struct cp_target *t = data;

	target_error(t, at_source ? t->chain->text : NULL, path, msg);
}

static void pull_done(size_t idx, int err, const char *errmsg, void *data)
{
	target_result(data, err, errmsg);
}

static void push_error(size_t idx, bool at_source, const char *path, const char *msg,
		       void *data)
{
	struct cp *cp = data;

	struct cp_target *t = &cp->t[cp->map[idx]];

	target_error(t, !at_source ? t->chain->text : cp->o->from != NULL ? cp->o->from->text : NULL,
		     path, msg);
}

static void push_done(size_t idx, int err, const char *errmsg, void *data)
{
	struct cp *cp = data;

	target_result(&cp->t[cp->map[idx]], err, errmsg);
}

static void human(char *buf, size_t n, double v)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	size_t u = 0;

	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	snprintf(buf, n, u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
}

static void show_progress(struct cp *cp, bool last)
{
	uint64_t now = mg_loop_now(cp->loop);
	double secs = (double)(now - cp->start_ms) / 1000.0;
	double rate = secs > 0 ? (double)cp->bytes / secs : 0;
	char done[32], total[32], r[32], line[160];

	if (!cp->o->progress || (!last && now - cp->shown_ms < 200)) {
		return;
	}
	cp->shown_ms = now;
	human(done, sizeof(done), (double)cp->bytes);
	human(r, sizeof(r), rate);
	if (cp->total > 0) {
		double left = rate > 0 && cp->total > cp->bytes ? (double)(cp->total - cp->bytes) / rate : 0;
		unsigned eta = (unsigned)left;

		human(total, sizeof(total), (double)cp->total);
		snprintf(line, sizeof(line), "\r\033[K%s / %s  %3.0f%%  %s/s  ETA %u:%02u%s", done, total,
			 100.0 * (double)cp->bytes / (double)cp->total, r, eta / 60, eta % 60,
			 last ? "\n" : "");
	} else {
		snprintf(line, sizeof(line), "\r\033[K%s  %s/s%s", done, r, last ? "\n" : "");
	}
	if (write(cp->o->err_fd, line, strlen(line)) < 0) {
		/* a progress bar is worth no error */
	}
}

static void on_bytes(uint64_t bytes, void *data)
{
	struct cp *cp = data;

	cp->bytes = bytes;
	show_progress(cp, false);
}

/* Each pull counts its own bytes: the bar shows the sum of all. */
static void pull_bytes(uint64_t bytes, void *data)
{
	struct cp_target *t = data;
	uint64_t sum = t->cp->bytes + bytes - t->bytes;

	t->bytes = bytes;
	on_bytes(sum, t->cp);
}

/* The far source counted what it sends: the bar gets its ETA. */
static void on_total(uint64_t total, void *data)
{
	((struct cp *)data)->total = total;
}

static void pull_total(uint64_t total, void *data)
{
	on_total(total, ((struct cp_target *)data)->cp);
}

/* Many targets pull into DEST/NAME, one directory each. */
static char *pull_dest(struct cp *cp, struct cp_target *t, unsigned *_flags)
{
	char *dir, *stem;

	if (cp->o->report == NULL) {
		return talloc_strdup(cp, cp->o->dest);
	}
	*_flags |= MG_FILE_INTO;
	/* The name --outdir gives its files: one too long is shortened. */
	stem = mg_report_file_stem(cp, cp->o->names[t->idx]);
	dir = stem != NULL ? talloc_asprintf(cp, "%s/%s", cp->o->dest, stem) : NULL;
	talloc_free(stem);
	if (dir != NULL && mkdir(dir, 0777) != 0 && errno != EEXIST) {
		/* Said once, naming DEST when it is DEST that is missing or
		 * no directory (as cp names its target). */
		int e = errno;
		char *msg = talloc_asprintf(cp, "%s: %s", e == ENOENT || e == ENOTDIR ? cp->o->dest : dir,
					    strerror(e));

		target_end(t, T_FAILED, msg != NULL ? msg : strerror(e));
		talloc_free(msg);
		TALLOC_FREE(dir);
	}
	return dir;
}

/* Whether a relative path at chain c means one in our directory: its
 * agent would run there (local, sudo...: mg_exec_inherits), but through
 * a holder it runs in the holder's ("/"). */
static bool here_relative(const struct cp *cp, const struct mg_chain *c)
{
	return mg_session_attached(cp->s) && mg_exec_inherits(c) != MG_EXEC_INHERIT_NONE;
}

/* 'path' made absolute against our directory when it is relative (not
 * empty, the agent's "~"-like home, nor "~..."), on cp; NULL on ENOMEM. */
static const char *here_path(struct cp *cp, const char *path)
{
	if (path[0] == '\0' || path[0] == '/' || path[0] == '~') {
		return path;
	}
	if (cp->here_prefix == NULL) {
		/* Once: every path is made against the same directory. */
		char *cwd = getcwd(NULL, 0);

		if (cwd == NULL) {
			return path;
		}
		cp->here_prefix = talloc_asprintf(cp, "%s%s", cwd, strcmp(cwd, "/") == 0 ? "" : "/");
		free(cwd);
		if (cp->here_prefix == NULL) {
			return NULL;
		}
	}
	return talloc_asprintf(cp, "%s%s", cp->here_prefix, path);
}

/* The sources, or here_path of each at chain c. NULL on ENOMEM. */
static const char *const *here_paths(struct cp *cp, const struct mg_chain *c)
{
	size_t n = 0;
	const char **v;

	if (c == NULL || !here_relative(cp, c)) {
		return cp->o->srcs;
	}
	while (cp->o->srcs[n] != NULL) {
		n++;
	}
	if ((v = talloc_zero_array(cp, const char *, n + 1)) == NULL) {
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		if ((v[i] = here_path(cp, cp->o->srcs[i])) == NULL) {
			return NULL;
		}
	}
	return v;
}

/* Under --persist, files a push creates at chains whose own agents
 * would have had our umask (local and fork alone: mg_exec_inherits)
 * get it, not the holder's; only when every target is such a chain. */
static void push_umask(const struct cp *cp, struct mg_file_opts *fo)
{
	mode_t m;

	if (!mg_session_attached(cp->s)) {
		return;
	}
	for (size_t i = 0; i < cp->n; i++) {
		if (mg_exec_inherits(cp->t[i].chain) != MG_EXEC_INHERIT_ALL) {
			return;
		}
	}
	m = umask(022);
	umask(m);
	fo->flags |= MG_FILE_UMASK;
	fo->umask = (unsigned)m;
}

/* A push's destination, shared by every target: made absolute only
 * when each of them would take it so. */
static const char *push_dest(struct cp *cp)
{
	for (size_t i = 0; i < cp->n; i++) {
		if (!here_relative(cp, cp->t[i].chain)) {
			return cp->o->dest;
		}
	}
	return here_path(cp, cp->o->dest);
}

static void start_pull(struct cp *cp, struct cp_target *t)
{
	struct mg_file_opts fo = { .flags = cp->o->flags, .on_error = pull_error,
				   .on_done = pull_done, .data = t };
	char *dest = pull_dest(cp, t, &fo.flags);
	const char *const *srcs;
	char *errmsg = NULL;
	struct mg_file_copy *fc;

	if (t->done) {
		return;  /* DEST/NAME could not be made: said */
	}
	fo.on_bytes = pull_bytes;
	if (cp->n == 1) {
		/* Many far ends count apart: no total for the bar then. */
		fo.on_total = cp->o->progress ? pull_total : NULL;
	}
	srcs = here_paths(cp, t->chain);
	fc = dest != NULL && srcs != NULL ? mg_file_pull(cp, t->ctx, srcs, dest, &fo, &errmsg) : NULL;
	t->fc = fc;
	if (fc == NULL) {
		target_end(t, T_FAILED, errmsg != NULL ? errmsg : "out of memory");
	}
	talloc_free(dest);
}

static void start_push(struct cp *cp)
{
	struct mg_file_opts fo = { .flags = cp->o->flags, .on_error = push_error,
				   .on_done = push_done, .on_bytes = on_bytes, .data = cp };
	struct mg_context **ctxs = talloc_zero_array(cp, struct mg_context *, cp->n);
	const char *dest;
	size_t n = 0;

	cp->map = talloc_zero_array(cp, size_t, cp->n);
	for (size_t i = 0; ctxs != NULL && cp->map != NULL && i < cp->n; i++) {
		if (!cp->t[i].done) {
			cp->map[n] = i;
			ctxs[n++] = cp->t[i].ctx;
		}
	}
	if (n == 0) {
		return;
	}
	if (cp->o->from != NULL && cp->from == NULL) {
		/* The source could not be reached: nothing to copy. Its
		 * message names its chain; say it once. */
		const char *msg = cp->from_err != NULL ? cp->from_err : "the source was not reached";

		if (cp->o->report == NULL) {
			say(cp, NULL, msg);
		}
		for (size_t i = 0; i < cp->n; i++) {
			target_end(&cp->t[i], T_UNREACHABLE, cp->o->report != NULL ? msg : NULL);
		}
		return;
	}
	dest = push_dest(cp);
	push_umask(cp, &fo);
	if (cp->from != NULL) {
		const char *const *srcs = here_paths(cp, cp->o->from);

		fo.on_total = cp->o->progress ? on_total : NULL;
		cp->push = ctxs != NULL && srcs != NULL && dest != NULL
				   ? mg_file_transfer(cp, cp->from, srcs, ctxs, n, dest, &fo) : NULL;
	} else {
		cp->push = ctxs != NULL && dest != NULL
				   ? mg_file_push(cp, ctxs, n, cp->o->srcs, dest, &fo) : NULL;
	}
	if (cp->push == NULL) {
		for (size_t i = 0; i < cp->n; i++) {
			target_end(&cp->t[i], T_LOST, "out of memory");
		}
	}
}

/* Counted as ready once, whether it is up or failed: false if it was. */
static bool mark_ready(struct cp_target *t, struct mg_context *ctx)
{
	if (t->ready) {
		return false;
	}
	t->ready = true;
	t->cp->n_ready++;
	t->ctx = ctx;
	return true;
}

/* ctx may take requests: a pull asks at once. */
static void target_ready(struct cp_target *t, struct mg_context *ctx)
{
	struct cp *cp = t->cp;

	if (!mark_ready(t, ctx)) {
		return;
	}
	t->start_ms = mg_loop_now(cp->loop);
	if (cp->o->pull && !t->done) {
		start_pull(cp, t);
	}
}

static bool push_may_start(const struct cp *cp)
{
	if (cp->o->pull || cp->push != NULL) {
		return false;
	}
	/* Many targets wait until all are up: the fan relays where their
	 * chains part, and a hop below one being connected is not known
	 * there yet. A transfer waits for its source too. */
	if (cp->o->from != NULL || cp->n > 1) {
		return cp->n_connected == cp->n && (cp->o->from == NULL || cp->from_done);
	}
	return cp->n_ready == cp->n;
}

/* Every hop of the chain started, the last not up yet: the request goes
 * now, in its boot image or right behind it, rather than a round trip
 * after the chain is up (mg_connect_opts.on_start). Should the chain
 * fail, on_connected says why. */
static void on_started(struct mg_context *ctx, int err, const char *errmsg, void *data)
{
	struct cp_target *t = data;
	struct cp *cp = t->cp;

	if (err != 0 || t->done || cp->o->from != NULL || (!cp->o->pull && cp->n > 1)) {
		return;
	}
	target_ready(t, ctx);
	if (push_may_start(cp)) {
		start_push(cp);
	}
}

static void on_connected(struct mg_context *ctx, int err, const char *errmsg, void *data)
{
	struct cp_target *t = data;
	struct cp *cp = t->cp;

	t->connected = true;
	cp->n_connected++;
	if (err != 0) {
		mark_ready(t, ctx);
		t->named = errmsg != NULL;
		target_end(t, T_UNREACHABLE, errmsg != NULL ? errmsg : mg_strerror(err));
	} else {
		target_ready(t, ctx);
		if (t->early) {
			target_result(t, t->early_err, t->early_msg);
		}
	}
	if (push_may_start(cp)) {
		start_push(cp);
	}
}

static void on_from_connected(struct mg_context *ctx, int err, const char *errmsg, void *data)
{
	struct cp *cp = data;

	cp->from_done = true;
	if (err != 0) {
		cp->from_err = talloc_strdup(cp, errmsg != NULL ? errmsg : mg_strerror(err));
	} else {
		cp->from = ctx;
	}
	if (push_may_start(cp)) {
		start_push(cp);
	}
}

/* What a push will send, for the progress bar. */
static uint64_t walk_total;

static int add_size(const char *path, const struct stat *st, int type, struct FTW *f)
{
	if (type == FTW_F && S_ISREG(st->st_mode)) {
		walk_total += (uint64_t)st->st_size;
	}
	return 0;
}

static uint64_t push_total(const struct mg_cp_opts *o)
{
	walk_total = 0;
	for (size_t i = 0; o->srcs[i] != NULL; i++) {
		struct stat st;

		if ((o->flags & MG_FILE_RECURSIVE) != 0) {
			nftw(o->srcs[i], add_size, 16, (o->flags & MG_FILE_LINKS) != 0 ? FTW_PHYS : 0);
		} else if (stat(o->srcs[i], &st) == 0 && S_ISREG(st.st_mode)) {
			walk_total += (uint64_t)st.st_size;
		}
	}
	return walk_total;
}

/* -u: the copies still going stop; their receivers drop what they
 * were writing. */
static void on_timeout(struct mg_timer *tm, void *data)
{
	struct cp *cp = data;
	char *msg = talloc_asprintf(cp, "timed out after %g s", cp->o->timeout_ms / 1000.0);

	for (size_t i = 0; i < cp->n; i++) {
		target_end(&cp->t[i], T_TIMEOUT, msg);
	}
}

/* SIGINT, SIGTERM, SIGHUP: stop as -u does, so that every receiver,
 * this process too, drops what it was writing: dying at once would
 * leave a pull's named .mgcp.* file where the file system has no
 * unnamed files (O_TMPFILE). Exit 128+N, as mitogen-run. */
static void on_signal(struct mg_signal *sig, int signo, void *data)
{
	struct cp *cp = data;

	if (cp->signo == 0) {
		cp->signo = signo;
	}
	for (size_t i = 0; i < cp->n; i++) {
		target_end(&cp->t[i], T_SIGNAL, "interrupted");
	}
}

int mg_cp(TALLOC_CTX *mem_ctx, struct mg_session *s, const struct mg_cp_opts *o)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP };
	struct cp *cp = talloc_zero(mem_ctx, struct cp);
	struct mg_connect_opts co = { .timeout_ms = o->connect_timeout_ms, .on_start = on_started };
	int ret;

	if (cp == NULL || (cp->t = talloc_zero_array(cp, struct cp_target, o->n_chains)) == NULL) {
		talloc_free(cp);
		return 255;
	}
	cp->o = o;
	cp->s = s;
	cp->n = o->n_chains;
	cp->loop = mg_session_loop(s);
	cp->start_ms = mg_loop_now(cp->loop);
	if (o->progress && !o->pull && o->from == NULL) {
		cp->total = push_total(o);
	}
	mg_session_set_fanout(s, o->fanout);
	if (mg_watch_signals(cp, cp->loop, sigs, sizeof(sigs) / sizeof(sigs[0]), on_signal, cp) != 0 ||
	    (o->timeout_ms > 0 && mg_timer_new(cp, cp->loop, o->timeout_ms, on_timeout, cp) == NULL)) {
		talloc_free(cp);
		return 255;
	}
	if (o->from != NULL) {
		struct mg_connect_opts fco = { .timeout_ms = o->connect_timeout_ms };
		char *errmsg = NULL;

		ret = mg_connect(cp, s, o->from, &fco, on_from_connected, cp, &errmsg);
		if (ret != 0) {
			cp->from_done = true;
			cp->from_err = talloc_strdup(cp, errmsg != NULL ? errmsg : mg_strerror(ret));
		}
	}
	for (size_t i = 0; i < cp->n; i++) {
		struct cp_target *t = &cp->t[i];
		char *errmsg = NULL;

		t->cp = cp;
		t->idx = i;
		t->chain = &o->chains[i];
		ret = mg_connect(cp, s, t->chain, &co, on_connected, t, &errmsg);
		if (ret != 0) {
			t->connected = t->ready = true;
			cp->n_connected++;
			cp->n_ready++;
			target_end(t, T_UNREACHABLE, errmsg != NULL ? errmsg : mg_strerror(ret));
		}
	}
	if (cp->n_done < cp->n && push_may_start(cp)) {
		start_push(cp);
	}
	if (cp->n_done < cp->n) {
		mg_loop_run(cp->loop);
	}
	for (size_t i = 0; i < cp->n; i++) {
		target_end(&cp->t[i], T_LOST, "stopped unexpectedly");
	}
	show_progress(cp, true);
	ret = o->report != NULL ? mg_report_exit_status(o->report) : cp->exit_code;
	talloc_free(cp);
	return ret;
}
