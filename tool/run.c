/*
 * mg_run: one command on every target, to completion: connect (sharing
 * prefixes, within the fan-out window), exec, stream stdio (stdin read
 * once and broadcast), forward signals, apply timeouts. See run.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>
#include <mitogen/mitogen.h>
#include "report.h"
#include "run.h"
#include "signals.h"

/* After forwarding a stop signal, wait this long before SIGKILL. */
#define ESCALATE_MS 5000
#define TIMEOUT_KILL_MS 2000
/* After SIGKILL, how long a target may take to report its end before we
 * stop waiting for it. A hop that never answers EXEC, or a program still
 * on its way, holds SIGKILL until the command starts (mitogen/exec.h), so
 * neither -u nor a signal may depend on the far end to finish the run. */
#define GIVE_UP_MS 2000

struct run;

struct target {
	struct run *run;
	size_t idx;
	const struct mg_chain *chain;
	struct mg_exec *e;
	struct mg_bcast_target *bt;
	struct mg_timer *cmd_timer;
	struct mg_timer *kill_timer;
	uint64_t start_ms;
	bool timed_out;
	bool done;
	bool up;                 /* its chain is connected */
	struct mg_exec_result *early_res; /* ended before the chain was up */
};

struct run {
	TALLOC_CTX *mem_ctx;
	const struct mg_run_opts *opts;
	struct mg_run_result *res;
	struct mg_loop *loop;
	struct mg_session *s;
	struct mg_bcast *bcast;
	struct target *t;
	size_t n;
	size_t n_done;
	struct mg_timer *kill_timer;
	struct mg_program *program;
	bool no_stdin;           /* -n, or stdin is /dev/null: none to send */
	bool held;               /* the report's reader is behind: output held */
	int tty;                 /* our terminal, for -T, or -1 */
	bool raw;                /* it is in raw mode: tty_saved to restore */
	struct termios tty_saved;
	int signals;
	int last_signal;
	bool abandoned;
};

/* Everything after "CHAIN: " of a message, for grouping reasons. */
static const char *reason(const struct target *t, const char *msg)
{
	size_t n = strlen(t->chain->text);

	if (msg != NULL && strncmp(msg, t->chain->text, n) == 0 && strncmp(msg + n, ": ", 2) == 0) {
		return msg + n + 2;
	}
	return msg;
}

static void target_done(struct target *t, enum mg_run_outcome o, int code, int sig, const char *msg)
{
	struct run *run = t->run;

	if (t->done) {
		return;
	}
	t->done = true;
	TALLOC_FREE(t->cmd_timer);
	TALLOC_FREE(t->kill_timer);
	if (t->bt != NULL) {
		mg_bcast_drop(t->bt);
		t->bt = NULL;
	}
	if (run->opts->report != NULL) {
		struct mg_target_result r = {
			.outcome = (int)o, .exit_code = code, .signal = sig,
			.duration_ms = t->start_ms > 0 ? mg_loop_now(run->loop) - t->start_ms : 0,
			.errmsg = reason(t, msg),
		};
		mg_report_done(run->opts->report, t->idx, &r);
	} else {
		run->res->outcome = o;
		run->res->exit_code = code;
		run->res->signal = o == MG_RUN_EXITED ? sig : 0;
		run->res->errmsg = msg != NULL ? talloc_strdup(run->mem_ctx, msg) : NULL;
	}
	if (++run->n_done == run->n) {
		mg_loop_stop(run->loop, 1);
	}
}

/* A signal of ours stopped the target before its chain was up: 128+N, as
 * the command it would have stopped, not an unreachable target's 255 (with
 * many targets too, as mitogen-cp counts it). */
static void target_interrupted(struct target *t, int signo, const char *msg)
{
	target_done(t, t->run->opts->report != NULL ? MG_RUN_EXITED : MG_RUN_UNREACHABLE,
		    128 + signo, 0, msg);
}

