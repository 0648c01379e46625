/*
 * The service table (mitogen/service.h, docs/PROTOCOL.md section 5.6):
 * one handler on MG_H_CALL per context, dispatching by service name, and
 * the calls that reach it from this or another context. The CALL codec
 * lives here, next to both.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "mitogen/error.h"
#include "mitogen/log.h"
#include "mitogen/service.h"
#include "protocol.h"
#include "receiver-private.h"
#include "svc-call.h"

#define MALFORMED "malformed CALL request"

struct service {
	struct service *next;
	char name[MG_SERVICE_NAME_MAX + 1];
	size_t name_len;
	unsigned flags;
	mg_service_fn fn;
	void *data;
};

struct mg_services {
	struct mg_router *r;
	struct mg_handler *h;
	struct service *list;
};

struct mg_call {
	struct mg_receiver *rx;
	struct mg_timer *timer;
	mg_call_fn fn;
	void *data;
	bool *gone;	/* set by the destructor: a caller on the stack */
};

/* --- codec --- */

int mg__call_encode(struct mg_buf *b, const char *service, const void *payload, size_t len)
{
	int ret;

	if ((ret = mg__buf_put_str(b, service)) != 0 ||
	    (ret = mg__buf_put_bytes(b, payload, len)) != 0) {
		return ret;
	}
	return 0;
}

int mg__call_decode(const void *data, size_t len, const char **_name, size_t *_name_len,
		    const uint8_t **_payload, size_t *_len)
{
	struct mg_buf b;
	const uint8_t *name;
	int ret;

	mg__buf_view(&b, data, len);
	/* A str is a u32 count and bytes, like bytes; a null one (count
	 * 0xffffffff) is too short for any buffer and refused. */
	if ((ret = mg__buf_get_bytes(&b, &name, _name_len)) != 0 ||
	    (ret = mg__buf_get_bytes(&b, _payload, _len)) != 0) {
		return ret;
	}
	if (mg__buf_left(&b) != 0) {
		return MG_ERR_PROTOCOL;
	}
	*_name = (const char *)name;
	return 0;
}

static bool name_ok(const char *s, size_t n)
{
	if (n == 0 || n > MG_SERVICE_NAME_MAX) {
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-')) {
			return false;
		}
	}
	return true;
}

/* --- the table --- */

static struct service *find(const struct mg_services *t, const char *name, size_t n)
{
	for (struct service *s = t->list; s != NULL; s = s->next) {
		if (s->name_len == n && memcmp(s->name, name, n) == 0) {
			return s;
		}
	}
	return NULL;
}

static bool allowed(const struct mg_router *r, const struct service *s, const struct mg_msg *m)
{
	if (mg__router_parent_authority(r, m)) {
		return true;
	}
	return (s->flags & MG_SERVICE_CHILDREN) != 0 && mg__router_from_child(r, m);
}

static void on_call(struct mg_router *r, struct mg_msg *m, void *data)
{
	struct mg_services *t = data;
	const char *name;
	const uint8_t *payload;
	size_t name_len, len;
	struct service *s;
	struct mg_message *req;
	TALLOC_CTX *holder;
	char why[MG_SERVICE_NAME_MAX + 128], name_copy[MG_SERVICE_NAME_MAX + 1];
	int ret;

	if ((m->flags & MG_F_DEAD) != 0) {
		return;
	}
	if (mg__call_decode(m->data, m->len, &name, &name_len, &payload, &len) != 0 ||
	    !name_ok(name, name_len)) {
		mg_debug("%s from %u", MALFORMED, m->src);
		mg__router_reply_dead(r, m, MALFORMED);
		return;
	}
	s = find(t, name, name_len);
	if (s == NULL) {
		snprintf(why, sizeof(why), "no such service '%.*s'", (int)name_len, name);
		mg__router_reply_dead(r, m, why);
		return;
	}
	if (!allowed(r, s, m)) {
		mg_debug("call of '%s' from %u (auth_id %u): refused by policy", s->name, m->src,
			 m->auth_id);
		mg__router_reply_dead(r, m, "refused by policy");
		return;
	}
	holder = talloc_new(NULL);
	req = holder != NULL ? mg__message_new(holder, r, m) : NULL;
	if (req == NULL) {
		talloc_free(holder);
		mg__router_reply_dead(r, m, "out of memory");
		return;
	}
	/* The handler may unregister itself: keep the name (formatted
	 * only if it fails, the rare case). */
	memcpy(name_copy, s->name, s->name_len + 1);
	payload = (const uint8_t *)mg_message_data(req, NULL) + (payload - m->data);
	ret = s->fn(req, payload, len, s->data);
	if (ret != 0) {
		snprintf(why, sizeof(why), "service '%s' failed: %s", name_copy, mg_strerror(ret));
		mg__router_reply_dead(r, m, why);
	}
	talloc_free(holder);
}

