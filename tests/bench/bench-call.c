/*
 * Benchmark of a call to a no-op service (issue 7): "echo" at the end of a
 * chain, sequential (one at a time) and pipelined (IN_FLIGHT at once).
 *
 *   bench-call CHAIN [N_SEQ] [N_PIPE] [IN_FLIGHT]
 *
 * Prints one line per mode: microseconds per call and calls per second.
 * tests/bench/bench-call.sh runs it beside Python mitogen's call and
 * call_async on the same contexts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <talloc.h>

#include "mitogen/mitogen.h"

struct bench {
	struct mg_loop *loop;
	struct mg_context *ctx;
	int err;
	unsigned sent, done, total, in_flight, failed;
	TALLOC_CTX *calls;
};

static void on_connect(struct mg_context *ctx, int err, const char *errmsg, void *data)
{
	struct bench *b = data;

	b->ctx = ctx;
	b->err = err;
	if (err != 0) {
		fprintf(stderr, "bench-call: %s\n", errmsg);
	}
	mg_loop_stop(b->loop, 0);
}

static void on_reply(struct mg_message *reply, int err, void *data);

static int send_one(struct bench *b)
{
	b->sent++;
	return mg_router_call_async(b->calls, mg_context_router(b->ctx), mg_context_id(b->ctx),
				    "echo", "x", 1, 10000, on_reply, b, NULL);
}

static void on_reply(struct mg_message *reply, int err, void *data)
{
	struct bench *b = data;

	b->done++;
	if (err != 0) {
		b->failed++;
	}
	if (b->sent < b->total && send_one(b) != 0) {
		b->failed++;
	}
	if (b->done == b->total) {
		mg_loop_stop(b->loop, 0);
	}
}

static void report(const char *what, unsigned n, uint64_t t0)
{
	double us = (double)(mg_now() - t0) * 1000.0 / n;

	printf("%-28s %8u calls %10.1f us/call %12.0f calls/s\n", what, n, us, 1e6 / us);
}

int main(int argc, char **argv)
{
	TALLOC_CTX *top = talloc_new(NULL);
	struct bench b = { 0 };
	unsigned n_seq = argc > 2 ? (unsigned)atoi(argv[2]) : 10000;
	unsigned n_pipe = argc > 3 ? (unsigned)atoi(argv[3]) : 100000;
	unsigned window = argc > 4 ? (unsigned)atoi(argv[4]) : 1000;
	struct mg_session *s;
	struct mg_chain_list *chains;
	char *errmsg = NULL;
	uint64_t t0;

	if (argc < 2 || n_seq == 0 || n_pipe == 0 || window == 0) {
		fprintf(stderr, "usage: bench-call CHAIN [N_SEQ] [N_PIPE] [IN_FLIGHT]\n");
		return 2;
	}
	b.loop = mg_loop_new(top);
	s = b.loop != NULL ? mg_session_new(top, b.loop) : NULL;
	b.calls = talloc_new(top);
	if (s == NULL || mg_chain_parse(top, argv[1], &chains, &errmsg) != 0 ||
	    mg_connect(top, s, &chains->chains[0], NULL, on_connect, &b, &errmsg) != 0) {
		fprintf(stderr, "bench-call: %s\n", errmsg != NULL ? errmsg : "out of memory");
		return 1;
	}
	mg_loop_run(b.loop);
	if (b.ctx == NULL || b.err != 0) {
		return 1;
	}
	t0 = mg_now();
	for (unsigned i = 0; i < n_seq; i++) {
		struct mg_message *reply;
		TALLOC_CTX *tmp = talloc_new(top);
		int err = mg_context_call(tmp, b.ctx, "echo", "x", 1, 10000, &reply);
		if (err != 0) {
			fprintf(stderr, "bench-call: a sequential call failed: %s\n",
				reply != NULL ? mg_message_dead_reason(reply) : mg_strerror(err));
			return 1;
		}
		talloc_free(tmp);
	}
	report("sequential", n_seq, t0);

	b.total = n_pipe;
	t0 = mg_now();
	for (unsigned i = 0; i < window && i < n_pipe; i++) {
		if (send_one(&b) != 0) {
			fprintf(stderr, "bench-call: cannot send\n");
			return 1;
		}
	}
	mg_loop_run(b.loop);
	report("pipelined", n_pipe, t0);
	if (b.failed > 0 || b.done != n_pipe) {
		fprintf(stderr, "bench-call: %u of %u pipelined calls failed\n", b.failed, n_pipe);
		return 1;
	}
	talloc_free(top);
	return 0;
}
