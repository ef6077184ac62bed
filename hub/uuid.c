/*
 * hub360 - UUID parsing, formatting, v5 and v7 generation.
 */
#include "uuid.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "errors.h"
#include "hash.h"
#include "timefmt.h"

/* 7932dfa3-fe97-5e7a-80c2-d85d988334cf = uuid5(NAMESPACE_URL, "hub360") */
const hub_uuid_t hub_uuid_ns_hub360 = {{0x79, 0x32, 0xdf, 0xa3, 0xfe, 0x97,
                                        0x5e, 0x7a, 0x80, 0xc2, 0xd8, 0x5d,
                                        0x98, 0x83, 0x34, 0xcf}};

int hub_uuid_parse(const char *s, size_t len, hub_uuid_t *out) {
    if (len != HUB_UUID_STRLEN)
        return HUB_EINVAL;
    size_t j = 0;
    for (size_t i = 0; i < len;) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-')
                return HUB_EINVAL;
            i++;
            continue;
        }
        int hi = hub_hex_digit(s[i]), lo = hub_hex_digit(s[i + 1]);
        if (hi < 0 || lo < 0)
            return HUB_EINVAL;
        out->b[j++] = (uint8_t)(hi << 4 | lo);
        i += 2;
    }
    return 0;
}

void hub_uuid_format(const hub_uuid_t *u, char out[HUB_UUID_STRLEN + 1]) {
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hex[u->b[i] >> 4];
        out[o++] = hex[u->b[i] & 15];
    }
    out[o] = '\0';
}

void hub_uuid_v5(const hub_uuid_t *ns, const void *name, size_t len,
                 hub_uuid_t *out) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) ||
        !EVP_DigestUpdate(ctx, ns->b, 16) ||
        !EVP_DigestUpdate(ctx, name, len) ||
        !EVP_DigestFinal_ex(ctx, md, &mdlen))
        abort(); /* only on allocation failure inside OpenSSL */
    EVP_MD_CTX_free(ctx);
    memcpy(out->b, md, 16);
    out->b[6] = (uint8_t)((out->b[6] & 0x0f) | 0x50);
    out->b[8] = (uint8_t)((out->b[8] & 0x3f) | 0x80);
}

void hub_uuid_v7(hub_uuid_t *out) {
    /* 48 bits of milliseconds, then a 12-bit counter (rand_a) that keeps
     * ids increasing within one millisecond, then 62 random bits. */
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    static int64_t last_ms;
    static unsigned seq;
    int64_t ms = hub_time_now_ms();
    pthread_mutex_lock(&lock);
    if (ms <= last_ms) {
        ms = last_ms;
        if (++seq > 0xfff) { /* counter exhausted: borrow the next ms */
            ms = ++last_ms;
            seq = 0;
        }
    } else {
        last_ms = ms;
        seq = 0;
    }
    unsigned s = seq;
    pthread_mutex_unlock(&lock);

    uint8_t rnd[8];
    if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
        memset(rnd, 0, sizeof rnd); /* ordering still holds */
    for (int i = 0; i < 6; i++)
        out->b[i] = (uint8_t)(ms >> (40 - 8 * i));
    out->b[6] = (uint8_t)(0x70 | (s >> 8));
    out->b[7] = (uint8_t)s;
    memcpy(out->b + 8, rnd, 8);
    out->b[8] = (uint8_t)((out->b[8] & 0x3f) | 0x80);
}
