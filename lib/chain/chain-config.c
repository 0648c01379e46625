/*
 * The config files: ini-style, "[aliases]" (name = chain text) and
 * "[defaults]" (option or method.option = value, for the hops that do
 * not give that option). See mitogen-chain(7).
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "mitogen/error.h"
#include "chain-private.h"
#include "chain-value.h"

#define MAX_FILE_SIZE (1024 * 1024)

struct mg__config {
	struct mg__alias *aliases;
	size_t n_aliases;
	struct mg__alias *defaults;
	size_t n_defaults;
};

enum section { SEC_NONE, SEC_ALIASES, SEC_DEFAULTS };

/* One file being read. */
struct cfile {
	struct mg__config *cfg;
	const char *path;
	int line;
	size_t first_alias; /* aliases of earlier files end here */
	size_t first_default; /* and their defaults */
	char *errmsg;
};

static int cfail(struct cfile *f, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int cfail(struct cfile *f, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	msg = talloc_vasprintf(f->cfg, fmt, ap);
	va_end(ap);
	if (msg != NULL && f->line > 0) {
		msg = talloc_asprintf(f->cfg, "%s:%d: %s", f->path, f->line,
				      msg);
	} else if (msg != NULL) {
		msg = talloc_asprintf(f->cfg, "%s: %s", f->path, msg);
	}
	if (msg == NULL) {
		return -ENOMEM;
	}
	f->errmsg = msg;
	return MG_ERR_CHAIN;
}

const struct mg__alias *mg__config_alias(const struct mg__config *cfg,
					 const char *name, size_t len)
{
	for (size_t i = 0; cfg != NULL && i < cfg->n_aliases; i++) {
		const struct mg__alias *a = &cfg->aliases[i];

		if (strlen(a->name) == len && memcmp(a->name, name, len) == 0) {
			return a;
		}
	}
	return NULL;
}

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t') {
		s++;
	}
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r')) {
		*--e = '\0';
	}
	return s;
}

static bool good_name(const char *s)
{
	if (*s == '\0' || *s == '-' || strlen(s) > 64) {
		return false;
	}
	for (; *s != '\0'; s++) {
		if (!isalnum((unsigned char)*s) && *s != '_' && *s != '.'
		    && *s != '-') {
			return false;
		}
	}
	return true;
}

static int add_entry(struct cfile *f, struct mg__alias **list, size_t *n,
		     const char *name, const char *value)
{
	struct mg__alias *a;

	a = talloc_realloc(f->cfg, *list, struct mg__alias, *n + 1);
	if (a == NULL) {
		return -ENOMEM;
	}
	*list = a;
	a = &a[(*n)++];
	a->name = talloc_strdup(*list, name);
	a->text = talloc_strdup(*list, value);
	a->file = talloc_strdup(*list, f->path);
	a->line = f->line;
	if (a->name == NULL || a->text == NULL || a->file == NULL) {
		return -ENOMEM;
	}
	return 0;
}

/* name = value, once per file: the same name in an earlier file wins
 * (the user's over /etc), twice in one file is an error. */
static int add_once(struct cfile *f, struct mg__alias **list, size_t *n, size_t first,
		    const char *what, const char *name, const char *value)
{
	for (size_t i = 0; i < *n; i++) {
		if (strcmp((*list)[i].name, name) != 0) {
			continue;
		}
		if (i < first) {
			return 0;
		}
		return cfail(f, "%s '%s' defined twice (first at line %d)", what, name,
			     (*list)[i].line);
	}
	return add_entry(f, list, n, name, value);
}

static int add_alias(struct cfile *f, const char *name, const char *value)
{
	struct mg__config *cfg = f->cfg;

	if (!good_name(name)) {
		char *q = mg__chain_quote(cfg, name, strlen(name));

		return cfail(f, "bad alias name '%s' (expected letters, digits, "
			     "'_', '.' and '-')", q != NULL ? q : "");
	}
	if (mg__method_syntax(name) != NULL) {
		return cfail(f, "alias '%s' would hide the method of that name",
			     name);
	}
	if (*value == '\0') {
		return cfail(f, "empty alias '%s'", name);
	}
	return add_once(f, &cfg->aliases, &cfg->n_aliases, f->first_alias, "alias", name,
			value);
}

/* Whether some method takes option 'key' (the parser's list). */
static bool any_method_takes(const char *key)
{
	for (size_t i = 0; mg__common_options[i] != NULL; i++) {
		if (strcmp(mg__common_options[i], key) == 0) {
			return true;
		}
	}
	for (size_t m = 0; mg__method_syntaxes[m].name != NULL; m++) {
		if (mg__method_takes(&mg__method_syntaxes[m], key)) {
			return true;
		}
	}
	return false;
}

