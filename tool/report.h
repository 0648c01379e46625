/*
 * Output of a run on many targets: "NAME: line" prefixes (readable by
 * dshbak and clubak), plain lines, clush -b style gathering, one JSON
 * object per target, per-target files, a one-line failure summary, a
 * file of failed chains for a retry (-w ^FILE) and the exit status.
 *
 * Single-threaded: call everything from the thread that runs the loop.
 * Lines of targets never mix: each text goes out whole, in order. Given a
 * loop (opts.loop), out_fd and err_fd are non-blocking until
 * mg_report_finish() and what they do not take at once waits in memory,
 * so a stalled reader never stalls the loop; the producer is asked to
 * hold (mg_report_set_backlog) while much waits. Without a loop, and from
 * mg_report_finish() on, writes wait for the fd (with poll() when it is
 * non-blocking). A write error stops printing to that fd and is returned
 * by mg_report_finish(); the caller ignores SIGPIPE to get EPIPE rather
 * than die. --outdir files are written as the output comes.
 */
#ifndef MG_TOOL_REPORT_H
#define MG_TOOL_REPORT_H

#include <stddef.h>
#include <stdint.h>
#include <talloc.h>
#include <mitogen/chain.h>
#include <mitogen/loop.h>

enum mg_report_mode {
	MG_REPORT_PREFIX, /* "NAME: line" per line, never interleaved mid-line */
	MG_REPORT_PLAIN,  /* -N: whole lines without prefix */
	MG_REPORT_GATHER, /* -b: same stdout and same status grouped at the end */
	MG_REPORT_JSON,   /* --json: one JSON object per line, per target */
};

struct mg_report_opts {
	enum mg_report_mode mode;
	int out_fd, err_fd;      /* where to print (usually 1 and 2) */
	const char *outdir;      /* NULL, or DIR for DIR/NAME.{out,err,rc} */
	const char *failed_file; /* NULL, or FILE for the failed chains */
	/* NULL, or the program's name: the summary of failures is then
	 * "IDENT: N of M failed: ...", a "tag: text" line as dshbak and
	 * clubak read every line of a 2>&1 (pdsh's "pdsh@host: ..."). */
	const char *ident;
	/* NULL, or the loop the run turns: write out_fd and err_fd without
	 * blocking it. Their file status flags are restored by
	 * mg_report_finish() or when the report is freed, whichever comes
	 * first; free the report before the loop. */
	struct mg_loop *loop;
};

/* Called with full = true when more than 1 MiB of output waits for a slow
 * reader, with false once under 256 KiB: the producer stops and resumes
 * what feeds mg_report_output() (bytes already in flight still come). */
typedef void (*mg_report_backlog_fn)(void *data, bool full);

/* How a target ended. */
enum mg_report_outcome {
	MG_OUTCOME_RAN = 0,         /* exit_code and signal are valid */
	MG_OUTCOME_NOT_STARTED = 1, /* the command could not start (127/126) */
	MG_OUTCOME_UNREACHABLE = 2, /* the chain could not be set up */
	MG_OUTCOME_LOST = 3,        /* a hop died mid-run */
	MG_OUTCOME_TIMEOUT = 4,     /* the command timeout (-u) fired */
};

struct mg_target_result {
	int outcome;          /* enum mg_report_outcome */
	int exit_code;        /* as the shell reports it (128+N for signal N) */
	int signal;           /* 0, or the signal that ended the command */
	uint64_t duration_ms;
	const char *errmsg;   /* NULL when it ran; copied. One short reason
			       * without the target's name ("connect timeout"),
			       * so that equal reasons group in the summary. */
};

struct mg_report;

/*
 * A reporter writing to opts->out_fd / opts->err_fd (not closed by it).
 * With opts->outdir, the directory (and missing parents) is created 0700
 * and opened now. Returns NULL with *_errmsg (on mem_ctx) set, e.g. when
 * the directory cannot be created; *_errmsg is NULL on ENOMEM.
 * talloc_free() releases it and closes the files it opened.
 */
struct mg_report *mg_report_new(TALLOC_CTX *mem_ctx,
				const struct mg_report_opts *opts,
				char **_errmsg);

/*
 * Tell fn (NULL: nobody) when the output waiting for out_fd and err_fd
 * crosses its marks (see mg_report_backlog_fn): from inside
 * mg_report_output() or mg_report_done() when the queue grows, from the
 * loop when it drains; fn must not free the report. Only with opts.loop;
 * mg_report_finish() forgets it.
 */
void mg_report_set_backlog(struct mg_report *rep, mg_report_backlog_fn fn,
			   void *data);

/*
 * Display names for 'n' chains: short, unique, with no ':', '/' or
 * whitespace, so that "NAME: line" splits and NAME.out is a file name.
 * A target is named after the host (container, pod, jail) of the last hop
 * that has one ("web01" for ssh:bastion/ssh:web01/sudo). Chains without
 * one, and targets whose names would clash, use the whole chain in the
 * path-safe spelling (':' as '=', '/' as '+': "ssh=b1+ssh=web01+sudo",
 * "local+local"; '?', '&', '*', '!', '^' and ',', which clubak reads as
 * node-set syntax, percent-encoded: "local%3Fconnect_timeout=5").
 * Identical chains get "#2", "#3"... on the later ones.
 * Returns a vector of n names (plus a NULL) on mem_ctx, or NULL on ENOMEM.
 */
