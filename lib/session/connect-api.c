/*
 * Connecting contexts from code: see mitogen/connect.h. Each method's
 * option struct becomes one hop field by field (chain-spec.c checks it
 * as the parser checks a written hop), never by pasting text to parse;
 * via's chain is read back from its canonical name. mg_connect() does
 * the rest, so contexts stay shared by chain prefix.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "mitogen/connect.h"
#include "mitogen/error.h"
#include "chain-private.h"
#include "session.h"

/* The kind, host and options of one hop, collected from a struct. */
struct fields {
	TALLOC_CTX *mem;
	struct mg__hop_fields f;
	struct mg_hop_opt *v;
	int err;
	char *errmsg;
};

typedef void (*fill_fn)(struct fields *x, const void *o);

static void put(struct fields *x, const char *key, const char *value)
{
	struct mg_hop_opt *v;

	if (value == NULL || x->err != 0) {
		return;
	}
	v = talloc_realloc(x->mem, x->v, struct mg_hop_opt, x->f.n_opts + 1);
	if (v == NULL) {
		x->err = -ENOMEM;
		return;
	}
	x->v = v;
	x->f.opts = v;
	v[x->f.n_opts].key = talloc_strdup(v, key);
	v[x->f.n_opts].value = talloc_strdup(v, value);
	if (v[x->f.n_opts].key == NULL || v[x->f.n_opts].value == NULL) {
		x->err = -ENOMEM;
		return;
	}
	x->f.n_opts++;
}

static void put_uint(struct fields *x, const char *key, unsigned value)
{
	char s[16];

	if (value != 0) {
		snprintf(s, sizeof(s), "%u", value);
		put(x, key, s);
	}
}

static void put_bool(struct fields *x, const char *key, bool value)
{
	put(x, key, value ? "1" : NULL);
}

static void put_flag(struct fields *x, const char *key, enum mg_flag value)
{
	switch (value) {
	case MG_FLAG_DEFAULT:
		break;
	case MG_FLAG_NO:
		put(x, key, "0");
		break;
	case MG_FLAG_YES:
		put(x, key, "1");
		break;
	default:
		if (x->err == 0) {
			x->err = MG_ERR_CHAIN;
			x->errmsg = talloc_asprintf(x->mem, "option %s: expected "
						    "MG_FLAG_DEFAULT, MG_FLAG_NO or "
						    "MG_FLAG_YES, not %d", key,
						    (int)value);
		}
		break;
	}
}

/* 'w' as one word of a list option's value, which is split like shell
 * words: bare when nothing in it splits or quotes, else in '...'. */
static char *one_word(TALLOC_CTX *mem_ctx, const char *w)
{
	char *q;

	if (w[0] != '\0' && strpbrk(w, " \t\n'\"\\") == NULL) {
		return talloc_strdup(mem_ctx, w);
	}
	q = talloc_strdup(mem_ctx, "'");
	for (const char *p = w; q != NULL && *p != '\0'; p++) {
		q = *p == '\'' ? talloc_strdup_append_buffer(q, "'\\''")
			: talloc_strndup_append_buffer(q, p, 1);
	}
	return q != NULL ? talloc_strdup_append_buffer(q, "'") : NULL;
}

/* A list option: key=WORD once per word, in order. */
static void put_words(struct fields *x, const char *key, const char *const *words)
{
	for (size_t i = 0; words != NULL && words[i] != NULL && x->err == 0; i++) {
		char *w = one_word(x->mem, words[i]);

		if (w == NULL) {
			x->err = -ENOMEM;
		}
		put(x, key, w);
		talloc_free(w);
	}
}

