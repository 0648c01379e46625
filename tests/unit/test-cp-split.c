/* Where mitogen-cp splits a CHAIN:PATH word (tool/cp-split.c): the same
 * answers as a plain try of the parser at every ':', found quickly. */
#include <errno.h>
#include <stdbool.h>
#include <time.h>
#include <unistd.h>
#include <mitogen/chain.h>
#include "harness.h"
#include "cp.h"

/* The first split, kept as the reference: the parser at every ':' that
 * is not inside a '[' (before a hop's '?'). Quadratic, and plainly right. */
static bool ref_is_chain(const char *word, size_t n)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	char *text = talloc_strndup(tmp, word, n);
	struct mg_chain_list *list = NULL;
	char *errmsg = NULL;
	bool ok = text != NULL && mg_chain_parse(tmp, text, &list, &errmsg) == 0;

	talloc_free(tmp);
	return ok;
}

struct ref_colons {
	const char *w;
	size_t i;
	bool bracket;
	bool opts;
};

static long ref_next_colon(struct ref_colons *s)
{
	for (; s->w[s->i] != '\0'; s->i++) {
		char c = s->w[s->i];

		if (c == ':' && !s->bracket) {
			return (long)s->i++;
		}
		if (s->opts) {
			s->opts = c != '/' && c != ',';
		} else if (c == '[' || c == ']') {
			s->bracket = c == '[';
		} else if (c == '?' && !s->bracket) {
			s->opts = true;
		}
	}
	return -1;
}

/* The reference's choice: the colon ending the chain, -1 for none, and
 * whether the word is refused (-2 when it is local). */
static long ref_split(const char *word, bool *refused)
{
	struct ref_colons scan = { .w = word };
	long c, best = -1, first_slash = -1;

	*refused = false;
	if (word[0] == '/' || word[0] == '.' || strchr(word, ':') == NULL) {
		return -2;
	}
	while ((c = ref_next_colon(&scan)) >= 0) {
		if (first_slash < 0 && word[c + 1] == '/') {
			first_slash = c;
		}
		if (c > 0 && ref_is_chain(word, (size_t)c)) {
			best = c;
			if (word[c + 1] == '/') {
				break;
			}
		}
	}
	*refused = best < 0 || (first_slash >= 0 && word[best + 1] != '/' &&
				strncmp(word + best + 1, "./", 2) != 0);
	return best;
}

/* mg_cp_split agrees with the reference on 'word'; 0 or a message. */
static const char *agree(TALLOC_CTX *tmp, const char *word)
{
	char *chain = NULL, *path = NULL, *err = NULL;
	bool refused;
	long best = ref_split(word, &refused);
	int r = mg_cp_split(tmp, word, &chain, &path, &err);

	if (best == -2) {
		return r == 0 && chain == NULL ? NULL : "local word split";
	}
	if (refused) {
		return r == -EINVAL && err != NULL ? NULL
		       : talloc_asprintf(tmp, "not refused (%d, chain '%s')", r,
					 chain != NULL ? chain : "");
	}
	if (r != 1 || chain == NULL || path == NULL) {
		return talloc_asprintf(tmp, "refused: %d %s", r, err != NULL ? err : "");
	}
	if (strlen(chain) != (size_t)best || strncmp(chain, word, (size_t)best) != 0) {
		return talloc_asprintf(tmp, "chain '%s', expected '%.*s'", chain, (int)best, word);
	}
	return NULL;
}

#define AGREE(tmp, w) do { const char *m_ = agree(tmp, w); \
	if (m_ != NULL) { T_FAIL("'%s': %s", (w), m_); } } while (0)

