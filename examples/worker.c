/*
 * Code at the far end, in C: this program pushes its own binary to the end
 * of a chain, where it joins the agent's router as a child context and
 * serves calls; the master calls it, then lets it go.
 *
 *   worker [CHAIN [exec-only]]      default: local
 *
 * With "exec-only" the chain is connected with mg_connect_opts.exec_only:
 * a one-hop chain's end then runs the exec-only agent, which runs pushed
 * programs (and so workers) as the whole one does.
 *
 * Run by an agent (MITOGEN_FD set), the same binary is the worker: it
 * joins and serves until its parent goes. Its services:
 *   sum    u32 n, n x i32  ->  u64 the sum (two's complement)
 *   count  u32 n, u32 handle  ->  n messages "i" to the caller's handle,
 *          each a u32, then the reply u32 n (a stream)
 *   inbox  -> u32 the handle of its inbox, where the caller may stream
 *          u32 items (a stream to the worker)
 *   total  -> u32 count, u64 sum of the items the inbox got so far
 *   probe  -> str what the agent said when the worker called its "echo"
 *          (a worker cannot command its parent: refused by policy)
 *   exit   no answer: the worker exits, the caller learns it is gone
 */
#include <stdio.h>
#include <string.h>
#include <talloc.h>
#include <unistd.h>

#include "mitogen/mitogen.h"

/* --- the worker ------------------------------------------------------ */

/* What the inbox has taken. */
struct inbox {
	struct mg_receiver *rx;
	uint32_t count;
	uint64_t sum;
};

static uint32_t get_be32(const uint8_t *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static void on_item(struct mg_receiver *rx, struct mg_message *msg, void *data)
{
	struct inbox *in = data;
	size_t n;
	const uint8_t *p = mg_message_data(msg, &n);

	if (!mg_message_is_dead(msg) && n == 4) {
		in->count++;
		in->sum += get_be32(p);
	}
}

static int reply_u32_u64(struct mg_message *req, uint32_t a, uint64_t b)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	struct mg_enc *e = mg_enc_new(tmp);
	const void *out;
	size_t n;
	int ret;

	mg_enc_u32(e, a);
	mg_enc_u64(e, b);
	out = mg_enc_data(e, &n);
	ret = out != NULL ? mg_message_reply(req, out, n) : mg_enc_error(e);
	talloc_free(tmp);
	return ret;
}

static int on_inbox(struct mg_message *req, const void *p, size_t len, void *data)
{
	struct inbox *in = data;

	return reply_u32_u64(req, mg_receiver_handle(in->rx), 0);
}

static int on_total(struct mg_message *req, const void *p, size_t len, void *data)
{
	struct inbox *in = data;

	return reply_u32_u64(req, in->count, in->sum);
}

static int on_sum(struct mg_message *req, const void *p, size_t len, void *data)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	struct mg_enc *e = mg_enc_new(tmp);
	struct mg_dec d;
	int64_t sum = 0;
	uint32_t n;
	const void *out;
	size_t out_len;

	mg_dec_init(&d, p, len);
	mg_dec_u32(&d, &n);
	for (uint32_t i = 0; i < n && mg_dec_left(&d) > 0; i++) {
		int32_t v;
		mg_dec_i32(&d, &v);
		sum += v;
	}
	if (mg_dec_done(&d) != 0) {
		talloc_free(tmp);
		return mg_message_reply_dead(req, "sum: malformed request");
	}
	mg_enc_u64(e, (uint64_t)sum);
	out = mg_enc_data(e, &out_len);
	mg_message_reply(req, out, out_len);
	talloc_free(tmp);
	return 0;
}

static int on_count(struct mg_message *req, const void *p, size_t len, void *data)
{
	struct mg_router *r = data;
	struct mg_dec d;
	uint32_t n, handle;
	uint8_t item[4];

	mg_dec_init(&d, p, len);
	mg_dec_u32(&d, &n);
	mg_dec_u32(&d, &handle);
	if (mg_dec_done(&d) != 0 || n > 100000) {
		return mg_message_reply_dead(req, "count: malformed request");
	}
	for (uint32_t i = 0; i < n; i++) {
		item[0] = (uint8_t)(i >> 24);
		item[1] = (uint8_t)(i >> 16);
		item[2] = (uint8_t)(i >> 8);
		item[3] = (uint8_t)i;
		mg_router_send(r, mg_message_src(req), handle, 0, item, sizeof(item));
	}
	/* Messages between two contexts arrive in order: the reply last. */
	return mg_message_reply(req, item, sizeof(item));
}

