/*
 * Generations, their slots and their workers: the supervisor's state machine.
 *
 * Nothing here does I/O. Processes are started and signalled through gs->ops, time comes in as
 * `now` (monotonic milliseconds) and deadlines go out through baton__gens_next_deadline(), so
 * the whole machine runs under a unit test with a fake clock.
 *
 * Worker transitions (all of them are in this file):
 *
 *   STARTING --READY=1 / delay passed--> READY
 *   STARTING --ready timeout--> rollout fails (new generation) | DRAINING + slot BACKOFF (respawn)
 *   STARTING|READY --exit--> rollout fails (new generation) | slot BACKOFF (active generation)
 *   STARTING|READY --drain--> DRAINING --drain_timeout--> KILLED
 *   DRAINING|KILLED --exit--> freed (the generation goes when its last worker has)
 *
 * Slots: RUNNING --worker died--> BACKOFF --restart_at--> RUNNING;
 *        RUNNING|BACKOFF --replaced by the next generation--> RETIRED;
 *        RETIRED --the next generation failed--> RUNNING (restored).
 */
#include <assert.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "common/log.h"
#include "common/xmalloc.h"
#include "supervisor/internal.h"

void baton__gens_init(struct baton_gens *gs, const struct baton_gens_ops *ops, void *ctx)
{
    memset(gs, 0, sizeof(*gs));
    gs->ops = ops;
    gs->ctx = ctx;
}

static void worker_free(struct baton_gens *gs, struct baton_worker *w)
{
    gs->ops->release_worker(gs->ctx, w);
    for (unsigned i = 0; i < BATON_STDERR_TAIL; i++)
        free(w->stderr_tail[i]);
    free(w->status);
    free(w->stats);
    free(w);
}

static void unlink_worker(struct baton_worker *w)
{
    struct baton_generation *g = w->gen;
    for (struct baton_worker **p = &g->workers; *p; p = &(*p)->next) {
        if (*p == w) {
            *p = w->next;
            break;
        }
    }
    if (w->slot < g->n_slots && g->slots[w->slot].worker == w) {
        g->slots[w->slot].worker = NULL;
        g->slots[w->slot].state = BATON_SLOT_RETIRED;
    }
}

static void generation_free(struct baton_gens *gs, struct baton_generation *g)
{
    while (g->workers) {
        struct baton_worker *w = g->workers;
        g->workers = w->next;
        worker_free(gs, w);
    }
    gs->ops->release_generation(gs->ctx, g);
    free(g->exec_path);
    free(g->dir);
    free(g->slots);
    free(g);
}

void baton__gens_free(struct baton_gens *gs)
{
    while (gs->list) {
        struct baton_generation *g = gs->list;
        gs->list = g->next;
        generation_free(gs, g);
    }
    gs->active = NULL;
}

void baton__gens_maybe_free(struct baton_gens *gs, struct baton_generation *g)
{
    if (!g || g->workers || g == gs->active || g == gs->tx.gen || g == gs->tx.old)
        return;
    if (g->state != BATON_GEN_DRAINING && g->state != BATON_GEN_FAILED)
        return;
    for (struct baton_generation **p = &gs->list; *p; p = &(*p)->next) {
        if (*p == g) {
            *p = g->next;
            break;
        }
    }
    baton__log_at(BATON_LOG_INFO, g->id, -1, "generation %ld has exited", g->id);
    generation_free(gs, g);
}

void baton__gens_progress(struct baton_gens *gs, long gen, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    gs->ops->progress(gs->ctx, gen, msg);
}

struct baton_worker *baton__gens_start_worker(struct baton_gens *gs, struct baton_generation *g,
                                              unsigned slot, uint64_t now, char **ret_what,
                                              int *ret_err)
{
    const struct baton_config *c = g->config;
    struct baton_worker *w = baton__xcalloc(1, sizeof(*w));
    char *what = NULL;

    assert(slot < g->n_slots);
    w->gen = g;
    w->slot = slot;
    w->state = BATON_WORKER_STARTING;
    w->started_ms = now;
    w->deadline_ms =
        now + (c->app.ready == BATON_READY_DELAY ? c->app.ready_delay_ms : c->app.ready_timeout_ms);
    int r = gs->ops->spawn(gs->ctx, w, &what);
    if (r < 0) {
        worker_free(gs, w);
        if (ret_what)
            *ret_what = what;
        else
            free(what);
        if (ret_err)
            *ret_err = r;
        return NULL;
    }
    free(what);
    w->next = g->workers;
    g->workers = w;
    g->slots[slot].state = BATON_SLOT_RUNNING;
    g->slots[slot].worker = w;
    baton__log_at(BATON_LOG_DEBUG, g->id, w->pid, "worker started (slot %u)", slot);
    return w;
}

