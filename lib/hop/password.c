/* Hop passwords: see password.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>
#include "conn.h"
#include "mitogen/error.h"
#include "mitogen/session.h"
#include "password.h"

#define PASSWORD_MAX 1024

/* Read up to a newline or EOF; the buffer is wiped by the caller. */
static ssize_t read_line(int fd, char *buf, size_t cap)
{
	size_t n = 0;

	while (n + 1 < cap) {
		ssize_t r = read(fd, buf + n, 1);
		if (r < 0 && errno == EINTR) {
			continue;
		}
		if (r <= 0 || buf[n] == '\n') {
			break;
		}
		n++;
	}
	if (n > 0 && buf[n - 1] == '\r') {
		n--;
	}
	buf[n] = '\0';
	return (ssize_t)n;
}

int mg__password_from_options(TALLOC_CTX *mem_ctx, const struct mg_hop *hop, char **_pw,
			      char **_errmsg)
{
	const char *env = mg_hop_opt(hop, "password_env");
	const char *file = mg_hop_opt(hop, "password_file");
	char buf[PASSWORD_MAX];
	int fd, err;

	*_pw = NULL;
	if (env != NULL) {
		const char *v = getenv(env);
		if (v == NULL) {
			*_errmsg = talloc_asprintf(mem_ctx, "password_env: %s is not set", env);
			return -ENOENT;
		}
		*_pw = mg__secret_dup(mem_ctx, v);
		return *_pw == NULL ? -ENOMEM : 0;
	}
	if (file == NULL) {
		return 0;
	}
	fd = open(file, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		err = -errno;
		*_errmsg = talloc_asprintf(mem_ctx, "password_file: %s: %s", file, mg_strerror(err));
		return err;
	}
	read_line(fd, buf, sizeof(buf));
	close(fd);
	*_pw = mg__secret_dup(mem_ctx, buf);
	explicit_bzero(buf, sizeof(buf));
	return *_pw == NULL ? -ENOMEM : 0;
}

/* --- the terminal prompt, read from the loop --- */

struct mg_tty_prompt {
	struct mg_loop *loop;
	int fd;
	struct termios old;
	bool restore;
	struct mg_io *io;
	char buf[PASSWORD_MAX];
	size_t n;
	mg_tty_answer_fn fn;
	void *data;
};

/* Echo back as it was, the newline the user's Enter did not echo. */
static void prompt_close(struct mg_tty_prompt *p)
{
	if (p->fd < 0) {
		return;
	}
	TALLOC_FREE(p->io);
	if (p->restore) {
		tcsetattr(p->fd, TCSANOW, &p->old);
	}
	if (write(p->fd, "\n", 1) < 0) {
		/* Cosmetic only. */
	}
	close(p->fd);
	p->fd = -1;
}

static int prompt_destructor(struct mg_tty_prompt *p)
{
	prompt_close(p);
	explicit_bzero(p->buf, sizeof(p->buf));
	return 0;
}

static void prompt_finish(struct mg_tty_prompt *p, bool got_line, const char *err)
{
	mg_tty_answer_fn fn = p->fn;
	void *data = p->data;
	char *line = NULL;

	prompt_close(p);
	if (got_line) {
		if (p->n > 0 && p->buf[p->n - 1] == '\r') {
			p->n--;
		}
		p->buf[p->n] = '\0';
		line = mg__secret_dup(NULL, p->buf);
		if (line == NULL) {
			err = "out of memory";
		}
	}
	explicit_bzero(p->buf, sizeof(p->buf));
	/* fn may free p. */
	fn(data, line, err);
	talloc_free(line);
}