static void on_echo_answer(struct mg_message *reply, int err, void *data)
{
	struct mg_message *req = data;
	TALLOC_CTX *tmp = talloc_new(NULL);
	struct mg_enc *e = mg_enc_new(tmp);
	const void *out;
	size_t n;

	mg_enc_str(e, err == 0 ? "obeyed" : reply != NULL ? mg_message_dead_reason(reply)
						  : mg_strerror(err));
	out = mg_enc_data(e, &n);
	mg_message_reply(req, out, n);
	talloc_free(req);
	talloc_free(tmp);
}

/* Call the agent's "echo": as a child, the worker may not. */
static int on_probe(struct mg_message *req, const void *p, size_t len, void *data)
{
	struct mg_router *r = data;
	/* Kept until the agent's answer comes. */
	struct mg_message *kept = talloc_steal(r, req);
	int ret = mg_router_call_async(r, r, mg_router_parent_id(r), "echo", "x", 1, 5000,
				       on_echo_answer, kept, NULL);

	if (ret != 0) {
		talloc_free(kept);
	}
	return ret;
}

static int on_exit_call(struct mg_message *req, const void *p, size_t len, void *data)
{
	/* No answer: the caller hears the worker is gone. */
	mg_loop_stop(mg_router_loop(data), 0);
	return 0;
}

static int serve(void)
{
	TALLOC_CTX *top = talloc_new(NULL);
	struct mg_loop *loop = mg_loop_new(top);
	struct mg_router *r;
	struct inbox in = { 0 };
	int ret;

	if (loop == NULL || (ret = mg_worker_join(top, loop, &r)) != 0) {
		fprintf(stderr, "worker: cannot join: %s\n", mg_strerror(loop == NULL ? -12 : ret));
		return 1;
	}
	/* MG_ANY: only our parent and those above may send to it. */
	if (mg_receiver_new(top, r, 0, MG_ANY, 0, &in.rx) != 0 ||
	    mg_receiver_on_message(in.rx, on_item, &in) != 0 ||
	    mg_service_register(r, "inbox", 0, on_inbox, &in) != 0 ||
	    mg_service_register(r, "total", 0, on_total, &in) != 0 ||
	    mg_service_register(r, "sum", 0, on_sum, r) != 0 ||
	    mg_service_register(r, "count", 0, on_count, r) != 0 ||
	    mg_service_register(r, "probe", 0, on_probe, r) != 0 ||
	    mg_service_register(r, "exit", 0, on_exit_call, r) != 0) {
		fprintf(stderr, "worker: cannot register services\n");
		return 1;
	}
	mg_loop_run(loop);
	talloc_free(top);
	return 0;
}

/* --- the master ------------------------------------------------------ */

struct state {
	struct mg_loop *loop;
	struct mg_context *ctx;
	int err;
	char *errmsg;
	uint32_t worker;
	bool ended;
	struct mg_exec_result res;
};

static void on_connect(struct mg_context *ctx, int err, const char *errmsg, void *data)
{
	struct state *st = data;

	st->ctx = ctx;
	st->err = err;
	if (err != 0) {
		st->errmsg = talloc_strdup(st->loop, errmsg);
	}
	mg_loop_stop(st->loop, 0);
}

static void on_join(struct mg_exec *e, uint32_t id, void *data)
{
	struct state *st = data;

	st->worker = id;
}

static void on_ended(struct mg_exec *e, const struct mg_exec_result *res, void *data)
{
	struct state *st = data;

	st->ended = true;
	st->res = *res;
	if (res->errmsg != NULL) {
		st->errmsg = talloc_strdup(st->loop, res->errmsg);
	}
}

/* Run the loop until the flag is set (or 10 s pass). The callbacks only
 * set flags: stopping the loop would cancel a call waiting in it. */
static bool wait_for(struct state *st, const bool *flag)
{
	for (int i = 0; i < 100 && !*flag; i++) {
		mg_loop_run_once(st->loop, 100);
	}
	return *flag;
}

