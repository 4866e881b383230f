/* SPDX-License-Identifier: MIT */
/*
 * The config watch (control.watch): the configuration file and its environment layers
 * (baton.<env>.yaml beside it) watched with inotify. The directory is watched, not the file:
 * an editor's rename-over and a symlink swap replace the file's inode, which a watch on the
 * file would lose; when the file is a symlink, the directory of its target is watched too
 * (an in-place edit of the target). Events are debounced (WATCH_DEBOUNCE_MS after the last
 * one), so a burst of writes is one reload. A change is loaded first: a valid one becomes a
 * reload, an invalid one changes nothing and is logged with file:line:column, kept for status
 * and counted (history.c).
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "common/log.h"
#include "common/xmalloc.h"
#include "supervisor/internal.h"
#include "supervisor/observe.h"

#define WATCH_DEBOUNCE_MS 200
#define WATCH_MASK                                                                                 \
    (IN_CLOSE_WRITE | IN_MODIFY | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE |            \
     IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF)

struct baton_watch {
    struct baton_supervisor *sup;
    int fd;
    uv_poll_t poll;
    uv_timer_t debounce;
    char *path;       /* the configuration file (absolute) */
    char *dir, *base; /* its directory and name */
    size_t stem_len;  /* base without its extension: "baton" of "baton.yaml" */
    const char *ext;  /* into base: ".yaml", or "" */
    int wd_dir;       /* the directory's watch */
    int wd_target;    /* the symlink target's directory (-1: none, or the same) */
    char *target_dir, *target_base;
    bool pending;          /* a change came while a transaction ran: handled when it ends */
    unsigned open_handles; /* closing: handles whose close callback is still to come */
};

/* The configuration file, or one of its environment layers: "baton.<env>.yaml". */
static bool is_ours(const struct baton_watch *w, const char *name)
{
    if (strcmp(name, w->base) == 0)
        return true;
    size_t n = strlen(name), ext = strlen(w->ext);
    if (n <= w->stem_len + 1 + ext || memcmp(name, w->base, w->stem_len) != 0 ||
        name[w->stem_len] != '.' || strcmp(name + n - ext, w->ext) != 0)
        return false;
    for (size_t i = w->stem_len + 1; i < n - ext; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-'))
            return false;
    }
    return true;
}

/* (Re)watches the directory of the symlink's target when the file is a symlink elsewhere. */
static void watch_target(struct baton_watch *w)
{
    char real[PATH_MAX];
    if (!realpath(w->path, real)) {
        return; /* gone for now: the directory's watch sees it come back */
    }
    char *slash = strrchr(real, '/');
    *slash = '\0';
    const char *dir = real[0] ? real : "/";
    if (w->target_dir && strcmp(w->target_dir, dir) == 0 && strcmp(w->target_base, slash + 1) == 0)
        return;
    if (w->wd_target >= 0 && w->wd_target != w->wd_dir)
        inotify_rm_watch(w->fd, w->wd_target);
    free(w->target_dir);
    free(w->target_base);
    w->target_dir = baton__xstrdup(dir);
    w->target_base = baton__xstrdup(slash + 1);
    w->wd_target = strcmp(dir, w->dir) == 0 ? w->wd_dir : inotify_add_watch(w->fd, dir, WATCH_MASK);
}

static void on_debounce(uv_timer_t *t)
{
    struct baton_watch *w = t->data;
    struct baton_supervisor *sup = w->sup;
    struct baton_config *config = NULL;
    struct baton_buf err = BATON_BUF_INIT(64 * 1024);

    watch_target(w);
    if (sup->gens.stopping)
        goto out;
    if (sup->gens.transition != BATON_TRANSITION_NONE) {
        w->pending = true;
        goto out;
    }
    w->pending = false;
    if (baton__config_load(sup->options, &config, &err) < 0) {
        const char *text = err.data ? err.data : "configuration error";
        size_t n = strlen(text);
        while (n && text[n - 1] == '\n')
            n--;
        /* The same error again (another event on the same broken file) is not news. */
        const char *old = sup->history->config_error;
        if (!old || strlen(old) != n || memcmp(old, text, n) != 0) {
            baton__log(BATON_LOG_ERROR, "config watch: %.*s: not applied, nothing changed", (int)n,
                       text);
            baton__history_config_error(sup->history, text);
        }
        goto out;
    }
    baton__config_free(config);
    if (sup->history->config_error) {
        baton__log(BATON_LOG_NOTICE, "config watch: the configuration is valid again");
        baton__history_config_error(sup->history, NULL);
    }
    baton__log(BATON_LOG_NOTICE, "config watch: %s changed: reloading", w->base);
    sup->history->watch_reloads++;
    int r = baton__sup_reload(sup, NULL, false);
    if (r == -EBUSY || r == -EINPROGRESS) /* applied once the reload or deploy running ends */
        w->pending = true;
out:
    baton__buf_free(&err);
}

