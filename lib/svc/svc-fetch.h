/*
 * FETCH's messages (docs/PROTOCOL.md section 5.5), one struct each with
 * its encoder and decoder side by side in svc-fetch.c. The store that
 * sends and serves them is images.c.
 */
#ifndef MG_SVC_FETCH_H
#define MG_SVC_FETCH_H

#include <stddef.h>
#include <stdint.h>

/* Request (child -> parent, to MG_H_FETCH). */
struct mg__fetch_req {
	uint32_t id;      /* the program */
	uint32_t h_data;  /* the child's byte channel for its bytes */
	uint32_t h_meta;  /* where the answer goes */
	uint64_t size;    /* what the child expects; the answer has the truth */
};

#define MG_FETCH_REQ_LEN 20u

/* Into p, MG_FETCH_REQ_LEN bytes. */
void mg__fetch_req_encode(uint8_t *p, const struct mg__fetch_req *rq);
/* Returns 0 or MG_ERR_PROTOCOL (short). */
int mg__fetch_req_decode(const uint8_t *p, size_t n, struct mg__fetch_req *rq);

/* The answer on h_meta: the program's size and the ack handle of the
 * channel that will send it (or a dead message saying why not). */
struct mg__fetch_meta {
	uint64_t size;
	uint32_t h_ack;
};

#define MG_FETCH_META_LEN 12u

void mg__fetch_meta_encode(uint8_t *p, const struct mg__fetch_meta *m);
int mg__fetch_meta_decode(const uint8_t *p, size_t n, struct mg__fetch_meta *m);

#endif
