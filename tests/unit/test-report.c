/* Unit tests for the many-target reporter (lib/report*.c). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "harness.h"
#include "mitogen/chain.h"
#include "report.h"
#include "report-private.h"

/* An anonymous temp file to print into and read back. */
static int tmpfd(void)
{
	char path[] = "/tmp/test-report-XXXXXX";
	int fd = mkstemp(path);

	if (fd >= 0) {
		unlink(path);
	}
	return fd;
}

/* Everything written to fd so far, NUL-terminated, on ctx. */
static char *slurp_n(TALLOC_CTX *ctx, int fd, size_t *_n)
{
	off_t end = lseek(fd, 0, SEEK_END);
	char *buf;

	if (end < 0) {
		return NULL;
	}
	buf = talloc_array(ctx, char, (size_t)end + 1);
	if (buf == NULL || pread(fd, buf, (size_t)end, 0) != end) {
		return NULL;
	}
	buf[end] = '\0';
	if (_n != NULL) {
		*_n = (size_t)end;
	}
	return buf;
}

static char *slurp(TALLOC_CTX *ctx, int fd)
{
	return slurp_n(ctx, fd, NULL);
}

static char *read_path(TALLOC_CTX *ctx, const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	char *s;

	if (fd < 0) {
		return NULL;
	}
	s = slurp(ctx, fd);
	close(fd);
	return s;
}

/* A report printing to out/err with targets named by 'names' (spaces). */
static struct mg_report *mk(TALLOC_CTX *ctx, enum mg_report_mode mode,
			    int out, int err, const char *names)
{
	struct mg_report_opts o = { .mode = mode, .out_fd = out, .err_fd = err };
	char *errmsg = NULL, *copy, *save = NULL;
	struct mg_report *rep = mg_report_new(ctx, &o, &errmsg);

	if (rep == NULL) {
		return NULL;
	}
	copy = talloc_strdup(ctx, names);
	for (char *w = strtok_r(copy, " ", &save); w != NULL;
	     w = strtok_r(NULL, " ", &save)) {
		char *chain = talloc_asprintf(ctx, "ssh:bastion/ssh:%s", w);

		if (mg_report_add(rep, w, chain) != 0) {
			return NULL;
		}
	}
	return rep;
}

static struct mg_target_result ran(int code, int sig)
{
	struct mg_target_result r = {
		.outcome = MG_OUTCOME_RAN, .exit_code = code, .signal = sig,
		.duration_ms = 1234,
	};
	return r;
}

static struct mg_target_result failed(int outcome, const char *msg)
{
	struct mg_target_result r = {
		.outcome = outcome, .exit_code = 0, .errmsg = msg,
	};
	return r;
}

static void out_str(struct mg_report *rep, size_t i, int stream,
		    const char *s)
{
	mg_report_output(rep, i, stream, s, strlen(s));
}

/* mg_report_names() of the chains of 'text', joined by spaces. */
static const char *names_of(TALLOC_CTX *ctx, const char *text)
{
	struct mg_chain_list *list = NULL;
	char *err = NULL, *out;
	char **names;

	if (mg_chain_parse(ctx, text, &list, &err) != 0) {
		return talloc_asprintf(ctx, "ERR: %s", err);
	}
	names = mg_report_names(ctx, list->chains, list->n_chains);
	if (names == NULL) {
		return "ENOMEM";
	}
	out = talloc_strdup(ctx, "");
	for (size_t i = 0; i < list->n_chains; i++) {
		out = talloc_asprintf_append(out, "%s%s", i > 0 ? " " : "",
					     names[i]);
	}
	if (names[list->n_chains] != NULL || talloc_parent(names) != ctx) {
		return "bad vector";
	}
	return out;
}

static void test_names_hosts(void)
{
	TALLOC_CTX *ctx = talloc_new(NULL);

	ASSERT_STR_EQ(names_of(ctx, "ssh:bastion/ssh:web[01-03]/sudo"),
		      "web01 web02 web03");
	ASSERT_STR_EQ(names_of(ctx, "docker:app,ssh:h1/docker:c1,"
			       "kubectl:pod1?container=x,ssh:h2/sudo:root,"
			       "ssh:h3/lxc:c3/sudo"),
		      "app c1 pod1 h2 c3");
	ASSERT_STR_EQ(names_of(ctx, "ssh:root@web9:2222"), "web9");
	talloc_free(ctx);
}

static void test_names_unique(void)
{
	TALLOC_CTX *ctx = talloc_new(NULL);

	/* The same host behind two bastions: both use the whole chain. */
	ASSERT_STR_EQ(names_of(ctx, "ssh:b1/ssh:web01/sudo,"
			       "ssh:b2/ssh:web01/sudo,ssh:b1/ssh:web02/sudo"),
		      "ssh=b1+ssh=web01+sudo ssh=b2+ssh=web01+sudo web02");
	ASSERT_STR_EQ(names_of(ctx, "ssh:alice@web1,ssh:bob@web1"),
		      "ssh=alice@web1 ssh=bob@web1");
	/* Chains without a host. */
	ASSERT_STR_EQ(names_of(ctx, "local,local/local,sudo:root"),
		      "local local+local sudo=root");
	/* A host named like a host-less chain. */
	ASSERT_STR_EQ(names_of(ctx, "local,ssh:local"), "local ssh=local");
	/* The same chain twice. */
	ASSERT_STR_EQ(names_of(ctx, "local,local,local"),
		      "local local#2 local#3");
	ASSERT_STR_EQ(names_of(ctx, "ssh:b/ssh:w1,ssh:b/ssh:w1,ssh:w2"),
		      "ssh=b+ssh=w1 ssh=b+ssh=w1#2 w2");
	/* Options: what clubak reads as node-set syntax, percent-encoded. */
	ASSERT_STR_EQ(names_of(ctx, "local?connect_timeout=6&remote_name=x,"
			       "docker:a%2Cb"),
		      "local%3Fconnect_timeout=6%26remote_name=x docker=a%2Cb");
	/* An IPv6 host has ':' in it: the path-safe chain instead. */
	ASSERT_STR_EQ(names_of(ctx, "ssh:[::1]:22"), "ssh=[==1]=22");
	talloc_free(ctx);
}

/* A name too long for NAME.out in a file name: cut, with a hash of the
 * whole, never in a UTF-8 character. */
static void test_file_stem(void)
{
	TALLOC_CTX *ctx = talloc_new(NULL);
	char name[400], *a, *b;

	ASSERT_STR_EQ(mg_report_file_stem(ctx, "local"), "local");
	memset(name, 'x', sizeof(name));
	name[MG_REPORT_STEM_MAX] = '\0';
	ASSERT_STR_EQ(mg_report_file_stem(ctx, name), name);
	name[MG_REPORT_STEM_MAX] = 'x';
	name[MG_REPORT_STEM_MAX + 1] = '\0';
	a = mg_report_file_stem(ctx, name);
	ASSERT_INT_EQ(strlen(a), MG_REPORT_STEM_MAX);
	ASSERT_TRUE(strncmp(a, name, MG_REPORT_STEM_CUT) == 0 && a[MG_REPORT_STEM_CUT] == '~');
	/* Stable; names alike but for their last byte: two stems. */
	name[MG_REPORT_STEM_MAX + 1] = 'x';
	name[399] = '\0';
	name[398] = 'a';
	ASSERT_STR_EQ(mg_report_file_stem(ctx, name), mg_report_file_stem(ctx, name));
	name[398] = 'b';
	b = mg_report_file_stem(ctx, name);
	name[398] = 'a';
	ASSERT_TRUE(strcmp(b, mg_report_file_stem(ctx, name)) != 0);
	/* "é" (2 bytes) across the cut: left out whole. */
	name[MG_REPORT_STEM_CUT - 1] = (char)0xc3;
	name[MG_REPORT_STEM_CUT] = (char)0xa9;
	a = mg_report_file_stem(ctx, name);
	ASSERT_INT_EQ(strlen(a), MG_REPORT_STEM_CUT - 1 + 17);
	ASSERT_INT_EQ(a[MG_REPORT_STEM_CUT - 1], '~');
	talloc_free(ctx);
}

