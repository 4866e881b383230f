/* SPDX-License-Identifier: MIT */
/* The server (server.c) around real connections: accepting from a listener, the timeout sweep
 * (408 for a slow head or body, the quiet keep-alive close, idle buffers given back), and the
 * drain of idle, busy and never-used connections, with and without its deadline. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

static struct harness H;

static int hello(baton_request *req, baton_response *res, void *data)
{
    return baton_response_printf(res, "hello %s", baton_request_path(req));
}

static baton_response *held;
static int stream_held(baton_request *req, baton_response *res, void *data)
{
    held = res;
    return baton_response_stream_start(res);
}

static void start(const struct baton__server_config *cfg)
{
    harness_init(&H, cfg);
    harness_route(&H, "GET", "/stream", stream_held, NULL);
    harness_route(&H, "GET", "/*path", hello, NULL);
    held = NULL;
}

static int teardown(void **state)
{
    harness_fini(&H);
    return 0;
}

static void accepts_from_a_listener(void **state)
{
    start(NULL);
    int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof(a);
    assert_int_equal(bind(l, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(l, 16), 0);
    assert_int_equal(getsockname(l, (struct sockaddr *)&a, &alen), 0);
    assert_int_equal(baton__server_add_listener(H.server, l), 0);
    harness_start(&H);

    struct harness_peer *p = &H.peers[0];
    p->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_int_equal(connect(p->fd, (struct sockaddr *)&a, sizeof(a)), 0);
    harness_send(p, "GET /tcp HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert_int_equal(fcntl(p->fd, F_SETFL, O_NONBLOCK), 0);
    harness_wait_closed(&H, p);
    assert_int_equal(harness_responses(p), 1);
    assert_non_null(strstr(harness_response(p, 0), "Connection: close\r\n\r\nhello /tcp"));
    struct baton__server_stats st;
    baton__server_stats(H.server, &st);
    assert_int_equal(st.connections, 1);
    assert_int_equal(st.requests, 1);
    assert_int_equal(st.responses[2], 1);
    assert_int_equal(st.active, 0);
}

/* A loopback TCP listener added to the server (before harness_start()); its address in *a. */
static int add_tcp_listener(struct sockaddr_in *a)
{
    int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    *a = (struct sockaddr_in){.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof(*a);
    assert_int_equal(bind(l, (struct sockaddr *)a, sizeof(*a)), 0);
    assert_int_equal(listen(l, 16), 0);
    assert_int_equal(getsockname(l, (struct sockaddr *)a, &alen), 0);
    assert_int_equal(baton__server_add_listener(H.server, l), 0);
    return l;
}

static int tcp_client(const struct sockaddr_in *a)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_int_equal(connect(fd, (const struct sockaddr *)a, sizeof(*a)), 0);
    return fd;
}

/* The server's one open connection (read, not touched). */
static struct baton__conn *only_conn(void)
{
    struct baton__conn *found = NULL;
    for (int list = 0; list < LIST_COUNT; list++)
        for (struct baton__conn *c = H.server->lists[list].next; c; c = c->link.next) {
            assert_null(found);
            found = c;
        }
    assert_non_null(found);
    return found;
}

static int nodelay_of(int fd)
{
    int v = -1;
    socklen_t len = sizeof(v);
    assert_int_equal(getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &v, &len), 0);
    return v;
}

/* Each readiness event of a listener accepts at most 4 connections: six waiting ones take two
 * loop turns, so workers sharing the listener share a burst too. */
static void accepts_a_bounded_batch_per_event(void **state)
{
    start(NULL);
    struct sockaddr_in a;
    add_tcp_listener(&a);
    harness_start(&H);
    int fds[6];
    for (int i = 0; i < 6; i++)
        fds[i] = tcp_client(&a);
    uv_run(&H.loop, UV_RUN_NOWAIT);
    assert_int_equal(harness_active(&H), 4);
    uv_run(&H.loop, UV_RUN_NOWAIT);
    assert_int_equal(harness_active(&H), 6);
    uv_run(&H.loop, UV_RUN_NOWAIT);
    assert_int_equal(harness_active(&H), 6);
    for (int i = 0; i < 6; i++)
        close(fds[i]);
}

/* TCP_NODELAY only on a connection that writes more than once: its first response leaves
 * without it (a Connection: close exchange never pays the system call), the second sets it. */
