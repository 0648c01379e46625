/* CONNECT requests: how a context asks an agent to open the next hop. */
#ifndef MG_SVC_CONNECT_H
#define MG_SVC_CONNECT_H

#include <stdbool.h>
#include "buf.h"
#include "conn.h"
#include "mitogen/chain.h"
#include "router.h"

/* Request: u32 new id, u32 timeout ms, str name, hop. Reply: u8 0, or a
 * dead message whose text says why. */
int mg__hop_encode(struct mg_buf *b, const struct mg_hop *hop);
int mg__hop_decode(TALLOC_CTX *mem_ctx, struct mg_buf *b, struct mg_hop **_hop);
/* The whole request. Encoding borrows the strings and the hop; decoding
 * puts them on mem_ctx (some may be left there on failure). */
struct mg__connect_req {
	uint32_t id;           /* the new context */
	uint32_t timeout_ms;
	char *name;            /* the chain text up to this hop */
	struct mg_hop *hop;
	char *password;        /* NULL: none (the master always writes it) */
};

/* Returns 0, MG_ERR_TOO_BIG or -ENOMEM; the caller wipes the buffer (it
 * may hold the password). */
int mg__connect_encode(struct mg_buf *b, const struct mg__connect_req *rq);
/* Returns 0 or MG_ERR_PROTOCOL. */
int mg__connect_decode(TALLOC_CTX *mem_ctx, const uint8_t *data, size_t len,
		       struct mg__connect_req *rq);

/* What the service needs of the agent it runs in, given at init. */
struct mg_connect_host {
	const struct mg_image *(*image)(void *data); /* its own; NULL: unreadable */
	uint8_t (*log_level)(void *data);            /* from its HELLO */
	bool (*stopping)(void *data);                /* its parent is gone */
	mg_run_agent_fn run_agent;                   /* for fork hops */
	void *data;
};

struct connect_svc;
/* Registers the CONNECT handler on r; host is copied. NULL on ENOMEM. */
struct connect_svc *mg__svc_connect_init(struct mg_router *r, const struct mg_connect_host *host);

#endif