static void test_names_many(void)
{
	TALLOC_CTX *ctx = talloc_new(NULL);
	struct mg_chain_list *list = NULL;
	char *err = NULL;
	char **names;

	ASSERT_INT_EQ(mg_chain_parse(ctx, "ssh:b[1-2]/ssh:n[1-2000]", &list,
				     &err), 0);
	ASSERT_INT_EQ(list->n_chains, 4000);
	names = mg_report_names(ctx, list->chains, list->n_chains);
	ASSERT_PTR_NOT_NULL(names);
	ASSERT_STR_EQ(names[0], "ssh=b1+ssh=n1");
	ASSERT_STR_EQ(names[3999], "ssh=b2+ssh=n2000");
	ASSERT_PTR_NOT_NULL(mg_report_names(ctx, NULL, 0));
	talloc_free(ctx);
}

static const char *fold(TALLOC_CTX *ctx, const char *const *v, size_t n)
{
	char *s = mg_report_fold(ctx, v, n);

	return s != NULL ? s : "(NULL)";
}

#define FOLD(ctx, ...) ({ static const char *const v_[] = { __VA_ARGS__ }; \
	fold(ctx, v_, sizeof(v_) / sizeof(v_[0])); })

static void test_fold(void)
{
	TALLOC_CTX *ctx = talloc_new(NULL);

	ASSERT_STR_EQ(FOLD(ctx, "web01", "web02", "web03", "web07", "db1"),
		      "db1,web[01-03,07]");
	ASSERT_STR_EQ(fold(ctx, NULL, 0), "");
	ASSERT_STR_EQ(FOLD(ctx, "web07"), "web07");
	ASSERT_STR_EQ(FOLD(ctx, "web7", "web9"), "web[7,9]");
	ASSERT_STR_EQ(FOLD(ctx, "n3", "n1", "n2"), "n[1-3]");
	/* Not numeric, sorted. */
	ASSERT_STR_EQ(FOLD(ctx, "localhost", "beta", "alpha"),
		      "alpha,beta,localhost");
	/* Sort order: text first, the bare word before the numbered. */
	ASSERT_STR_EQ(FOLD(ctx, "b2", "a10", "a9", "b1", "a"),
		      "a,a[9-10],b[1-2]");
	/* Duplicates dropped. */
	ASSERT_STR_EQ(FOLD(ctx, "x1", "x1", "x2", "y", "y"), "x[1-2],y");
	/* Text after the number. */
	ASSERT_STR_EQ(FOLD(ctx, "web1.example.com", "web2.example.com",
			   "web3.other"),
		      "web[1-2].example.com,web3.other");
	ASSERT_STR_EQ(FOLD(ctx, "node1-eth0", "node1-eth1", "node2-eth0"),
		      "node1-eth[0-1],node2-eth0");
	/* Path-safe chains fold on their last number too. */
	ASSERT_STR_EQ(FOLD(ctx, "ssh=b1+ssh=web01+sudo",
			   "ssh=b1+ssh=web02+sudo"),
		      "ssh=b1+ssh=web[01-02]+sudo");
	/* A 19-digit run is text; so is a name that looks folded. */
	ASSERT_STR_EQ(FOLD(ctx, "h1234567890123456789", "h1"),
		      "h1,h1234567890123456789");
	ASSERT_STR_EQ(FOLD(ctx, "a[1-2]", "a3"), "a3,a[1-2]");
	talloc_free(ctx);
}

static void test_fold_padding(void)
{
	TALLOC_CTX *ctx = talloc_new(NULL);

	ASSERT_STR_EQ(FOLD(ctx, "n08", "n09", "n10", "n11"), "n[08-11]");
	ASSERT_STR_EQ(FOLD(ctx, "n8", "n9", "n10"), "n[8-10]");
	ASSERT_STR_EQ(FOLD(ctx, "n1", "n01"), "n[1,01]");
	ASSERT_STR_EQ(FOLD(ctx, "n8", "n9", "n10", "n09"), "n[8-9,09-10]");
	ASSERT_STR_EQ(FOLD(ctx, "n001", "n002", "n01"), "n[01,001-002]");
	ASSERT_STR_EQ(FOLD(ctx, "n0", "n00", "n1"), "n[0-1,00]");
	ASSERT_STR_EQ(FOLD(ctx, "n099", "n100", "n101", "n0100"),
		      "n[099-101,0100]");
	talloc_free(ctx);
}

static void test_fold_large(void)
{
	TALLOC_CTX *ctx = talloc_new(NULL);
	size_t n = 100000;
	const char **v = talloc_array(ctx, const char *, n);
	char *s;

	/* Shuffled, so that sorting is tested too. */
	for (size_t i = 0; i < n; i++) {
		v[i] = talloc_asprintf(v, "h%05zu", (i * 7919) % n);
	}
	ASSERT_STR_EQ(fold(ctx, v, n), "h[00000-99999]");
	for (size_t i = 0; i < n; i++) {
		v[i] = talloc_asprintf(v, "n%zu", 2 * i);
	}
	s = mg_report_fold(ctx, v, n);
	ASSERT_PTR_NOT_NULL(s);
	ASSERT_TRUE(strncmp(s, "n[0,2,4,", 8) == 0);
	ASSERT_STR_EQ(s + strlen(s) - 14, "199996,199998]");
	talloc_free(ctx);
}

static void test_prefix_interleaved(void)
{
	TALLOC_CTX *ctx = talloc_new(NULL);
	int out = tmpfd(), err = tmpfd();
	struct mg_report *rep = mk(ctx, MG_REPORT_PREFIX, out, err,
				   "web01 web02");
	struct mg_target_result ok = ran(0, 0);
	char *msg = NULL;

	ASSERT_PTR_NOT_NULL(rep);
	out_str(rep, 0, 1, "hel");
	out_str(rep, 1, 1, "wor");
	out_str(rep, 0, 1, "lo\nsec");
	out_str(rep, 1, 2, "oo");
	out_str(rep, 1, 1, "ld\n");
	out_str(rep, 0, 1, "ond\nthird\n");
	out_str(rep, 1, 2, "ps\n");
	ASSERT_STR_EQ(slurp(ctx, out),
		      "web01: hello\nweb02: world\nweb01: second\n"
		      "web01: third\n");
	ASSERT_STR_EQ(slurp(ctx, err), "web02: oops\n");
	mg_report_done(rep, 0, &ok);
	mg_report_done(rep, 1, &ok);
	ASSERT_INT_EQ(mg_report_finish(rep, &msg), 0);
	ASSERT_PTR_NULL(msg);
	ASSERT_STR_EQ(slurp(ctx, err), "web02: oops\n");
	ASSERT_INT_EQ(mg_report_exit_status(rep), 0);
	ASSERT_INT_EQ(mg_report_finish(rep, &msg), -EALREADY);
	close(out);
	close(err);
	talloc_free(ctx);
}

/* Two targets writing many lines in odd chunks, alternately: every line
 * comes out whole, with its own prefix, in its order. */
static void test_prefix_chunks(void)
{
	TALLOC_CTX *ctx = talloc_new(NULL);
	int out = tmpfd(), err = tmpfd();
	struct mg_report *rep = mk(ctx, MG_REPORT_PREFIX, out, err, "a b");
	char *src[2], *got, *save = NULL;
	size_t len[2], pos[2] = { 0, 0 }, next[2] = { 0, 0 }, step = 1;
	struct mg_target_result ok = ran(0, 0);

	ASSERT_PTR_NOT_NULL(rep);
	for (int t = 0; t < 2; t++) {
		src[t] = talloc_strdup(ctx, "");
		for (int k = 0; k < 500; k++) {
			src[t] = talloc_asprintf_append(src[t], "%c-line-%d\n",
							'a' + t, k);
		}
		len[t] = strlen(src[t]);
	}
	while (pos[0] < len[0] || pos[1] < len[1]) {
		for (int t = 0; t < 2; t++) {
			size_t n = (step * 7 + (size_t)t * 3) % 23;

			if (n > len[t] - pos[t]) {
				n = len[t] - pos[t];
			}
			mg_report_output(rep, (size_t)t, 1, src[t] + pos[t], n);
			pos[t] += n;
			step++;
		}
	}
	mg_report_done(rep, 0, &ok);
	mg_report_done(rep, 1, &ok);
	got = slurp(ctx, out);
	for (char *l = strtok_r(got, "\n", &save); l != NULL;
	     l = strtok_r(NULL, "\n", &save)) {
		char want[64];
		int t = l[0] - 'a';

		ASSERT_TRUE(t == 0 || t == 1);
		snprintf(want, sizeof(want), "%c: %c-line-%zu", 'a' + t,
			 'a' + t, next[t]++);
		ASSERT_STR_EQ(l, want);
	}
	ASSERT_INT_EQ(next[0], 500);
	ASSERT_INT_EQ(next[1], 500);
	close(out);
	close(err);
	talloc_free(ctx);
}

