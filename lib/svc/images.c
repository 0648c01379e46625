/* Pushed programs: the store (see images.h). Filling it from the parent
 * and serving it to children is the FETCH service, svc-fetch.c, which
 * also makes the store (mg__images_new) and gets from it. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "images-private.h"
#include "protocol.h"

#ifndef MFD_CLOEXEC
#define MFD_CLOEXEC 0x0001U
#endif
#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U
#endif

int mg__anon_file(const char *name, bool exec)
{
	static const char *const dirs[] = { NULL, "/tmp", "/var/tmp", "/dev/shm", NULL };
	int fd = -1;

	/* MFD_EXEC where the kernel knows it (6.3+: memfd_noexec policy);
	 * a file only read asks for none, which memfd_noexec=2 allows. */
	if (exec) {
		fd = (int)syscall(SYS_memfd_create, name, MFD_CLOEXEC | MFD_EXEC);
	}
	if (!exec || (fd < 0 && errno == EINVAL)) {
		fd = (int)syscall(SYS_memfd_create, name, MFD_CLOEXEC);
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

struct image *mg__images_find(const struct mg_images *im, uint32_t id)
{
	return (struct image *)mg__idtab_find(&im->images, id);
}

/* Forget the image: the next request for its id starts afresh. */
void mg__image_unlink(struct image *img)
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
	mg__image_unlink(img);
	if (img->im->on_gone != NULL) {
		img->im->on_gone(img);
	}
	if (img->fd >= 0) {
		close(img->fd);
	}
	if (img->slot != NULL) {
		*img->slot = NULL;
	}
	return 0;
}

struct image *mg__image_new(struct mg_images *im, uint32_t id, uint64_t size)
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

int mg__images_put(struct mg_images *im, uint32_t id, int fd, uint64_t size,
		   struct image **_img)
{
	struct image *img;

	if (mg__images_find(im, id) != NULL) {
		close(fd);
		return -EEXIST;
	}
	img = mg__image_new(im, id, size);
	if (img == NULL) {
		close(fd);
		return -ENOMEM;
	}
	img->fd = fd;
	img->complete = true;
	img->slot = _img;
	if (_img != NULL) {
		*_img = img;
	}
	return 0;
}

void mg__images_drop(struct image **_img)
{
	struct image *img = *_img;

	if (img != NULL) {
		img->slot = NULL;
		*_img = NULL;
		talloc_free(img);
	}
}

void mg__image_fire(struct image *img)
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
	mg__image_fire(talloc_get_type_abort(data, struct image));
}

int mg__image_wait(struct image *img, const void *owner, uint64_t size,
		   mg_image_ready_fn ready, void *data)
{
	struct waiter *w;

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
		mg_loop_defer(mg__router_loop(img->im->r), img, fire_later, img);
	}
	return 0;
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

struct mg_images *mg__images_alloc(TALLOC_CTX *mem_ctx, struct mg_router *r)
{
	struct mg_images *im = talloc_zero(mem_ctx, struct mg_images);

	if (im == NULL) {
		return NULL;
	}
	im->r = r;
	im->max_per_child = MG_FETCH_PER_CHILD;
	im->max_pending = fetch_budget();
	talloc_set_destructor(im, images_destructor);
	if (mg__idtab_init(im, &im->images) != 0 || mg__idtab_init(im, &im->requesters) != 0) {
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

