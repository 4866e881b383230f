/* SPDX-License-Identifier: MIT */
/*
 * The policy of a reload transaction, asked by generation.c (which alone changes state):
 * how many new workers start at once, which old slot gives way when a new worker is ready,
 * when a rollout is complete, and what its verdict says.
 *
 * Rolling replaces max_surge workers at a time (an old worker is drained each time a new one
 * reports ready); blue-green starts them all and drains the old generation once all are ready.
 * Pure: no I/O, no state changes.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "common/xmalloc.h"
#include "supervisor/internal.h"

unsigned baton__rollout_surge(const struct baton_generation *g)
{
    if (g->config->app.strategy == BATON_STRATEGY_BLUE_GREEN)
        return g->n_slots;
    return g->config->app.max_surge ? g->config->app.max_surge : 1;
}

void baton__rollout_begin_text(const struct baton_generation *g, char *buf, size_t size)
{
    if (g->config->app.strategy == BATON_STRATEGY_BLUE_GREEN || g->n_slots == 1)
        snprintf(buf, size, "generation %ld: starting %u worker%s", g->id, g->n_slots,
                 g->n_slots == 1 ? "" : "s");
    else
        snprintf(buf, size, "generation %ld: starting %u workers, %u at a time", g->id, g->n_slots,
                 baton__rollout_surge(g));
}

bool baton__rollout_complete(const struct baton_gens *gs)
{
    return gs->tx.ready == gs->tx.gen->n_slots;
}

/* Rolling only, and not for the last new worker (completion drains what is left). Prefers the
 * same slot, then ready workers, then starting ones, then a slot waiting in backoff. */
struct baton_slot *baton__rollout_pick_old(const struct baton_gens *gs, unsigned slot)
{
    const struct baton_generation *g = gs->tx.gen, *old = gs->tx.old;
    if (!old || g->config->app.strategy != BATON_STRATEGY_ROLLING || gs->tx.ready >= g->n_slots)
        return NULL;
    if (slot < old->n_slots && old->slots[slot].state == BATON_SLOT_RUNNING &&
        old->slots[slot].worker->state == BATON_WORKER_READY)
        return &old->slots[slot];
    for (int pass = 0; pass < 3; pass++) {
        for (unsigned i = 0; i < old->n_slots; i++) {
            struct baton_slot *s = &old->slots[i];
            if ((pass == 0 && s->state == BATON_SLOT_RUNNING &&
                 s->worker->state == BATON_WORKER_READY) ||
                (pass == 1 && s->state == BATON_SLOT_RUNNING) ||
                (pass == 2 && s->state == BATON_SLOT_BACKOFF))
                return s;
        }
    }
    return NULL;
}

/* ---- verdicts --------------------------------------------------------------------------- */

/* w's stderr lines, oldest first; only those after its in-place reload began when `fresh`. */
static char **copy_tail(const struct baton_worker *w, bool fresh)
{
    if (!w || !w->tail_count)
        return NULL;
    unsigned skip = 0;
    if (fresh) {
        unsigned long since = w->tail_total - w->tail_mark;
        if (since == 0)
            return NULL;
        if (since < w->tail_count)
            skip = w->tail_count - (unsigned)since;
    }
    char **lines = baton__xcalloc(w->tail_count - skip + 1, sizeof(char *));
    for (unsigned i = skip; i < w->tail_count; i++)
        lines[i - skip] = baton__xstrdup(w->stderr_tail[(w->tail_start + i) % BATON_STDERR_TAIL]);
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
    free(v->probe);
    v->probe = NULL;
    free(v->error);
    free(v->msg);
    v->stderr = NULL;
    v->status = v->error = v->msg = NULL;
}

/* " (its child 123 sent notify messages: a wrapper script must `exec` the server)" or "". */
static const char *wrapper_hint(const struct baton_worker *w, char *buf, size_t size)
{
    if (!w || !w->foreign_child)
        return "";
    snprintf(buf, size,
             "; notify messages came from pid %ld in its process group, not from the worker: a "
             "wrapper script must `exec` the server",
             (long)w->foreign_child);
    return buf;
}

void baton__rollout_verdict_ok(struct baton_verdict *v, const struct baton_generation *g,
                               const struct baton_generation *old)
{
    if (old)
        v->msg = baton__xasprintf("generation %ld is serving; generation %ld is draining", g->id,
                                  old->id);
    else
        v->msg = baton__xasprintf("generation %ld is serving", g->id);
}