static int call_sum(TALLOC_CTX *top, struct mg_router *r, uint32_t id)
{
	static const int32_t values[] = { 40, -8, 10, 0, 1 };
	struct mg_enc *e = mg_enc_new(top);
	struct mg_message *reply;
	const void *p;
	struct mg_dec d;
	uint64_t sum;
	size_t n;
	int err;

	mg_enc_u32(e, 5);
	for (size_t i = 0; i < 5; i++) {
		mg_enc_i32(e, values[i]);
	}
	p = mg_enc_data(e, &n);
	err = mg_router_call(top, r, id, "sum", p, n, 5000, &reply);
	if (err != 0) {
		fprintf(stderr, "worker: sum: %s\n", reply != NULL ? mg_message_dead_reason(reply)
								   : mg_strerror(err));
		return -1;
	}
	p = mg_message_data(reply, &n);
	mg_dec_init(&d, p, n);
	mg_dec_u64(&d, &sum);
	if (mg_dec_done(&d) != 0) {
		fprintf(stderr, "worker: sum: malformed answer\n");
		return -1;
	}
	printf("sum 40 -8 10 0 1 = %lld (context %u)\n", (long long)(int64_t)sum, id);
	return (int64_t)sum == 43 ? 0 : -1;
}

/* A stream from the worker: n messages to our receiver, then the reply. */
static int call_count(TALLOC_CTX *top, struct mg_router *r, uint32_t id)
{
	struct mg_receiver *rx;
	struct mg_message *reply, *item;
	struct mg_enc *e = mg_enc_new(top);
	const void *p;
	size_t n;
	uint32_t got = 0;

	if (mg_receiver_new(top, r, 0, id, 0, &rx) != 0) {
		return -1;
	}
	mg_enc_u32(e, 1000);
	mg_enc_u32(e, mg_receiver_handle(rx));
	p = mg_enc_data(e, &n);
	if (mg_router_call(top, r, id, "count", p, n, 5000, &reply) != 0) {
		fprintf(stderr, "worker: count failed\n");
		return -1;
	}
	/* The items came before the reply: they are queued already. */
	while (mg_receiver_get(top, rx, 0, &item) == 0) {
		const uint8_t *b = mg_message_data(item, &n);
		uint32_t v = n == 4 ? get_be32(b) : UINT32_MAX;
		if (v != got) {
			fprintf(stderr, "worker: count: item %u out of order\n", got);
			return -1;
		}
		got++;
		talloc_free(item);
	}
	printf("count: %u messages in order\n", got);
	return got == 1000 ? 0 : -1;
}

/* A stream to the worker: 1000 items to its inbox, then ask what it got. */
static int stream_to(TALLOC_CTX *top, struct mg_router *r, uint32_t id)
{
	struct mg_message *reply;
	struct mg_dec d;
	const void *p;
	uint32_t handle, count;
	uint64_t sum;
	uint8_t item[4];
	size_t n;

	if (mg_router_call(top, r, id, "inbox", NULL, 0, 5000, &reply) != 0) {
		return -1;
	}
	p = mg_message_data(reply, &n);
	mg_dec_init(&d, p, n);
	mg_dec_u32(&d, &handle);
	mg_dec_u64(&d, &sum);
	if (mg_dec_done(&d) != 0) {
		return -1;
	}
	for (uint32_t i = 0; i < 1000; i++) {
		item[0] = (uint8_t)(i >> 24);
		item[1] = (uint8_t)(i >> 16);
		item[2] = (uint8_t)(i >> 8);
		item[3] = (uint8_t)i;
		if (mg_router_send(r, id, handle, 0, item, sizeof(item)) != 0) {
			return -1;
		}
	}
	/* Sent after the items, on the same way: answered after them. */
	if (mg_router_call(top, r, id, "total", NULL, 0, 5000, &reply) != 0) {
		return -1;
	}
	p = mg_message_data(reply, &n);
	mg_dec_init(&d, p, n);
	mg_dec_u32(&d, &count);
	mg_dec_u64(&d, &sum);
	if (mg_dec_done(&d) != 0) {
		return -1;
	}
	printf("inbox: %u messages, total %llu\n", count, (unsigned long long)sum);
	return count == 1000 && sum == 499500 ? 0 : -1;
}

