/* SPDX-License-Identifier: MIT */
/* The response builders of the handler API and the serialisation of responses onto the wire. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "common/http-status.h"
#include "common/json.h"
#include "http/internal.h"

/* The largest queue a streaming response may build up before writes are refused. */
#define STREAM_QUEUE_MAX (1024 * 1024)

void baton__response_reset(struct baton_response *res, struct baton__conn *c)
{
    struct baton__server *s = c->server;
    baton__buf_reset(&s->res_headers);
    baton__buf_reset(&s->res_body);
    res->conn = c;
    res->status = 200;
    res->mode = RES_OPEN;
    res->touched = false;
    res->has_type = false;
    res->close = false;
    res->headers = &s->res_headers;
    res->body = &s->res_body;
    res->body_bytes = 0;
    res->file_fd = -1;
    res->file_offset = 0;
    res->file_left = 0;
}

static bool body_allowed(int status)
{
    return status >= 200 && status != 204 && status != 304;
}

static bool is_tchar(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           (ch && strchr("!#$%&'*+-.^_`|~", ch) != NULL);
}

/* Appends a decimal number. */
static size_t put_u64(char *p, uint64_t v)
{
    char tmp[24];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++)
        p[i] = tmp[n - 1 - i];
    return n;
}

/* Whether this response ends the connection (decided when its head is written). */
static bool decide_close(struct baton_response *res)
{
    struct baton__conn *c = res->conn;
    if (res->close || c->close_after || !c->ex->req.keep_alive)
        return true;
    /* Draining: the last response to what the client already sent carries the close; answers
     * to pipelined requests already received go out before it. */
    return c->server->draining && !c->more_input;
}

void baton__response_write_head(struct baton_response *res, int64_t length)
{
    struct baton__conn *c = res->conn;
    struct baton__server *s = c->server;
    char head[256];
    size_t n;
    int status = res->status;

    res->close = decide_close(res);
    baton__server_update_date(s);
    if (status == 200) {
        memcpy(head, "HTTP/1.1 200 OK\r\n", 17);
        n = 17;
    } else {
        n = (size_t)snprintf(head, sizeof(head), "HTTP/1.1 %d %s\r\n", status,
                             baton__status_reason(status));
    }
    memcpy(head + n, "Server: baton\r\n", 15);
    n += 15;
    memcpy(head + n, s->date_line, s->date_len);
    n += s->date_len;
    baton__conn_emit(c, head, n);
    if (res->headers->len)
        baton__conn_emit(c, res->headers->data, res->headers->len);
    n = 0;
    if (body_allowed(status)) {
        if (length >= 0) {
            memcpy(head, "Content-Length: ", 16);
            n = 16 + put_u64(head + 16, (uint64_t)length);
            head[n++] = '\r';
            head[n++] = '\n';
        } else {
            memcpy(head, "Transfer-Encoding: chunked\r\n", 28);
            n = 28;
        }
    }
    if (res->close) {
        memcpy(head + n, "Connection: close\r\n", 19);
        n += 19;
        baton__conn_needs_close(c, false);
    } else if (c->ex->req.http_minor == 0) {
        memcpy(head + n, "Connection: keep-alive\r\n", 24);
        n += 24;
    }
    head[n++] = '\r';
    head[n++] = '\n';
    baton__conn_emit(c, head, n);
    if (status >= 100 && status < 600)
        s->stats.responses[status / 100]++;
}

void baton__response_write_all(struct baton_response *res)
{
    struct baton__conn *c = res->conn;
    baton__response_write_head(res, (int64_t)res->body->len);
    res->body_bytes = res->body->len;
    if (!c->ex->req.head && body_allowed(res->status) && res->body->len)
        baton__conn_emit(c, res->body->data, res->body->len);
    else
        res->body_bytes = c->ex->req.head ? 0 : res->body_bytes;
    res->mode = RES_DONE;
}

void baton__response_write_error(struct baton__conn *c, int status)
{
    struct baton__server *s = c->server;
    const char *reason = baton__status_reason(status);
    char buf[512];
    baton__server_update_date(s);
    int n = snprintf(buf, sizeof(buf),
                     "HTTP/1.1 %d %s\r\nServer: baton\r\n%.*sContent-Type: text/plain; "
                     "charset=utf-8\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s\n",
                     status, reason, (int)s->date_len, s->date_line, strlen(reason) + 1, reason);
    baton__conn_emit(c, buf, (size_t)n);
    baton__conn_needs_close(c, false);
    s->stats.responses[status / 100]++;
}

/* ---- the public API ------------------------------------------------------------------------ */

int baton_response_status(baton_response *res, int status)
{
    if (!res || status < 200 || status > 599)
        return -EINVAL;
    if (res->mode != RES_OPEN)
        return -EALREADY;
    res->status = status;
    res->touched = true;
    return 0;
}