static void test_partial_at_done(void)
{
	TALLOC_CTX *ctx = talloc_new(NULL);
	int out = tmpfd(), err = tmpfd();
	struct mg_report *rep = mk(ctx, MG_REPORT_PREFIX, out, err, "w1 w2");
	struct mg_target_result ok = ran(0, 0);
	char *msg;

	ASSERT_PTR_NOT_NULL(rep);
	out_str(rep, 0, 1, "no newline");
	out_str(rep, 0, 2, "err tail");
	out_str(rep, 1, 1, "never done");
	ASSERT_STR_EQ(slurp(ctx, out), "");
	mg_report_done(rep, 0, &ok);
	ASSERT_STR_EQ(slurp(ctx, out), "w1: no newline\n");
	ASSERT_STR_EQ(slurp(ctx, err), "w1: err tail\n");
	/* Ignored: done already, unknown index, unknown stream. */
	out_str(rep, 0, 1, "late\n");
	out_str(rep, 7, 1, "nobody\n");
	out_str(rep, 1, 3, "stream 3\n");
	mg_report_done(rep, 0, &ok);
	/* finish() ends the target that never reported. */
	ASSERT_INT_EQ(mg_report_finish(rep, &msg), 0);
	ASSERT_STR_EQ(slurp(ctx, out), "w1: no newline\nw2: never done\n");
	/* Each failure's whole message as it happens, then the summary. */
	ASSERT_STR_EQ(slurp(ctx, err), "w1: err tail\n" "w2: no result\n"
		      "1 of 2 failed: w2 (no result)\n");
	ASSERT_INT_EQ(mg_report_exit_status(rep), 255);
	close(out);
	close(err);
	talloc_free(ctx);
}

/* A line of any length is one line (issue 13, item 4): passed through
 * under one prefix while the other target's lines wait for its end. */
static void test_long_lines(void)
{
	TALLOC_CTX *ctx = talloc_new(NULL);
	int out = tmpfd(), err = tmpfd();
	struct mg_report *rep = mk(ctx, MG_REPORT_PREFIX, out, err, "t u");
	struct mg_target_result ok = ran(0, 0);
	size_t big = 200000, n = 0, lines = 0, at = 0;
	char *x = talloc_array(ctx, char, big + 1);
	char *got, *msg;
	const char *want_name[] = { "t", "u", "u", "t", "t", "u", "t", "u" };
	size_t want_len[] = { 200000, 1, 1, 65536, 0, 70000, 3, 4 };

	ASSERT_PTR_NOT_NULL(rep);
	memset(x, 'x', big);
	x[big] = '\n';
	for (size_t p = 0; p < big + 1; p += 7000) {
		mg_report_output(rep, 0, 1, x + p, big + 1 - p < 7000
				 ? big + 1 - p : 7000);
		if (p == 70000) {
			/* Whole lines of u wait for t's newline; u's own long
			 * partial line waits too. */
			out_str(rep, 1, 1, "a\nb\n");
			mg_report_output(rep, 1, 1, x, 70000);
			ASSERT_INT_EQ(rep->held_len[0], 4 + 6 + 70000 - 65536);
		}
	}
	ASSERT_PTR_NULL(rep->owner[0]);
	/* Exactly 64 KiB is still one line; an empty line stays. */
	mg_report_output(rep, 0, 1, x, 65536);
	mg_report_output(rep, 0, 1, "\n\n", 2);
	/* u's 70000 bytes end; t has a partial line when it is done. */
	out_str(rep, 1, 1, "\n");
	out_str(rep, 0, 1, "end");
	mg_report_done(rep, 0, &ok);
	out_str(rep, 1, 1, "last\n");
	mg_report_done(rep, 1, &ok);
	ASSERT_INT_EQ(mg_report_finish(rep, &msg), 0);
	ASSERT_INT_EQ(rep->held_len[0], 0);
	got = slurp_n(ctx, out, &n);
	while (at < n) {
		char *nl = memchr(got + at, '\n', n - at);
		size_t name = strlen(want_name[lines]);

		ASSERT_TRUE(lines < sizeof(want_len) / sizeof(want_len[0]));
		ASSERT_PTR_NOT_NULL(nl);
		ASSERT_TRUE(strncmp(got + at, want_name[lines], name) == 0);
		ASSERT_TRUE(strncmp(got + at + name, ": ", 2) == 0);
		ASSERT_INT_EQ((size_t)(nl - got) - at - name - 2, want_len[lines]);
		at = (size_t)(nl - got) + 1;
		lines++;
	}
	ASSERT_INT_EQ(lines, 8);
	close(out);
	close(err);
	talloc_free(ctx);
}

/* stdout and stderr on one file: a long line on one is not broken by a
 * line on the other, nor by another target's error. */
static void test_long_lines_one_file(void)
{
	TALLOC_CTX *ctx = talloc_new(NULL);
	int fd = tmpfd();
	struct mg_report *rep = mk(ctx, MG_REPORT_PLAIN, fd, fd, "t u");
	struct mg_target_result ok = ran(0, 0);
	struct mg_target_result bad = failed(MG_OUTCOME_UNREACHABLE, "refused");
	char *x = talloc_array(ctx, char, 100000), *got, *want, *msg;

	ASSERT_PTR_NOT_NULL(rep);
	memset(x, 'y', 100000);
	mg_report_output(rep, 0, 1, x, 100000);
	out_str(rep, 1, 2, "warning\n");
	mg_report_done(rep, 1, &bad);
	mg_report_output(rep, 0, 1, x, 100000);
	ASSERT_PTR_NULL(strchr(slurp(ctx, fd), 'w'));
	out_str(rep, 0, 1, "\n");
	mg_report_done(rep, 0, &ok);
	ASSERT_INT_EQ(mg_report_finish(rep, &msg), 0);
	got = slurp(ctx, fd);
	want = talloc_asprintf(ctx, "%.*s%.*s\nwarning\nu: refused\n"
			       "1 of 2 failed: u (refused)\n", 100000, x, 100000, x);
	ASSERT_STR_EQ(got, want);
	close(fd);
	talloc_free(ctx);
}

/* Past MG_REPORT_HOLD_MAX waiting, the long line is ended: memory stays
 * bounded whatever the far ends print. */
static void test_long_lines_hold_max(void)
{
	TALLOC_CTX *ctx = talloc_new(NULL);
	int out = tmpfd(), err = tmpfd();
	struct mg_report *rep = mk(ctx, MG_REPORT_PREFIX, out, err, "t u");
	size_t chunk = 1u << 20, sent = 0;
	char *x = talloc_array(ctx, char, chunk);

	ASSERT_PTR_NOT_NULL(rep);
	memset(x, 'z', chunk);
	x[chunk - 1] = '\n';
	mg_report_output(rep, 0, 1, x, 100000);
	ASSERT_PTR_NOT_NULL(rep->owner[0]);
	while (rep->owner[0] != NULL) {
		mg_report_output(rep, 1, 1, x, chunk);
		sent += chunk;
		ASSERT_TRUE(rep->held_len[0] <= MG_REPORT_HOLD_MAX);
		ASSERT_TRUE(sent <= MG_REPORT_HOLD_MAX + chunk);
	}
	ASSERT_INT_EQ(rep->held_len[0], 0);
	ASSERT_TRUE(rep->held[0].p == NULL || talloc_get_size(rep->held[0].p) <= 4 * MG_REPORT_BATCH);
	close(out);
	close(err);
	talloc_free(ctx);
}

/* A partial line that grew while another target's long line passed is
 * let go once printed: kept, each target's would stay at its peak. */
