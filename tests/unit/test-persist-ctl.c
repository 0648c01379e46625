/* Unit tests for the holder's "persist.ctl" service (tool/persist-ctl.c),
 * called in the holder's own session as an attached command would. */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include "harness.h"
#include "persist.h"
#include "persist-private.h"

static void log_quiet(enum mg_log_level level, const char *msg, void *data)
{
}

struct ctl {
	struct mg_loop *loop;
	struct mg_holder *h;
};

static struct ctl *ctl_new(void)
{
	struct ctl *c = talloc_zero(NULL, struct ctl);

	c->loop = mg_loop_new(c);
	c->h = talloc_zero(c, struct mg_holder);
	c->h->loop = c->loop;
	c->h->s = mg_session_new(c, c->loop);
	c->h->idle_ms = 1000;
	return c;
}

static int call(struct ctl *c, struct mg_enc *e, int timeout_ms, struct mg_message **_reply)
{
	const void *p;
	size_t len;

	p = mg_enc_data(e, &len);
	return mg_router_call(c, mg_session_router(c->h->s), 0, MG_PERSIST_SERVICE, p, len,
			      timeout_ms, _reply);
}

/* Op 4 raises the idle time and is never answered (PROTOCOL 5.7). */
static void test_idle_unanswered(void)
{
	struct ctl *c = ctl_new();
	struct mg_message *reply = NULL;
	struct mg_enc *e;

	ASSERT_PTR_NOT_NULL(c->h->s);
	ASSERT_INT_EQ(mg__holder_ctl_init(c->h), 0);
	e = mg__persist_ctl_request(c, MG_PERSIST_IDLE, NULL);
	ASSERT_PTR_NOT_NULL(e);
	ASSERT_INT_EQ(mg_enc_u32(e, 5000), 0);
	ASSERT_INT_EQ(call(c, e, 300, &reply), MG_ERR_TIMEOUT);
	ASSERT_PTR_NULL(reply);
	ASSERT_INT_EQ(c->h->idle_ms, 5000);
	/* A shorter one never lowers it. */
	e = mg__persist_ctl_request(c, MG_PERSIST_IDLE, NULL);
	ASSERT_INT_EQ(mg_enc_u32(e, 10), 0);
	ASSERT_INT_EQ(call(c, e, 300, &reply), MG_ERR_TIMEOUT);
	ASSERT_INT_EQ(c->h->idle_ms, 5000);
	talloc_free(c);
}

/* The other ops are answered; op 4 without its u32 is malformed. */
static void test_answered(void)
{
	struct ctl *c = ctl_new();
	struct mg_message *reply = NULL;
	uint32_t code = 9;
	char *text = NULL;

	ASSERT_INT_EQ(mg__holder_ctl_init(c->h), 0);
	ASSERT_INT_EQ(call(c, mg__persist_ctl_request(c, MG_PERSIST_CHECK, "ssh:nowhere"), 2000,
			   &reply), 0);
	ASSERT_INT_EQ(mg__persist_ctl_answer(reply, c, &code, &text), 0);
	ASSERT_INT_EQ(code, 1);
	ASSERT_STR_CONTAINS(text, "not held");
	ASSERT_INT_EQ(call(c, mg__persist_ctl_request(c, MG_PERSIST_IDLE, NULL), 2000, &reply),
		      MG_ERR_CALL);
	ASSERT_STR_EQ(mg_message_dead_reason(reply), "malformed request");
	ASSERT_INT_EQ(call(c, mg__persist_ctl_request(c, 99, NULL), 2000, &reply), MG_ERR_CALL);
	ASSERT_STR_EQ(mg_message_dead_reason(reply), "unknown request");
	ASSERT_INT_EQ(c->h->idle_ms, 1000);
	talloc_free(c);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	mg_log_set_sink(log_quiet, NULL);
	TESTS_BEGIN();
	RUN(test_idle_unanswered);
	RUN(test_answered);
	return TESTS_END();
}
