/*
 * Unit tests for the file service's codecs and receiving end
 * (lib/svc/file-rec.c, svc-file.c, file-unpack.c): records round-trip,
 * the checksum is the documented one however the bytes are split,
 * requests refuse what they must, and a stream fed byte by byte writes
 * the same tree as one fed at once, refusing unsafe names.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "mitogen/error.h"
#include "svc-file.h"

static void test_hash_vectors(void)
{
	/* The same values as tests/stubs/hostile/file-evil's Python. */
	static const struct {
		size_t n;
		uint64_t h;
	} v[] = { { 0, 0x6d3f5e83a497d708ull }, { 1, 0x466edb41deaabdefull } };
	uint8_t buf[768];
	struct mg__hash s;

	for (size_t i = 0; i < 2; i++) {
		mg__hash_init(&s);
		mg__hash_update(&s, (const uint8_t *)"a", v[i].n);
		ASSERT_INT_EQ(mg__hash_final(&s), v[i].h);
	}
	mg__hash_init(&s);
	mg__hash_update(&s, (const uint8_t *)"good\n", 5);
	ASSERT_INT_EQ(mg__hash_final(&s), 0xf0e5b5d7ac96fa44ull);
	for (size_t i = 0; i < sizeof(buf); i++) {
		buf[i] = (uint8_t)i;
	}
	/* Every split of the bytes in two gives the same value. */
	for (size_t cut = 0; cut <= sizeof(buf); cut += 7) {
		mg__hash_init(&s);
		mg__hash_update(&s, buf, cut);
		mg__hash_update(&s, buf + cut, sizeof(buf) - cut);
		ASSERT_INT_EQ(mg__hash_final(&s), 0x738260e457dd2016ull);
	}
	/* One byte changed changes it. */
	buf[300] ^= 1;
	mg__hash_init(&s);
	mg__hash_update(&s, buf, sizeof(buf));
	ASSERT_INT_NE(mg__hash_final(&s), 0x738260e457dd2016ull);
}

static void test_records(void)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	struct mg_buf *b = mg__buf_new(tmp, MG__REC_MAX);
	struct mg__rec_meta in = { .type = MG__REC_LINK, .path = "a/b", .path_len = 3,
				   .mode = 0755, .mtime_s = 5, .mtime_ns = 6, .atime_s = 7,
				   .atime_ns = 8, .uid = 9, .gid = 10, .target = "../t",
				   .target_len = 4 };
	struct mg__rec_meta out;

	ASSERT_INT_EQ(mg__rec_encode(b, &in), 0);
	ASSERT_INT_EQ(b->data[0], 'L');
	ASSERT_INT_EQ(mg__get_be32(b->data + 1), b->len - MG__REC_PREFIX);
	ASSERT_INT_EQ(mg__rec_decode('L', b->data + 5, b->len - 5, &out), 0);
	ASSERT_INT_EQ(out.path_len, 3);
	ASSERT_TRUE(memcmp(out.path, "a/b", 3) == 0);
	ASSERT_INT_EQ(out.mode, 0755);
	ASSERT_INT_EQ(out.mtime_s, 5);
	ASSERT_INT_EQ(out.atime_ns, 8);
	ASSERT_INT_EQ(out.gid, 10);
	ASSERT_TRUE(out.target_len == 4 && memcmp(out.target, "../t", 4) == 0);
	/* Every shorter length is refused; an unknown type too. */
	for (size_t n = 0; n < b->len - 5; n++) {
		ASSERT_INT_EQ(mg__rec_decode('L', b->data + 5, n, &out), MG_ERR_PROTOCOL);
	}
	ASSERT_INT_EQ(mg__rec_decode('?', b->data + 5, b->len - 5, &out), MG_ERR_PROTOCOL);
	/* A null string is no path. */
	b->len = 0;
	mg__buf_put_u8(b, 'E');
	mg__buf_put_u32(b, 8);
	mg__buf_put_str(b, NULL);
	mg__buf_put_str(b, "");
	ASSERT_INT_EQ(mg__rec_decode('E', b->data + 5, 8, &out), MG_ERR_PROTOCOL);
	/* A file in pieces has the fields of 'F'; a 'B' has none to decode
	 * (its length is of the bytes after it). */
	b->len = 0;
	in = (struct mg__rec_meta){ .type = MG__REC_CFILE, .path = "f", .path_len = 1,
				    .mode = 0600, .size = 1ull << 40 };
	ASSERT_INT_EQ(mg__rec_encode(b, &in), 0);
	ASSERT_INT_EQ(mg__rec_decode('C', b->data + 5, b->len - 5, &out), 0);
	ASSERT_INT_EQ(out.size, 1ull << 40);
	ASSERT_INT_EQ(out.mode, 0600);
	ASSERT_INT_EQ(mg__rec_decode('C', b->data + 5, b->len - 6, &out), MG_ERR_PROTOCOL);
	ASSERT_INT_EQ(mg__rec_decode('B', b->data + 5, b->len - 5, &out), MG_ERR_PROTOCOL);
	talloc_free(tmp);
}

