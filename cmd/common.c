/* Shared command helpers: see common.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "common.h"
#include "config.h"
#include "persist.h"
#include <mitogen/mitogen.h>

struct mg_common_opts mg_common = { .connect_timeout = "30" };
static const char *prog_name = "mitogen";
/* fakessh -q: ssh's LogLevel QUIET prints not even fatal errors. */
static bool errors_off;
/* Where errors go: stderr, or the file of mg_cmd_log_to_file. */
static int err_fd = STDERR_FILENO;

struct poptOption mg_common_popt_table[] = {
	{ "verbose", 'v', POPT_ARG_NONE, NULL, 'v', "Log each hop's progress on stderr (repeat for more)", NULL },
	{ "quiet", 'q', POPT_ARG_NONE, &mg_common.quiet, 0, "Print only errors", NULL },
	/* A string: popt's own number parsing takes "" as 0 and lets
	 * seconds overflow once made milliseconds. */
	{ "connect-timeout", 't', POPT_ARG_STRING, NULL, 't',
	  "Seconds allowed for each hop to connect, login and become (default 30)", "SECS" },
	{ "dry-run", '\0', POPT_ARG_NONE, &mg_common.dry_run, 0, "Print each hop's command, run nothing", NULL },
	{ "persist", '\0', POPT_ARG_STRING | POPT_ARGFLAG_OPTIONAL, NULL, MG_OPT_PERSIST,
	  "Keep the chains up in a background holder, for DURATION idle (default 10m)", "DURATION" },
	{ "persist-check", '\0', POPT_ARG_STRING, NULL, MG_OPT_PERSIST_CHECK,
	  "Say whether the holder keeps TARGET up (exit 0, else 255)", "TARGET" },
	{ "persist-stop", '\0', POPT_ARG_STRING | POPT_ARGFLAG_OPTIONAL, NULL, MG_OPT_PERSIST_STOP,
	  "Stop TARGET's hops in the holder, or without TARGET the holder", "TARGET" },
	{ "persist-list", '\0', POPT_ARG_NONE, &mg_common.persist_list, 0,
	  "List the holder's chains, their age and idle time", NULL },
	{ "version", 'V', POPT_ARG_NONE, &mg_common.version, 0, "Print the version and exit", NULL },
	POPT_TABLEEND
};

/*
 * A closed 0, 1 or 2 gets /dev/null, as ssh's sanitise_stdfd() does:
 * else the next descriptor we open (an epoll, a socket) takes its
 * number, and the command is handed that as its stdio.
 */
static void std_fds_open(void)
{
	for (int fd = 0; fd <= 2; fd++) {
		/* open() takes the lowest free number: fd, those below it
		 * being open now. */
		if (fcntl(fd, F_GETFD) < 0 && errno == EBADF) {
			open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY);
		}
	}
}

const char *mg_cmd_prog(void)
{
	return prog_name;
}

void mg_cmd_init(const char *prog)
{
	std_fds_open();
	/* Hundreds of targets need more than a soft limit of 1024 (as clush
	 * raises its own); what runs on local hops gets the user's back. */
	mg_connect_nofile_auto();
	prog_name = prog;
	mg_log_set_ident(prog);
}

static void drop_log(enum mg_log_level level, const char *msg, void *data)
{
	(void)level;
	(void)msg;
	(void)data;
}

void mg_cmd_errors_off(void)
{
	errors_off = true;
	mg_log_set_level(MG_LOG_ERROR);
	mg_log_set_sink(drop_log, NULL);
}

int mg_cmd_log_to_file(const char *path)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY | O_NONBLOCK, 0600);
	int ret;

	if (fd < 0) {
		return -errno;
	}
	ret = mg_log_to_file(path, mg_log_get_level());
	if (ret != 0) {
		close(fd);
		return ret;
	}
	if (err_fd != STDERR_FILENO) {
		close(err_fd);
	}
	err_fd = fd;
	return 0;
}

int mg_cmd_err_fd(void)
{
	return err_fd;
}

bool mg_cmd_apply_common(void)
{
	int level = MG_LOG_WARN + mg_common.verbose;

	if (mg_common.quiet) {
		level = MG_LOG_ERROR;
	}
	if (level > MG_LOG_TRACE) {
		level = MG_LOG_TRACE;
	}
	mg_log_set_level((enum mg_log_level)level);
	if (mg_common.version) {
		printf("%s %s\n", prog_name, MG_VERSION);
		return true;
	}
	return false;
}

