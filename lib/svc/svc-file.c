/*
 * The file service (docs/PROTOCOL.md section 5.9): the handlers of
 * "file.push" and "file.pull" that an agent serves and the codecs of
 * their requests and reports, side by side. The records of the stream
 * are file-rec.c; its two ends file-pack.c and file-unpack.c.
 */
#include <errno.h>
#include <string.h>
#include "channel.h"
#include "mitogen/error.h"
#include "mitogen/message.h"
#include "mitogen/service.h"
#include "protocol.h"
#include "svc-call.h"
#include "svc-file.h"

/* --- requests --- */

int mg__file_push_req_encode(struct mg_buf *b, const struct mg__file_push_req *rq)
{
	if ((mg__buf_put_str(b, rq->dest) | mg__buf_put_u32(b, rq->flags) |
	     mg__buf_put_u32(b, rq->n_top) | mg__buf_put_u32(b, rq->h_ack) |
	     mg__buf_put_u32(b, rq->h_report)) != 0 ||
	    ((rq->flags & MG__FILE_UMASK) != 0 && mg__buf_put_u32(b, rq->umask) != 0)) {
		return -ENOMEM;
	}
	return 0;
}

int mg__file_names_encode(struct mg_buf *b, const struct mg__file_push_req *rq)
{
	return rq->names != NULL && mg__buf_put_strv(b, rq->names) != 0 ? -ENOMEM : 0;
}

char **mg__file_src_names(TALLOC_CTX *mem_ctx, const char *const *srcs)
{
	size_t n = 0, k = 0;
	char **v;

	while (srcs[n] != NULL) {
		n++;
	}
	v = talloc_zero_array(mem_ctx, char *, n + 1);
	for (size_t i = 0; v != NULL && i < n; i++) {
		const char *s = srcs[i], *end = s + strlen(s), *base;

		while (end - s > 1 && end[-1] == '/') {
			end--;
		}
		for (base = end; base > s && base[-1] != '/'; base--) {
		}
		if (base == end) {
			continue;  /* / or "": the sender names no such source */
		}
		if ((end - base == 1 && base[0] == '.') ||
		    (end - base == 2 && base[0] == '.' && base[1] == '.')) {
			end = base;  /* named there, after what it resolves to */
		}
		if ((v[k++] = talloc_strndup(v, base, (size_t)(end - base))) == NULL) {
			TALLOC_FREE(v);
		}
	}
	return v;
}

/* The optional names last: none may hold a '/' or be . or .. */
static int get_names(struct mg_buf *b, TALLOC_CTX *mem_ctx, struct mg__file_push_req *rq)
{
	char **v = NULL;

	rq->names = NULL;
	if (mg__buf_left(b) == 0) {
		return 0;
	}
	if (mg__buf_get_strv(b, mem_ctx, 65536, &v) != 0) {
		return MG_ERR_PROTOCOL;
	}
	for (size_t i = 0; v[i] != NULL; i++) {
		if (strchr(v[i], '/') != NULL || strcmp(v[i], ".") == 0 ||
		    strcmp(v[i], "..") == 0) {
			return MG_ERR_PROTOCOL;
		}
	}
	rq->names = (const char *const *)v;
	return 0;
}

static int get_push(struct mg_buf *b, TALLOC_CTX *mem_ctx, struct mg__file_push_req *rq)
{
	char *dest = NULL;

	rq->names = NULL;
	if (mg__buf_get_str(b, mem_ctx, &dest) != 0 || dest == NULL || dest[0] == '\0' ||
	    (mg__buf_get_u32(b, &rq->flags) | mg__buf_get_u32(b, &rq->n_top) |
	     mg__buf_get_u32(b, &rq->h_ack) | mg__buf_get_u32(b, &rq->h_report)) != 0 ||
	    (rq->flags & ~MG__FILE_KNOWN) != 0 || rq->n_top == 0) {
		return MG_ERR_PROTOCOL;
	}
	rq->umask = 0;
	if ((rq->flags & MG__FILE_UMASK) != 0 &&
	    (mg__buf_get_u32(b, &rq->umask) != 0 || rq->umask > 0777)) {
		return MG_ERR_PROTOCOL;
	}
	rq->dest = dest;
	return 0;
}

int mg__file_push_req_decode(TALLOC_CTX *mem_ctx, const void *p, size_t n,
			     struct mg__file_push_req *rq)
{
	struct mg_buf b;

	mg__buf_view(&b, p, n);
	return get_push(&b, mem_ctx, rq) != 0 ? MG_ERR_PROTOCOL : get_names(&b, mem_ctx, rq);
}

