/* SPDX-License-Identifier: MIT */
/*
 * Routes and middleware of the loaded modules, matched against a request's method and path.
 *
 * Patterns are segments separated by '/': literal text, ":name" (one non-empty segment) or
 * "*name" (the rest of the path, possibly empty; last only). When several routes match, the
 * most specific wins, segment by segment from the left: a literal beats a parameter, which
 * beats a rest; between equals, the route registered first. HEAD requests use GET routes.
 *
 * Every route and middleware belongs to an owner (a loaded module) that the router pins; a
 * request pins the owner of the route it runs on, so a router can be replaced (a module swap)
 * while requests of the old one are still in flight.
 */
#ifndef BATON_HTTP_ROUTER_H
#define BATON_HTTP_ROUTER_H

#include <stddef.h>

#include "baton/http.h"

/* Whatever routes belong to: a loaded module. Released when its last reference goes. */
struct baton__owner {
    unsigned refs;
    const char *name; /* for messages */
    void *state;      /* baton_module_state() */
    void (*release)(struct baton__owner *owner);
};

/* Takes / drops a reference (NULL is fine). The last unref calls owner->release. */
void baton__owner_ref(struct baton__owner *owner);
void baton__owner_unref(struct baton__owner *owner);

#define BATON__MAX_PARAMS 16

struct baton__route;

struct baton__match {
    const struct baton__route *route;
    baton_handler_fn handler;
    void *data;
    struct baton__owner *owner;
    unsigned nparams;
    struct {
        const char *name;  /* the pattern's name, without ':' or '*' */
        size_t start, len; /* the value's span in the path */
    } params[BATON__MAX_PARAMS];
};

enum baton__route_result {
    BATON__ROUTE_FOUND,
    BATON__ROUTE_NOT_FOUND,
    BATON__ROUTE_METHOD_NOT_ALLOWED,
};

struct baton__router;

/* Creates an empty router. Returns 0 or -ENOMEM. */
int baton__router_new(struct baton__router **ret);

/*
 * Adds a route owned by `owner` (referenced). Returns 0, or -EINVAL with a message naming the
 * route in err for a bad method or pattern, or -ENOMEM.
 */
int baton__router_add(struct baton__router *r, const struct baton_route *route,
                      struct baton__owner *owner, char *err, size_t errlen);

/* Adds middleware (run in the order added). Returns 0, -EINVAL without a name, or -ENOMEM. */
int baton__router_add_middleware(struct baton__router *r, const struct baton_middleware *mw,
                                 struct baton__owner *owner);

/*
 * Matches method and path. FOUND fills *m. METHOD_NOT_ALLOWED writes the allowed methods
 * ("GET, HEAD, POST") into allow (allowlen bytes). Never allocates.
 */
int baton__router_match(const struct baton__router *r, const char *method, const char *path,
                        struct baton__match *m, char *allow, size_t allowlen);

/* The middleware in order; *ret_count set. */
const struct baton_middleware *baton__router_middleware(const struct baton__router *r,
                                                        size_t *ret_count);

/* Number of routes. */
size_t baton__router_count(const struct baton__router *r);

/* Frees the router and drops its references to the owners (NULL is fine). */
void baton__router_free(struct baton__router *r);

#endif
