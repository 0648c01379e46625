/*
 * Attach from outside: this program listens on a UNIX socket, a forked
 * child of it joins the session through the socket as a child context,
 * and answers one message (mitogen.unix's listen / connect).
 *
 *   cc attach.c $(pkg-config --cflags --libs mitogen) -o attach
 *   ./attach
 */
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <mitogen/mitogen.h>

/* The handle the child serves; the master learns nothing else. */
#define H_PING 2000

/* The attached side: a process with its own loop and router. */
static int child(const char *path)
{
	TALLOC_CTX *top = talloc_new(NULL);
	struct mg_loop *loop = mg_loop_new(top);
	struct mg_router *r;
	struct mg_receiver *rx;
	struct mg_message *msg;
	char *err = NULL, reply[64];
	size_t len;
	int ret;

	if (loop == NULL || (ret = mg_attach(top, loop, path, 5000, &r, &err)) != 0) {
		fprintf(stderr, "attach (child): %s\n", err != NULL ? err : "out of memory");
		return 1;
	}
	/* MG_ANY: only the master (our parent) may ask. */
	if (mg_receiver_new(top, r, H_PING, MG_ANY, 0, &rx) != 0 ||
	    (ret = mg_receiver_get(top, rx, 5000, &msg)) != 0) {
		fprintf(stderr, "attach (child): no request\n");
		return 1;
	}
	snprintf(reply, sizeof(reply), "pong from context %u (%s)", mg_router_id(r),
		 (const char *)mg_message_data(msg, &len));
	mg_message_reply(msg, reply, strlen(reply));
	/* Let the reply go out before the connection closes. */
	mg_loop_run_once(loop, 100);
	talloc_free(top);
	return 0;
}

static void on_attach(struct mg_listener *l, uint32_t id, pid_t pid, void *data)
{
	uint32_t *attached = data;

	*attached = id;
}

int main(void)
{
	TALLOC_CTX *top = talloc_new(NULL);
	struct mg_loop *loop = mg_loop_new(top);
	struct mg_session *s = loop != NULL ? mg_session_new(top, loop) : NULL;
	struct mg_listener *l;
	struct mg_receiver *rx;
	struct mg_message *msg;
	uint32_t id = 0;
	char *err = NULL;
	size_t len;
	int status = 0, ret;
	pid_t pid;

	if (s == NULL) {
		fprintf(stderr, "attach: out of memory\n");
		return 1;
	}
	/* NULL: a fresh socket in $XDG_RUNTIME_DIR/mitogen or /tmp/mitogen-UID. */
	if (mg_listener_new(top, s, NULL, &l, &err) != 0) {
		fprintf(stderr, "attach: %s\n", err);
		return 1;
	}
	mg_listener_on_attach(l, on_attach, &id);
	printf("listening on %s\n", mg_listener_path(l));
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		/* The child must not touch the parent's loop: it makes its own. */
		_exit(child(mg_listener_path(l)));
	}
	/* Run until the child is attached; waiting uses a reply receiver. */
	while (id == 0 && (ret = mg_loop_run_once(loop, 5000)) == 0) {
	}
	if (id == 0) {
		fprintf(stderr, "attach: nobody attached\n");
		return 1;
	}
	if (mg_receiver_new(top, mg_session_router(s), 0, id, MG_RECV_ONESHOT, &rx) != 0 ||
	    mg_router_send(mg_session_router(s), id, H_PING, mg_receiver_handle(rx), "ping", 4) != 0 ||
	    (ret = mg_receiver_get(top, rx, 5000, &msg)) != 0) {
		fprintf(stderr, "attach: no answer\n");
		return 1;
	}
	printf("context %u answered: %s\n", id, (const char *)mg_message_data(msg, &len));
	waitpid(pid, &status, 0);
	talloc_free(top);
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}
