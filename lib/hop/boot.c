/* First stage and agent image: see boot.h and docs/PROTOCOL.md. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "boot.h"
#include "method.h"
#include "buf.h"
#include "config.h"
#include "mitogen/error.h"
#include "mitogen/log.h"
#include "protocol.h"
#include "shell-bare.h"

/*
 * The first stage. $1 is the image length, $2 a nonce for the file name.
 * The file is made in a command substitution, the one fork the shell needs
 * before head: it takes the private umask 077 and noclobber there, creates
 * the file, prints its name and becomes chmod. A file that test -x then
 * refuses is on a noexec mount (CIS-hardened hosts mount /tmp, /var/tmp
 * and /dev/shm so): it is removed and the next directory tried ($x holds
 * those given up), HOME last. The shell's own umask stays
 * the one the hop's login gave, and the agent ("-") keeps it for everything
 * it runs; $$ is the shell's pid inside the substitution too.
 * It must run under any POSIX sh (dash, bash, busybox ash), read exactly
 * $1 bytes (GNU head reads no further; busybox head may, so the master
 * sends nothing more until the agent is up), survive a non-blocking stdin
 * (head fails with EAGAIN: retry), and leave no file behind: the EXIT trap
 * removes it if anything fails before exec, and the agent unlinks it at
 * once after; where the agent runs as the shell's child (a guarded image,
 * the fused sudo), the trap finds it gone and runs no rm. A marker
 * written once the link is gone (the master gave up on a slow login)
 * raises SIGPIPE, which would kill the shell past its EXIT trap: caught,
 * it ends the shell through it, as SIGTERM, SIGHUP and SIGINT do (a hop
 * not yet up is stopped with SIGTERM first). The traps come before the
 * substitution, which ignores those three, so the file it makes is in $f
 * before any of them runs a trap; "f=" first: not one from the
 * environment. The removal ($c) ignores those three first, and its rm
 * inherits that: a hop may be signalled more than once (sudo with use_pty
 * passes on its own SIGHUP, then its pty's hangup as a second one), and
 * a second signal would kill the rm. The signal trap removes the file
 * too before it exits: a signal caught as the EXIT trap starts, before
 * its ignore, runs that trap's "exit 1", which ends the EXIT trap there
 * (dash, bash and busybox alike). printf is a regular builtin, so a failed
 * redirection does not end the shell. On a terminal (su), the line
 * discipline is made raw again right before the image is asked for:
 * whatever a login or PAM step did to it, no byte (0x0d, 0x11, 0x13...)
 * may be translated on the way.
 */
#define FIRST_STAGE_FILE \
	"f=;c='trap \"\" TERM HUP INT;[ -e \"$f\" ]&&rm -f \"$f\"';trap \"$c\" EXIT;trap \"$c;exit 1\" PIPE TERM HUP INT;" \
	"x=;while f=$(trap \"\" TERM HUP INT;umask 077;set -C;" \
	"for d in \"${TMPDIR:-/tmp}\" /tmp /var/tmp /dev/shm \"$HOME\";do " \
	"case \" $x \" in *\" $d \"*)continue;;esac;" \
	"g=$d/.mitogen-agent.$$.$2;" \
	"[ -d \"$d\" ]&&printf \"\" 2>/dev/null >\"$g\"&&{ printf %s \"$g\";exec chmod 700 \"$g\";};" \
	"done)&&[ -n \"$f\" ];do [ -x \"$f\" ]&&break;rm -f \"$f\";x=\"$x ${f%/*}\";done;" \
	"[ -n \"$f\" ]&&[ -x \"$f\" ]||{ echo \"mitogen: no writable temporary directory where programs may run\" >&2;exit 1;};"
#define FIRST_STAGE_EXEC "exec \"$f\" --boot \"$f\" -"

#define FIRST_STAGE_READ \
	"[ -t 0 ]&&stty raw -echo 2>/dev/null;" \
	"echo MITO000;" \
	"head -c $n 2>/dev/null >>\"$f\""
/*
 * A head that cannot write is no EAGAIN: retried, it would spin until
 * the master's timeout. Killed by a signal ($r$e three digits: a
 * status over 99 and no word; SIGXFSZ, 153, under a ulimit -f below
 * the image; also 127, no head), or saying it could not write
 * (EFBIG with SIGXFSZ ignored, ENOSPC; its words in the C locale: GNU
 * "error writing", "write error"; busybox "standard output: ..."), it
 * ends the first stage at once. Only the loop's head, the slow path, has
 * its stderr kept ($(...) costs bash a fork); the first head's status
 * still counts. A head whose write failed (no signal) may have read the
 * last bytes there were (busybox head reads on): the next one blocks,
 * and the master's timeout ends it.
 */
