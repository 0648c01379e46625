/*
 * The first stage, run for real: /bin/sh reads the agent image from a
 * socket, execs it, and the agent says it is up. Also with a non-blocking
 * stdin fed in slow pieces (head then fails with EAGAIN and must retry),
 * and with an image cut short (no file may be left behind); and with the
 * image in the argv, under dash, bash and busybox.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <termios.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "boot.h"
#include "buf.h"
#include "harness.h"
#include "process.h"
#include "protocol.h"

static char tmpdir[] = "/tmp/mg-test-boot.XXXXXX";

static int count_files(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	while (d != NULL && (e = readdir(d)) != NULL) {
		if (e->d_name[0] != '.' || (e->d_name[1] != '\0' && e->d_name[1] != '.')) {
			n++;
		}
	}
	if (d != NULL) {
		closedir(d);
	}
	return n;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Read from fd until 'want' appears in what was read or 'ms' pass. */
static bool wait_for(int fd, const char *want, char *buf, size_t cap, int ms)
{
	size_t len = 0;

	buf[0] = '\0';
	while (ms > 0) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, 50) == 1) {
			n = read(fd, buf + len, cap - 1 - len);
			if (n <= 0) {
				return false;
			}
			len += (size_t)n;
			buf[len] = '\0';
			if (memmem(buf, len, want, strlen(want)) != NULL) {
				return true;
			}
		}
		ms -= 50;
	}
	return false;
}

/* The shell boot_as runs the first stage with; NULL: /bin/sh. */
static const char *const *boot_sh;
/* boot_as runs the guarded image's first stage (no wc after head). */
static bool boot_guarded;

/* Boot the agent through the first stage (under boot_sh); feed the
 * image in 'pieces' with pauses, up to 'send' bytes
 * of it. Returns the child's pid. */
static pid_t boot_as(const struct mg_image *img, bool nonblock, int pieces,
		     size_t send, int *_sock)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	char **argv = boot_guarded ? mg__boot_argv_guarded(tmp, img->len) :
				     mg__boot_argv(tmp, img->len);
	const char *v[16];
	int sv[2], vn = 0;
	pid_t pid = -1;
	size_t off = 0;

	for (; boot_sh != NULL && boot_sh[vn] != NULL; vn++) {
		v[vn] = boot_sh[vn];
	}
	for (int i = 1; boot_sh != NULL && argv != NULL && argv[i] != NULL && vn < 15; i++) {
		v[vn++] = argv[i];
	}
	v[vn] = NULL;
	if (argv == NULL || mg__socketpair(sv) != 0) {
		talloc_free(tmp);
		return -1;
	}
	if (nonblock) {
		/* The child's end: its stdin is then non-blocking too. */
		fcntl(sv[1], F_SETFL, fcntl(sv[1], F_GETFL) | O_NONBLOCK);
	}
	{
		struct mg_spawn_opts so = {
			.argv = boot_sh != NULL ? v : (const char *const *)argv,
			.search_path = boot_sh != NULL,
			.setsid = true,
			.stdio = { sv[1], sv[1], -1 },
		};
		if (mg__spawn(&so, &pid) != 0) {
			pid = -1;
		}
	}
	close(sv[1]);
	for (int i = 0; pid > 0 && i < pieces; i++) {
		size_t n = i == pieces - 1 ? send - off : send / (size_t)pieces;
		size_t done = 0;
		while (done < n) {
			ssize_t w = write(sv[0], img->data + off + done, n - done);
			if (w < 0 && errno == EINTR) {
				continue;
			}
			if (w <= 0) {
				break;
			}
			done += (size_t)w;
		}
		off += n;
		if (i < pieces - 1) {
			sleep_ms(100); /* the reader finds the pipe empty */
		}
	}
	*_sock = sv[0];
	talloc_free(tmp);
	return pid;
}

static pid_t boot(const struct mg_image *img, bool nonblock, int pieces, size_t send,
		  int *_sock)
{
	return boot_as(img, nonblock, pieces, send, _sock);
}

static struct mg_image *load(TALLOC_CTX *ctx)
{
	struct mg_image *img = NULL;
	char *err = NULL;

	if (mg__image_load(ctx, &img, &err) != 0) {
		printf("# cannot load the agent: %s\n", err != NULL ? err : "?");
		return NULL;
	}
	return img;
}

static void boot_ok_as(bool nonblock, int pieces)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	struct mg_image *img = load(tmp);
	char buf[4096];
	int sock = -1, status = 0;
	pid_t pid;

	ASSERT_PTR_NOT_NULL(img);
	pid = boot_as(img, nonblock, pieces, img->len, &sock);
	ASSERT_TRUE(pid > 0);
	ASSERT_TRUE(wait_for(sock, MG_MARK_UP, buf, sizeof(buf), 10000));
	ASSERT_TRUE(strstr(buf, MG_MARK_STAGE1) != NULL);
	/* The agent unlinked its image as it started. */
	ASSERT_INT_EQ(count_files(tmpdir), 0);
	/* No HELLO, connection closed: the agent gives up and exits. */
	close(sock);
	ASSERT_INT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_INT_EQ(count_files(tmpdir), 0);
	talloc_free(tmp);
}

