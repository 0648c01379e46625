/*
 * The leaf agent's link (cmd/agent-leaf): what its parent sends after a
 * good HELLO, as frames it parses, checks and answers (EXEC decoded and
 * refused or failed; the fuzz build starts no command: LEAF_FUZZ). The
 * source is compiled in, so that its static state can be reset for each
 * input; every answer it queues must be a whole frame of ours.
 *
 * Input: the bytes of the link after HELLO, fed whole.
 */
#include <stdint.h>
#include <stddef.h>
int leaf_main(int argc, char **argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
#define main leaf_main
#include "../../cmd/agent-leaf/leaf.c"
#undef main
#include <stdio.h>
#include <stdlib.h>

static void reset(void)
{
	if (L.rx == NULL) {
		L.rx = mmap(NULL, RX_CAP, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		L.tx = mmap(NULL, TX_CAP, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (L.rx == MAP_FAILED || L.tx == MAP_FAILED) {
			abort();
		}
	}
	L.rx_len = L.tx_len = L.tx_off = 0;
	L.up = L.gone = false;
	L.reading = true;
	L.next_handle = MG_H_DYNAMIC;
	L.deadline = UINT64_MAX;
}

/* Every frame queued: our magic, our id as source, a length that fits. */
static void check_tx(void)
{
	size_t at = 0;

	while (at < L.tx_len) {
		if (L.tx_len - at < MG_HDR_LEN || leaf_be32(L.tx + at) >> 16 != MG_MAGIC ||
		    leaf_be32(L.tx + at + 8) != 5 || leaf_be32(L.tx + at + 24) > L.tx_len - at - MG_HDR_LEN) {
			fprintf(stderr, "fuzz-leaf: a frame queued is not whole or not ours\n");
			abort();
		}
		at += MG_HDR_LEN + leaf_be32(L.tx + at + 24);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t hello[] = {
		0x4d, 0x47, 0, 0, 0, 0, 0, 5, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 100, 0, 0, 3, 0xe8,
		0, 0, 0, 34,
		0, 0, 0, 3, 0, 0, 0, 5, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0x10, 0, 0, 0, 0x20, 0, 0,
		2, 0, 0, 0, 4, 'l', 'e', 'a', 'f', 0,
	};

	reset();
	memcpy(L.rx, hello, sizeof(hello));
	L.rx_len = sizeof(hello);
	drain_rx();
	if (!L.up || L.rx_len != 0) {
		fprintf(stderr, "fuzz-leaf: the seed HELLO was not taken\n");
		abort();
	}
	L.tx_len = 0;
	size = size < RX_CAP ? size : RX_CAP;
	memcpy(L.rx, data, size);
	L.rx_len = size;
	/* As the loop would: serve, let the queue drain, serve again. */
	while (L.rx_len > 0 && L.reading) {
		size_t before = L.rx_len;
		drain_rx();
		check_tx();
		L.tx_len = 0;
		if (L.rx_len == before) {
			break;
		}
	}
	job_exit();
	return 0;
}