static void on_exec_done(struct mg_exec *e, const struct mg_exec_result *r, void *data)
{
	struct target *t = data;
	int st = r->wait_status;

	if (!t->up) {
		/* Sent before the chain was up: how the connect ends says
		 * more (its error, or the result once it is up). */
		t->early_res = talloc_memdup(t->run, r, sizeof(*r));
		if (t->early_res != NULL && r->errmsg != NULL) {
			t->early_res->errmsg = talloc_strdup(t->early_res, r->errmsg);
		}
		return;
	}
	if (r->err == MG_ERR_DEAD && r->exec_errno != 0) {
		target_done(t, MG_RUN_NOT_STARTED,
			    r->fail_status > 0 && r->fail_status < 256 ? r->fail_status
			    : r->exec_errno == ENOENT ? 127 : 126, 0, r->errmsg);
	} else if (r->err != 0) {
		target_done(t, MG_RUN_LOST, 255, 0, r->errmsg);
	} else if (r->write_err != 0 && r->write_err != -EPIPE && t->run->opts->report == NULL) {
		/* Our output could not take it (a full disk): what the
		 * command wrote is not all there, as a report would say too.
		 * A reader that went away (EPIPE) is a pipeline's end: the
		 * command's own SIGPIPE says it. */
		char *msg = talloc_asprintf(t->run, "cannot write to %s (fd %d): %s",
					    r->write_stream == 1 ? "the output" : "the error output",
					    r->write_stream == 1 ? t->run->opts->out_fd : t->run->opts->err_fd,
					    strerror(-r->write_err));
		target_done(t, MG_RUN_LOST, 255, 0, msg);
	} else if (t->timed_out) {
		char *msg = talloc_asprintf(t->run, "%s: timed out after %g s", t->chain->text,
					    t->run->opts->command_timeout_ms / 1000.0);
		target_done(t, MG_RUN_TIMED_OUT, 124, WIFSIGNALED(st) ? WTERMSIG(st) : 0, msg);
	} else if (WIFSIGNALED(st)) {
		target_done(t, MG_RUN_EXITED, 128 + WTERMSIG(st), WTERMSIG(st), NULL);
	} else {
		target_done(t, MG_RUN_EXITED, WEXITSTATUS(st), 0, NULL);
	}
}

/* SIGKILL went out GIVE_UP_MS ago and the target still did not end: it
 * may never have started. It timed out all the same. */
static void on_timeout_give_up(struct mg_timer *tm, void *data)
{
	struct target *t = data;
	char *msg;

	t->kill_timer = NULL;
	msg = talloc_asprintf(t->run, "%s: timed out after %g s; it did not end when killed",
			      t->chain->text, t->run->opts->command_timeout_ms / 1000.0);
	target_done(t, MG_RUN_TIMED_OUT, 124, 0, msg);
}

static void on_kill_timer(struct mg_timer *tm, void *data)
{
	struct target *t = data;

	t->kill_timer = NULL;
	if (t->e != NULL && !t->done) {
		mg_exec_signal(t->e, SIGKILL);
		t->kill_timer = mg_timer_new(t->run, t->run->loop, GIVE_UP_MS, on_timeout_give_up, t);
	}
}

static void on_cmd_timeout(struct mg_timer *tm, void *data)
{
	struct target *t = data;

	t->cmd_timer = NULL;
	t->timed_out = true;
	if (!mg_exec_started(t->e)) {
		/* Nothing runs yet (a pushed program still on its way): there
		 * is nothing to wait for, and should it start after all, it
		 * is killed as it does. */
		char *msg = talloc_asprintf(t->run, "%s: timed out after %g s, before the command started",
					    t->chain->text, t->run->opts->command_timeout_ms / 1000.0);
		mg_exec_signal(t->e, SIGKILL);
		target_done(t, MG_RUN_TIMED_OUT, 124, 0, msg);
		return;
	}
	mg_exec_signal(t->e, SIGTERM);
	t->kill_timer = mg_timer_new(t->run, t->run->loop, TIMEOUT_KILL_MS, on_kill_timer, t);
}

static void on_output(void *data, int stream, const uint8_t *p, size_t n)
{
	struct target *t = data;

	mg_report_output(t->run->opts->report, t->idx, stream, p, n);
	if (mg_report_output_dead(t->run->opts->report, stream) && t->e != NULL) {
		/* Our reader is gone: the command's writes fail now, as in
		 * `yes | head -1`, rather than run on for nobody. */
		mg_exec_drop_output(t->e, stream);
	}
}

