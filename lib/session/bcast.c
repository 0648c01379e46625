/* Broadcasting stdin to many targets: see mitogen/bcast.h and bcast.h. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include "bcast.h"
#include "buf.h"
#include "channel.h"
#include "mitogen/log.h"
#include "protocol.h"
#include "session.h"

struct mg_bcast_target {
	struct mg_bcast_target *next;
	struct mg_bcast *b;
	uint32_t dst;
	uint32_t handle;
	struct mg_handler *ack;
	size_t credit;
	bool started;
	bool gone;
	struct mg_bcast_target **user;	/* the exec's pointer to it */
};

struct mg_bcast {
	struct mg_router *r;
	int fd;
	int old_flags;
	struct mg_io *io;
	uint32_t window;
	struct mg_bcast_target *targets;
	uint8_t *buf;
	bool eof;
};

static void update(struct mg_bcast *b);
static void finish(struct mg_bcast *b);

/* Freed with the broadcast: its exec may outlive it. */
static int target_destructor(struct mg_bcast_target *t)
{
	if (t->user != NULL) {
		*t->user = NULL;
	}
	return 0;
}

static int bcast_destructor(struct mg_bcast *b)
{
	/* Freed before the end of its input: the commands get their end
	 * now, not never. */
	if (!b->eof) {
		finish(b);
	}
	TALLOC_FREE(b->io); /* before its fd is closed (mg_io_new) */
	if (b->fd >= 0) {
		if (b->old_flags >= 0 && (b->old_flags & O_NONBLOCK) == 0) {
			fcntl(b->fd, F_SETFL, b->old_flags);
		}
		close(b->fd);
	}
	return 0;
}

static void finish(struct mg_bcast *b)
{
	b->eof = true;
	TALLOC_FREE(b->io);
	for (struct mg_bcast_target *t = b->targets; t != NULL; t = t->next) {
		if (t->started && !t->gone) {
			mg__router_send(b->r, t->dst, t->handle, 0, 0, NULL, 0);
		}
	}
}

static void on_readable(struct mg_io *io, unsigned events, void *data)
{
	struct mg_bcast *b = talloc_get_type_abort(data, struct mg_bcast);
	size_t want = MG_CHUNK;
	ssize_t n;

	for (struct mg_bcast_target *t = b->targets; t != NULL; t = t->next) {
		if (!t->gone && t->credit < want) {
			want = t->credit;
		}
	}
	if (want == 0) {
		update(b);
		return;
	}
	n = read(b->fd, b->buf, want);
	if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
		return;
	}
	if (n <= 0) {
		finish(b);
		return;
	}
	for (struct mg_bcast_target *t = b->targets; t != NULL; t = t->next) {
		if (t->gone) {
			continue;
		}
		if (!t->started || mg__router_send(b->r, t->dst, t->handle, mg__handler_handle(t->ack),
						   0, b->buf, (size_t)n) != 0) {
			t->gone = true;
			continue;
		}
		t->credit -= (size_t)n;
	}
	update(b);
}

/* Read only when every target has started (or is gone) and has room. */
static void update(struct mg_bcast *b)
{
	bool ready = true, any = false;

	if (b->eof || b->io == NULL) {
		return;
	}
	for (struct mg_bcast_target *t = b->targets; t != NULL; t = t->next) {
		if (t->gone) {
			continue;
		}
		any = true;
		if (!t->started || t->credit == 0) {
			ready = false;
		}
	}
	if (!any && b->targets != NULL) {
		/* Nobody left to read for: stop, and let the loop end. */
		finish(b);
		return;
	}
	mg_io_set(b->io, ready && any ? MG_IO_READ : 0);
}

static void on_ack(struct mg_router *r, struct mg_msg *m, void *data)
{
	struct mg_bcast_target *t = talloc_get_type_abort(data, struct mg_bcast_target);
	struct mg_buf v;
	uint32_t n;

	if ((m->flags & MG_F_DEAD) != 0) {
		/* That target's reader went away; the others go on. */
		t->gone = true;
		update(t->b);
		return;
	}
	mg__buf_view(&v, m->data, m->len);
	if (mg__buf_get_u32(&v, &n) == 0) {
		t->credit += n;
		update(t->b);
	}
}

struct mg_bcast *mg_bcast_new(TALLOC_CTX *mem_ctx, struct mg_session *s, int fd)
{
	struct mg_bcast *b = talloc_zero(mem_ctx, struct mg_bcast);

	if (b == NULL) {
		return NULL;
	}
	b->r = mg__session_router(s);
	b->fd = fd;
	/* Each target's credit: what its exec channel's window allows. */
	b->window = MG_WINDOW_DEFAULT;
	b->old_flags = mg__fd_nonblock(fd);
	talloc_set_destructor(b, bcast_destructor);
	b->buf = talloc_size(b, MG_CHUNK);
	b->io = mg_io_new(b, mg__router_loop(b->r), fd, 0, on_readable, b);
	if (b->buf == NULL || b->io == NULL) {
		/* The caller keeps its fd on failure, as it was. */
		if (b->old_flags >= 0 && (b->old_flags & O_NONBLOCK) == 0) {
			fcntl(fd, F_SETFL, b->old_flags);
		}
		b->fd = -1;
		talloc_free(b);
		return NULL;
	}
	return b;
}

struct mg_bcast_target *mg_bcast_add(struct mg_bcast *b)
{
	struct mg_bcast_target *t = talloc_zero(b, struct mg_bcast_target);

	if (t == NULL) {
		return NULL;
	}
	t->b = b;
	t->credit = b->window;
	talloc_set_destructor(t, target_destructor);
	t->next = b->targets;
	b->targets = t;
	update(b);
	return t;
}

int mg__bcast_bind(struct mg_bcast_target *t, uint32_t dst, struct mg_bcast_target **user)
{
	t->dst = dst;
	t->user = user;
	t->ack = mg__router_add_handler(t, t->b->r, 0, MG_POL_RESPONDENT, dst, true, on_ack, t);
	return t->ack != NULL ? 0 : -ENOMEM;
}

uint32_t mg__bcast_ack_handle(const struct mg_bcast_target *t)
{
	return mg__handler_handle(t->ack);
}

void mg__bcast_start(struct mg_bcast_target *t, uint32_t handle)
{
	t->handle = handle;
	t->started = true;
	if (t->b->eof) {
		/* Input already ended: this one gets EOF straight away. */
		mg__router_send(t->b->r, t->dst, handle, 0, 0, NULL, 0);
	}
	update(t->b);
}

void mg_bcast_drop(struct mg_bcast_target *t)
{
	t->gone = true;
	update(t->b);
}

void mg__bcast_drop(struct mg_bcast_target *t)
{
	t->user = NULL;
	mg_bcast_drop(t);
}
