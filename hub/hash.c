/*
 * hub360 - SHA-256 with a cached algorithm and per-thread context.
 */
#include "hash.h"

#include <openssl/evp.h>
#include <pthread.h>
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
