/* setns: enter the namespaces of a container's leader process, spec
 * KIND:[user@]CONTAINER with KIND docker, lxc, lxd or machinectl; needs
 * root at that hop (mitogen.md 3.12). hop->spec keeps the kind, hop->host
 * is the container. argv: /bin/sh -c 'trap : TERM HUP INT;BOOT; exit $?' after setns().
 *
 * prepare_async (in the parent) asks the kind's tool for the leader pid
 * without blocking the loop (the tool's output is read through it), opens
 * /proc/PID/ns/{ipc,uts,net,pid,mnt,user} and /proc/PID/root, resolves the
 * user from the container's own /etc/passwd and /etc/group, and builds the
 * environment (the leader's, with HOME, SHELL, USER and LOGNAME set for the
 * user; mitogen keeps ours, whose secrets are not the container's). pre_exec
 * (in the child, async-signal-safe) enters the namespaces, chroots, drops
 * to the user, points environ at that environment and changes to the home
 * directory, and lets no inherited descriptor cross the exec. The
 * environment goes through environ rather than argv because build_argv
 * runs before prepare: it cannot know the user's home.
 *
 * Unlike mitogen, the chroot comes after setns(): entering a mount
 * namespace resets the root to that namespace's root, which is not the
 * leader's root when the container was made with chroot(2) rather than
 * pivot_root(2). Failures that prepare can see (no tool, no pid, a dead
 * leader, no such user, an unmapped uid) are reported from the parent.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "scan.h"
#include "boot.h"
#include "capture.h"
#include "method.h"
#include "mitogen/error.h"
#include "mitogen/loop.h"
#include "process.h"

#ifndef SYS_openat2
#define SYS_openat2 437
#endif
#ifndef RESOLVE_IN_ROOT
#define RESOLVE_IN_ROOT 0x10
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

extern char **environ;

/* The kind's tool may not answer: give up on it after this long. */
#define SETNS_TOOL_TIMEOUT_MS 30000
/* A bigger /etc/passwd or /etc/group is refused. */
#define SETNS_FILE_MAX (16 << 20)

/* mitogen's order: the mount namespace after the pid one, the user
 * namespace last (once in it, we hold no capability over namespaces that
 * it does not own). */
static const struct {
	const char *name;
	int type;
} setns_namespaces[] = {
	{ "ipc", CLONE_NEWIPC },
	{ "uts", CLONE_NEWUTS },
	{ "net", CLONE_NEWNET },
	{ "pid", CLONE_NEWPID },
	{ "mnt", CLONE_NEWNS },
	{ "user", CLONE_NEWUSER },
};
#define SETNS_N_NS (sizeof(setns_namespaces) / sizeof(setns_namespaces[0]))

struct setns_ns {
	int fd;
	int type;
	char *what; /* "cannot enter the net namespace of PID 42", for errors */
};

struct setns_state {
	struct setns_ns ns[SETNS_N_NS];
	size_t n_ns;
	int root_fd;
	uid_t uid;
	gid_t gid;
	gid_t *groups;
	size_t n_groups;
	/* The container's user namespace forbids setgroups() (rootless
	 * containers): drop ours before entering it, set none after. */
	bool groups_denied;
	/* The container's own user namespace, to check ids against its maps. */
	long userns_pid;
	char *home;
	char **envp;
	/* Prebuilt error texts: the child may not format anything. */
	char *root_what;
	char *user_what;
	/* Where the child's fallback for close_range stops (RLIMIT_NOFILE). */
	long fd_limit;
	/* The container's leader: its environment is the command's. */
	long leader_pid;
};

/* A user from /etc/passwd. */
struct setns_user {
	char *name; /* as in /etc/passwd (the user may be given as a uid) */
	uid_t uid;
	gid_t gid;
	char *home;
	char *shell;
};

/* The tool and the line that names the pid, per kind. */
struct setns_tool {
	const char *kind;
	const char *option;  /* the path option */
	const char *dflt;    /* its default */
	const char *verb;    /* the first argument: see setns_query_pid */
	const char *key;     /* the line naming the pid; NULL: the whole output */
};

static const struct setns_tool setns_tools[] = {
	{ "docker", "docker_path", "docker", "inspect", NULL },
	{ "lxc", "lxc_info_path", "lxc-info", "-n", "PID:" },
	{ "lxd", "lxc_path", "lxc", "info", "Pid:" },
	{ "machinectl", "machinectl_path", "machinectl", "status", "Leader:" },
};

static const struct setns_tool *setns_tool_find(const char *kind, size_t n)
{
	for (size_t i = 0; i < sizeof(setns_tools) / sizeof(setns_tools[0]); i++) {
		if (strlen(setns_tools[i].kind) == n && strncmp(setns_tools[i].kind, kind, n) == 0) {
			return &setns_tools[i];
		}
	}
	return NULL;
}

