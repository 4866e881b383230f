/*
 * The reload transaction: start generation N+1 next to N, wait until its workers are ready,
 * then drain N. Rolling replaces max_surge workers at a time (an old worker is drained each
 * time a new one reports ready); blue-green starts them all and drains the old generation once
 * all are ready. A failure kills the new generation, restores the old workers already drained
 * and ends with a verdict naming the cause. Also the in-place reload (reload_signal to the
 * active workers). Pure like generation.c: no I/O.
 */
#include <assert.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "common/log.h"
#include "common/xmalloc.h"
#include "supervisor/internal.h"

long baton__gens_reload(struct baton_gens *gs, struct baton_config *config, uint64_t now)
{
    if (gs->stopping)
        return -ECANCELED;
    if (gs->transition != BATON_TRANSITION_NONE)
        return -EBUSY;
    struct baton_generation *g = baton__xcalloc(1, sizeof(*g));
    g->id = ++gs->last_id;
    g->state = BATON_GEN_STARTING;
    g->config = config;
    g->started_ms = now;
    g->n_slots = config->app.workers ? config->app.workers : 1;
    g->slots = baton__xcalloc(g->n_slots, sizeof(*g->slots));
    for (unsigned i = 0; i < g->n_slots; i++)
        g->slots[i].state = BATON_SLOT_RETIRED; /* not started yet */
    struct baton_generation **tail = &gs->list;
    while (*tail)
        tail = &(*tail)->next;
    *tail = g;

    gs->transition = BATON_TRANSITION_ROLLOUT;
    memset(&gs->tx, 0, sizeof(gs->tx));
    gs->tx.gen = g;
    gs->tx.old = gs->active;
    gs->tx.started_ms = now;
    long id = g->id;
    baton__rollout_begin(gs, now);
    return id;
}

static unsigned surge(const struct baton_generation *g)
{
    if (g->config->app.strategy == BATON_STRATEGY_BLUE_GREEN)
        return g->n_slots;
    return g->config->app.max_surge ? g->config->app.max_surge : 1;
}

static void complete(struct baton_gens *gs, uint64_t now)
{
    struct baton_generation *g = gs->tx.gen, *old = gs->tx.old;
    struct baton_verdict v = {.ok = true, .gen = g->id, .previous = old ? old->id : -1};
    char msg[128];

    g->state = BATON_GEN_ACTIVE;
    gs->active = g;
    gs->transition = BATON_TRANSITION_NONE;
    memset(&gs->tx, 0, sizeof(gs->tx));
    v.ready_ms = v.total_ms = now - g->started_ms;
    if (old) {
        baton__gens_drain_generation(gs, old, BATON_GEN_DRAINING, now);
        baton__gens_enforce_max_draining(gs);
    }
    if (old)
        snprintf(msg, sizeof(msg), "generation %ld is serving; generation %ld is draining", g->id,
                 old->id);
    else
        snprintf(msg, sizeof(msg), "generation %ld is serving", g->id);
    v.msg = msg;
    gs->ops->done(gs->ctx, &v);
    baton__gens_maybe_free(gs, old);
}

/* Starts new workers while fewer than max_surge are starting; completes when all are ready. */
static void advance(struct baton_gens *gs, uint64_t now)
{
    struct baton_generation *g = gs->tx.gen;
    unsigned max = surge(g);
    while (gs->transition == BATON_TRANSITION_ROLLOUT && gs->tx.gen == g &&
           gs->tx.started < g->n_slots && gs->tx.started - gs->tx.ready < max) {
        char *what = NULL;
        int err = 0;
        unsigned slot = gs->tx.started++;
        if (!baton__gens_start_worker(gs, g, slot, now, &what, &err)) {
            baton__rollout_fail(gs, BATON_CAUSE_EXEC, NULL, err, what, now);
            free(what);
            baton__gens_maybe_free(gs, g);
            return;
        }
    }
    if (gs->transition == BATON_TRANSITION_ROLLOUT && gs->tx.gen == g && gs->tx.ready == g->n_slots)
        complete(gs, now);
}

void baton__rollout_begin(struct baton_gens *gs, uint64_t now)
{
    struct baton_generation *g = gs->tx.gen;
    if (g->config->app.strategy == BATON_STRATEGY_BLUE_GREEN || g->n_slots == 1)
        baton__gens_progress(gs, g->id, "generation %ld: starting %u worker%s", g->id, g->n_slots,
                             g->n_slots == 1 ? "" : "s");
    else
        baton__gens_progress(gs, g->id, "generation %ld: starting %u workers, %u at a time", g->id,
                             g->n_slots, surge(g));
    advance(gs, now);
}

/* Rolling: the old worker to drain now that a new one is ready in `slot`. Prefers the same
 * slot, then ready workers, then starting ones, then a slot waiting in backoff. */
