/* SPDX-License-Identifier: MIT */
/*
 * The hello example: a baton-web handler module.
 *
 *   GET  /              Hello, World!
 *   GET  /hello/:name   a greeting for name
 *   GET  /api/time      {"time": ..., "generation": ..., "pid": ...}
 *   POST /api/echo      the request body, back
 *
 * Everything else falls through to the static files of public/ (see baton.yaml).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "baton/module.h"

struct hello {
    unsigned generation;
};

static int root(baton_request *req, baton_response *res, void *data)
{
    return baton_response_text(res, 200, "Hello, World!");
}

static int greet(baton_request *req, baton_response *res, void *data)
{
    int r = baton_response_status(res, 200);
    if (r == 0)
        r = baton_response_header(res, "Content-Type", "text/plain; charset=utf-8");
    if (r == 0)
        r = baton_response_printf(res, "Hello, %s!\n", baton_request_param(req, "name"));
    return r;
}

static int api_time(baton_request *req, baton_response *res, void *data)
{
    const struct hello *h = baton_module_state(req);
    struct timeval tv;
    struct tm tm;
    char ts[64];
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    size_t n = strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(ts + n, sizeof(ts) - n, ".%03dZ", (int)(tv.tv_usec / 1000));
    int r = baton_response_status(res, 200);
    if (r == 0)
        r = baton_response_header(res, "Content-Type", "application/json");
    if (r == 0)
        r = baton_response_header(res, "Cache-Control", "no-store");
    if (r == 0)
        r = baton_response_printf(res, "{\"time\":\"%s\",\"generation\":%u,\"pid\":%ld}\n", ts,
                                  h ? h->generation : 0, (long)getpid());
    return r;
}

static int echo(baton_request *req, baton_response *res, void *data)
{
    size_t len;
    const char *body = baton_request_body(req, &len);
    const char *type = baton_request_header(req, "Content-Type");
    int r = baton_response_status(res, 200);
    if (r == 0)
        r = baton_response_header(res, "Content-Type", type ? type : "application/octet-stream");
    if (r == 0)
        r = baton_response_body(res, body, len);
    return r;
}

static int init(const struct baton_module_context *ctx, void **state, char *error, size_t size)
{
    struct hello *h = calloc(1, sizeof(*h));
    if (!h) {
        snprintf(error, size, "out of memory");
        return -ENOMEM;
    }
    h->generation = ctx->generation;
    *state = h;
    return 0;
}

static void fini(void *state)
{
    free(state);
}

static const struct baton_route routes[] = {
    {"GET", "/", root, NULL},
    {"GET", "/hello/:name", greet, NULL},
    {"GET", "/api/time", api_time, NULL},
    {"POST", "/api/echo", echo, NULL},
    {NULL, NULL, NULL, NULL},
};

BATON_MODULE_EXPORT const struct baton_module baton_module = {
    .abi = BATON_MODULE_ABI,
    .name = "hello",
    .version = BATON_VERSION,
    .routes = routes,
    .init = init,
    .fini = fini,
};
