/*
 * The agent: booted by the first stage with "--boot PATH -", it
 * unlinks its image (its umask is already the one the hop's login gave:
 * only the first stage's subshell took 077), says it is up, takes its
 * identity from the parent's HELLO and serves until the parent goes
 * away. Then it stops everything it started.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <dirent.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>
#include "agent.h"
#include "boot.h"
#include "images.h"
#include "buf.h"
#include "channel.h"
#include "conn.h"
#include "fds.h"
#include "mitogen/agent.h"
#include "mitogen/connect.h"
#include "mitogen/error.h"
#include "mitogen/log.h"
#include "mitogen/loop.h"
#include "protocol.h"
#include "stream.h"
#include "svc-call.h"
#include "svc-connect.h"
#include "svc-exec.h"
#include "svc-file.h"

/* After losing its parent, an agent exits after this long at the latest,
 * less STOP_STEP_MS for each hop it lies below the first: so an agent
 * ends, killing its own stuck hops, before its parent's deadline comes
 * and takes it down first. Never less than STOP_MIN_MS, which leaves
 * commands their grace between SIGTERM and SIGKILL (svc-exec.c). */
#define STOP_DEADLINE_MS 3000
#define STOP_STEP_MS 200
#define STOP_MIN_MS 1500

struct mg_agent {
	struct mg_loop *loop;
	struct mg_router *r;
	struct mg_stream *parent;  /* until HELLO */
	int image_fd;
	struct mg_image *image;
	uint8_t log_level;
	bool stopping;
	bool in_sink;
	bool show;         /* debug=1: the master shows our lines */
	struct exec_svc *exec;
	struct mg_images *images;
	struct mg_timer *deadline;
	unsigned link_pid;  /* who made our parent link's socket, or 0 */
};

#ifdef MG_AGENT_EXEC_ONLY
/*
 * The exec-only agent (mitogen-agent-lite, docs/PROTOCOL.md 2.3.2) is built
 * without the CONNECT, CALL and file services, half the bytes to push and
 * to inflate: a request for one gets this answer, not a bare "invalid
 * handle".
 */
static void on_refused(struct mg_router *r, struct mg_msg *m, void *data)
{
	if (m->handle == MG_H_CALL && !mg__router_parent_authority(r, m)) {
		/* A worker calling us: what the whole agent says (PROTOCOL 5.8). */
		mg__router_reply_dead(r, m, "refused by policy");
		return;
	}
	mg__router_reply_dead(r, m, "this hop runs the exec-only agent (mitogen-agent-lite): "
			      "it runs commands and programs, but cannot connect further hops, "
			      "copy files or serve calls");
}

static int services_init(struct mg_agent *a)
{
	return mg__router_add_handler(a, a->r, MG_H_CONNECT, MG_POL_PARENT, 0, true, on_refused,
				      a) != NULL &&
	       mg__router_add_handler(a, a->r, MG_H_CALL, MG_POL_ANY, 0, true, on_refused,
				      a) != NULL ? 0 : -ENOMEM;
}
#else
/* What the CONNECT service needs of us (svc-connect.h). */
static const struct mg_image *host_image(void *data)
{
	struct mg_agent *a = data;

	if (a->image == NULL && a->image_fd >= 0) {
		if (mg__image_from_fd(a, a->image_fd, &a->image) != 0) {
			a->image = NULL;
		} else {
			/* Local hops exec it in place, even once unlinked; our
			 * own program is that agent already inflated. */
			a->image->self = talloc_asprintf(a->image, "/proc/self/fd/%d", a->image_fd);
			a->image->plain = talloc_strdup(a->image, "/proc/self/exe");
		}
	}
	return a->image;
}

static uint8_t host_log_level(void *data)
{
	return ((const struct mg_agent *)data)->log_level;
}

static bool host_stopping(void *data)
{
	return ((const struct mg_agent *)data)->stopping;
}

static struct connect_svc *connect_init(struct mg_agent *a)
{
	const struct mg_connect_host host = {
		host_image, host_log_level, host_stopping, mg__agent_run_forked, a,
	};

	return mg__svc_connect_init(a->r, &host);
}

static int services_init(struct mg_agent *a)
{
	return connect_init(a) != NULL && mg__services(a->r) != NULL &&
	       mg__svc_file_init(a->r) == 0 && mg__svc_file_relay_init(a->r) == 0 ? 0 : -ENOMEM;
}
#endif

