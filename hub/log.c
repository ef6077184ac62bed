/*
 * hub360 - logging.
 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "errors.h"
#include "json.h"
#include "timefmt.h"

static hub_log_level min_level = HUB_LOG_INFO;
static int json_lines;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void hub_log_setup(hub_log_level level, int json) {
    min_level = level;
    json_lines = json;
}

int hub_log_level_parse(const char *s, hub_log_level *out) {
    for (int i = 0; i < 4; i++) {
        if (strcmp(s, level_names[i]) == 0) {
            *out = (hub_log_level)i;
            return 0;
        }
    }
    return HUB_EINVAL;
}

int hub_log_enabled(hub_log_level level) { return level >= min_level; }

void hub_log(hub_log_level level, const char *component, const char *fmt,
             ...) {
    if (level < min_level)
        return;
    char ts[HUB_TIME_MAXLEN];
    hub_time_format(hub_time_now_ms(), ts);
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);

    hub_buf_t b = HUB_BUF_INIT;
    int first = 1;
    if (json_lines) {
        hub_buf_putc(&b, '{');
        hub_json_put_key(&b, "ts", &first);
        hub_json_put_cstr(&b, ts);
        hub_json_put_key(&b, "level", &first);
        hub_json_put_cstr(&b, level_names[level]);
        hub_json_put_key(&b, "component", &first);
        hub_json_put_cstr(&b, component);
        hub_json_put_key(&b, "msg", &first);
        hub_json_put_cstr(&b, msg);
        hub_buf_puts(&b, "}\n");
    } else {
        hub_buf_printf(&b, "%s %-5s [%s] %s\n", ts, level_names[level],
                       component, msg);
    }
    if (b.data) {
        ssize_t w = write(STDERR_FILENO, b.data, b.len);
        (void)w;
    }
    hub_buf_free(&b);
}
