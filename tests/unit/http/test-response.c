/* Response serialisation, without sockets: responses are built into the server's output
 * buffer exactly as the connection code would write them. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "http/internal.h"

struct fixture {
    struct baton__server *s;
    struct baton__conn *c;
};

static int setup(void **state)
{
    static struct fixture f;
    struct baton__server_config cfg = BATON__SERVER_CONFIG_DEFAULT;
    assert_int_equal(baton__server_new(uv_default_loop(), &cfg, NULL, &f.s), 0);
    f.c = calloc(1, sizeof(*f.c));
    f.c->server = f.s;
    f.c->state = CONN_READING;
    f.c->dispatching = true; /* nothing is flushed to a socket */
    f.c->req.keep_alive = true;
    f.c->req.http_minor = 1;
    f.c->req.method = "GET";
    f.c->res.file_fd = -1;
    baton__response_reset(&f.c->res, f.c);
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    baton__buf_free(&f->c->wq);
    free(f->c);
    baton__server_close(f->s);
    uv_run(uv_default_loop(), UV_RUN_DEFAULT);
    baton__server_free(f->s);
    return 0;
}

/* The output with the Date line blanked out. */
static const char *output(struct fixture *f)
{
    static char buf[4096];
    snprintf(buf, sizeof(buf), "%.*s", (int)f->s->out.len, f->s->out.data ? f->s->out.data : "");
    char *d = strstr(buf, "Date: ");
    if (d) {
        char *e = strstr(d, "\r\n");
        memmove(d + 6, e, strlen(e) + 1);
    }
    return buf;
}

static void text_response(void **state)
{
    struct fixture *f = *state;
    baton_response *res = &f->c->res;
    assert_int_equal(baton_response_text(res, 200, "Hello, World!"), 0);
    baton__response_write_all(res);
    assert_string_equal(output(f), "HTTP/1.1 200 OK\r\nServer: baton\r\nDate: \r\n"
                                   "Content-Type: text/plain; charset=utf-8\r\n"
                                   "Content-Length: 13\r\n\r\nHello, World!");
    assert_false(f->c->close_after);
    assert_int_equal(baton_response_body_size(res), 13);
}

static void status_headers_printf(void **state)
{
    struct fixture *f = *state;
    baton_response *res = &f->c->res;
    assert_int_equal(baton_response_status(res, 418), 0);
    assert_int_equal(baton_response_header(res, "X-A", "1"), 0);
    assert_int_equal(baton_response_printf(res, "%s-%d", "x", 42), 0);
    assert_int_equal(baton_response_printf(res, "!"), 0);
    baton__response_write_all(res);
    assert_string_equal(output(f), "HTTP/1.1 418 Unknown\r\nServer: baton\r\nDate: \r\nX-A: 1\r\n"
                                   "Content-Length: 5\r\n\r\nx-42!");
}

static void refused_headers(void **state)
{
    struct fixture *f = *state;
    baton_response *res = &f->c->res;
    assert_int_equal(baton_response_header(res, "X-Bad", "a\r\nInjected: 1"), -EINVAL);
    assert_int_equal(baton_response_header(res, "X Bad", "a"), -EINVAL);
    assert_int_equal(baton_response_header(res, "", "a"), -EINVAL);
    assert_int_equal(baton_response_header(res, "Content-Length", "5"), -EINVAL);
    assert_int_equal(baton_response_header(res, "transfer-encoding", "chunked"), -EINVAL);
    assert_int_equal(baton_response_header(res, "Connection", "close"), -EINVAL);
    assert_int_equal(baton_response_status(res, 99), -EINVAL);
    assert_int_equal(baton_response_status(res, 600), -EINVAL);
    assert_false(res->touched);
}

static void close_and_http10(void **state)
{
    struct fixture *f = *state;
    f->c->req.keep_alive = false;
    baton_response_text(&f->c->res, 200, "x");
    baton__response_write_all(&f->c->res);
    assert_non_null(strstr(output(f), "Connection: close\r\n"));
    assert_true(f->c->close_after);

    baton__buf_reset(&f->s->out);
    f->c->close_after = false;
    f->c->req.keep_alive = true;
    f->c->req.http_minor = 0;
    baton__response_reset(&f->c->res, f->c);
    baton_response_text(&f->c->res, 200, "x");
    baton__response_write_all(&f->c->res);
    assert_non_null(strstr(output(f), "Connection: keep-alive\r\n"));
    assert_false(f->c->close_after);
}

