/* SPDX-License-Identifier: MIT */
/*
 * The listening sockets: bound when the supervisor starts (or when a reload's configuration
 * adds one) and held as long as a generation uses them. Every worker of every generation
 * accepts on these same open file descriptions, so a connection waiting in the kernel's queue
 * survives any number of reloads. Listeners systemd passes (LISTEN_FDS with matching names and
 * addresses) are adopted instead of bound, and handed to systemd's fd store, so even a restart
 * of the supervisor loses no queued connection.
 *
 * A listener is known by its address. A reload whose `listen:` names a new address binds it
 * before the new generation starts (a bind that fails fails the reload, nothing changed); an
 * address already held keeps its very socket, whatever its name now; an address no longer
 * named is closed once no live generation (draining ones included) has it in its
 * configuration. "Current" listeners are those of the generation serving: they go to the fd
 * store, the state file and the next generation.
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
#include "common/json.h"
#include "common/xmalloc.h"
#include "lib/internal.h"
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
        l->current = true;
        configure(l, config);
        sup->n_listeners++;
        baton__log(BATON_LOG_INFO, "%s %s (%s, fd %zu in workers)",
                   !from         ? "listening on"
                   : from->taken ? "took over the listener of the previous supervisor on"
                                 : "inherited the listener on",
                   lc->text, lc->name, 3 + i);
    }
out:
    /* Passed but not configured (any more): ours to close; the environment goes too. */
    for (size_t i = 0; i < n_inh; i++) {
        if (!inh[i].used)
            close(inh[i].fd);
    }
    free(inh);
    sup->inherited = NULL;
    sup->n_inherited = 0;
    return r;
}

/* True when l is the listener of `listen:` entry lc: the same address; for a TCP port 0 (any
 * free port, which may repeat) the same name too, since the address alone names none. */
static bool matches(const struct baton_listener *l, const struct baton_listen_config *lc)
{
    const struct baton_address *a = &l->address, *b = &lc->address;
    if (a->len != b->len || memcmp(&a->u, &b->u, a->len) != 0)
        return false;
    bool any_port = (b->u.sa.sa_family == AF_INET && b->u.in.sin_port == 0) ||
                    (b->u.sa.sa_family == AF_INET6 && b->u.in6.sin6_port == 0);
    return !any_port || strcmp(l->name, lc->name) == 0;
}

/* True when a configuration names l. */
static bool named_by(const struct baton_listener *l, const struct baton_config *c)
{
    for (size_t k = 0; c && k < c->n_listen; k++) {
        if (matches(l, &c->listen[k]))
            return true;
    }
    return false;
}

struct baton_listener *baton__listener_find(const struct baton_supervisor *sup,
                                            const struct baton_listen_config *lc)
{
    for (size_t i = 0; i < sup->n_listeners; i++) {
        if (matches(&sup->listeners[i], lc))
            return &sup->listeners[i];
    }
    return NULL;
}

/* Closes one listener and unlinks the UNIX socket file it bound; its memory stays. */
static void close_one(struct baton_listener *l)
{
    close(l->fd);
    /* Ours to remove when this process bound it; systemd's otherwise. */
    if (!l->adopted && l->address.u.sa.sa_family == AF_UNIX && l->address.u.un.sun_path[0] != '\0')
        unlink(l->address.u.un.sun_path);
    free(l->name);
    free(l->text);
    free(l->stored);
}

void baton__listeners_close(struct baton_supervisor *sup)
{
    for (size_t i = 0; i < sup->n_listeners; i++)
        close_one(&sup->listeners[i]);
    free(sup->listeners);
    sup->listeners = NULL;
    sup->n_listeners = 0;
}

/* True when the socket activation of this supervisor passed any listener (systemd's own). */
static bool socket_activated(const struct baton_supervisor *sup)
{
    for (size_t i = 0; i < sup->n_listeners; i++) {
        if (sup->listeners[i].adopted)
            return true;
    }
    return false;
}

