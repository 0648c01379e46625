/*
 * The receiving end of a file stream (lib/svc/file-unpack.c, records of
 * lib/svc/file-rec.c), fuzzed as a hostile sender reaches it: whatever
 * the bytes, nothing is written outside the destination, no temporary
 * file is left, and nothing leaks. The push and pull request decoders
 * get the same bytes.
 *
 * Input: u8 flags (the request's), u8 n_top, then u16-length chunks of
 * the stream, fed in turn. The destination is ROOT/box/dest, made afresh
 * for each input; afterwards ROOT/box must hold only dest, ROOT only box.
 */
#include <dirent.h>
#include <ftw.h>
#include <sys/stat.h>
#include "fuzz.h"
#include "svc-file.h"

static char root[] = "/tmp/fuzz-file.XXXXXX";

static int rm_one(const char *p, const struct stat *st, int type, struct FTW *f)
{
	return remove(p);
}

/* The only entry of dir is 'name'. */
static bool only(const char *dir, const char *name)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	bool ok = d != NULL;

	while (ok && (e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
			ok = strcmp(e->d_name, name) == 0;
		}
	}
	if (d != NULL) {
		closedir(d);
	}
	return ok;
}

static int no_temp(const char *p, const struct stat *st, int type, struct FTW *f)
{
	FUZZ_CHECK(strncmp(p + f->base, ".mgcp.", 6) != 0);
	return 0;
}

static void on_error(void *data, bool at_source, const char *path, const char *msg)
{
	FUZZ_CHECK(path != NULL && msg != NULL);
	(*(unsigned *)data)++;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fz_quiet_logs();
	if (mkdtemp(root) == NULL) {
		abort();
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FUZZ_LEAKS_BEGIN;
	struct fz f = { data, size };
	TALLOC_CTX *ctx = talloc_new(NULL);
	struct mg__file_push_req push;
	struct mg__file_pull_req pull;
	char box[64], dest[80];
	unsigned seen = 0, failed;
	struct mg__unpack *u;
	char *errmsg = NULL;
	uint32_t flags;
	uint8_t n_top;

	mg__file_push_req_decode(ctx, data, size, &push);
	mg__file_pull_req_decode(ctx, data, size, &pull);
	flags = fz_u8(&f) & MG__FILE_KNOWN;
	n_top = fz_u8(&f) % 3;
	snprintf(box, sizeof(box), "%s/box", root);
	snprintf(dest, sizeof(dest), "%s/dest", box);
	FUZZ_CHECK(mkdir(box, 0700) == 0 && mkdir(dest, 0700) == 0);
	u = mg__unpack_new(ctx, dest, flags, 0, n_top + 1u, on_error, &seen, &errmsg);
	FUZZ_CHECK(u != NULL);
	while (!fz_empty(&f)) {
		size_t n;
		const uint8_t *p = fz_chunk(&f, &n);

		mg__unpack_feed(u, p, n);
	}
	failed = mg__unpack_finish(u, 0);
	FUZZ_CHECK(failed == seen);
	talloc_free(ctx);
	FUZZ_CHECK(only(root, "box") && only(box, "dest"));
	nftw(box, no_temp, 16, FTW_PHYS);
	nftw(box, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	FUZZ_LEAKS_END;
	return 0;
}
