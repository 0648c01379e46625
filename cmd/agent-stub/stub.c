/*
 * The agent's self-inflating stub: what the first stage (or a local hop)
 * actually runs. tools/pack-agent.py appends the agent, split in two
 * streams and compressed (LZMA; deflate for the exec-only agent:
 * unlzma.h), and writes where it lies into `packed` below. The stub maps
 * its own file, inflates the agent into a memfd
 * (where memfd_create is refused: a private temp file), checks it, and
 * execs it with the arguments it was given, so the agent finds its
 * compressed image (and the HELLO tail after it) in its --boot FILE as
 * before. For --local it passes its own file's descriptor instead:
 * "--local FD". No libc: raw system calls, a few KB in all.
 */
#include <stddef.h>
#include <stdint.h>
#include "unlzma.h"
#ifdef MG_STUB_INFLATE
#include "deflate.h"
#endif

#if defined(__x86_64__)
#define SYS_read 0
#define SYS_write 1
#define SYS_close 3
#define SYS_lseek 8
#define SYS_mmap 9
#define SYS_execve 59
#define SYS_exit_group 231
#define SYS_openat 257
#define SYS_unlinkat 263
#define SYS_memfd_create 319
#define SYS_execveat 322
#define SYS_getpid 39
/* mg_sys(a, b, c, NR, d, e, f): the system call NR. a, b and c arrive
 * where the kernel wants them, so a call of three arguments or fewer
 * costs the caller no more than a plain function call's (the registers
 * of the others hold whatever they held: the kernel ignores them). It
 * comes first, so that every call to it is backwards: the high bytes
 * of its offset are 0xff, not NUL (each NUL costs ssh's command a byte
 * more, boot.c esc_len). */
__asm__(".text\n.global _start\n_start:\n\txor %rbp, %rbp\n\tmov %rsp, %rdi\n"
	"\tand $-16, %rsp\n\tcall stub_main\n\thlt\n"
	"mg_sys:\n\tmov %rcx, %rax\n\tmov %r8, %r10\n\tmov %r9, %r8\n\tmov 8(%rsp), %r9\n"
	"\tsyscall\n\tret\n");

long sys3(long a, long b, long c, long n) __asm__("mg_sys");
long sys6(long a, long b, long c, long n, long d, long e, long f) __asm__("mg_sys");
#elif defined(__aarch64__)
#define SYS_read 63
#define SYS_write 64
#define SYS_close 57
#define SYS_lseek 62
#define SYS_mmap 222
#define SYS_execve 221
#define SYS_exit_group 94
#define SYS_openat 56
#define SYS_unlinkat 35
#define SYS_memfd_create 279
#define SYS_execveat 281
#define SYS_getpid 172
__asm__(".text\n.global _start\n_start:\n\tmov x0, sp\n\tbl stub_main\n");

static long sys6(long a, long b, long c, long n, long d, long e, long f)
{
	register long x8 __asm__("x8") = n, x0 __asm__("x0") = a, x1 __asm__("x1") = b;
	register long x2 __asm__("x2") = c, x3 __asm__("x3") = d, x4 __asm__("x4") = e;
	register long x5 __asm__("x5") = f;

	__asm__ volatile("svc 0" : "+r"(x0)
			 : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5)
			 : "memory");
	return x0;
}

static long sys3(long a, long b, long c, long n)
{
	return sys6(a, b, c, n, 0, 0, 0);
}
#else
#error "the agent stub knows the system calls of x86_64 and aarch64 only"
#endif

#define AT_FDCWD (-100)
#define AT_EMPTY_PATH 0x1000
#define O_RDONLY 0
#define O_WRONLY 1
#define O_CREAT 0100
#define O_EXCL 0200
#define O_NOFOLLOW 0400000
#define O_CLOEXEC 02000000
#define MFD_CLOEXEC 1
#define MFD_EXEC 0x10
#define EINVAL 22

/* Filled in by the packer, which finds it by its magic. The stub's
 * bytes ride escaped in ssh's command, where a NUL costs a byte more
 * (lib/hop/boot.c esc_len), padding included: so aligned(4) here, and
 * on the arrays below their own type's alignment, which gcc would raise
 * to 16 or 32. */
struct packed {
	char magic[8];
	uint32_t off, len;         /* the compressed agent in this file */
	uint32_t raw_len, hash;    /* the agent, and FNV-1a of it */
};
__attribute__((used, aligned(4))) const struct packed mg_packed = { "MGPACK2", 0, 0, 0, 0 };
/* Read through this, never folded to the zeros above. */
static const volatile struct packed *const pk = &mg_packed;