/* Milliseconds written as the grammar's seconds: 1500 is "1.5". */
static void put_ms(struct fields *x, const char *key, unsigned ms)
{
	char s[32];
	size_t n;

	if (ms == 0) {
		return;
	}
	n = (size_t)snprintf(s, sizeof(s), "%u.%03u", ms / 1000, ms % 1000);
	while (s[n - 1] == '0') {
		s[--n] = '\0';
	}
	if (s[n - 1] == '.') {
		s[n - 1] = '\0';
	}
	put(x, key, s);
}

static void put_common(struct fields *x, const struct mg_hop_common *c)
{
	put_ms(x, "connect_timeout", c->connect_timeout_ms);
	put(x, "remote_name", c->remote_name);
	put_bool(x, "debug", c->debug);
}

/* password_env, password_file, password_prompt, incorrect_prompts. */
static void put_password(struct fields *x, const char *env, const char *file,
			 const char *prompt, const char *const *incorrect)
{
	put(x, "password_env", env);
	put(x, "password_file", file);
	put(x, "password_prompt", prompt);
	put_words(x, "incorrect_prompts", incorrect);
}

/* --- one filler per method, options in the grammar's order --- */

static void fill_local(struct fields *x, const void *o)
{
	static const struct mg_local_opts none;
	const struct mg_local_opts *p = o != NULL ? o : &none;

	x->f.method = "local";
	put_bool(x, "first_stage", p->first_stage);
	put_common(x, &p->common);
}

static void fill_fork(struct fields *x, const void *o)
{
	static const struct mg_fork_opts none;
	const struct mg_fork_opts *p = o != NULL ? o : &none;

	x->f.method = "fork";
	put_common(x, &p->common);
}

static void fill_ssh(struct fields *x, const void *o)
{
	static const struct mg_ssh_opts none;
	const struct mg_ssh_opts *p = o != NULL ? o : &none;

	x->f.method = "ssh";
	x->f.host = p->hostname;
	put(x, "username", p->username);
	put_uint(x, "port", p->port);
	put(x, "check_host_keys", p->check_host_keys);
	put(x, "identity_file", p->identity_file);
	put_flag(x, "identities_only", p->identities_only);
	put_bool(x, "compression", p->compression);
	put(x, "ssh_path", p->ssh_path);
	put_words(x, "ssh_args", p->ssh_args);
	put_uint(x, "ssh_debug_level", p->ssh_debug_level);
	put(x, "password_env", p->password_env);
	put(x, "password_file", p->password_file);
	put_flag(x, "keepalive_enabled", p->keepalive_enabled);
	put_uint(x, "keepalive_count", p->keepalive_count);
	put_uint(x, "keepalive_interval", p->keepalive_interval);
	put_flag(x, "tcp_nodelay", p->tcp_nodelay);
	put_flag(x, "image_in_command", p->image_in_command);
	put_common(x, &p->common);
}

static void fill_sudo(struct fields *x, const void *o)
{
	static const struct mg_sudo_opts none;
	const struct mg_sudo_opts *p = o != NULL ? o : &none;

	x->f.method = "sudo";
	put(x, "username", p->username);
	put(x, "sudo_path", p->sudo_path);
	put_words(x, "sudo_args", p->sudo_args);
	put_bool(x, "set_home", p->set_home);
	put_bool(x, "preserve_env", p->preserve_env);
	put_bool(x, "login", p->login);
	put(x, "selinux_role", p->selinux_role);
	put(x, "selinux_type", p->selinux_type);
	put_password(x, p->password_env, p->password_file, p->password_prompt,
		     p->incorrect_prompts);
	put_common(x, &p->common);
}

static void fill_su(struct fields *x, const void *o)
{
	static const struct mg_su_opts none;
	const struct mg_su_opts *p = o != NULL ? o : &none;

	x->f.method = "su";
	put(x, "username", p->username);
	put(x, "su_path", p->su_path);
	put_password(x, p->password_env, p->password_file, p->password_prompt,
		     p->incorrect_prompts);
	put_common(x, &p->common);
}

