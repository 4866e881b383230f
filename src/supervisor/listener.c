/* SPDX-License-Identifier: MIT */
/*
 * The listening sockets: bound once when the supervisor starts and held for its whole life.
 * Every worker of every generation accepts on these same open file descriptions, so a
 * connection waiting in the kernel's queue survives any number of reloads. Listeners systemd
 * passes (LISTEN_FDS with matching names and addresses) are adopted instead of bound, and
 * handed to systemd's fd store, so even a restart of the supervisor loses no queued connection.
 *
 * TCP listeners get TCP_DEFER_ACCEPT (tcp.defer_accept, 1 s by default, applied again on every
 * reload, to inherited listeners too): the kernel queues a connection only once its request has
 * arrived, so a worker's read right after accept finds it, and a close-mode request is served
 * with accept, read, write and close. A connection that sends nothing stays in the listener's
 * queue, which outlives every worker, so a drain loses none of them.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "baton/baton.h"
#include "common/address.h"
#include "common/buf.h"
#include "common/fd.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "supervisor/internal.h"

#define LISTEN_BACKLOG 4096

/* One listener systemd passed (socket activation, or its fd store after a restart). */
struct baton_inherited {
    char name[256];
    int fd;
    bool used;
    bool taken; /* from a dead supervisor's worker (recover.c), not from systemd */
};

/* The listeners passed by LISTEN_FDS/LISTEN_FDNAMES when LISTEN_PID is ours, read by libbaton
 * (malformed values refused, every fd checked and made close-on-exec). Stores an allocated
 * array in *ret and returns how many, or -errno after logging why. */
static int inherited_fds(struct baton_inherited **ret)
{
    int n = baton_listen_fds(0);
    *ret = NULL;
    if (n < 0) {
        baton__log(BATON_LOG_ERROR, "LISTEN_FDS/LISTEN_PID from systemd: %s", strerror(-n));
        return n;
    }
    struct baton_inherited *inh = baton__xcalloc(n ? (size_t)n : 1, sizeof(*inh));
    for (int i = 0; i < n; i++) {
        int r = baton_listen_fd_name(BATON_LISTEN_FDS_START + i, inh[i].name, sizeof(inh[i].name));
        if (r < 0) {
            baton__log(BATON_LOG_ERROR, "LISTEN_FDNAMES from systemd: %s", strerror(-r));
            free(inh);
            return r;
        }
        inh[i].fd = BATON_LISTEN_FDS_START + i;
    }
    *ret = inh;
    return n;
}

bool baton__listener_is(int fd, const struct baton_address *addr)
{
    struct baton_address got = {.len = sizeof(got.u)};
    int on = 0;
    socklen_t len = sizeof(on);
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &len) < 0 || !on ||
        getsockname(fd, &got.u.sa, &got.len) < 0 || got.u.sa.sa_family != addr->u.sa.sa_family)
        return false;
    switch (addr->u.sa.sa_family) {
    case AF_INET:
        return got.u.in.sin_port == addr->u.in.sin_port &&
               got.u.in.sin_addr.s_addr == addr->u.in.sin_addr.s_addr;
    case AF_INET6:
        return got.u.in6.sin6_port == addr->u.in6.sin6_port &&
               memcmp(&got.u.in6.sin6_addr, &addr->u.in6.sin6_addr, sizeof(struct in6_addr)) == 0;
    case AF_UNIX:
        return strcmp(got.u.un.sun_path, addr->u.un.sun_path) == 0;
    default:
        return false;
    }
}

/* The inherited listener named `name` on addr (made close-on-exec), or NULL. */
static struct baton_inherited *adopt(struct baton_inherited *inh, size_t n, const char *name,
                                     const struct baton_address *addr)
{
    for (size_t i = 0; i < n; i++) {
        if (inh[i].used || strcmp(inh[i].name, name) != 0 || !baton__listener_is(inh[i].fd, addr))
            continue;
        inh[i].used = true;
        return &inh[i];
    }
    return NULL;
}

void baton__listeners_offer(struct baton_supervisor *sup, const char *name, int fd)
{
    size_t n = sup->n_inherited;
    sup->inherited = baton__xrealloc(sup->inherited, (n + 1) * sizeof(*sup->inherited));
    struct baton_inherited *inh = &sup->inherited[n];
    memset(inh, 0, sizeof(*inh));
    snprintf(inh->name, sizeof(inh->name), "%s", name);
    inh->fd = fd;
    inh->taken = true;
    sup->n_inherited = n + 1;
}

