/* SPDX-License-Identifier: MIT */
/*
 * One client connection: reading and parsing requests, queuing responses in order, writing
 * them with as few system calls as possible, sending files, and closing without losing what
 * the client already sent.
 *
 * A new connection starts "raw": right after accept it is read and served with plain system
 * calls, before libuv knows of it. A client that sends its request with the connection and
 * asks for the close (the common short-lived case) is then served with accept4, read, write
 * and close, and nothing else: no epoll registration, no wakeup. Anything that cannot finish
 * at once (a partial request, keep-alive, a partial write, a stream) promotes the connection
 * to a libuv stream, and from then on libuv drives it.
 *
 * Reads go into the server's shared buffer; the parser copies what it keeps, so an idle
 * connection holds no read buffer at all. Responses of a whole read (pipelined requests) are
 * serialised into the server's shared output buffer and written with one write; only what the
 * kernel does not take at once is copied into the connection's own buffers for uv_write.
 *
 * This file is the connection's one owner: every field of struct baton__conn is written here.
 * dispatch.c, response.c and server.c ask for what they need through the baton__conn_* calls of
 * internal.h or say it with a return value (docs/http-core.md has the table).
 */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http/internal.h"
#include "http/uring.h"

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf);
static void on_write(uv_write_t *req, int status);
static void process(struct baton__conn *c, const char *data, size_t len, bool shared);
static void conn_abort(struct baton__conn *c);
static void hard_close(struct baton__conn *c);
static void closed(struct baton__conn *c);
static void file_send(struct baton__conn *c);
static void free_conn(struct baton__conn *c);
static void response_done(struct baton__conn *c);
static int read_start(struct baton__conn *c);

/* ---- state --------------------------------------------------------------------------------- */

/*
 * The connection's states and every transition between them (docs/http-core.md walks through
 * them with the files involved):
 *
 *   accept ──> IDLE ──first bytes of a request──> READING ──parsed: dispatch──┐
 *               ^  ^                                │                        │ stream or file
 *               │  └──response done synchronously───┘                        v continues
 *               └──────────────stream ended, file sent───────────────── RESPONDING
 *
 *   IDLE, READING, RESPONDING ──graceful close, input may follow──> CLOSING (write side shut
 *                                                                   down, reading to EOF)
 *   any state ──hard close, error, EOF or linger bound when CLOSING──> CLOSED (uv_close; freed
 *                                                                   in its close callback)
 *
 * A protocol error or a head/body timeout moves IDLE to READING (the error response belongs to
 * a request) before the close. Which timeout list a state waits in is settle()'s decision; what
 * ends the connection after a response (close_after, must_linger) are flags beside the state.
 */
#define TO(s) (1u << (s))
static const unsigned transitions[CONN_CLOSED + 1] = {
    [CONN_IDLE] = TO(CONN_IDLE) | TO(CONN_READING) | TO(CONN_CLOSING) | TO(CONN_CLOSED),
    [CONN_READING] =
        TO(CONN_READING) | TO(CONN_IDLE) | TO(CONN_RESPONDING) | TO(CONN_CLOSING) | TO(CONN_CLOSED),
    [CONN_RESPONDING] = TO(CONN_RESPONDING) | TO(CONN_IDLE) | TO(CONN_CLOSING) | TO(CONN_CLOSED),
    [CONN_CLOSING] = TO(CONN_CLOSED),
    [CONN_CLOSED] = 0,
};
#undef TO

/* The one place the state changes. A transition outside the table is a bug in this file: abort
 * (in every build, so that the tests catch it) rather than serve from a state nobody designed. */
static void set_state(struct baton__conn *c, enum baton__conn_state to)
{
    if (!(transitions[c->state] & (1u << to)))
        abort();
    c->state = to;
}

enum baton__conn_state baton__conn_state(const struct baton__conn *c)
{
    return c->state;
}

/* ---- timeout lists ------------------------------------------------------------------------- */

static void list_remove(struct baton__conn *c)
{
    if (c->list == LIST_NONE)
        return;
    struct baton__conn_link *head = &c->server->lists[c->list];
    if (c->link.prev)
        c->link.prev->link.next = c->link.next;
    else
        head->next = c->link.next;
    if (c->link.next)
        c->link.next->link.prev = c->link.prev;
    else
        head->prev = c->link.prev;
    c->link.prev = c->link.next = NULL;
    c->list = LIST_NONE;
}

static void list_append(struct baton__conn *c, enum baton__conn_list list)
{
    struct baton__conn_link *head = &c->server->lists[list];
    c->list = list;
    c->link.next = NULL;
    c->link.prev = head->prev;
    if (head->prev)
        head->prev->link.next = c;
    else
        head->next = c;
    head->prev = c;
}

static void move(struct baton__conn *c, enum baton__conn_list list)
{
    list_remove(c);
    c->since = uv_now(c->server->loop);
    if (list != LIST_NONE)
        list_append(c, list);
}