static void fill_doas(struct fields *x, const void *o)
{
	static const struct mg_doas_opts none;
	const struct mg_doas_opts *p = o != NULL ? o : &none;

	x->f.method = "doas";
	put(x, "username", p->username);
	put(x, "doas_path", p->doas_path);
	put_password(x, p->password_env, p->password_file, p->password_prompt,
		     p->incorrect_prompts);
	put_common(x, &p->common);
}

static void fill_docker(struct fields *x, const void *o)
{
	static const struct mg_docker_opts none;
	const struct mg_docker_opts *p = o != NULL ? o : &none;

	x->f.method = "docker";
	x->f.host = p->container;
	put(x, "username", p->username);
	put(x, "docker_path", p->docker_path);
	put(x, "image", p->image);
	put_common(x, &p->common);
}

static void fill_podman(struct fields *x, const void *o)
{
	static const struct mg_podman_opts none;
	const struct mg_podman_opts *p = o != NULL ? o : &none;

	x->f.method = "podman";
	x->f.host = p->container;
	put(x, "username", p->username);
	put(x, "podman_path", p->podman_path);
	put_common(x, &p->common);
}

static void fill_buildah(struct fields *x, const void *o)
{
	static const struct mg_buildah_opts none;
	const struct mg_buildah_opts *p = o != NULL ? o : &none;

	x->f.method = "buildah";
	x->f.host = p->container;
	put(x, "username", p->username);
	put(x, "buildah_path", p->buildah_path);
	put_common(x, &p->common);
}

static void fill_lxc(struct fields *x, const void *o)
{
	static const struct mg_lxc_opts none;
	const struct mg_lxc_opts *p = o != NULL ? o : &none;

	x->f.method = "lxc";
	x->f.host = p->container;
	put(x, "lxc_attach_path", p->lxc_attach_path);
	put_common(x, &p->common);
}

static void fill_lxd(struct fields *x, const void *o)
{
	static const struct mg_lxd_opts none;
	const struct mg_lxd_opts *p = o != NULL ? o : &none;

	x->f.method = "lxd";
	x->f.host = p->container;
	put(x, "lxc_path", p->lxc_path);
	put_common(x, &p->common);
}

static void fill_jail(struct fields *x, const void *o)
{
	static const struct mg_jail_opts none;
	const struct mg_jail_opts *p = o != NULL ? o : &none;

	x->f.method = "jail";
	x->f.host = p->jail;
	put(x, "username", p->username);
	put(x, "jexec_path", p->jexec_path);
	put_common(x, &p->common);
}

static void fill_kubectl(struct fields *x, const void *o)
{
	static const struct mg_kubectl_opts none;
	const struct mg_kubectl_opts *p = o != NULL ? o : &none;

	x->f.method = "kubectl";
	x->f.host = p->pod;
	put(x, "container", p->container);
	put(x, "namespace", p->kube_namespace);
	put(x, "context", p->context);
	put_words(x, "kubectl_args", p->kubectl_args);
	put(x, "kubectl_path", p->kubectl_path);
	put_common(x, &p->common);
}

static void fill_setns(struct fields *x, const void *o)
{
	static const struct mg_setns_opts none;
	const struct mg_setns_opts *p = o != NULL ? o : &none;

	x->f.method = "setns";
	x->f.kind = p->kind;
	x->f.host = p->container;
	put(x, "username", p->username);
	put(x, "docker_path", p->docker_path);
	put(x, "lxc_path", p->lxc_path);
	put(x, "lxc_info_path", p->lxc_info_path);
	put(x, "machinectl_path", p->machinectl_path);
	put_common(x, &p->common);
}

/* --- chains --- */

/* via's hops (none for NULL) then tail's, as a new chain on mem_ctx; a
 * message on err_ctx. */
