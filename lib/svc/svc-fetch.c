/* FETCH's messages: see svc-fetch.h. Trailing bytes are ignored, so a
 * later version may add optional fields. */
#include "buf.h"
#include "mitogen/error.h"
#include "svc-fetch.h"

static void put_u64(uint8_t *p, uint64_t v)
{
	mg__put_be32(p, (uint32_t)(v >> 32));
	mg__put_be32(p + 4, (uint32_t)v);
}

void mg__fetch_req_encode(uint8_t *p, const struct mg__fetch_req *rq)
{
	mg__put_be32(p, rq->id);
	mg__put_be32(p + 4, rq->h_data);
	mg__put_be32(p + 8, rq->h_meta);
	put_u64(p + 12, rq->size);
}

int mg__fetch_req_decode(const uint8_t *p, size_t n, struct mg__fetch_req *rq)
{
	struct mg_buf b;

	mg__buf_view(&b, p, n);
	if (mg__buf_get_u32(&b, &rq->id) != 0 || mg__buf_get_u32(&b, &rq->h_data) != 0 ||
	    mg__buf_get_u32(&b, &rq->h_meta) != 0 || mg__buf_get_u64(&b, &rq->size) != 0) {
		return MG_ERR_PROTOCOL;
	}
	return 0;
}

void mg__fetch_meta_encode(uint8_t *p, const struct mg__fetch_meta *m)
{
	put_u64(p, m->size);
	mg__put_be32(p + 8, m->h_ack);
}

int mg__fetch_meta_decode(const uint8_t *p, size_t n, struct mg__fetch_meta *m)
{
	struct mg_buf b;

	mg__buf_view(&b, p, n);
	if (mg__buf_get_u64(&b, &m->size) != 0 || mg__buf_get_u32(&b, &m->h_ack) != 0) {
		return MG_ERR_PROTOCOL;
	}
	return 0;
}