static void boot_ok(bool nonblock, int pieces)
{
	boot_ok_as(nonblock, pieces);
}

static void test_boot_blocking(void)
{
	boot_ok(false, 1);
}

static void test_boot_nonblocking_slow(void)
{
	boot_ok(true, 4);
}

/* Write all of p to a non-blocking fd, waiting while it is full. */
static bool write_all(int fd, const uint8_t *p, size_t n)
{
	size_t done = 0;

	while (done < n) {
		ssize_t w = write(fd, p + done, n - done);
		if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
			struct pollfd pf = { .fd = fd, .events = POLLOUT };
			char sink[4096];
			/* Keep draining what the other side prints meanwhile. */
			if (read(fd, sink, sizeof(sink)) < 0) {
				/* Nothing to read: fine. */
			}
			poll(&pf, 1, 50);
			continue;
		}
		if (w <= 0) {
			return false;
		}
		done += (size_t)w;
	}
	return true;
}

/*
 * su's hop: the image goes through a PTY. A login or PAM step may leave
 * its line discipline cooked (ICRNL turns 0x0d into 0x0a, IXON eats
 * 0x11/0x13): the first stage must make it raw before asking for the
 * image, or the agent arrives damaged.
 */
static void test_boot_cooked_pty(void)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	struct mg_image *img = load(tmp);
	char **argv;
	struct termios t;
	char buf[4096];
	int m = -1, sl = -1, status = 0;
	pid_t pid = -1;

	ASSERT_PTR_NOT_NULL(img);
	argv = mg__boot_argv(tmp, img->len);
	ASSERT_INT_EQ(mg__openpty(&m, &sl, false, true), 0);
	ASSERT_INT_EQ(tcgetattr(sl, &t), 0);
	t.c_iflag |= ICRNL | IXON;
	t.c_lflag |= ICANON;
	ASSERT_INT_EQ(tcsetattr(sl, TCSANOW, &t), 0);
	{
		struct mg_spawn_opts so = {
			.argv = (const char *const *)argv,
			.setsid = true,
			.set_ctty = true,
			.ctty = sl,
			.stdio = { sl, sl, sl },
		};
		ASSERT_INT_EQ(mg__spawn(&so, &pid), 0);
	}
	close(sl);
	ASSERT_TRUE(wait_for(m, MG_MARK_STAGE1, buf, sizeof(buf), 10000));
	ASSERT_TRUE(write_all(m, img->data, img->len));
	ASSERT_TRUE(wait_for(m, MG_MARK_UP, buf, sizeof(buf), 10000));
	close(m);
	ASSERT_INT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT_INT_EQ(count_files(tmpdir), 0);
	talloc_free(tmp);
}

/* Run argv with /bin/sh swapped for 'sh' (a shell's argv, NULL ended),
 * stdio on a socketpair whose end is returned in *_sock. */
static pid_t spawn_with(char **argv, const char *const *sh, int *_sock)
{
	/* The image may come as many words (MG_BOOT_ARG_WORD). */
	const char **v = talloc_array(NULL, const char *, 4 + talloc_array_length(argv));
	int sv[2], n = 0;
	pid_t pid = -1;

	if (v == NULL) {
		return -1;
	}
	while (sh[n] != NULL) {
		v[n] = sh[n];
		n++;
	}
	for (int i = 1; argv[i] != NULL; i++) {
		v[n++] = argv[i];
	}
	v[n] = NULL;
	if (mg__socketpair(sv) != 0) {
		talloc_free(v);
		return -1;
	}
	{
		struct mg_spawn_opts so = {
			.argv = v, .search_path = true, .setsid = true, .stdio = { sv[1], sv[1], -1 },
		};
		if (mg__spawn(&so, &pid) != 0) {
			pid = -1;
		}
	}
	talloc_free(v);
	close(sv[1]);
	*_sock = sv[0];
	return pid;
}

/* The shells a first stage may meet: dash (/bin/sh here), bash, busybox. */
static const char *const shells[][3] = {
	{ "/bin/sh", NULL }, { "bash", NULL }, { "busybox", "sh", NULL },
};

/* Where the shell finds prog (command -v), in path; false if nowhere. */
static bool find_prog(const char *prog, char *path, size_t size)
{
	char cmd[128];
	FILE *f;
	bool found;

	snprintf(cmd, sizeof(cmd), "command -v %s 2>/dev/null", prog);
	path[0] = '\0';
	if ((f = popen(cmd, "r")) == NULL) {
		return false;
	}
	found = fgets(path, (int)size, f) != NULL;
	found = pclose(f) == 0 && found;
	path[strcspn(path, "\n")] = '\0';
	return found && path[0] != '\0';
}

static bool have(const char *prog)
{
	char path[256];

	return find_prog(prog, path, sizeof(path));
}

/* NULs before octal digits and not, what printf %b and login shells
 * read in a special way; a NUL ends it all (no byte follows). */
static const uint8_t tricky[] = {
	0, '0', 0, '7', 0, '8', '\\', '\\', '\'', '!', '\n', '\r', '\\', '0', '\\', 'c',
	'%', 'b', 0, '1', '2', '3', '\'', '\'',
};

