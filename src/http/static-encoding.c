/* SPDX-License-Identifier: MIT */
/*
 * Static files: Accept-Encoding (RFC 9110 section 12.5.3), to pick a precompressed sibling.
 *
 * The server never compresses on the fly; it serves `file.br` or `file.gz` when the client
 * accepts that coding with a non-zero quality. Without Accept-Encoding the RFC allows any
 * coding, but clients that send none (curl, scripts) expect the plain bytes: they get them.
 */
#include <string.h>
#include <strings.h>

#include "http/static-internal.h"

static bool tchar(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

static const char *ows(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

/* qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ), in thousandths; -1 if invalid. */
static int qvalue(const char *p, size_t len)
{
    int q, scale = 100;

    if (len == 0 || (p[0] != '0' && p[0] != '1'))
        return -1;
    q = (p[0] - '0') * 1000;
    if (len == 1)
        return q;
    if (p[1] != '.' || len > 5)
        return -1;
    for (size_t i = 2; i < len; i++, scale /= 10) {
        if (p[i] < '0' || p[i] > '9' || (q == 1000 && p[i] != '0'))
            return -1;
        q += (p[i] - '0') * scale;
    }
    return q;
}

static bool coding_is(const char *name, size_t len, const char *coding)
{
    if (strlen(coding) == len && strncasecmp(name, coding, len) == 0)
        return true;
    /* RFC 9110 section 8.4.1.3: recipients should treat x-gzip as gzip. */
    return strcmp(coding, "gzip") == 0 && len == 6 && strncasecmp(name, "x-gzip", 6) == 0;
}

int baton__static_coding_quality(const char *accept, const char *coding)
{
    int exact = -1, star = -1;
    const char *p = accept;

    if (!accept || !coding)
        return 0;
    for (;;) {
        const char *name;
        size_t name_len;
        int q = 1000;
        bool valid = true;

        while (*p == ',' || *p == ' ' || *p == '\t')
            p++;
        if (!*p)
            break;
        name = p;
        while (tchar(*p))
            p++;
        name_len = (size_t)(p - name);
        valid = name_len > 0;
        p = ows(p);
        /* Parameters: only q is defined; anything else is skipped. */
        while (valid && *p == ';') {
            const char *key, *val;
            size_t key_len;

            p = ows(p + 1);
            key = p;
            while (tchar(*p))
                p++;
            key_len = (size_t)(p - key);
            if (*p != '=') {
                valid = false;
                break;
            }
            val = ++p;
            while (tchar(*p))
                p++;
            if (key_len == 1 && (key[0] == 'q' || key[0] == 'Q')) {
                q = qvalue(val, (size_t)(p - val));
                valid = q >= 0;
            }
            p = ows(p);
        }
        if (valid && (*p == ',' || !*p)) {
            if (name_len == 1 && name[0] == '*')
                star = q > star ? q : star;
            else if (coding_is(name, name_len, coding))
                exact = q > exact ? q : exact;
        }
        /* Skip whatever is left of a malformed member. */
        while (*p && *p != ',')
            p++;
    }
    return exact >= 0 ? exact : star >= 0 ? star : 0;
}
