/*
 * SIGUSR2: the supervisor executes its own binary again, in place. The PID stays (so the
 * workers stay its children), and so do the listeners, the notify and control sockets and the
 * workers' output pipes: their fds survive execve once close-on-exec is cleared. Everything
 * else the new image needs (generations, slots, workers, counters) goes through a memfd named
 * in BATON_SUPERVISOR_STATE, as one JSON object.
 *
 * Signals stay blocked across execve (the mask is inherited, handlers are not): a SIGTERM or
 * SIGCHLD arriving meanwhile waits, pending, until the new image has its handlers in place.
 */
#include <errno.h>
#include <fcntl.h>
#include <libfyaml.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/fd.h"
#include "common/json.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "supervisor/internal.h"

#define STATE_ENV "BATON_SUPERVISOR_STATE"
#define STATE_MAX (16 * 1024 * 1024)

extern char **environ;

void baton__reexec_prepare(struct baton_supervisor *sup)
{
    char path[PATH_MAX], buf[65536];
    ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);
    int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
    ssize_t len = fd < 0 ? -1 : baton__fd_read_all(fd, buf, sizeof(buf) - 1);
    if (fd >= 0)
        close(fd);
    if (n <= 0 || len <= 0 || (size_t)len >= sizeof(buf) - 1)
        return; /* no re-exec then; SIGUSR2 says so */
    path[n] = '\0';
    /* The binary as it is on disk now (an upgrade replaced it), not the deleted old inode. */
    char *deleted = strstr(path, " (deleted)");
    if (deleted && deleted[10] == '\0')
        *deleted = '\0';
    buf[len] = '\0';
    size_t argc = 0;
    for (ssize_t i = 0; i < len; i++)
        argc += buf[i] == '\0';
    sup->exe_argv = baton__xcalloc(argc + 1, sizeof(char *));
    for (size_t i = 0, off = 0; i < argc; i++) {
        sup->exe_argv[i] = baton__xstrdup(buf + off);
        off += strlen(buf + off) + 1;
    }
    sup->exe_path = baton__xstrdup(path);
}

/* ---- saving ------------------------------------------------------------------------------ */

static void strv(struct baton_buf *b, const char *key, char *const *v, size_t n)
{
    baton__json_key(b, key);
    baton__buf_puts(b, "[");
    for (size_t i = 0; i < n; i++) {
        baton__buf_puts(b, i ? "," : "");
        baton__json_string(b, v[i], (size_t)-1);
    }
    baton__buf_puts(b, "]");
}

static void config_json(struct baton_buf *b, const struct baton_config *c)
{
    baton__json_key(b, "config");
    baton__buf_puts(b, "{");
    baton__json_kv_str(b, "name", c->name ? c->name : "");
    strv(b, "command", c->app.command, c->app.n_command);
    baton__json_kv_str(b, "dir", c->app.dir);
    strv(b, "env", c->app.env, c->app.n_env);
    if (c->app.user)
        baton__json_kv_str(b, "user", c->app.user);
    baton__json_kv_int(b, "workers", c->app.workers);
    baton__json_kv_int(b, "strategy", c->app.strategy);
    baton__json_kv_int(b, "max_surge", c->app.max_surge);
    baton__json_kv_int(b, "ready", c->app.ready);
    baton__json_kv_int(b, "ready_delay_ms", (long long)c->app.ready_delay_ms);
    baton__json_kv_int(b, "ready_timeout_ms", (long long)c->app.ready_timeout_ms);
    baton__json_kv_int(b, "stop_signal", c->app.stop_signal);
    baton__json_kv_int(b, "reload_signal", c->app.reload_signal);
    baton__json_kv_int(b, "drain_timeout_ms", (long long)c->app.drain_timeout_ms);
    baton__json_kv_int(b, "max_draining", c->app.max_draining);
    baton__json_kv_int(b, "restart_initial_ms", (long long)c->app.restart_initial_ms);
    baton__json_kv_int(b, "restart_max_ms", (long long)c->app.restart_max_ms);
    baton__json_kv_int(b, "log_format", c->log.format);
    baton__json_kv_bool(b, "log_format_set", c->log.format_set);
    baton__json_kv_int(b, "log_level", c->log.level);
    baton__buf_puts(b, "}");
}

