/*
 * hub360 - IANA time zones from TZif files (RFC 8536), without touching
 * the process's TZ: the transitions, and past the last of them the POSIX
 * TZ string of the footer (std offset [dst [offset] [,start[/time],
 * end[/time]]]), as zic writes "slim" files that stop at the last rule
 * change and leave the rest to the footer.
 */
#include "tz.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "errors.h"

#define MAX_TZ_FILE (1 << 20)

typedef struct rule {
    char kind;      /* 'J' (1..365, no Feb 29), 'D' (0..365), 'M' */
    int m, w, d, n;
    int32_t time;   /* seconds after local midnight */
} rule;

struct hub_tz {
    char *name;
    int64_t *trans;   /* transition instants, UTC seconds, ascending */
    uint8_t *idx;     /* the local time type of each */
    size_t ntrans;
    int32_t *utoff;   /* the types' offsets */
    size_t ntypes;
    int have_footer;  /* the footer's rule, for instants past the last */
    int has_dst;
    int32_t std_off, dst_off;
    rule start, end;
};

/* ------------------------------------------------------------------ */
/* Calendar                                                            */
/* ------------------------------------------------------------------ */

int32_t hub_days_from_civil(int64_t y, unsigned m, unsigned d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return (int32_t)(era * 146097 + (int64_t)doe - 719468);
}

void hub_civil_from_days(int32_t days, int *y, unsigned *m, unsigned *d) {
    int64_t z = (int64_t)days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t yy = (int64_t)yoe + era * 400;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int)(yy + (*m <= 2));
}

