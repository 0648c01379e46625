/*
 * Unit tests for lib/svc/images.c and svc-fetch.c: the program store of
 * three contexts in one process, the master (0), an agent (1) and the
 * agent's child (2), joined by socketpairs. The child either fetches through its own store, as an
 * agent does, or sends raw FETCH requests, as a hostile child may.
 *
 * Every test runs in its own process (a crash fails that test only) and
 * checks for talloc leaks there; descriptors are counted in
 * /proc/self/fd, which all three contexts share.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"
#include "buf.h"
#include "images.h"
#include "mitogen/log.h"
#include "mitogen/loop.h"
#include "protocol.h"
#include "router.h"
#include "stream.h"

#include "loop-helpers.h"

#define PROG_SIZE 100000u

struct net {
	struct mg_loop *loop;
	struct mg_router *r[3];
	struct mg_images *im[3];
};

static int link_up(struct net *n, int parent, int child)
{
	struct mg_stream *down, *up;
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0) {
		return -errno;
	}
	down = mg__stream_new(n, n->loop, sv[0], sv[0], "down", MG_MSG_MAX_DEFAULT);
	up = mg__stream_new(n, n->loop, sv[1], sv[1], "up", MG_MSG_MAX_DEFAULT);
	if (down == NULL || up == NULL ||
	    mg__router_add_stream(n->r[child], up, (uint32_t)parent, "parent", true) != 0 ||
	    mg__router_add_stream(n->r[parent], down, (uint32_t)child, "child", false) != 0) {
		return -ENOMEM;
	}
	return 0;
}

/* The master asks the agent to connect 2, as a CONNECT does: only then
 * may the agent announce it. Nobody handles the request here. */
static bool ask_connect(struct net *n)
{
	uint8_t p[4];

	mg__put_be32(p, 2);
	return mg__router_send(n->r[0], 1, MG_H_CONNECT, 0, MG_F_OPEN, p, sizeof(p)) == 0;
}

static struct net *net_new(void)
{
	static const uint32_t p1[] = { 0 };
	static const uint32_t p2[] = { 1, 0 };
	struct net *n = talloc_zero(NULL, struct net);

	if (n == NULL || (n->loop = mg_loop_new(n)) == NULL) {
		talloc_free(n);
		return NULL;
	}
	n->r[0] = mg__router_new(n, n->loop, 0, NULL, 0);
	n->r[1] = mg__router_new(n, n->loop, 1, p1, 1);
	n->r[2] = mg__router_new(n, n->loop, 2, p2, 2);
	for (int i = 0; i < 3; i++) {
		if (n->r[i] == NULL || (n->im[i] = mg__images_new(n, n->r[i])) == NULL) {
			talloc_free(n);
			return NULL;
		}
	}
	if (link_up(n, 0, 1) != 0 || !ask_connect(n) || link_up(n, 1, 2) != 0) {
		talloc_free(n);
		return NULL;
	}
	return n;
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (d == NULL) {
		return -1;
	}
	while ((e = readdir(d)) != NULL) {
		n += e->d_name[0] != '.';
	}
	closedir(d);
	return n - 1; /* the directory's own */
}

static uint8_t pat(size_t i)
{
	return (uint8_t)(i * 13 + (i >> 9));
}

/* Register program 'id' on the master; *_img as for mg__images_put. */
static bool master_load(struct net *n, uint32_t id, size_t size, struct image **_img)
{
	int fd = mg__anon_file("mitogen-exec", true);
	uint8_t buf[4096];

	if (fd < 0) {
		return false;
	}
	for (size_t off = 0; off < size;) {
		size_t k = size - off < sizeof(buf) ? size - off : sizeof(buf);
		for (size_t i = 0; i < k; i++) {
			buf[i] = pat(off + i);
		}
		if (write(fd, buf, k) != (ssize_t)k) {
			close(fd);
			return false;
		}
		off += k;
	}
	return mg__images_put(n->im[0], id, fd, size, _img) == 0;
}

static bool master_put(struct net *n, uint32_t id, size_t size)
{
	return master_load(n, id, size, NULL);
}