/* Whether pid exits within ms (then its status in *_status); if not,
 * it is killed and reaped. */
static bool exits_within(pid_t pid, int ms, int *_status)
{
	for (; ms > 0; ms -= 20) {
		if (waitpid(pid, _status, WNOHANG) == pid) {
			return true;
		}
		sleep_ms(20);
	}
	kill(pid, SIGKILL);
	waitpid(pid, _status, 0);
	return false;
}

/* Under a file size limit below the image, head is killed by SIGXFSZ
 * (at once, or once EAGAIN made it ask again): the first stage fails
 * (status 1) and removes its file, rather than retrying until the
 * master's timeout as it does after EAGAIN. */
static void boot_fsize(const struct mg_image *img, bool nonblock)
{
	struct rlimit old, lim;
	int sock = -1, status = 0;
	pid_t pid;

	ASSERT_INT_EQ(getrlimit(RLIMIT_FSIZE, &old), 0);
	lim = old;
	lim.rlim_cur = img->len / 2;
	ASSERT_INT_EQ(setrlimit(RLIMIT_FSIZE, &lim), 0);
	pid = boot_as(img, nonblock, nonblock ? 4 : 1, img->len, &sock);
	setrlimit(RLIMIT_FSIZE, &old);
	ASSERT_TRUE(pid > 0);
	ASSERT_TRUE(exits_within(pid, 10000, &status));
	close(sock);
	ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1);
	ASSERT_INT_EQ(count_files(tmpdir), 0);
}

/* test_boot_cut under every shell, in the form boot_guarded says. */
static void boot_cut_forms(const struct mg_image *img)
{
	static const size_t cuts[] = { 0, 2000, 30 };
	char buf[4096];
	int sock = -1, status = 0;
	pid_t pid;

	for (size_t s = 0; s < sizeof(shells) / sizeof(shells[0]); s++) {
		if (!have(shells[s][0])) {
			printf("# %s: not installed\n", shells[s][0]);
			continue;
		}
		boot_sh = shells[s];
		boot_ok_as(false, 1);
		boot_ok_as(true, 4);
		for (size_t c = 0; c < sizeof(cuts) / sizeof(cuts[0]); c++) {
			pid = boot_as(img, false, 2, cuts[c] != 0 ? cuts[c] : img->len / 2, &sock);
			ASSERT_TRUE(pid > 0);
			shutdown(sock, SHUT_WR);
			ASSERT_INT_EQ(waitpid(pid, &status, 0), pid);
			ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) != 0);
			ASSERT_TRUE(!wait_for(sock, MG_MARK_UP, buf, sizeof(buf), 200));
			close(sock);
			ASSERT_INT_EQ(count_files(tmpdir), 0);
		}
		boot_fsize(img, false);
		boot_fsize(img, true);
		printf("# %s%s: up, up again after EAGAIN, cut short thrice, "
		       "over ulimit -f twice\n", shells[s][0],
		       boot_guarded ? " (guarded)" : "");
	}
	boot_sh = NULL;
}

/* The first stage with the build's agent (packed or not), under dash,
 * bash and busybox: up whether head reads it all at once or must be
 * asked again (non-blocking, slow pieces); cut short anywhere, in the
 * payload, in the stub's code (a packed agent run cut there dies of
 * SIGBUS or SIGSEGV) or in its ELF header (busybox then runs it as a
 * script), it fails and leaves no file behind; so it does at once
 * under a file size limit below the image. The plain first
 * stage counts the bytes before it runs anything; a guarded image's
 * (packed) runs it as the shell's child, whose trap outlives it. */
static void test_boot_cut(void)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	struct mg_image *img = load(tmp);

	ASSERT_PTR_NOT_NULL(img);
	boot_guarded = false;
	boot_cut_forms(img);
	if (mg__image_guarded(img)) {
		boot_guarded = true;
		boot_cut_forms(img);
		boot_guarded = false;
	} else {
		printf("# the agent is not guarded (not packed): the plain first stage only\n");
	}
	talloc_free(tmp);
}

/*
 * A guarded image cut inside its ELF header, run as a command: bash
 * refuses a binary file, dash says "Exec format error", busybox runs it
 * as a script and stops at the guard's syntax error. None of them runs a
 * command out of it (a "not found" would say one was looked for; the
 * header holds a '>' that could create a file).
 */
static void test_boot_guard(void)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	struct mg_image *img = load(tmp);
	static const size_t cuts[] = { 10, 30, 64, 120 };
	char path[128], out[1024];

	ASSERT_PTR_NOT_NULL(img);
	if (!mg__image_guarded(img)) {
		printf("# the agent is not guarded (not packed)\n");
		talloc_free(tmp);
		return;
	}
	snprintf(path, sizeof(path), "%s/cut", tmpdir);
	for (size_t s = 0; s < sizeof(shells) / sizeof(shells[0]); s++) {
		if (!have(shells[s][0])) {
			continue;
		}
		for (size_t c = 0; c < sizeof(cuts) / sizeof(cuts[0]); c++) {
			int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0700);
			char *cmd = talloc_asprintf(tmp, "cd %s && %s %s -c '\"$0\"' %s 2>&1", tmpdir,
						    shells[s][0], shells[s][1] != NULL ? shells[s][1] : "",
						    path);
			FILE *f;
			size_t n;

			ASSERT_TRUE(fd >= 0);
			ASSERT_INT_EQ(write(fd, img->data, cuts[c]), (ssize_t)cuts[c]);
			close(fd);
			ASSERT_PTR_NOT_NULL(f = popen(cmd, "r"));
			n = fread(out, 1, sizeof(out) - 1, f);
			out[n] = '\0';
			ASSERT_TRUE(pclose(f) != 0);
			ASSERT_TRUE(strstr(out, "not found") == NULL);
			unlink(path);
			ASSERT_INT_EQ(count_files(tmpdir), 0);
		}
		printf("# %s: a cut header runs nothing\n", shells[s][0]);
	}
	talloc_free(tmp);
}

