/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target for baton-web's request parser (src/http/parser.c over llhttp): the input is the
 * byte stream a client sends on one connection.
 *
 * Besides the sanitizers, four oracles:
 *  - every request the parser hands out keeps its contract: the method and header names are
 *    tokens, the path is decoded and normalised, values hold no CR, LF, NUL or other control
 *    byte and no surrounding whitespace, exactly one Host on HTTP/1.1 and a valid one, never
 *    Content-Length beside Transfer-Encoding, the body within its limit and as long as
 *    Content-Length says;
 *  - a refusal carries one of the statuses the server answers with, and the parser stays
 *    refused;
 *  - the requests do not depend on how the bytes were split into reads: the stream parsed in
 *    one call and parsed in pieces (sizes derived from the input) yields the same requests;
 *  - a request is handed out as soon as its last byte arrives, not when more bytes come: the
 *    stream followed by another request yields the same requests within the stream's bytes.
 * Each input runs under the default limits and under small ones, so the 413/414/431 paths are
 * reached by short inputs too.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/parser.h"
#include "fuzz.h"

/* The outcome of one run, folded into a hash so runs can be compared cheaply. */
struct transcript {
    uint64_t hash;
    unsigned requests;
    int error_status; /* 0 when the stream ended without a refusal */
    /* Requests that ended within the first `horizon` bytes, and their hash. */
    size_t horizon;
    unsigned early_requests;
    uint64_t early_hash;
};

static void mix(struct transcript *t, const void *p, size_t n)
{
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++) {
        t->hash ^= s[i];
        t->hash *= 1099511628211ull; /* FNV-1a */
    }
}

static void mix_str(struct transcript *t, const char *s)
{
    mix(t, s, strlen(s) + 1);
}

static bool is_tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

static bool is_token(const char *s, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!is_tchar((unsigned char)s[i]))
            return false;
    return true;
}

static void check_path(const char *path)
{
    if (strcmp(path, "*") == 0)
        return;
    CHECK(path[0] == '/');
    /* Normalised: no empty, "." or ".." segment except a trailing slash. */
    for (const char *s = path; *s; s++) {
        if (*s != '/')
            continue;
        const char *seg = s + 1;
        size_t len = strcspn(seg, "/");
        CHECK(!(len == 0 && seg[0] == '/'));
        CHECK(!(len == 1 && seg[0] == '.'));
        CHECK(!(len == 2 && seg[0] == '.' && seg[1] == '.'));
    }
}

static void check_request(const struct baton__parser *p, struct transcript *t)
{
    const struct baton__limits *lim = p->limits;

    CHECK(p->method && is_token(p->method, strlen(p->method)));
    CHECK(strcmp(p->method, "CONNECT") != 0);
    CHECK(p->target && strlen(p->target) <= lim->uri_bytes);
    CHECK(p->path && p->query);
    check_path(p->path);
    CHECK(p->http_minor <= 1);
    CHECK(p->nheaders <= lim->header_count);
    CHECK(p->head_bytes <= lim->header_bytes);
    CHECK(p->body.len <= lim->body_bytes);

    unsigned hosts = 0, lengths = 0, codings = 0;
    for (unsigned i = 0; i < p->nheaders; i++) {
        const struct baton__header *h = &p->headers[i];
        CHECK(h->name && h->value);
        CHECK(strlen(h->name) == h->name_len && is_token(h->name, h->name_len));
        CHECK(strlen(h->value) == h->value_len);
        for (uint32_t k = 0; k < h->value_len; k++) {
            unsigned char c = (unsigned char)h->value[k];
            CHECK(c == '\t' || (c >= 0x20 && c != 0x7f));
        }
        if (h->value_len) {
            CHECK(h->value[0] != ' ' && h->value[0] != '\t');
            CHECK(h->value[h->value_len - 1] != ' ' && h->value[h->value_len - 1] != '\t');
        }
        if (strcasecmp(h->name, "host") == 0) {
            /* uri-host [":" port] (RFC 9112 3.2): reg-name, IPv4 or [IP-literal] characters. */
            CHECK(strspn(h->value, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                                   "-._~%!$&'()*+,;=:[]") == h->value_len);
            hosts++;
        }
        if (strcasecmp(h->name, "content-length") == 0) {
            lengths++;
            char *end;
            unsigned long long n = strtoull(h->value, &end, 10);
            CHECK(*end == '\0' && n == p->body.len);
        }
        if (strcasecmp(h->name, "transfer-encoding") == 0) {
            /* chunked is the only coding the server decodes: any other must have been refused
             * (501 or 400), or the handler would get a body still encoded. */
            codings++;
            CHECK(strcasecmp(h->value, "chunked") == 0);
        }
        mix(t, h->name, h->name_len);
        mix(t, ":", 1);
        mix(t, h->value, h->value_len);
        mix(t, "\n", 1);
    }
    CHECK(p->http_minor == 0 ? hosts <= 1 : hosts == 1);
    CHECK(lengths <= 1 && codings <= 1 && !(lengths && codings));
    CHECK(!(codings && p->http_minor == 0));

    mix_str(t, p->method);
    mix_str(t, p->target);
    mix_str(t, p->path);
    mix_str(t, p->query);
    mix(t, &p->http_minor, sizeof(p->http_minor));
    mix(t, &p->keep_alive, sizeof(p->keep_alive));
    mix(t, &p->body.len, sizeof(p->body.len));
    if (p->body.len)
        mix(t, p->body.data, p->body.len);
    t->requests++;
}