#define FIRST_STAGE_LOOP \
	"r=$?;e=;s=$(wc -c <\"$f\");" \
	"while [ $s -lt $n ];do " \
	"case $r$e in ???|*writ*|*output:*)" \
	"echo \"mitogen: cannot write the agent image to $f (${e:-head: status $r})\" >&2;exit 1;esac;" \
	"if e=$(LC_ALL=C head -c $((n-s)) 2>&1 >>\"$f\");then " \
	"[ $(wc -c <\"$f\") -gt $s ]||{ echo \"mitogen: agent image cut short ($s of $n bytes)\" >&2;exit 1;};" \
	"else r=$?;sleep 0.01 2>/dev/null||sleep 1;fi;" \
	"s=$(wc -c <\"$f\");done;"

static const char first_stage[] =
	"n=$1;" FIRST_STAGE_FILE
	FIRST_STAGE_READ ";"
	FIRST_STAGE_LOOP
	FIRST_STAGE_EXEC;

/*
 * The same for a guarded image (mg__image_guarded): when head succeeds,
 * the agent runs as the shell's child, at once, with no wc (a fork and an
 * exec on every hop of a fan-out). head also succeeds at end of input,
 * the link lost mid-image; the shell outlives whatever the cut file does
 * (the stub says "cut short" and unlinks it, or dies of SIGSEGV or SIGBUS
 * cut inside its code, or is no ELF at all) and its EXIT trap removes a
 * file left behind. Cut inside the ELF header, busybox runs the file as
 * a script (dash refuses it, bash too unless cut under 4 bytes): the
 * guard makes its first line a syntax error, so nothing in it runs. When
 * head fails (EAGAIN), as first_stage.
 */
static const char first_stage_guarded[] =
	"n=$1;" FIRST_STAGE_FILE
	FIRST_STAGE_READ "&&{ \"$f\" --boot \"$f\" -;exit;};"
	FIRST_STAGE_LOOP
	FIRST_STAGE_EXEC;

/*
 * The same with the image in $3 (mg__boot_argv_inline), written by the
 * printf builtin's %b, which turns the \0NNN escapes back into bytes:
 * stdin is never read, so a request may follow on it at once. printf's
 * status tells a failed write (dash, bash and busybox alike); the length
 * is not counted again with wc, a fork and exec on every hop (~0.9 ms of
 * CPU): the stub checks its payload's bounds and checksum, the agent its
 * HELLO tail.
 */
#define FIRST_STAGE_WRITE_WORD(W) \
	"LC_ALL=C printf %b \"" W "\" >>\"$f\"||{ echo \"mitogen: cannot write the agent image to $f\" >&2;exit 1;};"
/* The words of the image are the last arguments: written all, K unread. */
#define FIRST_STAGE_WRITE \
	"echo MITO000;shift 3;for w do " FIRST_STAGE_WRITE_WORD("$w") "done;"
/* Other words follow: K of them are the image. */
#define FIRST_STAGE_WRITE_K \
	"echo MITO000;k=$3;shift 3;" \
	"while [ $k -gt 0 ];do " FIRST_STAGE_WRITE_WORD("$1") "shift;k=$((k-1));done;"

static const char first_stage_arg[] =
	FIRST_STAGE_FILE
	FIRST_STAGE_WRITE
	FIRST_STAGE_EXEC;

/*
 * sudo in the login's own command (docs/PROTOCOL.md 2.3.3), once the file
 * holds the exec-only agent: $M is the length of the whole agent and its
 * tail, and SHIFT words go before sudo's own (up to "--"). sudo gets the
 * login's umask, and makes the command's from it as it would for our own
 * sudo hop; the agent keeps the umask sudo gave ("-"). The agent
 * unlinks its file at once, so a file still there means it never ran
 * (sudo refused, wanted a password or a terminal): then MITO003 asks for
 * the whole agent on stdin, which runs as the login user and connects the
 * sudo hop itself. Nothing more is written to stdin before MITO002 or
 * MITO003, so head reads no frame. sudo may take long enough for the
 * master to give up and the link to close: MITO003 then meets a closed
 * pipe (FIRST_STAGE_FILE's PIPE trap).
 */
