/* Session internals shared with context.c, exec.c and unix.c. */
#ifndef MG_SESSION_PRIV_H
#define MG_SESSION_PRIV_H

#include <stdbool.h>
#include <sys/types.h>
#include "mitogen/session.h"
#include "mitogen/unix.h"
#include "conn.h"
#include "plan.h"
#include "router.h"

struct mg_images;
struct mg_pw_asker;
struct mg_conn;
struct mg_context_watch;
struct waiter;

/* A program registered for mitogen-exec. */
struct mg_program {
	uint32_t id;
	uint64_t size;
	uint32_t machine; /* ELF e_machine, 0 for a script */
	struct image *img; /* in the session's store; NULL for a master's */
};

/* CONNECTING, then UP; GONE once it failed to connect, was lost or was
 * shut down: out of the list of live contexts, and the next mg_connect of
 * its chain connects a new context (a connect begun before it went fails
 * with it instead). A gone context stays allocated (callers may hold it)
 * until the session is freed. */
enum ctx_state { CTX_CONNECTING, CTX_UP, CTX_GONE };

/* The fan-out window of one parent (the master, or an agent): how many
 * of its children are connecting now (or about to: places given to
 * waiters not yet resumed), and who waits for a place, first come first
 * served. Every event is O(1): a freed place goes to the first waiter
 * alone, never to all of them. */
struct slots {
	unsigned active;
	struct waiter *head, *tail;
};

struct mg_context {
	struct mg_context *next;    /* live contexts: the session's list */
	struct mg_context **prevp;
	struct mg_context *hnext;   /* in the session's table by name */
	struct mg_session *s;
	uint32_t id;
	char *name;
	enum ctx_state state;
	int err;
	char *errmsg;               /* "NAME: why" once gone */
	struct mg_conn *conn;       /* first hops: the local process */
	bool running;               /* first hops: its process not reaped yet */
	bool shutting;              /* mg_context_shutdown was called */
	bool disconnecting;         /* mg_context_disconnect cut its link */
	bool exec_only;             /* runs the exec-only agent: no hop below */
	uint32_t fuse_id;           /* first hops: the sudo hop that may run in
				     * its command (PROTOCOL 2.3.3), or 0 */
	char *fuse_name;            /* and its name (a chain prefix), on c */
	bool fuse_taken;            /* a context was given fuse_id */
	bool fused;                 /* it did: the agent at the end of our
				     * link is fuse_id's, none is ours */
	pid_t pid;                  /* the agent's, from the HELLO reply */
	struct mg_handler *reply;   /* later hops: the CONNECT reply */
	bool pw_waiting;            /* an agent's PASSWORD request for it waits */
	struct mg_timer *timer;
	struct mg_route_watch *watch;
	struct waiter *waiters;
	const struct mg_hop *hop;
	uint32_t parent_id;         /* 0 for first hops */
	struct mg_context *parent;  /* NULL for first hops */
	struct slots slots;         /* for this context's own children */
	bool holds_slot;            /* counted in its parent's window */
	struct mg_context_watch *watches; /* mg_context_on_disconnect */
	uint64_t gone_seq;          /* when it went (the session's seq) */
};

/* attach.c: mg_connect on an attached session (which asks the master). */
typedef int (*mg__remote_connect_fn)(TALLOC_CTX *mem_ctx, struct mg_session *s,
				     const struct mg_chain *chain,
				     const struct mg_connect_opts *opts, mg_connect_cb cb,
				     void *data, char **_errmsg);