static void test_long_lines_part_freed(void)
{
	TALLOC_CTX *ctx = talloc_new(NULL);
	int out = tmpfd(), err = tmpfd();
	struct mg_report *rep = mk(ctx, MG_REPORT_PREFIX, out, err, "t u");
	size_t big = 1u << 20;
	char *x = talloc_array(ctx, char, big);
	const struct mg__rbuf *pl;

	ASSERT_PTR_NOT_NULL(rep);
	memset(x, 'w', big);
	mg_report_output(rep, 0, 1, x, 100000);
	ASSERT_PTR_NOT_NULL(rep->owner[0]);
	mg_report_output(rep, 1, 1, x, big);
	pl = &rep->t[1]->part[0];
	ASSERT_TRUE(pl->p != NULL && talloc_get_size(pl->p) > big);
	out_str(rep, 0, 1, "\n");
	out_str(rep, 1, 1, "\n");
	ASSERT_INT_EQ(pl->len, 0);
	ASSERT_TRUE(pl->p == NULL || talloc_get_size(pl->p) <= 4 * MG_REPORT_LINE_MAX);
	ASSERT_INT_EQ(rep->held_len[0], 0);
	close(out);
	close(err);
	talloc_free(ctx);
}

/* With an ident, the summary is "IDENT: ..." (a tag dshbak can read). */
static void test_summary_ident(void)
{
	TALLOC_CTX *ctx = talloc_new(NULL);
	int out = tmpfd(), err = tmpfd();
	struct mg_report_opts o = { .mode = MG_REPORT_PREFIX, .out_fd = out, .err_fd = err,
				    .ident = "mitogen-run" };
	char *errmsg = NULL, *msg;
	struct mg_report *rep = mg_report_new(ctx, &o, &errmsg);
	struct mg_target_result ok = ran(0, 0), bad = ran(3, 0);

	ASSERT_PTR_NOT_NULL(rep);
	ASSERT_INT_EQ(mg_report_add(rep, "a", "local"), 0);
	ASSERT_INT_EQ(mg_report_add(rep, "b", "local/local"), 0);
	mg_report_done(rep, 0, &ok);
	mg_report_done(rep, 1, &bad);
	ASSERT_INT_EQ(mg_report_finish(rep, &msg), 0);
	ASSERT_STR_EQ(slurp(ctx, err), "mitogen-run: 1 of 2 failed: b (exit 3)\n");
	close(out);
	close(err);
	talloc_free(ctx);
}

static void test_plain(void)
{
	TALLOC_CTX *ctx = talloc_new(NULL);
	int out = tmpfd(), err = tmpfd();
	struct mg_report *rep = mk(ctx, MG_REPORT_PLAIN, out, err, "a b");
	struct mg_target_result ok = ran(0, 0), bad = ran(3, 0);
	char *msg;

	ASSERT_PTR_NOT_NULL(rep);
	out_str(rep, 0, 1, "one");
	out_str(rep, 1, 1, "two\n");
	out_str(rep, 1, 2, "warn\n");
	out_str(rep, 0, 1, " more\nrest");
	mg_report_done(rep, 0, &ok);
	mg_report_done(rep, 1, &bad);
	ASSERT_INT_EQ(mg_report_finish(rep, &msg), 0);
	ASSERT_STR_EQ(slurp(ctx, out), "two\none more\nrest\n");
	ASSERT_STR_EQ(slurp(ctx, err), "warn\n1 of 2 failed: b (exit 3)\n");
	ASSERT_INT_EQ(mg_report_exit_status(rep), 3);
	close(out);
	close(err);
	talloc_free(ctx);
}

static void test_gather(void)
{
	TALLOC_CTX *ctx = talloc_new(NULL);
	int out = tmpfd(), err = tmpfd();
	struct mg_report *rep = mk(ctx, MG_REPORT_GATHER, out, err,
				   "a1 a2 a3 a4 a5 a6 a7");
	struct mg_target_result ok = ran(0, 0), one = ran(1, 0);
	struct mg_target_result sig = ran(137, 9);
	struct mg_target_result down = failed(MG_OUTCOME_UNREACHABLE,
					      "connect timeout\nssh: more");
	char *msg;

	ASSERT_PTR_NOT_NULL(rep);
	out_str(rep, 3, 1, "diff\n");
	out_str(rep, 0, 1, "sa");
	out_str(rep, 1, 1, "same\n");
	out_str(rep, 0, 1, "me\n");
	out_str(rep, 2, 1, "same\n");
	out_str(rep, 2, 2, "err\n");
	out_str(rep, 5, 1, "no end");
	/* stderr goes out as it comes; stdout waits for the end. */
	ASSERT_STR_EQ(slurp(ctx, out), "");
	ASSERT_STR_EQ(slurp(ctx, err), "a3: err\n");
	mg_report_done(rep, 0, &ok);
	mg_report_done(rep, 1, &ok);
	mg_report_done(rep, 2, &one);
	mg_report_done(rep, 3, &ok);
	mg_report_done(rep, 4, &down);
	mg_report_done(rep, 5, &sig);
	mg_report_done(rep, 6, &down);
	ASSERT_STR_EQ(slurp(ctx, out), "");
	ASSERT_INT_EQ(mg_report_finish(rep, &msg), 0);
	ASSERT_STR_EQ(slurp(ctx, out),
		      "---------------\na[1-2]\n---------------\nsame\n"
		      "---------------\na3 (exit 1)\n---------------\nsame\n"
		      "---------------\na4\n---------------\ndiff\n"
		      "---------------\na[5,7] (connect timeout)\n"
		      "---------------\n"
		      "---------------\na6 (signal 9)\n---------------\n"
		      "no end\n");
	ASSERT_STR_EQ(slurp(ctx, err), "a3: err\na5: connect timeout\na5: ssh: more\na7: connect timeout\na7: ssh: more\n"
		      "4 of 7 failed: a3 (exit 1), "
		      "a[5,7] (connect timeout), a6 (signal 9)\n");
	ASSERT_INT_EQ(mg_report_exit_status(rep), 255);
	close(out);
	close(err);
	talloc_free(ctx);
}

static void test_json_escape(void)
{
	TALLOC_CTX *ctx = talloc_new(NULL);
	int out = tmpfd(), err = tmpfd();
	struct mg_report *rep = mk(ctx, MG_REPORT_JSON, out, err, "w1 w2");
	static const char raw[] = "q\"b\\s/\n\t\r\b\f\x01\x1f\x7f"
		"\xc3\xa9|\xff\xfe|\xc0\xaf|\xed\xa0\x80|\xf0\x9f\x98\x80|"
		"\xe2\x82|\x00z";
	struct mg_target_result r = ran(2, 0);
	struct mg_target_result down = failed(MG_OUTCOME_UNREACHABLE,
					      "host \"x\" unknown");
	char *msg;

	ASSERT_PTR_NOT_NULL(rep);
	mg_report_output(rep, 0, 1, raw, sizeof(raw) - 1);
	out_str(rep, 0, 2, "warning\n");
	r.duration_ms = 61005;
	mg_report_done(rep, 0, &r);
	ASSERT_STR_EQ(slurp(ctx, out),
		      "{\"target\":\"w1\",\"chain\":\"ssh:bastion/ssh:w1\","
		      "\"outcome\":\"failed\",\"rc\":2,\"signal\":null,"
		      "\"duration\":61.005,\"stdout\":\"q\\\"b\\\\s/\\n\\t\\r"
		      "\\u0008\\u000c\\u0001\\u001f\\u007f\xc3\xa9|\\u00ff"
		      "\\u00fe|\\u00c0\\u00af|\\u00ed\\u00a0\\u0080|"
		      "\xf0\x9f\x98\x80|\\u00e2\\u0082|\\u0000z\","
		      "\"stderr\":\"warning\\n\",\"error\":null}\n");
	ASSERT_STR_EQ(slurp(ctx, err), "");
	mg_report_done(rep, 1, &down);
	ASSERT_INT_EQ(mg_report_finish(rep, &msg), 0);
	ASSERT_STR_CONTAINS(slurp(ctx, out),
		      "\n{\"target\":\"w2\",\"chain\":\"ssh:bastion/ssh:w2\","
		      "\"outcome\":\"unreachable\",\"rc\":null,\"signal\":null,"
		      "\"duration\":0.000,\"stdout\":\"\",\"stderr\":\"\","
		      "\"error\":\"host \\\"x\\\" unknown\"}\n");
	ASSERT_STR_EQ(slurp(ctx, err), "2 of 2 failed: w1 (exit 2), "
		      "w2 (host \"x\" unknown)\n");
	close(out);
	close(err);
	talloc_free(ctx);
}

