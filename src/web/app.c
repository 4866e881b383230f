/* SPDX-License-Identifier: MIT */
/*
 * The running worker: adopts or binds its listeners, loads the modules, serves, reports to the
 * supervisor (READY=1, STATUS=, BATON_STATS=, STOPPING=1), drains on SIGTERM, and swaps its
 * configuration and modules in place on SIGHUP (or, with --dev, when a module file changes).
 *
 * An inherited listener named `probe` (app.probe, DESIGN.md "Observability") is served by a
 * server of its own: the modules' routes plus a built-in `GET /healthz` (200 "ok") unless a
 * module routes that path. Its requests never reach BATON_STATS (the supervisor's probes are
 * not the application's traffic), and it drains and closes with the main server.
 */
#include <errno.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "baton/baton.h"
#include "common/address.h"
#include "common/log.h"
#include "lib/internal.h"
#include "web/app.h"
#ifdef BATON_HAVE_STATIC
#include "http/static.h"
#endif

/* Bytes a module's save_state may write for its successor. */
#define STATE_BUFFER (256 * 1024)
/* A rebuilt module file is loaded once writes to it have been quiet this long (--dev). */
#define DEV_SETTLE_MS 200
#define STATS_MS      1000

struct app {
    uv_loop_t *loop;
    struct baton__web_options *opts;
    int argc;
    char **argv;
    unsigned generation;
    struct baton__server *server;
    struct baton__server *probe; /* the `probe` listener's server, or NULL */
    struct baton_static *st;
    char *static_root;
    struct baton__web_module *modules[BATON__WEB_MAX_MODULES];
    size_t nmodules;
    char refusal[512]; /* why the last reload was refused, for its STATUS= */
    uv_signal_t sigterm, sigint, sighup, sigquit;
    uv_timer_t stats_timer;
    uv_timer_t dev_timer;
    uv_prepare_t flush;
    uv_fs_event_t watches[BATON__WEB_MAX_MODULES];
    size_t nwatches;
    struct baton__server_stats last_stats;
    bool notify;
    bool stopping;
    bool closed;
};

/* ---- hooks from the server ----------------------------------------------------------------- */

static void on_handler_error(void *data, const baton_request *req, const char *owner, int err)
{
    struct app *a = data;
    baton__log_at(BATON_LOG_ERROR, a->generation, getpid(),
                  "%s %s: %s failed: %s (request %s); answered 500", baton_request_method(req),
                  baton_request_path(req), owner, strerror(err < 0 ? -err : err),
                  baton_request_id(req));
}

static void on_event(void *data, enum baton__event_level level, const char *message)
{
    struct app *a = data;
    enum baton_log_level l = level == BATON__EVENT_ERROR     ? BATON_LOG_ERROR
                             : level == BATON__EVENT_WARNING ? BATON_LOG_WARNING
                                                             : BATON_LOG_INFO;
    baton__log_at(l, a->generation, getpid(), "%s", message);
}

static void close_everything(struct app *a);

static void on_request_done(void *data, const baton_request *req, const baton_response *res,
                            uint64_t duration_us, int complete)
{
    struct app *a = data;
    baton__web_access_log(&a->generation, req, res, duration_us, complete);
}

static void on_drained(void *data, int forced)
{
    struct app *a = data;
    baton__log_at(BATON_LOG_INFO, a->generation, getpid(), "drained%s",
                  forced ? " (deadline reached: connections cut)" : "");
    close_everything(a);
}

/* ---- modules ------------------------------------------------------------------------------- */

static void put_modules(struct baton__web_module **mods, size_t n)
{
    for (size_t i = 0; i < n; i++)
        baton__web_module_put(mods[i]);
}

