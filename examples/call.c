/*
 * Connect a chain and call a service at its end: the shortest program
 * written against libmitogen, top to bottom as in mitogen's examples.
 *
 *   call [CHAIN [TEXT]]      default: local hello
 *
 * It registers nothing itself: it calls "echo", which every agent serves,
 * and prints the answer; then it calls a service nobody has, to show the
 * dead message a failed call brings back.
 */
#include <stdio.h>
#include <string.h>
#include <talloc.h>

#include "mitogen/mitogen.h"

struct connected {
	struct mg_loop *loop;
	struct mg_context *ctx;
	int err;
	char *errmsg;
};

static void on_connect(struct mg_context *ctx, int err, const char *errmsg, void *data)
{
	struct connected *c = data;

	c->ctx = ctx;
	c->err = err;
	if (err != 0) {
		c->errmsg = talloc_strdup(c->loop, errmsg);
	}
	mg_loop_stop(c->loop, 0);
}

int main(int argc, char **argv)
{
	const char *target = argc > 1 ? argv[1] : "local";
	const char *text = argc > 2 ? argv[2] : "hello";
	TALLOC_CTX *top = talloc_new(NULL);
	struct mg_loop *loop = mg_loop_new(top);
	struct mg_session *s = loop != NULL ? mg_session_new(top, loop) : NULL;
	struct connected c = { .loop = loop };
	struct mg_chain_list *chains;
	struct mg_message *reply;
	char *errmsg = NULL;
	int ret = 1, err;

	if (s == NULL) {
		fprintf(stderr, "call: out of memory\n");
		goto out;
	}
	if (mg_chain_parse(top, target, &chains, &errmsg) != 0 || chains->n_chains != 1) {
		fprintf(stderr, "call: %s: %s\n", target, errmsg != NULL ? errmsg : "one chain, please");
		goto out;
	}
	if (mg_connect(top, s, &chains->chains[0], NULL, on_connect, &c, &errmsg) != 0) {
		fprintf(stderr, "call: %s\n", errmsg);
		goto out;
	}
	mg_loop_run(loop);
	if (c.ctx == NULL || c.err != 0) {
		fprintf(stderr, "call: %s\n", c.errmsg != NULL ? c.errmsg : "not connected");
		goto out;
	}

	/* Blocks, running the loop, until the answer comes (5 s at most). */
	err = mg_context_call(top, c.ctx, "echo", text, strlen(text), 5000, &reply);
	if (err != 0) {
		fprintf(stderr, "call: echo: %s\n", reply != NULL ? mg_message_dead_reason(reply)
								  : mg_strerror(err));
		goto out;
	}
	{
		size_t n;
		const char *data = mg_message_data(reply, &n);

		/* Text from a far end: escaped before it reaches a terminal. */
		printf("%s (context %u): %s\n", mg_context_name(c.ctx), mg_context_id(c.ctx),
		       mg_log_escape(top, data, n));
	}

	/* A call that fails comes back as a dead message with the reason. */
	err = mg_context_call(top, c.ctx, "no-such", NULL, 0, 5000, &reply);
	printf("no-such: %s: %s\n", mg_strerror(err),
	       reply != NULL ? mg_message_dead_reason(reply) : "-");
	ret = err == MG_ERR_CALL ? 0 : 1;
out:
	talloc_free(top);
	return ret;
}