static void test_json_outcomes(void)
{
	TALLOC_CTX *ctx = talloc_new(NULL);
	int out = tmpfd(), err = tmpfd();
	struct mg_report *rep = mk(ctx, MG_REPORT_JSON, out, err,
				   "a b c d e");
	struct mg_target_result ok = ran(0, 0), sig = ran(130, 2);
	struct mg_target_result ns = failed(MG_OUTCOME_NOT_STARTED, NULL);
	struct mg_target_result to = failed(MG_OUTCOME_TIMEOUT, NULL);
	struct mg_target_result lost = failed(MG_OUTCOME_LOST, "hop died");
	char *got, *msg;

	ASSERT_PTR_NOT_NULL(rep);
	mg_report_done(rep, 0, &ok);
	mg_report_done(rep, 1, &sig);
	mg_report_done(rep, 2, &ns);
	mg_report_done(rep, 3, &to);
	mg_report_done(rep, 4, &lost);
	ASSERT_INT_EQ(mg_report_finish(rep, &msg), 0);
	got = slurp(ctx, out);
	ASSERT_STR_CONTAINS(got, "\"target\":\"a\",\"chain\":\"ssh:bastion/ssh:a\","
			    "\"outcome\":\"ok\",\"rc\":0,\"signal\":null,");
	ASSERT_STR_CONTAINS(got, "\"outcome\":\"failed\",\"rc\":130,"
			    "\"signal\":2,");
	ASSERT_STR_CONTAINS(got, "\"outcome\":\"not-started\",\"rc\":127,");
	ASSERT_STR_CONTAINS(got, "\"error\":\"command not found\"}");
	ASSERT_STR_CONTAINS(got, "\"outcome\":\"timeout\",\"rc\":null,");
	ASSERT_STR_CONTAINS(got, "\"error\":\"timed out\"}");
	ASSERT_STR_CONTAINS(got, "\"outcome\":\"lost\",\"rc\":null,");
	ASSERT_STR_CONTAINS(slurp(ctx, err), "4 of 5 failed: b (signal 2), "
			    "c (command not found), d (timed out), "
			    "e (hop died)\n");
	ASSERT_INT_EQ(mg_report_exit_status(rep), 255);
	close(out);
	close(err);
	talloc_free(ctx);
}

static void test_summary(void)
{
	TALLOC_CTX *ctx = talloc_new(NULL);
	int out = tmpfd(), err = tmpfd();
	struct mg_report_opts o = { .mode = MG_REPORT_PREFIX, .out_fd = out,
				    .err_fd = err };
	struct mg_report *rep = mg_report_new(ctx, &o, &(char *){ NULL });
	struct mg_target_result ok = ran(0, 0), one = ran(1, 0);
	struct mg_target_result two = ran(2, 0);
	struct mg_target_result to = failed(MG_OUTCOME_UNREACHABLE,
					    "connect timeout");
	char *msg;

	ASSERT_PTR_NOT_NULL(rep);
	for (int i = 1; i <= 50; i++) {
		char name[16];

		snprintf(name, sizeof(name), "web%02d", i);
		ASSERT_INT_EQ(mg_report_add(rep, name, name), 0);
	}
	for (size_t i = 0; i < 50; i++) {
		const struct mg_target_result *r = &ok;

		if (i == 6) {
			r = &one;
		} else if (i == 8) {
			r = &to;
		} else if (i >= 9 && i <= 11) {
			r = &two;
		}
		mg_report_done(rep, i, r);
	}
	ASSERT_INT_EQ(mg_report_finish(rep, &msg), 0);
	ASSERT_STR_EQ(slurp(ctx, err), "web09: connect timeout\n5 of 50 failed: web07 (exit 1), "
		      "web09 (connect timeout), web[10-12] (exit 2)\n");
	ASSERT_INT_EQ(mg_report_exit_status(rep), 255);
	close(out);
	close(err);
	talloc_free(ctx);
}

/* Many different reasons, and one group too long to list: capped. */
static void test_summary_cap(void)
{
	TALLOC_CTX *ctx = talloc_new(NULL);
	int out = tmpfd(), err = tmpfd();
	struct mg_report *rep = mk(ctx, MG_REPORT_PREFIX, out, err, "");
	char *got, *msg;
	size_t more = 0;

	ASSERT_PTR_NOT_NULL(rep);
	for (int i = 0; i < 200; i++) {
		char *name = talloc_asprintf(ctx, "host-%c%c", 'a' + i % 26,
					     'a' + i / 26);

		ASSERT_INT_EQ(mg_report_add(rep, name, name), 0);
	}
	for (size_t i = 0; i < 200; i++) {
		struct mg_target_result r = ran(i < 100 ? 1 : (int)i, 0);

		mg_report_done(rep, i, &r);
	}
	ASSERT_INT_EQ(mg_report_finish(rep, &msg), 0);
	got = slurp(ctx, err);
	ASSERT_TRUE(strncmp(got, "200 of 200 failed: host-aa,host-ab,", 35)
		    == 0);
	ASSERT_TRUE(strchr(got, '\n') == got + strlen(got) - 1);
	ASSERT_TRUE(strlen(got) < 400);
	ASSERT_TRUE(sscanf(strstr(got, ", ... and ") + 10, "%zu more", &more)
		    == 1);
	/* Every name listed before the tail plus "N more" is 200. */
	{
		size_t listed = 0;

		for (char *c = got; (c = strstr(c, "host-")) != NULL; c++) {
			listed++;
		}
		ASSERT_INT_EQ(listed + more, 200);
	}
	ASSERT_INT_EQ(mg_report_exit_status(rep), 199);
	close(out);
	close(err);
	talloc_free(ctx);
}

static void test_exit_status(void)
{
	TALLOC_CTX *ctx = talloc_new(NULL);
	struct {
		struct mg_target_result a, b;
		int want;
	} cases[] = {
		{ ran(0, 0), ran(0, 0), 0 },
		{ ran(3, 0), ran(1, 0), 3 },
		{ ran(0, 9), ran(1, 0), 137 },
		{ ran(137, 9), ran(0, 0), 137 },
		{ failed(MG_OUTCOME_NOT_STARTED, NULL), ran(1, 0), 127 },
		{ failed(MG_OUTCOME_TIMEOUT, NULL), ran(0, 0), 124 },
		{ failed(MG_OUTCOME_UNREACHABLE, "x"), ran(1, 0), 255 },
		{ failed(MG_OUTCOME_LOST, NULL), ran(0, 0), 255 },
		{ ran(300, 0), ran(0, 0), 255 },
	};

	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		int out = tmpfd();
		struct mg_report *rep = mk(ctx, MG_REPORT_PREFIX, out, out,
					   "x y");

		ASSERT_PTR_NOT_NULL(rep);
		ASSERT_INT_EQ(mg_report_exit_status(rep), 255);
		mg_report_done(rep, 0, &cases[k].a);
		ASSERT_INT_EQ(mg_report_exit_status(rep), 255);
		mg_report_done(rep, 1, &cases[k].b);
		ASSERT_INT_EQ(mg_report_exit_status(rep), cases[k].want);
		close(out);
		talloc_free(rep);
	}
	/* No targets: nothing failed. */
	ASSERT_INT_EQ(mg_report_exit_status(mk(ctx, MG_REPORT_PREFIX, 1, 2,
					       "")), 0);
	talloc_free(ctx);
}

static void test_add_checks(void)
{
	TALLOC_CTX *ctx = talloc_new(NULL);
	struct mg_report *rep = mk(ctx, MG_REPORT_PREFIX, -1, -1, "");
	struct mg_report_opts bad = { .mode = 9, .out_fd = 1, .err_fd = 2 };
	char *msg = NULL;

	ASSERT_PTR_NOT_NULL(rep);
	ASSERT_INT_EQ(mg_report_add(rep, "", "local"), -EINVAL);
	ASSERT_INT_EQ(mg_report_add(rep, "a:b", "local"), -EINVAL);
	ASSERT_INT_EQ(mg_report_add(rep, "a/b", "local"), -EINVAL);
	ASSERT_INT_EQ(mg_report_add(rep, "a b", "local"), -EINVAL);
	ASSERT_INT_EQ(mg_report_add(rep, "a\nb", "local"), -EINVAL);
	ASSERT_INT_EQ(mg_report_add(rep, "ok", "local"), 0);
	ASSERT_PTR_NULL(mg_report_new(ctx, &bad, &msg));
	ASSERT_STR_CONTAINS(msg, "mode");
	talloc_free(ctx);
}

