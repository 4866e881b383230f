/* SPDX-License-Identifier: MIT */
/* Response building and serialisation (response.c), through real connections: handlers build
 * responses with the public API and the bytes are read back from the client's end. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"

static struct harness H;

static int text(baton_request *req, baton_response *res, void *data)
{
    int r = baton_response_text(res, 200, "Hello, World!");
    assert_int_equal(baton_response_body_size(res), 13);
    return r;
}

static int teapot(baton_request *req, baton_response *res, void *data)
{
    assert_int_equal(baton_response_status(res, 418), 0);
    assert_int_equal(baton_response_header(res, "X-A", "1"), 0);
    assert_int_equal(baton_response_printf(res, "%s-%d", "x", 42), 0);
    assert_int_equal(baton_response_printf(res, "!"), 0);
    return 0;
}

static int refused(baton_request *req, baton_response *res, void *data)
{
    assert_int_equal(baton_response_header(res, "X-Bad", "a\r\nInjected: 1"), -EINVAL);
    assert_int_equal(baton_response_header(res, "X Bad", "a"), -EINVAL);
    assert_int_equal(baton_response_header(res, "", "a"), -EINVAL);
    assert_int_equal(baton_response_header(res, "Content-Length", "5"), -EINVAL);
    assert_int_equal(baton_response_header(res, "transfer-encoding", "chunked"), -EINVAL);
    assert_int_equal(baton_response_header(res, "Connection", "close"), -EINVAL);
    assert_int_equal(baton_response_status(res, 99), -EINVAL);
    assert_int_equal(baton_response_status(res, 600), -EINVAL);
    assert_false(res->touched);
    return baton_response_body(res, "ok", 2);
}

static int short_text(baton_request *req, baton_response *res, void *data)
{
    return baton_response_text(res, 200, baton_request_path(req) + 1);
}

static int no_content(baton_request *req, baton_response *res, void *data)
{
    return baton_response_status(res, 204);
}

static int not_modified(baton_request *req, baton_response *res, void *data)
{
    baton_response_status(res, 304);
    return baton_response_body(res, "ignored", 7);
}

static int json(baton_request *req, baton_response *res, void *data)
{
    assert_int_equal(baton_response_status(res, 200), 0);
    assert_int_equal(baton_response_printf(res, "{\"s\":"), 0);
    assert_int_equal(baton_response_json_string(res, "a\"b\\c\n\x01"), 0);
    assert_int_equal(baton_response_printf(res, "}"), 0);
    return 0;
}

static int streaming(baton_request *req, baton_response *res, void *data)
{
    assert_int_equal(baton_response_stream_write(res, "x", 1), -EINVAL); /* not started */
    assert_int_equal(baton_response_stream_start(res), 0);
    assert_int_equal(baton_response_header(res, "X-Late", "1"), -EALREADY);
    assert_int_equal(baton_response_stream_write(res, "hello", 5), 0);
    assert_int_equal(baton_response_stream_write(res, "", 0), 0);
    assert_int_equal(baton_response_stream_write(res, "0123456789abcdefg", 17), 0);
    assert_int_equal(baton_response_stream_end(res), 0);
    assert_int_equal(baton_response_body_size(res), 22);
    return 0;
}

static int setup(void **state)
{
    struct baton__server_config cfg = BATON__SERVER_CONFIG_DEFAULT;
    cfg.limits.header_bytes = 256;
    harness_init(&H, &cfg);
    harness_route(&H, "GET", "/text", text, NULL);
    harness_route(&H, "GET", "/teapot", teapot, NULL);
    harness_route(&H, "GET", "/refused", refused, NULL);
    harness_route(&H, "GET", "/204", no_content, NULL);
    harness_route(&H, "GET", "/304", not_modified, NULL);
    harness_route(&H, "GET", "/json", json, NULL);
    harness_route(&H, "GET", "/stream", streaming, NULL);
    harness_route(&H, "GET", "/*path", short_text, NULL);
    harness_start(&H);
    return 0;
}

static int teardown(void **state)
{
    harness_fini(&H);
    return 0;
}

static const char *get(const char *request)
{
    struct harness_peer *p = harness_connect(&H, 0);
    harness_send(p, request);
    harness_wait_responses(&H, p, 1);
    return harness_response(p, 0);
}

static void text_response(void **state)
{
    assert_string_equal(get("GET /text HTTP/1.1\r\nHost: x\r\n\r\n"),
                        "HTTP/1.1 200 OK\r\nServer: baton\r\nDate: \r\n"
                        "Content-Type: text/plain; charset=utf-8\r\n"
                        "Content-Length: 13\r\n\r\nHello, World!");
    assert_int_equal(baton__conn_state(H.peers[0].conn), CONN_IDLE); /* kept */
}

static void status_headers_printf(void **state)
{
    assert_string_equal(get("GET /teapot HTTP/1.1\r\nHost: x\r\n\r\n"),
                        "HTTP/1.1 418 Unknown\r\nServer: baton\r\nDate: \r\nX-A: 1\r\n"
                        "Content-Length: 5\r\n\r\nx-42!");
}

