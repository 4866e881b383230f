/* SPDX-License-Identifier: MIT */
/*
 * Generations, their slots and their workers: the supervisor's state machine, and its one owner.
 * Every state change of a worker, a slot, a generation or the running transaction happens in
 * this file, through one funnel each; rollout.c only answers policy questions (which old slot
 * next, is the rollout complete, what does the verdict say) and reexec-state.c restores a saved
 * machine through baton__gens_restore_*().
 *
 * Nothing here does I/O. Processes are started and signalled through gs->ops, time comes in as
 * `now` (monotonic milliseconds) and deadlines go out through baton__gens_next_deadline(), so
 * the whole machine runs under a unit test with a fake clock.
 *
 * The transitions (the tables below are checked by the funnels):
 *
 *   worker      STARTING --READY=1 / delay passed (and app.probe answered)--> READY
 *               STARTING|READY --drain--> DRAINING (stop signal) --drain_timeout--> KILLED
 *               STARTING|READY|DRAINING --kill--> KILLED (SIGKILL)
 *               any --exit--> freed (a new generation's live worker fails its rollout;
 *                                    an active one's slot goes to BACKOFF)
 *   slot        RETIRED (not started) --spawned--> RUNNING --worker died--> BACKOFF
 *               BACKOFF --restart_at--> RUNNING
 *               RUNNING|BACKOFF --drained for the next generation--> RETIRED
 *               RETIRED --the next generation failed--> RUNNING (restored) | BACKOFF
 *   generation  STARTING --all ready--> ACTIVE --replaced / stop--> DRAINING --last exit--> freed
 *               STARTING --failure / stop--> FAILED --last exit--> freed
 *   transition  NONE --reload--> ROLLOUT --complete / fail--> NONE
 *               NONE --reload --in-place--> IN_PLACE --all reloaded / failure--> NONE
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

#define TO(s) (1u << (s))

static const unsigned worker_edges[] = {
    [BATON_WORKER_STARTING] =
        TO(BATON_WORKER_READY) | TO(BATON_WORKER_DRAINING) | TO(BATON_WORKER_KILLED),
    [BATON_WORKER_READY] = TO(BATON_WORKER_DRAINING) | TO(BATON_WORKER_KILLED),
    [BATON_WORKER_DRAINING] = TO(BATON_WORKER_KILLED),
    [BATON_WORKER_KILLED] = 0,
};

static const unsigned slot_edges[] = {
    [BATON_SLOT_RUNNING] = TO(BATON_SLOT_BACKOFF) | TO(BATON_SLOT_RETIRED),
    [BATON_SLOT_BACKOFF] = TO(BATON_SLOT_RUNNING) | TO(BATON_SLOT_RETIRED),
    [BATON_SLOT_RETIRED] = TO(BATON_SLOT_RUNNING) | TO(BATON_SLOT_BACKOFF),
};

static const unsigned generation_edges[] = {
    [BATON_GEN_STARTING] = TO(BATON_GEN_ACTIVE) | TO(BATON_GEN_FAILED),
    [BATON_GEN_ACTIVE] = TO(BATON_GEN_DRAINING),
    [BATON_GEN_DRAINING] = 0,
    [BATON_GEN_FAILED] = 0,
};

static const unsigned transition_edges[] = {
    [BATON_TRANSITION_NONE] = TO(BATON_TRANSITION_ROLLOUT) | TO(BATON_TRANSITION_IN_PLACE),
    [BATON_TRANSITION_ROLLOUT] = TO(BATON_TRANSITION_NONE),
    [BATON_TRANSITION_IN_PLACE] = TO(BATON_TRANSITION_NONE),
};

/* ---- the funnels ------------------------------------------------------------------------ */

/* Checks one transition against its table. A refused one is a bug: loud in every build (an
 * alert in the log, which the integration tests look for), fatal under assertions. */