static void rm_outdir(const char *dir, const char *const *names)
{
	static const char *const ext[] = { "out", "err", "rc" };

	for (size_t i = 0; names[i] != NULL; i++) {
		for (size_t e = 0; e < 3; e++) {
			char path[512];

			snprintf(path, sizeof(path), "%s/%s.%s", dir, names[i],
				 ext[e]);
			unlink(path);
		}
	}
}

static void test_outdir(void)
{
	TALLOC_CTX *ctx = talloc_new(NULL);
	char base[] = "/tmp/test-report-dir-XXXXXX";
	const char *const names[] = { "w1", "w2", "w3", NULL };
	struct mg_report_opts o = { .mode = MG_REPORT_JSON };
	struct mg_target_result ok = ran(0, 0), bad = ran(130, 2);
	struct mg_target_result down = failed(MG_OUTCOME_UNREACHABLE, "no");
	struct mg_report *rep;
	char *dir, *msg = NULL;
	struct stat st;
	int out = tmpfd();

	ASSERT_PTR_NOT_NULL(mkdtemp(base));
	dir = talloc_asprintf(ctx, "%s/sub/out", base);
	o.out_fd = out;
	o.err_fd = out;
	o.outdir = dir;
	rep = mg_report_new(ctx, &o, &msg);
	ASSERT_PTR_NOT_NULL(rep);
	ASSERT_INT_EQ(stat(dir, &st), 0);
	ASSERT_INT_EQ(st.st_mode & 0777, 0700);
	for (size_t i = 0; names[i] != NULL; i++) {
		ASSERT_INT_EQ(mg_report_add(rep, names[i], names[i]), 0);
	}
	mg_report_output(rep, 0, 1, "a\0b\n", 4);
	out_str(rep, 0, 2, "e1");
	out_str(rep, 0, 1, "partial");
	/* Written as it comes, not at the end. */
	ASSERT_STR_EQ(read_path(ctx, talloc_asprintf(ctx, "%s/w1.err", dir)),
		      "e1");
	mg_report_done(rep, 0, &ok);
	out_str(rep, 1, 2, "boom\n");
	mg_report_done(rep, 1, &bad);
	mg_report_done(rep, 2, &down);
	ASSERT_INT_EQ(mg_report_finish(rep, &msg), 0);
	{
		int fd = open(talloc_asprintf(ctx, "%s/w1.out", dir), O_RDONLY);
		size_t n = 0;
		char *s;

		ASSERT_INT_GE(fd, 0);
		s = slurp_n(ctx, fd, &n);
		close(fd);
		ASSERT_INT_EQ(n, 11);
		ASSERT_TRUE(memcmp(s, "a\0b\npartial", 11) == 0);
	}
	ASSERT_STR_EQ(read_path(ctx, talloc_asprintf(ctx, "%s/w1.rc", dir)),
		      "0\n");
	ASSERT_STR_EQ(read_path(ctx, talloc_asprintf(ctx, "%s/w2.out", dir)),
		      "");
	ASSERT_STR_EQ(read_path(ctx, talloc_asprintf(ctx, "%s/w2.err", dir)),
		      "boom\n");
	ASSERT_STR_EQ(read_path(ctx, talloc_asprintf(ctx, "%s/w2.rc", dir)),
		      "130\n");
	ASSERT_STR_EQ(read_path(ctx, talloc_asprintf(ctx, "%s/w3.rc", dir)),
		      "255\n");
	talloc_free(rep);
	rm_outdir(dir, names);
	ASSERT_INT_EQ(rmdir(dir), 0);
	ASSERT_INT_EQ(rmdir(talloc_asprintf(ctx, "%s/sub", base)), 0);
	/* A file where the directory should be. */
	close(open(dir = talloc_asprintf(ctx, "%s/file", base),
		   O_WRONLY | O_CREAT, 0600));
	o.outdir = dir;
	ASSERT_PTR_NULL(mg_report_new(ctx, &o, &msg));
	ASSERT_STR_CONTAINS(msg, "cannot create directory");
	ASSERT_STR_CONTAINS(msg, dir);
	unlink(dir);
	ASSERT_INT_EQ(rmdir(base), 0);
	close(out);
	talloc_free(ctx);
}

static void test_failed_file(void)
{
	TALLOC_CTX *ctx = talloc_new(NULL);
	char base[] = "/tmp/test-report-dir-XXXXXX";
	struct mg_report_opts o = { .mode = MG_REPORT_PREFIX };
	struct mg_target_result ok = ran(0, 0), bad = ran(1, 0);
	struct mg_target_result down = failed(MG_OUTCOME_UNREACHABLE, "no");
	struct mg_report *rep;
	char *path, *msg = NULL;
	int out = tmpfd();

	ASSERT_PTR_NOT_NULL(mkdtemp(base));
	path = talloc_asprintf(ctx, "%s/failed", base);
	o.out_fd = out;
	o.err_fd = out;
	o.failed_file = path;
	rep = mg_report_new(ctx, &o, &msg);
	ASSERT_PTR_NOT_NULL(rep);
	ASSERT_INT_EQ(mg_report_add(rep, "web01", "ssh:b/ssh:web01/sudo"), 0);
	ASSERT_INT_EQ(mg_report_add(rep, "web02", "ssh:b/ssh:web02/sudo"), 0);
	ASSERT_INT_EQ(mg_report_add(rep, "web03", "ssh:b/ssh:web03/sudo"), 0);
	mg_report_done(rep, 0, &bad);
	mg_report_done(rep, 1, &ok);
	mg_report_done(rep, 2, &down);
	ASSERT_INT_EQ(mg_report_finish(rep, &msg), 0);
	ASSERT_STR_EQ(read_path(ctx, path),
		      "ssh:b/ssh:web01/sudo\nssh:b/ssh:web03/sudo\n");
	talloc_free(rep);
	/* Nothing failed: the file is emptied. */
	rep = mg_report_new(ctx, &o, &msg);
	ASSERT_INT_EQ(mg_report_add(rep, "web01", "ssh:b/ssh:web01/sudo"), 0);
	mg_report_done(rep, 0, &ok);
	ASSERT_INT_EQ(mg_report_finish(rep, &msg), 0);
	ASSERT_STR_EQ(read_path(ctx, path), "");
	talloc_free(rep);
	unlink(path);
	/* Cannot be written: an error naming it, the rest still done. */
	o.failed_file = path = talloc_asprintf(ctx, "%s/no/such", base);
	rep = mg_report_new(ctx, &o, &msg);
	ASSERT_INT_EQ(mg_report_add(rep, "web01", "ssh:b/ssh:web01/sudo"), 0);
	mg_report_done(rep, 0, &bad);
	ASSERT_INT_EQ(mg_report_finish(rep, &msg), -ENOENT);
	ASSERT_STR_CONTAINS(msg, path);
	ASSERT_STR_CONTAINS(slurp(ctx, out), "1 of 1 failed: web01 (exit 1)");
	talloc_free(rep);
	ASSERT_INT_EQ(rmdir(base), 0);
	close(out);
	talloc_free(ctx);
}

/* A closed pipe: one error, reported by finish(), no crash. */
/* A name longer than the summary's room is listed, not "... and 1 more"
 * alone (issue 13, item 16). */
static void test_summary_long_name(void)
{
	TALLOC_CTX *ctx = talloc_new(NULL);
	int out = tmpfd(), err = tmpfd();
	struct mg_report *rep = mk(ctx, MG_REPORT_PREFIX, out, err, "");
	char *name = talloc_array(ctx, char, 401), *want, *msg;
	struct mg_target_result bad = ran(3, 0);

	ASSERT_PTR_NOT_NULL(rep);
	memset(name, 'n', 400);
	name[400] = '\0';
	ASSERT_INT_EQ(mg_report_add(rep, name, name), 0);
	ASSERT_INT_EQ(mg_report_add(rep, "short", "short"), 0);
	mg_report_done(rep, 0, &bad);
	mg_report_done(rep, 1, &bad);
	ASSERT_INT_EQ(mg_report_finish(rep, &msg), 0);
	want = talloc_asprintf(ctx, "2 of 2 failed: %s (exit 3), ... and 1 more\n", name);
	ASSERT_STR_EQ(slurp(ctx, err), want);
	close(out);
	close(err);
	talloc_free(ctx);
}

