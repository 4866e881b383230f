/*
 * The listening sockets: bound once when the supervisor starts and held for its whole life.
 * Every worker of every generation accepts on these same open file descriptions, so a
 * connection waiting in the kernel's queue survives any number of reloads.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/address.h"
#include "common/buf.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "supervisor/internal.h"

#define LISTEN_BACKLOG 4096

int baton__listeners_open(struct baton_supervisor *sup, const struct baton_config *config)
{
    struct baton_buf names = BATON_BUF_INIT(0);
    sup->listeners =
        baton__xcalloc(config->n_listen ? config->n_listen : 1, sizeof(*sup->listeners));
    for (size_t i = 0; i < config->n_listen; i++) {
        const struct baton_listen_config *lc = &config->listen[i];
        struct baton_listener *l = &sup->listeners[i];
        int fd = baton__address_listen(&lc->address, LISTEN_BACKLOG);
        if (fd < 0) {
            baton__log(BATON_LOG_ERROR, "listen %s: %s: %s", lc->name, lc->text, strerror(-fd));
            baton__buf_free(&names);
            return fd;
        }
        l->fd = fd;
        l->name = baton__xstrdup(lc->name);
        l->text = baton__xstrdup(lc->text);
        l->address = lc->address;
        sup->n_listeners++;
        baton__buf_printf(&names, "%s%s", i ? ":" : "", lc->name);
        baton__log(BATON_LOG_INFO, "listening on %s (%s, fd %zu in workers)", lc->text, lc->name,
                   3 + i);
    }
    sup->fdnames = names.data ? baton__buf_steal(&names) : baton__xstrdup("");
    return 0;
}

void baton__listeners_close(struct baton_supervisor *sup)
{
    for (size_t i = 0; i < sup->n_listeners; i++) {
        struct baton_listener *l = &sup->listeners[i];
        close(l->fd);
        /* Ours to remove: it was bound by this process (a stale file was replaced at bind). */
        if (l->address.u.sa.sa_family == AF_UNIX && l->address.u.un.sun_path[0] != '\0')
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
