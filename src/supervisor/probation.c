/* SPDX-License-Identifier: MIT */
/*
 * Probation for plain reloads (app.probation, DESIGN.md "Deploy"): a reload whose new
 * generation became ready gets its verdict only after that generation stayed up for
 * app.probation with no worker exit and, with app.probe, every probe of its workers (one per
 * app.probe.interval) passing. A worker of it that exits, or fails its probe, inside probation
 * fails the reload, and the previous generation comes back: a new generation is started from the
 * previous one's own configuration and resolved directory (its code, not whatever the files say
 * now), as a normal rolling reload, so the failing generation serves until the restored workers are
 * ready and connections wait in the listeners' queues meanwhile.
 *
 * Deploys have their own probation (deploy.c: time, requests and the 5xx share); this one is
 * for reloads only and never runs during a deploy.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "common/json.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "supervisor/internal.h"

enum phase {
    PH_WATCH,   /* the new generation serves on probation */
    PH_FAILED,  /* a worker of it exited: the restore starts once the exit is handled */
    PH_RESTORE, /* it failed: the previous configuration is starting again */
};

struct baton_probation {
    enum phase phase;
    long gen, previous;
    uint64_t started_ms, duration_ms;
    struct baton_config *restore; /* the previous generation's configuration, its dir resolved */
    char *verdict;                /* the reload's verdict JSON, held until probation ends */
    char reason[1400];
    uv_timer_t timer;
    struct baton_probe_watch *probes; /* app.probe every interval, or NULL */
};

static void on_closed(uv_handle_t *h)
{
    free(h->data);
}

static void probation_free(struct baton_supervisor *sup)
{
    struct baton_probation *p = sup->probation;
    if (!p)
        return;
    sup->probation = NULL;
    baton__probe_watch_stop(p->probes);
    baton__config_free(p->restore);
    free(p->verdict);
    uv_timer_stop(&p->timer);
    p->timer.data = p;
    uv_close((uv_handle_t *)&p->timer, on_closed);
}

/* The held verdict goes out with the probation's outcome added. */
static void answer(struct baton_supervisor *sup, bool ok, const char *error, const char *msg)
{
    struct baton_probation *p = sup->probation;
    struct baton_buf b = BATON_BUF_INIT(BATON_CONTROL_REPLY_MAX);
    if (ok) {
        /* {"ok":true,...,"msg":...} + probation */
        size_t n = strlen(p->verdict);
        baton__buf_append(&b, p->verdict, n - 1); /* the members add their comma */
        baton__json_kv_int(&b, "probation_ms", (long long)p->duration_ms);
        baton__buf_puts(&b, "}");
    } else {
        baton__buf_puts(&b, "{");
        baton__json_kv_bool(&b, "ok", 0);
        baton__json_kv_int(&b, "generation", p->gen);
        baton__json_kv_int(&b, "previous", p->previous);
        baton__json_kv_str(&b, "verdict", "failed");
        baton__json_kv_str(&b, "error", error);
        baton__buf_puts(&b, ",\"reason\":{\"cause\":\"probation\"}");
        baton__json_kv_str(&b, "msg", msg);
        baton__buf_puts(&b, "}");
    }
    probation_free(sup);
    baton__sup_finish(sup, ok, b.data, b.len);
    baton__buf_free(&b);
}

static void on_timer(uv_timer_t *t)
{
    struct baton_supervisor *sup = t->data;
    struct baton_probation *p = sup->probation;
    if (!p || p->phase != PH_WATCH)
        return;
    baton__log_at(BATON_LOG_NOTICE, p->gen, -1, "probation passed: %llu ms without a worker exit",
                  (unsigned long long)p->duration_ms);
    answer(sup, true, NULL, NULL);
}

static void restore(struct baton_supervisor *sup);

/* A worker of the generation on probation failed app.probe (the watch is stopped already). */
static void on_probe_failed(struct baton_supervisor *sup, const char *text, void *data)
{
    struct baton_probation *p = sup->probation;
    if (!p || p->phase != PH_WATCH)
        return;
    p->probes = NULL;
    snprintf(p->reason, sizeof(p->reason), "generation %ld failed in probation: %s", p->gen, text);
    baton__log_at(BATON_LOG_ERROR, p->gen, -1, "%s: restoring generation %ld", p->reason,
                  p->previous);
    uv_timer_stop(&p->timer);
    p->phase = PH_FAILED;
    restore(sup); /* from the loop, not inside the machine: the restore starts now */
}