static int join(TALLOC_CTX *mem_ctx, TALLOC_CTX *err_ctx, const struct mg_context *via,
		const struct mg_chain *tail, struct mg_chain **_chain, char **_errmsg)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	const struct mg_chain *head = NULL;
	struct mg_chain_list *list;
	const struct mg_hop **ptrs;
	struct mg_chain *chain;
	size_t n = tail->n_hops, k = 0;
	char *err = NULL;
	int r = 0;

	if (tmp == NULL) {
		return -ENOMEM;
	}
	/* A context's name is its chain's canonical text, which parses back
	 * to the same hops. */
	if (via != NULL && (r = mg__chain_parse_one(tmp, mg_context_name(via), &list, &err)) != 0) {
		goto done;
	}
	head = via != NULL ? &list->chains[0] : NULL;
	n += head != NULL ? head->n_hops : 0;
	if (n > MG_CHAIN_MAX_HOPS) {
		err = talloc_asprintf(tmp, "chain of %zu hops (at most %d)", n, MG_CHAIN_MAX_HOPS);
		r = MG_ERR_CHAIN;
		goto done;
	}
	ptrs = talloc_array(tmp, const struct mg_hop *, n);
	chain = talloc_zero(mem_ctx, struct mg_chain);
	if (ptrs == NULL || chain == NULL) {
		talloc_free(chain);
		r = -ENOMEM;
		goto done;
	}
	for (size_t i = 0; head != NULL && i < head->n_hops; i++) {
		ptrs[k++] = &head->hops[i];
	}
	for (size_t i = 0; i < tail->n_hops; i++) {
		ptrs[k++] = &tail->hops[i];
	}
	if ((r = mg__chain_pack(chain, ptrs, n, chain)) != 0) {
		talloc_free(chain);
		goto done;
	}
	*_chain = chain;
done:
	if (r != 0) {
		*_errmsg = talloc_strdup(err_ctx, err != NULL ? err : "out of memory");
	}
	talloc_free(tmp);
	return r;
}

/* The chain of one hop filled from 'o', after via: on mem_ctx, a message
 * on err_ctx. */
static int build(TALLOC_CTX *mem_ctx, TALLOC_CTX *err_ctx, const struct mg_context *via,
		 fill_fn fill, const void *o, struct mg_chain **_chain, char **_errmsg)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	struct fields x;
	struct mg_chain hop;
	char *err = NULL;
	int r;

	if (tmp == NULL) {
		return -ENOMEM;
	}
	memset(&x, 0, sizeof(x));
	x.mem = tmp;
	fill(&x, o);
	if ((r = x.err) != 0) {
		err = x.errmsg;
	} else if ((r = mg__chain_hop_fields(tmp, &x.f, &hop, &err)) == 0) {
		/* join copies the hop: tmp may go after it. */
		r = join(mem_ctx, err_ctx, via, &hop, _chain, _errmsg);
		talloc_free(tmp);
		return r;
	}
	*_errmsg = talloc_strdup(err_ctx, err != NULL ? err : "out of memory");
	talloc_free(tmp);
	return r;
}

/* --- connecting --- */

/* One connect in flight: the chain mg_connect() keeps using until cb. */
struct request {
	struct mg_chain *chain;
	mg_connect_cb cb;
	mg_connect_cb on_start;	/* the caller's opts->on_start */
	void *data;
};

/* The chain started: on_start with the caller's data, not ours. */
static void request_started(struct mg_context *ctx, int err, const char *errmsg, void *data)
{
	struct request *rq = talloc_get_type_abort(data, struct request);

	rq->on_start(ctx, err, errmsg, rq->data);
}

static void request_done(struct mg_context *ctx, int err, const char *errmsg, void *data)
{
	struct request *rq = talloc_get_type_abort(data, struct request);
	mg_connect_cb cb = rq->cb;
	void *cb_data = rq->data;

	/* First: cb may free the session, which owns rq. errmsg is not
	 * under rq. */
	talloc_free(rq);
	cb(ctx, err, errmsg, cb_data);
}

