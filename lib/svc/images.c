/* Pushed programs: see images.h. FETCH's messages are in svc-fetch.c. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "buf.h"
#include "channel.h"
#include "idtab.h"
#include "images.h"
#include "mitogen/error.h"
#include "mitogen/log.h"
#include "protocol.h"
#include "svc-fetch.h"

#ifndef MFD_CLOEXEC
#define MFD_CLOEXEC 0x0001U
#endif
#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U
#endif

/* A waiter that takes the program whatever its size (a child's FETCH:
 * the child checks the size itself, from our answer). */
#define ANY_SIZE UINT64_MAX

struct waiter {
	struct waiter *next;
	struct image *img;
	uint64_t size;	/* what the requester expects, or ANY_SIZE */
	mg_image_ready_fn ready;
	void *data;
	bool fired;
};

struct image {
	struct mg__ident link;	/* first: im->images, keyed by program id */
	struct mg_images *im;
	bool linked;
	uint64_t size;	/* asked for until the parent answers, then its size */
	uint64_t got;	/* bytes written so far */
	int fd;		/* none until the parent says it has the program */
	bool complete;
	bool failed;
	bool bad;	/* a write failed, or more bytes came than announced */
	const char *errmsg;
	struct mg_chan_in *in;	 /* while fetching */
	struct mg_handler *meta;
	struct waiter *waiters;
};

/* A child with FETCH requests being served here, and how many. */
struct requester {
	struct mg__ident link;	/* first: im->requesters, keyed by child id */
	unsigned pending;
};

struct mg_images {
	struct mg_router *r;
	struct mg__idtab images;
	struct mg__idtab requesters;
	unsigned pending;	/* FETCH requests being served, all children */
	unsigned max_pending;
	unsigned max_per_child;
	bool dying;
};

int mg__anon_exec_file(void)
{
	static const char *const dirs[] = { NULL, "/tmp", "/var/tmp", "/dev/shm", NULL };
	int fd;

	/* MFD_EXEC where the kernel knows it (6.3+: memfd_noexec policy). */
	fd = (int)syscall(SYS_memfd_create, "mitogen-exec", MFD_CLOEXEC | MFD_EXEC);
	if (fd < 0 && errno == EINVAL) {
		fd = (int)syscall(SYS_memfd_create, "mitogen-exec", MFD_CLOEXEC);
	}
	if (fd >= 0) {
		return fd;
	}
	/* Where memfd is refused: a private file, unlinked at once. */
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		const char *d = i == 0 ? getenv("TMPDIR") : dirs[i];
		struct statvfs vfs;
		char path[512];
		if (d == NULL || d[0] == '\0') {
			continue;
		}
		/* A noexec mount would take the file but refuse to run it. */
		if (statvfs(d, &vfs) != 0 || (vfs.f_flag & ST_NOEXEC) != 0) {
			continue;
		}
		snprintf(path, sizeof(path), "%s/.mitogen-exec.XXXXXX", d);
		fd = mkostemp(path, O_CLOEXEC);
		if (fd < 0) {
			continue;
		}
		unlink(path);
		if (fchmod(fd, 0700) == 0) {
			return fd;
		}
		close(fd);
	}
	return -EACCES;
}

/* --- the store --- */

static struct image *find(const struct mg_images *im, uint32_t id)
{
	return (struct image *)mg__idtab_find(&im->images, id);
}

/* Forget the image: the next request for its id starts afresh. */
static void unlink_image(struct image *img)
{
	if (img->linked && !img->im->dying) {
		mg__idtab_del(&img->im->images, &img->link);
	}
	img->linked = false;
}

static int image_destructor(struct image *img)
{
	/* Waiters outliving their image (the store is going away) must not
	 * reach back into it. */
	for (struct waiter *w = img->waiters; w != NULL; w = w->next) {
		w->fired = true;
		w->img = NULL;
	}
	unlink_image(img);
	if (img->fd >= 0) {
		close(img->fd);
	}
	return 0;
}

static struct image *new_image(struct mg_images *im, uint32_t id, uint64_t size)
{
	struct image *img = talloc_zero(im, struct image);

	if (img == NULL) {
		return NULL;
	}
	img->link.id = id;
	img->im = im;
	img->size = size;
	img->fd = -1;
	talloc_set_destructor(img, image_destructor);
	mg__idtab_add(im, &im->images, &img->link);
	img->linked = true;
	return img;
}

int mg__images_put(struct mg_images *im, uint32_t id, int fd, uint64_t size)
{
	struct image *img;

	if (find(im, id) != NULL) {
		close(fd);
		return -EEXIST;
	}
	img = new_image(im, id, size);
	if (img == NULL) {
		close(fd);
		return -ENOMEM;
	}
	img->fd = fd;
	img->complete = true;
	return 0;
}