static void test_write_error(void)
{
	TALLOC_CTX *ctx = talloc_new(NULL);
	int p[2], err = tmpfd();
	struct mg_report *rep;
	struct mg_target_result ok = ran(0, 0);
	char *msg = NULL;

	ASSERT_INT_EQ(pipe(p), 0);
	close(p[0]);
	rep = mk(ctx, MG_REPORT_PREFIX, p[1], err, "a");
	ASSERT_PTR_NOT_NULL(rep);
	out_str(rep, 0, 1, "line\n");
	out_str(rep, 0, 1, "again\n");
	mg_report_done(rep, 0, &ok);
	ASSERT_INT_EQ(mg_report_finish(rep, &msg), -EPIPE);
	ASSERT_STR_CONTAINS(msg, "cannot write to the output");
	close(p[1]);
	close(err);
	talloc_free(ctx);
}

/* A non-blocking pipe with a slow reader: EAGAIN and short writes. */
static void test_nonblocking_pipe(void)
{
	TALLOC_CTX *ctx = talloc_new(NULL);
	int p[2], sink = tmpfd(), err = tmpfd(), status = 0;
	struct mg_report *rep;
	struct mg_target_result ok = ran(0, 0);
	char *got, *line, *save = NULL, *msg = NULL;
	size_t count = 0;
	pid_t pid;

	ASSERT_INT_EQ(pipe2(p, O_NONBLOCK), 0);
	fcntl(p[1], F_SETPIPE_SZ, 4096);
	fflush(stdout);
	pid = fork();
	ASSERT_INT_GE(pid, 0);
	if (pid == 0) {
		char buf[1000];
		ssize_t n;

		close(p[1]);
		fcntl(p[0], F_SETFL, 0);
		usleep(50000);
		while ((n = read(p[0], buf, sizeof(buf))) > 0) {
			if (write(sink, buf, (size_t)n) != n) {
				_exit(3);
			}
		}
		_exit(n == 0 ? 0 : 4);
	}
	close(p[0]);
	rep = mk(ctx, MG_REPORT_PREFIX, p[1], err, "a b");
	ASSERT_PTR_NOT_NULL(rep);
	for (int k = 0; k < 3000; k++) {
		char *l = talloc_asprintf(ctx, "line %d of a long enough text"
					  "\n", k);

		mg_report_output(rep, (size_t)(k % 2), 1, l, strlen(l));
		talloc_free(l);
	}
	mg_report_done(rep, 0, &ok);
	mg_report_done(rep, 1, &ok);
	ASSERT_INT_EQ(mg_report_finish(rep, &msg), 0);
	close(p[1]);
	ASSERT_INT_EQ(waitpid(pid, &status, 0), pid);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		T_FAIL("reader ended with status 0x%x", status);
	}
	got = slurp(ctx, sink);
	for (line = strtok_r(got, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		char want[80];

		snprintf(want, sizeof(want), "%c: line %zu of a long enough "
			 "text", count % 2 == 0 ? 'a' : 'b', count);
		ASSERT_STR_EQ(line, want);
		count++;
	}
	ASSERT_INT_EQ(count, 3000);
	close(sink);
	close(err);
	talloc_free(ctx);
}

/* Feed 'n' bytes of 'c' to stream 'stream' of target i, 1 MiB a call. */
static void out_fill(struct mg_report *rep, size_t i, int stream, char c, size_t n)
{
	char *buf = malloc(1u << 20);

	memset(buf, c, 1u << 20);
	while (n > 0) {
		size_t k = n < (1u << 20) ? n : (1u << 20);
		mg_report_output(rep, i, stream, buf, k);
		n -= k;
	}
	free(buf);
}

/* --json keeps at most MG_REPORT_KEEP_MAX bytes a stream, says it cut
 * ("truncated", "error", the summary) and fails the run (issue 12). */
static void test_json_cut(void)
{
	TALLOC_CTX *ctx = talloc_new(NULL);
	int out = tmpfd(), err = tmpfd();
	struct mg_report *rep = mk(ctx, MG_REPORT_JSON, out, err, "w1 w2");
	struct mg_target_result ok = ran(0, 0);
	const char *s, *e;
	char *got, *msg;
	size_t n;

	ASSERT_PTR_NOT_NULL(rep);
	out_fill(rep, 0, 1, 'x', MG_REPORT_KEEP_MAX + 10);
	out_str(rep, 0, 2, "warning\n");
	out_str(rep, 1, 1, "small\n");
	mg_report_done(rep, 0, &ok);
	mg_report_done(rep, 1, &ok);
	ASSERT_INT_EQ(mg_report_finish(rep, &msg), 0);
	got = slurp_n(ctx, out, &n);
	ASSERT_PTR_NOT_NULL(got);
	s = strstr(got, "\"stdout\":\"");
	ASSERT_PTR_NOT_NULL(s);
	s += strlen("\"stdout\":\"");
	e = strchr(s, '"');
	ASSERT_PTR_NOT_NULL(e);
	ASSERT_INT_EQ(e - s, MG_REPORT_KEEP_MAX);
	ASSERT_STR_CONTAINS(e, "\",\"stderr\":\"warning\\n\",\"truncated\":true,"
			    "\"error\":\"stdout over 64 MiB, cut short\"}\n{");
	ASSERT_STR_CONTAINS(e, "\"stdout\":\"small\\n\",\"stderr\":\"\",\"error\":null}\n");
	/* Only the cut object says "truncated". */
	ASSERT_PTR_NULL(strstr(strstr(e, "truncated") + 1, "truncated"));
	ASSERT_STR_EQ(slurp(ctx, err), "1 of 2 failed: w1 (stdout over 64 MiB, cut short)\n");
	ASSERT_INT_EQ(mg_report_exit_status(rep), 255);
	close(out);
	close(err);
	talloc_free(ctx);
}

/* A large output is escaped a piece at a time: the text is the same as in
 * one piece, whatever UTF-8 sequence a piece boundary falls in. */
static void test_json_pieces(void)
{
	TALLOC_CTX *ctx = talloc_new(NULL);
	int out = tmpfd(), err = tmpfd();
	struct mg_report *rep = mk(ctx, MG_REPORT_JSON, out, err, "w1");
	struct mg_target_result ok = ran(0, 0);
	static const char unit[] = "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xff\"a";
	size_t n = 3u << 20, u = sizeof(unit) - 1;
	char *big = talloc_array(ctx, char, n);
	struct mg__rbuf want = { 0 };
	const char *s;
	char *got, *msg;

	ASSERT_PTR_NOT_NULL(rep);
	/* Shifted by one byte per copy: boundaries land in every position. */
	for (size_t i = 0; i < n; i++) {
		big[i] = unit[(i + i / (1u << 18)) % u];
	}
	mg_report_output(rep, 0, 1, big, n);
	mg_report_done(rep, 0, &ok);
	ASSERT_INT_EQ(mg_report_finish(rep, &msg), 0);
	mg__rbuf_puts(ctx, &want, "\"stdout\":");
	mg__report_json_str(ctx, &want, big, n);
	mg__rbuf_puts(ctx, &want, ",\"stderr\":\"\",\"error\":null}\n");
	ASSERT_TRUE(!want.oom);
	got = slurp(ctx, out);
	ASSERT_PTR_NOT_NULL(got);
	s = strstr(got, "\"stdout\":");
	ASSERT_PTR_NOT_NULL(s);
	ASSERT_INT_EQ(strlen(s), want.len);
	ASSERT_TRUE(memcmp(s, want.p, want.len) == 0);
	close(out);
	close(err);
	talloc_free(ctx);
}

/* A piece boundary one byte past a whole 4-byte sequence, before a stray
 * continuation byte: the sequence stays one character. Three continuation
 * bytes before the boundary do not mean that none of them has its lead. */
