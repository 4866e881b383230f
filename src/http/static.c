/* SPDX-License-Identifier: MIT */
/*
 * Static files: the request/response glue around the pure pieces in static-*.c and mime.c.
 *
 * One request costs a few syscalls and no allocation: openat2 of the file (plus one per
 * precompressed sibling tried), fstat, and the sendfile the core does later. Only a directory
 * redirect allocates (its Location carries the query string, whose length the client picks).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "http/static-internal.h"
#include "http/static.h"

struct baton_static {
    int root_fd;
    enum baton_static_resolve resolve;
};

/* A year, the longest max-age RFC 9111 section 5.2.2.1 expects caches to honour sensibly. */
#define CACHE_IMMUTABLE "public, max-age=31536000, immutable"
/* Store but revalidate every time: a conditional request with the ETag costs a 304. */
#define CACHE_REVALIDATE "no-cache"

/* One candidate representation: the file or a precompressed sibling. */
struct repr {
    int fd;
    struct stat st;
    const char *coding; /* "br", "gzip" or NULL for the file itself */
};

int baton__static_open(const char *root, struct baton_static **ret, char *err, size_t errlen)
{
    struct baton_static *st = NULL;
    int fd = -1, r;

    if (!root || !ret) {
        if (errlen)
            snprintf(err, errlen, "static root: no directory given");
        return -EINVAL;
    }
    /* A real read fd, not O_PATH: an unreadable root fails here, at startup, with a message. */
    fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        r = -errno;
        if (errlen)
            snprintf(err, errlen, "static root %s: %s", root, strerror(-r));
        goto out;
    }
    st = malloc(sizeof(*st));
    if (!st) {
        r = -ENOMEM;
        if (errlen)
            snprintf(err, errlen, "static root %s: out of memory", root);
        goto out;
    }
    st->root_fd = fd;
    st->resolve = baton__static_resolve_probe(fd);
    fd = -1;
    *ret = st;
    r = 0;
out:
    if (fd >= 0)
        close(fd);
    return r;
}

void baton__static_close(struct baton_static *st)
{
    if (!st)
        return;
    close(st->root_fd);
    free(st);
}

/* Errors that mean "nothing to serve here": the caller answers 404. */
static bool is_absent(int r)
{
    return r == -ENOENT || r == -ENOTDIR || r == -EXDEV || r == -ELOOP || r == -EACCES ||
           r == -ENAMETOOLONG || r == -EINVAL || r == -ENXIO || r == -ENODEV || r == -EPERM;
}

/* Opens `rel` beneath the root and stats it. */
static int open_repr(struct baton_static *st, const char *rel, struct repr *ret)
{
    int fd = -1, r;

    r = baton__static_resolve(st->root_fd, rel, st->resolve, &fd);
    if (r < 0)
        return r;
    if (fstat(fd, &ret->st) < 0) {
        r = -errno;
        close(fd);
        return r;
    }
    ret->fd = fd;
    ret->coding = NULL;
    return 0;
}

/* Replaces `file` by the best precompressed sibling the client accepts, when one exists (and
 * is a regular file beneath the root: the sibling goes through the same resolver). */
static void pick_sibling(struct baton_static *st, char *rel, size_t len, const char *accept,
                         struct repr *file)
{
    static const struct {
        const char *coding, *suffix;
    } codings[] = {{"br", ".br"}, {"gzip", ".gz"}};
    int q[2], order[2] = {0, 1};

    q[0] = baton__static_coding_quality(accept, "br");
    q[1] = baton__static_coding_quality(accept, "gzip");
    /* Brotli is smaller at equal quality; an explicit preference for gzip wins. */
    if (q[1] > q[0]) {
        order[0] = 1;
        order[1] = 0;
    }
    for (int i = 0; i < 2; i++) {
        int c = order[i];
        struct repr sib;

        if (q[c] <= 0)
            continue;
        memcpy(rel + len, codings[c].suffix, 4);
        if (open_repr(st, rel, &sib) == 0) {
            if (S_ISREG(sib.st.st_mode)) {
                close(file->fd);
                *file = sib;
                file->coding = codings[c].coding;
                break;
            }
            close(sib.fd);
        }
    }
    rel[len] = '\0';
}

/* "/" + rel + "/" (+ "?" + query), percent-encoding what is not plainly safe in a path. */
static int redirect_to_dir(baton_request *req, baton_response *res, const char *rel)
{
    static const char hex[] = "0123456789ABCDEF";
    const char *query = baton_request_query_string(req);
    size_t qlen = query ? strlen(query) : 0;
    char *loc, *o;
    int r;

    loc = malloc(3 * strlen(rel) + qlen + 4);
    if (!loc)
        return -ENOMEM;
    o = loc;
    *o++ = '/';
    for (const unsigned char *p = (const unsigned char *)rel; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            strchr("-._~/!$&'()*+,;=:@", *p)) {
            *o++ = (char)*p;
        } else {
            *o++ = '%';
            *o++ = hex[*p >> 4];
            *o++ = hex[*p & 15];
        }
    }
    /* rel is "" only for the root, whose path always ends with '/'. */
    *o++ = '/';
    if (qlen) {
        *o++ = '?';
        memcpy(o, query, qlen);
        o += qlen;
    }
    *o = '\0';
    r = baton_response_text(res, 301, "Moved Permanently\n");
    if (r >= 0)
        r = baton_response_header(res, "Location", loc);
    free(loc);
    return r < 0 ? r : 1;
}

