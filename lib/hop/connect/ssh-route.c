/*
 * How ssh would reach a host, read from its config files without running
 * `ssh -G` (see ssh-route.h). Only the keywords that decide the route are
 * looked at; anything this reader is not sure to read as ssh does (Match,
 * quoted or bracketed patterns, an unreadable file, a bundled option
 * taking an argument) makes the answer "unsure", and the caller asks
 * ssh -G as before. A wrong "helper" answer would bypass a user's proxy,
 * so every doubt counts.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <talloc.h>
#include <unistd.h>
#include "match.h"
#include "passwd.h"
#include "ssh-route.h"

#define INCLUDE_DEPTH 16
/* Includes can name a file many times over: past this, ssh -G reads it. */
#define FILES_MAX 64
#define LINE_MAX_LEN 4096

/* The keywords read: the first value found wins, as in ssh. */
enum key { K_PROXY, K_BIND, K_CANON, K_FAMILY, K_TIMEOUT, K_HOSTNAME, K_PORT, K_LOCALCMD, K_N };

struct route {
	TALLOC_CTX *mem;
	const char *dir;             /* $HOME/.ssh: where user configs include from */
	const char *host;
	char *val[K_N];
	unsigned files;
	bool unsure;
	bool sends_shell;            /* a SendEnv pattern takes $SHELL */
};

static int key_of(const char *kw)
{
	static const struct {
		const char *name;
		enum key k;
	} keys[] = {
		/* ProxyCommand and ProxyJump exclude each other: the
		 * first given wins, whichever it is. */
		{ "proxycommand", K_PROXY },  { "proxyjump", K_PROXY },
		{ "bindaddress", K_BIND },    { "bindinterface", K_BIND },
		{ "canonicalizehostname", K_CANON }, { "addressfamily", K_FAMILY },
		{ "connecttimeout", K_TIMEOUT }, { "hostname", K_HOSTNAME }, { "port", K_PORT },
		{ "localcommand", K_LOCALCMD },
	};

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (strcasecmp(kw, keys[i].name) == 0) {
			return (int)keys[i].k;
		}
	}
	return -1;
}

static void set_first(struct route *r, int k, const char *v)
{
	if (k >= 0 && r->val[k] == NULL) {
		r->val[k] = talloc_strdup(r->mem, v);
		r->unsure |= r->val[k] == NULL;
	}
}

/* A Host line: whether its block applies to r->host. */
static bool host_applies(struct route *r, char *args)
{
	bool yes = false;

	for (char *save = NULL, *p = strtok_r(args, " \t", &save); p != NULL;
	     p = strtok_r(NULL, " \t", &save)) {
		bool neg = p[0] == '!';

		if (strpbrk(p, "\"'[]\\,") != NULL) {
			r->unsure = true;
			return false;
		}
		if (mg__wild_match(neg ? p + 1 : p, r->host)) {
			if (neg) {
				return false;
			}
			yes = true;
		}
	}
	return yes;
}

static void read_file(struct route *r, const char *path, const char *dir, int depth, bool must);

/*
 * What glob(3) gives ssh's Include for 'path', a wildcard in its last
 * part only: the names there that match, in byte order, one starting
 * with '.' only for a pattern that does; without a wildcard, the path if
 * it is there. Each is read in turn.
 */
static void include_glob(struct route *r, char *path, const char *dir, int depth)
{
	char *slash = strrchr(path, '/'), *pat = slash + 1, *names[FILES_MAX];
	const char *in = slash == path ? "/" : path;
	size_t n = 0;
	struct stat st;
	struct dirent *e;
	DIR *d;

	if (strpbrk(pat, "*?") == NULL) {
		if (lstat(path, &st) == 0) {
			read_file(r, path, dir, depth + 1, true);
		}
		return;
	}
	*slash = '\0';
	d = opendir(in);
	while (d != NULL && !r->unsure && (e = readdir(d)) != NULL) {
		if ((e->d_name[0] == '.' && pat[0] != '.') || !mg__wild_match(pat, e->d_name)) {
			continue;
		}
		char *name = n < FILES_MAX ? talloc_asprintf(r->mem, "%s/%s", slash == path ? "" : path,
							     e->d_name) : NULL;
		size_t i = n;

		r->unsure |= name == NULL;
		/* Kept sorted as they come (glob sorts them). */
		for (; !r->unsure && i > 0 && strcmp(names[i - 1], name) > 0; i--) {
			names[i] = names[i - 1];
		}
		if (!r->unsure) {
			names[i] = name;
			n++;
		}
	}
	r->unsure |= d == NULL && errno != ENOENT && errno != ENOTDIR;
	if (d != NULL) {
		closedir(d);
	}
	for (size_t i = 0; i < n && !r->unsure; i++) {
		read_file(r, names[i], dir, depth + 1, true);
	}
}

