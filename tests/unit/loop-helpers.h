/*
 * Helpers for unit tests that run an event loop: a test body in its own
 * process (so a crash fails only that test), and running the loop until
 * a condition holds or time runs out.
 */
#ifndef MG_TEST_LOOP_HELPERS_H
#define MG_TEST_LOOP_HELPERS_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "harness.h"
#include "mitogen/loop.h"

/* --- process isolation --- */

static void isolated(void (*body)(void))
{
	int status = 0;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		T_FAIL("fork: %s", strerror(errno));
	}
	if (pid == 0) {
		size_t before = talloc_total_size(NULL);

		alarm(30);
		t__failed = 0;
		body();
		if (!t__failed && talloc_total_size(NULL) != before) {
			printf("#   leak: %zu bytes left\n", (size_t)(talloc_total_size(NULL) - before));
			talloc_report_full(NULL, stdout);
			t__failed = 1;
		}
		fflush(stdout);
		_exit(t__failed ? 1 : 0);
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
	}
	if (WIFSIGNALED(status)) {
		T_FAIL("test process died: %s", strsignal(WTERMSIG(status)));
	}
	if (WEXITSTATUS(status) != 0) {
		T_FAIL("test process failed (exit %d)", WEXITSTATUS(status));
	}
}

#define ISOLATED(name) static void name(void) { isolated(name##_body); }

/* --- loop helpers --- */

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

struct waiter {
	struct mg_loop *loop;
	bool (*pred)(void *arg);
	void *arg;
	uint64_t deadline;
	struct mg_timer *t;
};

static void waiter_tick(struct mg_timer *t, void *data)
{
	struct waiter *w = data;

	talloc_free(t);
	w->t = NULL;
	if ((w->pred != NULL && w->pred(w->arg)) || now_ms() >= w->deadline) {
		mg_loop_stop(w->loop, 1);
		return;
	}
	w->t = mg_timer_new(NULL, w->loop, 1, waiter_tick, w);
}

/* Run until pred(arg) holds or 'ms' pass (pred NULL: run 'ms'). */
static bool run_until(struct mg_loop *loop, bool (*pred)(void *), void *arg, unsigned ms)
{
	struct waiter w = { loop, pred, arg, now_ms() + ms, NULL };

	w.t = mg_timer_new(NULL, loop, 0, waiter_tick, &w);
	mg_loop_run(loop);
	TALLOC_FREE(w.t);
	return pred == NULL || pred(arg);
}

#endif
