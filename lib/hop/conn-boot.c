/* Booting the agent through a hop being connected: see conn-private.h. */
#include <errno.h>
#include <string.h>
#include <stdint.h>
#include "buf.h"
#include "conn-private.h"
#include "fuse.h"
#include "mitogen/error.h"
#include "mitogen/log.h"
#include "protocol.h"

/* At most this much of what waits for the hop rides in its image. */
#define TAIL_FRAMES_MAX (64u << 10)
/* And in its command line, when the image rides there (escaped). */
#define ARGV_FRAMES_MAX 2048

/* The tail of the image (boot.h; PROTOCOL section 2.2): HELLO, then
 * 'n' bytes of frames held for the hop, their length and the magic. */
static uint8_t *make_tail(TALLOC_CTX *mem_ctx, const uint8_t *hello, size_t hello_len,
			  const uint8_t *frames, size_t n, size_t plain_len, size_t *_len)
{
	size_t flen = hello_len + n;
	size_t tlen = plain_len > 0 ? MG_BOOT_TAIL2_LEN : MG_BOOT_TAIL_LEN;
	uint8_t *t = talloc_size(mem_ctx, flen + tlen), *w;

	if (t == NULL) {
		return NULL;
	}
	memcpy(t, hello, hello_len);
	if (n > 0) {
		memcpy(t + hello_len, frames, n);
	}
	w = t + flen;
	if (plain_len > 0) {
		/* The agent unpacked comes first: where its image starts. */
		mg__put_be32(w, (uint32_t)plain_len);
		w += 4;
	}
	mg__put_be32(w, (uint32_t)flen);
	memcpy(w + 4, plain_len > 0 ? MG_BOOT_TAIL2_MAGIC : MG_BOOT_TAIL_MAGIC, 4);
	*_len = flen + tlen;
	return t;
}

static int build_tail(struct mg_conn *c, const uint8_t *frames, size_t n)
{
	size_t len;
	uint8_t *t = make_tail(c, c->hello_frame, c->hello_frame_len, frames, n, c->plain_len, &len);

	if (t == NULL) {
		return -ENOMEM;
	}
	talloc_free(c->hello_tail);
	c->hello_tail = t;
	c->hello_tail_len = len;
	return 0;
}

/*
 * What HELLO tells the agent of context 'id' at 'hop': remote_name= names
 * its process (else "mitogen:ID"); debug=1 makes it log in detail, and
 * the master shows those lines whatever its level (*_level untouched
 * otherwise). 0, or -EINVAL for a bad debug= with *_errmsg set.
 */
int mg__conn_agent_naming(TALLOC_CTX *mem_ctx, const struct mg_hop *hop, uint32_t id, char **_name,
			uint8_t *_level, char **_errmsg)
{
	const char *rn = mg_hop_opt(hop, "remote_name");
	bool debug = false;

	*_name = rn != NULL ? talloc_strdup(mem_ctx, rn) : talloc_asprintf(mem_ctx, "mitogen:%u", id);
	if (mg__hop_bool(mem_ctx, hop, "debug", false, &debug, _errmsg) != 0) {
		return -EINVAL;
	}
	if (debug) {
		*_level = MG_LOG_DEBUG | MG_LOG_SHOW;
	}
	return 0;
}

/*
 * The ssh command of 'hop' that runs the sudo hop 'sudo' in it with the
 * exec-only agent 'lite' (PROTOCOL 2.3.3): its TAIL and the agent in the
 * command (IN_ARGV) or on stdin, WHOLE_LEN bytes after MITO003. A run and
 * --dry-run (mg__conn_argv_fused) make it alike. -E2BIG: too long for
 * the command.
 */
