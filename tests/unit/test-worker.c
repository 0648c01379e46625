/*
 * Unit tests for a command joining as a context (EXEC with MG_EXEC_JOIN:
 * lib/svc/svc-exec-join.c, lib/session/worker.c). A master (0) and an
 * agent (1) run in this process, joined as in router-net.h; the agent's
 * EXEC service starts this very program again, which plays the worker:
 * an honest one, one answering HELLO as another context, and one
 * announcing a context below it. Only the honest one is routed.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "router-net.h"
#include "conn.h"
#include "images.h"
#include "mitogen/codec.h"
#include "mitogen/error.h"
#include "mitogen/message.h"
#include "mitogen/service.h"
#include "mitogen/worker.h"
#include "svc-exec.h"

#define JOIN_ID 7u

static char self[4096];

/* --- the worker's side (this program, started by the agent) --- */

/* Read exactly n bytes from a blocking fd. */
static bool read_all(int fd, void *p, size_t n)
{
	while (n > 0) {
		ssize_t k = read(fd, p, n);
		if (k <= 0) {
			return false;
		}
		p = (uint8_t *)p + k;
		n -= (size_t)k;
	}
	return true;
}

/* The frame m, with its payload p (m->len bytes), on a blocking fd. */
static bool write_frame(int fd, const struct mg_msg *m, const void *p)
{
	uint8_t hdr[MG_HDR_LEN];

	mg__msg_header(m, hdr);
	return write(fd, hdr, sizeof(hdr)) == (ssize_t)sizeof(hdr) &&
	       (m->len == 0 || write(fd, p, m->len) == (ssize_t)m->len);
}

/* A HELLO answer to 'agent' as 'src', on 'auth's authority. */
static bool write_answer(int fd, uint32_t agent, uint32_t src, uint32_t auth)
{
	struct mg_buf *b = mg__buf_new(NULL, 256);
	struct mg_msg m = { .dst = agent, .src = src, .auth_id = auth, .handle = MG_H_HELLO };
	bool ok = b != NULL && mg__hello_reply_encode(b, 0) == 0 &&
		  (m.len = b->len, write_frame(fd, &m, b->data));

	talloc_free(b);
	return ok;
}

/* Its output elsewhere, a grandchild holds the link: it answers HELLO
 * after the command has exited, and stays a while. */
static void answer_late(int fd, uint32_t agent)
{
	int null;

	if (fork() != 0) {
		return;
	}
	null = open("/dev/null", O_RDWR);
	dup2(null, 1);
	dup2(null, 2);
	usleep(300000);
	write_answer(fd, agent, JOIN_ID, JOIN_ID);
	sleep(2);
	_exit(0);
}

/* Joined, it tries to command its agent and the master, and to delete
 * their routes, as itself and under forged ids: each EXEC would write
 * the file $MG_MARK. */
static void command_up(int fd, uint32_t agent)
{
	/* (src, auth_id): itself, itself on the master's authority, its
	 * agent, the master. */
	const uint32_t as[][2] = { { JOIN_ID, JOIN_ID }, { JOIN_ID, 0 }, { agent, agent }, { 0, 0 } };
	const uint32_t dsts[] = { 0, agent }, ids[] = { 0, agent, JOIN_ID };
	char line[4200];
	char *argv[] = { "/bin/sh", "-c", line, NULL };
	struct mg__exec_req rq = { .flags = MG_EXEC_NO_STDIN, .argv = argv, .h_out = 1000,
				   .h_err = 1000 };
	struct mg_buf *b = mg__buf_new(NULL, 65536);
	uint8_t del[4];

	snprintf(line, sizeof(line), "echo >%s", getenv("MG_MARK"));
	if (b == NULL || mg__exec_req_encode(b, &rq) != 0) {
		return;
	}
	for (size_t d = 0; d < 2; d++) {
		for (size_t i = 0; i < 4; i++) {
			struct mg_msg m = { .dst = dsts[d], .src = as[i][0], .auth_id = as[i][1],
					    .handle = MG_H_EXEC, .reply_to = 1000, .len = b->len };
			write_frame(fd, &m, b->data);
		}
		for (size_t i = 0; i < 3; i++) {
			struct mg_msg m = { .dst = dsts[d], .src = JOIN_ID, .auth_id = JOIN_ID,
					    .handle = MG_H_DEL_ROUTE, .len = sizeof(del) };
			mg__put_be32(del, ids[i]);
			write_frame(fd, &m, del);
		}
	}
	talloc_free(b);
}

