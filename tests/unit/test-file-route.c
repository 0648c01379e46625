/*
 * Unit tests for copies routed through the tree (lib/svc/file-fan.c,
 * file-relay.c) on an in-process tree of routers:
 *
 *          0 (master)
 *         / \
 *        1   3
 *        |
 *        2
 *       / \
 *      4   5
 *
 * "file.copy" at a context copies from itself or a context below it to
 * itself or contexts below it, relaying where the targets part; the
 * caller gets each target's reports and the progress. A child or a
 * sibling calling it is refused, and so is a source or a target that is
 * not below the callee.
 */
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "router-net.h"
#include "mitogen/error.h"
#include "mitogen/message.h"
#include "mitogen/service.h"
#include "svc-file.h"

#define SIZE (3u * 1048576u + 12345u)

struct rec {
	bool over;
	int end[4];
	uint64_t files[4], bytes[4];
	uint32_t failures[4];
	char *failed[4];
	uint64_t progress;
};

static void on_report(void *data, size_t idx, const uint8_t *p, size_t n)
{
	struct rec *rc = data;
	struct mg_buf b;
	uint8_t kind = 0;

	mg__buf_view(&b, p, n);
	mg__buf_get_u8(&b, &kind);
	if (kind == MG__FILE_REPORT_END) {
		rc->end[idx]++;
		mg__buf_get_u64(&b, &rc->files[idx]);
		mg__buf_get_u64(&b, &rc->bytes[idx]);
		mg__buf_get_u32(&b, &rc->failures[idx]);
	} else if (kind == MG__FILE_REPORT_FAILED) {
		mg__buf_get_str(&b, rc, &rc->failed[idx]);
	}
}

static void on_failed(void *data, size_t idx, int err, const char *why)
{
	struct rec *rc = data;

	rc->failed[idx] = talloc_strdup(rc, why);
}

static void on_bytes(void *data, uint64_t bytes, bool last)
{
	((struct rec *)data)->progress = bytes;
}

static void on_end(void *data)
{
	((struct rec *)data)->over = true;
}

static bool is_over(void *arg)
{
	return ((struct rec *)arg)->over;
}

/* The tree above, each agent with the file services. */
static struct net *tree(void)
{
	static const uint32_t p45[] = { 2, 1, 0 };
	struct net *n = net_new();

	if (n == NULL) {
		return NULL;
	}
	n->r[4] = mg__router_new(n, n->loop, 4, p45, 3);
	n->r[5] = mg__router_new(n, n->loop, 5, p45, 3);
	if (n->r[4] == NULL || n->r[5] == NULL || !net_ask_connect(n, 0, 2, 4) ||
	    !net_link(n, 2, 4, "c4") || !net_ask_connect(n, 0, 2, 5) || !net_link(n, 2, 5, "c5") ||
	    !net_wait_reach(n, 0, 4, true) || !net_wait_reach(n, 0, 5, true)) {
		talloc_free(n);
		return NULL;
	}
	for (int i = 1; i <= 5; i++) {
		if (mg__svc_file_init(n->r[i]) != 0 || mg__svc_file_relay_init(n->r[i]) != 0) {
			talloc_free(n);
			return NULL;
		}
	}
	return n;
}

static int rm_one(const char *p, const struct stat *st, int type, struct FTW *f)
{
	return remove(p);
}

/* DIR/src (SIZE bytes) and an empty DIR/d. */
static char *workdir(TALLOC_CTX *mem_ctx)
{
	char *dir = talloc_strdup(mem_ctx, "/tmp/mg-test-file-route.XXXXXX");
	char *buf = talloc_size(mem_ctx, SIZE);
	int fd;

	if (dir == NULL || buf == NULL || mkdtemp(dir) == NULL) {
		return NULL;
	}
	for (size_t i = 0; i < SIZE; i++) {
		buf[i] = (char)(i * 7 + i / 4093);
	}
	fd = open(talloc_asprintf(mem_ctx, "%s/src", dir), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, buf, SIZE) != (ssize_t)SIZE ||
	    mkdir(talloc_asprintf(mem_ctx, "%s/d", dir), 0755) != 0) {
		return NULL;
	}
	close(fd);
	talloc_free(buf);
	return dir;
}