/* Drains w: the stop signal now, SIGKILL after grace_ms. Its slot is retired. */
static void drain_worker(struct baton_gens *gs, struct baton_worker *w, uint64_t grace_ms,
                         uint64_t now)
{
    if (w->state == BATON_WORKER_DRAINING || w->state == BATON_WORKER_KILLED)
        return;
    struct baton_generation *g = w->gen;
    if (w->slot < g->n_slots && g->slots[w->slot].worker == w) {
        g->slots[w->slot].worker = NULL;
        g->slots[w->slot].state = BATON_SLOT_RETIRED;
    }
    w->reload_pending = false;
    if (grace_ms == 0) {
        w->state = BATON_WORKER_KILLED;
        w->deadline_ms = 0;
        gs->ops->kill(gs->ctx, w, SIGKILL);
        return;
    }
    w->state = BATON_WORKER_DRAINING;
    w->deadline_ms = now + grace_ms;
    gs->ops->kill(gs->ctx, w, g->config->app.stop_signal);
}

void baton__gens_drain_worker(struct baton_gens *gs, struct baton_worker *w, uint64_t now)
{
    drain_worker(gs, w, w->gen->config->app.drain_timeout_ms, now);
}

void baton__gens_drain_generation(struct baton_gens *gs, struct baton_generation *g,
                                  enum baton_generation_state state, uint64_t now)
{
    const struct baton_config *c = g->config;
    g->state = state;
    if (gs->active == g)
        gs->active = NULL;
    for (unsigned i = 0; i < g->n_slots; i++) {
        if (g->slots[i].state == BATON_SLOT_BACKOFF)
            g->slots[i].state = BATON_SLOT_RETIRED;
    }
    for (struct baton_worker *w = g->workers; w; w = w->next) {
        /* A failed generation's workers that never got ready serve nothing worth waiting for. */
        uint64_t grace = c->app.drain_timeout_ms;
        if (state == BATON_GEN_FAILED && w->state == BATON_WORKER_STARTING &&
            grace > BATON_FAILED_KILL_MS)
            grace = BATON_FAILED_KILL_MS;
        drain_worker(gs, w, grace, now);
    }
}

static void kill_generation(struct baton_gens *gs, struct baton_generation *g)
{
    g->killed = true;
    for (struct baton_worker *w = g->workers; w; w = w->next) {
        if (w->state == BATON_WORKER_KILLED)
            continue;
        w->state = BATON_WORKER_KILLED;
        w->deadline_ms = 0;
        gs->ops->kill(gs->ctx, w, SIGKILL);
    }
}

void baton__gens_enforce_max_draining(struct baton_gens *gs)
{
    unsigned max = gs->active ? gs->active->config->app.max_draining : 0;
    unsigned count = 0;
    for (struct baton_generation *g = gs->list; g; g = g->next)
        count += g->state == BATON_GEN_DRAINING && !g->killed && g->workers;
    /* The list is oldest first: the oldest draining generations go first. */
    for (struct baton_generation *g = gs->list; g && count > max; g = g->next) {
        if (g->state != BATON_GEN_DRAINING || g->killed || !g->workers)
            continue;
        baton__log_at(BATON_LOG_WARNING, g->id, -1,
                      "generation %ld: more than %u generations draining: SIGKILL", g->id, max);
        kill_generation(gs, g);
        count--;
    }
}

/* Puts a slot whose worker died (after `uptime` ms) into backoff. */
static void slot_backoff(struct baton_gens *gs, struct baton_generation *g, unsigned i,
                         uint64_t uptime, uint64_t now)
{
    const struct baton_config *c = g->config;
    struct baton_slot *s = &g->slots[i];
    if (uptime >= BATON_STABLE_MS) {
        s->backoff_ms = 0;
        s->quick_crashes = 0;
    } else {
        s->quick_crashes++;
    }
    uint64_t delay = s->backoff_ms ? s->backoff_ms : c->app.restart_initial_ms;
    s->backoff_ms = delay * 2 > c->app.restart_max_ms ? c->app.restart_max_ms : delay * 2;
    s->state = BATON_SLOT_BACKOFF;
    s->worker = NULL;
    s->restart_at_ms = now + delay;
    if (s->quick_crashes == BATON_CRASH_LOOP)
        baton__log_at(BATON_LOG_WARNING, g->id, -1,
                      "slot %u is in a crash loop: %u crashes in a row; restarting with backoff", i,
                      s->quick_crashes);
    baton__log_at(BATON_LOG_INFO, g->id, -1, "slot %u: restarting in %llums", i,
                  (unsigned long long)delay);
}

