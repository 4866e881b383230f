/* SPDX-License-Identifier: MIT */
/*
 * The workers' notify socket: one datagram socket in the abstract namespace, named in each
 * worker's NOTIFY_SOCKET. Every message is attributed to its sender by the credentials the
 * kernel attaches (SO_PASSCRED), never by what the message says, so readiness is always that
 * of the new generation's own processes.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/log.h"
#include "common/xmalloc.h"
#include "supervisor/internal.h"

/* The largest datagram accepted, as systemd's notify socket (longer ones are dropped). */
#define NOTIFY_MAX 4096
/* File descriptors a message may carry (FDSTORE=1); they are closed at once. */
#define NOTIFY_MAX_FDS 16

static bool key_is(const char *line, size_t len, const char *key, const char **ret_value,
                   size_t *ret_len)
{
    size_t k = strlen(key);
    if (len < k || memcmp(line, key, k) != 0)
        return false;
    *ret_value = line + k;
    *ret_len = len - k;
    return true;
}

static bool parse_errno(const char *v, size_t n, int *ret)
{
    int value = 0;
    if (n == 0 || n > 4)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9')
            return false;
        value = value * 10 + (v[i] - '0');
    }
    *ret = value;
    return true;
}

int baton__notify_parse(const char *data, size_t len, struct baton_notify_msg *ret)
{
    struct baton_notify_msg m = {0};
    if (memchr(data, '\0', len))
        return -EINVAL;
    size_t pos = 0;
    while (pos < len) {
        const char *line = data + pos;
        const char *nl = memchr(line, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - line) : len - pos;
        const char *v;
        size_t vn;
        pos += n + (nl ? 1 : 0);
        if (key_is(line, n, "READY=", &v, &vn))
            m.ready = vn == 1 && v[0] == '1';
        else if (key_is(line, n, "RELOADING=", &v, &vn))
            m.reloading = vn == 1 && v[0] == '1';
        else if (key_is(line, n, "STOPPING=", &v, &vn))
            m.stopping = vn == 1 && v[0] == '1';
        else if (key_is(line, n, "WATCHDOG=", &v, &vn))
            m.watchdog = vn == 1 && v[0] == '1';
        else if (key_is(line, n, "STATUS=", &v, &vn)) {
            m.has_status = true;
            m.status = v;
            m.status_len = vn;
        } else if (key_is(line, n, "ERRNO=", &v, &vn)) {
            m.has_errno = parse_errno(v, vn, &m.err);
        } else if (key_is(line, n, "BATON_STATS=", &v, &vn)) {
            m.has_stats = true;
            m.stats = v;
            m.stats_len = vn;
        }
    }
    *ret = m;
    return 0;
}

static void on_notify(uv_poll_t *h, int status, int events)
{
    baton__notify_drain(h->data);
}

int baton__notify_open(struct baton_supervisor *sup)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    unsigned char rnd[8];
    int one = 1;
    int fd = -1, r;

    if (getrandom(rnd, sizeof(rnd), GRND_NONBLOCK) != (ssize_t)sizeof(rnd)) {
        uint64_t t = baton__clock_now_ms() ^ ((uint64_t)getpid() << 32);
        memcpy(rnd, &t, sizeof(rnd));
    }
    snprintf(sup->notify_name, sizeof(sup->notify_name),
             "@baton/%ld/%02x%02x%02x%02x%02x%02x%02x%02x", (long)getpid(), rnd[0], rnd[1], rnd[2],
             rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
    /* An abstract socket: nothing on disk to clean up, reachable whatever user a worker runs
     * as; only credentials of our own workers are accepted. */
    size_t n = strlen(sup->notify_name);
    memcpy(sa.sun_path + 1, sup->notify_name + 1, n - 1);
    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -errno;
    if (bind(fd, (struct sockaddr *)&sa, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n)) <
            0 ||
        setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) < 0) {
        r = -errno;
        close(fd);
        return r;
    }
    if ((r = baton__notify_adopt(sup, fd)) < 0)
        close(fd);
    return r;
}

int baton__notify_adopt(struct baton_supervisor *sup, int fd)
{
    int r = uv_poll_init(sup->loop, &sup->notify_poll, fd);
    if (r < 0)
        return r;
    sup->notify_fd = fd;
    sup->notify_poll.data = sup;
    return uv_poll_start(&sup->notify_poll, UV_READABLE, on_notify);
}

