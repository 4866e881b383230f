/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target for the static file server's header parsers (src/http/static-*.c, listed in
 * static-internal.h): Range, If-Range, Accept-Encoding, If-Match/If-None-Match entity-tag
 * lists, HTTP-dates in their three forms, the request path check, and the file-name helpers.
 * All of them read request fields a client chose.
 *
 * The input is split at newlines (no field value holds one) and every line goes to every
 * parser; the first four lines are also If-Match, If-Unmodified-Since, If-None-Match and
 * If-Modified-Since of one request. Besides the sanitizers, oracles:
 *  - a satisfiable range lies inside the file, for file sizes from 0 to UINT64_MAX;
 *  - "bytes=" and coding names are case-insensitive: the upper-cased field means the same;
 *  - a quality is within 0..1000; "identity"-free lists do not invent a quality;
 *  - a strong entity-tag match is also a weak one; a lone well-formed tag matches itself;
 *  - If-Range holds only for the current tag or the exact Last-Modified date;
 *  - a parsed date formats back to the same time, and any formattable time parses back;
 *  - a checked path is relative, has no empty, "." or ".." segment nor a control byte, leaves
 *    room for the suffixes the server appends, and checks again to itself; a short output
 *    buffer is never overrun.
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/static-internal.h"
#include "fuzz.h"

#define FUZZ_MAX_INPUT (16 * 1024)
/* The file every request is about: its strong tag and Last-Modified
 * (Sun, 06 Nov 1994 08:49:37 GMT). */
#define ETAG  "\"1a2b-400-2ebc8e21.0\""
#define MTIME ((time_t)784111777)
/* What baton__static_path_check() leaves room for: "/index.html" and ".br". */
#define SUFFIX_ROOM (sizeof("/index.html") - 1 + sizeof(".br") - 1)

static char *upper(const char *s)
{
    char *u = strdup(s);
    CHECK(u != NULL);
    for (char *p = u; *p; p++)
        if (*p >= 'a' && *p <= 'z')
            *p = (char)(*p - 'a' + 'A');
    return u;
}

/* The field without the optional whitespace around it. */
static char *trimmed(const char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    char *t = strndup(s, n);
    CHECK(t != NULL);
    return t;
}

static void fuzz_range(const char *line)
{
    static const uint64_t sizes[] = {
        0, 1, 2, 99, 100, 1024, UINT32_MAX, (uint64_t)INT64_MAX, UINT64_MAX - 1, UINT64_MAX};
    char *up = upper(line);

    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        uint64_t size = sizes[i], start = 0xdead, len = 0xbeef, ustart = 0, ulen = 0;
        enum baton_static_range r = baton__static_range(line, size, &start, &len);

        CHECK(r == BATON_STATIC_RANGE_NONE || r == BATON_STATIC_RANGE_OK ||
              r == BATON_STATIC_RANGE_UNSATISFIABLE);
        if (r == BATON_STATIC_RANGE_OK) {
            CHECK(size > 0);
            CHECK(len >= 1);
            CHECK(start < size);
            CHECK(len <= size - start);
        } else {
            CHECK(start == 0xdead && len == 0xbeef);
        }
        CHECK(baton__static_range(up, size, &ustart, &ulen) == r);
        if (r == BATON_STATIC_RANGE_OK)
            CHECK(ustart == start && ulen == len);
    }
    free(up);
}