/* Loads every module of opts and builds their router. Returns 0 or -errno (logged). */
static int load_modules(struct app *a, const struct baton__web_options *o,
                        struct baton__web_module **mods, size_t *ret_n,
                        struct baton__router **ret_router)
{
    char err[512];
    size_t n = 0;
    struct baton__router *router = NULL;
    int r = baton__router_new(&router);
    if (r < 0)
        goto fail_msg;
    for (size_t i = 0; i < o->nmodules; i++) {
        r = baton__web_module_load(o->modules[i].path, o->modules[i].config, a->generation,
                                   &mods[n], err, sizeof(err));
        if (r < 0)
            goto fail;
        n++;
        for (size_t j = 0; j + 1 < n; j++) {
            if (strcmp(mods[j]->name, mods[n - 1]->name) == 0) {
                snprintf(err, sizeof(err), "module %s: name '%s' is already used by %s",
                         mods[n - 1]->path, mods[n - 1]->name, mods[j]->path);
                r = -EEXIST;
                goto fail;
            }
        }
        r = baton__web_module_register(mods[n - 1], router, err, sizeof(err));
        if (r < 0)
            goto fail;
    }
    *ret_n = n;
    *ret_router = router;
    return 0;
fail_msg:
    snprintf(err, sizeof(err), "%s", strerror(-r));
fail:
    baton__log_at(BATON_LOG_ERROR, a->generation, getpid(), "%s", err);
    snprintf(a->refusal, sizeof(a->refusal), "%s", err);
    baton__router_free(router);
    put_modules(mods, n);
    return r;
}

/* The built-in probe answer's owner: static, never released. */
static struct baton__owner builtin_owner = {.refs = 1, .name = "baton-web"};

static int builtin_healthz(baton_request *req, baton_response *res, void *data)
{
    int r = baton_response_header(res, "Cache-Control", "no-store");
    return r < 0 ? r : baton_response_text(res, 200, "ok\n");
}

/* The probe listener's router: every module's routes, then `GET /healthz` unless one of them
 * answers it. NULL when it cannot be built (logged). */
static struct baton__router *probe_router(struct app *a, struct baton__web_module **mods, size_t n)
{
    static const struct baton_route healthz = {"GET", "/healthz", builtin_healthz, NULL};
    struct baton__router *router = NULL;
    struct baton__match m;
    char err[512], allow[64];
    int r = baton__router_new(&router);
    for (size_t i = 0; r == 0 && i < n; i++)
        r = baton__web_module_register(mods[i], router, err, sizeof(err));
    if (r == 0 && baton__router_match(router, "GET", "/healthz", &m, allow, sizeof(allow)) !=
                      BATON__ROUTE_FOUND)
        r = baton__router_add(router, &healthz, &builtin_owner, err, sizeof(err));
    if (r < 0) {
        baton__log_at(BATON_LOG_ERROR, a->generation, getpid(), "probe listener: %s",
                      r == -ENOMEM ? strerror(-r) : err);
        baton__router_free(router);
        return NULL;
    }
    return router;
}

/* Carries each old module's state to the new module of the same name that can take it. */
static void carry_state(struct app *a, struct baton__web_module **mods, size_t n)
{
    char *buf = NULL;
    for (size_t i = 0; i < n; i++) {
        struct baton__web_module *nm = mods[i];
        for (size_t j = 0; j < a->nmodules; j++) {
            struct baton__web_module *om = a->modules[j];
            if (strcmp(om->name, nm->name) != 0 || !om->mod->save_state || !nm->mod->restore_state)
                continue;
            if (!buf && !(buf = malloc(STATE_BUFFER)))
                return;
            int len = om->mod->save_state(om->owner.state, buf, STATE_BUFFER);
            int r = len < 0 ? len : nm->mod->restore_state(nm->owner.state, buf, (size_t)len);
            if (r < 0)
                baton__log_at(BATON_LOG_WARNING, a->generation, getpid(),
                              "module %s: state not carried over: %s", nm->name, strerror(-r));
        }
    }
    free(buf);
}

static void watch_modules(struct app *a);

/* STATUS= while serving names every module with its version ("serving hello 1.0.0, api 2.1"): it
 * shows in `baton status` and in the verdict of an in-place reload. */
static void notify_serving(struct app *a, bool reloaded)
{
    char text[512];
    size_t len = (size_t)snprintf(text, sizeof(text), "serving%s", reloaded ? " (reloaded)" : "");
    for (size_t i = 0; i < a->nmodules && len < sizeof(text); i++) {
        const struct baton_module *m = a->modules[i]->mod;
        len += (size_t)snprintf(text + len, sizeof(text) - len, "%s %s %s", i ? "," : ":", m->name,
                                m->version ? m->version : "-");
    }
    baton_notify_status("%s", text);
}

/* Lets each running module with a `config` hook accept or refuse its new configuration text
 * before anything is loaded. Returns 0 or the first refusal (logged). */
