/* Error codes: negative errno values or negative MG_ERR_* codes. */
#ifndef MITOGEN_ERROR_H
#define MITOGEN_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

/* Our own codes live far below any errno value. */
#define MG_ERR_BASE 0x4d470000

enum mg_err {
	MG_ERR_PROTOCOL = -(MG_ERR_BASE + 1), /* malformed or unexpected frame */
	MG_ERR_TOO_BIG = -(MG_ERR_BASE + 2),  /* message over the size limit */
	MG_ERR_CHAIN = -(MG_ERR_BASE + 3),    /* hop chain does not parse */
	MG_ERR_DEAD = -(MG_ERR_BASE + 4),     /* peer answered with a dead message */
	MG_ERR_DISCONNECTED = -(MG_ERR_BASE + 5), /* hop lost */
	MG_ERR_BOOT = -(MG_ERR_BASE + 6),     /* hop exited before the agent was up */
	MG_ERR_TIMEOUT = -(MG_ERR_BASE + 7),  /* deadline passed */
	MG_ERR_VERSION = -(MG_ERR_BASE + 8),  /* protocol version mismatch */
	MG_ERR_POLICY = -(MG_ERR_BASE + 9),   /* refused by routing policy */
	MG_ERR_NOAGENT = -(MG_ERR_BASE + 10), /* agent image not found */
	MG_ERR_CANCELLED = -(MG_ERR_BASE + 11),
	/* A receiver got a dead message: its channel is closed. */
	MG_ERR_CHANNEL = -(MG_ERR_BASE + 12),
	/* mg_select refusals, with mitogen's texts from mg_strerror. */
	MG_ERR_SELECT_OWNED = -(MG_ERR_BASE + 13),
	MG_ERR_SELECT_CYCLE = -(MG_ERR_BASE + 14),
	MG_ERR_SELECT_EMPTY = -(MG_ERR_BASE + 15),
	/* A call's reply is a dead message (mitogen's CallError): its reason
	 * says why (service.h). */
	MG_ERR_CALL = -(MG_ERR_BASE + 16),
	/* A stream (a hop's connection) failed: a read or write error, or
	 * input that ended it (mitogen's StreamError). */
	MG_ERR_STREAM = -(MG_ERR_BASE + 17),
	/* The peer ended the stream where more was expected (EofError). */
	MG_ERR_EOF = -(MG_ERR_BASE + 18),
	/* A receiver or select was closed while waited on (LatchError). */
	MG_ERR_LATCH = -(MG_ERR_BASE + 19),
	/* A hop's password is wrong, or one is required and none was given
	 * (PasswordError). */
	MG_ERR_PASSWORD = -(MG_ERR_BASE + 20),
	/* A hop's host key is unknown or changed (HostKeyError). */
	MG_ERR_HOSTKEY = -(MG_ERR_BASE + 21),
};

/* Text for an error code (negative errno or MG_ERR_*); never NULL. */
const char *mg_strerror(int err);

#ifdef __cplusplus
}
#endif

#endif