static void drain_one_old(struct baton_gens *gs, unsigned slot, uint64_t now)
{
    struct baton_generation *old = gs->tx.old;
    struct baton_slot *pick = NULL;
    if (slot < old->n_slots && old->slots[slot].state == BATON_SLOT_RUNNING &&
        old->slots[slot].worker->state == BATON_WORKER_READY)
        pick = &old->slots[slot];
    for (int pass = 0; !pick && pass < 3; pass++) {
        for (unsigned i = 0; !pick && i < old->n_slots; i++) {
            struct baton_slot *s = &old->slots[i];
            if ((pass == 0 && s->state == BATON_SLOT_RUNNING &&
                 s->worker->state == BATON_WORKER_READY) ||
                (pass == 1 && s->state == BATON_SLOT_RUNNING) ||
                (pass == 2 && s->state == BATON_SLOT_BACKOFF))
                pick = s;
        }
    }
    if (!pick)
        return;
    gs->tx.drained++;
    if (pick->state == BATON_SLOT_BACKOFF) {
        pick->state = BATON_SLOT_RETIRED;
        return;
    }
    baton__gens_progress(gs, old->id, "generation %ld: draining worker %ld", old->id,
                         (long)pick->worker->pid);
    baton__gens_drain_worker(gs, pick->worker, now);
}

void baton__rollout_ready(struct baton_gens *gs, struct baton_worker *w, uint64_t now)
{
    struct baton_generation *g = gs->tx.gen;
    gs->tx.ready++;
    baton__gens_progress(gs, g->id, "generation %ld: worker %ld ready in %llums (%u/%u)", g->id,
                         (long)w->pid, (unsigned long long)w->ready_ms, gs->tx.ready, g->n_slots);
    if (gs->tx.old && g->config->app.strategy == BATON_STRATEGY_ROLLING &&
        gs->tx.ready < g->n_slots)
        drain_one_old(gs, w->slot, now);
    advance(gs, now);
}

static char **copy_tail(const struct baton_worker *w)
{
    if (!w || !w->tail_count)
        return NULL;
    char **lines = baton__xcalloc(w->tail_count + 1, sizeof(char *));
    for (unsigned i = 0; i < w->tail_count; i++)
        lines[i] = baton__xstrdup(w->stderr_tail[(w->tail_start + i) % BATON_STDERR_TAIL]);
    return lines;
}

void baton__verdict_free(struct baton_verdict *v)
{
    if (v->stderr) {
        for (char **p = v->stderr; *p; p++)
            free(*p);
        free(v->stderr);
    }
    free(v->status);
    free(v->error);
    v->stderr = NULL;
    v->status = v->error = NULL;
}

/* Describes why w (or the command) failed into v. */
static void describe(struct baton_verdict *v, const struct baton_generation *g,
                     enum baton_cause cause, const struct baton_worker *w, int detail,
                     const char *what)
{
    const char *when =
        w && w->state == BATON_WORKER_READY ? "during the rollout" : "before it was ready";
    v->cause = cause;
    v->pid = w ? w->pid : 0;
    v->status = w && w->status ? baton__xstrdup(w->status) : NULL;
    v->stderr = copy_tail(w);
    switch (cause) {
    case BATON_CAUSE_EXIT:
        v->exit_status = WEXITSTATUS(detail);
        v->error = baton__xasprintf("generation %ld failed: worker %ld exited with status %d %s",
                                    g->id, (long)v->pid, v->exit_status, when);
        break;
    case BATON_CAUSE_SIGNAL:
        v->signo = WTERMSIG(detail);
        v->error = baton__xasprintf("generation %ld failed: worker %ld was killed by SIG%s %s",
                                    g->id, (long)v->pid, baton__signal_name(v->signo), when);
        break;
    case BATON_CAUSE_TIMEOUT:
        v->error =
            baton__xasprintf("generation %ld failed: worker %ld was not ready within %llums", g->id,
                             (long)v->pid, (unsigned long long)g->config->app.ready_timeout_ms);
        break;
    case BATON_CAUSE_EXEC:
        v->err = -detail;
        v->error =
            baton__xasprintf("generation %ld failed: %s", g->id, what ? what : strerror(-detail));
        break;
    default:
        v->error = baton__xasprintf("generation %ld failed: the supervisor is stopping", g->id);
        break;
    }
}

