/* SPDX-License-Identifier: MIT */
/*
 * Static files: validators (ETag, Last-Modified), conditional requests (RFC 9110 section 13)
 * and the cache policy of a file name.
 *
 * ETags are strong: the bytes served are exactly the file's, and the tag changes whenever its
 * inode, size or modification time (to the nanosecond) does. A precompressed sibling gets its
 * own tag from its own inode plus the coding, so caches never mix representations. Dates are
 * formatted and parsed by hand: strftime/strptime follow the process locale, HTTP does not.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "http/static-internal.h"

static const char *const day_names[7] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
static const char month_names[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
static const char *const weekday_names[7] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                             "Thursday", "Friday", "Saturday"};

int baton__static_date_format(time_t t, char *buf, size_t len)
{
    struct tm tm;

    if (len < BATON_STATIC_DATE_LEN || !gmtime_r(&t, &tm) || tm.tm_year + 1900 > 9999 ||
        tm.tm_year + 1900 < 0)
        return -EINVAL;
    snprintf(buf, len, "%s, %02d %s %04d %02d:%02d:%02d GMT", day_names[tm.tm_wday], tm.tm_mday,
             month_names[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
    return 0;
}

/* Reads exactly n decimal digits. */
static bool digits(const char **p, int n, int *ret)
{
    int v = 0;

    for (int i = 0; i < n; i++) {
        char c = (*p)[i];

        if (c < '0' || c > '9')
            return false;
        v = v * 10 + (c - '0');
    }
    *p += n;
    *ret = v;
    return true;
}

static bool expect(const char **p, const char *lit)
{
    size_t n = strlen(lit);

    if (strncmp(*p, lit, n) != 0)
        return false;
    *p += n;
    return true;
}

static bool month(const char **p, int *ret)
{
    for (int i = 0; i < 12; i++) {
        if (strncmp(*p, month_names[i], 3) == 0) {
            *p += 3;
            *ret = i;
            return true;
        }
    }
    return false;
}

/* "hh:mm:ss" */
static bool clock_time(const char **p, struct tm *tm)
{
    return digits(p, 2, &tm->tm_hour) && expect(p, ":") && digits(p, 2, &tm->tm_min) &&
           expect(p, ":") && digits(p, 2, &tm->tm_sec);
}

/* Consumes a day name from `names` (n entries) followed by `after`. */
static bool day_name(const char **p, const char *const *names, size_t n, const char *after)
{
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(names[i]);

        if (strncmp(*p, names[i], len) == 0 && strncmp(*p + len, after, strlen(after)) == 0) {
            *p += len + strlen(after);
            return true;
        }
    }
    return false;
}

int baton__static_date_parse(const char *s, time_t *ret)
{
    struct tm tm = {0}, want;
    const char *p = s;
    time_t t;
    bool ok;

    if (!s)
        return -EINVAL;
    while (*p == ' ' || *p == '\t')
        p++;
    if (day_name(&p, day_names, 7, ", ")) {
        /* IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT */
        ok = digits(&p, 2, &tm.tm_mday) && expect(&p, " ") && month(&p, &tm.tm_mon) &&
             expect(&p, " ") && digits(&p, 4, &tm.tm_year) && expect(&p, " ") &&
             clock_time(&p, &tm) && expect(&p, " GMT");
        tm.tm_year -= 1900;
    } else if (day_name(&p, weekday_names, 7, ", ")) {
        /* RFC 850: Sunday, 06-Nov-94 08:49:37 GMT. Two-digit years: 70-99 are 19xx (no HTTP
         * date is older than 1970), 00-69 are 20xx. */
        ok = digits(&p, 2, &tm.tm_mday) && expect(&p, "-") && month(&p, &tm.tm_mon) &&
             expect(&p, "-") && digits(&p, 2, &tm.tm_year) && expect(&p, " ") &&
             clock_time(&p, &tm) && expect(&p, " GMT");
        if (tm.tm_year < 70)
            tm.tm_year += 100;
    } else if (day_name(&p, day_names, 7, " ")) {
        /* asctime: Sun Nov  6 08:49:37 1994 */
        ok = month(&p, &tm.tm_mon) && expect(&p, " ");
        if (ok && *p == ' ') {
            p++;
            ok = digits(&p, 1, &tm.tm_mday);
        } else {
            ok = ok && digits(&p, 2, &tm.tm_mday);
        }
        ok = ok && expect(&p, " ") && clock_time(&p, &tm) && expect(&p, " ") &&
             digits(&p, 4, &tm.tm_year);
        tm.tm_year -= 1900;
    } else {
        return -EINVAL;
    }
    while (ok && (*p == ' ' || *p == '\t'))
        p++;
    if (!ok || *p || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 ||
        tm.tm_sec > 60)
        return -EINVAL;
    want = tm;
    t = timegm(&tm);
    /* timegm normalises "31 Feb" into March: such a date is invalid, not another day. (Its -1 is
     * also a real instant, 1969-12-31 23:59:59, so it is no error sign here: four-digit years
     * cannot overflow time_t.) */
    if (tm.tm_mday != want.tm_mday || tm.tm_mon != want.tm_mon)
        return -EINVAL;
    *ret = t;
    return 0;
}

