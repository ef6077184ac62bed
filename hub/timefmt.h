/*
 * hub360 - RFC 3339 timestamps <-> UTC milliseconds, and clocks.
 *
 * Avro carries times as timestamp-millis; the canonical JSON form carries
 * them as RFC 3339 UTC strings: "2026-03-14T09:26:53Z", or with exactly
 * three fraction digits when the milliseconds are not zero.
 */
#ifndef HUB_TIMEFMT_H
#define HUB_TIMEFMT_H

#include <stddef.h>
#include <stdint.h>

#define HUB_TIME_MAXLEN 32 /* enough for any formatted timestamp + NUL */

/*
 * Parses an RFC 3339 date-time ("2026-03-14T09:26:53.589+08:00"; 'Z' or an
 * offset; 'T', 't' or a space between date and time; any number of
 * fraction digits, truncated to milliseconds) into UTC milliseconds.
 * Returns 0, or HUB_EINVAL with a reason in why (a static string).
 */
int hub_time_parse(const char *s, size_t len, int64_t *ms, const char **why);

/* Formats UTC milliseconds in the canonical form; returns the length. */
size_t hub_time_format(int64_t ms, char out[HUB_TIME_MAXLEN]);

/* Wall-clock UTC milliseconds. */
int64_t hub_time_now_ms(void);
/* Monotonic milliseconds, for deadlines and rates. */
int64_t hub_time_mono_ms(void);

#endif