static int fused_argv(TALLOC_CTX *mem_ctx, const struct mg_method *m, const struct mg_hop *hop,
		      const struct mg_hop *sudo, const struct mg_image *lite, const uint8_t *tail,
		      size_t tail_len, bool in_argv, size_t whole_len, char ***_argv,
		      char **_errmsg)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	struct mg_boot_cmd boot = { 0 };
	char **words = NULL;
	bool direct;
	int ret;

	if (tmp == NULL) {
		return -ENOMEM;
	}
	if ((ret = mg__sudo_fuse_words(tmp, sudo, &words)) == 0) {
		boot.argv = (const char *const *)mg__boot_argv_fused(
			tmp, lite->data, lite->len, tail, tail_len, lite->esc, in_argv, whole_len,
			(const char *const *)words);
		ret = boot.argv == NULL ? (in_argv ? -E2BIG : -ENOMEM)
					: m->build_argv(mem_ctx, hop, &boot, _argv, &direct, _errmsg);
	}
	talloc_free(tmp);
	return ret;
}

/* Whether hops of this method may run sudo in their own command (PROTOCOL
 * 2.3.3): a run and --dry-run (mg__conn_argv_fused) ask alike. */
bool mg__conn_can_fuse(const struct mg_method *m)
{
	return FUSING && m->image_arg != NULL;
}

/*
 * sudo in the command (PROTOCOL 2.3.3): the 'n' bytes of frames held for
 * us are the CONNECT of the sudo hop and frames for it alone. The
 * exec-only agent goes with HELLO for the sudo hop and those frames, in
 * the command (IN_ARGV) or on stdin, and sudo -n runs it; our own HELLO
 * and every frame stay in hello_tail, behind the whole agent, for
 * MITO003. 0 when the argv is made; else the caller makes the usual one.
 */
static int fuse_argv(struct mg_conn *c, const uint8_t *frames, size_t n, bool in_argv)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	struct mg_handler *h = NULL;
	uint8_t *mine = NULL, *hello = NULL, *tail;
	size_t nmine = 0, hello_len = 0, tail_len;
	char **argv = NULL, *msg = NULL, *pn = NULL;
	uint8_t level = c->log_level;
	int ret = -ENOMEM;

	if (tmp == NULL) {
		return -ENOMEM;
	}
	/* Too long for the command, or anything else: the usual way. */
	if ((ret = mg__conn_agent_naming(tmp, c->fuse_hop, c->fuse_id, &pn, &level, &msg)) != 0 ||
	    (ret = mg__fuse_split(tmp, frames, n, c->id, c->fuse_id, &mine, &nmine)) != 0 ||
	    pn == NULL ||
	    (ret = mg__conn_hello_frame(c, tmp, c->fuse_id, level, pn, &h, &hello, &hello_len)) != 0 ||
	    (tail = make_tail(tmp, hello, hello_len, mine, nmine, 0, &tail_len)) == NULL ||
	    (ret = build_tail(c, frames, n)) != 0 ||
	    (ret = fused_argv(c, c->method, c->hop, c->fuse_hop, c->fuse_image, tail, tail_len,
			      in_argv, c->image->len + c->hello_tail_len, &argv, &msg)) != 0) {
		goto done;
	}
	talloc_free(c->argv);
	c->argv = argv;
	c->fuse_hello = talloc_steal(c, h);
	h = NULL;
	c->fused = true;
	c->image_in_argv = in_argv;
	if (c->fuse_timeout_ms > 0 && c->timer != NULL) {
		/* The sudo hop's time limit runs within ours now: both, as
		 * when one follows the other (the old timer stays on ENOMEM). */
		struct mg_timer *t = mg_timer_new(c, c->loop, (uint64_t)c->timeout_ms +
						  c->fuse_timeout_ms, c->on_timeout, c);
		if (t != NULL) {
			talloc_free(c->timer);
			c->timer = t;
		}
	}
	if (!in_argv) {
		c->fuse_tail = talloc_steal(c, tail);
		c->fuse_tail_len = tail_len;
	}
	mg_debug("%s: sudo runs in the command: %s, %zu bytes of requests with it%s", c->name,
		 c->fuse_name, nmine, in_argv ? "" : ", the image on stdin");
done:
	talloc_free(h);
	talloc_free(tmp);
	return ret;
}