/* Ask 'at' (from the master) to copy DIR/src at 'from' into DIR/d at ids. */
static struct rec *copy_flags(struct net *n, const char *dir, uint32_t at, uint32_t from,
			      const uint32_t *ids, size_t k, uint32_t flags)
{
	struct rec *rc = talloc_zero(n, struct rec);
	struct mg__file_push_req rq = { .dest = talloc_asprintf(rc, "%s/d/", dir), .n_top = 1,
					.flags = MG__FILE_INTO | flags };
	struct mg__fan_cb cb = { .report = on_report, .failed = on_failed, .bytes = on_bytes,
				 .end = on_end, .data = rc };
	const char *srcs[] = { talloc_asprintf(rc, "%s/src", dir), NULL };
	struct mg__fan *f = mg__fan_new(rc, n->r[0], &rq, ids, k, true, &cb);

	if (f == NULL || mg__fan_copy_at(f, at, from, srcs) != 0 ||
	    !run_until(n->loop, is_over, rc, 20000)) {
		return NULL;
	}
	return rc;
}

static struct rec *copy(struct net *n, const char *dir, uint32_t at, uint32_t from,
			const uint32_t *ids, size_t k)
{
	return copy_flags(n, dir, at, from, ids, k, 0);
}

static void check_copied(struct rec *rc, size_t k)
{
	ASSERT_PTR_NOT_NULL(rc);
	for (size_t i = 0; i < k; i++) {
		ASSERT_INT_EQ(rc->end[i], 1);
		ASSERT_INT_EQ(rc->files[i], 1);
		ASSERT_INT_EQ(rc->bytes[i], SIZE);
		ASSERT_INT_EQ(rc->failures[i], 0);
		ASSERT_PTR_NULL(rc->failed[i]);
	}
	/* The stream's bytes: the file's and its records'. */
	ASSERT_INT_GE(rc->progress, SIZE);
	ASSERT_INT_GE(SIZE + 1024, rc->progress);
}

static void test_copy_below(void)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	struct net *n = tree();
	char *dir = workdir(tmp);
	static const uint32_t to2[] = { 2 }, to25[] = { 2, 5 }, to45[] = { 4, 5 }, to1[] = { 1 };
	struct stat a, b;

	ASSERT_PTR_NOT_NULL(n);
	ASSERT_PTR_NOT_NULL(dir);
	/* The source is the callee. */
	check_copied(copy(n, dir, 1, 1, to2, 1), 1);
	ASSERT_INT_EQ(stat(talloc_asprintf(tmp, "%s/src", dir), &a), 0);
	ASSERT_INT_EQ(stat(talloc_asprintf(tmp, "%s/d/src", dir), &b), 0);
	ASSERT_INT_EQ(b.st_size, a.st_size);
	/* A target is the callee, the source below it. */
	check_copied(copy(n, dir, 2, 4, to25, 2), 2);
	/* Targets two hops down: relayed by 2, where they part. */
	check_copied(copy(n, dir, 1, 4, to45, 2), 2);
	/* The callee is the source and the one target. */
	check_copied(copy(n, dir, 1, 1, to1, 1), 1);
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	talloc_free(n);
	talloc_free(tmp);
}

static bool has_progress(void *arg)
{
	return ((struct rec *)arg)->progress > 0;
}

static bool never(void *arg)
{
	return false;
}

/* Freeing the caller's side stops a copy at the hop: the target drops
 * the file it was writing, the old one stays. */
static void test_copy_stopped(void)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	struct net *n = tree();
	char *dir = workdir(tmp), *big = talloc_asprintf(tmp, "%s/big", dir);
	static const uint32_t to5[] = { 5 };
	struct mg__file_push_req rq = { .dest = talloc_asprintf(tmp, "%s/d/", dir), .n_top = 1,
					.flags = MG__FILE_INTO };
	const char *srcs[] = { big, NULL };
	struct rec *rc = talloc_zero(tmp, struct rec);
	struct mg__fan_cb cb = { .report = on_report, .failed = on_failed, .bytes = on_bytes,
				 .end = on_end, .data = rc };
	struct mg__fan *f;
	char *names = talloc_strdup(tmp, "");
	struct dirent *e;
	DIR *d;
	int fd;

	ASSERT_PTR_NOT_NULL(n);
	ASSERT_PTR_NOT_NULL(dir);
	fd = open(big, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	ASSERT_INT_EQ(ftruncate(fd, 64 << 20), 0);
	close(fd);
	fd = open(talloc_asprintf(tmp, "%s/d/big", dir), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	ASSERT_INT_EQ(write(fd, "old\n", 4), 4);
	close(fd);
	f = mg__fan_new(rc, n->r[0], &rq, to5, 1, true, &cb);
	ASSERT_PTR_NOT_NULL(f);
	ASSERT_INT_EQ(mg__fan_copy_at(f, 2, 4, srcs), 0);
	ASSERT_TRUE(run_until(n->loop, has_progress, rc, 20000));
	talloc_free(f);
	/* Long enough for 64 MiB in one process many times over. */
	run_until(n->loop, never, NULL, 1500);
	ASSERT_INT_EQ(rc->end[0], 0);
	d = opendir(talloc_asprintf(tmp, "%s/d", dir));
	ASSERT_PTR_NOT_NULL(d);
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] != '.' || (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)) {
			names = talloc_asprintf_append(names, "%s ", e->d_name);
		}
	}
	closedir(d);
	ASSERT_STR_EQ(names, "big ");
	fd = open(talloc_asprintf(tmp, "%s/d/big", dir), O_RDONLY | O_CLOEXEC);
	ASSERT_INT_EQ(read(fd, names, 16), 4);
	close(fd);
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	talloc_free(n);
	talloc_free(tmp);
}

