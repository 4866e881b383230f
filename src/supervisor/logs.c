/* SPDX-License-Identifier: MIT */
/*
 * The supervisor's recent log lines, for `baton logs [-f]`: its own messages and the workers'
 * tagged output, as the JSON objects the log writes, in a ring bounded by count and by bytes
 * (BATON_LOGS_LINES, BATON_LOGS_BYTES). New lines also go to the control clients following
 * them (control.c).
 */
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/xmalloc.h"
#include "supervisor/internal.h"
#include "supervisor/observe.h"

struct baton_logs {
    char *lines[BATON_LOGS_LINES]; /* oldest at start */
    size_t lens[BATON_LOGS_LINES];
    unsigned start, count;
    size_t bytes;
};

static void drop_oldest(struct baton_logs *l)
{
    free(l->lines[l->start]);
    l->lines[l->start] = NULL;
    l->bytes -= l->lens[l->start];
    l->start = (l->start + 1) % BATON_LOGS_LINES;
    l->count--;
}

static void on_line(void *ctx, const char *json, size_t len)
{
    struct baton_supervisor *sup = ctx;
    struct baton_logs *l = sup->logs;
    while (l->count && (l->count == BATON_LOGS_LINES || l->bytes + len > BATON_LOGS_BYTES))
        drop_oldest(l);
    unsigned i = (l->start + l->count) % BATON_LOGS_LINES;
    l->lines[i] = baton__xstrndup(json, len);
    l->lens[i] = len;
    l->bytes += len;
    l->count++;
    baton__ctl_follow_line(sup, json, len);
}

void baton__logs_start(struct baton_supervisor *sup)
{
    if (!sup->logs)
        sup->logs = baton__xcalloc(1, sizeof(*sup->logs));
    baton__log_set_tap(on_line, sup);
}

unsigned baton__logs_each(const struct baton_supervisor *sup,
                          void (*fn)(void *ctx, const char *json, size_t len), void *ctx)
{
    const struct baton_logs *l = sup->logs;
    if (!l)
        return 0;
    for (unsigned k = 0; k < l->count; k++) {
        unsigned i = (l->start + k) % BATON_LOGS_LINES;
        fn(ctx, l->lines[i], l->lens[i]);
    }
    return l->count;
}

void baton__logs_free(struct baton_supervisor *sup)
{
    struct baton_logs *l = sup->logs;
    if (!l)
        return;
    baton__log_set_tap(NULL, NULL);
    while (l->count)
        drop_oldest(l);
    free(l);
    sup->logs = NULL;
}
