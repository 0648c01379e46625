/* HELLO and its reply (PROTOCOL section 2.2): their codec (conn.h). */
#include <errno.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>
#include "buf.h"
#include "conn.h"
#include "mitogen/error.h"
#include "protocol.h"
#include "router.h"

int mg__hello_encode(struct mg_buf *b, const struct mg_router *r, uint32_t id,
		     uint8_t log_level, const char *name)
{
	size_t n;
	const uint32_t *parents = mg__router_parents(r, &n);
	int ret;

	if ((ret = mg__buf_put_u32(b, MG_PROTOCOL_VERSION)) != 0 ||
	    (ret = mg__buf_put_u32(b, id)) != 0 ||
	    (ret = mg__buf_put_u32(b, (uint32_t)(n + 1))) != 0 ||
	    (ret = mg__buf_put_u32(b, mg__router_id(r))) != 0) {
		return ret;
	}
	for (size_t i = 0; i < n; i++) {
		if ((ret = mg__buf_put_u32(b, parents[i])) != 0) {
			return ret;
		}
	}
	if ((ret = mg__buf_put_u32(b, mg__router_max_msg(r))) != 0 ||
	    (ret = mg__buf_put_u32(b, MG_WINDOW_DEFAULT)) != 0 ||
	    (ret = mg__buf_put_u8(b, log_level)) != 0 ||
	    (ret = mg__buf_put_str(b, name)) != 0) {
		return ret;
	}
	return mg__buf_put_u8(b, mg__router_unidirectional(r) ? MG_HELLO_UNIDIRECTIONAL : 0);
}

int mg__hello_reply_encode(struct mg_buf *b, unsigned link_pid)
{
	struct utsname u;
	int ret;

	if (uname(&u) != 0) {
		memset(&u, 0, sizeof(u));
	}
	if ((ret = mg__buf_put_u32(b, MG_PROTOCOL_VERSION)) != 0 ||
	    (ret = mg__buf_put_u32(b, (uint32_t)getpid())) != 0 ||
	    (ret = mg__buf_put_u32(b, (uint32_t)getuid())) != 0 ||
	    (ret = mg__buf_put_str(b, u.machine)) != 0 ||
	    (ret = mg__buf_put_str(b, u.nodename)) != 0) {
		return ret;
	}
	return mg__buf_put_u32(b, link_pid);
}

int mg__hello_reply(struct mg_router *r, const struct mg_msg *req, unsigned link_pid)
{
	struct mg_buf *b = mg__buf_new(NULL, 4096);
	int ret;

	if (b == NULL) {
		return -ENOMEM;
	}
	if ((ret = mg__hello_reply_encode(b, link_pid)) == 0) {
		ret = mg__router_reply(r, req, b->data, b->len);
	}
	talloc_free(b);
	return ret;
}

int mg__hello_decode(TALLOC_CTX *mem_ctx, const uint8_t *p, size_t n, struct mg_hello *h)
{
	struct mg_buf b;
	uint32_t np;
	int ret;

	memset(h, 0, sizeof(*h));
	mg__buf_view(&b, p, n);
	if ((ret = mg__buf_get_u32(&b, &h->version)) != 0 ||
	    (ret = mg__buf_get_u32(&b, &h->id)) != 0 ||
	    (ret = mg__buf_get_u32(&b, &np)) != 0) {
		return ret;
	}
	if (np == 0 || np > 1024) {
		return MG_ERR_PROTOCOL;
	}
	h->parents = talloc_array(mem_ctx, uint32_t, np);
	if (h->parents == NULL) {
		return -ENOMEM;
	}
	h->n_parents = np;
	for (uint32_t i = 0; i < np; i++) {
		if ((ret = mg__buf_get_u32(&b, &h->parents[i])) != 0) {
			return ret;
		}
	}
	if ((ret = mg__buf_get_u32(&b, &h->max_msg)) != 0 ||
	    (ret = mg__buf_get_u32(&b, &h->window)) != 0 ||
	    (ret = mg__buf_get_u8(&b, &h->log_level)) != 0 ||
	    (ret = mg__buf_get_str(&b, mem_ctx, &h->name)) != 0) {
		return ret;
	}
	/* Optional: a parent from before the field sends none. */
	if (mg__buf_left(&b) > 0) {
		return mg__buf_get_u8(&b, &h->flags);
	}
	return 0;
}
