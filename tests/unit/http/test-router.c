/* SPDX-License-Identifier: MIT */
/* The router: parameters, rest, precedence, 404 and 405 with Allow, owners. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "http/router.h"

static int h1(baton_request *req, baton_response *res, void *data)
{
    return 0;
}

struct fixture {
    struct baton__router *r;
    struct baton__owner owner;
    int released;
};

static void on_release(struct baton__owner *o)
{
    struct fixture *f = (struct fixture *)((char *)o - offsetof(struct fixture, owner));
    f->released++;
}

static int setup(void **state)
{
    static struct fixture f;
    memset(&f, 0, sizeof(f));
    f.owner.refs = 1;
    f.owner.name = "test";
    f.owner.release = on_release;
    assert_int_equal(baton__router_new(&f.r), 0);
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    baton__router_free(f->r);
    return 0;
}

static void add(struct fixture *f, const char *method, const char *pattern, const char *tag)
{
    char err[256];
    struct baton_route rt = {method, pattern, h1, (void *)tag};
    int r = baton__router_add(f->r, &rt, &f->owner, err, sizeof(err));
    if (r < 0)
        fail_msg("adding %s %s: %s", method, pattern, err);
}

/* Matches and returns the tag of the route found (or "404"/"405:<allow>"). */
static const char *match(struct fixture *f, const char *method, const char *path,
                         struct baton__match *m)
{
    static char buf[300];
    char allow[256];
    switch (baton__router_match(f->r, method, path, m, allow, sizeof(allow))) {
    case BATON__ROUTE_FOUND:
        return m->data;
    case BATON__ROUTE_METHOD_NOT_ALLOWED:
        snprintf(buf, sizeof(buf), "405:%s", allow);
        return buf;
    default:
        return "404";
    }
}

static const char *param(const char *path, const struct baton__match *m, const char *name)
{
    static char buf[256];
    for (unsigned i = 0; i < m->nparams; i++) {
        if (strcmp(m->params[i].name, name) == 0) {
            snprintf(buf, sizeof(buf), "%.*s", (int)m->params[i].len, path + m->params[i].start);
            return buf;
        }
    }
    return NULL;
}

static void literals_params_rest(void **state)
{
    struct fixture *f = *state;
    struct baton__match m;
    add(f, "GET", "/", "root");
    add(f, "GET", "/hello/:name", "hello");
    add(f, "GET", "/users/:id/posts/:post", "post");
    add(f, "GET", "/static/*path", "static");
    assert_string_equal(match(f, "GET", "/", &m), "root");
    assert_int_equal(m.nparams, 0);
    assert_string_equal(match(f, "GET", "/hello/world", &m), "hello");
    assert_string_equal(param("/hello/world", &m, "name"), "world");
    assert_string_equal(match(f, "GET", "/users/7/posts/42", &m), "post");
    assert_string_equal(param("/users/7/posts/42", &m, "id"), "7");
    assert_string_equal(param("/users/7/posts/42", &m, "post"), "42");
    assert_string_equal(match(f, "GET", "/static/css/site.css", &m), "static");
    assert_string_equal(param("/static/css/site.css", &m, "path"), "css/site.css");
    assert_string_equal(match(f, "GET", "/static/", &m), "static");
    assert_string_equal(param("/static/", &m, "path"), "");
    assert_string_equal(match(f, "GET", "/static", &m), "static");
    /* a parameter is one non-empty segment; trailing slashes count */
    assert_string_equal(match(f, "GET", "/hello/", &m), "404");
    assert_string_equal(match(f, "GET", "/hello/a/b", &m), "404");
    assert_string_equal(match(f, "GET", "/hello", &m), "404");
    assert_string_equal(match(f, "GET", "/nope", &m), "404");
    assert_string_equal(match(f, "GET", "*", &m), "404");
}

static void precedence(void **state)
{
    struct fixture *f = *state;
    struct baton__match m;
    /* registered least specific first: the most specific still wins */
    add(f, "GET", "/files/*rest", "rest");
    add(f, "GET", "/files/:name", "param");
    add(f, "GET", "/files/index", "literal");
    add(f, "GET", "/files/:name/raw", "param-raw");
    add(f, "GET", "/:a/:b", "two-params");
    assert_string_equal(match(f, "GET", "/files/index", &m), "literal");
    assert_string_equal(match(f, "GET", "/files/other", &m), "param");
    assert_string_equal(match(f, "GET", "/files/a/b/c", &m), "rest");
    assert_string_equal(match(f, "GET", "/files/x/raw", &m), "param-raw");
    assert_string_equal(match(f, "GET", "/other/x", &m), "two-params");
    /* between equals, the first registered */
    add(f, "GET", "/:x/:y/z", "first");
    add(f, "GET", "/:p/:q/z", "second");
    assert_string_equal(match(f, "GET", "/a/b/z", &m), "first");
}

static void methods_405_and_allow(void **state)
{
    struct fixture *f = *state;
    struct baton__match m;
    add(f, "GET", "/items/:id", "get");
    add(f, "PUT", "/items/:id", "put");
    add(f, "DELETE", "/items/:id", "delete");
    add(f, "*", "/any", "any");
    assert_string_equal(match(f, "GET", "/items/1", &m), "get");
    assert_string_equal(match(f, "HEAD", "/items/1", &m), "get");
    assert_string_equal(match(f, "PUT", "/items/1", &m), "put");
    assert_string_equal(match(f, "POST", "/items/1", &m), "405:GET, HEAD, PUT, DELETE");
    assert_string_equal(match(f, "PATCH", "/any", &m), "any");
    assert_string_equal(match(f, "POST", "/items", &m), "404");
}

static void bad_routes_are_refused(void **state)
{
    struct fixture *f = *state;
    char err[256];
    struct baton_route bad[] = {
        {"GET", "no-slash", h1, NULL},   {"get", "/x", h1, NULL},    {"GET", "/a/:", h1, NULL},
        {"GET", "/a/*rest/b", h1, NULL}, {"GET", "/ok", NULL, NULL}, {"", "/x", h1, NULL},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        assert_int_equal(baton__router_add(f->r, &bad[i], &f->owner, err, sizeof(err)), -EINVAL);
        assert_non_null(strstr(err, "route"));
    }
    add(f, "GET", "/dup", "one");
    struct baton_route dup = {"GET", "/dup", h1, NULL};
    assert_int_equal(baton__router_add(f->r, &dup, &f->owner, err, sizeof(err)), -EEXIST);
    assert_non_null(strstr(err, "already defined by test"));
    assert_int_equal(baton__router_count(f->r), 1);
}

static void owners_are_pinned(void **state)
{
    struct fixture *f = *state;
    add(f, "GET", "/a", "a");
    add(f, "GET", "/b", "b");
    struct baton_middleware mw = {"mw", NULL, NULL, NULL};
    assert_int_equal(baton__router_add_middleware(f->r, &mw, &f->owner), 0);
    assert_int_equal(f->owner.refs, 4);
    /* a request pins the owner past the router's life */
    baton__owner_ref(&f->owner);
    baton__router_free(f->r);
    f->r = NULL;
    assert_int_equal(f->owner.refs, 2);
    baton__owner_unref(&f->owner);
    assert_int_equal(f->released, 0);
    baton__owner_unref(&f->owner);
    assert_int_equal(f->released, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(literals_params_rest, setup, teardown),
        cmocka_unit_test_setup_teardown(precedence, setup, teardown),
        cmocka_unit_test_setup_teardown(methods_405_and_allow, setup, teardown),
        cmocka_unit_test_setup_teardown(bad_routes_are_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(owners_are_pinned, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