static void on_tty_readable(struct mg_io *io, unsigned events, void *data)
{
	struct mg_tty_prompt *p = talloc_get_type_abort(data, struct mg_tty_prompt);

	for (;;) {
		ssize_t r = read(p->fd, p->buf + p->n, sizeof(p->buf) - 1 - p->n);
		char *nl;

		if (r < 0 && errno == EINTR) {
			continue;
		}
		if (r < 0 && errno == EAGAIN) {
			return;
		}
		if (r < 0) {
			prompt_finish(p, false, "cannot read the terminal");
			return;
		}
		if (r == 0) {
			/* End of input: what was typed, or nothing at all. */
			prompt_finish(p, p->n > 0, "no password was given");
			return;
		}
		nl = memchr(p->buf + p->n, '\n', (size_t)r);
		p->n += (size_t)r;
		if (nl != NULL || p->n == sizeof(p->buf) - 1) {
			/* Past the newline is the user's next typing: dropped. */
			if (nl != NULL) {
				p->n = (size_t)(nl - p->buf);
			}
			prompt_finish(p, true, NULL);
			return;
		}
	}
}

int mg__tty_prompt_start(TALLOC_CTX *mem_ctx, struct mg_loop *loop, const char *path,
			 const char *label, mg_tty_answer_fn fn, void *data,
			 struct mg_tty_prompt **_p, char **_errmsg)
{
	struct mg_tty_prompt *p = talloc_zero(mem_ctx, struct mg_tty_prompt);
	struct termios quiet;

	if (p == NULL) {
		return -ENOMEM;
	}
	p->fd = open(path, O_RDWR | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (p->fd < 0) {
		talloc_free(p);
		*_errmsg = talloc_strdup(mem_ctx, "there is no terminal to ask on: "
					 "use password_env= or password_file=");
		return -ENXIO;
	}
	p->loop = loop;
	p->fn = fn;
	p->data = data;
	talloc_set_destructor(p, prompt_destructor);
	if (tcgetattr(p->fd, &p->old) == 0) {
		quiet = p->old;
		quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHOE | ECHOK | ECHONL);
		quiet.c_lflag |= ICANON;
		p->restore = tcsetattr(p->fd, TCSANOW, &quiet) == 0;
	}
	p->io = mg_io_new(p, loop, p->fd, MG_IO_READ, on_tty_readable, p);
	if (p->io == NULL) {
		talloc_free(p);
		return -ENOMEM;
	}
	if (write(p->fd, label, strlen(label)) < 0) {
		/* The read fails too and says so. */
	}
	*_p = p;
	return 0;
}

/* --- a session's asker: one prompt at a time, answers cached --- */

struct pw_cached {
	struct pw_cached *next;
	char *hop_text;
	char *password;             /* wiped when freed */
};

struct pw_ask;

/* One party waiting for a hop's password (a first hop's connection, or
 * an agent's PASSWORD request); freeing it (with its owner) cancels. */
struct pw_consumer {
	struct pw_consumer *next, **prevp;
	struct mg_pw_asker *asker;
	struct pw_ask *ask;         /* NULL once answered */
	mg_password_cb cb;
	void *cb_data;
	char *password;
	char *err;
};

/* The password of one hop text, asked once for every party waiting. */
struct pw_ask {
	struct pw_ask *next;
	struct mg_pw_asker *asker;
	char *hop_text;
	char *label;
	struct pw_consumer *consumers;
	bool shown;                  /* on the terminal, or with the program */
	struct mg_tty_prompt *tty;
	struct mg_password_request *req;
};

struct mg_password_request {
	struct mg_pw_asker *asker;
	struct pw_ask *ask;          /* NULL once nobody waits for it */
	char *hop_text;
	char *prompt;
};

struct mg_pw_asker {
	struct mg_loop *loop;
	const char *tty_path;
	struct pw_cached *cache;
	struct pw_ask *head, *tail;
	mg_password_fn fn;
	void *fn_data;
	bool pump_pending;
	bool dying;
};

static void pump_later(struct mg_pw_asker *a);

static const char *cached(const struct mg_pw_asker *a, const char *hop_text)
{
	for (const struct pw_cached *pc = a->cache; pc != NULL; pc = pc->next) {
		if (strcmp(pc->hop_text, hop_text) == 0) {
			return pc->password;
		}
	}
	return NULL;
}