/* Log lines go to the master once the router is up. */
static void agent_log_sink(enum mg_log_level level, const char *msg, void *data)
{
	struct mg_agent *a = data;
	struct mg_buf *b;
	size_t n;
	const uint32_t *parents;

	if (a->r == NULL || a->stopping || a->in_sink) {
		dprintf(2, "mitogen-agent: %s\n", msg);
		return;
	}
	b = mg__buf_new(NULL, 8192);
	if (b == NULL) {
		dprintf(2, "mitogen-agent: %s\n", msg);
		return;
	}
	/* Sending may log; never recurse. */
	a->in_sink = true;
	parents = mg__router_parents(a->r, &n);
	if (mg__buf_put_u8(b, (uint8_t)level | (a->show ? MG_LOG_SHOW : 0)) == 0 &&
	    mg__buf_put_str(b, msg) == 0) {
		mg__router_send(a->r, parents[n - 1], MG_H_LOG, 0, 0, b->data, b->len);
	}
	talloc_free(b);
	a->in_sink = false;
}

static void on_deadline(struct mg_timer *t, void *data)
{
	struct mg_agent *a = data;

	a->deadline = NULL;
	mg_loop_stop(a->loop, 1);
}

static unsigned stop_deadline_ms(const struct mg_agent *a)
{
	size_t depth;
	unsigned ms;

	/* Our parents: the master alone for a first hop. */
	mg__router_parents(a->r, &depth);
	depth = depth > 0 ? depth - 1 : 0;
	ms = STOP_DEADLINE_MS - STOP_STEP_MS * (unsigned)(depth > 8 ? 8 : depth);
	return ms < STOP_MIN_MS ? STOP_MIN_MS : ms;
}

static void on_parent_lost(void *data)
{
	struct mg_agent *a = data;

	if (a->stopping) {
		return;
	}
	a->stopping = true;
	/* Stop commands and child hops; the loop runs dry once they are
	 * reaped, or the deadline ends it. A hop still connecting has no
	 * agent to stop it, and nobody wants it now. */
	if (a->exec != NULL) {
		mg__svc_exec_stop(a->exec);
	}
	mg__router_close_all(a->r, "parent lost");
	mg__conn_kill_hops(false);
	a->deadline = mg_timer_new(a, a->loop, stop_deadline_ms(a), on_deadline, a);
	if (a->deadline != NULL) {
		/* Only a bound: exit as soon as nothing is left to wait for. */
		mg_timer_set_keepalive(a->deadline, false);
	}
}

/* The parent tells us to go: the same as losing it, except that the
 * link is still there. Nothing more from it counts: stop reading it, so
 * that it no longer keeps the loop alive, and exit once what we started
 * has ended; our parent sees the link end then. */
static void on_shutdown(struct mg_router *r, struct mg_msg *m, void *data)
{
	if (m->in != NULL) {
		mg__stream_pause(m->in, true);
	}
	on_parent_lost(data);
}

static void boot_close(struct mg_stream *s, int err, const char *why, void *data)
{
	struct mg_agent *a = data;

	mg_loop_stop(a->loop, 1);
}

