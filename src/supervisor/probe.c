/* SPDX-License-Identifier: MIT */
/*
 * app.probe (DESIGN.md "Observability"): each worker gets one more inherited listener, named
 * `probe`, last in the fd order: a loopback TCP socket private to that worker, bound here before
 * its spawn. The supervisor keeps only the port (spawn.c closes its copy once the worker has
 * it): no fd is held per worker, and once the worker is gone a probe is refused rather than
 * left waiting in a queue nobody accepts from.
 *
 * A probe is `GET <path> HTTP/1.1` with Host and Connection: close, sent over a non-blocking
 * libuv connection from the supervisor's own loop, bounded in time (app.probe.timeout) and in
 * what it reads (the status line, within PROBE_HEAD_MAX bytes). Its answer passes when the
 * status is app.probe.expect. Two users: the readiness of a new worker (after READY=1, before it
 * counts as ready: baton__probe_worker(), the machine's ops->probe), and probation, which asks
 * every ready worker of the new generation again every app.probe.interval (the watch below).
 *
 * Each probe is its own allocation with two handles (its connection and its timer); it is freed
 * in the second close callback, so an answer can be delivered and the owner may cancel anything
 * from inside the callback without a handle being freed under libuv.
 */
#include <errno.h>
#include <stdarg.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/duration.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "supervisor/internal.h"

/* The most of a response read: the status line must be within it. */
#define PROBE_HEAD_MAX 8192
/* The longest request path sent (config.c allows up to 1024 bytes). */
#define PROBE_PATH_MAX 1024

struct baton_probe {
    struct baton_probe *next; /* sup->probes: every probe in flight */
    struct baton_supervisor *sup;
    pid_t pid;
    long gen;
    char path[PROBE_PATH_MAX + 1];
    unsigned expect;
    uint64_t timeout_ms;
    baton_probe_done done;
    void *data;
    bool finished; /* the answer is known (or cancelled): nothing more is read or said */
    int open_handles;
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_connect_t connect;
    uv_write_t write;
    char request[PROBE_PATH_MAX + 128];
    char head[PROBE_HEAD_MAX];
    size_t len;
};

int baton__probe_listener(int *ret_fd, unsigned short *ret_port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), r;

    if (fd < 0)
        return -errno;
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 16) < 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &len) < 0) {
        r = -errno;
        close(fd);
        return r;
    }
    *ret_fd = fd;
    *ret_port = ntohs(sa.sin_port);
    return 0;
}

/* n bytes of an answer for a message: control bytes as '?', cut with "..." to fit. */
static const char *excerpt(const char *s, size_t n, char *buf, size_t size)
{
    size_t k = 0;
    for (size_t i = 0; i < n && k + 1 < size; i++)
        buf[k++] = (unsigned char)s[i] < 0x20 || (unsigned char)s[i] >= 0x7f ? '?' : s[i];
    buf[k] = '\0';
    if (k < n && size > 4)
        memcpy(buf + size - 4, "...", 4);
    return buf;
}

static void on_closed(uv_handle_t *h)
{
    struct baton_probe *p = h->data;
    if (--p->open_handles == 0)
        free(p);
}

/* Takes p out of the list and closes its handles; it is freed once both closed. */
static void retire(struct baton_probe *p)
{
    struct baton_probe **pp = &p->sup->probes;
    while (*pp && *pp != p)
        pp = &(*pp)->next;
    if (*pp)
        *pp = p->next;
    p->finished = true;
    uv_timer_stop(&p->timer);
    uv_close((uv_handle_t *)&p->timer, on_closed);
    uv_close((uv_handle_t *)&p->tcp, on_closed);
}

/* The answer: said once, after p is retired (the callback may cancel other probes, or stop the
 * watch that started this one). */
