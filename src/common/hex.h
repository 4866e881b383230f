/* SPDX-License-Identifier: MIT */
/* Hexadecimal digits: decoding (percent-decoding, JSON \u escapes) and encoding (digests). */
#ifndef BATON_COMMON_HEX_H
#define BATON_COMMON_HEX_H

#include <stddef.h>

/* Returns the value of hex digit c (0-15), or -1 when c is not one. */
static inline int baton__hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Writes n bytes as 2n lowercase hex digits and a NUL into out (2n + 1 bytes). */
static inline void baton__hex_encode(const unsigned char *b, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[b[i] >> 4];
        out[2 * i + 1] = digits[b[i] & 15];
    }
    out[2 * n] = '\0';
}

#endif