/* How long the loop is kept from other work, in CPU time of this thread
 * (a loaded machine stalls the process, not the loop): each turn starts
 * with a call that notes it, and sends a ping from 0 to 3 stamped with
 * it when none is on its way. */
struct pinger {
	struct net *n;
	uint32_t h;
	bool stop, in_flight;
	uint64_t last, max_turn, max_ping;
	unsigned turns, pings;
};

static uint64_t cpu_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void on_ping(struct mg_router *r, struct mg_msg *m, void *data)
{
	struct pinger *pg = data;
	uint64_t sent, late;

	if (m->len == 8) {
		memcpy(&sent, m->data, 8);
		late = cpu_us() - sent;
		pg->max_ping = late > pg->max_ping ? late : pg->max_ping;
		pg->pings++;
		pg->in_flight = false;
	}
}

static void turn(void *data)
{
	struct pinger *pg = data;
	uint64_t now = cpu_us();

	if (pg->last != 0 && now - pg->last > pg->max_turn) {
		pg->max_turn = now - pg->last;
	}
	pg->last = now;
	pg->turns++;
	if (!pg->in_flight) {
		pg->in_flight = mg__router_send(pg->n->r[0], 3, pg->h, 0, 0, &now, 8) == 0;
	}
	if (!pg->stop) {
		mg_loop_defer(pg->n->loop, pg, turn, pg);
	}
}

/* A text of words (about 0.4 of it after deflate, slow to code). */
static void write_text(const char *path, size_t size)
{
	static const char *const w[] = { "mitogen", "router", "stream", "frame", "0x7f3a",
					 "handler", "ERROR", "hop", "ssh", "web17", "deflate",
					 "inflate", "talloc", "credit", "window", "=", "42" };
	char *buf = malloc(size);
	uint32_t x = 12345;
	size_t i = 0;
	int fd;

	while (buf != NULL && i < size) {
		const char *s;

		x = x * 1103515245u + 12345u;
		s = w[(x >> 16) % (sizeof(w) / sizeof(w[0]))];
		for (; *s != '\0' && i < size; s++) {
			buf[i++] = *s;
		}
		if (i < size) {
			buf[i++] = (x >> 8) % 9 == 0 ? '\n' : (x >> 8) % 5 == 0 ? '0' + x % 10 : ' ';
		}
	}
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	ASSERT_PTR_NOT_NULL(buf);
	ASSERT_INT_EQ(write(fd, buf, size), (ssize_t)size);
	close(fd);
	free(buf);
}

/* A -z copy codes its frames a slice per loop turn: messages of other
 * channels on the same loop are not held up behind it. */
static void test_z_loop_free(void)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	struct net *n = tree();
	char *dir = workdir(tmp), *src = talloc_asprintf(tmp, "%s/src", dir);
	static const uint32_t to2[] = { 2 };
	struct pinger *pg = talloc_zero(tmp, struct pinger);
	struct mg_handler *h;
	struct stat st;

	ASSERT_PTR_NOT_NULL(n);
	ASSERT_PTR_NOT_NULL(dir);
	write_text(src, 12u << 20);
	pg->n = n;
	h = mg__router_add_handler(tmp, n->r[3], 0, MG_POL_PARENT, 0, true, on_ping, pg);
	ASSERT_PTR_NOT_NULL(h);
	pg->h = mg__handler_handle(h);
	ASSERT_INT_EQ(mg_loop_defer(n->loop, pg, turn, pg), 0);
	ASSERT_PTR_NOT_NULL(copy_flags(n, dir, 1, 1, to2, 1, MG__FILE_COMPRESS));
	pg->stop = true;
	run_until(n->loop, NULL, NULL, 5);  /* the last turn's call, not made again */
	TALLOC_FREE(h);
	ASSERT_INT_EQ(stat(talloc_asprintf(tmp, "%s/d/src", dir), &st), 0);
	ASSERT_INT_EQ(st.st_size, 12u << 20);
	printf("# %u turns, %u pings: the longest turn %u us, ping %u us (CPU time)\n", pg->turns,
	       pg->pings, (unsigned)pg->max_turn, (unsigned)pg->max_ping);
	ASSERT_INT_GE(pg->pings, 10);
	/* Whole frames coded in one turn took 100 ms and more (a window's
	 * worth); now a slice of one, and one frame decoded. */
	ASSERT_INT_GE(30000, pg->max_turn);
	ASSERT_INT_GE(30000, pg->max_ping);
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	talloc_free(n);
	talloc_free(tmp);
}

