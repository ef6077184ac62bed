/*
 * hub360 - RFC 3339 timestamps. Civil-date arithmetic follows Howard
 * Hinnant's days_from_civil algorithm, so no time zone database or libc
 * locale state is involved.
 */
#include "timefmt.h"

#include <stdio.h>
#include <time.h>

#include "errors.h"

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d) {
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static int digits(const char *s, size_t len, size_t at, int n, int *out) {
    int v = 0;
    if (at + (size_t)n > len)
        return -1;
    for (int i = 0; i < n; i++) {
        char c = s[at + (size_t)i];
        if (c < '0' || c > '9')
            return -1;
        v = v * 10 + (c - '0');
    }
    *out = v;
    return 0;
}

static int days_in_month(int y, int m) {
    static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : dm[m - 1];
}

int hub_time_parse(const char *s, size_t len, int64_t *ms, const char **why) {
    int y, mo, d, h, mi, sec;
    const char *bad = "expected an RFC 3339 time like 2026-03-14T09:26:53Z";
    if (digits(s, len, 0, 4, &y) || len < 19 || s[4] != '-' ||
        digits(s, len, 5, 2, &mo) || s[7] != '-' ||
        digits(s, len, 8, 2, &d) ||
        (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
        digits(s, len, 11, 2, &h) || s[13] != ':' ||
        digits(s, len, 14, 2, &mi) || s[16] != ':' ||
        digits(s, len, 17, 2, &sec))
        goto fail;
    if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 ||
        mi > 59 || sec > 59) {
        bad = "date or time out of range";
        goto fail;
    }
    size_t i = 19;
    int frac = 0;
    if (i < len && s[i] == '.') {
        int n = 0;
        for (i++; i < len && s[i] >= '0' && s[i] <= '9'; i++, n++) {
            if (n < 3)
                frac = frac * 10 + (s[i] - '0');
        }
        if (n == 0)
            goto fail;
        for (; n < 3; n++)
            frac *= 10;
    }
    int offset_min = 0;
    if (i < len && (s[i] == 'Z' || s[i] == 'z')) {
        i++;
    } else if (i < len && (s[i] == '+' || s[i] == '-')) {
        int oh, om;
        if (digits(s, len, i + 1, 2, &oh) || i + 3 >= len ||
            s[i + 3] != ':' || digits(s, len, i + 4, 2, &om) || oh > 23 ||
            om > 59)
            goto fail;
        offset_min = (oh * 60 + om) * (s[i] == '-' ? -1 : 1);
        i += 6;
    } else {
        bad = "missing time zone (Z or +HH:MM)";
        goto fail;
    }
    if (i != len)
        goto fail;
    int64_t days = days_from_civil(y, (unsigned)mo, (unsigned)d);
    int64_t secs = days * 86400 + h * 3600 + mi * 60 + sec - offset_min * 60;
    *ms = secs * 1000 + frac;
    return 0;
fail:
    if (why)
        *why = bad;
    return HUB_EINVAL;
}

size_t hub_time_format(int64_t ms, char out[HUB_TIME_MAXLEN]) {
    int64_t secs = ms / 1000, frac = ms % 1000;
    if (frac < 0) {
        frac += 1000;
        secs -= 1;
    }
    int64_t days = secs / 86400, rem = secs % 86400;
    if (rem < 0) {
        rem += 86400;
        days -= 1;
    }
    int64_t y;
    unsigned m, d;
    civil_from_days(days, &y, &m, &d);
    if (y < 0 || y > 9999) { /* outside the four-digit years */
        int n = snprintf(out, HUB_TIME_MAXLEN,
                         "%04lld-%02u-%02uT%02d:%02d:%02d.%03dZ", (long long)y,
                         m, d, (int)(rem / 3600), (int)(rem / 60 % 60),
                         (int)(rem % 60), (int)frac);
        return n > 0 ? (size_t)n : 0;
    }
    /* the common case by hand: this runs for every timeline entry */
    unsigned yy = (unsigned)y, hh = (unsigned)(rem / 3600),
             mi = (unsigned)(rem / 60 % 60), ss = (unsigned)(rem % 60);
    char *p = out;
    *p++ = (char)('0' + yy / 1000);
    *p++ = (char)('0' + yy / 100 % 10);
    *p++ = (char)('0' + yy / 10 % 10);
    *p++ = (char)('0' + yy % 10);
    *p++ = '-';
    *p++ = (char)('0' + m / 10);
    *p++ = (char)('0' + m % 10);
    *p++ = '-';
    *p++ = (char)('0' + d / 10);
    *p++ = (char)('0' + d % 10);
    *p++ = 'T';
    *p++ = (char)('0' + hh / 10);
    *p++ = (char)('0' + hh % 10);
    *p++ = ':';
    *p++ = (char)('0' + mi / 10);
    *p++ = (char)('0' + mi % 10);
    *p++ = ':';
    *p++ = (char)('0' + ss / 10);
    *p++ = (char)('0' + ss % 10);
    if (frac) {
        unsigned f = (unsigned)frac;
        *p++ = '.';
        *p++ = (char)('0' + f / 100);
        *p++ = (char)('0' + f / 10 % 10);
        *p++ = (char)('0' + f % 10);
    }
    *p++ = 'Z';
    *p = '\0';
    return (size_t)(p - out);
}

int64_t hub_time_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t hub_time_mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
