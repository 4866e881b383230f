/* SPDX-License-Identifier: MIT */
/*
 * `baton run`: the event loop (libuv), the signals, the systemd side, and the glue between the
 * state machine (generation.c, rollout.c) and the world: sockets, processes, the CLI.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/json.h"
#include "lib/internal.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "supervisor/internal.h"
#include "supervisor/observe.h"
#include "supervisor/supervisor.h"

extern char **environ;

enum baton_sup_state baton__sup_state(const struct baton_supervisor *sup)
{
    if (sup->gens.stopping)
        return BATON_SUP_STOPPING;
    return sup->gens.transition != BATON_TRANSITION_NONE ? BATON_SUP_RELOADING : BATON_SUP_RUNNING;
}

/* The supervisor's own messages to systemd (Type=notify), with an optional fd to store
 * (FDSTORE=1), sent by libbaton: its send timeout bounds how long a full systemd queue can hold
 * the loop. A no-op without NOTIFY_SOCKET. */
static void sd_notify_fd(struct baton_supervisor *sup, const char *msg, int fd)
{
    int r = baton__notify_send(sup->sd_notify_socket, msg, &fd, fd >= 0 ? 1 : 0);
    if (r < 0)
        baton__log(r == -EAGAIN ? BATON_LOG_WARNING : BATON_LOG_DEBUG, "NOTIFY_SOCKET %s: %s",
                   sup->sd_notify_socket, strerror(-r));
}

static void sd_notify(struct baton_supervisor *sup, const char *msg)
{
    sd_notify_fd(sup, msg, -1);
}

static void apply_log_config(const struct baton_config *c)
{
    enum baton_log_format format = c->log.format;
    if (!c->log.format_set)
        format = isatty(STDERR_FILENO) ? BATON_LOG_TEXT : BATON_LOG_JSON;
    baton__log_setup("baton", format, c->log.level);
}

/* ---- the state machine's side effects ---------------------------------------------------- */

static int op_spawn(void *ctx, struct baton_worker *w, char **ret_what)
{
    return baton__worker_spawn(ctx, w, ret_what);
}

static void op_kill(void *ctx, struct baton_worker *w, int signo)
{
    if (w->pid <= 0)
        return;
    /* Stopping a worker stops whatever it started: it leads its own process group (spawn.c),
     * and helpers it forked (a wrapper's children, a server's helpers) inherited the listeners;
     * left alone they would go on accepting old-code connections. The reload signal is the
     * worker's alone. (The pid is not reaped yet, so the group id cannot have been reused.) */
    bool group = w->state == BATON_WORKER_DRAINING || w->state == BATON_WORKER_KILLED;
    if (group && !w->stop_sent_ms)
        w->stop_sent_ms = baton__clock_now_ms(); /* the drain's start (observe.h) */
    baton__log_at(BATON_LOG_DEBUG, w->gen->id, w->pid, "sending SIG%s%s", baton__signal_name(signo),
                  group ? " to its process group" : "");
    int r = group ? kill(-w->pid, signo) : -1;
    if (!group || (r < 0 && errno == ESRCH)) /* it left its group: the worker alone, then */
        r = kill(w->pid, signo);
    if (r < 0 && errno != ESRCH)
        baton__log_at(BATON_LOG_ERROR, w->gen->id, w->pid, "kill SIG%s: %s",
                      baton__signal_name(signo), strerror(errno));
}

