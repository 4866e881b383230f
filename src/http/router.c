/* SPDX-License-Identifier: MIT */
#include "http/router.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum seg_kind {
    SEG_LITERAL, /* most specific */
    SEG_PARAM,
    SEG_REST,
};

struct segment {
    enum seg_kind kind;
    const char *text; /* literal text or parameter name, inside the route's pattern copy */
    size_t len;
};

struct baton__route {
    char method[24];
    char *source;  /* the pattern as given */
    char *pattern; /* owned copy, cut into segments */
    struct segment *segs;
    size_t nsegs;
    baton_handler_fn handler;
    void *data;
    struct baton__owner *owner;
};

struct baton__router {
    struct baton__route *routes;
    size_t nroutes, routes_cap;
    struct baton_middleware *mws;
    struct baton__owner **mw_owners;
    size_t nmws, mws_cap;
};

void baton__owner_ref(struct baton__owner *owner)
{
    if (owner)
        owner->refs++;
}

void baton__owner_unref(struct baton__owner *owner)
{
    if (owner && --owner->refs == 0 && owner->release)
        owner->release(owner);
}

int baton__router_new(struct baton__router **ret)
{
    struct baton__router *r = calloc(1, sizeof(*r));
    if (!r)
        return -ENOMEM;
    *ret = r;
    return 0;
}

static bool valid_method(const char *m)
{
    if (strcmp(m, "*") == 0)
        return true;
    size_t n = strlen(m);
    if (n == 0 || n >= sizeof(((struct baton__route *)0)->method))
        return false;
    for (size_t i = 0; i < n; i++)
        if (m[i] < 'A' || m[i] > 'Z')
            return false;
    return true;
}

/* Cuts pattern (a writable copy) into segments. Returns 0 or a static reason. */
static const char *split_pattern(char *pattern, struct segment **ret_segs, size_t *ret_n)
{
    if (pattern[0] != '/')
        return "the pattern must start with '/'";
    size_t n = 0;
    for (const char *s = pattern; *s; s++)
        n += *s == '/';
    if (strcmp(pattern, "/") == 0)
        n = 0;
    struct segment *segs = calloc(n ? n : 1, sizeof(*segs));
    if (!segs)
        return "out of memory";
    size_t i = 0;
    char *p = pattern + 1;
    while (i < n) {
        char *end = strchr(p, '/');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        struct segment *sg = &segs[i];
        if (len && (p[0] == ':' || p[0] == '*')) {
            sg->kind = p[0] == ':' ? SEG_PARAM : SEG_REST;
            sg->text = p + 1;
            sg->len = len - 1;
            if (sg->len == 0) {
                free(segs);
                return "a parameter needs a name";
            }
            if (sg->kind == SEG_REST && i + 1 != n) {
                free(segs);
                return "'*rest' must be the last segment";
            }
        } else {
            sg->kind = SEG_LITERAL;
            sg->text = p;
            sg->len = len;
        }
        if (end)
            *end = '\0'; /* names become NUL-terminated strings */
        i++;
        p = end ? end + 1 : p + len;
    }
    *ret_segs = segs;
    *ret_n = n;
    return NULL;
}

int baton__router_add(struct baton__router *r, const struct baton_route *route,
                      struct baton__owner *owner, char *err, size_t errlen)
{
    const char *method = route->method ? route->method : "";
    const char *pattern = route->pattern ? route->pattern : "";
    if (!valid_method(method)) {
        snprintf(err, errlen, "route \"%s %s\": invalid method", method, pattern);
        return -EINVAL;
    }
    if (!route->handler) {
        snprintf(err, errlen, "route \"%s %s\": no handler", method, pattern);
        return -EINVAL;
    }
    for (size_t i = 0; i < r->nroutes; i++) {
        const struct baton__route *o = &r->routes[i];
        if (strcmp(o->method, method) == 0 && strcmp(o->source, pattern) == 0) {
            snprintf(err, errlen, "route \"%s %s\" is already defined%s%s", method, pattern,
                     o->owner && o->owner->name ? " by " : "",
                     o->owner && o->owner->name ? o->owner->name : "");
            return -EEXIST;
        }
    }
    if (r->nroutes == r->routes_cap) {
        size_t cap = r->routes_cap ? r->routes_cap * 2 : 8;
        struct baton__route *rs = realloc(r->routes, cap * sizeof(*rs));
        if (!rs)
            return -ENOMEM;
        r->routes = rs;
        r->routes_cap = cap;
    }
    struct baton__route *rt = &r->routes[r->nroutes];
    memset(rt, 0, sizeof(*rt));
    snprintf(rt->method, sizeof(rt->method), "%s", method);
    rt->pattern = strdup(pattern);
    rt->source = strdup(pattern);
    if (!rt->pattern || !rt->source) {
        free(rt->pattern);
        free(rt->source);
        return -ENOMEM;
    }
    const char *why = split_pattern(rt->pattern, &rt->segs, &rt->nsegs);
    if (why) {
        free(rt->pattern);
        free(rt->source);
        snprintf(err, errlen, "route \"%s %s\": %s", method, pattern, why);
        return strcmp(why, "out of memory") == 0 ? -ENOMEM : -EINVAL;
    }
    rt->handler = route->handler;
    rt->data = route->data;
    rt->owner = owner;
    baton__owner_ref(owner);
    r->nroutes++;
    return 0;
}

