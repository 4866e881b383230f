/* SPDX-License-Identifier: MIT */
/* Hexadecimal digits, for percent-decoding and JSON \u escapes. */
#ifndef BATON_COMMON_HEX_H
#define BATON_COMMON_HEX_H

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

#endif
