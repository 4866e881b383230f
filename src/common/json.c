/* SPDX-License-Identifier: MIT */
#include "common/json.h"

#include <stdint.h>
#include <string.h>

/* Length of the valid UTF-8 sequence at s (1..4), or 0 when it is not valid. */
static size_t utf8_len(const unsigned char *s, size_t avail)
{
    unsigned char c = s[0];
    size_t n;
    uint32_t cp;
    if (c < 0x80)
        return 1;
    if ((c & 0xe0) == 0xc0) {
        n = 2;
        cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
        n = 3;
        cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
        n = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (n > avail)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
        cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

int baton__json_string(struct baton_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    if (n == (size_t)-1)
        n = strlen(s);
    int r = baton__buf_append(b, "\"", 1);
    size_t i = 0;
    while (r == 0 && i < n) {
        unsigned char c = p[i];
        char esc[6];
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            r = baton__buf_append(b, esc, 2);
            i++;
        } else if (c == '\n') {
            r = baton__buf_append(b, "\\n", 2);
            i++;
        } else if (c == '\r') {
            r = baton__buf_append(b, "\\r", 2);
            i++;
        } else if (c == '\t') {
            r = baton__buf_append(b, "\\t", 2);
            i++;
        } else if (c < 0x20 || c == 0x7f) {
            esc[0] = '\\';
            esc[1] = 'u';
            esc[2] = '0';
            esc[3] = '0';
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            r = baton__buf_append(b, esc, 6);
            i++;
        } else {
            size_t len = utf8_len(p + i, n - i);
            if (len == 0) {
                r = baton__buf_append(b, "\xef\xbf\xbd", 3);
                i++;
            } else {
                r = baton__buf_append(b, p + i, len);
                i += len;
            }
        }
    }
    if (r == 0)
        r = baton__buf_append(b, "\"", 1);
    return r;
}

int baton__json_key(struct baton_buf *b, const char *key)
{
    int r = 0;
    if (b->len > 0 && b->data[b->len - 1] != '{' && b->data[b->len - 1] != '[')
        r = baton__buf_append(b, ",", 1);
    if (r == 0)
        r = baton__json_string(b, key, (size_t)-1);
    if (r == 0)
        r = baton__buf_append(b, ":", 1);
    return r;
}

int baton__json_kv_str(struct baton_buf *b, const char *key, const char *value)
{
    int r = baton__json_key(b, key);
    if (r == 0)
        r = value ? baton__json_string(b, value, (size_t)-1) : baton__buf_puts(b, "null");
    return r;
}

int baton__json_kv_int(struct baton_buf *b, const char *key, long long value)
{
    int r = baton__json_key(b, key);
    if (r == 0)
        r = baton__buf_printf(b, "%lld", value);
    return r;
}

int baton__json_kv_bool(struct baton_buf *b, const char *key, int value)
{
    int r = baton__json_key(b, key);
    if (r == 0)
        r = baton__buf_puts(b, value ? "true" : "false");
    return r;
}