static void nodelay_from_the_second_write(void **state)
{
    start(NULL);
    struct sockaddr_in a;
    add_tcp_listener(&a);
    harness_start(&H);
    struct harness_peer *p = &H.peers[0];
    p->fd = tcp_client(&a);
    assert_int_equal(fcntl(p->fd, F_SETFL, O_NONBLOCK), 0);
    harness_send(p, "GET /1 HTTP/1.1\r\nHost: x\r\n\r\n");
    harness_wait_responses(&H, p, 1);
    struct baton__conn *c = only_conn();
    assert_int_equal(nodelay_of(c->fd), 0);
    harness_send(p, "GET /2 HTTP/1.1\r\nHost: x\r\n\r\n");
    harness_wait_responses(&H, p, 2);
    assert_ptr_equal(only_conn(), c);
    assert_int_not_equal(nodelay_of(c->fd), 0);
    assert_non_null(strstr(harness_response(p, 1), "hello /2"));
}

static void slow_head_and_slow_body_get_408(void **state)
{
    struct baton__server_config cfg = BATON__SERVER_CONFIG_DEFAULT;
    cfg.header_timeout_ms = 300;
    cfg.body_timeout_ms = 300;
    start(&cfg);
    harness_start(&H);
    struct harness_peer *head = harness_connect(&H, 0);
    struct harness_peer *body = harness_connect(&H, 1);
    harness_send(head, "GET /slow HTTP/1.1\r\nHo");
    harness_send(body, "POST /slow HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc");
    harness_wait_state(&H, body, CONN_READING);
    assert_int_equal(body->conn->list, LIST_BODY);
    harness_wait_closed(&H, head);
    harness_wait_closed(&H, body);
    for (int i = 0; i < 2; i++) {
        struct harness_peer *p = &H.peers[i];
        assert_false(p->reset); /* a lingering close: the 408 is not destroyed by a RST */
        assert_int_equal(harness_responses(p), 1);
        assert_non_null(strstr(harness_response(p, 0), "HTTP/1.1 408 Request Timeout\r\n"));
        assert_non_null(strstr(harness_response(p, 0), "Connection: close\r\n"));
    }
    struct baton__server_stats st;
    baton__server_stats(H.server, &st);
    assert_int_equal(st.errors, 2);
    assert_int_equal(st.responses[4], 2);
}

static void keep_alive_timeout_closes_quietly(void **state)
{
    struct baton__server_config cfg = BATON__SERVER_CONFIG_DEFAULT;
    cfg.keepalive_timeout_ms = 150;
    cfg.header_timeout_ms = 150;
    start(&cfg);
    harness_start(&H);
    struct harness_peer *used = harness_connect(&H, 0);
    struct harness_peer *unused = harness_connect(&H, 1);
    harness_send(used, "GET /1 HTTP/1.1\r\nHost: x\r\n\r\n");
    harness_wait_responses(&H, used, 1);
    harness_wait_closed(&H, used);
    harness_wait_closed(&H, unused);
    assert_int_equal(harness_responses(used), 1); /* nothing after the answer */
    assert_int_equal(unused->got_len, 0);         /* no 408 for a request never started */
    assert_false(used->reset);
    assert_false(unused->reset);
}

static void idle_connections_give_their_buffers_back(void **state)
{
    start(NULL);
    harness_start(&H);
    struct harness_peer *p = harness_connect(&H, 0);
    harness_send(p, "GET /1 HTTP/1.1\r\nHost: x\r\nX-Pad: 0123456789012345678901234567\r\n\r\n");
    harness_wait_responses(&H, p, 1);
    assert_int_equal(p->conn->list, LIST_IDLE);
    size_t before = baton__server_connection_memory(H.server);
    harness_run_for(&H, BATON__SHRINK_AFTER_MS + 250);
    assert_int_equal(p->conn->list, LIST_IDLE_SHRUNK);
    assert_true(baton__server_connection_memory(H.server) < before);
    assert_int_equal(baton__conn_state(p->conn), CONN_IDLE);
    harness_send(p, "GET /2 HTTP/1.1\r\nHost: x\r\n\r\n");
    harness_wait_responses(&H, p, 2);
    assert_non_null(strstr(harness_response(p, 1), "hello /2"));
}

