/* SPDX-License-Identifier: MIT */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

static void on_request_done(void *data, const baton_request *req, const baton_response *res,
                            uint64_t duration_us, int complete)
{
    struct harness *h = data;
    if (complete)
        h->requests_done++;
    else
        h->requests_incomplete++;
}

static void on_handler_error(void *data, const baton_request *req, const char *owner, int err)
{
    struct harness *h = data;
    h->handler_errors++;
    h->last_handler_error = err;
}

static void on_drained(void *data, int forced)
{
    struct harness *h = data;
    h->drained_calls++;
    h->drained_forced = forced;
}

void harness_init(struct harness *h, const struct baton__server_config *cfg)
{
    memset(h, 0, sizeof(*h));
    for (int i = 0; i < HARNESS_MAX_PEERS; i++)
        h->peers[i].fd = -1;
    assert_int_equal(uv_loop_init(&h->loop), 0);
    struct baton__server_config defaults = BATON__SERVER_CONFIG_DEFAULT;
    struct baton__server_hooks hooks = {
        .data = h,
        .request_done = on_request_done,
        .handler_error = on_handler_error,
        .drained = on_drained,
    };
    assert_int_equal(baton__server_new(&h->loop, cfg ? cfg : &defaults, &hooks, &h->server), 0);
    /* BATON_WEB_BACKEND=io_uring runs the same tests on the io_uring backend (ctest's *-io_uring
     * variants); it must then really be used. */
    const char *backend = getenv("BATON_WEB_BACKEND");
    if (backend && strcmp(backend, "io_uring") == 0)
        assert_int_equal(baton__server_use_io_uring(h->server), 0);
    assert_int_equal(baton__router_new(&h->router), 0);
    h->owner.name = "test";
}

void harness_route(struct harness *h, const char *method, const char *pattern,
                   baton_handler_fn handler, void *data)
{
    struct baton_route route = {
        .method = method, .pattern = pattern, .handler = handler, .data = data};
    char err[256];
    assert_int_equal(baton__router_add(h->router, &route, &h->owner, err, sizeof(err)), 0);
}

void harness_start(struct harness *h)
{
    baton__server_set_router(h->server, h->router);
    h->router = NULL;
    assert_int_equal(baton__server_start(h->server), 0);
}

static int pair(int *client)
{
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv), 0);
    *client = sv[0];
    return sv[1];
}

struct harness_peer *harness_connect(struct harness *h, int i)
{
    struct harness_peer *p = &h->peers[i];
    int fd = pair(&p->fd);
    assert_int_equal(baton__conn_open(h->server, fd, &p->conn), 0);
    assert_int_equal(baton__conn_state(p->conn), CONN_IDLE);
    return p;
}

/* Whether c is still an open connection of the server (every open one waits in a list). */
static bool alive(struct harness *h, const struct baton__conn *c)
{
    for (int list = 0; list < LIST_COUNT; list++)
        for (struct baton__conn *x = h->server->lists[list].next; x; x = x->link.next)
            if (x == c)
                return true;
    return false;
}

struct harness_peer *harness_accept(struct harness *h, int i, const char *bytes)
{
    struct harness_peer *p = &h->peers[i];
    int fd = pair(&p->fd);
    harness_send(p, bytes);
    /* The new connection is the one added last to the server's lists, if it survived. */
    assert_int_equal(baton__conn_accept(h->server, fd), 0);
    p->conn = NULL;
    for (int list = 0; list < LIST_COUNT; list++)
        for (struct baton__conn *x = h->server->lists[list].next; x; x = x->link.next)
            if (x->fd == fd)
                p->conn = x;
    return p;
}

void harness_send(struct harness_peer *p, const char *bytes)
{
    size_t len = strlen(bytes);
    assert_int_equal(send(p->fd, bytes, len, MSG_NOSIGNAL), (ssize_t)len);
}