/*
 * The file is made and made 0700 in one subshell that becomes chmod: with
 * no chmod on PATH, the first stage says so, removes the file it made and
 * ends before it asks for the image (no MITO000), under dash and bash.
 */
static void test_boot_no_chmod(void)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	struct mg_image *img = load(tmp);
	static const char *const tools[] = { "rm", "head", "wc", "sleep", "stty" };
	char bin[64], buf[4096], *old = talloc_strdup(tmp, getenv("PATH"));
	int sock = -1, status = 0;
	pid_t pid;

	ASSERT_PTR_NOT_NULL(img);
	ASSERT_PTR_NOT_NULL(old);
	snprintf(bin, sizeof(bin), "%s/../mg-test-boot-bin.%d", tmpdir, (int)getpid());
	ASSERT_INT_EQ(mkdir(bin, 0700), 0);
	for (size_t s = 0; s < sizeof(shells) / sizeof(shells[0]); s++) {
		char path[256];

		/* Debian's busybox runs its own applets whatever PATH says. */
		if (!find_prog(shells[s][0], path, sizeof(path)) ||
		    strcmp(shells[s][0], "busybox") == 0) {
			continue;
		}
		/* The shell is found first, then PATH loses chmod; the link
		 * keeps its name (busybox reads its applet from argv[0]). */
		const char *base = strrchr(shells[s][0], '/');
		char *shell = talloc_asprintf(tmp, "%s/%s", bin, base != NULL ? base + 1 : shells[s][0]);

		ASSERT_INT_EQ(symlink(path, shell), 0);
		for (size_t t = 0; s == 0 && t < sizeof(tools) / sizeof(tools[0]); t++) {
			char *at = talloc_asprintf(tmp, "%s/%s", bin, tools[t]);
			char *to = talloc_asprintf(tmp, "/bin/%s", tools[t]);

			ASSERT_INT_EQ(symlink(to, at), 0);
		}
		const char *sh[] = { shell, shells[s][1], NULL };
		boot_sh = sh;
		setenv("PATH", bin, 1);
		pid = boot_as(img, false, 0, 0, &sock);
		setenv("PATH", old, 1);
		ASSERT_TRUE(pid > 0);
		/* No image will come: a stage that asked would see the end. */
		shutdown(sock, SHUT_WR);
		ASSERT_INT_EQ(waitpid(pid, &status, 0), pid);
		ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1);
		ASSERT_TRUE(!wait_for(sock, MG_MARK_STAGE1, buf, sizeof(buf), 200));
		close(sock);
		ASSERT_INT_EQ(count_files(tmpdir), 0);
		unlink(shell);
	}
	boot_sh = NULL;
	for (size_t t = 0; t < sizeof(tools) / sizeof(tools[0]); t++) {
		unlink(talloc_asprintf(tmp, "%s/%s", bin, tools[t]));
	}
	rmdir(bin);
	talloc_free(tmp);
}

/*
 * The image in the argv (ssh): every byte value, a NUL before octal
 * digits, and the bytes some login shell reads in single quotes, come out
 * of printf %b exactly; stdin is never read. The "image" is a script that
 * copies its own file (as the agent would read it) and says it is up.
 */
/* The image words of an argv from mg__boot_argv_inline (argv[6] counts
 * them), joined, on mem_ctx; "!bad words" (which no check accepts) unless
 * there are as many as counted, each at most MG_BOOT_ARG_WORD bytes once
 * quoted (a quote is '\'', 4 bytes), as csh wants. */
static char *image_text(TALLOC_CTX *mem_ctx, char **argv)
{
	char *text = talloc_strdup(mem_ctx, "");
	long k = argv != NULL && argv[6] != NULL ? strtol(argv[6], NULL, 10) : 0;

	for (long i = 0; i < k && text != NULL; i++) {
		size_t quoted = 0;

		for (const char *c = argv[7 + i]; c != NULL && *c != '\0'; c++) {
			quoted += *c == '\'' ? 4 : 1;
		}
		if (argv[7 + i] == NULL || quoted > MG_BOOT_ARG_WORD) {
			k = 0;
			break;
		}
		text = talloc_strdup_append(text, argv[7 + i]);
	}
	if (k < 1 || text == NULL || argv[7 + k] != NULL) {
		return talloc_strdup(mem_ctx, "!bad words");
	}
	return text;
}

