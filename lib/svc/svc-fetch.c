/*
 * The FETCH service (docs/PROTOCOL.md section 5.5): its messages (see
 * svc-fetch.h; trailing bytes are ignored, so a later version may add
 * optional fields), fetching a program from the parent into the store,
 * and serving the store's programs to children within their bounds. The
 * store itself is images.c; the store with its service is made here.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysinfo.h>
#include <sys/vfs.h>
#include <unistd.h>
#include "buf.h"
#include "channel.h"
#include "images-private.h"
#include "mitogen/error.h"
#include "mitogen/log.h"
#include "protocol.h"
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

/* --- fetching from the parent --- */

static void fetch_failed(struct image *img, const char *why)
{
	struct mg_loop *loop = mg__router_loop(img->im->r);

	if (img->failed) {
		return;
	}
	img->failed = true;
	img->errmsg = talloc_strdup(img, why);
	if (img->errmsg == NULL) {
		img->errmsg = "fetch failed";
	}
	/* Unlinked now, so that a retry starts afresh. A channel that has
	 * not ended is not calling us: stop it now. The image itself goes
	 * once the channel calling us has returned. */
	mg__image_unlink(img);
	if (img->in != NULL && !mg__chan_in_done(img->in)) {
		TALLOC_FREE(img->in);
	}
	TALLOC_FREE(img->meta);
	mg__image_fire(img);
	mg_loop_free_later(loop, img);
}

/* The bytes of the program, written as they come: a regular file does
 * not block, and the channel's window bounds what is in flight. */
static void on_fetch_bytes(void *data, const uint8_t *p, size_t n)
{
	struct image *img = talloc_get_type_abort(data, struct image);

	if (img->fd < 0 || img->bad || n > img->size - img->got) {
		img->bad = true;
		return;
	}
	while (n > 0) {
		ssize_t k = write(img->fd, p, n);
		if (k < 0 && errno == EINTR) {
			continue;
		}
		if (k <= 0) {
			img->bad = true;
			img->write_err = k < 0 ? errno : ENOSPC;
			return;
		}
		p += k;
		n -= (size_t)k;
		img->got += (uint64_t)k;
	}
}

/* A file still open for writing cannot be run (ETXTBSY): keep only a
 * read-only descriptor of the copy. */
static void make_read_only(struct image *img)
{
	char path[64];
	int ro;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", img->fd);
	ro = open(path, O_RDONLY | O_CLOEXEC);
	if (ro >= 0) {
		close(img->fd);
		img->fd = ro;
	}
}

static void on_fetch_done(void *data, int err)
{
	struct image *img = talloc_get_type_abort(data, struct image);
	struct stat st;

	if (img->write_err != 0) {
		char *why = talloc_asprintf(img, "cannot store the program here: %s",
					    strerror(img->write_err));
		fetch_failed(img, why != NULL ? why : "cannot store the program here");
		return;
	}
	if (err != 0 || img->bad || img->fd < 0) {
		fetch_failed(img, "the program's transfer failed");
		return;
	}
	if (img->got != img->size || fstat(img->fd, &st) != 0 || (uint64_t)st.st_size != img->size) {
		fetch_failed(img, "the program arrived cut short");
		return;
	}
	make_read_only(img);
	img->complete = true;
	mg_debug("program %u here (%llu bytes)", img->link.id, (unsigned long long)img->size);
	mg__image_fire(img);
}

/*
 * A memfd (or a tmpfs file) takes the host's memory, and no size limit
 * stops it: a program larger than RAM and swap together could only end
 * in the OOM killer, which may pick any process of the host. Refused
 * before a byte is sent; anything smaller is left to the host.
 */
static bool too_big_for_memory(int fd, uint64_t size)
{
	struct statfs fs;
	struct sysinfo si;

	if (fstatfs(fd, &fs) != 0 || fs.f_type != 0x01021994 /* TMPFS_MAGIC */ ||
	    sysinfo(&si) != 0) {
		return false;
	}
	return size / si.mem_unit > (uint64_t)si.totalram + si.totalswap;
}

static void on_meta(struct mg_router *r, struct mg_msg *m, void *data)
{
	struct image *img = talloc_get_type_abort(data, struct image);
	struct mg__fetch_meta meta;
	int fd;

	img->meta = NULL;
	if ((m->flags & MG_F_DEAD) != 0) {
		char *why = talloc_strndup(img, (const char *)m->data, m->len);
		fetch_failed(img, why != NULL ? why : "fetch refused");
		return;
	}
	if (mg__fetch_meta_decode(m->data, m->len, &meta) != 0 || meta.size == ANY_SIZE) {
		fetch_failed(img, "bad answer to a program fetch");
		return;
	}
	/* Only now that the parent has the program does it get a file:
	 * asking for ids nobody has costs no descriptor. The parent's size
	 * is the truth; each waiter checks it against its own. */
	fd = mg__anon_file("mitogen-exec", true);
	if (fd < 0) {
		/* The parent's sender would wait for credit forever. */
		mg__router_send(r, m->src, meta.h_ack, 0, MG_F_DEAD, "reader closed", 13);
		fetch_failed(img, "cannot store the program here (no memfd it may run, "
			     "no writable temporary directory without noexec)");
		return;
	}
	if (too_big_for_memory(fd, meta.size)) {
		close(fd);
		mg__router_send(r, m->src, meta.h_ack, 0, MG_F_DEAD, "reader closed", 13);
		fetch_failed(img, talloc_asprintf(img, "cannot store the program here: "
						  "%llu bytes is more than this host's memory",
						  (unsigned long long)meta.size));
		return;
	}
	img->fd = fd;
	img->size = meta.size;
	mg__chan_in_set_ack(img->in, meta.h_ack);
}

