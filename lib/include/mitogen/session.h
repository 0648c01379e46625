/*
 * The master side: a session owns the router of context 0 and every hop it
 * connects. Hops are shared: chains with a common prefix reuse the
 * contexts already connected for it.
 */
#ifndef MITOGEN_SESSION_H
#define MITOGEN_SESSION_H

#include <stdbool.h>
#include <stdint.h>
#include <talloc.h>
#include "mitogen/chain.h"
#include "mitogen/loop.h"

#ifdef __cplusplus
extern "C" {
#endif

struct mg_session;
struct mg_context;

/* A session on 'loop', or NULL on ENOMEM. */
struct mg_session *mg_session_new(TALLOC_CTX *mem_ctx, struct mg_loop *loop);
struct mg_loop *mg_session_loop(const struct mg_session *s);
/* At most 'fanout' hops connecting at once under any one parent (the
 * master, or each gateway's agent); 0 means the default, 64. */
void mg_session_set_fanout(struct mg_session *s, unsigned fanout);

/*
 * Shut down every first hop (mg_context_shutdown), and with them every
 * context of the session; connects still under way fail (their callback
 * gets an error, MG_ERR_CANCELLED "the session was shut down" for those
 * that had not reached a hop yet). timeout_ms 0 returns at once; otherwise the
 * loop runs until every first hop is gone and its process reaped, or
 * timeout_ms pass (< 0: no bound; agents end within seconds, or are
 * killed). Returns 0, MG_ERR_TIMEOUT, MG_ERR_CANCELLED (the loop was
 * stopped, or a callback freed the session meanwhile), or -EDEADLK when waiting from inside a loop callback (where
 * 0 is the only timeout allowed). The session stays usable: a later
 * mg_connect connects anew. On an attached session (mitogen/unix.h) it
 * returns 0 at once: the hops are the master's.
 */
int mg_session_shutdown(struct mg_session *s, int timeout_ms);

/* The context with id 'id' that is connecting or up in this session, or
 * NULL (an unknown id, or one gone: its id is never used again). */
struct mg_context *mg_session_context(struct mg_session *s, uint32_t id);

/*
 * Passwords for hops that prompt when no password_env= or password_file=
 * gives one. By default the session asks the person at the controlling
 * terminal (/dev/tty, echo off), without blocking the loop. A program may
 * answer instead: fn(req, data) is called, from the loop, with one request
 * at a time; the program answers it then or later, exactly once, with
 * mg_password_reply or mg_password_fail (until the answer the next request
 * waits). Requests for the same hop text share one answer, and answers are
 * cached by hop text for the session's life. A request stays valid until
 * answered or the session is freed; one nobody waits for any more (its hop
 * failed meanwhile) may still be answered, for the cache. fn NULL: back to
 * the terminal.
 */
struct mg_password_request;
typedef void (*mg_password_fn)(struct mg_password_request *req, void *data);
void mg_session_set_password_fn(struct mg_session *s, mg_password_fn fn, void *data);
/* The hop's canonical text, e.g. "sudo:root". */
const char *mg_password_request_hop(const struct mg_password_request *req);
/* The prompt the terminal would show, e.g. "[sudo:root on ssh:web1]
 * password: " (escaped: safe to print). */
const char *mg_password_request_prompt(const struct mg_password_request *req);
/*
 * Ask 'prompt' on this process's controlling terminal, echo off, as the
 * session's own asker does, without blocking the loop: the prompt is
 * written now, and fn(data, line, err) called once from the loop with
 * the line typed (a secret, wiped after the call: copy it to keep it),
 * or line NULL and err saying why. Freeing *_p (on mem_ctx) first
 * cancels and restores the terminal. For a program that relays another
 * process's password requests (the persistence holder's commands).
 * Returns 0, -ENXIO with *_errmsg "there is no terminal to ask on: ..."
 * on mem_ctx, or -ENOMEM.
 */
struct mg_tty_prompt;
typedef void (*mg_tty_answer_fn)(void *data, const char *line, const char *err);
int mg_password_ask(TALLOC_CTX *mem_ctx, struct mg_loop *loop, const char *prompt,
		    mg_tty_answer_fn fn, void *data, struct mg_tty_prompt **_p, char **_errmsg);
/* Answer with 'password' (copied, and the copies wiped when done with);
 * req is freed. Returns 0, or -EINVAL for a NULL password. */
int mg_password_reply(struct mg_password_request *req, const char *password);
/* No password: the hop fails with "METHOD password is required (REASON)";
 * req is freed. */
void mg_password_fail(struct mg_password_request *req, const char *reason);

/* err 0: ctx is the end of the chain. Otherwise errmsg names the failing
 * hop ("local/local: hop exited with status 1 before the agent was up").
 * It holds text from far ends as it came: escape it (mg_log_escape) to
 * print it. Called once, never from inside mg_connect. */
typedef void (*mg_connect_cb)(struct mg_context *ctx, int err, const char *errmsg, void *data);

struct mg_connect_opts {
	unsigned timeout_ms; /* per hop, including login and become; 0 = 30 s */
	/* Optional: called (err 0) once every hop of the chain has been
	 * started while the last is not up yet, before cb, which still
	 * comes when it is up or failed. What is sent to ctx from then on
	 * waits and goes out as soon as the hop can take it, a first hop's
	 * inside its boot image: a request costs no round trip of its own.
	 * Should the chain fail, such requests are answered with its error
	 * as a dead message. Not called when the chain is up already, nor
	 * on an attached session. */
	mg_connect_cb on_start;
	/* The chain's last context will only run commands and pushed
	 * programs (mg_exec, mg_program): when it is a first hop this
	 * library starts itself (not a fork), and no chain given to the
	 * session before the loop starts it goes through it or ends there
	 * without this flag, it gets the exec-only agent
	 * (mitogen-agent-lite, about half the bytes to push and inflate),
	 * which answers a CONNECT, a call or a file request with an error.
	 * A chain given later that goes through it then fails with
	 * MG_ERR_POLICY. Ignored on an attached session. */
	bool exec_only;
	/* With exec_only: the chain's last context will only be sent plain
	 * commands, one at a time (mg_exec without a terminal, a worker or
	 * passed descriptors; no mg_program). Where it would get the
	 * exec-only agent and its image is pushed (not a local hop run in
	 * place), it gets the leaf agent (mitogen-agent-leaf, a tenth of
	 * the whole agent's bytes: docs/PROTOCOL.md 2.3.4), which answers
	 * any other request with an error. */
	bool leaf;
};

/* Connect every hop of 'chain'. Returns 0 (cb will be called) or a
 * negative error with *_errmsg set on mem_ctx (cb will not be called).
 * From this call on, no process the library starts inherits a variable
 * a hop names with password_env=: give every chain before running the
 * loop, so that even a local agent for another chain lacks it. */
int mg_connect(TALLOC_CTX *mem_ctx, struct mg_session *s, const struct mg_chain *chain,
	       const struct mg_connect_opts *opts, mg_connect_cb cb, void *data, char **_errmsg);

/* The chain text that leads to 'ctx'. */
const char *mg_context_name(const struct mg_context *ctx);

/*
 * One line per process a connect would start, "HOP: ARGV": mostly one
 * per hop; an ssh hop that would run its sudo hop in its own command
 * gives one line for the two, "ssh:H/sudo: ssh ... sudo -n ...". opts
 * (NULL: none) are those a run would give mg_connect for each chain:
 * exec_only decides which first hops get the exec-only agent and where
 * sudo runs, as for chains given to one session before its loop runs.
 */
int mg_dry_run(TALLOC_CTX *mem_ctx, const struct mg_chain *chain,
	       const struct mg_connect_opts *opts, char ***_lines, char **_errmsg);

/* The same for n chains given to one run, each line given to 'line'
 * (which returns 0, or an error that stops the run and is returned); the
 * agent image is read once, so 100,000 chains cost no more each than
 * one. */
int mg_dry_run_list(TALLOC_CTX *mem_ctx, const struct mg_chain *chains, size_t n,
		    const struct mg_connect_opts *opts, int (*line)(void *data, const char *text),
		    void *data, char **_errmsg);

#ifdef __cplusplus
}
#endif

#endif
