/* SPDX-License-Identifier: MIT */
/* Helpers shared by the files of src/deploy (not part of the API in deploy.h). */
#ifndef BATON_DEPLOY_INTERNAL_H
#define BATON_DEPLOY_INTERNAL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "deploy/deploy.h"

/* Writes a printf-style reason into err (when non-NULL) and returns r (a -errno). */
int baton__deploy_fail(char *err, size_t errsz, int r, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* A key id as minisign prints it (16 upper-case hex digits of the little-endian key number). */
void baton__key_id_hex(const uint8_t id[8], char out[BATON_KEYID_HEX]);

/* CRC-32 (IEEE 802.3, as zlib's crc32()). */
uint32_t baton__crc32(const void *p, size_t n);

/* Removes name (a file, symlink or whole directory tree) below dirfd without following symlinks.
 * A missing name is success. */
int baton__deploy_rmtree(int dirfd, const char *name);
/* Reads a small file whole: at most bufsz-1 bytes, NUL-terminated; -EFBIG when larger. */
int baton__deploy_read_file(const char *path, char *buf, size_t bufsz, size_t *ret_len);

/* fsync(2) of the directory name below dirfd ("." for dirfd itself). */
int baton__deploy_fsync_dir(int dirfd, const char *name);

/* Test builds only (BATON_TEST_HOOKS): kills the process with SIGKILL when the environment
 * variable BATON_TEST_KILL_AT names this point. Production builds compile it away. */
#ifdef BATON_TEST_HOOKS
void baton__deploy_test_point(const char *where);
#else
static inline void baton__deploy_test_point(const char *where)
{
    (void)where;
}
#endif

/* ---- HTTP for pull mode (fetch.c; libcurl's easy interface, blocking) ---- */

#define BATON__FETCH_VALIDATOR_MAX 255 /* the longest ETag kept (Last-Modified is shorter) */

struct baton__fetch {
    void *curl;          /* CURL *, reused across the requests of one poll (keep-alive) */
    const int *cancel;   /* read atomically: non-zero aborts the transfer */
    uint64_t connect_ms; /* connect timeout */
    uint64_t stall_ms;   /* below 1 byte/s this long: timeout */
    char etag[BATON__FETCH_VALIDATOR_MAX + 1]; /* out: the response's ETag ("" none) */
    char last_modified[64];                    /* out: its Last-Modified ("" none) */
    char effective_url[BATON_LATEST_URL + 1];  /* out: the URL after redirects */
};

/* GETs url (http, https, file; redirects to http and https only) into *ret_body (malloc'd,
 * NUL-terminated, at most max bytes: -EFBIG past it), sending If-None-Match / If-Modified-Since
 * when etag / last_modified are non-empty. Returns the HTTP status (>= 100; 200 for a file read),
 * or -errno with a reason (ECONNREFUSED, ETIMEDOUT, EFBIG, ECANCELED, ENOENT for a missing file://,
 * EIO). */
int baton__fetch_mem(struct baton__fetch *f, const char *url, const char *etag,
                     const char *last_modified, size_t max, char **ret_body, size_t *ret_len,
                     char *err, size_t errsz);
/* GETs url into fd (from its current offset), at most max bytes, hashing what it writes into
 * sha256. Returns the HTTP status or -errno as baton__fetch_mem; the body is written only for a
 * 2xx status. */
int baton__fetch_file(struct baton__fetch *f, const char *url, int fd, uint64_t max,
                      uint8_t sha256[32], uint64_t *ret_size, char *err, size_t errsz);
/* Resolves ref against base (RFC 3986) into out. -EINVAL when either is not a usable URL or the
 * result is not http(s) (or file, when allow_file). */
int baton__url_resolve(const char *base, const char *ref, bool allow_file, char *out, size_t outsz);

#endif
