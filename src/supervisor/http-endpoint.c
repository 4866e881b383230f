/* SPDX-License-Identifier: MIT */
/*
 * The metrics.listen endpoint: GET /metrics, /status, /history, /healthz and / (the status
 * page), served by the supervisor's own loop (never by the workers).
 *
 * Bounded so a slow or hostile scraper cannot stall supervision or grow the supervisor:
 * ENDPOINT_CONNS connections at once (beyond them a new connection is closed at once), a
 * request head of at most HEAD_MAX bytes in a fixed buffer, ENDPOINT_READ_MS to send it and
 * ENDPOINT_WRITE_MS to take the answer, one request per connection (Connection: close). The
 * HTTP is minimal and strict: GET or HEAD, a request line and header lines, anything odd 400.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/address.h"
#include "common/fd.h"
#include "common/http-status.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "supervisor/internal.h"
#include "supervisor/observe.h"

#define ENDPOINT_CONNS    8
#define HEAD_MAX          8192
#define ENDPOINT_READ_MS  5000
#define ENDPOINT_WRITE_MS 10000
#define ENDPOINT_TICK_MS  250
/* Out of file descriptors: accepting pauses this long. */
#define ENDPOINT_RETRY_MS 100

/* The status page (status-page.html, embedded at build time by cmake/embed.cmake). */
extern const char baton__status_page[];
extern const size_t baton__status_page_len;

struct conn {
    struct baton_endpoint *ep;
    int fd;
    bool used;    /* the slot holds a connection (also while closing) */
    bool closing; /* uv_close() called; the slot is free again in its callback */
    bool answered;
    uv_poll_t poll;
    char in[HEAD_MAX];
    size_t in_len;
    struct baton_buf out;
    size_t out_off;
    uint64_t deadline_ms;
};

struct baton_endpoint {
    struct baton_supervisor *sup;
    int fd;
    bool unix_socket;
    char *path; /* the UNIX socket file, to remove */
    char *text; /* metrics.listen as configured */
    uv_poll_t poll;
    uv_timer_t timer;
    uint64_t retry_ms;  /* accepting paused until then (0: accepting) */
    uint64_t sample_ms; /* the next history sample */
    unsigned long refused;
    unsigned open_handles; /* closing: handles whose close callback is still to come */
    struct conn conns[ENDPOINT_CONNS];
};

static void on_conn(uv_poll_t *h, int status, int events);

static void on_conn_closed(uv_handle_t *h)
{
    struct conn *c = h->data;
    close(c->fd);
    c->fd = -1;
    baton__buf_free(&c->out);
    c->used = c->closing = false;
}

static void conn_close(struct conn *c)
{
    if (c->closing)
        return;
    c->closing = true;
    uv_poll_stop(&c->poll);
    uv_close((uv_handle_t *)&c->poll, on_conn_closed);
}

static void conn_flush(struct conn *c)
{
    while (c->out_off < c->out.len) {
        ssize_t n = send(c->fd, c->out.data + c->out_off, c->out.len - c->out_off,
                         MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            uv_poll_start(&c->poll, UV_WRITABLE, on_conn);
            return;
        }
        if (n < 0) {
            conn_close(c);
            return;
        }
        c->out_off += (size_t)n;
    }
    shutdown(c->fd, SHUT_WR);
    conn_close(c);
}

/* Queues the whole answer (head; the body unless head_only) and starts writing it. */
static void respond(struct conn *c, int code, const char *type, const char *body, size_t len,
                    bool head_only)
{
    c->answered = true;
    c->deadline_ms = baton__clock_now_ms() + ENDPOINT_WRITE_MS;
    baton__buf_printf(&c->out,
                      "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                      "Connection: close\r\nCache-Control: no-store\r\n"
                      "X-Content-Type-Options: nosniff\r\n",
                      code, baton__status_reason(code), type, len);
    if (code == 405)
        baton__buf_puts(&c->out, "Allow: GET, HEAD\r\n");
    if (strncmp(type, "text/html", 9) == 0)
        baton__buf_puts(&c->out, "Content-Security-Policy: default-src 'none'; script-src "
                                 "'unsafe-inline'; style-src 'unsafe-inline'; connect-src "
                                 "'self'; img-src data:\r\n");
    baton__buf_puts(&c->out, "\r\n");
    if (!head_only)
        baton__buf_append(&c->out, body, len);
    conn_flush(c);
}