static void test_requests(void)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	struct mg_buf *b = mg__buf_new(tmp, 4096);
	struct mg__file_push_req rq = { .dest = "/d", .flags = MG__FILE_RECURSIVE, .n_top = 2,
					.h_ack = 1001, .h_report = 1002 }, back;
	struct mg__file_pull_req pq;
	const char *srcs[] = { "a", "b c", NULL };
	const char *empty[] = { "x", "", NULL };

	ASSERT_INT_EQ(mg__file_push_req_encode(b, &rq), 0);
	ASSERT_INT_EQ(mg__file_push_req_decode(tmp, b->data, b->len, &back), 0);
	ASSERT_STR_EQ(back.dest, "/d");
	ASSERT_INT_EQ(back.n_top, 2);
	ASSERT_INT_EQ(back.h_report, 1002);
	for (size_t n = 0; n < b->len; n++) {
		ASSERT_INT_EQ(mg__file_push_req_decode(tmp, b->data, n, &back), MG_ERR_PROTOCOL);
	}
	rq.flags = 0x100;
	b->len = 0;
	mg__file_push_req_encode(b, &rq);
	ASSERT_INT_EQ(mg__file_push_req_decode(tmp, b->data, b->len, &back), MG_ERR_PROTOCOL);
	rq.flags = 0;
	rq.n_top = 0;
	b->len = 0;
	mg__file_push_req_encode(b, &rq);
	ASSERT_INT_EQ(mg__file_push_req_decode(tmp, b->data, b->len, &back), MG_ERR_PROTOCOL);

	b->len = 0;
	ASSERT_INT_EQ(mg__file_pull_req_encode(b, srcs, MG__FILE_LINKS, 1003, false), 0);
	ASSERT_INT_EQ(mg__file_pull_req_decode(tmp, b->data, b->len, &pq), 0);
	ASSERT_STR_EQ(pq.srcs[1], "b c");
	ASSERT_PTR_NULL(pq.srcs[2]);
	ASSERT_INT_EQ(pq.h_data, 1003);
	ASSERT_TRUE(!pq.want_total);
	/* The optional trailing u8: a total asked for. */
	b->len = 0;
	ASSERT_INT_EQ(mg__file_pull_req_encode(b, srcs, 0, 1003, true), 0);
	ASSERT_INT_EQ(mg__file_pull_req_decode(tmp, b->data, b->len, &pq), 0);
	ASSERT_TRUE(pq.want_total);
	b->len = 0;
	mg__file_pull_req_encode(b, empty, 0, 1, false);
	ASSERT_INT_EQ(mg__file_pull_req_decode(tmp, b->data, b->len, &pq), MG_ERR_PROTOCOL);
	talloc_free(tmp);
}

/* --- the receiving end --- */

static void rec(struct mg_buf *b, char type, const char *path, const char *target,
		uint64_t size)
{
	struct mg__rec_meta m = { .type = type, .path = path, .path_len = path ? strlen(path) : 0,
				  .mode = 0640, .target = target,
				  .target_len = target ? strlen(target) : 0, .size = size };

	mg__rec_encode(b, &m);
}

static void file(struct mg_buf *b, const char *path, const char *data, bool good)
{
	struct mg__hash h;
	struct mg__rec_meta t = { .type = MG__REC_TAIL };

	rec(b, MG__REC_FILE, path, NULL, strlen(data));
	mg__buf_put(b, data, strlen(data));
	mg__hash_init(&h);
	mg__hash_update(&h, (const uint8_t *)data, strlen(data));
	t.hash = mg__hash_final(&h) ^ (good ? 0 : 1);
	mg__rec_encode(b, &t);
}

/* A 'C' file: data in 'B' records of 'piece' bytes, then its tail. */
static void cfile(struct mg_buf *b, const char *path, const char *data, size_t piece)
{
	size_t n = strlen(data);
	struct mg__rec_meta t = { .type = MG__REC_TAIL };
	struct mg__hash h;

	rec(b, MG__REC_CFILE, path, NULL, n);
	for (size_t off = 0; off < n; off += piece) {
		size_t k = n - off < piece ? n - off : piece;

		mg__buf_put_u8(b, MG__REC_BYTES);
		mg__buf_put_u32(b, (uint32_t)k);
		mg__buf_put(b, data + off, k);
	}
	mg__hash_init(&h);
	mg__hash_update(&h, (const uint8_t *)data, n);
	t.hash = mg__hash_final(&h);
	mg__rec_encode(b, &t);
}

/* A 'C' file of 'size' bytes that ends after 'data' with a tail saying
 * err (0: a tail that claims it whole). */
static void cfile_short(struct mg_buf *b, const char *path, uint64_t size, const char *data,
			uint32_t err)
{
	struct mg__rec_meta t = { .type = MG__REC_TAIL, .err = err };
	struct mg__hash h;

	rec(b, MG__REC_CFILE, path, NULL, size);
	if (data[0] != '\0') {
		mg__buf_put_u8(b, MG__REC_BYTES);
		mg__buf_put_u32(b, (uint32_t)strlen(data));
		mg__buf_put(b, data, strlen(data));
	}
	mg__hash_init(&h);
	mg__hash_update(&h, (const uint8_t *)data, strlen(data));
	t.hash = mg__hash_final(&h);
	mg__rec_encode(b, &t);
}

static struct mg_buf *stream(TALLOC_CTX *mem_ctx)
{
	struct mg_buf *b = mg__buf_new(mem_ctx, 65536);

