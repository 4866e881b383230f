/* SPDX-License-Identifier: MIT */
/* The supervisor's history for /metrics and the status page: bounded rings and counters. See
 * observe.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/json.h"
#include "common/xmalloc.h"
#include "supervisor/observe.h"

/* Bucket bounds in seconds: a reload takes from a fraction of a second to ready_timeout; a drain
 * from milliseconds to drain_timeout. */
static const double reload_bounds[BATON_HISTOGRAM_BUCKETS - 1] = {0.1, 0.25, 0.5, 1, 2.5,
                                                                  5,   10,   30,  60};
static const double drain_bounds[BATON_HISTOGRAM_BUCKETS - 1] = {0.01, 0.05, 0.1, 0.5, 1,
                                                                 5,    10,   30,  60};

static uint64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

struct baton_history *baton__history_new(void)
{
    struct baton_history *h = baton__xcalloc(1, sizeof(*h));
    h->reload_seconds.bounds = reload_bounds;
    h->drain_seconds.bounds = drain_bounds;
    return h;
}

void baton__history_free(struct baton_history *h)
{
    if (!h)
        return;
    for (unsigned i = 0; i < BATON_HISTORY_RELOADS; i++)
        free(h->reloads[i].verdict);
    free(h->config_error);
    free(h);
}

static void observe(struct baton_histogram *hist, uint64_t ms)
{
    unsigned i = 0;
    while (i < BATON_HISTOGRAM_BUCKETS - 1 && (double)ms / 1000.0 > hist->bounds[i])
        i++;
    hist->counts[i]++;
    hist->sum_ms += ms;
}

void baton__history_reload(struct baton_history *h, bool ok, const char *verdict, uint64_t total_ms)
{
    unsigned i = h->reload_next;
    free(h->reloads[i].verdict);
    h->reloads[i].verdict = baton__xstrdup(verdict);
    h->reloads[i].ok = ok;
    h->reloads[i].total_ms = total_ms;
    h->reloads[i].wall_ms = wall_ms();
    h->reload_next = (i + 1) % BATON_HISTORY_RELOADS;
    if (h->reload_count < BATON_HISTORY_RELOADS)
        h->reload_count++;
    if (ok)
        h->reloads_ok++;
    else
        h->reloads_failed++;
    observe(&h->reload_seconds, total_ms);
}

void baton__history_drain(struct baton_history *h, uint64_t ms)
{
    observe(&h->drain_seconds, ms);
}

void baton__history_sample(struct baton_history *h, const struct baton_counters *totals)
{
    unsigned i = h->sample_next;
    h->samples[i].wall_ms = wall_ms();
    h->samples[i].requests = totals->v[BATON_STAT_REQUESTS];
    h->samples[i].responses_5xx = totals->v[BATON_STAT_5XX];
    h->samples[i].errors = totals->v[BATON_STAT_ERRORS];
    h->sample_next = (i + 1) % BATON_HISTORY_SAMPLES;
    if (h->sample_count < BATON_HISTORY_SAMPLES)
        h->sample_count++;
}

void baton__history_config_error(struct baton_history *h, const char *error)
{
    free(h->config_error);
    h->config_error = NULL;
    if (!error)
        return;
    size_t n = strnlen(error, BATON_CONFIG_ERROR_MAX);
    while (n && error[n - 1] == '\n')
        n--;
    h->config_error = baton__xstrndup(error, n);
    h->config_errors++;
}

void baton__history_json(const struct baton_history *h, struct baton_buf *b)
{
    baton__buf_puts(b, "{\"reloads\":[");
    for (unsigned k = 0; k < h->reload_count; k++) {
        unsigned i =
            (h->reload_next + BATON_HISTORY_RELOADS - h->reload_count + k) % BATON_HISTORY_RELOADS;
        baton__buf_puts(b, k ? "," : "");
        baton__buf_printf(b, "{\"ended_at_ms\":%llu,\"ok\":%s,\"total_ms\":%llu,\"verdict\":%s}",
                          (unsigned long long)h->reloads[i].wall_ms,
                          h->reloads[i].ok ? "true" : "false",
                          (unsigned long long)h->reloads[i].total_ms, h->reloads[i].verdict);
    }
    baton__buf_puts(b, "],\"samples\":[");
    for (unsigned k = 0; k < h->sample_count; k++) {
        unsigned i =
            (h->sample_next + BATON_HISTORY_SAMPLES - h->sample_count + k) % BATON_HISTORY_SAMPLES;
        baton__buf_printf(b,
                          "%s{\"t\":%llu,\"requests\":%llu,\"responses_5xx\":%llu,\"errors\":%llu}",
                          k ? "," : "", (unsigned long long)h->samples[i].wall_ms,
                          (unsigned long long)h->samples[i].requests,
                          (unsigned long long)h->samples[i].responses_5xx,
                          (unsigned long long)h->samples[i].errors);
    }
    baton__buf_puts(b, "]");
    baton__json_kv_int(b, "sample_interval_ms", BATON_SAMPLE_INTERVAL_MS);
    baton__buf_puts(b, "}");
}

/* ---- the re-exec state -------------------------------------------------------------------- */

/* Every carried number, by name: "reloads_ok", ..., "reload_b0" ... "drain_b9". */
struct carried {
    char name[24];
    uint64_t *value;
};

#define CARRIED_MAX (6 + 2 * BATON_HISTOGRAM_BUCKETS)

static size_t carried(struct baton_history *h, struct carried *out)
{
    struct {
        const char *name;
        uint64_t *value;
    } plain[] = {
        {"reloads_ok", &h->reloads_ok},
        {"reloads_failed", &h->reloads_failed},
        {"config_errors", &h->config_errors},
        {"watch_reloads", &h->watch_reloads},
        {"reload_sum_ms", &h->reload_seconds.sum_ms},
        {"drain_sum_ms", &h->drain_seconds.sum_ms},
    };
    size_t n = 0;
    for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
        snprintf(out[n].name, sizeof(out[n].name), "%s", plain[i].name);
        out[n++].value = plain[i].value;
    }
    for (unsigned i = 0; i < BATON_HISTOGRAM_BUCKETS; i++) {
        snprintf(out[n].name, sizeof(out[n].name), "reload_b%u", i);
        out[n++].value = &h->reload_seconds.counts[i];
        snprintf(out[n].name, sizeof(out[n].name), "drain_b%u", i);
        out[n++].value = &h->drain_seconds.counts[i];
    }
    return n;
}

void baton__history_save(const struct baton_history *h, struct baton_buf *b)
{
    struct carried c[CARRIED_MAX];
    size_t n = carried((struct baton_history *)h, c);
    for (size_t i = 0; i < n; i++)
        baton__buf_printf(b, "%s%s=%llu", i ? " " : "", c[i].name, (unsigned long long)*c[i].value);
}

void baton__history_restore(struct baton_history *h, const char *text)
{
    struct carried c[CARRIED_MAX];
    size_t n = carried(h, c);
    while (text && *text) {
        while (*text == ' ')
            text++;
        const char *end = strchr(text, ' ');
        if (!end)
            end = text + strlen(text);
        const char *eq = memchr(text, '=', (size_t)(end - text));
        for (size_t i = 0; eq && i < n; i++) {
            size_t len = strlen(c[i].name);
            char *stop;
            if ((size_t)(eq - text) != len || memcmp(text, c[i].name, len) != 0 || eq[1] < '0' ||
                eq[1] > '9')
                continue;
            unsigned long long v = strtoull(eq + 1, &stop, 10);
            if (stop == end)
                *c[i].value = v;
        }
        text = end;
    }
}