static void respond_text(struct conn *c, int code, const char *text)
{
    respond(c, code, "text/plain; charset=utf-8", text, strlen(text), false);
}

static void route(struct conn *c, const char *path, size_t len, bool head_only)
{
    struct baton_supervisor *sup = c->ep->sup;
    struct baton_buf b = BATON_BUF_INIT(BATON_CONTROL_REPLY_MAX);
#define IS(s) (len == sizeof(s) - 1 && memcmp(path, s, len) == 0)
    if (IS("/metrics")) {
        baton__metrics_text(sup, &b);
        respond(c, 200, "text/plain; version=0.0.4; charset=utf-8", b.data, b.len, head_only);
    } else if (IS("/status")) {
        baton__status_json(sup, &b);
        baton__buf_puts(&b, "\n");
        respond(c, 200, "application/json", b.data, b.len, head_only);
    } else if (IS("/history")) {
        baton__history_json(sup->history, &b);
        baton__buf_puts(&b, "\n");
        respond(c, 200, "application/json", b.data, b.len, head_only);
    } else if (IS("/healthz")) {
        bool serving = sup->gens.active && !sup->gens.stopping;
        const char *text = serving ? "ok\n" : "no generation serves\n";
        respond(c, serving ? 200 : 503, "text/plain; charset=utf-8", text, strlen(text), head_only);
    } else if (IS("/") || IS("/index.html")) {
        respond(c, 200, "text/html; charset=utf-8", baton__status_page, baton__status_page_len,
                head_only);
    } else {
        respond(c, 404, "text/plain; charset=utf-8", "not found\n", 10, head_only);
    }
#undef IS
    baton__buf_free(&b);
}

/* A complete head of `len` bytes (the final CRLFCRLF included) is in c->in. */
static void handle(struct conn *c, size_t len)
{
    struct baton_endpoint_request req;
    const char *why = NULL;
    int code = baton__endpoint_parse(c->in, len, &req, &why);
    if (code != 0)
        respond_text(c, code, why);
    else
        route(c, req.path, req.path_len, req.head);
}

/* The end of the head: CRLFCRLF within c->in (searched from `from`), or 0. */
static size_t head_end(const struct conn *c, size_t from)
{
    for (size_t i = from > 3 ? from : 3; i < c->in_len; i++)
        if (c->in[i] == '\n' && c->in[i - 1] == '\r' && c->in[i - 2] == '\n' &&
            c->in[i - 3] == '\r')
            return i + 1;
    return 0;
}

static void on_conn(uv_poll_t *h, int status, int events)
{
    struct conn *c = h->data;
    if (status < 0) {
        conn_close(c);
        return;
    }
    if (c->answered) {
        if (events & UV_WRITABLE)
            conn_flush(c);
        return;
    }
    if (!(events & UV_READABLE))
        return;
    while (c->in_len < HEAD_MAX) {
        ssize_t n = recv(c->fd, c->in + c->in_len, HEAD_MAX - c->in_len, MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (n <= 0) {
            conn_close(c);
            return;
        }
        size_t from = c->in_len;
        c->in_len += (size_t)n;
        size_t len = head_end(c, from);
        if (len) {
            handle(c, len);
            return;
        }
    }
    respond_text(c, 431, "request head too large\n");
}

static void on_accept(uv_poll_t *h, int status, int events)
{
    struct baton_endpoint *ep = h->data;
    for (int i = 0; i < 64; i++) {
        int fd = accept4(ep->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                uv_poll_stop(&ep->poll);
                ep->retry_ms = baton__clock_now_ms() + ENDPOINT_RETRY_MS;
            }
            return;
        }
        struct conn *c = NULL;
        for (unsigned k = 0; k < ENDPOINT_CONNS && !c; k++)
            if (!ep->conns[k].used)
                c = &ep->conns[k];
        if (!c) {
            ep->refused++; /* full: closed at once, never queued */
            close(fd);
            continue;
        }
        memset(c, 0, sizeof(*c));
        c->ep = ep;
        c->fd = fd;
        c->out.max = 4 * 1024 * 1024;
        if (uv_poll_init(ep->sup->loop, &c->poll, fd) < 0) {
            close(fd);
            continue;
        }
        c->used = true;
        c->poll.data = c;
        c->deadline_ms = baton__clock_now_ms() + ENDPOINT_READ_MS;
        uv_poll_start(&c->poll, UV_READABLE, on_conn);
    }
}