static int call_probe(TALLOC_CTX *top, struct mg_router *r, uint32_t id)
{
	struct mg_message *reply;
	struct mg_dec d;
	const void *p;
	char *what;
	size_t n;

	if (mg_router_call(top, r, id, "probe", NULL, 0, 5000, &reply) != 0) {
		fprintf(stderr, "worker: probe failed\n");
		return -1;
	}
	p = mg_message_data(reply, &n);
	mg_dec_init(&d, p, n);
	mg_dec_str(&d, top, &what);
	if (mg_dec_done(&d) != 0 || what == NULL) {
		return -1;
	}
	printf("the worker calling its agent: %s\n", mg_log_escape(top, what, strlen(what)));
	return strcmp(what, "refused by policy") == 0 ? 0 : -1;
}

static int master(const char *target, bool exec_only)
{
	const struct mg_connect_opts co = { .exec_only = exec_only };
	TALLOC_CTX *top = talloc_new(NULL);
	struct mg_loop *loop = mg_loop_new(top);
	struct mg_session *s = loop != NULL ? mg_session_new(top, loop) : NULL;
	struct state st = { .loop = loop };
	const char *argv[] = { "worker", NULL };
	struct mg_exec_opts opts = {
		.argv = argv, .stdin_fd = -1, .stdout_fd = 1, .stderr_fd = 2,
		.join = true, .on_join = on_join, .join_data = &st,
	};
	struct mg_chain_list *chains;
	struct mg_message *reply;
	struct mg_router *r;
	char *errmsg = NULL;
	int ret = 1, err;

	if (s == NULL) {
		fprintf(stderr, "worker: out of memory\n");
		goto out;
	}
	r = mg_session_router(s);
	if (mg_chain_parse(top, target, &chains, &errmsg) != 0 || chains->n_chains != 1) {
		fprintf(stderr, "worker: %s: %s\n", target, errmsg != NULL ? errmsg : "one chain");
		goto out;
	}
	if (mg_connect(top, s, &chains->chains[0], &co, on_connect, &st, &errmsg) != 0) {
		fprintf(stderr, "worker: %s\n", errmsg);
		goto out;
	}
	mg_loop_run(loop);
	if (st.ctx == NULL || st.err != 0) {
		fprintf(stderr, "worker: %s\n", st.errmsg != NULL ? st.errmsg : "not connected");
		goto out;
	}
	/* Ourselves, pushed: the far end needs nothing installed. */
	opts.program = mg_program_load(top, s, "/proc/self/exe", &errmsg);
	if (opts.program == NULL || mg_exec_start(top, st.ctx, &opts, on_ended, &st) == NULL) {
		fprintf(stderr, "worker: %s\n", errmsg != NULL ? errmsg : "cannot start");
		goto out;
	}
	while (st.worker == 0 && !st.ended && mg_loop_run_once(loop, 10000) == 0) {
	}
	if (st.worker == 0) {
		fprintf(stderr, "worker: it never joined: %s\n", st.errmsg != NULL ? st.errmsg : "");
		goto out;
	}
	printf("%s: worker joined as context %u\n", mg_context_name(st.ctx), st.worker);
	if (call_sum(top, r, st.worker) != 0 || call_count(top, r, st.worker) != 0 ||
	    stream_to(top, r, st.worker) != 0 || call_probe(top, r, st.worker) != 0) {
		goto out;
	}
	/* The worker leaves without answering: the call learns it is gone. */
	err = mg_router_call(top, r, st.worker, "exit", NULL, 0, 5000, &reply);
	printf("exit: %s: %s\n", mg_strerror(err),
	       reply != NULL ? mg_message_dead_reason(reply) : "-");
	if (err != MG_ERR_CALL ||
	    strcmp(mg_message_dead_reason(reply), "the respondent context has disconnected") != 0 ||
	    !wait_for(&st, &st.ended)) {
		goto out;
	}
	printf("the worker ended with status %d\n", st.res.wait_status >> 8);
	ret = st.res.err == 0 && st.res.wait_status == 0 ? 0 : 1;
out:
	talloc_free(top);
	return ret;
}

int main(int argc, char **argv)
{
	if (mg_worker_is_joining()) {
		return serve();
	}
	return master(argc > 1 ? argv[1] : "local", argc > 2 && strcmp(argv[2], "exec-only") == 0);
}
