/* SPDX-License-Identifier: MIT */
/*
 * readyapp's HTTP side: non-blocking connections that answer every request with the same
 * small response, with keep-alive, pipelining, and a drain that loses no request.
 */
#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "readyapp.h"

#define LINGER_MS 1000 /* how long a closing connection may take to send its EOF */

struct conn conns[MAX_CONNS];
int n_conns;
struct stats stats;
const char *http_body = "Hello";
int http_status = 200;

long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void http_conn_close(struct conn *c)
{
    close(c->fd);
    *c = conns[--n_conns]; /* keep the array dense; the caller re-examines slot c */
}

/*
 * Ends a connection at a request boundary without losing the last response: shut down our
 * write side, then wait for the client's EOF. A plain close() with unread input in the
 * receive buffer sends a reset, which can destroy the response before the client reads it.
 */
static void conn_linger(struct conn *c)
{
    shutdown(c->fd, SHUT_WR);
    c->lingering = 1;
    c->linger_deadline = now_ms() + LINGER_MS;
}

static void respond(struct conn *c, int status, const char *reason, int head, int keep)
{
    const char *gen = getenv("BATON_GENERATION");
    size_t body_len = strlen(http_body) + 1;
    int n;

    n = snprintf(c->out, sizeof(c->out),
                 "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
                 "X-Pid: %d\r\nX-Generation: %s\r\nConnection: %s\r\n\r\n%s%s",
                 status, reason, body_len, (int)getpid(), gen ? gen : "",
                 keep ? "keep-alive" : "close", head ? "" : http_body, head ? "" : "\n");
    c->out_len = n < 0 || (size_t)n >= sizeof(c->out) ? sizeof(c->out) - 1 : (size_t)n;
    c->out_sent = 0;
    c->close_after = !keep;
    stats.requests++;
    *(status < 300   ? &stats.responses_2xx
      : status < 500 ? &stats.responses_4xx
                     : &stats.responses_5xx) += 1;
}

/* Finds header `name` in a request head; returns its value (up to CRLF) or NULL. */
static const char *header(const char *head, const char *name, size_t *ret_len)
{
    size_t nlen = strlen(name);

    for (const char *p = strstr(head, "\r\n"); p != NULL; p = strstr(p + 2, "\r\n")) {
        const char *line = p + 2, *end = strstr(line, "\r\n");

        if (end == NULL)
            end = line + strlen(line); /* the last line: the head ends in a NUL, not CRLF */
        if (end == line)
            return NULL;
        if (strncasecmp(line, name, nlen) == 0 && line[nlen] == ':') {
            const char *v = line + nlen + 1;
            while (*v == ' ' || *v == '\t')
                v++;
            *ret_len = (size_t)(end - v);
            return v;
        }
    }
    return NULL;
}

/* Answers the request at the start of c->in when its head is complete. Returns 1 if it did. */
static int handle_request(struct conn *c, int draining)
{
    char *end = memmem(c->in, c->len, "\r\n\r\n", 4), *line_end;
    const char *v;
    size_t head_len, vlen;
    int keep, head;

    if (end == NULL) {
        if (c->len == sizeof(c->in)) {
            respond(c, 431, "Request Header Fields Too Large", 0, 0);
            c->len = 0;
            return 1;
        }
        return 0;
    }
    *end = '\0';
    head_len = (size_t)(end - c->in) + 4;
    head = strncmp(c->in, "HEAD ", 5) == 0;
    line_end = strstr(c->in, "\r\n");
    line_end = line_end != NULL ? line_end : end;
    /* HTTP/1.1 keeps the connection open unless told otherwise; HTTP/1.0 closes it. */
    keep = line_end - c->in >= 9 && memcmp(line_end - 9, " HTTP/1.1", 9) == 0;
    v = header(c->in, "Connection", &vlen);
    if (v != NULL && vlen == 5 && strncasecmp(v, "close", 5) == 0)
        keep = 0;
    if (v != NULL && vlen == 10 && strncasecmp(v, "keep-alive", 10) == 0)
        keep = 1;
    if (header(c->in, "Transfer-Encoding", &vlen) != NULL) {
        respond(c, 501, "Not Implemented", head, 0);
        c->len = 0;
        return 1;
    }
    v = header(c->in, "Content-Length", &vlen);
    c->skip = v != NULL ? strtoull(v, NULL, 10) : 0;
    /* Draining: this is the request boundary at which the connection ends. */
    respond(c, http_status, http_status == 200 ? "OK" : "Test Status", head, keep && !draining);
    memmove(c->in, c->in + head_len, c->len - head_len);
    c->len -= head_len;
    return 1;
}

int http_conn_io(struct conn *c, short revents, int draining)
{
    if (c->lingering) {
        char sink[4096];
        ssize_t n = read(c->fd, sink, sizeof(sink));
        return n > 0 || (n < 0 && errno == EAGAIN) ? 0 : -1;
    }
    if (revents & (POLLIN | POLLHUP | POLLERR)) {
        ssize_t n = read(c->fd, c->in + c->len, sizeof(c->in) - c->len);

        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
            if (n < 0)
                stats.errors++;
            return -1;
        }
        if (n > 0) {
            stats.bytes_in += (unsigned long long)n;
            c->len += (size_t)n;
        }
    }
    for (;;) {
        while (c->out_sent < c->out_len) {
            ssize_t n = send(c->fd, c->out + c->out_sent, c->out_len - c->out_sent, MSG_NOSIGNAL);
            if (n < 0) {
                if (errno == EAGAIN)
                    return 0;
                stats.errors++;
                return -1;
            }
            c->out_sent += (size_t)n;
            stats.bytes_out += (unsigned long long)n;
        }
        c->out_len = c->out_sent = 0;
        if (c->close_after) {
            conn_linger(c);
            return 0;
        }
        if (c->skip > 0) {
            size_t k = c->skip < c->len ? (size_t)c->skip : c->len;
            memmove(c->in, c->in + k, c->len - k);
            c->len -= k;
            c->skip -= k;
            if (c->skip > 0)
                return 0;
        }
        if (!handle_request(c, draining))
            break;
    }
    if (c->len == 0)
        c->idle_since = now_ms();
    return 0;
}

void http_accept(int lfd)
{
    while (n_conns < MAX_CONNS) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

        if (fd < 0) {
            if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
                stats.errors++;
            return;
        }
        memset(&conns[n_conns], 0, offsetof(struct conn, in));
        conns[n_conns].fd = fd;
        conns[n_conns].idle_since = now_ms();
        n_conns++;
    }
}

void http_sweep(long long now, int draining, long long drain_start, long grace_ms)
{
    /* From the last: closing a connection moves the last one into its slot. */
    for (int i = n_conns - 1; i >= 0; i--) {
        struct conn *c = &conns[i];
        long long idle_from = c->idle_since > drain_start ? c->idle_since : drain_start;

        if (c->lingering && now >= c->linger_deadline)
            http_conn_close(c);
        /* Idle for the whole grace since the drain began: no request is on its way. */
        else if (draining && !c->lingering && c->len == 0 && c->out_len == 0 && c->skip == 0 &&
                 now - idle_from >= grace_ms)
            http_conn_close(c);
    }
}