int baton_response_header(baton_response *res, const char *name, const char *value)
{
    if (!res || !name || !value || !*name)
        return -EINVAL;
    if (res->mode != RES_OPEN)
        return -EALREADY;
    for (const char *p = name; *p; p++)
        if (!is_tchar((unsigned char)*p))
            return -EINVAL;
    for (const char *p = value; *p; p++)
        if (*p == '\r' || *p == '\n')
            return -EINVAL;
    /* Framing is the server's: a handler-set length or coding could contradict the body. */
    if (strcasecmp(name, "Content-Length") == 0 || strcasecmp(name, "Transfer-Encoding") == 0 ||
        strcasecmp(name, "Connection") == 0)
        return -EINVAL;
    if (strcasecmp(name, "Content-Type") == 0)
        res->has_type = true;
    struct baton_buf *h = res->headers;
    size_t mark = h->len;
    int r = baton__buf_puts(h, name);
    if (r >= 0)
        r = baton__buf_append(h, ": ", 2);
    if (r >= 0)
        r = baton__buf_puts(h, value);
    if (r >= 0)
        r = baton__buf_append(h, "\r\n", 2);
    if (r < 0) {
        h->len = mark;
        return r;
    }
    res->touched = true;
    return 0;
}

int baton_response_body(baton_response *res, const void *data, size_t len)
{
    if (!res || (!data && len))
        return -EINVAL;
    if (res->mode != RES_OPEN)
        return -EALREADY;
    baton__buf_reset(res->body);
    int r = baton__buf_append(res->body, data, len);
    if (r < 0)
        return r;
    res->touched = true;
    return 0;
}

int baton_response_printf(baton_response *res, const char *format, ...)
{
    if (!res || !format)
        return -EINVAL;
    if (res->mode != RES_OPEN)
        return -EALREADY;
    va_list ap;
    va_start(ap, format);
    int r = baton__buf_vprintf(res->body, format, ap);
    va_end(ap);
    if (r < 0)
        return r;
    res->touched = true;
    return 0;
}

static int typed_body(baton_response *res, int status, const char *type, const char *text)
{
    if (!res || !text)
        return -EINVAL;
    int r = baton_response_status(res, status);
    if (r < 0)
        return r;
    if (!res->has_type) {
        r = baton_response_header(res, "Content-Type", type);
        if (r < 0)
            return r;
    }
    return baton_response_body(res, text, strlen(text));
}

int baton_response_text(baton_response *res, int status, const char *text)
{
    return typed_body(res, status, "text/plain; charset=utf-8", text);
}

int baton_response_json(baton_response *res, int status, const char *json)
{
    return typed_body(res, status, "application/json", json);
}

int baton_response_json_string(baton_response *res, const char *s)
{
    if (!res || !s)
        return -EINVAL;
    if (res->mode != RES_OPEN)
        return -EALREADY;
    int r = baton__json_string(res->body, s, (size_t)-1);
    if (r < 0)
        return r;
    res->touched = true;
    return 0;
}

int baton_response_file(baton_response *res, int fd, off_t offset, uint64_t length)
{
    if (!res || fd < 0 || offset < 0) {
        if (fd >= 0)
            close(fd);
        return -EINVAL;
    }
    if (res->mode != RES_OPEN) {
        close(fd);
        return -EALREADY;
    }
    if (res->file_fd >= 0)
        close(res->file_fd);
    baton__buf_reset(res->body);
    res->file_fd = fd;
    res->file_offset = offset;
    res->file_left = length;
    res->touched = true;
    return 0;
}

int baton_response_stream_start(baton_response *res)
{
    if (!res)
        return -EINVAL;
    if (res->mode != RES_OPEN)
        return -EALREADY;
    struct baton__conn *c = res->conn;
    if (!body_allowed(res->status))
        return -EINVAL;
    res->touched = true;
    baton__response_write_head(res, -1);
    res->mode = RES_STREAMING;
    if (!baton__conn_dispatching(c))
        baton__conn_flush(c);
    return 0;
}

int baton_response_stream_write(baton_response *res, const void *data, size_t len)
{
    if (!res || (!data && len))
        return -EINVAL;
    if (res->mode != RES_STREAMING)
        return -EINVAL;
    struct baton__conn *c = res->conn;
    if (baton__conn_lost(c))
        return -EPIPE;
    if (len == 0 || c->ex->req.head)
        return 0;
    if (baton__conn_queued(c) > STREAM_QUEUE_MAX)
        return -ENOBUFS;
    char size[24];
    int n = snprintf(size, sizeof(size), "%zx\r\n", len);
    baton__conn_emit(c, size, (size_t)n);
    baton__conn_emit(c, data, len);
    baton__conn_emit(c, "\r\n", 2);
    res->body_bytes += len;
    if (!baton__conn_dispatching(c))
        baton__conn_flush(c);
    return 0;
}

int baton_response_stream_end(baton_response *res)
{
    if (!res)
        return -EINVAL;
    if (res->mode != RES_STREAMING)
        return -EINVAL;
    struct baton__conn *c = res->conn;
    res->mode = RES_DONE;
    bool lost = c->zombie; /* the end of the stream frees a connection closed under it */
    if (!lost && !c->ex->req.head)
        baton__conn_emit(c, "0\r\n\r\n", 5);
    baton__conn_response_end(c);
    return lost ? -EPIPE : 0;
}

int baton_response_get_status(const baton_response *res)
{
    return res ? res->status : -EINVAL;
}

uint64_t baton_response_body_size(const baton_response *res)
{
    if (!res)
        return 0;
    if (res->mode == RES_OPEN)
        return res->file_fd >= 0 ? res->file_left : res->body->len;
    return res->body_bytes;
}
