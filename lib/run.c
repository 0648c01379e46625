/* mg_run: one command on one chain, to completion. See mitogen/run.h. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "mitogen/error.h"
#include "mitogen/exec.h"
#include "mitogen/log.h"
#include "mitogen/run.h"

/* After forwarding a stop signal, wait this long before SIGKILL. */
#define ESCALATE_MS 5000
#define TIMEOUT_KILL_MS 2000

struct run {
	TALLOC_CTX *mem_ctx;
	const struct mg_run_opts *opts;
	struct mg_run_result *res;
	struct mg_loop *loop;
	struct mg_session *s;
	struct mg_exec *e;
	struct mg_timer *cmd_timer;
	struct mg_timer *kill_timer;
	int signals;
	int last_signal;
	bool timed_out;
	bool done;
};

static void set_result(struct run *run, enum mg_run_outcome o, int code, const char *msg)
{
	run->res->outcome = o;
	run->res->exit_code = code;
	run->res->errmsg = msg != NULL ? talloc_strdup(run->mem_ctx, msg) : NULL;
	run->done = true;
	mg_loop_stop(run->loop, 1);
}

static void on_exec_done(struct mg_exec *e, const struct mg_exec_result *r, void *data)
{
	struct run *run = data;
	int st = r->wait_status;

	if (r->err == MG_ERR_DEAD && r->exec_errno != 0) {
		set_result(run, MG_RUN_NOT_STARTED, r->exec_errno == ENOENT ? 127 : 126, r->errmsg);
	} else if (r->err != 0) {
		set_result(run, MG_RUN_LOST, 255, r->errmsg);
	} else if (run->timed_out) {
		char *msg = talloc_asprintf(run->mem_ctx, "%s: timed out after %u s",
					    run->opts->chain->text, run->opts->command_timeout_ms / 1000);
		set_result(run, MG_RUN_TIMED_OUT, 124, msg);
	} else if (WIFSIGNALED(st)) {
		set_result(run, MG_RUN_EXITED, 128 + WTERMSIG(st), NULL);
	} else {
		set_result(run, MG_RUN_EXITED, WEXITSTATUS(st), NULL);
	}
}

static void on_connected(struct mg_context *ctx, int err, const char *errmsg, void *data)
{
	struct run *run = data;
	struct mg_exec_opts eo = {
		.argv = run->opts->argv,
		.shell = run->opts->shell,
		.stdin_fd = run->opts->null_stdin ? -1 : 0,
		.stdout_fd = 1,
		.stderr_fd = 2,
	};

	if (err != 0) {
		set_result(run, MG_RUN_UNREACHABLE, 255, errmsg);
		return;
	}
	if (run->signals > 0) {
		set_result(run, MG_RUN_UNREACHABLE, 128 + run->last_signal, "interrupted");
		return;
	}
	run->e = mg_exec_start(run, ctx, &eo, on_exec_done, run);
	if (run->e == NULL) {
		char *msg = talloc_asprintf(run, "%s: cannot start the command", mg_context_name(ctx));
		set_result(run, MG_RUN_LOST, 255, msg);
	}
}

static void on_kill_timer(struct mg_timer *t, void *data)
{
	struct run *run = data;

	run->kill_timer = NULL;
	if (run->e != NULL) {
		mg_exec_signal(run->e, SIGKILL);
	}
}

static void on_cmd_timeout(struct mg_timer *t, void *data)
{
	struct run *run = data;

	run->cmd_timer = NULL;
	run->timed_out = true;
	if (run->e != NULL) {
		mg_exec_signal(run->e, SIGTERM);
		run->kill_timer = mg_timer_new(run, run->loop, TIMEOUT_KILL_MS, on_kill_timer, run);
	}
}

static void on_signal(struct mg_signal *sig, int signo, void *data)
{
	struct run *run = data;

	run->signals++;
	run->last_signal = signo;
	if (run->signals > 1 || run->e == NULL) {
		/* Second time, or nothing runs yet: give up now. Dropping the
		 * connection makes every hop stop what it started. */
		set_result(run, MG_RUN_LOST, 128 + signo, "interrupted");
		return;
	}
	mg_exec_signal(run->e, signo);
	if (run->kill_timer == NULL) {
		run->kill_timer = mg_timer_new(run, run->loop, ESCALATE_MS, on_kill_timer, run);
	}
}

int mg_run(TALLOC_CTX *mem_ctx, const struct mg_run_opts *opts, struct mg_run_result *res)
{
	struct run *run = talloc_zero(NULL, struct run);
	struct mg_connect_opts co = { .timeout_ms = opts->connect_timeout_ms };
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };
	char *errmsg = NULL;
	int ret;

	if (run == NULL) {
		return -ENOMEM;
	}
	memset(res, 0, sizeof(*res));
	run->mem_ctx = mem_ctx;
	run->opts = opts;
	run->res = res;
	run->loop = mg_loop_new(run);
	if (run->loop == NULL || (run->s = mg_session_new(run, run->loop)) == NULL) {
		talloc_free(run);
		return -ENOMEM;
	}
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		if (mg_signal_new(run, run->loop, sigs[i], on_signal, run) == NULL) {
			talloc_free(run);
			return -ENOMEM;
		}
	}
	if (opts->command_timeout_ms > 0) {
		run->cmd_timer = mg_timer_new(run, run->loop, opts->command_timeout_ms,
					      on_cmd_timeout, run);
	}
	ret = mg_connect(run, run->s, opts->chain, &co, on_connected, run, &errmsg);
	if (ret != 0) {
		res->outcome = MG_RUN_UNREACHABLE;
		res->exit_code = 255;
		res->errmsg = talloc_asprintf(mem_ctx, "%s: %s", opts->chain->text,
					      errmsg != NULL ? errmsg : mg_strerror(ret));
		talloc_free(run);
		return 0;
	}
	ret = mg_loop_run(run->loop);
	if (!run->done) {
		res->outcome = MG_RUN_LOST;
		res->exit_code = 255;
		res->errmsg = talloc_asprintf(mem_ctx, "%s: %s", opts->chain->text,
					      ret < 0 ? mg_strerror(ret) : "stopped unexpectedly");
	}
	/* Freeing closes every hop; agents then stop what they started. */
	talloc_free(run);
	return 0;
}