int mg__fetch_start(struct mg_images *im, struct image *img)
{
	const uint32_t *parents;
	size_t n;
	uint8_t req[MG_FETCH_REQ_LEN];
	struct mg__fetch_req rq;

	parents = mg__router_parents(im->r, &n);
	if (n == 0) {
		return -ENOENT;
	}
	img->in = mg__chan_in_new_sink(img, im->r, parents[0], on_fetch_bytes, img, on_fetch_done, img);
	img->meta = mg__router_add_handler(img, im->r, 0, MG_POL_RESPONDENT, parents[0], false,
					   on_meta, img);
	if (img->in == NULL || img->meta == NULL) {
		return -ENOMEM;
	}
	rq.id = img->link.id;
	rq.h_data = mg__chan_in_handle(img->in);
	rq.h_meta = mg__handler_handle(img->meta);
	rq.size = img->size;
	mg__fetch_req_encode(req, &rq);
	return mg__router_send(im->r, parents[0], MG_H_FETCH, 0, 0, req, sizeof(req));
}

/* 'size' is what the requester expects, or ANY_SIZE. */
int mg__images_get_any(struct mg_images *im, const void *owner, uint32_t id, uint64_t size,
		       mg_image_ready_fn ready, void *data)
{
	struct image *img = mg__images_find(im, id);
	int ret;

	if (img == NULL) {
		/* Ask for the size expected, if any: the answer has the truth. */
		img = mg__image_new(im, id, size != ANY_SIZE ? size : 0);
		if (img == NULL) {
			return -ENOMEM;
		}
		if ((ret = mg__fetch_start(im, img)) != 0) {
			talloc_free(img);
			return ret;
		}
	}
	return mg__image_wait(img, owner, size, ready, data);
}

int mg__images_get(struct mg_images *im, const void *owner, uint32_t id, uint64_t size,
		   mg_image_ready_fn ready, void *data)
{
	if (size == ANY_SIZE) {
		return -EINVAL;
	}
	return mg__images_get_any(im, owner, id, size, ready, data);
}

/* --- withdrawing a program --- */

/* img goes: the children it was sent to drop their copies too. */
static void tell_drop(struct image *img)
{
	uint8_t msg[4];

	if (img->im->dying) {
		return;
	}
	mg__put_be32(msg, img->link.id);
	for (size_t i = 0; i < img->n_served; i++) {
		mg__router_send(img->im->r, img->served[i], MG_H_FETCH_DROP, 0, 0, msg, sizeof(msg));
	}
}

/* Remember that 'child' got a copy of img: it hears when img goes. */
static void note_served(struct image *img, uint32_t child)
{
	uint32_t *v;

	for (size_t i = 0; i < img->n_served; i++) {
		if (img->served[i] == child) {
			return;
		}
	}
	v = talloc_realloc(img, img->served, uint32_t, img->n_served + 1);
	if (v != NULL) {
		img->served = v;
		img->served[img->n_served++] = child;
	}
}

/*
 * The parent withdrew program 'id' (its loader, such as a client of a
 * persistence holder, is gone): nobody will run it again, and a held
 * agent would keep its copy in memory for as long as the chain is used.
 * Requests still waiting for it fail; the children we sent it to drop
 * theirs in turn (the image's destructor tells them).
 */
static void on_drop(struct mg_router *r, struct mg_msg *m, void *data)
{
	struct mg_images *im = talloc_get_type_abort(data, struct mg_images);
	struct image *img;
	size_t n;

	mg__router_parents(r, &n);
	if (m->len < 4 || n == 0 || (img = mg__images_find(im, mg__get_be32(m->data))) == NULL) {
		return;
	}
	if (!img->complete) {
		fetch_failed(img, "the program was withdrawn");
		return;
	}
	mg_debug("program %u withdrawn", img->link.id);
	mg__image_unlink(img);
	img->complete = false;
	img->errmsg = "the program was withdrawn";
	mg__image_fire(img);
	talloc_free(img);
}

/* --- serving children --- */

struct serve {
	struct mg_images *im;
	struct requester *who;	/* NULL once its slot is given back */
	uint32_t id;
	uint32_t child;
	uint32_t h_data;
	uint32_t h_meta;
	struct mg_chan_out *out;
};

/* Give back the request's slot: its child may ask again. */
static void release(struct serve *s)
{
	struct requester *who = s->who;

	if (who == NULL || s->im->dying) {
		return;
	}
	s->who = NULL;
	s->im->pending--;
	if (--who->pending == 0) {
		mg__idtab_del(&s->im->requesters, &who->link);
		talloc_free(who);
	}
}

