/* SPDX-License-Identifier: MIT */
/*
 * A real HTTP server core on its own libuv loop, and real connections to it over socketpairs:
 * the unit tests of conn.c, dispatch.c, server.c and response.c write request bytes into the
 * peer end, run the loop, and read the response bytes back. Nothing is poked into a connection;
 * its state is only read (baton__conn_state()).
 */
#ifndef BATON_TEST_HTTP_HARNESS_H
#define BATON_TEST_HTTP_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "http/internal.h"

#define HARNESS_MAX_PEERS 4

struct harness_peer {
    int fd;                   /* the client's end (non-blocking) */
    struct baton__conn *conn; /* the server's end; NULL once it closed */
    char got[1 << 20];        /* everything read from the server so far */
    size_t got_len;
    bool eof;   /* the server closed (read returned 0) */
    bool reset; /* the read failed (ECONNRESET and the like) */
};

struct harness {
    uv_loop_t loop;
    struct baton__server *server;
    struct baton__router *router; /* routes added before harness_start() */
    struct baton__owner owner;    /* the routes' owner (a stand-in for a module) */
    struct harness_peer peers[HARNESS_MAX_PEERS];
    /* what the hooks saw */
    unsigned requests_done, requests_incomplete, handler_errors, drained_calls;
    int drained_forced;
    int last_handler_error;
};

/* A server with cfg (NULL: defaults) on a fresh loop, hooks recording into h. */
void harness_init(struct harness *h, const struct baton__server_config *cfg);
/* Adds a route to the router harness_start() installs. */
void harness_route(struct harness *h, const char *method, const char *pattern,
                   baton_handler_fn handler, void *data);
/* Installs the router and starts the server (no listener unless one was added). */
void harness_start(struct harness *h);
/* Opens connection i over a socketpair with baton__conn_open() (served from the loop). */
struct harness_peer *harness_connect(struct harness *h, int i);
/* Connection i over a socketpair whose client already sent `bytes`, handed over with
 * baton__conn_accept() (the early read serves it before libuv knows of it). */
struct harness_peer *harness_accept(struct harness *h, int i, const char *bytes);
/* Writes bytes into the peer. */
void harness_send(struct harness_peer *p, const char *bytes);
/* Runs the loop (and reads every peer) until pred(h, arg) holds; fails the test after 5 s. */
void harness_run_until(struct harness *h, bool (*pred)(struct harness *h, const void *arg),
                       const void *arg);
/* Runs the loop until peer p holds at least n responses (status lines) or ends. */
void harness_wait_responses(struct harness *h, struct harness_peer *p, unsigned n);
/* Runs the loop until the server closed peer p (EOF or reset) and freed its connection. */
void harness_wait_closed(struct harness *h, struct harness_peer *p);
/* Runs the loop until connection p is in state st. */
void harness_wait_state(struct harness *h, struct harness_peer *p, enum baton__conn_state st);
/* Runs the loop for about ms milliseconds. */
void harness_run_for(struct harness *h, unsigned ms);
/* Number of status lines ("HTTP/1.1 NNN") in what p received. */
unsigned harness_responses(const struct harness_peer *p);
/* The n-th (from 0) response of p, Date line blanked, as a static string. */
const char *harness_response(const struct harness_peer *p, unsigned n);
/* The server's open connections. */
unsigned harness_active(struct harness *h);
/* Closes the server, runs the loop dry, frees everything. */
void harness_fini(struct harness *h);

#endif