/* A source list: one or more, none empty. */
static int get_srcs(struct mg_buf *b, TALLOC_CTX *mem_ctx, char ***_srcs)
{
	if (mg__buf_get_strv(b, mem_ctx, 65536, _srcs) != 0 || (*_srcs)[0] == NULL) {
		return MG_ERR_PROTOCOL;
	}
	for (size_t i = 0; (*_srcs)[i] != NULL; i++) {
		if ((*_srcs)[i][0] == '\0') {
			return MG_ERR_PROTOCOL;
		}
	}
	return 0;
}

static int get_relay(struct mg_buf *b, TALLOC_CTX *mem_ctx, struct mg__file_push_req *rq,
		     uint32_t **_ids, uint32_t *_n)
{
	if (get_push(b, mem_ctx, rq) != 0 || mg__buf_get_u32(b, _n) != 0 || *_n == 0 ||
	    *_n > MG__FILE_RELAY_MAX || mg__buf_left(b) < (size_t)*_n * 4) {
		return MG_ERR_PROTOCOL;
	}
	*_ids = talloc_array(mem_ctx, uint32_t, *_n);
	for (uint32_t i = 0; *_ids != NULL && i < *_n; i++) {
		mg__buf_get_u32(b, &(*_ids)[i]);
	}
	return *_ids != NULL ? 0 : -ENOMEM;
}

int mg__file_relay_req_decode(TALLOC_CTX *mem_ctx, const void *p, size_t n,
			      struct mg__file_push_req *rq, uint32_t **_ids, uint32_t *_n)
{
	struct mg_buf b;
	int ret;

	mg__buf_view(&b, p, n);
	ret = get_relay(&b, mem_ctx, rq, _ids, _n);
	return ret != 0 ? ret : get_names(&b, mem_ctx, rq);
}

int mg__file_copy_req_decode(TALLOC_CTX *mem_ctx, const void *p, size_t n,
			     struct mg__file_copy_req *rq)
{
	struct mg_buf b;
	uint8_t want = 0;
	int ret;

	mg__buf_view(&b, p, n);
	if (mg__buf_get_u32(&b, &rq->from) != 0 || get_srcs(&b, mem_ctx, &rq->srcs) != 0) {
		return MG_ERR_PROTOCOL;
	}
	ret = get_relay(&b, mem_ctx, &rq->rq, &rq->ids, &rq->n);
	rq->want_total = mg__buf_get_u8(&b, &want) == 0 && want != 0;
	return ret;
}

int mg__file_pull_req_encode(struct mg_buf *b, const char *const *srcs, uint32_t flags,
			     uint32_t h_data, bool want_total)
{
	if ((mg__buf_put_strv(b, srcs) | mg__buf_put_u32(b, flags) | mg__buf_put_u32(b, h_data) |
	     (want_total ? mg__buf_put_u8(b, 1) : 0)) != 0) {
		return -ENOMEM;
	}
	return 0;
}

int mg__file_pull_req_decode(TALLOC_CTX *mem_ctx, const void *p, size_t n,
			     struct mg__file_pull_req *rq)
{
	struct mg_buf b;
	uint8_t want = 0;

	mg__buf_view(&b, p, n);
	if (get_srcs(&b, mem_ctx, &rq->srcs) != 0 ||
	    (mg__buf_get_u32(&b, &rq->flags) | mg__buf_get_u32(&b, &rq->h_data)) != 0 ||
	    (rq->flags & ~MG__FILE_KNOWN) != 0) {
		return MG_ERR_PROTOCOL;
	}
	rq->want_total = mg__buf_get_u8(&b, &want) == 0 && want != 0;
	return 0;
}

int mg__file_answer(const struct mg_message *reply, int err, const char *bad, uint32_t *_v,
		    const char **_why)
{
	size_t len = 0;
	const uint8_t *p;

	if (err != 0) {
		*_why = reply != NULL ? mg_message_dead_reason(reply) : mg_strerror(err);
		return err;
	}
	p = mg_message_data(reply, &len);
	if (len < 4) {
		*_why = bad;
		return MG_ERR_PROTOCOL;
	}
	*_v = mg__get_be32(p);
	return 0;
}

uint64_t mg__file_answer_total(const struct mg_message *reply)
{
	size_t len = 0;
	const uint8_t *p = reply != NULL ? mg_message_data(reply, &len) : NULL;

	return len >= 12 ? (uint64_t)mg__get_be32(p + 4) << 32 | mg__get_be32(p + 8)
			 : MG__FILE_NO_TOTAL;
}

/* --- the services --- */

struct push_job {
	struct mg_router *r;
	uint32_t caller;
	uint32_t h_report;
	struct mg__unpack *u;
	struct mg_chan_in *in;
};

static void push_error(void *data, bool at_source, const char *path, const char *msg)
{
	struct push_job *j = data;
	struct mg_buf *b = mg__buf_new(j, MG__REC_MAX + 4096);

	if (b != NULL && (mg__buf_put_u8(b, MG__FILE_REPORT_ERROR) | mg__buf_put_str(b, path) |
			  mg__buf_put_str(b, msg) | mg__buf_put_u8(b, at_source)) == 0) {
		mg__router_send(j->r, j->caller, j->h_report, 0, 0, b->data, b->len);
	}
	talloc_free(b);
}