static void refused_headers(void **state)
{
    assert_string_equal(get("GET /refused HTTP/1.1\r\nHost: x\r\n\r\n"),
                        "HTTP/1.1 200 OK\r\nServer: baton\r\nDate: \r\n"
                        "Content-Length: 2\r\n\r\nok");
}

static void close_and_http10(void **state)
{
    struct harness_peer *p = harness_connect(&H, 0);
    harness_send(p, "GET /x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    harness_wait_closed(&H, p);
    assert_string_equal(harness_response(p, 0), "HTTP/1.1 200 OK\r\nServer: baton\r\nDate: \r\n"
                                                "Content-Type: text/plain; charset=utf-8\r\n"
                                                "Content-Length: 1\r\nConnection: close\r\n\r\nx");

    p = harness_connect(&H, 1);
    harness_send(p, "GET /y HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    harness_wait_responses(&H, p, 1);
    assert_non_null(strstr(harness_response(p, 0), "Connection: keep-alive\r\n\r\ny"));
    harness_run_for(&H, 20);
    assert_non_null(p->conn);
    assert_int_equal(baton__conn_state(p->conn), CONN_IDLE);

    p = harness_connect(&H, 2);
    harness_send(p, "GET /z HTTP/1.0\r\n\r\n");
    harness_wait_closed(&H, p);
    assert_non_null(strstr(harness_response(p, 0), "Connection: close\r\n\r\nz"));
}

static void draining_closes_after_the_last_buffered_request(void **state)
{
    struct harness_peer *p = harness_connect(&H, 0);
    baton__server_drain(H.server);
    /* Two pipelined requests: the first is answered without the close, the last with it. */
    harness_send(p, "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n");
    harness_wait_closed(&H, p);
    assert_int_equal(harness_responses(p), 2);
    assert_null(strstr(harness_response(p, 0), "Connection: close"));
    assert_non_null(strstr(harness_response(p, 1), "Connection: close\r\n\r\nb"));
}

static void head_and_bodiless_statuses(void **state)
{
    struct harness_peer *p = harness_connect(&H, 0);
    harness_send(p, "HEAD /Hello HTTP/1.1\r\nHost: x\r\n\r\n"
                    "GET /204 HTTP/1.1\r\nHost: x\r\n\r\n"
                    "GET /304 HTTP/1.1\r\nHost: x\r\n\r\n");
    harness_wait_responses(&H, p, 3);
    const char *head = harness_response(p, 0);
    assert_non_null(strstr(head, "Content-Length: 5\r\n\r\n"));
    assert_null(strstr(head, "Hello"));
    assert_string_equal(harness_response(p, 1),
                        "HTTP/1.1 204 No Content\r\nServer: baton\r\nDate: \r\n\r\n");
    assert_string_equal(harness_response(p, 2),
                        "HTTP/1.1 304 Not Modified\r\nServer: baton\r\nDate: \r\n\r\n");
}

static void json_helpers(void **state)
{
    assert_string_equal(get("GET /json HTTP/1.1\r\nHost: x\r\n\r\n"),
                        "HTTP/1.1 200 OK\r\nServer: baton\r\nDate: \r\nContent-Length: 23\r\n\r\n"
                        "{\"s\":\"a\\\"b\\\\c\\n\\u0001\"}");
}

static void streaming_inside_dispatch(void **state)
{
    assert_string_equal(get("GET /stream HTTP/1.1\r\nHost: x\r\n\r\n"),
                        "HTTP/1.1 200 OK\r\nServer: baton\r\nDate: \r\n"
                        "Transfer-Encoding: chunked\r\n\r\n"
                        "5\r\nhello\r\n11\r\n0123456789abcdefg\r\n0\r\n\r\n");
}

static void errors(void **state)
{
    struct harness_peer *p = harness_connect(&H, 0);
    char req[512];
    snprintf(req, sizeof(req), "GET / HTTP/1.1\r\nHost: x\r\nX-Big: %0300d\r\n\r\n", 0);
    harness_send(p, req);
    harness_wait_closed(&H, p);
    assert_string_equal(harness_response(p, 0), "HTTP/1.1 431 Request Header Fields Too Large\r\n"
                                                "Server: baton\r\nDate: \r\n"
                                                "Content-Type: text/plain; charset=utf-8\r\n"
                                                "Content-Length: 32\r\nConnection: close\r\n\r\n"
                                                "Request Header Fields Too Large\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(text_response, setup, teardown),
        cmocka_unit_test_setup_teardown(status_headers_printf, setup, teardown),
        cmocka_unit_test_setup_teardown(refused_headers, setup, teardown),
        cmocka_unit_test_setup_teardown(close_and_http10, setup, teardown),
        cmocka_unit_test_setup_teardown(draining_closes_after_the_last_buffered_request, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(head_and_bodiless_statuses, setup, teardown),
        cmocka_unit_test_setup_teardown(json_helpers, setup, teardown),
        cmocka_unit_test_setup_teardown(streaming_inside_dispatch, setup, teardown),
        cmocka_unit_test_setup_teardown(errors, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