static void check_edge(const char *machine, const unsigned *edges, unsigned from, unsigned to)
{
    if (from == to || (edges[from] & TO(to)))
        return;
    baton__log(BATON_LOG_ALERT, "bug: %s transition %u -> %u is not in the table", machine, from,
               to);
    assert(!"transition not in the table");
}

/* The slot's bookkeeping: RUNNING holds w, the others hold none. */
static void slot_set_state(struct baton_generation *g, unsigned i, enum baton_slot_state to,
                           struct baton_worker *w)
{
    struct baton_slot *s = &g->slots[i];
    check_edge("slot", slot_edges, s->state, to);
    assert((to == BATON_SLOT_RUNNING) == (w != NULL));
    s->state = to;
    s->worker = w;
}

/* The worker's state and deadline, with the entry actions: DRAINING sends the stop signal,
 * KILLED sends SIGKILL; both give up the worker's slot. */
static void worker_set_state(struct baton_gens *gs, struct baton_worker *w,
                             enum baton_worker_state to, uint64_t deadline_ms)
{
    struct baton_generation *g = w->gen;
    assert(w->state != to);
    check_edge("worker", worker_edges, w->state, to);
    gs->changes++;
    w->state = to;
    w->deadline_ms = deadline_ms;
    if (to != BATON_WORKER_DRAINING && to != BATON_WORKER_KILLED)
        return;
    if (w->slot < g->n_slots && g->slots[w->slot].worker == w)
        slot_set_state(g, w->slot, BATON_SLOT_RETIRED, NULL);
    w->reload_pending = false;
    gs->ops->kill(gs->ctx, w, to == BATON_WORKER_KILLED ? SIGKILL : g->config->app.stop_signal);
}

/* The generation's state; gs->active follows it. */
static void generation_enter(struct baton_gens *gs, struct baton_generation *g,
                             enum baton_generation_state to)
{
    gs->changes++;
    g->state = to;
    if (to == BATON_GEN_ACTIVE)
        gs->active = g;
    else if (gs->active == g)
        gs->active = NULL;
}

static void generation_set_state(struct baton_gens *gs, struct baton_generation *g,
                                 enum baton_generation_state to)
{
    check_edge("generation", generation_edges, g->state, to);
    generation_enter(gs, g, to);
}

/* The running transaction: begins with its generation(s), ends cleared. */
static void transition_set(struct baton_gens *gs, enum baton_transition to,
                           struct baton_generation *gen, struct baton_generation *old, uint64_t now)
{
    check_edge("transaction", transition_edges, gs->transition, to);
    gs->changes++;
    gs->transition = to;
    memset(&gs->tx, 0, sizeof(gs->tx));
    if (to == BATON_TRANSITION_NONE)
        return;
    gs->tx.gen = gen;
    gs->tx.old = old;
    gs->tx.started_ms = now;
}

/* ---- lifetimes -------------------------------------------------------------------------- */

void baton__gens_init(struct baton_gens *gs, const struct baton_gens_ops *ops, void *ctx)
{
    memset(gs, 0, sizeof(*gs));
    gs->ops = ops;
    gs->ctx = ctx;
}

