/* SPDX-License-Identifier: MIT */
/*
 * Static files: byte ranges (RFC 9110 section 14).
 *
 * One range is served as 206 with Content-Range. Several ranges would need a
 * multipart/byteranges body, which sendfile cannot produce in one piece and which browsers do
 * not ask for (they request one range at a time for media and resumed downloads); the server
 * answers them with the whole representation, as RFC 9110 allows ("a server MAY ignore the
 * Range header field"). A malformed Range is ignored the same way.
 */
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "http/static-internal.h"

/* One range-spec: first-pos "-" [last-pos], or "-" suffix-length. */
struct spec {
    bool suffix;
    bool has_last;
    uint64_t first, last; /* for a suffix range, `last` holds the suffix length */
};

/* Reads 1*DIGIT, saturating at UINT64_MAX: a number that large is past any file's end, which
 * the range rules handle (unsatisfiable first byte, clamped last byte, whole-file suffix). */
static const char *number(const char *p, uint64_t *ret)
{
    uint64_t v = 0;
    const char *start = p;

    for (; *p >= '0' && *p <= '9'; p++) {
        unsigned d = (unsigned)(*p - '0');

        v = v > (UINT64_MAX - d) / 10 ? UINT64_MAX : v * 10 + d;
    }
    if (p == start)
        return NULL;
    *ret = v;
    return p;
}

static const char *range_spec(const char *p, struct spec *s)
{
    memset(s, 0, sizeof(*s));
    if (*p == '-') {
        s->suffix = true;
        return number(p + 1, &s->last);
    }
    p = number(p, &s->first);
    if (!p || *p != '-')
        return NULL;
    p++;
    if (*p >= '0' && *p <= '9') {
        s->has_last = true;
        p = number(p, &s->last);
        /* last-pos < first-pos makes the whole field invalid (section 14.1.1). */
        if (s->last < s->first)
            return NULL;
    }
    return p;
}

enum baton_static_range baton__static_range(const char *range, uint64_t size, uint64_t *ret_start,
                                            uint64_t *ret_len)
{
    struct spec spec;
    const char *p;
    int count = 0;

    if (!range)
        return BATON_STATIC_RANGE_NONE;
    p = range;
    while (*p == ' ' || *p == '\t')
        p++;
    if (strncasecmp(p, "bytes=", 6) != 0)
        return BATON_STATIC_RANGE_NONE;
    p += 6;
    /* range-set = 1#range-spec: a list whose empty elements and OWS around commas are allowed. */
    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        if (!*p)
            break;
        p = range_spec(p, &spec);
        if (!p)
            return BATON_STATIC_RANGE_NONE;
        count++;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p && *p != ',')
            return BATON_STATIC_RANGE_NONE;
    }
    if (count != 1)
        return BATON_STATIC_RANGE_NONE;

    if (spec.suffix) {
        if (spec.last == 0)
            return BATON_STATIC_RANGE_UNSATISFIABLE;
        /* A non-zero suffix of an empty file is "all of it": nothing a 206 can describe. */
        if (size == 0)
            return BATON_STATIC_RANGE_NONE;
        *ret_len = spec.last < size ? spec.last : size;
        *ret_start = size - *ret_len;
        return BATON_STATIC_RANGE_OK;
    }
    if (spec.first >= size)
        return BATON_STATIC_RANGE_UNSATISFIABLE;
    if (!spec.has_last || spec.last >= size)
        spec.last = size - 1;
    *ret_start = spec.first;
    *ret_len = spec.last - spec.first + 1;
    return BATON_STATIC_RANGE_OK;
}

bool baton__static_if_range(const char *if_range, const char *etag, time_t mtime)
{
    const char *end;
    time_t date;

    if (!if_range)
        return true;
    while (*if_range == ' ' || *if_range == '\t')
        if_range++;
    end = if_range + strlen(if_range);
    while (end > if_range && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    /* An entity-tag must match our strong tag exactly (a weak tag never does). */
    if (*if_range == '"' || strncmp(if_range, "W/", 2) == 0)
        return etag && (size_t)(end - if_range) == strlen(etag) &&
               memcmp(if_range, etag, (size_t)(end - if_range)) == 0;
    /* Otherwise an HTTP-date, which must be exactly the current Last-Modified. */
    return baton__static_date_parse(if_range, &date) == 0 && date == mtime;
}
