/* SPDX-License-Identifier: MIT */
/*
 * baton-web's HTTP core internals shared between its files: the server, its connections and the
 * request/response objects handlers see. Not installed.
 */
#ifndef BATON_HTTP_INTERNAL_H
#define BATON_HTTP_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

#include "baton/http.h"
#include "common/buf.h"
#include "http/parser.h"
#include "http/router.h"
#include "http/server.h"
#include "http/slab.h"

/* Output queued on one connection past which it stops parsing (and reading) more requests. */
#define BATON__OUTPUT_HIGH (256 * 1024)
/* The shared read buffer: one read takes up to this much. */
#define BATON__READ_BUFFER (64 * 1024)
/* A connection idle this long gives its buffers back. */
#define BATON__SHRINK_AFTER_MS 1000
/* Bytes discarded while lingering before the close. */
#define BATON__LINGER_BYTES (256 * 1024)

struct baton__conn;
struct baton__uring;

enum baton__res_mode {
    RES_OPEN,      /* the handler is filling it in */
    RES_STREAMING, /* headers sent; chunks follow */
    RES_FILE,      /* headers sent; a file range follows */
    RES_DONE,      /* everything handed to the connection */
};

struct baton__param {
    const char *name;
    const char *value;
};

/* The request and response objects handlers see (in the connection's exchange, below). They
 * are not the connection's state: dispatch.c and request.c fill the request,
 * response.c the response, and both reach the connection only through the conn.c API. */
struct baton_request {
    struct baton__conn *conn;
    struct baton__arena *arena; /* the request's memory (the parser's arena) */
    const char *method;
    const char *path;
    const char *query;
    const char *id;   /* lazily made */
    const char *peer; /* lazily made */
    struct baton__header *headers;
    unsigned nheaders;
    const char *body;
    size_t body_len;
    unsigned nparams;
    struct baton__param *params; /* in the request's arena */
    void *data;
    struct baton__owner *owner; /* pinned for the request's life */
    uint64_t start_ns;
    bool head;       /* HEAD: no body on the wire */
    bool keep_alive; /* the client keeps the connection */
    uint8_t http_minor;
};

struct baton_response {
    struct baton__conn *conn;
    int status;
    enum baton__res_mode mode;
    bool touched;              /* the handler set something */
    bool has_type;             /* Content-Type set */
    bool close;                /* Connection: close sent */
    struct baton_buf *headers; /* "Name: value\r\n"...: the server's shared buffer */
    struct baton_buf *body;    /* the server's shared buffer */
    uint64_t body_bytes;       /* body bytes queued so far (all modes) */
    int file_fd;
    off_t file_offset;
    uint64_t file_left;
};

/* The connection's state: the diagram and the allowed transitions are in conn.c (set_state). */
enum baton__conn_state {
    CONN_IDLE,       /* between requests: no byte of the next one yet */
    CONN_READING,    /* a request is arriving, or is being answered synchronously */
    CONN_RESPONDING, /* a stream or a file is being sent; further input waits */
    CONN_CLOSING,    /* shut down for writing; reading to EOF before the close */
    CONN_CLOSED,     /* uv_close() called */
};

/* Connections wait in one list per timeout; all in a list share a timeout, so each list is
 * ordered by deadline and the sweep only looks at the heads. */
enum baton__conn_list {
    LIST_NONE,
    LIST_IDLE,        /* keep-alive wait, buffers still held */
    LIST_IDLE_SHRUNK, /* keep-alive wait, buffers given back */
    LIST_HEAD,        /* header section arriving */
    LIST_BODY,        /* body arriving */
    LIST_WRITE,       /* output waiting for the client */
    LIST_BUSY,        /* a handler holds the response; no timeout */
    LIST_LINGER,      /* closing, reading to EOF */
    LIST_GRACE,       /* idle at drain: closed after a quiet grace period */
    LIST_COUNT,
};

struct baton__conn_link {
    struct baton__conn *prev, *next;
};

/* What a connection holds only while it serves requests: the request and response objects
 * handlers see. Attached at the connection's first request (from the server's exchange slab),
 * kept across the requests that follow, given back when the connection shrinks (idle) or is
 * freed: an idle connection does not carry them (docs/http-core.md, memory per connection). */
struct baton__exchange {
    struct baton_request req;
    struct baton_response res;
};

/* One client connection. Every field is written in conn.c only (the exchange's req and res
 * excepted, see above); other files read it or ask through the conn.c API below. Fields are
 * ordered by size and the flags are bits: every idle connection holds one of these, and
 * tests/unit/http/test-conn.c bounds its size. */
