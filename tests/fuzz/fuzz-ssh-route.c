/*
 * Reading ssh's route from its config (lib/hop/connect/ssh-route.c): the
 * file given with -F, for a host.
 *
 * Checked: the answer is one of the three; a "helper" answer names a
 * plain host (letters, digits, "._:-"), a port of digits, a timeout of
 * digits and a family ssh knows, all of which go into a shell command.
 *
 * Input: the host (up to the first '\n'), then the file.
 */
#include <ctype.h>
#include <sys/mman.h>
#include "fuzz.h"
#include "connect/ssh-route.h"

static int cfg_fd = -1;
static char cfg_path[64];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fz_quiet_logs();
	cfg_fd = memfd_create("fuzz-ssh-route", MFD_CLOEXEC);
	FUZZ_CHECK(cfg_fd >= 0);
	snprintf(cfg_path, sizeof(cfg_path), "/proc/self/fd/%d", cfg_fd);
	return 0;
}

static bool only(const char *s, const char *extra)
{
	for (; *s != '\0'; s++) {
		if (!isalnum((unsigned char)*s) && strchr(extra, *s) == NULL) {
			return false;
		}
	}
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FUZZ_LEAKS_BEGIN;
	const uint8_t *nl = memchr(data, '\n', size);
	size_t hlen = nl != NULL ? (size_t)(nl - data) : size;
	const uint8_t *file = nl != NULL ? nl + 1 : data + size;
	size_t flen = (size_t)(data + size - file);
	const char *words[] = { "-F", cfg_path };
	struct mg_ssh_direct d;
	enum mg_ssh_route r;
	char host[256];

	if (hlen >= sizeof(host) || memchr(data, '\0', hlen) != NULL) {
		return 0;
	}
	memcpy(host, data, hlen);
	host[hlen] = '\0';
	FUZZ_CHECK(ftruncate(cfg_fd, 0) == 0);
	FUZZ_CHECK(pwrite(cfg_fd, file, flen, 0) == (ssize_t)flen);
	r = mg__ssh_route(words, 2, host, &d);
	FUZZ_CHECK(r == MG_SSH_ROUTE_UNSURE || r == MG_SSH_ROUTE_HELPER || r == MG_SSH_ROUTE_SSH);
	if (r == MG_SSH_ROUTE_HELPER) {
		FUZZ_CHECK(d.host[0] != '\0' && only(d.host, "._:-"));
		FUZZ_CHECK(d.port[0] != '\0' && only(d.port, "") && strspn(d.port, "0123456789") == strlen(d.port));
		FUZZ_CHECK(d.timeout[0] != '\0' && strspn(d.timeout, "0123456789") == strlen(d.timeout));
		FUZZ_CHECK(strcmp(d.family, "any") == 0 || strcmp(d.family, "inet") == 0 ||
			   strcmp(d.family, "inet6") == 0);
	}
	FUZZ_LEAKS_END;
	return 0;
}