static void check_error(const struct baton__parser *p)
{
    static const int allowed[] = {400, 413, 414, 417, 431, 501, 505};
    bool ok = false;
    for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
        ok |= p->error_status == allowed[i];
    CHECK(ok);
    CHECK(p->error_reason && *p->error_reason);
}

/* Next piece length: from a small PRNG seeded by the input, so a run is reproducible. */
static size_t piece(uint64_t *state, size_t left)
{
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    static const size_t sizes[] = {1, 1, 2, 3, 5, 8, 13, 64, 500, 4096};
    size_t n = sizes[*state % (sizeof(sizes) / sizeof(sizes[0]))];
    return n < left ? n : left;
}

/* Parses data in pieces (whole when split is 0). Returns the transcript. */
static struct transcript run(const struct baton__limits *lim, const uint8_t *data, size_t size,
                             uint64_t split, size_t horizon)
{
    struct transcript t = {
        .hash = 14695981039346656037ull, .horizon = horizon, .early_hash = 14695981039346656037ull};
    struct baton__parser p;
    baton__parser_init(&p, lim);

    size_t pos = 0;
    while (pos < size) {
        size_t n = split ? piece(&split, size - pos) : size - pos;
        const char *chunk = (const char *)data + pos;
        size_t off = 0;
        while (off < n) {
            size_t used = 0;
            int r = baton__parser_execute(&p, chunk + off, n - off, &used);
            if (r == BATON__PARSE_ERROR) {
                check_error(&p);
                t.error_status = p.error_status;
                /* Refused for good: more input changes nothing. */
                CHECK(baton__parser_execute(&p, "GET / HTTP/1.1\r\n", 16, &used) ==
                      BATON__PARSE_ERROR);
                goto out;
            }
            CHECK(used <= n - off);
            if (r == BATON__PARSE_MORE) {
                CHECK(used == n - off);
                off = n;
                break;
            }
            check_request(&p, &t);
            if (pos + off + used <= t.horizon) {
                t.early_requests = t.requests;
                t.early_hash = t.hash;
            }
            baton__parser_next(&p);
            CHECK(baton__parser_idle(&p));
            off += used;
            /* Between requests an idle connection may give its memory back. */
            if (off == n && (t.requests & 1))
                baton__parser_shrink(&p);
        }
        pos += n;
    }
out:
    baton__parser_free(&p);
    CHECK(baton__parser_footprint(&p) == 0);
    return t;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct baton__limits defaults = BATON__LIMITS_DEFAULT;
    static const struct baton__limits small = {256, 8, 64, 128};
    const struct baton__limits *profiles[] = {&defaults, &small};

    uint64_t seed = 0x9e3779b97f4a7c15ull ^ size;
    for (size_t i = 0; i < size && i < 64; i++)
        seed = (seed ^ data[i]) * 0x100000001b3ull;
    seed |= 1;

    /* The stream followed by one more request, to see what was held back. */
    static const char next[] = "GET /next HTTP/1.1\r\nHost: n\r\n\r\n";
    uint8_t *more = malloc(size + sizeof(next) - 1);
    if (!more)
        return 0;
    if (size)
        memcpy(more, data, size);
    memcpy(more + size, next, sizeof(next) - 1);

    for (size_t i = 0; i < 2; i++) {
        struct transcript whole = run(profiles[i], data, size, 0, size);
        struct transcript split = run(profiles[i], data, size, seed, size);
        /* The same requests either way. Which refusal comes first may differ (a target both too
         * long and malformed is refused for whichever the parser saw first), and so may whether
         * an unfinished request is refused yet. */
        if (whole.hash != split.hash || whole.requests != split.requests) {
            fprintf(stderr,
                    "fuzz-http: requests depend on read boundaries (limits #%zu): whole %u "
                    "requests, error %d; split %u requests, error %d\n",
                    i, whole.requests, whole.error_status, split.requests, split.error_status);
            abort();
        }
        struct transcript longer = run(profiles[i], more, size + sizeof(next) - 1, 0, size);
        if (longer.early_requests != whole.requests || longer.early_hash != whole.hash) {
            fprintf(stderr,
                    "fuzz-http: a complete request waits for more bytes (limits #%zu): %u "
                    "requests from the stream alone, %u once more bytes follow\n",
                    i, whole.requests, longer.early_requests);
            abort();
        }
    }
    free(more);
    return 0;
}