/* The tool of this hop's kind (the part of hop->spec before ':'), and its
 * path; errors for a spec the parser would not produce. */
static int setns_hop_tool(TALLOC_CTX *mem_ctx, const struct mg_hop *hop,
			  const struct setns_tool **_tool, const char **_path, char **_errmsg)
{
	const char *spec = hop->spec != NULL ? hop->spec : "";
	const char *colon = strchr(spec, ':');
	const struct setns_tool *t;
	const char *path;
	int ret;

	if (colon == NULL) {
		*_errmsg = talloc_strdup(mem_ctx, "setns needs KIND:CONTAINER (KIND is docker, lxc, "
					 "lxd or machinectl)");
		return -EINVAL;
	}
	t = setns_tool_find(spec, (size_t)(colon - spec));
	if (t == NULL) {
		*_errmsg = talloc_asprintf(mem_ctx, "unsupported container kind: '%.*s'",
					   (int)(colon - spec), spec);
		return -EINVAL;
	}
	if (hop->host == NULL || hop->host[0] == '\0') {
		*_errmsg = talloc_strdup(mem_ctx, "setns needs a container name");
		return -EINVAL;
	}
	if (hop->host[0] == '-') {
		/* The tool would read it as an option. */
		*_errmsg = talloc_asprintf(mem_ctx, "setns: container '%s' may not begin with '-'",
					   hop->host);
		return -EINVAL;
	}
	if ((ret = mg__hop_path(mem_ctx, hop, t->option, t->dflt, &path, _errmsg)) != 0) {
		return ret;
	}
	*_tool = t;
	*_path = path;
	return 0;
}

static int setns_build_argv(TALLOC_CTX *mem_ctx, const struct mg_hop *hop,
			    const struct mg_boot_cmd *boot, char ***_argv, bool *_direct,
			    char **_errmsg)
{
	const struct setns_tool *t;
	const char *path;
	char *line;
	char **argv;
	int ret;

	*_direct = false;
	if ((ret = setns_hop_tool(mem_ctx, hop, &t, &path, _errmsg)) != 0) {
		return ret;
	}
	/* setns(CLONE_NEWPID) only moves our children into the container's
	 * pid namespace: the boot command must run as a child of this shell,
	 * and "; exit $?" keeps a shell from exec'ing it in place. The trap
	 * keeps this shell, the hop's leader, until that child ends: stopped
	 * with SIGTERM before it is up, the first stage removes its file
	 * through its own trap (PROTOCOL 2.1), and the leader ends with it,
	 * not before (the rest of a session keeps its grace either way:
	 * conn.c). */
	line = mg__shell_join(mem_ctx, boot->argv);
	if (line != NULL) {
		char *boot_line = line;

		line = talloc_asprintf(mem_ctx, "trap : TERM HUP INT;%s; exit $?", boot_line);
		talloc_free(boot_line);
	}
	argv = talloc_zero_array(mem_ctx, char *, 1);
	if (line == NULL || argv == NULL || !mg__strv_add(&argv, "/bin/sh")
	    || !mg__strv_add(&argv, "-c") || !mg__strv_add(&argv, line)) {
		talloc_free(line);
		talloc_free(argv);
		return -ENOMEM;
	}
	talloc_free(line);
	*_argv = argv;
	return 0;
}

/* The output with trailing blanks cut, or "(no output)", for messages. */
static const char *setns_output_text(TALLOC_CTX *mem_ctx, const char *out)
{
	size_t n = strlen(out);

	while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == '\r' || out[n - 1] == ' '
			 || out[n - 1] == '\t')) {
		n--;
	}
	if (n == 0) {
		return "(no output)";
	}
	return talloc_strndup(mem_ctx, out, n);
}

/* A decimal pid at p, ending at a blank, '(' or the end of the line; -1
 * when there is none. */
static long setns_parse_number(const char *p)
{
	char *end;
	long v;

	while (*p == ' ' || *p == '\t') {
		p++;
	}
	if (*p < '0' || *p > '9') {
		return -1;
	}
	errno = 0;
	v = strtol(p, &end, 10);
	if (errno != 0 || v > INT_MAX) {
		return -1;
	}
	if (*end != '\0' && *end != '\n' && *end != '\r' && *end != ' ' && *end != '\t'
	    && *end != '(') {
		return -1;
	}
	return v;
}

/*
 * The leader pid in the output of the kind's tool: docker prints the pid
 * alone; lxc-info a line "PID: n", lxc (LXD) "Pid: n" (LXD 5 and incus
 * "PID: n"), machinectl status "Leader: n (comm)", indented. Returns the
 * pid (0 for a stopped docker container), or -1 when there is none.
 */
