/* SPDX-License-Identifier: MIT */
/*
 * The HTTP/1.1 server core of baton-web: listeners, connections, dispatch to routes and static
 * files, timeouts, and the drain. One server runs on one libuv loop (one worker process); it
 * never logs: what a program should log comes back through the hooks.
 */
#ifndef BATON_HTTP_SERVER_H
#define BATON_HTTP_SERVER_H

#include <stdint.h>
#include <uv.h>

#include "baton/http.h"
#include "http/parser.h"
#include "http/router.h"

struct baton_static;

struct baton__server_config {
    struct baton__limits limits;
    unsigned max_connections;      /* per worker; past it, accepting pauses */
    uint32_t header_timeout_ms;    /* whole header section of a request: 408 past it */
    uint32_t body_timeout_ms;      /* between two reads of a body: 408 past it */
    uint32_t keepalive_timeout_ms; /* idle connection between requests: closed past it */
    uint32_t send_timeout_ms;      /* between two writes the client accepts: closed past it */
    uint32_t drain_grace_ms;       /* at drain, an idle connection is closed after this quiet */
    uint32_t drain_timeout_ms;     /* at drain, everything is closed after this */
    uint32_t linger_ms;            /* a closing connection reads to EOF at most this long */
    unsigned generation;           /* BATON_GENERATION, for hooks and module contexts */
};

#define BATON__SERVER_CONFIG_DEFAULT                                                               \
    {                                                                                              \
        .limits = BATON__LIMITS_DEFAULT, .max_connections = 16384, .header_timeout_ms = 10000,     \
        .body_timeout_ms = 30000, .keepalive_timeout_ms = 30000, .send_timeout_ms = 30000,         \
        .drain_grace_ms = 1000, .drain_timeout_ms = 30000, .linger_ms = 2000, .generation = 0,     \
    }

enum baton__event_level {
    BATON__EVENT_INFO,
    BATON__EVENT_WARNING,
    BATON__EVENT_ERROR,
};

/* Callbacks into the program (all optional, all on the loop thread). */
struct baton__server_hooks {
    void *data;
    /* A response has been sent completely (or its connection was lost: `complete` 0). */
    void (*request_done)(void *data, const baton_request *req, const baton_response *res,
                         uint64_t duration_us, int complete);
    /* A handler (or middleware) failed with err; the client got a 500. */
    void (*handler_error)(void *data, const baton_request *req, const char *owner, int err);
    /* Something the operator should know (accept errors, resource limits). */
    void (*event)(void *data, enum baton__event_level level, const char *message);
    /* The drain is over: no connection left, or the deadline passed (forced 1). */
    void (*drained)(void *data, int forced);
};

struct baton__server_stats {
    uint64_t connections;  /* accepted */
    uint64_t requests;     /* complete requests dispatched */
    uint64_t responses[6]; /* by class: [1] 1xx ... [5] 5xx; [0] unused */
    uint64_t bytes_out;    /* bytes written to clients */
    uint64_t errors;       /* connections lost to errors or timeouts */
    unsigned active;       /* open connections now */
};

struct baton__server;

/* Creates a server on loop (config and hooks copied). Returns 0 or -ENOMEM. */
int baton__server_new(uv_loop_t *loop, const struct baton__server_config *config,
                      const struct baton__server_hooks *hooks, struct baton__server **ret);

/* Adopts a listening socket (takes ownership; made non-blocking). Returns 0 or -errno. */
int baton__server_add_listener(struct baton__server *s, int fd);

/*
 * Moves connection I/O onto an io_uring (the io_uring backend, docs/http-core.md); call before
 * baton__server_start(). Accepting stays on the loop's epoll (exclusive wake-ups spread the
 * connections over the workers). Returns 0, or -errno when io_uring cannot be used (the server
 * stays on epoll): -ENOSYS (no io_uring), -EPERM (sysctl kernel.io_uring_disabled, a seccomp
 * profile), -EOPNOTSUPP (a kernel older than 5.19); baton__server_io_uring_why() says it for a log.
 */
int baton__server_use_io_uring(struct baton__server *s);
const char *baton__server_io_uring_why(int err);

/* "io_uring" or "epoll": how connection I/O is done. */
const char *baton__server_backend(const struct baton__server *s);

/* Starts accepting on every listener. Returns 0 or -errno. */
int baton__server_start(struct baton__server *s);

/* Replaces the router (owned by the server from now on); requests in flight keep their route's
 * owner pinned. NULL means no route. */
void baton__server_set_router(struct baton__server *s, struct baton__router *router);

/* Applies new limits and timeouts (connections pick up new limits at their next request). */
void baton__server_reconfigure(struct baton__server *s, const struct baton__server_config *config);

/* Sets the static file root consulted when no route matches a GET or HEAD (not owned). */
void baton__server_set_static(struct baton__server *s, struct baton_static *st);

/*
 * Starts the drain: closes the listeners, answers every request already received, closes idle
 * connections after drain_grace_ms of quiet and busy ones after their current response (which
 * carries Connection: close), then calls hooks.drained. Idempotent.
 */
void baton__server_drain(struct baton__server *s);

/* True once baton__server_drain() was called. */
int baton__server_draining(const struct baton__server *s);

/* Closes every handle at once (connections are cut). Call before the loop's last run. */
void baton__server_close(struct baton__server *s);

/* Frees the server after baton__server_close() and a final uv_run() (NULL is fine). */
void baton__server_free(struct baton__server *s);

/* Copies the counters. */
void baton__server_stats(const struct baton__server *s, struct baton__server_stats *ret);

/* Bytes of heap held by connections now (for reporting memory per connection). */
size_t baton__server_connection_memory(const struct baton__server *s);

#endif