static void op_progress(void *ctx, long gen, const char *step, const char *msg)
{
    struct baton_supervisor *sup = ctx;
    baton__log_at(BATON_LOG_INFO, gen, -1, "%s", msg);
    baton__deploy_progress(sup, gen, msg);
    if (!sup->tx_client)
        return;
    uint64_t now = baton__clock_now_ms();
    uint64_t since = sup->tx_step_ms > sup->tx_started_ms ? sup->tx_step_ms : sup->tx_started_ms;
    struct baton_buf b = BATON_BUF_INIT(BATON_CONTROL_REPLY_MAX);
    baton__buf_puts(&b, "{");
    baton__json_kv_str(&b, "event", "progress");
    baton__json_kv_str(&b, "step", step);
    baton__json_kv_str(&b, "msg", msg);
    baton__json_kv_int(&b, "gen", gen);
    baton__json_kv_int(&b, "elapsed_ms", (long long)(now - sup->tx_started_ms));
    baton__json_kv_int(&b, "step_ms", (long long)(now - since));
    baton__buf_puts(&b, "}");
    sup->tx_step_ms = now;
    baton__ctl_send(sup->tx_client, b.data, b.len);
    baton__buf_free(&b);
}

/* A transaction ended with verdict JSON `json`: answer, record, tell systemd. */
static void finish(struct baton_supervisor *sup, bool ok, const char *json, size_t len, bool record)
{
    struct baton_control_client *c = sup->tx_client;
    sup->tx_client = NULL;
    if (record) {
        free(sup->last_reload);
        sup->last_reload = baton__xstrdup(json);
        baton__history_reload(sup->history, ok, json, baton__clock_now_ms() - sup->tx_started_ms);
    }
    if (ok)
        baton__watch_update(sup);
    baton__watch_tx_done(sup);
    baton__ctl_send(c, json, len);
    baton__ctl_tx_done(sup, c);
    if (!sup->first_ready) {
        if (!ok && sup->gens.stopping)
            return; /* asked to stop while starting: not a failure */
        if (!ok) {
            /* Stopped from the loop: this runs inside the state machine's callback. */
            baton__log(BATON_LOG_ERROR, "the first generation failed: stopping");
            sup->exit_code = 1;
            sup->stop_requested = true;
            return;
        }
        sup->first_ready = true;
        /* A dead supervisor's workers served until now: they drain like an old generation. */
        baton__recover_drain(sup, false, baton__clock_now_ms());
        sd_notify(sup, "READY=1\nSTATUS=serving");
        return;
    }
    if (!sup->gens.stopping)
        sd_notify(sup, ok ? "READY=1\nSTATUS=serving" : "READY=1\nSTATUS=serving (reload failed)");
}

static void op_done(void *ctx, const struct baton_verdict *v)
{
    struct baton_supervisor *sup = ctx;
    struct baton_buf b = BATON_BUF_INIT(BATON_CONTROL_REPLY_MAX);
    baton__verdict_json(v, &b);
    if (v->ok) {
        /* The log settings of the configuration now serving (not of one that failed). */
        if (sup->gens.active)
            apply_log_config(sup->gens.active->config);
        baton__log_at(BATON_LOG_NOTICE, v->gen, -1, "%s", v->msg);
    } else {
        baton__log_at(BATON_LOG_ERROR, v->gen, v->pid > 0 ? v->pid : -1, "%s; %s", v->error,
                      v->msg);
        if (v->status)
            baton__log_at(BATON_LOG_ERROR, v->gen, -1, "its last STATUS=%s", v->status);
    }
    if (baton__deploy_rollout_done(sup, v)) {
        /* The deploy answers its client; the verdict is still the last reload's. */
        free(sup->last_reload);
        sup->last_reload = baton__xstrdup(b.data);
        if (v->ok && !sup->first_ready) {
            sup->first_ready = true;
            /* A dead supervisor's workers (a resumed deploy's) drain like an old generation. */
            baton__recover_drain(sup, false, baton__clock_now_ms());
            sd_notify(sup, "READY=1\nSTATUS=serving");
        }
    } else if (!baton__probation_rollout_done(sup, v, b.data)) {
        finish(sup, v->ok, b.data, b.len, sup->first_ready || v->previous >= 0);
    }
    baton__buf_free(&b);
}

void baton__sup_finish(struct baton_supervisor *sup, bool ok, const char *json, size_t len)
{
    finish(sup, ok, json, len, true);
}

