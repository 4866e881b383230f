/* SPDX-License-Identifier: MIT */
#include "cli/control-client.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "common/fd.h"
#include "common/xmalloc.h"

/* How long connect() may block when the supervisor's accept queue is full. */
#define CONNECT_TIMEOUT_S 10

/*
 * Fills sa with path. sun_path holds only 108 bytes; a longer path is reached through an O_PATH
 * descriptor of its directory, since the kernel resolves "/proc/self/fd/N/name" like any path.
 * *dirfd receives that descriptor, to be closed after connect().
 */
static int socket_address(const char *path, struct sockaddr_un *sa, int *dirfd)
{
    const char *slash;
    char *dir;
    int n;

    memset(sa, 0, sizeof(*sa));
    sa->sun_family = AF_UNIX;
    if (strlen(path) < sizeof(sa->sun_path)) {
        memcpy(sa->sun_path, path, strlen(path) + 1);
        return 0;
    }
    slash = strrchr(path, '/');
    if (!slash)
        return -ENAMETOOLONG;
    dir = baton__xstrndup(path, slash == path ? 1 : (size_t)(slash - path));
    *dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    free(dir);
    if (*dirfd < 0)
        return -errno;
    n = snprintf(sa->sun_path, sizeof(sa->sun_path), "/proc/self/fd/%d/%s", *dirfd, slash + 1);
    if (n < 0 || (size_t)n >= sizeof(sa->sun_path))
        return -ENAMETOOLONG;
    return 0;
}

int baton__control_connect(struct baton_control *c, const char *path)
{
    struct sockaddr_un sa;
    struct timeval tv = {.tv_sec = CONNECT_TIMEOUT_S};
    struct ucred cred;
    socklen_t cred_len = sizeof(cred);
    int fd = -1, dirfd = -1, r;

    memset(c, 0, sizeof(*c));
    c->fd = -1;
    c->path = path;
    c->in = (struct baton_buf)BATON_BUF_INIT(BATON_CONTROL_MAX_REPLY);

    if ((r = socket_address(path, &sa, &dirfd)) < 0)
        goto out;
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        r = -errno;
        goto out;
    }
    /* A blocking connect() to a UNIX socket whose accept queue is full waits for room; the
     * send timeout bounds that wait (it then fails with EAGAIN). */
    (void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        r = -errno;
        goto out;
    }
    tv.tv_sec = 0;
    (void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cred_len) == 0)
        c->peer_pid = cred.pid;
    c->fd = fd;
    fd = -1;
    r = 0;
out:
    baton__fd_closep(&fd);
    baton__fd_closep(&dirfd);
    return r;
}

int baton__control_send(struct baton_control *c, const char *json, size_t len)
{
    struct iovec iov[2] = {{(void *)json, len}, {"\n", 1}};
    struct msghdr msg = {.msg_iov = iov, .msg_iovlen = 2};
    size_t total = len + 1, sent = 0;

    while (sent < total) {
        /* MSG_NOSIGNAL: a supervisor that closed the connection is an error, not SIGPIPE. */
        ssize_t n = sendmsg(c->fd, &msg, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        sent += (size_t)n;
        while (n > 0 && msg.msg_iovlen > 0) {
            size_t step = (size_t)n < msg.msg_iov->iov_len ? (size_t)n : msg.msg_iov->iov_len;
            msg.msg_iov->iov_base = (char *)msg.msg_iov->iov_base + step;
            msg.msg_iov->iov_len -= step;
            n -= (ssize_t)step;
            if (msg.msg_iov->iov_len == 0) {
                msg.msg_iov++;
                msg.msg_iovlen--;
            }
        }
    }
    return 0;
}

int baton__control_read_line(struct baton_control *c, uint64_t deadline_ms, char **ret_line,
                             size_t *ret_len)
{
    char chunk[16384];

    if (c->taken) {
        baton__buf_consume(&c->in, c->taken);
        c->taken = 0;
    }
    for (;;) {
        char *nl = c->in.len ? memchr(c->in.data, '\n', c->in.len) : NULL;
        struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
        int timeout = -1, r;
        ssize_t n;

        if (nl) {
            *nl = '\0';
            *ret_line = c->in.data;
            *ret_len = (size_t)(nl - c->in.data);
            c->taken = *ret_len + 1;
            return 1;
        }
        if (c->fd < 0)
            return 0;
        if (deadline_ms) {
            uint64_t now = baton__clock_now_ms();
            if (now >= deadline_ms)
                return -ETIMEDOUT;
            timeout = deadline_ms - now > INT32_MAX ? INT32_MAX : (int)(deadline_ms - now);
        }
        r = poll(&pfd, 1, timeout);
        if (r < 0 && errno != EINTR)
            return -errno;
        if (r <= 0)
            continue;
        n = read(c->fd, chunk, sizeof(chunk));
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            return -errno;
        }
        if (n == 0) {
            baton__fd_closep(&c->fd);
            if (c->in.len == 0)
                return 0;
            /* The last line lacks its newline: hand it out as it is. */
            *ret_line = c->in.data;
            *ret_len = c->in.len;
            c->taken = c->in.len;
            return 1;
        }
        r = baton__buf_append(&c->in, chunk, (size_t)n);
        if (r == -ENOBUFS)
            return -EMSGSIZE;
        if (r < 0)
            return r;
    }
}

void baton__control_close(struct baton_control *c)
{
    baton__fd_closep(&c->fd);
    baton__buf_free(&c->in);
    c->taken = 0;
}

int baton__reply_parse(const char *line, size_t len, struct baton_doc **ret, struct baton_buf *err)
{
    struct baton_doc *doc = NULL;
    char msg[256];
    int r = baton__doc_parse(line, len, BATON_CONTROL_MAX_REPLY, BATON_CONTROL_MAX_REPLY_DEPTH,
                             &doc, msg, sizeof(msg));
    if (r == 0 && baton__doc_type(baton__doc_root(doc)) != BATON_DOC_OBJECT) {
        snprintf(msg, sizeof(msg), "a reply must be a JSON object");
        r = -EINVAL;
    }
    if (r < 0) {
        if (err)
            (void)baton__buf_puts(err, msg);
        baton__doc_free(doc);
        return r;
    }
    *ret = doc;
    return 0;
}