struct baton__conn {
    uv_tcp_t *tcp; /* allocated once promoted on the epoll backend (see conn.c) */
    struct baton__server *server;
    struct baton__conn_link link; /* in server->lists[list] */
    uint64_t since;               /* uv_now() when it entered its list */
    uint64_t deadline;            /* uv_now() past which the list's timeout fires */
    struct baton__parser parser;
    struct baton_buf in;         /* input not parsed yet (only while a response holds parsing) */
    struct baton_buf wq;         /* output queued behind the write in flight */
    struct baton_buf wf;         /* output of the write in flight */
    struct baton__exchange *ex;  /* the request and response; NULL until the first request and
                                    while shrunk (always set while in_request) */
    uv_write_t *write_req;       /* allocated at the first write that has to wait */
    uv_shutdown_t *shutdown_req; /* allocated for a lingering close */
    uv_poll_t *file_poll;        /* waits for writability during a file send */
    /* The io_uring backend (uring.c): the connection's I/O goes through the server's ring once
     * promoted (tcp is never initialised then). */
    size_t wf_sent;                /* bytes of wf the ring has sent so far */
    struct baton__conn *reap_next; /* in the ring's list of closed connections to free */
    int fd;
    int file_poll_fd;
    uint32_t linger_bytes; /* discarded while lingering (at most BATON__LINGER_BYTES + a read) */
    enum baton__conn_list list;
    enum baton__conn_state state;
    uint8_t uring_ops;      /* io_uring: operations in flight: the fd is closed and c freed at 0 */
    bool raw : 1;           /* not yet handed to libuv: served synchronously right after accept */
    bool writing : 1;       /* a uv_write is in flight */
    bool reading : 1;       /* uv_read_start is on */
    bool close_after : 1;   /* close once the output is written */
    bool must_linger : 1;   /* unread input may be on the way: shut down and read to EOF */
    bool peer_eof : 1;      /* the client finished sending */
    bool continue_sent : 1; /* 100 Continue sent for the current request */
    bool in_request : 1;    /* ex holds a dispatched request */
    bool dispatching : 1;   /* inside baton__dispatch() */
    bool more_input : 1;    /* bytes of another request follow the one being answered */
    bool zombie : 1;        /* closed while a streaming handler still holds the response */
    bool served : 1;        /* a response has been completed on this connection */
    bool wrote : 1;         /* output has gone out: a later write may meet Nagle (see nodelay()) */
    bool nodelay : 1;       /* TCP_NODELAY set (or tried) */
    bool uring : 1;         /* io_uring: I/O goes through the ring */
    bool recv_armed : 1;    /* io_uring: a receive is in flight */
    bool pollout_armed : 1; /* io_uring: a writability poll is in flight (file send) */
    bool reaped : 1;        /* io_uring: closed and queued to be freed at the end of the turn */
};

struct baton__listener {
    uv_poll_t poll; /* on wake_fd (exclusive wake-ups) or on fd itself */
    int fd;
    int wake_fd; /* an eventfd that only names the listener in the loop's epoll, or -1 */
    struct baton__server *server;
    bool active;
    bool registered;       /* fd is in the loop's epoll with EPOLLEXCLUSIVE */
    unsigned since_rotate; /* accepted since it was last registered (server.c, rotate()) */
};

struct baton__server {
    uv_loop_t *loop;
    struct baton__server_config config;
    struct baton__server_hooks hooks;
    struct baton__listener *listeners;
    size_t nlisteners;
    bool accepting;     /* listeners polled */
    bool accept_paused; /* at max connections or out of fds */
    bool out_of_fds;    /* the last accept failed with EMFILE or the like */
    bool draining;
    bool drained_called;
    bool closing;
    uv_timer_t sweep;        /* timeouts */
    uv_timer_t accept_retry; /* resumes accepting after EMFILE */
    uv_timer_t drain_deadline;
    struct baton__conn_link lists[LIST_COUNT];
    struct baton__router *router;
    struct baton__uring *uring;   /* the io_uring backend's ring, or NULL (epoll) */
    struct baton__slab conn_slab; /* connections (conn.c) */
    struct baton__slab ex_slab;   /* their requests and responses (conn.c) */
    struct baton__slab tcp_slab;  /* their libuv handles (the epoll backend) */
    struct baton_static *st;
    char *read_buf;               /* shared: connections read into it */
    struct baton_buf out;         /* shared: responses of the connection being processed */
    struct baton__conn *out_conn; /* whose bytes `out` holds */
    struct baton_buf res_headers; /* shared: headers of the response being built */
    struct baton_buf res_body;    /* shared: body of the response being built */
    struct baton__server_stats stats;
    uint64_t request_counter; /* for request ids */
    int early_read_score;     /* >= 0: reading right after accept usually finds the request */
    unsigned early_read_skips;
    time_t date_time;
    char date_line[48]; /* "Date: ... GMT\r\n" */
    size_t date_len;
};