/* The first frame must be HELLO: it tells us who we are. */
static void boot_msg(struct mg_stream *s, struct mg_msg *m, void *data)
{
	struct mg_agent *a = data;
	struct mg_hello h;
	char name[16];

	if (a->r != NULL || m->handle != MG_H_HELLO ||
	    mg__hello_decode(a, m->data, m->len, &h) != 0 || h.version != MG_PROTOCOL_VERSION ||
	    m->src != h.parents[0] || m->dst != h.id) {
		dprintf(2, "mitogen-agent: bad HELLO from parent\n");
		talloc_free(m);
		mg_loop_stop(a->loop, 1);
		return;
	}
	a->log_level = h.log_level;
	a->show = (h.log_level & MG_LOG_SHOW) != 0;
	mg_log_set_level((enum mg_log_level)(h.log_level & ~MG_LOG_SHOW));
	a->r = mg__router_new(a, a->loop, h.id, h.parents, h.n_parents);
	if (a->r == NULL) {
		talloc_free(m);
		mg_loop_stop(a->loop, 1);
		return;
	}
	mg__router_set_max_msg(a->r, h.max_msg);
	/* Inherited: the HELLOs this agent sends carry it on down. */
	mg__router_set_unidirectional(a->r, (h.flags & MG_HELLO_UNIDIRECTIONAL) != 0);
	mg__router_on_parent_lost(a->r, on_parent_lost, a);
	mg__router_add_stream(a->r, s, h.parents[0], "parent", true);
	/* What one wakeup sends up (STARTED; the ends of output and EXITED)
	 * goes in one write: one wakeup for each hop above, not three. */
	mg__stream_set_cork(s, true);
	a->parent = NULL;
	mg_log_set_sink(agent_log_sink, a);
	/* The name the parent chose (remote_name=, or mitogen:ID). */
	snprintf(name, sizeof(name), "%s", h.name != NULL && h.name[0] != '\0' ? h.name : "mitogen");
	prctl(PR_SET_NAME, name, 0, 0, 0);
	if (mg__router_add_handler(a, a->r, MG_H_SHUTDOWN, MG_POL_PARENT, 0, true, on_shutdown, a) == NULL ||
	    (a->images = mg__images_new(a, a->r)) == NULL ||
	    (a->exec = mg__svc_exec_init(a->r, a->images)) == NULL ||
	    services_init(a) != 0) {
		mg_loop_stop(a->loop, 1);
	}
	/* m->in is the parent stream, now routed: reply through the router. */
	m->in = NULL;
	mg__hello_reply(a->r, m, a->link_pid);
	talloc_free(m);
}

/* Who made the socket our link to the parent ends in, when both our
 * ends are that one socket (not a relay's pipes): 0 otherwise. */
static unsigned link_pid(int in_fd, int out_fd)
{
	struct stat a, b;

	if (fstat(in_fd, &a) != 0 || fstat(out_fd, &b) != 0 || a.st_ino != b.st_ino ||
	    a.st_dev != b.st_dev) {
		return 0;
	}
	return mg__fd_peer_pid(in_fd);
}

/* Move fd to a high number, close-on-exec, and put /dev/null in its place. */
static int park_fd(int fd)
{
	int nfd = fcntl(fd, F_DUPFD_CLOEXEC, 10);
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);

	if (nfd < 0 || null < 0) {
		return -1;
	}
	dup2(null, fd);
	close(null);
	return nfd;
}

/* A parent link that is a pipe (sshd's) gets MG_PIPE_SIZE: a frame of a
 * file's bytes then goes in one write, not copied into our queue for
 * sixteen more, and the far end reads it in fewer wake-ups. Failure
 * (a user over the pipe quota) is harmless. */
static void grow_pipe(int fd)
{
	struct stat st;

	if (fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode) &&
	    fcntl(fd, F_GETPIPE_SZ) < (int)MG_PIPE_SIZE) {
		fcntl(fd, F_SETPIPE_SZ, (int)MG_PIPE_SIZE);
	}
}

/*
 * The frames our parent appended to the image it pushed (boot.h): HELLO,
 * then what it sent us before we were up. The whole tail is read from
 * our own file, on 'mem_ctx'; NULL when there is none, and HELLO then
 * comes on the stream after MITO002.
 */
static uint8_t *image_tail(TALLOC_CTX *mem_ctx, int fd, size_t *_n)
{
	struct mg_boot_tail t;
	size_t size = 0;
	uint8_t *p;

	if (fd < 0 || mg__boot_file_tail(fd, &size, &t) != 0) {
		return NULL;
	}
	if (t.frames == 0 || t.frames > MG_MSG_MAX_DEFAULT) {
		return NULL;
	}
	p = talloc_size(mem_ctx, t.frames);
	if (p != NULL && pread(fd, p, t.frames, (off_t)(size - t.len)) != (ssize_t)t.frames) {
		TALLOC_FREE(p);
	}
	*_n = t.frames;
	return p;
}

/* The next whole frame of the tail at *at, as a message from 'parent'
 * on mem_ctx; NULL at its end, or when what is left is no frame. */
static struct mg_msg *tail_frame(TALLOC_CTX *mem_ctx, const uint8_t *p, size_t n, size_t *at,
				 struct mg_stream *parent)
{
	struct mg_msg *m;

