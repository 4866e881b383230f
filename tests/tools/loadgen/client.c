/* SPDX-License-Identifier: MIT */
/* The closed loop: one epoll instance drives a set of connections, each with at most one request
 * in flight. Every attempt ends in finish(), which classifies it exactly once. */
#include <assert.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "loadgen.h"

/* How often deadlines (timeouts, retries, the end of the run) are checked. */
#define TICK_NS 2000000ull
/* After a failed connect, wait this long before the next attempt on that connection, so that a
 * port with nothing behind it is probed 100 times a second per connection, not spun on. */
#define RETRY_DELAY_NS 10000000ull
#define MAX_EVENTS     256

enum conn_state {
    CONN_IDLE,       /* no attempt; waiting for retry_ns, or finished for good */
    CONN_CONNECTING, /* attempt started, TCP handshake in progress */
    CONN_SENDING,    /* writing the request */
    CONN_RECEIVING,  /* request written, reading the response */
};

struct conn {
    int fd;
    enum conn_state state;
    bool reused;       /* this attempt went out on a connection that had answered before */
    uint32_t answered; /* complete responses on the current TCP connection */
    uint64_t start_ns; /* when this attempt began */
    uint64_t retry_ns; /* CONN_IDLE: when to start the next attempt (0: never) */
    size_t written;
    struct response resp;
};

struct loop {
    struct run *run;
    struct stats *stats;
    int epfd;
    struct conn *conns;
    unsigned count;
    unsigned in_flight;  /* connections not in CONN_IDLE */
    struct conn **again; /* failed attempts to start over once the current event is handled */
    unsigned n_again;
    char buf[256 * 1024];
};

uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static bool is_in_flight(const struct conn *c)
{
    return c->state != CONN_IDLE;
}

static void close_conn(struct conn *c)
{
    if (c->fd >= 0)
        close(c->fd); /* also removes it from the epoll set: nobody else holds the socket */
    c->fd = -1;
    c->answered = 0;
}

/* The longest stretch without a 2xx anywhere: every thread swaps its success time into one
 * shared slot and measures the distance to whichever success came before, its own or not. */
static void note_success(struct loop *l, uint64_t now)
{
    uint64_t prev = atomic_exchange_explicit(&l->run->last_success_ns, now, memory_order_relaxed);
    if (now > prev && now - prev > l->stats->longest_gap_ns)
        l->stats->longest_gap_ns = now - prev;
}

static void start_attempt(struct loop *l, struct conn *c, uint64_t now);

/* Ends the attempt on c with outcome o and starts the next one unless the run is over.
 * keep: the connection may carry the next request. */
static void finish(struct loop *l, struct conn *c, enum outcome o, bool keep, uint64_t now)
{
    uint64_t latency = now - c->start_ns;
    l->stats->outcomes[o]++;
    if (o == OUTCOME_OK) {
        stats_add_latency(l->stats, latency);
        note_success(l, now);
    }
    if (l->run->samples)
        samples_add(l->run->samples, c->start_ns, latency, o);

    if (keep && !l->run->opt->close)
        c->answered++;
    else
        close_conn(c);
    c->state = CONN_IDLE;
    l->in_flight--;

    if (o == OUTCOME_OK || o == OUTCOME_NON2XX) {
        start_attempt(l, c, now);
    } else if (o == OUTCOME_REFUSED && now < l->run->end_ns) {
        c->retry_ns = now + RETRY_DELAY_NS;
    } else {
        /* Not from here: a new attempt can fail at once, and failing again from inside
         * finish() would nest without bound. */
        assert(l->n_again < l->count);
        l->again[l->n_again++] = c;
    }
}

/* The connection failed before a complete response: which class that is depends on what came
 * back and on whether this connection had answered before. */
static void fail(struct loop *l, struct conn *c, uint64_t now)
{
    enum outcome o;
    if (c->resp.received > 0)
        o = OUTCOME_PARTIAL;
    else
        o = c->reused ? OUTCOME_LOST_REUSED : OUTCOME_LOST_FRESH;
    finish(l, c, o, false, now);
}

static void on_response(struct loop *l, struct conn *c, bool peer_closed, uint64_t now)
{
    int status = c->resp.status;
    enum outcome o = status >= 200 && status < 300 ? OUTCOME_OK : OUTCOME_NON2XX;
    finish(l, c, o, !peer_closed && !c->resp.close, now);
}

static void send_request(struct loop *l, struct conn *c, uint64_t now)
{
    const struct run *run = l->run;
    while (c->written < run->request_len) {
        /* MSG_NOSIGNAL: a peer that closed makes this EPIPE, not a SIGPIPE. */
        ssize_t n =
            send(c->fd, run->request + c->written, run->request_len - c->written, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN)
                return; /* the EPOLLOUT edge brings us back */
            fail(l, c, now);
            return;
        }
        c->written += (size_t)n;
    }
    c->state = CONN_RECEIVING;
}

/* Reads what the socket holds. Edge-triggered epoll reports new data once, so an incomplete
 * response means reading on until EAGAIN. */
static void receive(struct loop *l, struct conn *c, uint32_t events, uint64_t now)
{
    for (;;) {
        ssize_t n = recv(c->fd, l->buf, sizeof(l->buf), 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN)
                return;
            fail(l, c, now); /* ECONNRESET and friends */
            return;
        }
        if (n == 0) {
            if (response_eof(&c->resp) == 1)
                on_response(l, c, true, now);
            else
                fail(l, c, now);
            return;
        }
        size_t used = 0;
        int rc = response_feed(&c->resp, l->buf, (size_t)n, &used);
        if (rc < 0) {
            finish(l, c, OUTCOME_PARTIAL, false, now); /* malformed */
            return;
        }
        if (rc == 1) {
            /* Bytes past the response (nothing was asked for), or a FIN that came with it: this
             * connection cannot carry another request. */
            bool closed = used < (size_t)n || (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR));
            on_response(l, c, closed, now);
            return;
        }
    }
}