int baton__listeners_prepare(struct baton_supervisor *sup, const struct baton_config *config,
                             long gen, char *err, size_t errsz)
{
    size_t first = sup->n_listeners;
    char msg[512];
    int r = 0;

    for (size_t i = 0; i < config->n_listen; i++) {
        const struct baton_listen_config *lc = &config->listen[i];
        if (baton__listener_find(sup, lc))
            continue;
        int fd = baton__address_listen(&lc->address, LISTEN_BACKLOG);
        if (fd < 0) {
            /* Socket activation hands listeners over once, at start: a privileged port the
             * supervisor cannot bind itself has to come from the socket unit. */
            bool systemd = socket_activated(sup);
            snprintf(err, errsz, "listen %s: %s: %s%s", lc->name, lc->text, strerror(-fd),
                     systemd ? " (the supervisor binds listeners added by a reload itself: "
                               "systemd passes its socket unit's listeners only at start; add it "
                               "there and restart the service)"
                             : "");
            r = fd;
            goto out;
        }
        sup->listeners =
            baton__xrealloc(sup->listeners, (sup->n_listeners + 1) * sizeof(*sup->listeners));
        struct baton_listener *l = &sup->listeners[sup->n_listeners++];
        memset(l, 0, sizeof(*l));
        l->fd = fd;
        l->name = baton__xstrdup(lc->name);
        l->text = baton__xstrdup(lc->text);
        l->address = lc->address;
        configure(l, config);
    }
    for (size_t i = first; i < sup->n_listeners; i++) {
        const struct baton_listener *l = &sup->listeners[i];
        snprintf(msg, sizeof(msg), "listening on %s (%s), new in generation %ld%s", l->text,
                 l->name, gen,
                 socket_activated(sup) ? ": bound by the supervisor, not passed by systemd's "
                                         "socket activation (kept across restarts by the fd store "
                                         "only; add it to the socket unit to make it permanent)"
                                       : "");
        baton__sup_progress(sup, gen, "listen", msg);
    }
    for (size_t i = 0; i < sup->n_listeners; i++) {
        const struct baton_listener *l = &sup->listeners[i];
        if (named_by(l, config) || !l->current)
            continue;
        snprintf(msg, sizeof(msg),
                 "listener %s (%s) is not in generation %ld: closed once no "
                 "generation uses it%s",
                 l->text, l->name, gen,
                 l->adopted ? " (passed by systemd: its socket unit still holds it, remove it "
                              "there)"
                            : "");
        baton__sup_progress(sup, gen, "listen", msg);
    }
    baton__listeners_configure(sup, config);
    return (int)(sup->n_listeners - first);
out:
    /* Nothing changes: the ones bound for this configuration go again. */
    while (sup->n_listeners > first)
        close_one(&sup->listeners[--sup->n_listeners]);
    return r;
}

/* True when a live generation's configuration names l's address. */
static bool in_use(const struct baton_supervisor *sup, const struct baton_listener *l)
{
    for (const struct baton_generation *g = sup->gens.list; g; g = g->next) {
        if (named_by(l, g->config))
            return true;
    }
    return false;
}

/* systemd's fd store holds the current listeners, each under its current name. FDSTOREREMOVE
 * removes every fd of a name, so a name that must go is removed first and whatever else was
 * stored under it is stored again. */
static void store_sync(struct baton_supervisor *sup)
{
    char msg[300];
    if (!sup->sd_notify_socket)
        return;
    for (size_t i = 0; i < sup->n_listeners; i++) {
        struct baton_listener *l = &sup->listeners[i];
        if (!l->stored || (l->current && strcmp(l->stored, l->name) == 0))
            continue;
        snprintf(msg, sizeof(msg), "FDSTOREREMOVE=1\nFDNAME=%s", l->stored);
        (void)baton__notify_send(sup->sd_notify_socket, msg, NULL, 0);
        for (size_t k = 0; k < sup->n_listeners; k++) {
            struct baton_listener *o = &sup->listeners[k];
            if (k != i && o->stored && strcmp(o->stored, l->stored) == 0) {
                free(o->stored);
                o->stored = NULL;
            }
        }
        free(l->stored);
        l->stored = NULL;
    }
    for (size_t i = 0; i < sup->n_listeners; i++) {
        struct baton_listener *l = &sup->listeners[i];
        if (!l->current || l->stored)
            continue;
        snprintf(msg, sizeof(msg), "FDSTORE=1\nFDNAME=%s", l->name);
        int r = baton__notify_send(sup->sd_notify_socket, msg, &l->fd, 1);
        if (r < 0)
            baton__log(BATON_LOG_WARNING, "fd store of listener %s: %s", l->name, strerror(-r));
        else
            l->stored = baton__xstrdup(l->name);
    }
}

