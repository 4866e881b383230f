/* SPDX-License-Identifier: MIT */
/* HTTP GETs for pull mode with libcurl's easy interface: bounded bodies, conditional requests,
 * connect and stall timeouts, cancellation, and relative URL resolution. Blocking: called from
 * the worker thread that runs baton_source_poll(). */
#include "deploy/internal.h"

#include <curl/curl.h>
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

struct sink {
    struct baton__fetch *f;
    uint64_t max, got;
    bool too_big;
    int write_errno;
    /* memory */
    char *buf;
    size_t cap;
    /* file */
    int fd;
    crypto_hash_sha256_state sha;
};

static bool status_ok(CURL *h)
{
    long code = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    return code == 0 /* file:// */ || (code >= 200 && code < 300);
}

static size_t write_mem(char *p, size_t size, size_t n, void *user)
{
    struct sink *s = user;
    size_t k = size * n;
    if (!status_ok(s->f->curl))
        return k; /* an error page: read and dropped */
    if (s->got + k > s->max) {
        s->too_big = true;
        return 0;
    }
    if (s->got + k + 1 > s->cap) {
        size_t cap = s->cap ? s->cap : 4096;
        while (cap < s->got + k + 1)
            cap *= 2;
        char *b = realloc(s->buf, cap);
        if (!b) {
            s->write_errno = ENOMEM;
            return 0;
        }
        s->buf = b;
        s->cap = cap;
    }
    memcpy(s->buf + s->got, p, k);
    s->got += k;
    s->buf[s->got] = '\0';
    return k;
}

static size_t write_file(char *p, size_t size, size_t n, void *user)
{
    struct sink *s = user;
    size_t k = size * n;
    if (!status_ok(s->f->curl))
        return k;
    if (s->got + k > s->max) {
        s->too_big = true;
        return 0;
    }
    for (size_t off = 0; off < k;) {
        ssize_t w = write(s->fd, p + off, k - off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            s->write_errno = errno;
            return 0;
        }
        off += (size_t)w;
    }
    crypto_hash_sha256_update(&s->sha, (const uint8_t *)p, k);
    s->got += k;
    return k;
}

/* Copies the value of header `name` (case-insensitive) from one header line into out. */
static void header_value(const char *line, size_t n, const char *name, char *out, size_t outsz)
{
    size_t nl = strlen(name);
    if (n <= nl || strncasecmp(line, name, nl) != 0 || line[nl] != ':')
        return;
    const char *v = line + nl + 1;
    const char *end = line + n;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
        end--;
    size_t len = (size_t)(end - v);
    if (len >= outsz)
        return; /* too long to send back: behave as if absent */
    memcpy(out, v, len);
    out[len] = '\0';
}

static size_t on_header(char *p, size_t size, size_t n, void *user)
{
    struct baton__fetch *f = user;
    size_t k = size * n;
    if (k >= 5 && !strncmp(p, "HTTP/", 5)) { /* a new response (after a redirect): start over */
        f->etag[0] = '\0';
        f->last_modified[0] = '\0';
    }
    header_value(p, k, "ETag", f->etag, sizeof(f->etag));
    header_value(p, k, "Last-Modified", f->last_modified, sizeof(f->last_modified));
    return k;
}

static int on_progress(void *user, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    const struct baton__fetch *f = user;
    return f->cancel && __atomic_load_n(f->cancel, __ATOMIC_ACQUIRE) ? 1 : 0;
}

/* Appends "NAME: VALUE" to *hdrs when VALUE is set (a validator from an earlier response).
 * Returns -ENOMEM when curl cannot allocate. */
static int append_header(struct curl_slist **hdrs, const char *name, const char *value)
{
    if (!value || !value[0])
        return 0;
    char line[BATON__FETCH_VALIDATOR_MAX + 64];
    if ((size_t)snprintf(line, sizeof(line), "%s: %s", name, value) >= sizeof(line))
        return 0; /* longer than any validator we keep: send the request unconditional */
    struct curl_slist *n = curl_slist_append(*hdrs, line);
    if (!n)
        return -ENOMEM;
    *hdrs = n;
    return 0;
}

