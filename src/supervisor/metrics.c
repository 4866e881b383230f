/* SPDX-License-Identifier: MIT */
/*
 * /metrics: the Prometheus text format (0.0.4). Every `_total` series is a counter that never
 * decreases over the supervisor's life (re-execs included: stats.h's totals and the history's
 * counters are carried); per-generation series exist for the live generations only, so the
 * number of series is bounded by the few generations alive at once.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "supervisor/internal.h"
#include "supervisor/observe.h"

static void head(struct baton_buf *b, const char *name, const char *type, const char *help)
{
    baton__buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void one(struct baton_buf *b, const char *name, const char *type, const char *help,
                unsigned long long v)
{
    head(b, name, type, help);
    baton__buf_printf(b, "%s %llu\n", name, v);
}

static void histogram(struct baton_buf *b, const char *name, const char *help,
                      const struct baton_histogram *h)
{
    uint64_t cum = 0;
    head(b, name, "histogram", help);
    for (unsigned i = 0; i < BATON_HISTOGRAM_BUCKETS; i++) {
        cum += h->counts[i];
        if (i < BATON_HISTOGRAM_BUCKETS - 1)
            baton__buf_printf(b, "%s_bucket{le=\"%g\"} %llu\n", name, h->bounds[i],
                              (unsigned long long)cum);
        else
            baton__buf_printf(b, "%s_bucket{le=\"+Inf\"} %llu\n", name, (unsigned long long)cum);
    }
    baton__buf_printf(b, "%s_sum %.3f\n%s_count %llu\n", name, (double)h->sum_ms / 1000.0, name,
                      (unsigned long long)cum);
}

/* The request counters of BATON_STATS (stats.h), as families; label: "" for the totals or
 * `generation="N"` for one generation (families prefixed baton_generation_). */
struct family {
    const char *name, *help;
    enum baton_stat stat;
    const char *class; /* responses_total: its class label */
};

static const struct family families[] = {
    {"http_requests_total", "HTTP requests answered by the workers.", BATON_STAT_REQUESTS, NULL},
    {"http_responses_total", "HTTP responses by status class.", BATON_STAT_1XX, "1xx"},
    {"http_responses_total", NULL, BATON_STAT_2XX, "2xx"},
    {"http_responses_total", NULL, BATON_STAT_3XX, "3xx"},
    {"http_responses_total", NULL, BATON_STAT_4XX, "4xx"},
    {"http_responses_total", NULL, BATON_STAT_5XX, "5xx"},
    {"http_errors_total", "Connections that ended in an error (malformed request, I/O error).",
     BATON_STAT_ERRORS, NULL},
    {"http_received_bytes_total", "Bytes read from clients.", BATON_STAT_BYTES_IN, NULL},
    {"http_sent_bytes_total", "Bytes written to clients.", BATON_STAT_BYTES_OUT, NULL},
    {"http_connections_accepted_total", "Connections accepted by the workers.", BATON_STAT_ACCEPTED,
     NULL},
};

static void counters(struct baton_buf *b, const struct baton_supervisor *sup, bool per_gen)
{
    const char *prefix = per_gen ? "baton_generation_" : "baton_";
    struct baton_counters total;
    baton__gens_counters(&sup->gens, &total);
    for (size_t f = 0; f < sizeof(families) / sizeof(families[0]); f++) {
        const struct family *fam = &families[f];
        if (fam->help) {
            char name[96];
            snprintf(name, sizeof(name), "%s%s", prefix, fam->name);
            head(b, name, "counter",
                 per_gen ? "Per live generation (label generation): see the family without "
                           "generation_."
                         : fam->help);
        }
        if (!per_gen) {
            baton__buf_printf(b, "%s%s", prefix, fam->name);
            if (fam->class)
                baton__buf_printf(b, "{class=\"%s\"}", fam->class);
            baton__buf_printf(b, " %llu\n", (unsigned long long)total.v[fam->stat]);
            continue;
        }
        for (const struct baton_generation *g = sup->gens.list; g; g = g->next) {
            struct baton_counters c;
            baton__generation_counters(g, &c);
            baton__buf_printf(b, "%s%s{generation=\"%ld\"", prefix, fam->name, g->id);
            if (fam->class)
                baton__buf_printf(b, ",class=\"%s\"", fam->class);
            baton__buf_printf(b, "} %llu\n", (unsigned long long)c.v[fam->stat]);
        }
    }
    if (!per_gen) {
        one(b, "baton_http_connections", "gauge", "Connections open in the workers now.",
            total.connections);
        return;
    }
    head(b, "baton_generation_http_connections", "gauge",
         "Connections open in the workers now, per live generation.");
    for (const struct baton_generation *g = sup->gens.list; g; g = g->next) {
        struct baton_counters c;
        baton__generation_counters(g, &c);
        baton__buf_printf(b, "baton_generation_http_connections{generation=\"%ld\"} %llu\n", g->id,
                          (unsigned long long)c.connections);
    }
}

