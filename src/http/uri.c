/* SPDX-License-Identifier: MIT */
#include "http/uri.h"

#include <errno.h>
#include <string.h>
#include <strings.h>
#include "common/hex.h"

int baton__uri_decode(const char *s, size_t len, char *out, int plus_is_space)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '%') {
            if (len - i < 3)
                return -EINVAL;
            int hi = baton__hexval(s[i + 1]);
            int lo = baton__hexval(s[i + 2]);
            if (hi < 0 || lo < 0)
                return -EINVAL;
            c = (char)(hi << 4 | lo);
            i += 2;
        } else if (c == '+' && plus_is_space) {
            c = ' ';
        }
        if (c == '\0')
            return -EINVAL;
        out[o++] = c;
    }
    out[o] = '\0';
    return (int)o;
}

/* Removes "." and ".." segments and merges repeated slashes in place; path starts with '/'.
 * Returns the new length, or -EINVAL when ".." would climb above the root. */
static int normalise(char *path, size_t len)
{
    size_t o = 0; /* output length; path[0] == '/' always kept */
    size_t i = 0;
    while (i < len) {
        /* i is at a '/' */
        size_t start = i + 1;
        size_t end = start;
        while (end < len && path[end] != '/')
            end++;
        size_t seg = end - start;
        if (seg == 0 || (seg == 1 && path[start] == '.')) {
            /* empty segment or ".": dropped, but a trailing one keeps the trailing slash */
            if (end == len && (o == 0 || path[o - 1] != '/'))
                path[o++] = '/';
        } else if (seg == 2 && path[start] == '.' && path[start + 1] == '.') {
            if (o == 0)
                return -EINVAL;
            /* drop the last output segment */
            while (o > 0 && path[o - 1] != '/')
                o--;
            if (o > 0)
                o--; /* its slash */
            if (end == len)
                path[o++] = '/';
        } else {
            path[o++] = '/';
            memmove(path + o, path + start, seg);
            o += seg;
        }
        i = end;
    }
    if (o == 0)
        path[o++] = '/';
    path[o] = '\0';
    return (int)o;
}

int baton__uri_split(struct baton__arena *arena, const char *target, size_t len,
                     const char **ret_path, const char **ret_query)
{
    const char *p = target;
    const char *end = target + len;

    if (len == 1 && target[0] == '*') {
        *ret_path = "*";
        *ret_query = "";
        return 0;
    }
    if (len > 7 && (strncasecmp(p, "http://", 7) == 0 || strncasecmp(p, "https://", 8) == 0)) {
        p += p[4] == ':' ? 7 : 8;
        while (p < end && *p != '/' && *p != '?')
            p++;
        if (p == end || *p == '?') {
            /* "http://host" or "http://host?q": the path is "/" */
            const char *q = p < end ? p + 1 : end;
            char *query = baton__arena_strndup(arena, q, (size_t)(end - q));
            if (!query)
                return -ENOMEM;
            *ret_path = "/";
            *ret_query = query;
            return 0;
        }
    }
    if (p == end || *p != '/')
        return -EINVAL;
    const char *qmark = memchr(p, '?', (size_t)(end - p));
    const char *path_end = qmark ? qmark : end;
    size_t plen = (size_t)(path_end - p);
    /* A '#' never reaches a server: a fragment in the target is malformed. */
    if (memchr(p, '#', (size_t)(end - p)))
        return -EINVAL;
    char *path = baton__arena_alloc(arena, plen + 1);
    if (!path)
        return -ENOMEM;
    int n = baton__uri_decode(p, plen, path, 0);
    if (n < 0)
        return n;
    n = normalise(path, (size_t)n);
    if (n < 0)
        return n;
    const char *query = "";
    if (qmark) {
        query = baton__arena_strndup(arena, qmark + 1, (size_t)(end - qmark - 1));
        if (!query)
            return -ENOMEM;
    }
    *ret_path = path;
    *ret_query = query;
    return 0;
}

const char *baton__uri_query_get(struct baton__arena *arena, const char *query, const char *name)
{
    size_t nlen = strlen(name);
    const char *p = query;
    while (*p) {
        const char *amp = strchr(p, '&');
        size_t plen = amp ? (size_t)(amp - p) : strlen(p);
        const char *eq = memchr(p, '=', plen);
        size_t klen = eq ? (size_t)(eq - p) : plen;
        char key[256];
        if (klen < sizeof(key)) {
            int k = baton__uri_decode(p, klen, key, 1);
            if (k >= 0 && (size_t)k == nlen && memcmp(key, name, nlen) == 0) {
                if (!eq)
                    return "";
                size_t vlen = plen - klen - 1;
                char *value = baton__arena_alloc(arena, vlen + 1);
                if (!value || baton__uri_decode(eq + 1, vlen, value, 1) < 0)
                    return NULL;
                return value;
            }
        }
        if (!amp)
            break;
        p = amp + 1;
    }
    return NULL;
}