static void fire(struct image *img)
{
	struct waiter *w;

	while ((w = img->waiters) != NULL) {
		const char *why = img->complete ? NULL : img->errmsg;
		int fd = img->complete ? img->fd : -1;

		if (img->complete && w->size != ANY_SIZE && w->size != img->size) {
			fd = -1;
			why = "bad answer to a program fetch";
		}
		img->waiters = w->next;
		w->fired = true;
		/* The callback may free the waiter's owner: hold it apart. */
		talloc_steal(NULL, w);
		w->ready(w->data, fd, why);
		talloc_free(w);
	}
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
	unlink_image(img);
	if (img->in != NULL && !mg__chan_in_done(img->in)) {
		TALLOC_FREE(img->in);
	}
	TALLOC_FREE(img->meta);
	fire(img);
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
	fire(img);
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
	fd = mg__anon_exec_file();
	if (fd < 0) {
		/* The parent's sender would wait for credit forever. */
		mg__router_send(r, m->src, meta.h_ack, 0, MG_F_DEAD, "reader closed", 13);
		fetch_failed(img, "cannot store the program here");
		return;
	}
	img->fd = fd;
	img->size = meta.size;
	mg__chan_in_set_ack(img->in, meta.h_ack);
}

static int start_fetch(struct mg_images *im, struct image *img)
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

static int waiter_destructor(struct waiter *w)
{
	struct waiter **pp;

	if (w->fired) {
		return 0;
	}
	for (pp = &w->img->waiters; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == w) {
			*pp = w->next;
			break;
		}
	}
	return 0;
}

static void fire_later(void *data)
{
	fire(talloc_get_type_abort(data, struct image));
}

/* 'size' is what the requester expects, or ANY_SIZE. */
static int get(struct mg_images *im, const void *owner, uint32_t id, uint64_t size,
	       mg_image_ready_fn ready, void *data)
{
	struct image *img = find(im, id);
	struct waiter *w;
	int ret;

	if (img == NULL) {
		/* Ask for the size expected, if any: the answer has the truth. */
		img = new_image(im, id, size != ANY_SIZE ? size : 0);
		if (img == NULL) {
			return -ENOMEM;
		}
		if ((ret = start_fetch(im, img)) != 0) {
			talloc_free(img);
			return ret;
		}
	}
	if (img->complete && size != ANY_SIZE && img->size != size) {
		return -EINVAL;
	}
	w = talloc_zero(owner, struct waiter);
	if (w == NULL) {
		return -ENOMEM;
	}
	w->img = img;
	w->size = size;
	w->ready = ready;
	w->data = data;
	w->next = img->waiters;
	img->waiters = w;
	talloc_set_destructor(w, waiter_destructor);
	if (img->complete) {
		mg_loop_defer(mg__router_loop(im->r), img, fire_later, img);
	}
	return 0;
}

int mg__images_get(struct mg_images *im, const void *owner, uint32_t id, uint64_t size,
		   mg_image_ready_fn ready, void *data)
{
	if (size == ANY_SIZE) {
		return -EINVAL;
	}
	return get(im, owner, id, size, ready, data);
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
	struct image *img = find(s->im, s->id);
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

static void on_fetch(struct mg_router *r, struct mg_msg *m, void *data)
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
	if (find(im, id) == NULL && n == 0) {
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
	if (get(im, s, id, ANY_SIZE, serve_now, s) != 0) {
		refuse(r, m->src, h_meta, "cannot fetch the program here");
		talloc_free(s);
	}
}

static int images_destructor(struct mg_images *im)
{
	/* Its images and requests go with it: none need unlinking. */
	im->dying = true;
	return 0;
}

/* Fetches may hold at most half the descriptors this process may open,
 * so that serving children never starves connecting them. */
static unsigned fetch_budget(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY ||
	    rl.rlim_cur / 2 > MG_FETCH_MAX_TOTAL) {
		return MG_FETCH_MAX_TOTAL;
	}
	return rl.rlim_cur / 2 > MG_FETCH_MIN_TOTAL ? (unsigned)(rl.rlim_cur / 2) : MG_FETCH_MIN_TOTAL;
}

struct mg_images *mg__images_new(TALLOC_CTX *mem_ctx, struct mg_router *r)
{
	struct mg_images *im = talloc_zero(mem_ctx, struct mg_images);

	if (im == NULL) {
		return NULL;
	}
	im->r = r;
	im->max_per_child = MG_FETCH_PER_CHILD;
	im->max_pending = fetch_budget();
	talloc_set_destructor(im, images_destructor);
	if (mg__idtab_init(im, &im->images) != 0 || mg__idtab_init(im, &im->requesters) != 0 ||
	    mg__router_add_handler(im, r, MG_H_FETCH, MG_POL_CHILD, 0, true, on_fetch, im) == NULL) {
		talloc_free(im);
		return NULL;
	}
	return im;
}

void mg__images_set_limits(struct mg_images *im, unsigned per_child, unsigned total)
{
	im->max_per_child = per_child;
	im->max_pending = total;
}
