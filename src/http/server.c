/* SPDX-License-Identifier: MIT */
/*
 * The server: listeners and the accept path, the timeout sweep, the cached Date, and the drain.
 *
 * Accepting is done here rather than by uv_listen(): libuv's accept path answers EMFILE by
 * accepting and closing connections (a reset for clients another worker could have served)
 * and cannot pause. Here, at max connections or out of fds, the listener is simply not polled
 * for a moment and the connections wait in the shared accept queue for any worker.
 */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "http/internal.h"
#include "http/uring.h"

/* Pause after EMFILE/ENFILE before accepting again. */
#define ACCEPT_RETRY_MS 100
/* Timeout sweep period, and during a drain (the grace period is short). */
#define SWEEP_MS       100
#define SWEEP_DRAIN_MS 20

static void on_listener(uv_poll_t *poll, int status, int events);

int baton__server_new(uv_loop_t *loop, const struct baton__server_config *config,
                      const struct baton__server_hooks *hooks, struct baton__server **ret)
{
    struct baton__server *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    s->read_buf = malloc(BATON__READ_BUFFER);
    if (!s->read_buf) {
        free(s);
        return -ENOMEM;
    }
    s->loop = loop;
    s->config = *config;
    baton__slab_init(&s->conn_slab, sizeof(struct baton__conn));
    baton__slab_init(&s->ex_slab, sizeof(struct baton__exchange));
    baton__slab_init(&s->tcp_slab, sizeof(uv_tcp_t));
    if (hooks)
        s->hooks = *hooks;
    /* Responses and response bodies are ours (handlers and modules), not the client's. */
    s->out = (struct baton_buf)BATON_BUF_INIT(BATON_BUF_UNBOUNDED);
    s->res_headers = (struct baton_buf)BATON_BUF_INIT(64 * 1024);
    s->res_body = (struct baton_buf)BATON_BUF_INIT(BATON_BUF_UNBOUNDED);
    uv_timer_init(loop, &s->sweep);
    uv_timer_init(loop, &s->accept_retry);
    uv_timer_init(loop, &s->drain_deadline);
    s->sweep.data = s->accept_retry.data = s->drain_deadline.data = s;
    *ret = s;
    return 0;
}

static void event(struct baton__server *s, enum baton__event_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void event(struct baton__server *s, enum baton__event_level level, const char *fmt, ...)
{
    if (!s->hooks.event)
        return;
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    s->hooks.event(s->hooks.data, level, msg);
}

int baton__server_add_listener(struct baton__server *s, int fd)
{
    struct baton__listener *ls = realloc(s->listeners, (s->nlisteners + 1) * sizeof(*ls));
    if (!ls)
        return -ENOMEM;
    s->listeners = ls;
    /* Listeners are heap-stable only until the next realloc: add them all before start. */
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
        return -errno;
    struct baton__listener *l = &s->listeners[s->nlisteners];
    memset(l, 0, sizeof(*l));
    l->fd = fd;
    l->wake_fd = -1;
    l->server = s;
    s->nlisteners++;
    return 0;
}

/*
 * Exclusive wake-ups. Workers share one listening socket; with plain level-triggered epoll
 * every idle worker wakes for every new connection and all but one find nothing (the
 * thundering herd: a context switch and a failed accept each). EPOLLEXCLUSIVE wakes one, but
 * libuv 1.44 cannot ask for it and must not be handed a foreign registration of a fd it knows.
 * So the listener is added to the loop's epoll here, with EPOLLEXCLUSIVE, under the key of an
 * eventfd that libuv watches with a uv_poll_t and that is never written: libuv dispatches by
 * the key, so the listener's readiness arrives as the eventfd's, and libuv never touches the
 * listener's registration. It must be removed before that watcher stops (libuv would otherwise
 * disarm the eventfd on every event). Without EPOLLEXCLUSIVE (before Linux 4.5) the listener
 * is polled directly.
 */
static int exclusive_ctl(struct baton__server *s, struct baton__listener *l, bool on)
{
    if (on == l->registered)
        return 0;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLEXCLUSIVE, .data.fd = l->wake_fd};
    if (epoll_ctl(uv_backend_fd(s->loop), on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, l->fd, &ev) < 0)
        return -errno;
    l->registered = on;
    return 0;
}

static void set_accepting(struct baton__server *s, bool on)
{
    if (s->accepting == on)
        return;
    s->accepting = on;
    for (size_t i = 0; i < s->nlisteners; i++) {
        struct baton__listener *l = &s->listeners[i];
        if (!l->active)
            continue;
        if (l->wake_fd >= 0)
            exclusive_ctl(s, l, on);
        else if (on)
            uv_poll_start(&l->poll, UV_READABLE, on_listener);
        else
            uv_poll_stop(&l->poll);
    }
}

