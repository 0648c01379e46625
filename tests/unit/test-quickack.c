/*
 * Quick ACKs during an ssh login (lib/hop/quickack.c): only a TCP socket
 * is watched; each arrival sets TCP_QUICKACK again, which the kernel
 * clears once the connection looks interactive; freeing the watch closes
 * the copy.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"
#include "quickack.h"
#include "mitogen/loop.h"

static bool is_closed(int fd)
{
	return fcntl(fd, F_GETFD) < 0 && errno == EBADF;
}

static int quickack_of(int fd)
{
	int v = -1;
	socklen_t len = sizeof(v);

	return getsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &v, &len) == 0 ? v : -1;
}

/* A connected pair on 127.0.0.1: *cl the client's end, *sv the server's. */
static bool tcp_pair(int *cl, int *sv)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool ok = l >= 0 && bind(l, (struct sockaddr *)&a, sizeof(a)) == 0 && listen(l, 1) == 0 &&
		  getsockname(l, (struct sockaddr *)&a, &len) == 0 &&
		  (*cl = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) >= 0 &&
		  connect(*cl, (struct sockaddr *)&a, sizeof(a)) == 0 &&
		  (*sv = accept4(l, NULL, NULL, SOCK_CLOEXEC)) >= 0;

	if (l >= 0) {
		close(l);
	}
	return ok;
}

static void test_refuses_what_is_not_tcp(void)
{
	TALLOC_CTX *ctx = talloc_new(NULL);
	struct mg_loop *loop = mg_loop_new(ctx);
	int sp[2], p[2];

	ASSERT_TRUE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == 0);
	ASSERT_TRUE(pipe2(p, O_CLOEXEC) == 0);
	ASSERT_PTR_NULL(mg__quickack_new(ctx, loop, sp[0]));
	ASSERT_TRUE(is_closed(sp[0]));
	ASSERT_PTR_NULL(mg__quickack_new(ctx, loop, p[0]));
	ASSERT_TRUE(is_closed(p[0]));
	close(sp[1]);
	close(p[1]);
	talloc_free(ctx);
}

/*
 * The client's end goes interactive (TCP_QUICKACK reads 0: ACKs delayed);
 * a segment from the server wakes the watch, which turns quick ACKs on
 * again. Left alone, the kernel would only after its delayed-ACK timer.
 */
static void test_each_arrival_sets_quickack(void)
{
	TALLOC_CTX *ctx = talloc_new(NULL);
	struct mg_loop *loop = mg_loop_new(ctx);
	struct mg_quickack *q;
	int cl = -1, sv = -1, copy, zero = 0;
	char buf[8];

	ASSERT_TRUE(tcp_pair(&cl, &sv));
	copy = fcntl(cl, F_DUPFD_CLOEXEC, 3);
	q = mg__quickack_new(ctx, loop, copy);
	ASSERT_PTR_NOT_NULL(q);
	ASSERT_INT_EQ(quickack_of(cl), 1);
	for (int round = 1; round <= 3; round++) {
		ASSERT_TRUE(setsockopt(cl, IPPROTO_TCP, TCP_QUICKACK, &zero, sizeof(zero)) == 0);
		ASSERT_INT_EQ(quickack_of(cl), 0);
		ASSERT_INT_EQ(write(sv, "x", 1), 1);
		for (int i = 0; i < 100 && mg__quickack_count(q) < (unsigned)round; i++) {
			mg_loop_run_once(loop, 50);
		}
		ASSERT_INT_EQ(mg__quickack_count(q), round);
		ASSERT_INT_EQ(quickack_of(cl), 1);
		/* What ssh does; the watch never reads. */
		ASSERT_INT_EQ(read(cl, buf, sizeof(buf)), 1);
	}
	talloc_free(q);
	ASSERT_TRUE(is_closed(copy));
	ASSERT_INT_EQ(write(sv, "y", 1), 1);
	ASSERT_INT_EQ(read(cl, buf, sizeof(buf)), 1);
	close(cl);
	close(sv);
	talloc_free(ctx);
}

int main(void)
{
	TESTS_BEGIN();
	RUN(test_refuses_what_is_not_tcp);
	RUN(test_each_arrival_sets_quickack);
	return TESTS_END();
}