/*
 * A worker speaking raw frames, misbehaving as 'mode' says, then waiting
 * to be hung up on:
 *   rogue-src   answers HELLO as JOIN_ID + 1
 *   rogue-auth  answers as JOIN_ID on its agent's authority
 *   early       sends ADD_ROUTE before a good answer
 *   huge        sends a header announcing 2 GiB
 *   half        sends half a header and exits
 *   twice       answers well twice
 *   late        exits at once; a grandchild answers well, 0.3 s later
 *   command     answers well, then tries to command (command_up)
 */
static int worker_raw(const char *mode)
{
	int fd = atoi(getenv("MITOGEN_FD"));
	uint8_t hdr[MG_HDR_LEN], buf[4096];
	struct mg_msg m = { 0 };
	uint32_t agent;

	fcntl(fd, F_SETFL, 0);
	if (!read_all(fd, hdr, sizeof(hdr)) || mg__msg_parse_header(hdr, sizeof(buf), &m) != 0 ||
	    !read_all(fd, buf, m.len)) {
		return 2;
	}
	agent = m.src;
	m = (struct mg_msg){ .dst = agent, .src = JOIN_ID, .auth_id = JOIN_ID };
	if (strcmp(mode, "rogue-src") == 0) {
		write_answer(fd, agent, JOIN_ID + 1, JOIN_ID + 1);
	} else if (strcmp(mode, "rogue-auth") == 0) {
		write_answer(fd, agent, JOIN_ID, agent);
	} else if (strcmp(mode, "early") == 0) {
		m.handle = MG_H_ADD_ROUTE;
		m.len = 12;
		mg__put_be32(buf, JOIN_ID + 1);
		mg__put_be32(buf + 4, 4);
		memcpy(buf + 8, "evil", 4);
		write_frame(fd, &m, buf);
		write_answer(fd, agent, JOIN_ID, JOIN_ID);
	} else if (strcmp(mode, "huge") == 0 || strcmp(mode, "half") == 0) {
		bool half = strcmp(mode, "half") == 0;

		m.handle = MG_H_HELLO;
		m.len = 0x7fffffff;
		mg__msg_header(&m, hdr);
		if (write(fd, hdr, half ? sizeof(hdr) / 2 : sizeof(hdr)) < 0 || half) {
			return 0;
		}
	} else if (strcmp(mode, "twice") == 0) {
		write_answer(fd, agent, JOIN_ID, JOIN_ID);
		write_answer(fd, agent, JOIN_ID, JOIN_ID);
	} else if (strcmp(mode, "late") == 0) {
		answer_late(fd, agent);
		return 0;
	} else if (strcmp(mode, "command") == 0) {
		write_answer(fd, agent, JOIN_ID, JOIN_ID);
		command_up(fd, agent);
	}
	while (read(fd, buf, sizeof(buf)) > 0) {
	}
	return 0;
}

/* "bye": leave without answering. */
static int on_bye(struct mg_message *req, const void *p, size_t len, void *data)
{
	mg_loop_stop(data, 0);
	return 0;
}

/* Join honestly; with 'announce', claim a context below too. */
static int worker_join(bool announce)
{
	TALLOC_CTX *top = talloc_new(NULL);
	struct mg_loop *loop = mg_loop_new(top);
	struct mg_router *r;
	struct mg_buf *b = mg__buf_new(top, 64);

	if (loop == NULL || mg_worker_join(top, loop, &r) != 0 || getenv("MITOGEN_FD") != NULL) {
		return 2;
	}
	if (announce) {
		mg__buf_put_u32(b, 99);
		mg__buf_put_str(b, "rogue");
		mg__router_send(r, mg__router_parents(r, &(size_t){ 0 })[0], MG_H_ADD_ROUTE, 0, 0,
				b->data, b->len);
	} else if (mg_service_register(r, "bye", 0, on_bye, loop) != 0) {
		return 3;
	}
	/* Until the agent hangs up (or the test ends us). */
	mg_loop_run(loop);
	talloc_free(top);
	return 0;
}