/*
 * The image in the argv: what holds nothing secret (mg__router_send_public:
 * an EXEC without environment, a CONNECT without password) rides behind
 * HELLO in the command, if it still fits; the rest goes on stdin at once,
 * which the first stage never reads, and stays out of an argv anyone on
 * the far host may see. 0 or a negative error.
 */
static int take_held_argv(struct mg_conn *c)
{
	uint8_t *pub = NULL, *rest = NULL;
	size_t npub = 0, nrest = 0;
	char **argv = NULL, *msg = NULL;
	bool direct, in_argv = false;
	int ret;

	if ((ret = mg__router_hold_take(c, c->r, c->id, ARGV_FRAMES_MAX, true, &pub, &npub)) != 0 ||
	    (ret = mg__router_hold_take(c, c->r, c->id, TAIL_FRAMES_MAX, false, &rest, &nrest)) != 0) {
		return ret;
	}
	if (npub > 0 && build_tail(c, pub, npub) == 0 &&
	    mg__conn_build_argv(c, c->hop, c->image, 0, c->hello_tail, c->hello_tail_len, &argv, &direct,
		      &in_argv, &msg) == 0 && in_argv) {
		talloc_free(c->argv);
		c->argv = argv;
		mg_debug("%s: %zu bytes of requests ride with the image", c->name, npub);
	} else if (npub > 0) {
		/* Too long: the command made with HELLO alone stands. */
		talloc_free(argv);
		if ((ret = build_tail(c, NULL, 0)) != 0) {
			return ret;
		}
		rest = talloc_realloc(c, rest, uint8_t, npub + nrest);
		if (rest == NULL) {
			return -ENOMEM;
		}
		memmove(rest + npub, rest, nrest);
		memcpy(rest, pub, npub);
		nrest += npub;
	}
	talloc_free(msg);
	talloc_free(pub);
	if (nrest > 0) {
		c->early = rest;
		c->early_len = nrest;
		mg_debug("%s: %zu bytes of requests follow the image", c->name, nrest);
	}
	return 0;
}

/*
 * sudo in the command, if what waits for us allows it: in the command
 * when everything is public and short and the image may go there, else
 * with the image on stdin. 0 when fused, everything held taken.
 */
static int fuse_try(struct mg_conn *c)
{
	uint8_t *p = NULL;
	size_t n = 0;
	bool pub = false;
	int ret = mg__router_hold_peek(NULL, c->r, c->id, TAIL_FRAMES_MAX, &p, &n, &pub);

	if (ret == 0 && n == 0) {
		ret = -ENOTSUP;
	}
	if (ret == 0 && !(c->spare && pub && n <= ARGV_FRAMES_MAX &&
			  c->method->image_arg(c->hop) && fuse_argv(c, p, n, true) == 0)) {
		ret = fuse_argv(c, p, n, false);
	}
	if (ret == 0) {
		mg__router_hold_take_all(c->r, c->id);
	}
	talloc_free(p);
	return ret;
}

/*
 * What was sent to the hop while it was being started rides in its image,
 * behind HELLO, within the length the first stage reads: it costs no
 * round trip of its own. 1 when there was some (the argv, which carries
 * the length, must be made again), 0 when none, or a negative error.
 */
int mg__conn_take_held(struct mg_conn *c)
{
	uint8_t *p = NULL;
	size_t n = 0;
	int ret;

	if (c->direct) {
		return 0;
	}
	if (FUSING && c->fuse_id != 0 && fuse_try(c) == 0) {
		return 0;
	}
	if (c->image_in_argv) {
		return take_held_argv(c);
	}
	ret = mg__router_hold_take(c, c->r, c->id, TAIL_FRAMES_MAX, false, &p, &n);
	if (ret != 0 || n == 0) {
		return ret;
	}
	ret = build_tail(c, p, n);
	talloc_free(p);
	mg_debug("%s: %zu bytes of requests ride with the image", c->name, n);
	return ret == 0 ? 1 : ret;
}

/*
 * A hop on this host gets the agent unpacked before a packed image: it
 * runs that, without inflating the image (~5 ms of CPU), and still
 * pushes the packed image on (PROTOCOL 2.2). Without it, the image alone.
 */
