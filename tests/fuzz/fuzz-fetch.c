/*
 * The program store of an agent (lib/svc/images.c, filled and served by
 * the FETCH service, lib/svc/svc-fetch.c), fuzzed as its neighbours
 * reach it: FETCH requests from children (u32 id, u32 h_data, u32 h_meta,
 * u64 size), the parent's answers to the store's own FETCH (u64 size and
 * u32 ack handle on h_meta, the bytes on h_data), the children's acks,
 * dead messages anywhere, and local requests for a program (as an EXEC
 * of mitogen-exec makes) whose owners go away at any time. The store
 * starts with program 7 (100 bytes) of its own.
 *
 * Input: records of u8 kind: bits 0-1 who (0: child 2, 1: child 3, 2: the
 * parent, 3: a local request); bit 2: to a dynamic handle (1000 + u8)
 * rather than FETCH; bit 3: a dead message; bit 4: FETCH_DROP rather than
 * FETCH; then a u16-length payload.
 * A local request reads u8 slot, u32 id and u16 size: it replaces the
 * request in that slot (of 4), dropping the old one.
 */
#include <signal.h>
#include <sys/mman.h>
#include "fuzz-net.h"
#include "images.h"

#define SLOTS 4

struct local {
	TALLOC_CTX *owner;
	int fired;
};

static void on_ready(void *data, int fd, const char *errmsg)
{
	struct local *l = data;

	FUZZ_CHECK(fd >= 0 || errmsg != NULL);
	FUZZ_CHECK(l->fired++ == 0);
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
	struct local local[SLOTS] = { { 0 } };
	struct mg_images *im;
	struct fz_net n;
	uint8_t prog[100];
	int fd;

	fz_net_new(ctx, &n);
	im = mg__images_new(ctx, n.r);
	FUZZ_CHECK(im != NULL);
	fd = memfd_create("fuzz-program", MFD_CLOEXEC);
	FUZZ_CHECK(fd >= 0);
	memset(prog, 'p', sizeof(prog));
	FUZZ_CHECK(write(fd, prog, sizeof(prog)) == (ssize_t)sizeof(prog));
	FUZZ_CHECK(mg__images_put(im, 7, fd, sizeof(prog), NULL) == 0);
	fz_net_settle(&n);
	while (!fz_empty(&f)) {
		uint8_t kind = fz_u8(&f);
		int who = kind & 3;
		struct mg_msg m = { .dst = 1 };
		size_t len;

		if (who == 3) {
			struct local *l = &local[fz_u8(&f) % SLOTS];
			uint32_t id = fz_u32(&f);
			uint16_t sz = fz_u16(&f);
			TALLOC_FREE(l->owner);
			l->fired = 0;
			l->owner = talloc_new(ctx);
			FUZZ_CHECK(l->owner != NULL);
			/* Refused at once, or answered later, exactly once. */
			if (mg__images_get(im, l->owner, id, sz, on_ready, l) != 0) {
				FUZZ_CHECK(l->fired == 0);
				TALLOC_FREE(l->owner);
			}
			fz_net_settle(&n);
			continue;
		}
		m.src = who == FZ_PARENT ? 0 : who == FZ_CHILD2 ? 2 : 3;
		m.auth_id = m.src;
		m.handle = (kind & 4) != 0 ? MG_H_DYNAMIC + fz_u8(&f) :
			   (kind & 16) != 0 ? MG_H_FETCH_DROP : MG_H_FETCH;
		m.flags = (kind & 8) != 0 ? MG_F_DEAD : 0;
		m.reply_to = 0;
		m.data = (uint8_t *)fz_chunk(&f, &len);
		m.len = len;
		fz_net_send(&n, who, &m);
		fz_net_settle(&n);
	}
	talloc_free(ctx);
	fz_net_close(&n);
	FUZZ_LEAKS_END;
	return 0;
}