struct answer {
	bool got;
	char *why;   /* NULL: answered, else the dead reason */
};

static void on_answer(struct mg_message *reply, int err, void *data)
{
	struct answer *a = data;

	a->got = true;
	if (err != 0) {
		a->why = talloc_strdup(a, reply != NULL ? mg_message_dead_reason(reply)
						  : mg_strerror(err));
	}
}

static bool answered(void *arg)
{
	return ((struct answer *)arg)->got;
}

/* 'caller' calls 'service' on 'callee': a copy of DIR/src at 'from' (for
 * file.copy) to the targets 'ids'. The dead reason, or NULL. */
static char *ask(struct net *n, const char *dir, uint32_t caller, uint32_t callee,
		 const char *service, uint32_t from, const uint32_t *ids, size_t k)
{
	struct answer *a = talloc_zero(n, struct answer);
	struct mg_buf *b = mg__buf_new(a, 65536);
	const char *srcs[] = { talloc_asprintf(a, "%s/src", dir), NULL };
	struct mg__file_push_req rq = { .dest = talloc_asprintf(a, "%s/d/", dir), .n_top = 1,
					.flags = MG__FILE_INTO, .h_report = 1 };
	struct mg_call *call = NULL;

	if (strcmp(service, "file.copy") == 0) {
		mg__buf_put_u32(b, from);
		mg__buf_put_strv(b, srcs);
	}
	mg__file_push_req_encode(b, &rq);
	mg__buf_put_u32(b, (uint32_t)k);
	for (size_t i = 0; i < k; i++) {
		mg__buf_put_u32(b, ids[i]);
	}
	if (mg_router_call_async(a, n->r[caller], callee, service, b->data, b->len, -1,
				 on_answer, a, &call) != 0 || !run_until(n->loop, answered, a, 5000)) {
		return "no answer";
	}
	return a->why;
}

static void test_refused(void)
{
	static const struct {
		uint32_t caller, callee;
		const char *service;
		uint32_t from, target;
		const char *why;
	} c[] = {
		/* A child makes its parent copy or relay. */
		{ 2, 1, "file.copy", 1, 1, "refused by policy" },
		{ 4, 2, "file.relay", 0, 5, "refused by policy" },
		/* A sibling, through the master. */
		{ 3, 1, "file.copy", 1, 1, "refused by policy" },
		/* Even the master cannot make a hop reach above or beside it. */
		{ 0, 2, "file.copy", 3, 5, "the source is not below this context" },
		{ 0, 2, "file.copy", 1, 5, "the source is not below this context" },
		{ 0, 2, "file.copy", 4, 1, "a target is not below this context" },
		{ 0, 4, "file.relay", 0, 2, "a target is not below this context" },
		{ 0, 1, "file.relay", 0, 3, "a target is not below this context" },
	};
	TALLOC_CTX *tmp = talloc_new(NULL);
	struct net *n = tree();
	char *dir = workdir(tmp);

	ASSERT_PTR_NOT_NULL(n);
	ASSERT_PTR_NOT_NULL(dir);
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		char *why = ask(n, dir, c[i].caller, c[i].callee, c[i].service, c[i].from,
				&c[i].target, 1);

		ASSERT_STR_CONTAINS(why != NULL ? why : "(answered)", c[i].why);
	}
	/* Nothing was written. */
	ASSERT_INT_EQ(access(talloc_asprintf(tmp, "%s/d/src", dir), F_OK), -1);
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	talloc_free(n);
	talloc_free(tmp);
}

/* A receiver at the master of a file.pull from 1: it credits in steps
 * of 1 MiB, so that some credit is still held when the end comes. */