/* Puts the connection in the list its state calls for. */
/*
 * An idle connection at drain. One that has served a request is closed after a short quiet
 * grace: a request may already be on the wire, and a client retries a request on a reused
 * connection that closes. One that has not sent its first request yet is not closed with them:
 * its client will send, and would not retry on a fresh connection. It keeps the header timeout
 * and its answer carries Connection: close.
 */
static void drain_idle(struct baton__conn *c)
{
    move(c, c->served ? LIST_GRACE : LIST_HEAD);
}

static void settle(struct baton__conn *c)
{
    struct baton__server *s = c->server;
    switch (c->state) {
    case CONN_CLOSED:
    case CONN_CLOSING:
        return;
    case CONN_RESPONDING:
        move(c, c->writing ? LIST_WRITE : LIST_BUSY);
        return;
    case CONN_READING:
        if (c->writing)
            move(c, LIST_WRITE);
        else if (baton__parser_in_body(&c->parser))
            move(c, LIST_BODY); /* a body read refreshes the timeout */
        else if (c->list != LIST_HEAD)
            move(c, LIST_HEAD); /* the header timeout covers the whole section */
        return;
    case CONN_IDLE:
        if (c->writing)
            move(c, LIST_WRITE);
        else if (s->draining)
            drain_idle(c);
        else
            move(c, LIST_IDLE);
        return;
    }
}

/* ---- life cycle ---------------------------------------------------------------------------- */

/* Hands a raw connection to libuv, or to the ring with the io_uring backend. Returns 0 or a
 * libuv error (the caller aborts). */
static int promote(struct baton__conn *c)
{
    if (!c->raw)
        return 0;
    if (c->server->uring) {
        c->raw = false;
        c->uring = true;
        if (c->state != CONN_CLOSING && !c->in.len && !c->peer_eof && c->state != CONN_RESPONDING &&
            !c->close_after)
            return read_start(c);
        return 0;
    }
    if (!(c->tcp = baton__slab_alloc(&c->server->tcp_slab)))
        return UV_ENOMEM;
    int r = uv_tcp_init(c->server->loop, c->tcp);
    if (r < 0) {
        baton__slab_free(&c->server->tcp_slab, c->tcp);
        c->tcp = NULL;
        return r;
    }
    c->tcp->data = c;
    c->raw = false;
    r = uv_tcp_open(c->tcp, c->fd);
    if (r < 0) {
        close(c->fd); /* the handle did not take it */
        return r;
    }
    if (c->state == CONN_CLOSING)
        return 0; /* baton__conn_close() goes on with the shutdown */
    if (!c->in.len && !c->peer_eof && c->state != CONN_RESPONDING && !c->close_after)
        return read_start(c);
    return 0;
}

/*
 * TCP_NODELAY, set once, before any write of a connection but its first. Nagle holds a small
 * segment back only while an earlier one is unacknowledged, so the first write never waits; a
 * later one (the next keep-alive response, a stream's next chunk, the rest of a partial write, a
 * file after a head that left alone) would wait for the client's delayed ACK, up to 40 ms. So
 * a connection answered with one write and closed (Connection: close) pays no system call for
 * it, and one that lives on pays one, as with nginx's tcp_nodelay. Fails harmlessly on UNIX
 * sockets.
 */