/* The headers every answer about this representation carries (200, 206, 304, 416). */
static int validator_headers(baton_response *res, const char *etag, const char *last_modified,
                             const char *cache_control, bool vary)
{
    int r;

    r = baton_response_header(res, "ETag", etag);
    if (r >= 0 && last_modified[0])
        r = baton_response_header(res, "Last-Modified", last_modified);
    if (r >= 0)
        r = baton_response_header(res, "Cache-Control", cache_control);
    if (r >= 0 && vary)
        r = baton_response_header(res, "Vary", "Accept-Encoding");
    if (r >= 0)
        r = baton_response_header(res, "Accept-Ranges", "bytes");
    return r;
}

/* Answers from an open regular file (a file or its sibling); takes ownership of f->fd. */
static int answer(baton_request *req, baton_response *res, struct repr *f,
                  const struct baton_static_mime *mime, const char *name)
{
    char etag[BATON_STATIC_ETAG_LEN], last_modified[BATON_STATIC_DATE_LEN], crange[80];
    const char *cache = baton__static_fingerprinted(name) ? CACHE_IMMUTABLE : CACHE_REVALIDATE;
    struct baton_static_preconditions pre = {
        .if_match = baton_request_header(req, "If-Match"),
        .if_unmodified_since = baton_request_header(req, "If-Unmodified-Since"),
        .if_none_match = baton_request_header(req, "If-None-Match"),
        .if_modified_since = baton_request_header(req, "If-Modified-Since"),
    };
    uint64_t size = (uint64_t)f->st.st_size, start = 0, len = size;
    time_t mtime = f->st.st_mtim.tv_sec;
    enum baton_static_range range = BATON_STATIC_RANGE_NONE;
    int status = 200, r;

    r = baton__static_etag(&f->st, f->coding, etag, sizeof(etag));
    if (r < 0)
        goto out;
    /* A date past year 9999 has no HTTP-date: such a file simply has no Last-Modified. */
    if (baton__static_date_format(mtime, last_modified, sizeof(last_modified)) < 0)
        last_modified[0] = '\0';

    switch (baton__static_preconditions(&pre, etag, mtime)) {
    case BATON_STATIC_COND_PRECONDITION_FAILED:
        r = baton_response_status(res, 412);
        goto out;
    case BATON_STATIC_COND_NOT_MODIFIED:
        r = baton_response_status(res, 304);
        if (r >= 0)
            r = validator_headers(res, etag, last_modified, cache, mime->compressible);
        goto out;
    case BATON_STATIC_COND_PROCEED:
        break;
    }

    /* Range is defined for GET only (RFC 9110 section 14.2): HEAD gets the 200 headers. */
    if (strcmp(baton_request_method(req), "GET") == 0 &&
        baton__static_if_range(baton_request_header(req, "If-Range"), etag, mtime))
        range = baton__static_range(baton_request_header(req, "Range"), size, &start, &len);
    if (range == BATON_STATIC_RANGE_UNSATISFIABLE) {
        snprintf(crange, sizeof(crange), "bytes */%" PRIu64, size);
        r = baton_response_status(res, 416);
        if (r >= 0)
            r = validator_headers(res, etag, last_modified, cache, mime->compressible);
        if (r >= 0)
            r = baton_response_header(res, "Content-Range", crange);
        goto out;
    }
    if (range == BATON_STATIC_RANGE_OK) {
        status = 206;
        snprintf(crange, sizeof(crange), "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, start,
                 start + len - 1, size);
    }
    r = baton_response_status(res, status);
    if (r >= 0)
        r = validator_headers(res, etag, last_modified, cache, mime->compressible);
    if (r >= 0)
        r = baton_response_header(res, "Content-Type", mime->type);
    if (r >= 0 && f->coding)
        r = baton_response_header(res, "Content-Encoding", f->coding);
    if (r >= 0 && status == 206)
        r = baton_response_header(res, "Content-Range", crange);
    if (r >= 0) {
        r = baton_response_file(res, f->fd, (off_t)start, len);
        f->fd = -1; /* the response owns it now, even on error */
    }
out:
    if (f->fd >= 0)
        close(f->fd);
    f->fd = -1;
    return r < 0 ? r : 1;
}

int baton__static_serve(struct baton_static *st, baton_request *req, baton_response *res)
{
    char rel[BATON_STATIC_PATH_MAX];
    const char *method, *name;
    struct repr file = {.fd = -1};
    const struct baton_static_mime *mime;
    bool slash;
    int len, r;

    if (!st || !req || !res)
        return -EINVAL;
    method = baton_request_method(req);
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return 0;
    /* The core decoded the path once; whatever it holds, refusals look like missing files. */
    len = baton__static_path_check(baton_request_path(req), rel, sizeof(rel), &slash);
    if (len < 0)
        return 0;
    if (slash) {
        /* path_check left room for this suffix. */
        strcpy(rel + len, len ? "/index.html" : "index.html");
        len += len ? 11 : 10;
    }
    r = open_repr(st, rel, &file);
    if (r < 0)
        return is_absent(r) ? 0 : r;
    if (S_ISDIR(file.st.st_mode) && !slash) {
        close(file.fd);
        return redirect_to_dir(req, res, rel);
    }
    if (!S_ISREG(file.st.st_mode)) {
        close(file.fd);
        return 0;
    }
    name = strrchr(rel, '/');
    name = name ? name + 1 : rel;
    mime = baton__mime_lookup(name);
    if (mime->compressible)
        pick_sibling(st, rel, (size_t)len, baton_request_header(req, "Accept-Encoding"), &file);
    return answer(req, res, &file, mime, name);
}
