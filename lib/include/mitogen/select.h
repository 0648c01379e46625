/*
 * Select: wait on many receivers, or nested selects, at once (mitogen's
 * Select). Messages come out in the order they arrived. By default a
 * select is one-shot: a receiver (or nested select) leaves it after its
 * first message, so a loop over mg_select_get() ends with
 * MG_ERR_SELECT_EMPTY once every receiver has answered: scatter/gather.
 *
 * A receiver or select belongs to at most one select. Freeing a member
 * takes it out of its select; freeing a select lets its members go (they
 * are not freed). The refusals are mitogen's, with its texts from
 * mg_strerror():
 *   MG_ERR_SELECT_OWNED  "Cannot add: Receiver is already owned by another Select"
 *   MG_ERR_SELECT_CYCLE  "Adding this Select instance would create a Select cycle"
 *   MG_ERR_SELECT_EMPTY  "Cannot get(), Select instance is empty"
 */
#ifndef MITOGEN_SELECT_H
#define MITOGEN_SELECT_H

#include <stddef.h>
#include <talloc.h>
#include "mitogen/message.h"
#include "mitogen/receiver.h"

#ifdef __cplusplus
extern "C" {
#endif

struct mg_select;

/* Keep members after their messages (mitogen's oneshot=False). */
#define MG_SELECT_PERSIST 0x1u

/* A select, or NULL on ENOMEM. */
struct mg_select *mg_select_new(TALLOC_CTX *mem_ctx, unsigned flags);

/*
 * Add a receiver. Messages it already holds count as arrived now.
 * Returns 0, MG_ERR_SELECT_OWNED, -EBUSY (it hands messages to a
 * callback), -EXDEV (its loop is not the select's) or -ENOMEM.
 */
int mg_select_add(struct mg_select *sel, struct mg_receiver *rx);
/* Nest 'child' in 'sel'. Returns 0, MG_ERR_SELECT_CYCLE (sel is child,
 * or inside it), MG_ERR_SELECT_OWNED, -EXDEV or -ENOMEM. */
int mg_select_add_select(struct mg_select *sel, struct mg_select *child);
/* Take a member out. Returns 0 or -ENOENT if it is not in 'sel'. */
int mg_select_remove(struct mg_select *sel, struct mg_receiver *rx);
int mg_select_remove_select(struct mg_select *sel, struct mg_select *child);
/* Members (receivers and nested selects). */
size_t mg_select_count(const struct mg_select *sel);

/*
 * The next message to arrive on any member, at any depth, as a child of
 * mem_ctx; *_rx (may be NULL) is the receiver it came from. Runs the loop
 * as mg_receiver_get() does and returns the same codes (0,
 * MG_ERR_CHANNEL with the dead message, MG_ERR_TIMEOUT, -EDEADLK,
 * MG_ERR_CANCELLED), or MG_ERR_SELECT_EMPTY when it has no members. A
 * one-shot select lets the receiver go after a dead message too.
 */
int mg_select_get(TALLOC_CTX *mem_ctx, struct mg_select *sel, int timeout_ms,
		  struct mg_receiver **_rx, struct mg_message **_msg);

/*
 * One message from each of the 'n' receivers, in the order they arrive
 * (mitogen's Select.all). On return, successful or not, *_msgs (a child
 * of mem_ctx, NULL when *_n is 0) holds the *_n messages taken; after
 * MG_ERR_CHANNEL the last one is the dead message. The receivers are back
 * out of the temporary select when this returns. Returns 0 or as
 * mg_select_get and mg_select_add.
 */
int mg_select_all(TALLOC_CTX *mem_ctx, struct mg_receiver *const *rxs, size_t n,
		  int timeout_ms, struct mg_message ***_msgs, size_t *_n);

#ifdef __cplusplus
}
#endif

#endif
