/* SPDX-License-Identifier: MIT */
/*
 * Static files for baton-web: what the server core calls for a GET or HEAD that no route
 * matched. Everything the file server decides (path, validators, ranges, encodings, caching)
 * happens inside baton__static_serve() on top of the public request/response API.
 *
 * Policy, in one place:
 * - Paths are resolved with openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS) from a directory
 *   fd of the root, so no path, symlink or `..` inside a symlink escapes the root. Relative
 *   symlinks that stay beneath the root are followed; absolute symlinks are refused (the kernel
 *   treats them as escapes under RESOLVE_BENEATH). On a kernel without openat2 (before 5.6, or a
 *   seccomp filter answering ENOSYS/EPERM) every component is opened with O_NOFOLLOW instead, so
 *   then no symlink is followed at all.
 * - Every refusal answers 404, like a missing file: `.`/`..` segments, hidden names (a segment
 *   starting with '.', except `.well-known`), symlinks leaving the root, anything that is not a
 *   regular file or a directory with an index.html. Nothing tells a prober what exists.
 * - A directory without the trailing slash is redirected (301) to the path with it; with the
 *   slash it serves its index.html. There are no directory listings.
 * - Validators: a strong ETag from inode, size and mtime (ns), Last-Modified, and the RFC 9110
 *   preconditions (If-Match/If-Unmodified-Since → 412, If-None-Match/If-Modified-Since → 304).
 * - One byte range → 206; several ranges or a malformed Range → the whole file (200); a range
 *   past the end → 416 with "Content-Range: bytes * /size". HEAD ignores Range (GET only).
 * - Compressible types (text, scripts, json, svg, wasm... see mime.c) always carry
 *   "Vary: Accept-Encoding" and are served from a `.br` or `.gz` sibling when the client
 *   accepts that coding (q > 0) and the sibling is a regular file beneath the root; a sibling
 *   has its own ETag. Other types (images, fonts in woff2, media) are never looked up.
 * - Fingerprinted names ("app.3f9a1c.js") get "public, max-age=31536000, immutable", all else
 *   "no-cache" (stored, revalidated with the ETag).
 */
#ifndef BATON_HTTP_STATIC_H
#define BATON_HTTP_STATIC_H

#include <stddef.h>

#include "baton/http.h"

struct baton_static;

/*
 * Opens the document root `root` (a directory) for serving. On failure returns -errno and
 * writes a message naming the root and the reason into err (errlen bytes, may be 0).
 */
int baton__static_open(const char *root, struct baton_static **ret, char *err, size_t errlen);

/* Closes the root and frees st (NULL is fine). */
void baton__static_close(struct baton_static *st);

/*
 * Answers a GET or HEAD for baton_request_path(req) from the root. Returns 1 when the response
 * has been filled in (200, 206, 301, 304, 412, 416), 0 when there is no such file (the caller
 * answers 404 and `res` is untouched), or -errno on a system error (out of fds, I/O error).
 */
int baton__static_serve(struct baton_static *st, baton_request *req, baton_response *res);

#endif