static void draining_closes_after_the_last_buffered_request(void **state)
{
    struct fixture *f = *state;
    f->s->draining = true;
    f->c->more_input = true; /* a pipelined request follows: answer it first */
    baton_response_text(&f->c->res, 200, "x");
    baton__response_write_all(&f->c->res);
    assert_null(strstr(output(f), "Connection: close"));
    baton__buf_reset(&f->s->out);
    f->c->more_input = false;
    baton__response_reset(&f->c->res, f->c);
    baton_response_text(&f->c->res, 200, "y");
    baton__response_write_all(&f->c->res);
    assert_non_null(strstr(output(f), "Connection: close\r\n"));
    assert_true(f->c->close_after);
    f->s->draining = false;
}

static void head_and_bodiless_statuses(void **state)
{
    struct fixture *f = *state;
    f->c->req.head = true;
    baton_response_text(&f->c->res, 200, "Hello");
    baton__response_write_all(&f->c->res);
    const char *out = output(f);
    assert_non_null(strstr(out, "Content-Length: 5\r\n\r\n"));
    assert_null(strstr(out, "Hello"));
    f->c->req.head = false;

    baton__buf_reset(&f->s->out);
    baton__response_reset(&f->c->res, f->c);
    baton_response_status(&f->c->res, 204);
    baton__response_write_all(&f->c->res);
    assert_string_equal(output(f), "HTTP/1.1 204 No Content\r\nServer: baton\r\nDate: \r\n\r\n");

    baton__buf_reset(&f->s->out);
    baton__response_reset(&f->c->res, f->c);
    baton_response_status(&f->c->res, 304);
    baton_response_body(&f->c->res, "ignored", 7);
    baton__response_write_all(&f->c->res);
    assert_string_equal(output(f), "HTTP/1.1 304 Not Modified\r\nServer: baton\r\nDate: \r\n\r\n");
}

static void json_helpers(void **state)
{
    struct fixture *f = *state;
    baton_response *res = &f->c->res;
    assert_int_equal(baton_response_status(res, 200), 0);
    assert_int_equal(baton_response_printf(res, "{\"s\":"), 0);
    assert_int_equal(baton_response_json_string(res, "a\"b\\c\n\x01"), 0);
    assert_int_equal(baton_response_printf(res, "}"), 0);
    assert_string_equal(res->body->data, "{\"s\":\"a\\\"b\\\\c\\n\\u0001\"}");
}

static void streaming(void **state)
{
    struct fixture *f = *state;
    baton_response *res = &f->c->res;
    assert_int_equal(baton_response_stream_write(res, "x", 1), -EINVAL); /* not started */
    assert_int_equal(baton_response_stream_start(res), 0);
    assert_int_equal(baton_response_header(res, "X-Late", "1"), -EALREADY);
    assert_int_equal(baton_response_stream_write(res, "hello", 5), 0);
    assert_int_equal(baton_response_stream_write(res, "", 0), 0);
    assert_int_equal(baton_response_stream_write(res, "0123456789abcdefg", 17), 0);
    assert_int_equal(baton_response_stream_end(res), 0);
    assert_string_equal(output(f), "HTTP/1.1 200 OK\r\nServer: baton\r\nDate: \r\n"
                                   "Transfer-Encoding: chunked\r\n\r\n"
                                   "5\r\nhello\r\n11\r\n0123456789abcdefg\r\n0\r\n\r\n");
    assert_int_equal(baton_response_body_size(res), 22);
}

static void errors(void **state)
{
    struct fixture *f = *state;
    baton__response_write_error(f->c, 431);
    assert_string_equal(output(f), "HTTP/1.1 431 Request Header Fields Too Large\r\n"
                                   "Server: baton\r\nDate: \r\n"
                                   "Content-Type: text/plain; charset=utf-8\r\n"
                                   "Content-Length: 32\r\nConnection: close\r\n\r\n"
                                   "Request Header Fields Too Large\n");
    assert_true(f->c->close_after);
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
        cmocka_unit_test_setup_teardown(streaming, setup, teardown),
        cmocka_unit_test_setup_teardown(errors, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