static void test_words(void)
{
	static const char *const words[] = {
		"ssh:web1:2222:/etc/x", "ssh:web1/sudo:/etc/x", "web1:a:b", "ssh:web1:",
		"local/sudo:root?usr=x:/tmp/d", "local/local?remot_name=x:/tmp/d",
		"ssh:we%20b:notes", "sduo:root:/x", "web1:a:/b", "web1:./a:/b",
		"local/sudo?password_prompt=a[b:/x", "local:/a", "local,local/local:/a",
		"lcoal:/a", "ssh:[::1]:22:/x", "ssh:[::1]:f", "[::1]:x", "root@[fe80::1]:2:p",
		"ssh=web1+sudo=root:/x", "ssh=web1=22+sudo:f", "a=b,c:d:/e", "h?ssh_args=a+,local:/x",
		"setns:docker:c:/x", "setns:docker:c:f", "setns:docker:c,setns:lxc:d:f",
		"docker:?image=x:y:/z", "docker:?username=u&image=i:f", "docker:c?image=i:f",
		"ssh:h?username=:/f", "ssh:h?username=:", "ssh:h?port=22:f", "ssh:h?port=2:2:f",
		"ssh:h?ssh_args=a:b:c:/f", "ssh:h?ssh_args=-o%20A=b:c&ssh_args=x:y:z",
		"ssh:web{1,2}:22:/x", "ssh:web[01-03]:f", "ssh:{a:1,b:2}:f", "{local,sudo}:x",
		"local/:x", "local,:x", ":x", "a:", "::", "ssh:h :x", "ssh:h?k=v :x",
		"ssh:h?connect_timeout=3:/x", "ssh:127.0.0.1:1?connect_timeout=3:/x",
		"ssh:h/sudo:root/local:f:g:/h", "sudo:root:x:y", "local?remote_name=a:b/c:d",
		"local/local/local:./x:/y", "local:./:/", "web:x", "two:/x", "two/local:f",
		"x y:/,local:f", "ssh:h?username=:/ssh:h?username=:/local:f",
		/* Values the parser checks (chain-value.c): a quote closed past a
		 * ':' makes a longer cut valid where a shorter one was not. */
		"ssh:h?ssh_args='a:b':/f", "ssh:h?ssh_args='a:b':f", "ssh:h?ssh_args='a:b:c'd:e", "ssh:h?ssh_args=x'a:b:c'd:e:f", "ssh:h?ssh_args=%27a:b:c%27d:e", "ssh:h?ssh_args='a:b:/c':/f", "ssh:h?ssh_args=\"a:b\":f",
		"local/sudo:root?sudo_args='-a:b':/x", "ssh:h?port=2:2:/f", "local?debug=1:0:/x",
		"ssh:h?connect_timeout=1:5:/f", "ssh:h?check_host_keys=accept:/f",
	};
	TALLOC_CTX *tmp = talloc_new(NULL);

	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		AGREE(tmp, words[i]);
	}
	talloc_free(tmp);
}

