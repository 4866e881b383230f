/* SPDX-License-Identifier: MIT */
/* Pull mode's pure parts: the latest.json reader, RFC 3339 times, the phase bucket and the
 * poll jitter. Nothing here touches the network or the disk. */
#include "deploy/internal.h"

#include <ctype.h>
#include <errno.h>
#include <libfyaml.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void diag_discard(struct fy_diag *diag, void *user, const char *buf, size_t len)
{
}

/* A scalar member of the mapping: its text (not NUL-terminated) or NULL when absent.
 * *ret_bad is set when the member exists but is not a scalar. */
static const char *member(struct fy_node *root, const char *key, size_t *ret_len, bool *ret_bad)
{
    struct fy_node *n = fy_node_mapping_lookup_by_string(root, key, FY_NT);
    *ret_bad = false;
    if (!n)
        return NULL;
    if (!fy_node_is_scalar(n)) {
        *ret_bad = true;
        return NULL;
    }
    const char *t = fy_node_get_scalar(n, ret_len);
    if (!t)
        *ret_bad = true;
    return t;
}

static bool quoted(struct fy_node *root, const char *key)
{
    struct fy_node *n = fy_node_mapping_lookup_by_string(root, key, FY_NT);
    enum fy_node_style st = fy_node_get_style(n);
    return st == FYNS_DOUBLE_QUOTED || st == FYNS_SINGLE_QUOTED;
}

int baton_latest_parse(const char *text, size_t len, struct baton_latest *ret, char *err,
                       size_t errsz)
{
    struct fy_diag *diag = NULL;
    struct fy_document *doc = NULL;
    struct baton_latest l = {.phase = 100};
    int r;

    if (!text || !ret)
        return -EINVAL;
    if (len > BATON_LATEST_MAX)
        return baton__deploy_fail(err, errsz, -EBADMSG,
                                  "malformed latest.json: longer than %u bytes", BATON_LATEST_MAX);
    if (memchr(text, '\0', len))
        return baton__deploy_fail(err, errsz, -EBADMSG, "malformed latest.json: a NUL byte");
    struct fy_diag_cfg dc;
    fy_diag_cfg_default(&dc);
    dc.fp = NULL;
    dc.output_fn = diag_discard;
    diag = fy_diag_create(&dc);
    if (!diag)
        return -ENOMEM;
    struct fy_parse_cfg cfg = {.flags = FYPCF_QUIET | FYPCF_JSON_FORCE, .diag = diag};
    doc = len ? fy_document_build_from_string(&cfg, text, len) : NULL;
    struct fy_node *root = doc ? fy_document_root(doc) : NULL;
    if (!root || fy_node_get_type(root) != FYNT_MAPPING) {
        r = baton__deploy_fail(err, errsz, -EBADMSG, "malformed latest.json: not a JSON object");
        goto out;
    }

    size_t n;
    bool bad;
    const char *t = member(root, "version", &n, &bad);
    if (!t || !quoted(root, "version") || n > BATON_VERSION_MAX) {
        r = baton__deploy_fail(err, errsz, -EBADMSG, "malformed latest.json: \"version\" %s",
                               t || bad ? "is not a version string" : "is missing");
        goto out;
    }
    memcpy(l.version, t, n);
    l.version[n] = '\0';
    if (!baton_version_valid(l.version)) {
        r = baton__deploy_fail(err, errsz, -EBADMSG,
                               "malformed latest.json: \"version\" is not a valid version");
        goto out;
    }

    t = member(root, "url", &n, &bad);
    if (!t || !quoted(root, "url") || n == 0 || n > BATON_LATEST_URL) {
        r = baton__deploy_fail(err, errsz, -EBADMSG, "malformed latest.json: \"url\" %s",
                               t || bad ? "is not a URL string" : "is missing");
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)t[i] <= ' ' || t[i] == 0x7f) {
            r = baton__deploy_fail(err, errsz, -EBADMSG,
                                   "malformed latest.json: \"url\" holds a space or control "
                                   "character");
            goto out;
        }
    memcpy(l.url, t, n);
    l.url[n] = '\0';

    t = member(root, "sha256", &n, &bad);
    if (!t || !quoted(root, "sha256") || n != 64) {
        r = baton__deploy_fail(err, errsz, -EBADMSG, "malformed latest.json: \"sha256\" %s",
                               t || bad ? "is not 64 hex digits" : "is missing");
        goto out;
    }
    for (size_t i = 0; i < 64; i++) {
        if (!isxdigit((unsigned char)t[i])) {
            r = baton__deploy_fail(err, errsz, -EBADMSG,
                                   "malformed latest.json: \"sha256\" is not 64 hex digits");
            goto out;
        }
        l.sha256[i] = (char)tolower((unsigned char)t[i]);
    }
    l.sha256[64] = '\0';

    t = member(root, "expires", &n, &bad);
    if (t || bad) {
        char tmp[64];
        if (!t || !quoted(root, "expires") || n >= sizeof(tmp)) {
            r = baton__deploy_fail(err, errsz, -EBADMSG,
                                   "malformed latest.json: \"expires\" is not an RFC 3339 string");
            goto out;
        }
        memcpy(tmp, t, n);
        tmp[n] = '\0';
        if (baton_rfc3339_parse(tmp, &l.expires) < 0 || l.expires <= 0) {
            r = baton__deploy_fail(err, errsz, -EBADMSG,
                                   "malformed latest.json: \"expires\" \"%s\" is not an RFC 3339 "
                                   "time",
                                   tmp);
            goto out;
        }
    }

    t = member(root, "phase", &n, &bad);
    if (t || bad) {
        int v = 0;
        bool ok = t && !quoted(root, "phase") && n >= 1 && n <= 3;
        for (size_t i = 0; ok && i < n; i++) {
            ok = t[i] >= '0' && t[i] <= '9';
            v = v * 10 + (t[i] - '0');
        }
        if (!ok || v > 100) {
            r = baton__deploy_fail(err, errsz, -EBADMSG,
                                   "malformed latest.json: \"phase\" is not an integer 0..100");
            goto out;
        }
        l.phase = v;
    }
    *ret = l;
    r = 0;