static int ask_running_modules(struct app *a, const struct baton__web_options *o)
{
    for (size_t i = 0; i < o->nmodules; i++) {
        for (size_t j = 0; j < a->nmodules; j++) {
            struct baton__web_module *m = a->modules[j];
            if (strcmp(m->path, o->modules[i].path) != 0 || !m->mod->config)
                continue;
            char why[256] = "";
            const char *text = o->modules[i].config;
            int r = m->mod->config(m->owner.state, text, why, sizeof(why));
            if (r < 0) {
                baton__log_at(BATON_LOG_ERROR, a->generation, getpid(),
                              "module %s (%s): new configuration refused: %s", m->path, m->name,
                              why[0] ? why : strerror(-r));
                return r;
            }
        }
    }
    return 0;
}

/*
 * Swaps configuration and modules in place: everything new is loaded and initialised first;
 * anything refused leaves the running set untouched. Requests in flight finish on the modules
 * they started on, which are unloaded when their last request ends.
 */
static void reload(struct app *a, const char *why)
{
    struct baton__web_options fresh;
    struct baton__web_options *o = a->opts;
    bool fresh_opts = false;
    struct baton__web_module *mods[BATON__WEB_MAX_MODULES];
    size_t n = 0;
    struct baton__router *router = NULL;
    struct baton_static *st = NULL;
    int r;

    baton_notify_reloading();
    baton__log_at(BATON_LOG_INFO, a->generation, getpid(), "reloading (%s)", why);
    if (a->opts->config_file) {
        r = baton__web_options_reload(a->argc, a->argv, &fresh);
        if (r < 0)
            goto refused;
        fresh_opts = true;
        o = &fresh;
    }
    r = ask_running_modules(a, o);
    if (r < 0)
        goto refused;
    r = load_modules(a, o, mods, &n, &router);
    if (r < 0)
        goto refused;
#ifdef BATON_HAVE_STATIC
    bool new_root = o->static_root && (!a->static_root || strcmp(o->static_root, a->static_root));
    if (new_root) {
        char err[512];
        r = baton__static_open(o->static_root, &st, err, sizeof(err));
        if (r < 0) {
            baton__log_at(BATON_LOG_ERROR, a->generation, getpid(), "%s", err);
            baton__router_free(router);
            put_modules(mods, n);
            goto refused;
        }
    }
#endif
    carry_state(a, mods, n);
    size_t routes = baton__router_count(router);
    baton__server_set_router(a->server, router);
    struct baton__router *pr = a->probe ? probe_router(a, mods, n) : NULL;
    if (pr)
        baton__server_set_router(a->probe, pr);
    put_modules(a->modules, a->nmodules);
    memcpy(a->modules, mods, n * sizeof(mods[0]));
    a->nmodules = n;
#ifdef BATON_HAVE_STATIC
    if (new_root || !o->static_root) {
        baton__server_set_static(a->server, st);
        baton__static_close(a->st);
        a->st = st;
        free(a->static_root);
        a->static_root = o->static_root ? strdup(o->static_root) : NULL;
    }
#endif
    if (fresh_opts) {
        struct baton__server_config cfg = fresh.server;
        cfg.generation = a->generation;
        baton__server_reconfigure(a->server, &cfg);
        baton__web_options_free(&fresh);
    }
    baton__log_at(BATON_LOG_INFO, a->generation, getpid(), "reloaded: %zu modules, %zu routes",
                  a->nmodules, routes);
    notify_serving(a, true);
    baton_notify_ready();
    return;
refused:
    if (fresh_opts)
        baton__web_options_free(&fresh);
    baton__log_at(BATON_LOG_ERROR, a->generation, getpid(),
                  "reload refused: still serving the previous modules");
    /* The reason (a module's own init message, say) goes to the supervisor's verdict. */
    baton_notifyf("STATUS=reload refused: %s\nERRNO=%d",
                  a->refusal[0] ? a->refusal : "still serving the previous modules", -r);
    a->refusal[0] = '\0';
    baton_notify_ready();
}

static void on_dev_timer(uv_timer_t *t)
{
    reload(t->data, "a module file changed");
}

static void on_module_file(uv_fs_event_t *h, const char *filename, int events, int status)
{
    struct app *a = h->data;
    if (status < 0 || !filename || a->stopping)
        return;
    for (size_t i = 0; i < a->nmodules; i++) {
        const char *base = strrchr(a->modules[i]->path, '/');
        base = base ? base + 1 : a->modules[i]->path;
        if (strcmp(base, filename) == 0) {
            uv_timer_start(&a->dev_timer, on_dev_timer, DEV_SETTLE_MS, 0);
            return;
        }
    }
}