/* Whether every hop runs on this host with no relay between (not su:
 * its agent's stdio is the terminal su asks its password on): only then
 * is it worth handing stdio down (a link that cannot carry it costs a
 * round trip to learn so, and the EXEC could not ride in an ssh hop's
 * image). */
static bool same_kernel(const struct mg_chain *c)
{
	static const char *const same[] = { "local", "fork", "sudo", "doas" };

	for (size_t i = 0; i < c->n_hops; i++) {
		bool ok = false;
		for (size_t k = 0; k < sizeof(same) / sizeof(same[0]); k++) {
			ok = ok || strcmp(c->hops[i].method, same[k]) == 0;
		}
		if (!ok) {
			return false;
		}
	}
	return true;
}

/* EXEC to ctx, up or (on_start) still connecting. False when it could
 * not be sent: the target is done. */
static bool start_exec(struct target *t, struct mg_context *ctx)
{
	struct run *run = t->run;
	struct mg_exec_opts eo = {
		.argv = run->opts->argv,
		.shell = run->opts->shell,
		.posix_sh = run->opts->posix_sh,
		.stdin_fd = run->no_stdin ? -1 : run->opts->in_fd,
		.stdout_fd = run->opts->out_fd,
		.stderr_fd = run->opts->err_fd,
		.env = run->opts->env,
		.cwd = run->opts->cwd,
		.program = run->program,
		.pty = run->opts->pty,
		/* Through a holder, as the chain's own master would run it. */
		.inherit = mg_session_attached(run->s) ? mg_exec_inherits(t->chain) : MG_EXEC_INHERIT_NONE,
	};
	struct winsize ws = { .ws_row = 24, .ws_col = 80 };
	struct termios modes;

	if (run->opts->pty) {
		if (run->tty >= 0) {
			ioctl(run->tty, TIOCGWINSZ, &ws);
		}
		/* Our line discipline, not the one raw mode makes. */
		if (run->raw) {
			eo.modes = &run->tty_saved;
		} else if (run->tty >= 0 && tcgetattr(run->tty, &modes) == 0) {
			eo.modes = &modes;
		}
		eo.rows = ws.ws_row;
		eo.cols = ws.ws_col;
	}
	if (run->opts->report != NULL) {
		eo.sink = on_output;
		eo.sink_data = t;
	}
	if (t->bt != NULL) {
		eo.stdin_bcast = t->bt;
	}
	/* Output that is not captured nor prefixed, stdin not shared. */
	eo.pass_stdio = run->opts->pass_stdio && run->n == 1 && run->opts->report == NULL &&
			t->bt == NULL && !run->opts->pty && same_kernel(t->chain);
	/* The duration runs from here: the command may end before the
	 * chain's connect callback comes. Attached, from the request. */
	if (t->start_ms == 0) {
		t->start_ms = mg_loop_now(run->loop);
	}
	t->e = mg_exec_start(run, ctx, &eo, on_exec_done, t);
	if (t->e == NULL) {
		char *msg = talloc_asprintf(run, "%s: cannot start the command: %s", mg_context_name(ctx),
					    mg_strerror(-errno));
		target_done(t, MG_RUN_LOST, 255, 0, msg);
		return false;
	}
	if (run->held) {
		mg_exec_hold_output(t->e, true);
	}
	return true;
}

/* -T, the chain up: keys go to the far terminal as they are, ^C
 * included, until the run ends. Not before, as ssh: a hop's password
 * prompt reads a line on our terminal, and ^C stops a connect. */
static void make_raw(struct run *run)
{
	struct termios raw;

	if (run->tty < 0 || run->raw || tcgetattr(run->tty, &run->tty_saved) != 0) {
		return;
	}
	raw = run->tty_saved;
	cfmakeraw(&raw);
	run->raw = tcsetattr(run->tty, TCSADRAIN, &raw) == 0;
}

/* Every hop of the chain started, the last not up yet: the command goes
 * now, in its boot image or right behind it, rather than a round trip
 * after the chain is up (mg_connect_opts.on_start). */