static void generation_json(struct baton_buf *b, const struct baton_generation *g)
{
    baton__buf_puts(b, "{");
    baton__json_kv_int(b, "id", g->id);
    baton__json_kv_int(b, "state", g->state);
    baton__json_kv_int(b, "started_ms", (long long)g->started_ms);
    baton__json_kv_bool(b, "killed", g->killed);
    if (g->exec_path)
        baton__json_kv_str(b, "exec_path", g->exec_path);
    if (g->dir)
        baton__json_kv_str(b, "resolved_dir", g->dir);
    config_json(b, g->config);
    baton__buf_puts(b, ",\"slots\":[");
    for (unsigned i = 0; i < g->n_slots; i++) {
        const struct baton_slot *s = &g->slots[i];
        baton__buf_puts(b, i ? ",{" : "{");
        baton__json_kv_int(b, "state", s->state);
        baton__json_kv_int(b, "restart_at_ms", (long long)s->restart_at_ms);
        baton__json_kv_int(b, "backoff_ms", (long long)s->backoff_ms);
        baton__json_kv_int(b, "restarts", s->restarts);
        baton__json_kv_int(b, "quick_crashes", s->quick_crashes);
        baton__buf_puts(b, "}");
    }
    baton__buf_puts(b, "],\"workers\":[");
    for (const struct baton_worker *w = g->workers; w; w = w->next) {
        int out, err;
        baton__worker_io_fds(w, &out, &err);
        baton__buf_puts(b, w == g->workers ? "{" : ",{");
        baton__json_kv_int(b, "pid", w->pid);
        baton__json_kv_int(b, "slot", w->slot);
        baton__json_kv_int(b, "state", w->state);
        baton__json_kv_bool(b, "in_slot", w->slot < g->n_slots && g->slots[w->slot].worker == w);
        baton__json_kv_int(b, "started_ms", (long long)w->started_ms);
        baton__json_kv_int(b, "ready_ms", (long long)w->ready_ms);
        baton__json_kv_int(b, "deadline_ms", (long long)w->deadline_ms);
        baton__json_kv_int(b, "out_fd", out);
        baton__json_kv_int(b, "err_fd", err);
        if (w->status)
            baton__json_kv_str(b, "status", w->status);
        if (w->stats)
            baton__json_kv_str(b, "stats", w->stats);
        baton__buf_puts(b, "}");
    }
    baton__buf_puts(b, "]}");
}

static void state_json(const struct baton_supervisor *sup, struct baton_buf *b)
{
    const struct baton_gens *gs = &sup->gens;
    baton__buf_puts(b, "{");
    baton__json_kv_int(b, "started_ms", (long long)sup->started_ms);
    baton__json_kv_int(b, "last_id", gs->last_id);
    baton__json_kv_int(b, "restarts", (long long)gs->restarts);
    baton__json_kv_bool(b, "first_ready", sup->first_ready);
    if (sup->last_reload)
        baton__json_kv_str(b, "last_reload", sup->last_reload);
    baton__json_kv_int(b, "notify_fd", sup->notify_fd);
    baton__json_kv_str(b, "notify_name", sup->notify_name);
    baton__json_kv_int(b, "control_fd", sup->control_fd);
    baton__json_kv_str(b, "control_path", sup->control_path);
    baton__buf_puts(b, ",\"listeners\":[");
    for (size_t i = 0; i < sup->n_listeners; i++) {
        const struct baton_listener *l = &sup->listeners[i];
        baton__buf_puts(b, i ? ",{" : "{");
        baton__json_kv_str(b, "name", l->name);
        baton__json_kv_str(b, "text", l->text);
        baton__json_kv_int(b, "fd", l->fd);
        baton__json_kv_bool(b, "adopted", l->adopted);
        baton__buf_puts(b, "}");
    }
    baton__buf_puts(b, "],\"generations\":[");
    for (const struct baton_generation *g = gs->list; g; g = g->next) {
        baton__buf_puts(b, g == gs->list ? "" : ",");
        generation_json(b, g);
    }
    baton__buf_puts(b, "]}");
}

/* Every fd the new image keeps, with close-on-exec cleared (on = false) or set again. */
static void keep_fds(struct baton_supervisor *sup, int state_fd, bool keep)
{
    baton__fd_cloexec(state_fd, !keep);
    baton__fd_cloexec(sup->notify_fd, !keep);
    baton__fd_cloexec(sup->control_fd, !keep);
    for (size_t i = 0; i < sup->n_listeners; i++)
        baton__fd_cloexec(sup->listeners[i].fd, !keep);
    for (struct baton_generation *g = sup->gens.list; g; g = g->next) {
        for (struct baton_worker *w = g->workers; w; w = w->next) {
            int out, err;
            baton__worker_io_fds(w, &out, &err);
            if (out >= 0)
                baton__fd_cloexec(out, !keep);
            if (err >= 0)
                baton__fd_cloexec(err, !keep);
        }
    }
}

