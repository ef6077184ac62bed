/*
 * hub360 - SHA-256 without OpenSSL's per-call setup.
 *
 * EVP_Digest fetches the algorithm and builds a context on every call;
 * the projector hashes on every event (customer ids, forget markers), so
 * this keeps one fetched algorithm and one context per thread.
 */
#ifndef HUB_HASH_H
#define HUB_HASH_H

#include <stddef.h>
#include <stdint.h>

/* SHA-256 of the concatenation of a and b (b may be NULL). */
void hub_sha256(const void *a, size_t alen, const void *b, size_t blen,
                uint8_t out[32]);

/* The value of a hexadecimal digit (either case), or -1. */
static inline int hub_hex_digit(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/*
 * Standard base64 (RFC 4648 section 4), strict: '=' padding required, no
 * whitespace, no stray bits in the last character. Decodes s[0..len)
 * into out, which has room for outcap bytes; *outlen gets how many. 0,
 * or -1 for what is not such base64 or does not fit.
 */
int hub_base64_decode(const char *s, size_t len, uint8_t *out, size_t outcap,
                      size_t *outlen);

/* A fast 64-bit hash of bytes (not cryptographic): change detection and
 * hash tables. */
uint64_t hub_hash64(const void *data, size_t len);

#endif