	rec(b, MG__REC_DIR, "top", NULL, 0);
	file(b, "top/a", "alpha\n", true);
	file(b, "top/../up", "evil\n", true);
	file(b, "/abs", "evil\n", true);
	file(b, "top/bad", "bad sum\n", true);
	b->data[b->len - 5] ^= 0xff;  /* the checksum's last byte */
	rec(b, MG__REC_LINK, "top/l", "/", 0);
	file(b, "top/l/through", "evil\n", true);
	rec(b, MG__REC_ERROR, "/src/x", "Permission denied", 0);
	rec(b, MG__REC_DIR, "top/d", NULL, 0);
	file(b, "top/d/empty", "", true);
	rec(b, MG__REC_HARD, "top/h", "top/a", 0);
	rec(b, MG__REC_HARD, "top/h2", "top/../../x", 0);
	rec(b, MG__REC_END, NULL, NULL, 0);
	return b;
}

struct seen {
	int n, at_source;
	char text[2048];
};

static void on_error(void *data, bool at_source, const char *path, const char *msg)
{
	struct seen *s = data;
	size_t len = strlen(s->text);

	s->n++;
	s->at_source += at_source;
	snprintf(s->text + len, sizeof(s->text) - len, "%s: %s\n", path, msg);
}

static int rm_one(const char *p, const struct stat *st, int type, struct FTW *f)
{
	return remove(p);
}

static char *slurp(TALLOC_CTX *mem_ctx, const char *path)
{
	char buf[256];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;

	if (fd >= 0) {
		close(fd);
	}
	if (n < 0) {
		return NULL;
	}
	buf[n] = '\0';
	return talloc_strdup(mem_ctx, buf);
}

/* The stream in frames of 'size' bytes of it (-z). */
static struct mg_buf *framed(TALLOC_CTX *mem_ctx, const struct mg_buf *raw, size_t size)
{
	struct mg__zenc *z = mg__zenc_new(mem_ctx);
	struct mg_buf *b = mg__buf_new(mem_ctx, 2 * raw->len + 65536);

	if (z == NULL || b == NULL || mg__buf_reserve(b, 2 * raw->len + 65536) != 0) {
		return NULL;
	}
	for (size_t off = 0; off < raw->len; off += size) {
		size_t k = raw->len - off < size ? raw->len - off : size;

		size_t got;

		/* In uneven steps, as a sender between loop turns. */
		mg__zenc_start(z, raw->data + off, k, b->data + b->len);
		while ((got = mg__zenc_step(z, 1 + off % 5000)) == 0) {
		}
		b->len += got;
	}
	return b;
}

/* Feed the stream in pieces of 'step' bytes into a new DIR/dest; in
 * frames of 'frame' bytes of it when not 0. */
static void unpack_in_steps(size_t step, size_t frame)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	char dir[] = "/tmp/test-file.XXXXXX";
	struct mg_buf *b = frame > 0 ? framed(tmp, stream(tmp), frame) : stream(tmp);
	struct seen s = { 0 };
	struct mg__unpack *u;
	char *errmsg = NULL, *dest, *p;
	struct stat st, st2;

	ASSERT_PTR_NOT_NULL(mkdtemp(dir));
	dest = talloc_asprintf(tmp, "%s/dest", dir);
	mkdir(dest, 0755);
	ASSERT_PTR_NOT_NULL(b);
	u = mg__unpack_new(tmp, dest,
			   MG__FILE_RECURSIVE | MG__FILE_LINKS | (frame > 0 ? MG__FILE_COMPRESS : 0), 0, 1,
			   on_error, &s, &errmsg);
	ASSERT_PTR_NOT_NULL(u);
	for (size_t off = 0; u != NULL && off < b->len; off += step) {
		mg__unpack_feed(u, b->data + off, off + step <= b->len ? step : b->len - off);
	}
	ASSERT_INT_EQ(mg__unpack_finish(u, 0), 6);
	ASSERT_INT_EQ(s.n, 6);
	ASSERT_INT_EQ(s.at_source, 1);
	ASSERT_STR_CONTAINS(s.text, "top/../up: unsafe name");
	ASSERT_STR_CONTAINS(s.text, "/abs: unsafe name");
	ASSERT_STR_CONTAINS(s.text, "top/bad: checksum mismatch");
	ASSERT_STR_CONTAINS(s.text, "top/l/through: Not a directory");
	ASSERT_STR_CONTAINS(s.text, "/src/x: Permission denied");
	ASSERT_STR_CONTAINS(s.text, "top/h2: unsafe hard link");
	p = slurp(tmp, talloc_asprintf(tmp, "%s/top/a", dest));
	ASSERT_STR_EQ(p != NULL ? p : "(none)", "alpha\n");
	ASSERT_INT_EQ(stat(talloc_asprintf(tmp, "%s/top/d/empty", dest), &st), 0);
	ASSERT_INT_EQ(st.st_size, 0);
	ASSERT_INT_EQ(lstat(talloc_asprintf(tmp, "%s/top/bad", dest), &st2), -1);
	ASSERT_INT_EQ(lstat(talloc_asprintf(tmp, "%s/up", dir), &st2), -1);
	/* A hard link within the tree is one file with two names. */
	ASSERT_INT_EQ(stat(talloc_asprintf(tmp, "%s/top/a", dest), &st), 0);
	ASSERT_INT_EQ(stat(talloc_asprintf(tmp, "%s/top/h", dest), &st2), 0);
	ASSERT_INT_EQ(st.st_ino, st2.st_ino);
	/* A fresh directory gets its mode at the end: 0640 less the umask
	 * (022 in the test run or not, never more than 0640). */
	ASSERT_INT_EQ(stat(talloc_asprintf(tmp, "%s/top", dest), &st2), 0);
	ASSERT_INT_EQ(st2.st_mode & 07027, 0);
	talloc_free(u);
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	talloc_free(tmp);
}