void baton__rollout_verdict_failed(struct baton_verdict *v, const struct baton_generation *g,
                                   enum baton_cause cause, const struct baton_worker *w, int detail,
                                   const char *what)
{
    const char *when =
        w && w->state == BATON_WORKER_READY ? "during the rollout" : "before it was ready";
    char hint[200];
    v->cause = cause;
    v->pid = w ? w->pid : 0;
    v->status = w && w->status ? baton__xstrdup(w->status) : NULL;
    v->stderr = copy_tail(w, false);
    switch (cause) {
    case BATON_CAUSE_EXIT:
        v->exit_status = WEXITSTATUS(detail);
        v->error = baton__xasprintf("generation %ld failed: worker %ld exited with status %d %s%s",
                                    g->id, (long)v->pid, v->exit_status, when,
                                    wrapper_hint(w, hint, sizeof(hint)));
        break;
    case BATON_CAUSE_SIGNAL:
        v->signo = WTERMSIG(detail);
        v->error = baton__xasprintf("generation %ld failed: worker %ld was killed by SIG%s %s",
                                    g->id, (long)v->pid, baton__signal_name(v->signo), when);
        break;
    case BATON_CAUSE_TIMEOUT:
        v->error = baton__xasprintf(
            "generation %ld failed: worker %ld was not ready within %llums%s", g->id, (long)v->pid,
            (unsigned long long)g->config->app.ready_timeout_ms,
            wrapper_hint(w, hint, sizeof(hint)));
        break;
    case BATON_CAUSE_EXEC:
        v->err = -detail;
        v->error =
            baton__xasprintf("generation %ld failed: %s", g->id, what ? what : strerror(-detail));
        break;
    case BATON_CAUSE_PROBE:
        v->probe = baton__xstrdup(what ? what : "probe failed");
        v->error = baton__xasprintf("generation %ld failed: %s", g->id, v->probe);
        break;
    default:
        v->error = baton__xasprintf("generation %ld failed: the supervisor is stopping", g->id);
        break;
    }
}

void baton__rollout_verdict_rolled_back(struct baton_verdict *v, const struct baton_generation *old,
                                        unsigned restored, bool stopping)
{
    if (stopping)
        v->msg = baton__xstrdup("the supervisor is stopping");
    else if (old && restored)
        v->msg =
            baton__xasprintf("rolled back: generation %ld keeps serving (%u worker%s restored)",
                             old->id, restored, restored == 1 ? "" : "s");
    else if (old)
        v->msg = baton__xasprintf("rolled back: generation %ld keeps serving", old->id);
    else
        v->msg = baton__xstrdup("no generation is serving");
}

void baton__in_place_verdict(struct baton_verdict *v, const struct baton_generation *g,
                             enum baton_in_place_outcome outcome, const struct baton_worker *w,
                             int detail, uint64_t ready_timeout_ms)
{
    const char *status = w && w->status ? w->status : NULL;
    if (outcome == BATON_IN_PLACE_RELOADED) {
        /* What the workers now say they serve (baton-web: its modules and their versions). */
        const char *now = g->workers && g->workers->status ? g->workers->status : NULL;
        v->msg = baton__xasprintf("generation %ld reloaded in place%s%s%s", g->id, now ? " (" : "",
                                  now ? now : "", now ? ")" : "");
        return;
    }
    v->pid = w ? w->pid : 0;
    v->status = status ? baton__xstrdup(status) : NULL;
    v->stderr = copy_tail(w, true);
    v->msg = baton__xasprintf("generation %ld keeps serving", g->id);
    switch (outcome) {
    case BATON_IN_PLACE_ERRNO:
        /* The worker's own words first: its STATUS= says what its reload tripped on. */
        v->cause = BATON_CAUSE_RELOAD;
        v->err = detail;
        v->error = baton__xasprintf("in-place reload of generation %ld failed: worker %ld "
                                    "reported ERRNO=%d (%s)%s%s",
                                    g->id, (long)v->pid, detail, strerror(detail),
                                    status ? ": " : "", status ? status : "");
        break;
    case BATON_IN_PLACE_EXITED:
        if (WIFSIGNALED(detail)) {
            v->cause = BATON_CAUSE_SIGNAL;
            v->signo = WTERMSIG(detail);
            v->error = baton__xasprintf("in-place reload of generation %ld failed: worker %ld "
                                        "was killed by SIG%s while reloading",
                                        g->id, (long)v->pid, baton__signal_name(v->signo));
        } else {
            v->cause = BATON_CAUSE_EXIT;
            v->exit_status = WEXITSTATUS(detail);
            v->error = baton__xasprintf("in-place reload of generation %ld failed: worker %ld "
                                        "exited with status %d while reloading",
                                        g->id, (long)v->pid, v->exit_status);
        }
        /* Its slot restarts it (with backoff): the generation serves on, one worker fewer
         * for a moment; say so rather than claim nothing happened. */
        free(v->msg);
        v->msg = baton__xasprintf("generation %ld keeps serving; worker %ld's slot restarts it",
                                  g->id, (long)v->pid);
        break;
    case BATON_IN_PLACE_TIMEOUT:
        v->cause = BATON_CAUSE_TIMEOUT;
        v->error = baton__xasprintf("in-place reload of generation %ld failed: not ready again "
                                    "within %llums",
                                    g->id, (unsigned long long)ready_timeout_ms);
        break;
    default:
        v->cause = BATON_CAUSE_STOP;
        v->error = baton__xasprintf("in-place reload of generation %ld failed: the supervisor is "
                                    "stopping",
                                    g->id);
        break;
    }
}
