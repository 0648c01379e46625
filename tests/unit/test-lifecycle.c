/*
 * Sessions and contexts that live as long as their owner wants: the HELLO
 * flags a new context inherits, and (with real agents, chains "local" and
 * "local/local") shutting contexts down, losing them, and connecting them
 * again.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "buf.h"
#include "conn.h"
#include "loop-helpers.h"
#include "mitogen/error.h"
#include "mitogen/log.h"
#include "router.h"

/* --- HELLO flags --- */

static void test_hello_flags_body(void)
{
	TALLOC_CTX *ctx = talloc_new(NULL);
	struct mg_loop *loop = mg_loop_new(ctx);
	uint32_t parents[] = { 0 };
	struct mg_router *r = loop != NULL ? mg__router_new(ctx, loop, 1, parents, 1) : NULL;
	struct mg_buf *b = mg__buf_new(ctx, 4096);
	struct mg_hello h;

	ASSERT_PTR_NOT_NULL(r);
	ASSERT_PTR_NOT_NULL(b);
	/* Off: the byte is there, 0. */
	ASSERT_INT_EQ(mg__hello_encode(b, r, 7, 2, "mitogen:7"), 0);
	ASSERT_INT_EQ(mg__hello_decode(ctx, b->data, b->len, &h), 0);
	ASSERT_INT_EQ(b->data[b->len - 1], 0);
	ASSERT_INT_EQ(h.flags, 0);
	ASSERT_INT_EQ(h.id, 7);
	ASSERT_INT_EQ(h.n_parents, 2);
	ASSERT_INT_EQ(h.parents[0], 1);
	ASSERT_INT_EQ(h.parents[1], 0);
	ASSERT_STR_EQ(h.name, "mitogen:7");
	/* On: the new context is told. */
	b->len = 0;
	mg__router_set_unidirectional(r, true);
	ASSERT_INT_EQ(mg__hello_encode(b, r, 7, 2, "mitogen:7"), 0);
	ASSERT_INT_EQ(b->data[b->len - 1], MG_HELLO_UNIDIRECTIONAL);
	ASSERT_INT_EQ(mg__hello_decode(ctx, b->data, b->len, &h), 0);
	ASSERT_INT_EQ(h.flags, MG_HELLO_UNIDIRECTIONAL);
	ASSERT_INT_EQ(h.log_level, 2);
	/* A HELLO from before the field: flags 0, the rest as before. */
	ASSERT_INT_EQ(mg__hello_decode(ctx, b->data, b->len - 1, &h), 0);
	ASSERT_INT_EQ(h.flags, 0);
	ASSERT_STR_EQ(h.name, "mitogen:7");
	/* Cut inside the name: refused. */
	ASSERT_INT_EQ(mg__hello_decode(ctx, b->data, b->len - 2, &h), MG_ERR_PROTOCOL);
	talloc_free(ctx);
}
ISOLATED(test_hello_flags)

int main(void)
{
	TESTS_BEGIN();
	RUN(test_hello_flags);
	return TESTS_END();
}
