/*
 * The master as its first hops reach it (lib/session/session.c and the handlers
 * it registers): PASSWORD requests (u32 id of the hop being connected),
 * and everything else a child may send the master, ADD_ROUTE, DEL_ROUTE,
 * LOG and FETCH above all, as real frames on the links of two first hops
 * (contexts 1 and 2). No chain is connected, so no request may get a
 * password, and no announcement may make a context reachable.
 *
 * Input: records of u8 who (child 1 or 2), u8 handle (index into a table,
 * past it: 1000 + u8), u8 src (0-3, else a u32 follows), u8 flags, u16
 * reply_to, then a u16-length payload.
 */
#include <signal.h>
#include "fuzz.h"
#include "buf.h"
#include "mitogen/session.h"
#include "protocol.h"
#include "router.h"
#include "session.h"
#include "stream.h"

static const uint32_t handles[] = {
	MG_H_PASSWORD, MG_H_ADD_ROUTE, MG_H_DEL_ROUTE, MG_H_LOG, MG_H_FETCH,
	MG_H_HELLO, MG_H_CONNECT, MG_H_EXEC, MG_H_SHUTDOWN, MG_H_FETCH_DROP,
};

static int link_child(TALLOC_CTX *ctx, struct mg_loop *loop, struct mg_router *r, uint32_t id)
{
	struct mg_stream *s;
	int sv[2];

	FUZZ_CHECK(fz_socketpair(sv) == 0);
	s = mg__stream_new(ctx, loop, sv[0], sv[0], "hop", MG_MSG_MAX_DEFAULT);
	FUZZ_CHECK(s != NULL);
	FUZZ_CHECK(mg__router_add_stream(r, s, id, "hop", false) == 0);
	return sv[1];
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	signal(SIGPIPE, SIG_IGN);
	fz_quiet_logs();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FUZZ_LEAKS_BEGIN;
	struct fz f = { data, size };
	TALLOC_CTX *ctx = talloc_new(NULL);
	struct mg_loop *loop = mg_loop_new(ctx);
	struct mg_session *s;
	struct mg_router *r;
	int fd[2];

	FUZZ_CHECK(loop != NULL);
	s = mg_session_new(ctx, loop);
	FUZZ_CHECK(s != NULL);
	r = mg__session_router(s);
	fd[0] = link_child(ctx, loop, r, 1);
	fd[1] = link_child(ctx, loop, r, 2);
	fz_run(loop, NULL, NULL, 1000);
	while (!fz_empty(&f)) {
		int who = fz_u8(&f) & 1;
		uint8_t hsel = fz_u8(&f);
		uint8_t ssel = fz_u8(&f);
		struct mg_msg m = { .dst = 0 };
		uint8_t hdr[MG_HDR_LEN];
		size_t len;

		m.handle = hsel < sizeof(handles) / sizeof(handles[0]) ? handles[hsel]
			   : MG_H_DYNAMIC + hsel;
		m.src = ssel < 4 ? ssel : fz_u32(&f);
		m.auth_id = m.src;
		m.flags = fz_u8(&f) & (MG_F_DEAD | MG_F_OPEN);
		m.reply_to = fz_u16(&f);
		m.data = (uint8_t *)fz_chunk(&f, &len);
		m.len = len;
		mg__msg_header(&m, hdr);
		if (send(fd[who], hdr, sizeof(hdr), MSG_NOSIGNAL) == (ssize_t)sizeof(hdr) && len > 0) {
			(void)!send(fd[who], m.data, len, MSG_NOSIGNAL);
		}
		fz_run(loop, NULL, NULL, 1000);
		fz_drain(fd[0]);
		fz_drain(fd[1]);
		/* Nothing was connected through these hops. */
		for (uint32_t id = 3; id < 8; id++) {
			FUZZ_CHECK(!mg__router_reachable(r, id));
		}
	}
	talloc_free(ctx);
	close(fd[0]);
	close(fd[1]);
	FUZZ_LEAKS_END;
	return 0;
}