static void test_boot_inline_bytes(void)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	char copy[256], script[512], buf[4096];
	/* Past two words' worth, escapes across their ends. */
	static uint8_t data[3 * MG_BOOT_ARG_WORD], got[sizeof(data)];
	size_t n;

	snprintf(copy, sizeof(copy), "%s/../mg-test-boot-copy.%d", tmpdir, (int)getpid());
	n = (size_t)snprintf(script, sizeof(script),
			     "#!/bin/sh\ncat \"$2\" >'%s';rm -f \"$2\";printf 'MITO002\\n';exit 0\n",
			     copy);
	memcpy(data, script, n);
	for (int i = 0; i < 256; i++) {
		data[n++] = (uint8_t)i;
	}
	memcpy(data + n, tricky, sizeof(tricky));
	n += sizeof(tricky);
	while (n < sizeof(data) - 1) {
		/* NULs before octal digits, backslashes, quotes, '!'. */
		static const uint8_t more[] = { 0, '1', '\\', '!', '\'', 'a', '\n', 0, 'x' };
		data[n] = more[n % sizeof(more)];
		n++;
	}
	data[n++] = 0;
	for (size_t s = 0; s < sizeof(shells) / sizeof(shells[0]); s++) {
		char **argv = mg__boot_argv_inline(tmp, data, n - 40, data + n - 40, 40, NULL);
		int sock = -1, status = 0;
		pid_t pid;
		FILE *f;
		size_t gn;
		char *text;

		if (!have(shells[s][0])) {
			printf("# %s: not installed\n", shells[s][0]);
			continue;
		}
		ASSERT_PTR_NOT_NULL(argv);
		text = image_text(tmp, argv);
		ASSERT_TRUE(strtol(argv[6], NULL, 10) >= 3);
		ASSERT_PTR_NULL(strchr(text, '!'));
		ASSERT_PTR_NULL(strchr(text, '\n'));
		ASSERT_PTR_NULL(strstr(text, "\\\\"));
		ASSERT_PTR_NULL(strstr(text, "\\'"));
		pid = spawn_with(argv, shells[s], &sock);
		ASSERT_TRUE(pid > 0);
		/* Nothing is written to its stdin: it must not wait for it. */
		ASSERT_TRUE(wait_for(sock, MG_MARK_UP, buf, sizeof(buf), 10000));
		close(sock);
		ASSERT_INT_EQ(waitpid(pid, &status, 0), pid);
		f = fopen(copy, "rb");
		ASSERT_PTR_NOT_NULL(f);
		gn = fread(got, 1, sizeof(got), f);
		fclose(f);
		unlink(copy);
		printf("# %s: %zu of %zu bytes\n", shells[s][0], gn, n);
		ASSERT_INT_EQ(gn, n);
		ASSERT_TRUE(memcmp(got, data, n) == 0);
		ASSERT_INT_EQ(count_files(tmpdir), 0);
	}
	talloc_free(tmp);
}

/* The real agent that way comes up; too large an image is refused (the
 * caller then pushes it on stdin). */
static void test_boot_inline_agent(void)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	struct mg_image *img = load(tmp);
	char **argv;
	char buf[4096];
	int sock = -1, status = 0;
	pid_t pid;
	uint8_t *big;

	ASSERT_PTR_NOT_NULL(img);
	argv = mg__boot_argv_inline(tmp, img->data, img->len, NULL, 0, img->esc);
	if (img->len > MG_BOOT_ARG_MAX) {
		/* The sanitizers' agent, a dynamic program of megabytes. */
		printf("# the agent (%zu bytes) goes on stdin\n", img->len);
		ASSERT_PTR_NULL(argv);
	} else {
		ASSERT_PTR_NOT_NULL(argv);
		ASSERT_TRUE(strlen(image_text(tmp, argv)) <= MG_BOOT_ARG_MAX);
		pid = spawn_with(argv, shells[0], &sock);
		ASSERT_TRUE(pid > 0);
		ASSERT_TRUE(wait_for(sock, MG_MARK_UP, buf, sizeof(buf), 10000));
		ASSERT_INT_EQ(count_files(tmpdir), 0);
		close(sock);
		ASSERT_INT_EQ(waitpid(pid, &status, 0), pid);
	}

	big = talloc_zero_size(tmp, MG_BOOT_ARG_MAX);
	ASSERT_PTR_NOT_NULL(big);
	memset(big, 'x', MG_BOOT_ARG_MAX);
	ASSERT_PTR_NOT_NULL(mg__boot_argv_inline(tmp, big, MG_BOOT_ARG_MAX, NULL, 0, NULL));
	ASSERT_PTR_NULL(mg__boot_argv_inline(tmp, big, MG_BOOT_ARG_MAX, (const uint8_t *)"!", 1, NULL));
	ASSERT_PTR_NULL(mg__boot_argv_inline(tmp, big, MG_BOOT_ARG_MAX - 1, (const uint8_t *)"", 1, NULL));
	talloc_free(tmp);
}

/* The image's escaped form is made once and reused: the same argv as
 * without it for any tail, including the case where the image's last
 * byte is a NUL and the tail starts with an octal digit ("\0000", not
 * "\00"), and made again for another image. */
