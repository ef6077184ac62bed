/*
 * hub360 - identity normalization and linking rules.
 *
 * Phone numbers: there is no libphonenumber in Debian's C world, so this
 * file carries a small table of regions (country calling code, trunk
 * prefix, national number lengths). It turns "+86 138-0013-8000",
 * "0086 13800138000", "13800138000" (default region CN) and
 * "(415) 555-2671" (default US) into E.164, and rejects what cannot be a
 * phone: too short or long, letters, or one digit repeated (0000000).
 * It does not know every numbering plan; a number it gets wrong still
 * normalizes the same way every time, which is what linking needs.
 */
#include "identity.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "errors.h"

static const char *const kind_names[HUB_ID_NKINDS] = {
    "email",        "phone",         "crm_contact",   "crm_lead",
    "crm_account",  "erp_customer",  "social_handle", "wechat_openid",
    "wechat_unionid", "external",
};

const char *hub_ident_kind_name(int kind) {
    return kind >= 0 && kind < HUB_ID_NKINDS ? kind_names[kind] : NULL;
}

int hub_ident_kind_parse(const char *name, size_t len) {
    for (int k = 0; k < HUB_ID_NKINDS; k++) {
        if (strlen(kind_names[k]) == len && strncmp(kind_names[k], name, len) == 0)
            return k;
    }
    return -1;
}

/* ------------------------------------------------------------------ */
/* Phones                                                              */
/* ------------------------------------------------------------------ */

static const struct region {
    const char *code;
    const char *cc;    /* country calling code */
    const char *trunk; /* national prefix dropped in E.164, "" if none */
    int min, max;      /* digits of the national significant number */
} regions[] = {
    {"CN", "86", "0", 7, 11},   {"US", "1", "1", 10, 10},
    {"CA", "1", "1", 10, 10},   {"GB", "44", "0", 9, 10},
    {"DE", "49", "0", 6, 13},   {"FR", "33", "0", 9, 9},
    {"JP", "81", "0", 9, 10},   {"KR", "82", "0", 8, 10},
    {"SG", "65", "", 8, 8},     {"HK", "852", "", 8, 8},
    {"MO", "853", "", 8, 8},    {"TW", "886", "0", 8, 9},
    {"AU", "61", "0", 9, 9},    {"NZ", "64", "0", 8, 10},
    {"IN", "91", "0", 10, 10},  {"MY", "60", "0", 8, 10},
    {"TH", "66", "0", 8, 9},    {"VN", "84", "0", 9, 10},
    {"ID", "62", "0", 8, 12},   {"PH", "63", "0", 10, 10},
    {"BR", "55", "0", 10, 11},  {"MX", "52", "", 10, 10},
    {"ES", "34", "", 9, 9},     {"IT", "39", "", 6, 11},
    {"NL", "31", "0", 9, 9},    {"CH", "41", "0", 9, 9},
    {"SE", "46", "0", 7, 9},    {"IE", "353", "0", 7, 9},
    {"RU", "7", "8", 10, 10},   {"AE", "971", "0", 8, 9},
    {"SA", "966", "0", 9, 9},
};
#define NREGIONS (sizeof regions / sizeof regions[0])

int hub_phone_region(const char *code) {
    for (size_t i = 0; i < NREGIONS; i++) {
        if (strcasecmp(regions[i].code, code) == 0)
            return (int)i;
    }
    return -1;
}

