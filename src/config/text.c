/* SPDX-License-Identifier: MIT */
/*
 * Text helpers of the configuration loader: UTF-8 validation, positions, single-quoted YAML
 * scalars, and excerpts of user text for error messages.
 */
#include <stdint.h>
#include <string.h>

#include "common/xmalloc.h"
#include "config/internal.h"

const char *baton__config_excerpt(const char *s, char *buf, size_t size)
{
    size_t i, n = 0;

    if (size < 8)
        return "";
    for (i = 0; s[i] && n + 4 < size; i++)
        buf[n++] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
    if (s[i]) {
        /* Cut at a character boundary, never inside a UTF-8 sequence. */
        while (n > 0 && ((unsigned char)buf[n - 1] & 0xc0) == 0x80)
            n--;
        if (n > 0 && (unsigned char)buf[n - 1] >= 0xc0)
            n--;
        memcpy(buf + n, "...", 3);
        n += 3;
    }
    buf[n] = '\0';
    return buf;
}

/*
 * Finds the first byte that is not part of well-formed UTF-8 (no overlong forms, surrogates or
 * code points past U+10FFFF). Returns its offset, or len when all is well. We check before
 * libfyaml sees the text: YAML is Unicode, and libfyaml 0.7 loops for ever on some invalid
 * bytes ("%\xb7", found by fuzz-config).
 */
size_t baton__config_utf8_invalid_at(const char *text, size_t len)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t i = 0;

    while (i < len) {
        unsigned char c = s[i];
        size_t n;
        uint32_t cp, min;

        if (c < 0x80) {
            i++;
            continue;
        }
        /* The lead byte gives the length, its payload bits and the least code point. */
        if ((c & 0xe0) == 0xc0) {
            n = 1;
            cp = c & 0x1f;
            min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
            n = 2;
            cp = c & 0x0f;
            min = 0x800;
        } else if ((c & 0xf8) == 0xf0) {
            n = 3;
            cp = c & 0x07;
            min = 0x10000;
        } else {
            return i;
        }
        if (len - i <= n)
            return i;
        for (size_t k = 1; k <= n; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return i;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return i;
        i += n + 1;
    }
    return len;
}

/* The 1-based line and column (in characters) of byte offset `at`. */
void baton__config_position(const char *text, size_t at, int *ret_line, int *ret_col)
{
    int line = 1, col = 1;
    for (size_t i = 0; i < at; i++) {
        if (text[i] == '\n') {
            line++;
            col = 1;
        } else if (((unsigned char)text[i] & 0xc0) != 0x80) {
            col++;
        }
    }
    *ret_line = line;
    *ret_col = col;
}

/*
 * Decodes the single-quoted scalar whose opening quote is at text[at]: '' is a quote, and a
 * line break folds into a space (into n newlines when n empty lines follow), blanks around it
 * dropped. Used for every single-quoted scalar holding '': libfyaml 0.7 leaks its copy of
 * runs of them (found by fuzz-config) and misplaces them next to folded line breaks. Caller
 * frees.
 */
char *baton__config_single_quoted(const char *text, size_t len, size_t at, size_t *ret_len)
{
    char *out = baton__xmalloc(len - at + 1);
    size_t n = 0, i = at + 1;

    while (i < len) {
        char c = text[i];
        if (c == '\'') {
            if (i + 1 < len && text[i + 1] == '\'') {
                out[n++] = '\'';
                i += 2;
                continue;
            }
            break;
        }
        if (c != '\n' && c != '\r') {
            out[n++] = c;
            i++;
            continue;
        }
        while (n > 0 && (out[n - 1] == ' ' || out[n - 1] == '\t'))
            n--;
        size_t breaks = 0;
        while (i < len &&
               (text[i] == '\n' || text[i] == '\r' || text[i] == ' ' || text[i] == '\t')) {
            if (text[i] == '\n' || (text[i] == '\r' && (i + 1 >= len || text[i + 1] != '\n')))
                breaks++;
            i++;
        }
        if (breaks <= 1) {
            out[n++] = ' ';
        } else {
            memset(out + n, '\n', breaks - 1);
            n += breaks - 1;
        }
    }
    out[n] = '\0';
    *ret_len = n;
    return out;
}