static void on_events(uv_poll_t *h, int status, int events)
{
    struct baton_watch *w = h->data;
    char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
    bool changed = false;
    for (;;) {
        ssize_t n = read(w->fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        for (char *p = buf; p < buf + n;) {
            const struct inotify_event *e = (const struct inotify_event *)p;
            p += sizeof(*e) + e->len;
            if (e->mask & IN_Q_OVERFLOW)
                changed = true;
            else if (e->wd == w->wd_dir && e->len && is_ours(w, e->name))
                changed = true;
            else if (e->wd == w->wd_target && e->len && w->target_base &&
                     strcmp(e->name, w->target_base) == 0)
                changed = true;
            else if (e->mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED))
                changed = e->wd == w->wd_target; /* the target's directory went away */
        }
    }
    if (changed)
        uv_timer_start(&w->debounce, on_debounce, WATCH_DEBOUNCE_MS, 0);
}

int baton__watch_open(struct baton_supervisor *sup, const char *path, bool on)
{
    if (!path || !on || sup->watch)
        return 0;
    struct baton_watch *w = baton__xcalloc(1, sizeof(*w));
    int r;
    w->sup = sup;
    w->wd_dir = w->wd_target = -1;
    w->path = baton__xstrdup(path);
    char *slash = strrchr(w->path, '/');
    w->dir = slash == w->path ? baton__xstrdup("/")
                              : baton__xstrndup(w->path, (size_t)(slash - w->path));
    w->base = baton__xstrdup(slash + 1);
    const char *dot = strrchr(w->base, '.');
    w->ext = dot && dot != w->base ? dot : w->base + strlen(w->base);
    w->stem_len = (size_t)(w->ext - w->base);
    w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (w->fd < 0 || (w->wd_dir = inotify_add_watch(w->fd, w->dir, WATCH_MASK)) < 0) {
        r = -errno;
        baton__log(BATON_LOG_WARNING, "config watch: %s: %s: changes are not noticed", w->dir,
                   strerror(-r));
        if (w->fd >= 0)
            close(w->fd);
        free(w->path);
        free(w->dir);
        free(w->base);
        free(w);
        return r;
    }
    watch_target(w);
    uv_poll_init(sup->loop, &w->poll, w->fd);
    w->poll.data = w;
    uv_poll_start(&w->poll, UV_READABLE, on_events);
    uv_timer_init(sup->loop, &w->debounce);
    w->debounce.data = w;
    sup->watch = w;
    baton__log(BATON_LOG_INFO, "config watch: %s", w->path);
    return 0;
}

void baton__watch_update(struct baton_supervisor *sup)
{
    const struct baton_generation *g = sup->gens.active;
    if (!g || !g->config)
        return;
    if (!g->config->control.watch && sup->watch) {
        baton__log(BATON_LOG_INFO, "config watch: off (control.watch: false)");
        baton__watch_close(sup);
    } else if (g->config->control.watch && !sup->watch) {
        baton__watch_open(sup, g->config->path, true);
    }
}

void baton__watch_tx_done(struct baton_supervisor *sup)
{
    struct baton_watch *w = sup->watch;
    if (w && w->pending) {
        w->pending = false;
        uv_timer_start(&w->debounce, on_debounce, WATCH_DEBOUNCE_MS, 0);
    }
}

/* The poll and the timer close together; the last callback frees. */
static void on_closed(uv_handle_t *h)
{
    struct baton_watch *w = h->data;
    if (--w->open_handles)
        return;
    close(w->fd);
    free(w->path);
    free(w->dir);
    free(w->base);
    free(w->target_dir);
    free(w->target_base);
    free(w);
}

void baton__watch_close(struct baton_supervisor *sup)
{
    struct baton_watch *w = sup->watch;
    if (!w)
        return;
    sup->watch = NULL;
    uv_poll_stop(&w->poll);
    w->open_handles = 2;
    uv_close((uv_handle_t *)&w->debounce, on_closed);
    uv_close((uv_handle_t *)&w->poll, on_closed);
}