static void on_tick(uv_timer_t *t)
{
    struct baton_endpoint *ep = t->data;
    uint64_t now = baton__clock_now_ms();
    if (ep->retry_ms && ep->retry_ms <= now) {
        ep->retry_ms = 0;
        uv_poll_start(&ep->poll, UV_READABLE, on_accept);
    }
    for (unsigned k = 0; k < ENDPOINT_CONNS; k++) {
        struct conn *c = &ep->conns[k];
        if (!c->used || c->closing || c->deadline_ms > now)
            continue;
        if (c->answered)
            conn_close(c); /* not taking its answer */
        else
            respond_text(c, 408, "request timeout\n");
    }
    if (now >= ep->sample_ms) {
        struct baton_counters totals;
        baton__gens_counters(&ep->sup->gens, &totals);
        baton__history_sample(ep->sup->history, &totals);
        ep->sample_ms = now + BATON_SAMPLE_INTERVAL_MS;
    }
}

int baton__endpoint_open(struct baton_supervisor *sup, const char *address)
{
    struct baton_address addr;
    const char *why = NULL;
    int r = baton__address_parse(address, &addr, &why);
    if (r < 0) {
        baton__log(BATON_LOG_ERROR, "metrics.listen %s: %s", address, why ? why : "bad address");
        return r;
    }
    int fd = baton__address_listen(&addr, 64);
    if (fd < 0) {
        baton__log(BATON_LOG_ERROR, "metrics.listen %s: %s", address, strerror(-fd));
        return fd;
    }
    baton__fd_nonblock(fd, true);
    struct baton_endpoint *ep = baton__xcalloc(1, sizeof(*ep));
    ep->sup = sup;
    ep->fd = fd;
    ep->text = baton__xstrdup(address);
    if (addr.u.sa.sa_family == AF_UNIX)
        ep->path = baton__xstrdup(addr.u.un.sun_path);
    if ((r = uv_poll_init(sup->loop, &ep->poll, fd)) < 0) {
        baton__log(BATON_LOG_ERROR, "metrics.listen %s: %s", address, uv_strerror(r));
        close(fd);
        free(ep->path);
        free(ep->text);
        free(ep);
        return r;
    }
    ep->poll.data = ep;
    uv_poll_start(&ep->poll, UV_READABLE, on_accept);
    uv_timer_init(sup->loop, &ep->timer);
    ep->timer.data = ep;
    uv_timer_start(&ep->timer, on_tick, ENDPOINT_TICK_MS, ENDPOINT_TICK_MS);
    /* The timer must not keep the loop alive on its own (stopping ends the loop). */
    uv_unref((uv_handle_t *)&ep->timer);
    sup->endpoint = ep;
    baton__log(BATON_LOG_INFO, "metrics endpoint on %s", address);
    return 0;
}

/* The listener's poll and the timer close together; the last callback frees. */
static void on_ep_closed(uv_handle_t *h)
{
    struct baton_endpoint *ep = h->data;
    if (--ep->open_handles)
        return;
    free(ep->text);
    free(ep->path);
    free(ep);
}

void baton__endpoint_close(struct baton_supervisor *sup)
{
    struct baton_endpoint *ep = sup->endpoint;
    if (!ep)
        return;
    sup->endpoint = NULL;
    for (unsigned k = 0; k < ENDPOINT_CONNS; k++)
        if (ep->conns[k].used)
            conn_close(&ep->conns[k]);
    uv_poll_stop(&ep->poll);
    close(ep->fd);
    if (ep->path)
        unlink(ep->path);
    ep->open_handles = 2;
    uv_close((uv_handle_t *)&ep->timer, on_ep_closed);
    uv_close((uv_handle_t *)&ep->poll, on_ep_closed);
}

bool baton__endpoint_changed(const struct baton_supervisor *sup, const char *address)
{
    const char *now = sup->endpoint ? sup->endpoint->text : NULL;
    if (!now || !address)
        return now != address;
    return strcmp(now, address) != 0;
}