/* --- fetching through the child's own store, as an agent does --- */

struct got {
	bool done;
	int fd;		/* dup of the copy, or -1 */
	char why[128];
};

static void on_ready(void *data, int fd, const char *errmsg)
{
	struct got *g = data;

	g->done = true;
	g->fd = fd >= 0 ? fcntl(fd, F_DUPFD_CLOEXEC, 3) : -1;
	snprintf(g->why, sizeof(g->why), "%s", errmsg != NULL ? errmsg : "");
}

static bool got_done(void *arg)
{
	return ((struct got *)arg)->done;
}

/* Fetch 'id' into the child's store; true once it arrived intact. */
static bool child_get(struct net *n, uint32_t id, uint64_t size, struct got *g)
{
	uint8_t buf[4096];
	size_t off = 0;
	ssize_t k;

	*g = (struct got){ .fd = -1 };
	if (mg__images_get(n->im[2], n->im[2], id, size, on_ready, g) != 0 ||
	    !run_until(n->loop, got_done, g, 10000) || g->fd < 0) {
		return false;
	}
	while ((k = pread(g->fd, buf, sizeof(buf), (off_t)off)) > 0) {
		for (ssize_t i = 0; i < k; i++) {
			if (buf[i] != pat(off + (size_t)i)) {
				close(g->fd);
				return false;
			}
		}
		off += (size_t)k;
	}
	close(g->fd);
	return off == size;
}

/* --- raw FETCH requests from the child, as a hostile child sends --- */

struct answers {
	unsigned sent;
	unsigned ok;
	unsigned no_such;
	unsigned too_many;
	unsigned other;
	size_t bytes;	/* program bytes received, never acknowledged */
};

static void on_answer(struct mg_router *r, struct mg_msg *m, void *data)
{
	struct answers *a = data;

	if ((m->flags & MG_F_DEAD) == 0) {
		a->ok++;
	} else if (m->len == 15 && memcmp(m->data, "no such program", 15) == 0) {
		a->no_such++;
	} else if (m->len >= 8 && memcmp(m->data, "too many", 8) == 0) {
		a->too_many++;
	} else {
		printf("#   answer: %.*s\n", (int)m->len, (const char *)m->data);
		a->other++;
	}
}

static void on_bytes(struct mg_router *r, struct mg_msg *m, void *data)
{
	((struct answers *)data)->bytes += m->len;
}

static bool all_answered(void *arg)
{
	struct answers *a = arg;

	return a->ok + a->no_such + a->too_many + a->other == a->sent;
}

static bool raw_fetch(struct net *n, TALLOC_CTX *mem_ctx, struct answers *a, uint32_t id,
		      uint64_t size)
{
	struct mg_handler *meta, *bytes;
	uint8_t req[20];

	meta = mg__router_add_handler(mem_ctx, n->r[2], 0, MG_POL_RESPONDENT, 1, false, on_answer, a);
	bytes = mg__router_add_handler(mem_ctx, n->r[2], 0, MG_POL_RESPONDENT, 1, true, on_bytes, a);
	if (meta == NULL || bytes == NULL) {
		return false;
	}
	mg__put_be32(req, id);
	mg__put_be32(req + 4, mg__handler_handle(bytes));
	mg__put_be32(req + 8, mg__handler_handle(meta));
	mg__put_be32(req + 12, (uint32_t)(size >> 32));
	mg__put_be32(req + 16, (uint32_t)size);
	a->sent++;
	return mg__router_send(n->r[2], 1, MG_H_FETCH, 0, 0, req, sizeof(req)) == 0;
}

/* --- tests --- */

/* Asking twice for an id nobody has: the first failure must not leave a
 * freed image in the store (heap-use-after-free, or an endless scan). */