static int open_conn(struct loop *l, struct conn *c)
{
    const struct options *opt = l->run->opt;
    int fd = socket(opt->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    c->fd = fd;
    c->answered = 0;
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    int rc = 0;
    if (connect(fd, (const struct sockaddr *)&opt->addr, opt->addr_len) == 0)
        rc = 1;
    else if (errno != EINPROGRESS)
        rc = -errno;
    /* Registered once for everything, edge-triggered: no epoll_ctl per request. Only after
     * connect(): a socket that is not connecting yet polls as EPOLLOUT|EPOLLHUP. */
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = c};
    if (rc >= 0 && epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
        rc = -errno;
    if (rc < 0)
        close_conn(c);
    return rc;
}

static void start_attempt(struct loop *l, struct conn *c, uint64_t now)
{
    c->retry_ns = 0;
    if (now >= l->run->end_ns) {
        close_conn(c); /* the run is over: this connection rests */
        return;
    }
    c->start_ns = now;
    c->written = 0;
    response_init(&c->resp);
    l->in_flight++;
    if (c->fd >= 0) {
        c->reused = c->answered > 0;
        c->state = CONN_SENDING;
        send_request(l, c, now);
        return;
    }
    c->reused = false;
    c->state = CONN_CONNECTING;
    int rc = open_conn(l, c);
    if (rc < 0) {
        finish(l, c, OUTCOME_REFUSED, false, now);
    } else if (rc == 1) {
        c->state = CONN_SENDING;
        send_request(l, c, now);
    }
}

static void on_event(struct loop *l, struct conn *c, uint32_t events, uint64_t now)
{
    const uint32_t input = EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR;
    if (c->state == CONN_CONNECTING) {
        if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
            return;
        int err = 0;
        socklen_t len = sizeof(err);
        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
            err = errno;
        if (err) {
            finish(l, c, OUTCOME_REFUSED, false, now);
            return;
        }
        c->state = CONN_SENDING;
    }
    if (c->state == CONN_SENDING) {
        send_request(l, c, now);
        if (c->state != CONN_RECEIVING)
            return;
    }
    /* Also right after sending: an edge that came while we were still writing is not repeated. */
    if (c->state == CONN_RECEIVING && (events & input))
        receive(l, c, events, now);
}

/* Timeouts and retries; called every TICK_NS. */
static void check_deadlines(struct loop *l, uint64_t now)
{
    uint64_t timeout = l->run->opt->timeout_ns;
    for (unsigned i = 0; i < l->count; i++) {
        struct conn *c = &l->conns[i];
        if (is_in_flight(c) && now - c->start_ns >= timeout)
            finish(l, c, OUTCOME_TIMEOUT, false, now);
        else if (c->state == CONN_IDLE && c->retry_ns && now >= c->retry_ns)
            start_attempt(l, c, now);
    }
}

/* Starts over the connections whose attempt failed; those that fail again at once are queued
 * again and started over in turn. now: the time of the current batch, which every attempt
 * start and end in it shares, so that no duration comes out negative. */
static void start_again(struct loop *l, uint64_t now)
{
    while (l->n_again > 0) {
        struct conn *c = l->again[--l->n_again];
        start_attempt(l, c, now);
    }
}

static bool any_pending(const struct loop *l)
{
    if (l->in_flight > 0)
        return true;
    for (unsigned i = 0; i < l->count; i++) {
        if (l->conns[i].retry_ns)
            return true;
    }
    return false;
}

int client_run(struct run *run, unsigned count, struct stats *stats)
{
    int rc = 0;
    struct loop *l = calloc(1, sizeof(*l));
    if (!l)
        return -ENOMEM;
    l->run = run;
    l->stats = stats;
    l->count = count;
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    l->conns = calloc(count, sizeof(*l->conns));
    l->again = calloc(count, sizeof(*l->again));
    if (l->epfd < 0 || !l->conns || !l->again) {
        rc = l->epfd < 0 ? -errno : -ENOMEM;
        goto out;
    }
    for (unsigned i = 0; i < count; i++)
        l->conns[i].fd = -1;

    uint64_t now = now_ns();
    for (unsigned i = 0; i < count; i++)
        start_attempt(l, &l->conns[i], now);
    start_again(l, now);

    uint64_t next_tick = now + TICK_NS;
    struct epoll_event events[MAX_EVENTS];
    while (any_pending(l)) {
        int n = epoll_wait(l->epfd, events, MAX_EVENTS, (int)(TICK_NS / 1000000));
        if (n < 0 && errno != EINTR) {
            rc = -errno;
            goto out;
        }
        now = now_ns();
        for (int i = 0; i < n; i++) {
            on_event(l, events[i].data.ptr, events[i].events, now);
            start_again(l, now);
        }
        if (now >= next_tick) {
            check_deadlines(l, now);
            start_again(l, now);
            next_tick = now + TICK_NS;
        }
    }
out:
    if (l->conns) {
        for (unsigned i = 0; i < count; i++)
            close_conn(&l->conns[i]);
    }
    if (l->epfd >= 0)
        close(l->epfd);
    free(l->again);
    free(l->conns);
    free(l);
    return rc;
}
