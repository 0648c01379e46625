/*
 * Connecting one hop from this context: spawn the method's command, push
 * the agent image through the first stage, exchange HELLO, and hand the
 * stream to the router. Used by the master for first hops and by agents
 * for the hops after them.
 */
#ifndef MG_CONN_H
#define MG_CONN_H

#include <stdint.h>
#include "boot.h"
#include "mitogen/chain.h"
#include "router.h"

struct mg_conn;

/* err 0: the hop is up and routed. Otherwise errmsg says why (without the
 * hop name). Called once, never from inside mg__conn_start. */
typedef void (*mg_conn_done_fn)(struct mg_conn *c, int err, const char *errmsg, void *data);

/* The answer to a password request: the password, or NULL and why not. */
typedef void (*mg_password_cb)(void *cb_data, const char *password, const char *err);
/* Ask for the password of the hop being connected; answer through cb,
 * never from inside this call. */
typedef void (*mg_ask_password_fn)(void *ask_data, mg_password_cb cb, void *cb_data);
/* What a fork hop's child runs: serve as an agent on fds 0/1 with this
 * image as its own; returns the exit status (mg__agent_run_forked). */
typedef int (*mg_run_agent_fn)(const struct mg_image *image);

struct mg_conn_params {
	const struct mg_hop *hop;
	uint32_t id;          /* the new context's id */
	const char *name;     /* the chain text up to and including this hop */
	const struct mg_image *image;
	unsigned timeout_ms;  /* covers everything up to the HELLO reply */
	uint8_t log_level;    /* the agent's log level */
	const char *password; /* for the hop's prompt, or NULL (copied, wiped after) */
	mg_ask_password_fn ask; /* when a prompt comes and no password is known */
	void *ask_data;
	mg_run_agent_fn run_agent; /* fork hops; NULL: they fail */
	unsigned others_starting; /* hops of the same parent not up yet */
	/* An ssh hop whose only child, the sudo hop fuse_hop (context
	 * fuse_id, fuse_name), may run in its own command with the
	 * exec-only agent fuse_image (PROTOCOL 2.3.3); 0: never. */
	uint32_t fuse_id;
	unsigned fuse_timeout_ms;  /* its time limit, added to ours when fused */
	const struct mg_hop *fuse_hop;
	const char *fuse_name;
	const struct mg_image *fuse_image;
};

/* A copy of a secret that is wiped when freed. */
char *mg__secret_dup(TALLOC_CTX *mem_ctx, const char *s);
/* The destructor doing the wiping (for strings made elsewhere). */
int mg__secret_wipe_destructor(char *p);

/* Returns 0 or a negative error with *_errmsg set on mem_ctx. The conn
 * lives (reaping the process, logging its stderr) until freed. */
int mg__conn_start(TALLOC_CTX *mem_ctx, struct mg_router *r, const struct mg_conn_params *p,
		   mg_conn_done_fn done, void *data, struct mg_conn **_c, char **_errmsg);
pid_t mg__conn_pid(const struct mg_conn *c);
/* Once up: the sudo hop's context when its agent came up in this hop's
 * place (PROTOCOL 2.3.3), else 0. */
uint32_t mg__conn_fused(const struct mg_conn *c);
/* The agent's pid from its HELLO reply (0 until up): the hop process
 * itself for local and fork hops, another host's process for ssh. */
pid_t mg__conn_agent_pid(const struct mg_conn *c);
/* The owner is done with the connection (failed, or its link ended): it
 * frees itself once its process is reaped, so no zombie is left behind.
 * A hop that was up gets MG_CONN_STOP_MS to end by itself before its
 * session is killed. */
void mg__conn_release(struct mg_conn *c);
/* fn(data) once the hop process is reaped, released or not. */
void mg__conn_on_exit(struct mg_conn *c, void (*fn)(void *data), void *data);
/* A hop still booting fails now with 'why' (MG_ERR_CANCELLED), its
 * process killed; done is called as for any failure. No effect once up. */
void mg__conn_cancel(struct mg_conn *c, const char *why);
/* The agent was asked to stop: kill the hop's session unless its process
 * ended within 'ms'. */
