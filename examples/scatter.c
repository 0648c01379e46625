/*
 * Scatter and gather: connect ten local contexts, run "echo N" in each,
 * and gather one answer per context with a select, in the order they
 * arrive (mitogen's Select over ten calls).
 *
 * Each context's answer is turned into a message to a receiver of this
 * program, so that one mg_select_get() loop collects them all.
 *
 *   cc scatter.c $(pkg-config --cflags --libs mitogen) -o scatter
 *   ./scatter            (finds mitogen-agent, or set MITOGEN_AGENT)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <mitogen/mitogen.h>

#define N 10

struct slot {
	TALLOC_CTX *mem_ctx;     /* owns what the slot starts */
	struct mg_router *r;
	struct mg_receiver *rx;  /* where this context's answer arrives */
	char *out;               /* its output so far */
	char arg[16];
};

static void answer(struct slot *sl, const char *text)
{
	/* A message to ourselves, on the receiver the select waits on. */
	mg_router_send(sl->r, mg_router_id(sl->r), mg_receiver_handle(sl->rx), 0,
		       text, strlen(text));
}

static void on_output(void *data, int stream, const uint8_t *p, size_t n)
{
	struct slot *sl = data;

	sl->out = talloc_strndup_append_buffer(sl->out, (const char *)p, n);
}

static void on_exit_status(struct mg_exec *e, const struct mg_exec_result *res, void *data)
{
	struct slot *sl = data;

	if (res->err != 0) {
		answer(sl, res->errmsg);
		return;
	}
	answer(sl, sl->out);
}

static void on_connected(struct mg_context *ctx, int err, const char *errmsg, void *data)
{
	struct slot *sl = data;
	const char *argv[] = { sl->arg, NULL };
	struct mg_exec_opts o = {
		.argv = argv, .shell = true, .posix_sh = true,
		.stdin_fd = -1, .stdout_fd = -1, .stderr_fd = -1,
		.sink = on_output, .sink_data = sl,
	};

	if (err != 0) {
		answer(sl, errmsg);
		return;
	}
	if (mg_exec_start(sl->mem_ctx, ctx, &o, on_exit_status, sl) == NULL) {
		answer(sl, "out of memory");
	}
}

int main(void)
{
	TALLOC_CTX *top = talloc_new(NULL);
	struct mg_loop *loop = mg_loop_new(top);
	struct mg_session *s = loop != NULL ? mg_session_new(top, loop) : NULL;
	struct mg_select *sel = mg_select_new(top, 0);
	struct mg_chain_list *chains;
	struct slot slots[N];
	char *text = talloc_strdup(top, ""), *err = NULL;
	int got = 0, ret;

	if (s == NULL || sel == NULL || text == NULL) {
		fprintf(stderr, "scatter: out of memory\n");
		return 1;
	}
	/* Ten distinct contexts: chains with different options are distinct. */
	for (int i = 0; i < N; i++) {
		text = talloc_asprintf_append(text, "%slocal?remote_name=scatter-%d", i > 0 ? "," : "", i);
	}
	if (mg_chain_parse(top, text, &chains, &err) != 0) {
		fprintf(stderr, "scatter: %s\n", err);
		return 1;
	}
	for (int i = 0; i < N; i++) {
		struct slot *sl = &slots[i];

		memset(sl, 0, sizeof(*sl));
		sl->mem_ctx = top;
		sl->r = mg_session_router(s);
		sl->out = talloc_strdup(top, "");
		snprintf(sl->arg, sizeof(sl->arg), "echo %d", i);
		if (mg_receiver_new(top, sl->r, 0, MG_ANY, MG_RECV_ONESHOT, &sl->rx) != 0 ||
		    mg_select_add(sel, sl->rx) != 0 ||
		    mg_connect(top, s, &chains->chains[i], NULL, on_connected, sl, &err) != 0) {
			fprintf(stderr, "scatter: %s\n", err != NULL ? err : "cannot start");
			return 1;
		}
	}
	/* Gather: each receiver leaves the select after its one message. */
	for (;;) {
		struct mg_receiver *rx;
		struct mg_message *msg;
		size_t len;

		ret = mg_select_get(top, sel, 30000, &rx, &msg);
		if (ret == MG_ERR_SELECT_EMPTY) {
			break;
		}
		if (ret != 0) {
			fprintf(stderr, "scatter: %s\n", mg_strerror(ret));
			return 1;
		}
		for (int i = 0; i < N; i++) {
			if (slots[i].rx == rx) {
				printf("%s: %s", chains->chains[i].text,
				       (const char *)mg_message_data(msg, &len));
			}
		}
		talloc_free(msg);
		got++;
	}
	printf("gathered %d answers\n", got);
	talloc_free(top);
	return got == N ? 0 : 1;
}
