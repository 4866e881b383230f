/* SPDX-License-Identifier: MIT */
/*
 * The supervisor's state and the reload verdicts as JSON objects (control protocol, see
 * docs/architecture.md): what `baton status --json` and `baton reload` print.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "common/json.h"
#include "supervisor/internal.h"
#include "supervisor/observe.h"

static void kv_null(struct baton_buf *b, const char *key)
{
    baton__json_key(b, key);
    baton__buf_puts(b, "null");
}

static void kv_id(struct baton_buf *b, const char *key, long id)
{
    if (id < 0)
        kv_null(b, key);
    else
        baton__json_kv_int(b, key, id);
}

static void strv(struct baton_buf *b, const char *key, char *const *v, size_t n)
{
    baton__json_key(b, key);
    baton__buf_puts(b, "[");
    for (size_t i = 0; i < n && v[i]; i++) {
        if (i)
            baton__buf_puts(b, ",");
        baton__json_string(b, v[i], (size_t)-1);
    }
    baton__buf_puts(b, "]");
}

static void worker_json(struct baton_buf *b, const struct baton_worker *w,
                        const struct baton_slot *slot, uint64_t now)
{
    baton__buf_puts(b, "{");
    baton__json_kv_int(b, "pid", w->pid);
    baton__json_kv_int(b, "slot", w->slot);
    baton__json_kv_str(b, "state", baton__worker_state_name(w->state));
    baton__json_kv_int(b, "restarts", slot ? slot->restarts : 0);
    if (w->status)
        baton__json_kv_str(b, "status", w->status);
    else
        kv_null(b, "status");
    if (w->state != BATON_WORKER_STARTING || w->ready_ms)
        baton__json_kv_int(b, "ready_ms", (long long)w->ready_ms);
    baton__json_kv_int(b, "uptime_ms", (long long)(now - w->started_ms));
    if (w->probing) /* READY=1 came; app.probe's answer not yet */
        baton__json_kv_bool(b, "probing", 1);
    baton__json_key(b, "stats");
    baton__counters_json(b, &w->counters);
    baton__buf_puts(b, "}");
}

static void generation_json(const struct baton_supervisor *sup, struct baton_buf *b,
                            const struct baton_generation *g, uint64_t now)
{
    const struct baton_config *c = g->config;
    bool first = true;
    char release[80];
    baton__buf_puts(b, "{");
    baton__json_kv_int(b, "id", g->id);
    baton__deploy_gen_version(sup, g, release, sizeof(release));
    if (release[0])
        baton__json_kv_str(b, "release", release);
    baton__json_kv_str(b, "state", baton__generation_state_name(g->state));
    baton__json_kv_int(b, "started_ms_ago", (long long)(now - g->started_ms));
    strv(b, "command", c->app.command, c->app.n_command);
    baton__json_kv_str(b, "dir", g->dir ? g->dir : c->app.dir);
    struct baton_counters counters;
    baton__generation_counters(g, &counters);
    baton__json_key(b, "stats");
    baton__counters_json(b, &counters);
    baton__json_key(b, "workers");
    baton__buf_puts(b, "[");
    /* Slots in order (running or waiting to restart), then the draining processes. */
    for (unsigned i = 0; i < g->n_slots; i++) {
        const struct baton_slot *s = &g->slots[i];
        if (s->state == BATON_SLOT_RETIRED)
            continue;
        baton__buf_puts(b, first ? "" : ",");
        first = false;
        if (s->state == BATON_SLOT_RUNNING) {
            worker_json(b, s->worker, s, now);
            continue;
        }
        baton__buf_puts(b, "{");
        baton__json_kv_int(b, "pid", 0);
        baton__json_kv_int(b, "slot", i);
        baton__json_kv_str(b, "state", "backoff");
        baton__json_kv_int(b, "restarts", s->restarts);
        kv_null(b, "status");
        baton__json_kv_int(b, "restart_in_ms",
                           (long long)(s->restart_at_ms > now ? s->restart_at_ms - now : 0));
        baton__json_kv_bool(b, "crash_loop", baton__slot_crash_loop(s, now));
        baton__buf_puts(b, "}");
    }
    for (const struct baton_worker *w = g->workers; w; w = w->next) {
        if (w->slot < g->n_slots && g->slots[w->slot].worker == w)
            continue;
        baton__buf_puts(b, first ? "" : ",");
        first = false;
        worker_json(b, w, NULL, now);
    }
    baton__buf_puts(b, "]}");
}