/* "prog: MSG" as one write. Each line of MSG is escaped (it may hold
 * what a far end printed, or a chain's bytes); with 'one_line' its
 * newlines are escaped too, otherwise the lines after the first are
 * indented, so that no line a far end wrote can pass for one of ours. */
static void print_error(const char *msg, bool one_line, const char *suffix)
{
	TALLOC_CTX *tmp;

	if (errors_off) {
		return;
	}
	tmp = talloc_new(NULL);
	char *out = talloc_asprintf(tmp, "%s: ", prog_name);
	const char *p = msg;

	while (out != NULL) {
		size_t len = one_line ? strlen(p) : strcspn(p, "\n");
		char *line = mg_log_escape(tmp, p, len);
		out = line != NULL ? talloc_asprintf_append_buffer(out, "%s", line) : NULL;
		p += len;
		if (*p == '\0') {
			break;
		}
		p++;
		out = out != NULL ? talloc_strdup_append_buffer(out, "\n  ") : NULL;
	}
	if (out != NULL) {
		out = talloc_asprintf_append_buffer(out, "%s\n", suffix);
	}
	if (out == NULL) {
		dprintf(err_fd, "%s: out of memory\n", prog_name);
	} else {
		fflush(stderr);
		if (write(err_fd, out, strlen(out)) < 0) {
			/* Nowhere left to say it. */
		}
	}
	talloc_free(tmp);
}

void mg_cmd_error(const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	msg = talloc_vasprintf(NULL, fmt, ap);
	va_end(ap);
	print_error(msg != NULL ? msg : "out of memory", false, "");
	talloc_free(msg);
}

int mg_cmd_usage_error(const char *fmt, ...)
{
	va_list ap;
	char *msg, *hint;

	va_start(ap, fmt);
	msg = talloc_vasprintf(NULL, fmt, ap);
	va_end(ap);
	hint = talloc_asprintf(msg, " (see '%s --help')", prog_name);
	print_error(msg != NULL ? msg : "out of memory", true, hint != NULL ? hint : "");
	talloc_free(msg);
	return MG_EXIT_USAGE;
}

int mg_cmd_parse_secs(const char *opt, const char *text, unsigned max_secs, bool zero_ok,
		      unsigned *_ms)
{
	uint64_t ms = 0, scale = 1000;
	const char *p = text;
	bool digits = false, dot = false;

	/* By hand: strtod takes " 1", "+1", "1e3", "0x1p3", "inf" and "nan". */
	for (; *p != '\0'; p++) {
		if (*p == '.' && !dot) {
			dot = true;
		} else if (*p >= '0' && *p <= '9' && !dot) {
			ms = ms * 10 + (uint64_t)(*p - '0') * 1000;
			digits = true;
			if (ms > (uint64_t)max_secs * 1000) {
				break;
			}
		} else if (*p >= '0' && *p <= '9') {
			/* Below a millisecond counts for nothing. */
			scale /= 10;
			ms += (uint64_t)(*p - '0') * scale;
			digits = true;
		} else {
			break;
		}
	}
	if (*p != '\0' || !digits || ms > (uint64_t)max_secs * 1000 ||
	    (ms == 0 && !zero_ok) || (ms == 0 && strspn(text, "0.") != strlen(text))) {
		/* The smallest limit is a millisecond: below it counts for nothing. */
		return mg_cmd_usage_error("%s '%s': expected seconds, %sfrom 0.001 to %u", opt, text,
					  zero_ok ? "0 (no limit) or " : "", max_secs);
	}
	*_ms = (unsigned)ms;
	return 0;
}

/* Whether the command line says "--persist=ARG" (not "--persist ARG"). */
static bool given_with_equals(const char *arg)
{
	for (int i = 1; i < mg_common.argc; i++) {
		if (strncmp(mg_common.argv[i], "--persist=", 10) == 0 &&
		    strcmp(mg_common.argv[i] + 10, arg) == 0) {
			return true;
		}
	}
	return false;
}