static void include(struct route *r, char *args, const char *dir, int depth)
{
	for (char *save = NULL, *p = strtok_r(args, " \t", &save); p != NULL;
	     p = strtok_r(NULL, " \t", &save)) {
		char path[4096];

		if (p[0] == '~' || strpbrk(p, "\"'%$") != NULL ||
		    (size_t)snprintf(path, sizeof(path), "%s%s%s", p[0] == '/' ? "" : dir,
				     p[0] == '/' ? "" : "/", p) >= sizeof(path)) {
			r->unsure = true;
			return;
		}
		/* Wildcards only in the last part: a glob over whole trees
		 * (an Include of /proc with a wildcard in each part) can take
		 * longer than ssh -G. Brackets and backslashes, which glob
		 * reads and this does not: ssh -G. */
		if (strpbrk(path, "[]\\") != NULL ||
		    (strpbrk(path, "*?") != NULL && strpbrk(path, "*?") < strrchr(path, '/'))) {
			r->unsure = true;
			return;
		}
		include_glob(r, path, dir, depth);
	}
}

/* One line, as ssh's config reader splits it: keyword, blanks or one '=',
 * the rest. */
static void line(struct route *r, char *s, bool *active, const char *dir, int depth)
{
	char *kw, *args, *end;

	s += strspn(s, " \t\r");
	if (*s == '\0' || *s == '#') {
		return;
	}
	kw = s;
	s += strcspn(s, " \t\r=");
	if (*s != '\0') {
		bool eq = *s == '=';

		*s++ = '\0';
		s += strspn(s, " \t\r");
		if (!eq && *s == '=') {
			s += 1 + strspn(s + 1, " \t\r");
		}
	}
	args = s;
	for (end = args + strlen(args); end > args && isspace((unsigned char)end[-1]); end--) {
	}
	*end = '\0';
	/* ssh reads a quoted keyword ("ProxyCommand" nc x) as the keyword,
	 * and skips every '=' before a ProxyCommand (ProxyCommand==none). */
	for (const char *c = kw; *c != '\0'; c++) {
		r->unsure |= !isalnum((unsigned char)*c);
	}
	r->unsure |= args[0] == '=';
	/* ssh ends some lines at a word starting with '#', not others.
	 * "ProxyJump none" stops a later ProxyJump but not a later
	 * ProxyCommand (OpenSSH 9.2): not the first-wins rule. */
	if (strcasecmp(kw, "match") == 0 ||
	    (*active && strcasecmp(kw, "proxyjump") == 0 && strcasecmp(args, "none") == 0) ||
	    (strchr(args, '#') != NULL && (key_of(kw) >= 0 || strcasecmp(kw, "host") == 0 ||
					   strcasecmp(kw, "include") == 0))) {
		r->unsure = true;
	} else if (strcasecmp(kw, "host") == 0) {
		*active = host_applies(r, args);
	} else if (strcasecmp(kw, "include") == 0 && *active) {
		include(r, args, dir, depth);
	} else if (strcasecmp(kw, "sendenv") == 0 && *active) {
		/* Every line adds (a '-' pattern removes: counted as taking). */
		for (char *save = NULL, *p = strtok_r(args, " \t", &save); p != NULL;
		     p = strtok_r(NULL, " \t", &save)) {
			r->sends_shell |= mg__wild_match(p + (p[0] == '-'), "SHELL");
		}
	} else if (*active) {
		set_first(r, key_of(kw), args);
	}
}