/* --dev: watches the directories of the module files (a rebuild often replaces the file, which
 * a watch on the file itself would lose). */
static void watch_modules(struct app *a)
{
    for (size_t i = 0; i < a->opts->nmodules && a->nwatches < BATON__WEB_MAX_MODULES; i++) {
        char *copy = strdup(a->opts->modules[i].path);
        if (!copy)
            return;
        const char *dir = dirname(copy);
        uv_fs_event_t *w = &a->watches[a->nwatches];
        uv_fs_event_init(a->loop, w);
        w->data = a;
        int r = uv_fs_event_start(w, on_module_file, dir, 0);
        if (r < 0) {
            baton__log_at(BATON_LOG_WARNING, a->generation, getpid(), "--dev: cannot watch %s: %s",
                          dir, uv_strerror(r));
            uv_close((uv_handle_t *)w, NULL);
        } else {
            a->nwatches++;
        }
        free(copy);
    }
}

/* ---- signals, stats, shutdown -------------------------------------------------------------- */

static void on_flush(uv_prepare_t *p)
{
    baton__web_access_log_flush();
}

/*
 * Sends the counters when they changed. The periodic send never waits (a supervisor whose
 * notify queue is full must not stall serving for the send timeout): a skipped one is sent at
 * the next tick, the counters being cumulative. The last one, as the server closes, waits.
 */
static void send_stats(struct app *a, bool wait)
{
    struct baton__server_stats st;
    baton__server_stats(a->server, &st);
    if (memcmp(&st, &a->last_stats, sizeof(st)) == 0)
        return;
    /* docs/protocol.md: space-separated key=value counters; `connections` is the gauge. */
    char msg[512];
    snprintf(msg, sizeof(msg),
             "BATON_STATS=requests=%llu responses_1xx=%llu responses_2xx=%llu "
             "responses_3xx=%llu responses_4xx=%llu responses_5xx=%llu errors=%llu "
             "bytes_out=%llu connections=%u accepted=%llu io_uring=%d",
             (unsigned long long)st.requests, (unsigned long long)st.responses[1],
             (unsigned long long)st.responses[2], (unsigned long long)st.responses[3],
             (unsigned long long)st.responses[4], (unsigned long long)st.responses[5],
             (unsigned long long)st.errors, (unsigned long long)st.bytes_out, st.active,
             (unsigned long long)st.connections,
             strcmp(baton__server_backend(a->server), "io_uring") == 0);
    if ((wait ? baton_notify(msg) : baton__notify_try(msg)) >= 0)
        a->last_stats = st;
}

static void on_stats(uv_timer_t *t)
{
    send_stats(t->data, false);
}

static void close_everything(struct app *a)
{
    if (a->closed)
        return;
    a->closed = true;
    if (a->notify)
        send_stats(a, true);
    baton__server_close(a->server);
    if (a->probe)
        baton__server_close(a->probe);
    uv_close((uv_handle_t *)&a->sigterm, NULL);
    uv_close((uv_handle_t *)&a->sigint, NULL);
    uv_close((uv_handle_t *)&a->sighup, NULL);
    uv_close((uv_handle_t *)&a->sigquit, NULL);
    uv_close((uv_handle_t *)&a->stats_timer, NULL);
    uv_close((uv_handle_t *)&a->dev_timer, NULL);
    uv_close((uv_handle_t *)&a->flush, NULL);
    for (size_t i = 0; i < a->nwatches; i++)
        uv_close((uv_handle_t *)&a->watches[i], NULL);
    a->nwatches = 0;
}

static void on_signal(uv_signal_t *h, int signo)
{
    struct app *a = h->data;
    if (signo == SIGHUP) {
        if (!a->stopping)
            reload(a, "SIGHUP");
        return;
    }
    if (signo == SIGQUIT || a->stopping) {
        baton__log_at(BATON_LOG_INFO, a->generation, getpid(), "%s: stopping now",
                      strsignal(signo));
        close_everything(a);
        return;
    }
    a->stopping = true;
    struct baton__server_stats st;
    baton__server_stats(a->server, &st);
    baton__log_at(BATON_LOG_INFO, a->generation, getpid(), "%s: draining %u connections",
                  strsignal(signo), st.active);
    baton_notify_stopping();
    baton_notify_status("draining %u connections", st.active);
    uv_timer_stop(&a->dev_timer);
    if (a->probe)
        baton__server_drain(a->probe); /* its end is the main server's (on_drained) */
    baton__server_drain(a->server);
}

