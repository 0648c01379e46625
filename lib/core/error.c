/* Error texts for negative errno values and MG_ERR_* codes. */
#include <string.h>

#include "mitogen/error.h"

/* Linux errno values stay below this (the kernel's MAX_ERRNO). */
#define MAX_ERRNO 4095

const char *mg_strerror(int err)
{
	switch (err) {
	case 0:
		return "success";
	case MG_ERR_PROTOCOL:
		return "protocol error";
	case MG_ERR_TOO_BIG:
		return "message too large";
	case MG_ERR_CHAIN:
		return "bad hop chain";
	case MG_ERR_DEAD:
		return "dead message";
	case MG_ERR_DISCONNECTED:
		return "hop disconnected";
	case MG_ERR_BOOT:
		return "hop exited before the agent was up";
	case MG_ERR_TIMEOUT:
		return "timed out";
	case MG_ERR_VERSION:
		return "protocol version mismatch";
	case MG_ERR_POLICY:
		return "refused by policy";
	case MG_ERR_NOAGENT:
		return "agent image not found";
	case MG_ERR_CANCELLED:
		return "cancelled";
	case MG_ERR_CHANNEL:
		return "channel closed (dead message received)";
	case MG_ERR_SELECT_OWNED:
		return "Cannot add: Receiver is already owned by another Select";
	case MG_ERR_SELECT_CYCLE:
		return "Adding this Select instance would create a Select cycle";
	case MG_ERR_SELECT_EMPTY:
		return "Cannot get(), Select instance is empty";
	case MG_ERR_CALL:
		return "call failed (dead reply)";
	case MG_ERR_STREAM:
		return "stream failed";
	case MG_ERR_EOF:
		return "unexpected end of stream";
	case MG_ERR_LATCH:
		return "closed while waited on";
	case MG_ERR_PASSWORD:
		return "password wrong or required";
	case MG_ERR_HOSTKEY:
		return "host key unknown or changed";
	default:
		break;
	}
	if (err < 0 && err >= -MAX_ERRNO) {
		/* The library is single-threaded; strerror_r differs between
		 * glibc and musl. */
		return strerror(-err);
	}
	return "unknown error";
}