static void read_peers(struct harness *h)
{
    for (int i = 0; i < HARNESS_MAX_PEERS; i++) {
        struct harness_peer *p = &h->peers[i];
        if (p->fd < 0)
            continue;
        if (p->conn && !alive(h, p->conn))
            p->conn = NULL;
        while (!p->eof && !p->reset) {
            size_t room = sizeof(p->got) - 1 - p->got_len;
            assert_true(room > 0);
            ssize_t n = read(p->fd, p->got + p->got_len, room);
            if (n > 0) {
                p->got_len += (size_t)n;
                p->got[p->got_len] = '\0';
            } else if (n == 0) {
                p->eof = true;
                shutdown(p->fd, SHUT_WR); /* as a client does once the server closed */
            } else if (errno == EAGAIN) {
                break;
            } else if (errno != EINTR) {
                p->reset = true;
            }
        }
    }
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* One turn: run what is ready, read the peers, then wait a little for either side. */
static void turn(struct harness *h)
{
    uv_run(&h->loop, UV_RUN_NOWAIT);
    read_peers(h);
    struct pollfd fds[HARNESS_MAX_PEERS + 1];
    nfds_t n = 0;
    fds[n++] = (struct pollfd){.fd = uv_backend_fd(&h->loop), .events = POLLIN};
    for (int i = 0; i < HARNESS_MAX_PEERS; i++)
        if (h->peers[i].fd >= 0 && !h->peers[i].eof && !h->peers[i].reset)
            fds[n++] = (struct pollfd){.fd = h->peers[i].fd, .events = POLLIN};
    int timeout = uv_backend_timeout(&h->loop);
    if (timeout < 0 || timeout > 5)
        timeout = 5;
    poll(fds, n, timeout);
}

void harness_run_until(struct harness *h, bool (*pred)(struct harness *h, const void *arg),
                       const void *arg)
{
    uint64_t deadline = now_ms() + 5000;
    for (;;) {
        turn(h);
        if (pred(h, arg))
            return;
        if (now_ms() > deadline) {
            for (int i = 0; i < HARNESS_MAX_PEERS; i++)
                if (h->peers[i].fd >= 0)
                    print_message("peer %d (%s%s) got %zu bytes: %s\n", i,
                                  h->peers[i].conn ? "open" : "closed",
                                  h->peers[i].eof ? ", EOF" : "", h->peers[i].got_len,
                                  h->peers[i].got);
            fail_msg("the condition did not come within 5 s");
        }
    }
}

void harness_run_for(struct harness *h, unsigned ms)
{
    uint64_t end = now_ms() + ms;
    while (now_ms() < end)
        turn(h);
}

/* The next status line at or after s (bodies in these tests never contain one). */
static const char *status_line(const char *s)
{
    for (; (s = strstr(s, "HTTP/1.1 ")); s += 9)
        if (s[9] >= '1' && s[9] <= '5' && s[10] >= '0' && s[10] <= '9' && s[11] >= '0' &&
            s[11] <= '9' && s[12] == ' ')
            return s;
    return NULL;
}

unsigned harness_responses(const struct harness_peer *p)
{
    unsigned n = 0;
    for (const char *s = p->got; (s = status_line(s)); s += 9)
        n++;
    return n;
}

const char *harness_response(const struct harness_peer *p, unsigned n)
{
    static char buf[1 << 16];
    const char *s = status_line(p->got);
    for (unsigned i = 0; i < n && s; i++)
        s = status_line(s + 9);
    assert_non_null(s);
    const char *e = status_line(s + 9);
    size_t len = e ? (size_t)(e - s) : strlen(s);
    assert_true(len < sizeof(buf));
    memcpy(buf, s, len);
    buf[len] = '\0';
    char *d = strstr(buf, "Date: ");
    if (d) {
        char *end = strstr(d, "\r\n");
        memmove(d + 6, end, strlen(end) + 1);
    }
    return buf;
}

struct wait_n {
    struct harness_peer *p;
    unsigned n;
};

static bool has_responses(struct harness *h, const void *arg)
{
    const struct wait_n *w = arg;
    return harness_responses(w->p) >= w->n || w->p->eof || w->p->reset;
}

void harness_wait_responses(struct harness *h, struct harness_peer *p, unsigned n)
{
    struct wait_n w = {p, n};
    harness_run_until(h, has_responses, &w);
    assert_int_equal(harness_responses(p), n);
}

static bool is_closed(struct harness *h, const void *arg)
{
    const struct harness_peer *p = arg;
    return (p->eof || p->reset) && !p->conn;
}

void harness_wait_closed(struct harness *h, struct harness_peer *p)
{
    harness_run_until(h, is_closed, p);
    uv_run(&h->loop, UV_RUN_NOWAIT); /* close callbacks */
}

struct wait_state {
    struct harness_peer *p;
    enum baton__conn_state st;
};

static bool in_state(struct harness *h, const void *arg)
{
    const struct wait_state *w = arg;
    assert_non_null(w->p->conn); /* closed while waiting for another state */
    return baton__conn_state(w->p->conn) == w->st;
}

void harness_wait_state(struct harness *h, struct harness_peer *p, enum baton__conn_state st)
{
    struct wait_state w = {p, st};
    harness_run_until(h, in_state, &w);
}

unsigned harness_active(struct harness *h)
{
    struct baton__server_stats st;
    baton__server_stats(h->server, &st);
    return st.active;
}

void harness_fini(struct harness *h)
{
    baton__server_close(h->server);
    uv_run(&h->loop, UV_RUN_DEFAULT);
    baton__server_free(h->server);
    baton__router_free(h->router);
    assert_int_equal(uv_loop_close(&h->loop), 0);
    for (int i = 0; i < HARNESS_MAX_PEERS; i++)
        if (h->peers[i].fd >= 0)
            close(h->peers[i].fd);
}
