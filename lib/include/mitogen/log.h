/* Logging: the library only logs through here; the program installs the sink. */
#ifndef MITOGEN_LOG_H
#define MITOGEN_LOG_H

#include <stdarg.h>
#include <stddef.h>
#include <talloc.h>

#ifdef __cplusplus
extern "C" {
#endif

enum mg_log_level {
	MG_LOG_ERROR = 0,
	MG_LOG_WARN = 1,
	MG_LOG_INFO = 2,
	MG_LOG_DEBUG = 3,
	MG_LOG_TRACE = 4,
};

typedef void (*mg_log_sink)(enum mg_log_level level, const char *msg, void *data);

/* Messages above 'level' are dropped before formatting. */
void mg_log_set_level(enum mg_log_level level);
enum mg_log_level mg_log_get_level(void);
/* Install the sink; NULL restores the default (stderr, "mitogen: "). */
void mg_log_set_sink(mg_log_sink sink, void *data);
/* Prefix used by the default sink, e.g. the program name. */
void mg_log_set_ident(const char *ident);

/*
 * Log to the file 'path' instead (mitogen's log_to_file): opened for
 * appending, close-on-exec, created with mode 0600 if missing; each line
 * "TIME LEVEL IDENT[PID]: TEXT" (TIME in UTC, ISO 8601, milliseconds),
 * with TEXT escaped as every log line is (mg_log_escape). Sets the level
 * too. The file is the process's: it stays open until the sink is
 * replaced (mg_log_set_sink, or mg_log_to_file again), which closes it.
 * Returns 0, -EINVAL (path NULL) or the -errno of open(2); on error the
 * sink and level are unchanged.
 */
int mg_log_to_file(const char *path, enum mg_log_level level);

/* 'n' bytes of 'text' made safe to print on a terminal, as every log
 * line is: printable ASCII, tab and printable UTF-8 kept; newline and
 * carriage return as \n and \r; any other byte (controls, DEL, C1,
 * invalid UTF-8, bidirectional overrides) as \xHH. Use it on whatever a
 * program prints that may hold text from a far end or a chain (error
 * messages), never on the commands' own output. NULL on ENOMEM. */
char *mg_log_escape(TALLOC_CTX *mem_ctx, const char *text, size_t n);

void mg_log(enum mg_log_level level, const char *func, int err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
void mg_vlog(enum mg_log_level level, const char *func, int err, const char *fmt, va_list ap)
	__attribute__((format(printf, 4, 0)));

#define mg__log(lvl, func, err, ...) \
	do { if ((lvl) <= mg_log_get_level()) mg_log((lvl), (func), (err), __VA_ARGS__); } while (0)

#define mg_error(...) mg__log(MG_LOG_ERROR, NULL, 0, __VA_ARGS__)
#define mg_warn(...) mg__log(MG_LOG_WARN, NULL, 0, __VA_ARGS__)
#define mg_info(...) mg__log(MG_LOG_INFO, NULL, 0, __VA_ARGS__)
#define mg_debug(...) mg__log(MG_LOG_DEBUG, NULL, 0, __VA_ARGS__)
#define mg_trace(...) mg__log(MG_LOG_TRACE, NULL, 0, __VA_ARGS__)
#define mg_error_r(r, ...) mg__log(MG_LOG_ERROR, NULL, (r), __VA_ARGS__)
#define mg_warn_r(r, ...) mg__log(MG_LOG_WARN, NULL, (r), __VA_ARGS__)
#define mg_debug_r(r, ...) mg__log(MG_LOG_DEBUG, NULL, (r), __VA_ARGS__)
#define mg_error_f(...) mg__log(MG_LOG_ERROR, __func__, 0, __VA_ARGS__)
#define mg_debug_f(...) mg__log(MG_LOG_DEBUG, __func__, 0, __VA_ARGS__)
#define mg_trace_f(...) mg__log(MG_LOG_TRACE, __func__, 0, __VA_ARGS__)
#define mg_error_fr(r, ...) mg__log(MG_LOG_ERROR, __func__, (r), __VA_ARGS__)
#define mg_debug_fr(r, ...) mg__log(MG_LOG_DEBUG, __func__, (r), __VA_ARGS__)

#ifdef __cplusplus
}
#endif

#endif