/* ---- start --------------------------------------------------------------------------------- */

/* The `probe` listener's own server (same limits, no access log, no stats report). */
static int add_probe(struct app *a, int fd)
{
    struct baton__server_hooks hooks = {
        .data = a, .handler_error = on_handler_error, .event = on_event};
    struct baton__router *router = probe_router(a, a->modules, a->nmodules);
    int r = router ? baton__server_new(a->loop, &a->opts->server, &hooks, &a->probe) : -ENOMEM;
    if (r == 0)
        r = baton__server_add_listener(a->probe, fd);
    if (r < 0) {
        baton__log(BATON_LOG_ERROR, "probe listener fd %d: %s", fd, strerror(-r));
        baton__router_free(router);
        return r;
    }
    baton__server_set_router(a->probe, router);
    baton__log_at(BATON_LOG_DEBUG, a->generation, getpid(), "probe listener on fd %d", fd);
    return 0;
}

/*
 * The backend, chosen once at start (a reload keeps it): --backend or the file's `backend`, else
 * BATON_WEB_BACKEND, else auto. auto takes io_uring when the kernel offers everything it needs
 * and says why not otherwise; an explicit io_uring that cannot be had refuses to start.
 */
static int choose_backend(struct app *a)
{
    enum baton__web_backend b = a->opts->backend;
    const char *env = getenv("BATON_WEB_BACKEND");
    if (b == BATON__WEB_BACKEND_UNSET && env && *env && baton__web_backend_parse(env, &b) < 0) {
        baton__log(BATON_LOG_ERROR, "BATON_WEB_BACKEND=%s: expected auto, io_uring or epoll", env);
        return -EINVAL;
    }
    if (b == BATON__WEB_BACKEND_EPOLL) {
        baton__log_at(BATON_LOG_INFO, a->generation, getpid(), "backend epoll");
        return 0;
    }
    int r = baton__server_use_io_uring(a->server);
    if (r == 0) {
        baton__log_at(BATON_LOG_INFO, a->generation, getpid(), "backend io_uring");
        return 0;
    }
    if (b == BATON__WEB_BACKEND_IO_URING) {
        baton__log(BATON_LOG_ERROR, "backend io_uring: %s", baton__server_io_uring_why(r));
        return r;
    }
    baton__log_at(BATON_LOG_INFO, a->generation, getpid(), "backend epoll: %s",
                  baton__server_io_uring_why(r));
    return 0;
}

static int add_listeners(struct app *a)
{
    int probe = baton_listen_fd_by_name("probe"); /* the names go with the environment below */
    int n = baton_listen_fds(1);
    if (n < 0) {
        baton__log(BATON_LOG_ERROR, "LISTEN_FDS: %s", strerror(-n));
        return n;
    }
    if (n > 0) {
        if (a->opts->nlisten)
            baton__log(BATON_LOG_INFO, "using %d inherited listeners; --listen ignored", n);
        for (int i = 0; i < n; i++) {
            if (BATON_LISTEN_FDS_START + i == probe) {
                int r = add_probe(a, probe);
                if (r < 0)
                    return r;
                continue;
            }
            int r = baton__server_add_listener(a->server, BATON_LISTEN_FDS_START + i);
            if (r < 0) {
                baton__log(BATON_LOG_ERROR, "inherited listener fd %d: %s",
                           BATON_LISTEN_FDS_START + i, strerror(-r));
                return r;
            }
        }
        return 0;
    }
    if (!a->opts->nlisten) {
        baton__log(BATON_LOG_ERROR, "no listener: pass --listen ADDR, or run under baton");
        return -EINVAL;
    }
    for (size_t i = 0; i < a->opts->nlisten; i++) {
        struct baton_address addr;
        const char *reason = NULL;
        int r = baton__address_parse(a->opts->listen[i], &addr, &reason);
        if (r < 0) {
            baton__log(BATON_LOG_ERROR, "--listen %s: %s", a->opts->listen[i],
                       reason ? reason : strerror(-r));
            return r;
        }
        int fd = baton__address_listen(&addr, 4096);
        if (fd < 0) {
            baton__log(BATON_LOG_ERROR, "--listen %s: %s", a->opts->listen[i], strerror(-fd));
            return fd;
        }
        r = baton__server_add_listener(a->server, fd);
        if (r < 0) {
            close(fd);
            return r;
        }
        baton__log(BATON_LOG_INFO, "listening on %s", a->opts->listen[i]);
    }
    return 0;
}