void mg__conn_stop_after(struct mg_conn *c, unsigned ms);
/* Kill the hop's session now (a disconnect): its link ends as a lost one. */
void mg__conn_kill(struct mg_conn *c);

/* An agent asked to stop has ended by then (its own deadline is 3 s at
 * most, section 6 of PROTOCOL.md); past it its session is killed. */
#define MG_CONN_STOP_MS 5000

/* The error code for a hop's failure 'msg' (from the prompt engine and
 * the methods' tables, or a CONNECT's dead reply): MG_ERR_HOSTKEY for a
 * host key refused, MG_ERR_PASSWORD for a password refused, missing or
 * expired, else 'err'. */
int mg__conn_error_code(int err, const char *msg);

/* A hop not yet up is stopped with SIGTERM, so that its first stage
 * removes the agent file it was writing (PROTOCOL 2.1), and its session
 * is killed if it has not ended this long after. */
#define MG_CONN_TERM_MS 400

/* What an agent that was up left in its session when it ended (killed,
 * crashed) gets SIGTERM, and SIGKILL this long after, as its commands
 * would had it seen its parent go (PROTOCOL 6). */
#define MG_CONN_LEFT_MS 1000

/* Descriptors a hop takes while it starts (its socketpair, stderr pipe
 * or PTY, image, spawn pipe, pidfd), with a margin for the commands'
 * channels: the room mg__nofile_room makes first. */
#define MG_HOP_FDS_ROOM 16

/* Stop the hop processes started here and not yet reaped: kill the
 * sessions of those that are up (all true), and stop those whose agent is
 * not up yet (SIGTERM, then SIGKILL after MG_CONN_TERM_MS; with all true,
 * the loop done, waiting for them here). For an agent that goes away:
 * nobody will use or stop them after it. */
void mg__conn_kill_hops(bool all);

/* The argv this hop would run (for --dry-run); *_direct when it execs
 * the agent in place rather than pushing it through the first stage.
 * tail_len: the bytes pushed after the image (HELLO); --dry-run passes 0
 * and so shows the image's own length. */
int mg__conn_argv(TALLOC_CTX *mem_ctx, const struct mg_hop *hop, const struct mg_image *image,
		  size_t tail_len, char ***_argv, bool *_direct, char **_errmsg);
/* The same for ssh hop 'hop' running sudo hop 'sudo' in its command with
 * the exec-only agent 'lite' (PROTOCOL 2.3.3), the images read from
 * stdin and counted alone; -ENOTSUP where this hop's method cannot. */
int mg__conn_argv_fused(TALLOC_CTX *mem_ctx, const struct mg_hop *hop, const struct mg_hop *sudo,
			const struct mg_image *lite, const struct mg_image *whole, char ***_argv,
			char **_errmsg);

/* HELLO payloads (shared with the agent). */
struct mg_buf;
struct mg_router;

struct mg_hello {
	uint32_t version;
	uint32_t id;
	uint32_t *parents;
	size_t n_parents;
	uint32_t max_msg;
	uint32_t window;
	uint8_t log_level;
	char *name;
	uint8_t flags;        /* MG_HELLO_*; 0 when the sender had none */
};

/* HELLO flags (optional trailing u8, section 5.1). */
#define MG_HELLO_UNIDIRECTIONAL 0x01
int mg__hello_decode(TALLOC_CTX *mem_ctx, const uint8_t *p, size_t n, struct mg_hello *h);
/* HELLO from router r (its id and ancestors become the new context's
 * parents, its unidirectional mode the new context's) to the new context
 * 'id', into b (section 5.1). */
int mg__hello_encode(struct mg_buf *b, const struct mg_router *r, uint32_t id,
		     uint8_t log_level, const char *name);
/* The reply a new context sends: version, pid, uid, machine, nodename. */
/* link_pid: who made the socket our parent link ends in (SO_PEERCRED),
 * 0 when it is none: the parent that finds itself there sends
 * descriptors down this link (PROTOCOL 5.1). */
int mg__hello_reply_encode(struct mg_buf *b, unsigned link_pid);
/* Answer the HELLO 'req' through r with that reply (agents, workers and
 * attached processes alike). Returns 0 or a negative error. */
int mg__hello_reply(struct mg_router *r, const struct mg_msg *req, unsigned link_pid);

#endif