void baton__listeners_update(struct baton_supervisor *sup)
{
    const struct baton_generation *active = sup->gens.active;
    bool changed = false;

    /* The serving generation's listeners are the current ones, under its names. */
    for (size_t i = 0; active && i < sup->n_listeners; i++) {
        struct baton_listener *l = &sup->listeners[i];
        const struct baton_listen_config *lc = NULL;
        for (size_t k = 0; k < active->config->n_listen && !lc; k++)
            lc = matches(l, &active->config->listen[k]) ? &active->config->listen[k] : NULL;
        if (l->current != (lc != NULL))
            changed = true;
        l->current = lc != NULL;
        if (lc && strcmp(l->name, lc->name) != 0) {
            free(l->name);
            free(l->text);
            l->name = baton__xstrdup(lc->name);
            l->text = baton__xstrdup(lc->text);
            changed = true;
        }
    }
    size_t k = 0;
    for (size_t i = 0; i < sup->n_listeners; i++) {
        struct baton_listener *l = &sup->listeners[i];
        if (l->current || in_use(sup, l)) {
            sup->listeners[k++] = *l;
            continue;
        }
        baton__log(BATON_LOG_NOTICE, "closed the listener on %s (%s): no generation uses it",
                   l->text, l->name);
        if (l->stored) {
            char msg[300];
            snprintf(msg, sizeof(msg), "FDSTOREREMOVE=1\nFDNAME=%s", l->stored);
            (void)baton__notify_send(sup->sd_notify_socket, msg, NULL, 0);
        }
        close_one(l);
        changed = true;
    }
    sup->n_listeners = k;
    if (!changed)
        return;
    store_sync(sup);
    sup->gens.changes++; /* the state file lists the current ones */
}

void baton__listeners_store(struct baton_supervisor *sup)
{
    store_sync(sup);
}

void baton__listeners_status_json(const struct baton_supervisor *sup, struct baton_buf *b)
{
    const struct baton_generation *active = sup->gens.active;
    bool first = true;
    baton__buf_puts(b, "[");
    /* The current ones in their fd order (the serving generation's), then those closing. */
    for (int closing = 0; closing < 2; closing++) {
        for (size_t i = 0; i < sup->n_listeners; i++) {
            const struct baton_listener *l = &sup->listeners[i];
            if (l->current == (closing != 0))
                continue;
            long fd = -1;
            for (size_t k = 0; active && k < active->config->n_listen && fd < 0; k++)
                fd = matches(l, &active->config->listen[k]) ? 3 + (long)k : -1;
            baton__buf_puts(b, first ? "{" : ",{");
            first = false;
            baton__json_kv_str(b, "name", l->name);
            baton__json_kv_str(b, "address", l->text);
            if (fd >= 0)
                baton__json_kv_int(b, "fd", fd);
            baton__json_kv_str(b, "state", closing ? "closing" : "open");
            baton__json_kv_bool(b, "systemd", l->adopted);
            baton__json_key(b, "generations");
            baton__buf_puts(b, "[");
            bool g_first = true;
            for (const struct baton_generation *g = sup->gens.list; g; g = g->next) {
                if (!named_by(l, g->config))
                    continue;
                baton__buf_printf(b, "%s%ld", g_first ? "" : ",", g->id);
                g_first = false;
            }
            baton__buf_puts(b, "]}");
        }
    }
    baton__buf_puts(b, "]");
}
