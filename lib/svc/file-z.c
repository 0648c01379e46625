/*
 * The frames of a compressed file stream (svc-file.h, docs/PROTOCOL.md
 * section 5.9): each frame is coded alone, so a relay or the master can
 * pass them on as plain bytes and the receiver needs no window across
 * frames. Data that does not compress (.gz, .jpg, .zst) goes stored,
 * and after two frames of one file fail to shrink, only one frame in
 * 32 of that file is tried, so it costs little more than a copy.
 *
 * A frame is coded in steps: the sender yields to its loop between them
 * (deflate runs at some 60 MB/s, a whole frame would hold the loop for
 * milliseconds, and a window's worth of frames for a tenth of a second).
 */
#include <string.h>
#include "deflate.h"
#include "mitogen/error.h"
#include "svc-file.h"

#define FAILS_TO_SKIP 2
#define RETRY_EVERY 32

struct mg__zenc {
	struct mg__deflate d;
	unsigned fails, skipped;
	const uint8_t *raw;  /* the frame being made */
	size_t n;
	uint8_t *out;
	bool trying;         /* deflate was started on it */
};

struct mg__zenc *mg__zenc_new(TALLOC_CTX *mem_ctx)
{
	return talloc_zero(mem_ctx, struct mg__zenc);
}

void mg__zenc_file(struct mg__zenc *z)
{
	z->fails = 0;
	z->skipped = 0;
}

void mg__zenc_start(struct mg__zenc *z, const uint8_t *raw, size_t n, uint8_t *out)
{
	z->raw = raw;
	z->n = n;
	z->out = out;
	z->trying = z->fails < FAILS_TO_SKIP || ++z->skipped % RETRY_EVERY == 0;
	if (z->trying) {
		mg__deflate_start(&z->d, raw, n, out + MG__ZF_HDR, n - 1);
	}
}

size_t mg__zenc_step(struct mg__zenc *z, size_t step)
{
	size_t n = z->n;
	long k = 0;

	if (z->trying) {
		k = mg__deflate_step(&z->d, step);
		if (k == MG__DEFLATE_MORE) {
			return 0;
		}
		z->fails = k == 0 ? z->fails + 1 : 0;
	}
	if (k == 0) {
		memcpy(z->out + MG__ZF_HDR, z->raw, n);
		k = (long)n;
	}
	z->out[0] = (size_t)k < n ? MG__ZF_DEFLATE : MG__ZF_STORED;
	mg__put_be32(z->out + 1, (uint32_t)k);
	return MG__ZF_HDR + (size_t)k;
}

struct mg__zdec {
	struct mg__inflate st;
	uint8_t hdr[MG__ZF_HDR];
	size_t hgot;
	uint32_t len, got;   /* the frame's payload, and how much came */
	uint8_t *in, *out;   /* a deflated frame, and what it decodes to */
	bool bad;
	mg__zdec_sink_fn sink;
	void *data;
};

struct mg__zdec *mg__zdec_new(TALLOC_CTX *mem_ctx, mg__zdec_sink_fn sink, void *data)
{
	struct mg__zdec *z = talloc_zero(mem_ctx, struct mg__zdec);

	if (z == NULL) {
		return NULL;
	}
	z->in = talloc_size(z, MG__ZF_RAW);
	z->out = talloc_size(z, MG__ZF_RAW);
	if (z->in == NULL || z->out == NULL) {
		talloc_free(z);
		return NULL;
	}
	z->sink = sink;
	z->data = data;
	return z;
}

static int header(struct mg__zdec *z)
{
	uint8_t kind = z->hdr[0];

	z->len = mg__get_be32(z->hdr + 1);
	z->got = 0;
	/* A deflated frame is smaller than what it holds. */
	if ((kind != MG__ZF_STORED && kind != MG__ZF_DEFLATE) || z->len == 0 ||
	    z->len > (kind == MG__ZF_STORED ? MG__ZF_RAW : MG__ZF_RAW - 1)) {
		return MG_ERR_PROTOCOL;
	}
	return 0;
}

int mg__zdec_feed(struct mg__zdec *z, const uint8_t *p, size_t n)
{
	while (n > 0 && !z->bad) {
		size_t k;

		if (z->hgot < MG__ZF_HDR) {
			k = MG__ZF_HDR - z->hgot < n ? MG__ZF_HDR - z->hgot : n;
			memcpy(z->hdr + z->hgot, p, k);
			z->hgot += k;
			z->bad = z->hgot == MG__ZF_HDR && header(z) != 0;
		} else if (z->hdr[0] == MG__ZF_STORED) {
			k = z->len - z->got < n ? z->len - z->got : n;
			z->got += (uint32_t)k;
			z->hgot = z->got == z->len ? 0 : z->hgot;
			z->sink(z->data, p, k);
		} else {
			long out;

			k = z->len - z->got < n ? z->len - z->got : n;
			memcpy(z->in + z->got, p, k);
			z->got += (uint32_t)k;
			if (z->got == z->len) {
				z->hgot = 0;
				out = mg__inflate(&z->st, z->in, z->len, z->out, MG__ZF_RAW);
				z->bad = out <= 0;
				if (out > 0) {
					z->sink(z->data, z->out, (size_t)out);
				}
			}
		}
		p += k;
		n -= k;
	}
	return z->bad ? MG_ERR_PROTOCOL : 0;
}
