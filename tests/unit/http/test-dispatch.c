/* SPDX-License-Identifier: MIT */
/* From a parsed request to its response (dispatch.c), through real connections: routes and
 * parameters, 404 and 405, middleware, failed handlers recovered into 500 (and a stream cut
 * short with a close), files sent with sendfile (synchronously and asynchronously), and the
 * module swap: a request in flight finishes on the code it started on. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "baton/module.h"
#include "harness.h"

static struct harness H;

static int hello(baton_request *req, baton_response *res, void *data)
{
    const char *name = baton_request_param(req, "name");
    return baton_response_printf(res, "hello %s", name ? name : "?");
}

static int fails(baton_request *req, baton_response *res, void *data)
{
    baton_response_header(res, "X-Lost", "1"); /* replaced by the 500 */
    return -EIO;
}

static int sets_nothing(baton_request *req, baton_response *res, void *data)
{
    return 0;
}

static int stream_then_fail(baton_request *req, baton_response *res, void *data)
{
    baton_response_stream_start(res);
    baton_response_stream_write(res, "first", 5);
    return -EPROTO;
}

static void add_header_after(baton_request *req, baton_response *res, void *data)
{
    baton_response_header(res, "X-After", "yes");
}

static char file_path[64];
static size_t file_size;

static int send_file(baton_request *req, baton_response *res, void *data)
{
    int fd = open(file_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    const char *range = baton_request_query(req, "part");
    if (range)
        return baton_response_file(res, fd, 100, 1000);
    return baton_response_file(res, fd, 0, file_size);
}

static int setup(void **state)
{
    harness_init(&H, NULL);
    harness_route(&H, "GET", "/hello/:name", hello, NULL);
    harness_route(&H, "GET", "/only-get", hello, NULL);
    harness_route(&H, "GET", "/fails", fails, NULL);
    harness_route(&H, "GET", "/nothing", sets_nothing, NULL);
    harness_route(&H, "GET", "/stream-fails", stream_then_fail, NULL);
    harness_route(&H, "GET", "/file", send_file, NULL);
    struct baton_middleware mw = {.name = "after", .after = add_header_after};
    assert_int_equal(baton__router_add_middleware(H.router, &mw, &H.owner), 0);
    harness_start(&H);
    return 0;
}

static int teardown(void **state)
{
    harness_fini(&H);
    return 0;
}

static void routes_params_404_405(void **state)
{
    struct harness_peer *p = harness_connect(&H, 0);
    harness_send(p, "GET /hello/world HTTP/1.1\r\nHost: x\r\n\r\n"
                    "GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n"
                    "POST /only-get HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
    harness_wait_responses(&H, p, 3);
    assert_string_equal(harness_response(p, 0), "HTTP/1.1 200 OK\r\nServer: baton\r\nDate: \r\n"
                                                "X-After: yes\r\nContent-Length: 11\r\n\r\n"
                                                "hello world");
    assert_string_equal(harness_response(p, 1), "HTTP/1.1 404 Not Found\r\nServer: baton\r\n"
                                                "Date: \r\nContent-Type: text/plain; "
                                                "charset=utf-8\r\nContent-Length: 10\r\n\r\n"
                                                "Not Found\n");
    assert_non_null(strstr(harness_response(p, 2), "HTTP/1.1 405 Method Not Allowed\r\n"));
    assert_non_null(strstr(harness_response(p, 2), "Allow: GET, HEAD\r\n"));
    assert_int_equal(baton__conn_state(p->conn), CONN_IDLE);
    assert_int_equal(H.requests_done, 3);
}

static void failed_handlers_answer_500_and_keep_the_connection(void **state)
{
    struct harness_peer *p = harness_connect(&H, 0);
    harness_send(p, "GET /fails HTTP/1.1\r\nHost: x\r\n\r\n");
    harness_wait_responses(&H, p, 1);
    const char *r = harness_response(p, 0);
    assert_non_null(strstr(r, "HTTP/1.1 500 Internal Server Error\r\n"));
    assert_null(strstr(r, "X-Lost"));
    assert_non_null(strstr(r, "\r\n\r\nInternal Server Error\n"));
    assert_int_equal(H.handler_errors, 1);
    assert_int_equal(H.last_handler_error, -EIO);

    harness_send(p, "GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n");
    harness_wait_responses(&H, p, 2);
    assert_non_null(strstr(harness_response(p, 1), "HTTP/1.1 500 "));
    assert_int_equal(H.handler_errors, 2);
    assert_int_equal(H.last_handler_error, -ENODATA);
    assert_int_equal(baton__conn_state(p->conn), CONN_IDLE);
}

static void stream_cut_short_closes_the_connection(void **state)
{
    struct harness_peer *p = harness_connect(&H, 0);
    harness_send(p, "GET /stream-fails HTTP/1.1\r\nHost: x\r\n\r\n"
                    "GET /hello/never HTTP/1.1\r\nHost: x\r\n\r\n");
    harness_wait_closed(&H, p);
    /* The head was out: only an unfinished chunked body and the close tell the client. */
    assert_int_equal(harness_responses(p), 1);
    assert_string_equal(harness_response(p, 0), "HTTP/1.1 200 OK\r\nServer: baton\r\nDate: \r\n"
                                                "Transfer-Encoding: chunked\r\n\r\n"
                                                "5\r\nfirst\r\n");
    assert_int_equal(H.handler_errors, 1);
    assert_int_equal(H.last_handler_error, -EPROTO);
}

static void make_file(size_t size)
{
    snprintf(file_path, sizeof(file_path), "/tmp/baton-test-dispatch-XXXXXX");
    int fd = mkstemp(file_path);
    assert_true(fd >= 0);
    char *data = malloc(size);
    for (size_t i = 0; i < size; i++)
        data[i] = (char)('a' + i % 23);
    assert_int_equal(write(fd, data, size), (ssize_t)size);
    free(data);
    close(fd);
    file_size = size;
}

static void check_body(const struct harness_peer *p, size_t offset, size_t len)
{
    const char *body = strstr(p->got, "\r\n\r\n");
    assert_non_null(body);
    body += 4;
    assert_int_equal(p->got_len - (size_t)(body - p->got), len);
    for (size_t i = 0; i < len; i++)
        if (body[i] != (char)('a' + (offset + i) % 23))
            fail_msg("byte %zu differs", i);
}

static bool got_all(struct harness *h, const void *arg)
{
    const struct harness_peer *p = &h->peers[0];
    const char *body = strstr(p->got, "\r\n\r\n");
    return body && p->got_len - (size_t)(body + 4 - p->got) >= *(const size_t *)arg;
}

static void file_larger_than_the_socket_goes_out_asynchronously(void **state)
{
    make_file(600 * 1024);
    struct harness_peer *p = harness_connect(&H, 0);
    harness_send(p, "GET /file HTTP/1.1\r\nHost: x\r\n\r\n");
    /* Without the client reading, the socket fills: the file waits for writability. */
    for (int i = 0; i < 100 && baton__conn_state(p->conn) != CONN_RESPONDING; i++)
        uv_run(&H.loop, UV_RUN_NOWAIT);
    assert_int_equal(baton__conn_state(p->conn), CONN_RESPONDING);
    harness_run_until(&H, got_all, &file_size);
    assert_non_null(strstr(p->got, "Content-Length: 614400\r\n"));
    check_body(p, 0, file_size);
    harness_wait_state(&H, p, CONN_IDLE);
    assert_int_equal(H.requests_done, 1);

    /* A range of it fits at once: sent inside dispatch, the request ends synchronously. */
    p->got_len = 0;
    p->got[0] = '\0';
    harness_send(p, "GET /file?part=1 HTTP/1.1\r\nHost: x\r\n\r\n");
    size_t part = 1000;
    harness_run_until(&H, got_all, &part);
    assert_non_null(strstr(p->got, "Content-Length: 1000\r\n"));
    check_body(p, 100, 1000);

    /* HEAD: the length, no body. */
    p->got_len = 0;
    p->got[0] = '\0';
    harness_send(p, "HEAD /file HTTP/1.1\r\nHost: x\r\n\r\n");
    harness_wait_responses(&H, p, 1);
    assert_non_null(strstr(p->got, "Content-Length: 614400\r\n"));
    check_body(p, 0, 0);
    assert_int_equal(H.requests_done, 3);
    unlink(file_path);
}

/* ---- module swap --------------------------------------------------------------------------- */

struct module {
    struct baton__owner owner;
    const char *version;
    bool released;
};

static void release(struct baton__owner *owner)
{
    ((struct module *)owner)->released = true;
}

static baton_request *held_req;
static baton_response *held_res;

static int version(baton_request *req, baton_response *res, void *data)
{
    const struct module *m = baton_module_state(req);
    if (strcmp(baton_request_path(req), "/slow/x") != 0)
        return baton_response_printf(res, "%s", m->version);
    held_req = req;
    held_res = res;
    return baton_response_stream_start(res);
}

static struct baton__router *router_of(struct module *m)
{
    struct baton__router *r;
    assert_int_equal(baton__router_new(&r), 0);
    struct baton_route route = {.method = "GET", .pattern = "/:what/*rest", .handler = version};
    char err[128];
    assert_int_equal(baton__router_add(r, &route, &m->owner, err, sizeof(err)), 0);
    return r;
}

struct got_text {
    struct harness_peer *p;
    const char *text;
};

static bool got_text(struct harness *h, const void *arg)
{
    const struct got_text *g = arg;
    return memmem(g->p->got, g->p->got_len, g->text, strlen(g->text)) != NULL;
}

static void module_swap_keeps_requests_in_flight_on_their_module(void **state)
{
    static struct module a = {.owner = {.name = "a", .release = release}, .version = "A"};
    static struct module b = {.owner = {.name = "b", .release = release}, .version = "B"};
    a.owner.state = &a;
    b.owner.state = &b;
    baton__server_set_router(H.server, router_of(&a));

    struct harness_peer *p0 = harness_connect(&H, 0);
    harness_send(p0, "GET /slow/x HTTP/1.1\r\nHost: x\r\n\r\n");
    harness_wait_state(&H, p0, CONN_RESPONDING);

    /* The swap frees the old router: the request in flight still pins module a. */
    baton__server_set_router(H.server, router_of(&b));
    assert_false(a.released);
    struct harness_peer *p1 = harness_connect(&H, 1);
    harness_send(p1, "GET /v/x HTTP/1.1\r\nHost: x\r\n\r\n");
    harness_wait_responses(&H, p1, 1);
    assert_non_null(strstr(harness_response(p1, 0), "\r\n\r\nB"));

    /* The old request finishes on a's code and data; its parameters outlived the router. */
    assert_ptr_equal(baton_module_state(held_req), &a);
    assert_string_equal(baton_request_param(held_req, "what"), "slow");
    assert_string_equal(baton_request_param(held_req, "rest"), "x");
    assert_int_equal(baton_response_stream_write(held_res, "A", 1), 0);
    assert_int_equal(baton_response_stream_end(held_res), 0);
    assert_true(a.released);
    harness_wait_state(&H, p0, CONN_IDLE);
    /* The last chunk went out at once (epoll) or with the loop turn's submissions (io_uring). */
    harness_run_until(&H, got_text, &(struct got_text){p0, "\r\n\r\n1\r\nA\r\n0\r\n\r\n"});
    assert_non_null(strstr(harness_response(p0, 0), "\r\n\r\n1\r\nA\r\n0\r\n\r\n"));

    /* The same connection's next request runs on the new module. */
    harness_send(p0, "GET /v/y HTTP/1.1\r\nHost: x\r\n\r\n");
    harness_wait_responses(&H, p0, 2);
    assert_non_null(strstr(harness_response(p0, 1), "\r\n\r\nB"));
    assert_false(b.released);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(routes_params_404_405, setup, teardown),
        cmocka_unit_test_setup_teardown(failed_handlers_answer_500_and_keep_the_connection, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(stream_cut_short_closes_the_connection, setup, teardown),
        cmocka_unit_test_setup_teardown(file_larger_than_the_socket_goes_out_asynchronously, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(module_swap_keeps_requests_in_flight_on_their_module, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
