/*
 * Our user's passwd entry (passwd.h). The agents read /etc/passwd by
 * hand: musl's getpwuid brings getdelim and an nscd client, 3.5 KB of
 * each agent pushed to every hop. Plain C library calls, no talloc: the
 * leaf agent (cmd/agent-leaf), which links no library, compiles it too.
 */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "passwd.h"

long mg__passwd_read(char *db, size_t cap)
{
	long len = 0;
	ssize_t k;
	int fd = open("/etc/passwd", O_RDONLY | O_CLOEXEC);

	if (fd < 0 || cap < 2) {
		if (fd >= 0) {
			close(fd);
		}
		return -1;
	}
	while ((size_t)len < cap - 1 &&
	       ((k = read(fd, db + len, cap - 1 - (size_t)len)) > 0 || (k < 0 && errno == EINTR))) {
		len += k > 0 ? (long)k : 0;
	}
	close(fd);
	/* A line cut short is not read as whole (a shell "/bin/ba"). */
	for (bool cut = (size_t)len == cap - 1; cut && len > 0 && db[len - 1] != '\n';) {
		len--;
	}
	return len;
}

/* Whether the line [f, end) has 'uid' as its third field. */
static bool entry_of(const char *f, const char *end, unsigned long uid)
{
	unsigned long v = 0;
	const char *p = f;

	for (int i = 0; i < 2 && p != NULL; i++) {
		p = memchr(p, ':', (size_t)(end - p));
		p = p != NULL ? p + 1 : NULL;
	}
	if (p == NULL || p == end || *p < '0' || *p > '9') {
		return false;
	}
	for (; p < end && *p >= '0' && *p <= '9' && v <= 0xffffffffUL; p++) {
		v = v * 10 + (unsigned long)(*p - '0');
	}
	return p < end && *p == ':' && v == uid;
}

const char *mg__passwd_field(const char *db, long len, unsigned long uid, int field, char *buf,
			     size_t cap)
{
	for (const char *line = db, *end; len > 0 && line < db + len; line = end + 1) {
		const char *f = line;

		end = memchr(line, '\n', (size_t)(db + len - line));
		end = end != NULL ? end : db + len;
		if (!entry_of(line, end, uid)) {
			continue;
		}
		for (int i = 0; i < field && f != NULL; i++) {
			f = memchr(f, ':', (size_t)(end - f));
			f = f != NULL ? f + 1 : NULL;
		}
		if (f != NULL) {
			const char *stop = memchr(f, ':', (size_t)(end - f));
			size_t n = (size_t)((stop != NULL ? stop : end) - f);
			/* The shell is the last field: one more means no entry. */
			if (n < cap && (field < 6 || stop == NULL)) {
				memcpy(buf, f, n);
				buf[n] = '\0';
				return buf;
			}
		}
		return NULL;
	}
	return NULL;
}

const char *mg__user_field(int field, char *buf, size_t cap)
{
	const char *v = NULL;
#ifdef MG_STATIC_AGENT
	/* Heap, not stack: an agent's stack is the user's to limit. */
	char *db = malloc(1 << 16);
	long len = db != NULL ? mg__passwd_read(db, 1 << 16) : -1;

	v = db != NULL ? mg__passwd_field(db, len, (unsigned long)getuid(), field, buf, cap) : NULL;
	free(db);
#else
	const struct passwd *pw = getpwuid(getuid());
	const char *f = pw == NULL ? NULL : field == 6 ? pw->pw_shell : pw->pw_dir;

	if (f != NULL && strlen(f) < cap) {
		v = strcpy(buf, f);
	}
#endif
	if (v == NULL) {
		const char *e = getenv(field == 6 ? "SHELL" : "HOME");
		if (e != NULL && strlen(e) < cap) {
			v = strcpy(buf, e);
		}
	}
	return v;
}
