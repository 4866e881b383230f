/* SPDX-License-Identifier: MIT */
/* A module built against a future handler ABI: baton-web must refuse it. */
#include "baton/module.h"

static int hello(baton_request *req, baton_response *res, void *data)
{
    return baton_response_text(res, 200, "wrong ABI");
}

static const struct baton_route routes[] = {
    {"GET", "/", hello, NULL},
    {NULL, NULL, NULL, NULL},
};

BATON_MODULE_EXPORT const struct baton_module baton_module = {
    .abi = BATON_MODULE_ABI + 1,
    .name = "wrong_abi",
    .version = "1.0.0",
    .routes = routes,
};
