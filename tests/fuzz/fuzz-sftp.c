/*
 * mitogen-sftp-server's packet handling (cmd/sftp-server/): a session of
 * SFTP requests after INIT, as the server reads them. Every path is taken
 * under a private sandbox directory (the server's fuzz-only 'sandbox':
 * no "..", no SYMLINK), so that what the fuzzer writes, renames and
 * removes stays there; the handles are closed after each input.
 *
 * Input: what a client writes after INIT: packets of u32 length (1 to the
 * server's maximum; another ends the input, as the server would exit)
 * then that many bytes, the type first.
 */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include "fuzz.h"
#include "sftp.h"

static struct sftp_server server;
static char sandbox[] = "/tmp/fuzz-sftp.XXXXXX";
static unsigned runs;

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag;
	if (ftw->level > 0) {
		remove(path);
	}
	return 0;
}

/* Empty the sandbox (it may have lost its permissions or itself). */
static void clean(void)
{
	chmod(sandbox, 0700);
	nftw(sandbox, remove_one, 16, FTW_DEPTH | FTW_PHYS);
	mkdir(sandbox, 0700);
}

static void cleanup(void)
{
	clean();
	rmdir(sandbox);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	if (mkdtemp(sandbox) == NULL) {
		perror("fuzz-sftp: mkdtemp");
		abort();
	}
	atexit(cleanup);
	server.sandbox = sandbox;
	server.out.cap = SFTP_MAX_PACKET + 4;
	server.out.buf = malloc(server.out.cap);
	FUZZ_CHECK(server.out.buf != NULL);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t init[] = { SSH_FXP_INIT, 0, 0, 0, 3 };

	server.initialized = false;
	server.out.ok = true;
	server.out.len = 0;
	FUZZ_CHECK(sftp_process(&server, init, sizeof(init)) == 0);
	while (size >= 4) {
		uint32_t len = (uint32_t)data[0] << 24 | (uint32_t)data[1] << 16 | (uint32_t)data[2] << 8 | data[3];
		if (len == 0 || len > SFTP_MAX_PACKET || len > size - 4) {
			break;
		}
		server.out.len = 0;
		if (sftp_process(&server, data + 4, len) != 0) {
			break;
		}
		/* Every request gets one whole reply, its length right. */
		FUZZ_CHECK(server.out.ok && server.out.len >= 9 && server.out.len <= server.out.cap);
		FUZZ_CHECK(((uint32_t)server.out.buf[0] << 24 | (uint32_t)server.out.buf[1] << 16 |
			    (uint32_t)server.out.buf[2] << 8 | server.out.buf[3]) == server.out.len - 4);
		data += 4 + len;
		size -= 4 + len;
	}
	sftp_close_all(&server);
	if (++runs % 256 == 0) {
		clean();
	}
	return 0;
}