int hub_phone_e164(const char *raw, size_t len, int region, char *out,
                   size_t outlen) {
    char d[32];
    size_t nd = 0;
    int plus = 0, seen_digit = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)raw[i];
        if (c >= '0' && c <= '9') {
            if (nd + 1 >= sizeof d)
                return -1;
            d[nd++] = (char)c;
            seen_digit = 1;
        } else if (c == '+' && !seen_digit && !plus) {
            plus = 1;
        } else if (c == ' ' || c == '-' || c == '.' || c == '(' ||
                   c == ')' || c == '/' || c == '\t') {
            continue;
        } else if ((c == 'x' || c == 'X' || c == '#' || c == ';' ||
                    c == 'e' || c == 'E') &&
                   seen_digit) {
            break; /* an extension follows: "ext. 12", "x12", "#12" */
        } else {
            return -1;
        }
    }
    d[nd] = '\0';
    const char *num = d;
    char full[40];
    if (!plus && nd > 2 && strncmp(num, "00", 2) == 0) {
        plus = 1;
        num += 2;
    } else if (!plus && region >= 0 &&
               strcmp(regions[region].cc, "1") == 0 && nd > 3 &&
               d[0] == '0' && d[1] == '1' && d[2] == '1') {
        plus = 1;
        num += 3;
    }
    if (plus) {
        snprintf(full, sizeof full, "%s", num);
    } else {
        if (region < 0 || (size_t)region >= NREGIONS)
            return -1;
        const struct region *r = &regions[region];
        size_t cclen = strlen(r->cc), n = strlen(num);
        /* "8613800138000" written without the plus */
        if ((int)n > r->max && strncmp(num, r->cc, cclen) == 0 &&
            (int)(n - cclen) >= r->min && (int)(n - cclen) <= r->max) {
            snprintf(full, sizeof full, "%s", num);
        } else {
            size_t tl = strlen(r->trunk);
            if (tl && (int)n > r->min && strncmp(num, r->trunk, tl) == 0 &&
                (int)(n - tl) >= r->min) {
                num += tl;
                n -= tl;
            }
            if ((int)n < r->min || (int)n > r->max)
                return -1;
            snprintf(full, sizeof full, "%s%s", r->cc, num);
        }
    }
    size_t fl = strlen(full);
    if (fl < 8 || fl > 15 || full[0] == '0')
        return -1;
    /* placeholders: a national number of one digit repeated (0000000);
     * the country code is 1 to 3 digits, so try each split */
    for (size_t cc = 1; cc <= 3; cc++) {
        size_t i = cc + 1;
        while (i < fl && full[i] == full[cc])
            i++;
        if (i == fl)
            return -1;
    }
    int w = snprintf(out, outlen, "+%s", full);
    return w > 0 && (size_t)w < outlen ? w : -1;
}

/* ------------------------------------------------------------------ */
/* Rules                                                               */
/* ------------------------------------------------------------------ */

int hub_ident_rules_init(hub_ident_rules_t *r, const hub_identity_config_t *cfg,
                         char *err, size_t errlen) {
    memset(r, 0, sizeof *r);
    r->region = hub_phone_region(cfg->default_region);
    if (r->region < 0)
        return hub_fail(err, errlen, HUB_ECONFIG,
                        "identity.default_region: unknown region \"%s\"",
                        cfg->default_region);
    for (size_t i = 0; i < cfg->link_kinds.n; i++) {
        const char *k = cfg->link_kinds.v[i];
        int kind = hub_ident_kind_parse(k, strlen(k));
        if (kind < 0)
            return hub_fail(err, errlen, HUB_ECONFIG,
                            "identity.link_kinds[%zu]: unknown identity kind "
                            "\"%s\"",
                            i, k);
        r->links[kind] = 1;
    }
    /* Each pattern alone first, so that an error names the one at
     * fault; then all of them as one alternation, so that a value costs
     * one regexec whatever the number of patterns (glibc's regexec also
     * takes a lock per call, which the decoding threads share). */
    hub_buf_t all = HUB_BUF_INIT;
    for (size_t i = 0; i < cfg->blocklist.n; i++) {
        int rc = regcomp(&r->block, cfg->blocklist.v[i],
                         REG_EXTENDED | REG_NOSUB | REG_ICASE);
        if (rc) {
            char why[128];
            regerror(rc, &r->block, why, sizeof why);
            hub_buf_free(&all);
            return hub_fail(err, errlen, HUB_ECONFIG,
                            "identity.blocklist[%zu]: bad pattern \"%s\": %s",
                            i, cfg->blocklist.v[i], why);
        }
        regfree(&r->block);
        if ((i && hub_buf_puts(&all, "|")) || hub_buf_puts(&all, "(") ||
            hub_buf_puts(&all, cfg->blocklist.v[i]) || hub_buf_puts(&all, ")")) {
            hub_buf_free(&all);
            return HUB_ENOMEM;
        }
    }
    if (cfg->blocklist.n) {
        int rc = regcomp(&r->block, all.data,
                         REG_EXTENDED | REG_NOSUB | REG_ICASE);
        hub_buf_free(&all);
        if (rc) {
            char why[128];
            regerror(rc, &r->block, why, sizeof why);
            return hub_fail(err, errlen, HUB_ECONFIG,
                            "identity.blocklist: the %zu patterns do not "
                            "compile as one alternation: %s",
                            cfg->blocklist.n, why);
        }
        r->has_block = 1;
    }
    r->max_entities = cfg->max_entities;
    return 0;
}