void mg__conn_take_plain(struct mg_conn *c)
{
	if (mg__image_plain(c, c->image, &c->plain, &c->plain_len) == 0) {
		mg_debug("%s: the agent unpacked (%zu bytes) goes before the image", c->name,
			 c->plain_len);
	} else {
		c->plain = NULL;
		c->plain_len = 0;
	}
}

/*
 * Where the CPU sets the pace (a fan-out), an agent that pushes no image
 * on goes unpacked, in place of its packed image: its hop runs it
 * without the stub's inflate and second exec (~1 ms of CPU there, more
 * on a busy host), for a few KB more on the link: at most
 * UNPACKED_EXTRA_MAX, which the leaf agent's 6 KB is within and the
 * exec-only agent's 36 KB is not (~3 ms at 100 Mbit/s, more than it
 * saves) (PROTOCOL 2.2). *img: the hop's image, or sudo's in its
 * command (2.3.3), whose fallback still pushes the whole agent.
 */
#define UNPACKED_EXTRA_MAX 8192

void mg__conn_take_unpacked(struct mg_conn *c, const struct mg_image **img)
{
#ifdef MG_STATIC_AGENT
	/* An agent pushes its own image, the whole agent. */
	(void)c;
	(void)img;
#else
	struct mg_image *u;
	const uint8_t *data;
	size_t len;

	if (*img == NULL || !(*img)->no_push || mg__image_plain(c, *img, &data, &len) != 0 ||
	    len > (*img)->len + UNPACKED_EXTRA_MAX || (u = talloc_zero(c, struct mg_image)) == NULL) {
		return;
	}
	/* Kept with the packed image, which outlives the hop; never written. */
	u->data = (uint8_t *)(uintptr_t)data;
	u->len = len;
	u->self = (*img)->plain;
	*img = u;
	mg_debug("%s: the agent unpacked (%zu bytes) goes in place of the packed image", c->name, len);
#endif
}

/*
 * HELLO, encoded once the hop's id and our router are known: a handler for
 * the reply, and the frame, which rides at the end of the image with its
 * length and the tail magic (boot.h; PROTOCOL section 2.2).
 */
int mg__conn_hello_frame(struct mg_conn *c, TALLOC_CTX *mem_ctx, uint32_t id, uint8_t log_level,
		       const char *proc_name, struct mg_handler **_h, uint8_t **_frame,
		       size_t *_len)
{
	struct mg_buf *b = mg__buf_new(mem_ctx, 65536);
	struct mg_msg m = { 0 };
	int ret;

	if (b == NULL) {
		return -ENOMEM;
	}
	*_h = mg__router_add_handler(mem_ctx, c->r, 0, MG_POL_RESPONDENT, id, false,
				     c->on_hello, c);
	if (*_h == NULL) {
		return -ENOMEM;
	}
	if ((ret = mg__hello_encode(b, c->r, id, log_level, proc_name)) != 0) {
		return ret;
	}
	m.dst = id;
	m.src = mg__router_id(c->r);
	m.auth_id = m.src;
	m.handle = MG_H_HELLO;
	m.reply_to = mg__handler_handle(*_h);
	m.len = b->len;
	*_len = MG_HDR_LEN + b->len;
	*_frame = talloc_size(mem_ctx, *_len);
	if (*_frame == NULL) {
		return -ENOMEM;
	}
	mg__msg_header(&m, *_frame);
	memcpy(*_frame + MG_HDR_LEN, b->data, b->len);
	talloc_free(b);
	return 0;
}

int mg__conn_prepare_hello(struct mg_conn *c)
{
	int ret = mg__conn_hello_frame(c, c, c->id, c->log_level, c->proc_name, &c->hello, &c->hello_frame,
			      &c->hello_frame_len);

	return ret == 0 ? build_tail(c, NULL, 0) : ret;
}

/* The image, with HELLO at its end: the agent starts knowing who it is.
 * In the argv already, only what waited for the hop goes. */