static void test_unpack_at_once(void)
{
	unpack_in_steps(65536, 0);
}

static void test_unpack_byte_by_byte(void)
{
	unpack_in_steps(1, 0);
	unpack_in_steps(7, 0);
}

/* -z: frames of every size, deflated or stored, fed whole or in bits. */
static void test_unpack_frames(void)
{
	unpack_in_steps(65536, 65536);
	unpack_in_steps(1, 65536);
	unpack_in_steps(65536, 37);
	unpack_in_steps(3, 200);
}

/* Frames that break the rules: the file being written fails, named. */
static void test_unpack_bad_frames(void)
{
	static const uint8_t bad[][9] = {
		{ 'D', 0, 0, 0, 4, 0xff, 0xff, 0xff, 0xff },  /* no such block type */
		{ 'S', 0, 2, 0, 1, 0, 0, 0, 0 },              /* longer than a frame */
		{ 'D', 0, 0, 0, 0, 0, 0, 0, 0 },              /* empty */
		{ 'X', 0, 0, 0, 4, 0, 0, 0, 0 },              /* no such kind */
	};
	TALLOC_CTX *tmp = talloc_new(NULL);
	char dir[] = "/tmp/test-file.XXXXXX";
	struct mg_buf *raw = mg__buf_new(tmp, 65536), *b;

	ASSERT_PTR_NOT_NULL(mkdtemp(dir));
	rec(raw, MG__REC_DIR, "top", NULL, 0);
	file(raw, "top/a", "alpha\n", true);
	rec(raw, MG__REC_FILE, "top/victim", NULL, 1000);
	mg__buf_put(raw, "vvvvvvvvvv", 10);
	b = framed(tmp, raw, 65536);
	ASSERT_PTR_NOT_NULL(b);
	for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		struct seen s = { 0 };
		char *errmsg = NULL, *dest = talloc_asprintf(tmp, "%s/d%zu", dir, k);
		struct mg__unpack *u = mg__unpack_new(tmp, dest, MG__FILE_RECURSIVE | MG__FILE_COMPRESS, 0,
						      1, on_error, &s, &errmsg);

		ASSERT_PTR_NOT_NULL(u);
		mg__unpack_feed(u, b->data, b->len);
		mg__unpack_feed(u, bad[k], sizeof(bad[k]));
		mg__unpack_feed(u, b->data, b->len);  /* nothing more is read */
		ASSERT_INT_EQ(mg__unpack_finish(u, 0), 1);
		ASSERT_STR_CONTAINS(s.text, "/victim: corrupt compressed data from the far end");
		ASSERT_STR_EQ(slurp(tmp, talloc_asprintf(tmp, "%s/a", dest)), "alpha\n");
		ASSERT_INT_EQ(access(talloc_asprintf(tmp, "%s/victim", dest), F_OK), -1);
		talloc_free(u);
	}
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	talloc_free(tmp);
}

static void test_unpack_cut_and_dest(void)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	char dir[] = "/tmp/test-file.XXXXXX";
	struct mg_buf *b = stream(tmp);
	struct seen s = { 0 };
	struct mg__unpack *u;
	char *errmsg = NULL, *dest;

	ASSERT_PTR_NOT_NULL(mkdtemp(dir));
	/* Two sources need a directory; DEST/ its directory. */
	dest = talloc_asprintf(tmp, "%s/none", dir);
	ASSERT_PTR_NULL(mg__unpack_new(tmp, dest, 0, 0, 2, on_error, &s, &errmsg));
	ASSERT_STR_CONTAINS(errmsg, "none: No such file or directory");
	ASSERT_PTR_NULL(mg__unpack_new(tmp, talloc_asprintf(tmp, "%s/no/none/", dir), MG__FILE_INTO, 0,
				       1, on_error, &s, &errmsg));
	ASSERT_STR_CONTAINS(errmsg, "no/none/: No such file or directory");
	/* One source to a new name: the top is renamed; a stream cut in a
	 * file leaves nothing of it. */
	u = mg__unpack_new(tmp, dest, MG__FILE_RECURSIVE, 0, 1, on_error, &s, &errmsg);
	ASSERT_PTR_NOT_NULL(u);
	mg__unpack_feed(u, b->data, 60);
	ASSERT_INT_EQ(mg__unpack_finish(u, 0), 1);
	ASSERT_STR_CONTAINS(s.text, "the transfer was cut short");
	ASSERT_INT_EQ(access(talloc_asprintf(tmp, "%s/none", dir), F_OK), 0);
	ASSERT_INT_EQ(access(talloc_asprintf(tmp, "%s/none/a", dir), F_OK), -1);
	talloc_free(u);
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	talloc_free(tmp);
}