static long setns_parse_pid(const char *kind, const char *out)
{
	const struct setns_tool *t = setns_tool_find(kind, strlen(kind));

	if (t == NULL) {
		return -1;
	}
	if (t->key == NULL) {
		const char *p = out;
		long v;

		while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') {
			p++;
		}
		v = setns_parse_number(p);
		if (v < 0) {
			return -1;
		}
		/* Nothing but the number. */
		while (*p >= '0' && *p <= '9') {
			p++;
		}
		while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') {
			p++;
		}
		return *p == '\0' ? v : -1;
	}
	for (const char *line = out; *line != '\0';) {
		const char *p = line;
		const char *nl = strchr(line, '\n');

		while (*p == ' ' || *p == '\t') {
			p++;
		}
		if (strncasecmp(p, t->key, strlen(t->key)) == 0) {
			return setns_parse_number(p + strlen(t->key));
		}
		if (nl == NULL) {
			break;
		}
		line = nl + 1;
	}
	return -1;
}

/*
 * The leader pid from the kind's tool, asked without blocking the loop
 * (lib/hop/capture.c): stdout and stderr on one pipe, up to 64 KiB kept;
 * past SETNS_TOOL_TIMEOUT_MS it is killed. Freeing the query kills a tool
 * still running and reaps it.
 */
typedef void (*setns_pid_fn)(void *data, int err, long pid, const char *errmsg);

struct setns_query {
	const struct setns_tool *t;
	char *path;
	char *name;
	struct mg_capture *cap;
	setns_pid_fn cb;
	void *data;
};

/* What the tool's answer means: 0 with *_pid, or an error and message. */
static int setns_query_result(TALLOC_CTX *mem_ctx, const struct setns_query *q, int err,
			      int status, const char *out, long *_pid, char **_errmsg)
{
	const char *path = q->path;
	long pid;

	if (err == -ETIMEDOUT) {
		*_errmsg = talloc_asprintf(mem_ctx, "%s did not answer within %d seconds", path,
					   SETNS_TOOL_TIMEOUT_MS / 1000);
		return -ETIMEDOUT;
	}
	if (WIFSIGNALED(status)) {
		*_errmsg = talloc_asprintf(mem_ctx, "%s was killed by signal %d: %s", path,
					   WTERMSIG(status), setns_output_text(mem_ctx, out));
		return -ESRCH;
	}
	if (WEXITSTATUS(status) != 0) {
		*_errmsg = talloc_asprintf(mem_ctx, "%s exited with status %d: %s", path,
					   WEXITSTATUS(status), setns_output_text(mem_ctx, out));
		return -ESRCH;
	}
	pid = setns_parse_pid(q->t->kind, out);
	if (pid < 0) {
		*_errmsg = talloc_asprintf(mem_ctx, "could not find PID from %s output: %s", path,
					   setns_output_text(mem_ctx, out));
		return -ESRCH;
	}
	if (pid == 0) {
		/* docker's answer for a stopped container. */
		*_errmsg = talloc_asprintf(mem_ctx, "container '%s' is not running (%s reports PID 0)",
					   q->name, path);
		return -ESRCH;
	}
	*_pid = pid;
	return 0;
}

static void setns_query_done(void *data, int err, int status, const char *out)
{
	struct setns_query *q = talloc_get_type_abort(data, struct setns_query);
	char *msg = NULL;
	long pid = 0;
	int ret;

	ret = setns_query_result(q, q, err, status, out, &pid, &msg);
	q->cb(q->data, ret, pid, msg != NULL ? msg : mg_strerror(ret));
}

/*
 * Ask the kind's tool at 'path' for the leader of container 'name'; cb
 * gets the answer once, from the loop. Returns 0 with *_q (free it to
 * cancel), or a negative errno (*_errmsg set when the tool cannot be
 * started).
 */
static int setns_query_start(TALLOC_CTX *mem_ctx, struct mg_loop *loop,
			     const struct setns_tool *t, const char *path, const char *name,
			     setns_pid_fn cb, void *data, struct setns_query **_q, char **_errmsg)
{
	struct setns_query *q = talloc_zero(mem_ctx, struct setns_query);
	const char *argv[5] = { path, t->verb, NULL, NULL, NULL };
	int ret;

	if (q == NULL) {
		return -ENOMEM;
	}
	q->t = t;
	q->cb = cb;
	q->data = data;
	q->path = talloc_strdup(q, path);
	q->name = talloc_strdup(q, name);
	if (q->path == NULL || q->name == NULL) {
		talloc_free(q);
		return -ENOMEM;
	}
	if (t->key == NULL) {
		argv[2] = "--format={{.State.Pid}}";
		argv[3] = name;
	} else {
		argv[2] = name;
	}
	ret = mg__capture_start(q, loop, argv, SETNS_TOOL_TIMEOUT_MS, setns_query_done, q, &q->cap);
	if (ret != 0) {
		if (ret != -ENOMEM) {
			*_errmsg = talloc_asprintf(mem_ctx, "could not execute %s: %s", path,
						   strerror(-ret));
		}
		talloc_free(q);
		return ret;
	}
	*_q = q;
	return 0;
}