static void restart_slot(struct baton_gens *gs, struct baton_generation *g, unsigned i,
                         uint64_t now)
{
    char *what = NULL;
    int err = 0;
    g->slots[i].restarts++;
    gs->restarts++;
    if (!baton__gens_start_worker(gs, g, i, now, &what, &err)) {
        baton__log_at(BATON_LOG_ERROR, g->id, -1, "slot %u: %s", i, what ? what : strerror(-err));
        free(what);
        slot_backoff(gs, g, i, 0, now);
    }
}

bool baton__slot_crash_loop(const struct baton_slot *s, uint64_t now)
{
    if (s->quick_crashes < BATON_CRASH_LOOP)
        return false;
    /* Over once the current worker is ready and has stayed up long enough. */
    const struct baton_worker *w = s->state == BATON_SLOT_RUNNING ? s->worker : NULL;
    return !(w && w->state == BATON_WORKER_READY && now - w->started_ms >= BATON_STABLE_MS);
}

void baton__gens_worker_ready(struct baton_gens *gs, struct baton_worker *w, uint64_t now)
{
    struct baton_generation *g = w->gen;
    if (w->state != BATON_WORKER_STARTING) {
        /* An in-place reload is done at READY=1 after RELOADING=1 (systemd's notify-reload):
         * a READY=1 that was already on its way, or that the app repeats, proves nothing. */
        if (w->state == BATON_WORKER_READY && w->reload_pending && w->reloading)
            baton__in_place_step(gs, w, 0, now);
        w->reloading = false;
        return;
    }
    w->state = BATON_WORKER_READY;
    w->ready_ms = now - w->started_ms;
    w->deadline_ms = 0;
    w->reloading = false;
    if (gs->transition == BATON_TRANSITION_ROLLOUT && g == gs->tx.gen) {
        baton__rollout_ready(gs, w, now); /* logged as progress */
        return;
    }
    baton__log_at(BATON_LOG_INFO, g->id, w->pid, "worker ready in %llums (slot %u)",
                  (unsigned long long)w->ready_ms, w->slot);
}

void baton__gens_worker_reloading(struct baton_gens *gs, struct baton_worker *w)
{
    w->reloading = true;
}

void baton__gens_worker_errno(struct baton_gens *gs, struct baton_worker *w, int err, uint64_t now)
{
    w->notify_errno = err;
    if (w->reload_pending)
        baton__in_place_step(gs, w, err > 0 ? err : EIO, now);
}

void baton__gens_worker_exited(struct baton_gens *gs, struct baton_worker *w, int wstatus,
                               uint64_t now)
{
    struct baton_generation *g = w->gen;
    enum baton_worker_state was = w->state;
    bool in_slot = w->slot < g->n_slots && g->slots[w->slot].worker == w;
    bool alive = was == BATON_WORKER_STARTING || was == BATON_WORKER_READY;

    unlink_worker(w);
    if (alive && gs->transition == BATON_TRANSITION_ROLLOUT && g == gs->tx.gen) {
        enum baton_cause cause = WIFSIGNALED(wstatus) ? BATON_CAUSE_SIGNAL : BATON_CAUSE_EXIT;
        baton__rollout_fail(gs, cause, w, wstatus, NULL, now);
    } else if (alive && in_slot && g->state == BATON_GEN_ACTIVE && !gs->stopping) {
        if (w->reload_pending)
            baton__in_place_step(gs, w, -1, now);
        slot_backoff(gs, g, w->slot, now - w->started_ms, now);
    }
    worker_free(gs, w);
    baton__gens_maybe_free(gs, g);
}

/* A starting worker's deadline passed: delay readiness reached, or the ready timeout. */
static void starting_deadline(struct baton_gens *gs, struct baton_worker *w, uint64_t now)
{
    struct baton_generation *g = w->gen;
    if (g->config->app.ready == BATON_READY_DELAY) {
        baton__gens_worker_ready(gs, w, now);
        return;
    }
    w->deadline_ms = 0;
    if (gs->transition == BATON_TRANSITION_ROLLOUT && g == gs->tx.gen) {
        baton__rollout_fail(gs, BATON_CAUSE_TIMEOUT, w, 0, NULL, now);
        return;
    }
    baton__log_at(BATON_LOG_WARNING, g->id, w->pid, "worker not ready within %llums: stopping it",
                  (unsigned long long)g->config->app.ready_timeout_ms);
    unsigned slot = w->slot;
    bool in_slot = slot < g->n_slots && g->slots[slot].worker == w;
    uint64_t grace = g->config->app.drain_timeout_ms;
    drain_worker(gs, w, grace > BATON_FAILED_KILL_MS ? BATON_FAILED_KILL_MS : grace, now);
    if (in_slot && g->state == BATON_GEN_ACTIVE && !gs->stopping)
        slot_backoff(gs, g, slot, now - w->started_ms, now);
}