/* conn.c: the connection's one owner. */

/* Serves a freshly accepted socket (takes ownership of fd): reads it at once and answers what is
 * there before libuv knows of it. Returns 0 or -errno (fd closed). */
int baton__conn_accept(struct baton__server *s, int fd);
/* Opens a connection on a connected socket (takes ownership of fd) and hands it to libuv at once,
 * without the early read: it is served from the loop. *ret stays valid until the connection
 * closes (the server frees it then). Returns 0 or -errno (fd closed). */
int baton__conn_open(struct baton__server *s, int fd, struct baton__conn **ret);
enum baton__conn_state baton__conn_state(const struct baton__conn *c);
/* The timeout of the list the connection waits in fired: 408, close, or abort (leaves the list). */
void baton__conn_timeout(struct baton__conn *c);
/* The server started draining: an idle connection moves to its drain list. */
void baton__conn_drain(struct baton__conn *c);
/* An idle connection gives its buffers back (moves to LIST_IDLE_SHRUNK, keeping its deadline).
 * Returns the bytes freed. */
size_t baton__conn_shrink(struct baton__conn *c);
/* Closes the connection (graceful: after the queued output, lingering when input may follow). */
void baton__conn_close(struct baton__conn *c, bool graceful);
/* Queues response bytes (in the server's shared output while nothing waits on this connection). */
void baton__conn_emit(struct baton__conn *c, const void *p, size_t n);
/* Writes what baton__conn_emit() queued. Returns 0 or -errno (the connection is aborted). */
int baton__conn_flush(struct baton__conn *c);
/* The response being written ends the connection ("Connection: close" sent, or a stream cut
 * short); unread_input: the client may still be sending, so the close lingers. */
void baton__conn_needs_close(struct baton__conn *c, bool unread_input);
/* A response that continued asynchronously (a stream) was ended by its handler: the request ends
 * and the connection goes on with the next one. Inside baton__dispatch() the return value says
 * it instead, so this does nothing there. */
void baton__conn_response_end(struct baton__conn *c);
/* True while the handler runs inside baton__dispatch() (output is flushed after it returns). */
bool baton__conn_dispatching(const struct baton__conn *c);
/* The client is gone: a streaming handler's writes fail with -EPIPE. */
bool baton__conn_lost(const struct baton__conn *c);
/* Bytes queued behind the write in flight (back pressure for streaming handlers). */
size_t baton__conn_queued(const struct baton__conn *c);
/* Sends the file of c->res after its head (sendfile; asynchronously when the socket is full).
 * On return res.mode is RES_DONE when everything went out (or no body was due). */
void baton__conn_file_start(struct baton__conn *c);
size_t baton__conn_memory(const struct baton__conn *c);

/* dispatch.c */
/* What baton__dispatch() tells the connection. */
enum baton__dispatch_result {
    BATON__RESPONSE_DONE,  /* the response is complete in the connection's output */
    BATON__RESPONSE_ASYNC, /* a stream or a file continues after dispatch returns */
};
/* Runs the request just parsed on c (routing, middleware, handler, static files, 500 recovery)
 * and serialises its response through baton__conn_emit(). */
enum baton__dispatch_result baton__dispatch(struct baton__conn *c);
/* The request of c ended (complete 0: its connection was lost): tells the program's hook,
 * releases the response's file and the module the request pinned. */
void baton__dispatch_end(struct baton__conn *c, int complete);

/* response.c */
void baton__response_reset(struct baton_response *res, struct baton__conn *c);
/* Serialises the status line and header section into the connection's output; close tells
 * whether Connection: close is sent. length < 0: chunked. */
void baton__response_write_head(struct baton_response *res, int64_t length);
/* Serialises a complete in-memory response (head and body). */
void baton__response_write_all(struct baton_response *res);
/* A minimal response for protocol errors (400, 408, 413, ...), always with Connection: close. */
void baton__response_write_error(struct baton__conn *c, int status);

/* server.c */
void baton__server_conn_closed(struct baton__server *s);
void baton__server_update_date(struct baton__server *s);
void baton__server_check_drained(struct baton__server *s);

#endif