/* --- the master's side --- */

struct events {
	bool started, joined, exited, failed;
	bool joined_late;	/* JOINED after EXITED */
	uint32_t join_id;
};

static void on_event(struct mg_router *r, struct mg_msg *m, void *data)
{
	struct events *ev = data;
	struct mg__exec_event e;

	if ((m->flags & MG_F_DEAD) != 0 || mg__exec_event_decode(m, m->data, m->len, &e) != 0) {
		return;
	}
	if (e.type == MG_EXEC_EV_STARTED) {
		ev->started = true;
	} else if (e.type == MG_EXEC_EV_JOINED) {
		ev->joined_late = ev->exited;
		ev->joined = true;
		ev->join_id = e.join_id;
	} else if (e.type == MG_EXEC_EV_EXITED) {
		ev->exited = true;
	} else if (e.type == MG_EXEC_EV_FAILED) {
		ev->failed = true;
	}
}

static void swallow(struct mg_router *r, struct mg_msg *m, void *data)
{
}

/* Master 0 and agent 1 with its EXEC service. */
static struct net *net_agent(void)
{
	static const uint32_t p1[] = { 0 };
	struct net *n = net_alone();

	if (n == NULL || (n->r[1] = mg__router_new(n, n->loop, 1, p1, 1)) == NULL ||
	    !net_link(n, 0, 1, "c1") || mg__svc_exec_init(n->r[1], mg__images_new(n, n->r[1])) == NULL) {
		talloc_free(n);
		return NULL;
	}
	return n;
}

/* The request's env for start(), or NULL, and the id it joins as. */
static char **start_env;
static uint32_t start_join_id = JOIN_ID;

/* The master asks agent 1 to run this program as 'mode', joining as id. */
static bool start(struct net *n, const char *mode, struct events *ev)
{
	char *argv[] = { self, (char *)mode, NULL };
	struct mg_handler *evh = mg__router_add_handler(n, n->r[0], 0, MG_POL_RESPONDENT, 1, true,
							 on_event, ev);
	struct mg_handler *out = mg__router_add_handler(n, n->r[0], 0, MG_POL_RESPONDENT, 1, true,
							 swallow, NULL);
	struct mg__exec_req rq = {
		.flags = MG_EXEC_JOIN | MG_EXEC_NO_STDIN, .argv = argv, .join_id = start_join_id,
		.env = start_env,
	};
	struct mg_buf *b = mg__buf_new(n, 65536);

	if (evh == NULL || out == NULL || b == NULL) {
		return false;
	}
	rq.h_out = rq.h_err = mg__handler_handle(out);
	return mg__exec_req_encode(b, &rq) == 0 &&
	       mg__router_send(n->r[0], 1, MG_H_EXEC, mg__handler_handle(evh), MG_F_OPEN, b->data, b->len) == 0;
}

/* Whether r has a route of its own to id (not merely a way up). */
static bool routed(const struct mg_router *r, uint32_t id)
{
	return mg__router_name(r, id) != NULL;
}

static bool is_exited(void *arg)
{
	return ((struct events *)arg)->exited;
}

static bool is_joined(void *arg)
{
	return ((struct events *)arg)->joined;
}

static bool is_started(void *arg)
{
	return ((struct events *)arg)->started;
}

/* An honest worker is routed at the agent and the master, and answers. */
static void test_join_body(void)
{
	struct net *n = net_agent();
	struct events ev = { 0 };
	struct mg_message *reply = NULL;
	size_t len;

	ASSERT_PTR_NOT_NULL(n);
	ASSERT_TRUE(start(n, "good", &ev));
	ASSERT_TRUE(run_until(n->loop, is_joined, &ev, 5000));
	ASSERT_INT_EQ(ev.join_id, JOIN_ID);
	ASSERT_TRUE(routed(n->r[0], JOIN_ID));
	ASSERT_TRUE(routed(n->r[1], JOIN_ID));
	/* Every context has "echo" once it has a service table. */
	ASSERT_INT_EQ(mg_router_call(n, n->r[0], JOIN_ID, "echo", "hi", 2, 5000, &reply), 0);
	ASSERT_TRUE(reply != NULL && memcmp(mg_message_data(reply, &len), "hi", 2) == 0);
	talloc_free(reply);
	/* It leaves without answering: the caller hears so, and the route
	 * goes with its link. */
	ASSERT_INT_EQ(mg_router_call(n, n->r[0], JOIN_ID, "bye", NULL, 0, 5000, &reply),
		      MG_ERR_CALL);
	ASSERT_STR_EQ(reply != NULL ? mg_message_dead_reason(reply) : "",
		      "the respondent context has disconnected");
	ASSERT_TRUE(!routed(n->r[0], JOIN_ID));
	ASSERT_TRUE(run_until(n->loop, is_exited, &ev, 5000));
	talloc_free(n);
}
ISOLATED(test_join)