static void nodelay(struct baton__conn *c)
{
    if (c->nodelay || !c->wrote)
        return;
    c->nodelay = true;
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/* Adapts the read right after accept to what clients do: when it keeps finding nothing (the
 * request comes later), stop trying for a while, retrying now and then. */
static bool early_read_wanted(struct baton__server *s)
{
    if (s->early_read_score >= 0)
        return true;
    return ++s->early_read_skips % 64 == 0;
}

static void early_read_result(struct baton__server *s, bool hit)
{
    if (hit) /* a hit while skipping resumes at once */
        s->early_read_score = s->early_read_score < 0   ? 0
                              : s->early_read_score < 8 ? s->early_read_score + 1
                                                        : 8;
    else
        s->early_read_score = s->early_read_score > -8 ? s->early_read_score - 2 : -8;
}

/* A new connection on fd (owned from now on), raw, waiting for its first request. */
static struct baton__conn *conn_new(struct baton__server *s, int fd)
{
    /* In the server's slab, apart from the heap (http/slab.h): memory per idle connection. */
    struct baton__conn *c = baton__slab_alloc(&s->conn_slab);
    if (!c) {
        close(fd);
        return NULL;
    }
    /* Slab objects are 8-byte aligned: uring.c keeps the operation in the low 3 bits. */
    assert(((uintptr_t)c & 7) == 0);
    c->server = s;
    c->fd = fd;
    c->raw = true;
    c->file_poll_fd = -1;
    /* One read's leftover: reading stops while it holds data (process()). */
    c->in = (struct baton_buf)BATON_BUF_INIT(BATON__READ_BUFFER);
    /* Our own responses; a client that does not read them stops being read past
     * BATON__OUTPUT_HIGH (process()), so it cannot make them grow. */
    c->wq = (struct baton_buf)BATON_BUF_INIT(BATON_BUF_UNBOUNDED);
    c->wf = (struct baton_buf)BATON_BUF_INIT(BATON_BUF_UNBOUNDED);
    baton__parser_init(&c->parser, &s->config.limits);
    c->state = CONN_IDLE;
    s->stats.connections++;
    s->stats.active++;
    /* A new connection gets the header timeout for its first request. */
    move(c, LIST_HEAD);
    return c;
}

/* Hands a connection still alive after its synchronous start to libuv. */
static void conn_start(struct baton__conn *c)
{
    if (c->state == CONN_CLOSED) {
        /* Closed while raw: nothing of libuv to wait for. (Once promoted, its close callback
         * frees it.) */
        if (c->raw)
            closed(c);
        return;
    }
    if (promote(c) < 0) {
        conn_abort(c);
        if (c->raw)
            closed(c);
        return;
    }
    settle(c);
}

int baton__conn_accept(struct baton__server *s, int fd)
{
    struct baton__conn *c = conn_new(s, fd);
    if (!c)
        return -ENOMEM;
    if (early_read_wanted(s)) {
        ssize_t n;
        do
            n = read(fd, s->read_buf, BATON__READ_BUFFER);
        while (n < 0 && errno == EINTR);
        early_read_result(s, n != -1 || errno != EAGAIN);
        if (n > 0) {
            process(c, s->read_buf, (size_t)n, true);
        } else if (n == 0) {
            c->peer_eof = true;
            hard_close(c);
        } else if (errno != EAGAIN) {
            conn_abort(c);
        }
    }
    conn_start(c);
    return 0;
}

int baton__conn_open(struct baton__server *s, int fd, struct baton__conn **ret)
{
    struct baton__conn *c = conn_new(s, fd);
    if (!c)
        return -ENOMEM;
    int r = promote(c);
    if (r < 0) {
        conn_abort(c);
        if (c->raw)
            closed(c);
        return r;
    }
    settle(c);
    *ret = c;
    return 0;
}

/* Gives the exchange back (the connection is idle or being freed). */
static void exchange_free(struct baton__conn *c)
{
    if (!c->ex)
        return;
    if (c->ex->res.file_fd >= 0)
        close(c->ex->res.file_fd);
    baton__slab_free(&c->server->ex_slab, c->ex);
    c->ex = NULL;
}

static void free_conn(struct baton__conn *c)
{
    struct baton__server *s = c->server;
    list_remove(c);
    exchange_free(c);
    baton__parser_free(&c->parser);
    baton__buf_free(&c->in);
    baton__buf_free(&c->wq);
    baton__buf_free(&c->wf);
    if (s->out_conn == c) {
        baton__buf_reset(&s->out);
        s->out_conn = NULL;
    }
    free(c->write_req);
    free(c->shutdown_req);
    baton__slab_free(&s->conn_slab, c);
    baton__server_conn_closed(s);
}

static void on_close(uv_handle_t *h)
{
    struct baton__conn *c = h->data;
    baton__slab_free(&c->server->tcp_slab, h);
    c->tcp = NULL;
    closed(c);
}

/* The request in flight ended (complete 0: its connection was lost): the next one may start. */
static void request_end(struct baton__conn *c, int complete)
{
    if (!c->in_request)
        return;
    baton__dispatch_end(c, complete);
    c->in_request = false;
    c->continue_sent = false;
    baton__parser_next(&c->parser);
}

/* The socket is closed: end the request in flight and free the connection. */
static void closed(struct baton__conn *c)
{
    if (c->in_request) {
        if (c->ex->res.mode == RES_STREAMING) {
            /* The handler still holds the response: it learns of the loss from its next
             * write, and the connection is freed when it ends the stream. */
            c->zombie = true;
            return;
        }
        request_end(c, 0);
    }
    free_conn(c);
}

static void on_file_poll_close(uv_handle_t *h)
{
    free(h);
}

static void file_poll_stop(struct baton__conn *c)
{
    if (!c->file_poll)
        return;
    uv_close((uv_handle_t *)c->file_poll, on_file_poll_close);
    /* uv_close removed the fd from epoll synchronously; the duplicate can go now. */
    close(c->file_poll_fd);
    c->file_poll = NULL;
    c->file_poll_fd = -1;
}

/* ---- the io_uring backend ----------------------------------------------------------------- */

/* The ring's side of hard_close(): the fd is closed once nothing in flight names it (a receive
 * in flight holds the socket open even past close()), so what is in flight is cancelled and the
 * last completion closes it; with nothing in flight it is closed at the end of the loop turn
 * (never from inside the caller, as uv_close() calls back later). */
/* Nothing of c is in flight any more: the fd closes now (as uv_close() closes it at once), the
 * connection is freed at the end of the loop turn. */
static void uring_reap(struct baton__conn *c)
{
    if (c->reaped)
        return;
    c->reaped = true;
    close(c->fd);
    c->fd = -1;
    baton__uring_reap(c->server->uring, c);
}

static void uring_cancel(struct baton__conn *c)
{
    struct baton__uring *u = c->server->uring;
    if (!c->uring_ops) {
        uring_reap(c);
        return;
    }
    struct io_uring_sqe *sqe = baton__uring_sqe(u);
    if (sqe) {
        io_uring_prep_cancel_fd(sqe, c->fd, IORING_ASYNC_CANCEL_ALL);
        io_uring_sqe_set_data64(sqe, 0);
        /* Now rather than at the end of the turn: the socket is released (and the client sees
         * the close) as soon as the cancelled operations complete. */
        baton__uring_submit(u);
    } else {
        shutdown(c->fd, SHUT_RDWR); /* ends whatever waits on the socket */
    }
}

static int arm_recv(struct baton__conn *c)
{
    if (c->recv_armed)
        return 0;
    struct baton__uring *u = c->server->uring;
    struct io_uring_sqe *sqe = baton__uring_sqe(u);
    if (!sqe)
        return UV_ENOBUFS;
    io_uring_prep_recv(sqe, c->fd, NULL, BATON__URING_BUF_SIZE, 0);
    /* Armed once the input so far is consumed: the next bytes are rarely there yet, so the
     * kernel waits for them at once instead of trying a receive that fails first (5.19). */
    sqe->ioprio |= IORING_RECVSEND_POLL_FIRST;
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = 0;
    baton__uring_prep(u, sqe, c, BATON__URING_RECV);
    c->uring_ops++;
    c->recv_armed = true;
    return 0;
}

/* Sends what wf holds past wf_sent. */
static int arm_send(struct baton__conn *c)
{
    struct baton__uring *u = c->server->uring;
    struct io_uring_sqe *sqe = baton__uring_sqe(u);
    if (!sqe)
        return UV_ENOBUFS;
    io_uring_prep_send(sqe, c->fd, c->wf.data + c->wf_sent, c->wf.len - c->wf_sent, MSG_NOSIGNAL);
    baton__uring_prep(u, sqe, c, BATON__URING_SEND);
    c->uring_ops++;
    c->writing = true;
    return 0;
}

static int arm_pollout(struct baton__conn *c)
{
    if (c->pollout_armed)
        return 0;
    struct baton__uring *u = c->server->uring;
    struct io_uring_sqe *sqe = baton__uring_sqe(u);
    if (!sqe)
        return UV_ENOBUFS;
    io_uring_prep_poll_add(sqe, c->fd, POLLOUT);
    baton__uring_prep(u, sqe, c, BATON__URING_POLLOUT);
    c->uring_ops++;
    c->pollout_armed = true;
    return 0;
}

void baton__conn_uring_closed(struct baton__conn *c)
{
    closed(c);
}

static void hard_close(struct baton__conn *c)
{
    if (c->state == CONN_CLOSED)
        return;
    set_state(c, CONN_CLOSED);
    list_remove(c);
    file_poll_stop(c);
    if (c->server->out_conn == c) {
        baton__buf_reset(&c->server->out);
        c->server->out_conn = NULL;
    }
    if (c->raw) {
        close(c->fd); /* baton__conn_accept() frees it */
        c->fd = -1;
        return;
    }
    if (c->uring) {
        uring_cancel(c);
        return;
    }
    uv_close((uv_handle_t *)c->tcp, on_close);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    struct baton__conn *c = req->handle->data;
    if (status < 0)
        hard_close(c);
    /* Otherwise keep reading until EOF, the linger bound or its timeout. */
}

/*
 * Closes the connection. graceful: queued output is written first, and when the client may
 * still be sending (must_linger), the write side is shut down and input read to EOF (bounded),
 * because close() with unread input makes the kernel send RST, which can destroy the response
 * in flight before the client reads it.
 */
void baton__conn_close(struct baton__conn *c, bool graceful)
{
    if (c->state == CONN_CLOSED)
        return;
    if (!graceful) {
        hard_close(c); /* also cuts a lingering close short */
        return;
    }
    if (c->state == CONN_CLOSING)
        return;
    baton__conn_flush(c);
    if (c->state == CONN_CLOSED)
        return;
    if (c->writing) {
        c->close_after = true; /* output_drained() comes back here */
        return;
    }
    if (c->peer_eof || !c->must_linger) {
        hard_close(c);
        return;
    }
    set_state(c, CONN_CLOSING);
    c->linger_bytes = 0;
    move(c, LIST_LINGER);
    if (promote(c) < 0) {
        hard_close(c);
        return;
    }
    if (c->uring) {
        /* Nothing is being written (above): the write side can shut down at once. */
        if (shutdown(c->fd, SHUT_WR) < 0) {
            hard_close(c);
            return;
        }
    } else {
        if (!c->shutdown_req && !(c->shutdown_req = malloc(sizeof(*c->shutdown_req)))) {
            hard_close(c);
            return;
        }
        if (uv_shutdown(c->shutdown_req, (uv_stream_t *)c->tcp, on_shutdown) < 0) {
            hard_close(c);
            return;
        }
    }
    if (!c->reading && read_start(c) < 0)
        hard_close(c);
}

static void conn_abort(struct baton__conn *c)
{
    c->server->stats.errors++;
    hard_close(c);
}

void baton__conn_timeout(struct baton__conn *c)
{
    switch (c->list) {
    case LIST_HEAD:
        if (baton__parser_idle(&c->parser) && !c->in_request) {
            c->must_linger = true;
            baton__conn_close(c, true);
            return;
        }
        /* a request started too slowly */
        /* fall through */
    case LIST_BODY:
        c->server->stats.errors++;
        set_state(c, CONN_READING); /* the 408 answers a request */
        baton__response_write_error(c, 408);
        c->must_linger = true;
        baton__conn_close(c, true);
        return;
    case LIST_IDLE:
    case LIST_IDLE_SHRUNK:
    case LIST_GRACE:
        c->must_linger = true;
        baton__conn_close(c, true);
        return;
    case LIST_WRITE:
    case LIST_LINGER:
    default:
        conn_abort(c);
        return;
    }
}

void baton__conn_drain(struct baton__conn *c)
{
    if (c->state == CONN_IDLE && !c->writing)
        drain_idle(c);
}

size_t baton__conn_shrink(struct baton__conn *c)
{
    assert(c->list == LIST_IDLE);
    uint64_t since = c->since;
    assert(!c->in_request);
    size_t freed = baton__parser_footprint(&c->parser) + c->in.cap + c->wq.cap + c->wf.cap +
                   (c->ex ? sizeof(*c->ex) : 0);
    exchange_free(c);
    baton__parser_shrink(&c->parser);
    baton__buf_free(&c->in);
    baton__buf_free(&c->wq);
    baton__buf_free(&c->wf);
    move(c, LIST_IDLE_SHRUNK);
    c->since = since; /* the keep-alive timeout still counts from the last request */
    return freed;
}

void baton__conn_needs_close(struct baton__conn *c, bool unread_input)
{
    c->close_after = true;
    if (unread_input)
        c->must_linger = true;
}

void baton__conn_response_end(struct baton__conn *c)
{
    if (!c->dispatching)
        response_done(c);
}

bool baton__conn_dispatching(const struct baton__conn *c)
{
    return c->dispatching;
}

bool baton__conn_lost(const struct baton__conn *c)
{
    return c->zombie || c->state == CONN_CLOSED;
}

size_t baton__conn_queued(const struct baton__conn *c)
{
    return c->wq.len;
}

size_t baton__conn_memory(const struct baton__conn *c)
{
    return sizeof(*c) + (c->ex ? sizeof(*c->ex) : 0) + baton__parser_footprint(&c->parser) +
           c->in.cap + c->wq.cap + c->wf.cap + (c->write_req ? sizeof(*c->write_req) : 0) +
           (c->shutdown_req ? sizeof(*c->shutdown_req) : 0) + (c->tcp ? sizeof(*c->tcp) : 0);
}

/* ---- output -------------------------------------------------------------------------------- */

void baton__conn_emit(struct baton__conn *c, const void *p, size_t n)
{
    struct baton__server *s = c->server;
    if (c->state == CONN_CLOSED || c->state == CONN_CLOSING)
        return;
    int r;
    if (c->writing || c->wq.len) {
        r = baton__buf_append(&c->wq, p, n);
    } else {
        if (s->out_conn && s->out_conn != c)
            baton__conn_flush(s->out_conn);
        s->out_conn = c;
        r = baton__buf_append(&s->out, p, n);
    }
    if (r < 0)
        conn_abort(c);
}

static int start_write(struct baton__conn *c)
{
    nodelay(c); /* what the kernel did not take, or what queued behind it: a later write */
    if (c->uring) {
        c->wf_sent = 0;
        return arm_send(c);
    }
    uv_buf_t b = uv_buf_init(c->wf.data, (unsigned)c->wf.len);
    if (!c->write_req && !(c->write_req = malloc(sizeof(*c->write_req))))
        return -ENOMEM;
    int r = uv_write(c->write_req, (uv_stream_t *)c->tcp, &b, 1, on_write);
    if (r < 0)
        return r;
    c->writing = true;
    return 0;
}

int baton__conn_flush(struct baton__conn *c)
{
    struct baton__server *s = c->server;
    if (s->out_conn != c || s->out.len == 0)
        return 0;
    s->out_conn = NULL;
    const char *p = s->out.data;
    size_t len = s->out.len;
    int r = 0;
    if (c->writing) {
        r = baton__buf_append(&c->wq, p, len);
    } else {
        int n;
        /* A file body follows this head: MSG_MORE holds the head back until sendfile() adds
         * the body, so both leave in one segment. Without it, Nagle holds the body instead
         * until the client acknowledges the head, which it delays by 40 ms. */
        bool file_follows =
            c->in_request && c->ex->res.mode == RES_FILE && c->ex->res.file_left > 0;
        nodelay(c);
        if (c->uring && !file_follows) {
            /* Through the ring, submitted with this loop turn's other operations: the bytes
             * move to the connection's own buffer, which stays put until the send completes. */
            n = 0;
        } else if (c->raw || file_follows) {
            ssize_t w;
            do
                w = send(c->fd, p, len, MSG_NOSIGNAL | (file_follows ? MSG_MORE : 0));
            while (w < 0 && errno == EINTR);
            n = w >= 0 ? (int)w : errno == EAGAIN ? 0 : -errno;
        } else {
            uv_buf_t b = uv_buf_init((char *)p, (unsigned)len);
            n = uv_try_write((uv_stream_t *)c->tcp, &b, 1);
            if (n == UV_EAGAIN || n == UV_ENOSYS)
                n = 0;
        }
        if (n < 0) {
            r = n;
        } else {
            /* A corked head has not left: the file's first segment carries it. */
            c->wrote = c->wrote || (n > 0 && (!file_follows || (size_t)n < len));
            s->stats.bytes_out += (size_t)n;
            if ((size_t)n < len) {
                /* The kernel took part: the rest waits in the connection's own buffer. */
                r = baton__buf_append(&c->wf, p + n, len - (size_t)n);
                if (r == 0)
                    r = promote(c);
                if (r == 0)
                    r = start_write(c);
            }
        }
    }
    baton__buf_reset(&s->out);
    if (s->out.cap > BATON__OUTPUT_HIGH)
        baton__buf_free(&s->out);
    if (r < 0) {
        conn_abort(c);
        return r;
    }
    if (c->writing)
        move(c, LIST_WRITE);
    return 0;
}

/* Everything queued has been written: continue whatever waited for it. */
static void output_drained(struct baton__conn *c)
{
    if (c->state == CONN_CLOSED || c->state == CONN_CLOSING)
        return;
    if (c->in_request && c->ex->res.mode == RES_FILE) {
        file_send(c);
        return;
    }
    if (c->close_after && !c->in_request) {
        baton__conn_close(c, true);
        return;
    }
    if (c->state != CONN_RESPONDING && c->in.len) {
        process(c, c->in.data, c->in.len, false);
        return;
    }
    if (!c->reading && c->state != CONN_RESPONDING && !c->peer_eof)
        read_start(c);
    settle(c);
}

/* wf has been written: what queued behind it goes next, or whatever waited for the output. */
static void write_done(struct baton__conn *c)
{
    c->wrote = true;
    baton__buf_reset(&c->wf);
    if (c->state == CONN_CLOSED)
        return;
    if (c->wq.len) {
        struct baton_buf t = c->wf;
        c->wf = c->wq;
        c->wq = t;
        if (start_write(c) < 0)
            conn_abort(c);
        else
            move(c, LIST_WRITE); /* progress refreshes the send timeout */
        return;
    }
    /* Big buffers go back once written; small ones stay for the next response. */
    if (c->wf.cap > 16384)
        baton__buf_free(&c->wf);
    if (c->wq.cap > 16384)
        baton__buf_free(&c->wq);
    output_drained(c);
}

static void on_write(uv_write_t *req, int status)
{
    struct baton__conn *c = req->handle->data;
    c->writing = false;
    if (status < 0) {
        conn_abort(c);
        return;
    }
    c->server->stats.bytes_out += c->wf.len;
    write_done(c);
}

/* ---- files --------------------------------------------------------------------------------- */

static void on_file_writable(uv_poll_t *poll, int status, int events)
{
    struct baton__conn *c = poll->data;
    if (status < 0) {
        conn_abort(c);
        return;
    }
    file_send(c);
}

/*
 * libuv offers no sendfile on streams and allows one watcher per fd, so writability during a
 * file send is watched on a duplicate of the socket: epoll keys registrations by fd number, and
 * both refer to the same open socket.
 */
static int wait_writable(struct baton__conn *c)
{
    int r = promote(c);
    if (r < 0)
        return r;
    if (c->uring) {
        move(c, LIST_WRITE);
        return arm_pollout(c);
    }
    if (!c->file_poll) {
        int dup = fcntl(c->fd, F_DUPFD_CLOEXEC, 3);
        if (dup < 0)
            return -errno;
        uv_poll_t *poll = malloc(sizeof(*poll));
        if (!poll) {
            close(dup);
            return -ENOMEM;
        }
        r = uv_poll_init(c->server->loop, poll, dup);
        if (r < 0) {
            free(poll);
            close(dup);
            return r;
        }
        poll->data = c;
        c->file_poll = poll;
        c->file_poll_fd = dup;
    }
    move(c, LIST_WRITE);
    return uv_poll_start(c->file_poll, UV_WRITABLE, on_file_writable);
}

static void file_send(struct baton__conn *c)
{
    struct baton_response *res = &c->ex->res;
    int sock = c->fd;
    while (res->file_left > 0) {
        size_t chunk = res->file_left > (1u << 20) ? (1u << 20) : (size_t)res->file_left;
        nodelay(c);
        ssize_t n = sendfile(sock, res->file_fd, &res->file_offset, chunk);
        if (n > 0) {
            c->wrote = true;
            res->file_left -= (uint64_t)n;
            res->body_bytes += (uint64_t)n;
            c->server->stats.bytes_out += (uint64_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            if (wait_writable(c) < 0)
                conn_abort(c);
            return;
        }
        /* An error, or the file shrank under us: the promised length cannot be kept, and only
         * closing tells the client the response is incomplete. */
        conn_abort(c);
        return;
    }
    file_poll_stop(c);
    close(res->file_fd);
    res->file_fd = -1;
    res->mode = RES_DONE;
    if (!c->dispatching)
        response_done(c);
}

void baton__conn_file_start(struct baton__conn *c)
{
    struct baton_response *res = &c->ex->res;
    if (c->ex->req.head || res->file_left == 0 ||
        !(res->status >= 200 && res->status != 204 && res->status != 304)) {
        close(res->file_fd);
        res->file_fd = -1;
        res->mode = RES_DONE;
        return; /* dispatch sees RES_DONE and finishes synchronously */
    }
    set_state(c, CONN_RESPONDING);
    baton__conn_flush(c);
    /* The head must reach the socket before the file: when it is still being written,
     * output_drained() starts the file. */
    if (c->state == CONN_RESPONDING && !c->writing)
        file_send(c);
}

/* ---- input --------------------------------------------------------------------------------- */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct baton__conn *c = h->data;
    buf->base = c->server->read_buf;
    buf->len = BATON__READ_BUFFER;
}

static void stop_reading(struct baton__conn *c)
{
    if (c->reading && !c->raw) {
        /* With the ring, a receive is armed only while reading and stops being re-armed;
         * stop_reading() is called after its completion, with none in flight. */
        if (!c->uring)
            uv_read_stop((uv_stream_t *)c->tcp);
        c->reading = false;
    }
}

/* Starts reading (idempotent). Returns 0 or a libuv error. */
static int read_start(struct baton__conn *c)
{
    int r = c->uring ? arm_recv(c) : uv_read_start((uv_stream_t *)c->tcp, on_alloc, on_read);
    if (r == 0)
        c->reading = true;
    return r;
}

/* What a read brought: nread bytes at base, UV_EOF or an error. */
static void read_result(struct baton__conn *c, ssize_t nread, const char *base)
{
    if (c->state == CONN_CLOSING) {
        if (nread < 0) {
            hard_close(c); /* EOF (or error): the client has everything */
            return;
        }
        c->linger_bytes += (uint32_t)nread;
        if (c->linger_bytes > BATON__LINGER_BYTES)
            hard_close(c);
        return;
    }
    if (c->state == CONN_CLOSED)
        return;
    if (nread > 0) {
        process(c, base, (size_t)nread, true);
        return;
    }
    if (nread != UV_EOF) {
        conn_abort(c);
        return;
    }
    /* The client will send nothing more. Answer what it sent, then close. */
    c->peer_eof = true;
    stop_reading(c);
    if (c->state == CONN_READING && !c->in_request) {
        /* A request cut short can never complete. */
        if (!c->writing && !(c->server->out_conn == c))
            hard_close(c);
        else
            c->close_after = true;
        return;
    }
    if (c->in_request || c->writing || c->in.len) {
        c->close_after = true;
        return;
    }
    hard_close(c);
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    if (nread != 0)
        read_result(stream->data, nread, buf->base);
}

static void uring_recv_done(struct baton__conn *c, int res, unsigned flags)
{
    struct baton__uring *u = c->server->uring;
    bool lent = flags & IORING_CQE_F_BUFFER;
    unsigned bid = flags >> IORING_CQE_BUFFER_SHIFT;
    if (c->state != CONN_CLOSED) {
        if (res == -ENOBUFS || res == -EINTR || res == -EAGAIN) {
            /* ENOBUFS: every buffer was lent at once; they are back before this retry is
             * submitted at the end of the loop turn. */
        } else {
            read_result(c,
                        res > 0    ? res
                        : res == 0 ? UV_EOF
                                   : res,
                        lent ? baton__uring_buf(u, bid) : NULL);
        }
    }
    if (lent)
        baton__uring_buf_return(u, bid); /* process() copied what it keeps */
    if (c->state != CONN_CLOSED && c->reading && arm_recv(c) < 0)
        conn_abort(c);
}

static void uring_send_done(struct baton__conn *c, int res)
{
    if (c->state == CONN_CLOSED) {
        c->writing = false;
        return;
    }
    if (res < 0) {
        c->writing = false;
        conn_abort(c);
        return;
    }
    c->wf_sent += (size_t)res;
    c->server->stats.bytes_out += (size_t)res;
    if (res > 0)
        c->wrote = true;
    if (c->wf_sent < c->wf.len) {
        /* The kernel took part: send the rest (progress refreshes the send timeout). */
        if (arm_send(c) < 0) {
            c->writing = false;
            conn_abort(c);
        } else {
            move(c, LIST_WRITE);
        }
        return;
    }
    c->writing = false;
    c->wf_sent = 0;
    write_done(c);
}

void baton__conn_uring_complete(struct baton__conn *c, enum baton__uring_op op, int res,
                                unsigned flags)
{
    c->uring_ops--;
    switch (op) {
    case BATON__URING_RECV:
        c->recv_armed = false;
        uring_recv_done(c, res, flags);
        break;
    case BATON__URING_SEND:
        uring_send_done(c, res);
        break;
    case BATON__URING_POLLOUT:
        c->pollout_armed = false;
        if (c->state == CONN_CLOSED)
            break;
        if (res < 0)
            conn_abort(c);
        else
            file_send(c);
        break;
    }
    /* The last operation of a closed connection: its fd can go, and the connection with it. */
    if (c->state == CONN_CLOSED && c->uring_ops == 0)
        uring_reap(c);
}

/* Sends 100 Continue when a request announced a body with Expect and is waiting for it. */
static void maybe_continue(struct baton__conn *c)
{
    static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
    if (c->parser.expect_continue && !c->continue_sent && baton__parser_in_body(&c->parser) &&
        !c->close_after) {
        baton__conn_emit(c, cont, sizeof(cont) - 1);
        c->continue_sent = true;
    }
}

/* Answers the request just parsed: synchronously, or the response continues asynchronously. */
static void run_request(struct baton__conn *c)
{
    c->in_request = true;
    c->dispatching = true;
    enum baton__dispatch_result r = baton__dispatch(c);
    if (r == BATON__RESPONSE_DONE)
        response_done(c);
    else if (c->state < CONN_CLOSING)
        set_state(c, CONN_RESPONDING); /* the stream or file goes on from the loop */
    c->dispatching = false;
}

/*
 * Parses and answers every complete request in data. shared: data is the server's read buffer
 * (what is left over is copied into c->in); otherwise data is c->in itself.
 */
static void process(struct baton__conn *c, const char *data, size_t len, bool shared)
{
    size_t off = 0;
    while (off < len) {
        if (c->state == CONN_RESPONDING || c->close_after || c->state >= CONN_CLOSING)
            break;
        if (c->wq.len > BATON__OUTPUT_HIGH)
            break; /* the client does not read its answers: stop reading its requests */
        size_t used = 0;
        int r = baton__parser_execute(&c->parser, data + off, len - off, &used);
        if (r == BATON__PARSE_MORE) {
            off = len;
            set_state(c, baton__parser_idle(&c->parser) ? CONN_IDLE : CONN_READING);
            break;
        }
        if (r == BATON__PARSE_ERROR) {
            set_state(c, CONN_READING); /* the error answers a request */
            baton__response_write_error(c, c->parser.error_status);
            c->must_linger = true;
            off = len;
            break;
        }
        off += used;
        c->more_input = off < len;
        set_state(c, CONN_READING);
        if (!c->ex) {
            /* The request's objects, kept until the connection idles (baton__conn_shrink()). */
            if (!(c->ex = baton__slab_alloc(&c->server->ex_slab))) {
                conn_abort(c);
                return;
            }
            c->ex->res.file_fd = -1;
        }
        run_request(c);
    }
    if (c->state == CONN_CLOSED)
        return;
    size_t left = len - off;
    if (shared) {
        if (left && !c->close_after) {
            if (baton__buf_append(&c->in, data + off, left) < 0) {
                conn_abort(c);
                return;
            }
        } else if (left) {
            c->must_linger = true; /* input we will not answer */
        }
    } else {
        baton__buf_consume(&c->in, off);
        if (c->close_after && c->in.len) {
            c->must_linger = true;
            baton__buf_free(&c->in);
        } else if (c->in.len == 0 && c->in.cap > 4096) {
            baton__buf_free(&c->in);
        }
    }
    if (c->in.len)
        stop_reading(c); /* a response holds parsing: keep the rest where it is */
    maybe_continue(c);
    baton__conn_flush(c);
    if (c->state == CONN_CLOSED)
        return;
    if (c->close_after && !c->in_request && !c->writing) {
        baton__conn_close(c, true);
        return;
    }
    if (!c->raw && !c->reading && !c->in.len && c->state != CONN_RESPONDING && !c->peer_eof &&
        !c->close_after)
        read_start(c);
    settle(c);
}

/* A response has been handed over completely (synchronously or at the end of a stream or
 * file): end its request and move on to the next one. */
static void response_done(struct baton__conn *c)
{
    bool async = !c->dispatching;
    request_end(c, 1);
    if (c->zombie) {
        free_conn(c);
        return;
    }
    if (c->state == CONN_CLOSED || c->state == CONN_CLOSING)
        return;
    set_state(c, CONN_IDLE);
    c->served = true;
    if (!async)
        return; /* process() goes on with the next request */
    baton__conn_flush(c);
    if (c->state == CONN_CLOSED)
        return;
    if (c->writing) {
        settle(c);
        return; /* output_drained() continues */
    }
    output_drained(c);
}