void baton__sup_progress(struct baton_supervisor *sup, long gen, const char *step, const char *msg)
{
    op_progress(sup, gen, step, msg);
}

static void op_release_worker(void *ctx, struct baton_worker *w)
{
    baton__worker_io_release(w);
}

static void op_release_generation(void *ctx, struct baton_generation *g)
{
    baton__config_free(g->config);
    g->config = NULL;
}

static void op_probe(void *ctx, struct baton_worker *w)
{
    baton__probe_worker(ctx, w);
}

static const struct baton_gens_ops gens_ops = {
    .probe = op_probe,
    .spawn = op_spawn,
    .kill = op_kill,
    .progress = op_progress,
    .done = op_done,
    .release_worker = op_release_worker,
    .release_generation = op_release_generation,
};

/* ---- actions ------------------------------------------------------------------------------ */

void baton__sup_busy_message(const struct baton_supervisor *sup, char *buf, size_t size)
{
    const struct baton_gens *gs = &sup->gens;
    if (gs->transition == BATON_TRANSITION_NONE &&
        (baton__deploy_busy(sup, buf, size) || baton__probation_busy(sup, buf, size)))
        return;
    if (gs->transition == BATON_TRANSITION_ROLLOUT)
        snprintf(buf, size, "busy: generation %ld is starting", gs->tx.gen->id);
    else if (gs->transition == BATON_TRANSITION_IN_PLACE)
        snprintf(buf, size, "busy: generation %ld is reloading in place", gs->tx.gen->id);
    else if (baton__gens_drain_full(gs))
        snprintf(buf, size, "busy: %u generations are still draining (app.max_draining)",
                 baton__gens_draining(gs));
    else
        snprintf(buf, size, "busy");
}

/* A reload refused before anything changed: cause "config" (the file does not load) or
 * "listen" (an address of its `listen:` cannot be bound). */
static void reload_refused(struct baton_supervisor *sup, const char *error, const char *cause)
{
    struct baton_buf b = BATON_BUF_INIT(BATON_CONTROL_REPLY_MAX);
    size_t n = strlen(error);
    while (n && error[n - 1] == '\n')
        n--;
    baton__log(BATON_LOG_ERROR, "reload: %s%.*s",
               strcmp(cause, "config") == 0 ? "configuration error: " : "", (int)n, error);
    baton__buf_puts(&b, "{");
    baton__json_kv_bool(&b, "ok", 0);
    baton__json_kv_str(&b, "verdict", "failed");
    baton__json_key(&b, "error");
    baton__json_string(&b, error, n);
    baton__buf_printf(&b, ",\"reason\":{\"cause\":\"%s\"}", cause);
    baton__json_kv_str(&b, "msg", "nothing changed");
    baton__buf_puts(&b, "}");
    finish(sup, false, b.data, b.len, true);
    baton__buf_free(&b);
}

static void config_failed(struct baton_supervisor *sup, const char *error)
{
    reload_refused(sup, error, "config");
}