/* HELLO answered from another id than join_id: the link is dropped, and
 * neither id is ever routed. */
static void test_rogue_src_body(void)
{
	struct net *n = net_agent();
	struct events ev = { 0 };

	ASSERT_PTR_NOT_NULL(n);
	ASSERT_TRUE(start(n, "rogue-src", &ev));
	ASSERT_TRUE(run_until(n->loop, is_exited, &ev, 5000));
	ASSERT_TRUE(!ev.joined && !ev.failed);
	for (uint32_t id = JOIN_ID; id <= JOIN_ID + 1; id++) {
		ASSERT_TRUE(!routed(n->r[0], id));
		ASSERT_TRUE(!routed(n->r[1], id));
	}
	talloc_free(n);
}
ISOLATED(test_rogue_src)

/* A worker announcing a context below it is dropped: its own route goes
 * and the other id never comes. */
static void test_rogue_announce_body(void)
{
	struct net *n = net_agent();
	struct events ev = { 0 };

	ASSERT_PTR_NOT_NULL(n);
	ASSERT_TRUE(start(n, "rogue-announce", &ev));
	ASSERT_TRUE(run_until(n->loop, is_exited, &ev, 5000));
	ASSERT_TRUE(ev.joined);
	ASSERT_TRUE(!routed(n->r[0], JOIN_ID));
	ASSERT_TRUE(!routed(n->r[1], JOIN_ID));
	ASSERT_TRUE(!routed(n->r[0], 99));
	ASSERT_TRUE(!routed(n->r[1], 99));
	talloc_free(n);
}
ISOLATED(test_rogue_announce)

/* Only frames from above leave a note of who may announce an id: a
 * child's EXEC with MG_EXEC_JOIN, or CONNECT, forwarded to its sibling
 * (unidirectional routing off) lets that sibling announce nothing. */
static void test_sibling_cannot_grant_body(void)
{
	struct net *n = net_new();
	uint8_t exec[8], conn[4], add[12];

	ASSERT_PTR_NOT_NULL(n);
	mg__put_be32(exec, MG_EXEC_JOIN);
	mg__put_be32(exec + 4, 50);
	mg__put_be32(conn, 51);
	ASSERT_INT_EQ(mg__router_send(n->r[1], 3, MG_H_EXEC, 0, MG_F_OPEN, exec, sizeof(exec)), 0);
	ASSERT_INT_EQ(mg__router_send(n->r[1], 3, MG_H_CONNECT, 0, MG_F_OPEN, conn, sizeof(conn)), 0);
	run_until(n->loop, NULL, NULL, 100);
	for (uint32_t id = 50; id <= 51; id++) {
		mg__put_be32(add, id);
		mg__put_be32(add + 4, 4);
		memcpy(add + 8, "evil", 4);
		mg__router_send(n->r[3], 0, MG_H_ADD_ROUTE, 0, 0, add, sizeof(add));
	}
	run_until(n->loop, NULL, NULL, 200);
	ASSERT_TRUE(!routed(n->r[0], 50));
	ASSERT_TRUE(!routed(n->r[0], 51));
	talloc_free(n);
}
ISOLATED(test_sibling_cannot_grant)

/* A command named by a path as long as exec takes (4095 bytes): its
 * route's name, "worker PATH", is longer than what a parent takes in
 * ADD_ROUTE. The agent cuts it: the worker joins, and the master keeps
 * the agent (it dropped it, and everything below, for a malformed
 * ADD_ROUTE). */
