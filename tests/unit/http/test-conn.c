/* SPDX-License-Identifier: MIT */
/* The connection (conn.c) over a real socketpair and a real loop: the raw first read, keep-alive
 * and pipelining, requests split across reads, protocol errors with close, 100-continue, a
 * response that continues asynchronously (pipelined input waits for it), the client's EOF, and
 * the state each step leaves the connection in. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "harness.h"

static struct harness H;

/* Answers with the path and the body it received. */
static int echo(baton_request *req, baton_response *res, void *data)
{
    size_t len = 0;
    const char *body = baton_request_body(req, &len);
    return baton_response_printf(res, "%s:%.*s", baton_request_path(req), (int)len, body);
}

/* Starts a chunked response and leaves it open: the test writes and ends it from outside. */
static baton_response *held;
static int stream_held(baton_request *req, baton_response *res, void *data)
{
    held = res;
    int r = baton_response_stream_start(res);
    if (r == 0)
        r = baton_response_stream_write(res, "first", 5);
    return r;
}

static int setup(void **state)
{
    harness_init(&H, NULL);
    harness_route(&H, "*", "/stream", stream_held, NULL);
    harness_route(&H, "*", "/*path", echo, NULL);
    harness_start(&H);
    held = NULL;
    return 0;
}

static int teardown(void **state)
{
    harness_fini(&H);
    return 0;
}