static void cache_put(struct mg_pw_asker *a, const char *hop_text, const char *pw)
{
	struct pw_cached *pc;

	if (cached(a, hop_text) != NULL || (pc = talloc_zero(a, struct pw_cached)) == NULL) {
		return;
	}
	pc->hop_text = talloc_strdup(pc, hop_text);
	pc->password = mg__secret_dup(pc, pw);
	if (pc->hop_text == NULL || pc->password == NULL) {
		talloc_free(pc);
		return;
	}
	pc->next = a->cache;
	a->cache = pc;
}

static void consumer_unlink(struct pw_consumer *c)
{
	if (c->prevp != NULL) {
		*c->prevp = c->next;
		if (c->next != NULL) {
			c->next->prevp = c->prevp;
		}
	}
	c->prevp = NULL;
	c->next = NULL;
	c->ask = NULL;
}

static void consumer_deliver(void *data)
{
	struct pw_consumer *c = talloc_get_type_abort(data, struct pw_consumer);
	mg_password_cb cb = c->cb;
	void *cb_data = c->cb_data;
	char *pw = talloc_steal(NULL, c->password);
	char *err = talloc_steal(NULL, c->err);

	/* The callee may free c's owner: c goes first. */
	talloc_free(c);
	cb(cb_data, pw, pw == NULL ? (err != NULL ? err : "no password was given") : NULL);
	talloc_free(pw);
	talloc_free(err);
}

/* From the loop, never inside mg__pw_ask or the caller's reply. */
static void consumer_answer(struct pw_consumer *c, const char *pw, const char *err)
{
	consumer_unlink(c);
	c->password = pw != NULL ? mg__secret_dup(c, pw) : NULL;
	c->err = err != NULL ? talloc_strdup(c, err) : NULL;
	mg_loop_defer(c->asker->loop, c, consumer_deliver, c);
}

static void ask_unqueue(struct pw_ask *ask)
{
	struct mg_pw_asker *a = ask->asker;
	struct pw_ask **pp = &a->head, *prev = NULL;

	while (*pp != NULL && *pp != ask) {
		prev = *pp;
		pp = &(*pp)->next;
	}
	if (*pp == ask) {
		*pp = ask->next;
		if (a->tail == ask) {
			a->tail = prev;
		}
	}
	if (ask->req != NULL) {
		ask->req->ask = NULL;
	}
	/* Frees the prompt, restoring the terminal. */
	talloc_free(ask);
	pump_later(a);
}

static void ask_complete(struct pw_ask *ask, const char *pw, const char *err)
{
	if (pw != NULL) {
		cache_put(ask->asker, ask->hop_text, pw);
	}
	while (ask->consumers != NULL) {
		consumer_answer(ask->consumers, pw, err);
	}
	ask_unqueue(ask);
}

static int consumer_destructor(struct pw_consumer *c)
{
	struct pw_ask *ask = c->ask;

	consumer_unlink(c);
	if (ask != NULL && ask->consumers == NULL && !ask->asker->dying) {
		/* Nobody waits for this one any more. */
		ask_unqueue(ask);
	}
	return 0;
}

static void on_tty_answer(void *data, const char *line, const char *err)
{
	struct pw_ask *ask = talloc_get_type_abort(data, struct pw_ask);

	ask->tty = NULL;
	ask_complete(ask, line, err);
}

static void ask_show(struct pw_ask *ask)
{
	struct mg_pw_asker *a = ask->asker;
	struct mg_password_request *req;
	char *err = NULL;

	ask->shown = true;
	if (a->fn == NULL) {
		if (mg__tty_prompt_start(ask, a->loop, a->tty_path, ask->label, on_tty_answer, ask,
					 &ask->tty, &err) != 0) {
			ask_complete(ask, NULL, err != NULL ? err : "out of memory");
		}
		return;
	}
	req = talloc_zero(a, struct mg_password_request);
	if (req == NULL) {
		ask_complete(ask, NULL, "out of memory");
		return;
	}
	req->asker = a;
	req->ask = ask;
	req->hop_text = talloc_strdup(req, ask->hop_text);
	req->prompt = talloc_strdup(req, ask->label);
	ask->req = req;
	a->fn(req, a->fn_data);
}