static void test_long_argv0_body(void)
{
	struct net *n = net_agent();
	struct events ev = { 0 };
	size_t k = 4095 - strlen(self);

	ASSERT_PTR_NOT_NULL(n);
	memmove(self + k, self, strlen(self) + 1);
	memset(self, '/', k);
	ASSERT_TRUE(start(n, "good", &ev));
	ASSERT_TRUE(run_until(n->loop, is_joined, &ev, 5000));
	ASSERT_TRUE(routed(n->r[0], JOIN_ID));
	ASSERT_TRUE(routed(n->r[0], 1));
	talloc_free(n);
}
ISOLATED(test_long_argv0)

/* The request's own env naming MITOGEN_FD (a caller passing on an
 * environment that has it) does not hide the agent's: getenv finds the
 * first, and the agent's came after the request's. */
static void test_env_names_fd_body(void)
{
	static char *env[] = { "MITOGEN_FD=0", "OTHER=1", NULL };
	struct net *n = net_agent();
	struct events ev = { 0 };

	ASSERT_PTR_NOT_NULL(n);
	start_env = env;
	ASSERT_TRUE(start(n, "good", &ev));
	ASSERT_TRUE(run_until(n->loop, is_joined, &ev, 5000));
	ASSERT_TRUE(routed(n->r[0], JOIN_ID));
	talloc_free(n);
}
ISOLATED(test_env_names_fd)

/* A command that ends before it answers HELLO is never joined, even when
 * a process it left behind, holding the link but not its output, answers
 * as the job ends: JOINED came after EXITED, and the master, done with
 * the job, routed a context nobody was told of. The agent's loop is held
 * here while the command exits and the answer comes, so that it sees
 * both at once, as a busy agent does. */
static void test_late_answer_body(void)
{
	struct net *n = net_agent();
	struct events ev = { 0 };

	ASSERT_PTR_NOT_NULL(n);
	ASSERT_TRUE(start(n, "late", &ev));
	ASSERT_TRUE(run_until(n->loop, is_started, &ev, 5000));
	usleep(700000);
	ASSERT_TRUE(run_until(n->loop, is_exited, &ev, 5000));
	run_until(n->loop, NULL, NULL, 300);
	ASSERT_TRUE(!ev.joined && !ev.joined_late);
	ASSERT_TRUE(!routed(n->r[0], JOIN_ID));
	ASSERT_TRUE(!routed(n->r[1], JOIN_ID));
	talloc_free(n);
}
ISOLATED(test_late_answer)

/* HELLO answered wrongly (section 5.8): on another's authority, after
 * another frame, with a frame too large, half a frame and gone. The
 * link is dropped, the job ends, nothing is routed, and the agent stays.
 * Answered twice, the worker joins once and the second answer is just a
 * frame for a handle nobody holds. */
static void test_bad_answers_body(void)
{
	static const char *const modes[] = { "rogue-auth", "early", "huge", "half" };

	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		struct net *n = net_agent();
		struct events ev = { 0 };

		ASSERT_PTR_NOT_NULL(n);
		ASSERT_TRUE(start(n, modes[i], &ev));
		ASSERT_TRUE(run_until(n->loop, is_exited, &ev, 5000));
		ASSERT_TRUE(!ev.joined && !ev.failed);
		ASSERT_TRUE(!routed(n->r[0], JOIN_ID) && !routed(n->r[1], JOIN_ID));
		ASSERT_TRUE(!routed(n->r[0], JOIN_ID + 1) && !routed(n->r[1], JOIN_ID + 1));
		ASSERT_TRUE(routed(n->r[0], 1));
		talloc_free(n);
	}
	{
		struct net *n = net_agent();
		struct events ev = { 0 };

		ASSERT_PTR_NOT_NULL(n);
		ASSERT_TRUE(start(n, "twice", &ev));
		ASSERT_TRUE(run_until(n->loop, is_joined, &ev, 5000));
		run_until(n->loop, NULL, NULL, 200);
		ASSERT_TRUE(routed(n->r[0], JOIN_ID) && routed(n->r[1], JOIN_ID));
		ASSERT_TRUE(routed(n->r[0], 1));
		talloc_free(n);
	}
}
ISOLATED(test_bad_answers)

/* A joined worker can command neither its agent nor the master, as
 * itself or under another id: no EXEC runs (the master runs the EXEC
 * service too, here), no route goes, and the worker stays routed (a
 * frame it may not send is dropped or refused, not fatal). */