int baton__listeners_inherit(struct baton_supervisor *sup)
{
    int n = inherited_fds(&sup->inherited);
    baton_listen_fds(1); /* the variables were ours (or not ours): gone either way */
    if (n < 0)
        return n;
    sup->n_inherited = (size_t)n;
    return 0;
}

/* tcp.defer_accept on one listener: a failure costs speed, not service, so it is only logged. */
static void configure(const struct baton_listener *l, const struct baton_config *config)
{
    int r =
        baton__address_defer_accept(l->fd, l->address.u.sa.sa_family, config->tcp.defer_accept_ms);
    if (r < 0)
        baton__log(BATON_LOG_WARNING, "listen %s: %s: TCP_DEFER_ACCEPT: %s", l->name, l->text,
                   strerror(-r));
}

void baton__listeners_configure(struct baton_supervisor *sup, const struct baton_config *config)
{
    for (size_t i = 0; i < sup->n_listeners; i++)
        configure(&sup->listeners[i], config);
}

int baton__listeners_open(struct baton_supervisor *sup, const struct baton_config *config)
{
    struct baton_buf names = BATON_BUF_INIT(BATON_BUF_UNBOUNDED);
    struct baton_inherited *inh = sup->inherited;
    size_t n_inh = sup->n_inherited;
    int r = 0;

    sup->listeners =
        baton__xcalloc(config->n_listen ? config->n_listen : 1, sizeof(*sup->listeners));
    for (size_t i = 0; i < config->n_listen; i++) {
        const struct baton_listen_config *lc = &config->listen[i];
        struct baton_listener *l = &sup->listeners[i];
        struct baton_inherited *from = adopt(inh, n_inh, lc->name, &lc->address);
        int fd = from ? from->fd : -1;
        l->adopted = from && !from->taken;
        if (fd < 0)
            fd = baton__address_listen(&lc->address, LISTEN_BACKLOG);
        if (fd < 0) {
            baton__log(BATON_LOG_ERROR, "listen %s: %s: %s", lc->name, lc->text, strerror(-fd));
            r = fd;
            goto out;
        }
        l->fd = fd;
        l->name = baton__xstrdup(lc->name);
        l->text = baton__xstrdup(lc->text);
        l->address = lc->address;
        configure(l, config);
        sup->n_listeners++;
        baton__buf_printf(&names, "%s%s", i ? ":" : "", lc->name);
        baton__log(BATON_LOG_INFO, "%s %s (%s, fd %zu in workers)",
                   !from         ? "listening on"
                   : from->taken ? "took over the listener of the previous supervisor on"
                                 : "inherited the listener on",
                   lc->text, lc->name, 3 + i);
    }
    sup->fdnames = names.data ? baton__buf_steal(&names) : baton__xstrdup("");
out:
    /* Passed but not configured (any more): ours to close; the environment goes too. */
    for (size_t i = 0; i < n_inh; i++) {
        if (!inh[i].used)
            close(inh[i].fd);
    }
    free(inh);
    sup->inherited = NULL;
    sup->n_inherited = 0;
    baton__buf_free(&names);
    return r;
}

void baton__listeners_close(struct baton_supervisor *sup)
{
    for (size_t i = 0; i < sup->n_listeners; i++) {
        struct baton_listener *l = &sup->listeners[i];
        close(l->fd);
        /* Ours to remove when this process bound it; systemd's otherwise. */
        if (!l->adopted && l->address.u.sa.sa_family == AF_UNIX &&
            l->address.u.un.sun_path[0] != '\0')
            unlink(l->address.u.un.sun_path);
        free(l->name);
        free(l->text);
    }
    free(sup->listeners);
    free(sup->fdnames);
    sup->listeners = NULL;
    sup->fdnames = NULL;
    sup->n_listeners = 0;
}

bool baton__listeners_changed(const struct baton_supervisor *sup, const struct baton_config *config)
{
    if (config->n_listen != sup->n_listeners)
        return true;
    for (size_t i = 0; i < config->n_listen; i++) {
        const struct baton_listener *l = &sup->listeners[i];
        const struct baton_listen_config *lc = &config->listen[i];
        if (strcmp(l->name, lc->name) != 0 || l->address.len != lc->address.len ||
            memcmp(&l->address.u, &lc->address.u, lc->address.len) != 0)
            return true;
    }
    return false;
}
