/* SPDX-License-Identifier: MIT */
/*
 * The request head of the metrics endpoint (http-endpoint.c), read strictly: a request line
 * `METHOD SP /target SP HTTP/1.x CRLF`, header lines `name: value CRLF` (a token name, no
 * control character in the value but HTAB, no folding), the empty line. Pure: no I/O, no
 * allocation, bounded by its input. A fuzz target (tests/fuzz/fuzz-endpoint.c) checks it.
 */
#include <stdbool.h>
#include <string.h>

#include "supervisor/observe.h"

static bool tchar(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

/* Checks the header lines in [p, end) (each ending in CRLF, the empty line excluded). */
static bool headers_ok(const char *p, const char *end)
{
    while (p < end) {
        const char *eol = memchr(p, '\r', (size_t)(end - p));
        if (!eol || eol[1] != '\n')
            return false;
        const char *q = p;
        while (q < eol && tchar(*q))
            q++;
        if (q == p || q == eol || *q != ':')
            return false; /* no name, or obs-fold / whitespace before the colon */
        for (q++; q < eol; q++)
            if (((unsigned char)*q < 0x20 && *q != '\t') || *q == 0x7f)
                return false;
        p = eol + 2;
    }
    return true;
}

int baton__endpoint_parse(const char *buf, size_t len, struct baton_endpoint_request *ret,
                          const char **ret_why)
{
    const char *p = buf, *end;
    if (len < 4 || memcmp(buf + len - 4, "\r\n\r\n", 4) != 0)
        return *ret_why = "incomplete request head\n", 400;
    end = buf + len - 2; /* the final empty line */
    const char *eol = memchr(p, '\r', len);
    if (!eol || eol[1] != '\n')
        return *ret_why = "bad request line\n", 400;
    const char *sp1 = memchr(p, ' ', (size_t)(eol - p));
    if (!sp1 || sp1 == p)
        return *ret_why = "bad request line\n", 400;
    for (const char *q = p; q < sp1; q++)
        if (!tchar(*q))
            return *ret_why = "bad method\n", 400;
    const char *target = sp1 + 1;
    const char *sp2 = memchr(target, ' ', (size_t)(eol - target));
    if (!sp2 || sp2 == target || *target != '/' || sp2 - target > BATON_ENDPOINT_TARGET_MAX)
        return *ret_why = "bad request target\n", 400;
    for (const char *q = target; q < sp2; q++)
        if ((unsigned char)*q <= 0x20 || (unsigned char)*q >= 0x7f)
            return *ret_why = "bad request target\n", 400;
    size_t vlen = (size_t)(eol - sp2 - 1);
    if (vlen != 8 || (memcmp(sp2 + 1, "HTTP/1.1", 8) != 0 && memcmp(sp2 + 1, "HTTP/1.0", 8) != 0))
        return *ret_why = "bad HTTP version\n", 400;
    if (eol + 2 <= end && !headers_ok(eol + 2, end))
        return *ret_why = "bad header line\n", 400;
    bool get = sp1 - p == 3 && memcmp(p, "GET", 3) == 0;
    bool head = sp1 - p == 4 && memcmp(p, "HEAD", 4) == 0;
    if (!get && !head)
        return *ret_why = "only GET and HEAD\n", 405;
    const char *q = memchr(target, '?', (size_t)(sp2 - target));
    ret->head = head;
    ret->path = target;
    ret->path_len = (size_t)((q ? q : sp2) - target);
    return 0;
}