static void fuzz_coding(const char *line)
{
    static const char *const codings[] = {"br", "gzip", "zstd", "identity"};
    char *up = upper(line);

    for (size_t i = 0; i < sizeof(codings) / sizeof(codings[0]); i++) {
        int q = baton__static_coding_quality(line, codings[i]);
        CHECK(q >= 0 && q <= 1000);
        CHECK(baton__static_coding_quality(up, codings[i]) == q);
    }
    /* A list naming no coding at all and no "*" gives nothing. */
    if (!strchr(line, '*') &&
        !strpbrk(line, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"))
        CHECK(baton__static_coding_quality(line, "gzip") == 0);
    CHECK(baton__static_coding_quality(NULL, "br") == 0);
    free(up);
}

static void fuzz_etags(const char *line)
{
    bool strong = baton__static_etag_match(line, ETAG, false);
    bool weak = baton__static_etag_match(line, ETAG, true);
    char *t = trimmed(line);

    if (strong)
        CHECK(weak);
    if (strcmp(t, "*") == 0)
        CHECK(strong && weak);
    if (strcmp(t, ETAG) == 0)
        CHECK(strong);
    if (strcmp(t, "W/" ETAG) == 0)
        CHECK(weak && !strong);

    /* A lone well-formed tag (as the list parser reads it) matches itself, weakly at least. */
    size_t n = strlen(t);
    bool is_weak = strncmp(t, "W/", 2) == 0;
    const char *q = t + (is_weak ? 2 : 0);
    size_t qn = strlen(q);
    bool well_formed = qn >= 2 && q[0] == '"' && q[qn - 1] == '"';
    for (size_t i = 1; well_formed && i + 1 < qn; i++)
        well_formed = (unsigned char)q[i] >= 0x21 && q[i] != '"' && q[i] != 0x7f;
    if (well_formed && n == strlen(line)) {
        CHECK(baton__static_etag_match(t, t, true));
        CHECK(baton__static_etag_match(t, t, false) == !is_weak);
    }

    bool ir = baton__static_if_range(line, ETAG, MTIME);
    if (ir) {
        time_t d;
        CHECK(strcmp(t, ETAG) == 0 || (baton__static_date_parse(line, &d) == 0 && d == MTIME));
    }
    free(t);
}

static void fuzz_date(const char *line)
{
    time_t t = -12345, back = 0;
    char buf[BATON_STATIC_DATE_LEN];

    if (baton__static_date_parse(line, &t) != 0) {
        CHECK(t == -12345);
        return;
    }
    if (baton__static_date_format(t, buf, sizeof(buf)) != 0)
        return; /* a year the format cannot write (before year 0 after normalising) */
    CHECK(strlen(buf) == BATON_STATIC_DATE_LEN - 1);
    if (baton__static_date_parse(buf, &back) != 0) {
        fprintf(stderr, "fuzz-static: \"%s\" formats as \"%s\", which does not parse\n", line, buf);
        abort();
    }
    CHECK(back == t);
}

static void fuzz_time(const uint8_t *data, size_t size)
{
    int64_t v;
    time_t t, back = 0;
    char buf[BATON_STATIC_DATE_LEN];

    if (size < sizeof(v))
        return;
    memcpy(&v, data, sizeof(v));
    /* Years 0 to 9999 are what the format writes; the rest of the values must be refused. */
    t = (time_t)(v % (INT64_C(400) * 366 * 86400 * 26));
    if (baton__static_date_format(t, buf, sizeof(buf)) != 0)
        return;
    CHECK(strlen(buf) == BATON_STATIC_DATE_LEN - 1);
    CHECK(baton__static_date_parse(buf, &back) == 0);
    CHECK(back == t);
    CHECK(baton__static_if_range(buf, ETAG, t));
}

static void check_relative(const char *rel, size_t n, size_t outlen)
{
    CHECK(strlen(rel) == n);
    CHECK(n + SUFFIX_ROOM < outlen);
    if (n == 0)
        return;
    CHECK(rel[0] != '/' && rel[n - 1] != '/');
    CHECK(!strstr(rel, "//"));
    for (const char *seg = rel; seg;) {
        const char *slash = strchr(seg, '/');
        size_t len = slash ? (size_t)(slash - seg) : strlen(seg);
        CHECK(len > 0 && len <= NAME_MAX);
        CHECK(!(len == 1 && seg[0] == '.'));
        CHECK(!(len == 2 && seg[0] == '.' && seg[1] == '.'));
        CHECK(seg[0] != '.' || (len == 11 && memcmp(seg, ".well-known", 11) == 0));
        seg = slash ? slash + 1 : NULL;
    }
    for (const char *p = rel; *p; p++)
        CHECK((unsigned char)*p >= 0x20 && *p != 0x7f);
}

static void fuzz_path(const char *line)
{
    char *out = malloc(BATON_STATIC_PATH_MAX);
    bool slash = false;
    int n;

    CHECK(out != NULL);
    n = baton__static_path_check(line, out, BATON_STATIC_PATH_MAX, &slash);
    if (n >= 0) {
        check_relative(out, (size_t)n, BATON_STATIC_PATH_MAX);
        CHECK(slash == (line[strlen(line) - 1] == '/'));
        CHECK(line[0] == '/');

        /* Checking the result again changes nothing. */
        size_t len = (size_t)n;
        char *again = malloc(len + 2), *out2 = malloc(BATON_STATIC_PATH_MAX);
        bool slash2;
        CHECK(again && out2);
        again[0] = '/';
        memcpy(again + 1, out, len + 1);
        CHECK(baton__static_path_check(again, out2, BATON_STATIC_PATH_MAX, &slash2) == n);
        CHECK(strcmp(out, out2) == 0);
        free(again);
        free(out2);

        const struct baton_static_mime *m = baton__mime_lookup(out);
        CHECK(m != NULL && m->type != NULL);
        (void)baton__static_fingerprinted(out);
    } else {
        CHECK(n == -EINVAL || n == -ENOENT || n == -ENAMETOOLONG);
    }

    /* A tight output buffer, sized from the line: writes stay inside it. */
    size_t outlen = strlen(line) % 64 + 1;
    char *tight = malloc(outlen);
    CHECK(tight != NULL);
    int t = baton__static_path_check(line, tight, outlen, &slash);
    if (t >= 0)
        check_relative(tight, (size_t)t, outlen);
    free(tight);
    free(out);

    const struct baton_static_mime *m = baton__mime_lookup(line);
    CHECK(m != NULL && m->type != NULL);
    (void)baton__static_fingerprinted(line);
}

static void fuzz_preconditions(char *const lines[4])
{
    struct baton_static_preconditions p = {lines[0], lines[1], lines[2], lines[3]};
    enum baton_static_cond c = baton__static_preconditions(&p, ETAG, MTIME);

    CHECK(c == BATON_STATIC_COND_PROCEED || c == BATON_STATIC_COND_NOT_MODIFIED ||
          c == BATON_STATIC_COND_PRECONDITION_FAILED);
    /* If-None-Match decides alone over If-Modified-Since. */
    if (lines[2]) {
        struct baton_static_preconditions q = {lines[0], lines[1], lines[2], NULL};
        CHECK(baton__static_preconditions(&q, ETAG, MTIME) == c);
    }
    /* Without a precondition there is nothing to refuse. */
    struct baton_static_preconditions none = {0};
    CHECK(baton__static_preconditions(&none, ETAG, MTIME) == BATON_STATIC_COND_PROCEED);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *lines[4] = {NULL, NULL, NULL, NULL};
    char *text;
    size_t n = 0;

    if (size > FUZZ_MAX_INPUT)
        return 0;
    fuzz_time(data, size);
    text = strndup((const char *)data, size);
    CHECK(text != NULL);
    for (char *line = text, *next; line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        if (n < 4)
            lines[n] = line;
        n++;
        fuzz_range(line);
        fuzz_coding(line);
        fuzz_etags(line);
        fuzz_date(line);
        fuzz_path(line);
    }
    fuzz_preconditions(lines);
    free(text);
    return 0;
}