/* "option" or "method.option": which hops it is for, and its form. The
 * spec's own parts (username=, port=, image=) name the target, and stay
 * in the chain. */
static int check_default(struct cfile *f, const char *name, const char *value)
{
	const char *dot = strchr(name, '.');
	const char *key = dot != NULL ? dot + 1 : name;
	char *q = mg__chain_quote(f->cfg, name, strlen(name)), *msg = NULL;
	int r;

	if (q == NULL) {
		return -ENOMEM;
	}
	if (dot != NULL) {
		char *method = talloc_strndup(f->cfg, name, (size_t)(dot - name));
		const struct mg_method_syntax *m = method != NULL ? mg__method_syntax(method) : NULL;

		if (method == NULL) {
			return -ENOMEM;
		}
		if (m == NULL) {
			return cfail(f, "unknown method in default '%s' (expected "
				     "OPTION or METHOD.OPTION)", q);
		}
		if (!mg__method_takes(m, key)) {
			return cfail(f, "%s takes no option '%s'", m->name,
				     mg__chain_quote(f->cfg, key, strlen(key)));
		}
	} else if (!any_method_takes(key)) {
		return cfail(f, "unknown option '%s' in [defaults]", q);
	}
	if (strcmp(key, "username") == 0 || strcmp(key, "port") == 0 ||
	    strcmp(key, "image") == 0) {
		return cfail(f, "'%s' cannot be a default: it names the target "
			     "(give it in the chain)", q);
	}
	if ((r = mg__value_check(f->cfg, key, value, &msg)) != 0 ||
	    (r = mg__value_args_end(f->cfg, key, value, &msg)) != 0) {
		return r == -EINVAL ? cfail(f, "%s", msg) : r;
	}
	return 0;
}

static int add_default(struct cfile *f, const char *name, const char *value)
{
	struct mg__config *cfg = f->cfg;
	int r;

	if (*name == '\0') {
		return cfail(f, "expected a name before '='");
	}
	if ((r = check_default(f, name, value)) != 0) {
		return r;
	}
	return add_once(f, &cfg->defaults, &cfg->n_defaults, f->first_default, "default",
			name, value);
}

const char *mg__config_default(const struct mg__config *cfg, const char *method,
			       const char *key)
{
	size_t ml = strlen(method);
	const char *any = NULL;

	for (size_t i = 0; cfg != NULL && i < cfg->n_defaults; i++) {
		const char *n = cfg->defaults[i].name;

		if (strncmp(n, method, ml) == 0 && n[ml] == '.' && strcmp(n + ml + 1, key) == 0) {
			return cfg->defaults[i].text;
		}
		if (any == NULL && strcmp(n, key) == 0) {
			any = cfg->defaults[i].text;
		}
	}
	return any;
}

static int parse_line(struct cfile *f, char *line, enum section *sec)
{
	char *eq;

	line = trim(line);
	if (*line == '\0' || *line == '#' || *line == ';') {
		return 0;
	}
	if (*line == '[') {
		size_t len = strlen(line);
		char *name;

		if (line[len - 1] != ']') {
			return cfail(f, "expected ']' at the end of the section "
				     "header");
		}
		line[len - 1] = '\0';
		name = trim(line + 1);
		if (strcmp(name, "aliases") == 0) {
			*sec = SEC_ALIASES;
		} else if (strcmp(name, "defaults") == 0) {
			*sec = SEC_DEFAULTS;
		} else {
			struct mg__suggest sg;
			char *q = mg__chain_quote(f->cfg, name, strlen(name));

			mg__suggest_init(&sg, name, strlen(name));
			mg__suggest_try(&sg, "aliases");
			mg__suggest_try(&sg, "defaults");
			return cfail(f, "unknown section '[%s]' (%s%s%s)",
				     q != NULL ? q : "", sg.best != NULL
				     ? "did you mean '[" : "expected [aliases] "
				     "or [defaults]", sg.best != NULL ? sg.best
				     : "", sg.best != NULL ? "]'?" : "");
		}
		return 0;
	}
	if ((eq = strchr(line, '=')) == NULL) {
		return cfail(f, "expected 'name = value'");
	}
	*eq = '\0';
	if (*sec == SEC_NONE) {
		return cfail(f, "'name = value' outside a section (expected "
			     "[aliases] or [defaults] before it)");
	}
	if (*sec == SEC_ALIASES) {
		return add_alias(f, trim(line), trim(eq + 1));
	}
	return add_default(f, trim(line), trim(eq + 1));
}