static void push_done(void *data, int err)
{
	struct push_job *j = data;
	unsigned failed = mg__unpack_finish(j->u, err);
	uint64_t files, bytes;
	uint8_t p[21];
	struct mg_buf b = { .data = p, .alloc = sizeof(p), .max = sizeof(p) };

	mg__unpack_counts(j->u, &files, &bytes);
	mg__buf_put_u8(&b, MG__FILE_REPORT_END);
	mg__buf_put_u64(&b, files);
	mg__buf_put_u64(&b, bytes);
	mg__buf_put_u32(&b, failed);
	mg__router_send(j->r, j->caller, j->h_report, 0, 0, p, b.len);
	mg_loop_free_later(mg__router_loop(j->r), j);
}

static int svc_push(struct mg_message *req, const void *payload, size_t len, void *data)
{
	struct mg_router *r = data;
	struct push_job *j = talloc_zero(r, struct push_job);
	struct mg__file_push_req rq;
	char *errmsg = NULL;
	uint8_t ans[4];

	if (j == NULL) {
		return -ENOMEM;
	}
	if (mg__file_push_req_decode(j, payload, len, &rq) != 0) {
		talloc_free(j);
		return mg_message_reply_dead(req, "malformed file.push request");
	}
	j->r = r;
	j->caller = mg_message_src(req);
	j->h_report = rq.h_report;
	j->u = mg__unpack_new(j, rq.dest, rq.flags, rq.umask, rq.n_top, push_error, j, &errmsg);
	if (j->u != NULL && rq.names != NULL && mg__unpack_expect(j->u, rq.names) != 0) {
		TALLOC_FREE(j->u);
	}
	if (j->u == NULL) {
		int ret = mg_message_reply_dead(req, errmsg != NULL ? errmsg : "out of memory");
		talloc_free(j);
		return ret;
	}
	j->in = mg__chan_in_new_sink(j, r, j->caller, mg__unpack_feed, j->u, push_done, j);
	if (j->in == NULL) {
		talloc_free(j);
		return -ENOMEM;
	}
	mg__chan_in_set_ack(j->in, rq.h_ack);
	mg__put_be32(ans, mg__chan_in_handle(j->in));
	return mg_message_reply(req, ans, sizeof(ans));
}

/* Entries a total looks at, at most: a bigger tree gets none rather
 * than hold the loop (some 20 ms for this many). */
#define TOTAL_MAX 20000u

struct pull_job {
	struct mg_router *r;
	struct mg__pack *p;
};

/* One receiver: its end is the job's, once its last credit is back. */
static void pull_done(void *data, size_t idx, int err)
{
	struct pull_job *j = data;

	(void)idx;
	(void)err;
	mg__pack_free_when_quiet(j->p, j);
}

static int svc_pull(struct mg_message *req, const void *payload, size_t len, void *data)
{
	struct mg_router *r = data;
	struct pull_job *j = talloc_zero(r, struct pull_job);
	struct mg__file_pull_req rq;
	uint8_t ans[12];
	uint64_t total;
	int idx, ret;

	if (j == NULL) {
		return -ENOMEM;
	}
	if (mg__file_pull_req_decode(j, payload, len, &rq) != 0) {
		talloc_free(j);
		return mg_message_reply_dead(req, "malformed file.pull request");
	}
	j->r = r;
	j->p = mg__pack_new(j, r, (const char *const *)rq.srcs, rq.flags, pull_done, NULL, j);
	if (j->p == NULL || (idx = mg__pack_add(j->p, mg_message_src(req))) < 0) {
		talloc_free(j);
		return -ENOMEM;
	}
	mg__put_be32(ans, mg__pack_ack(j->p, (size_t)idx));
	/* Asked for (a progress bar): what the stream will hold, when the
	 * sources are not too many to count. */
	total = rq.want_total ? mg__pack_total(j, (const char *const *)rq.srcs, rq.flags, TOTAL_MAX)
			      : MG__FILE_NO_TOTAL;
	mg__put_be32(ans + 4, (uint32_t)(total >> 32));
	mg__put_be32(ans + 8, (uint32_t)total);
	ret = mg_message_reply(req, ans, total != MG__FILE_NO_TOTAL ? 12 : 4);
	mg__pack_start(j->p, (size_t)idx, rq.h_data);
	return ret;
}

int mg__svc_file_init(struct mg_router *r)
{
	int ret = mg_service_register(r, "file.push", 0, svc_push, r);

	if (ret == 0) {
		ret = mg_service_register(r, "file.pull", 0, svc_pull, r);
	}
	return ret;
}