int baton__reexec(struct baton_supervisor *sup)
{
    struct baton_buf state = BATON_BUF_INIT(STATE_MAX);
    struct baton_buf err = BATON_BUF_INIT(64 * 1024);
    struct baton_config *config = NULL;
    sigset_t all, old;
    char **env = NULL;
    int fd = -1, r;

    if (!sup->exe_path)
        return -ENOEXEC;
    if (sup->gens.stopping)
        return -ECANCELED;
    if (sup->gens.transition != BATON_TRANSITION_NONE)
        return -EBUSY;
    /* The new image starts by loading the configuration: refuse now rather than die there. */
    if (baton__config_load(sup->options, &config, &err) < 0) {
        baton__log(BATON_LOG_ERROR, "re-exec refused: the configuration does not load: %s",
                   err.data ? err.data : "?");
        baton__buf_free(&err);
        return -EINVAL;
    }
    baton__config_free(config);
    baton__buf_free(&err);

    state_json(sup, &state);
    fd = memfd_create("baton-state", MFD_CLOEXEC);
    if (fd < 0 || !state.data || baton__fd_write_all(fd, state.data, state.len) < 0 ||
        lseek(fd, 0, SEEK_SET) < 0) {
        r = fd < 0 ? -errno : -EIO;
        goto out;
    }
    size_t n = 0;
    while (environ[n])
        n++;
    env = baton__xcalloc(n + 2, sizeof(char *));
    for (size_t i = 0; i < n; i++)
        env[i] = environ[i];
    env[n] = baton__xasprintf("%s=%d", STATE_ENV, fd);

    baton__log(BATON_LOG_NOTICE, "re-executing %s", sup->exe_path);
    baton__ctl_drop_clients(sup, "the supervisor is re-executing");
    sigfillset(&all);
    sigprocmask(SIG_BLOCK, &all, &old);
    keep_fds(sup, fd, true);
    execve(sup->exe_path, sup->exe_argv, env);
    r = -errno;
    keep_fds(sup, fd, false);
    sigprocmask(SIG_SETMASK, &old, NULL);
    baton__log(BATON_LOG_ERROR, "re-exec %s: %s; carrying on", sup->exe_path, strerror(-r));
out:
    if (env)
        free(env[n]);
    free(env);
    if (fd >= 0)
        close(fd);
    baton__buf_free(&state);
    return r;
}

/* ---- restoring --------------------------------------------------------------------------- */

static struct fy_node *get(struct fy_node *map, const char *key)
{
    return map ? fy_node_mapping_lookup_by_string(map, key, FY_NT) : NULL;
}

static long long get_int(struct fy_node *map, const char *key, long long def)
{
    struct fy_node *n = get(map, key);
    char buf[32];
    size_t len;
    const char *t = n && fy_node_is_scalar(n) ? fy_node_get_scalar(n, &len) : NULL;
    if (!t || len == 0 || len >= sizeof(buf))
        return def;
    memcpy(buf, t, len);
    buf[len] = '\0';
    if (strcmp(buf, "true") == 0)
        return 1;
    if (strcmp(buf, "false") == 0)
        return 0;
    return strtoll(buf, NULL, 10);
}

static char *get_str(struct fy_node *map, const char *key)
{
    struct fy_node *n = get(map, key);
    size_t len;
    const char *t = n && fy_node_is_scalar(n) ? fy_node_get_scalar(n, &len) : NULL;
    return t ? baton__xstrndup(t, len) : NULL;
}

static char **get_strv(struct fy_node *map, const char *key, size_t *ret_n)
{
    struct fy_node *seq = get(map, key), *item;
    size_t n = seq && fy_node_is_sequence(seq) ? (size_t)fy_node_sequence_item_count(seq) : 0;
    char **v = baton__xcalloc(n + 1, sizeof(char *));
    void *iter = NULL;
    size_t k = 0;
    while (seq && k < n && (item = fy_node_sequence_iterate(seq, &iter))) {
        size_t len;
        const char *t = fy_node_is_scalar(item) ? fy_node_get_scalar(item, &len) : NULL;
        v[k++] = t ? baton__xstrndup(t, len) : baton__xstrdup("");
    }
    *ret_n = k;
    return v;
}