static void test_unknown_id_twice_body(void)
{
	struct net *n = net_new();
	struct answers a = { 0 };
	struct got g;

	ASSERT_PTR_NOT_NULL(n);
	ASSERT_TRUE(master_put(n, 1, PROG_SIZE));
	ASSERT_TRUE(child_get(n, 1, PROG_SIZE, &g));
	for (int round = 0; round < 4; round++) {
		ASSERT_TRUE(raw_fetch(n, n, &a, 77, 10));
		ASSERT_TRUE(run_until(n->loop, all_answered, &a, 10000));
		ASSERT_TRUE(raw_fetch(n, n, &a, 1, PROG_SIZE));
		ASSERT_TRUE(run_until(n->loop, all_answered, &a, 10000));
	}
	ASSERT_INT_EQ(a.no_such, 4);
	ASSERT_INT_EQ(a.ok, 4);
	/* The real program is still served whole. */
	ASSERT_TRUE(child_get(n, 1, PROG_SIZE, &g));
	talloc_free(n);
}
ISOLATED(test_unknown_id_twice)

/* A fetch that fails is tried again on the next request, and the store
 * stays sound for the programs it already has. */
static void test_retry_after_failure_body(void)
{
	struct net *n = net_new();
	struct got g;

	ASSERT_PTR_NOT_NULL(n);
	ASSERT_TRUE(master_put(n, 6, PROG_SIZE));
	ASSERT_TRUE(child_get(n, 6, PROG_SIZE, &g));
	ASSERT_TRUE(!child_get(n, 5, 4000, &g));
	ASSERT_STR_EQ(g.why, "no such program");
	ASSERT_TRUE(master_put(n, 5, 4000));
	ASSERT_TRUE(child_get(n, 5, 4000, &g));
	ASSERT_TRUE(child_get(n, 6, PROG_SIZE, &g));
	talloc_free(n);
}
ISOLATED(test_retry_after_failure)

/* Many unknown ids at once: each child gets a bounded number of
 * requests, and no descriptor is ever held for an id nobody has. */
static void test_unknown_ids_flood_body(void)
{
	struct net *n = net_new();
	struct answers a = { 0 };
	int before;

	ASSERT_PTR_NOT_NULL(n);
	before = count_fds();
	for (uint32_t id = 1000; id < 1200; id++) {
		ASSERT_TRUE(raw_fetch(n, n, &a, id, 10));
	}
	ASSERT_TRUE(run_until(n->loop, all_answered, &a, 10000));
	ASSERT_INT_EQ(count_fds(), before);
	ASSERT_INT_EQ(a.other, 0);
	ASSERT_INT_EQ(a.ok, 0);
	ASSERT_INT_GE(a.too_many, 1);
	ASSERT_INT_GE(a.no_such, MG_FETCH_PER_CHILD);
	talloc_free(n);
}
ISOLATED(test_unknown_ids_flood)

/* A child that asks for a known program again and again and never takes
 * the bytes holds at most its share of transfers (one descriptor each). */
static void test_known_id_flood_body(void)
{
	struct net *n = net_new();
	struct answers a = { 0 };
	struct got g;
	int before;

	ASSERT_PTR_NOT_NULL(n);
	ASSERT_TRUE(master_put(n, 1, PROG_SIZE));
	ASSERT_TRUE(child_get(n, 1, PROG_SIZE, &g));
	before = count_fds();
	for (int i = 0; i < 50; i++) {
		ASSERT_TRUE(raw_fetch(n, n, &a, 1, PROG_SIZE));
	}
	ASSERT_TRUE(run_until(n->loop, all_answered, &a, 10000));
	ASSERT_INT_EQ(a.ok, MG_FETCH_PER_CHILD);
	ASSERT_INT_EQ(a.too_many, 50 - MG_FETCH_PER_CHILD);
	ASSERT_TRUE(count_fds() <= before + (int)MG_FETCH_PER_CHILD);
	talloc_free(n);
}
ISOLATED(test_known_id_flood)

/* The total bound holds across children (here, one child and a small
 * total); a request refused is answered, never dropped. */