static void on_accept_retry(uv_timer_t *t)
{
    struct baton__server *s = t->data;
    /* Still at max_connections: stay paused, so that the next close resumes accepting. */
    if (!s->draining && s->stats.active < s->config.max_connections) {
        s->accept_paused = false;
        set_accepting(s, true);
    }
}

/*
 * Connections accepted (and, when their request is already there, served) per readiness event:
 * up to BATON_ACCEPT_BATCH, stopping at the first EAGAIN. Measured against one per event
 * (docs/BENCHMARKS.md, bench/http --variant): under Connection: close load a batch of 4 takes
 * 4.4 system calls per request against 5.0 (an epoll_wait per connection costs more than the
 * occasional EAGAIN), and spreads a burst over the workers where one per event gave every
 * connection of a 64-connection burst to the same worker: with EPOLLEXCLUSIVE the kernel wakes
 * the first worker waiting on the listener, and one that returns to epoll_wait after each
 * accept is nearly always that one. A worker busy with its batch lets the others be woken.
 * A build-time knob, for measuring.
 */
#ifndef BATON_ACCEPT_BATCH
#define BATON_ACCEPT_BATCH 4
#endif

/* Accepts one connection from l and starts it. Returns false when the listener should not be
 * tried again in this event (empty queue, paused, or an error). */
static bool accept_one(struct baton__server *s, struct baton__listener *l)
{
    if (s->stats.active >= s->config.max_connections) {
        /* Leave the rest in the shared queue: another worker may take them. */
        event(s, BATON__EVENT_WARNING, "%u connections: not accepting until one closes",
              s->stats.active);
        s->accept_paused = true;
        set_accepting(s, false);
        return false;
    }
    int fd;
    do
        fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    while (fd < 0 && errno == EINTR);
    if (fd < 0) {
        int e = errno;
        if (e == EAGAIN || e == EWOULDBLOCK)
            return false; /* another worker was faster */
        if (e == ECONNABORTED || e == EPROTO || e == EPERM)
            return true; /* that connection is gone; the next one may be there */
        if (e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM) {
            /* Once per episode: the retries every ACCEPT_RETRY_MS stay quiet. */
            if (!s->out_of_fds)
                event(s, BATON__EVENT_WARNING,
                      "accept: %s: not accepting until descriptors free up (retry every %d ms)",
                      strerror(e), ACCEPT_RETRY_MS);
            s->out_of_fds = true;
            s->accept_paused = true;
            set_accepting(s, false);
            uv_timer_start(&s->accept_retry, on_accept_retry, ACCEPT_RETRY_MS, 0);
            return false;
        }
        event(s, BATON__EVENT_ERROR, "accept: %s", strerror(e));
        return false;
    }
    if (s->out_of_fds) {
        s->out_of_fds = false;
        event(s, BATON__EVENT_INFO, "accepting again");
    }
    int r = baton__conn_accept(s, fd); /* fd is the connection's, even on failure */
    if (r < 0)
        event(s, BATON__EVENT_WARNING, "connection refused: %s", uv_strerror(r));
    return true;
}

/*
 * The spread of accepts over the workers. With EPOLLEXCLUSIVE the kernel walks the listener's
 * wait queue in order and wakes the first worker whose epoll has a thread waiting: the worker
 * registered first takes every connection while it keeps up (64/0 for a keep-alive burst,
 * 3,681 / 39,070 under Connection: close load), the others only what arrives while it is busy.
 * A registration added again goes to the queue's tail, so a worker that has accepted
 * BATON_ACCEPT_ROTATE connections since its last turn re-registers (EPOLL_CTL_DEL, _ADD): the
 * next worker in the queue is woken first from then on, and the workers take turns. Nothing
 * is lost meanwhile: connections stay in the listener's queue (the one every worker shares),
 * and the ADD reports the listener ready again when some are left. Two system calls per
 * BATON_ACCEPT_ROTATE accepts: 32 evens Connection: close load as well as 8 did (50/50 %) and
 * cost nothing measurable, where 8 measured 0.88x the throughput of no rotation on epoll
 * (docs/http-core.md, docs/BENCHMARKS.md). A build-time knob, for measuring; 0 never rotates.
 */
#ifndef BATON_ACCEPT_ROTATE
#define BATON_ACCEPT_ROTATE 32
#endif

