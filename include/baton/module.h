/* SPDX-License-Identifier: MIT */
/*
 * Handler modules for baton-web.
 *
 * A module is a shared object that exports one symbol, `baton_module`, of type
 * `const struct baton_module`, built with BATON_MODULE_ABI of the headers it was compiled
 * against. baton-web loads it with `--module FILE` (from a private copy of the file, so a
 * rebuild never changes code that is running), checks the ABI, calls `init`, and routes
 * requests to its handlers. Each request pins the module it started on: a module swapped out
 * while requests are in flight is unloaded when its last request ends.
 *
 *     static int hello(baton_request *req, baton_response *res, void *data)
 *     {
 *         return baton_response_text(res, 200, "Hello, World!");
 *     }
 *
 *     static const struct baton_route routes[] = {
 *         {"GET", "/", hello, NULL},
 *         {NULL, NULL, NULL, NULL},
 *     };
 *
 *     BATON_MODULE_EXPORT const struct baton_module baton_module = {
 *         .abi = BATON_MODULE_ABI,
 *         .name = "hello",
 *         .version = "1.0.0",
 *         .routes = routes,
 *     };
 */
#ifndef BATON_MODULE_H
#define BATON_MODULE_H

#include <stddef.h>
#include <stdint.h>

#include "baton/http.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped whenever struct baton_module or the handler API changes incompatibly. */
#define BATON_MODULE_ABI 1

/* Marks the module's `baton_module` symbol as exported even under -fvisibility=hidden. */
#define BATON_MODULE_EXPORT __attribute__((visibility("default")))

/* Levels for ctx->log: the levels of baton-web's own log (an unknown one logs at INFO; a module
 * cannot raise an alert). */
enum baton_module_log_level {
    BATON_MODULE_LOG_DEBUG = 0,
    BATON_MODULE_LOG_INFO = 1,
    BATON_MODULE_LOG_NOTICE = 2,
    BATON_MODULE_LOG_WARNING = 3,
    BATON_MODULE_LOG_ERROR = 4,
};

/* What init receives: the worker's view of the server. */
struct baton_module_context {
    const char *module_path; /* the file given to --module */
    const char *config;      /* this module's configuration text (may be NULL) */
    unsigned generation;     /* BATON_GENERATION of this worker, 0 when not under baton */
    /* Writes a message to baton-web's log at a BATON_MODULE_LOG_* level, attributed to the
     * module. */
    void (*log)(const struct baton_module_context *ctx, int level, const char *message);
};

struct baton_module {
    uint32_t abi;        /* BATON_MODULE_ABI */
    const char *name;    /* short, unique among the loaded modules */
    const char *version; /* the module's own version, shown in logs and status */

    const struct baton_route *routes;          /* terminated by an entry with pattern NULL */
    const struct baton_middleware *middleware; /* terminated by name NULL; may be NULL */

    /* Optional. Returns 0 and may set *state (passed back to fini and visible to handlers
     * through baton_module_state()); a negative errno refuses the module, with `error`
     * (size bytes) holding the reason. */
    int (*init)(const struct baton_module_context *ctx, void **state, char *error, size_t size);
    /* Optional. Called once no request uses the module any more. */
    void (*fini)(void *state);

    /* Optional, for in-place swaps: the old module's state serialised into a buffer the new
     * module's restore_state reads. Return the size written, or a negative errno. */
    int (*save_state)(void *state, void *buffer, size_t size);
    int (*restore_state)(void *state, const void *buffer, size_t size);
    /* Optional: accept (0) or refuse (negative errno, reason in `error`) a new configuration. */
    int (*config)(void *state, const char *config_text, char *error, size_t size);
};

/* The state that init produced for the module the current request's route belongs to. */
BATON_EXTERN void *baton_module_state(const baton_request *req);

#ifdef __cplusplus
}
#endif

#endif /* BATON_MODULE_H */