static int serve_destructor(struct serve *s)
{
	release(s);
	return 0;
}

static void refuse(struct mg_router *r, uint32_t child, uint32_t h_meta, const char *why)
{
	mg__router_send(r, child, h_meta, 0, MG_F_DEAD, why, strlen(why));
}

static void on_served(void *data, int err)
{
	struct serve *s = talloc_get_type_abort(data, struct serve);

	(void)err;
	release(s);
	mg_loop_free_later(mg__router_loop(s->im->r), s);
}

static void serve_now(void *data, int fd, const char *errmsg)
{
	struct serve *s = talloc_get_type_abort(data, struct serve);
	struct mg_router *r = s->im->r;
	struct image *img = mg__images_find(s->im, s->id);
	struct mg__fetch_meta ans;
	uint8_t meta[MG_FETCH_META_LEN];
	char path[64];
	int rfd;

	if (fd < 0 || img == NULL) {
		refuse(r, s->child, s->h_meta, errmsg != NULL ? errmsg : "cannot read the program here");
		talloc_free(s);
		return;
	}
	/* A private read position: several children may be served at once. */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	rfd = open(path, O_RDONLY | O_CLOEXEC);
	if (rfd < 0) {
		refuse(r, s->child, s->h_meta, "cannot read the program here");
		talloc_free(s);
		return;
	}
	s->out = mg__chan_out_new(s, r, rfd, s->child, MG_WINDOW_DEFAULT, on_served, s);
	if (s->out == NULL) {
		refuse(r, s->child, s->h_meta, "cannot read the program here");
		talloc_free(s);
		return;
	}
	ans.size = img->size;
	ans.h_ack = mg__chan_out_ack_handle(s->out);
	mg__fetch_meta_encode(meta, &ans);
	/* A child gone meanwhile would never take the bytes. */
	if (mg__router_send(r, s->child, s->h_meta, 0, 0, meta, sizeof(meta)) != 0) {
		talloc_free(s);
		return;
	}
	note_served(img, s->child);
	mg__chan_out_start(s->out, s->h_data);
}

/* A new request from 'child', within its share and the total, or NULL. */
static struct serve *admit(struct mg_images *im, uint32_t child, const char **_why)
{
	struct requester *who = (struct requester *)mg__idtab_find(&im->requesters, child);
	struct serve *s;

	if (im->pending >= im->max_pending) {
		*_why = "too many program fetches here";
		return NULL;
	}
	if (who != NULL && who->pending >= im->max_per_child) {
		*_why = "too many program fetches at once";
		return NULL;
	}
	*_why = "cannot fetch the program here";
	s = talloc_zero(im, struct serve);
	if (s == NULL) {
		return NULL;
	}
	if (who == NULL) {
		who = talloc_zero(im, struct requester);
		if (who == NULL) {
			talloc_free(s);
			return NULL;
		}
		who->link.id = child;
		mg__idtab_add(im, &im->requesters, &who->link);
	}
	who->pending++;
	im->pending++;
	s->im = im;
	s->who = who;
	s->child = child;
	talloc_set_destructor(s, serve_destructor);
	return s;
}

void mg__fetch_on_request(struct mg_router *r, struct mg_msg *m, void *data)
{
	struct mg_images *im = talloc_get_type_abort(data, struct mg_images);
	struct mg__fetch_req rq;
	uint32_t id, h_meta;
	const char *why;
	struct serve *s;
	size_t n;

	if (mg__fetch_req_decode(m->data, m->len, &rq) != 0) {
		return;
	}
	id = rq.id;
	h_meta = rq.h_meta;
	mg__router_parents(r, &n);
	if (mg__images_find(im, id) == NULL && n == 0) {
		/* The master serves only the programs it registered. */
		refuse(r, m->src, h_meta, "no such program");
		return;
	}
	s = admit(im, m->src, &why);
	if (s == NULL) {
		refuse(r, m->src, h_meta, why);
		return;
	}
	s->id = id;
	s->h_data = rq.h_data;
	s->h_meta = h_meta;
	/* An agent fetches it from its own parent first, once, and keeps it
	 * for its other children. The child checks the size itself. */
	if (mg__images_get_any(im, s, id, ANY_SIZE, serve_now, s) != 0) {
		refuse(r, m->src, h_meta, "cannot fetch the program here");
		talloc_free(s);
	}
}

struct mg_images *mg__images_new(TALLOC_CTX *mem_ctx, struct mg_router *r)
{
	struct mg_images *im = mg__images_alloc(mem_ctx, r);

	if (im != NULL &&
	    (mg__router_add_handler(im, r, MG_H_FETCH, MG_POL_CHILD, 0, true, mg__fetch_on_request,
				    im) == NULL ||
	     mg__router_add_handler(im, r, MG_H_FETCH_DROP, MG_POL_PARENT, 0, true, on_drop,
				    im) == NULL)) {
		TALLOC_FREE(im);
	}
	if (im != NULL) {
		im->on_gone = tell_drop;
	}
	return im;
}