	if (n - *at < MG_HDR_LEN) {
		return NULL;
	}
	m = talloc_zero(mem_ctx, struct mg_msg);
	if (m == NULL || mg__msg_parse_header(p + *at, MG_MSG_MAX_DEFAULT, m) != 0 ||
	    m->len > n - *at - MG_HDR_LEN ||
	    (m->data = talloc_size(m, m->len + 1)) == NULL) {
		talloc_free(m);
		return NULL;
	}
	memcpy(m->data, p + *at + MG_HDR_LEN, m->len);
	m->data[m->len] = '\0';
	*at += MG_HDR_LEN + m->len;
	m->in = parent;
	return m;
}

/*
 * HELLO from our image's tail, and what came behind it, taken as frames
 * from our parent at once: our HELLO reply follows MITO002 without a
 * round trip, and so does the answer to a request sent with the image.
 * -1 when HELLO is bad (we exit), 0 when it was taken, 1 when there is
 * no tail.
 */
static int take_image_tail(struct mg_agent *a, int fd)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	size_t n = 0, at = 0;
	uint8_t *p = image_tail(tmp, fd, &n);
	struct mg_msg *m = p != NULL ? tail_frame(tmp, p, n, &at, a->parent) : NULL;
	struct mg_stream *parent = a->parent;

	if (m == NULL) {
		talloc_free(tmp);
		return 1;
	}
	boot_msg(a->parent, m, a);
	if (a->r == NULL) {
		talloc_free(tmp);
		return -1;
	}
	/* The rest, frame by frame, as the stream would pass them on (a
	 * handler may keep its message: each has its own holder). */
	for (;;) {
		TALLOC_CTX *holder = talloc_new(NULL);

		if (holder == NULL || (m = tail_frame(holder, p, n, &at, parent)) == NULL) {
			talloc_free(holder);
			break;
		}
		mg__router_receive(a->r, m);
		talloc_free(holder);
	}
	talloc_free(tmp);
	return 0;
}

/* tail_hello: image_fd is the file the first stage wrote, which may end
 * with our HELLO (never so for --local, whose file is its parent's). */
static int agent_run(int image_fd, const struct mg_image *image, bool tail_hello)
{
	struct mg_agent *a;
	int in_fd, out_fd, ret;

	a = talloc_zero(NULL, struct mg_agent);
	if (a == NULL) {
		return 1;
	}
	a->image_fd = image_fd;
	if (image != NULL) {
		/* A forked agent: its parent's image, already in memory. */
		a->image = talloc_zero(a, struct mg_image);
		if (a->image != NULL) {
			*a->image = *image;
		}
	}
	signal(SIGPIPE, SIG_IGN);
	/* Under a file size limit (ulimit -f), a program's copy or a file
	 * pushed past it fails that one write with EFBIG, said as such,
	 * rather than ending the agent and every command behind it (rsync
	 * ignores it too). Commands get SIG_DFL back (mg__child_reset_signals). */
	signal(SIGXFSZ, SIG_IGN);
	/* A hangup (sudo with use_pty, su: the terminal above us gone with
	 * the master) would end us before our link's end tells us to stop
	 * our commands, which would run on orphaned: that end says it. */
	signal(SIGHUP, SIG_IGN);
	/* Passwords for the hops below pass through us: no core file, and
	 * no other process of this user may trace us or read our memory or
	 * descriptors (/proc/PID is root's now), as ssh-agent does. What we
	 * exec is dumpable again. */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	mg_log_set_ident("mitogen-agent");
	/* Frames over a PTY (su) need it raw: no echo, no line editing. */
	if (isatty(0)) {
		struct termios t;
		if (tcgetattr(0, &t) == 0) {
			cfmakeraw(&t);
			tcsetattr(0, TCSANOW, &t);
		}
	}
	in_fd = park_fd(0);
	out_fd = park_fd(1);
	a->loop = mg_loop_new(a);
	if (in_fd < 0 || out_fd < 0 || a->loop == NULL) {
		fprintf(stderr, "mitogen-agent: startup failed: %s\n", strerror(errno));
		talloc_free(a);
		return 1;
	}
	if (write(out_fd, MG_MARK_UP, MG_MARK_LEN) != MG_MARK_LEN) {
		talloc_free(a);
		return 1;
	}
	mg__fd_nonblock(in_fd);
	mg__fd_nonblock(out_fd);
	grow_pipe(in_fd);
	grow_pipe(out_fd);
	a->link_pid = link_pid(in_fd, out_fd);
	a->parent = mg__stream_new(a, a->loop, in_fd, out_fd, "parent", MG_MSG_MAX_DEFAULT);
	if (a->parent == NULL) {
		talloc_free(a);
		return 1;
	}
	/* Our parent may hand down a command's stdio (PROTOCOL 3.1). */
	mg__stream_take_fds(a->parent, a->link_pid != 0);
	mg__stream_set_frames(a->parent, boot_msg, a);
	mg__stream_on_close(a->parent, boot_close, a);
	/* HELLO at the end of our image: serve at once, and the reply goes
	 * out right behind MITO002, a round trip sooner. */
	if (tail_hello && take_image_tail(a, image_fd) < 0) {
		talloc_free(a);
		return 1;
	}
	ret = mg_loop_run(a->loop);
	/* Hops that did not end with their connection (a stuck `docker exec`,
	 * an ssh that ignores end of input) must not outlive us. */
	mg__conn_kill_hops(true);
	mg_log_set_sink(NULL, NULL);
	talloc_free(a);
	return ret < 0 ? 1 : ret;
}