/* The whole file, NUL-terminated, or NULL in *_buf when it is missing. */
static int read_file(struct cfile *f, TALLOC_CTX *mem, char **_buf)
{
	struct stat st;
	size_t have = 0;
	char *buf;
	int fd, r = 0;

	*_buf = NULL;
	fd = open(f->path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		if (errno == ENOENT || errno == ENOTDIR) {
			return 0;
		}
		return cfail(f, "%s", strerror(errno));
	}
	if (fstat(fd, &st) != 0) {
		r = cfail(f, "%s", strerror(errno));
		goto done;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > MAX_FILE_SIZE) {
		r = cfail(f, "%s", S_ISREG(st.st_mode) ? "file too large (over "
			  "1 MiB)" : "not a regular file");
		goto done;
	}
	buf = talloc_array(mem, char, (size_t)st.st_size + 2);
	if (buf == NULL) {
		r = -ENOMEM;
		goto done;
	}
	for (;;) {
		size_t room = talloc_get_size(buf) - 1 - have;
		ssize_t n;

		if (room == 0) {
			/* The file grew while we read it. */
			if (have > MAX_FILE_SIZE) {
				r = cfail(f, "file too large (over 1 MiB)");
				goto done;
			}
			buf = talloc_realloc(mem, buf, char, have * 2 + 2);
			if (buf == NULL) {
				r = -ENOMEM;
				goto done;
			}
			continue;
		}
		n = read(fd, buf + have, room);
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n < 0) {
			r = cfail(f, "%s", strerror(errno));
			goto done;
		}
		if (n == 0) {
			break;
		}
		have += (size_t)n;
	}
	if (have > MAX_FILE_SIZE) {
		r = cfail(f, "file too large (over 1 MiB)");
		goto done;
	}
	buf[have] = '\0';
	if (memchr(buf, '\0', have) != NULL) {
		f->line = 1;
		for (char *c = buf; *c != '\0'; c++) {
			f->line += *c == '\n';
		}
		r = cfail(f, "NUL byte in the file");
		goto done;
	}
	*_buf = buf;
done:
	close(fd);
	return r;
}

static int load_file(struct mg__config *cfg, const char *path, char **_errmsg)
{
	TALLOC_CTX *tmp_ctx = talloc_new(NULL);
	enum section sec = SEC_NONE;
	struct cfile f;
	char *buf, *line, *next;
	int r;

	if (tmp_ctx == NULL) {
		return -ENOMEM;
	}
	memset(&f, 0, sizeof(f));
	f.cfg = cfg;
	f.path = path;
	f.first_alias = cfg->n_aliases;
	f.first_default = cfg->n_defaults;
	if ((r = read_file(&f, tmp_ctx, &buf)) != 0 || buf == NULL) {
		goto done;
	}
	for (line = buf; line != NULL; line = next) {
		next = strchr(line, '\n');
		if (next != NULL) {
			*next++ = '\0';
		}
		f.line++;
		if ((r = parse_line(&f, line, &sec)) != 0) {
			goto done;
		}
	}
done:
	if (r != 0) {
		*_errmsg = f.errmsg;
	}
	talloc_free(tmp_ctx);
	return r;
}

int mg__config_load(TALLOC_CTX *mem_ctx, struct mg__config **_cfg,
		    char **_errmsg)
{
	struct mg__config *cfg;
	const char *env = getenv("MITOGEN_CONFIG");
	const char *paths[2] = { NULL, NULL };
	int r = 0;

	cfg = talloc_zero(NULL, struct mg__config);
	if (cfg == NULL) {
		return -ENOMEM;
	}
	if (env != NULL) {
		paths[0] = env[0] != '\0' ? env : NULL;
	} else {
		const char *xdg = getenv("XDG_CONFIG_HOME");
		const char *home = getenv("HOME");

		if (xdg != NULL && xdg[0] == '/') {
			paths[0] = talloc_asprintf(cfg, "%s/mitogen/config",
						   xdg);
		} else if (home != NULL && home[0] != '\0') {
			paths[0] = talloc_asprintf(cfg, "%s/.config/mitogen/"
						   "config", home);
		}
		paths[1] = "/etc/mitogen/config";
	}
	for (size_t i = 0; i < 2 && r == 0; i++) {
		if (paths[i] != NULL) {
			r = load_file(cfg, paths[i], _errmsg);
		}
	}
	if (r != 0) {
		if (r == MG_ERR_CHAIN) {
			*_errmsg = talloc_steal(mem_ctx, *_errmsg);
		}
		talloc_free(cfg);
		return r;
	}
	*_cfg = talloc_steal(mem_ctx, cfg);
	return 0;
}