/* Open a file inside the container: absolute symlinks resolve against its
 * root, not ours (openat2 RESOLVE_IN_ROOT; plain openat before Linux 5.6). */
static int setns_open_in_root(int root_fd, const char *path)
{
	struct {
		uint64_t flags;
		uint64_t mode;
		uint64_t resolve;
	} how = { O_RDONLY | O_CLOEXEC, 0, RESOLVE_IN_ROOT };
	int fd = (int)syscall(SYS_openat2, root_fd, path, &how, sizeof(how));

	if (fd < 0 && (errno == ENOSYS || errno == EPERM)) {
		fd = openat(root_fd, path, O_RDONLY | O_CLOEXEC);
	}
	return fd;
}

/* The whole of an open file, NUL-terminated, its length in *_len unless
 * _len is NULL (a file of NUL-separated strings); closes fd. */
static int setns_read_fd(TALLOC_CTX *mem_ctx, int fd, char **_text, size_t *_len)
{
	char *text;
	size_t len = 0;
	int ret = 0;

	text = talloc_strdup(mem_ctx, "");
	while (text != NULL) {
		char buf[8192];
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n < 0) {
			ret = -errno;
			break;
		}
		if (n == 0) {
			break;
		}
		if (len + (size_t)n > SETNS_FILE_MAX) {
			ret = -EFBIG;
			break;
		}
		text = talloc_realloc(mem_ctx, text, char, len + (size_t)n + 1);
		if (text != NULL) {
			memcpy(text + len, buf, (size_t)n);
			len += (size_t)n;
			text[len] = '\0';
		}
	}
	close(fd);
	if (text == NULL) {
		return -ENOMEM;
	}
	if (ret != 0) {
		talloc_free(text);
		return ret;
	}
	*_text = text;
	if (_len != NULL) {
		*_len = len;
	}
	return 0;
}

/* The whole of a file inside the container, NUL-terminated. */
static int setns_read_in_root(TALLOC_CTX *mem_ctx, int root_fd, const char *path, char **_text)
{
	int fd = setns_open_in_root(root_fd, path);

	if (fd < 0) {
		return -errno;
	}
	return setns_read_fd(mem_ctx, fd, _text, NULL);
}

/* Split one line of a colon-separated file into at most 'max' fields
 * (in place); returns how many. */
static size_t setns_fields(char *line, char **f, size_t max)
{
	size_t n = 0;

	f[n++] = line;
	for (char *p = line; *p != '\0' && n < max; p++) {
		if (*p == ':') {
			*p = '\0';
			f[n++] = p + 1;
		}
	}
	return n;
}

/* A decimal id that fits an uid_t/gid_t, or -1. */
static long long setns_parse_id(const char *s)
{
	char *end;
	unsigned long long v;

	if (*s < '0' || *s > '9') {
		return -1;
	}
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v >= UINT32_MAX) {
		return -1;
	}
	return (long long)v;
}

/*
 * Find 'user' in the text of an /etc/passwd: by name, else (a number)
 * by uid. Returns 0 with *u filled (strings on mem_ctx) or -ENOENT.
 */
static int setns_find_user(TALLOC_CTX *mem_ctx, const char *passwd, const char *user,
			   struct setns_user *u)
{
	bool numeric = setns_parse_id(user) >= 0;

	for (int pass = 0; pass < (numeric ? 2 : 1); pass++) {
		char *copy = talloc_strdup(mem_ctx, passwd);
		char *save = NULL;

		if (copy == NULL) {
			return -ENOMEM;
		}
		for (char *line = strtok_r(copy, "\n", &save); line != NULL;
		     line = strtok_r(NULL, "\n", &save)) {
			char *f[7];
			long long uid, gid;

			if (setns_fields(line, f, 7) != 7) {
				continue;
			}
			if (pass == 0 ? strcmp(f[0], user) != 0 : strcmp(f[2], user) != 0) {
				continue;
			}
			uid = setns_parse_id(f[2]);
			gid = setns_parse_id(f[3]);
			if (uid < 0 || gid < 0) {
				continue;
			}
			f[6][strcspn(f[6], "\r")] = '\0';
			u->name = talloc_strdup(mem_ctx, f[0]);
			u->uid = (uid_t)uid;
			u->gid = (gid_t)gid;
			u->home = talloc_strdup(mem_ctx, f[5][0] != '\0' ? f[5] : "/");
			u->shell = talloc_strdup(mem_ctx, f[6][0] != '\0' ? f[6] : "/bin/sh");
			talloc_free(copy);
			return u->name == NULL || u->home == NULL || u->shell == NULL ? -ENOMEM : 0;
		}
		talloc_free(copy);
	}
	return -ENOENT;
}

