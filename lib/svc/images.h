/*
 * Programs pushed down the tree for mitogen-exec, sent once per link: the
 * master registers them; an agent that needs one fetches it from its
 * parent, which serves it from its own copy (fetching it first from its
 * own parent if needed). Each copy lives in a memfd (or an unlinked
 * private temp file where memfd is refused), never on disk by name.
 *
 * FETCH (child -> parent): u32 id, u32 h_data, u32 h_meta, u64 size. The parent
 * answers on h_meta with u64 size and u32 its ack handle (or a dead
 * message saying why), then sends the bytes on h_data as a byte channel.
 *
 * What a child may hold here is bounded (docs/PROTOCOL.md 5.5): at most
 * MG_FETCH_PER_CHILD requests at once per child, and a total of half the
 * descriptors this process may open (between the MIN and MAX below);
 * more are refused with a dead message. A copy gets a file only once the
 * parent has said it has the program.
 */
#ifndef MG_IMAGES_H
#define MG_IMAGES_H

#include <stdbool.h>
#include <stdint.h>
#include "router.h"

struct mg_images;
struct image;

#define MG_FETCH_PER_CHILD 8u
#define MG_FETCH_MIN_TOTAL 64u
#define MG_FETCH_MAX_TOTAL 4096u

/* The store of this process; serves FETCH from children. */
struct mg_images *mg__images_new(TALLOC_CTX *mem_ctx, struct mg_router *r);
/* The master: image 'id' is the file open on fd (owned). -EEXIST if
 * the id is taken. *_img (may be NULL) is the image until it goes (NULL
 * then, if the store goes first); mg__images_drop forgets it. */
int mg__images_put(struct mg_images *im, uint32_t id, int fd, uint64_t size,
		   struct image **_img);
/* Forget *_img (put by mg__images_put), if it is still there. */
void mg__images_drop(struct image **_img);

/* fd: a descriptor of the whole image (owned by the store; dup it to
 * keep it); or fd < 0 and errmsg. Called once, never from inside get. */
typedef void (*mg_image_ready_fn)(void *data, int fd, const char *errmsg);
/* Get image 'id' of 'size' bytes: at once from our copy, else from the
 * parent. The request is dropped when 'owner' is freed. */
int mg__images_get(struct mg_images *im, const void *owner, uint32_t id, uint64_t size,
		   mg_image_ready_fn ready, void *data);

/* Tests: other bounds than MG_FETCH_PER_CHILD and the total. */
void mg__images_set_limits(struct mg_images *im, unsigned per_child, unsigned total);

/* An anonymous file: a memfd called 'name' (executable where 'exec' asks
 * for it), else an unlinked 0700 temp file in $TMPDIR, /tmp, /dev/shm...
 * on a mount that lets programs run. Returns the fd or a negative errno. */
int mg__anon_file(const char *name, bool exec);

#endif
