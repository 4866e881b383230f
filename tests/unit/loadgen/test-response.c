/* SPDX-License-Identifier: MIT */
/* loadgen's response framing: every response is fed whole and then byte by byte, and must end
 * exactly where it ends. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "loadgen.h"

/* Feeds text in pieces of `step` bytes; returns the last response_feed() result and the number
 * of bytes that belonged to the response in *used. */
static int feed(struct response *r, const char *text, size_t step, size_t *used)
{
    size_t n = strlen(text);
    size_t off = 0;
    int rc = 0;
    response_init(r);
    *used = 0;
    while (off < n) {
        size_t len = n - off < step ? n - off : step;
        size_t u = 0;
        rc = response_feed(r, text + off, len, &u);
        *used += u;
        if (rc != 0)
            return rc;
        off += len;
    }
    return rc;
}

static void check_complete(const char *text, size_t body_end, int status, bool close)
{
    size_t steps[] = {1, 2, 7, 4096};
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        struct response r;
        size_t used = 0;
        assert_int_equal(feed(&r, text, steps[i], &used), 1);
        assert_int_equal(used, body_end);
        assert_int_equal(r.status, status);
        assert_int_equal(r.close, close);
    }
}

static void test_content_length(void **state)
{
    const char *t = "HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\nHello, World!";
    check_complete(t, strlen(t), 200, false);
    /* The next response's bytes are not consumed. */
    const char *two = "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nokHTTP/1.1 200 OK\r\n";
    check_complete(two, strlen(two) - strlen("HTTP/1.1 200 OK\r\n"), 200, false);
}

static void test_chunked_with_extension_and_trailer(void **state)
{
    const char *t = "HTTP/1.1 404 Not Found\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
                    "5;x=y\r\nHello\r\nA\r\n, World!!!\r\n0\r\nX-T: 1\r\n\r\n";
    check_complete(t, strlen(t), 404, false);
}

static void test_connection_close_and_http10(void **state)
{
    const char *t = "HTTP/1.1 200 OK\r\nConnection: keep-alive, close\r\nContent-Length: 0\r\n\r\n";
    check_complete(t, strlen(t), 200, true);
    const char *old = "HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nx";
    check_complete(old, strlen(old), 200, true);
    const char *kept = "HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 1\r\n\r\nx";
    check_complete(kept, strlen(kept), 200, false);
}

static void test_no_body_statuses_and_interim(void **state)
{
    const char *t = "HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n";
    check_complete(t, strlen(t), 204, false);
    const char *cont =
        "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 1\r\n\r\n!";
    check_complete(cont, strlen(cont), 201, false);
}

static void test_body_until_eof(void **state)
{
    struct response r;
    size_t used = 0;
    assert_int_equal(feed(&r, "HTTP/1.1 200 OK\r\n\r\nsome body", 3, &used), 0);
    assert_true(r.close);
    assert_int_equal(response_eof(&r), 1);
    /* A connection closed mid-headers or mid-body does not complete a response. */
    assert_int_equal(feed(&r, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab", 4, &used), 0);
    assert_int_equal(response_eof(&r), 0);
    assert_int_equal(feed(&r, "HTTP/1.1 200 OK\r\nContent-Le", 4, &used), 0);
    assert_int_equal(response_eof(&r), 0);
}

static void test_malformed(void **state)
{
    const char *bad[] = {
        "HTTP/2 200 OK\r\n\r\n",
        "HTTP/1.1 20 OK\r\n\r\n",
        "HTTP/1.1 200OK\r\n\r\n",
        "garbage\r\n\r\n",
        "HTTP/1.1 200 OK\r\nno colon\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nabc\r\n",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct response r;
        size_t used = 0;
        assert_int_equal(feed(&r, bad[i], 4096, &used), -EBADMSG);
        assert_int_equal(feed(&r, bad[i], 1, &used), -EBADMSG);
    }
}

static void test_header_limit(void **state)
{
    static char big[80 * 1024];
    strcpy(big, "HTTP/1.1 200 OK\r\nX-Big: ");
    size_t n = strlen(big);
    memset(big + n, 'a', sizeof(big) - n - 1);
    struct response r;
    size_t used = 0;
    assert_int_equal(feed(&r, big, 4096, &used), -EBADMSG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_content_length),
        cmocka_unit_test(test_chunked_with_extension_and_trailer),
        cmocka_unit_test(test_connection_close_and_http10),
        cmocka_unit_test(test_no_body_statuses_and_interim),
        cmocka_unit_test(test_body_until_eof),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_header_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
