/* SPDX-License-Identifier: MIT */
/*
 * What the supervisor shows of itself (DESIGN.md, Observability):
 *
 *   history.c        the reload verdicts, reload and drain durations, request samples and the
 *                    last configuration error: bounded rings and counters, carried through a
 *                    re-exec
 *   metrics.c        /metrics in the Prometheus text format, from the state and the history
 *   http-endpoint.c  the metrics.listen HTTP endpoint (bounded; served by the supervisor's loop)
 *   endpoint-request.c  its request-head reader (strict, pure)
 *   watch.c          the configuration files watched with inotify: a change becomes a reload
 *   logs.c           the recent log lines, for `baton logs [-f]`
 */
#ifndef BATON_SUPERVISOR_OBSERVE_H
#define BATON_SUPERVISOR_OBSERVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "supervisor/stats.h"

struct baton_supervisor;

/* ---- history.c ---------------------------------------------------------------------------- */

/* Reload verdicts kept for the status page, and request samples (one every
 * BATON_SAMPLE_INTERVAL_MS: 15 minutes of them). */
#define BATON_HISTORY_RELOADS    20
#define BATON_SAMPLE_INTERVAL_MS 5000
#define BATON_HISTORY_SAMPLES    180
#define BATON_HISTOGRAM_BUCKETS  10 /* the last one is +Inf */
#define BATON_CONFIG_ERROR_MAX   2048

struct baton_histogram {
    const double *bounds;                     /* seconds, BATON_HISTOGRAM_BUCKETS - 1 of them */
    uint64_t counts[BATON_HISTOGRAM_BUCKETS]; /* per bucket, not cumulative */
    uint64_t sum_ms;
};

struct baton_history {
    struct {
        uint64_t wall_ms; /* when it ended (CLOCK_REALTIME) */
        uint64_t total_ms;
        bool ok;
        char *verdict; /* the verdict's JSON object */
    } reloads[BATON_HISTORY_RELOADS];
    unsigned reload_next, reload_count;
    struct {
        uint64_t wall_ms;
        uint64_t requests, responses_5xx, errors;
    } samples[BATON_HISTORY_SAMPLES];
    unsigned sample_next, sample_count;

    uint64_t reloads_ok, reloads_failed; /* over the supervisor's life, re-execs included */
    uint64_t config_errors;              /* invalid changes seen by the watch */
    uint64_t watch_reloads;              /* reloads the watch started */
    struct baton_histogram reload_seconds, drain_seconds;
    char *config_error; /* the watched files' current error ("baton.yaml:3:7: ..."), or NULL */
};

struct baton_history *baton__history_new(void);
void baton__history_free(struct baton_history *h);
/* A reload ended: verdict is its JSON object (copied), total_ms its duration. */
void baton__history_reload(struct baton_history *h, bool ok, const char *verdict,
                           uint64_t total_ms);
/* A worker asked to stop exited ms after the stop signal. */
void baton__history_drain(struct baton_history *h, uint64_t ms);
/* One sample of the supervisor's totals (BATON_SAMPLE_INTERVAL_MS apart). */
void baton__history_sample(struct baton_history *h, const struct baton_counters *totals);
/* The watched configuration is invalid (error: one message, copied and counted) or valid again
 * (error NULL). */
void baton__history_config_error(struct baton_history *h, const char *error);
/* {"reloads": [verdicts, newest last, each with "ended_at_ms"], "samples": [{"t": wall ms,
 * "requests": N, "responses_5xx": N, "errors": N}], "sample_interval_ms": N} */
void baton__history_json(const struct baton_history *h, struct baton_buf *b);
/* The counters and histograms (not the rings) as a line of "key=value" words, for the re-exec
 * state, and back (unknown or malformed words are ignored: the counters stay at 0). */
void baton__history_save(const struct baton_history *h, struct baton_buf *b);
void baton__history_restore(struct baton_history *h, const char *text);

/* ---- metrics.c ---------------------------------------------------------------------------- */

/* The whole /metrics document (Prometheus text format 0.0.4). */
void baton__metrics_text(const struct baton_supervisor *sup, struct baton_buf *b);

/* ---- endpoint-request.c ------------------------------------------------------------------- */

#define BATON_ENDPOINT_TARGET_MAX 1024

struct baton_endpoint_request {
    bool head;        /* HEAD (else GET) */
    const char *path; /* into the head: the target up to '?' (starts with '/') */
    size_t path_len;
};

/* Reads a complete request head (len bytes, ending in CRLFCRLF). Returns 0 (*ret set), or the
 * status to answer, 400 or 405, with *ret_why a one-line reason (static text). */
int baton__endpoint_parse(const char *buf, size_t len, struct baton_endpoint_request *ret,
                          const char **ret_why);

/* ---- http-endpoint.c ---------------------------------------------------------------------- */

/* Serves metrics.listen (address text) on sup's loop. 0, or -errno after logging. */
int baton__endpoint_open(struct baton_supervisor *sup, const char *address);
/* True when address (metrics.listen of a new configuration, NULL: none) is not what is served:
 * the endpoint is bound at start only (and at a re-exec), so a change needs a restart. */
bool baton__endpoint_changed(const struct baton_supervisor *sup, const char *address);
/* Closes the listener and every connection (their memory goes in the close callbacks). */
void baton__endpoint_close(struct baton_supervisor *sup);

/* ---- logs.c ------------------------------------------------------------------------------- */

/* The recent log lines kept: at most this many, of at most this many bytes in all. */
#define BATON_LOGS_LINES 1000
#define BATON_LOGS_BYTES (256 * 1024)

/* Starts keeping the log lines (a tap on the log, common/log.h). */
void baton__logs_start(struct baton_supervisor *sup);
/* Calls fn for each kept line (a JSON object), oldest first; returns how many. */
unsigned baton__logs_each(const struct baton_supervisor *sup,
                          void (*fn)(void *ctx, const char *json, size_t len), void *ctx);
void baton__logs_free(struct baton_supervisor *sup);
/* control.c: sends a new line to every control client following the log. */
void baton__ctl_follow_line(struct baton_supervisor *sup, const char *json, size_t len);

/* ---- watch.c ------------------------------------------------------------------------------ */

/* Watches the configuration file at path (absolute; NULL: none) and its environment layers when
 * `on` (control.watch). 0 (also when nothing is watched), or -errno after logging. */
int baton__watch_open(struct baton_supervisor *sup, const char *path, bool on);
/* Follows control.watch of the configuration now serving (after a reload). */
void baton__watch_update(struct baton_supervisor *sup);
/* A transaction ended: a change that came while it ran gets its reload now. */
void baton__watch_tx_done(struct baton_supervisor *sup);
void baton__watch_close(struct baton_supervisor *sup);

#endif
