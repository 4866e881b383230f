/* SPDX-License-Identifier: MIT */
/*
 * Static files, the glue: baton__static_serve() against a real tree, with the public
 * request/response API implemented here by a recording fake, so every decision (status,
 * headers, which fd, which offset and length go to sendfile) is checked without a server.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "http/static.h"

/* ---- A recording fake of the public request/response API ----------------------------------- */

#define MAX_HEADERS 16

struct baton_request {
    const char *method, *path, *query;
    const char *headers[MAX_HEADERS][2];
};

struct baton_response {
    int status;
    int nheaders;
    char headers[MAX_HEADERS][2][256];
    char body[256];
    int fd; /* owned; the file's content is read back from it */
    off_t offset;
    uint64_t length;
    int files;
};

const char *baton_request_method(const baton_request *req)
{
    return req->method;
}

const char *baton_request_path(const baton_request *req)
{
    return req->path;
}

const char *baton_request_query_string(const baton_request *req)
{
    return req->query ? req->query : "";
}

const char *baton_request_header(const baton_request *req, const char *name)
{
    for (int i = 0; i < MAX_HEADERS && req->headers[i][0]; i++) {
        if (strcasecmp(req->headers[i][0], name) == 0)
            return req->headers[i][1];
    }
    return NULL;
}

int baton_response_status(baton_response *res, int status)
{
    res->status = status;
    return 0;
}

int baton_response_header(baton_response *res, const char *name, const char *value)
{
    assert_true(res->nheaders < MAX_HEADERS);
    assert_null(strpbrk(value, "\r\n"));
    snprintf(res->headers[res->nheaders][0], 256, "%s", name);
    snprintf(res->headers[res->nheaders][1], 256, "%s", value);
    res->nheaders++;
    return 0;
}

int baton_response_text(baton_response *res, int status, const char *text)
{
    res->status = status;
    snprintf(res->body, sizeof(res->body), "%s", text);
    return baton_response_header(res, "Content-Type", "text/plain; charset=utf-8");
}

int baton_response_file(baton_response *res, int fd, off_t offset, uint64_t length)
{
    assert_true(fd >= 0);
    assert_int_equal(res->files++, 0);
    res->fd = fd;
    res->offset = offset;
    res->length = length;
    return 0;
}

/* ---- Helpers ---------------------------------------------------------------------------- */

static char top[64];
static struct baton_static *st;

static const char *hdr(const baton_response *res, const char *name)
{
    for (int i = 0; i < res->nheaders; i++) {
        if (strcasecmp(res->headers[i][0], name) == 0)
            return res->headers[i][1];
    }
    return NULL;
}

/* The bytes the response would send. */
static char *body(const baton_response *res)
{
    static char buf[4096];
    ssize_t n;

    assert_true(res->length < sizeof(buf));
    n = pread(res->fd, buf, res->length, res->offset);
    assert_int_equal(n, (ssize_t)res->length);
    buf[n] = '\0';
    return buf;
}

static void done(baton_response *res)
{
    if (res->files)
        close(res->fd);
    memset(res, 0, sizeof(*res));
}

/* Serves method+path with up to three header pairs (NULL-terminated). */
static int serve(baton_response *res, const char *method, const char *path, const char *query, ...)
{
    baton_request req = {method, path, query, {{0}}};
    va_list ap;

    va_start(ap, query);
    for (int i = 0; i < MAX_HEADERS - 1; i++) {
        const char *name = va_arg(ap, const char *);

        if (!name)
            break;
        req.headers[i][0] = name;
        req.headers[i][1] = va_arg(ap, const char *);
    }
    va_end(ap);
    memset(res, 0, sizeof(*res));
    res->status = 200;
    return baton__static_serve(st, &req, res);
}

