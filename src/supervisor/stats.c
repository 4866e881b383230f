/* SPDX-License-Identifier: MIT */
/* BATON_STATS= counters: parsing, monotonicity, sums. See stats.h. */
#include "supervisor/stats.h"

#include <errno.h>
#include <string.h>

#include "common/buf.h"
#include "common/json.h"

const char *const baton__stat_names[BATON_STAT_COUNT] = {
    [BATON_STAT_REQUESTS] = "requests",   [BATON_STAT_1XX] = "responses_1xx",
    [BATON_STAT_2XX] = "responses_2xx",   [BATON_STAT_3XX] = "responses_3xx",
    [BATON_STAT_4XX] = "responses_4xx",   [BATON_STAT_5XX] = "responses_5xx",
    [BATON_STAT_ERRORS] = "errors",       [BATON_STAT_BYTES_IN] = "bytes_in",
    [BATON_STAT_BYTES_OUT] = "bytes_out", [BATON_STAT_ACCEPTED] = "accepted",
};

/* An unsigned 64-bit decimal of n digits; false on anything else or overflow. */
static bool parse_u64(const char *s, size_t n, uint64_t *ret)
{
    uint64_t v = 0;
    if (n == 0 || n > 20)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *ret = v;
    return true;
}

int baton__counters_parse(const char *text, size_t len, struct baton_counters *ret)
{
    struct baton_counters c = {0};
    if (len > BATON_STATS_MAX)
        return -E2BIG;
    size_t i = 0;
    while (i < len) {
        while (i < len && text[i] == ' ')
            i++;
        if (i == len)
            break;
        size_t start = i;
        while (i < len && text[i] != ' ')
            i++;
        const char *pair = text + start, *eq = memchr(pair, '=', i - start);
        if (!eq || eq == pair)
            return -EINVAL;
        size_t klen = (size_t)(eq - pair), vlen = i - start - klen - 1;
        uint64_t v;
        if (!parse_u64(eq + 1, vlen, &v))
            return -EINVAL;
        if (klen == 11 && memcmp(pair, "connections", 11) == 0) {
            c.connections = v;
            continue;
        }
        for (unsigned k = 0; k < BATON_STAT_COUNT; k++) {
            if (strlen(baton__stat_names[k]) == klen &&
                memcmp(pair, baton__stat_names[k], klen) == 0)
                c.v[k] = v;
        }
    }
    *ret = c;
    return 0;
}

bool baton__counters_monotonic(const struct baton_counters *last, const struct baton_counters *next)
{
    for (unsigned k = 0; k < BATON_STAT_COUNT; k++)
        if (next->v[k] < last->v[k])
            return false;
    return true;
}

void baton__counters_add(struct baton_counters *sum, const struct baton_counters *c,
                         bool with_gauge)
{
    for (unsigned k = 0; k < BATON_STAT_COUNT; k++)
        sum->v[k] += c->v[k];
    if (with_gauge)
        sum->connections += c->connections;
}

void baton__counters_json(struct baton_buf *b, const struct baton_counters *c)
{
    baton__buf_puts(b, "{");
    for (unsigned k = 0; k < BATON_STAT_COUNT; k++)
        baton__json_kv_int(b, baton__stat_names[k], (long long)c->v[k]);
    baton__json_kv_int(b, "connections", (long long)c->connections);
    baton__buf_puts(b, "}");
}