char **mg_report_names(TALLOC_CTX *mem_ctx, const struct mg_chain *chains,
		       size_t n);

/* The longest target name used as it is in a file name: NAME.out fits in
 * NAME_MAX (255). */
#define MG_REPORT_STEM_MAX 251
/* Where a longer one is cut, before "~" and 16 hex digits. */
#define MG_REPORT_STEM_CUT 234

/*
 * The file name a target's files start with (--outdir's NAME.out, .err,
 * .rc; mitogen-cp's DEST/NAME/ of a pull): the name itself when it has
 * at most MG_REPORT_STEM_MAX bytes, else its first MG_REPORT_STEM_CUT
 * bytes (fewer, so as not to cut a UTF-8 character), "~", and the
 * FNV-1a 64-bit hash of the whole name in 16 lower-case hex digits: the
 * same name always gives the same stem, and two names give two stems.
 * On mem_ctx; NULL on ENOMEM.
 */
char *mg_report_file_stem(TALLOC_CTX *mem_ctx, const char *name);

/*
 * Register the next target (index = number of targets added before).
 * 'name' is from mg_report_names(); 'chain_text' is what --failed writes.
 * Returns 0, -EINVAL for an empty name or one with '/', ':' or a control
 * character, -EBUSY after mg_report_finish(), or -ENOMEM.
 */
int mg_report_add(struct mg_report *rep, const char *name,
		  const char *chain_text);

/*
 * Output of target i on stream 1 (stdout) or 2 (stderr), in chunks of any
 * size, binary data allowed. PREFIX/PLAIN print whole lines only: all the
 * complete lines of a chunk go out in one write (several when over
 * 64 KiB), a partial line waits for its end or for mg_report_done() (which
 * adds the newline). A line over 64 KiB does not wait for its end: it is
 * begun under its prefix and the rest passed through as it comes, still
 * one line, while the other targets' lines for that file (stdout and
 * stderr are one file when they are the same file) wait for its newline;
 * only when 64 MiB wait is it ended early. GATHER keeps stdout and prints stderr
 * as PREFIX does; JSON keeps both, in memory (talloc caps one block at
 * 256 MiB: past that the rest is dropped and mg_report_finish() returns
 * -ENOMEM). With outdir, the bytes also go to
 * NAME.out / NAME.err as they come. Output for an unknown index, an
 * unknown stream or a target already done is ignored.
 */
void mg_report_output(struct mg_report *rep, size_t i, int stream,
		      const void *p, size_t n);

/* Whether output on 'stream' (1, 2) now goes nowhere: printed as it
 * comes on an fd that could not be written (a reader gone, a full disk),
 * and neither kept for the end nor written under outdir. */
bool mg_report_output_dead(const struct mg_report *rep, int stream);

/*
 * Target i ended ('r' is copied). Flushes its partial lines, closes its
 * outdir files and writes NAME.rc (the status number and a newline), and
 * in JSON mode prints its object: {"target", "chain", "outcome" ("ok",
 * "failed", "not-started", "unreachable", "lost", "timeout"), "rc" (null
 * unless the command ran or could not start), "signal" (or null),
 * "duration" (seconds), "stdout", "stderr", "error" (or null)}. Output
 * bytes that are not valid UTF-8 appear as \u00XX escapes of their value:
 * lossy, but readable and valid JSON (--outdir keeps the exact bytes).
 * A second call for i is ignored.
 */
void mg_report_done(struct mg_report *rep, size_t i,
		    const struct mg_target_result *r);

/*
 * End of run. Targets never done count as lost ("no result"). GATHER
 * prints its groups; every mode prints on err_fd one line summing up the
 * failures, if any ("3 of 50 failed: web07 (exit 1), web[10-12] (exit
 * 2)", capped with "... and N more"); --failed FILE is written (empty when
 * nothing failed). Returns 0, or the first error met during the run (a
 * negative errno, *_errmsg set on the report naming the file or fd that
 * could not be written); everything that could be written was. A second
 * call returns -EALREADY.
 */
int mg_report_finish(struct mg_report *rep, char **_errmsg);

/*
 * The exit status for the command: 0 if every target succeeded; 255 if
 * any target could not be reached, was lost or has no result yet; else
 * the highest status (exit code, 128+N for a signal, 127/126 when the
 * command could not start, 124 for a timeout without an exit code).
 */
int mg_report_exit_status(const struct mg_report *rep);

/*
 * Fold host names into a ClusterShell-style node set: {"web01", "web02",
 * "web03", "web07", "db1"} gives "db1,web[01-03,07]". The last run of
 * digits in a name is the number; names with equal text around it fold
 * together, numbers with a leading zero only with those of the same width
 * ("n[8,09-10]"). Sorted by text, then number; duplicates dropped.
 * Returns a string on mem_ctx ("" for n = 0), or NULL on ENOMEM.
 */
char *mg_report_fold(TALLOC_CTX *mem_ctx, const char *const *names, size_t n);

#endif