static struct baton_config *config_from(struct fy_node *m)
{
    struct baton_config *c = baton__xcalloc(1, sizeof(*c));
    c->name = get_str(m, "name");
    c->app.command = get_strv(m, "command", &c->app.n_command);
    c->app.dir = get_str(m, "dir");
    c->app.env = get_strv(m, "env", &c->app.n_env);
    c->app.user = get_str(m, "user");
    c->app.workers = (unsigned)get_int(m, "workers", 1);
    c->app.strategy = (enum baton_strategy)get_int(m, "strategy", 0);
    c->app.max_surge = (unsigned)get_int(m, "max_surge", 1);
    c->app.ready = (enum baton_ready_mode)get_int(m, "ready", 0);
    c->app.ready_delay_ms = (uint64_t)get_int(m, "ready_delay_ms", 0);
    c->app.ready_timeout_ms = (uint64_t)get_int(m, "ready_timeout_ms", 30000);
    c->app.stop_signal = (int)get_int(m, "stop_signal", SIGTERM);
    c->app.reload_signal = (int)get_int(m, "reload_signal", SIGHUP);
    c->app.drain_timeout_ms = (uint64_t)get_int(m, "drain_timeout_ms", 30000);
    c->app.max_draining = (unsigned)get_int(m, "max_draining", 2);
    c->app.restart_initial_ms = (uint64_t)get_int(m, "restart_initial_ms", 100);
    c->app.restart_max_ms = (uint64_t)get_int(m, "restart_max_ms", 30000);
    c->log.format = (enum baton_log_format)get_int(m, "log_format", 0);
    c->log.format_set = get_int(m, "log_format_set", 0);
    c->log.level = (enum baton_log_level)get_int(m, "log_level", BATON_LOG_INFO);
    if (!c->app.dir)
        c->app.dir = baton__xstrdup("/");
    return c;
}

static void restore_generation(struct baton_supervisor *sup, struct fy_node *m)
{
    struct baton_gens *gs = &sup->gens;
    struct baton_generation *g = baton__xcalloc(1, sizeof(*g));
    g->id = (long)get_int(m, "id", 0);
    g->state = (enum baton_generation_state)get_int(m, "state", BATON_GEN_DRAINING);
    g->started_ms = (uint64_t)get_int(m, "started_ms", 0);
    g->killed = get_int(m, "killed", 0);
    g->exec_path = get_str(m, "exec_path");
    g->dir = get_str(m, "resolved_dir");
    g->config = config_from(get(m, "config"));
    struct fy_node *slots = get(m, "slots"), *item;
    g->n_slots = slots ? (unsigned)fy_node_sequence_item_count(slots) : 0;
    g->slots = baton__xcalloc(g->n_slots ? g->n_slots : 1, sizeof(*g->slots));
    void *iter = NULL;
    for (unsigned i = 0; i < g->n_slots && (item = fy_node_sequence_iterate(slots, &iter)); i++) {
        struct baton_slot *s = &g->slots[i];
        s->state = (enum baton_slot_state)get_int(item, "state", BATON_SLOT_RETIRED);
        s->restart_at_ms = (uint64_t)get_int(item, "restart_at_ms", 0);
        s->backoff_ms = (uint64_t)get_int(item, "backoff_ms", 0);
        s->restarts = (unsigned)get_int(item, "restarts", 0);
        s->quick_crashes = (unsigned)get_int(item, "quick_crashes", 0);
        if (s->state == BATON_SLOT_RUNNING)
            s->state = BATON_SLOT_RETIRED; /* until its worker shows up below */
    }
    struct baton_worker **tail = &g->workers;
    iter = NULL;
    while ((item = fy_node_sequence_iterate(get(m, "workers"), &iter))) {
        struct baton_worker *w = baton__xcalloc(1, sizeof(*w));
        w->gen = g;
        w->pid = (pid_t)get_int(item, "pid", 0);
        w->slot = (unsigned)get_int(item, "slot", 0);
        w->state = (enum baton_worker_state)get_int(item, "state", BATON_WORKER_DRAINING);
        w->started_ms = (uint64_t)get_int(item, "started_ms", 0);
        w->ready_ms = (uint64_t)get_int(item, "ready_ms", 0);
        w->deadline_ms = (uint64_t)get_int(item, "deadline_ms", 0);
        w->status = get_str(item, "status");
        w->stats = get_str(item, "stats");
        if (get_int(item, "in_slot", 0) && w->slot < g->n_slots) {
            g->slots[w->slot].state = BATON_SLOT_RUNNING;
            g->slots[w->slot].worker = w;
        }
        int out = (int)get_int(item, "out_fd", -1), err = (int)get_int(item, "err_fd", -1);
        if (out >= 0 && err >= 0) {
            baton__fd_cloexec(out, true);
            baton__fd_cloexec(err, true);
            baton__worker_io_start(sup, w, out, err);
        }
        *tail = w;
        tail = &w->next;
    }
    struct baton_generation **gtail = &gs->list;
    while (*gtail)
        gtail = &(*gtail)->next;
    *gtail = g;
    if (g->state == BATON_GEN_ACTIVE)
        gs->active = g;
}