/* A request on the session (it ends with it), or NULL with *_errmsg. */
static struct request *request_new(TALLOC_CTX *mem_ctx, struct mg_session *s,
				   const struct mg_context *via, mg_connect_cb cb,
				   void *data, int *_ret, char **_errmsg)
{
	struct request *rq;

	if (via != NULL && mg__context_session(via) != s) {
		*_errmsg = talloc_strdup(mem_ctx, "via: a context of another session");
		*_ret = -EINVAL;
		return NULL;
	}
	rq = talloc_zero(s, struct request);
	if (rq == NULL) {
		*_ret = -ENOMEM;
		return NULL;
	}
	rq->cb = cb;
	rq->data = data;
	return rq;
}

static int request_start(TALLOC_CTX *mem_ctx, struct mg_session *s, struct request *rq,
			 const struct mg_connect_opts *opts, char **_errmsg)
{
	struct mg_connect_opts o;
	int r;

	if (opts != NULL && opts->on_start != NULL) {
		o = *opts;
		rq->on_start = opts->on_start;
		o.on_start = request_started;
		opts = &o;
	}
	r = mg_connect(mem_ctx, s, rq->chain, opts, request_done, rq, _errmsg);

	if (r != 0) {
		talloc_free(rq);
	}
	return r;
}

static int connect_hop(TALLOC_CTX *mem_ctx, struct mg_session *s, struct mg_context *via,
		       fill_fn fill, const void *o, mg_connect_cb cb, void *data,
		       char **_errmsg)
{
	int r = 0;
	struct request *rq = request_new(mem_ctx, s, via, cb, data, &r, _errmsg);

	if (rq == NULL) {
		return r;
	}
	if ((r = build(rq, mem_ctx, via, fill, o, &rq->chain, _errmsg)) != 0) {
		talloc_free(rq);
		return r;
	}
	return request_start(mem_ctx, s, rq, NULL, _errmsg);
}

int mg_connect_text(TALLOC_CTX *mem_ctx, struct mg_session *s, struct mg_context *via,
		    const char *chain_text, const struct mg_connect_opts *opts,
		    mg_connect_cb cb, void *data, char **_errmsg)
{
	struct mg_chain_list *list = NULL;
	int r = 0;
	struct request *rq = request_new(mem_ctx, s, via, cb, data, &r, _errmsg);

	if (rq == NULL) {
		return r;
	}
	if ((r = mg__chain_parse_one(mem_ctx, chain_text, &list, _errmsg)) == 0) {
		r = join(rq, mem_ctx, via, &list->chains[0], &rq->chain, _errmsg);
	}
	talloc_free(list);
	if (r != 0) {
		talloc_free(rq);
		return r;
	}
	return request_start(mem_ctx, s, rq, opts, _errmsg);
}

/* --- the public pairs, one per method --- */

int mg_chain_local(TALLOC_CTX *mem_ctx, const struct mg_context *via,
		   const struct mg_local_opts *o, struct mg_chain **_chain, char **_errmsg)
{
	return build(mem_ctx, mem_ctx, via, fill_local, o, _chain, _errmsg);
}

int mg_connect_local(TALLOC_CTX *mem_ctx, struct mg_session *s, struct mg_context *via,
		     const struct mg_local_opts *o, mg_connect_cb cb, void *data,
		     char **_errmsg)
{
	return connect_hop(mem_ctx, s, via, fill_local, o, cb, data, _errmsg);
}

int mg_chain_fork(TALLOC_CTX *mem_ctx, const struct mg_context *via,
		  const struct mg_fork_opts *o, struct mg_chain **_chain, char **_errmsg)
{
	return build(mem_ctx, mem_ctx, via, fill_fork, o, _chain, _errmsg);
}

int mg_connect_fork(TALLOC_CTX *mem_ctx, struct mg_session *s, struct mg_context *via,
		    const struct mg_fork_opts *o, mg_connect_cb cb, void *data, char **_errmsg)
{
	return connect_hop(mem_ctx, s, via, fill_fork, o, cb, data, _errmsg);
}

