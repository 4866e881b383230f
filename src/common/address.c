/* SPDX-License-Identifier: MIT */
#include "common/address.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fd.h"

static int parse_port(const char *s, in_port_t *ret)
{
    char *end;
    if (!*s || strspn(s, "0123456789") != strlen(s))
        return -EINVAL;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || *end || v > 65535)
        return -EINVAL;
    *ret = htons((in_port_t)v);
    return 0;
}

static int parse_unix(const char *path, struct baton_address *addr, const char **ret_reason)
{
    size_t n = strlen(path);
    if (n == 0) {
        *ret_reason = "empty UNIX socket path";
        return -EINVAL;
    }
    if (n >= sizeof(addr->u.un.sun_path)) {
        *ret_reason = "UNIX socket path longer than 107 bytes";
        return -EINVAL;
    }
    addr->u.un.sun_family = AF_UNIX;
    memcpy(addr->u.un.sun_path, path, n + 1);
    addr->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
    return 0;
}

int baton__address_parse(const char *text, struct baton_address *addr, const char **ret_reason)
{
    const char *dummy;
    char host[256];
    const char *colon, *port_text;
    in_port_t port;

    if (!ret_reason)
        ret_reason = &dummy;
    memset(addr, 0, sizeof(*addr));
    if (!text || !*text) {
        *ret_reason = "empty address";
        return -EINVAL;
    }
    if (strncmp(text, "unix:", 5) == 0)
        return parse_unix(text + 5, addr, ret_reason);

    if (text[0] == '[') {
        const char *close = strchr(text, ']');
        if (!close || close[1] != ':') {
            *ret_reason = "expected [IPv6]:port";
            return -EINVAL;
        }
        size_t n = (size_t)(close - text - 1);
        if (n == 0 || n >= sizeof(host)) {
            *ret_reason = "bad IPv6 address";
            return -EINVAL;
        }
        memcpy(host, text + 1, n);
        host[n] = '\0';
        port_text = close + 2;
        if (parse_port(port_text, &port) < 0) {
            *ret_reason = "port must be a number from 0 to 65535";
            return -EINVAL;
        }
        if (inet_pton(AF_INET6, host, &addr->u.in6.sin6_addr) != 1) {
            *ret_reason = "bad IPv6 address";
            return -EINVAL;
        }
        addr->u.in6.sin6_family = AF_INET6;
        addr->u.in6.sin6_port = port;
        addr->len = sizeof(addr->u.in6);
        return 0;
    }

    colon = strrchr(text, ':');
    if (!colon) {
        *ret_reason = "expected host:port, [IPv6]:port, :port or unix:/path";
        return -EINVAL;
    }
    if (memchr(text, ':', (size_t)(colon - text))) {
        *ret_reason = "IPv6 addresses must be written in brackets: [::1]:8080";
        return -EINVAL;
    }
    if (parse_port(colon + 1, &port) < 0) {
        *ret_reason = "port must be a number from 0 to 65535";
        return -EINVAL;
    }
    size_t n = (size_t)(colon - text);
    if (n >= sizeof(host)) {
        *ret_reason = "host name too long";
        return -EINVAL;
    }
    memcpy(host, text, n);
    host[n] = '\0';

    addr->u.in.sin_family = AF_INET;
    addr->u.in.sin_port = port;
    addr->len = sizeof(addr->u.in);
    if (n == 0) {
        addr->u.in.sin_addr.s_addr = htonl(INADDR_ANY);
        return 0;
    }
    if (inet_pton(AF_INET, host, &addr->u.in.sin_addr) == 1)
        return 0;

    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    if (getaddrinfo(host, NULL, &hints, &res) != 0 || !res) {
        *ret_reason = "host name does not resolve";
        return -EINVAL;
    }
    memcpy(&addr->u, res->ai_addr, res->ai_addrlen);
    addr->len = res->ai_addrlen;
    if (addr->u.sa.sa_family == AF_INET)
        addr->u.in.sin_port = port;
    else
        addr->u.in6.sin6_port = port;
    freeaddrinfo(res);
    return 0;
}

char *baton__address_format(const struct baton_address *addr, char *buf, size_t size)
{
    char host[INET6_ADDRSTRLEN];
    switch (addr->u.sa.sa_family) {
    case AF_INET:
        inet_ntop(AF_INET, &addr->u.in.sin_addr, host, sizeof(host));
        snprintf(buf, size, "%s:%u", host, ntohs(addr->u.in.sin_port));
        break;
    case AF_INET6:
        inet_ntop(AF_INET6, &addr->u.in6.sin6_addr, host, sizeof(host));
        snprintf(buf, size, "[%s]:%u", host, ntohs(addr->u.in6.sin6_port));
        break;
    case AF_UNIX:
        snprintf(buf, size, "unix:%s", addr->u.un.sun_path);
        break;
    default:
        snprintf(buf, size, "?");
    }
    return buf;
}

int baton__address_port(const struct baton_address *addr)
{
    if (addr->u.sa.sa_family == AF_INET)
        return ntohs(addr->u.in.sin_port);
    if (addr->u.sa.sa_family == AF_INET6)
        return ntohs(addr->u.in6.sin6_port);
    return 0;
}

int baton__address_defer_accept(int fd, int family, uint64_t ms)
{
    if (family != AF_INET && family != AF_INET6)
        return 0;
    /* Seconds, which the kernel turns into SYN-ACK retransmissions (1 s, the default, is what
     * nginx's `deferred` uses). */
    int secs = ms > 3600 * 1000 ? 3600 : (int)((ms + 999) / 1000);
    if (setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &secs, sizeof(secs)) < 0)
        return -errno;
    return 0;
}

/* A UNIX socket file left by a dead process refuses connections; a live one accepts them. */
static int unix_path_is_stale(const struct baton_address *addr)
{
    struct stat st;
    if (lstat(addr->u.un.sun_path, &st) < 0)
        return errno == ENOENT ? 0 : -errno;
    if (!S_ISSOCK(st.st_mode))
        return -EEXIST;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int r = connect(fd, &addr->u.sa, addr->len) == 0 ? -EADDRINUSE : 1;
    close(fd);
    return r;
}

int baton__address_listen(const struct baton_address *addr, int backlog)
{
    int fd = -1, r, one = 1;
    int family = addr->u.sa.sa_family;

    if (family == AF_UNIX) {
        r = unix_path_is_stale(addr);
        if (r < 0)
            return r;
        if (r == 1 && unlink(addr->u.un.sun_path) < 0)
            return -errno;
    }
    fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    if (family != AF_UNIX && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
        goto fail;
    if (family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0)
        goto fail;
    if (bind(fd, &addr->u.sa, addr->len) < 0)
        goto fail;
    if (listen(fd, backlog) < 0)
        goto fail;
    return fd;
fail:
    r = -errno;
    close(fd);
    return r;
}
