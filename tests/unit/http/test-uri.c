/* SPDX-License-Identifier: MIT */
/* Request targets: percent-decoding, dot segments, query decoding. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "http/uri.h"

static struct baton__arena arena;

static int setup(void **state)
{
    baton__arena_init(&arena, 1 << 20);
    return 0;
}

static int teardown(void **state)
{
    baton__arena_free(&arena);
    return 0;
}

static void split_ok(const char *target, const char *path, const char *query)
{
    const char *p = NULL, *q = NULL;
    int r = baton__uri_split(&arena, target, strlen(target), &p, &q);
    if (r != 0)
        fail_msg("%s: %d", target, r);
    assert_string_equal(p, path);
    assert_string_equal(q, query);
}

static void split_bad(const char *target)
{
    const char *p = NULL, *q = NULL;
    if (baton__uri_split(&arena, target, strlen(target), &p, &q) != -EINVAL)
        fail_msg("%s accepted as %s", target, p ? p : "?");
}

static void paths(void **state)
{
    split_ok("/", "/", "");
    split_ok("/a/b?x=1", "/a/b", "x=1");
    split_ok("/a%20b/c%2Fd", "/a b/c/d", "");
    split_ok("/a/./b/../c/", "/a/c/", "");
    split_ok("/a/b/..", "/a/", "");
    split_ok("/a/b/.", "/a/b/", "");
    split_ok("//a///b", "/a/b", "");
    split_ok("http://h:80", "/", "");
    split_ok("HTTP://h/x?y", "/x", "y");
    split_ok("https://h?q", "/", "q");
    split_ok("/?", "/", "");
    split_ok("/%E2%9C%93", "/\xe2\x9c\x93", "");
    (void)state;
}

static void bad_paths(void **state)
{
    split_bad("");
    split_bad("a");
    split_bad("/..");
    split_bad("/a/../..");
    split_bad("/%2e%2e/x");
    split_bad("/..%2f");
    split_bad("/%00");
    split_bad("/%4");
    split_bad("/%g0");
    split_bad("/a#frag");
}

static void decode(void **state)
{
    char out[64];
    assert_int_equal(baton__uri_decode("a+b%21", 6, out, 1), 4);
    assert_string_equal(out, "a b!");
    assert_int_equal(baton__uri_decode("a+b", 3, out, 0), 3);
    assert_string_equal(out, "a+b");
    assert_int_equal(baton__uri_decode("%", 1, out, 0), -EINVAL);
    assert_int_equal(baton__uri_decode("%0", 2, out, 0), -EINVAL);
}

static void query(void **state)
{
    const char *q = "a=1&b=x+y%26z&empty=&flag&a=2&sp%20ace=ok";
    assert_string_equal(baton__uri_query_get(&arena, q, "a"), "1");
    assert_string_equal(baton__uri_query_get(&arena, q, "b"), "x y&z");
    assert_string_equal(baton__uri_query_get(&arena, q, "empty"), "");
    assert_string_equal(baton__uri_query_get(&arena, q, "flag"), "");
    assert_string_equal(baton__uri_query_get(&arena, q, "sp ace"), "ok");
    assert_null(baton__uri_query_get(&arena, q, "missing"));
    assert_null(baton__uri_query_get(&arena, "x=%zz", "x"));
    assert_null(baton__uri_query_get(&arena, "", "x"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(paths, setup, teardown),
        cmocka_unit_test_setup_teardown(bad_paths, setup, teardown),
        cmocka_unit_test_setup_teardown(decode, setup, teardown),
        cmocka_unit_test_setup_teardown(query, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
