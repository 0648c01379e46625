/* Inside the persistence holder: persist.c runs it, persist-ctl.c keeps
 * the table of chains held and serves "persist.ctl". */
#ifndef MG_TOOL_PERSIST_PRIVATE_H
#define MG_TOOL_PERSIST_PRIVATE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <mitogen/mitogen.h>

#define MG_PERSIST_SERVICE "persist.ctl"
#define MG_PERSIST_PW_SERVICE "persist.password"

struct mg_held;

/* A command attached to the holder. */
struct mg_client {
	struct mg_client *next;
	struct mg_holder *h;
	uint32_t id;
	struct mg_watch *watch;
};

struct mg_holder {
	struct mg_loop *loop;
	struct mg_session *s;
	struct mg_listener *l;
	char *sock, *lock;
	int lock_fd;          /* taken when exiting */
	unsigned idle_ms;
	unsigned n_clients;   /* attached now */
	struct mg_timer *idle;
	uint64_t started;     /* mg_loop_now() */
	struct mg_held *held; /* chains served, newest first */
	struct mg_client *clients; /* attached, newest first */
	bool exiting;
};

/* persist-ctl.c: keep the table (mg_session_on_serve) and serve
 * MG_PERSIST_SERVICE to privileged clients. Returns 0 or -ENOMEM. */
int mg__holder_ctl_init(struct mg_holder *h);
/* persist-pw.c: hop passwords asked on an attached command's terminal
 * (MG_PERSIST_PW_SERVICE). Returns 0 or -ENOMEM. */
int mg__holder_pw_init(struct mg_holder *h);
/* persist-pw.c: serve MG_PERSIST_PW_SERVICE in a command's attached
 * session 's'. Returns 0 or a negative error. */
int mg__persist_pw_serve(struct mg_session *s);

/* persist.c: leave now (socket and lock removed first). */
void mg__holder_exit(struct mg_holder *h);

/* Client side of MG_PERSIST_SERVICE: payload for 'op' and 'target'
 * (NULL: ""), on mem_ctx, or NULL on ENOMEM. */
struct mg_enc *mg__persist_ctl_request(TALLOC_CTX *mem_ctx, uint32_t op, const char *target);
/* Ask the holder (asynchronously, answer ignored) to stay at least
 * 'idle_ms' idle before leaving, from an attached command's session. */
void mg__persist_ctl_idle(struct mg_session *s, unsigned idle_ms);
/* The answer: u32 code (0 ok, 1 not held), str text to print.
 * Returns 0 or MG_ERR_PROTOCOL. */
int mg__persist_ctl_answer(struct mg_message *m, TALLOC_CTX *mem_ctx, uint32_t *_code,
			   char **_text);

#endif