/* The groups of 'user' from the text of an /etc/group (NULL: none), its
 * primary group first. Returns 0 with *_groups on mem_ctx, or -ENOMEM. */
static int setns_find_groups(TALLOC_CTX *mem_ctx, const char *group, const char *user, gid_t gid,
			     gid_t **_groups, size_t *_n)
{
	gid_t *groups = talloc_array(mem_ctx, gid_t, 1);
	size_t n = 1;
	/* The C library's own figure (sysconf's, without the agent carrying
	 * musl's sysconf table): 32 for musl, 65536 for glibc. */
	long max = NGROUPS_MAX;
	char *copy, *save = NULL;

	if (groups == NULL) {
		return -ENOMEM;
	}
	groups[0] = gid;
	copy = talloc_strdup(mem_ctx, group != NULL ? group : "");
	if (copy == NULL) {
		talloc_free(groups);
		return -ENOMEM;
	}
	for (char *line = strtok_r(copy, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		char *f[4], *msave = NULL;
		long long g;
		bool member = false, seen = false;

		if (setns_fields(line, f, 4) != 4 || (g = setns_parse_id(f[2])) < 0) {
			continue;
		}
		f[3][strcspn(f[3], "\r")] = '\0';
		for (char *m = strtok_r(f[3], ",", &msave); m != NULL; m = strtok_r(NULL, ",", &msave)) {
			if (strcmp(m, user) == 0) {
				member = true;
			}
		}
		for (size_t i = 0; i < n; i++) {
			if (groups[i] == (gid_t)g) {
				seen = true;
			}
		}
		if (!member || seen || (max > 0 && (long)n >= max)) {
			continue;
		}
		gid_t *more = talloc_realloc(mem_ctx, groups, gid_t, n + 1);
		if (more == NULL) {
			talloc_free(groups);
			talloc_free(copy);
			return -ENOMEM;
		}
		groups = more;
		groups[n++] = (gid_t)g;
	}
	talloc_free(copy);
	*_groups = groups;
	*_n = n;
	return 0;
}

/* Whether "NAME=..." is one of the variables set for the user. */
static bool setns_user_var(const char *v)
{
	static const char *const names[] = { "HOME=", "SHELL=", "USER=", "LOGNAME=" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strncmp(v, names[i], strlen(names[i])) == 0) {
			return true;
		}
	}
	return false;
}

/*
 * The container's own environment, as docker exec starts from it: its
 * leader's (/proc/PID/environ), never ours (whoever runs mitogen: their
 * tokens, TMPDIR and PATH are not the container's), with HOME, SHELL,
 * USER and LOGNAME set for the user, and the usual PATH where the
 * leader has none. Copies of its own: the state waits for the spawn.
 */
static char **setns_build_env(TALLOC_CTX *mem_ctx, long pid, const struct setns_user *u)
{
	char path[64], *block = NULL, **envp;
	size_t len = 0, n = 0, k = 0;
	bool has_path = false;
	int fd;

	snprintf(path, sizeof(path), "/proc/%ld/environ", pid);
	/* Unreadable (the leader gone): the four and PATH alone. */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 || setns_read_fd(mem_ctx, fd, &block, &len) != 0) {
		block = NULL;
		len = 0;
	}
	for (size_t i = 0; i < len; i++) {
		n += block[i] == '\0';
	}
	envp = talloc_zero_array(mem_ctx, char *, n + 7);
	/* setns_read_fd ends the block with a NUL: its last string too. */
	for (size_t i = 0; envp != NULL && block != NULL && i < len; i += strlen(block + i) + 1) {
		if (strchr(block + i, '=') != NULL && !setns_user_var(block + i)) {
			has_path |= strncmp(block + i, "PATH=", 5) == 0;
			envp[k++] = talloc_strdup(envp, block + i);
		}
	}
	talloc_free(block);
	if (envp == NULL) {
		return NULL;
	}
	if (!has_path) {
		envp[k++] = talloc_strdup(envp, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
	}
	envp[k++] = talloc_asprintf(envp, "HOME=%s", u->home);
	envp[k++] = talloc_asprintf(envp, "SHELL=%s", u->shell);
	envp[k++] = talloc_asprintf(envp, "USER=%s", u->name);
	envp[k++] = talloc_asprintf(envp, "LOGNAME=%s", u->name);
	for (size_t i = 0; i < k; i++) {
		if (envp[i] == NULL) {
			TALLOC_FREE(envp);
			break;
		}
	}
	return envp;
}

static int setns_state_destructor(struct setns_state *st)
{
	for (size_t i = 0; i < st->n_ns; i++) {
		close(st->ns[i].fd);
	}
	if (st->root_fd >= 0) {
		close(st->root_fd);
	}
	return 0;
}

/* A hint for the failures an unprivileged caller sees. */
static const char *setns_root_hint(int err)
{
	return err == EACCES || err == EPERM ? " (setns needs root)" : "";
}