static void read_file(struct route *r, const char *path, const char *dir, int depth, bool must)
{
	char buf[LINE_MAX_LEN];
	bool active = true;
	struct stat st;
	FILE *f;

	if (depth > INCLUDE_DEPTH || ++r->files > FILES_MAX) {
		r->unsure = true;
		return;
	}
	/* Never opened unless a regular file: a FIFO or a device could
	 * block, never end, or act on being opened (a watchdog). */
	if (stat(path, &st) != 0) {
		/* A config that is not there is no config; any other
		 * failure, ssh would report. */
		r->unsure |= must || errno != ENOENT;
		return;
	}
	if (!S_ISREG(st.st_mode)) {
		r->unsure = true;
		return;
	}
	f = fopen(path, "re");
	if (f == NULL || fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
		r->unsure = true;
		if (f != NULL) {
			fclose(f);
		}
		return;
	}
	while (!r->unsure && fgets(buf, sizeof(buf), f) != NULL) {
		if (strchr(buf, '\n') == NULL && !feof(f)) {
			r->unsure = true;
			break;
		}
		buf[strcspn(buf, "\n")] = '\0';
		line(r, buf, &active, dir, depth);
	}
	r->unsure |= ferror(f) != 0;
	fclose(f);
}

/* ssh's options that take an argument (OpenSSH 9). */
static bool takes_arg(char c)
{
	return c != '\0' && strchr("BbcDEeFIiJLlmOoPpQRSWw", c) != NULL;
}

/* The command line: -o lines come first (the first value wins), -F names
 * the only file read. */
static const char *read_args(struct route *r, const char *const *words, size_t n)
{
	const char *file = NULL, *fam = NULL;

	for (size_t i = 0; i < n && !r->unsure; i++) {
		const char *w = words[i], *arg;
		char opt[LINE_MAX_LEN];
		bool active = true;

		if (w[0] != '-' || w[1] == '\0') {
			r->unsure = true; /* not ours: the host comes last */
			break;
		}
		if (!takes_arg(w[1])) {
			/* -4/-6 choose the family; a bundle holding an
			 * option with an argument is beyond this reader. */
			for (const char *c = w + 1; *c != '\0'; c++) {
				r->unsure |= takes_arg(*c);
				if (*c == '4' || *c == '6') {
					fam = *c == '4' ? "inet" : "inet6";
				}
			}
			continue;
		}
		arg = w[2] != '\0' ? w + 2 : i + 1 < n ? words[++i] : NULL;
		if (arg == NULL) {
			r->unsure = true;
		} else if (w[1] == 'J') {
			/* -J none leaves the config's ProxyCommand. */
			r->unsure |= strcasecmp(arg, "none") == 0;
			set_first(r, K_PROXY, arg);
		} else if (w[1] == 'b' || w[1] == 'B') {
			set_first(r, K_BIND, arg);
		} else if (w[1] == 'p') {
			set_first(r, K_PORT, arg);
		} else if (w[1] == 'F') {
			file = arg;
		} else if (w[1] == 'o' && strlen(arg) < sizeof(opt)) {
			strcpy(opt, arg);
			line(r, opt, &active, r->dir, 0);
		} else if (w[1] == 'o') {
			r->unsure = true;
		}
	}
	/* The last -4 or -6 wins over any AddressFamily, -o included. */
	if (fam != NULL) {
		r->val[K_FAMILY] = NULL;
		set_first(r, K_FAMILY, fam);
	}
	return file;
}

/* Letters, digits and "._:-" only: safe as it is in a shell command. */
static bool plain_append(char *out, size_t size, size_t *len, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (*len + 1 >= size || (!isalnum((unsigned char)s[i]) && strchr("._:-", s[i]) == NULL)) {
			return false;
		}
		/* ssh lowercases the name it connects to. */
		out[(*len)++] = (char)tolower((unsigned char)s[i]);
	}
	return true;
}

/* HostName with %h put in, if a plain host name (%% would not be). */
static bool host_name(const struct route *r, char *out, size_t size)
{
	const char *hn = r->val[K_HOSTNAME] != NULL ? r->val[K_HOSTNAME] : "%h";
	size_t len = 0;

	for (const char *p = hn; *p != '\0'; p++) {
		bool ok = false;

		if (p[0] != '%') {
			ok = plain_append(out, size, &len, p, 1);
		} else if (p[1] == 'h') {
			ok = plain_append(out, size, &len, r->host, strlen(r->host));
			p++;
		}
		if (!ok) {
			return false;
		}
	}
	out[len] = '\0';
	return len > 0;
}