static void on_started(struct mg_context *ctx, int err, const char *errmsg, void *data)
{
	struct target *t = data;

	if (!t->done && t->e == NULL && t->run->signals == 0) {
		start_exec(t, ctx);
	}
}

static void on_connected(struct mg_context *ctx, int err, const char *errmsg, void *data)
{
	struct target *t = data;
	struct run *run = t->run;
	struct mg_exec_result *early = t->early_res;

	if (err != 0) {
		/* A command sent early went with its chain. */
		TALLOC_FREE(t->e);
		target_done(t, MG_RUN_UNREACHABLE, 255, 0, errmsg);
		return;
	}
	if (t->done) {
		return;
	}
	if (run->signals > 0 && t->e == NULL) {
		target_interrupted(t, run->last_signal, "interrupted");
		return;
	}
	t->up = true;
	if (run->opts->on_up != NULL) {
		run->opts->on_up(run->opts->on_up_data);
	}
	if (t->e == NULL && !start_exec(t, ctx)) {
		return;
	}
	if (run->signals == 0) {
		make_raw(run);
	}
	if (early != NULL) {
		t->early_res = NULL;
		on_exec_done(t->e, early, t);
		talloc_free(early);
		return;
	}
	if (run->opts->command_timeout_ms > 0) {
		t->cmd_timer = mg_timer_new(run, run->loop, run->opts->command_timeout_ms,
					    on_cmd_timeout, t);
	}
}

/* The report's reader fell behind, or caught up: hold or resume the
 * output of every running command. */
static void on_backlog(void *data, bool full)
{
	struct run *run = data;

	run->held = full;
	for (size_t i = 0; i < run->n; i++) {
		if (run->t[i].e != NULL && !run->t[i].done) {
			mg_exec_hold_output(run->t[i].e, full);
		}
	}
}

/* The targets still running got SIGKILL GIVE_UP_MS ago: give up on them
 * as on a second signal (one that never started cannot be killed). */
static void on_run_give_up(struct mg_timer *tm, void *data)
{
	struct run *run = data;

	run->kill_timer = NULL;
	run->abandoned = true;
	mg_loop_stop(run->loop, 1);
}

static void on_run_kill(struct mg_timer *tm, void *data)
{
	struct run *run = data;

	run->kill_timer = NULL;
	for (size_t i = 0; i < run->n; i++) {
		if (run->t[i].e != NULL && !run->t[i].done) {
			mg_exec_signal(run->t[i].e, SIGKILL);
		}
	}
	run->kill_timer = mg_timer_new(run, run->loop, GIVE_UP_MS, on_run_give_up, run);
}

static void on_winch(struct mg_signal *sig, int signo, void *data)
{
	struct run *run = data;
	struct winsize ws;

	if (run->tty >= 0 && ioctl(run->tty, TIOCGWINSZ, &ws) == 0) {
		for (size_t i = 0; i < run->n; i++) {
			if (run->t[i].e != NULL && !run->t[i].done) {
				mg_exec_winsize(run->t[i].e, ws.ws_row, ws.ws_col);
			}
		}
	}
}

static int run_destructor(struct run *run)
{
	if (run->raw) {
		tcsetattr(run->tty, TCSADRAIN, &run->tty_saved);
	}
	if (run->opts->report != NULL) {
		mg_report_set_backlog(run->opts->report, NULL, NULL);
	}
	return 0;
}

/* -T: the terminal's size goes to the far end, and follows. */
static int take_tty(struct run *run, int fd)
{
	if (fd < 0 || !isatty(fd)) {
		return 0;
	}
	run->tty = fd;
	return mg_signal_new(run, run->loop, SIGWINCH, on_winch, run) != NULL ? 0 : -ENOMEM;
}

/* A target still connecting, or with nothing sent yet, ended by a signal:
 * a command sent early ends with the connection, as the hops stop. */
static void target_cut(struct target *t, int signo)
{
	TALLOC_FREE(t->e);
	target_interrupted(t, signo, talloc_asprintf(t->run, "%s: interrupted", t->chain->text));
}

