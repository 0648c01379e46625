/* CONNECT requests: how a context asks an agent to open the next hop. */
#ifndef MG_SVC_CONNECT_H
#define MG_SVC_CONNECT_H

#include "buf.h"
#include "mitogen/chain.h"

/* Request: u32 new id, u32 timeout ms, str name, hop. Reply: u8 0, or a
 * dead message whose text says why. */
int mg__hop_encode(struct mg_buf *b, const struct mg_hop *hop);
int mg__hop_decode(TALLOC_CTX *mem_ctx, struct mg_buf *b, struct mg_hop **_hop);
/* A whole request: the master always writes the password, null when
 * it has none. Returns 0, MG_ERR_TOO_BIG or -ENOMEM; the caller wipes
 * the buffer (it may hold the password). */
int mg__connect_encode(struct mg_buf *b, uint32_t id, uint32_t timeout_ms, const char *name,
		       const struct mg_hop *hop, const char *password);
/* A whole request; the strings and the hop on mem_ctx (some may be left
 * there on failure). *_password is NULL when none came. Returns 0 or
 * MG_ERR_PROTOCOL. */
int mg__connect_decode(TALLOC_CTX *mem_ctx, const uint8_t *data, size_t len, uint32_t *_id,
		       uint32_t *_timeout, char **_name, struct mg_hop **_hop, char **_password);

#endif