int baton__web_app_run(struct baton__web_options *opts, int argc, char **argv)
{
    struct app app = {.opts = opts, .argc = argc, .argv = argv};
    struct app *a = &app;
    struct baton__router *router = NULL;
    int status = 2;
    const char *gen = getenv("BATON_GENERATION");
    a->generation = gen ? (unsigned)strtoul(gen, NULL, 10) : 0;
    a->notify = getenv("NOTIFY_SOCKET") != NULL;
    opts->server.generation = a->generation;

    /* A client that goes away must not kill the worker with SIGPIPE on the next write. */
    signal(SIGPIPE, SIG_IGN);
    a->loop = uv_default_loop();

    if (load_modules(a, opts, a->modules, &a->nmodules, &router) < 0)
        goto out;
    if (opts->static_root) {
#ifdef BATON_HAVE_STATIC
        char err[512];
        if (baton__static_open(opts->static_root, &a->st, err, sizeof(err)) < 0) {
            baton__log(BATON_LOG_ERROR, "--static: %s", err);
            goto out;
        }
        a->static_root = strdup(opts->static_root);
#else
        baton__log(BATON_LOG_ERROR, "--static: this baton-web was built without static files");
        goto out;
#endif
    }
    struct baton__server_hooks hooks = {
        .data = a,
        .handler_error = on_handler_error,
        .event = on_event,
        .drained = on_drained,
    };
    if (opts->access_log)
        hooks.request_done = on_request_done;
    if (baton__server_new(a->loop, &opts->server, &hooks, &a->server) < 0) {
        baton__log(BATON_LOG_ERROR, "out of memory");
        goto out;
    }
    if (choose_backend(a) < 0 || add_listeners(a) < 0)
        goto out;
    baton__server_set_router(a->server, router);
    router = NULL;
    baton__server_set_static(a->server, a->st);
    int r = baton__server_start(a->server);
    if (r == 0 && a->probe)
        r = baton__server_start(a->probe);
    if (r < 0) {
        baton__log(BATON_LOG_ERROR, "cannot start serving: %s", uv_strerror(r));
        status = 1;
        goto out;
    }

    uv_signal_t *sigs[] = {&a->sigterm, &a->sigint, &a->sighup, &a->sigquit};
    int signos[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT};
    for (int i = 0; i < 4; i++) {
        uv_signal_init(a->loop, sigs[i]);
        sigs[i]->data = a;
        uv_signal_start(sigs[i], on_signal, signos[i]);
    }
    uv_timer_init(a->loop, &a->stats_timer);
    a->stats_timer.data = a;
    if (a->notify)
        uv_timer_start(&a->stats_timer, on_stats, STATS_MS, STATS_MS);
    uv_unref((uv_handle_t *)&a->stats_timer);
    uv_timer_init(a->loop, &a->dev_timer);
    a->dev_timer.data = a;
    uv_prepare_init(a->loop, &a->flush);
    if (opts->access_log)
        uv_prepare_start(&a->flush, on_flush);
    if (opts->dev)
        watch_modules(a);

    for (size_t i = 0; i < a->nmodules; i++)
        baton__log_at(BATON_LOG_INFO, a->generation, getpid(), "module %s %s loaded from %s",
                      a->modules[i]->name,
                      a->modules[i]->mod->version ? a->modules[i]->mod->version : "",
                      a->modules[i]->path);
    baton_notify_ready();
    notify_serving(a, false);
    uv_run(a->loop, UV_RUN_DEFAULT);
    status = 0;
out:
    if (a->server && !a->closed) {
        /* Refused before serving: close what the server opened and let libuv finish. */
        baton__server_close(a->server);
        if (a->probe)
            baton__server_close(a->probe);
        uv_run(a->loop, UV_RUN_DEFAULT);
    }
    baton__web_access_log_flush();
    baton__router_free(router);
    baton__server_free(a->server);
    baton__server_free(a->probe);
    put_modules(a->modules, a->nmodules);
#ifdef BATON_HAVE_STATIC
    baton__static_close(a->st);
#endif
    free(a->static_root);
    uv_loop_close(a->loop);
    return status;
}