/* Whether /proc/PID/setgroups of a user namespace says "deny". */
static bool setns_groups_denied(int dir)
{
	char buf[16] = { 0 };
	int fd = openat(dir, "setgroups", O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0) {
		return false;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	return n > 0 && strncmp(buf, "deny", 4) == 0;
}

/* Open the namespaces and the root of 'pid', skipping namespaces we
 * already share (setns into our own user namespace fails with EINVAL). */
static int setns_open_ns(TALLOC_CTX *mem_ctx, struct setns_state *st, long pid,
			 const char *container, char **_errmsg)
{
	char path[64];
	int dir, err;

	snprintf(path, sizeof(path), "/proc/%ld", pid);
	dir = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dir < 0) {
		err = errno;
		if (err == ENOENT) {
			*_errmsg = talloc_asprintf(mem_ctx, "the leader of container '%s' (PID %ld) is "
						   "not running", container, pid);
		} else {
			*_errmsg = talloc_asprintf(mem_ctx, "cannot open %s: %s%s", path,
						   strerror(err), setns_root_hint(err));
		}
		return -err;
	}
	for (size_t i = 0; i < SETNS_N_NS; i++) {
		char rel[16], self[32];
		struct stat theirs, ours;
		int fd;

		snprintf(rel, sizeof(rel), "ns/%s", setns_namespaces[i].name);
		snprintf(self, sizeof(self), "/proc/self/ns/%s", setns_namespaces[i].name);
		fd = openat(dir, rel, O_RDONLY | O_CLOEXEC);
		if (fd < 0 && errno == ENOENT) {
			/* A kernel without this namespace, or the process just died. */
			if (faccessat(dir, "stat", F_OK, 0) != 0) {
				break;
			}
			continue;
		}
		if (fd < 0) {
			err = errno;
			*_errmsg = talloc_asprintf(mem_ctx, "cannot open %s/%s: %s%s", path, rel,
						   strerror(err), setns_root_hint(err));
			close(dir);
			return -err;
		}
		if (fstat(fd, &theirs) == 0 && stat(self, &ours) == 0 && theirs.st_ino == ours.st_ino
		    && theirs.st_dev == ours.st_dev) {
			close(fd);
			continue;
		}
		if (setns_namespaces[i].type == CLONE_NEWUSER) {
			st->groups_denied = setns_groups_denied(dir);
			st->userns_pid = pid;
		}
		st->ns[st->n_ns].fd = fd;
		st->ns[st->n_ns].type = setns_namespaces[i].type;
		st->ns[st->n_ns].what = talloc_asprintf(st, "cannot enter the %s namespace of PID %ld",
							setns_namespaces[i].name, pid);
		st->n_ns++;
		if (st->ns[st->n_ns - 1].what == NULL) {
			close(dir);
			return -ENOMEM;
		}
	}
	st->root_fd = openat(dir, "root", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	err = errno;
	close(dir);
	if (st->root_fd < 0) {
		if (err == ENOENT) {
			*_errmsg = talloc_asprintf(mem_ctx, "the leader of container '%s' (PID %ld) is "
						   "not running", container, pid);
		} else {
			*_errmsg = talloc_asprintf(mem_ctx, "cannot open %s/root: %s%s", path,
						   strerror(err), setns_root_hint(err));
		}
		return -err;
	}
	return 0;
}

/* Whether 'id' is mapped in the text of a /proc/PID/uid_map or gid_map
 * (lines "INSIDE OUTSIDE COUNT"). */
static bool setns_id_mapped(const char *map, unsigned long id)
{
	const char *p = map;

	while (*p != '\0') {
		unsigned long v[3]; /* inside, outside, count */

		if (mg__scan_ulongs(&p, v, 3) != 3) {
			break;
		}
		if (id >= v[0] && id - v[0] < v[2]) {
			return true;
		}
	}
	return false;
}

/* Refuse early a user the container's user namespace cannot represent:
 * the child could only fail with EINVAL. */
static int setns_check_maps(TALLOC_CTX *mem_ctx, struct setns_state *st, const char *user,
			    const char *container, char **_errmsg)
{
	static const char *const maps[] = { "uid_map", "gid_map" };

	for (size_t i = 0; i < 2; i++) {
		char path[64], *text = NULL;
		unsigned long id = i == 0 ? (unsigned long)st->uid : (unsigned long)st->gid;
		int fd;

		snprintf(path, sizeof(path), "/proc/%ld/%s", st->userns_pid, maps[i]);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			/* The child will tell. */
			continue;
		}
		if (setns_read_fd(mem_ctx, fd, &text, NULL) == 0 && !setns_id_mapped(text, id)) {
			*_errmsg = talloc_asprintf(mem_ctx, "user '%s' (%s %lu) is not mapped in the user "
						   "namespace of container '%s'", user,
						   i == 0 ? "uid" : "gid", id, container);
			talloc_free(text);
			return -EINVAL;
		}
		talloc_free(text);
	}
	return 0;
}