static void put(const char *rel, const char *text)
{
    char path[256];
    FILE *f;

    snprintf(path, sizeof(path), "%s/root/%s", top, rel);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int setup(void **state)
{
    char path[256], err[256];

    strcpy(top, "/tmp/baton-serve-XXXXXX");
    assert_non_null(mkdtemp(top));
    snprintf(path, sizeof(path), "%s/root", top);
    assert_int_equal(mkdir(path, 0755), 0);
    snprintf(path, sizeof(path), "%s/root/docs", top);
    assert_int_equal(mkdir(path, 0755), 0);
    snprintf(path, sizeof(path), "%s/root/caf\xc3\xa9 d", top);
    assert_int_equal(mkdir(path, 0755), 0);
    put("index.html", "<h1>home</h1>");
    put("docs/index.html", "<h1>docs</h1>");
    put("hello.txt", "hello world");
    put("app.3f9a1c.js", "plain-js");
    put("app.3f9a1c.js.br", "br-js");
    put("app.3f9a1c.js.gz", "gz-js");
    put("logo.png", "png");
    put("logo.png.br", "should-not-be-used");
    put(".env", "secret");
    snprintf(path, sizeof(path), "%s/root/out", top);
    assert_int_equal(symlink("/etc/passwd", path), 0);
    snprintf(path, sizeof(path), "%s/root", top);
    assert_int_equal(baton__static_open(path, &st, err, sizeof(err)), 0);
    return 0;
}

static int teardown(void **state)
{
    char cmd[128];

    baton__static_close(st);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", top);
    assert_int_equal(system(cmd), 0);
    return 0;
}

/* ---- Tests ------------------------------------------------------------------------------ */

static void test_open_errors(void **state)
{
    struct baton_static *s = NULL;
    char err[256];

    assert_int_equal(baton__static_open("/nonexistent/dir", &s, err, sizeof(err)), -ENOENT);
    assert_non_null(strstr(err, "/nonexistent/dir"));
    assert_int_equal(baton__static_open("/etc/passwd", &s, err, sizeof(err)), -ENOTDIR);
    assert_non_null(strstr(err, "/etc/passwd"));
    assert_null(s);
    baton__static_close(NULL);
}

static void test_plain_file(void **state)
{
    baton_response res;

    assert_int_equal(serve(&res, "GET", "/hello.txt", NULL, NULL), 1);
    assert_int_equal(res.status, 200);
    assert_int_equal(res.files, 1);
    assert_true(fcntl(res.fd, F_GETFD) & FD_CLOEXEC);
    assert_string_equal(body(&res), "hello world");
    assert_string_equal(hdr(&res, "Content-Type"), "text/plain; charset=utf-8");
    assert_string_equal(hdr(&res, "Cache-Control"), "no-cache");
    assert_string_equal(hdr(&res, "Accept-Ranges"), "bytes");
    assert_string_equal(hdr(&res, "Vary"), "Accept-Encoding");
    assert_non_null(hdr(&res, "ETag"));
    assert_non_null(strstr(hdr(&res, "Last-Modified"), " GMT"));
    assert_null(hdr(&res, "Content-Encoding"));
    done(&res);
    /* HEAD fills in the same response; the core leaves the body out. */
    assert_int_equal(serve(&res, "HEAD", "/hello.txt", NULL, "Range", "bytes=0-1", NULL), 1);
    assert_int_equal(res.status, 200);
    assert_int_equal(res.length, 11);
    done(&res);
    /* Not an image's job to vary. */
    assert_int_equal(serve(&res, "GET", "/logo.png", NULL, "Accept-Encoding", "br", NULL), 1);
    assert_string_equal(body(&res), "png");
    assert_null(hdr(&res, "Vary"));
    assert_null(hdr(&res, "Content-Encoding"));
    done(&res);
}

static void test_not_found(void **state)
{
    static const char *const paths[] = {
        "/missing",           "/.env",       "/../hello.txt",
        "/docs/../hello.txt", "/out",        "hello.txt",
        "/hello.txt/",        "/docs/nope/", "",
    };
    baton_response res;

    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        if (serve(&res, "GET", paths[i], NULL, NULL) != 0)
            fail_msg("%s served", paths[i]);
        assert_int_equal(res.nheaders, 0);
        assert_int_equal(res.files, 0);
    }
    assert_int_equal(serve(&res, "POST", "/hello.txt", NULL, NULL), 0);
}

static void test_directories(void **state)
{
    baton_response res;

    assert_int_equal(serve(&res, "GET", "/", NULL, NULL), 1);
    assert_string_equal(body(&res), "<h1>home</h1>");
    assert_string_equal(hdr(&res, "Content-Type"), "text/html; charset=utf-8");
    done(&res);
    assert_int_equal(serve(&res, "GET", "/docs/", NULL, NULL), 1);
    assert_string_equal(body(&res), "<h1>docs</h1>");
    done(&res);
    assert_int_equal(serve(&res, "GET", "/docs", "a=1&b=%20", NULL), 1);
    assert_int_equal(res.status, 301);
    assert_string_equal(hdr(&res, "Location"), "/docs/?a=1&b=%20");
    assert_int_equal(res.files, 0);
    done(&res);
    /* The Location is built from the checked path: encoded, and never "//host". */
    assert_int_equal(serve(&res, "GET", "//caf\xc3\xa9 d", NULL, NULL), 1);
    assert_int_equal(res.status, 301);
    assert_string_equal(hdr(&res, "Location"), "/caf%C3%A9%20d/");
    done(&res);
}