static void test_boot_inline_kept(void)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	struct mg_boot_esc *esc = talloc_zero(tmp, struct mg_boot_esc);
	static const char *tails[] = { "", "7x", "8", "!\n'\\", "\00017" };
	static const size_t tail_lens[] = { 0, 2, 1, 4, 3 };
	uint8_t img[300], other[10] = "abcdefghi";
	const char *kept = NULL;

	for (int i = 0; i < 299; i++) {
		img[i] = (uint8_t)(i * 7);
	}
	img[299] = 0;
	ASSERT_PTR_NOT_NULL(esc);
	for (size_t t = 0; t < sizeof(tails) / sizeof(tails[0]); t++) {
		const uint8_t *tail = (const uint8_t *)tails[t];
		char **a = mg__boot_argv_inline(tmp, img, sizeof(img), tail, tail_lens[t], esc);
		char **b = mg__boot_argv_inline(tmp, img, sizeof(img), tail, tail_lens[t], NULL);

		ASSERT_TRUE(a != NULL && b != NULL);
		ASSERT_STR_EQ(image_text(tmp, a), image_text(tmp, b));
		ASSERT_STR_EQ(a[4], b[4]);
		ASSERT_TRUE(kept == NULL || kept == esc->text);
		kept = esc->text;
	}
	ASSERT_PTR_NOT_NULL(strstr(image_text(tmp, mg__boot_argv_inline(tmp, img, sizeof(img),
						(const uint8_t *)"7", 1, esc)), "\\00007"));
	ASSERT_PTR_NOT_NULL(strstr(image_text(tmp, mg__boot_argv_inline(tmp, img, sizeof(img),
						(const uint8_t *)"8", 1, esc)), "\\08"));
	ASSERT_STR_EQ(image_text(tmp, mg__boot_argv_inline(tmp, other, 9, (const uint8_t *)"j", 1,
							   esc)), "abcdefghij");
	ASSERT_TRUE(esc->of == other && esc->of_len == 9);
	talloc_free(tmp);
}

/*
 * mg__kill_session (process.c) counts what lives in a session, not a
 * zombie nobody has reaped yet: in a container whose init reaps nothing,
 * every hop's exit would wait out its whole grace for it.
 */
static void test_kill_session_zombie(void)
{
	int up[2], go[2], i, n_live, n_zombie;
	pid_t leader, z = 0;
	char st[64], path[64];
	FILE *f;

	ASSERT_INT_EQ(pipe(up), 0);
	ASSERT_INT_EQ(pipe(go), 0);
	leader = fork();
	ASSERT_INT_GE(leader, 0);
	if (leader == 0) {
		char c;

		signal(SIGCHLD, SIG_DFL);  /* ignored, z would be reaped at once */
		setsid();
		z = fork();
		if (z == 0) {
			close(up[1]);
			close(go[1]);
			(void)!read(go[0], &c, 1);  /* lives until told */
			_exit(0);
		}
		close(go[0]);
		close(go[1]);  /* z's read ends when the test closes its end */
		(void)!write(up[1], &z, sizeof(z));
		pause();  /* never reaps z */
		_exit(0);
	}
	close(up[1]);
	close(go[0]);
	n_live = read(up[0], &z, sizeof(z)) == (ssize_t)sizeof(z) ? mg__kill_session(leader, 0) : -1;
	close(go[1]);
	for (i = 0; i < 500 && mg__kill_session(leader, 0) != 0; i++) {
		usleep(10000);
	}
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)z);
	f = fopen(path, "r");
	st[0] = '\0';
	if (f != NULL) {
		(void)!fgets(st, sizeof(st), f);
		fclose(f);
	}
	n_zombie = mg__kill_session(leader, 0);
	/* Before any check: a leader left behind keeps the test's output open. */
	kill(leader, SIGKILL);
	waitpid(leader, NULL, 0);
	close(up[0]);
	ASSERT_INT_EQ(n_live, 1);
	ASSERT_TRUE(strstr(st, ") Z ") != NULL);
	ASSERT_INT_EQ(n_zombie, 0);
}

static void test_shell_quote(void)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	const char *argv[] = { "a b", "it's", "$(x)", "plain", "", NULL };

	ASSERT_STR_EQ(mg__shell_join(tmp, argv), "'a b' 'it'\\''s' '$(x)' plain ''");
	talloc_free(tmp);
}

/* A -vv line caps each word, not the line: what follows a long first
 * stage (ssh's options after an amend) stays in the log whatever the
 * length of the paths in front of it. */
static void test_argv_for_log(void)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	char *longw = talloc_zero_array(tmp, char, 1001);
	char *path = talloc_zero_array(tmp, char, 151);
	const char *argv[] = { "ssh", path, longw, "-o", "ProxyUseFdpass=yes", NULL };
	char *line, *want;

	memset(longw, 'x', 1000);
	memset(path, 'p', 150);
	line = mg__argv_for_log(tmp, argv);
	want = talloc_asprintf(tmp, "ssh %s %.160s... -o ProxyUseFdpass=yes", path, longw);
	ASSERT_STR_EQ(line, want);
	ASSERT_STR_EQ(mg__argv_for_log(tmp, (const char *[]){ "it's", NULL }), "'it'\\''s'");
	talloc_free(tmp);
}

