/*
 * The EXEC service's messages (svc-exec-msg.c, docs/PROTOCOL.md 5.3):
 * the request, the events answering it and the control messages, each
 * one struct with its encoder and decoder side by side. The master's
 * client (exec.c) and the agent's handlers both go through these.
 */
#ifndef MG_SVC_EXEC_H
#define MG_SVC_EXEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <talloc.h>
#include "buf.h"

struct mg_router;
struct mg_images;
struct exec_svc;

/* Request (to MG_H_EXEC). Encoding borrows the strings; decoding puts
 * them on mem_ctx. Optional parts come with their flag. */
struct mg__exec_req {
	uint32_t flags;          /* MG_EXEC_* */
	char **argv;             /* at least one item */
	uint32_t h_out, h_err;   /* where stdout and stderr go */
	uint32_t h_in_ack;       /* the stdin channel's ack handle, or 0 */
	char *cwd;               /* NULL: the agent's */
	char **env;              /* K=V overrides, or NULL */
	uint32_t image_id;       /* MG_EXEC_IMAGE: the program */
	uint64_t image_size;
	uint32_t machine;        /* its ELF machine, 0: no check */
	uint32_t rows, cols;     /* MG_EXEC_PTY */
	const uint8_t *modes;    /* MG_EXEC_PTY_MODES: encoded (mg__tty_modes_put) */
	size_t n_modes;
	uint32_t umask;          /* MG_EXEC_UMASK: the command's */
	uint32_t join_id;        /* MG_EXEC_JOIN: the worker's context id */
};

struct termios;
/* Terminal modes in ssh's encoding (RFC 4254, 8): the control characters
 * and the flags ssh sends, then TTY_OP_END. p holds at least
 * MG_TTY_MODES_MAX bytes; returns the length. */
#define MG_TTY_MODES_MAX 256
size_t mg__tty_modes_put(uint8_t *p, const struct termios *t);
/* Apply what such bytes set to *t; opcodes not known here are skipped. */
void mg__tty_modes_apply(struct termios *t, const uint8_t *p, size_t n);

/* Returns 0, MG_ERR_TOO_BIG or -ENOMEM. */
int mg__exec_req_encode(struct mg_buf *b, const struct mg__exec_req *rq);
/* Returns 0 or MG_ERR_PROTOCOL (-ENOMEM when out of memory). */
int mg__exec_req_decode(TALLOC_CTX *mem_ctx, const uint8_t *p, size_t n, struct mg__exec_req *rq);

/* Events, to the request's reply_to; 'type' says which fields count. */
struct mg__exec_event {
	uint8_t type;            /* MG_EXEC_EV_*; another decodes to itself */
	uint32_t pid;            /* STARTED */
	uint32_t h_stdin, h_stdout_ack, h_stderr_ack, h_ctl;
	uint32_t status;         /* EXITED: the wait status */
	uint32_t err;            /* FAILED: errno */
	char *what;              /* FAILED: the message */
	uint32_t fail_status;    /* FAILED: the status to end with, 0: none */
	uint32_t join_id;        /* JOINED: the worker's context id, routed now */
};

int mg__exec_event_encode(struct mg_buf *b, const struct mg__exec_event *ev);
/* Returns 0 or MG_ERR_PROTOCOL; 'what' on mem_ctx. */
int mg__exec_event_decode(TALLOC_CTX *mem_ctx, const uint8_t *p, size_t n,
			  struct mg__exec_event *ev);

/* Control (to STARTED's h_ctl): a signal number, or MG_EXEC_CTL_WINSIZE
 * with the new size. */
struct mg__exec_ctl {
	uint32_t op;
	uint32_t rows, cols;
};

/* Into p, at least 12 bytes; returns the length. */
size_t mg__exec_ctl_encode(uint8_t *p, const struct mg__exec_ctl *c);
/* Returns 0 or MG_ERR_PROTOCOL (op 0, or a short WINSIZE). */
int mg__exec_ctl_decode(const uint8_t *p, size_t n, struct mg__exec_ctl *c);

/* A command joining as context 'id' (svc-exec-join.c): a socketpair,
 * the link's end waiting for the command to start, and in *_env (on
 * mem_ctx) the "MITOGEN_FD=N" that names the command's end. JOINED goes
 * to master's reply_to once the worker is routed. NULL on failure. */
struct mg__join;
struct mg__join *mg__join_new(TALLOC_CTX *mem_ctx, struct mg_router *r, uint32_t id,
			      const char *name, uint32_t master, uint32_t reply_to, char **_env);
/* Let the command's end be inherited (just around the spawn), or not. */
int mg__join_child_fd(struct mg__join *jn, bool inherit);
/* The command was started (or not): close its end here; if started, send
 * HELLO and route the worker once it answers from exactly its id. */
int mg__join_spawned(struct mg__join *jn, bool started);

/* Passed output (svc-exec-hold.c): the files of fds[0..n) (n <= 2, the
 * command's passed stdout and stderr), identified now. */
struct mg__exec_hold;
struct mg_loop;
struct mg__exec_hold *mg__exec_hold_new(TALLOC_CTX *mem_ctx, struct mg_loop *loop,
					const int *fds, unsigned n);
/* Call done(data) from the loop once no process of group pgid has one
 * of those files open any more (at once when none has). */
void mg__exec_hold_wait(struct mg__exec_hold *h, pid_t pgid, void (*done)(void *data), void *data);

/* The agent's side. */
struct exec_svc *mg__svc_exec_init(struct mg_router *r, struct mg_images *images);
void mg__svc_exec_stop(struct exec_svc *svc);

#endif
