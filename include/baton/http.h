/* SPDX-License-Identifier: MIT */
/*
 * baton-web's handler API: what a handler module sees of a request and how it answers.
 *
 * A handler runs on the worker's single event-loop thread. It gets the request, fills in the
 * response and returns; the server sends it. Every string the API returns is NUL-terminated
 * and lives as long as the request (until the response has been sent): copy what must outlive
 * it. Handlers must not block: the loop serves every other connection of the worker.
 *
 * Errors follow the project's convention: 0 on success, a negative errno on failure.
 */
#ifndef BATON_HTTP_H
#define BATON_HTTP_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "baton/baton.h" /* BATON_EXTERN */

#ifdef __cplusplus
extern "C" {
#endif

typedef struct baton_request baton_request;
typedef struct baton_response baton_response;

/* ---- Requests ---------------------------------------------------------------------------- */

/* "GET", "POST", ... */
BATON_EXTERN const char *baton_request_method(const baton_request *req);
/* The decoded path, without the query: "/hello/world". Never contains NUL or "..". */
BATON_EXTERN const char *baton_request_path(const baton_request *req);
/* The raw query after '?', "" when none. */
BATON_EXTERN const char *baton_request_query_string(const baton_request *req);
/* The decoded value of query parameter `name` ('+' is a space, %XX decoded), or NULL. With
 * several occurrences, the first. */
BATON_EXTERN const char *baton_request_query(const baton_request *req, const char *name);
/* The value of header `name` (case-insensitive), or NULL. Repeated headers are joined by ", ". */
BATON_EXTERN const char *baton_request_header(const baton_request *req, const char *name);
/* Iterates headers: returns 1 and sets *name, *value for header i, 0 past the end. */
BATON_EXTERN int baton_request_header_at(const baton_request *req, size_t i, const char **name,
                                         const char **value);
/* The route parameter `name` of the matched route (":id" or "*rest"), decoded, or NULL. */
BATON_EXTERN const char *baton_request_param(const baton_request *req, const char *name);
/* The whole request body (dechunked), and its length; "" and 0 without a body. */
BATON_EXTERN const char *baton_request_body(const baton_request *req, size_t *len);
/* The peer address as text ("127.0.0.1:53412"). */
BATON_EXTERN const char *baton_request_peer(const baton_request *req);
/* A per-request id (the X-Request-Id header when the client sent a sane one, else generated). */
BATON_EXTERN const char *baton_request_id(const baton_request *req);
/* Per-request slot for middleware and handlers (e.g. a start time). */
BATON_EXTERN void *baton_request_data(const baton_request *req);
BATON_EXTERN void baton_request_set_data(baton_request *req, void *data);

/* ---- Responses --------------------------------------------------------------------------- */

/* Sets the status (default 200). */
BATON_EXTERN int baton_response_status(baton_response *res, int status);
/* Adds a header. Names and values with CR, LF or NUL are refused with -EINVAL. */
BATON_EXTERN int baton_response_header(baton_response *res, const char *name, const char *value);
/* Sets the body to a copy of `len` bytes (replacing any earlier body). */
BATON_EXTERN int baton_response_body(baton_response *res, const void *data, size_t len);
/* Appends printf-style text to the body. */
BATON_EXTERN int baton_response_printf(baton_response *res, const char *format, ...)
    __attribute__((format(printf, 2, 3)));
/* Shorthands: status + Content-Type + body. */
BATON_EXTERN int baton_response_text(baton_response *res, int status, const char *text);
BATON_EXTERN int baton_response_json(baton_response *res, int status, const char *json);
/* Appends `s` to the body as a JSON string literal (quoted and escaped). */
BATON_EXTERN int baton_response_json_string(baton_response *res, const char *s);
/*
 * Sends `length` bytes of file `fd` from `offset` as the body with sendfile(2). Takes ownership
 * of fd (closed after sending, or on error). The caller sets Content-Type and other headers.
 */
BATON_EXTERN int baton_response_file(baton_response *res, int fd, off_t offset, uint64_t length);

/*
 * Streaming: after baton_response_stream_start() the headers go out with
 * Transfer-Encoding: chunked; each baton_response_stream_write() sends one chunk, and
 * baton_response_stream_end() the last. A handler that streams may return before it ends the
 * stream and keep writing from later loop callbacks (timers, other I/O) while it holds the
 * response; the request stays pinned until the end.
 */
BATON_EXTERN int baton_response_stream_start(baton_response *res);
BATON_EXTERN int baton_response_stream_write(baton_response *res, const void *data, size_t len);
BATON_EXTERN int baton_response_stream_end(baton_response *res);
/* The response's current status (middleware after handlers). */
BATON_EXTERN int baton_response_get_status(const baton_response *res);
/* Body bytes queued so far (middleware after handlers, access logs). */
BATON_EXTERN uint64_t baton_response_body_size(const baton_response *res);

/* ---- Handlers, routes, middleware --------------------------------------------------------- */

/*
 * A handler fills in the response. Return 0 when handled. A negative return (or a handler that
 * set nothing) becomes a 500 with a generic body; the error is logged with the request id.
 */
typedef int (*baton_handler_fn)(baton_request *req, baton_response *res, void *data);

struct baton_route {
    const char *method;  /* "GET", "POST", ...; "*" for any method */
    const char *pattern; /* "/", "/hello/:name", "*path" as the last segment */
    baton_handler_fn handler;
    void *data; /* passed to the handler */
};

/*
 * Middleware runs around every handler: `before` in registration order (return non-zero to stop
 * the chain: the response as set is sent), `after` in reverse order once the handler returned
 * (it may add headers while they have not been sent).
 */
struct baton_middleware {
    const char *name;
    int (*before)(baton_request *req, baton_response *res, void *data);
    void (*after)(baton_request *req, baton_response *res, void *data);
    void *data;
};

#ifdef __cplusplus
}
#endif

#endif /* BATON_HTTP_H */
