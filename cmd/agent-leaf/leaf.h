/*
 * The leaf agent (mitogen-agent-leaf, docs/PROTOCOL.md 2.3.4): a first
 * hop that only runs commands, small enough that a cold command's image
 * leaves in TCP's first flight. It speaks the wire protocol of
 * lib/core (frames, HELLO, EXEC and its byte channels) with no library
 * of ours and no heap: what a run of mitogen-run needs of its target,
 * nothing more. Shared by leaf.c (the link, frames, the loop) and
 * job.c (the command).
 */
#ifndef MG_LEAF_H
#define MG_LEAF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "protocol.h"

/* A frame as it arrived: its header's fields, its payload in the
 * receive buffer (valid until the handler returns). */
struct leaf_msg {
	uint16_t flags;
	uint32_t dst, src, auth_id, handle, reply_to;
	uint8_t *data;
	size_t len;
};

/* A bounded reader over a payload; 'bad' once anything was short. */
struct leaf_dec {
	uint8_t *p;
	size_t n;
	bool bad;
};

uint32_t leaf_be32(const uint8_t *p);
void leaf_put32(uint8_t *p, uint32_t v);
uint32_t leaf_u32(struct leaf_dec *d);
/* A str, NUL-terminated in place (moved over its own length); NULL for
 * the null string, or bad. */
char *leaf_str(struct leaf_dec *d, bool *is_null);
/* A strv of at most 'max' items, none null, into the vector room, which
 * leaf_vec_reset empties for the next payload; NULL when bad. */
void leaf_vec_reset(void);
char **leaf_strv(struct leaf_dec *d, size_t max);
/* 'n' slots of that room, or NULL when it has no more. */
char **leaf_vec_take(size_t n);

/* Queue a frame to the parent. Payload in up to two pieces. */
void leaf_send(uint32_t dst, uint32_t handle, uint32_t reply_to, uint16_t flags,
	       const void *p, size_t n, const void *p2, size_t n2);
/* The dead answer to 'm', unless it is dead itself or wants none. */
void leaf_reply_dead(const struct leaf_msg *m, const char *why);
/* Room at the end of the send queue for a DATA frame's payload of up to
 * 'max' bytes, or NULL while the queue is full: leaf_send_data then
 * sends 'n' of them as one frame. */
uint8_t *leaf_data_room(size_t max);
void leaf_send_data(uint32_t dst, uint32_t handle, uint32_t reply_to, size_t n);
/* Whether 'm' carries our parent's authority (ours, or an ancestor's). */
bool leaf_parent_authority(const struct leaf_msg *m);
/* A fresh handle of ours (from MG_H_DYNAMIC). */
uint32_t leaf_handle(void);
/* snprintf for %s and %u (an unsigned long: cast the argument). */
void leaf_format(char *buf, size_t cap, const char *fmt, ...);
/* Milliseconds of CLOCK_MONOTONIC. */
uint64_t leaf_now_ms(void);

/* spawn.c: starting the command. */
/* The shell sshd would run a command line with; a -C directory with
 * "~" and "~/DIR" expanded to the home sshd enters. */
const char *leaf_login_shell(void);
const char *leaf_cwd(const char *cwd);
/* The request's K=V items on top of our environment (*_env NULL: ours);
 * 0 or -ENOMEM. */
int leaf_make_env(char **over, char ***_env);
/* Fork and exec in a group of its own, io as its stdio (-1: /dev/null):
 * 0 with *_pid, or the negative errno the exec failed with. Our PATH
 * (not envp's) is searched when 'path' is NULL. */
int leaf_spawn(const char *path, char **argv, char **envp, const char *cwd, const int io[3],
	       pid_t *_pid);
/* The same run by /bin/sh, for a file that is no program (ENOEXEC). */
int leaf_spawn_sh(char **argv, char **envp, const char *cwd, const int io[3], pid_t *_pid);

/* job.c: the one command a leaf runs at a time. */
struct pollfd;
void job_exec(const struct leaf_msg *m);
/* A frame for one of the job's handles: true when it was one. */
bool job_frame(const struct leaf_msg *m);
/* The requester 'id' is gone (DEL_ROUTE from the parent). */
void job_requester_lost(uint32_t id);
/* The parent is gone or said SHUTDOWN: stop the command for good. */
void job_stop(bool link_gone);
bool job_running(void);
/* The leaf exits: what is left of a group not done with gets SIGKILL. */
void job_exit(void);
/* Poll set: add the job's descriptors; after poll, serve them. */
size_t job_poll_add(struct pollfd *fds, size_t n);
void job_poll_serve(const struct pollfd *fds, size_t n);
/* SIGCHLD came: reap. */
void job_reap(void);
/* Timers: the next deadline in ms (UINT64_MAX: none), and run it. */
uint64_t job_next_timer(void);
void job_timers(uint64_t now);

#endif