static void rotate(struct baton__server *s, struct baton__listener *l, unsigned accepted)
{
    l->since_rotate += accepted;
    if (BATON_ACCEPT_ROTATE == 0 || l->since_rotate < BATON_ACCEPT_ROTATE || !l->registered)
        return;
    l->since_rotate = 0;
    if (exclusive_ctl(s, l, false) < 0)
        return; /* still registered where it was */
    int r = exclusive_ctl(s, l, true);
    if (r < 0) {
        /* Out of kernel memory: accepting resumes as after EMFILE, when the retry adds it. */
        event(s, BATON__EVENT_WARNING, "listener fd %d: %s: not accepting for %d ms", l->fd,
              strerror(-r), ACCEPT_RETRY_MS);
        s->accept_paused = true;
        set_accepting(s, false);
        uv_timer_start(&s->accept_retry, on_accept_retry, ACCEPT_RETRY_MS, 0);
    }
}

static void on_listener(uv_poll_t *poll, int status, int events)
{
    struct baton__listener *l = poll->data;
    struct baton__server *s = l->server;
    if (status < 0) {
        event(s, BATON__EVENT_ERROR, "listener fd %d: %s", l->fd, uv_strerror(status));
        return;
    }
    uint64_t before = s->stats.connections;
    for (int i = 0; i < BATON_ACCEPT_BATCH && s->accepting; i++)
        if (!accept_one(s, l))
            break;
    rotate(s, l, (unsigned)(s->stats.connections - before));
}

static uint32_t list_timeout(const struct baton__server *s, enum baton__conn_list list)
{
    switch (list) {
    case LIST_IDLE:
    case LIST_IDLE_SHRUNK:
        return s->config.keepalive_timeout_ms;
    case LIST_HEAD:
        return s->config.header_timeout_ms;
    case LIST_BODY:
        return s->config.body_timeout_ms;
    case LIST_WRITE:
        return s->config.send_timeout_ms;
    case LIST_LINGER:
        return s->config.linger_ms;
    case LIST_GRACE:
        return s->config.drain_grace_ms;
    default:
        return 0;
    }
}

static void on_sweep(uv_timer_t *t)
{
    struct baton__server *s = t->data;
    uint64_t now = uv_now(s->loop);
    /* Idle connections give their buffers back after a while, keeping their place. */
    struct baton__conn *c;
    size_t freed = 0;
    while ((c = s->lists[LIST_IDLE].next) && c->since + BATON__SHRINK_AFTER_MS <= now)
        freed += baton__conn_shrink(c); /* leaves LIST_IDLE */
    /* free() keeps small chunks in the heap: give a large batch back to the system. */
    if (freed > 256 * 1024)
        malloc_trim(0);
    for (int list = LIST_IDLE; list < LIST_COUNT; list++) {
        uint32_t timeout = list_timeout(s, list);
        if (!timeout)
            continue;
        while ((c = s->lists[list].next) && c->since + timeout <= now)
            baton__conn_timeout(c); /* always leaves the list */
    }
}

int baton__server_start(struct baton__server *s)
{
    for (size_t i = 0; i < s->nlisteners; i++) {
        struct baton__listener *l = &s->listeners[i];
        l->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (l->wake_fd >= 0 && exclusive_ctl(s, l, true) == 0) {
            exclusive_ctl(s, l, false); /* supported: registered when accepting starts */
        } else if (l->wake_fd >= 0) {
            close(l->wake_fd);
            l->wake_fd = -1;
        }
        int r = uv_poll_init(s->loop, &l->poll, l->wake_fd >= 0 ? l->wake_fd : l->fd);
        if (r < 0)
            return r;
        l->poll.data = l;
        l->active = true;
        if (l->wake_fd >= 0)
            uv_poll_start(&l->poll, UV_READABLE, on_listener);
    }
    set_accepting(s, true);
    baton__server_update_date(s);
    uv_timer_start(&s->sweep, on_sweep, SWEEP_MS, SWEEP_MS);
    return 0;
}

int baton__server_use_io_uring(struct baton__server *s)
{
    if (s->uring)
        return 0;
    return baton__uring_new(s, &s->uring);
}

const char *baton__server_io_uring_why(int err)
{
    return baton__uring_why(err);
}

const char *baton__server_backend(const struct baton__server *s)
{
    return s->uring ? "io_uring" : "epoll";
}

void baton__server_set_router(struct baton__server *s, struct baton__router *router)
{
    struct baton__router *old = s->router;
    s->router = router;
    baton__router_free(old);
}

void baton__server_reconfigure(struct baton__server *s, const struct baton__server_config *config)
{
    s->config = *config;
}

void baton__server_set_static(struct baton__server *s, struct baton_static *st)
{
    s->st = st;
}

void baton__server_update_date(struct baton__server *s)
{
    time_t now = time(NULL);
    if (now == s->date_time && s->date_len)
        return;
    struct tm tm;
    gmtime_r(&now, &tm);
    s->date_len =
        strftime(s->date_line, sizeof(s->date_line), "Date: %a, %d %b %Y %H:%M:%S GMT\r\n", &tm);
    s->date_time = now;
}

