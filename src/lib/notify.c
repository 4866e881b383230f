/* SPDX-License-Identifier: MIT */
/*
 * Readiness and status: systemd's notify protocol.
 *
 * NOTIFY_SOCKET names a datagram socket, either a filesystem path ("/run/baton/notify") or an
 * abstract one written with a leading '@'. Each message is one datagram of newline-separated
 * VAR=value assignments. The receiver learns who sent it from the kernel (SCM_CREDENTIALS), so
 * nothing here needs to name the sender.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "baton/baton.h"
#include "common/clock.h"
#include "internal.h"

/*
 * How long a send may wait for room in the receiver's queue. AF_UNIX datagrams block while the
 * receiver's queue is full (net.unix.max_dgram_qlen); a supervisor that stopped reading must
 * not freeze the application's event loop forever, yet a busy one must not lose READY=1.
 */
#define NOTIFY_SEND_TIMEOUT_MS 2000

/* Fills addr from NOTIFY_SOCKET's value. Returns the address length or -errno. */
static int notify_address(const char *name, struct sockaddr_un *addr)
{
    size_t len = strlen(name);

    memset(addr, 0, sizeof(*addr));
    addr->sun_family = AF_UNIX;
    if (name[0] == '@') {
        /* Abstract namespace: a leading NUL instead of '@', and the length counts exactly. */
        if (len < 2 || len > sizeof(addr->sun_path))
            return -EINVAL;
        memcpy(addr->sun_path + 1, name + 1, len - 1);
        return (int)(offsetof(struct sockaddr_un, sun_path) + len);
    }
    if (name[0] != '/')
        return -EAFNOSUPPORT; /* relative paths, vsock:..., and anything else */
    if (len >= sizeof(addr->sun_path))
        return -ENAMETOOLONG;
    memcpy(addr->sun_path, name, len);
    return (int)(offsetof(struct sockaddr_un, sun_path) + len + 1);
}

/* The send itself; flags MSG_DONTWAIT for a send that never waits for room. */
static int notify_send(const char *name, const char *state, const int *fds, size_t n_fds, int flags)
{
    struct timeval tv = {NOTIFY_SEND_TIMEOUT_MS / 1000, (NOTIFY_SEND_TIMEOUT_MS % 1000) * 1000};
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(int) * BATON__NOTIFY_MAX_FDS)];
    } control;
    struct sockaddr_un addr;
    struct iovec iov;
    struct msghdr msg;
    ssize_t n;
    int fd = -1, addrlen, r;

    if (state == NULL || *state == '\0' || n_fds > BATON__NOTIFY_MAX_FDS ||
        (n_fds > 0 && fds == NULL))
        return -EINVAL;
    for (size_t i = 0; i < n_fds; i++)
        if (fds[i] < 0)
            return -EBADF;
    if (name == NULL || *name == '\0')
        return 0;
    addrlen = notify_address(name, &addr);
    if (addrlen < 0)
        return addrlen;

    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0) {
        r = -errno;
        goto out;
    }

    iov.iov_base = (void *)state;
    iov.iov_len = strlen(state);
    memset(&msg, 0, sizeof(msg));
    msg.msg_name = &addr;
    msg.msg_namelen = (socklen_t)addrlen;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    if (n_fds > 0) {
        /* FDSTORE=1: the fds travel with the message (SCM_RIGHTS), in one control message. */
        memset(&control, 0, sizeof(control));
        msg.msg_control = control.buf;
        msg.msg_controllen = CMSG_SPACE(sizeof(int) * n_fds);
        struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * n_fds);
        memcpy(CMSG_DATA(c), fds, sizeof(int) * n_fds);
    }

    /* MSG_NOSIGNAL: a vanished receiver is an error to return, never a SIGPIPE. */
    n = sendmsg(fd, &msg, MSG_NOSIGNAL | flags);
    if (n < 0)
        r = -errno;
    else
        r = (size_t)n == iov.iov_len ? 1 : -EIO;
out:
    close(fd);
    return r;
}

int baton__notify_send(const char *name, const char *state, const int *fds, size_t n_fds)
{
    return notify_send(name, state, fds, n_fds, 0);
}

int baton__notify_try(const char *state)
{
    return notify_send(getenv("NOTIFY_SOCKET"), state, NULL, 0, MSG_DONTWAIT);
}

int baton_notify(const char *state)
{
    return baton__notify_send(getenv("NOTIFY_SOCKET"), state, NULL, 0);
}

/*
 * Formats prefix + format into buf; when replace_newlines is set, newlines the caller's text
 * holds become spaces so that it cannot smuggle extra assignments (STATUS=x\nREADY=1).
 */
__attribute__((format(printf, 5, 0))) static int format_message(char *buf, size_t size,
                                                                const char *prefix,
                                                                int replace_newlines,
                                                                const char *format, va_list ap)
{
    size_t plen = strlen(prefix);
    int n;

    if (format == NULL || plen >= size)
        return -EINVAL;
    memcpy(buf, prefix, plen);
    n = vsnprintf(buf + plen, size - plen, format, ap);
    if (n < 0)
        return -EINVAL;
    if ((size_t)n >= size - plen)
        return -EMSGSIZE;
    if (replace_newlines) {
        for (char *p = buf + plen; *p != '\0'; p++)
            if (*p == '\n' || *p == '\r')
                *p = ' ';
    }
    return 0;
}

/* Formats the message into a bounded buffer and sends it. */
__attribute__((format(printf, 3, 0))) static int
notify_formatted(const char *prefix, int replace_newlines, const char *format, va_list ap)
{
    char buf[BATON__NOTIFY_MAX];
    int r = format_message(buf, sizeof(buf), prefix, replace_newlines, format, ap);
    return r < 0 ? r : baton_notify(buf);
}

int baton_notifyf(const char *format, ...)
{
    va_list ap;
    va_start(ap, format);
    int r = notify_formatted("", 0, format, ap);
    va_end(ap);
    return r;
}

int baton_notify_status(const char *format, ...)
{
    va_list ap;
    va_start(ap, format);
    int r = notify_formatted("STATUS=", 1, format, ap);
    va_end(ap);
    return r;
}

int baton_notify_ready(void)
{
    return baton_notify("READY=1");
}

int baton_notify_stopping(void)
{
    return baton_notify("STOPPING=1");
}

int baton_notify_reloading(void)
{
    /* systemd's Type=notify-reload wants the CLOCK_MONOTONIC time the reload began. */
    return baton_notifyf("RELOADING=1\nMONOTONIC_USEC=%llu",
                         (unsigned long long)baton__clock_now_us());
}
