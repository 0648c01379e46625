/*
 * Joining a session from another process (mitogen's mitogen.unix).
 *
 * The master listens on a UNIX socket; a process of the same user
 * connects to it and becomes a child context of the master, with an id
 * the master gives it. The attached process is a leaf: it announces no
 * context below it, and like every child it can only answer what its
 * parent asks (it can never command the master), unless the listener
 * makes it privileged (mg_listener_set_privileged). The wire exchange is
 * in docs/PROTOCOL.md, section 5.7.
 *
 * Sockets live in a directory only their owner can enter:
 * $XDG_RUNTIME_DIR/mitogen/, or /tmp/mitogen-UID/ when XDG_RUNTIME_DIR is
 * unset. Every connection's peer uid is checked (SO_PEERCRED) on both
 * sides: another user is refused, and told why.
 */
#ifndef MITOGEN_UNIX_H
#define MITOGEN_UNIX_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <talloc.h>
#include "mitogen/loop.h"
#include "mitogen/router.h"

#ifdef __cplusplus
extern "C" {
#endif

struct mg_listener;
struct mg_attach;
struct mg_session;
struct mg_context;

/*
 * The directory sockets go in by default, as a new string on mem_ctx:
 * $XDG_RUNTIME_DIR/mitogen, else /tmp/mitogen-UID (also when
 * XDG_RUNTIME_DIR is relative, or another user than us or root owns it or
 * may write in it, unless it is sticky). It is created (mode
 * 0700) when missing; an existing one must be a real directory (not a
 * symlink) owned by this user, with no access for group or others.
 * Returns 0, -EPERM (wrong owner or mode), -ENOTDIR, -ENOMEM or another
 * negative errno, with *_errmsg (may be NULL) saying which path and why.
 */
int mg_unix_dir(TALLOC_CTX *mem_ctx, char **_dir, char **_errmsg);

/*
 * Listen for processes joining session 's' (the master, which hands out
 * context ids). 'path' NULL makes a fresh socket in mg_unix_dir(); an
 * explicit path's directory must pass the same checks (it is not
 * created). A stale socket left at the path (nobody accepts on it) is
 * replaced; a live one gives -EADDRINUSE, anything else there -EEXIST.
 * The socket is mode 0600. Freeing the listener closes it, unlinks the
 * socket and drops connections still in their handshake; contexts
 * already attached stay until their streams end. Returns 0 or a negative
 * errno, with *_errmsg (may be NULL) set on mem_ctx on failure.
 */
int mg_listener_new(TALLOC_CTX *mem_ctx, struct mg_session *s, const char *path,
		    struct mg_listener **_l, char **_errmsg);
/* The socket's path. */
const char *mg_listener_path(const struct mg_listener *l);

/*
 * Make the processes that attach from now on privileged (on true) or
 * leaves (false, the default): a privileged client acts with the master's
 * own authority, as mitogen's mitogen.unix clients do. Every frame from
 * it has its auth_id set to the master's id on arrival, so it may call
 * the master's services and command every context of the session (EXEC,
 * CALL, CONNECT, SHUTDOWN), and with unidirectional routing its traffic
 * still passes to and from the contexts it talks to. The contexts it
 * commands answer it directly; when it goes, each of them it sent
 * something to hears so (DEL_ROUTE), and stops the commands it started
 * for it. Only for a socket no other user's process can reach (the peer
 * uid is checked anyway).
 */
void mg_listener_set_privileged(struct mg_listener *l, bool on);

/* A process attached as context 'id' (its pid and uid, from the kernel):
 * it is routed now, messages may be sent to it. */
typedef void (*mg_listener_fn)(struct mg_listener *l, uint32_t id, pid_t pid, void *data);
/* Be told of each attached context (fn NULL: stop). */
void mg_listener_on_attach(struct mg_listener *l, mg_listener_fn fn, void *data);

/*
 * Join the session listening at 'path' from this process: connect,
 * receive HELLO (an id and the master's ids), answer it, and get a router
 * for this new context on 'loop', a child of mem_ctx. The master is its
 * parent (mg_router_parent_id() is 0). cb gets the router, or NULL with
 * err and errmsg: MG_ERR_DEAD when the listener refused (errmsg is its
 * reason, e.g. "refused: peer uid 65534 is not the owner uid 0"),
 * -EACCES for a listener of another user, MG_ERR_TIMEOUT after
 * 'timeout_ms' (0: 10 s), MG_ERR_VERSION, MG_ERR_PROTOCOL or a negative
 * errno (-ENOENT, -ECONNREFUSED: nobody listens). cb is called once,
 * never from inside this call; freeing *_a first cancels it. Returns 0
 * or a negative errno (cb will not be called then).
 */
typedef void (*mg_attach_cb)(struct mg_router *r, int err, const char *errmsg, void *data);
int mg_attach_start(TALLOC_CTX *mem_ctx, struct mg_loop *loop, const char *path,
		    unsigned timeout_ms, mg_attach_cb cb, void *data, struct mg_attach **_a);

/*
 * The same, running the loop until done (a short program's top-to-bottom
 * form). Returns 0 with *_r set, or the error above with *_errmsg (may be
 * NULL) set on mem_ctx; -EDEADLK from inside a loop callback.
 */
int mg_attach(TALLOC_CTX *mem_ctx, struct mg_loop *loop, const char *path, unsigned timeout_ms,
	      struct mg_router **_r, char **_errmsg);

/*
 * Serve "session.connect" in the master's session 's', for privileged
 * clients (mg_listener_set_privileged) attached with mg_session_attach:
 * they connect chains through this session, which asks each hop's
 * password with its own password function, once for the chain's life,
 * and shares every hop already up. Call payload: str chain, u32
 * timeout_ms (per hop, 0: 30 s); answer: u32 error (0, or the negative
 * code mg_connect gave), u32 context id, str the context's chain text or
 * the error message. Returns 0, -EEXIST (served already), -EINVAL (an
 * attached session) or -ENOMEM.
 */
int mg_session_serve(struct mg_session *s);

/* Be told of each chain "session.connect" connected for a client:
 * fn(ctx, data) once it is up and answered, ctx its end (a context
 * already up comes again). fn NULL: stop. */
typedef void (*mg_serve_fn)(struct mg_context *ctx, void *data);
void mg_session_on_serve(struct mg_session *s, mg_serve_fn fn, void *data);

/* The clients whose "session.connect" is being connected now for a chain
 * with a hop of canonical text 'hop_text' (mg_password_request_hop):
 * their ids, the newest request first, at most 'max' of them in 'ids'.
 * Returns how many: whom to ask first for that hop's password. */
size_t mg_session_serving(const struct mg_session *s, const char *hop_text, uint32_t *ids,
			  size_t max);

/* Close every attached client's link now, dropping what waits to be sent
 * to it: a master about to end its session, so that each client learns
 * it at once ("connection to PATH lost"), before the end of its commands
 * that the teardown causes can reach it as their result. The commands
 * the clients started are stopped as when each client goes. Returns how
 * many links were closed. */
size_t mg_session_drop_clients(struct mg_session *s);

/*
 * Attach to the session listening at 'path' (mg_attach) and make a
 * session on mem_ctx around this process's new context: its mg_connect
 * asks the master ("session.connect", so the listener must be privileged
 * and its session served), and gives contexts of the master's session
 * that mg_exec_start, mg_context_call and the rest use directly, as the
 * master would. Such a context has no parent context; it goes when its
 * link does, or when the master does. mg_program_load has the master
 * load the program ("session.program": the path made absolute, opened
 * by the master) until we detach. Not available here: hop passwords
 * (the master asks them), opts.join of mg_exec_start
 * (which then returns NULL), and mg_session_shutdown, which returns 0 at
 * once: the hops are the master's and stay. Freeing the session detaches
 * (the commands it started are stopped). Runs the loop until attached;
 * returns as mg_attach.
 */
int mg_session_attach(TALLOC_CTX *mem_ctx, struct mg_loop *loop, const char *path,
		      unsigned timeout_ms, struct mg_session **_s, char **_errmsg);
/* Whether 's' was made by mg_session_attach. */
bool mg_session_attached(const struct mg_session *s);

#ifdef __cplusplus
}
#endif

#endif