void baton__metrics_text(const struct baton_supervisor *sup, struct baton_buf *b)
{
    static const enum baton_generation_state gen_states[] = {BATON_GEN_STARTING, BATON_GEN_ACTIVE,
                                                             BATON_GEN_DRAINING, BATON_GEN_FAILED};
    static const char *const worker_states[] = {"starting", "ready", "draining"};
    const struct baton_gens *gs = &sup->gens;
    const struct baton_history *h = sup->history;
    uint64_t now = baton__clock_now_ms();
    unsigned workers[3] = {0}, crash_loop = 0;

    head(b, "baton_build_info", "gauge", "The supervisor's version (always 1).");
    baton__buf_printf(b, "baton_build_info{version=\"%s\"} 1\n", BATON_VERSION);
    one(b, "baton_supervisor_uptime_seconds", "gauge",
        "Seconds since the supervisor started (re-execs included).",
        (unsigned long long)((now - sup->started_ms) / 1000));
    one(b, "baton_active_generation", "gauge", "The id of the generation serving (0: none).",
        gs->active ? (unsigned long long)gs->active->id : 0);

    head(b, "baton_generations", "gauge", "Live generations by state.");
    for (size_t i = 0; i < sizeof(gen_states) / sizeof(gen_states[0]); i++) {
        unsigned n = 0;
        for (const struct baton_generation *g = gs->list; g; g = g->next)
            n += g->state == gen_states[i];
        baton__buf_printf(b, "baton_generations{state=\"%s\"} %u\n",
                          baton__generation_state_name(gen_states[i]), n);
    }
    for (const struct baton_generation *g = gs->list; g; g = g->next)
        for (const struct baton_worker *w = g->workers; w; w = w->next)
            workers[w->state == BATON_WORKER_STARTING ? 0
                    : w->state == BATON_WORKER_READY  ? 1
                                                      : 2]++;
    head(b, "baton_workers", "gauge", "Worker processes by state.");
    for (unsigned i = 0; i < 3; i++)
        baton__buf_printf(b, "baton_workers{state=\"%s\"} %u\n", worker_states[i], workers[i]);

    head(b, "baton_reloads_total", "counter", "Reloads by result (configuration errors: failed).");
    baton__buf_printf(b, "baton_reloads_total{result=\"ok\"} %llu\n",
                      (unsigned long long)h->reloads_ok);
    baton__buf_printf(b, "baton_reloads_total{result=\"failed\"} %llu\n",
                      (unsigned long long)h->reloads_failed);
    histogram(b, "baton_reload_duration_seconds", "Time from a reload's start to its verdict.",
              &h->reload_seconds);
    histogram(b, "baton_drain_duration_seconds", "Time from a worker's stop signal to its exit.",
              &h->drain_seconds);
    one(b, "baton_worker_restarts_total", "counter", "Active workers restarted after dying.",
        gs->restarts);
    if (gs->active)
        for (unsigned i = 0; i < gs->active->n_slots; i++)
            crash_loop += baton__slot_crash_loop(&gs->active->slots[i], now);
    one(b, "baton_crash_loop_slots", "gauge", "Slots of the active generation in a crash loop.",
        crash_loop);
    one(b, "baton_config_errors_total", "counter",
        "Invalid configuration changes seen by the config watch.", h->config_errors);
    one(b, "baton_config_error", "gauge",
        "1 while the watched configuration files are invalid (see /status config_error).",
        h->config_error ? 1 : 0);
    one(b, "baton_config_watch_reloads_total", "counter", "Reloads started by the config watch.",
        h->watch_reloads);
    one(b, "baton_stats_refused_total", "counter",
        "BATON_STATS reports ignored: malformed, too long, decreasing or from a non-worker.",
        gs->stats_refused);
    counters(b, sup, false);
    counters(b, sup, true);
}
