/*
 * The records of a file stream and the checksum of its files
 * (svc-file.h, docs/PROTOCOL.md section 5.9), shared by the sending end
 * (file-pack.c) and the receiving end (file-unpack.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include "mitogen/error.h"
#include "svc-file.h"

/* --- records --- */

static int put_meta(struct mg_buf *b, const struct mg__rec_meta *m)
{
	int r = 0;

	r |= mg__buf_put_u32(b, m->mode);
	r |= mg__buf_put_u64(b, m->mtime_s);
	r |= mg__buf_put_u32(b, m->mtime_ns);
	r |= mg__buf_put_u64(b, m->atime_s);
	r |= mg__buf_put_u32(b, m->atime_ns);
	r |= mg__buf_put_u32(b, m->uid);
	r |= mg__buf_put_u32(b, m->gid);
	return r;
}

static int put_strn(struct mg_buf *b, const char *s, size_t n)
{
	return mg__buf_put_u32(b, (uint32_t)n) | mg__buf_put(b, s, n);
}

int mg__rec_encode(struct mg_buf *b, const struct mg__rec_meta *m)
{
	size_t start = b->len;
	int r = mg__buf_put_u8(b, (uint8_t)m->type) | mg__buf_put_u32(b, 0);

	switch (m->type) {
	case MG__REC_DIR:
	case MG__REC_FILE:
	case MG__REC_CFILE:
	case MG__REC_LINK:
		r |= put_strn(b, m->path, m->path_len) | put_meta(b, m);
		if (m->type == MG__REC_DIR && m->host != 0) {
			r |= mg__buf_put_u64(b, m->host) | mg__buf_put_u64(b, m->dev) |
			     mg__buf_put_u64(b, m->ino);
		} else if (m->type == MG__REC_FILE || m->type == MG__REC_CFILE) {
			r |= mg__buf_put_u64(b, m->size);
		} else if (m->type == MG__REC_LINK) {
			r |= put_strn(b, m->target, m->target_len);
		}
		break;
	case MG__REC_HARD:
	case MG__REC_ERROR:
		r |= put_strn(b, m->path, m->path_len) | put_strn(b, m->target, m->target_len);
		break;
	case MG__REC_TAIL:
		r |= mg__buf_put_u64(b, m->hash) | mg__buf_put_u32(b, m->err);
		break;
	default:
		break;
	}
	if (r != 0) {
		return -ENOMEM;
	}
	mg__put_be32(b->data + start + 1, (uint32_t)(b->len - start - MG__REC_PREFIX));
	return 0;
}

static int get_meta(struct mg_buf *b, struct mg__rec_meta *m)
{
	return mg__buf_get_u32(b, &m->mode) | mg__buf_get_u64(b, &m->mtime_s) |
	       mg__buf_get_u32(b, &m->mtime_ns) | mg__buf_get_u64(b, &m->atime_s) |
	       mg__buf_get_u32(b, &m->atime_ns) | mg__buf_get_u32(b, &m->uid) |
	       mg__buf_get_u32(b, &m->gid);
}

/* A string that is not null (a path, a link target, a reason). */
static int get_text(struct mg_buf *b, const char **_s, size_t *_n)
{
	if (mg__buf_get_strn(b, _s, _n) != 0 || *_s == NULL) {
		return MG_ERR_PROTOCOL;
	}
	return 0;
}

int mg__rec_decode(char type, const uint8_t *p, size_t n, struct mg__rec_meta *m)
{
	struct mg_buf b;
	int r = 0;

	memset(m, 0, sizeof(*m));
	m->type = type;
	mg__buf_view(&b, p, n);
	switch (type) {
	case MG__REC_DIR:
	case MG__REC_FILE:
	case MG__REC_CFILE:
	case MG__REC_LINK:
		r = get_text(&b, &m->path, &m->path_len) | get_meta(&b, m);
		if (r == 0 && type == MG__REC_DIR && mg__buf_left(&b) >= 24) {
			/* Optional: the source directory's identity. */
			r = mg__buf_get_u64(&b, &m->host) | mg__buf_get_u64(&b, &m->dev) |
			    mg__buf_get_u64(&b, &m->ino);
		} else if (r == 0 && (type == MG__REC_FILE || type == MG__REC_CFILE)) {
			r = mg__buf_get_u64(&b, &m->size);
		} else if (r == 0 && type == MG__REC_LINK) {
			r = get_text(&b, &m->target, &m->target_len);
		}
		break;
	case MG__REC_HARD:
	case MG__REC_ERROR:
		r = get_text(&b, &m->path, &m->path_len) | get_text(&b, &m->target, &m->target_len);
		break;
	case MG__REC_TAIL:
		r = mg__buf_get_u64(&b, &m->hash) | mg__buf_get_u32(&b, &m->err);
		break;
	case MG__REC_END:
		break;
	default:
		return MG_ERR_PROTOCOL;
	}
	/* Bytes after the fields are a later version's: ignored. */
	return r != 0 ? MG_ERR_PROTOCOL : 0;
}