int baton__sup_reload(struct baton_supervisor *sup, struct baton_control_client *c, bool in_place)
{
    struct baton_gens *gs = &sup->gens;
    struct baton_config *config = NULL;
    struct baton_buf err = BATON_BUF_INIT(64 * 1024);
    uint64_t now = baton__clock_now_ms();
    char msg[96];

    if (gs->stopping)
        return -ECANCELED;
    /* A deploy (or a reload's probation) can hold for minutes, and ends in a reload of its own:
     * a reload is refused at once, even one that would wait (systemctl reload fails, busy). */
    if (sup->deploy || sup->probation)
        return -EINPROGRESS;
    if (gs->transition != BATON_TRANSITION_NONE || (!in_place && baton__gens_drain_full(gs)))
        return -EBUSY;
    if (!baton__deploy_has_release(sup)) {
        /* An empty release.root: nothing to start (not a failed first generation: the
         * supervisor goes on waiting); the first deploy starts generation 1. */
        static const char none[] = "{\"ok\":false,\"verdict\":\"failed\",\"error\":\"no release "
                                   "in release.root yet: deploy one with baton deploy\",\"msg\":"
                                   "\"nothing changed\"}";
        baton__log(BATON_LOG_ERROR, "reload: no release in release.root yet: nothing to reload");
        baton__ctl_send(c, none, sizeof(none) - 1);
        baton__ctl_tx_done(sup, c);
        return 0;
    }
    sup->tx_client = c;
    sup->tx_started_ms = now;
    snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%llu",
             (unsigned long long)now * 1000ULL);
    sd_notify(sup, msg);

    if (in_place) {
        if (baton__gens_reload_in_place(gs, now) == -ESRCH)
            config_failed(sup, "no generation is serving: nothing to reload in place");
        return 0;
    }
    baton__log(BATON_LOG_INFO, "reload: reading the configuration");
    sup->tx_step_ms = now;
    if (baton__config_load(sup->options, &config, &err) < 0) {
        config_failed(sup, err.data ? err.data : "configuration error");
        baton__buf_free(&err);
        return 0;
    }
    baton__buf_free(&err);
    /* New addresses are bound now, before anything starts: one that cannot be fails the reload
     * with nothing changed. Those no longer named close once their generations are gone. */
    char why[768];
    if (baton__listeners_prepare(sup, config, gs->last_id + 1, why, sizeof(why)) < 0) {
        baton__config_free(config);
        reload_refused(sup, why, "listen");
        return 0;
    }
    if (sup->control_path && strcmp(sup->control_path, config->control.socket) != 0)
        baton__log(BATON_LOG_WARNING, "control.socket changes need a restart");
    if (baton__endpoint_changed(sup, config->metrics.listen))
        baton__log(BATON_LOG_WARNING, "metrics.listen changes need a restart (or a re-exec)");
    long id = baton__gens_reload(gs, config, now);
    if (id < 0) {
        /* Checked above: cannot be busy or stopping here. */
        baton__config_free(config);
        config_failed(sup, "reload refused");
    }
    return 0;
}

void baton__sup_stop(struct baton_supervisor *sup, bool fast)
{
    if (sup->gens.stopping && (!fast || sup->stop_fast))
        return;
    baton__log(BATON_LOG_NOTICE, "stopping (%s)", fast ? "fast: SIGKILL" : "draining");
    sup->stop_fast = sup->stop_fast || fast;
    sd_notify(sup, "STOPPING=1");
    baton__pull_stop(sup);
    baton__gens_stop(&sup->gens, fast, baton__clock_now_ms());
    baton__recover_drain(sup, fast, baton__clock_now_ms());
}

/* ---- the loop ----------------------------------------------------------------------------- */

/* How a reaped worker's end is told: a worker that was not asked to stop, or that answered the
 * stop signal with a failure, is a warning. */
static void log_exit(const struct baton_worker *w, int st)
{
    bool asked = w->state == BATON_WORKER_DRAINING || w->state == BATON_WORKER_KILLED;
    long gen = w->gen->id;
    if (WIFSIGNALED(st)) {
        int sig = WTERMSIG(st);
        bool expected = asked && (sig == w->gen->config->app.stop_signal || sig == SIGKILL);
        baton__log_at(expected ? BATON_LOG_INFO : BATON_LOG_WARNING, gen, w->pid,
                      "worker (slot %u) was killed by SIG%s%s", w->slot, baton__signal_name(sig),
                      asked && !expected ? " while draining" : "");
    } else if (asked && WEXITSTATUS(st) != 0) {
        baton__log_at(BATON_LOG_WARNING, gen, w->pid,
                      "worker (slot %u) exited with status %d while draining: its drain failed",
                      w->slot, WEXITSTATUS(st));
    } else {
        baton__log_at(asked ? BATON_LOG_INFO : BATON_LOG_WARNING, gen, w->pid,
                      "worker (slot %u) exited with status %d", w->slot, WEXITSTATUS(st));
    }
}