static void raw_accept_answers_before_the_loop_runs(void **state)
{
    struct harness_peer *p =
        harness_accept(&H, 0, "GET /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    /* accept4, read, write, close: nothing of libuv, all inside baton__conn_accept(). */
    assert_null(p->conn);
    assert_int_equal(harness_active(&H), 0);
    harness_wait_closed(&H, p);
    assert_int_equal(harness_responses(p), 1);
    assert_string_equal(harness_response(p, 0), "HTTP/1.1 200 OK\r\nServer: baton\r\nDate: \r\n"
                                                "Content-Length: 3\r\nConnection: close\r\n\r\n"
                                                "/a:");
    assert_true(p->eof);
    assert_int_equal(H.requests_done, 1);
}

static void raw_accept_keep_alive_goes_on_in_the_loop(void **state)
{
    struct harness_peer *p = harness_accept(&H, 0, "GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_non_null(p->conn); /* kept: promoted to libuv */
    assert_int_equal(baton__conn_state(p->conn), CONN_IDLE);
    harness_wait_responses(&H, p, 1);
    harness_send(p, "GET /b HTTP/1.1\r\nHost: x\r\n\r\n");
    harness_wait_responses(&H, p, 2);
    assert_non_null(strstr(harness_response(p, 1), "\r\n\r\n/b:"));
    assert_int_equal(p->conn->list, LIST_IDLE);
}

/* An idle connection holds only struct baton__conn (plus, on epoll, libuv's uv_tcp_t, 248
 * bytes): the goal is <= 1 KB of memory per idle connection on both backends (bench/idle,
 * docs/BENCHMARKS.md). 640 leaves room for uv_tcp_t and libuv's per-fd bookkeeping under 1 KB;
 * a field that only matters during a request belongs in struct baton__exchange instead. */
static void an_idle_connection_stays_small(void **state)
{
    assert_true(sizeof(struct baton__conn) <= 640);
    /* The request's objects are given back when the connection idles, and come back for the
     * next request. */
    struct harness_peer *p = harness_accept(&H, 0, "GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_non_null(p->conn);
    harness_wait_responses(&H, p, 1);
    assert_non_null(p->conn->ex);
    size_t before = baton__conn_memory(p->conn);
    assert_true(baton__conn_shrink(p->conn) >= sizeof(struct baton__exchange));
    assert_null(p->conn->ex);
    assert_true(baton__conn_memory(p->conn) <= before - sizeof(struct baton__exchange));
    assert_int_equal(p->conn->list, LIST_IDLE_SHRUNK);
    harness_send(p, "GET /b HTTP/1.1\r\nHost: x\r\n\r\n");
    harness_wait_responses(&H, p, 2);
    assert_non_null(strstr(harness_response(p, 1), "\r\n\r\n/b:"));
    assert_non_null(p->conn->ex);
    assert_int_equal(H.requests_done, 2);
}

static void keep_alive_and_pipelining_in_order(void **state)
{
    struct harness_peer *p = harness_connect(&H, 0);
    harness_send(p, "GET /1 HTTP/1.1\r\nHost: x\r\n\r\n"
                    "POST /2 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
                    "GET /3 HTTP/1.1\r\nHost: x\r\n\r\n");
    harness_wait_responses(&H, p, 3);
    assert_non_null(strstr(harness_response(p, 0), "\r\n\r\n/1:"));
    assert_non_null(strstr(harness_response(p, 1), "\r\n\r\n/2:abc"));
    assert_non_null(strstr(harness_response(p, 2), "\r\n\r\n/3:"));
    for (unsigned i = 0; i < 3; i++)
        assert_null(strstr(harness_response(p, i), "Connection:"));
    assert_non_null(p->conn);
    assert_int_equal(baton__conn_state(p->conn), CONN_IDLE);
    assert_int_equal(p->conn->list, LIST_IDLE);
    assert_int_equal(H.requests_done, 3);
}

static void request_split_across_reads(void **state)
{
    struct harness_peer *p = harness_connect(&H, 0);
    harness_send(p, "POST /split HTTP/1.1\r\nHost: x\r\nContent-Le");
    harness_wait_state(&H, p, CONN_READING);
    assert_int_equal(p->conn->list, LIST_HEAD);
    harness_send(p, "ngth: 4\r\n\r\nab");
    harness_run_for(&H, 20);
    assert_int_equal(baton__conn_state(p->conn), CONN_READING);
    assert_int_equal(p->conn->list, LIST_BODY);
    assert_int_equal(harness_responses(p), 0);
    harness_send(p, "cd");
    harness_wait_responses(&H, p, 1);
    assert_non_null(strstr(harness_response(p, 0), "\r\n\r\n/split:abcd"));
    harness_wait_state(&H, p, CONN_IDLE);
}

static void protocol_error_answers_and_closes(void **state)
{
    struct harness_peer *p = harness_connect(&H, 0);
    /* A good request, then garbage in the same read: the first is answered, then a 400 with
     * Connection: close, then the close (a lingering one: no reset). */
    harness_send(p, "GET /ok HTTP/1.1\r\nHost: x\r\n\r\nGARBAGE\x01 / HTTP/1.1\r\n\r\n");
    harness_wait_closed(&H, p);
    assert_false(p->reset);
    assert_int_equal(harness_responses(p), 2);
    assert_non_null(strstr(harness_response(p, 0), "\r\n\r\n/ok:"));
    assert_non_null(strstr(harness_response(p, 1), "HTTP/1.1 400 Bad Request\r\n"));
    assert_non_null(strstr(harness_response(p, 1), "Connection: close\r\n"));
    assert_int_equal(harness_active(&H), 0);
}

static void connection_close_request_ends_the_pipeline(void **state)
{
    struct harness_peer *p = harness_connect(&H, 0);
    harness_send(p, "GET /1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                    "GET /2 HTTP/1.1\r\nHost: x\r\n\r\n");
    harness_wait_closed(&H, p);
    assert_int_equal(harness_responses(p), 1);
    assert_non_null(strstr(harness_response(p, 0), "Connection: close\r\n\r\n/1:"));
    assert_false(p->reset);
}

static void expect_100_continue(void **state)
{
    struct harness_peer *p = harness_connect(&H, 0);
    harness_send(p, "POST /up HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                    "Content-Length: 5\r\n\r\n");
    harness_wait_responses(&H, p, 1);
    assert_string_equal(harness_response(p, 0), "HTTP/1.1 100 Continue\r\n\r\n");
    assert_int_equal(baton__conn_state(p->conn), CONN_READING);
    harness_send(p, "hello");
    harness_wait_responses(&H, p, 2);
    assert_non_null(strstr(harness_response(p, 1), "HTTP/1.1 200 OK\r\n"));
    assert_non_null(strstr(harness_response(p, 1), "\r\n\r\n/up:hello"));
    /* The next request's Expect gets its own 100 Continue. */
    harness_send(p, "POST /again HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                    "Content-Length: 1\r\n\r\n");
    harness_wait_responses(&H, p, 3);
    assert_string_equal(harness_response(p, 2), "HTTP/1.1 100 Continue\r\n\r\n");
}

static void async_response_holds_the_pipeline(void **state)
{
    struct harness_peer *p = harness_connect(&H, 0);
    harness_send(p, "GET /stream HTTP/1.1\r\nHost: x\r\n\r\n"
                    "GET /after HTTP/1.1\r\nHost: x\r\n\r\n");
    harness_wait_state(&H, p, CONN_RESPONDING);
    assert_non_null(held);
    /* Once the head is out (at once on epoll; by a completion on io_uring), no timeout while
     * the handler holds it. */
    harness_wait_responses(&H, p, 1);
    assert_int_equal(p->conn->list, LIST_BUSY);
    harness_run_for(&H, 20);
    assert_int_equal(harness_responses(p), 1); /* /after waits for the stream */
    assert_int_equal(H.requests_done, 0);

    /* The handler goes on from the loop, outside dispatch. */
    assert_int_equal(baton_response_stream_write(held, "second", 6), 0);
    assert_int_equal(baton_response_stream_end(held), 0);
    harness_wait_responses(&H, p, 2);
    assert_string_equal(harness_response(p, 0), "HTTP/1.1 200 OK\r\nServer: baton\r\nDate: \r\n"
                                                "Transfer-Encoding: chunked\r\n\r\n"
                                                "5\r\nfirst\r\n6\r\nsecond\r\n0\r\n\r\n");
    assert_non_null(strstr(harness_response(p, 1), "\r\n\r\n/after:"));
    harness_wait_state(&H, p, CONN_IDLE);
    assert_int_equal(H.requests_done, 2);
}

static void client_eof_mid_request_closes_without_answer(void **state)
{
    struct harness_peer *p = harness_connect(&H, 0);
    harness_send(p, "GET /half HTTP/1.1\r\nHo");
    harness_wait_state(&H, p, CONN_READING);
    shutdown(p->fd, SHUT_WR);
    harness_wait_closed(&H, p);
    assert_int_equal(p->got_len, 0);
    assert_int_equal(H.requests_done + H.requests_incomplete, 0);
}

static void half_closed_client_still_gets_its_answer(void **state)
{
    struct harness_peer *p = harness_connect(&H, 0);
    harness_send(p, "GET /last HTTP/1.1\r\nHost: x\r\n\r\n");
    shutdown(p->fd, SHUT_WR);
    harness_wait_closed(&H, p);
    assert_int_equal(harness_responses(p), 1);
    assert_non_null(strstr(harness_response(p, 0), "\r\n\r\n/last:"));
}

static void peer_lost_during_a_stream(void **state)
{
    struct harness_peer *p = harness_connect(&H, 0);
    harness_send(p, "GET /stream HTTP/1.1\r\nHost: x\r\n\r\n");
    harness_wait_state(&H, p, CONN_RESPONDING);
    struct baton__conn *c = p->conn;
    /* The connection is cut under the handler: it learns from its next write, and the
     * connection is freed only when it ends its stream. */
    baton__conn_close(c, false);
    harness_run_for(&H, 20);
    assert_true(baton__conn_lost(c));
    assert_int_equal(baton_response_stream_write(held, "x", 1), -EPIPE);
    assert_int_equal(harness_active(&H), 1);
    assert_int_equal(baton_response_stream_end(held), -EPIPE);
    assert_int_equal(harness_active(&H), 0);
    assert_int_equal(H.requests_done, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(raw_accept_answers_before_the_loop_runs, setup, teardown),
        cmocka_unit_test_setup_teardown(raw_accept_keep_alive_goes_on_in_the_loop, setup, teardown),
        cmocka_unit_test_setup_teardown(an_idle_connection_stays_small, setup, teardown),
        cmocka_unit_test_setup_teardown(keep_alive_and_pipelining_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(request_split_across_reads, setup, teardown),
        cmocka_unit_test_setup_teardown(protocol_error_answers_and_closes, setup, teardown),
        cmocka_unit_test_setup_teardown(connection_close_request_ends_the_pipeline, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(expect_100_continue, setup, teardown),
        cmocka_unit_test_setup_teardown(async_response_holds_the_pipeline, setup, teardown),
        cmocka_unit_test_setup_teardown(client_eof_mid_request_closes_without_answer, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(half_closed_client_still_gets_its_answer, setup, teardown),
        cmocka_unit_test_setup_teardown(peer_lost_during_a_stream, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
