/*
 * A hop being connected (conn.h), shared by conn.c, which starts and
 * watches its process, and conn-boot.c, which boots the agent through it:
 * the first stage's argv, the image and its tail, the markers, HELLO and
 * sudo in the ssh command (PROTOCOL 2.3.3).
 */
#ifndef MG_CONN_PRIVATE_H
#define MG_CONN_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "boot.h"
#include "conn.h"
#include "mitogen/loop.h"
#include "method.h"
#include "router.h"
#include "stream.h"

/* Only the master runs sudo in an ssh hop's command (PROTOCOL 2.3.3): the
 * static agent leaves that code out, 1.2 KB it would push to every hop. */
#ifdef MG_STATIC_AGENT
#define FUSING 0
#else
#define FUSING 1
#endif

struct mg_conn {
	struct mg_router *r;
	struct mg_loop *loop;
	const struct mg_image *image;
	const struct mg_method *method;
	const struct mg_hop *hop;    /* the caller's, kept until done */
	uint32_t id;
	char *name;
	pid_t pid;
	pid_t agent_sid;   /* the agent's own session on this host, or 0 (conn.c agent_session) */
	bool agent_here;   /* agent_pid is a process of this host, under pid */
	uint64_t left_at;  /* mg__conn_kill_hops: SIGTERM to what a dead agent left */
	int status;
	bool exited;
	bool up;
	bool failed;
	bool boot_eof;
	bool released;     /* the owner is done with it: go once reaped */
	bool direct;       /* the agent was exec'd in place: no image to push */
	struct mg_timer *grace;
	struct mg_stream *stream;   /* until handed to the router */
	struct mg_child *child;
	struct mg_timer *timer;
	struct mg_handler *hello;
	uint8_t *hello_frame;
	size_t hello_frame_len;
	uint8_t *hello_tail;         /* HELLO, frames held for the hop, length, magic (boot.h) */
	size_t hello_tail_len;
	bool hello_sent;             /* in the image's tail, or after MITO002 */
	bool image_in_argv;          /* boot.h, mg__boot_argv_inline */
	const uint8_t *plain;        /* the agent unpacked, sent before the image */
	size_t plain_len;
	uint8_t *early;              /* frames held for it, on stdin at once */
	size_t early_len;
	int err_fd;
	struct mg_io *err_io;
	bool err_sock;               /* err_fd is a socketpair (method->err_socket) */
	struct mg_quickack *qa;      /* until the hop's command prints (quickack.h) */
	bool login_done;             /* qa was, or can no longer be, of use */
	char *tail;                 /* last lines of output, for errors */
	char errline[512];
	size_t errline_len;
	uint8_t log_level;
	enum mg_spawn_mode mode;
	char *proc_name;             /* what the agent calls itself in ps */
	struct mg_prompt_engine *pe; /* NULL: the method never prompts */
	char *hostkey_id;            /* the line naming a key asked about, or NULL */
	char **prompt_env;           /* struct mg_prompts' env, or NULL */
	char *password;              /* wiped when freed */
	bool asking;
	mg_ask_password_fn ask;
	void *ask_data;
	mg_run_agent_fn run_agent;   /* the fork child's */
	void *prepared;              /* method state for pre_exec */
	char **argv;                 /* kept while prepare_async runs */
	mg_conn_done_fn done;
	void *data;
	uint32_t agent_pid;          /* from the HELLO reply */
	struct mg_timer *stop_timer; /* mg__conn_stop_after, or SIGKILL after SIGTERM */
	uint64_t term_at;            /* when a hop not up got SIGTERM (ms), or 0 */
	void (*exit_fn)(void *data);
	void *exit_data;
	struct mg_conn *live_next;   /* in live_hops while not reaped */
	struct mg_conn **live_prevp;
	pid_t owner;                 /* the process that started the hop */
	/* sudo in the command (PROTOCOL 2.3.3): context fuse_id, whose
	 * CONNECT waits for us, may come up here in our place. */
	uint32_t fuse_id;
	const struct mg_hop *fuse_hop;
	const struct mg_image *fuse_image; /* the exec-only agent */
	char *fuse_name;
	bool fused;                  /* the command runs sudo; until MITO003 */
	struct mg_handler *fuse_hello; /* fuse_id's HELLO reply */
	unsigned fuse_timeout_ms;    /* fuse_id's time limit */
	unsigned timeout_ms;         /* ours */
	uint8_t *fuse_tail;          /* fuse_id's HELLO and frames, on stdin */
	size_t fuse_tail_len;
	bool spare;                  /* the image may ride in the command */
	/* conn.c's HELLO reply handler and time limit, for the handlers and
	 * timers conn-boot.c makes (it calls nothing of conn.c). */
	mg_handler_fn on_hello;
	mg_timer_cb on_timeout;
};