#define FIRST_STAGE_FUSED(M, SHIFT) \
	"m=" M ";shift " SHIFT ";" \
	"\"$@\" \"$f\" --boot \"$f\" -;" \
	"s=$?;[ -e \"$f\" ]||exit $s;" \
	"echo MITO003;n=$m;: >|\"$f\";" \
	"head -c $n 2>/dev/null >>\"$f\";" \
	FIRST_STAGE_LOOP \
	FIRST_STAGE_EXEC

/* The image in words, as first_stage_arg; then the whole agent's length. */
static const char first_stage_fused_arg[] =
	FIRST_STAGE_FILE
	FIRST_STAGE_WRITE_K
	FIRST_STAGE_FUSED("$1", "1");

/* The image on stdin, as first_stage; $3 the whole agent's length. */
static const char first_stage_fused[] =
	"n=$1;" FIRST_STAGE_FILE
	FIRST_STAGE_READ ";"
	FIRST_STAGE_LOOP
	FIRST_STAGE_FUSED("$3", "3");

/* Where the escaped text at P may end a word of at most MAX bytes once
 * quoted (a quote is 4, esc_len): never inside an escape (\0NNN, or \0
 * before no octal digit). */
static size_t word_end(const char *p, size_t max)
{
	size_t at = 0, cost = 0;

	while (p[at] != '\0') {
		size_t el = p[at] != '\\' ? 1 : p[at + 2] >= '0' && p[at + 2] <= '7' ? 5 : 2;
		size_t c = p[at] == '\'' ? 4 : el;

		if (cost + c > max) {
			break;
		}
		at += el;
		cost += c;
	}
	return at;
}

/* The escaped image ARG as "K WORD1 ... WORDK", each word at most
 * MG_BOOT_ARG_WORD bytes, appended to argv. */
static bool add_image_words(char ***argv, const char *arg)
{
	size_t len = strlen(arg), k, at = 0;
	const size_t count_at = 6; /* after "/bin/sh -c SCRIPT mitogen-boot LEN NONCE" */

	if (!mg__strv_add(argv, "0")) {
		return false;
	}
	for (k = 0; at < len; k++) {
		size_t n = word_end(arg + at, MG_BOOT_ARG_WORD);
		char *w = talloc_strndup(*argv, arg + at, n);

		if (w == NULL || !mg__strv_add(argv, w)) {
			return false;
		}
		talloc_free(w);
		at += n;
	}
	talloc_free((*argv)[count_at]);
	(*argv)[count_at] = talloc_asprintf(*argv, "%zu", k);
	return (*argv)[count_at] != NULL;
}