/* A stream of directory "top" and its file "top/a", for records after. */
static struct mg_buf *top_and_a(TALLOC_CTX *mem_ctx)
{
	struct mg_buf *b = mg__buf_new(mem_ctx, 4096);

	rec(b, MG__REC_DIR, "top", NULL, 0);
	file(b, "top/a", "alpha\n", true);
	return b;
}

/* The whole stream b unpacked into dir with 'flags': finish says 'want'. */
static void unpack_all(TALLOC_CTX *mem_ctx, const char *dir, uint32_t flags, const struct mg_buf *b,
		       struct seen *s, int want)
{
	char *errmsg = NULL;
	struct mg__unpack *u = mg__unpack_new(mem_ctx, dir, flags, 0, 1, on_error, s, &errmsg);

	ASSERT_PTR_NOT_NULL(u);
	mg__unpack_feed(u, b->data, b->len);
	ASSERT_INT_EQ(mg__unpack_finish(u, 0), want);
	talloc_free(u);
}

/* A hard link whose name already is that file (a second -a run where
 * the file itself failed): rename(2) of one link over another of the
 * same file does nothing, so the temporary name must go all the same. */
static void test_unpack_hard_link_again(void)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	char dir[] = "/tmp/test-file.XXXXXX";
	struct mg_buf *b = top_and_a(tmp);
	struct seen s = { 0 };
	struct stat st, st2;

	ASSERT_PTR_NOT_NULL(mkdtemp(dir));
	rec(b, MG__REC_HARD, "top/h", "top/a", 0);
	rec(b, MG__REC_HARD, "top/h", "top/a", 0);
	rec(b, MG__REC_END, NULL, NULL, 0);
	unpack_all(tmp, dir, MG__FILE_RECURSIVE | MG__FILE_LINKS, b, &s, 0);
	ASSERT_INT_EQ(stat(talloc_asprintf(tmp, "%s/top/a", dir), &st), 0);
	ASSERT_INT_EQ(stat(talloc_asprintf(tmp, "%s/top/h", dir), &st2), 0);
	ASSERT_INT_EQ(st.st_ino, st2.st_ino);
	ASSERT_INT_EQ(st.st_nlink, 2);  /* no third name, a temporary one */
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	talloc_free(tmp);
}

/* Without MG__FILE_LINKS (-r, not -a) the sender follows symlinks: a
 * link it sends anyway is refused, never planted in the copy. */
static void test_unpack_links_not_asked(void)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	char dir[] = "/tmp/test-file.XXXXXX";
	struct mg_buf *b = top_and_a(tmp);
	struct seen s = { 0 };
	struct stat st;

	ASSERT_PTR_NOT_NULL(mkdtemp(dir));
	rec(b, MG__REC_LINK, "top/l", "/etc/passwd", 0);
	rec(b, MG__REC_HARD, "top/h", "top/a", 0);
	rec(b, MG__REC_END, NULL, NULL, 0);
	unpack_all(tmp, dir, MG__FILE_RECURSIVE, b, &s, 2);
	ASSERT_STR_CONTAINS(s.text, "top/l: a link from the far end without -a (refused)");
	ASSERT_STR_CONTAINS(s.text, "top/h: a link from the far end without -a (refused)");
	ASSERT_INT_EQ(lstat(talloc_asprintf(tmp, "%s/top/l", dir), &st), -1);
	ASSERT_INT_EQ(lstat(talloc_asprintf(tmp, "%s/top/h", dir), &st), -1);
	ASSERT_INT_EQ(lstat(talloc_asprintf(tmp, "%s/top/a", dir), &st), 0);
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	talloc_free(tmp);
}

/* A directory record with mode 0755 and mtime 'mtime' (as -p sends). */
static void dir_rec(struct mg_buf *b, const char *path, uint64_t mtime)
{
	struct mg__rec_meta m = { .type = MG__REC_DIR, .path = path, .path_len = strlen(path),
				  .mode = 0755, .mtime_s = mtime, .atime_s = mtime };

	mg__rec_encode(b, &m);
}

static long long mtime_of(TALLOC_CTX *mem_ctx, const char *dir, const char *rel)
{
	struct stat st;

	return stat(talloc_asprintf(mem_ctx, "%s/%s", dir, rel), &st) == 0 ? (long long)st.st_mtime : -1;
}

/* -p: each directory gets its times once the stream is done with what
 * is in it (the files written there changed them); the sender's order
 * is the tree's, a directory's records right after its own. */
static void test_unpack_dir_times(void)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	char dir[] = "/tmp/test-file.XXXXXX";
	struct mg_buf *b = mg__buf_new(tmp, 4096);
	struct seen s = { 0 };

	ASSERT_PTR_NOT_NULL(mkdtemp(dir));
	dir_rec(b, "top", 1000);
	dir_rec(b, "top/d", 2000);
	file(b, "top/d/f", "f\n", true);
	dir_rec(b, "top/d/deep", 2500);
	file(b, "top/d/deep/g", "g\n", true);
	dir_rec(b, "top/e", 3000);
	file(b, "top/e/g", "g\n", true);
	file(b, "top/h", "h\n", true);
	rec(b, MG__REC_END, NULL, NULL, 0);
	unpack_all(tmp, dir, MG__FILE_RECURSIVE | MG__FILE_PRESERVE, b, &s, 0);
	ASSERT_INT_EQ(mtime_of(tmp, dir, "top"), 1000);
	ASSERT_INT_EQ(mtime_of(tmp, dir, "top/d"), 2000);
	ASSERT_INT_EQ(mtime_of(tmp, dir, "top/d/deep"), 2500);
	ASSERT_INT_EQ(mtime_of(tmp, dir, "top/e"), 3000);
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	talloc_free(tmp);
}

