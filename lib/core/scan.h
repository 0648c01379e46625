/* Reading numbers out of kernel text (/proc files) without sscanf, whose
 * scanf machinery would add about 10 KiB to the static agent. */
#ifndef MG_SCAN_H
#define MG_SCAN_H

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>

/* Read up to n unsigned decimal numbers separated by white space from *pp
 * into v; *pp moves past what was read. Returns how many were read. */
static inline size_t mg__scan_ulongs(const char **pp, unsigned long *v, size_t n)
{
	const char *p = *pp;
	size_t i;

	for (i = 0; i < n; i++) {
		char *end;

		while (isspace((unsigned char)*p)) {
			p++;
		}
		if (!isdigit((unsigned char)*p)) {
			break;
		}
		errno = 0;
		v[i] = strtoul(p, &end, 10);
		if (errno != 0) {
			break;
		}
		p = end;
	}
	*pp = p;
	return i;
}

/* The value of one hex digit, or -1. */
static inline int mg__hexval(char c)
{
	if (c >= '0' && c <= '9') {
		return c - '0';
	}
	if (c >= 'a' && c <= 'f') {
		return c - 'a' + 10;
	}
	if (c >= 'A' && c <= 'F') {
		return c - 'A' + 10;
	}
	return -1;
}

#endif