static void reap(struct baton_supervisor *sup)
{
    /* Notify messages first: a STATUS= or READY=1 sent just before exiting belongs to the
     * verdict; the kernel keeps the datagrams of a dead sender. */
    baton__notify_drain(sup);
    for (;;) {
        int st;
        pid_t pid = waitpid(-1, &st, WNOHANG);
        if (pid <= 0)
            break;
        struct baton_worker *w = baton__gens_find(&sup->gens, pid);
        if (!w) {
            baton__log(BATON_LOG_DEBUG, "reaped pid %ld (not a worker)", (long)pid);
            continue;
        }
        log_exit(w, st);
        baton__deploy_worker_exit(sup, w, st);
        baton__probation_worker_exit(sup, w, st);
        /* Nothing a worker started outlives it: what is left of its process group (a
         * wrapper's background child, a helper that ignored the stop signal) goes now, before
         * anything new is spawned. The group id stays reserved while it has members, so this
         * reaches no stranger. */
        if (kill(-pid, 0) == 0) {
            baton__log_at(BATON_LOG_WARNING, w->gen->id, pid,
                          "the worker left processes behind in its process group: SIGKILL");
            kill(-pid, SIGKILL);
        }
        baton__worker_io_flush(w);
        if (w->stop_sent_ms)
            baton__history_drain(sup->history, baton__clock_now_ms() - w->stop_sent_ms);
        baton__gens_worker_exited(&sup->gens, w, st, baton__clock_now_ms());
    }
    baton__deploy_after_reap(sup);
    baton__probation_after_reap(sup);
}

static void on_signal(uv_signal_t *h, int signo)
{
    struct baton_supervisor *sup = h->data;
    char busy[128];
    switch (signo) {
    case SIGCHLD:
        reap(sup);
        break;
    case SIGTERM:
        baton__sup_stop(sup, false);
        break;
    case SIGINT:
        /* A second Ctrl-C means: don't wait for the drain. */
        baton__sup_stop(sup, sup->gens.stopping);
        break;
    case SIGQUIT:
        baton__sup_stop(sup, true);
        break;
    case SIGUSR2: {
        if (!baton__recover_idle(sup)) {
            /* The orphans' pidfds and deadlines are not part of the re-exec state. */
            baton__log(BATON_LOG_WARNING,
                       "SIGUSR2 ignored: the previous supervisor's workers are still draining");
            break;
        }
        int r = baton__reexec(sup); /* returns only when it did not happen */
        if (r == -EBUSY) {
            baton__sup_busy_message(sup, busy, sizeof(busy));
            baton__log(BATON_LOG_WARNING, "SIGUSR2 ignored: %s", busy);
        } else if (r == -ECANCELED) {
            baton__log(BATON_LOG_WARNING, "SIGUSR2 ignored: stopping");
        } else if (r == -ENOEXEC) {
            baton__log(BATON_LOG_WARNING, "SIGUSR2 ignored: the supervisor's binary is unknown");
        }
        break;
    }
    default:
        break;
    }
}

/* True when the controlling terminal the supervisor started with is gone (hung up: the kernel
 * took it from the session before any SIGHUP about it was sent, by it or by a shell). */
static bool terminal_gone(const struct baton_supervisor *sup)
{
    if (!sup->had_terminal)
        return false;
    int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (fd >= 0)
        close(fd);
    return fd < 0;
}

/* SIGHUP, read from a signalfd for its siginfo: `kill -HUP` (SI_USER) reloads; the kernel's
 * hang-up of the terminal (SI_KERNEL), or a SIGHUP after the terminal went away (a shell
 * passing on its own), stops gracefully: a foreground `baton run` whose terminal closed must
 * not reload into an orphaned life with its output lost. */
