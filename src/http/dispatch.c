/* SPDX-License-Identifier: MIT */
/* From a parsed request to a response: routing, middleware, handlers, static files, the
 * recovery of failed handlers into 500, and the end of a request. */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "baton/module.h"
#include "http/internal.h"
#ifdef BATON_HAVE_STATIC
#include "http/static.h"
#endif

static void fill_request(struct baton__conn *c)
{
    struct baton__parser *p = &c->parser;
    struct baton_request *req = &c->ex->req;
    req->conn = c;
    req->arena = &p->arena;
    req->method = p->method;
    req->path = p->path;
    req->query = p->query;
    req->id = NULL;
    req->peer = NULL;
    req->headers = p->headers;
    req->nheaders = p->nheaders;
    req->body = p->body.data ? p->body.data : "";
    req->body_len = p->body.len;
    req->nparams = 0;
    req->params = NULL;
    req->data = NULL;
    req->owner = NULL;
    req->start_ns = uv_hrtime();
    req->head = p->method[0] == 'H' && strcmp(p->method, "HEAD") == 0;
    req->keep_alive = p->keep_alive;
    req->http_minor = p->http_minor;
}

/* Replaces whatever the handler set with a generic 500 (only while nothing was sent). */
static void recover(struct baton__conn *c, const char *owner, int err)
{
    struct baton__server *s = c->server;
    struct baton_response *res = &c->ex->res;
    if (s->hooks.handler_error)
        s->hooks.handler_error(s->hooks.data, &c->ex->req, owner, err);
    if (res->mode == RES_STREAMING) {
        /* The head is out: only an unfinished chunked body can tell the client. */
        res->mode = RES_DONE;
        baton__conn_needs_close(c, true);
        return;
    }
    if (res->file_fd >= 0) {
        close(res->file_fd);
        res->file_fd = -1;
    }
    res->mode = RES_OPEN;
    baton__buf_reset(res->headers);
    res->has_type = false;
    baton_response_text(res, 500, "Internal Server Error\n");
}

static void run_chain(struct baton__conn *c, const struct baton__match *m)
{
    struct baton_request *req = &c->ex->req;
    struct baton_response *res = &c->ex->res;
    size_t n = 0;
    const struct baton_middleware *mws = baton__router_middleware(c->server->router, &n);
    size_t ran = 0;
    bool stopped = false;
    const char *owner = m->owner ? m->owner->name : "server";
    for (; ran < n && !stopped; ran++) {
        if (!mws[ran].before)
            continue;
        int r = mws[ran].before(req, res, mws[ran].data);
        if (r < 0) {
            recover(c, mws[ran].name, r);
            stopped = true;
        } else if (r > 0) {
            stopped = true;
            if (!res->touched && res->mode == RES_OPEN)
                recover(c, mws[ran].name, -EINVAL);
        }
    }
    if (!stopped) {
        /* "Set nothing" is about the handler: headers from middleware do not count. */
        bool touched_before = res->touched;
        res->touched = false;
        int r = m->handler(req, res, m->data);
        if (r < 0)
            recover(c, owner, r);
        else if (!res->touched && res->mode == RES_OPEN)
            recover(c, owner, -ENODATA);
        res->touched = res->touched || touched_before;
    }
    while (ran-- > 0)
        if (mws[ran].after)
            mws[ran].after(req, res, mws[ran].data);
}

static int set_params(struct baton__conn *c, const struct baton__match *m)
{
    struct baton_request *req = &c->ex->req;
    if (m->nparams == 0)
        return 0;
    req->params = baton__arena_alloc(req->arena, m->nparams * sizeof(*req->params));
    if (!req->params)
        return -ENOMEM;
    for (unsigned i = 0; i < m->nparams; i++) {
        const char *v =
            baton__arena_strndup(req->arena, req->path + m->params[i].start, m->params[i].len);
        if (!v)
            return -ENOMEM;
        /* The names too are copied: the router they come from may be swapped out (and
         * freed) while this request is still being answered. */
        const char *name =
            baton__arena_strndup(req->arena, m->params[i].name, strlen(m->params[i].name));
        if (!name)
            return -ENOMEM;
        req->params[i].name = name;
        req->params[i].value = v;
    }
    req->nparams = m->nparams;
    return 0;
}

static void answer_static_or_404(struct baton__conn *c)
{
    struct baton__server *s = c->server;
    struct baton_request *req = &c->ex->req;
    struct baton_response *res = &c->ex->res;
#ifdef BATON_HAVE_STATIC
    if (s->st && (req->head || strcmp(req->method, "GET") == 0)) {
        int r = baton__static_serve(s->st, req, res);
        if (r > 0)
            return;
        if (r < 0) {
            recover(c, "static", r);
            return;
        }
        baton__response_reset(res, c);
    }
#else
    (void)s;
    (void)req;
#endif
    baton_response_text(res, 404, "Not Found\n");
}

enum baton__dispatch_result baton__dispatch(struct baton__conn *c)
{
    struct baton__server *s = c->server;
    struct baton_response *res = &c->ex->res;
    struct baton__match m;
    char allow[256];

    fill_request(c);
    baton__response_reset(res, c);
    s->stats.requests++;

    switch (baton__router_match(s->router, c->ex->req.method, c->ex->req.path, &m, allow,
                                sizeof(allow))) {
    case BATON__ROUTE_FOUND:
        c->ex->req.owner = m.owner;
        baton__owner_ref(m.owner);
        if (set_params(c, &m) < 0)
            recover(c, "server", -ENOMEM);
        else
            run_chain(c, &m);
        break;
    case BATON__ROUTE_METHOD_NOT_ALLOWED:
        baton_response_header(res, "Allow", allow);
        baton_response_text(res, 405, "Method Not Allowed\n");
        break;
    default:
        answer_static_or_404(c);
        break;
    }

    if (res->mode == RES_OPEN) {
        if (res->file_fd >= 0) {
            baton__response_write_head(res, (int64_t)res->file_left);
            res->mode = RES_FILE;
            baton__conn_file_start(c); /* RES_DONE when the whole file went out at once */
        } else {
            baton__response_write_all(res);
        }
    }
    /* RES_DONE also covers a stream that ended inside the handler. */
    return res->mode == RES_DONE ? BATON__RESPONSE_DONE : BATON__RESPONSE_ASYNC;
}

void baton__dispatch_end(struct baton__conn *c, int complete)
{
    struct baton__server *s = c->server;
    if (s->hooks.request_done) {
        uint64_t us = (uv_hrtime() - c->ex->req.start_ns) / 1000;
        s->hooks.request_done(s->hooks.data, &c->ex->req, &c->ex->res, us, complete);
    }
    if (c->ex->res.file_fd >= 0) {
        close(c->ex->res.file_fd);
        c->ex->res.file_fd = -1;
    }
    baton__owner_unref(c->ex->req.owner);
    c->ex->req.owner = NULL;
}

void *baton_module_state(const baton_request *req)
{
    return req && req->owner ? req->owner->state : NULL;
}
