/*
 * hub360 - SHA-256 with a cached algorithm and per-thread context.
 */
#include "hash.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <string.h>
#include <stdlib.h>

static EVP_MD *sha256;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static pthread_key_t ctx_key;

static void free_ctx(void *p) { EVP_MD_CTX_free(p); }

static void init(void) {
    sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    pthread_key_create(&ctx_key, free_ctx);
}

void hub_sha256(const void *a, size_t alen, const void *b, size_t blen,
                uint8_t out[32]) {
    pthread_once(&once, init);
    EVP_MD_CTX *ctx = pthread_getspecific(ctx_key);
    if (!ctx) {
        ctx = EVP_MD_CTX_new();
        if (!ctx)
            abort(); /* OpenSSL could not allocate 100 bytes */
        pthread_setspecific(ctx_key, ctx);
    }
    unsigned int n = 0;
    if (!EVP_DigestInit_ex2(ctx, sha256, NULL) ||
        !EVP_DigestUpdate(ctx, a, alen) ||
        (b && !EVP_DigestUpdate(ctx, b, blen)) ||
        !EVP_DigestFinal_ex(ctx, out, &n))
        abort();
}

uint64_t hub_hash64(const void *data, size_t len) {
    const unsigned char *p = data;
    uint64_t h = 0x9e3779b97f4a7c15ULL ^ len;
    while (len >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdULL;
        h ^= h >> 32;
        p += 8;
        len -= 8;
    }
    uint64_t w = 0;
    memcpy(&w, p, len);
    h = (h ^ w) * 0xc4ceb9fe1a85ec53ULL;
    return h ^ (h >> 29);
}

static int b64val(char c) {
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    return c == '+' ? 62 : c == '/' ? 63 : -1;
}

int hub_base64_decode(const char *s, size_t len, uint8_t *out, size_t outcap,
                      size_t *outlen) {
    if (len % 4)
        return -1;
    size_t pad = len && s[len - 1] == '=' ? (s[len - 2] == '=' ? 2 : 1) : 0;
    size_t want = len / 4 * 3 - pad;
    if (want > outcap)
        return -1;
    uint32_t acc = 0;
    size_t bits = 0, o = 0;
    for (size_t i = 0; i < len - pad; i++) {
        int v = b64val(s[i]);
        if (v < 0)
            return -1;
        acc = (acc << 6 | (uint32_t)v) & 0xffffff;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (uint8_t)(acc >> bits);
        }
    }
    if (o != want || (acc & ((1u << bits) - 1)) != 0)
        return -1;
    *outlen = o;
    return 0;
}