out:
    fy_document_destroy(doc);
    fy_diag_destroy(diag);
    return r;
}

static int digits(const char **p, int n, int *ret)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*p)[i]))
            return -EINVAL;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *ret = v;
    return 0;
}

int baton_rfc3339_parse(const char *s, long long *ret)
{
    int Y, M, D, h, m, sec, oh = 0, om = 0;
    const char *p = s;
    if (!s || digits(&p, 4, &Y) < 0 || *p++ != '-' || digits(&p, 2, &M) < 0 || *p++ != '-' ||
        digits(&p, 2, &D) < 0)
        return -EINVAL;
    if (*p != 'T' && *p != 't' && *p != ' ')
        return -EINVAL;
    p++;
    if (digits(&p, 2, &h) < 0 || *p++ != ':' || digits(&p, 2, &m) < 0 || *p++ != ':' ||
        digits(&p, 2, &sec) < 0)
        return -EINVAL;
    if (*p == '.') {
        p++;
        if (!isdigit((unsigned char)*p))
            return -EINVAL;
        while (isdigit((unsigned char)*p))
            p++;
    }
    int sign = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        sign = *p++ == '+' ? 1 : -1;
        if (digits(&p, 2, &oh) < 0 || *p++ != ':' || digits(&p, 2, &om) < 0)
            return -EINVAL;
    } else {
        return -EINVAL;
    }
    if (*p != '\0')
        return -EINVAL;
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (Y % 4 == 0 && Y % 100 != 0) || Y % 400 == 0;
    if (M < 1 || M > 12 || D < 1 || D > mdays[M - 1] || (M == 2 && D == 29 && !leap) || h > 23 ||
        m > 59 || sec > 60 || oh > 23 || om > 59)
        return -EINVAL;
    struct tm tm = {.tm_year = Y - 1900,
                    .tm_mon = M - 1,
                    .tm_mday = D,
                    .tm_hour = h,
                    .tm_min = m,
                    .tm_sec = sec};
    time_t t = timegm(&tm);
    *ret = (long long)t - sign * (oh * 3600 + om * 60);
    return 0;
}

unsigned baton_source_phase_bucket(const char *machine_id, const char *version)
{
    crypto_hash_sha256_state st;
    uint8_t h[32];
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, (const uint8_t *)machine_id, strlen(machine_id));
    crypto_hash_sha256_update(&st, (const uint8_t *)"\n", 1);
    crypto_hash_sha256_update(&st, (const uint8_t *)version, strlen(version));
    crypto_hash_sha256_final(&st, h);
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | h[i];
    return (unsigned)(v % 100);
}

uint64_t baton_source_jitter(uint64_t *rng, uint64_t interval_ms)
{
    /* splitmix64: tiny, seedable, good enough to spread a fleet's polls */
    uint64_t z = (*rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    double u = (double)(z >> 11) / (double)(1ull << 53); /* [0, 1) */
    return (uint64_t)((double)interval_ms * (0.9 + 0.2 * u));
}