static int echo(struct mg_message *req, const void *payload, size_t len, void *data)
{
	return mg_message_reply(req, payload, len);
}

static int services_destructor(struct mg_services *t)
{
	mg__router_set_services(t->r, NULL);
	return 0;
}

static int add(struct mg_services *t, const char *name, unsigned flags, mg_service_fn fn,
	       void *data)
{
	size_t n = name != NULL ? strlen(name) : 0;
	struct service *s;

	if (fn == NULL || !name_ok(name, n) || (flags & ~MG_SERVICE_CHILDREN) != 0) {
		return -EINVAL;
	}
	if (find(t, name, n) != NULL) {
		return -EEXIST;
	}
	s = talloc_zero(t, struct service);
	if (s == NULL) {
		return -ENOMEM;
	}
	memcpy(s->name, name, n);
	s->name_len = n;
	s->flags = flags;
	s->fn = fn;
	s->data = data;
	s->next = t->list;
	t->list = s;
	return 0;
}

struct mg_services *mg__services(struct mg_router *r)
{
	struct mg_services *t = mg__router_services(r);

	if (t != NULL) {
		return t;
	}
	t = talloc_zero(r, struct mg_services);
	if (t == NULL) {
		return NULL;
	}
	t->r = r;
	/* Any frame past the arrival checks: each service has its policy. */
	t->h = mg__router_add_handler(t, r, MG_H_CALL, MG_POL_ANY, 0, true, on_call, t);
	if (t->h == NULL || add(t, "echo", 0, echo, NULL) != 0) {
		talloc_free(t);
		return NULL;
	}
	mg__router_set_services(r, t);
	talloc_set_destructor(t, services_destructor);
	return t;
}

int mg_service_register(struct mg_router *r, const char *name, unsigned flags,
			mg_service_fn fn, void *data)
{
	struct mg_services *t;

	if (r == NULL) {
		return -EINVAL;
	}
	if ((t = mg__services(r)) == NULL) {
		return -ENOMEM;
	}
	return add(t, name, flags, fn, data);
}

int mg_service_unregister(struct mg_router *r, const char *name)
{
	struct mg_services *t = r != NULL ? mg__router_services(r) : NULL;

	if (t == NULL || name == NULL) {
		return -ENOENT;
	}
	for (struct service **p = &t->list; *p != NULL; p = &(*p)->next) {
		if (strcmp((*p)->name, name) == 0) {
			struct service *s = *p;
			*p = s->next;
			talloc_free(s);
			return 0;
		}
	}
	return -ENOENT;
}

/* --- calls --- */

/* A receiver for the reply, and the request sent with it. */
static int start(TALLOC_CTX *mem_ctx, struct mg_router *r, uint32_t dst, const char *service,
		 const void *payload, size_t len, struct mg_receiver **_rx)
{
	struct mg_buf *b;
	struct mg_receiver *rx;
	int ret;

	*_rx = NULL;
	if (r == NULL || service == NULL || !name_ok(service, strlen(service)) ||
	    (payload == NULL && len > 0)) {
		return -EINVAL;
	}
	/* Room for the name and the count: a payload past the router's
	 * maximum is MG_ERR_TOO_BIG from the send. */
	b = mg__buf_new(NULL, (size_t)mg__router_max_msg(r) + MG_SERVICE_NAME_MAX + 8);
	if (b == NULL) {
		return -ENOMEM;
	}
	if ((ret = mg__call_encode(b, service, payload, len)) != 0) {
		talloc_free(b);
		return ret;
	}
	ret = mg_receiver_new(mem_ctx, r, 0, dst, MG_RECV_ONESHOT, &rx);
	if (ret == 0) {
		ret = mg__router_send(r, dst, MG_H_CALL, mg_receiver_handle(rx), 0, b->data, b->len);
		if (ret != 0) {
			talloc_free(rx);
			rx = NULL;
		}
	}
	talloc_free(b);
	*_rx = rx;
	return ret;
}