static void answer(struct baton_probe *p, bool ok, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void answer(struct baton_probe *p, bool ok, const char *fmt, ...)
{
    char what[256], text[PROBE_PATH_MAX + 320];
    va_list ap;

    if (p->finished)
        return;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    snprintf(text, sizeof(text), "probe GET %s on worker %ld: %s", p->path, (long)p->pid, what);
    struct baton_supervisor *sup = p->sup;
    baton_probe_done done = p->done;
    void *data = p->data;
    pid_t pid = p->pid;
    long gen = p->gen;
    retire(p);
    done(sup, pid, gen, ok, text, data);
}

static void on_timeout(uv_timer_t *t)
{
    struct baton_probe *p = t->data;
    char d[32];
    answer(p, false, "timed out after %s", baton__duration_format(p->timeout_ms, d, sizeof(d)));
}

/* Judges the status line once it is complete ("HTTP/1.1 200 OK\r\n"). */
static void judge(struct baton_probe *p)
{
    char *eol = memchr(p->head, '\n', p->len);
    if (!eol) {
        if (p->len == sizeof(p->head))
            answer(p, false, "no status line in the first %d bytes", PROBE_HEAD_MAX);
        return;
    }
    size_t n = (size_t)(eol - p->head);
    if (n && p->head[n - 1] == '\r')
        n--;
    const char *s = p->head;
    if (n < 12 || strncmp(s, "HTTP/1.", 7) != 0 || s[8] != ' ' || s[9] < '1' || s[9] > '5' ||
        s[10] < '0' || s[10] > '9' || s[11] < '0' || s[11] > '9' || (n > 12 && s[12] != ' ')) {
        char ex[64];
        excerpt(s, n, ex, sizeof(ex));
        answer(p, false, "not an HTTP response: '%s'", ex);
        return;
    }
    unsigned status = (unsigned)((s[9] - '0') * 100 + (s[10] - '0') * 10 + (s[11] - '0'));
    char reason[80];
    excerpt(n > 13 ? s + 13 : "", n > 13 ? n - 13 : 0, reason, sizeof(reason));
    if (status == p->expect)
        answer(p, true, "%u%s%s", status, reason[0] ? " " : "", reason);
    else
        answer(p, false, "%u%s%s (expected %u)", status, reason[0] ? " " : "", reason, p->expect);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct baton_probe *p = h->data;
    buf->base = p->head + p->len;
    buf->len = sizeof(p->head) - p->len;
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    struct baton_probe *p = s->data;
    if (p->finished || n == 0)
        return;
    if (n < 0) {
        if (n == UV_EOF)
            answer(p, false, "connection closed before a status line");
        else
            answer(p, false, "%s", uv_strerror((int)n));
        return;
    }
    p->len += (size_t)n;
    judge(p);
}

static void on_write(uv_write_t *req, int status)
{
    struct baton_probe *p = req->data;
    if (p->finished || status == 0)
        return;
    answer(p, false, "sending the request: %s", uv_strerror(status));
}

static void on_connect(uv_connect_t *req, int status)
{
    struct baton_probe *p = req->data;
    if (p->finished)
        return;
    if (status < 0) {
        answer(p, false, "%s",
               status == UV_ECONNREFUSED ? "connection refused (nothing listens)"
                                         : uv_strerror(status));
        return;
    }
    uv_buf_t buf = uv_buf_init(p->request, (unsigned)strlen(p->request));
    p->write.data = p;
    int r = uv_write(&p->write, (uv_stream_t *)&p->tcp, &buf, 1, on_write);
    if (r == 0)
        r = uv_read_start((uv_stream_t *)&p->tcp, on_alloc, on_read);
    if (r < 0)
        answer(p, false, "%s", uv_strerror(r));
}

/* A failure before anything went out: said from the loop's next turn (a timer at 0), never
 * from inside baton__probe_start(). */
static void on_early_failure(uv_timer_t *t)
{
    struct baton_probe *p = t->data;
    answer(p, false, "%s", p->head);
}

struct baton_probe *baton__probe_start(struct baton_supervisor *sup, const struct baton_worker *w,
                                       baton_probe_done done, void *data)
{
    const struct baton_config *c = w->gen->config;
    struct baton_probe *p = baton__xcalloc(1, sizeof(*p));
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int r;

    p->sup = sup;
    p->pid = w->pid;
    p->gen = w->gen->id;
    snprintf(p->path, sizeof(p->path), "%s", c->app.probe.path ? c->app.probe.path : "/");
    p->expect = c->app.probe.expect;
    p->timeout_ms = c->app.probe.timeout_ms;
    p->done = done;
    p->data = data;
    snprintf(p->request, sizeof(p->request),
             "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%u\r\nUser-Agent: baton-probe\r\n"
             "Connection: close\r\n\r\n",
             p->path, (unsigned)w->probe_port);
    uv_tcp_init(sup->loop, &p->tcp);
    uv_timer_init(sup->loop, &p->timer);
    p->tcp.data = p->timer.data = p->connect.data = p;
    p->open_handles = 2;
    p->next = sup->probes;
    sup->probes = p;

    if (!w->probe_port) {
        snprintf(p->head, sizeof(p->head), "the worker has no probe listener");
        uv_timer_start(&p->timer, on_early_failure, 0, 0);
        return p;
    }
    sa.sin_port = htons(w->probe_port);
    r = uv_tcp_connect(&p->connect, &p->tcp, (const struct sockaddr *)&sa, on_connect);
    if (r < 0) {
        snprintf(p->head, sizeof(p->head), "connect: %s", uv_strerror(r));
        uv_timer_start(&p->timer, on_early_failure, 0, 0);
        return p;
    }
    uv_timer_start(&p->timer, on_timeout, p->timeout_ms, 0);
    return p;
}

void baton__probe_cancel(struct baton_probe *p)
{
    if (p && !p->finished)
        retire(p);
}

void baton__probe_close_all(struct baton_supervisor *sup)
{
    while (sup->probes)
        retire(sup->probes);
}

/* ---- readiness ------------------------------------------------------------------------------- */

static void on_ready_probe(struct baton_supervisor *sup, pid_t pid, long gen, bool ok,
                           const char *text, void *data)
{
    struct baton_worker *w = baton__gens_find(&sup->gens, pid);
    if (!w || w->gen->id != gen)
        return; /* gone meanwhile: its exit was handled */
    if (ok)
        baton__log_at(BATON_LOG_DEBUG, gen, pid, "%s", text);
    baton__gens_worker_probed(&sup->gens, w, ok, text, baton__clock_now_ms());
}

void baton__probe_worker(struct baton_supervisor *sup, struct baton_worker *w)
{
    baton__log_at(BATON_LOG_DEBUG, w->gen->id, w->pid, "READY=1: probing GET %s on port %u",
                  w->gen->config->app.probe.path, (unsigned)w->probe_port);
    baton__probe_start(sup, w, on_ready_probe, NULL);
}

/* ---- probation: every interval, every ready worker of one generation ---------------------------
 */

struct baton_probe_watch {
    struct baton_supervisor *sup;
    long gen;
    baton_probe_failed failed;
    void *data;
    unsigned pending; /* probes of this round still out */
    bool stopped;
    uv_timer_t timer;
};

static void on_watch_closed(uv_handle_t *h)
{
    free(h->data);
}

static void on_watch_probe(struct baton_supervisor *sup, pid_t pid, long gen, bool ok,
                           const char *text, void *data)
{
    struct baton_probe_watch *pw = data;
    pw->pending--;
    if (ok) {
        baton__log_at(BATON_LOG_DEBUG, gen, pid, "%s", text);
        return;
    }
    /* A worker that exited meanwhile is probation's other judge's (its exit) to report. */
    struct baton_worker *w = baton__gens_find(&sup->gens, pid);
    if (!w || w->state != BATON_WORKER_READY)
        return;
    baton_probe_failed failed = pw->failed;
    void *owner = pw->data;
    baton__probe_watch_stop(pw); /* the owner hears of one failure, once */
    failed(sup, text, owner);
}

static void on_watch_tick(uv_timer_t *t)
{
    struct baton_probe_watch *pw = t->data;
    struct baton_supervisor *sup = pw->sup;
    if (pw->stopped || pw->pending)
        return; /* the last round is still out (timeout longer than interval) */
    for (struct baton_generation *g = sup->gens.list; g; g = g->next) {
        if (g->id != pw->gen)
            continue;
        for (struct baton_worker *w = g->workers; w; w = w->next) {
            if (w->state != BATON_WORKER_READY)
                continue;
            pw->pending++;
            baton__probe_start(sup, w, on_watch_probe, pw);
        }
    }
}

struct baton_probe_watch *baton__probe_watch_start(struct baton_supervisor *sup, long gen,
                                                   baton_probe_failed failed, void *data)
{
    const struct baton_generation *g = NULL;
    for (const struct baton_generation *x = sup->gens.list; x; x = x->next)
        if (x->id == gen)
            g = x;
    if (!g || !g->config->app.probe.path)
        return NULL;
    struct baton_probe_watch *pw = baton__xcalloc(1, sizeof(*pw));
    pw->sup = sup;
    pw->gen = gen;
    pw->failed = failed;
    pw->data = data;
    uv_timer_init(sup->loop, &pw->timer);
    pw->timer.data = pw;
    uint64_t every = g->config->app.probe.interval_ms;
    uv_timer_start(&pw->timer, on_watch_tick, every, every);
    return pw;
}

void baton__probe_watch_stop(struct baton_probe_watch *pw)
{
    if (!pw || pw->stopped)
        return;
    pw->stopped = true;
    /* Its probes still out are forgotten: their answers would name a freed watch. */
    struct baton_probe *p = pw->sup->probes;
    while (p) {
        struct baton_probe *next = p->next;
        if (p->data == pw)
            retire(p);
        p = next;
    }
    uv_timer_stop(&pw->timer);
    uv_close((uv_handle_t *)&pw->timer, on_watch_closed);
}
