/*
 * The wire protocol between contexts. docs/PROTOCOL.md is the prose
 * description. Don't forget to bump MG_PROTOCOL_VERSION if any of this
 * changes!
 */
#ifndef MG_PROTOCOL_H
#define MG_PROTOCOL_H

#include <stdint.h>

#define MG_PROTOCOL_VERSION 3

/*
 * Frame header, 28 bytes, big endian:
 *   u16 magic  u16 flags  u32 dst  u32 src  u32 auth_id  u32 handle
 *   u32 reply_to  u32 length
 * followed by 'length' bytes of payload.
 */
#define MG_MAGIC 0x4d47 /* "MG" */
#define MG_HDR_LEN 28

#define MG_F_DEAD 0x0001u /* payload is a reason; the handle's channel is closed */
#define MG_F_ZLIB 0x0002u /* payload is zlib-compressed */
#define MG_F_OPEN 0x0004u /* a CONNECT or joining EXEC: it opens a context (note_connect) */
#define MG_F_FDS 0x0008u  /* descriptors came with the frame's first byte (fds.h) */
#define MG_F_KNOWN (MG_F_DEAD | MG_F_ZLIB | MG_F_OPEN | MG_F_FDS)
/* What EXEC answers (FAILED, EOPNOTSUPP) when its descriptors did not
 * come: a link on the way could not carry them (not a same-kernel hop's
 * own socket, or upward), and passed the frame on without them. */
#define MG_FDS_REFUSED "descriptors cannot pass this link"
/* A dead answer for a first hop whose link its sudo hop's agent answers
 * (PROTOCOL 2.3.3). */
#define MG_NO_AGENT "this hop runs sudo in its own command and has no agent of its own"

/* Default and hard limits. */
#define MG_MSG_MAX_DEFAULT (4u * 1024 * 1024)
#define MG_CHUNK 1048576u          /* read size for byte channels */
#define MG_TAIL_CHUNK (512u << 10) /* splice size for byte channels */
#define MG_PIPE_SIZE (1 << 20)     /* pipe size asked for command stdio */
#define MG_SOCK_BUF (1 << 20)      /* socket buffers between hops */
#define MG_WINDOW_DEFAULT (1u << 21) /* bytes in flight per channel */

/* Boot markers written on the hop's stdout, 8 bytes each. */
#define MG_MARK_STAGE1 "MITO000\n" /* first stage wants the agent image */
#define MG_MARK_UP "MITO002\n"     /* agent is up; frames follow */
#define MG_MARK_FUSE_NO "MITO003\n" /* sudo did not run the agent: the whole one, please */
#define MG_MARK_LEN 8

/* Fixed handles. Groups by hundreds. Dynamic handles start at 1000. */
enum mg_handle {
	/* 100: control */
	MG_H_HELLO = 100,     /* parent->child: config; reply: child info */
	MG_H_ADD_ROUTE = 101, /* child->parent: u32 id, str name */
	MG_H_DEL_ROUTE = 102, /* child->parent: u32 id */
	MG_H_LOG = 103,       /* agent->master: u8 level, str text */
	MG_H_SHUTDOWN = 104,  /* parent->child: empty */
	MG_H_PASSWORD = 105,  /* agent->master: u32 id of the hop being connected; reply: the password */
	/* 200: hops */
	MG_H_CONNECT = 200,   /* see svc-connect.c */
	/* 300: services */
	MG_H_EXEC = 300,      /* see svc-exec.c */
	MG_H_FETCH = 301,     /* child->parent: u32 image id, u32 h_data, u32 h_meta; see images.c */
	MG_H_FETCH_DROP = 302, /* parent->child: u32 image id, withdrawn; see svc-fetch.c */
	/* 400: calls */
	MG_H_CALL = 400,      /* str service, bytes payload; see svc-call.c */
	MG_H_DYNAMIC = 1000,
};

/* In HELLO's log level and LOG's level: show these lines whatever the
 * master's own level is (a hop with debug=1). */
#define MG_LOG_SHOW 0x80

/* Exec service event types, first u8 of messages to the exec reply handle. */
enum mg_exec_event {
	MG_EXEC_EV_STARTED = 1, /* u32 pid, h_stdin, h_stdout_ack, h_stderr_ack, h_ctl */
	MG_EXEC_EV_EXITED = 2,  /* u32 wait status */
	MG_EXEC_EV_FAILED = 3,  /* i32 errno, str message [, u32 status] */
	MG_EXEC_EV_JOINED = 4,  /* u32 join_id: the command joined (MG_EXEC_JOIN) */
};

#define MG_EXEC_SHELL 0x1u    /* run argv[0] with the login shell's -c */
#define MG_EXEC_NO_STDIN 0x2u /* /dev/null as stdin */
#define MG_EXEC_IMAGE 0x4u    /* run a pushed program: see svc-exec.c */
#define MG_EXEC_PTY 0x8u      /* on a new PTY: u32 rows, u32 cols follow */
#define MG_EXEC_SH 0x10u      /* with MG_EXEC_SHELL: /bin/sh, not the login shell */
#define MG_EXEC_JOIN 0x20u    /* the command joins as context u32 join_id, the
                               * request's last four bytes (MITOGEN_FD) */
/* The frame's descriptors are the command's own stdin, stdout, stderr,
 * in that order, for those of the three flags set (PROTOCOL 5.3). */
#define MG_EXEC_FD_IN 0x40u
#define MG_EXEC_FD_OUT 0x80u
#define MG_EXEC_FD_ERR 0x200u
#define MG_EXEC_CTL_WINSIZE 0x100u /* control op: u32 rows, u32 cols */
/* With MG_EXEC_PTY: after rows and cols, bytes (u32 length, then them):
 * the terminal's modes as ssh's pty-req encodes them (RFC 4254, 8). */
#define MG_EXEC_PTY_MODES 0x400u
/* As a child of the master would start (a holder's local hops, PROTOCOL
 * 5.3): u32 umask after the modes; env is the whole environment. */
#define MG_EXEC_UMASK 0x800u
#define MG_EXEC_ENV_ALL 0x1000u

#endif
