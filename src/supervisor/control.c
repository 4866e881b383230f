/* SPDX-License-Identifier: MIT */
/*
 * The control socket: a UNIX stream socket (mode 0600, or 0660 for control.group) where the
 * baton CLI sends one JSON request per line and reads progress events and one result per
 * request (/work/control-protocol.md, docs/architecture.md). Peers are checked by SO_PEERCRED;
 * every buffer a client can grow is bounded; a malformed request gets an error reply and
 * changes nothing.
 */
#include <errno.h>
#include <stdbool.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/address.h"
#include "common/fd.h"
#include "common/json.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "supervisor/internal.h"
#include "supervisor/observe.h"

#define REQUEST_MAX BATON_CONTROL_REQUEST_MAX
#define REPLY_MAX   BATON_CONTROL_REPLY_MAX
#define CLIENTS_MAX 64

struct baton_control_client {
    struct baton_control_client *next;
    struct baton_supervisor *sup;
    int fd;
    uv_poll_t poll;
    struct baton_buf in, out;
    bool busy;     /* its reload runs (or waits): later lines wait their turn */
    bool queued;   /* waiting for another transaction to end (--wait) */
    bool in_place; /* the queued reload is in place */
    bool refused;  /* refused, or past a too-long request: input dropped until the peer closes */
    bool dead;     /* closed; memory goes in the close callback */
    bool follow;   /* `baton logs -f`: gets every new log line until it closes */
    uint64_t wait_deadline_ms; /* queued with a timeout, 0: none */
};

static void process(struct baton_control_client *c);
static void on_client(uv_poll_t *h, int status, int events);

static void on_closed(uv_handle_t *h)
{
    struct baton_control_client *c = h->data;
    baton__buf_free(&c->in);
    baton__buf_free(&c->out);
    free(c);
}

static void client_close(struct baton_control_client *c)
{
    struct baton_supervisor *sup = c->sup;
    if (c->dead)
        return;
    c->dead = true;
    if (sup->tx_client == c)
        sup->tx_client = NULL; /* the transaction goes on; nobody hears its verdict */
    baton__deploy_client_gone(sup, c);
    for (struct baton_control_client **p = &sup->clients; *p; p = &(*p)->next) {
        if (*p == c) {
            *p = c->next;
            break;
        }
    }
    uv_poll_stop(&c->poll);
    close(c->fd);
    uv_close((uv_handle_t *)&c->poll, on_closed);
}

static void update_events(struct baton_control_client *c)
{
    int events = UV_READABLE;
    if (c->out.len)
        events |= UV_WRITABLE;
    uv_poll_start(&c->poll, events, on_client);
}