int baton__router_add_middleware(struct baton__router *r, const struct baton_middleware *mw,
                                 struct baton__owner *owner)
{
    if (!mw->name)
        return -EINVAL;
    if (r->nmws == r->mws_cap) {
        size_t cap = r->mws_cap ? r->mws_cap * 2 : 4;
        struct baton_middleware *ms = realloc(r->mws, cap * sizeof(*ms));
        if (!ms)
            return -ENOMEM;
        r->mws = ms;
        struct baton__owner **os = realloc(r->mw_owners, cap * sizeof(*os));
        if (!os)
            return -ENOMEM;
        r->mw_owners = os;
        r->mws_cap = cap;
    }
    r->mws[r->nmws] = *mw;
    r->mw_owners[r->nmws] = owner;
    baton__owner_ref(owner);
    r->nmws++;
    return 0;
}

static void add_param(struct baton__match *m, unsigned *np, const char *name, size_t start,
                      size_t len)
{
    if (*np < BATON__MAX_PARAMS) {
        m->params[*np].name = name;
        m->params[*np].start = start;
        m->params[*np].len = len;
        (*np)++;
    }
}

/* Matches a route's segments against path; fills m's params. Returns true on a match.
 * "/" has no segment, "/a/b" has "a" and "b", "/a/" has "a" and "" (trailing slashes count). */
static bool match_path(const struct baton__route *rt, const char *path, struct baton__match *m)
{
    if (path[0] != '/')
        return false;                             /* "*" (OPTIONS *) names no resource */
    const char *rest = path[1] ? path + 1 : NULL; /* NULL: no segment left */
    unsigned np = 0;
    for (size_t i = 0; i < rt->nsegs; i++) {
        const struct segment *sg = &rt->segs[i];
        if (sg->kind == SEG_REST) {
            size_t start = rest ? (size_t)(rest - path) : strlen(path);
            add_param(m, &np, sg->text, start, strlen(path) - start);
            m->nparams = np;
            return true;
        }
        if (!rest)
            return false;
        const char *end = strchr(rest, '/');
        size_t len = end ? (size_t)(end - rest) : strlen(rest);
        if (sg->kind == SEG_LITERAL) {
            if (len != sg->len || memcmp(rest, sg->text, len) != 0)
                return false;
        } else {
            if (len == 0)
                return false;
            add_param(m, &np, sg->text, (size_t)(rest - path), len);
        }
        rest = end ? end + 1 : NULL;
    }
    if (rest)
        return false; /* path segments left over */
    m->nparams = np;
    return true;
}

/* Negative when a is more specific than b, positive when less, 0 when equal. */
static int specificity(const struct baton__route *a, const struct baton__route *b)
{
    size_t n = a->nsegs < b->nsegs ? a->nsegs : b->nsegs;
    for (size_t i = 0; i < n; i++)
        if (a->segs[i].kind != b->segs[i].kind)
            return (int)a->segs[i].kind - (int)b->segs[i].kind;
    return 0;
}

static bool method_matches(const char *route_method, const char *method)
{
    if (route_method[0] == '*')
        return true;
    if (strcmp(route_method, method) == 0)
        return true;
    return strcmp(method, "HEAD") == 0 && strcmp(route_method, "GET") == 0;
}

static void allow_add(char *allow, size_t allowlen, const char *method)
{
    size_t mlen = strlen(method);
    for (const char *s = allow; *s;) {
        const char *e = strchr(s, ',');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        if (len == mlen && memcmp(s, method, mlen) == 0)
            return;
        s = e ? e + 2 : s + len;
    }
    size_t used = strlen(allow);
    snprintf(allow + used, allowlen - used, "%s%s", used ? ", " : "", method);
}

int baton__router_match(const struct baton__router *r, const char *method, const char *path,
                        struct baton__match *m, char *allow, size_t allowlen)
{
    const struct baton__route *best = NULL;
    bool path_matched = false;
    struct baton__match tmp;
    if (allowlen)
        allow[0] = '\0';
    for (size_t i = 0; r && i < r->nroutes; i++) {
        const struct baton__route *rt = &r->routes[i];
        if (best && specificity(rt, best) >= 0)
            continue; /* cannot beat what we have */
        if (!match_path(rt, path, &tmp))
            continue;
        path_matched = true;
        if (!method_matches(rt->method, method))
            continue;
        best = rt;
        *m = tmp;
    }
    if (best) {
        m->route = best;
        m->handler = best->handler;
        m->data = best->data;
        m->owner = best->owner;
        return BATON__ROUTE_FOUND;
    }
    if (!path_matched)
        return BATON__ROUTE_NOT_FOUND;
    /* Some route has this path, under other methods: list them for Allow. */
    for (size_t i = 0; i < r->nroutes; i++) {
        const struct baton__route *rt = &r->routes[i];
        if (!match_path(rt, path, &tmp))
            continue;
        allow_add(allow, allowlen, rt->method);
        if (strcmp(rt->method, "GET") == 0)
            allow_add(allow, allowlen, "HEAD");
    }
    return BATON__ROUTE_METHOD_NOT_ALLOWED;
}

const struct baton_middleware *baton__router_middleware(const struct baton__router *r,
                                                        size_t *ret_count)
{
    *ret_count = r ? r->nmws : 0;
    return r ? r->mws : NULL;
}

size_t baton__router_count(const struct baton__router *r)
{
    return r ? r->nroutes : 0;
}

void baton__router_free(struct baton__router *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->nroutes; i++) {
        free(r->routes[i].pattern);
        free(r->routes[i].source);
        free(r->routes[i].segs);
        baton__owner_unref(r->routes[i].owner);
    }
    for (size_t i = 0; i < r->nmws; i++)
        baton__owner_unref(r->mw_owners[i]);
    free(r->routes);
    free(r->mws);
    free(r->mw_owners);
    free(r);
}