struct puller {
	struct mg_router *r;
	uint32_t h_ack;
	uint64_t got, unacked;
	bool ended, answered, probe_dead;
};

static void pull_credit(struct puller *pl)
{
	uint8_t c[4];

	mg__put_be32(c, (uint32_t)pl->unacked);
	mg__router_send(pl->r, 1, pl->h_ack, 0, 0, c, 4);
	pl->unacked = 0;
}

static void on_pull_data(struct mg_router *r, struct mg_msg *m, void *data)
{
	struct puller *pl = data;

	if (m->len == 0 || (m->flags & MG_F_DEAD) != 0) {
		pl->ended = true;
		return;
	}
	pl->got += m->len;
	pl->unacked += m->len;
	if (pl->unacked >= 1048576u && pl->h_ack != 0) {
		pull_credit(pl);
	}
}

static void on_pull_answer(struct mg_message *reply, int err, void *data)
{
	struct puller *pl = data;
	size_t n = 0;
	const uint8_t *p = reply != NULL ? mg_message_data(reply, &n) : NULL;

	pl->answered = true;
	if (err == 0 && n >= 4) {
		pl->h_ack = mg__get_be32(p);
	}
}

static void on_probe(struct mg_router *r, struct mg_msg *m, void *data)
{
	if ((m->flags & MG_F_DEAD) != 0) {
		((struct puller *)data)->probe_dead = true;
	}
}

static bool pull_ended(void *arg)
{
	return ((struct puller *)arg)->ended;
}

/* Does 1 still take messages on the pull's credit handle? A credit of 0
 * with a reply_to: a handle that is gone answers it dead. */
static bool ack_alive(struct net *n, struct puller *pl, struct mg_handler *probe)
{
	uint8_t zero[4] = { 0 };

	pl->probe_dead = false;
	mg__router_send(n->r[0], 1, pl->h_ack, mg__handler_handle(probe), 0, zero, 4);
	run_until(n->loop, never, NULL, 100);
	return !pl->probe_dead;
}

/* file.pull keeps its credit handle after its end until the last
 * credit is back (which used to come "for an unknown handle"), or a
 * dead message comes there; then the pull is gone. */
static void test_pull_waits_for_credit(void)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	struct net *n = tree();
	char *dir = workdir(tmp);

	ASSERT_PTR_NOT_NULL(n);
	ASSERT_PTR_NOT_NULL(dir);
	for (int dead = 0; dead < 2; dead++) {
		struct puller *pl = talloc_zero(tmp, struct puller);
		struct mg_handler *h = mg__router_add_handler(pl, n->r[0], 0, MG_POL_RESPONDENT, 1,
							      true, on_pull_data, pl);
		struct mg_handler *probe = mg__router_add_handler(pl, n->r[0], 0,
								  MG_POL_RESPONDENT, 1, true,
								  on_probe, pl);
		struct mg_buf *b = mg__buf_new(pl, 4096);
		const char *srcs[] = { talloc_asprintf(pl, "%s/src", dir), NULL };
		struct mg_call *call = NULL;

		pl->r = n->r[0];
		ASSERT_PTR_NOT_NULL(h);
		ASSERT_PTR_NOT_NULL(probe);
		ASSERT_INT_EQ(mg__file_pull_req_encode(b, srcs, 0, mg__handler_handle(h), false), 0);
		ASSERT_INT_EQ(mg_router_call_async(pl, n->r[0], 1, "file.pull", b->data, b->len, -1,
						   on_pull_answer, pl, &call), 0);
		ASSERT_TRUE(run_until(n->loop, pull_ended, pl, 10000));
		ASSERT_INT_NE(pl->h_ack, 0);
		ASSERT_INT_GE(pl->got, SIZE);
		ASSERT_INT_NE(pl->unacked, 0);
		ASSERT_TRUE(ack_alive(n, pl, probe));
		if (dead) {
			mg__router_send(n->r[0], 1, pl->h_ack, 0, MG_F_DEAD, "gone", 4);
		} else {
			pull_credit(pl);
		}
		run_until(n->loop, never, NULL, 100);
		ASSERT_TRUE(!ack_alive(n, pl, probe));
		talloc_free(pl);
	}
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	talloc_free(n);
	talloc_free(tmp);
}

int main(void)
{
	TESTS_BEGIN();
	RUN(test_copy_below);
	RUN(test_copy_stopped);
	RUN(test_z_loop_free);
	RUN(test_refused);
	RUN(test_pull_waits_for_credit);
	return TESTS_END();
}