static void test_json_pieces_stray(void)
{
	TALLOC_CTX *ctx = talloc_new(NULL);
	int out = tmpfd(), err = tmpfd();
	struct mg_report *rep = mk(ctx, MG_REPORT_JSON, out, err, "w1");
	struct mg_target_result ok = ran(0, 0);
	size_t piece = 256u << 10, n = piece + 2;
	char *big = talloc_array(ctx, char, n);
	char *got, *msg;

	ASSERT_PTR_NOT_NULL(rep);
	memset(big, 'a', n);
	memcpy(big + piece - 4, "\xf0\x9f\x98\x80\x80z", 6);
	mg_report_output(rep, 0, 1, big, n);
	mg_report_done(rep, 0, &ok);
	ASSERT_INT_EQ(mg_report_finish(rep, &msg), 0);
	got = slurp(ctx, out);
	ASSERT_PTR_NOT_NULL(got);
	ASSERT_STR_CONTAINS(got, "aa\xf0\x9f\x98\x80\\u0080z\"");
	close(out);
	close(err);
	talloc_free(ctx);
}

/* -b: the same limit; said on stderr as it happens and in the header. */
static void test_gather_cut(void)
{
	TALLOC_CTX *ctx = talloc_new(NULL);
	int out = tmpfd(), err = tmpfd();
	struct mg_report *rep = mk(ctx, MG_REPORT_GATHER, out, err, "w1 w2");
	struct mg_target_result ok = ran(0, 0);
	char *got, *msg;
	size_t n;

	ASSERT_PTR_NOT_NULL(rep);
	out_fill(rep, 0, 1, 'x', MG_REPORT_KEEP_MAX);
	ASSERT_STR_EQ(slurp(ctx, err), "");
	out_fill(rep, 0, 1, 'x', 1);
	ASSERT_STR_EQ(slurp(ctx, err), "w1: stdout over 64 MiB, cut short\n");
	out_fill(rep, 0, 1, 'x', 5u << 20);
	out_str(rep, 1, 1, "small\n");
	mg_report_done(rep, 0, &ok);
	mg_report_done(rep, 1, &ok);
	ASSERT_INT_EQ(mg_report_finish(rep, &msg), 0);
	got = slurp_n(ctx, out, &n);
	ASSERT_PTR_NOT_NULL(got);
	ASSERT_TRUE(strncmp(got, "---------------\nw1 (stdout over 64 MiB, cut short)\n"
			    "---------------\nxxx", 68) == 0);
	ASSERT_STR_CONTAINS(got + MG_REPORT_KEEP_MAX, "x\n---------------\nw2\n"
			    "---------------\nsmall\n");
	ASSERT_STR_EQ(slurp(ctx, err), "w1: stdout over 64 MiB, cut short\n"
		      "1 of 2 failed: w1 (stdout over 64 MiB, cut short)\n");
	ASSERT_INT_EQ(mg_report_exit_status(rep), 255);
	close(out);
	close(err);
	talloc_free(ctx);
}

struct backlog_log {
	int calls;
	bool full;
};

static void on_backlog(void *data, bool full)
{
	struct backlog_log *b = data;

	b->calls++;
	b->full = full;
}

/*
 * With a loop, output to a pipe nobody reads never blocks: it waits in
 * the queue, the producer is told to hold past the high mark and to go on
 * once the loop has written most of it, nothing is lost or reordered, and
 * the pipe's blocking mode is put back by mg_report_finish().
 */
static void test_loop_slow_reader(void)
{
	TALLOC_CTX *ctx = talloc_new(NULL);
	struct mg_loop *loop = mg_loop_new(ctx);
	struct mg_report_opts o = { .mode = MG_REPORT_PREFIX, .loop = loop };
	struct backlog_log bl = { 0 };
	struct mg_target_result ok = ran(0, 0);
	struct mg_report *rep;
	char *errmsg = NULL, *line, *got, *rest;
	size_t len = 0, want = 0;
	int p[2], err = tmpfd(), status = 0;
	pid_t pid;

	ASSERT_INT_EQ(pipe2(p, O_CLOEXEC), 0);
	o.out_fd = p[1];
	o.err_fd = err;
	rep = mg_report_new(ctx, &o, &errmsg);
	ASSERT_PTR_NOT_NULL(rep);
	ASSERT_INT_EQ(mg_report_add(rep, "a", "local"), 0);
	mg_report_set_backlog(rep, on_backlog, &bl);
	ASSERT_TRUE((fcntl(p[1], F_GETFL) & O_NONBLOCK) != 0);
	/* 2 MiB of lines into a 64 KiB pipe: each call returns at once. */
	line = talloc_asprintf(ctx, "%063d\n", 7);
	for (int k = 0; k < 32768; k++) {
		mg_report_output(rep, 0, 1, line, 64);
		want += 67;
	}
	ASSERT_INT_EQ(bl.calls, 1);
	ASSERT_TRUE(bl.full);
	/* The reader is back: the loop writes, the producer may go on. */
	got = talloc_size(ctx, want + 1);
	while (len < want && bl.full) {
		ssize_t n = read(p[0], got + len, want - len < 65536 ? want - len : 65536);

		ASSERT_INT_GE(n, 1);
		if (n <= 0) {
			break;
		}
		len += (size_t)n;
		ASSERT_INT_GE(mg_loop_run_once(loop, 0), 0);
	}
	ASSERT_INT_EQ(bl.calls, 2);
	ASSERT_TRUE(!bl.full);
	ASSERT_TRUE(want - len > MG_REPORT_QUEUE_LOW - 65536);
	mg_report_done(rep, 0, &ok);
	fflush(stdout);
	pid = fork();
	ASSERT_INT_GE(pid, 0);
	if (pid == 0) {
		/* mg_report_finish() writes the rest, waiting for this reader. */
		char buf[65536];
		ssize_t n;

		close(p[1]);
		while ((n = read(p[0], buf, sizeof(buf))) > 0) {
			if (write(err, buf, (size_t)n) != n) {
				_exit(3);
			}
		}
		_exit(n == 0 ? 0 : 4);
	}
	close(p[0]);
	ASSERT_INT_EQ(mg_report_finish(rep, &errmsg), 0);
	ASSERT_TRUE((fcntl(p[1], F_GETFL) & O_NONBLOCK) == 0);
	close(p[1]);
	ASSERT_INT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT_INT_EQ(status, 0);
	/* The reader's part went to 'err': together, every line, in order. */
	rest = slurp(ctx, err);
	ASSERT_PTR_NOT_NULL(rest);
	ASSERT_INT_EQ(len + strlen(rest), want);
	if (rest != NULL && len + strlen(rest) == want) {
		memcpy(got + len, rest, want - len);
		for (size_t i = 0; i < want; i += 67) {
			if (strncmp(got + i, "a: 00", 5) != 0 || got[i + 66] != '\n') {
				T_FAIL("line at byte %zu: %.10s", i, got + i);
				break;
			}
		}
	}
	talloc_free(rep);
	close(err);
	talloc_free(ctx);
}

int main(void)
{
	TESTS_BEGIN();
	/* A closed pipe must give EPIPE, not kill the test. */
	signal(SIGPIPE, SIG_IGN);
	RUN(test_names_hosts);
	RUN(test_names_unique);
	RUN(test_names_many);
	RUN(test_file_stem);
	RUN(test_fold);
	RUN(test_fold_padding);
	RUN(test_fold_large);
	RUN(test_prefix_interleaved);
	RUN(test_prefix_chunks);
	RUN(test_partial_at_done);
	RUN(test_long_lines);
	RUN(test_long_lines_one_file);
	RUN(test_long_lines_hold_max);
	RUN(test_long_lines_part_freed);
	RUN(test_plain);
	RUN(test_summary_ident);
	RUN(test_gather);
	RUN(test_json_escape);
	RUN(test_json_outcomes);
	RUN(test_summary);
	RUN(test_summary_cap);
	RUN(test_summary_long_name);
	RUN(test_exit_status);
	RUN(test_add_checks);
	RUN(test_outdir);
	RUN(test_failed_file);
	RUN(test_write_error);
	RUN(test_nonblocking_pipe);
	RUN(test_json_cut);
	RUN(test_json_pieces);
	RUN(test_json_pieces_stray);
	RUN(test_gather_cut);
	RUN(test_loop_slow_reader);
	return TESTS_END();
}
