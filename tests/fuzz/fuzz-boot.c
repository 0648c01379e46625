/*
 * The boot-line reader (lib/hop/conn.c): what a hop prints before its agent
 * is up, on stdout (lines of noise, the first stage's markers, then
 * frames, the HELLO reply among them) and on stderr or its terminal
 * (prompts, failures), read by a real connection (mg__conn_start) from a
 * real hop process: tests/fuzz/boot-helper.c, given as the method's
 * command (docker_path=, sudo_path=...), prints the fuzzer's bytes.
 *
 * Checked: the connection ends, once, within its timeout, with a message
 * when it fails; a hop that is up is routed then.
 *
 * Input: u8 hop (index into the table below), u8 flags (bit 0: a password
 * is at hand; bit 1: a password asked for is refused), a u16-length
 * stderr, then the stdout.
 */
#include <ctype.h>
#include <libgen.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include "fuzz.h"
#include "boot.h"
#include "conn.h"
#include "mitogen/chain.h"
#include "router.h"

static const char *const hops[] = {
	"docker:c1?docker_path=%s", "sudo:root?sudo_path=%s", "su:root?su_path=%s",
	"doas:root?doas_path=%s", "ssh:web1?ssh_path=%s",
	"ssh:web1?ssh_path=%s&check_host_keys=accept",
};
#define N_HOPS (sizeof(hops) / sizeof(hops[0]))

static struct mg_chain_list *chains[N_HOPS];
static char dir[] = "/tmp/mg-fuzz-boot.XXXXXX";
static uint8_t image_bytes[64];
static const struct mg_image image = { image_bytes, sizeof(image_bytes), NULL };

struct run {
	TALLOC_CTX *ctx;
	struct mg_loop *loop;
	struct mg_router *r;
	bool refuse;
	int done;
	int err;
	char *errmsg;
};

static void on_done(struct mg_conn *c, int err, const char *errmsg, void *data)
{
	struct run *r = data;

	FUZZ_CHECK(r->done++ == 0);
	FUZZ_CHECK(err == 0 || (errmsg != NULL && errmsg[0] != '\0'));
	/* Up means routed (it may be dropped later, for what follows). */
	FUZZ_CHECK(err != 0 || mg__router_reachable(r->r, 1));
	r->err = err;
}

static bool is_done(void *arg)
{
	return ((struct run *)arg)->done > 0;
}

struct answer {
	struct run *r;
	mg_password_cb cb;
	void *cb_data;
};

static void give_answer(void *data)
{
	struct answer *a = data;

	if (a->r->refuse) {
		a->cb(a->cb_data, NULL, "no password for you");
	} else {
		a->cb(a->cb_data, "secret", NULL);
	}
	talloc_free(a);
}

static void ask(void *ask_data, mg_password_cb cb, void *cb_data)
{
	struct run *r = ask_data;
	struct answer *a = talloc_zero(r->ctx, struct answer);

	FUZZ_CHECK(a != NULL);
	a->r = r;
	a->cb = cb;
	a->cb_data = cb_data;
	FUZZ_CHECK(mg_loop_defer(r->loop, a, give_answer, a) == 0);
}

static void put_file(const char *name, const uint8_t *p, size_t n)
{
	char path[256];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	FUZZ_CHECK(fd >= 0);
	FUZZ_CHECK(n == 0 || write(fd, p, n) == (ssize_t)n);
	close(fd);
}

static void cleanup(void)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/out", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/err", dir);
	unlink(path);
	rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char self[4096], helper[4200];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	signal(SIGPIPE, SIG_IGN);
	fz_quiet_logs();
	FUZZ_CHECK(n > 0);
	self[n] = '\0';
	snprintf(helper, sizeof(helper), "%s/fuzz-boot-helper", dirname(self));
	if (access(helper, X_OK) != 0) {
		fprintf(stderr, "fuzz-boot: %s: %s\n", helper, strerror(errno));
		exit(1);
	}
	FUZZ_CHECK(mkdtemp(dir) != NULL);
	atexit(cleanup);
	setenv("MG_FUZZ_BOOT", dir, 1);
	/* Percent-encoded: '/' would end the hop. */
	char *enc = talloc_strdup(NULL, "");
	for (const char *c = helper; *c != '\0'; c++) {
		enc = isalnum((unsigned char)*c) || strchr("._-", *c) != NULL
		      ? talloc_asprintf_append(enc, "%c", *c)
		      : talloc_asprintf_append(enc, "%%%02X", (unsigned char)*c);
		FUZZ_CHECK(enc != NULL);
	}
	for (size_t i = 0; i < N_HOPS; i++) {
		char *text = talloc_asprintf(NULL, hops[i], enc), *err = NULL;
		if (mg_chain_parse(NULL, text, &chains[i], &err) != 0) {
			fprintf(stderr, "%s: %s\n", text, err);
			abort();
		}
		FUZZ_CHECK(chains[i]->n_chains == 1 && chains[i]->chains[0].n_hops == 1);
		talloc_free(text);
	}
	talloc_free(enc);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FUZZ_LEAKS_BEGIN;
	struct fz f = { data, size };
	TALLOC_CTX *ctx = talloc_new(NULL);
	struct mg_conn_params p = { 0 };
	struct run run = { 0 };
	struct mg_router *r;
	struct mg_conn *c = NULL;
	char *errmsg = NULL;
	uint8_t flags;
	size_t n;
	const uint8_t *err;
	pid_t pid;

	p.hop = &chains[fz_u8(&f) % N_HOPS]->chains[0].hops[0];
	flags = fz_u8(&f);
	err = fz_chunk(&f, &n);
	put_file("err", err, n);
	put_file("out", f.p, f.n);
	run.ctx = ctx;
	run.loop = mg_loop_new(ctx);
	run.refuse = (flags & 2) != 0;
	FUZZ_CHECK(run.loop != NULL);
	r = mg__router_new(ctx, run.loop, 0, NULL, 0);
	FUZZ_CHECK(r != NULL);
	run.r = r;
	p.id = 1;
	p.name = "hop";
	p.image = &image;
	p.timeout_ms = 500;
	p.password = (flags & 1) != 0 ? "secret" : NULL;
	p.ask = ask;
	p.ask_data = &run;
	FUZZ_CHECK(mg__conn_start(ctx, r, &p, on_done, &run, &c, &errmsg) == 0);
	fz_run(run.loop, is_done, &run, 10000);
	FUZZ_CHECK(run.done == 1);
	/* Only now: a method that prepares first (ssh asks ssh -G) spawns
	 * from the loop, and before that there is no pid (0 would wait for
	 * any child at all). */
	pid = mg__conn_pid(c);
	talloc_free(ctx);
	/* The hop exits once its output is read or its reader gone; the
	 * connection may have reaped it already (ECHILD then). */
	while (pid > 0 && waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
	}
	FUZZ_LEAKS_END;
	return 0;
}