static void test_conditionals(void **state)
{
    char etag[128], lm[64];
    baton_response res;

    assert_int_equal(serve(&res, "GET", "/hello.txt", NULL, NULL), 1);
    snprintf(etag, sizeof(etag), "%s", hdr(&res, "ETag"));
    snprintf(lm, sizeof(lm), "%s", hdr(&res, "Last-Modified"));
    done(&res);
    assert_int_equal(serve(&res, "GET", "/hello.txt", NULL, "If-None-Match", etag, NULL), 1);
    assert_int_equal(res.status, 304);
    assert_int_equal(res.files, 0);
    assert_string_equal(hdr(&res, "ETag"), etag);
    assert_null(hdr(&res, "Content-Type"));
    done(&res);
    assert_int_equal(serve(&res, "GET", "/hello.txt", NULL, "If-Modified-Since", lm, NULL), 1);
    assert_int_equal(res.status, 304);
    done(&res);
    assert_int_equal(serve(&res, "GET", "/hello.txt", NULL, "If-Match", "\"x\"", NULL), 1);
    assert_int_equal(res.status, 412);
    assert_int_equal(res.files, 0);
    done(&res);
}

static void test_ranges(void **state)
{
    char etag[128];
    baton_response res;

    assert_int_equal(serve(&res, "GET", "/hello.txt", NULL, "Range", "bytes=6-", NULL), 1);
    assert_int_equal(res.status, 206);
    assert_string_equal(body(&res), "world");
    assert_string_equal(hdr(&res, "Content-Range"), "bytes 6-10/11");
    snprintf(etag, sizeof(etag), "%s", hdr(&res, "ETag"));
    done(&res);
    assert_int_equal(serve(&res, "GET", "/hello.txt", NULL, "Range", "bytes=11-", NULL), 1);
    assert_int_equal(res.status, 416);
    assert_string_equal(hdr(&res, "Content-Range"), "bytes */11");
    assert_int_equal(res.files, 0);
    done(&res);
    assert_int_equal(serve(&res, "GET", "/hello.txt", NULL, "Range", "bytes=0-0,2-2", NULL), 1);
    assert_int_equal(res.status, 200);
    assert_string_equal(body(&res), "hello world");
    done(&res);
    assert_int_equal(
        serve(&res, "GET", "/hello.txt", NULL, "Range", "bytes=-5", "If-Range", etag, NULL), 1);
    assert_int_equal(res.status, 206);
    assert_string_equal(body(&res), "world");
    done(&res);
    assert_int_equal(
        serve(&res, "GET", "/hello.txt", NULL, "Range", "bytes=-5", "If-Range", "\"o\"", NULL), 1);
    assert_int_equal(res.status, 200);
    done(&res);
}

static void test_siblings(void **state)
{
    char plain[128], br[128];
    baton_response res;

    assert_int_equal(serve(&res, "GET", "/app.3f9a1c.js", NULL, NULL), 1);
    assert_string_equal(body(&res), "plain-js");
    assert_string_equal(hdr(&res, "Cache-Control"), "public, max-age=31536000, immutable");
    snprintf(plain, sizeof(plain), "%s", hdr(&res, "ETag"));
    done(&res);
    assert_int_equal(
        serve(&res, "GET", "/app.3f9a1c.js", NULL, "Accept-Encoding", "gzip, br", NULL), 1);
    assert_string_equal(body(&res), "br-js");
    assert_string_equal(hdr(&res, "Content-Encoding"), "br");
    assert_string_equal(hdr(&res, "Content-Type"), "text/javascript; charset=utf-8");
    assert_string_equal(hdr(&res, "Cache-Control"), "public, max-age=31536000, immutable");
    snprintf(br, sizeof(br), "%s", hdr(&res, "ETag"));
    assert_string_not_equal(br, plain);
    assert_non_null(strstr(br, "-br\""));
    done(&res);
    assert_int_equal(
        serve(&res, "GET", "/app.3f9a1c.js", NULL, "Accept-Encoding", "br;q=0,gzip", NULL), 1);
    assert_string_equal(body(&res), "gz-js");
    assert_string_equal(hdr(&res, "Content-Encoding"), "gzip");
    done(&res);
    assert_int_equal(serve(&res, "GET", "/app.3f9a1c.js", NULL, "Accept-Encoding", "br",
                           "If-None-Match", br, NULL),
                     1);
    assert_int_equal(res.status, 304);
    assert_string_equal(hdr(&res, "Vary"), "Accept-Encoding");
    done(&res);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open_errors),  cmocka_unit_test(test_plain_file),
        cmocka_unit_test(test_not_found),    cmocka_unit_test(test_directories),
        cmocka_unit_test(test_conditionals), cmocka_unit_test(test_ranges),
        cmocka_unit_test(test_siblings),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