int mg_chain_ssh(TALLOC_CTX *mem_ctx, const struct mg_context *via,
		 const struct mg_ssh_opts *o, struct mg_chain **_chain, char **_errmsg)
{
	return build(mem_ctx, mem_ctx, via, fill_ssh, o, _chain, _errmsg);
}

int mg_connect_ssh(TALLOC_CTX *mem_ctx, struct mg_session *s, struct mg_context *via,
		   const struct mg_ssh_opts *o, mg_connect_cb cb, void *data, char **_errmsg)
{
	return connect_hop(mem_ctx, s, via, fill_ssh, o, cb, data, _errmsg);
}

int mg_chain_sudo(TALLOC_CTX *mem_ctx, const struct mg_context *via,
		  const struct mg_sudo_opts *o, struct mg_chain **_chain, char **_errmsg)
{
	return build(mem_ctx, mem_ctx, via, fill_sudo, o, _chain, _errmsg);
}

int mg_connect_sudo(TALLOC_CTX *mem_ctx, struct mg_session *s, struct mg_context *via,
		    const struct mg_sudo_opts *o, mg_connect_cb cb, void *data, char **_errmsg)
{
	return connect_hop(mem_ctx, s, via, fill_sudo, o, cb, data, _errmsg);
}

int mg_chain_su(TALLOC_CTX *mem_ctx, const struct mg_context *via,
		const struct mg_su_opts *o, struct mg_chain **_chain, char **_errmsg)
{
	return build(mem_ctx, mem_ctx, via, fill_su, o, _chain, _errmsg);
}

int mg_connect_su(TALLOC_CTX *mem_ctx, struct mg_session *s, struct mg_context *via,
		  const struct mg_su_opts *o, mg_connect_cb cb, void *data, char **_errmsg)
{
	return connect_hop(mem_ctx, s, via, fill_su, o, cb, data, _errmsg);
}

int mg_chain_doas(TALLOC_CTX *mem_ctx, const struct mg_context *via,
		  const struct mg_doas_opts *o, struct mg_chain **_chain, char **_errmsg)
{
	return build(mem_ctx, mem_ctx, via, fill_doas, o, _chain, _errmsg);
}

int mg_connect_doas(TALLOC_CTX *mem_ctx, struct mg_session *s, struct mg_context *via,
		    const struct mg_doas_opts *o, mg_connect_cb cb, void *data, char **_errmsg)
{
	return connect_hop(mem_ctx, s, via, fill_doas, o, cb, data, _errmsg);
}

int mg_chain_docker(TALLOC_CTX *mem_ctx, const struct mg_context *via,
		    const struct mg_docker_opts *o, struct mg_chain **_chain, char **_errmsg)
{
	return build(mem_ctx, mem_ctx, via, fill_docker, o, _chain, _errmsg);
}

int mg_connect_docker(TALLOC_CTX *mem_ctx, struct mg_session *s, struct mg_context *via,
		      const struct mg_docker_opts *o, mg_connect_cb cb, void *data,
		      char **_errmsg)
{
	return connect_hop(mem_ctx, s, via, fill_docker, o, cb, data, _errmsg);
}

int mg_chain_podman(TALLOC_CTX *mem_ctx, const struct mg_context *via,
		    const struct mg_podman_opts *o, struct mg_chain **_chain, char **_errmsg)
{
	return build(mem_ctx, mem_ctx, via, fill_podman, o, _chain, _errmsg);
}

int mg_connect_podman(TALLOC_CTX *mem_ctx, struct mg_session *s, struct mg_context *via,
		      const struct mg_podman_opts *o, mg_connect_cb cb, void *data,
		      char **_errmsg)
{
	return connect_hop(mem_ctx, s, via, fill_podman, o, cb, data, _errmsg);
}