/* Shared with context.c, which reaches the loop and router through it. */
struct mg_session {
	struct mg_loop *loop;
	struct mg_router *r;
	struct mg_image *image;
	struct mg_plan plan;        /* the chains given so far (plan.h) */
	char *image_err;
	uint32_t next_id;
	struct mg_context *contexts;
	struct mg_context **table;  /* contexts by name: n_table buckets */
	size_t n_table, n_contexts;
	struct mg_pw_asker *pw;      /* hop passwords: asked, cached */
	struct slots slots;         /* first hops */
	unsigned n_running;         /* first-hop processes not reaped yet */
	uint64_t seq;               /* orders connects and contexts gone */
	uint64_t shutdown_seq;      /* connects before it are cancelled */
	unsigned fanout;
	struct mg_images *images;   /* programs for mitogen-exec */
	uint32_t next_program;
	mg__remote_connect_fn remote; /* set: attached (attach.c), no hops of its own */
	mg_serve_fn serve_fn;       /* told of each chain served (attach.c) */
	struct served *serving;     /* requests being connected, newest first */
	void *serve_data;
	bool *gone;                 /* set by the destructor: a wait on the stack */
};

struct mg_router *mg__session_router(const struct mg_session *s);
struct mg_images *mg__session_images(const struct mg_session *s);
/* Its password asker (password.h). */
struct mg_pw_asker *mg__session_pw_asker(const struct mg_session *s);
uint32_t mg__session_next_program(struct mg_session *s);
/* A context id never given before (attached processes: unix.c). */
uint32_t mg__session_new_id(struct mg_session *s);
/* attach.c: a session around 'r', an attached process's router (stolen),
 * whose mg_connect is 'remote'; NULL on ENOMEM. */
struct mg_session *mg__session_new_attached(TALLOC_CTX *mem_ctx, struct mg_loop *loop,
					    struct mg_router *r, mg__remote_connect_fn remote);
/* attach.c: the context the master gave for chain text 'name', as id
 * 'id': the live one of that name and id, or a new one, up (it goes when
 * its route does); NULL on ENOMEM. */
struct mg_context *mg__session_adopt(struct mg_session *s, uint32_t id, const char *name);
/* program.c: serve "session.program" (mg_session_serve). 0 or an error. */
int mg__session_serve_program(struct mg_session *s);
/* program.c: mg_program_load on an attached session: the master loads the
 * program (our path made absolute) into its store, for the hops to
 * FETCH, until we detach. NULL with *_errmsg on mem_ctx. */
struct mg_program *mg__session_remote_program(TALLOC_CTX *mem_ctx, struct mg_session *s,
					      const char *path, char **_errmsg);
/* The live context connected for chain text 'name' and up, or NULL. */
struct mg_context *mg__session_find_up(struct mg_session *s, const char *name);
uint32_t mg__context_id(const struct mg_context *ctx);
struct mg_session *mg__context_session(const struct mg_context *ctx);
/* The previous hop's context, NULL for a first hop. */
struct mg_context *mg__context_parent(const struct mg_context *ctx);

/* context.c: ctx has just gone (ctx->errmsg says why): tell its
 * on-disconnect watchers, from the loop. */
void mg__context_gone(struct mg_context *ctx);
/* context.c: the context is freed with its session: its watchers stay
 * with their owners, and are never called. */
void mg__context_detach_watches(struct mg_context *ctx);
/* session.c: send SHUTDOWN (or cancel it while connecting), whether or
 * not ctx->shutting is set already. */
int mg__context_shutdown(struct mg_context *ctx);
/* session.c: fail a context still connecting (shutdown before it is up). */
void mg__context_cancel(struct mg_context *ctx, const char *why);

/* session.c: cancel every hop still connecting that only connects of
 * cb waits for, each with data that 'unwanted' says nobody wants now
 * (attach.c: their clients went): as their commands' own runs, gone,
 * would have stopped them. Their callbacks come as for any failure. */
void mg__session_cancel_unwanted(struct mg_session *s, mg_connect_cb cb,
				 bool (*unwanted)(void *data));

/* session-password.c: a first hop's prompt came and no password was
 * given (the conn's ask hook, ask_data the context). */
void mg__session_ask_first_hop(void *ask_data, mg_password_cb cb, void *cb_data);
/* session-password.c: the master's PASSWORD handler (data: the session). */
void mg__session_on_password_request(struct mg_router *r, struct mg_msg *m, void *data);

#endif
