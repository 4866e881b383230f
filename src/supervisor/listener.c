/*
 * The listening sockets: bound once when the supervisor starts and held for its whole life.
 * Every worker of every generation accepts on these same open file descriptions, so a
 * connection waiting in the kernel's queue survives any number of reloads. Listeners systemd
 * passes (LISTEN_FDS with matching names and addresses) are adopted instead of bound, and
 * handed to systemd's fd store, so even a restart of the supervisor loses no queued connection.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/address.h"
#include "common/buf.h"
#include "common/fd.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "supervisor/internal.h"

#define LISTEN_BACKLOG 4096

/* One listener systemd passed (socket activation, or its fd store after a restart). */
struct inherited {
    char name[256];
    int fd;
    bool used;
};

/* The listeners passed by LISTEN_FDS/LISTEN_FDNAMES when LISTEN_PID is ours; returns how many. */
static size_t inherited_fds(struct inherited *out, size_t max)
{
    const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
    const char *names = getenv("LISTEN_FDNAMES");
    char *end;
    if (!pid || !fds || strtol(pid, &end, 10) != (long)getpid() || *end)
        return 0;
    long n = strtol(fds, &end, 10);
    if (*end || n <= 0)
        return 0;
    if ((size_t)n > max)
        n = (long)max;
    for (long i = 0; i < n; i++) {
        size_t len = 0;
        if (names) {
            const char *colon = strchr(names, ':');
            len = colon ? (size_t)(colon - names) : strlen(names);
            if (len >= sizeof(out[i].name))
                len = sizeof(out[i].name) - 1;
            memcpy(out[i].name, names, len);
            names = colon ? colon + 1 : NULL;
        }
        out[i].name[len] = '\0';
        out[i].fd = 3 + (int)i;
        out[i].used = false;
    }
    return (size_t)n;
}

/* True when fd is a listening socket bound to addr. */
static bool listens_on(int fd, const struct baton_address *addr)
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

/* An inherited listener named `name` on addr (made close-on-exec), or -1. */
static int adopt(struct inherited *inh, size_t n, const char *name,
                 const struct baton_address *addr)
{
    for (size_t i = 0; i < n; i++) {
        if (inh[i].used || strcmp(inh[i].name, name) != 0 || !listens_on(inh[i].fd, addr))
            continue;
        inh[i].used = true;
        baton__fd_cloexec(inh[i].fd, true);
        return inh[i].fd;
    }
    return -1;
}

int baton__listeners_open(struct baton_supervisor *sup, const struct baton_config *config)
{
    struct baton_buf names = BATON_BUF_INIT(BATON_BUF_UNBOUNDED);
    struct inherited inh[64];
    size_t n_inh = inherited_fds(inh, sizeof(inh) / sizeof(inh[0]));
    int r = 0;

    sup->listeners =
        baton__xcalloc(config->n_listen ? config->n_listen : 1, sizeof(*sup->listeners));
    for (size_t i = 0; i < config->n_listen; i++) {
        const struct baton_listen_config *lc = &config->listen[i];
        struct baton_listener *l = &sup->listeners[i];
        int fd = adopt(inh, n_inh, lc->name, &lc->address);
        l->adopted = fd >= 0;
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
        sup->n_listeners++;
        baton__buf_printf(&names, "%s%s", i ? ":" : "", lc->name);
        baton__log(BATON_LOG_INFO, "%s %s (%s, fd %zu in workers)",
                   l->adopted ? "inherited the listener on" : "listening on", lc->text, lc->name,
                   3 + i);
    }
    sup->fdnames = names.data ? baton__buf_steal(&names) : baton__xstrdup("");
out:
    /* Passed but not configured (any more): ours to close; the environment goes too. */
    for (size_t i = 0; i < n_inh; i++) {
        if (!inh[i].used)
            close(inh[i].fd);
    }
    if (n_inh) {
        unsetenv("LISTEN_PID");
        unsetenv("LISTEN_FDS");
        unsetenv("LISTEN_FDNAMES");
    }
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