/* Finds one due deadline and acts on it; returns false when nothing was due. Acting may change
 * the lists, so the caller scans again from the start. */
static bool tick_one(struct baton_gens *gs, uint64_t now)
{
    for (struct baton_generation *g = gs->list; g; g = g->next) {
        for (struct baton_worker *w = g->workers; w; w = w->next) {
            if (!w->deadline_ms || w->deadline_ms > now)
                continue;
            if (w->state == BATON_WORKER_STARTING) {
                starting_deadline(gs, w, now);
                return true;
            }
            if (w->state == BATON_WORKER_DRAINING) {
                baton__log_at(BATON_LOG_WARNING, g->id, w->pid,
                              "worker did not exit within %llums of the stop signal: SIGKILL",
                              (unsigned long long)g->config->app.drain_timeout_ms);
                w->state = BATON_WORKER_KILLED;
            }
            w->deadline_ms = 0;
            if (w->state == BATON_WORKER_KILLED)
                gs->ops->kill(gs->ctx, w, SIGKILL);
            return true;
        }
        if (g->state != BATON_GEN_ACTIVE || gs->stopping)
            continue;
        for (unsigned i = 0; i < g->n_slots; i++) {
            if (g->slots[i].state == BATON_SLOT_BACKOFF && g->slots[i].restart_at_ms <= now) {
                restart_slot(gs, g, i, now);
                return true;
            }
        }
    }
    if (gs->transition == BATON_TRANSITION_IN_PLACE && gs->tx.deadline_ms <= now) {
        baton__in_place_step(gs, NULL, -2, now);
        return true;
    }
    return false;
}

void baton__gens_tick(struct baton_gens *gs, uint64_t now)
{
    while (tick_one(gs, now))
        ;
}

uint64_t baton__gens_next_deadline(const struct baton_gens *gs)
{
    uint64_t next = UINT64_MAX;
    for (const struct baton_generation *g = gs->list; g; g = g->next) {
        for (const struct baton_worker *w = g->workers; w; w = w->next) {
            if (w->deadline_ms && w->deadline_ms < next)
                next = w->deadline_ms;
        }
        if (g->state != BATON_GEN_ACTIVE || gs->stopping)
            continue;
        for (unsigned i = 0; i < g->n_slots; i++) {
            if (g->slots[i].state == BATON_SLOT_BACKOFF && g->slots[i].restart_at_ms < next)
                next = g->slots[i].restart_at_ms;
        }
    }
    if (gs->transition == BATON_TRANSITION_IN_PLACE && gs->tx.deadline_ms < next)
        next = gs->tx.deadline_ms;
    return next;
}

void baton__gens_stop(struct baton_gens *gs, bool fast, uint64_t now)
{
    gs->stopping = true;
    if (gs->transition == BATON_TRANSITION_ROLLOUT)
        baton__rollout_fail(gs, BATON_CAUSE_STOP, NULL, 0, NULL, now);
    else if (gs->transition == BATON_TRANSITION_IN_PLACE)
        baton__in_place_step(gs, NULL, -3, now);
    struct baton_generation *next;
    for (struct baton_generation *g = gs->list; g; g = next) {
        next = g->next;
        if (g->state != BATON_GEN_FAILED)
            baton__gens_drain_generation(gs, g, BATON_GEN_DRAINING, now);
        if (fast)
            kill_generation(gs, g);
        baton__gens_maybe_free(gs, g);
    }
}

bool baton__gens_idle(const struct baton_gens *gs)
{
    for (const struct baton_generation *g = gs->list; g; g = g->next) {
        if (g->workers)
            return false;
    }
    return true;
}

struct baton_worker *baton__gens_find(const struct baton_gens *gs, pid_t pid)
{
    for (const struct baton_generation *g = gs->list; g; g = g->next) {
        for (struct baton_worker *w = g->workers; w; w = w->next) {
            if (w->pid == pid)
                return w;
        }
    }
    return NULL;
}

const char *baton__worker_state_name(enum baton_worker_state s)
{
    /* A KILLED worker is still a draining one to the outside (the control protocol). */
    static const char *names[] = {"starting", "ready", "draining", "draining"};
    return (unsigned)s < sizeof(names) / sizeof(names[0]) ? names[s] : "?";
}

const char *baton__generation_state_name(enum baton_generation_state s)
{
    static const char *names[] = {"starting", "active", "draining", "failed"};
    return (unsigned)s < sizeof(names) / sizeof(names[0]) ? names[s] : "?";
}

const char *baton__cause_name(enum baton_cause c)
{
    static const char *names[] = {"none", "exit",   "signal", "timeout",
                                  "exec", "config", "stop",   "reload"};
    return (unsigned)c < sizeof(names) / sizeof(names[0]) ? names[c] : "?";
}