static void drain_idle_busy_and_fresh_connections(void **state)
{
    struct baton__server_config cfg = BATON__SERVER_CONFIG_DEFAULT;
    cfg.drain_grace_ms = 100;
    start(&cfg);
    harness_start(&H);
    struct harness_peer *idle = harness_connect(&H, 0);
    struct harness_peer *busy = harness_connect(&H, 1);
    struct harness_peer *fresh = harness_connect(&H, 2);
    harness_send(idle, "GET /1 HTTP/1.1\r\nHost: x\r\n\r\n");
    harness_send(busy, "GET /stream HTTP/1.1\r\nHost: x\r\n\r\n");
    harness_wait_responses(&H, idle, 1);
    harness_wait_state(&H, busy, CONN_RESPONDING);

    baton__server_drain(H.server);
    assert_true(baton__server_draining(H.server));
    assert_int_equal(idle->conn->list, LIST_GRACE);
    assert_int_equal(fresh->conn->list, LIST_HEAD); /* its client will send: answered first */

    /* The idle one closes after the quiet grace period, cleanly and without a word. */
    harness_wait_closed(&H, idle);
    assert_false(idle->reset);
    assert_int_equal(harness_responses(idle), 1);
    assert_null(strstr(idle->got, "Connection: close"));

    /* The fresh one is answered, with the close. */
    assert_non_null(fresh->conn);
    harness_send(fresh, "GET /late HTTP/1.1\r\nHost: x\r\n\r\n");
    harness_wait_closed(&H, fresh);
    assert_int_equal(harness_responses(fresh), 1);
    assert_non_null(strstr(harness_response(fresh, 0), "Connection: close\r\n\r\nhello /late"));

    /* The busy one finishes its response (its head went out before the drain: no close in
     * it), then answers what was pipelined behind it with the close. */
    harness_send(busy, "GET /next HTTP/1.1\r\nHost: x\r\n\r\n");
    harness_run_for(&H, 150);
    assert_non_null(busy->conn);
    assert_int_equal(H.drained_calls, 0);
    assert_int_equal(baton_response_stream_write(held, "bye", 3), 0);
    assert_int_equal(baton_response_stream_end(held), 0);
    harness_wait_closed(&H, busy);
    assert_int_equal(harness_responses(busy), 2);
    assert_null(strstr(harness_response(busy, 0), "Connection: close"));
    assert_non_null(strstr(harness_response(busy, 0), "3\r\nbye\r\n0\r\n\r\n"));
    assert_non_null(strstr(harness_response(busy, 1), "Connection: close\r\n\r\nhello /next"));

    harness_run_for(&H, 10);
    assert_int_equal(harness_active(&H), 0);
    assert_int_equal(H.drained_calls, 1);
    assert_int_equal(H.drained_forced, 0);
}

static void drain_deadline_cuts_what_is_left(void **state)
{
    struct baton__server_config cfg = BATON__SERVER_CONFIG_DEFAULT;
    cfg.drain_timeout_ms = 150;
    start(&cfg);
    harness_start(&H);
    struct harness_peer *busy = harness_connect(&H, 0);
    harness_send(busy, "GET /stream HTTP/1.1\r\nHost: x\r\n\r\n");
    harness_wait_state(&H, busy, CONN_RESPONDING);
    baton__server_drain(H.server);
    harness_wait_closed(&H, busy);
    assert_int_equal(H.drained_calls, 1);
    assert_int_equal(H.drained_forced, 1);
    /* The handler still holds the response: its writes fail, its end frees the connection. */
    assert_int_equal(harness_active(&H), 1);
    assert_int_equal(baton_response_stream_write(held, "x", 1), -EPIPE);
    assert_int_equal(baton_response_stream_end(held), -EPIPE);
    assert_int_equal(harness_active(&H), 0);
    assert_int_equal(H.drained_calls, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(accepts_from_a_listener, teardown),
        cmocka_unit_test_teardown(accepts_a_bounded_batch_per_event, teardown),
        cmocka_unit_test_teardown(nodelay_from_the_second_write, teardown),
        cmocka_unit_test_teardown(slow_head_and_slow_body_get_408, teardown),
        cmocka_unit_test_teardown(keep_alive_timeout_closes_quietly, teardown),
        cmocka_unit_test_teardown(idle_connections_give_their_buffers_back, teardown),
        cmocka_unit_test_teardown(drain_idle_busy_and_fresh_connections, teardown),
        cmocka_unit_test_teardown(drain_deadline_cuts_what_is_left, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
