/*
 * The program store's insides (images.c), shared with the FETCH service
 * (svc-fetch.c), which fills it from the parent and serves it to
 * children. Nothing else includes this.
 */
#ifndef MG_IMAGES_PRIVATE_H
#define MG_IMAGES_PRIVATE_H

#include <stdbool.h>
#include <stdint.h>
#include "idtab.h"
#include "images.h"
#include "router.h"

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
	int write_err;	/* the failed write's errno (ENOSPC...), 0: none */
	const char *errmsg;
	struct mg_chan_in *in;	 /* while fetching */
	struct mg_handler *meta;
	struct waiter *waiters;
	struct image **slot;	/* the master's holder: cleared when it goes */
	uint32_t *served;	/* the children sent a copy, told when it goes */
	size_t n_served;
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
	/* Called as an image goes (svc-fetch.c tells its children). */
	void (*on_gone)(struct image *img);
};

/* The store alone, without the FETCH handler (mg__images_new adds it). */
struct mg_images *mg__images_alloc(TALLOC_CTX *mem_ctx, struct mg_router *r);
/* A new image 'id' in the store, not filled yet; NULL on ENOMEM. */
struct image *mg__image_new(struct mg_images *im, uint32_t id, uint64_t size);
/* Wait for img: ready(data, ...) is called once it is there (at once,
 * from the loop, if it is); dropped when 'owner' is freed. 'size' as for
 * mg__images_get_any. */
int mg__image_wait(struct image *img, const void *owner, uint64_t size,
		   mg_image_ready_fn ready, void *data);
/* The image 'id' of the store, or NULL. */
struct image *mg__images_find(const struct mg_images *im, uint32_t id);
/* Forget the image: the next request for its id starts afresh. */
void mg__image_unlink(struct image *img);
/* Give the image (or its failure) to every waiter. */
void mg__image_fire(struct image *img);
/* svc-fetch.c: mg__images_get, where 'size' may also be ANY_SIZE (a
 * child's FETCH). */
int mg__images_get_any(struct mg_images *im, const void *owner, uint32_t id, uint64_t size,
		       mg_image_ready_fn ready, void *data);

/* svc-fetch.c: ask the parent for img (its id, and the size expected). */
int mg__fetch_start(struct mg_images *im, struct image *img);
/* svc-fetch.c: the MG_H_FETCH handler, serving children from im. */
void mg__fetch_on_request(struct mg_router *r, struct mg_msg *m, void *data);

#endif