static char **boot_argv(TALLOC_CTX *mem_ctx, size_t len, char *arg, const char *script)
{
	char **argv = talloc_zero_array(mem_ctx, char *, 7);
	struct timespec ts;

	if (argv == NULL) {
		talloc_free(arg);
		return NULL;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	argv[0] = talloc_strdup(argv, "/bin/sh");
	argv[1] = talloc_strdup(argv, "-c");
	argv[2] = talloc_strdup(argv, script);
	argv[3] = talloc_strdup(argv, "mitogen-boot");
	argv[4] = talloc_asprintf(argv, "%zu", len);
	argv[5] = talloc_asprintf(argv, "%lx%x", (unsigned long)ts.tv_nsec, (unsigned)getpid());
	for (int i = 0; i < 6; i++) {
		if (argv[i] == NULL) {
			talloc_free(arg);
			talloc_free(argv);
			return NULL;
		}
	}
	if (arg != NULL && !add_image_words(&argv, arg)) {
		TALLOC_FREE(argv);
	}
	talloc_free(arg);
	return argv;
}

char **mg__boot_argv(TALLOC_CTX *mem_ctx, size_t len)
{
	return boot_argv(mem_ctx, len, NULL, first_stage);
}

char **mg__boot_argv_guarded(TALLOC_CTX *mem_ctx, size_t len)
{
	return boot_argv(mem_ctx, len, NULL, first_stage_guarded);
}

bool mg__image_guarded(const struct mg_image *img)
{
	return img->len > MG_ELF_GUARD_AT && memcmp(img->data, "\177ELF", 4) == 0 &&
	       img->data[MG_ELF_GUARD_AT] == MG_ELF_GUARD;
}

/*
 * Bytes that need an escape in the image argument: NUL (no C string holds
 * it), and what some login shell reads in single quotes: '!' and newline
 * (csh), the backslash (fish, before a backslash or quote; printf %b in
 * any case). A quote is the quoting's business (4 bytes, mg__shell_quote);
 * it is counted so that the limit holds.
 */
static size_t esc_len(uint8_t b, uint8_t next)
{
	switch (b) {
	case 0:
		/* "\0" ends at the first byte that is no octal digit. */
		return next >= '0' && next <= '7' ? 5 : 2;
	case '\\': case '!': case '\n':
		return 5;
	case '\'':
		return 4;
	default:
		return 1;
	}
}

/* Appends the escaped form of B, given the byte after it, at W. */
static char *esc_put(char *w, uint8_t b, uint8_t next)
{
	size_t el = esc_len(b, next);

	if (el == 1 || b == '\'') {
		*w++ = (char)b;
		return w;
	}
	/* \0NNN: the octal value, or just \0 for a NUL. */
	*w++ = '\\';
	*w++ = '0';
	if (el == 5) {
		*w++ = (char)('0' + (b >> 6));
		*w++ = (char)('0' + ((b >> 3) & 7));
		*w++ = (char)('0' + (b & 7));
	}
	return w;
}

/* The escaped length of N bytes at P followed by the byte AFTER. */
static size_t esc_count(const uint8_t *p, size_t n, uint8_t after)
{
	size_t len = 0;

	for (size_t i = 0; i < n; i++) {
		len += esc_len(p[i], i + 1 < n ? p[i + 1] : after);
	}
	return len;
}

static char *esc_write(char *w, const uint8_t *p, size_t n, uint8_t after)
{
	for (size_t i = 0; i < n; i++) {
		w = esc_put(w, p[i], i + 1 < n ? p[i + 1] : after);
	}
	return w;
}

/*
 * The image escaped but for its last byte, whose escape depends on the
 * byte after it (the tail's first): made once, then copied for every hop
 * this image boots (issue 11: it was escaped again for each, twice when
 * requests joined HELLO).
 */
static int esc_prefix(struct mg_boot_esc *esc, const uint8_t *image, size_t len)
{
	size_t n = len - 1, cost;

	if (esc->of == image && esc->of_len == len) {
		return 0;
	}
	talloc_free(esc->text);
	*esc = (struct mg_boot_esc){ 0 };
	cost = esc_count(image, n, image[n]);
	if (cost <= MG_BOOT_ARG_MAX) {
		esc->text = talloc_array(esc, char, cost);
		if (esc->text == NULL) {
			return -ENOMEM;
		}
		esc->len = (size_t)(esc_write(esc->text, image, n, image[n]) - esc->text);
	}
	esc->cost = cost;
	esc->of = image;
	esc->of_len = len;
	return 0;
}

/* The limit counts a quote as the 4 bytes shell quoting makes of it
 * (esc_len), so the text written may be shorter than its cost. */
static char *escape_image(TALLOC_CTX *mem_ctx, const uint8_t *image, size_t len,
			  const uint8_t *tail, size_t tail_len, struct mg_boot_esc *esc)
{
	uint8_t next = tail_len > 0 ? tail[0] : 0;
	struct mg_boot_esc own = { 0 };
	size_t cost;
	char *out, *w;

	if (len == 0) {
		return NULL;
	}
	if (esc == NULL) {
		esc = &own;
		own.cost = esc_count(image, len - 1, image[len - 1]);
	} else if (esc_prefix(esc, image, len) != 0) {
		return NULL;
	}
	cost = esc->cost + esc_len(image[len - 1], next) + esc_count(tail, tail_len, 0);
	if (cost > MG_BOOT_ARG_MAX || (out = talloc_array(mem_ctx, char, cost + 1)) == NULL) {
		return NULL;
	}
	if (esc->text != NULL) {
		memcpy(out, esc->text, esc->len);
		w = out + esc->len;
	} else {
		w = esc_write(out, image, len - 1, image[len - 1]);
	}
	w = esc_put(w, image[len - 1], next);
	w = esc_write(w, tail, tail_len, 0);
	*w = '\0';
	return out;
}

char **mg__boot_argv_inline(TALLOC_CTX *mem_ctx, const uint8_t *image, size_t len,
			    const uint8_t *tail, size_t tail_len, struct mg_boot_esc *esc)
{
	char *arg = escape_image(NULL, image, len, tail, tail_len, esc);

	return arg != NULL ? boot_argv(mem_ctx, len + tail_len, arg, first_stage_arg) : NULL;
}

char **mg__boot_argv_fused(TALLOC_CTX *mem_ctx, const uint8_t *image, size_t len,
			   const uint8_t *tail, size_t tail_len, struct mg_boot_esc *esc,
			   bool in_argv, size_t whole_len, const char *const *sudo)
{
	char *arg = NULL;
	char **argv;
	char num[24];

	if (in_argv) {
		/* In the command, or nothing. */
		arg = escape_image(NULL, image, len, tail, tail_len, esc);
		argv = arg != NULL ? boot_argv(mem_ctx, len + tail_len, arg, first_stage_fused_arg) : NULL;
	} else {
		argv = boot_argv(mem_ctx, len + tail_len, NULL, first_stage_fused);
	}

	snprintf(num, sizeof(num), "%zu", whole_len);
	if (argv != NULL && !mg__strv_add(&argv, num)) {
		TALLOC_FREE(argv);
	}
	for (size_t i = 0; argv != NULL && sudo[i] != NULL; i++) {
		if (!mg__strv_add(&argv, sudo[i])) {
			TALLOC_FREE(argv);
		}
	}
	return argv;
}

void mg__boot_tail_parse(const uint8_t *last, uint64_t len, struct mg_boot_tail *t)
{
	size_t n = len < MG_BOOT_TAIL2_LEN ? (size_t)len : MG_BOOT_TAIL2_LEN;
	const uint8_t *magic = last + n - 4;
	uint64_t flen, plain = 0, trailer = MG_BOOT_TAIL_LEN;

	memset(t, 0, sizeof(*t));
	if (n < MG_BOOT_TAIL_LEN) {
		return;
	}
	if (memcmp(magic, MG_BOOT_TAIL2_MAGIC, 4) == 0 && n == MG_BOOT_TAIL2_LEN) {
		plain = mg__get_be32(last);
		trailer = MG_BOOT_TAIL2_LEN;
		if (plain == 0) {
			return;
		}
	} else if (memcmp(magic, MG_BOOT_TAIL_MAGIC, 4) != 0) {
		return;
	}
	flen = mg__get_be32(magic - 4);
	if (flen < MG_HDR_LEN || flen + trailer + plain > len) {
		return;
	}
	t->frames = (size_t)flen;
	t->len = (size_t)(flen + trailer);
	t->plain = (size_t)plain;
}

/* 'len' bytes of fd from 'off' into p. */
static int read_at(int fd, uint8_t *p, size_t len, off_t off)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = pread(fd, p + got, len - got, off + (off_t)got);
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n <= 0) {
			return n < 0 ? -errno : -EIO;
		}
		got += (size_t)n;
	}
	return 0;
}