/* Our environment with some variables replaced or added, each once. */
extern char **environ;

static void test_env_with(void)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	const char *over[] = { "MG_T_A=new", "MG_T_C=added", NULL };
	size_t n = 0, k = 0, a = 0, b = 0, c = 0;
	char **env;

	ASSERT_TRUE(setenv("MG_T_A", "old", 1) == 0 && setenv("MG_T_B", "kept", 1) == 0);
	unsetenv("MG_T_C");
	while (environ[n] != NULL) {
		n++;
	}
	env = mg__env_with(tmp, over);
	ASSERT_TRUE(env != NULL);
	for (; env[k] != NULL; k++) {
		a += strncmp(env[k], "MG_T_A=", 7) == 0;
		b += strcmp(env[k], "MG_T_B=kept") == 0;
		c += strcmp(env[k], "MG_T_C=added") == 0;
		ASSERT_TRUE(strcmp(env[k], "MG_T_A=old") != 0);
	}
	ASSERT_INT_EQ(k, n + 1);
	ASSERT_INT_EQ(a, 1);
	ASSERT_INT_EQ(b, 1);
	ASSERT_INT_EQ(c, 1);
	unsetenv("MG_T_A");
	unsetenv("MG_T_B");
	talloc_free(tmp);
}

/* A file of the given pieces in tmpdir; its path on mem_ctx. */
static char *write_pieces(TALLOC_CTX *mem_ctx, const char *name, const uint8_t *const *p,
			  const size_t *n, size_t count)
{
	char *path = talloc_asprintf(mem_ctx, "%s/%s", tmpdir, name);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	for (size_t i = 0; fd >= 0 && i < count; i++) {
		if (write(fd, p[i], n[i]) != (ssize_t)n[i]) {
			close(fd);
			return NULL;
		}
	}
	if (fd >= 0) {
		close(fd);
	}
	return fd >= 0 ? path : NULL;
}

/*
 * The image tails (PROTOCOL 2.2): MGH1 after the image, MGH2 also after
 * the agent unpacked in front of it. An agent's image for the next hop is
 * the packed part alone, and its plain agent the part in front.
 */
static void test_image_tails(void)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	static const uint8_t plain[] = "\177ELF plain agent";
	static const uint8_t packed[] = "stub MGPACK2\0 payload";
	uint8_t frames[MG_HDR_LEN + 3] = { 0 }, t1[MG_BOOT_TAIL_LEN], t2[MG_BOOT_TAIL2_LEN];
	struct mg_boot_tail t;
	struct mg_image *img, tmpl = { 0 };
	const uint8_t *pd, *again;
	size_t pl;
	char *one, *two;
	int fd;

	mg__put_be32(t1, sizeof(frames));
	memcpy(t1 + 4, MG_BOOT_TAIL_MAGIC, 4);
	mg__put_be32(t2, sizeof(plain));
	mg__put_be32(t2 + 4, sizeof(frames));
	memcpy(t2 + 8, MG_BOOT_TAIL2_MAGIC, 4);
	{
		const uint8_t *p1[] = { packed, frames, t1 }, *p2[] = { plain, packed, frames, t2 };
		const size_t n1[] = { sizeof(packed), sizeof(frames), sizeof(t1) };
		const size_t n2[] = { sizeof(plain), sizeof(packed), sizeof(frames), sizeof(t2) };
		one = write_pieces(tmp, "one", p1, n1, 3);
		two = write_pieces(tmp, "two", p2, n2, 4);
	}
	ASSERT_TRUE(one != NULL && two != NULL);

	mg__boot_tail_parse(t2, sizeof(plain) + sizeof(packed) + sizeof(frames) + sizeof(t2), &t);
	ASSERT_INT_EQ(t.frames, sizeof(frames));
	ASSERT_INT_EQ(t.len, sizeof(frames) + MG_BOOT_TAIL2_LEN);
	ASSERT_INT_EQ(t.plain, sizeof(plain));
	/* Lengths beyond the file: no tail at all. */
	mg__boot_tail_parse(t2, sizeof(frames) + sizeof(t2), &t);
	ASSERT_INT_EQ(t.frames, 0);
	ASSERT_INT_EQ(t.len, 0);
	ASSERT_INT_EQ(t.plain, 0);

	for (int i = 0; i < 2; i++) {
		fd = open(i == 0 ? one : two, O_RDONLY | O_CLOEXEC);
		ASSERT_INT_EQ(mg__image_from_fd(tmp, fd, &img), 0);
		close(fd);
		ASSERT_INT_EQ(img->len, sizeof(packed));
		ASSERT_TRUE(memcmp(img->data, packed, sizeof(packed)) == 0);
	}

	/* The plain agent of a packed image, from a file that holds it in
	 * front (an agent's own /proc/self/exe), or alone (AGENT.raw). */
	tmpl.data = (uint8_t *)packed;
	tmpl.len = sizeof(packed);
	tmpl.plain = two;
	ASSERT_INT_EQ(mg__image_plain(tmp, &tmpl, &pd, &pl), 0);
	ASSERT_INT_EQ(pl, sizeof(plain));
	ASSERT_TRUE(memcmp(pd, plain, sizeof(plain)) == 0);
	{
		const uint8_t *p[] = { plain };
		const size_t n[] = { sizeof(plain) };
		tmpl.plain = write_pieces(tmp, "raw", p, n, 1);
	}
	ASSERT_INT_EQ(mg__image_plain(tmp, &tmpl, &pd, &pl), 0);
	ASSERT_INT_EQ(pl, sizeof(plain));
	/* An image that is not packed, or no plain agent: nothing. */
	tmpl.plain = one;
	ASSERT_INT_EQ(mg__image_plain(tmp, &tmpl, &pd, &pl), -ENOEXEC);
	tmpl.data = (uint8_t *)plain;
	tmpl.len = sizeof(plain);
	ASSERT_INT_EQ(mg__image_plain(tmp, &tmpl, &pd, &pl), -ENOENT);
	tmpl.plain = NULL;
	ASSERT_INT_EQ(mg__image_plain(tmp, &tmpl, &pd, &pl), -ENOENT);
	/* An image loaded from a file reads it once. */
	img->plain = two;
	ASSERT_INT_EQ(mg__image_plain(tmp, img, &pd, &pl), 0);
	ASSERT_INT_EQ(mg__image_plain(tmp, img, &again, &pl), 0);
	ASSERT_TRUE(pd == again && pl == sizeof(plain));
	unlink(two);
	ASSERT_INT_EQ(mg__image_plain(tmp, img, &again, &pl), 0);
	ASSERT_TRUE(pd == again);
	unlink(one);
	unlink(talloc_asprintf(tmp, "%s/raw", tmpdir));
	talloc_free(tmp);
}