static void on_sighup(uv_poll_t *h, int status, int events)
{
    struct baton_supervisor *sup = h->data;
    struct signalfd_siginfo si;
    char busy[128];
    while (read(sup->hup_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        if (si.ssi_code == SI_KERNEL || terminal_gone(sup)) {
            baton__log(BATON_LOG_NOTICE, "SIGHUP: the terminal hung up: stopping");
            baton__sup_stop(sup, false);
            continue;
        }
        baton__log(BATON_LOG_INFO, "SIGHUP from pid %ld: reload", (long)si.ssi_pid);
        int r = baton__sup_reload(sup, NULL, false);
        if (r == -EBUSY || r == -EINPROGRESS) {
            baton__sup_busy_message(sup, busy, sizeof(busy));
            baton__log(BATON_LOG_WARNING, "SIGHUP ignored: %s", busy);
        }
    }
}

static void on_timer(uv_timer_t *h)
{
    struct baton_supervisor *sup = h->data;
    uint64_t now = baton__clock_now_ms();
    baton__gens_tick(&sup->gens, now);
    baton__recover_tick(sup, now);
    baton__ctl_tick(sup, now);
}

/* Before the loop blocks: next requests, the exit condition, the one timer's deadline. */
static void on_prepare(uv_prepare_t *h)
{
    struct baton_supervisor *sup = h->data;
    baton__ctl_resume(sup);
    if (sup->stop_requested) {
        sup->stop_requested = false;
        baton__sup_stop(sup, false);
    }
    if (sup->gens.stopping && baton__gens_idle(&sup->gens) && baton__recover_idle(sup)) {
        uv_stop(sup->loop);
        return;
    }
    baton__listeners_update(sup); /* closes those no generation uses any more */
    baton__recover_save(sup);     /* the state file, when this turn changed the machine */
    uint64_t next = baton__gens_next_deadline(&sup->gens);
    uint64_t c = baton__ctl_next_deadline(sup);
    if (c < next)
        next = c;
    c = baton__recover_next_deadline(sup);
    if (c < next)
        next = c;
    if (next == UINT64_MAX) {
        uv_timer_stop(&sup->timer);
        return;
    }
    uint64_t now = baton__clock_now_ms();
    /* +1: libuv's clock may be coarser than ours; firing early would only spin. */
    uv_timer_start(&sup->timer, on_timer, next > now ? next - now + 1 : 0, 0);
}

static const int handled_signals[] = {SIGCHLD, SIGTERM, SIGINT, SIGQUIT, SIGUSR2};

static int loop_setup(struct baton_supervisor *sup)
{
    sigset_t set;
    int r;
    for (size_t i = 0; i < sizeof(handled_signals) / sizeof(handled_signals[0]); i++) {
        uv_signal_init(sup->loop, &sup->signals[i]);
        sup->signals[i].data = sup;
        if ((r = uv_signal_start(&sup->signals[i], on_signal, handled_signals[i])) < 0)
            return r;
    }
    /* SIGHUP stays blocked and is read from a signalfd: its si_code tells a terminal's hang-up
     * from a `kill -HUP`, which libuv's handlers do not pass on. (Workers start with an empty
     * mask: spawn.c.) */
    sigemptyset(&set);
    sigaddset(&set, SIGHUP);
    sigprocmask(SIG_BLOCK, &set, NULL);
    sup->hup_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (sup->hup_fd < 0)
        return uv_translate_sys_error(errno);
    if ((r = uv_poll_init(sup->loop, &sup->hup_poll, sup->hup_fd)) < 0)
        return r;
    sup->hup_poll.data = sup;
    if ((r = uv_poll_start(&sup->hup_poll, UV_READABLE, on_sighup)) < 0)
        return r;
    int tty = open("/dev/tty", O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    sup->had_terminal = tty >= 0;
    if (tty >= 0)
        close(tty);
    uv_timer_init(sup->loop, &sup->timer);
    sup->timer.data = sup;
    uv_prepare_init(sup->loop, &sup->prepare);
    sup->prepare.data = sup;
    if ((r = uv_prepare_start(&sup->prepare, on_prepare)) < 0)
        return r;
    /* Blocked across a re-exec (and maybe by whoever started us): the handlers are in place. */
    sigemptyset(&set);
    for (size_t i = 0; i < sizeof(handled_signals) / sizeof(handled_signals[0]); i++)
        sigaddset(&set, handled_signals[i]);
    sigprocmask(SIG_UNBLOCK, &set, NULL);
    return 0;
}

static void close_handle(uv_handle_t *h, void *arg)
{
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

/* Standard streams must exist: a pipe or socket created later must never become fd 0-2. */
static void ensure_stdio(void)
{
    for (int fd = 0; fd < 3; fd++) {
        if (fcntl(fd, F_GETFD) < 0 && open("/dev/null", fd ? O_WRONLY : O_RDONLY) < 0)
            abort();
    }
}

/* Releases everything; returns code. */
static int shutdown_all(struct baton_supervisor *sup, uv_loop_t *loop, struct baton_config *config,
                        int code)
{
    baton__pull_close(sup);
    baton__deploy_close(sup);
    baton__probation_close(sup);
    baton__probe_close_all(sup);
    baton__recover_end(sup); /* the state file: removed, or left to the next supervisor */
    baton__gens_free(&sup->gens);
    baton__endpoint_close(sup);
    baton__watch_close(sup);
    baton__ctl_close(sup);
    baton__notify_close(sup);
    baton__listeners_close(sup);
    uv_walk(loop, close_handle, NULL);
    uv_run(loop, UV_RUN_DEFAULT);
    uv_loop_close(loop);
    if (sup->hup_fd >= 0)
        close(sup->hup_fd); /* after its poll handle closed */
    baton__config_free(config);
    if (sup->devnull >= 0)
        close(sup->devnull);
    for (char **p = sup->base_env; p && *p; p++)
        free(*p);
    free(sup->base_env);
    free(sup->sd_notify_socket);
    free(sup->inherited);
    free(sup->last_reload);
    baton__history_free(sup->history);
    baton__logs_free(sup);
    free(sup->name);
    free(sup->exe_path);
    for (char **p = sup->exe_argv; p && *p; p++)
        free(*p);
    free(sup->exe_argv);
    free(sup);
    return code;
}

/* The new image after a re-exec: the old one's state instead of binding and starting. */
static int resume(struct baton_supervisor *sup, uv_loop_t *loop, struct baton_config *config,
                  int state_fd)
{
    int r = baton__reexec_restore(sup, state_fd);
    if (r < 0) {
        baton__log(BATON_LOG_ALERT, "re-exec: the saved state is unusable: %s", strerror(-r));
        return shutdown_all(sup, loop, config, 2);
    }
    (void)baton__deploy_open(sup, config); /* no deploy runs across a re-exec: refused */
    /* The endpoint is bound again (the old image's socket closed on exec); the watch reopened. */
    if (config && config->metrics.listen && baton__endpoint_open(sup, config->metrics.listen) < 0)
        baton__log(BATON_LOG_ERROR, "re-exec: no metrics endpoint");
    baton__watch_open(sup, config ? config->path : NULL, config && config->control.watch);
    (void)baton__pull_open(sup, config);
    baton__config_free(config); /* the generations keep their own; a reload reads the file */
    if (sup->control_path)
        baton__recover_own(sup, sup->control_path);
    if (sup->gens.active)
        apply_log_config(sup->gens.active->config);
    if ((r = loop_setup(sup)) < 0) {
        baton__log(BATON_LOG_ERROR, "signals: %s", uv_strerror(r));
        return shutdown_all(sup, loop, NULL, 2);
    }
    unsigned workers = 0;
    for (struct baton_generation *g = sup->gens.list; g; g = g->next)
        for (struct baton_worker *w = g->workers; w; w = w->next)
            workers++;
    baton__log(BATON_LOG_NOTICE, "supervisor %ld re-executed (baton %s): %u workers kept",
               (long)getpid(), BATON_VERSION, workers);
    reap(sup); /* whatever exited while no handler was there */
    uv_run(loop, UV_RUN_DEFAULT);
    baton__log(BATON_LOG_NOTICE, "supervisor stopped");
    return shutdown_all(sup, loop, NULL, sup->exit_code);
}

int baton__supervisor_run(struct baton_config *config, const struct baton_config_options *options)
{
    struct baton_supervisor *sup = baton__xcalloc(1, sizeof(*sup));
    uv_loop_t loop;
    int code = 2, r;

    ensure_stdio();
    int inherit = baton__listeners_inherit(sup); /* before anything opens an fd */
    int state_fd = baton__reexec_take_state();
    signal(SIGPIPE, SIG_IGN);
    apply_log_config(config);
    sup->loop = &loop;
    sup->options = options;
    sup->started_ms = baton__clock_now_ms();
    sup->notify_fd = sup->control_fd = sup->hup_fd = sup->release_fd = -1;
    sup->name = baton__xstrdup(config->name ? config->name : "baton");
    sup->base_env = baton__worker_base_env(environ);
    const char *sd = getenv("NOTIFY_SOCKET");
    sup->sd_notify_socket = sd ? baton__xstrdup(sd) : NULL;
    sup->devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
    baton__reexec_prepare(sup);
    baton__gens_init(&sup->gens, &gens_ops, sup);
    sup->history = baton__history_new();
    baton__logs_start(sup);
    if ((r = uv_loop_init(&loop)) < 0) {
        baton__log(BATON_LOG_ERROR, "event loop: %s", uv_strerror(r));
        baton__history_free(sup->history);
        baton__logs_free(sup);
        free(sup);
        baton__config_free(config);
        return 2;
    }
    if (state_fd >= 0)
        return resume(sup, &loop, config, state_fd);
    /* A dead supervisor's workers first: they may hold our listeners (recover.c). */
    if (inherit < 0 || sup->devnull < 0 || baton__recover_begin(sup, config) < 0 ||
        baton__deploy_open(sup, config) < 0 || baton__listeners_open(sup, config) < 0 ||
        baton__ctl_open(sup, config) < 0 ||
        (config->metrics.listen && baton__endpoint_open(sup, config->metrics.listen) < 0))
        goto out;
    (void)baton__pull_open(sup, config); /* logged; the supervisor runs without pull mode */
    baton__recover_own(sup, config->control.socket);
    baton__watch_open(sup, config->path, config->control.watch);
    baton__listeners_store(sup);
    if ((r = baton__notify_open(sup)) < 0) {
        baton__log(BATON_LOG_ERROR, "notify socket: %s", strerror(-r));
        goto out;
    }
    if ((r = loop_setup(sup)) < 0) {
        baton__log(BATON_LOG_ERROR, "signals: %s", uv_strerror(r));
        goto out;
    }
    baton__log(BATON_LOG_NOTICE, "supervisor %ld started (baton %s)", (long)getpid(),
               BATON_VERSION);
    sup->tx_started_ms = baton__clock_now_ms();
    if (baton__deploy_has_release(sup)) {
        baton__gens_reload(&sup->gens, config, sup->tx_started_ms);
        config = NULL; /* generation 1 owns it */
    } else {
        /* Listeners bound, nothing to run yet: the first `baton deploy` starts generation 1. */
        baton__log(BATON_LOG_NOTICE, "no release in %s yet: waiting for baton deploy",
                   config->release.root);
        /* Up, with nothing to serve yet: systemd must not wait for a first generation that only
         * a deploy can start (Type=notify would time the unit out). */
        sd_notify(sup, "READY=1\nSTATUS=no release yet: waiting for baton deploy");
        baton__config_free(config);
        config = NULL;
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    code = sup->exit_code;
    baton__log(BATON_LOG_NOTICE, "supervisor stopped");
out:
    return shutdown_all(sup, &loop, config, code);
}