int mg__boot_file_tail(int fd, size_t *_size, struct mg_boot_tail *t)
{
	uint8_t last[MG_BOOT_TAIL2_LEN];
	struct stat st;
	size_t n;
	int ret;

	if (fstat(fd, &st) != 0) {
		return -errno;
	}
	if (!S_ISREG(st.st_mode) || st.st_size <= 0 || st.st_size > (64 << 20)) {
		return -EINVAL;
	}
	*_size = (size_t)st.st_size;
	n = *_size < sizeof(last) ? *_size : sizeof(last);
	if ((ret = read_at(fd, last, n, (off_t)(*_size - n))) != 0) {
		return ret;
	}
	mg__boot_tail_parse(last, *_size, t);
	return 0;
}

/* An image's bytes: an anonymous mapping, not the heap, so that a leak
 * checker does not scan megabytes of agent for pointers at every exit
 * (a sanitizer build's agents are ~11 MB), and not a mapping of the
 * file, which a cp over an installed agent would turn into SIGBUS. */
struct image_bytes {
	void *p;
	size_t len;
};

static int image_bytes_destructor(struct image_bytes *b)
{
	munmap(b->p, b->len);
	return 0;
}

static uint8_t *image_bytes_new(TALLOC_CTX *mem_ctx, size_t len)
{
	struct image_bytes *b = talloc(mem_ctx, struct image_bytes);

	if (b == NULL) {
		return NULL;
	}
	b->len = len > 0 ? len : 1;
	b->p = mmap(NULL, b->len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (b->p == MAP_FAILED) {
		talloc_free(b);
		return NULL;
	}
	talloc_set_destructor(b, image_bytes_destructor);
	return b->p;
}

int mg__image_from_fd(TALLOC_CTX *mem_ctx, int fd, struct mg_image **_img)
{
	struct mg_boot_tail t;
	struct mg_image *img;
	size_t size = 0; /* set by mg__boot_file_tail; -O3 gcc cannot tell */
	int ret;

	if ((ret = mg__boot_file_tail(fd, &size, &t)) != 0) {
		return ret;
	}
	img = talloc_zero(mem_ctx, struct mg_image);
	if (img == NULL) {
		return -ENOMEM;
	}
	/* The HELLO our parent appended was for us, not for our children;
	 * the unpacked agent before the image was for this host alone. */
	img->len = size - t.len - t.plain;
	img->data = image_bytes_new(img, img->len);
	img->esc = talloc_zero(img, struct mg_boot_esc);
	img->plain_kept = talloc_zero(img, struct mg_image_plain);
	if (img->data == NULL || img->esc == NULL || img->plain_kept == NULL) {
		talloc_free(img);
		return -ENOMEM;
	}
	if ((ret = read_at(fd, img->data, img->len, (off_t)t.plain)) != 0) {
		talloc_free(img);
		return ret;
	}
	*_img = img;
	return 0;
}

/* The packed agent's record (cmd/agent-stub/stub.c) lies in its stub,
 * within the first few KB. */
#define PACK_MAGIC "MGPACK2"
#define PACK_SCAN 32768

/* The plain agent at 'path' (boot.h, mg__image_plain), on mem_ctx. */
static int read_plain(TALLOC_CTX *mem_ctx, const char *path, uint8_t **_data, size_t *_len)
{
	struct mg_boot_tail t;
	uint8_t *p = NULL;
	size_t size = 0, len = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC), ret;

	if (fd < 0) {
		return -errno;
	}
	/* An agent run from such a file (/proc/self/exe) holds the
	 * image and tail behind itself. */
	ret = mg__boot_file_tail(fd, &size, &t);
	if (ret == 0) {
		len = t.plain > 0 ? t.plain : size - t.len;
		p = talloc_size(mem_ctx, len > 0 ? len : 1);
		ret = p == NULL ? -ENOMEM : read_at(fd, p, len, 0);
	}
	if (ret == 0 && (len < 4 || memcmp(p, "\177ELF", 4) != 0)) {
		ret = -ENOEXEC;
	}
	close(fd);
	if (ret != 0) {
		talloc_free(p);
		return ret;
	}
	*_data = p;
	*_len = len;
	return 0;
}

