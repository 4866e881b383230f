/* SPDX-License-Identifier: MIT */
/*
 * The static file server's pieces, as functions of plain strings and numbers so that each
 * can be tested without a request: path checks and resolution (static-path.c), validators and
 * conditional requests (static-cond.c), byte ranges (static-range.c), content codings
 * (static-encoding.c) and media types (mime.c).
 */
#ifndef BATON_HTTP_STATIC_INTERNAL_H
#define BATON_HTTP_STATIC_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>

/* ---- Paths (static-path.c) ----------------------------------------------------------------- */

/* Room for a checked path plus "/index.html" and a ".br" sibling suffix. */
#define BATON_STATIC_PATH_MAX 4096

/*
 * Turns the decoded request path `path` ("/css/app.css", "/docs/") into a path relative to the
 * root ("css/app.css", "docs", "" for "/"), written to out (outlen bytes). Empty segments are
 * dropped. Refuses with -EINVAL a path not starting with '/', a `.` or `..` segment or a control
 * byte; with -ENOENT a hidden segment (starting with '.', except ".well-known"); with
 * -ENAMETOOLONG a segment over NAME_MAX or a result that leaves no room for the suffixes the
 * server appends. Returns the length of the relative path; *ret_slash tells whether the request
 * path ended with '/'.
 */
int baton__static_path_check(const char *path, char *out, size_t outlen, bool *ret_slash);

enum baton_static_resolve {
    BATON_STATIC_RESOLVE_OPENAT2,  /* openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS) */
    BATON_STATIC_RESOLVE_NOFOLLOW, /* fallback: one openat(O_NOFOLLOW) per component */
};

/*
 * Opens `rel` (a checked relative path, "" for the root itself) beneath root_fd for reading
 * (O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC) and stores the fd in *ret_fd. Returns 0 or
 * -errno: -EXDEV or -ELOOP when the path would leave the root or (NOFOLLOW) crosses a symlink,
 * -ENOENT/-ENOTDIR when it does not exist.
 */
int baton__static_resolve(int root_fd, const char *rel, enum baton_static_resolve how, int *ret_fd);

/* Which resolver the running kernel supports for root_fd: OPENAT2 unless openat2 is missing. */
enum baton_static_resolve baton__static_resolve_probe(int root_fd);

/* ---- Validators and conditional requests (static-cond.c) ---------------------------------- */

/* An IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT") is 29 characters. */
#define BATON_STATIC_DATE_LEN 30
/* Longest ETag baton__static_etag() writes, with its NUL. */
#define BATON_STATIC_ETAG_LEN 80

/* Writes t as an IMF-fixdate into buf (BATON_STATIC_DATE_LEN bytes). Returns 0 or -EINVAL. */
int baton__static_date_format(time_t t, char *buf, size_t len);

/* Parses an HTTP-date in any of its three forms (IMF-fixdate, RFC 850, asctime). 0 or -EINVAL. */
int baton__static_date_parse(const char *s, time_t *ret);

/*
 * Writes the strong entity tag of a file into buf: "\"<inode>-<size>-<mtime s>.<mtime ns>\"" in
 * hex, with "-<coding>" appended inside the quotes when `coding` is not NULL (a precompressed
 * sibling is another representation and needs its own tag). Returns 0 or -ENOBUFS.
 */
int baton__static_etag(const struct stat *st, const char *coding, char *buf, size_t len);

/* Whether the field value `list` (If-None-Match, If-Match) names `etag` or is "*". `weak`
 * selects weak comparison (W/ prefixes ignored) over strong. A malformed list matches nothing. */
bool baton__static_etag_match(const char *list, const char *etag, bool weak);

enum baton_static_cond {
    BATON_STATIC_COND_PROCEED,             /* send the representation (200 or 206) */
    BATON_STATIC_COND_NOT_MODIFIED,        /* 304 */
    BATON_STATIC_COND_PRECONDITION_FAILED, /* 412 */
};

/* The request's preconditions (NULL when absent), evaluated in RFC 9110 section 13.2.2 order. */
struct baton_static_preconditions {
    const char *if_match;
    const char *if_unmodified_since;
    const char *if_none_match;
    const char *if_modified_since; /* ignored when if_none_match is present */
};

/* Evaluates p against a file's strong etag and modification time (seconds). */
enum baton_static_cond baton__static_preconditions(const struct baton_static_preconditions *p,
                                                   const char *etag, time_t mtime);

/*
 * Whether a file name carries a content fingerprint: a dot-separated segment of at least six
 * hex digits, one of them a decimal digit, right before the extension and after a base name
 * ("app.3f9a1c.js", "style.0123abcd.css"). Such files never change under their name and are
 * served with an immutable year-long Cache-Control. Requiring a digit keeps ordinary words made
 * of a-f ("index.facade.js") from being cached forever.
 */
bool baton__static_fingerprinted(const char *name);

/* ---- Byte ranges (static-range.c) ---------------------------------------------------------- */

enum baton_static_range {
    BATON_STATIC_RANGE_NONE,          /* absent, malformed, several ranges: send everything */
    BATON_STATIC_RANGE_OK,            /* 206 with *ret_start, *ret_len */
    BATON_STATIC_RANGE_UNSATISFIABLE, /* 416 with Content-Range: bytes * /size */
};

/*
 * Parses a Range field value against a representation of `size` bytes. Accepts one
 * `bytes=a-b`, `bytes=a-` or `bytes=-n`; numbers too large for 64 bits saturate (a first byte
 * past the end is unsatisfiable, a last byte past the end is clamped). Several ranges are not
 * served as multipart: they answer NONE, like anything malformed.
 */
enum baton_static_range baton__static_range(const char *range, uint64_t size, uint64_t *ret_start,
                                            uint64_t *ret_len);

/*
 * Whether a Range may be honoured given If-Range (NULL when absent): the value must be the
 * current strong etag or exactly the current Last-Modified date.
 */
bool baton__static_if_range(const char *if_range, const char *etag, time_t mtime);

/* ---- Content codings (static-encoding.c) --------------------------------------------------- */

/*
 * The quality (0..1000) an Accept-Encoding value `accept` (NULL when absent) gives to `coding`
 * ("br", "gzip"): its own entry, else the "*" entry, else 0. "x-gzip" counts as gzip. An entry
 * with a malformed q is skipped.
 */
int baton__static_coding_quality(const char *accept, const char *coding);

/* ---- Media types (mime.c) ------------------------------------------------------------------ */

struct baton_static_mime {
    const char *type;  /* full Content-Type value, with "; charset=utf-8" for text */
    bool compressible; /* worth a precompressed sibling (text, scripts, svg, wasm...) */
};

/* The media type of file name `name` by its extension (case-insensitive); never NULL:
 * application/octet-stream when unknown. */
const struct baton_static_mime *baton__mime_lookup(const char *name);

#endif