static void flush(struct baton_control_client *c)
{
    while (c->out.len) {
        ssize_t n = send(c->fd, c->out.data, c->out.len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (n < 0) {
            client_close(c);
            return;
        }
        baton__buf_consume(&c->out, (size_t)n);
    }
    if (c->refused && !c->out.len)
        shutdown(c->fd, SHUT_WR);
    update_events(c);
}

void baton__ctl_send(struct baton_control_client *c, const char *json, size_t len)
{
    if (!c || c->dead)
        return;
    if (baton__buf_append(&c->out, json, len) < 0 || baton__buf_append(&c->out, "\n", 1) < 0) {
        /* A client that doesn't read its replies is not worth the memory. */
        baton__log(BATON_LOG_WARNING, "control: client does not read its replies: closed");
        client_close(c);
        return;
    }
    flush(c);
}

static void reply_error(struct baton_control_client *c, const char *error, bool busy)
{
    struct baton_buf b = BATON_BUF_INIT(REPLY_MAX);
    baton__buf_puts(&b, "{");
    baton__json_kv_bool(&b, "ok", 0);
    if (busy)
        baton__json_kv_bool(&b, "busy", 1);
    baton__json_kv_str(&b, "error", error);
    baton__buf_puts(&b, "}");
    baton__ctl_send(c, b.data, b.len);
    baton__buf_free(&b);
}

/* One log line (a JSON object) to c, as {"event":"log","entry":{...}}. */
static void send_log_line(void *ctx, const char *json, size_t len)
{
    struct baton_control_client *c = ctx;
    struct baton_buf b = BATON_BUF_INIT(BATON_CONTROL_REPLY_MAX);
    baton__buf_puts(&b, "{\"event\":\"log\",\"entry\":");
    baton__buf_append(&b, json, len);
    baton__buf_puts(&b, "}");
    baton__ctl_send(c, b.data, b.len);
    baton__buf_free(&b);
}

void baton__ctl_follow_line(struct baton_supervisor *sup, const char *json, size_t len)
{
    struct baton_control_client *next;
    for (struct baton_control_client *c = sup->clients; c; c = next) {
        next = c->next; /* c may be closed: a follower that does not read is dropped */
        if (c->follow && !c->dead)
            send_log_line(c, json, len);
    }
}

/* Starts c's reload (or answers it); returns false when it has to wait. */
static bool try_reload(struct baton_control_client *c, bool in_place)
{
    c->busy = true;
    int r = baton__sup_reload(c->sup, c, in_place);
    if (r == 0)
        return true;
    c->busy = false;
    if (r == -EBUSY)
        return false;
    if (r == -EINPROGRESS) {
        char busy[160];
        baton__sup_busy_message(c->sup, busy, sizeof(busy));
        reply_error(c, busy, true);
        return true;
    }
    reply_error(c, "the supervisor is stopping", false);
    return true;
}

static void handle(struct baton_control_client *c, const struct baton_control_request *req)
{
    struct baton_supervisor *sup = c->sup;
    struct baton_buf b = BATON_BUF_INIT(REPLY_MAX);
    char busy[128];

    switch (req->cmd) {
    case BATON_CONTROL_PING:
        baton__buf_printf(&b, "{\"ok\":true,\"pid\":%ld,\"version\":\"%s\"}", (long)getpid(),
                          BATON_VERSION);
        baton__ctl_send(c, b.data, b.len);
        break;
    case BATON_CONTROL_STATUS:
        baton__status_json(sup, &b);
        baton__ctl_send(c, b.data, b.len);
        break;
    case BATON_CONTROL_RELOAD:
        if (try_reload(c, req->in_place))
            break;
        if (!req->wait) {
            baton__sup_busy_message(sup, busy, sizeof(busy));
            reply_error(c, busy, true);
            break;
        }
        c->busy = c->queued = true;
        c->in_place = req->in_place;
        c->wait_deadline_ms = req->timeout_ms ? baton__clock_now_ms() + req->timeout_ms : 0;
        break;
    case BATON_CONTROL_STOP:
        baton__ctl_send(c, "{\"ok\":true}", 11);
        baton__sup_stop(sup, req->fast);
        break;
    case BATON_CONTROL_DEPLOY:
    case BATON_CONTROL_ROLLBACK:
    case BATON_CONTROL_RELEASES:
        c->busy = true; /* until its result: baton__ctl_tx_done() */
        if (sup->gens.stopping)
            reply_error(c, "the supervisor is stopping", false), c->busy = false;
        else
            baton__deploy_request(sup, c, req);
        break;
    case BATON_CONTROL_LOGS: {
        /* The kept lines as events, then the reply; a follower then gets every new line as an
         * event until it closes (and sends no further request). */
        unsigned n = baton__logs_each(sup, send_log_line, c);
        baton__buf_printf(&b, "{\"ok\":true,\"lines\":%u}", n);
        baton__ctl_send(c, b.data, b.len);
        if (req->follow && !c->dead)
            c->follow = c->busy = true;
        break;
    }
    }
    baton__buf_free(&b);
}

/* The answer to an over-long request, then the end of the conversation: further input is
 * dropped and our side shut down, so the peer reads this reply rather than a reset. */
static void too_long(struct baton_control_client *c)
{
    baton__buf_reset(&c->in);
    c->refused = true;
    reply_error(c, "request too long", false);
}

/* Handles the complete lines in c's input, one request at a time. */
static void process(struct baton_control_client *c)
{
    if (c->refused) {
        baton__buf_reset(&c->in);
        return;
    }
    while (!c->dead && !c->busy) {
        char *nl = c->in.len ? memchr(c->in.data, '\n', c->in.len) : NULL;
        if (!nl) {
            if (c->in.len > REQUEST_MAX) {
                too_long(c);
            }
            return;
        }
        size_t len = (size_t)(nl - c->in.data);
        struct baton_control_request req;
        struct baton_buf err = BATON_BUF_INIT(1024);
        if (len > REQUEST_MAX) {
            too_long(c);
            return;
        }
        if (baton__control_request_parse(c->in.data, len, &req, &err) < 0) {
            reply_error(c, err.data ? err.data : "malformed request", false);
            baton__buf_consume(&c->in, len + 1);
        } else {
            baton__buf_consume(&c->in, len + 1);
            handle(c, &req);
        }
        baton__buf_free(&err);
    }
}

static void on_client(uv_poll_t *h, int status, int events)
{
    struct baton_control_client *c = h->data;
    char buf[8192];
    if (status < 0) {
        client_close(c);
        return;
    }
    if (events & UV_WRITABLE)
        flush(c);
    if (c->dead || !(events & UV_READABLE))
        return;
    for (int i = 0; i < 16 && !c->dead; i++) {
        ssize_t n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (n <= 0) {
            client_close(c);
            return;
        }
        if (baton__buf_append(&c->in, buf, (size_t)n) < 0) {
            too_long(c);
            return;
        }
        process(c);
    }
}

/*
 * With control.group the socket file is 0660 and owned by that group (baton__ctl_open): its
 * members may use it too. The group is read back from the file, so it survives a re-exec; a
 * peer belongs when it is its primary group or one of the supplementary groups the kernel lists
 * for the peer process (/proc/PID/status, no name service involved).
 */
static bool peer_in_group(const struct baton_supervisor *sup, const struct ucred *cred)
{
    struct stat st;
    if (!sup->control_path || stat(sup->control_path, &st) < 0 || !(st.st_mode & S_IRWXG))
        return false;
    if (cred->gid == st.st_gid)
        return true;
    char path[64], line[4096];
    snprintf(path, sizeof(path), "/proc/%ld/status", (long)cred->pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return false;
    bool found = false;
    while (!found && fgets(line, sizeof(line), f)) {
        if (strncmp(line, "Groups:", 7) != 0)
            continue;
        char *p = line + 7, *end;
        for (;;) {
            unsigned long g = strtoul(p, &end, 10);
            if (end == p)
                break;
            if ((gid_t)g == st.st_gid)
                found = true;
            p = end;
        }
        break;
    }
    fclose(f);
    return found;
}

/* How long accepting pauses when the supervisor is out of file descriptors. */
#define CONTROL_ACCEPT_RETRY_MS 100

static void on_accept(uv_poll_t *h, int status, int events)
{
    struct baton_supervisor *sup = h->data;
    for (int i = 0; i < 16; i++) {
        int fd = accept4(sup->control_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0) {
            /* Out of descriptors the connection stays queued and the socket stays readable:
             * stop watching it for a moment rather than spin (baton__ctl_tick resumes). */
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                if (!sup->control_retry_ms)
                    baton__log(BATON_LOG_WARNING, "control socket: accept: %s: pausing",
                               strerror(errno));
                uv_poll_stop(&sup->control_poll);
                sup->control_retry_ms = baton__clock_now_ms() + CONTROL_ACCEPT_RETRY_MS;
            }
            return;
        }
        unsigned count = 0;
        struct baton_control_client *idle = NULL; /* the oldest (the list is newest first) */
        for (struct baton_control_client *c = sup->clients; c; c = c->next) {
            count++;
            if (!c->busy && !c->queued && !c->in.len && !c->out.len)
                idle = c;
        }
        /* Full: the oldest connection that asks nothing makes room, so that connections left
         * idle (10,000 of them, in the torture test) never lock `baton reload` out. */
        if (count >= CLIENTS_MAX && idle) {
            static const char msg[] =
                "{\"ok\":false,\"error\":\"closed: idle, and too many control clients\"}\n";
            ssize_t r = send(idle->fd, msg, sizeof(msg) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
            (void)r;
            client_close(idle);
            count--;
        }
        if (count >= CLIENTS_MAX) {
            static const char msg[] = "{\"ok\":false,\"error\":\"too many control clients\"}\n";
            ssize_t r = send(fd, msg, sizeof(msg) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
            (void)r;
            close(fd);
            continue;
        }
        struct baton_control_client *c = baton__xcalloc(1, sizeof(*c));
        c->sup = sup;
        c->fd = fd;
        c->in.max = REQUEST_MAX + 1;
        c->out.max = REPLY_MAX;
        if (uv_poll_init(sup->loop, &c->poll, fd) < 0) {
            close(fd);
            free(c);
            continue;
        }
        c->poll.data = c;
        c->next = sup->clients;
        sup->clients = c;
        uv_poll_start(&c->poll, UV_READABLE, on_client);

        struct ucred cred = {.uid = (uid_t)-1};
        socklen_t len = sizeof(cred);
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 ||
            (cred.uid != getuid() && cred.uid != 0 && !peer_in_group(sup, &cred))) {
            char msg[128];
            snprintf(msg, sizeof(msg),
                     "{\"ok\":false,\"error\":\"permission denied: uid %ld is not allowed\"}",
                     (long)cred.uid);
            baton__log(BATON_LOG_WARNING, "control: refused a client of uid %ld", (long)cred.uid);
            /* Answered at once, then only read (and dropped) until the peer closes: closing
             * now would make its pending request write fail (EPIPE) before it reads why. */
            c->refused = true;
            baton__ctl_send(c, msg, strlen(msg));
        }
    }
}

int baton__ctl_open(struct baton_supervisor *sup, const struct baton_config *config)
{
    struct baton_address addr;
    const char *reason = NULL;
    char *text = baton__xasprintf("unix:%s", config->control.socket);
    int r = baton__address_parse(text, &addr, &reason);
    free(text);
    if (r < 0) {
        baton__log(BATON_LOG_ERROR, "control socket %s: %s", config->control.socket,
                   reason ? reason : "bad path");
        return r;
    }
    /* The socket file is created with the umask's mode: no moment where others may connect. */
    mode_t old = umask(config->control.group ? 0117 : 0177);
    int fd = baton__address_listen(&addr, 64);
    umask(old);
    if (fd < 0) {
        baton__log(BATON_LOG_ERROR, "control socket %s: %s", config->control.socket,
                   fd == -EADDRINUSE ? "another supervisor is running there" : strerror(-fd));
        return fd;
    }
    if (config->control.group) {
        struct group *gr = getgrnam(config->control.group);
        if (!gr || chown(config->control.socket, (uid_t)-1, gr->gr_gid) < 0) {
            r = gr ? -errno : -ESRCH;
            baton__log(BATON_LOG_ERROR, "control socket %s: group %s: %s", config->control.socket,
                       config->control.group, gr ? strerror(-r) : "no such group");
            close(fd);
            unlink(config->control.socket);
            return r;
        }
    }
    baton__fd_nonblock(fd, true);
    if ((r = baton__ctl_adopt(sup, fd, config->control.socket)) < 0) {
        close(fd);
        unlink(config->control.socket);
        return r;
    }
    baton__log(BATON_LOG_INFO, "control socket %s", sup->control_path);
    return 0;
}

int baton__ctl_adopt(struct baton_supervisor *sup, int fd, const char *path)
{
    int r = uv_poll_init(sup->loop, &sup->control_poll, fd);
    if (r < 0)
        return r;
    sup->control_fd = fd;
    sup->control_path = baton__xstrdup(path);
    sup->control_poll.data = sup;
    return uv_poll_start(&sup->control_poll, UV_READABLE, on_accept);
}

void baton__ctl_drop_clients(struct baton_supervisor *sup, const char *why)
{
    while (sup->clients) {
        struct baton_control_client *c = sup->clients;
        if (c->queued)
            reply_error(c, why, false);
        if (c->out.len) {
            ssize_t r = send(c->fd, c->out.data, c->out.len, MSG_NOSIGNAL | MSG_DONTWAIT);
            (void)r;
        }
        client_close(c);
    }
}

void baton__ctl_close(struct baton_supervisor *sup)
{
    while (sup->clients) {
        struct baton_control_client *c = sup->clients;
        /* Last words (a stop's reply) go out before the connection closes. */
        if (c->out.len) {
            ssize_t r = send(c->fd, c->out.data, c->out.len, MSG_NOSIGNAL | MSG_DONTWAIT);
            (void)r;
        }
        client_close(c);
    }
    if (sup->control_fd >= 0) {
        uv_close((uv_handle_t *)&sup->control_poll, NULL);
        close(sup->control_fd);
        sup->control_fd = -1;
        unlink(sup->control_path);
    }
    free(sup->control_path);
    sup->control_path = NULL;
}

void baton__ctl_tx_done(struct baton_supervisor *sup, struct baton_control_client *c)
{
    /* Only marks: the next request is read in baton__ctl_resume(), from the loop, so a
     * verdict given inside a request never recurses into the next one. */
    if (c && !c->dead)
        c->busy = false;
}

void baton__ctl_resume(struct baton_supervisor *sup)
{
    /* Queued reloads get their turn, longest waiting first (the list is newest first); one
     * answered at once (a configuration error) lets the next one go. */
    while (sup->gens.transition == BATON_TRANSITION_NONE) {
        struct baton_control_client *next = NULL;
        for (struct baton_control_client *q = sup->clients; q; q = q->next) {
            if (q->queued)
                next = q;
        }
        if (!next)
            break;
        next->queued = false;
        next->wait_deadline_ms = 0;
        if (!try_reload(next, next->in_place)) {
            next->queued = next->busy = true; /* not expected: nothing runs */
            break;
        }
    }
    struct baton_control_client *next;
    for (struct baton_control_client *c = sup->clients; c; c = next) {
        next = c->next;
        if (!c->busy && c->in.len)
            process(c);
    }
}

uint64_t baton__ctl_next_deadline(const struct baton_supervisor *sup)
{
    uint64_t next = sup->control_retry_ms ? sup->control_retry_ms : UINT64_MAX;
    for (const struct baton_control_client *c = sup->clients; c; c = c->next) {
        if (c->queued && c->wait_deadline_ms && c->wait_deadline_ms < next)
            next = c->wait_deadline_ms;
    }
    return next;
}

void baton__ctl_tick(struct baton_supervisor *sup, uint64_t now)
{
    struct baton_control_client *next;
    if (sup->control_retry_ms && sup->control_retry_ms <= now) {
        sup->control_retry_ms = 0;
        uv_poll_start(&sup->control_poll, UV_READABLE, on_accept);
    }
    for (struct baton_control_client *c = sup->clients; c; c = next) {
        next = c->next;
        if (!c->queued || !c->wait_deadline_ms || c->wait_deadline_ms > now)
            continue;
        char busy[128], msg[192];
        baton__sup_busy_message(sup, busy, sizeof(busy));
        snprintf(msg, sizeof(msg), "timed out waiting for the running transaction (%s)", busy);
        c->queued = c->busy = false;
        c->wait_deadline_ms = 0;
        reply_error(c, msg, false);
    }
}