/* A command on its way when the signal came may be running already, its
 * STARTED behind (with stdio passed, the user may even have seen its
 * output): wait this long for the far end's word before calling it
 * interrupted. The signal is queued for it meanwhile. */
#define SIGNAL_WAIT_MS 1000

/* The wait is over: what has still not started will not now. */
static void on_signal_wait(struct mg_timer *tm, void *data)
{
	struct run *run = data;
	int signo = run->last_signal;

	for (size_t i = 0; i < run->n; i++) {
		struct target *t = &run->t[i];
		if (t->done || (t->e != NULL && mg_exec_started(t->e))) {
			continue;
		}
		if (t->up && t->e != NULL) {
			/* A program still on its way: killed should it
			 * start after all. */
			char *msg = talloc_asprintf(run, "%s: interrupted before the command started",
						    t->chain->text);
			mg_exec_signal(t->e, SIGKILL);
			target_interrupted(t, signo, msg);
		} else {
			target_cut(t, signo);
		}
	}
}

/* The first signal, once what this turn of the loop read is taken: a
 * command's STARTED that came with the signal counts as started. */
static void signal_targets(void *data)
{
	struct run *run = data;
	int signo = run->last_signal;
	bool wait = false;

	if (run->abandoned) {
		return;
	}
	for (size_t i = 0; i < run->n; i++) {
		struct target *t = &run->t[i];
		if (t->done) {
			continue;
		}
		if (t->e != NULL) {
			/* Started, or on its way (sent early, or a program
			 * being pushed): the signal is the command's to
			 * answer, queued until it starts. */
			wait |= !mg_exec_started(t->e);
			mg_exec_signal(t->e, signo);
		} else {
			/* Nothing sent yet: it will not start now. */
			target_cut(t, signo);
		}
	}
	if (run->n_done == run->n) {
		return;
	}
	if (wait && mg_timer_new(run, run->loop, SIGNAL_WAIT_MS, on_signal_wait, run) == NULL) {
		on_signal_wait(NULL, run);
	}
	if (run->kill_timer == NULL && run->n_done < run->n) {
		run->kill_timer = mg_timer_new(run, run->loop, ESCALATE_MS, on_run_kill, run);
	}
}

static void on_signal(struct mg_signal *sig, int signo, void *data)
{
	struct run *run = data;

	run->signals++;
	run->last_signal = signo;
	if (run->signals > 1) {
		/* Second time: give up now. Dropping the connections makes
		 * every hop stop what it started. */
		run->abandoned = true;
		mg_loop_stop(run->loop, 1);
		return;
	}
	if (mg_loop_defer(run->loop, run, signal_targets, run) != 0) {
		signal_targets(run);
	}
}

/* Targets are elements of one array: their objects hang off the run. */
/* Targets still connecting when the run is abandoned or ends early. */
static void fail_unfinished(struct run *run, const char *why)
{
	for (size_t i = 0; i < run->n; i++) {
		if (!run->t[i].done) {
			char *msg = talloc_asprintf(run, "%s: %s", run->t[i].chain->text, why);
			target_done(&run->t[i], run->t[i].up ? MG_RUN_LOST : MG_RUN_UNREACHABLE,
				    run->signals > 0 ? 128 + run->last_signal : 255, 0, msg);
		}
	}
}

/* Our stdin is /dev/null (cron, make, a script's "</dev/null"): the
 * command reads end of file at once either way, so say so in the EXEC
 * (MG_EXEC_NO_STDIN) rather than read it and send an end of file after
 * STARTED, a message through every hop while the command runs. */
static bool stdin_is_null(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3);
}

/* Signal watchers, the program to push, the shared stdin: 0 or -ENOMEM,
 * or 1 when the program cannot be loaded (res is filled). */