void mg__conn_send_image(struct mg_conn *c)
{
	if (!c->image_in_argv && c->fused) {
		/* sudo's agent first; the whole one only after MITO003. */
		mg__stream_write_raw(c->stream, c->fuse_image->data, c->fuse_image->len);
		mg__stream_write_raw(c->stream, c->fuse_tail, c->fuse_tail_len);
	} else if (!c->image_in_argv) {
		if (c->plain != NULL) {
			mg__stream_write_raw(c->stream, c->plain, c->plain_len);
		}
		mg__stream_write_raw(c->stream, c->image->data, c->image->len);
		mg__stream_write_raw(c->stream, c->hello_tail, c->hello_tail_len);
	} else if (c->early != NULL) {
		mg__stream_write_raw(c->stream, c->early, c->early_len);
		TALLOC_FREE(c->early);
	}
	c->hello_sent = true;
}

/* mg__conn_argv; with a tail and a method that allows it, the image and
 * tail ride in the argv (*_in_argv). 'lead' bytes go before the image
 * (the agent unpacked: c->plain). */
int mg__conn_build_argv(TALLOC_CTX *mem_ctx, const struct mg_hop *hop, const struct mg_image *image,
		     size_t lead, const uint8_t *tail, size_t tail_len, char ***_argv,
		     bool *_direct, bool *_in_argv, char **_errmsg)
{
	const struct mg_method *m = mg__method_find(hop->method);
	TALLOC_CTX *tmp = talloc_new(NULL);
	struct mg_boot_cmd boot = { 0 };
	char **first;
	int ret;

	*_direct = false;
	*_in_argv = false;
	if (m != NULL && m->fork) {
		const char *argv[] = { "(fork of this process)", NULL };
		talloc_free(tmp);
		*_direct = true;
		*_argv = mg__strv_copy(mem_ctx, argv);
		return *_argv == NULL ? -ENOMEM : 0;
	}
	if (m == NULL || m->build_argv == NULL) {
		*_errmsg = talloc_asprintf(mem_ctx, "method '%s' is not implemented yet", hop->method);
		talloc_free(tmp);
		return -ENOSYS;
	}
	first = tail != NULL && lead == 0 && m->image_arg != NULL && m->image_arg(hop) ?
		mg__boot_argv_inline(tmp, image->data, image->len, tail, tail_len,
				     image->esc) : NULL;
	*_in_argv = first != NULL;
	if (first == NULL) {
		/* A plain agent before the image (lead): its header goes first. */
		first = lead == 0 && mg__image_guarded(image) ?
				mg__boot_argv_guarded(tmp, image->len + tail_len) :
				mg__boot_argv(tmp, lead + image->len + tail_len);
	}
	if (first == NULL) {
		talloc_free(tmp);
		return -ENOMEM;
	}
	boot.argv = (const char *const *)first;
	boot.self = image->self;
	boot.plain = image->plain;
	ret = m->build_argv(mem_ctx, hop, &boot, _argv, _direct, _errmsg);
	talloc_free(tmp);
	return ret;
}

int mg__conn_argv(TALLOC_CTX *mem_ctx, const struct mg_hop *hop, const struct mg_image *image,
		  size_t tail_len, char ***_argv, bool *_direct, char **_errmsg)
{
	bool in_argv;

	return mg__conn_build_argv(mem_ctx, hop, image, 0, NULL, tail_len, _argv, _direct, &in_argv, _errmsg);
}

int mg__conn_argv_fused(TALLOC_CTX *mem_ctx, const struct mg_hop *hop, const struct mg_hop *sudo,
			const struct mg_image *lite, const struct mg_image *whole, char ***_argv,
			char **_errmsg)
{
	const struct mg_method *m = mg__method_find(hop->method);

	if (m == NULL || !mg__conn_can_fuse(m) || m->build_argv == NULL) {
		return -ENOTSUP;
	}
	/* The form with the image on stdin, which counts it only. */
	return fused_argv(mem_ctx, m, hop, sudo, lite, NULL, 0, false, whole->len, _argv, _errmsg);
}

