/*
 * sudo in an ssh hop's own command (docs/PROTOCOL.md 2.3.3): which of the
 * frames held for the ssh hop go to the agent sudo starts there.
 */
#include <errno.h>
#include <string.h>
#include "buf.h"
#include "fuse.h"
#include "protocol.h"
#include "stream.h"

int mg__fuse_split(TALLOC_CTX *mem_ctx, const uint8_t *frames, size_t n, uint32_t a,
		   uint32_t b, uint8_t **_rest, size_t *_nrest)
{
	uint8_t *rest = talloc_size(mem_ctx, n > 0 ? n : 1);
	size_t at = 0, out = 0;
	bool found = false;

	if (rest == NULL) {
		return -ENOMEM;
	}
	while (at < n) {
		struct mg_msg m = { 0 };
		size_t len;

		if (n - at < MG_HDR_LEN || mg__msg_parse_header(frames + at, UINT32_MAX, &m) != 0 ||
		    m.len > n - at - MG_HDR_LEN) {
			goto refuse;
		}
		len = MG_HDR_LEN + m.len;
		if (m.dst == a) {
			/* Only the CONNECT opening b: anything else for the
			 * ssh hop needs an agent of its own there. */
			if (found || m.handle != MG_H_CONNECT || m.len < 4 ||
			    mg__get_be32(frames + at + MG_HDR_LEN) != b) {
				goto refuse;
			}
			found = true;
		} else {
			memcpy(rest + out, frames + at, len);
			out += len;
		}
		at += len;
	}
	if (!found) {
		goto refuse;
	}
	*_rest = rest;
	*_nrest = out;
	return 0;
refuse:
	talloc_free(rest);
	return -ENOTSUP;
}