static void apply(struct baton_supervisor *sup, struct baton_worker *w,
                  const struct baton_notify_msg *m)
{
    uint64_t now = baton__clock_now_ms();
    long gen = w->gen->id;
    if (m->has_status) {
        free(w->status);
        w->status = baton__xstrndup(m->status, m->status_len);
        baton__log_at(BATON_LOG_DEBUG, gen, w->pid, "STATUS=%s", w->status);
    }
    if (m->has_stats) {
        /* A report that does not parse or goes backwards is ignored (and counted): totals
         * stay monotonic whatever a worker sends. */
        struct baton_counters c;
        int r = baton__counters_parse(m->stats, m->stats_len, &c);
        if (r == 0 && baton__counters_monotonic(&w->counters, &c)) {
            w->counters = c;
        } else {
            sup->gens.stats_refused++;
            baton__log_at(BATON_LOG_DEBUG, gen, w->pid, "BATON_STATS ignored: %s",
                          r < 0 ? "malformed" : "a counter went down");
        }
    }
    if (m->stopping)
        baton__log_at(BATON_LOG_DEBUG, gen, w->pid, "worker is stopping");
    if (m->reloading)
        baton__gens_worker_reloading(&sup->gens, w);
    /* ERRNO= before READY=1: a reload that failed reports both, and the failure wins. */
    if (m->has_errno)
        baton__gens_worker_errno(&sup->gens, w, m->err, now);
    if (m->ready)
        baton__gens_worker_ready(&sup->gens, w, now);
}

static void close_fds(struct msghdr *mh)
{
    for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < n; i++) {
            int fd;
            memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
            close(fd);
        }
    }
}

/* A message from a process that is not a worker. When it belongs to a worker's process group
 * (every worker leads its own), the worker is a wrapper that forked the server instead of
 * exec'ing it: readiness can never be attributed, so say so where a user looks. */
static void foreign(struct baton_supervisor *sup, pid_t pid)
{
    pid_t group = getpgid(pid);
    struct baton_worker *w = group > 0 ? baton__gens_find(&sup->gens, group) : NULL;
    if (!w) {
        baton__log(BATON_LOG_DEBUG, "notify: message from pid %ld ignored: not a worker",
                   (long)pid);
        return;
    }
    if (w->foreign_child != pid)
        baton__log_at(BATON_LOG_WARNING, w->gen->id, w->pid,
                      "notify: message from pid %ld ignored: it is not the worker but a process "
                      "it started; a wrapper script must `exec` the server",
                      (long)pid);
    baton__gens_worker_foreign(&sup->gens, w, pid);
}

void baton__notify_drain(struct baton_supervisor *sup)
{
    char data[NOTIFY_MAX];
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(sizeof(int) * NOTIFY_MAX_FDS)];
    } control;

    /* Bounded per call so a flood of datagrams cannot starve the loop. */
    for (int i = 0; i < 256; i++) {
        struct iovec iov = {.iov_base = data, .iov_len = sizeof(data)};
        struct msghdr mh = {.msg_iov = &iov,
                            .msg_iovlen = 1,
                            .msg_control = control.buf,
                            .msg_controllen = sizeof(control.buf)};
        ssize_t n = recvmsg(sup->notify_fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC | MSG_TRUNC);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return;
        }
        close_fds(&mh);
        struct ucred cred = {0};
        bool have_cred = false;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
            if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS &&
                c->cmsg_len == CMSG_LEN(sizeof(struct ucred))) {
                memcpy(&cred, CMSG_DATA(c), sizeof(cred));
                have_cred = true;
            }
        }
        if ((size_t)n > sizeof(data) || (mh.msg_flags & MSG_CTRUNC) || !have_cred) {
            baton__log(BATON_LOG_DEBUG, "notify: message dropped (too long or no credentials)");
            continue;
        }
        struct baton_worker *w = baton__gens_find(&sup->gens, cred.pid);
        if (!w) {
            foreign(sup, cred.pid);
            continue;
        }
        struct baton_notify_msg m;
        if (baton__notify_parse(data, (size_t)n, &m) < 0) {
            baton__log_at(BATON_LOG_DEBUG, w->gen->id, w->pid, "notify: malformed message ignored");
            continue;
        }
        apply(sup, w, &m);
    }
}

void baton__notify_close(struct baton_supervisor *sup)
{
    if (sup->notify_fd < 0)
        return;
    uv_close((uv_handle_t *)&sup->notify_poll, NULL);
    close(sup->notify_fd); /* the poll handle is stopped: the fd may go */
    sup->notify_fd = -1;
}
