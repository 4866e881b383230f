/* SPDX-License-Identifier: MIT */
/*
 * The workers' request counters (BATON_STATS=, docs/protocol.md): one owner for parsing them,
 * keeping each worker's last report, and folding a worker's final counters into its
 * generation's and the supervisor's retired totals when it exits, so that totals never
 * decrease across reloads, crashes and re-execs, and live generations can be compared
 * (probation, canary).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum baton_stat {
    BATON_STAT_REQUESTS,
    BATON_STAT_1XX,
    BATON_STAT_2XX,
    BATON_STAT_3XX,
    BATON_STAT_4XX,
    BATON_STAT_5XX,
    BATON_STAT_ERRORS,
    BATON_STAT_BYTES_IN,
    BATON_STAT_BYTES_OUT,
    BATON_STAT_ACCEPTED,
    BATON_STAT_COUNT,
};

/* Cumulative counters of one worker, a generation or the whole supervisor. `connections` is
 * the one gauge (connections open now): it is never retired. */
struct baton_counters {
    uint64_t v[BATON_STAT_COUNT];
    uint64_t connections;
};

/* BATON_STATS= key of each counter: "requests", "responses_1xx", ... */
extern const char *const baton__stat_names[BATON_STAT_COUNT];

/* The longest BATON_STATS= text accepted (a report is a few hundred bytes). */
#define BATON_STATS_MAX 1024

/*
 * Parses "requests=5 responses_2xx=4 ..." (space-separated key=value, unsigned 64-bit decimal
 * values; unknown keys ignored, missing ones 0). Returns 0, or -EINVAL for a malformed pair or
 * value and -E2BIG past BATON_STATS_MAX; *ret is written only on success.
 */
int baton__counters_parse(const char *text, size_t len, struct baton_counters *ret);

/* True when every cumulative counter of next is >= last's (a worker's counters never go down). */
bool baton__counters_monotonic(const struct baton_counters *last,
                               const struct baton_counters *next);

/* sum += c, cumulative counters only (with_gauge: connections too). */
void baton__counters_add(struct baton_counters *sum, const struct baton_counters *c,
                         bool with_gauge);

/* Writes {"requests": N, "responses_1xx": N, ..., "connections": N} (JSON object). */
struct baton_buf;
void baton__counters_json(struct baton_buf *b, const struct baton_counters *c);