/* Copy 'from' to 'to', executable; one byte flipped at 'flip' (or not). */
static bool copy_file(const char *from, const char *to, long flip)
{
	FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
	long i = 0;
	int c;
	bool ok = in != NULL && out != NULL;

	while (ok && (c = fgetc(in)) != EOF) {
		ok = fputc(i++ == flip ? c ^ 0x55 : c, out) != EOF;
	}
	if (in != NULL) {
		fclose(in);
	}
	if (out != NULL && fclose(out) != 0) {
		ok = false;
	}
	return ok && chmod(to, 0755) == 0;
}

/* The installed plain agent must be the one the packed image inflates
 * to: replaced since the image was read (an upgrade under a holder), it
 * is not pushed before that image. */
static void test_plain_replaced(void)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	const char *agent = getenv("MITOGEN_AGENT");
	char *raw = talloc_asprintf(tmp, "%s.raw", agent != NULL ? agent : "");
	char *a2 = talloc_asprintf(tmp, "%s/mitogen-agent", tmpdir);
	char *r2 = talloc_asprintf(tmp, "%s/mitogen-agent.raw", tmpdir);
	struct mg_image *img = NULL;
	const uint8_t *pd;
	char *err = NULL;
	size_t pl;

	if (agent == NULL || access(raw, R_OK) != 0) {
		printf("# skip: no packed agent with its .raw (a static build's)\n");
		talloc_free(tmp);
		return;
	}
	ASSERT_TRUE(copy_file(agent, a2, -1) && copy_file(raw, r2, -1));
	ASSERT_INT_EQ(setenv("MITOGEN_AGENT", a2, 1), 0);
	ASSERT_INT_EQ(mg__image_load(tmp, &img, &err), 0);
	ASSERT_INT_EQ(mg__image_plain(tmp, img, &pd, &pl), 0);
	ASSERT_TRUE(pl > 1000 && memcmp(pd, "\177ELF", 4) == 0);
	/* Another build's .raw: the same length, one byte differs. */
	ASSERT_TRUE(copy_file(raw, r2, 1000));
	ASSERT_INT_EQ(mg__image_load(tmp, &img, &err), 0);
	ASSERT_INT_EQ(mg__image_plain(tmp, img, &pd, &pl), -ESTALE);
	ASSERT_INT_EQ(mg__image_plain(tmp, img, &pd, &pl), -ESTALE);
	ASSERT_INT_EQ(setenv("MITOGEN_AGENT", agent, 1), 0);
	unlink(a2);
	unlink(r2);
	talloc_free(tmp);
}

int main(void)
{
	int rc;

	signal(SIGPIPE, SIG_IGN);
	if (mkdtemp(tmpdir) == NULL) {
		return 1;
	}
	setenv("TMPDIR", tmpdir, 1);
	TESTS_BEGIN();
	RUN(test_shell_quote);
	RUN(test_kill_session_zombie);
	RUN(test_argv_for_log);
	RUN(test_env_with);
	RUN(test_boot_blocking);
	RUN(test_boot_nonblocking_slow);
	RUN(test_boot_cut);
	RUN(test_boot_guard);
	RUN(test_boot_no_chmod);
	RUN(test_boot_cooked_pty);
	RUN(test_boot_inline_bytes);
	RUN(test_boot_inline_agent);
	RUN(test_boot_inline_kept);
	RUN(test_image_tails);
	RUN(test_plain_replaced);
	rc = TESTS_END();
	rmdir(tmpdir);
	return rc;
}