/* A hostile sender repeating directory records (the same directory, or
 * siblings that already exist) costs the receiver no memory per record:
 * what -p fixes up at the end is bounded by the depth of the tree, not
 * by the length of the stream. */
static void test_unpack_dir_records_bounded(void)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	char dir[] = "/tmp/test-file.XXXXXX";
	struct mg_buf *b = mg__buf_new(tmp, 4096);
	struct seen s = { 0 };
	char *errmsg = NULL;
	struct mg__unpack *u;
	size_t first;

	ASSERT_PTR_NOT_NULL(mkdtemp(dir));
	u = mg__unpack_new(tmp, dir, MG__FILE_RECURSIVE | MG__FILE_PRESERVE, 0, 1, on_error, &s, &errmsg);
	ASSERT_PTR_NOT_NULL(u);
	dir_rec(b, "top", 1000);
	dir_rec(b, "top/a", 2000);
	dir_rec(b, "top/b", 3000);
	for (int i = 0; i < 100; i++) {
		mg__unpack_feed(u, b->data, b->len);
	}
	first = talloc_total_size(u);
	for (int i = 0; i < 50000; i++) {
		mg__unpack_feed(u, b->data, b->len);
	}
	ASSERT_INT_EQ(talloc_total_size(u), first);
	b->len = 0;
	rec(b, MG__REC_END, NULL, NULL, 0);
	mg__unpack_feed(u, b->data, b->len);
	ASSERT_INT_EQ(mg__unpack_finish(u, 0), 0);
	talloc_free(u);
	ASSERT_INT_EQ(mtime_of(tmp, dir, "top"), 1000);
	ASSERT_INT_EQ(mtime_of(tmp, dir, "top/a"), 2000);
	ASSERT_INT_EQ(mtime_of(tmp, dir, "top/b"), 3000);
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	talloc_free(tmp);
}

/* The names of the sources go with a push or a relay (after its ids),
 * and the receiver writes nothing else into a DEST that exists: a far
 * end cannot put a file beside the sources (scp's CVE-2019-6111). A
 * source ending in . is named at the sender: any one name for it. */
static void test_unpack_names(void)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	char dir[] = "/tmp/test-file.XXXXXX";
	const char *srcs[] = { "/a/top/", "x", "/", "d/.", NULL };
	char **names = mg__file_src_names(tmp, srcs);
	struct mg__file_push_req rq = { .dest = "/d", .n_top = 4, .h_ack = 1, .h_report = 2,
					.names = (const char *const *)names }, back;
	struct mg_buf *b = mg__buf_new(tmp, 4096);
	struct seen s = { 0 };
	uint32_t *ids, n;
	char *errmsg = NULL;
	struct mg__unpack *u;
	struct stat st;

	ASSERT_STR_EQ(names[0], "top");
	ASSERT_STR_EQ(names[1], "x");
	ASSERT_STR_EQ(names[2], "");
	ASSERT_PTR_NULL(names[3]);
	ASSERT_INT_EQ(mg__file_push_req_encode(b, &rq) | mg__file_names_encode(b, &rq), 0);
	ASSERT_INT_EQ(mg__file_push_req_decode(tmp, b->data, b->len, &back), 0);
	ASSERT_STR_EQ(back.names[0], "top");
	ASSERT_STR_EQ(back.names[2], "");
	b->len = 0;
	rq.names = NULL;
	mg__file_push_req_encode(b, &rq);
	ASSERT_INT_EQ(mg__file_push_req_decode(tmp, b->data, b->len, &back), 0);
	ASSERT_PTR_NULL(back.names);
	mg__buf_put_u32(b, 1);
	mg__buf_put_u32(b, 7);
	rq.names = (const char *const *)names;
	mg__file_names_encode(b, &rq);
	ASSERT_INT_EQ(mg__file_relay_req_decode(tmp, b->data, b->len, &back, &ids, &n), 0);
	ASSERT_INT_EQ(n, 1);
	ASSERT_STR_EQ(back.names[1], "x");
	b->len = 0;
	mg__file_push_req_encode(b, &rq);
	mg__buf_put_strv(b, (const char *const[]){ "../x", NULL });
	ASSERT_INT_EQ(mg__file_push_req_decode(tmp, b->data, b->len, &back), MG_ERR_PROTOCOL);

	ASSERT_PTR_NOT_NULL(mkdtemp(dir));
	b = top_and_a(tmp);
	/* d/. at the sender: the first name not asked for is its. */
	rec(b, MG__REC_DIR, "d", NULL, 0);
	file(b, "d/f", "d\n", true);
	file(b, ".profile", "evil\n", true);
	rec(b, MG__REC_DIR, "planted", NULL, 0);
	file(b, "planted/f", "evil\n", true);
	rec(b, MG__REC_HARD, "top/h", "planted/f", 0);
	rec(b, MG__REC_END, NULL, NULL, 0);
	u = mg__unpack_new(tmp, dir, MG__FILE_RECURSIVE | MG__FILE_LINKS, 0, 4, on_error, &s, &errmsg);
	ASSERT_PTR_NOT_NULL(u);
	ASSERT_INT_EQ(mg__unpack_expect(u, (const char *const *)names), 0);
	mg__unpack_feed(u, b->data, b->len);
	ASSERT_INT_EQ(mg__unpack_finish(u, 0), 4);
	ASSERT_STR_CONTAINS(s.text, "/.profile: not a name of the sources asked for");
	ASSERT_STR_CONTAINS(s.text, "/planted: not a name of the sources asked for");
	ASSERT_STR_CONTAINS(s.text, "/planted/f: not a name of the sources asked for");
	ASSERT_STR_CONTAINS(s.text, "/top/h: not a name of the sources asked for");
	ASSERT_INT_EQ(s.n, 4);
	ASSERT_INT_EQ(stat(talloc_asprintf(tmp, "%s/top/a", dir), &st), 0);
	ASSERT_INT_EQ(stat(talloc_asprintf(tmp, "%s/d/f", dir), &st), 0);
	ASSERT_INT_EQ(lstat(talloc_asprintf(tmp, "%s/.profile", dir), &st), -1);
	ASSERT_INT_EQ(lstat(talloc_asprintf(tmp, "%s/planted", dir), &st), -1);
	talloc_free(u);
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	talloc_free(tmp);
}

