/* Passwords for the session's hops: the prompt a first hop shows, an
 * agent's PASSWORD request for a hop below it, and a program's own asker
 * (mitogen/session.h, PROTOCOL.md sections 2.5 and 5.4). */
#include <string.h>
#include <talloc.h>
#include "buf.h"
#include "conn.h"
#include "mitogen/log.h"
#include "password.h"
#include "protocol.h"
#include "receiver-private.h"
#include "session.h"

/* The prompt for context c's hop, escaped: a chain's decoded bytes must
 * not drive the terminal. */
static char *password_label(TALLOC_CTX *mem_ctx, const struct mg_context *c)
{
	const char *slash = strrchr(c->name, '/');
	char *label = talloc_asprintf(NULL, "[%s on %.*s] password: ", c->hop->text,
				      slash != NULL ? (int)(slash - c->name) : 9,
				      slash != NULL ? c->name : "this host");
	char *shown = label != NULL ? mg_log_escape(mem_ctx, label, strlen(label)) : NULL;

	talloc_free(label);
	return shown;
}

/* A first hop's prompt came and no password was given: the answer goes
 * to its connection, unless the connection ends first. */
void mg__session_ask_first_hop(void *ask_data, mg_password_cb cb, void *cb_data)
{
	struct mg_context *c = talloc_get_type_abort(ask_data, struct mg_context);
	char *label = password_label(NULL, c);

	if (label == NULL || c->conn == NULL ||
	    mg__pw_ask(c->conn, c->s->pw, c->hop->text, label, cb, cb_data) != 0) {
		mg_error("%s: cannot ask for the password: out of memory", c->name);
	}
	talloc_free(label);
}

/* An agent's PASSWORD request waiting for its answer. */
struct pw_reply {
	struct mg_router *r;
	struct mg_msg *m;
	struct mg_context *c;	/* its hop; pr is a child of c->reply */
};

static int pw_reply_destructor(struct pw_reply *pr)
{
	pr->c->pw_waiting = false;
	return 0;
}

static void reply_password(void *data, const char *password, const char *err)
{
	struct pw_reply *pr = talloc_get_type_abort(data, struct pw_reply);

	if (password != NULL) {
		mg__router_reply(pr->r, pr->m, password, strlen(password));
	} else {
		mg__router_reply_dead(pr->r, pr->m, err);
	}
	talloc_free(pr);
}

/* An agent asks for the password of a hop the master told it to connect.
 * Only that agent, only for that hop: a hop can never fish for others. */
void mg__session_on_password_request(struct mg_router *r, struct mg_msg *m, void *data)
{
	struct mg_session *s = talloc_get_type_abort(data, struct mg_session);
	struct mg_context *c;
	struct pw_reply *pr;
	struct mg_buf b;
	char *label;
	uint32_t id;

	mg__buf_view(&b, m->data, m->len);
	if (mg__buf_get_u32(&b, &id) != 0) {
		return;
	}
	for (c = s->contexts; c != NULL; c = c->next) {
		if (c->id == id) {
			break;
		}
	}
	if (c == NULL || c->state != CTX_CONNECTING || c->parent_id == 0 ||
	    c->parent_id != m->src || c->reply == NULL) {
		mg__router_reply_dead(r, m, "no such pending hop");
		return;
	}
	/* An agent asks once per hop: more while one waits would each hold
	 * memory here until the person answers. */
	if (c->pw_waiting) {
		mg__router_reply_dead(r, m, "a password request for this hop is waiting already");
		return;
	}
	/* The answer needs only the header: not a payload of up to max_msg
	 * (in the stream's buffer, or the message's own once read from a
	 * pipe tail). */
	if (!m->borrowed) {
		talloc_free(m->data);
	}
	m->data = NULL;
	m->len = 0;
	/* Under the CONNECT reply's handler: once the hop is settled,
	 * nobody waits for the answer. */
	pr = talloc_zero(c->reply, struct pw_reply);
	label = password_label(pr, c);
	if (pr == NULL || label == NULL || mg__msg_keep(pr, m) != 0 ||
	    mg__pw_ask(pr, s->pw, c->hop->text, label, reply_password, pr) != 0) {
		talloc_free(pr);
		mg__router_reply_dead(r, m, "out of memory");
		return;
	}
	pr->r = r;
	pr->m = m;
	pr->c = c;
	c->pw_waiting = true;
	talloc_set_destructor(pr, pw_reply_destructor);
	/* Replies go by src and reply_to: the stream may go first. */
	m->in = NULL;
}

void mg_session_set_password_fn(struct mg_session *s, mg_password_fn fn, void *data)
{
	if (s->pw != NULL) {
		/* An attached session asks nothing: its master does. */
		mg__pw_asker_set_fn(s->pw, fn, data);
	}
}

int mg_password_ask(TALLOC_CTX *mem_ctx, struct mg_loop *loop, const char *prompt,
		    mg_tty_answer_fn fn, void *data, struct mg_tty_prompt **_p, char **_errmsg)
{
	return mg__tty_prompt_start(mem_ctx, loop, "/dev/tty", prompt, fn, data, _p, _errmsg);
}