void hub_ident_rules_free(hub_ident_rules_t *r) {
    if (r->has_block)
        regfree(&r->block);
    r->has_block = 0;
}

/* Trims ASCII white space; returns the new length, start in *s. */
static size_t trim(const char **s, size_t len) {
    while (len && isspace((unsigned char)**s)) {
        (*s)++;
        len--;
    }
    while (len && isspace((unsigned char)(*s)[len - 1]))
        len--;
    return len;
}

static int valid_email(const char *v, size_t len) {
    const char *at = memchr(v, '@', len);
    if (!at || at == v || at == v + len - 1)
        return 0;
    const char *domain = at + 1;
    size_t dlen = len - (size_t)(domain - v);
    if (memchr(domain, '@', dlen) || !memchr(domain, '.', dlen) ||
        domain[0] == '.' || domain[dlen - 1] == '.')
        return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)v[i];
        if (c <= ' ' || c == '<' || c == '>' || c == ',' || c == '"')
            return 0;
    }
    return 1;
}

/* Appends s and the character sep at out+*o; -1 when it does not fit. */
static int put_part(char *out, size_t outlen, size_t *o, const char *s,
                    char sep) {
    size_t n = strlen(s);
    if (*o + n + 1 >= outlen)
        return -1;
    memcpy(out + *o, s, n);
    out[*o + n] = sep;
    *o += n + 1;
    return 0;
}

int hub_ident_normalize(const hub_ident_rules_t *r, int kind,
                        const char *value, size_t len, const char *system,
                        char *out, size_t outlen) {
    const char *v = value;
    len = trim(&v, len);
    const char *kn = hub_ident_kind_name(kind);
    if (!kn || len == 0)
        return -1;
    size_t o = 0;
    if (put_part(out, outlen, &o, kn, ':'))
        return -1;
    switch (kind) {
    case HUB_ID_EMAIL:
        if (!valid_email(v, len) || o + len >= outlen)
            return -1;
        for (size_t i = 0; i < len; i++)
            out[o++] = (char)tolower((unsigned char)v[i]);
        break;
    case HUB_ID_PHONE: {
        int n = hub_phone_e164(v, len, r->region, out + o, outlen - o);
        if (n < 0)
            return -1;
        o += (size_t)n;
        break;
    }
    case HUB_ID_SOCIAL_HANDLE: {
        const char *colon = memchr(v, ':', len);
        size_t start = o;
        if (!colon && put_part(out, outlen, &o, system, ':'))
            return -1; /* no platform: the source is the platform */
        for (size_t i = 0; i < len && o + 1 < outlen; i++) {
            if (v[i] == '@' && (i == 0 || v[i - 1] == ':'))
                continue; /* "@handle" is "handle" */
            out[o++] = (char)tolower((unsigned char)v[i]);
        }
        for (size_t i = start; i < o; i++)
            out[i] = (char)tolower((unsigned char)out[i]);
        if (o + 1 >= outlen || out[o - 1] == ':')
            return -1;
        break;
    }
    case HUB_ID_WECHAT_OPENID:
    case HUB_ID_WECHAT_UNIONID:
        if (o + len >= outlen)
            return -1;
        memcpy(out + o, v, len);
        o += len;
        break;
    default: /* ids: namespaced by source system unless already */
        if (!memchr(v, ':', len) && put_part(out, outlen, &o, system, ':'))
            return -1;
        if (o + len >= outlen)
            return -1;
        memcpy(out + o, v, len);
        o += len;
    }
    out[o] = '\0';
    return (int)o;
}

int hub_ident_links(const hub_ident_rules_t *r, int kind, const char *key,
                    const char *raw, size_t rawlen) {
    if (kind < 0 || kind >= HUB_ID_NKINDS || !r->links[kind])
        return 0;
    const char *value = strchr(key, ':');
    value = value ? value + 1 : key;
    if (!r->has_block)
        return 1;
    char rawz[512];
    const char *t = raw;
    rawlen = trim(&t, rawlen);
    if (rawlen >= sizeof rawz)
        rawlen = sizeof rawz - 1;
    memcpy(rawz, t, rawlen);
    rawz[rawlen] = '\0';
    if (regexec(&r->block, value, 0, NULL, 0) == 0)
        return 0;
    /* the patterns ignore ASCII case (the C locale's REG_ICASE), so a raw
     * value that differs only in case matches as the normalized one did */
    return strcasecmp(rawz, value) == 0 ||
           regexec(&r->block, rawz, 0, NULL, 0) != 0;
}
