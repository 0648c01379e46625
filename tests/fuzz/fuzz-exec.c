/*
 * The EXEC service of an agent (lib/svc/svc-exec.c), fuzzed through its
 * handler as the parent reaches it: EXEC requests (u32 flags, strv argv,
 * u32 h_stdout, u32 h_stderr, u32 h_stdin_ack, str cwd, then optional
 * strv env, the program's u32 id, u64 size and u32 machine with
 * MG_EXEC_IMAGE, u32 rows and cols with MG_EXEC_PTY), and whatever the
 * parent sends to the handles the service opens (the program's FETCH
 * answers, stdin, control), as real frames on the parent's link.
 *
 * Commands are really started, so this process first forbids itself (and
 * every child) execve and execveat with seccomp: a command fails to run,
 * whatever the fuzzer asks for. Without seccomp the target does not run
 * (exit status 77).
 *
 * Input: records of u8 kind (bit 0: 0 an EXEC request, 1 a message to
 * dynamic handle 1000 + u8; bit 1: a dead message), u16 reply_to, then a
 * u16-length payload.
 */
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sanitizer/common_interface_defs.h>
#include "fuzz-net.h"
#include "svc-exec.h"
#include "images.h"

#if defined(__x86_64__)
#define FZ_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define FZ_AUDIT_ARCH AUDIT_ARCH_AARCH64
#endif

/* execve and execveat fail with EACCES; every other call of this
 * architecture is allowed, and none of another (x32, i386). */
static int forbid_exec(void)
{
#ifdef FZ_AUDIT_ARCH
	struct sock_filter insns[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, FZ_AUDIT_ARCH, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000u, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_execve, 2, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_execveat, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EACCES),
	};
	struct sock_fprog prog = { sizeof(insns) / sizeof(insns[0]), insns };

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) {
		return -errno;
	}
	return 0;
#else
	return -ENOSYS;
#endif
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char line[256];
	int ret;

	signal(SIGPIPE, SIG_IGN);
	fz_quiet_logs();
	/* Start the sanitizers' symbolizer while it may still be run. */
	__sanitizer_symbolize_pc((void *)(uintptr_t)LLVMFuzzerTestOneInput, "%p %F %L", line, sizeof(line));
	if ((ret = forbid_exec()) != 0) {
		fprintf(stderr, "fuzz-exec: cannot forbid execve with seccomp (%s): not running\n",
			strerror(-ret));
		exit(77);
	}
	/* /bin/false exits 1 if it runs after all. */
	pid_t pid = fork();
	int status = -1;
	if (pid == 0) {
		execl("/bin/false", "false", (char *)NULL);
		_exit(errno == EACCES ? 0 : 2);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0) {
		fprintf(stderr, "fuzz-exec: execve is not forbidden: not running\n");
		exit(77);
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FUZZ_LEAKS_BEGIN;
	struct fz f = { data, size };
	TALLOC_CTX *ctx = talloc_new(NULL);
	struct mg_images *images;
	struct fz_net n;

	fz_net_new(ctx, &n);
	images = mg__images_new(ctx, n.r);
	FUZZ_CHECK(images != NULL);
	FUZZ_CHECK(mg__svc_exec_init(n.r, images) != NULL);
	fz_net_settle(&n);
	while (!fz_empty(&f)) {
		uint8_t kind = fz_u8(&f);
		struct mg_msg m = { .dst = 1, .src = 0, .auth_id = 0 };
		size_t len;

		m.handle = (kind & 1) == 0 ? MG_H_EXEC : MG_H_DYNAMIC + fz_u8(&f);
		m.flags = (kind & 2) != 0 ? MG_F_DEAD : 0;
		m.reply_to = fz_u16(&f);
		m.data = (uint8_t *)fz_chunk(&f, &len);
		m.len = len;
		fz_net_send(&n, FZ_PARENT, &m);
		fz_net_settle(&n);
	}
	talloc_free(ctx);
	fz_net_close(&n);
	/* Commands that failed to start, killed with their group. */
	while (waitpid(-1, NULL, WNOHANG) > 0) {
	}
	FUZZ_LEAKS_END;
	return 0;
}
