/* SPDX-License-Identifier: MIT */
/*
 * A module exercising the less common paths of the handler API for the integration tests:
 * streaming, handler errors recovered into 500, middleware, parameters, methods.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "baton/module.h"

static int chunks(baton_request *req, baton_response *res, void *data)
{
    int r = baton_response_header(res, "Content-Type", "text/plain");
    if (r == 0)
        r = baton_response_stream_start(res);
    for (int i = 0; r == 0 && i < 3; i++) {
        char line[32];
        int n = snprintf(line, sizeof(line), "chunk %d\n", i);
        r = baton_response_stream_write(res, line, (size_t)n);
    }
    if (r == 0)
        r = baton_response_stream_end(res);
    return r;
}

static int fail(baton_request *req, baton_response *res, void *data)
{
    baton_response_text(res, 200, "half done");
    return -EIO;
}

static int nothing(baton_request *req, baton_response *res, void *data)
{
    return 0;
}

static int params(baton_request *req, baton_response *res, void *data)
{
    const char *q = baton_request_query(req, "q");
    int r = baton_response_status(res, 200);
    if (r == 0)
        r = baton_response_printf(
            res, "id=%s rest=%s q=%s", baton_request_param(req, "id"),
            baton_request_param(req, "rest") ? baton_request_param(req, "rest") : "-", q ? q : "-");
    return r;
}

static int item(baton_request *req, baton_response *res, void *data)
{
    return baton_response_text(res, 200, data);
}

static int stamp(baton_request *req, baton_response *res, void *data)
{
    return baton_response_header(res, "X-Middleware", "before") < 0 ? -EINVAL : 0;
}

static void after(baton_request *req, baton_response *res, void *data)
{
    char v[16];
    snprintf(v, sizeof(v), "%d", baton_response_get_status(res));
    baton_response_header(res, "X-Status-Seen", v);
}

/* Configuration: any JSON; a configuration containing "reject" is refused, by init at start
 * and by the config hook at a reload. The text is served on /config. */
static char config_text[256] = "none";

static int show_config(baton_request *req, baton_response *res, void *data)
{
    return baton_response_text(res, 200, config_text);
}

static int check_config(const char *text, char *error, size_t size)
{
    if (text && strstr(text, "reject")) {
        snprintf(error, size, "this configuration says reject");
        return -EINVAL;
    }
    return 0;
}

static int init(const struct baton_module_context *ctx, void **state, char *error, size_t size)
{
    int r = check_config(ctx->config, error, size);
    if (r == 0)
        snprintf(config_text, sizeof(config_text), "%s", ctx->config ? ctx->config : "none");
    return r;
}

static int config(void *state, const char *text, char *error, size_t size)
{
    return check_config(text, error, size);
}

static const struct baton_route routes[] = {
    {"GET", "/stream", chunks, NULL},
    {"GET", "/fail", fail, NULL},
    {"GET", "/nothing", nothing, NULL},
    {"GET", "/items/:id", params, NULL},
    {"GET", "/items/new", item, "literal wins"},
    {"GET", "/files/*rest", params, NULL},
    {"PUT", "/items/:id", item, "put"},
    {"DELETE", "/items/:id", item, "deleted"},
    {"GET", "/config", show_config, NULL},
    {NULL, NULL, NULL, NULL},
};

static const struct baton_middleware middleware[] = {
    {"stamp", stamp, after, NULL},
    {NULL, NULL, NULL, NULL},
};

BATON_MODULE_EXPORT const struct baton_module baton_module = {
    .abi = BATON_MODULE_ABI,
    .name = "stream",
    .version = "1.0.0",
    .routes = routes,
    .middleware = middleware,
    .init = init,
    .config = config,
};