static void test_total_bound_body(void)
{
	struct net *n = net_new();
	struct answers a = { 0 };
	struct got g;

	ASSERT_PTR_NOT_NULL(n);
	mg__images_set_limits(n->im[1], 100, 3);
	ASSERT_TRUE(master_put(n, 1, PROG_SIZE));
	ASSERT_TRUE(child_get(n, 1, PROG_SIZE, &g));
	for (int i = 0; i < 10; i++) {
		ASSERT_TRUE(raw_fetch(n, n, &a, 1, PROG_SIZE));
	}
	ASSERT_TRUE(run_until(n->loop, all_answered, &a, 10000));
	ASSERT_INT_EQ(a.ok, 3);
	ASSERT_INT_EQ(a.too_many, 7);
	talloc_free(n);
}
ISOLATED(test_total_bound)

/* A child naming a wrong size while a sibling's fetch of the same
 * program is under way must not make that fetch fail. */
static void test_wrong_size_does_not_poison_body(void)
{
	struct net *n = net_new();
	struct answers a = { 0 };
	struct got g;

	ASSERT_PTR_NOT_NULL(n);
	ASSERT_TRUE(master_put(n, 1, PROG_SIZE));
	ASSERT_TRUE(raw_fetch(n, n, &a, 1, 3));
	ASSERT_TRUE(child_get(n, 1, PROG_SIZE, &g));
	ASSERT_TRUE(run_until(n->loop, all_answered, &a, 10000));
	ASSERT_INT_EQ(a.ok, 1);
	talloc_free(n);
}
ISOLATED(test_wrong_size_does_not_poison)

static bool fds_at_most(void *arg)
{
	return count_fds() <= *(int *)arg;
}

/* A program the master unloads is withdrawn down the tree: the agent and
 * its child drop their copies (their descriptors close), and asking for
 * it again reaches the master, which has it no more. */
static void test_drop_cascades_body(void)
{
	struct net *n = net_new();
	struct image *img = NULL;
	struct got g;
	int before;

	ASSERT_PTR_NOT_NULL(n);
	ASSERT_TRUE(master_put(n, 2, PROG_SIZE));
	ASSERT_TRUE(master_load(n, 1, PROG_SIZE, &img));
	ASSERT_TRUE(child_get(n, 1, PROG_SIZE, &g));
	ASSERT_TRUE(child_get(n, 2, PROG_SIZE, &g));
	run_until(n->loop, NULL, NULL, 200);
	/* Program 1's copies go, in each of the three contexts. */
	before = count_fds() - 3;
	mg__images_drop(&img);
	ASSERT_PTR_NULL(img);
	ASSERT_TRUE(run_until(n->loop, fds_at_most, &before, 10000));
	ASSERT_TRUE(!child_get(n, 1, PROG_SIZE, &g));
	ASSERT_STR_EQ(g.why, "no such program");
	ASSERT_TRUE(child_get(n, 2, PROG_SIZE, &g));
	talloc_free(n);
}
ISOLATED(test_drop_cascades)

/* Everything torn down while fetches are still waiting on the master. */
static void test_teardown_while_fetching_body(void)
{
	struct net *n = net_new();
	struct answers a = { 0 };
	struct got g = { .fd = -1 };

	ASSERT_PTR_NOT_NULL(n);
	ASSERT_TRUE(master_put(n, 1, PROG_SIZE));
	ASSERT_INT_EQ(mg__images_get(n->im[2], n->im[2], 1, PROG_SIZE, on_ready, &g), 0);
	ASSERT_TRUE(raw_fetch(n, n, &a, 1, PROG_SIZE));
	ASSERT_TRUE(raw_fetch(n, n, &a, 9, 10));
	run_until(n->loop, NULL, NULL, 2);
	talloc_free(n);
}
ISOLATED(test_teardown_while_fetching)

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	mg_log_set_level(getenv("T_DEBUG") != NULL ? MG_LOG_TRACE : MG_LOG_ERROR);
	TESTS_BEGIN();
	RUN(test_unknown_id_twice);
	RUN(test_retry_after_failure);
	RUN(test_unknown_ids_flood);
	RUN(test_known_id_flood);
	RUN(test_total_bound);
	RUN(test_wrong_size_does_not_poison);
	RUN(test_teardown_while_fetching);
	RUN(test_drop_cascades);
	return TESTS_END();
}