uint64_t mg__file_host_id(void)
{
	int fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
	uint64_t h = 0xcbf29ce484222325ull;
	char buf[64];
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf)) : -1;

	if (fd >= 0) {
		close(fd);
	}
	if (n < 32) {
		return 0;
	}
	/* FNV-1a of its text */
	for (ssize_t i = 0; i < n; i++) {
		h = (h ^ (uint8_t)buf[i]) * 0x100000001b3ull;
	}
	return h != 0 ? h : 1;
}

/* --- checksum ---
 *
 * A 64-bit multiply-xor hash over little-endian 8-byte words, dealt in
 * turn to four lanes so that four multiplies run at once (one lane
 * waits ~5 cycles per word on the last: 3x slower, and then the hash
 * was a third of each end's CPU on a big file). Lanes are folded, with
 * the length, at the end. No table and no library in the agent. It is
 * there to catch a stream cut, reordered or corrupted on its way (with
 * the size), not an attacker: the hops are trusted transports. */

#define HASH_K 0x9e3779b97f4a7c15ull

static uint64_t mix(uint64_t h, uint64_t w)
{
	h = (h ^ w) * HASH_K;
	return h ^ h >> 31;
}

static uint64_t word(const uint8_t *p)
{
	uint64_t w;

	memcpy(&w, p, 8);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	w = __builtin_bswap64(w);
#endif
	return w;
}

/* Whole blocks of 32 bytes: the bytes used. */
static size_t blocks(struct mg__hash *s, const uint8_t *p, size_t n)
{
	uint64_t a = s->h[0], b = s->h[1], c = s->h[2], d = s->h[3];
	size_t done = 0;

	for (; n - done >= MG__HASH_BLOCK; done += MG__HASH_BLOCK) {
		a = mix(a, word(p + done));
		b = mix(b, word(p + done + 8));
		c = mix(c, word(p + done + 16));
		d = mix(d, word(p + done + 24));
	}
	s->h[0] = a;
	s->h[1] = b;
	s->h[2] = c;
	s->h[3] = d;
	return done;
}

void mg__hash_init(struct mg__hash *s)
{
	memset(s, 0, sizeof(*s));
	for (int i = 0; i < 4; i++) {
		s->h[i] = 0x6d67636f70793031ull + (uint64_t)i;
	}
}

void mg__hash_update(struct mg__hash *s, const uint8_t *p, size_t n)
{
	s->len += n;
	if (n == 0) {
		return;
	}
	if (s->nb > 0) {
		size_t k = MG__HASH_BLOCK - s->nb < n ? MG__HASH_BLOCK - s->nb : n;

		memcpy(s->buf + s->nb, p, k);
		s->nb += (unsigned)k;
		p += k;
		n -= k;
		if (s->nb < MG__HASH_BLOCK) {
			return;
		}
		blocks(s, s->buf, MG__HASH_BLOCK);
		s->nb = 0;
	}
	size_t done = blocks(s, p, n);

	memcpy(s->buf, p + done, n - done);
	s->nb = (unsigned)(n - done);
}

uint64_t mg__hash_final(const struct mg__hash *s)
{
	struct mg__hash t = *s;
	uint64_t h;

	/* A last part block, zero-padded: the length tells it apart. */
	if (t.nb > 0) {
		memset(t.buf + t.nb, 0, MG__HASH_BLOCK - t.nb);
		blocks(&t, t.buf, MG__HASH_BLOCK);
	}
	h = mix(mix(mix(t.h[0], t.h[1]), t.h[2]), t.h[3]);
	return mix(h, t.len);
}