/* The first request not shown yet: answered from the cache, or shown. */
static void pump(void *data)
{
	struct mg_pw_asker *a = talloc_get_type_abort(data, struct mg_pw_asker);
	struct pw_ask *ask = a->head;
	const char *pw;

	a->pump_pending = false;
	if (ask == NULL || ask->shown) {
		return;
	}
	pw = cached(a, ask->hop_text);
	if (pw != NULL) {
		ask_complete(ask, pw, NULL);
		return;
	}
	ask_show(ask);
}

static void pump_later(struct mg_pw_asker *a)
{
	if (a->pump_pending || a->dying) {
		return;
	}
	a->pump_pending = mg_loop_defer(a->loop, a, pump, a) == 0;
}

struct mg_pw_asker *mg__pw_asker_new(TALLOC_CTX *mem_ctx, struct mg_loop *loop)
{
	struct mg_pw_asker *a = talloc_zero(mem_ctx, struct mg_pw_asker);

	if (a != NULL) {
		a->loop = loop;
		a->tty_path = "/dev/tty";
	}
	return a;
}

void mg__pw_asker_set_tty(struct mg_pw_asker *a, const char *path)
{
	a->tty_path = path;
}

void mg__pw_asker_set_fn(struct mg_pw_asker *a, mg_password_fn fn, void *data)
{
	a->fn = fn;
	a->fn_data = data;
}

void mg__pw_asker_stop(struct mg_pw_asker *a)
{
	struct pw_ask *ask;

	a->dying = true;
	while ((ask = a->head) != NULL) {
		a->head = ask->next;
		while (ask->consumers != NULL) {
			consumer_unlink(ask->consumers);
		}
		if (ask->req != NULL) {
			ask->req->ask = NULL;
		}
		talloc_free(ask);
	}
	a->tail = NULL;
}

int mg__pw_ask(TALLOC_CTX *owner, struct mg_pw_asker *a, const char *hop_text, const char *label,
	       mg_password_cb cb, void *cb_data)
{
	struct pw_consumer *c = talloc_zero(owner, struct pw_consumer);
	struct pw_ask *ask;
	const char *pw;

	if (c == NULL) {
		return -ENOMEM;
	}
	c->asker = a;
	c->cb = cb;
	c->cb_data = cb_data;
	talloc_set_destructor(c, consumer_destructor);
	if ((pw = cached(a, hop_text)) != NULL) {
		consumer_answer(c, pw, NULL);
		return 0;
	}
	for (ask = a->head; ask != NULL && strcmp(ask->hop_text, hop_text) != 0; ask = ask->next) {
	}
	if (ask == NULL) {
		ask = talloc_zero(a, struct pw_ask);
		if (ask == NULL || (ask->hop_text = talloc_strdup(ask, hop_text)) == NULL ||
		    (ask->label = talloc_strdup(ask, label)) == NULL) {
			talloc_free(ask);
			talloc_free(c);
			return -ENOMEM;
		}
		ask->asker = a;
		if (a->tail != NULL) {
			a->tail->next = ask;
		} else {
			a->head = ask;
		}
		a->tail = ask;
		pump_later(a);
	}
	c->ask = ask;
	c->next = ask->consumers;
	if (c->next != NULL) {
		c->next->prevp = &c->next;
	}
	c->prevp = &ask->consumers;
	ask->consumers = c;
	return 0;
}

/* --- the program's side (mitogen/session.h) --- */

const char *mg_password_request_hop(const struct mg_password_request *req)
{
	return req->hop_text;
}

const char *mg_password_request_prompt(const struct mg_password_request *req)
{
	return req->prompt;
}

int mg_password_reply(struct mg_password_request *req, const char *password)
{
	if (password == NULL) {
		return -EINVAL;
	}
	if (req->ask != NULL) {
		ask_complete(req->ask, password, NULL);
	} else if (!req->asker->dying) {
		/* Nobody waits now; the next hop of that text will. */
		cache_put(req->asker, req->hop_text, password);
	}
	talloc_free(req);
	return 0;
}

void mg_password_fail(struct mg_password_request *req, const char *reason)
{
	if (req->ask != NULL) {
		ask_complete(req->ask, NULL, reason != NULL ? reason : "no password was given");
	}
	talloc_free(req);
}