/* The decoder's state, in the memory the agent is inflated into: the
 * exec-only agent's stub inflates deflate (MG_STUB_INFLATE,
 * tools/build-agent.sh), every other LZMA, 15 KB of probabilities. No
 * variable of the stub is writable, so its file holds no data segment:
 * its program header would cost ~100 bytes of every ssh command. */
#ifdef MG_STUB_INFLATE
typedef struct mg__inflate dec_state_t;
#define DECODE mg__inflate_stream
#else
typedef struct mg_unlzma dec_state_t;
#define DECODE mg__unlzma_stream
#endif

/* The compiler may call these for copies and fills. */
void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
void *memset(void *d, int c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		((volatile uint8_t *)d)[i] = (uint8_t)c;
	}
	return d;
}

void *memcpy(void *d, const void *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		((volatile uint8_t *)d)[i] = ((const uint8_t *)s)[i];
	}
	return d;
}

static size_t len_of(const char *s)
{
	size_t n = 0;

	while (s[n] != '\0') {
		n++;
	}
	return n;
}

static int same(const char *a, const char *b)
{
	while (*a != '\0' && *a == *b) {
		a++;
		b++;
	}
	return *a == *b;
}

/* boot_file: the first stage's file (--boot FILE), or NULL; the agent
 * unlinks it once up, when we fail, we must. */
__attribute__((noreturn)) static void die(const char *boot_file, const char *why)
{
	static const char pre[] __attribute__((aligned(1))) = "mitogen-agent: ";

	if (boot_file != NULL) {
		sys3(AT_FDCWD, (long)boot_file, 0, SYS_unlinkat);
	}
	sys3(2, (long)pre, sizeof(pre) - 1, SYS_write);
	sys3(2, (long)why, (long)len_of(why), SYS_write);
	sys3(2, (long)"\n", 1, SYS_write);
	for (;;) {
		sys3(1, 0, 0, SYS_exit_group);
	}
}

static long open_at(const char *path, long flags, long mode)
{
	return sys6(AT_FDCWD, (long)path, flags, SYS_openat, mode, 0, 0);
}