bool baton__probation_rollout_done(struct baton_supervisor *sup, const struct baton_verdict *v,
                                   const char *json)
{
    struct baton_probation *p = sup->probation;
    if (p && p->phase == PH_RESTORE) {
        char msg[512];
        if (v->ok)
            snprintf(msg, sizeof(msg),
                     "rolled back: generation %ld (the configuration of "
                     "generation %ld) is serving",
                     v->gen, p->previous);
        else
            snprintf(msg, sizeof(msg), "generation %ld could not be restored: %s", p->previous,
                     v->error ? v->error : "?");
        char error[sizeof(p->reason)];
        snprintf(error, sizeof(error), "%s", p->reason);
        answer(sup, false, error, msg);
        return true;
    }
    const struct baton_generation *g = sup->gens.active;
    if (p || !v->ok || v->previous < 0 || v->gen == v->previous || !g || g->id != v->gen ||
        !g->config->app.probation_ms || sup->deploy)
        return false;
    const struct baton_generation *old = NULL;
    for (const struct baton_generation *x = sup->gens.list; x; x = x->next)
        if (x->id == v->previous)
            old = x;
    if (!old)
        return false;
    /* The previous generation's configuration, as it ran: cloned through the re-exec format,
     * with its directory as resolved when it started. */
    struct baton_buf b = BATON_BUF_INIT(BATON_CONTROL_REPLY_MAX);
    struct baton_config *clone = NULL;
    baton__state_config_json(&b, old->config);
    int r = baton__state_config_parse(b.data, b.len, &clone);
    baton__buf_free(&b);
    if (r < 0) {
        baton__log(BATON_LOG_WARNING, "probation: cannot keep the previous configuration: off");
        return false;
    }
    if (old->dir) {
        free(clone->app.dir);
        clone->app.dir = baton__xstrdup(old->dir);
    }
    clone->app.probation_ms = 0;
    p = baton__xcalloc(1, sizeof(*p));
    p->phase = PH_WATCH;
    p->gen = v->gen;
    p->previous = v->previous;
    p->started_ms = baton__clock_now_ms();
    p->duration_ms = g->config->app.probation_ms;
    p->restore = clone;
    p->verdict = baton__xstrdup(json);
    uv_timer_init(sup->loop, &p->timer);
    p->timer.data = sup;
    uv_timer_start(&p->timer, on_timer, p->duration_ms, 0);
    sup->probation = p;
    p->probes = baton__probe_watch_start(sup, p->gen, on_probe_failed, NULL);
    char line[128];
    snprintf(line, sizeof(line), "generation %ld is serving: probation for %llu ms", v->gen,
             (unsigned long long)p->duration_ms);
    baton__sup_progress(sup, v->gen, "probation", line);
    return true;
}

void baton__probation_worker_exit(struct baton_supervisor *sup, const struct baton_worker *w,
                                  int st)
{
    struct baton_probation *p = sup->probation;
    if (!p || p->phase != PH_WATCH || w->gen->id != p->gen || w->state == BATON_WORKER_DRAINING ||
        w->state == BATON_WORKER_KILLED)
        return;
    if (WIFSIGNALED(st))
        snprintf(p->reason, sizeof(p->reason),
                 "generation %ld failed in probation: worker %ld (slot %u) was killed by SIG%s",
                 p->gen, (long)w->pid, w->slot, baton__signal_name(WTERMSIG(st)));
    else
        snprintf(p->reason, sizeof(p->reason),
                 "generation %ld failed in probation: worker %ld (slot %u) exited with status %d",
                 p->gen, (long)w->pid, w->slot, WEXITSTATUS(st));
    baton__log_at(BATON_LOG_ERROR, p->gen, w->pid, "%s: restoring generation %ld", p->reason,
                  p->previous);
    uv_timer_stop(&p->timer);
    baton__probe_watch_stop(p->probes);
    p->probes = NULL;
    p->phase = PH_FAILED;
}

void baton__probation_after_reap(struct baton_supervisor *sup)
{
    struct baton_probation *p = sup->probation;
    if (!p || p->phase != PH_FAILED)
        return;
    restore(sup);
}

/* The previous generation's configuration starts again as a normal reload. */
static void restore(struct baton_supervisor *sup)
{
    struct baton_probation *p = sup->probation;
    baton__probe_watch_stop(p->probes);
    p->probes = NULL;
    p->phase = PH_RESTORE;
    struct baton_config *c = p->restore;
    p->restore = NULL;
    /* After the exit went through the machine (not inside its transition). A listener the
     * previous generation had and the failed one dropped is open again (bound anew when
     * closed meanwhile). */
    char why[512];
    long id = baton__listeners_prepare(sup, c, sup->gens.last_id + 1, why, sizeof(why)) < 0
                  ? -EADDRNOTAVAIL
                  : baton__gens_reload(&sup->gens, c, baton__clock_now_ms());
    if (id < 0) {
        baton__config_free(c);
        answer(sup, false, p->reason, "the previous generation could not be restored");
    }
}

bool baton__probation_busy(const struct baton_supervisor *sup, char *buf, size_t size)
{
    if (!sup->probation)
        return false;
    snprintf(buf, size, "busy: generation %ld is on probation", sup->probation->gen);
    return true;
}

void baton__probation_close(struct baton_supervisor *sup)
{
    probation_free(sup);
}