/* Words made of chain-like pieces, many of them near misses. */
static void test_random_words(void)
{
	static const char *const bits[] = {
		"ssh", "sudo", "local", "setns", "docker", "web1", "h", "root", "two", "web",
		":", ":", ":", ":", "/", "/", ",", "?", "&", "=", "=", "[", "]", "{", "}",
		"@", "1", "22", "01-02", "a,b", " ", "%3A", "%", "+", ".", "./", "::1",
		"port=", "username=", "image=", "ssh_args=", "remote_name=", "usr=",
		"lxc:", "docker:", "-", "\t", "'", "'", "\"", "\\", "%27", "debug=", "sudo_args=",
		"connect_timeout=", "keepalive_count=", "check_host_keys=", "accept", "yes",
	};
	const size_t n_bits = sizeof(bits) / sizeof(bits[0]);
	TALLOC_CTX *tmp = talloc_new(NULL);
	unsigned seed = 12345;
	int n = T_ASAN ? 3000 : 20000;

	for (int i = 0; i < n; i++) {
		char word[256] = "";
		int len = 1 + (int)((seed = seed * 1103515245u + 12345u) >> 16) % 14;

		for (int k = 0; k < len; k++) {
			seed = seed * 1103515245u + 12345u;
			strcat(word, bits[(seed >> 16) % n_bits]);
		}
		AGREE(tmp, word);
		if (i % 500 == 0) {
			talloc_free_children(tmp);
		}
	}
	talloc_free(tmp);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* 'unit' repeated until the word has ~20000 colons, between head and
 * tail. Built in one allocation: appending a unit at a time reallocated
 * 40 KB thousands of times, 90% of this test under MALLOC_PERTURB_. */
static char *big_word(TALLOC_CTX *ctx, const char *head, const char *unit, const char *tail)
{
	size_t per = 0, reps, hl = strlen(head), ul = strlen(unit), tl = strlen(tail);
	char *w, *p;

	for (const char *s = unit; *s != '\0'; s++) {
		per += *s == ':';
	}
	/* A quadratic search shows at 20000 in a plain build; a sanitizer
	 * build takes a quarter, which its own slowness makes as long. */
	reps = (T_ASAN ? 5000 : 20000) / (per > 0 ? per : 1);
	w = talloc_array(ctx, char, hl + reps * ul + tl + 1);
	if (w == NULL) {
		return NULL;
	}
	memcpy(w, head, hl);
	p = w + hl;
	for (size_t i = 0; i < reps; i++, p += ul) {
		memcpy(p, unit, ul);
	}
	memcpy(p, tail, tl + 1);
	return w;
}

/* Words of ~20000 colons: each once through the parser was ~20 s. A
 * generous bound, a guard against a hang, not a benchmark: 8 s, and 60
 * under a sanitizer on a loaded machine (one took 9.5 s under clang's
 * ASan, beside other tests, where the old search takes minutes). */
static void test_many_colons(void)
{
	static const char *const shapes[][3] = {
		{ "", "a:", "b" },
		{ "local:", "a:", "/b" },
		{ "ssh:h?ssh_args=", "a:", "b" },
		{ "ssh:h?port=1", ":2", "" },
		{ "ssh:h?ssh_args=", "a:", "&port=x:/f" },
		{ "", "ssh:h:1,", "x:f" },
		{ "", "setns:docker:c,", "f" },
		{ "", "ssh:h?username=:/", "f:g" },
		{ "x y/", "a:1/", "f" },
	};
	TALLOC_CTX *tmp = talloc_new(NULL);

	for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
		char *w = big_word(tmp, shapes[i][0], shapes[i][1], shapes[i][2]);
		char *chain = NULL, *path = NULL, *err = NULL;
		double t0 = now();

		ASSERT_PTR_NOT_NULL(w);
		(void)mg_cp_split(tmp, w, &chain, &path, &err);
		if (now() - t0 > (T_ASAN ? 60.0 : 8.0)) {
			T_FAIL("shape %zu ('%s%s...'): %.1f s", i, shapes[i][0], shapes[i][1], now() - t0);
		}
		talloc_free_children(tmp);
	}
	talloc_free(tmp);
}

/* A few of the big words against the reference too (slow: not under
 * ASan, and only where the reference itself is quick enough). */
static void test_many_colons_agree(void)
{
	TALLOC_CTX *tmp;
	char *w;

	if (T_ASAN) {
		printf("# the reference is too slow under a sanitizer\n");
		return;
	}
	tmp = talloc_new(NULL);
	w = big_word(tmp, "ssh:h?ssh_args=", "a:", "b");

	ASSERT_PTR_NOT_NULL(w);
	w[2000] = '\0';
	AGREE(tmp, w);
	w = big_word(tmp, "ssh:h?port=1", ":2", "");
	w[1500] = '\0';
	AGREE(tmp, w);
	w = big_word(tmp, "", "setns:docker:c,", "f");
	w[3000] = '\0';
	AGREE(tmp, w);
	w = big_word(tmp, "", "ssh:h?username=:/", "f:g");
	w[1700] = '\0';
	AGREE(tmp, w);
	talloc_free(tmp);
}

int main(void)
{
	char path[] = "/tmp/test-cp-split-XXXXXX";
	static const char config[] = "[aliases]\nweb = ssh:w1/sudo\ntwo = local,local\n";
	int fd = mkstemp(path);

	if (fd < 0 || write(fd, config, strlen(config)) != (ssize_t)strlen(config)) {
		return 1;
	}
	close(fd);
	setenv("MITOGEN_CONFIG", path, 1);
	TESTS_BEGIN();
	RUN(test_words);
	RUN(test_random_words);
	RUN(test_many_colons);
	RUN(test_many_colons_agree);
	unlink(path);
	return TESTS_END();
}
