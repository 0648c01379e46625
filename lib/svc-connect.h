/* CONNECT requests: how a context asks an agent to open the next hop. */
#ifndef MG_SVC_CONNECT_H
#define MG_SVC_CONNECT_H

#include "buf.h"
#include "mitogen/chain.h"

/* Request: u32 new id, u32 timeout ms, str name, hop. Reply: u8 0, or a
 * dead message whose text says why. */
int mg__hop_encode(struct mg_buf *b, const struct mg_hop *hop);
int mg__hop_decode(TALLOC_CTX *mem_ctx, struct mg_buf *b, struct mg_hop **_hop);

#endif