static void test_cannot_command_body(void)
{
	struct net *n = net_agent();
	struct events ev = { 0 };
	char mark[64], var[80];
	char *env[] = { var, NULL };

	ASSERT_PTR_NOT_NULL(n);
	ASSERT_PTR_NOT_NULL(mg__svc_exec_init(n->r[0], mg__images_new(n, n->r[0])));
	snprintf(mark, sizeof(mark), "/tmp/test-worker-mark.%d", (int)getpid());
	snprintf(var, sizeof(var), "MG_MARK=%s", mark);
	unlink(mark);
	start_env = env;
	ASSERT_TRUE(start(n, "command", &ev));
	ASSERT_TRUE(run_until(n->loop, is_joined, &ev, 5000));
	run_until(n->loop, NULL, NULL, 500);
	ASSERT_INT_EQ(access(mark, F_OK), -1);
	ASSERT_TRUE(routed(n->r[0], 1));
	ASSERT_TRUE(routed(n->r[0], JOIN_ID));
	ASSERT_TRUE(routed(n->r[1], JOIN_ID));
	unlink(mark);
	talloc_free(n);
}
ISOLATED(test_cannot_command)

/* A join_id that is the agent's own, an ancestor's or one it routes is
 * refused before anything runs. As the agent's own id, the worker's
 * HELLO answer went to itself (its router delivers a frame for its own
 * id locally): the command ran on, never joined, and nothing said why. */
static bool is_failed_or_started(void *arg)
{
	return ((struct events *)arg)->failed || ((struct events *)arg)->started;
}

static void test_join_id_in_use_body(void)
{
	static const uint32_t p5[] = { 1, 0 };

	for (uint32_t id = 1; id <= 5; id += 4) {
		struct net *n = net_agent();
		struct events ev = { 0 };

		ASSERT_PTR_NOT_NULL(n);
		if (id == 5) {
			/* A context agent 1 routes already. */
			n->r[5] = mg__router_new(n, n->loop, 5, p5, 2);
			ASSERT_TRUE(n->r[5] != NULL && net_ask_connect(n, 0, 1, 5) &&
				    net_link(n, 1, 5, "c5") && net_wait_reach(n, 0, 5, true));
		}
		start_join_id = id;
		ASSERT_TRUE(start(n, "good", &ev));
		ASSERT_TRUE(run_until(n->loop, is_failed_or_started, &ev, 5000));
		ASSERT_TRUE(ev.failed && !ev.started);
		ASSERT_TRUE(routed(n->r[0], 1) && routed(n->r[0], id));
		talloc_free(n);
	}
}
ISOLATED(test_join_id_in_use)

/* Without MITOGEN_FD there is nothing to join. */
static void test_not_joining(void)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	struct mg_loop *loop = mg_loop_new(tmp);
	struct mg_router *r = NULL;

	unsetenv("MITOGEN_FD");
	ASSERT_TRUE(!mg_worker_is_joining());
	ASSERT_INT_EQ(mg_worker_join(tmp, loop, &r), -ENOENT);
	setenv("MITOGEN_FD", "1", 1);
	ASSERT_INT_EQ(mg_worker_join(tmp, loop, &r), -ENOENT);
	ASSERT_PTR_NULL(r);
	ASSERT_TRUE(getenv("MITOGEN_FD") == NULL);
	talloc_free(tmp);
}

int main(int argc, char **argv)
{
	if (argc > 1 && getenv("MITOGEN_FD") != NULL) {
		if (strcmp(argv[1], "good") == 0 || strcmp(argv[1], "rogue-announce") == 0) {
			return worker_join(strcmp(argv[1], "rogue-announce") == 0);
		}
		return worker_raw(argv[1]);
	}
	if (readlink("/proc/self/exe", self, sizeof(self) - 1) < 0) {
		return 1;
	}
	TESTS_BEGIN();
	RUN(test_join);
	RUN(test_rogue_src);
	RUN(test_rogue_announce);
	RUN(test_sibling_cannot_grant);
	RUN(test_long_argv0);
	RUN(test_env_names_fd);
	RUN(test_bad_answers);
	RUN(test_late_answer);
	RUN(test_cannot_command);
	RUN(test_join_id_in_use);
	RUN(test_not_joining);
	return TESTS_END();
}