int baton__static_etag(const struct stat *st, const char *coding, char *buf, size_t len)
{
    int n = snprintf(buf, len, "\"%" PRIxMAX "-%" PRIxMAX "-%" PRIxMAX ".%lx%s%s\"",
                     (uintmax_t)st->st_ino, (uintmax_t)st->st_size, (uintmax_t)st->st_mtim.tv_sec,
                     (unsigned long)st->st_mtim.tv_nsec, coding ? "-" : "", coding ? coding : "");

    return n < 0 || (size_t)n >= len ? -ENOBUFS : 0;
}

static const char *skip_ows(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

/* Splits an entity-tag into weakness and opaque-tag (quotes included). Returns the end or NULL
 * when `p` does not start with a well-formed entity-tag. */
static const char *entity_tag(const char *p, bool *weak, const char **opaque, size_t *len)
{
    const char *start;

    *weak = strncmp(p, "W/", 2) == 0;
    if (*weak)
        p += 2;
    if (*p != '"')
        return NULL;
    start = p++;
    /* etagc = %x21 / %x23-7E / obs-text */
    while (*p && *p != '"' && ((unsigned char)*p >= 0x21 && (unsigned char)*p != 0x7f))
        p++;
    if (*p != '"')
        return NULL;
    p++;
    *opaque = start;
    *len = (size_t)(p - start);
    return p;
}

bool baton__static_etag_match(const char *list, const char *etag, bool weak)
{
    const char *ours, *p;
    size_t ours_len;
    bool ours_weak;

    if (!list || !etag || !entity_tag(etag, &ours_weak, &ours, &ours_len))
        return false;
    p = skip_ows(list);
    if (*p == '*')
        return *skip_ows(p + 1) == '\0';
    for (;;) {
        const char *opaque;
        size_t len;
        bool theirs_weak;

        while (*p == ',' || *p == ' ' || *p == '\t')
            p++;
        if (!*p)
            return false;
        p = entity_tag(p, &theirs_weak, &opaque, &len);
        if (!p)
            return false;
        if (len == ours_len && memcmp(opaque, ours, len) == 0 &&
            (weak || (!theirs_weak && !ours_weak)))
            return true;
        p = skip_ows(p);
        if (*p && *p != ',')
            return false;
    }
}

enum baton_static_cond baton__static_preconditions(const struct baton_static_preconditions *p,
                                                   const char *etag, time_t mtime)
{
    time_t date;

    /* 1-2: the state the client expects (If-Match wins over If-Unmodified-Since). */
    if (p->if_match) {
        if (!baton__static_etag_match(p->if_match, etag, false))
            return BATON_STATIC_COND_PRECONDITION_FAILED;
    } else if (p->if_unmodified_since &&
               baton__static_date_parse(p->if_unmodified_since, &date) == 0) {
        if (mtime > date)
            return BATON_STATIC_COND_PRECONDITION_FAILED;
    }
    /* 3-4: the client's cached copy (If-None-Match wins over If-Modified-Since). Only GET and
     * HEAD reach the file server, so a match is always 304. */
    if (p->if_none_match) {
        if (baton__static_etag_match(p->if_none_match, etag, true))
            return BATON_STATIC_COND_NOT_MODIFIED;
    } else if (p->if_modified_since && baton__static_date_parse(p->if_modified_since, &date) == 0) {
        if (mtime <= date)
            return BATON_STATIC_COND_NOT_MODIFIED;
    }
    return BATON_STATIC_COND_PROCEED;
}

static bool is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

bool baton__static_fingerprinted(const char *name)
{
    const char *base = strrchr(name, '/');
    const char *ext, *hash;
    bool digit = false;

    base = base ? base + 1 : name;
    ext = strrchr(base, '.');
    if (!ext || ext[1] == '\0' || ext == base)
        return false;
    /* The segment before the extension, which must itself follow a non-empty base name. */
    hash = ext;
    while (hash > base && hash[-1] != '.')
        hash--;
    if (hash == base || hash - 1 == base || ext - hash < 6)
        return false;
    for (const char *c = hash; c < ext; c++) {
        if (!is_hex(*c))
            return false;
        digit |= *c >= '0' && *c <= '9';
    }
    return digit;
}