int mg_chain_buildah(TALLOC_CTX *mem_ctx, const struct mg_context *via,
		     const struct mg_buildah_opts *o, struct mg_chain **_chain, char **_errmsg)
{
	return build(mem_ctx, mem_ctx, via, fill_buildah, o, _chain, _errmsg);
}

int mg_connect_buildah(TALLOC_CTX *mem_ctx, struct mg_session *s, struct mg_context *via,
		       const struct mg_buildah_opts *o, mg_connect_cb cb, void *data,
		       char **_errmsg)
{
	return connect_hop(mem_ctx, s, via, fill_buildah, o, cb, data, _errmsg);
}

int mg_chain_lxc(TALLOC_CTX *mem_ctx, const struct mg_context *via,
		 const struct mg_lxc_opts *o, struct mg_chain **_chain, char **_errmsg)
{
	return build(mem_ctx, mem_ctx, via, fill_lxc, o, _chain, _errmsg);
}

int mg_connect_lxc(TALLOC_CTX *mem_ctx, struct mg_session *s, struct mg_context *via,
		   const struct mg_lxc_opts *o, mg_connect_cb cb, void *data, char **_errmsg)
{
	return connect_hop(mem_ctx, s, via, fill_lxc, o, cb, data, _errmsg);
}

int mg_chain_lxd(TALLOC_CTX *mem_ctx, const struct mg_context *via,
		 const struct mg_lxd_opts *o, struct mg_chain **_chain, char **_errmsg)
{
	return build(mem_ctx, mem_ctx, via, fill_lxd, o, _chain, _errmsg);
}

int mg_connect_lxd(TALLOC_CTX *mem_ctx, struct mg_session *s, struct mg_context *via,
		   const struct mg_lxd_opts *o, mg_connect_cb cb, void *data, char **_errmsg)
{
	return connect_hop(mem_ctx, s, via, fill_lxd, o, cb, data, _errmsg);
}

int mg_chain_jail(TALLOC_CTX *mem_ctx, const struct mg_context *via,
		  const struct mg_jail_opts *o, struct mg_chain **_chain, char **_errmsg)
{
	return build(mem_ctx, mem_ctx, via, fill_jail, o, _chain, _errmsg);
}

int mg_connect_jail(TALLOC_CTX *mem_ctx, struct mg_session *s, struct mg_context *via,
		    const struct mg_jail_opts *o, mg_connect_cb cb, void *data, char **_errmsg)
{
	return connect_hop(mem_ctx, s, via, fill_jail, o, cb, data, _errmsg);
}

int mg_chain_kubectl(TALLOC_CTX *mem_ctx, const struct mg_context *via,
		     const struct mg_kubectl_opts *o, struct mg_chain **_chain, char **_errmsg)
{
	return build(mem_ctx, mem_ctx, via, fill_kubectl, o, _chain, _errmsg);
}

int mg_connect_kubectl(TALLOC_CTX *mem_ctx, struct mg_session *s, struct mg_context *via,
		       const struct mg_kubectl_opts *o, mg_connect_cb cb, void *data,
		       char **_errmsg)
{
	return connect_hop(mem_ctx, s, via, fill_kubectl, o, cb, data, _errmsg);
}

int mg_chain_setns(TALLOC_CTX *mem_ctx, const struct mg_context *via,
		   const struct mg_setns_opts *o, struct mg_chain **_chain, char **_errmsg)
{
	return build(mem_ctx, mem_ctx, via, fill_setns, o, _chain, _errmsg);
}

int mg_connect_setns(TALLOC_CTX *mem_ctx, struct mg_session *s, struct mg_context *via,
		     const struct mg_setns_opts *o, mg_connect_cb cb, void *data,
		     char **_errmsg)
{
	return connect_hop(mem_ctx, s, via, fill_setns, o, cb, data, _errmsg);
}