void baton__rollout_fail(struct baton_gens *gs, enum baton_cause cause, struct baton_worker *w,
                         int detail, const char *what, uint64_t now)
{
    if (gs->transition != BATON_TRANSITION_ROLLOUT)
        return;
    struct baton_generation *g = gs->tx.gen, *old = gs->tx.old;
    struct baton_verdict v = {.ok = false, .gen = g->id, .previous = old ? old->id : -1};
    char msg[160];
    unsigned restored = 0;

    describe(&v, g, cause, w, detail, what);
    v.total_ms = now - g->started_ms;
    baton__gens_drain_generation(gs, g, BATON_GEN_FAILED, now);
    gs->transition = BATON_TRANSITION_NONE;
    memset(&gs->tx, 0, sizeof(gs->tx));

    /* Old workers drained for new ones that are now gone: start them again, from the old
     * generation's own resolved command. */
    for (unsigned i = 0; old && !gs->stopping && i < old->n_slots; i++) {
        if (old->slots[i].state != BATON_SLOT_RETIRED)
            continue;
        char *err_what = NULL;
        int err = 0;
        struct baton_worker *r = baton__gens_start_worker(gs, old, i, now, &err_what, &err);
        if (r) {
            restored++;
        } else {
            baton__log_at(BATON_LOG_ERROR, old->id, -1, "restoring slot %u: %s", i,
                          err_what ? err_what : strerror(-err));
            old->slots[i].state = BATON_SLOT_BACKOFF;
            old->slots[i].restart_at_ms = now + old->config->app.restart_initial_ms;
        }
        free(err_what);
    }
    if (gs->stopping)
        snprintf(msg, sizeof(msg), "the supervisor is stopping");
    else if (old && restored)
        snprintf(msg, sizeof(msg),
                 "rolled back: generation %ld keeps serving (%u worker%s restored)", old->id,
                 restored, restored == 1 ? "" : "s");
    else if (old)
        snprintf(msg, sizeof(msg), "rolled back: generation %ld keeps serving", old->id);
    else
        snprintf(msg, sizeof(msg), "no generation is serving");
    v.msg = msg;
    gs->ops->done(gs->ctx, &v);
    baton__verdict_free(&v);
    /* g stays allocated (a caller may hold it): callers end with baton__gens_maybe_free(). */
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
    gs->transition = BATON_TRANSITION_IN_PLACE;
    memset(&gs->tx, 0, sizeof(gs->tx));
    gs->tx.gen = g;
    gs->tx.started_ms = now;
    gs->tx.deadline_ms = now + g->config->app.ready_timeout_ms;
    for (struct baton_worker *w = g->workers; w; w = w->next) {
        if (w->state != BATON_WORKER_READY)
            continue;
        w->reload_pending = true;
        w->reloading = false; /* only a RELOADING=1 sent after this signal counts */
        gs->tx.pending++;
    }
    baton__gens_progress(gs, g->id, "generation %ld: asking %u worker%s to reload in place (SIG%s)",
                         g->id, gs->tx.pending, gs->tx.pending == 1 ? "" : "s",
                         baton__signal_name(g->config->app.reload_signal));
    for (struct baton_worker *w = g->workers; w; w = w->next) {
        if (w->reload_pending)
            gs->ops->kill(gs->ctx, w, g->config->app.reload_signal);
    }
    if (gs->tx.pending == 0)
        baton__in_place_step(gs, NULL, 0, now);
    return 0;
}

/* One step of an in-place reload: result 0 = w is ready again, > 0 = w reported ERRNO=,
 * -1 = w exited, -2 = timeout, -3 = stopping. */
void baton__in_place_step(struct baton_gens *gs, struct baton_worker *w, int result, uint64_t now)
{
    if (gs->transition != BATON_TRANSITION_IN_PLACE)
        return;
    struct baton_generation *g = gs->tx.gen;
    struct baton_verdict v = {.gen = g->id, .previous = g->id};
    char msg[160];

    if (result == 0) {
        if (w) {
            w->reload_pending = false;
            gs->tx.pending--;
            baton__gens_progress(gs, g->id, "generation %ld: worker %ld reloaded (%llums)", g->id,
                                 (long)w->pid, (unsigned long long)(now - gs->tx.started_ms));
        }
        if (gs->tx.pending > 0)
            return;
        v.ok = true;
        v.ready_ms = v.total_ms = now - gs->tx.started_ms;
        snprintf(msg, sizeof(msg), "generation %ld reloaded in place", g->id);
    } else {
        v.cause = result > 0     ? BATON_CAUSE_RELOAD
                  : result == -2 ? BATON_CAUSE_TIMEOUT
                                 : BATON_CAUSE_STOP;
        v.err = result > 0 ? result : 0;
        v.pid = w ? w->pid : 0;
        v.status = w && w->status ? baton__xstrdup(w->status) : NULL;
        v.stderr = copy_tail(w);
        v.total_ms = now - gs->tx.started_ms;
        if (result > 0) {
            v.error = baton__xasprintf("in-place reload of generation %ld failed: worker %ld "
                                       "reported ERRNO=%d (%s)",
                                       g->id, (long)v.pid, result, strerror(result));
        } else if (result == -1) {
            v.cause = BATON_CAUSE_EXIT;
            v.error = baton__xasprintf("in-place reload of generation %ld failed: worker %ld "
                                       "exited while reloading",
                                       g->id, (long)v.pid);
        } else if (result == -2) {
            v.error = baton__xasprintf("in-place reload of generation %ld failed: not ready "
                                       "again within %llums",
                                       g->id, (unsigned long long)g->config->app.ready_timeout_ms);
        } else {
            v.error = baton__xasprintf("in-place reload of generation %ld failed: the supervisor "
                                       "is stopping",
                                       g->id);
        }
        snprintf(msg, sizeof(msg), "generation %ld keeps serving", g->id);
        for (struct baton_worker *x = g->workers; x; x = x->next)
            x->reload_pending = false;
    }
    v.msg = msg;
    gs->transition = BATON_TRANSITION_NONE;
    memset(&gs->tx, 0, sizeof(gs->tx));
    gs->ops->done(gs->ctx, &v);
    baton__verdict_free(&v);
}