void mg_cmd_option(poptContext pc, int rc, void *tmp)
{
	char *arg;
	const char *copy;

	if (rc != MG_OPT_PERSIST && rc != MG_OPT_PERSIST_CHECK && rc != MG_OPT_PERSIST_STOP) {
		return;
	}
	arg = poptGetOptArg(pc);
	if (rc == MG_OPT_PERSIST && arg != NULL && !(arg[0] >= '0' && arg[0] <= '9') &&
	    !given_with_equals(arg)) {
		/* popt gives an optional argument the next word, the target in
		 * "--persist web1 uptime": no duration, so hand it back. */
		const char *back[2] = { arg, NULL };
		poptStuffArgs(pc, back);
		free(arg);
		arg = NULL;
	}
	copy = talloc_strdup(tmp, arg != NULL ? arg : "");
	free(arg);
	if (rc == MG_OPT_PERSIST) {
		mg_common.persist = copy;
	} else if (rc == MG_OPT_PERSIST_CHECK) {
		mg_common.persist_check = copy;
	} else {
		mg_common.persist_stop = copy;
	}
}

int mg_cmd_parse_duration(const char *opt, const char *text, unsigned *_ms)
{
	static const unsigned week = 7 * 86400;
	unsigned long secs = 0, scale = 1;
	const char *p = text;

	while (*p >= '0' && *p <= '9' && secs <= week) {
		secs = secs * 10 + (unsigned long)(*p++ - '0');
	}
	if (*p != '\0' && p[1] == '\0') {
		scale = *p == 's' ? 1 : *p == 'm' ? 60 : *p == 'h' ? 3600 : 0;
		p++;
	}
	if (p == text || !(text[0] >= '0' && text[0] <= '9') || *p != '\0' || scale == 0 ||
	    secs == 0 || secs > week / scale) {
		return mg_cmd_usage_error("%s '%s': expected a duration: seconds, or a number with "
					  "s, m or h (like 10m), at most 7 days", opt, text);
	}
	*_ms = (unsigned)(secs * scale * 1000);
	return 0;
}

int mg_cmd_persist_idle(bool flag_only, unsigned *_ms)
{
	const char *env = flag_only ? NULL : getenv("MITOGEN_PERSIST");

	*_ms = 0;
	if (mg_common.persist != NULL) {
		if (mg_common.persist[0] == '\0') {
			*_ms = MG_PERSIST_IDLE_DEFAULT_MS;
			return 0;
		}
		return mg_cmd_parse_duration("--persist", mg_common.persist, _ms);
	}
	if (env != NULL && env[0] != '\0') {
		return mg_cmd_parse_duration("MITOGEN_PERSIST", env, _ms);
	}
	return 0;
}

bool mg_cmd_persist_control(const char *const *rest, int *_status)
{
	TALLOC_CTX *tmp;
	const char *text = mg_common.persist_check != NULL ? mg_common.persist_check :
			   mg_common.persist_stop;
	const char *one[2] = { text, NULL };
	struct mg_chain_list *list = NULL;
	enum mg_persist_op op;
	char *err = NULL;

	if (text == NULL && !mg_common.persist_list) {
		return false;
	}
	if ((mg_common.persist_check != NULL) + (mg_common.persist_stop != NULL) +
	    mg_common.persist_list > 1) {
		*_status = mg_cmd_usage_error("--persist-check, --persist-stop and --persist-list "
					      "exclude each other");
		return true;
	}
	if (rest != NULL && rest[0] != NULL) {
		*_status = mg_cmd_usage_error("%s: no other arguments with --persist-check, "
					      "--persist-stop or --persist-list", rest[0]);
		return true;
	}
	tmp = talloc_new(NULL);
	op = mg_common.persist_list ? MG_PERSIST_LIST : mg_common.persist_check != NULL ?
	     MG_PERSIST_CHECK : MG_PERSIST_STOP;
	if (text != NULL && text[0] != '\0') {
		/* The holder knows chains by their canonical text. */
		if (mg_targets_build(tmp, one, NULL, &list, &err) != 0 || list->n_chains != 1) {
			*_status = mg_cmd_usage_error("%s: %s", text, err != NULL ? err :
						      "expected one chain");
			talloc_free(tmp);
			return true;
		}
		text = list->chains[0].text;
	}
	*_status = mg_persist_control(tmp, op, text, &err) == 0 ? 0 : 255;
	if (err != NULL) {
		mg_cmd_error("%s", err);
	}
	talloc_free(tmp);
	return true;
}