/* The user inside the container, from its own /etc/passwd and /etc/group:
 * our NSS knows nothing of it. */
static int setns_resolve_user(TALLOC_CTX *mem_ctx, struct setns_state *st, const char *user,
			      const char *container, char **_errmsg)
{
	struct setns_user u = { 0 };
	char *passwd = NULL, *group = NULL;
	int ret;

	ret = setns_read_in_root(st, st->root_fd, "etc/passwd", &passwd);
	if (ret == 0) {
		ret = setns_find_user(st, passwd, user, &u);
	}
	if (ret != 0 && ret != -ENOMEM && strcmp(user, "root") == 0) {
		/* root needs no entry: a minimal image may have no passwd. */
		u.name = talloc_strdup(st, "root");
		u.uid = 0;
		u.gid = 0;
		u.home = talloc_strdup(st, "/");
		u.shell = talloc_strdup(st, "/bin/sh");
		ret = u.name != NULL && u.home != NULL && u.shell != NULL ? 0 : -ENOMEM;
	}
	if (ret == -ENOENT && passwd != NULL) {
		*_errmsg = talloc_asprintf(mem_ctx, "no user '%s' in /etc/passwd of container '%s'",
					   user, container);
		return ret;
	}
	if (ret != 0 && ret != -ENOMEM) {
		*_errmsg = talloc_asprintf(mem_ctx, "cannot read /etc/passwd of container '%s' "
					   "(looking up user '%s'): %s", container, user,
					   strerror(-ret));
		return ret;
	}
	if (ret != 0) {
		return ret;
	}
	/* No /etc/group: the primary group alone. */
	if (setns_read_in_root(st, st->root_fd, "etc/group", &group) != 0) {
		group = NULL;
	}
	if ((ret = setns_find_groups(st, group, u.name, u.gid, &st->groups, &st->n_groups)) != 0) {
		return ret;
	}
	st->uid = u.uid;
	st->gid = u.gid;
	st->home = u.home;
	st->envp = setns_build_env(st, st->leader_pid, &u);
	if (st->userns_pid != 0 && (ret = setns_check_maps(mem_ctx, st, user, container, _errmsg)) != 0) {
		return ret;
	}
	st->user_what = talloc_asprintf(st, "cannot switch to user '%s' (uid %u) in container '%s'",
					user, (unsigned)u.uid, container);
	st->root_what = talloc_asprintf(st, "cannot change root to container '%s'", container);
	talloc_free(passwd);
	talloc_free(group);
	if (st->envp == NULL || st->user_what == NULL || st->root_what == NULL) {
		return -ENOMEM;
	}
	return 0;
}

/* An asynchronous prepare: the tool's answer, then what follows from it. */
struct setns_prep {
	TALLOC_CTX *mem_ctx;     /* where the state goes (the prep's parent) */
	char *user;
	char *container;
	struct setns_query *q;
	mg_prepare_done_fn done;
	void *data;
};

static void setns_prep_pid(void *data, int err, long pid, const char *errmsg)
{
	struct setns_prep *pr = talloc_get_type_abort(data, struct setns_prep);
	struct setns_state *st = NULL;
	char *msg = NULL;
	int ret = err;

	if (ret == 0) {
		st = talloc_zero(pr->mem_ctx, struct setns_state);
		if (st == NULL) {
			ret = -ENOMEM;
		} else {
			/* getrlimit, not sysconf: the agent is smaller without it. */
			struct rlimit rl;

			st->root_fd = -1;
			st->leader_pid = pid;
			st->fd_limit = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
				       rl.rlim_cur < 65536 ? (long)rl.rlim_cur : 65536;
			talloc_set_destructor(st, setns_state_destructor);
			if ((ret = setns_open_ns(pr, st, pid, pr->container, &msg)) != 0 ||
			    (ret = setns_resolve_user(pr, st, pr->user, pr->container, &msg)) != 0) {
				TALLOC_FREE(st);
			}
		}
		errmsg = msg != NULL ? msg : mg_strerror(ret);
	}
	pr->done(pr->data, ret, st, ret == 0 ? NULL : errmsg);
}

