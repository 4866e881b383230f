/* SPDX-License-Identifier: MIT */
/* A module whose init refuses to start: baton-web must exit 2 with the module's reason. */
#include <errno.h>
#include <stdio.h>

#include "baton/module.h"

static int hello(baton_request *req, baton_response *res, void *data)
{
    return baton_response_text(res, 200, "never");
}

static int init(const struct baton_module_context *ctx, void **state, char *error, size_t size)
{
    snprintf(error, size, "database unreachable at db.invalid:5432");
    return -ECONNREFUSED;
}

static const struct baton_route routes[] = {
    {"GET", "/", hello, NULL},
    {NULL, NULL, NULL, NULL},
};

BATON_MODULE_EXPORT const struct baton_module baton_module = {
    .abi = BATON_MODULE_ABI,
    .name = "failing_init",
    .version = "1.0.0",
    .routes = routes,
    .init = init,
};