/* One GET with the sink s; returns the HTTP status or -errno. */
static int perform(struct baton__fetch *f, const char *url, const char *etag,
                   const char *last_modified, struct sink *s, bool to_file, char *err, size_t errsz)
{
    CURL *h = f->curl;
    char cerr[CURL_ERROR_SIZE] = "";
    struct curl_slist *hdrs = NULL;
    int r;

    f->etag[0] = '\0';
    f->last_modified[0] = '\0';
    f->effective_url[0] = '\0';
    curl_easy_reset(h);
    if (append_header(&hdrs, "If-None-Match", etag) < 0 ||
        append_header(&hdrs, "If-Modified-Since", last_modified) < 0)
        goto nomem;
    long stall_s = (long)((f->stall_ms + 999) / 1000);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https,file");
    curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(h, CURLOPT_MAXREDIRS, 5L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L); /* threads: no SIGALRM for DNS timeouts */
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)f->connect_ms);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, stall_s > 0 ? stall_s : 1L);
    curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)s->max);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, cerr);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "baton-pull/1");
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, f);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, to_file ? write_file : write_mem);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, s);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, f);

    CURLcode c = curl_easy_perform(h);
    char *eff = NULL;
    if (curl_easy_getinfo(h, CURLINFO_EFFECTIVE_URL, &eff) == CURLE_OK && eff)
        snprintf(f->effective_url, sizeof(f->effective_url), "%s", eff);
    const char *why = cerr[0] ? cerr : curl_easy_strerror(c);
    if (s->too_big || c == CURLE_FILESIZE_EXCEEDED) {
        r = baton__deploy_fail(err, errsz, -EFBIG, "%s: larger than %llu bytes", url,
                               (unsigned long long)s->max);
        goto out;
    }
    if (s->write_errno) {
        r = baton__deploy_fail(err, errsz, -s->write_errno, "%s: writing the download: %s", url,
                               strerror(s->write_errno));
        goto out;
    }
    switch (c) {
    case CURLE_OK: {
        long code = 0;
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
        r = code == 0 && !strncasecmp(url, "file:", 5) ? 200 : (int)code;
        goto out;
    }
    case CURLE_FILE_COULDNT_READ_FILE:
        r = baton__deploy_fail(err, errsz, -ENOENT, "%s: no such file", url);
        goto out;
    case CURLE_COULDNT_CONNECT:
        r = baton__deploy_fail(err, errsz, -ECONNREFUSED, "%s: cannot connect: %s", url, why);
        goto out;
    case CURLE_OPERATION_TIMEDOUT:
        r = baton__deploy_fail(err, errsz, -ETIMEDOUT, "%s: timed out: %s", url, why);
        goto out;
    case CURLE_ABORTED_BY_CALLBACK:
        r = baton__deploy_fail(err, errsz, -ECANCELED, "%s: cancelled", url);
        goto out;
    case CURLE_OUT_OF_MEMORY:
        goto nomem;
    default:
        r = baton__deploy_fail(err, errsz, -EIO, "%s: %s", url, why);
        goto out;
    }
nomem:
    r = baton__deploy_fail(err, errsz, -ENOMEM, "%s: out of memory", url);
out:
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
    curl_slist_free_all(hdrs);
    return r;
}

int baton__fetch_mem(struct baton__fetch *f, const char *url, const char *etag,
                     const char *last_modified, size_t max, char **ret_body, size_t *ret_len,
                     char *err, size_t errsz)
{
    struct sink s = {.f = f, .max = max, .fd = -1};
    int r = perform(f, url, etag, last_modified, &s, false, err, errsz);
    if (r < 0) {
        free(s.buf);
        return r;
    }
    if (!s.buf) {
        s.buf = calloc(1, 1);
        if (!s.buf)
            return baton__deploy_fail(err, errsz, -ENOMEM, "%s: out of memory", url);
    }
    *ret_body = s.buf;
    *ret_len = s.got;
    return r;
}

int baton__fetch_file(struct baton__fetch *f, const char *url, int fd, uint64_t max,
                      uint8_t sha256[32], uint64_t *ret_size, char *err, size_t errsz)
{
    struct sink s = {.f = f, .max = max, .fd = fd};
    crypto_hash_sha256_init(&s.sha);
    int r = perform(f, url, NULL, NULL, &s, true, err, errsz);
    if (r < 0)
        return r;
    crypto_hash_sha256_final(&s.sha, sha256);
    *ret_size = s.got;
    return r;
}

int baton__url_resolve(const char *base, const char *ref, bool allow_file, char *out, size_t outsz)
{
    CURLU *u = curl_url();
    char *s = NULL, *scheme = NULL;
    int r = -EINVAL;
    if (!u)
        return -ENOMEM;
    if (curl_url_set(u, CURLUPART_URL, base, 0) != CURLUE_OK ||
        curl_url_set(u, CURLUPART_URL, ref, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        (strcmp(scheme, "http") && strcmp(scheme, "https") &&
         (!allow_file || strcmp(scheme, "file"))) ||
        curl_url_get(u, CURLUPART_URL, &s, 0) != CURLUE_OK)
        goto out;
    if (strlen(s) >= outsz) {
        r = -ENAMETOOLONG;
        goto out;
    }
    strcpy(out, s);
    r = 0;
out:
    curl_free(s);
    curl_free(scheme);
    curl_url_cleanup(u);
    return r;
}