/* A blocking call's receiver lives under the router, in this: a
 * callback that frees the router (its session) while the call waits
 * frees the receiver too, and says so. */
struct holder {
	bool *gone;
};

static int holder_destructor(struct holder *h)
{
	*h->gone = true;
	return 0;
}

int mg_router_call(TALLOC_CTX *mem_ctx, struct mg_router *r, uint32_t dst, const char *service,
		   const void *payload, size_t len, int timeout_ms, struct mg_message **_reply)
{
	struct holder *h = NULL;
	struct mg_receiver *rx;
	bool gone = false;
	int ret;

	*_reply = NULL;
	if (r != NULL && mg_loop_running(mg__router_loop(r))) {
		return -EDEADLK;
	}
	if (r != NULL && (h = talloc_zero(r, struct holder)) == NULL) {
		return -ENOMEM;
	}
	if (h != NULL) {
		h->gone = &gone;
		talloc_set_destructor(h, holder_destructor);
	}
	if ((ret = start(h, r, dst, service, payload, len, &rx)) != 0) {
		talloc_free(h);
		return ret;
	}
	/* MG_ERR_CANCELLED if the router went meanwhile. */
	ret = mg_receiver_get(mem_ctx, rx, timeout_ms, _reply);
	if (!gone) {
		talloc_free(h);
	}
	return ret == MG_ERR_CHANNEL ? MG_ERR_CALL : ret;
}

static int call_destructor(struct mg_call *c)
{
	if (c->gone != NULL) {
		*c->gone = true;
	}
	return 0;
}

/* The end of an asynchronous call: fn, then the call goes. */
static void finish(struct mg_call *c, struct mg_message *reply, int err)
{
	bool gone = false;

	c->gone = &gone;
	TALLOC_FREE(c->timer);
	c->fn(reply, err, c->data);
	if (!gone) {
		talloc_free(c);
	}
}

static void on_reply(struct mg_receiver *rx, struct mg_message *msg, void *data)
{
	struct mg_call *c = talloc_get_type_abort(data, struct mg_call);

	finish(c, msg, mg_message_is_dead(msg) ? MG_ERR_CALL : 0);
}

static void on_timeout(struct mg_timer *t, void *data)
{
	struct mg_call *c = talloc_get_type_abort(data, struct mg_call);

	/* A late reply meets no handle, and is dropped. */
	TALLOC_FREE(c->rx);
	finish(c, NULL, MG_ERR_TIMEOUT);
}

int mg_router_call_async(TALLOC_CTX *mem_ctx, struct mg_router *r, uint32_t dst,
			 const char *service, const void *payload, size_t len, int timeout_ms,
			 mg_call_fn fn, void *data, struct mg_call **_call)
{
	struct mg_call *c;
	int ret;

	if (_call != NULL) {
		*_call = NULL;
	}
	if (fn == NULL || r == NULL) {
		return -EINVAL;
	}
	c = talloc_zero(mem_ctx, struct mg_call);
	if (c == NULL) {
		return -ENOMEM;
	}
	c->fn = fn;
	c->data = data;
	talloc_set_destructor(c, call_destructor);
	if ((ret = start(c, r, dst, service, payload, len, &c->rx)) != 0 ||
	    (ret = mg_receiver_on_message(c->rx, on_reply, c)) != 0) {
		talloc_free(c);
		return ret;
	}
	if (timeout_ms >= 0) {
		c->timer = mg_timer_new(c, mg__router_loop(r), (uint64_t)timeout_ms, on_timeout, c);
		if (c->timer == NULL) {
			talloc_free(c);
			return -ENOMEM;
		}
	}
	if (_call != NULL) {
		*_call = c;
	}
	return 0;
}