void baton__status_json(const struct baton_supervisor *sup, struct baton_buf *b)
{
    static const char *states[] = {"running", "reloading", "stopping"};
    uint64_t now = baton__clock_now_ms();
    const struct baton_gens *gs = &sup->gens;
    bool crash_loop = false;

    baton__buf_puts(b, "{");
    baton__json_kv_bool(b, "ok", 1);
    baton__json_kv_str(b, "name", sup->name);
    baton__json_kv_int(b, "pid", getpid());
    baton__json_kv_str(b, "version", BATON_VERSION);
    baton__json_kv_str(b, "state", states[baton__sup_state(sup)]);
    baton__json_kv_int(b, "uptime_ms", (long long)(now - sup->started_ms));
    kv_id(b, "generation", gs->active ? gs->active->id : -1);
    if (sup->release_fd >= 0) {
        char busy[256];
        if (gs->active && gs->active->dir) {
            char v[80];
            baton__deploy_gen_version(sup, gs->active, v, sizeof(v));
            baton__json_kv_str(b, "release", v);
        } else {
            kv_null(b, "release"); /* no release: waiting for the first deploy */
        }
        if (baton__deploy_busy(sup, busy, sizeof(busy)))
            baton__json_kv_str(b, "deploy", busy + 6);
        baton__pull_status_json(sup, b);
    }
    struct baton_counters counters;
    baton__gens_counters(gs, &counters);
    baton__json_key(b, "stats");
    baton__counters_json(b, &counters);
    baton__json_kv_int(b, "stats_refused", (long long)gs->stats_refused);
    baton__json_key(b, "listeners");
    baton__listeners_status_json(sup, b);
    baton__json_key(b, "generations");
    baton__buf_puts(b, "[");
    for (const struct baton_generation *g = gs->list; g; g = g->next) {
        if (g != gs->list)
            baton__buf_puts(b, ",");
        generation_json(sup, b, g, now);
    }
    baton__buf_puts(b, "]");
    baton__recover_status_json(sup, b); /* a dead supervisor's workers still draining */
    baton__json_kv_int(b, "restarts", (long long)gs->restarts);
    baton__json_key(b, "crash_loop_slots");
    baton__buf_puts(b, "[");
    if (gs->active) {
        for (unsigned i = 0; i < gs->active->n_slots; i++) {
            if (!baton__slot_crash_loop(&gs->active->slots[i], now))
                continue;
            baton__buf_printf(b, "%s%u", crash_loop ? "," : "", i);
            crash_loop = true;
        }
    }
    baton__buf_puts(b, "]");
    baton__json_kv_bool(b, "crash_loop", crash_loop);
    baton__json_key(b, "last_reload");
    baton__buf_puts(b, sup->last_reload ? sup->last_reload : "null");
    /* The config watch's verdict on the files as they are now (observe.h). */
    if (sup->history && sup->history->config_error)
        baton__json_kv_str(b, "config_error", sup->history->config_error);
    else
        kv_null(b, "config_error");
    baton__json_kv_bool(b, "config_watch", sup->watch != NULL);
    baton__buf_puts(b, "}");
}

void baton__verdict_json(const struct baton_verdict *v, struct baton_buf *b)
{
    baton__buf_puts(b, "{");
    baton__json_kv_bool(b, "ok", v->ok);
    kv_id(b, "generation", v->gen);
    kv_id(b, "previous", v->previous);
    baton__json_kv_str(b, "verdict",
                       !v->ok                  ? "failed"
                       : v->gen == v->previous ? "reloaded"
                                               : "ready");
    if (v->error)
        baton__json_kv_str(b, "error", v->error);
    baton__json_key(b, "timings");
    baton__buf_puts(b, "{");
    if (v->ok)
        baton__json_kv_int(b, "ready_ms", (long long)v->ready_ms);
    baton__json_kv_int(b, "total_ms", (long long)v->total_ms);
    baton__buf_puts(b, "}");
    if (!v->ok) {
        baton__json_key(b, "reason");
        baton__buf_puts(b, "{");
        baton__json_kv_str(b, "cause", baton__cause_name(v->cause));
        if (v->pid)
            baton__json_kv_int(b, "pid", v->pid);
        if (v->cause == BATON_CAUSE_EXIT)
            baton__json_kv_int(b, "exit_status", v->exit_status);
        if (v->cause == BATON_CAUSE_SIGNAL)
            baton__json_kv_str(b, "signal", baton__signal_name(v->signo));
        if (v->err) {
            const char *name = strerrorname_np(v->err);
            baton__json_kv_str(b, "errno", name ? name : "EIO");
        }
        if (v->status)
            baton__json_kv_str(b, "status", v->status);
        if (v->probe)
            baton__json_kv_str(b, "probe", v->probe);
        if (v->stderr) {
            size_t n = 0;
            while (v->stderr[n])
                n++;
            strv(b, "stderr", v->stderr, n);
        }
        baton__buf_puts(b, "}");
    }
    if (v->msg)
        baton__json_kv_str(b, "msg", v->msg);
    baton__buf_puts(b, "}");
}