/* The packed image's record, or NULL when 'img' is not packed. */
static const uint8_t *pack_record(const struct mg_image *img)
{
	size_t n = img->len < PACK_SCAN ? img->len : PACK_SCAN;
	const uint8_t *p = img->data, *end = p + n;

	/* memmem's two-way search is 1.2 KB of the agent. */
	while (n >= sizeof(PACK_MAGIC) && (p = memchr(p, 'M', (size_t)(end - p))) != NULL &&
	       (size_t)(end - p) >= sizeof(PACK_MAGIC)) {
		if (memcmp(p, PACK_MAGIC, sizeof(PACK_MAGIC)) == 0) {
			return p;
		}
		p++;
	}
	return NULL;
}

/*
 * Whether 'p' is the agent the packed image inflates to: the length and
 * FNV-1a its stub's record 'rec' holds (cmd/agent-stub/stub.c: magic,
 * offset, length, then these two, native order). A holder that outlives
 * an upgrade keeps its old image while AGENT.raw is the new agent:
 * pushing that before the old image would mix two builds in one chain.
 */
#ifdef MG_STATIC_AGENT
/* An agent's image is its own: no installed file to check. */
#define plain_matches(img, rec, p, len) true
#else
static bool plain_matches(const struct mg_image *img, const uint8_t *rec, const uint8_t *p,
			  size_t len)
{
	uint32_t raw_len, hash, h = 2166136261u;

	if ((size_t)(img->data + img->len - rec) < 24) {
		return false;
	}
	memcpy(&raw_len, rec + 16, 4);
	memcpy(&hash, rec + 20, 4);
	if (raw_len != len) {
		return false;
	}
	for (size_t i = 0; i < len; i++) {
		h = (h ^ p[i]) * 16777619u;
	}
	return h == hash;
}
#endif

