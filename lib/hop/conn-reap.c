/*
 * What a hop process leaves behind (see conn-private.h): the rest of its
 * session, and of its agent's own session, stopped with SIGTERM first
 * where something may clean up, then SIGKILL; the hop reaped by the loop,
 * or waited for here when the loop is going. None of it needs the conn:
 * a conn may be freed before its hop is done with.
 */
#include <errno.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include "conn-private.h"
#include "mitogen/broker.h"
#include "process.h"

void mg__hop_kill(pid_t pid, pid_t sid2, bool reaped)
{
	kill(-pid, SIGKILL);
	mg__kill_session(pid, SIGKILL);
	if (sid2 > 0) {
		mg__kill_session(sid2, SIGKILL);
	}
	if (!reaped) {
		/* A forked hop not yet in its own session is in neither. */
		kill(pid, SIGKILL);
	}
}

int mg__hop_signal_left(pid_t pid, pid_t sid2, int sig)
{
	return mg__kill_session(pid, sig) + (sid2 > 0 ? mg__kill_session(sid2, sig) : 0);
}

void mg__hop_kill_by(pid_t pid, pid_t sid2, uint64_t deadline, bool reaped)
{
	for (;;) {
		siginfo_t si = { .si_pid = reaped ? pid : 0 };
		struct timespec ts = { 0, 5 * 1000 * 1000 };

		if (!reaped && waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) != 0) {
			if (errno == EINTR) {
				continue;
			}
			return;
		}
		if ((si.si_pid == pid && mg__hop_signal_left(pid, sid2, 0) == 0) ||
		    mg_now() >= deadline) {
			break;
		}
		nanosleep(&ts, NULL);
	}
	mg__hop_kill(pid, sid2, reaped);
}

/* A hop between SIGTERM and the end of its grace, whose conn was freed
 * or whose leader was reaped. */
struct orphan {
	pid_t pid;
	pid_t sid2;		/* the agent's own session, or 0 */
	uint64_t deadline;	/* for SIGKILL (mg_now); 0 once sent */
	bool reaped;
};

/* What is left of its session keeps the rest of its grace. */
static void on_orphan_exit(struct mg_child *ch, pid_t pid, int status, void *data)
{
	struct orphan *o = talloc_get_type_abort(data, struct orphan);

	o->reaped = true;
	if (o->deadline == 0) {
		talloc_free(o);
	}
}

static void on_orphan_timer(struct mg_timer *t, void *data)
{
	struct orphan *o = talloc_get_type_abort(data, struct orphan);

	(void)t;
	mg__hop_kill(o->pid, o->sid2, o->reaped);
	o->deadline = 0;
	if (o->reaped) {
		talloc_free(o);
	}
}

/* The loop goes before the hop has ended: no timer will kill it and no
 * watcher reap it, and the program may exit at once. Waiting here for the
 * rest of its grace is what lets its first stage remove its file (a run
 * cut by a signal frees the session, then the loop, as it ends); every
 * orphan got SIGTERM about together, so all of them take their grace at
 * most, and a hop deaf to SIGTERM is still killed before we go. */
static int orphan_destructor(struct orphan *o)
{
	if (o->deadline != 0) {
		mg__hop_kill_by(o->pid, o->sid2, o->deadline, o->reaped);
	}
	return 0;
}

void mg__hop_orphan(struct mg_loop *loop, pid_t pid, pid_t sid2, uint64_t deadline, bool reaped)
{
	struct orphan *o = talloc_zero(loop, struct orphan);
	struct mg_child *ch = NULL;
	struct mg_timer *t;
	uint64_t now = mg_now();

	if (o == NULL) {
		mg__hop_kill_by(pid, sid2, deadline, reaped);
		return;
	}
	o->pid = pid;
	o->sid2 = sid2;
	o->deadline = deadline;
	o->reaped = reaped;
	talloc_set_destructor(o, orphan_destructor);
	if (!reaped) {
		ch = mg_child_new(o, loop, pid, on_orphan_exit, o);
	}
	t = mg_timer_new(o, loop, deadline > now ? deadline - now : 0, on_orphan_timer, o);
	if ((ch == NULL && !reaped) || t == NULL) {
		talloc_free(o);
		return;
	}
	/* Not a reason to keep running: the program is done with it. */
	if (ch != NULL) {
		mg_child_set_keepalive(ch, false);
	}
	mg_timer_set_keepalive(t, false);
}

bool mg__hop_stop_left(struct mg_loop *loop, pid_t pid, pid_t sid2, bool reaped)
{
	if (mg__hop_signal_left(pid, sid2, SIGTERM) == 0) {
		return false;
	}
	mg__hop_signal_left(pid, sid2, SIGCONT);
	if (loop != NULL) {
		mg__hop_orphan(loop, pid, sid2, mg_now() + MG_CONN_LEFT_MS, reaped);
	}
	return true;
}

pid_t mg__hop_agent_session(pid_t hop, pid_t agent, bool *_here)
{
	long p = agent, sid;

	for (int i = 0; i < 16 && p > 1 && p != hop; i++) {
		p = mg__proc_stat_field(p, 4);
	}
	*_here = p == hop;
	if (p != hop || agent == hop) {
		return 0;
	}
	sid = mg__proc_stat_field(agent, 6);
	return sid > 1 && sid != hop ? (pid_t)sid : 0;
}