int mg__agent_run_forked(const struct mg_image *image)
{
	return agent_run(-1, image, false);
}

/* "--local FD": the self-inflating stub (cmd/agent-stub) ran us from
 * memory and hands over its own file, the compressed image we push on.
 * -1 when FD is no such file. */
static int stub_image_fd(const char *s)
{
	struct stat st;
	size_t n = strspn(s, "0123456789");
	int fd;

	if (n == 0 || n > 6 || s[n] != '\0') {
		return -1;
	}
	fd = (int)strtol(s, NULL, 10);
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || fcntl(fd, F_SETFD, FD_CLOEXEC) != 0) {
		return -1;
	}
	return fd;
}

/* Close descriptors lo to hi (close_range, or one by one where the
 * kernel is older than 5.9). */
static void close_span(unsigned lo, unsigned hi)
{
	DIR *d;
	struct dirent *e;

#ifdef SYS_close_range
	if (lo > hi || syscall(SYS_close_range, lo, hi, 0) == 0) {
		return;
	}
#endif
	d = opendir("/proc/self/fd");
	if (d == NULL) {
		return;
	}
	while ((e = readdir(d)) != NULL) {
		long fd = strtol(e->d_name, NULL, 10);
		if (e->d_name[0] >= '0' && e->d_name[0] <= '9' && fd >= (long)lo &&
		    fd <= (long)hi && fd != dirfd(d)) {
			close((int)fd);
		}
	}
	closedir(d);
}

/*
 * What the agent's spawner left open beyond our stdio and our image (a
 * shell's fd 10, passed down through a local hop): closed, so that no
 * command here inherits it, as none would through ssh or sudo, and no
 * pipe stays open through us.
 */
static void close_inherited(int keep)
{
	if (keep < 3) {
		close_span(3, ~0U);
		return;
	}
	close_span(3, (unsigned)keep - 1);
	close_span((unsigned)keep + 1, ~0U);
}

int mg_agent_main(int argc, char **argv)
{
	bool boot = argc == 4 && strcmp(argv[1], "--boot") == 0 && strcmp(argv[3], "-") == 0;
	bool local = (argc == 2 || argc == 3) && strcmp(argv[1], "--local") == 0;
	int image_fd = -1;
	bool tail_hello;

	if (local && argc == 3 && (image_fd = stub_image_fd(argv[2])) < 0) {
		local = false;
	}
	if (!boot && !local) {
		fprintf(stderr, "mitogen-agent: this program is started by mitogen on each hop; "
			"it is not meant to be run by hand\n");
		return 2;
	}
	/* Keep our image open for the next hop; a pushed image leaves
	 * nothing on disk. */
	if (boot) {
		image_fd = open(argv[2], O_RDONLY | O_CLOEXEC);
		unlink(argv[2]);
	}
	/* Our HELLO is at the end of the file the first stage wrote. */
	tail_hello = boot && image_fd >= 0;
	if (image_fd < 0) {
		image_fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	}
	close_inherited(image_fd);
	/* A gateway to hundreds of hops needs more than a soft limit of
	 * 1024; its commands still get the limit it was given. */
	mg_connect_nofile_auto();
	return agent_run(image_fd, NULL, tail_hello);
}
