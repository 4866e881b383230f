/* SPDX-License-Identifier: MIT */
/* Request-target handling: origin-, absolute- and asterisk-form, percent-decoding, dot-segment
 * removal and query lookup (RFC 9112 section 3.2, RFC 3986 sections 2.1 and 5.2.4). */
#ifndef BATON_HTTP_URI_H
#define BATON_HTTP_URI_H

#include <stddef.h>

#include "http/arena.h"

/*
 * Splits a request target into a decoded, normalised path and the raw query, both allocated in
 * the arena. Absolute-form ("http://host/p?q") keeps the path part; "*" gives "*". Returns 0,
 * -EINVAL for a target that is not a valid path (bad %-escape, NUL, ".." above the root,
 * missing leading '/') or -ENOMEM.
 */
int baton__uri_split(struct baton__arena *arena, const char *target, size_t len,
                     const char **ret_path, const char **ret_query);

/*
 * Decodes %XX escapes of s[0..len) into out (at least len + 1 bytes), with '+' as a space when
 * plus_is_space. Returns the decoded length, or -EINVAL on a bad escape or a decoded NUL.
 */
int baton__uri_decode(const char *s, size_t len, char *out, int plus_is_space);

/* The decoded value of parameter `name` in a raw query ("a=1&b=x%20y"), allocated in the arena;
 * "" for a name without '='; NULL when absent or undecodable. */
const char *baton__uri_query_get(struct baton__arena *arena, const char *query, const char *name);

#endif