/* Only 'names' (sorted, NULL-terminated) are in dir: no temporary file. */
static void only_names(const char *dir, const char *const *names)
{
	struct dirent **v;
	int n = scandir(dir, &v, NULL, alphasort), k = 0;

	ASSERT_TRUE(n >= 0);
	for (int i = 0; i < n; i++) {
		if (strcmp(v[i]->d_name, ".") != 0 && strcmp(v[i]->d_name, "..") != 0) {
			ASSERT_PTR_NOT_NULL(names[k]);
			ASSERT_STR_EQ(v[i]->d_name, names[k]);
			k++;
		}
		free(v[i]);
	}
	free(v);
	ASSERT_PTR_NULL(names[k]);
}

/* A file in pieces arrives whole however the stream is cut; one that
 * ends early (it shrank at the source, or a read failed there) is
 * dropped at once, the old file kept, and the stream goes on. */
static void pieces_in_steps(size_t step)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	char dir[] = "/tmp/test-file.XXXXXX";
	struct mg_buf *b = mg__buf_new(tmp, 65536);
	struct seen s = { 0 };
	struct mg__unpack *u;
	char *errmsg = NULL, *top;
	uint64_t files, bytes;
	int fd;

	ASSERT_PTR_NOT_NULL(mkdtemp(dir));
	top = talloc_asprintf(tmp, "%s/top", dir);
	ASSERT_INT_EQ(mkdir(top, 0755), 0);
	fd = open(talloc_asprintf(tmp, "%s/shrunk", top), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	ASSERT_INT_EQ(write(fd, "old\n", 4), 4);
	close(fd);
	rec(b, MG__REC_DIR, "top", NULL, 0);
	cfile(b, "top/a", "alpha, in pieces\n", 3);
	cfile(b, "top/empty", "", 1);
	/* 1 TiB announced: what is missing is never waited for. */
	cfile_short(b, "top/shrunk", 1ull << 40, "abc", MG__FILE_SHRANK);
	cfile_short(b, "top/eio", 100, "", EIO);
	cfile(b, "top/after", "after\n", 65536);
	rec(b, MG__REC_END, NULL, NULL, 0);
	u = mg__unpack_new(tmp, dir, MG__FILE_RECURSIVE | MG__FILE_PRESERVE, 0, 1, on_error, &s,
			   &errmsg);
	ASSERT_PTR_NOT_NULL(u);
	for (size_t off = 0; off < b->len; off += step) {
		mg__unpack_feed(u, b->data + off, off + step <= b->len ? step : b->len - off);
	}
	ASSERT_INT_EQ(mg__unpack_finish(u, 0), 2);
	ASSERT_STR_CONTAINS(s.text, "top/shrunk: the source shrank while it was read (not copied)\n");
	ASSERT_STR_CONTAINS(s.text, "top/eio: read error at the source: Input/output error\n");
	ASSERT_INT_EQ(s.n, 2);
	ASSERT_STR_EQ(slurp(tmp, talloc_asprintf(tmp, "%s/a", top)), "alpha, in pieces\n");
	ASSERT_STR_EQ(slurp(tmp, talloc_asprintf(tmp, "%s/empty", top)), "");
	ASSERT_STR_EQ(slurp(tmp, talloc_asprintf(tmp, "%s/after", top)), "after\n");
	ASSERT_STR_EQ(slurp(tmp, talloc_asprintf(tmp, "%s/shrunk", top)), "old\n");
	ASSERT_INT_EQ(access(talloc_asprintf(tmp, "%s/eio", top), F_OK), -1);
	only_names(top, (const char *const[]){ "a", "after", "empty", "shrunk", NULL });
	mg__unpack_counts(u, &files, &bytes);
	ASSERT_INT_EQ(files, 3);
	ASSERT_INT_EQ(bytes, 17 + 6);
	/* Every byte that came, the dropped file's too: no padding. */
	ASSERT_INT_EQ(mg__unpack_data_bytes(u), 17 + 3 + 6);
	talloc_free(u);
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	talloc_free(tmp);
}

