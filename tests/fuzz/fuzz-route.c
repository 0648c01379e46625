/*
 * The router's control messages (lib/core/router.c): ADD_ROUTE (u32 id, str
 * name), DEL_ROUTE (u32 id, optional str why) and LOG (u8 level, str
 * text), with whatever else a neighbour may send around them, as real
 * frames on real sockets. The router is an agent (context 1, parent 0)
 * with two children, 2 and 3; the fuzzer writes frames as any of the
 * three neighbours, so CONNECTs from the parent may make announcements
 * legitimate.
 *
 * The router guarantee is checked after every frame: a context other than
 * the neighbours is reachable only if the parent sent a CONNECT for it
 * down some child (issue 12, defect 1).
 *
 * Input: records of u8 who (0: child 2, 1: child 3, 2: parent), u8 handle
 * (index into a table, past it: a u32 follows), u8 dst, u8 src (0-3: a
 * known id, else a u32 follows), u8 flags (DEAD and OPEN), then a u16-length
 * payload.
 */
#include <signal.h>
#include "fuzz-net.h"

#define MAX_IDS 64

static const uint32_t handles[] = {
	MG_H_ADD_ROUTE, MG_H_DEL_ROUTE, MG_H_LOG, MG_H_CONNECT, MG_H_HELLO,
	MG_H_SHUTDOWN, MG_H_PASSWORD, MG_H_EXEC, MG_H_FETCH, MG_H_FETCH_DROP, MG_H_DYNAMIC,
};

static uint32_t pick_id(struct fz *f, uint8_t sel)
{
	static const uint32_t known[] = { 0, 1, 2, 3 };

	return sel < 4 ? known[sel] : sel < 8 ? 4 + (uint32_t)(sel - 4) : fz_u32(f);
}

/* The guarantee: nobody but the neighbours and the contexts the parent
 * asked for is routed (reachable below this context). */
static void check_routes(struct mg_router *r, const uint32_t *ids, size_t k,
			 const uint32_t *asked_for, size_t n_asked)
{
	for (size_t i = 0; i < k; i++) {
		bool asked = ids[i] <= 3;
		for (size_t j = 0; j < n_asked && !asked; j++) {
			asked = asked_for[j] == ids[i];
		}
		if (!asked && mg__router_name(r, ids[i]) != NULL) {
			fprintf(stderr, "context %u is reachable, and nobody asked for it\n", ids[i]);
			abort();
		}
	}
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
	struct fz_net n;
	uint32_t seen[MAX_IDS], asked[MAX_IDS];
	size_t n_seen = 0, n_asked = 0;

	fz_net_new(ctx, &n);
	fz_net_settle(&n);
	while (!fz_empty(&f)) {
		int who = fz_u8(&f) % FZ_LINKS;
		uint8_t hsel = fz_u8(&f);
		struct mg_msg m = { 0 };
		size_t len;

		m.handle = hsel < sizeof(handles) / sizeof(handles[0]) ? handles[hsel] : fz_u32(&f);
		m.dst = pick_id(&f, fz_u8(&f));
		m.src = pick_id(&f, fz_u8(&f));
		m.auth_id = m.src;
		m.flags = fz_u8(&f) & (MG_F_DEAD | MG_F_OPEN);
		m.data = (uint8_t *)fz_chunk(&f, &len);
		m.len = len;
		/* Only a live CONNECT marked as opening a context grants. */
		if (who == FZ_PARENT && m.handle == MG_H_CONNECT && m.flags == MG_F_OPEN &&
		    len >= 4 && n_asked < MAX_IDS) {
			asked[n_asked++] = mg__get_be32(m.data);
		}
		if (m.handle == MG_H_ADD_ROUTE && len >= 4 && n_seen < MAX_IDS) {
			seen[n_seen++] = mg__get_be32(m.data);
		}
		fz_net_send(&n, who, &m);
		fz_net_settle(&n);
		check_routes(n.r, seen, n_seen, asked, n_asked);
	}
	talloc_free(ctx);
	fz_net_close(&n);
	FUZZ_LEAKS_END;
	return 0;
}