static int restore_listeners(struct baton_supervisor *sup, struct fy_node *seq)
{
    struct baton_buf names = BATON_BUF_INIT(BATON_BUF_UNBOUNDED);
    struct fy_node *item;
    void *iter = NULL;
    size_t n = seq ? (size_t)fy_node_sequence_item_count(seq) : 0;
    sup->listeners = baton__xcalloc(n ? n : 1, sizeof(*sup->listeners));
    while ((item = fy_node_sequence_iterate(seq, &iter)) && sup->n_listeners < n) {
        struct baton_listener *l = &sup->listeners[sup->n_listeners++];
        l->name = get_str(item, "name");
        l->text = get_str(item, "text");
        l->fd = (int)get_int(item, "fd", -1);
        l->adopted = get_int(item, "adopted", 0);
        if (!l->name || !l->text || l->fd < 0 ||
            baton__address_parse(l->text, &l->address, NULL) < 0) {
            baton__buf_free(&names);
            return -EINVAL;
        }
        baton__fd_cloexec(l->fd, true);
        baton__buf_printf(&names, "%s%s", sup->n_listeners > 1 ? ":" : "", l->name);
    }
    sup->fdnames = names.data ? baton__buf_steal(&names) : baton__xstrdup("");
    return 0;
}

int baton__reexec_take_state(void)
{
    const char *v = getenv(STATE_ENV);
    int fd = v ? atoi(v) : -1;
    unsetenv(STATE_ENV);
    return fd > 2 ? fd : -1;
}

int baton__reexec_restore(struct baton_supervisor *sup, int state_fd)
{
    struct baton_buf text = BATON_BUF_INIT(STATE_MAX);
    struct fy_document *doc = NULL;
    char chunk[65536];
    ssize_t n;
    int r = -EINVAL;

    while ((n = read(state_fd, chunk, sizeof(chunk))) > 0) {
        if (baton__buf_append(&text, chunk, (size_t)n) < 0)
            goto out;
    }
    struct fy_parse_cfg cfg = {.flags = FYPCF_QUIET};
    doc = text.data ? fy_document_build_from_string(&cfg, text.data, text.len) : NULL;
    struct fy_node *root = doc ? fy_document_root(doc) : NULL;
    if (!root || !fy_node_is_mapping(root))
        goto out;
    sup->started_ms = (uint64_t)get_int(root, "started_ms", (long long)sup->started_ms);
    sup->gens.last_id = (long)get_int(root, "last_id", 0);
    sup->gens.restarts = (unsigned long)get_int(root, "restarts", 0);
    sup->first_ready = get_int(root, "first_ready", 0);
    sup->last_reload = get_str(root, "last_reload");
    char *name = get_str(root, "notify_name");
    snprintf(sup->notify_name, sizeof(sup->notify_name), "%s", name ? name : "");
    free(name);
    int notify_fd = (int)get_int(root, "notify_fd", -1);
    int control_fd = (int)get_int(root, "control_fd", -1);
    char *control_path = get_str(root, "control_path");
    if ((r = restore_listeners(sup, get(root, "listeners"))) < 0 || notify_fd < 0 ||
        control_fd < 0 || !control_path) {
        free(control_path);
        r = -EINVAL;
        goto out;
    }
    baton__fd_cloexec(notify_fd, true);
    baton__fd_cloexec(control_fd, true);
    r = baton__notify_adopt(sup, notify_fd);
    if (r == 0)
        r = baton__ctl_adopt(sup, control_fd, control_path);
    free(control_path);
    if (r < 0)
        goto out;
    struct fy_node *item;
    void *iter = NULL;
    while ((item = fy_node_sequence_iterate(get(root, "generations"), &iter)))
        restore_generation(sup, item);
    r = 0;
out:
    fy_document_destroy(doc);
    baton__buf_free(&text);
    close(state_fd);
    return r;
}