static void test_unpack_pieces(void)
{
	pieces_in_steps(65536);
	pieces_in_steps(1);
	pieces_in_steps(6);
}

/* An early end or a piece where the stream has no file for it, twice,
 * with a tail that claims the file whole, or garbage: refused, the
 * stream dropped from there, nothing written and no temporary left. */
static void test_unpack_pieces_hostile(void)
{
	enum { CUT_NO_FILE, CUT_TWICE, CUT_AS_GOOD, CUT_GARBAGE, B_NO_FILE, B_IN_F, B_EMPTY,
	       B_PAST_SIZE, B_HUGE, B_AFTER_CUT, N_CASES };
	TALLOC_CTX *tmp = talloc_new(NULL);
	char dir[] = "/tmp/test-file.XXXXXX";

	ASSERT_PTR_NOT_NULL(mkdtemp(dir));
	for (int k = 0; k < N_CASES; k++) {
		struct mg_buf *b = mg__buf_new(tmp, 65536);
		struct mg__rec_meta t = { .type = MG__REC_TAIL, .err = MG__FILE_SHRANK };
		char *dest = talloc_asprintf(tmp, "%s/d%d", dir, k), *errmsg = NULL;
		struct seen s = { 0 };
		struct mg__unpack *u;

		ASSERT_INT_EQ(mkdir(dest, 0755), 0);
		rec(b, MG__REC_DIR, "top", NULL, 0);
		cfile(b, "top/a", "alpha\n", 4);
		switch (k) {
		case CUT_NO_FILE:
			mg__rec_encode(b, &t);
			break;
		case CUT_TWICE:
			cfile_short(b, "top/v", 10, "vv", MG__FILE_SHRANK);
			mg__rec_encode(b, &t);
			break;
		case CUT_AS_GOOD:
			cfile_short(b, "top/v", 10, "vv", 0);
			break;
		case CUT_GARBAGE:
			rec(b, MG__REC_CFILE, "top/v", NULL, 10);
			mg__buf_put(b, "T\0\0\0\3xyz", 8);
			break;
		case B_NO_FILE:
			mg__buf_put(b, "B\0\0\0\2vv", 7);
			break;
		case B_IN_F:
			rec(b, MG__REC_FILE, "top/v", NULL, 2);
			mg__buf_put(b, "vvB\0\0\0\2vv", 9);
			break;
		case B_EMPTY:
			rec(b, MG__REC_CFILE, "top/v", NULL, 10);
			mg__buf_put(b, "B\0\0\0\0", 5);
			break;
		case B_PAST_SIZE:
			rec(b, MG__REC_CFILE, "top/v", NULL, 2);
			mg__buf_put(b, "B\0\0\0\3vvv", 8);
			break;
		case B_HUGE:
			rec(b, MG__REC_CFILE, "top/v", NULL, 1ull << 40);
			mg__buf_put(b, "B\xff\xff\xff\xffvvvv", 9);
			break;
		case B_AFTER_CUT:
			cfile_short(b, "top/v", 10, "vv", MG__FILE_SHRANK);
			mg__buf_put(b, "B\0\0\0\2vv", 7);
			break;
		}
		cfile(b, "top/z", "not after a bad stream\n", 7);
		rec(b, MG__REC_END, NULL, NULL, 0);
		u = mg__unpack_new(tmp, dest, MG__FILE_RECURSIVE, 0, 1, on_error, &s, &errmsg);
		ASSERT_PTR_NOT_NULL(u);
		mg__unpack_feed(u, b->data, b->len);
		/* (One failure more where a file shrank before.) */
		ASSERT_INT_EQ(mg__unpack_finish(u, 0), k == CUT_TWICE || k == B_AFTER_CUT ? 2 : 1);
		ASSERT_STR_CONTAINS(s.text, ": corrupt file stream from the far end\n");
		ASSERT_STR_EQ(slurp(tmp, talloc_asprintf(tmp, "%s/top/a", dest)), "alpha\n");
		only_names(talloc_asprintf(tmp, "%s/top", dest),
			   (const char *const[]){ "a", NULL });
		talloc_free(u);
	}
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	talloc_free(tmp);
}

int main(void)
{
	TESTS_BEGIN();
	RUN(test_hash_vectors);
	RUN(test_records);
	RUN(test_requests);
	RUN(test_unpack_at_once);
	RUN(test_unpack_byte_by_byte);
	RUN(test_unpack_frames);
	RUN(test_unpack_bad_frames);
	RUN(test_unpack_cut_and_dest);
	RUN(test_unpack_hard_link_again);
	RUN(test_unpack_links_not_asked);
	RUN(test_unpack_dir_times);
	RUN(test_unpack_dir_records_bounded);
	RUN(test_unpack_names);
	RUN(test_unpack_pieces);
	RUN(test_unpack_pieces_hostile);
	return TESTS_END();
}