/* read_plain, and the check above where img->plain_verify asks for it. */
static int read_plain_checked(TALLOC_CTX *mem_ctx, const struct mg_image *img,
			      const uint8_t *rec, uint8_t **_data, size_t *_len)
{
	int ret = read_plain(mem_ctx, img->plain, _data, _len);

	if (ret == 0 && img->plain_verify && !plain_matches(img, rec, *_data, *_len)) {
		mg_warn("%s is not the agent %s inflates to (replaced since?): not used",
			img->plain, img->self != NULL ? img->self : "the image");
		TALLOC_FREE(*_data);
		ret = -ESTALE;
	}
	return ret;
}

int mg__image_plain(TALLOC_CTX *mem_ctx, const struct mg_image *img, const uint8_t **_data,
		    size_t *_len)
{
	struct mg_image_plain *k = img->plain_kept;
	const uint8_t *rec = img->plain != NULL ? pack_record(img) : NULL;
	uint8_t *p = NULL;
	size_t len = 0;
	int ret;

	if (rec == NULL) {
		return -ENOENT;
	}
	if (k == NULL) {
		ret = read_plain_checked(mem_ctx, img, rec, &p, &len);
	} else {
		/* Once per process: every hop of a fan-out shares it. */
		if (!k->tried) {
			k->tried = true;
			k->err = read_plain_checked(k, img, rec, &k->data, &k->len);
		}
		ret = k->err;
		p = k->data;
		len = k->len;
	}
	if (ret == 0) {
		*_data = p;
		*_len = len;
	}
	return ret;
}

static int load_path(TALLOC_CTX *mem_ctx, const char *path, struct mg_image **_img)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int ret;

	if (fd < 0) {
		return -errno;
	}
	ret = mg__image_from_fd(mem_ctx, fd, _img);
	close(fd);
	if (ret == 0 && access(path, X_OK) == 0) {
		/* Local hops may exec it in place, and the unpacked agent
		 * the build leaves beside it (PATH.raw) without inflating. */
		char *plain = talloc_asprintf(*_img, "%s.raw", path);

		(*_img)->self = talloc_strdup(*_img, path);
		if (plain != NULL && access(plain, X_OK) == 0) {
			(*_img)->plain = plain;
			(*_img)->plain_verify = true;
		} else {
			talloc_free(plain);
		}
	}
	return ret;
}

int mg__image_load(TALLOC_CTX *mem_ctx, struct mg_image **_img, char **_errmsg)
{
	const char *env = getenv("MITOGEN_AGENT");
	char self[PATH_MAX];
	ssize_t n;
	int ret;

	if (env != NULL && env[0] != '\0') {
		ret = load_path(mem_ctx, env, _img);
		if (ret != 0) {
			*_errmsg = talloc_asprintf(mem_ctx, "cannot read agent %s (from MITOGEN_AGENT): %s",
						   env, mg_strerror(ret));
			return MG_ERR_NOAGENT;
		}
		return 0;
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		char *slash;
		self[n] = '\0';
		slash = strrchr(self, '/');
		if (slash != NULL && (size_t)(slash - self) + sizeof("/mitogen-agent") < sizeof(self)) {
			strcpy(slash, "/mitogen-agent");
			if (load_path(mem_ctx, self, _img) == 0) {
				return 0;
			}
		}
	}
	ret = load_path(mem_ctx, MG_AGENT_PATH, _img);
	if (ret != 0) {
		*_errmsg = talloc_asprintf(mem_ctx, "cannot read agent %s: %s (set MITOGEN_AGENT)",
					   MG_AGENT_PATH, mg_strerror(ret));
		return MG_ERR_NOAGENT;
	}
	return 0;
}

/* The agent named by VAR, else FULL's path and SUFFIX; WHAT it is, and
 * which agent goes instead when VAR names one that cannot be read. */
static int load_beside(TALLOC_CTX *mem_ctx, const struct mg_image *full, const char *var,
		       const char *suffix, const char *what, const char *instead,
		       struct mg_image **_img)
{
	const char *env = getenv(var);
	char *path;
	int ret;

	if (env != NULL) {
		/* Set but empty: never this one (the next larger agent goes). */
		if (env[0] == '\0') {
			return -ENOENT;
		}
		/* Named but unreadable: said, as a bad MITOGEN_AGENT is; the
		 * whole agent still serves, so the run goes on. */
		if ((ret = load_path(mem_ctx, env, _img)) != 0) {
			mg_warn("cannot read the %s %s (from %s): %s; pushing the %s", what, env,
				var, mg_strerror(ret), instead);
		}
		return ret;
	}
	if (full == NULL || full->self == NULL) {
		return -ENOENT;
	}
	if ((path = talloc_asprintf(NULL, "%s%s", full->self, suffix)) == NULL) {
		return -ENOMEM;
	}
	ret = load_path(mem_ctx, path, _img);
	talloc_free(path);
	return ret;
}