static void worker_free(struct baton_gens *gs, struct baton_worker *w)
{
    /* Its last counters live on in its generation's and the supervisor's totals. */
    baton__counters_add(&w->gen->retired, &w->counters, false);
    baton__counters_add(&gs->retired, &w->counters, false);
    gs->changes++;
    gs->ops->release_worker(gs->ctx, w);
    for (unsigned i = 0; i < BATON_STDERR_TAIL; i++)
        free(w->stderr_tail[i]);
    free(w->status);
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
    if (w->slot < g->n_slots && g->slots[w->slot].worker == w)
        slot_set_state(g, w->slot, BATON_SLOT_RETIRED, NULL);
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

/* Frees g once it is done: replaced or failed, no worker left, no transaction holding it. */
static void maybe_free(struct baton_gens *gs, struct baton_generation *g)
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

static struct baton_generation *generation_new(struct baton_gens *gs, long id,
                                               struct baton_config *config, unsigned n_slots)
{
    struct baton_generation *g = baton__xcalloc(1, sizeof(*g));
    g->id = id;
    g->config = config;
    g->n_slots = n_slots;
    g->slots = baton__xcalloc(n_slots ? n_slots : 1, sizeof(*g->slots));
    for (unsigned i = 0; i < n_slots; i++)
        g->slots[i].state = BATON_SLOT_RETIRED; /* not started yet */
    struct baton_generation **tail = &gs->list;
    while (*tail)
        tail = &(*tail)->next;
    *tail = g;
    return g;
}

static void progress(struct baton_gens *gs, long gen, const char *step, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void progress(struct baton_gens *gs, long gen, const char *step, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    gs->ops->progress(gs->ctx, gen, step, msg);
}

/* ---- workers ---------------------------------------------------------------------------- */

/* Starts a worker in slot `slot` of g. NULL when it could not be started (*ret_what, *ret_err
 * say why; the slot is unchanged). */
static struct baton_worker *start_worker(struct baton_gens *gs, struct baton_generation *g,
                                         unsigned slot, uint64_t now, char **ret_what, int *ret_err)
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
        *ret_what = what;
        *ret_err = r;
        return NULL;
    }
    free(what);
    gs->changes++; /* a new process */
    w->next = g->workers;
    g->workers = w;
    slot_set_state(g, slot, BATON_SLOT_RUNNING, w);
    baton__log_at(BATON_LOG_DEBUG, g->id, w->pid, "worker started (slot %u)", slot);
    return w;
}

/* Drains w: the stop signal now, SIGKILL after grace_ms (at once when 0). */
static void drain_worker(struct baton_gens *gs, struct baton_worker *w, uint64_t grace_ms,
                         uint64_t now)
{
    if (w->state == BATON_WORKER_DRAINING || w->state == BATON_WORKER_KILLED)
        return;
    if (grace_ms == 0)
        worker_set_state(gs, w, BATON_WORKER_KILLED, 0);
    else
        worker_set_state(gs, w, BATON_WORKER_DRAINING, now + grace_ms);
}

static void drain_generation(struct baton_gens *gs, struct baton_generation *g,
                             enum baton_generation_state state, uint64_t now)
{
    const struct baton_config *c = g->config;
    generation_set_state(gs, g, state);
    for (unsigned i = 0; i < g->n_slots; i++) {
        if (g->slots[i].state == BATON_SLOT_BACKOFF)
            slot_set_state(g, i, BATON_SLOT_RETIRED, NULL);
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
        if (w->state != BATON_WORKER_KILLED)
            worker_set_state(gs, w, BATON_WORKER_KILLED, 0);
    }
}

unsigned baton__gens_draining(const struct baton_gens *gs)
{
    unsigned count = 0;
    for (const struct baton_generation *g = gs->list; g; g = g->next)
        count += g->state == BATON_GEN_DRAINING && !g->killed && g->workers;
    return count;
}

bool baton__gens_drain_full(const struct baton_gens *gs)
{
    return gs->active && baton__gens_draining(gs) >= gs->active->config->app.max_draining;
}

/* A safety net: reloads wait while app.max_draining generations drain (baton__gens_drain_full),
 * so this only acts on states restored from elsewhere (a re-exec of an older binary). */