static enum mg_ssh_route verdict(const struct route *r, struct mg_ssh_direct *d)
{
	const char *fam = r->val[K_FAMILY], *ct = r->val[K_TIMEOUT], *canon = r->val[K_CANON];
	const char *port = r->val[K_PORT] != NULL ? r->val[K_PORT] : "22";
	unsigned long pn = strtoul(port, NULL, 10);

	if (r->unsure) {
		return MG_SSH_ROUTE_UNSURE;
	}
	/* ssh binds to a BindAddress or BindInterface "none" as to any
	 * other name (and fails): no value means unset. */
	if ((r->val[K_PROXY] != NULL && strcasecmp(r->val[K_PROXY], "none") != 0) ||
	    r->val[K_BIND] != NULL ||
	    (canon != NULL && strcasecmp(canon, "no") != 0 && strcasecmp(canon, "false") != 0)) {
		return MG_SSH_ROUTE_SSH;
	}
	if ((fam != NULL && strcmp(fam, "any") != 0 && strcmp(fam, "inet") != 0 &&
	     strcmp(fam, "inet6") != 0) ||
	    (ct != NULL && strcasecmp(ct, "none") != 0 &&
	     (ct[0] == '\0' || strspn(ct, "0123456789") != strlen(ct) || strlen(ct) > 6)) ||
	    port[0] == '\0' || strspn(port, "0123456789") != strlen(port) || strlen(port) > 5 ||
	    pn == 0 || pn > 65535 ||
	    !host_name(r, d->host, sizeof(d->host))) {
		return MG_SSH_ROUTE_UNSURE;
	}
	/* As numbers, as ssh reads them: "022" is 22. */
	snprintf(d->port, sizeof(d->port), "%lu", pn);
	snprintf(d->family, sizeof(d->family), "%s", fam != NULL ? fam : "any");
	snprintf(d->timeout, sizeof(d->timeout), "%lu",
		 ct != NULL && strcasecmp(ct, "none") != 0 ? strtoul(ct, NULL, 10) : 0UL);
	d->own_shell = r->val[K_LOCALCMD] == NULL && !r->sends_shell;
	return MG_SSH_ROUTE_HELPER;
}

enum mg_ssh_route mg__ssh_route(const char *const *words, size_t n, const char *host,
				struct mg_ssh_direct *d)
{
	char pw_dir[PATH_MAX];
	/* $HOME only without a passwd entry: see mg__user_field. */
	const char *pw = mg__user_field(5, pw_dir, sizeof(pw_dir));
	struct route r = { .mem = talloc_new(NULL), .host = host };
	const char *file, *home = getenv("HOME");
	enum mg_ssh_route ret;
	char *user = NULL;

	/* ssh reads ~/.ssh/config from the passwd entry's home, but a
	 * relative Include in a user config is a glob of ~/.ssh/...,
	 * which takes $HOME first. */
	if (pw != NULL && r.mem != NULL && (home == NULL || home[0] != '\0')) {
		user = talloc_asprintf(r.mem, "%s/.ssh/config", pw);
		r.dir = talloc_asprintf(r.mem, "%s/.ssh", home != NULL ? home : pw);
	}
	r.unsure = r.dir == NULL || user == NULL;
	/* ssh matches Host patterns against the host lowercased. */
	for (const char *c = host; *c != '\0'; c++) {
		r.unsure |= isupper((unsigned char)*c) || (unsigned char)*c <= ' ' || *c == '%';
	}
	file = r.unsure ? NULL : read_args(&r, words, n);
	if (r.unsure) {
		/* Decided already. */
	} else if (file != NULL) {
		/* A -F file is a user config: its relative Includes are in
		 * ~/.ssh. "none": no file at all. */
		if (strcasecmp(file, "none") != 0) {
			read_file(&r, file, r.dir, 0, true);
		}
	} else {
		read_file(&r, user, r.dir, 0, false);
		read_file(&r, "/etc/ssh/ssh_config", "/etc/ssh", 0, false);
	}
	ret = verdict(&r, d);
	talloc_free(r.mem);
	return ret;
}