static int write_all(long fd, const uint8_t *p, size_t n)
{
	while (n > 0) {
		long k = sys3(fd, (long)p, (long)n, SYS_write);
		if (k == -4) {
			continue;               /* EINTR */
		}
		if (k <= 0) {
			return -1;
		}
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

static char *fmt_fd(char *buf, long fd)
{
	char *p = buf + 11;

	*p = '\0';
	do {
		*--p = (char)('0' + fd % 10);
		fd /= 10;
	} while (fd > 0);
	return p;
}

/* Where memfd_create is refused (Linux before 3.17, or memfd_noexec=2):
 * a 0700 file beside the first stage's ("FILE.x", whose directory lets
 * programs run), else in a temporary directory, reopened read-only and
 * unlinked at once: nothing is left behind. */
static long temp_copy(const char *boot_file, const uint8_t *p, size_t n)
{
	static const char *const dirs[] __attribute__((aligned(8))) = { "/tmp", "/var/tmp", "/dev/shm" };
	char path[256], num[12];

	for (int i = -1; i < 3; i++) {
		const char *d = i < 0 ? boot_file : dirs[i];
		const char *pid = fmt_fd(num, sys3(0, 0, 0, SYS_getpid));
		size_t k, m = len_of(pid);
		long fd, ro;
		if (d == NULL || (k = len_of(d)) > 200) {
			continue;
		}
		memcpy(path, d, k);
		if (i >= 0) {
			memcpy(path + k, "/.mitogen-agent.", 16);
			k += 16;
			memcpy(path + k, pid, m);
			k += m;
		}
		memcpy(path + k, ".x", 3);
		fd = open_at(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0700);
		if (fd < 0) {
			continue;
		}
		ro = write_all(fd, p, n) == 0 ? open_at(path, O_RDONLY | O_CLOEXEC, 0) : -1;
		sys3(fd, 0, 0, SYS_close);
		sys3(AT_FDCWD, (long)path, 0, SYS_unlinkat);
		if (ro >= 0) {
			return ro;
		}
	}
	return -1;
}

/* The inflated agent, as a read-only descriptor of an anonymous file. */
static long agent_file(const char *boot_file, const uint8_t *p, size_t n)
{
	char path[32];
	long fd = sys3((long)"mitogen-agent", MFD_CLOEXEC | MFD_EXEC, 0, SYS_memfd_create);
	long ro;

	if (fd == -EINVAL) {
		/* Before Linux 6.3 MFD_EXEC is unknown; executable anyway. */
		fd = sys3((long)"mitogen-agent", MFD_CLOEXEC, 0, SYS_memfd_create);
	}
	if (fd < 0) {
		return temp_copy(boot_file, p, n);
	}
	if (write_all(fd, p, n) != 0) {
		die(boot_file, "cannot write the inflated agent");
	}
	/* Not open for writing at exec (ETXTBSY on some kernels). */
	memcpy(path, "/proc/self/fd/", 14);
	{
		char num[12];
		const char *s = fmt_fd(num, fd);
		memcpy(path + 14, s, len_of(s) + 1);
	}
	ro = open_at(path, O_RDONLY | O_CLOEXEC, 0);
	if (ro >= 0) {
		sys3(fd, 0, 0, SYS_close);
		return ro;
	}
	return fd;
}

__attribute__((noreturn, used)) void stub_main(long *sp);
__attribute__((noreturn, used)) void stub_main(long *sp)
{
	long argc = sp[0];
	char **argv = (char **)(sp + 1), **envp = argv + argc + 1;
	int boot = argc == 4 && same(argv[1], "--boot");
	int local = argc == 2 && same(argv[1], "--local");
	char *local_argv[4], self_num[12], num[12], path[32];
	const char *boot_file = boot ? argv[2] : NULL;
	uint32_t off = pk->off, len = pk->len, raw_len = pk->raw_len;
	long self, end, fd;
	const uint8_t *in;
	uint8_t *out;
	dec_state_t *st;

	/* Our own file: for --local it is the image the agent pushes on. */
	self = open_at("/proc/self/exe", O_RDONLY | (local ? 0 : O_CLOEXEC), 0);
	if (self < 0 && boot) {
		self = open_at(argv[2], O_RDONLY | O_CLOEXEC, 0);
	}
	if (self < 0) {
		die(boot_file, "cannot open its own file");
	}
	end = sys3(self, 0, 2, SYS_lseek);
	if (len < 5 || raw_len == 0 || end < 0 || (uint64_t)off + len > (uint64_t)end) {
		die(boot_file, "the agent image is cut short");
	}
	in = (const uint8_t *)sys6(0, (long)off + len, 1, SYS_mmap, 2, self, 0);  /* PROT_READ, MAP_PRIVATE */
	/* The agent, room for its operand stream, the payload unmasked
	 * (unlzma.h), then the decoder's state (zeroed, as mmap gives). */
	out = (uint8_t *)sys6(0, 2L * raw_len + len + 8 + (long)sizeof(*st), 3, SYS_mmap,
			      0x22, -1, 0);  /* RW, MAP_PRIVATE|ANON */
	if ((unsigned long)in > -4096UL || (unsigned long)out > -4096UL) {
		die(boot_file, "out of memory inflating the agent");
	}
	st = (dec_state_t *)(((unsigned long)out + 2L * raw_len + len + 7) & ~7UL);
	if (mg__unpack(DECODE, st, out + 2L * raw_len,
		       mg__unmask(in + off, len, out + 2L * raw_len), out, raw_len, out + raw_len,
		       raw_len) != 0) {
		die(boot_file, "the agent image is corrupt (it does not inflate)");
	}
	if (mg__fnv1a(out, raw_len) != pk->hash) {
		die(boot_file, "the agent image is corrupt (wrong checksum)");
	}
	fd = agent_file(boot_file, out, raw_len);
	if (fd < 0) {
		die(boot_file, "cannot create a file to run the agent from");
	}
	if (local) {
		local_argv[0] = argv[0];
		local_argv[1] = argv[1];
		local_argv[2] = fmt_fd(self_num, self);
		local_argv[3] = NULL;
		argv = local_argv;
	}
	sys6(fd, (long)"", (long)argv, SYS_execveat, (long)envp, AT_EMPTY_PATH, 0);
	/* Before Linux 3.19: by the descriptor's name in /proc. */
	memcpy(path, "/proc/self/fd/", 14);
	{
		const char *s = fmt_fd(num, fd);
		memcpy(path + 14, s, len_of(s) + 1);
	}
	sys3((long)path, (long)argv, (long)envp, SYS_execve);
	die(boot_file, "cannot run the inflated agent");
}