static void enforce_max_draining(struct baton_gens *gs)
{
    unsigned max = gs->active ? gs->active->config->app.max_draining : 0;
    unsigned count = baton__gens_draining(gs);
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

/* Puts slot i, whose worker died after `uptime` ms (or could not start), into backoff. */
static void slot_backoff(struct baton_generation *g, unsigned i, uint64_t uptime, uint64_t now)
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
    slot_set_state(g, i, BATON_SLOT_BACKOFF, NULL);
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
    if (!start_worker(gs, g, i, now, &what, &err)) {
        baton__log_at(BATON_LOG_ERROR, g->id, -1, "slot %u: %s", i, what ? what : strerror(-err));
        free(what);
        slot_backoff(g, i, 0, now);
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

/* ---- the rollout ------------------------------------------------------------------------ */

static void end_transaction(struct baton_gens *gs, struct baton_verdict *v)
{
    transition_set(gs, BATON_TRANSITION_NONE, NULL, NULL, 0);
    gs->ops->done(gs->ctx, v);
    baton__verdict_free(v);
}

static void rollout_complete(struct baton_gens *gs, uint64_t now)
{
    struct baton_generation *g = gs->tx.gen, *old = gs->tx.old;
    struct baton_verdict v = {.ok = true, .gen = g->id, .previous = old ? old->id : -1};

    generation_set_state(gs, g, BATON_GEN_ACTIVE);
    v.ready_ms = v.total_ms = now - g->started_ms;
    baton__rollout_verdict_ok(&v, g, old);
    transition_set(gs, BATON_TRANSITION_NONE, NULL, NULL, 0);
    if (old) {
        drain_generation(gs, old, BATON_GEN_DRAINING, now);
        enforce_max_draining(gs);
    }
    gs->ops->done(gs->ctx, &v);
    baton__verdict_free(&v);
    maybe_free(gs, old);
}

/* Ends the rollout as failed: the new generation is stopped, the old slots drained for it are
 * started again from the old generation's own resolved command. g stays allocated (a caller may
 * hold it): callers end with maybe_free(). */
static void rollout_fail(struct baton_gens *gs, enum baton_cause cause, struct baton_worker *w,
                         int detail, const char *what, uint64_t now)
{
    if (gs->transition != BATON_TRANSITION_ROLLOUT)
        return;
    struct baton_generation *g = gs->tx.gen, *old = gs->tx.old;
    struct baton_verdict v = {.ok = false, .gen = g->id, .previous = old ? old->id : -1};
    unsigned restored = 0;

    baton__rollout_verdict_failed(&v, g, cause, w, detail, what);
    v.total_ms = now - g->started_ms;
    drain_generation(gs, g, BATON_GEN_FAILED, now);
    transition_set(gs, BATON_TRANSITION_NONE, NULL, NULL, 0);
    for (unsigned i = 0; old && !gs->stopping && i < old->n_slots; i++) {
        if (old->slots[i].state != BATON_SLOT_RETIRED)
            continue;
        char *err_what = NULL;
        int err = 0;
        if (start_worker(gs, old, i, now, &err_what, &err)) {
            restored++;
        } else {
            baton__log_at(BATON_LOG_ERROR, old->id, -1, "restoring slot %u: %s", i,
                          err_what ? err_what : strerror(-err));
            slot_set_state(old, i, BATON_SLOT_BACKOFF, NULL);
            old->slots[i].restart_at_ms = now + old->config->app.restart_initial_ms;
        }
        free(err_what);
    }
    baton__rollout_verdict_rolled_back(&v, old, restored, gs->stopping);
    gs->ops->done(gs->ctx, &v);
    baton__verdict_free(&v);
}

/* Starts new workers while the policy allows; completes when the policy says so. */
static void rollout_advance(struct baton_gens *gs, uint64_t now)
{
    struct baton_generation *g = gs->tx.gen;
    unsigned max = baton__rollout_surge(g);
    while (gs->transition == BATON_TRANSITION_ROLLOUT && gs->tx.gen == g &&
           gs->tx.started < g->n_slots && gs->tx.started - gs->tx.ready < max) {
        char *what = NULL;
        int err = 0;
        unsigned slot = gs->tx.started++;
        if (!start_worker(gs, g, slot, now, &what, &err)) {
            rollout_fail(gs, BATON_CAUSE_EXEC, NULL, err, what, now);
            free(what);
            maybe_free(gs, g);
            return;
        }
    }
    if (gs->transition == BATON_TRANSITION_ROLLOUT && gs->tx.gen == g &&
        baton__rollout_complete(gs))
        rollout_complete(gs, now);
}

/* A new worker is ready: an old one may go (rolling), the next may start. */
static void rollout_ready(struct baton_gens *gs, struct baton_worker *w, uint64_t now)
{
    struct baton_generation *g = gs->tx.gen, *old = gs->tx.old;
    gs->tx.ready++;
    progress(gs, g->id, "ready", "generation %ld: worker %ld ready in %llums (%u/%u)", g->id,
             (long)w->pid, (unsigned long long)w->ready_ms, gs->tx.ready, g->n_slots);
    struct baton_slot *pick = baton__rollout_pick_old(gs, w->slot);
    if (pick) {
        unsigned i = (unsigned)(pick - old->slots);
        gs->tx.drained++;
        if (pick->state == BATON_SLOT_BACKOFF) {
            slot_set_state(old, i, BATON_SLOT_RETIRED, NULL);
        } else {
            progress(gs, old->id, "drain", "generation %ld: draining worker %ld", old->id,
                     (long)pick->worker->pid);
            drain_worker(gs, pick->worker, old->config->app.drain_timeout_ms, now);
        }
    }
    rollout_advance(gs, now);
}

long baton__gens_reload(struct baton_gens *gs, struct baton_config *config, uint64_t now)
{
    char msg[160];
    if (gs->stopping)
        return -ECANCELED;
    if (gs->transition != BATON_TRANSITION_NONE || baton__gens_drain_full(gs))
        return -EBUSY;
    struct baton_generation *g =
        generation_new(gs, ++gs->last_id, config, config->app.workers ? config->app.workers : 1);
    g->state = BATON_GEN_STARTING;
    g->started_ms = now;
    transition_set(gs, BATON_TRANSITION_ROLLOUT, g, gs->active, now);
    long id = g->id;
    baton__rollout_begin_text(g, msg, sizeof(msg));
    progress(gs, g->id, "start", "%s", msg);
    rollout_advance(gs, now);
    return id;
}

/* ---- the in-place reload ---------------------------------------------------------------- */

/* One worker's (or the whole reload's, w NULL) outcome; detail: ERRNO= or the wait status. */
static void in_place_step(struct baton_gens *gs, struct baton_worker *w,
                          enum baton_in_place_outcome outcome, int detail, uint64_t now)
{
    if (gs->transition != BATON_TRANSITION_IN_PLACE)
        return;
    struct baton_generation *g = gs->tx.gen;
    struct baton_verdict v = {.gen = g->id, .previous = g->id};

    if (outcome == BATON_IN_PLACE_RELOADED) {
        if (w) {
            w->reload_pending = false;
            gs->tx.pending--;
            progress(gs, g->id, "reloaded", "generation %ld: worker %ld reloaded (%llums)", g->id,
                     (long)w->pid, (unsigned long long)(now - gs->tx.started_ms));
        }
        if (gs->tx.pending > 0)
            return;
        v.ok = true;
        v.ready_ms = v.total_ms = now - gs->tx.started_ms;
    } else {
        v.total_ms = now - gs->tx.started_ms;
        for (struct baton_worker *x = g->workers; x; x = x->next)
            x->reload_pending = false;
    }
    baton__in_place_verdict(&v, g, outcome, w, detail, g->config->app.ready_timeout_ms);
    end_transaction(gs, &v);
}

int baton__gens_reload_in_place(struct baton_gens *gs, uint64_t now)
{
    if (gs->stopping)
        return -ECANCELED;
    if (gs->transition != BATON_TRANSITION_NONE)
        return -EBUSY;
    struct baton_generation *g = gs->active;
    if (!g)
        return -ESRCH;
    transition_set(gs, BATON_TRANSITION_IN_PLACE, g, NULL, now);
    gs->tx.deadline_ms = now + g->config->app.ready_timeout_ms;
    for (struct baton_worker *w = g->workers; w; w = w->next) {
        if (w->state != BATON_WORKER_READY)
            continue;
        w->reload_pending = true;
        w->reloading = false;         /* only a RELOADING=1 sent after this signal counts */
        w->tail_mark = w->tail_total; /* stderr lines older than this reload are stale */
        gs->tx.pending++;
    }
    progress(gs, g->id, "signal", "generation %ld: asking %u worker%s to reload in place (SIG%s)",
             g->id, gs->tx.pending, gs->tx.pending == 1 ? "" : "s",
             baton__signal_name(g->config->app.reload_signal));
    for (struct baton_worker *w = g->workers; w; w = w->next) {
        if (w->reload_pending)
            gs->ops->kill(gs->ctx, w, g->config->app.reload_signal);
    }
    if (gs->tx.pending == 0)
        in_place_step(gs, NULL, BATON_IN_PLACE_RELOADED, 0, now);
    return 0;
}

/* ---- events ----------------------------------------------------------------------------- */

/* w is ready (READY=1 or its delay, and its probe answered): counted, and a rollout goes on. */
static void worker_became_ready(struct baton_gens *gs, struct baton_worker *w, uint64_t now)
{
    struct baton_generation *g = w->gen;
    w->ready_ms = now - w->started_ms;
    worker_set_state(gs, w, BATON_WORKER_READY, 0);
    if (gs->transition == BATON_TRANSITION_ROLLOUT && g == gs->tx.gen) {
        rollout_ready(gs, w, now); /* logged as progress */
        return;
    }
    baton__log_at(BATON_LOG_INFO, g->id, w->pid, "worker ready in %llums (slot %u)",
                  (unsigned long long)w->ready_ms, w->slot);
}

/* A worker outside a rollout (a restart) that did not get ready: its slot backs off, it stops. */
static void stop_unready(struct baton_gens *gs, struct baton_worker *w, uint64_t now)
{
    struct baton_generation *g = w->gen;
    if (w->slot < g->n_slots && g->slots[w->slot].worker == w && g->state == BATON_GEN_ACTIVE &&
        !gs->stopping)
        slot_backoff(g, w->slot, now - w->started_ms, now);
    uint64_t grace = g->config->app.drain_timeout_ms;
    drain_worker(gs, w, grace > BATON_FAILED_KILL_MS ? BATON_FAILED_KILL_MS : grace, now);
}

void baton__gens_worker_ready(struct baton_gens *gs, struct baton_worker *w, uint64_t now)
{
    struct baton_generation *g = w->gen;
    if (w->state != BATON_WORKER_STARTING) {
        /* An in-place reload is done at READY=1 after RELOADING=1 (systemd's notify-reload):
         * a READY=1 that was already on its way, or that the app repeats, proves nothing. */
        if (w->state == BATON_WORKER_READY && w->reload_pending && w->reloading)
            in_place_step(gs, w, BATON_IN_PLACE_RELOADED, 0, now);
        w->reloading = false;
        return;
    }
    w->reloading = false;
    if (w->probing)
        return; /* a repeated READY=1: the probe's answer decides */
    if (g->config->app.probe.path && gs->ops->probe) {
        /* Ready by its own word; counted ready once the probe reaches it (app.probe). The
         * ready timeout still bounds it; a passed delay has none left: the probe's own
         * timeout does. */
        w->probing = true;
        if (g->config->app.ready == BATON_READY_DELAY)
            w->deadline_ms = 0;
        gs->ops->probe(gs->ctx, w);
        return;
    }
    worker_became_ready(gs, w, now);
}

void baton__gens_worker_probed(struct baton_gens *gs, struct baton_worker *w, bool ok,
                               const char *answer, uint64_t now)
{
    struct baton_generation *g = w->gen;
    if (w->state != BATON_WORKER_STARTING || !w->probing)
        return;
    w->probing = false;
    if (ok) {
        worker_became_ready(gs, w, now);
        return;
    }
    if (gs->transition == BATON_TRANSITION_ROLLOUT && g == gs->tx.gen) {
        rollout_fail(gs, BATON_CAUSE_PROBE, w, 0, answer, now);
        return;
    }
    baton__log_at(BATON_LOG_WARNING, g->id, w->pid, "worker said READY=1 but %s: stopping it",
                  answer ? answer : "its probe failed");
    stop_unready(gs, w, now);
}

void baton__gens_worker_reloading(struct baton_gens *gs, struct baton_worker *w)
{
    w->reloading = true;
}

void baton__gens_worker_errno(struct baton_gens *gs, struct baton_worker *w, int err, uint64_t now)
{
    w->notify_errno = err;
    if (w->reload_pending)
        in_place_step(gs, w, BATON_IN_PLACE_ERRNO, err > 0 ? err : EIO, now);
}

void baton__gens_worker_foreign(struct baton_gens *gs, struct baton_worker *w, pid_t pid)
{
    w->foreign_child = pid;
}

void baton__gens_worker_exited(struct baton_gens *gs, struct baton_worker *w, int wstatus,
                               uint64_t now)
{
    struct baton_generation *g = w->gen;
    bool in_slot = w->slot < g->n_slots && g->slots[w->slot].worker == w;
    bool alive = w->state == BATON_WORKER_STARTING || w->state == BATON_WORKER_READY;

    if (alive && gs->transition == BATON_TRANSITION_ROLLOUT && g == gs->tx.gen) {
        unlink_worker(w);
        enum baton_cause cause = WIFSIGNALED(wstatus) ? BATON_CAUSE_SIGNAL : BATON_CAUSE_EXIT;
        rollout_fail(gs, cause, w, wstatus, NULL, now);
    } else if (alive && in_slot && g->state == BATON_GEN_ACTIVE && !gs->stopping) {
        if (w->reload_pending)
            in_place_step(gs, w, BATON_IN_PLACE_EXITED, wstatus, now);
        slot_backoff(g, w->slot, now - w->started_ms, now);
        unlink_worker(w);
    } else {
        unlink_worker(w);
    }
    worker_free(gs, w);
    maybe_free(gs, g);
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
        rollout_fail(gs, BATON_CAUSE_TIMEOUT, w, 0, NULL, now);
        return;
    }
    baton__log_at(BATON_LOG_WARNING, g->id, w->pid, "worker not ready within %llums: stopping it",
                  (unsigned long long)g->config->app.ready_timeout_ms);
    stop_unready(gs, w, now);
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
            } else if (w->state == BATON_WORKER_DRAINING) {
                baton__log_at(BATON_LOG_WARNING, g->id, w->pid,
                              "worker did not exit within %llums of the stop signal: SIGKILL",
                              (unsigned long long)g->config->app.drain_timeout_ms);
                worker_set_state(gs, w, BATON_WORKER_KILLED, 0);
            } else {
                w->deadline_ms = 0; /* restored from an older image: nothing to do at it */
            }
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
        in_place_step(gs, NULL, BATON_IN_PLACE_TIMEOUT, 0, now);
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
        rollout_fail(gs, BATON_CAUSE_STOP, NULL, 0, NULL, now);
    else if (gs->transition == BATON_TRANSITION_IN_PLACE)
        in_place_step(gs, NULL, BATON_IN_PLACE_STOPPING, 0, now);
    struct baton_generation *next;
    for (struct baton_generation *g = gs->list; g; g = next) {
        next = g->next;
        drain_generation(gs, g,
                         g->state == BATON_GEN_FAILED ? BATON_GEN_FAILED : BATON_GEN_DRAINING, now);
        if (fast)
            kill_generation(gs, g);
        maybe_free(gs, g);
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

/* ---- re-exec ---------------------------------------------------------------------------- */

struct baton_generation *baton__gens_restore_generation(struct baton_gens *gs, long id,
                                                        enum baton_generation_state state,
                                                        struct baton_config *config,
                                                        unsigned n_slots)
{
    struct baton_generation *g = generation_new(gs, id, config, n_slots);
    generation_enter(gs, g, state);
    if (id > gs->last_id)
        gs->last_id = id;
    return g;
}

void baton__gens_restore_slot(struct baton_gens *gs, struct baton_generation *g, unsigned i,
                              enum baton_slot_state state)
{
    /* RUNNING comes with its worker (baton__gens_restore_worker()). */
    if (i < g->n_slots && state == BATON_SLOT_BACKOFF)
        slot_set_state(g, i, BATON_SLOT_BACKOFF, NULL);
}

struct baton_worker *baton__gens_restore_worker(struct baton_gens *gs, struct baton_generation *g,
                                                pid_t pid, unsigned slot, bool in_slot,
                                                enum baton_worker_state state)
{
    struct baton_worker *w = baton__xcalloc(1, sizeof(*w));
    gs->changes++;
    w->gen = g;
    w->pid = pid;
    w->slot = slot;
    w->state = state;
    struct baton_worker **tail = &g->workers;
    while (*tail)
        tail = &(*tail)->next;
    *tail = w;
    if (in_slot && slot < g->n_slots && g->slots[slot].state != BATON_SLOT_RUNNING)
        slot_set_state(g, slot, BATON_SLOT_RUNNING, w);
    return w;
}

/* ---- names ------------------------------------------------------------------------------ */

static int parse_name(const char *const *names, size_t n, const char *name)
{
    for (size_t i = 0; name && i < n; i++) {
        if (strcmp(names[i], name) == 0)
            return (int)i;
    }
    return -EINVAL;
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const char *const worker_states[] = {"starting", "ready", "draining", "killed"};
static const char *const slot_states[] = {"running", "backoff", "retired"};
static const char *const generation_states[] = {"starting", "active", "draining", "failed"};

const char *baton__worker_state_key(enum baton_worker_state s)
{
    return (unsigned)s < N(worker_states) ? worker_states[s] : "?";
}

const char *baton__worker_state_name(enum baton_worker_state s)
{
    /* A KILLED worker is still a draining one to the outside (the control protocol). */
    if (s == BATON_WORKER_KILLED)
        return "draining";
    return (unsigned)s < N(worker_states) ? worker_states[s] : "?";
}

int baton__worker_state_parse(const char *name)
{
    return parse_name(worker_states, N(worker_states), name);
}

const char *baton__slot_state_name(enum baton_slot_state s)
{
    return (unsigned)s < N(slot_states) ? slot_states[s] : "?";
}

int baton__slot_state_parse(const char *name)
{
    return parse_name(slot_states, N(slot_states), name);
}

const char *baton__generation_state_name(enum baton_generation_state s)
{
    return (unsigned)s < N(generation_states) ? generation_states[s] : "?";
}

int baton__generation_state_parse(const char *name)
{
    return parse_name(generation_states, N(generation_states), name);
}

const char *baton__cause_name(enum baton_cause c)
{
    static const char *const names[] = {"none",   "exit", "signal", "timeout", "exec",
                                        "config", "stop", "reload", "probe"};
    return (unsigned)c < N(names) ? names[c] : "?";
}

void baton__generation_counters(const struct baton_generation *g, struct baton_counters *ret)
{
    *ret = g->retired;
    for (const struct baton_worker *w = g->workers; w; w = w->next)
        baton__counters_add(ret, &w->counters, true);
}

void baton__gens_counters(const struct baton_gens *gs, struct baton_counters *ret)
{
    *ret = gs->retired;
    for (const struct baton_generation *g = gs->list; g; g = g->next)
        for (const struct baton_worker *w = g->workers; w; w = w->next)
            baton__counters_add(ret, &w->counters, true);
}
