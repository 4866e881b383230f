/* SPDX-License-Identifier: MIT */
/* baton-web's program side: options, configuration file, module loader, access log. */
#ifndef BATON_WEB_WEB_H
#define BATON_WEB_WEB_H

#include <stdbool.h>
#include <stddef.h>

#include "baton/module.h"
#include "common/buf.h"
#include "http/router.h"
#include "http/server.h"

#define BATON__WEB_MAX_LISTEN  16
#define BATON__WEB_MAX_MODULES 32

struct baton__web_module_spec {
    char *path;   /* as given, resolved against the config file's directory */
    char *config; /* the module's configuration as one-line JSON, or NULL */
};

/* How connection I/O is done (docs/http-core.md, "The io_uring backend"). */
enum baton__web_backend {
    BATON__WEB_BACKEND_UNSET,    /* neither --backend nor the file: BATON_WEB_BACKEND, or auto */
    BATON__WEB_BACKEND_AUTO,     /* io_uring when the kernel offers it, epoll otherwise */
    BATON__WEB_BACKEND_EPOLL,    /* libuv's epoll loop */
    BATON__WEB_BACKEND_IO_URING, /* io_uring, or refuse to start */
};

struct baton__web_options {
    char *listen[BATON__WEB_MAX_LISTEN];
    size_t nlisten;
    struct baton__web_module_spec modules[BATON__WEB_MAX_MODULES];
    size_t nmodules;
    char *static_root;
    char *config_file;
    bool dev;
    bool access_log;
    enum baton__web_backend backend;
    struct baton__server_config server;
};

/* "auto", "epoll" or "io_uring". Returns 0 or -EINVAL. */
int baton__web_backend_parse(const char *text, enum baton__web_backend *ret);

/* config.c: reads a baton-web YAML file into opts: the keys it sets replace their values, its
 * listen addresses and modules are added (flags parsed afterwards win). Returns 0; -EINVAL
 * with one "FILE:LINE:COL: reason" line per problem in err; -errno when the file cannot be
 * read ("FILE: reason"). */
int baton__web_config_load(const char *file, struct baton__web_options *opts,
                           struct baton_buf *err);

/* Frees the strings in opts. */
void baton__web_options_free(struct baton__web_options *opts);

/* module.c: a loaded module. */
struct baton__web_module {
    struct baton__owner owner; /* first: the router and requests pin it */
    const struct baton_module *mod;
    void *dl;
    int memfd; /* the private copy; open while loaded so its /proc path stays unique */
    char *path;
    char *name;
    char *config;
    struct baton_module_context ctx;
    bool inited;
};

/*
 * Loads `path` from a private in-memory copy, checks it and runs its init. Returns 0 with a
 * module holding one reference, or -errno with "module PATH: reason" in err.
 */
int baton__web_module_load(const char *path, const char *config, unsigned generation,
                           struct baton__web_module **ret, char *err, size_t errlen);

/* Adds the module's routes and middleware to router. Returns 0 or -errno with err set. */
int baton__web_module_register(struct baton__web_module *m, struct baton__router *router, char *err,
                               size_t errlen);

/* Drops the caller's reference (fini and unload happen when the last one goes). */
void baton__web_module_put(struct baton__web_module *m);

/* accesslog.c: the request_done hook writing JSON lines to stdout (buffered, flushed each loop
 * iteration and at exit). */
void baton__web_access_log(void *data, const baton_request *req, const baton_response *res,
                           uint64_t duration_us, int complete);
void baton__web_access_log_flush(void);

#endif
