/*
 * The service table of one context (svc-call.c): the handler of MG_H_CALL
 * and the services registered on it. See mitogen/service.h.
 */
#ifndef MG_SVC_CALL_H
#define MG_SVC_CALL_H

#include "buf.h"
#include "router.h"

/* The table of 'r', made (with MG_H_CALL registered and the built-in
 * services in it) on first use. NULL on ENOMEM. */
struct mg_services *mg__services(struct mg_router *r);

/* CALL request codec: str service, bytes payload. Decode points into
 * 'data' (name not NUL-terminated). */
int mg__call_encode(struct mg_buf *b, const char *service, const void *payload, size_t len);
int mg__call_decode(const void *data, size_t len, const char **_name, size_t *_name_len,
		    const uint8_t **_payload, size_t *_len);

#endif
