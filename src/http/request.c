/* SPDX-License-Identifier: MIT */
/* The request accessors of the handler API. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http/internal.h"
#include "http/uri.h"

const char *baton_request_method(const baton_request *req)
{
    return req ? req->method : NULL;
}

const char *baton_request_path(const baton_request *req)
{
    return req ? req->path : NULL;
}

const char *baton_request_query_string(const baton_request *req)
{
    return req ? req->query : NULL;
}

const char *baton_request_query(const baton_request *req, const char *name)
{
    if (!req || !name)
        return NULL;
    return baton__uri_query_get(req->arena, req->query, name);
}

const char *baton_request_header(const baton_request *req, const char *name)
{
    if (!req || !name)
        return NULL;
    size_t n = strlen(name);
    const struct baton__header *first = NULL;
    size_t total = 0;
    unsigned count = 0;
    for (unsigned i = 0; i < req->nheaders; i++) {
        const struct baton__header *h = &req->headers[i];
        if (h->name_len == n && strncasecmp(h->name, name, n) == 0) {
            if (!first)
                first = h;
            total += h->value_len + 2;
            count++;
        }
    }
    if (count <= 1)
        return first ? first->value : NULL;
    /* Repeated fields are one list (RFC 9110 5.3): join them, once, in the request's arena. */
    char *joined = baton__arena_alloc(req->arena, total + 1);
    if (!joined)
        return first->value;
    size_t o = 0;
    for (unsigned i = 0; i < req->nheaders; i++) {
        const struct baton__header *h = &req->headers[i];
        if (h->name_len == n && strncasecmp(h->name, name, n) == 0) {
            if (o) {
                memcpy(joined + o, ", ", 2);
                o += 2;
            }
            memcpy(joined + o, h->value, h->value_len);
            o += h->value_len;
        }
    }
    joined[o] = '\0';
    return joined;
}

int baton_request_header_at(const baton_request *req, size_t i, const char **name,
                            const char **value)
{
    if (!req || i >= req->nheaders)
        return 0;
    if (name)
        *name = req->headers[i].name;
    if (value)
        *value = req->headers[i].value;
    return 1;
}

const char *baton_request_param(const baton_request *req, const char *name)
{
    if (!req || !name)
        return NULL;
    for (unsigned i = 0; i < req->nparams; i++)
        if (strcmp(req->params[i].name, name) == 0)
            return req->params[i].value;
    return NULL;
}

const char *baton_request_body(const baton_request *req, size_t *len)
{
    if (!req) {
        if (len)
            *len = 0;
        return NULL;
    }
    if (len)
        *len = req->body_len;
    return req->body;
}

const char *baton_request_peer(const baton_request *req)
{
    if (!req)
        return NULL;
    if (req->peer)
        return req->peer;
    struct sockaddr_storage ss;
    char host[64] = "unknown";
    int port = 0;
    socklen_t slen = sizeof(ss);
    if (getpeername(req->conn->fd, (struct sockaddr *)&ss, &slen) == 0) {
        if (ss.ss_family == AF_INET) {
            struct sockaddr_in *in = (struct sockaddr_in *)&ss;
            uv_ip4_name(in, host, sizeof(host));
            port = ntohs(in->sin_port);
        } else if (ss.ss_family == AF_INET6) {
            struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
            host[0] = '[';
            uv_ip6_name(in6, host + 1, sizeof(host) - 2);
            strcat(host, "]");
            port = ntohs(in6->sin6_port);
        } else if (ss.ss_family == AF_UNIX) {
            snprintf(host, sizeof(host), "unix");
        }
    }
    char buf[80];
    int n = port ? snprintf(buf, sizeof(buf), "%s:%d", host, port)
                 : snprintf(buf, sizeof(buf), "%s", host);
    ((baton_request *)req)->peer = baton__arena_strndup(req->arena, buf, (size_t)n);
    return req->peer ? req->peer : "unknown";
}

/* An X-Request-Id worth keeping: 1-128 characters of [A-Za-z0-9._:-]. */
static int sane_id(const char *v)
{
    size_t n = strlen(v);
    if (n == 0 || n > 128)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char ch = v[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '.' || ch == '_' || ch == ':' || ch == '-'))
            return 0;
    }
    return 1;
}

const char *baton_request_id(const baton_request *req)
{
    if (!req)
        return NULL;
    if (req->id)
        return req->id;
    baton_request *r = (baton_request *)req;
    const char *given = baton_request_header(req, "X-Request-Id");
    if (given && sane_id(given)) {
        r->id = given;
        return r->id;
    }
    char buf[48];
    struct baton__server *s = req->conn->server;
    int n = snprintf(buf, sizeof(buf), "%x-%u-%llx", (unsigned)getpid(), s->config.generation,
                     (unsigned long long)++s->request_counter);
    r->id = baton__arena_strndup(req->arena, buf, (size_t)n);
    return r->id ? r->id : "-";
}

void *baton_request_data(const baton_request *req)
{
    return req ? req->data : NULL;
}

void baton_request_set_data(baton_request *req, void *data)
{
    if (req)
        req->data = data;
}