/* *slot, loaded by load_beside on FULL the first time (*tried). */
static const struct mg_image *beside_once(struct mg_image *full, struct mg_image **slot,
					  bool *tried, const char *var, const char *suffix,
					  const char *what, const char *instead)
{
	if (!*tried) {
		*tried = true;
		if (load_beside(full, full, var, suffix, what, instead, slot) != 0) {
			*slot = NULL;
		} else {
			/* Only the whole agent connects hops of its own. */
			(*slot)->no_push = true;
		}
	}
	return *slot;
}

const struct mg_image *mg__image_lite(struct mg_image *full)
{
	return beside_once(full, &full->lite, &full->lite_tried, "MITOGEN_AGENT_LITE", "-lite",
			   "exec-only agent", "whole agent");
}

const struct mg_image *mg__image_leaf(struct mg_image *full)
{
	return beside_once(full, &full->leaf, &full->leaf_tried, "MITOGEN_AGENT_LEAF", "-leaf",
			   "leaf agent", "exec-only agent");
}

char *mg__shell_quote(TALLOC_CTX *mem_ctx, const char *word)
{
	const char *safe = MG_SHELL_BARE;
	size_t len = strlen(word), n = len + 2;
	const char *p, *q;
	char *out, *w;

	if (len > 0 && strspn(word, safe) == len) {
		return talloc_strndup(mem_ctx, word, len);
	}
	/* Sized first and written once, a run of bytes between quotes at a
	 * time: every ssh hop quotes its ~100 KB image word (issue 11). */
	for (p = word; (p = strchr(p, '\'')) != NULL; p++) {
		n += 3;
	}
	out = talloc_array(mem_ctx, char, n + 1);
	if (out == NULL) {
		return NULL;
	}
	w = out;
	*w++ = '\'';
	for (p = word; (q = strchr(p, '\'')) != NULL; p = q + 1) {
		memcpy(w, p, (size_t)(q - p));
		w += q - p;
		memcpy(w, "'\\''", 4);
		w += 4;
	}
	memcpy(w, p, (size_t)(word + len - p));
	w += word + len - p;
	*w++ = '\'';
	*w = '\0';
	return out;
}

/* For a -vv line: every word whole up to a cap, so that the first stage's
 * script (or an image in argv) does not push the options after it out of
 * the log line, whatever the length of the paths before it. */
char *mg__argv_for_log(TALLOC_CTX *mem_ctx, const char *const *argv)
{
	enum { WORD_MAX = 160 };
	TALLOC_CTX *tmp = talloc_new(NULL);
	size_t n = 0;
	const char **brief;
	char *out = NULL;

	while (argv[n] != NULL) {
		n++;
	}
	brief = tmp != NULL ? talloc_array(tmp, const char *, n + 1) : NULL;
	for (size_t i = 0; brief != NULL && i < n; i++) {
		brief[i] = strlen(argv[i]) <= WORD_MAX
				   ? argv[i]
				   : talloc_asprintf(brief, "%.*s...", (int)WORD_MAX, argv[i]);
		if (brief[i] == NULL) {
			brief = NULL;
		}
	}
	if (brief != NULL) {
		brief[n] = NULL;
		out = mg__shell_join(mem_ctx, brief);
	}
	talloc_free(tmp);
	return out;
}

char *mg__shell_join(TALLOC_CTX *mem_ctx, const char *const *argv)
{
	char *out = talloc_strdup(mem_ctx, "");
	size_t len = 0;

	for (size_t i = 0; out != NULL && argv[i] != NULL; i++) {
		char *q = mg__shell_quote(NULL, argv[i]);
		size_t ql = q != NULL ? strlen(q) : 0;
		char *grown = q != NULL ? talloc_realloc(mem_ctx, out, char, len + ql + 2) : NULL;
		if (grown == NULL) {
			talloc_free(q);
			talloc_free(out);
			return NULL;
		}
		out = grown;
		if (i > 0) {
			out[len++] = ' ';
		}
		memcpy(out + len, q, ql + 1);
		len += ql;
		talloc_free(q);
	}
	return out;
}