/* conn-boot.c. */
int mg__conn_agent_naming(TALLOC_CTX *mem_ctx, const struct mg_hop *hop, uint32_t id, char **_name,
			  uint8_t *_level, char **_errmsg);
bool mg__conn_can_fuse(const struct mg_method *m);
int mg__conn_build_argv(TALLOC_CTX *mem_ctx, const struct mg_hop *hop, const struct mg_image *image,
			size_t lead, const uint8_t *tail, size_t tail_len, char ***_argv,
			bool *_direct, bool *_in_argv, char **_errmsg);
int mg__conn_hello_frame(struct mg_conn *c, TALLOC_CTX *mem_ctx, uint32_t id, uint8_t log_level,
			 const char *proc_name, struct mg_handler **_h, uint8_t **_frame,
			 size_t *_len);
int mg__conn_prepare_hello(struct mg_conn *c);
int mg__conn_take_held(struct mg_conn *c);
void mg__conn_take_plain(struct mg_conn *c);
void mg__conn_take_unpacked(struct mg_conn *c, const struct mg_image **img);
void mg__conn_send_image(struct mg_conn *c);

/* conn-reap.c: what a hop process PID leaves behind, in its session and
 * in SID2, its agent's own session (0: none). */
/* SIGKILL to PID's group, both sessions and PID itself unless REAPED. */
void mg__hop_kill(pid_t pid, pid_t sid2, bool reaped);
/* SIG to what is left in both sessions; with SIG 0, how many. */
int mg__hop_signal_left(pid_t pid, pid_t sid2, int sig);
/* Wait here (the loop is going) until PID has ended and both sessions
 * are empty, or DEADLINE (mg_now); then mg__hop_kill. */
void mg__hop_kill_by(pid_t pid, pid_t sid2, uint64_t deadline, bool reaped);
/* mg__hop_kill at DEADLINE through LOOP, which reaps PID unless REAPED;
 * or, when the loop is freed first, mg__hop_kill_by then. */
void mg__hop_orphan(struct mg_loop *loop, pid_t pid, pid_t sid2, uint64_t deadline, bool reaped);
/* What an agent that ended (killed, crashed) left, stopped as it would
 * have on its parent's loss: SIGTERM and SIGCONT, then, through LOOP
 * (NULL: the caller waits), SIGKILL MG_CONN_LEFT_MS later. False when
 * nothing was left. */
bool mg__hop_stop_left(struct mg_loop *loop, pid_t pid, pid_t sid2, bool reaped);
/*
 * The session of the agent AGENT (HELLO's pid) when it is a process of
 * this host under the hop HOP (its ppid chain leads there: not another
 * host's or namespace's number) and in a session of its own: sudo with
 * use_pty runs its command, the agent, in a new session on a new pty,
 * out of reach of the hop's session. 0 else; *_here says whether AGENT
 * is under HOP. While one of its members lives, the number cannot be
 * reused.
 */
pid_t mg__hop_agent_session(pid_t hop, pid_t agent, bool *_here);

#endif
