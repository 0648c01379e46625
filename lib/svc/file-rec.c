/*
 * The records of a file stream and the checksum of its files
 * (svc-file.h, docs/PROTOCOL.md section 5.9), shared by the sending end
 * (file-pack.c) and the receiving end (file-unpack.c).
 */
#include <errno.h>
#include <string.h>
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
	case MG__REC_LINK:
		r |= put_strn(b, m->path, m->path_len) | put_meta(b, m);
		if (m->type == MG__REC_FILE) {
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
	case MG__REC_LINK:
		r = get_text(&b, &m->path, &m->path_len) | get_meta(&b, m);
		if (r == 0 && type == MG__REC_FILE) {
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

/* --- checksum ---
 *
 * A 64-bit multiply-xor hash over little-endian 8-byte words: one
 * multiply per 8 bytes, so it costs far less than the link, with no
 * table and no library in the agent. It is there to catch a stream cut,
 * reordered or corrupted on its way (with the size), not an attacker:
 * the hops are trusted transports. */

#define HASH_K 0x9e3779b97f4a7c15ull

static void mix(struct mg__hash *s, uint64_t w)
{
	s->h = (s->h ^ w) * HASH_K;
	s->h ^= s->h >> 31;
}

void mg__hash_init(struct mg__hash *s)
{
	memset(s, 0, sizeof(*s));
	s->h = 0x6d67636f70793031ull;
}

void mg__hash_update(struct mg__hash *s, const uint8_t *p, size_t n)
{
	s->len += n;
	while (n > 0 && s->nc != 0) {
		s->carry |= (uint64_t)*p++ << (8 * s->nc);
		n--;
		if (++s->nc == 8) {
			mix(s, s->carry);
			s->carry = 0;
			s->nc = 0;
		}
	}
	for (; n >= 8; p += 8, n -= 8) {
		uint64_t w;

		memcpy(&w, p, 8);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
		w = __builtin_bswap64(w);
#endif
		mix(s, w);
	}
	for (; n > 0; n--) {
		s->carry |= (uint64_t)*p++ << (8 * s->nc++);
	}
}

uint64_t mg__hash_final(const struct mg__hash *s)
{
	struct mg__hash t = *s;

	mix(&t, t.carry ^ ((uint64_t)t.nc << 59));
	mix(&t, t.len);
	return t.h;
}

