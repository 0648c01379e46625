/* Pushed programs: see images.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "buf.h"
#include "channel.h"
#include "images.h"
#include "mitogen/error.h"
#include "mitogen/log.h"
#include "protocol.h"

#ifndef MFD_CLOEXEC
#define MFD_CLOEXEC 0x0001U
#endif
#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U
#endif

struct waiter {
	struct waiter *next;
	struct image *img;
	mg_image_ready_fn ready;
	void *data;
	bool fired;
};

struct image {
	struct image *next;
	struct mg_images *im;
	uint32_t id;
	uint64_t size;
	int fd;
	bool complete;
	bool failed;
	char *errmsg;
	struct mg_chan_in *in;   /* while fetching */
	struct mg_handler *meta;
	struct waiter *waiters;
};

struct mg_images {
	struct mg_router *r;
	struct image *images;
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

static void fire(struct image *img)
{
	struct waiter *w;

	while ((w = img->waiters) != NULL) {
		img->waiters = w->next;
		w->fired = true;
		/* The callback may free the waiter's owner: hold it apart. */
		talloc_steal(NULL, w);
		w->ready(w->data, img->complete ? img->fd : -1, img->complete ? NULL : img->errmsg);
		talloc_free(w);
	}
}

static struct image *find(struct mg_images *im, uint32_t id)
{
	for (struct image *i = im->images; i != NULL; i = i->next) {
		if (i->id == id) {
			return i;
		}
	}
	return NULL;
}

static int image_destructor(struct image *img)
{
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
	img->im = im;
	img->id = id;
	img->size = size;
	img->fd = -1;
	talloc_set_destructor(img, image_destructor);
	img->next = im->images;
	im->images = img;
	return img;
}

int mg__images_put(struct mg_images *im, uint32_t id, int fd, uint64_t size)
{
	struct image *img = new_image(im, id, size);

	if (img == NULL) {
		close(fd);
		return -ENOMEM;
	}
	img->fd = fd;
	img->complete = true;
	return 0;
}

/* --- fetching from the parent --- */

static void fetch_failed(struct image *img, const char *why)
{
	img->failed = true;
	talloc_free(img->errmsg);
	img->errmsg = talloc_strdup(img, why);
	TALLOC_FREE(img->in);
	TALLOC_FREE(img->meta);
	fire(img);
}

static void on_fetch_done(void *data, int err)
{
	struct image *img = data;
	struct stat st;

	if (err != 0) {
		fetch_failed(img, "the program's transfer failed");
		return;
	}
	if (fstat(img->fd, &st) != 0 || (uint64_t)st.st_size != img->size) {
		fetch_failed(img, "the program arrived cut short");
		return;
	}
	/* Keep it read-only: a file still open for writing cannot be run
	 * (ETXTBSY). */
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
	img->complete = true;
	mg_debug("program %u here (%llu bytes)", img->id, (unsigned long long)img->size);
	fire(img);
}

static void on_meta(struct mg_router *r, struct mg_msg *m, void *data)
{
	struct image *img = data;
	struct mg_buf b;
	uint64_t size;
	uint32_t ack;

	img->meta = NULL;
	if ((m->flags & MG_F_DEAD) != 0) {
		char *why = talloc_strndup(img, (const char *)m->data, m->len);
		fetch_failed(img, why != NULL ? why : "fetch refused");
		return;
	}
	mg__buf_view(&b, m->data, m->len);
	if (mg__buf_get_u64(&b, &size) != 0 || mg__buf_get_u32(&b, &ack) != 0 || size != img->size) {
		fetch_failed(img, "bad answer to a program fetch");
		return;
	}
	mg__chan_in_set_ack(img->in, ack);
}

static int start_fetch(struct mg_images *im, struct image *img)
{
	const uint32_t *parents;
	size_t n;
	uint8_t req[20];
	int fd, wfd;

	parents = mg__router_parents(im->r, &n);
	if (n == 0) {
		return -ENOENT;
	}
	fd = mg__anon_exec_file();
	if (fd < 0) {
		return fd;
	}
	/* One descriptor to write the bytes in, one to exec from. */
	wfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (wfd < 0) {
		close(fd);
		return -errno;
	}
	img->fd = fd;
	img->in = mg__chan_in_new(img, im->r, wfd, parents[0], on_fetch_done, img);
	img->meta = mg__router_add_handler(img, im->r, 0, MG_POL_RESPONDENT, parents[0], false,
					   on_meta, img);
	if (img->in == NULL || img->meta == NULL) {
		return -ENOMEM;
	}
	mg__put_be32(req, img->id);
	mg__put_be32(req + 4, mg__chan_in_handle(img->in));
	mg__put_be32(req + 8, mg__handler_handle(img->meta));
	mg__put_be32(req + 12, (uint32_t)(img->size >> 32));
	mg__put_be32(req + 16, (uint32_t)img->size);
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

int mg__images_get(struct mg_images *im, const void *owner, uint32_t id, uint64_t size,
		   mg_image_ready_fn ready, void *data)
{
	struct image *img = find(im, id);
	struct waiter *w;
	int ret;

	if (img != NULL && img->failed) {
		/* Try again: the last attempt may have met a passing failure. */
		TALLOC_FREE(img);
	}
	if (img == NULL) {
		img = new_image(im, id, size);
		if (img == NULL) {
			return -ENOMEM;
		}
		if ((ret = start_fetch(im, img)) != 0) {
			talloc_free(img);
			return ret;
		}
	}
	if (img->size != size) {
		return -EINVAL;
	}
	w = talloc_zero(owner, struct waiter);
	if (w == NULL) {
		return -ENOMEM;
	}
	w->img = img;
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

/* --- serving children --- */

struct serve {
	struct mg_images *im;
	uint32_t id;
	uint32_t child;
	uint32_t h_data;
	uint32_t h_meta;
	struct mg_chan_out *out;
};

static void on_served(void *data, int err)
{
	struct serve *s = data;

	mg_loop_free_later(mg__router_loop(s->im->r), s);
}

static void serve_now(void *data, int fd, const char *errmsg)
{
	struct serve *s = data;
	struct image *img;
	uint8_t meta[12];
	int rfd;

	if (fd < 0) {
		mg__router_send(s->im->r, s->child, s->h_meta, 0, MG_F_DEAD, errmsg, strlen(errmsg));
		talloc_free(s);
		return;
	}
	/* A private read position: several children may be served at once. */
	{
		char path[64];
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		rfd = open(path, O_RDONLY | O_CLOEXEC);
	}
	img = find(s->im, s->id);
	if (rfd < 0 || img == NULL) {
		const char *why = "cannot read the program here";
		mg__router_send(s->im->r, s->child, s->h_meta, 0, MG_F_DEAD, why, strlen(why));
		if (rfd >= 0) {
			close(rfd);
		}
		talloc_free(s);
		return;
	}
	s->out = mg__chan_out_new(s, s->im->r, rfd, s->child, MG_WINDOW_DEFAULT, on_served, s);
	if (s->out == NULL) {
		talloc_free(s);
		return;
	}
	mg__put_be32(meta, (uint32_t)(img->size >> 32));
	mg__put_be32(meta + 4, (uint32_t)img->size);
	mg__put_be32(meta + 8, mg__chan_out_ack_handle(s->out));
	mg__router_send(s->im->r, s->child, s->h_meta, 0, 0, meta, sizeof(meta));
	mg__chan_out_start(s->out, s->h_data);
}

static void on_fetch(struct mg_router *r, struct mg_msg *m, void *data)
{
	struct mg_images *im = talloc_get_type_abort(data, struct mg_images);
	struct mg_buf b;
	struct image *img;
	struct serve *s;
	uint32_t id;
	uint64_t size;
	size_t n;

	s = talloc_zero(im, struct serve);
	mg__buf_view(&b, m->data, m->len);
	if (s == NULL || mg__buf_get_u32(&b, &id) != 0 || mg__buf_get_u32(&b, &s->h_data) != 0 ||
	    mg__buf_get_u32(&b, &s->h_meta) != 0 || mg__buf_get_u64(&b, &size) != 0) {
		talloc_free(s);
		return;
	}
	s->im = im;
	s->id = id;
	s->child = m->src;
	img = find(im, id);
	mg__router_parents(r, &n);
	if (img == NULL && n == 0) {
		/* The master serves only the programs it registered. */
		const char *why = "no such program";
		mg__router_send(r, s->child, s->h_meta, 0, MG_F_DEAD, why, strlen(why));
		talloc_free(s);
		return;
	}
	/* An agent fetches it from its own parent first, once, and keeps it
	 * for its other children. */
	if (mg__images_get(im, s, id, img != NULL ? img->size : size, serve_now, s) != 0) {
		const char *why = "cannot fetch the program here";
		mg__router_send(r, s->child, s->h_meta, 0, MG_F_DEAD, why, strlen(why));
		talloc_free(s);
	}
}

struct mg_images *mg__images_new(TALLOC_CTX *mem_ctx, struct mg_router *r)
{
	struct mg_images *im = talloc_zero(mem_ctx, struct mg_images);

	if (im == NULL) {
		return NULL;
	}
	im->r = r;
	if (mg__router_add_handler(im, r, MG_H_FETCH, MG_POL_CHILD, 0, true, on_fetch, im) == NULL) {
		talloc_free(im);
		return NULL;
	}
	return im;
}