static void on_listener_close(uv_handle_t *h)
{
    struct baton__listener *l = h->data;
    close(l->fd);
    l->fd = -1;
    if (l->wake_fd >= 0) {
        close(l->wake_fd);
        l->wake_fd = -1;
    }
}

static void close_listeners(struct baton__server *s)
{
    s->accepting = false;
    for (size_t i = 0; i < s->nlisteners; i++) {
        struct baton__listener *l = &s->listeners[i];
        if (l->active) {
            l->active = false;
            if (l->wake_fd >= 0)
                exclusive_ctl(s, l, false); /* before the watcher goes */
            uv_close((uv_handle_t *)&l->poll, on_listener_close);
        } else if (l->fd >= 0) {
            close(l->fd);
            l->fd = -1;
        }
    }
}

void baton__server_check_drained(struct baton__server *s)
{
    if (s->draining && !s->drained_called && s->stats.active == 0) {
        s->drained_called = true;
        uv_timer_stop(&s->drain_deadline);
        if (s->hooks.drained)
            s->hooks.drained(s->hooks.data, 0);
    }
}

static void close_all(struct baton__server *s)
{
    for (int list = 0; list < LIST_COUNT; list++) {
        struct baton__conn *c;
        while ((c = s->lists[list].next))
            baton__conn_close(c, false); /* removes it from the list */
    }
}

static void on_drain_deadline(uv_timer_t *t)
{
    struct baton__server *s = t->data;
    event(s, BATON__EVENT_WARNING, "drain deadline: closing %u connections", s->stats.active);
    close_all(s);
    /* Closes complete on the next loop turn; the drain is over now. A connection still held by
     * a streaming handler is freed when the handler ends its stream (or with the loop). */
    if (!s->drained_called) {
        s->drained_called = true;
        if (s->hooks.drained)
            s->hooks.drained(s->hooks.data, 1);
    }
}

void baton__server_drain(struct baton__server *s)
{
    if (s->draining)
        return;
    s->draining = true;
    close_listeners(s);
    uv_timer_stop(&s->accept_retry);
    /* Idle connections: see drain_idle() in conn.c. */
    struct baton__conn *c, *next;
    for (int list = LIST_IDLE; list <= LIST_IDLE_SHRUNK; list++) {
        for (c = s->lists[list].next; c; c = next) {
            next = c->link.next;
            baton__conn_drain(c);
        }
    }
    uv_timer_start(&s->sweep, on_sweep, SWEEP_DRAIN_MS, SWEEP_DRAIN_MS);
    if (s->config.drain_timeout_ms)
        uv_timer_start(&s->drain_deadline, on_drain_deadline, s->config.drain_timeout_ms, 0);
    baton__server_check_drained(s);
}

int baton__server_draining(const struct baton__server *s)
{
    return s->draining;
}

void baton__server_conn_closed(struct baton__server *s)
{
    s->stats.active--;
    if (s->accept_paused && !s->draining && !s->closing &&
        !uv_is_active((uv_handle_t *)&s->accept_retry) &&
        s->stats.active < s->config.max_connections) {
        s->accept_paused = false;
        set_accepting(s, true);
    }
    baton__server_check_drained(s);
}

void baton__server_close(struct baton__server *s)
{
    s->closing = true;
    close_listeners(s);
    close_all(s);
    baton__uring_close(s->uring); /* once the cancels of close_all() completed */
    uv_close((uv_handle_t *)&s->sweep, NULL);
    uv_close((uv_handle_t *)&s->accept_retry, NULL);
    uv_close((uv_handle_t *)&s->drain_deadline, NULL);
}

void baton__server_free(struct baton__server *s)
{
    if (!s)
        return;
    baton__uring_free(s->uring); /* may free the last connections (which still name s) */
    s->uring = NULL;
    baton__slab_destroy(&s->conn_slab);
    baton__slab_destroy(&s->ex_slab);
    baton__slab_destroy(&s->tcp_slab);
    baton__router_free(s->router);
    free(s->listeners);
    free(s->read_buf);
    baton__buf_free(&s->out);
    baton__buf_free(&s->res_headers);
    baton__buf_free(&s->res_body);
    free(s);
}

void baton__server_stats(const struct baton__server *s, struct baton__server_stats *ret)
{
    *ret = s->stats;
}

size_t baton__server_connection_memory(const struct baton__server *s)
{
    size_t total = 0;
    for (int list = 0; list < LIST_COUNT; list++)
        for (struct baton__conn *c = s->lists[list].next; c; c = c->link.next)
            total += baton__conn_memory(c);
    return total;
}