static int run_setup(struct run *run, struct mg_run_result *res)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };
	const struct mg_run_opts *opts = run->opts;

	if (opts->pty && take_tty(run, opts->tty_fd) != 0) {
		return -ENOMEM;
	}
	if (opts->program != NULL) {
		char *errmsg = NULL;
		run->program = mg_program_load(run, run->s, opts->program, &errmsg);
		if (run->program == NULL) {
			res->outcome = MG_RUN_NOT_STARTED;
			res->exit_code = 255;
			res->errmsg = talloc_strdup(run->mem_ctx, errmsg != NULL ? errmsg : "out of memory");
			return 1;
		}
	}
	if (opts->signals &&
	    mg_watch_signals(run, run->loop, sigs, sizeof(sigs) / sizeof(sigs[0]), on_signal, run) != 0) {
		return -ENOMEM;
	}
	if (opts->report != NULL) {
		mg_report_set_backlog(opts->report, on_backlog, run);
	}
	/* A terminal for -T stays a terminal, whatever stdin is. */
	run->no_stdin = opts->null_stdin || (!opts->pty && stdin_is_null(opts->in_fd));
	/* Many targets share one stdin: read it once, at the slowest pace. */
	if (!run->no_stdin && run->n > 1) {
		int fd = fcntl(opts->in_fd, F_DUPFD_CLOEXEC, 3);
		run->bcast = fd >= 0 ? mg_bcast_new(run, run->s, fd) : NULL;
		if (run->bcast == NULL) {
			if (fd >= 0) {
				close(fd);
			}
			return -ENOMEM;
		}
	}
	return 0;
}

bool mg_run_leaf(const struct mg_run_opts *opts)
{
	return !opts->pty && opts->program == NULL;
}

int mg_run(TALLOC_CTX *mem_ctx, struct mg_session *s, const struct mg_run_opts *opts,
	   struct mg_run_result *res)
{
	struct run *run = talloc_zero(NULL, struct run);
	/* A run only executes at each chain's end: the hops that end no
	 * other chain may take the exec-only agent, half the bytes, or for
	 * one plain command the leaf agent, a fifth of that. */
	struct mg_connect_opts co = {
		.timeout_ms = opts->connect_timeout_ms, .on_start = on_started, .exec_only = true,
		.leaf = mg_run_leaf(opts),
	};
	int ret;

	if (run == NULL) {
		return -ENOMEM;
	}
	memset(res, 0, sizeof(*res));
	run->mem_ctx = mem_ctx;
	run->opts = opts;
	run->res = res;
	run->n = opts->n_chains;
	run->s = s;
	run->loop = mg_session_loop(s);
	run->tty = -1;
	talloc_set_destructor(run, run_destructor);
	run->t = talloc_zero_array(run, struct target, run->n);
	if (run->t == NULL) {
		talloc_free(run);
		return -ENOMEM;
	}
	mg_session_set_fanout(s, opts->fanout);
	ret = run_setup(run, res);
	if (ret != 0) {
		talloc_free(run);
		return ret < 0 ? ret : 0;
	}
	for (size_t i = 0; i < run->n; i++) {
		struct target *t = &run->t[i];
		char *errmsg = NULL;

		t->run = run;
		t->idx = i;
		t->chain = &opts->chains[i];
		if (run->bcast != NULL && (t->bt = mg_bcast_add(run->bcast)) == NULL) {
			talloc_free(run);
			return -ENOMEM;
		}
		ret = mg_connect(run, run->s, t->chain, &co, on_connected, t, &errmsg);
		if (ret == 0 && mg_session_attached(run->s)) {
			/* No on_start comes: the holder connects. */
			t->start_ms = mg_loop_now(run->loop);
		}
		if (ret != 0) {
			char *msg = talloc_asprintf(run, "%s: %s", t->chain->text,
						    errmsg != NULL ? errmsg : mg_strerror(ret));
			target_done(t, MG_RUN_UNREACHABLE, 255, 0, msg);
		}
	}
	if (run->n_done < run->n) {
		ret = mg_loop_run(run->loop);
		if (run->n_done < run->n) {
			fail_unfinished(run, run->abandoned ? "interrupted" :
					ret < 0 ? mg_strerror(ret) : "stopped unexpectedly");
		}
	}
	if (opts->report != NULL) {
		res->exit_code = mg_report_exit_status(opts->report);
		if (run->abandoned) {
			res->exit_code = 128 + run->last_signal;
		}
	}
	res->our_signal = run->signals > 0 ? run->last_signal : 0;
	/* The commands' channels and timers go; the hops stay the session's. */
	talloc_free(run);
	return 0;
}