/* The tool, the leader's namespaces, the user: see the top of the file. */
static int setns_prepare_async(TALLOC_CTX *mem_ctx, struct mg_loop *loop,
			       const struct mg_hop *hop, mg_prepare_done_fn done, void *data,
			       char **_errmsg)
{
	const struct setns_tool *t;
	const char *path;
	struct setns_prep *pr;
	int ret;

	if ((ret = setns_hop_tool(mem_ctx, hop, &t, &path, _errmsg)) != 0) {
		return ret;
	}
	pr = talloc_zero(mem_ctx, struct setns_prep);
	if (pr == NULL) {
		return -ENOMEM;
	}
	pr->mem_ctx = mem_ctx;
	pr->done = done;
	pr->data = data;
	pr->user = talloc_strdup(pr, hop->user != NULL ? hop->user : "root");
	pr->container = talloc_strdup(pr, hop->host);
	if (pr->user == NULL || pr->container == NULL) {
		talloc_free(pr);
		return -ENOMEM;
	}
	ret = setns_query_start(pr, loop, t, path, hop->host, setns_prep_pid, pr, &pr->q, _errmsg);
	if (ret != 0) {
		if (*_errmsg != NULL) {
			talloc_steal(mem_ctx, *_errmsg);
		}
		talloc_free(pr);
	}
	return ret;
}

/* strerror may translate (and allocate); the child needs a plain table. */
static const char *setns_errtext(int err)
{
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
	const char *s = strerrordesc_np(err);
	return s != NULL ? s : "Unknown error";
#else
	return strerror(err);
#endif
}

/* "setns: WHAT: ERROR\n" on fd 2, with write(2) alone. */
static void setns_child_error(const char *what, int err)
{
	const char *parts[] = { "setns: ", what, ": ", setns_errtext(err), "\n" };
	char line[512];
	size_t n = 0;

	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
		for (const char *p = parts[i]; *p != '\0' && n < sizeof(line) - 1; p++) {
			line[n++] = *p;
		}
	}
	if (n == sizeof(line) - 1) {
		line[n - 1] = '\n';
	}
	if (write(2, line, n) < 0) {
		/* Nowhere else to say it. */
	}
}

/* The child has one thread: the plain system calls do what setgroups,
 * setresgid and setresuid do, without the C library's machinery to change
 * every thread of a process (musl's __synccall: 2 KB of the agent). */
#ifdef SYS_setresuid32
#define SETNS_SYS(name) SYS_##name##32
#else
#define SETNS_SYS(name) SYS_##name
#endif

static int setns_setgroups(size_t n, const gid_t *groups)
{
	return (int)syscall(SETNS_SYS(setgroups), n, groups);
}

static int setns_setids(uid_t uid, gid_t gid)
{
	if (syscall(SETNS_SYS(setresgid), gid, gid, gid) != 0) {
		return -1;
	}
	return (int)syscall(SETNS_SYS(setresuid), uid, uid, uid);
}

/* Everything above stderr closes at exec: a descriptor the process that
 * started us left open (a caller's shell may) would follow the first
 * stage into the container, where root could reach the host through
 * /proc/PID/fd/N. Ours are close-on-exec already; before Linux 5.11,
 * one fcntl per descriptor. */
static void setns_cloexec_inherited(long limit)
{
#ifdef SYS_close_range
	if (syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC) == 0) {
		return;
	}
#endif
	for (long fd = 3; fd < limit; fd++) {
		int flags = fcntl((int)fd, F_GETFD);

		if (flags >= 0 && (flags & FD_CLOEXEC) == 0) {
			fcntl((int)fd, F_SETFD, flags | FD_CLOEXEC);
		}
	}
}

/* In the child, between fork and exec: async-signal-safe calls only. */
static int setns_pre_exec(void *state)
{
	struct setns_state *st = state;

	setns_cloexec_inherited(st->fd_limit);
	if (st->groups_denied && setns_setgroups(0, NULL) != 0) {
		setns_child_error(st->user_what, errno);
		return -1;
	}
	for (size_t i = 0; i < st->n_ns; i++) {
		if (setns(st->ns[i].fd, st->ns[i].type) != 0) {
			setns_child_error(st->ns[i].what, errno);
			return -1;
		}
	}
	/* After the mount namespace: entering it resets our root to that
	 * namespace's root, which need not be the leader's (a chroot). */
	if (fchdir(st->root_fd) != 0 || chroot(".") != 0 || chdir("/") != 0) {
		setns_child_error(st->root_what, errno);
		return -1;
	}
	if ((!st->groups_denied && setns_setgroups(st->n_groups, st->groups) != 0) ||
	    setns_setids(st->uid, st->gid) != 0) {
		setns_child_error(st->user_what, errno);
		return -1;
	}
	/* A plain pointer store; exec then passes it on. */
	environ = st->envp;
	/* The home directory when the user may enter it; "/" otherwise. */
	if (chdir(st->home) != 0) {
		/* Stay at "/". */
	}
	return 0;
}

const struct mg_method mg__method_setns = {
	.name = "setns",
	.options = mg__setns_options,
	.spec = MG_SPEC_CONTAINER,
	.mode = MG_SPAWN_SOCKET,
	.eager = false,
	.build_argv = setns_build_argv,
	.prepare_async = setns_prepare_async,
	.pre_exec = setns_pre_exec,
};
