/* SPDX-License-Identifier: MIT */
/* The metrics endpoint's request-head reader: what it accepts, and every refusal. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "supervisor/observe.h"

static int parse(const char *head, struct baton_endpoint_request *req)
{
    const char *why = NULL;
    int r = baton__endpoint_parse(head, strlen(head), req, &why);
    if (r != 0)
        assert_non_null(why);
    return r;
}

static void accepts_get_and_head(void **state)
{
    struct baton_endpoint_request req;
    assert_int_equal(parse("GET /metrics HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n", &req), 0);
    assert_false(req.head);
    assert_int_equal(req.path_len, 8);
    assert_memory_equal(req.path, "/metrics", 8);
    assert_int_equal(parse("HEAD /status?pretty=1 HTTP/1.0\r\n\r\n", &req), 0);
    assert_true(req.head);
    assert_int_equal(req.path_len, 7);
    assert_memory_equal(req.path, "/status", 7);
    assert_int_equal(parse("GET / HTTP/1.1\r\nX-Empty:\r\nX-Tab: a\tb\r\n\r\n", &req), 0);
    assert_int_equal(req.path_len, 1);
}

static void refuses_other_methods_with_405(void **state)
{
    struct baton_endpoint_request req;
    assert_int_equal(parse("POST /metrics HTTP/1.1\r\n\r\n", &req), 405);
    assert_int_equal(parse("get /metrics HTTP/1.1\r\n\r\n", &req), 405);
    assert_int_equal(parse("DELETE / HTTP/1.1\r\n\r\n", &req), 405);
}

static void refuses_anything_odd_with_400(void **state)
{
    static const char *const bad[] = {
        "GET /metrics\r\n\r\n",               /* no version */
        "GET  /metrics HTTP/1.1\r\n\r\n",     /* two spaces */
        "GET metrics HTTP/1.1\r\n\r\n",       /* not a path */
        "GET * HTTP/1.1\r\n\r\n",             /* asterisk form */
        "GET http://x/ HTTP/1.1\r\n\r\n",     /* absolute form */
        "GET /metrics HTTP/2.0\r\n\r\n",      /* version */
        "GET /metrics http/1.1\r\n\r\n",      /* version case */
        "GET /metrics HTTP/1.1 \r\n\r\n",     /* trailing space */
        "GET /a\x01z HTTP/1.1\r\n\r\n",       /* control character in the target */
        "GET /a\x7fz HTTP/1.1\r\n\r\n",       /* DEL in the target */
        "GET /\xc3\xa9 HTTP/1.1\r\n\r\n",     /* raw UTF-8 in the target */
        "G(T / HTTP/1.1\r\n\r\n",             /* not a token */
        " GET / HTTP/1.1\r\n\r\n",            /* leading space */
        "GET / HTTP/1.1\nHost: x\r\n\r\n",    /* bare LF */
        "GET / HTTP/1.1\r\n folded\r\n\r\n",  /* obs-fold */
        "GET / HTTP/1.1\r\nNo colon\r\n\r\n", /* no colon */
        "GET / HTTP/1.1\r\nName : v\r\n\r\n", /* space before the colon */
        "GET / HTTP/1.1\r\n: v\r\n\r\n",      /* empty name */
        "GET / HTTP/1.1\r\nX: a\rb\r\n\r\n",  /* bare CR in a value */
        "GET / HTTP/1.1\r\nX: a\x01\r\n\r\n", /* control character in a value */
        "GET / HTTP/1.1\r\n",                 /* incomplete */
        "",
    };
    struct baton_endpoint_request req;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (parse(bad[i], &req) != 400)
            fail_msg("accepted (or not 400): %s", bad[i]);
    }
}

static void bounds_the_target(void **state)
{
    char head[2 * BATON_ENDPOINT_TARGET_MAX];
    struct baton_endpoint_request req;
    size_t n = BATON_ENDPOINT_TARGET_MAX;
    memcpy(head, "GET ", 4);
    memset(head + 4, 'a', n);
    head[4] = '/';
    strcpy(head + 4 + n, " HTTP/1.1\r\n\r\n");
    assert_int_equal(parse(head, &req), 0);
    memset(head + 4, 'a', n + 1);
    head[4] = '/';
    strcpy(head + 4 + n + 1, " HTTP/1.1\r\n\r\n");
    assert_int_equal(parse(head, &req), 400);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(accepts_get_and_head),
        cmocka_unit_test(refuses_other_methods_with_405),
        cmocka_unit_test(refuses_anything_odd_with_400),
        cmocka_unit_test(bounds_the_target),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
