/*
 * hub360 - IANA time zones read from their TZif files, for the daily
 * report's business days.
 *
 * The projector must not change its process's TZ (other threads format
 * times in UTC), and localtime_r knows one zone at a time; this reads the
 * compiled rules of one zone (/usr/share/zoneinfo/NAME, RFC 8536: the
 * 64-bit transitions and the POSIX TZ string of the footer for instants
 * past the last one) and answers the UTC offset at any instant, DST
 * included. "UTC" needs no file.
 */
#ifndef HUB_TZ_H
#define HUB_TZ_H

#include <stddef.h>
#include <stdint.h>

typedef struct hub_tz hub_tz_t;

/*
 * Loads zone `name` (an IANA name such as "Asia/Shanghai", or "UTC") from
 * $TZDIR or /usr/share/zoneinfo. HUB_ENOENT: no such zone (a name with
 * ".." or a leading "/" is none); HUB_EDECODE: not a TZif file. err names
 * the file and what is wrong. The caller frees *out with hub_tz_free.
 */
int hub_tz_load(const char *name, hub_tz_t **out, char *err, size_t errlen);
void hub_tz_free(hub_tz_t *tz);

/* The zone's name as loaded; "UTC" for UTC. Lives as long as tz. */
const char *hub_tz_name(const hub_tz_t *tz);

/* Seconds east of UTC at the instant `ms` (UTC milliseconds). */
int32_t hub_tz_offset(const hub_tz_t *tz, int64_t ms);

/* The day number (days since 1970-01-01) of the instant in the zone;
 * tz NULL: in UTC. */
int32_t hub_tz_day(const hub_tz_t *tz, int64_t ms);

/* Days since 1970-01-01 of a proleptic Gregorian date, and back. */
int32_t hub_days_from_civil(int64_t y, unsigned m, unsigned d);
void hub_civil_from_days(int32_t days, int *y, unsigned *m, unsigned *d);

/* Parses "YYYY-MM-DD" (a real date, years 1970 to 9999) into a day
 * number: 0, or -1 when it is not one. */
int hub_day_parse(const char *s, int32_t *day);
/* Writes "YYYY-MM-DD" (11 bytes with the NUL). */
void hub_day_format(int32_t day, char out[11]);

#endif