static int is_leap(int64_t y) {
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned month_days(int64_t y, unsigned m) {
    static const unsigned n[12] = {31, 28, 31, 30, 31, 30,
                                   31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : n[m - 1];
}

static int64_t floor_div(int64_t a, int64_t b) {
    return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

int hub_day_parse(const char *s, int32_t *day) {
    unsigned y, m, d;
    if (!s || strlen(s) != 10 || s[4] != '-' || s[7] != '-')
        return -1;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
            return -1;
    y = (unsigned)((s[0] - '0') * 1000 + (s[1] - '0') * 100 +
                   (s[2] - '0') * 10 + (s[3] - '0'));
    m = (unsigned)((s[5] - '0') * 10 + (s[6] - '0'));
    d = (unsigned)((s[8] - '0') * 10 + (s[9] - '0'));
    if (y < 1970 || m < 1 || m > 12 || d < 1 || d > month_days(y, m))
        return -1;
    *day = hub_days_from_civil(y, m, d);
    return 0;
}

void hub_day_format(int32_t day, char out[11]) {
    int y;
    unsigned m, d;
    hub_civil_from_days(day, &y, &m, &d);
    snprintf(out, 11, "%04u-%02u-%02u", (unsigned)y % 10000u, m % 100u,
             d % 100u);
}

/* ------------------------------------------------------------------ */
/* The footer's POSIX TZ string                                        */
/* ------------------------------------------------------------------ */

static const char *tz_name_end(const char *s) {
    if (*s == '<') {
        const char *e = strchr(s, '>');
        return e ? e + 1 : NULL;
    }
    const char *p = s;
    while ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z'))
        p++;
    return p - s >= 3 ? p : NULL;
}

/* [+-]hh[:mm[:ss]] into seconds; NULL when it is not one. */
static const char *tz_hms(const char *s, int32_t *out, int max_hours) {
    int sign = 1;
    if (*s == '+' || *s == '-')
        sign = *s++ == '-' ? -1 : 1;
    long part[3] = {0, 0, 0};
    for (int i = 0; i < 3; i++) {
        if (i && *s != ':')
            break;
        if (i)
            s++;
        if (*s < '0' || *s > '9')
            return NULL;
        char *end;
        part[i] = strtol(s, &end, 10);
        s = end;
    }
    if (part[0] > max_hours || part[1] > 59 || part[2] > 59)
        return NULL;
    *out = (int32_t)(sign * (part[0] * 3600 + part[1] * 60 + part[2]));
    return s;
}

static const char *tz_rule(const char *s, rule *r) {
    char *end;
    r->time = 7200;
    if (*s == 'M') {
        r->kind = 'M';
        r->m = (int)strtol(s + 1, &end, 10);
        if (*end != '.')
            return NULL;
        r->w = (int)strtol(end + 1, &end, 10);
        if (*end != '.')
            return NULL;
        r->d = (int)strtol(end + 1, &end, 10);
        if (r->m < 1 || r->m > 12 || r->w < 1 || r->w > 5 || r->d < 0 ||
            r->d > 6)
            return NULL;
    } else if (*s == 'J' || (*s >= '0' && *s <= '9')) {
        r->kind = *s == 'J' ? 'J' : 'D';
        r->n = (int)strtol(s + (*s == 'J'), &end, 10);
        if (r->n < (r->kind == 'J') || r->n > 365)
            return NULL;
    } else {
        return NULL;
    }
    s = end;
    if (*s == '/' && !(s = tz_hms(s + 1, &r->time, 167)))
        return NULL;
    return s;
}

static int parse_footer(hub_tz_t *tz, const char *s) {
    const char *p = tz_name_end(s);
    int32_t off;
    if (!p || !(p = tz_hms(p, &off, 24)))
        return -1;
    tz->std_off = -off; /* POSIX offsets count west */
    tz->have_footer = 1;
    if (!*p)
        return 0;
    if (!(p = tz_name_end(p)))
        return -1;
    tz->has_dst = 1;
    tz->dst_off = tz->std_off + 3600;
    if (*p && *p != ',') {
        if (!(p = tz_hms(p, &off, 24)))
            return -1;
        tz->dst_off = -off;
    }
    if (!*p) { /* no rules given: POSIX's default, the US rules */
        tz->start = (rule){'M', 3, 2, 0, 0, 7200};
        tz->end = (rule){'M', 11, 1, 0, 0, 7200};
        return 0;
    }
    if (*p != ',' || !(p = tz_rule(p + 1, &tz->start)) || *p != ',' ||
        !(p = tz_rule(p + 1, &tz->end)) || *p)
        return -1;
    return 0;
}

/* The UTC second a rule's transition happens in year y, given the
 * offset in force before it. */
static int64_t rule_at(const rule *r, int64_t y, int32_t before) {
    int32_t jan1 = hub_days_from_civil(y, 1, 1), day;
    if (r->kind == 'J') {
        day = jan1 + r->n - 1 + (is_leap(y) && r->n >= 60);
    } else if (r->kind == 'D') {
        day = jan1 + r->n;
    } else {
        int32_t first = hub_days_from_civil(y, (unsigned)r->m, 1);
        int wd = (int)(((int64_t)first % 7 + 7 + 4) % 7); /* 1970-01-01: Thu */
        day = first + (r->d - wd + 7) % 7 + (r->w - 1) * 7;
        while (day >= first + (int32_t)month_days(y, (unsigned)r->m))
            day -= 7;
    }
    return (int64_t)day * 86400 + r->time - before;
}

static int32_t footer_offset(const hub_tz_t *tz, int64_t t) {
    if (!tz->has_dst)
        return tz->std_off;
    int y;
    unsigned m, d;
    hub_civil_from_days((int32_t)floor_div(t + tz->std_off, 86400), &y, &m,
                        &d);
    int64_t start = rule_at(&tz->start, y, tz->std_off),
            end = rule_at(&tz->end, y, tz->dst_off);
    int dst = start < end ? t >= start && t < end : !(t >= end && t < start);
    return dst ? tz->dst_off : tz->std_off;
}

/* ------------------------------------------------------------------ */
/* TZif                                                                */
/* ------------------------------------------------------------------ */

static uint32_t be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           p[3];
}

typedef struct counts {
    uint32_t isut, isstd, leap, time, type, chars;
} counts;

static int header(const uint8_t *p, size_t left, counts *c, int *version) {
    if (left < 44 || memcmp(p, "TZif", 4) != 0)
        return -1;
    *version = p[4] ? p[4] - '0' : 1;
    c->isut = be32(p + 20);
    c->isstd = be32(p + 24);
    c->leap = be32(p + 28);
    c->time = be32(p + 32);
    c->type = be32(p + 36);
    c->chars = be32(p + 40);
    if (c->type == 0 || c->type > 256 || c->time > 100000 ||
        c->leap > 100000 || c->chars > 100000)
        return -1;
    return 0;
}

static size_t block_size(const counts *c, size_t tsize) {
    return c->time * tsize + c->time + c->type * 6 + c->chars +
           c->leap * (tsize + 4) + c->isstd + c->isut;
}

/* Reads the data block at p (tsize 4: version 1, 8: version 2+). */
static int read_block(hub_tz_t *tz, const uint8_t *p, const counts *c,
                      size_t tsize) {
    tz->ntrans = c->time;
    tz->ntypes = c->type;
    tz->trans = calloc(c->time + 1, sizeof *tz->trans);
    tz->idx = calloc(c->time + 1, 1);
    tz->utoff = calloc(c->type, sizeof *tz->utoff);
    if (!tz->trans || !tz->idx || !tz->utoff)
        return HUB_ENOMEM;
    for (uint32_t i = 0; i < c->time; i++, p += tsize)
        tz->trans[i] = tsize == 8 ? (int64_t)((uint64_t)be32(p) << 32 |
                                              be32(p + 4))
                                  : (int64_t)(int32_t)be32(p);
    for (uint32_t i = 0; i < c->time; i++) {
        if (p[i] >= c->type)
            return HUB_EDECODE;
        tz->idx[i] = p[i];
    }
    p += c->time;
    for (uint32_t i = 0; i < c->type; i++, p += 6)
        tz->utoff[i] = (int32_t)be32(p);
    return 0;
}

static int parse(hub_tz_t *tz, const uint8_t *buf, size_t len) {
    counts c;
    int version;
    if (header(buf, len, &c, &version))
        return HUB_EDECODE;
    size_t v1 = 44 + block_size(&c, 4);
    if (v1 > len)
        return HUB_EDECODE;
    if (version < 2)
        return read_block(tz, buf + 44, &c, 4);
    const uint8_t *p = buf + v1;
    if (header(p, len - v1, &c, &version))
        return HUB_EDECODE;
    size_t v2 = 44 + block_size(&c, 8);
    if (v2 > len - v1)
        return HUB_EDECODE;
    int rc = read_block(tz, p + 44, &c, 8);
    if (rc)
        return rc;
    const char *f = (const char *)p + v2, *end = (const char *)buf + len;
    if (f < end && *f == '\n') {
        const char *nl = memchr(f + 1, '\n', (size_t)(end - f - 1));
        char s[128];
        if (nl && nl > f + 1 && (size_t)(nl - f - 1) < sizeof s) {
            memcpy(s, f + 1, (size_t)(nl - f - 1));
            s[nl - f - 1] = '\0';
            if (parse_footer(tz, s))
                return HUB_EDECODE;
        }
    }
    return 0;
}

int hub_tz_load(const char *name, hub_tz_t **out, char *err, size_t errlen) {
    *out = NULL;
    hub_tz_t *tz = calloc(1, sizeof *tz);
    if (!tz || !(tz->name = strdup(name))) {
        free(tz);
        return HUB_ENOMEM;
    }
    if (strcmp(name, "UTC") == 0 || strcmp(name, "Etc/UTC") == 0) {
        tz->have_footer = 1; /* offset 0 everywhere */
        *out = tz;
        return 0;
    }
    if (!*name || name[0] == '/' || strstr(name, "..")) {
        hub_tz_free(tz);
        return hub_fail(err, errlen, HUB_ENOENT,
                        "\"%s\" is not an IANA time zone name (such as "
                        "Asia/Shanghai or UTC)", name);
    }
    const char *dir = getenv("TZDIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir && *dir ? dir : "/usr/share/zoneinfo",
             name);
    FILE *f = fopen(path, "rb");
    if (!f) {
        int e = errno;
        hub_tz_free(tz);
        return hub_fail(err, errlen, HUB_ENOENT,
                        "no time zone %s (%s: %s; is the tzdata package "
                        "installed?)", name, path, strerror(e));
    }
    /* TZif files are a few KiB; a bigger one is cut and then refused */
    struct stat sb;
    size_t cap = fstat(fileno(f), &sb) == 0 && sb.st_size > 0 &&
                         sb.st_size < MAX_TZ_FILE
                     ? (size_t)sb.st_size
                     : MAX_TZ_FILE;
    uint8_t *buf = malloc(cap);
    size_t len = buf ? fread(buf, 1, cap, f) : 0;
    fclose(f);
    int rc = buf ? parse(tz, buf, len) : HUB_ENOMEM;
    free(buf);
    if (rc) {
        hub_tz_free(tz);
        return hub_fail(err, errlen, rc, "%s: %s", path,
                        rc == HUB_ENOMEM ? "out of memory"
                                         : "not a TZif time zone file");
    }
    *out = tz;
    return 0;
}

void hub_tz_free(hub_tz_t *tz) {
    if (!tz)
        return;
    free(tz->name);
    free(tz->trans);
    free(tz->idx);
    free(tz->utoff);
    free(tz);
}

const char *hub_tz_name(const hub_tz_t *tz) { return tz->name; }

int32_t hub_tz_offset(const hub_tz_t *tz, int64_t ms) {
    int64_t t = floor_div(ms, 1000);
    if (tz->ntrans == 0 || t < tz->trans[0]) {
        if (tz->ntrans == 0 && tz->have_footer)
            return footer_offset(tz, t);
        return tz->ntypes ? tz->utoff[0] : 0;
    }
    if (t >= tz->trans[tz->ntrans - 1] && tz->have_footer)
        return footer_offset(tz, t);
    size_t lo = 0, hi = tz->ntrans; /* the last transition at or before t */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (tz->trans[mid] <= t)
            lo = mid;
        else
            hi = mid;
    }
    return tz->utoff[tz->idx[lo]];
}

int32_t hub_tz_day(const hub_tz_t *tz, int64_t ms) {
    int64_t off = tz ? (int64_t)hub_tz_offset(tz, ms) * 1000 : 0;
    return (int32_t)floor_div(ms + off, 86400000);
}
