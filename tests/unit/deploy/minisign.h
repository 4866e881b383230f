/* SPDX-License-Identifier: MIT */
/* Test keys and signatures in minisign's layout, made with libsodium (the deploy tests'
 * interop with the real `minisign` tool is proven by the integration tests). */
#ifndef BATON_TEST_DEPLOY_MINISIGN_H
#define BATON_TEST_DEPLOY_MINISIGN_H

#include <sodium.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

struct kp {
    uint8_t pk[32], sk[64], id[8];
};

static inline void b64(const uint8_t *b, size_t n, char *out, size_t outsz)
{
    sodium_bin2base64(out, outsz, b, n, sodium_base64_VARIANT_ORIGINAL);
}

/* A new key pair; pubtext gets the public key file's text. */
static inline void make_key(struct kp *k, char *pubtext, size_t sz)
{
    crypto_sign_keypair(k->pk, k->sk);
    randombytes_buf(k->id, 8);
    uint8_t raw[42] = {'E', 'd'};
    memcpy(raw + 2, k->id, 8);
    memcpy(raw + 10, k->pk, 32);
    char line[128];
    b64(raw, 42, line, sizeof(line));
    snprintf(pubtext, sz, "untrusted comment: test key\n%s\n", line);
}

/* A .minisig text for msg: prehashed (ED, BLAKE2b-512) or legacy (Ed), with the trusted
 * comment, lines ended by eol ("\n" or "\r\n"). */
static inline void make_sig_text(const struct kp *k, bool prehashed, const void *msg, size_t n,
                                 const char *comment, const char *eol, char *out, size_t outsz)
{
    uint8_t h[64], raw[74] = {'E', prehashed ? 'D' : 'd'};
    memcpy(raw + 2, k->id, 8);
    if (prehashed) {
        crypto_generichash(h, 64, msg, n, NULL, 0);
        crypto_sign_detached(raw + 10, NULL, h, 64, k->sk);
    } else {
        crypto_sign_detached(raw + 10, NULL, msg, n, k->sk);
    }
    uint8_t global[64 + 1024], gsig[64];
    size_t clen = strlen(comment);
    if (clen > 1024)
        clen = 1024;
    memcpy(global, raw + 10, 64);
    memcpy(global + 64, comment, clen);
    crypto_sign_detached(gsig, NULL, global, 64 + clen, k->sk);
    char l2[128], l4[128];
    b64(raw, 74, l2, sizeof(l2));
    b64(gsig, 64, l4, sizeof(l4));
    snprintf(out, outsz, "untrusted comment: x%s%s%strusted comment: %.*s%s%s%s", eol, l2, eol,
             (int)clen, comment, eol, l4, eol);
}

#endif
