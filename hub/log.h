/*
 * hub360 - logging to standard error, as text lines or JSON lines.
 *
 * One line per call, written with a single write so lines from several
 * threads never interleave. Nothing here ever logs secrets: callers pass
 * values that are safe to show (signature headers and tokens are not).
 */
#ifndef HUB_LOG_H
#define HUB_LOG_H

typedef enum hub_log_level {
    HUB_LOG_DEBUG = 0,
    HUB_LOG_INFO = 1,
    HUB_LOG_WARN = 2,
    HUB_LOG_ERROR = 3,
} hub_log_level;

/* Sets the minimum level and the format (json != 0: JSON lines). */
void hub_log_setup(hub_log_level level, int json);
/* Parses "debug", "info", "warn" or "error". 0 or HUB_EINVAL. */
int hub_log_level_parse(const char *s, hub_log_level *out);
int hub_log_enabled(hub_log_level level);

void hub_log(hub_log_level level, const char *component, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define hub_log_debug(c, ...) hub_log(HUB_LOG_DEBUG, c, __VA_ARGS__)
#define hub_log_info(c, ...) hub_log(HUB_LOG_INFO, c, __VA_ARGS__)
#define hub_log_warn(c, ...) hub_log(HUB_LOG_WARN, c, __VA_ARGS__)
#define hub_log_error(c, ...) hub_log(HUB_LOG_ERROR, c, __VA_ARGS__)

#endif
