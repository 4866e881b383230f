/* SPDX-License-Identifier: MIT */
/*
 * The key schema: every configuration key with its type, its place in struct baton_config and
 * its default, and the parsing of one scalar value into its field. Sections, lists and maps
 * are applied by apply.c.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/duration.h"
#include "common/signal.h"
#include "common/size.h"
#include "common/xmalloc.h"
#include "config/internal.h"

#define OFF(field) offsetof(struct baton_config, field)
#define SECTION(path)                                                                              \
    {                                                                                              \
        path, KEY_SECTION, 0, 0, 0, false, NULL, BUILT                                             \
    }
/* The last field: BUILT, or NOT_YET for a key whose feature is not built yet (setting it is an
 * error, "not supported yet"). Turning a feature on is changing NOT_YET to BUILT on its lines. */
#define BUILT   false
#define NOT_YET true

/* In the order `baton config` prints them. A section comes before its keys. */
const struct config_key baton__config_keys[] = {
    SECTION(""),
    {"name", KEY_NAME, OFF(name), 0, 0, false, NULL, BUILT},
    {"listen", KEY_LISTEN, 0, 0, 0, false, NULL, BUILT},
    SECTION("app"),
    {"app.command", KEY_COMMAND, 0, 0, 0, false, NULL, BUILT},
    {"app.dir", KEY_PATH, OFF(app.dir), 0, 0, false, ".", BUILT},
    {"app.env", KEY_ENV, 0, 0, 0, false, NULL, BUILT},
    {"app.workers", KEY_UINT, OFF(app.workers), 1, 1024, false, "1", BUILT},
    {"app.strategy", KEY_STRATEGY, OFF(app.strategy), 0, 0, false, "rolling", BUILT},
    {"app.max_surge", KEY_UINT, OFF(app.max_surge), 1, 1024, false, "1", BUILT},
    {"app.ready", KEY_READY, 0, 0, 0, false, "notify", BUILT},
    {"app.ready_timeout", KEY_DURATION, OFF(app.ready_timeout_ms), 1, 0, false, "30s", BUILT},
    {"app.stop_signal", KEY_SIGNAL, OFF(app.stop_signal), 0, 0, false, "TERM", BUILT},
    {"app.reload_signal", KEY_SIGNAL, OFF(app.reload_signal), 0, 0, false, "HUP", BUILT},
    {"app.drain_timeout", KEY_DURATION, OFF(app.drain_timeout_ms), 0, 0, false, "30s", BUILT},
    {"app.max_draining", KEY_UINT, OFF(app.max_draining), 1, 64, false, "2", BUILT},
    {"app.user", KEY_STRING, OFF(app.user), 0, 0, true, NULL, BUILT},
    {"app.probation", KEY_DURATION, OFF(app.probation_ms), 0, 0, false, "0s", BUILT},
    SECTION("app.probe"),
    {"app.probe.path", KEY_HTTP_PATH, OFF(app.probe.path), 0, 0, true, NULL, BUILT},
    {"app.probe.timeout", KEY_DURATION, OFF(app.probe.timeout_ms), 1, 0, false, "2s", BUILT},
    {"app.probe.interval", KEY_DURATION, OFF(app.probe.interval_ms), 1, 0, false, "5s", BUILT},
    {"app.probe.expect", KEY_UINT, OFF(app.probe.expect), 100, 599, false, "200", BUILT},
    SECTION("app.restart"),
    {"app.restart.initial", KEY_DURATION, OFF(app.restart_initial_ms), 1, 0, false, "100ms", BUILT},
    {"app.restart.max", KEY_DURATION, OFF(app.restart_max_ms), 1, 0, false, "30s", BUILT},
    SECTION("tcp"),
    {"tcp.defer_accept", KEY_DURATION, OFF(tcp.defer_accept_ms), 0, 0, false, "1s", BUILT},
    SECTION("control"),
    {"control.socket", KEY_SOCKET, OFF(control.socket), 0, 0, false, "baton.sock", BUILT},
    {"control.group", KEY_STRING, OFF(control.group), 0, 0, true, NULL, BUILT},
    {"control.watch", KEY_BOOL, OFF(control.watch), 0, 0, false, "true", BUILT},
    SECTION("metrics"),
    {"metrics.listen", KEY_ADDRESS, OFF(metrics.listen), 0, 0, true, NULL, BUILT},
    SECTION("log"),
    {"log.format", KEY_LOGFORMAT, 0, 0, 0, true, NULL, BUILT},
    {"log.level", KEY_LOGLEVEL, OFF(log.level), 0, 0, false, "info", BUILT},
    SECTION("release"),
    {"release.root", KEY_PATH, OFF(release.root), 0, 0, true, NULL, BUILT},
    {"release.keep", KEY_UINT, OFF(release.keep), 1, 1000, false, "5", BUILT},
    {"release.trust", KEY_PATH, OFF(release.trust), 0, 0, true, NULL, BUILT},
    {"release.probation", KEY_DURATION, OFF(release.probation_ms), 0, 0, false, "10s", BUILT},
    {"release.probation_requests", KEY_UINT, OFF(release.probation_requests), 0, 1000000000, false,
     "200", BUILT},
    {"release.probation_timeout", KEY_DURATION, OFF(release.probation_timeout_ms), 0, 0, false,
     "5m", BUILT},
    {"release.max_error_rate", KEY_RATE, OFF(release.max_error_rate), 0, 0, false, "0.01", BUILT},
    {"release.max_size", KEY_SIZE, OFF(release.max_size), 1, 0, false, "1GiB", BUILT},
    SECTION("release.source"),
    {"release.source.url", KEY_URL, OFF(release.source_url), 0, 0, true, NULL, BUILT},
    {"release.source.interval", KEY_DURATION, OFF(release.source_interval_ms), 1000, 0, false,
     "60s", BUILT},
    SECTION("canary"),
    {"canary.workers", KEY_UINT, OFF(canary.workers), 1, 1024, false, "1", NOT_YET},
    {"canary.duration", KEY_DURATION, OFF(canary.duration_ms), 1, 0, false, "60s", NOT_YET},
    {"canary.max_error_rate", KEY_RATE, OFF(canary.max_error_rate), 0, 0, false, "0.01", NOT_YET},
    {"canary.min_requests", KEY_UINT, OFF(canary.min_requests), 0, 1000000000, false, "200",
     NOT_YET},
};
const size_t baton__config_n_keys = sizeof(baton__config_keys) / sizeof(baton__config_keys[0]);
const struct config_schema baton__config_schema = {
    .keys = baton__config_keys,
    .n_keys = sizeof(baton__config_keys) / sizeof(baton__config_keys[0]),
    .apply_custom = NULL,
};

const char *baton__config_key_name(const struct config_key *key)
{
    const char *dot = strrchr(key->path, '.');
    return dot ? dot + 1 : key->path;
}

static bool is_child(const struct config_schema *schema, int parent, const struct config_key *key)
{
    const char *ppath = schema->keys[parent].path;
    size_t plen = strlen(ppath);
    const char *name = baton__config_key_name(key);

    if (key->path[0] == '\0')
        return false;
    if (plen == 0)
        return name == key->path;
    return (size_t)(name - key->path) == plen + 1 && strncmp(key->path, ppath, plen) == 0;
}

int baton__config_key_child(const struct config_schema *schema, int parent, const char *name,
                            size_t len)
{
    for (size_t i = 0; i < schema->n_keys; i++) {
        const struct config_key *k = &schema->keys[i];
        const char *kn = baton__config_key_name(k);
        if (is_child(schema, parent, k) && strlen(kn) == len && memcmp(kn, name, len) == 0)
            return (int)i;
    }
    return -1;
}

int baton__config_key_parent(const struct config_schema *schema, int index)
{
    for (int i = index - 1; i >= 0; i--)
        if (schema->keys[i].type == KEY_SECTION && is_child(schema, i, &schema->keys[index]))
            return i;
    return -1;
}

/* Edit distance (insert, delete, substitute, swap two neighbours), case-insensitive. */
size_t baton__config_distance(const char *a, const char *b)
{
    size_t n = strlen(a), m = strlen(b);
    size_t d[33][33];

    if (n > 32 || m > 32)
        return SIZE_MAX;
    for (size_t i = 0; i <= n; i++)
        d[i][0] = i;
    for (size_t j = 0; j <= m; j++)
        d[0][j] = j;
    for (size_t i = 1; i <= n; i++) {
        for (size_t j = 1; j <= m; j++) {
            size_t cost = tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]);
            size_t v = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < v)
                v = d[i][j - 1] + 1;
            if (d[i - 1][j - 1] + cost < v)
                v = d[i - 1][j - 1] + cost;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                d[i - 2][j - 2] + 1 < v)
                v = d[i - 2][j - 2] + 1;
            d[i][j] = v;
        }
    }
    return d[n][m];
}

const char *baton__config_key_suggest(const struct config_schema *schema, int parent,
                                      const char *name)
{
    const char *best = NULL;
    size_t best_d = SIZE_MAX, len = strlen(name);
    /* Close enough to be a typo, not a different word: two edits, one for short names. */
    size_t limit = len <= 4 ? 1 : 2;

    for (size_t i = 0; i < schema->n_keys; i++) {
        const struct config_key *k = &schema->keys[i];
        if (!is_child(schema, parent, k))
            continue;
        size_t dd = baton__config_distance(name, baton__config_key_name(k));
        if (dd <= limit && dd < best_d) {
            best_d = dd;
            best = baton__config_key_name(k);
        }
    }
    return best;
}

bool baton__config_key_is_scalar(const struct config_key *key)
{
    return key->type != KEY_SECTION && key->type != KEY_COMMAND && key->type != KEY_ENV &&
           key->type != KEY_LISTEN && key->type != KEY_CUSTOM;
}

static int parse_uint(const char *text, uint64_t *ret)
{
    uint64_t v = 0;

    if (!*text || strspn(text, "0123456789") != strlen(text))
        return -EINVAL;
    for (const char *p = text; *p; p++) {
        if (v > (UINT64_MAX - 9) / 10)
            return -ERANGE;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    *ret = v;
    return 0;
}

static int parse_rate(const char *text, double *ret)
{
    char *end;
    size_t len = strlen(text);
    bool percent = len > 0 && text[len - 1] == '%';

    if (!*text || !(isdigit((unsigned char)text[0]) || text[0] == '.'))
        return -EINVAL;
    errno = 0;
    double v = strtod(text, &end);
    if (errno || end != text + len - (percent ? 1 : 0) || !isfinite(v))
        return -EINVAL;
    if (percent)
        v /= 100;
    if (v < 0 || v > 1)
        return -ERANGE;
    *ret = v;
    return 0;
}

static bool printable(const char *text)
{
    for (const unsigned char *p = (const unsigned char *)text; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return false;
    return true;
}

static void set_string(char **field, const char *text)
{
    free(*field);
    *field = text ? baton__xstrdup(text) : NULL;
}

/*
 * Parses `text` (NULL: the value is null) for scalar key `key` into the config. Returns 0, or
 * -EINVAL after writing what is wrong (without the location) into `why`.
 */
int baton__config_key_set_scalar(struct config_loader *l, const struct config_key *key,
                                 const char *text, char *why, size_t size)
{
    /* The types of baton.yaml alone (strategy, ready, log) write into l->config. */
    struct baton_config *c = l->config;
    void *field = (char *)l->target + key->offset;
    char ex[80];
    uint64_t u;
    int r;

    if (!text && key->nullable) {
        if (key->type == KEY_LOGFORMAT && c)
            c->log.format_set = false;
        else
            set_string(field, NULL);
        return 0;
    }
    if (!text) {
        snprintf(why, size, "%s needs a value", key->path);
        return -EINVAL;
    }
    baton__config_excerpt(text, ex, sizeof(ex));

    switch (key->type) {
    case KEY_STRING:
    case KEY_NAME:
        if (!*text || !printable(text) || (key->type == KEY_NAME && strlen(text) > 128)) {
            snprintf(why, size, "%s must be non-empty text on one line%s", key->path,
                     key->type == KEY_NAME ? " of at most 128 bytes" : "");
            return -EINVAL;
        }
        set_string(field, text);
        return 0;
    case KEY_PATH:
    case KEY_SOCKET: {
        if (!*text) {
            snprintf(why, size, "%s must be a path, not empty", key->path);
            return -EINVAL;
        }
        char *path = baton__config_path_join(l->dir, text);
        size_t max =
            key->type == KEY_SOCKET ? sizeof(((struct sockaddr_un *)0)->sun_path) - 1 : 4095;
        if (strlen(path) > max) {
            snprintf(why, size, "%s: path '%s' is longer than %zu bytes", key->path, ex, max);
            free(path);
            return -EINVAL;
        }
        free(*(char **)field);
        *(char **)field = path;
        return 0;
    }
    case KEY_UINT:
        r = parse_uint(text, &u);
        if (key->min > 1 && (r < 0 || u < key->min || u > key->max)) {
            snprintf(why, size, "%s must be an integer from %llu to %llu, not '%s'", key->path,
                     (unsigned long long)key->min, (unsigned long long)key->max, ex);
            return -EINVAL;
        }
        if (r == -EINVAL || (r == 0 && u < key->min)) {
            snprintf(why, size, "%s must be a %s integer, not '%s'", key->path,
                     key->min > 0 ? "positive" : "non-negative", ex);
            return -EINVAL;
        }
        if (r < 0 || u > key->max) {
            snprintf(why, size, "%s must be at most %llu, not '%s'", key->path,
                     (unsigned long long)key->max, ex);
            return -EINVAL;
        }
        *(unsigned *)field = (unsigned)u;
        return 0;
    case KEY_SIZE:
        r = baton__size_parse(text, &u);
        if (r == -EINVAL) {
            snprintf(why, size, "%s: bad size '%s': use bytes (8192) or a unit (8KiB, 1MB)",
                     key->path, ex);
            return -EINVAL;
        }
        if (r < 0 || u < key->min || (key->max && u > key->max)) {
            char lo[32], hi[32];
            snprintf(why, size, "%s must be from %s to %s, not '%s'", key->path,
                     baton__size_format(key->min, lo, sizeof(lo)),
                     baton__size_format(key->max ? key->max : UINT64_MAX, hi, sizeof(hi)), ex);
            return -EINVAL;
        }
        *(uint64_t *)field = u;
        return 0;
    case KEY_BOOL:
        if (!strcmp(text, "true") || !strcmp(text, "yes") || !strcmp(text, "on")) {
            *(bool *)field = true;
        } else if (!strcmp(text, "false") || !strcmp(text, "no") || !strcmp(text, "off")) {
            *(bool *)field = false;
        } else {
            snprintf(why, size, "%s must be true or false, not '%s'", key->path, ex);
            return -EINVAL;
        }
        return 0;
    case KEY_DURATION:
        r = baton__duration_parse(text, &u);
        if (r == -ERANGE) {
            snprintf(why, size, "%s: duration '%s' is too long (at most 49 days)", key->path, ex);
            return -EINVAL;
        }
        if (r < 0) {
            snprintf(why, size, "%s: bad duration '%s': use 250ms, 30s, 5m", key->path, ex);
            return -EINVAL;
        }
        if (u < key->min) {
            char d[32];
            snprintf(why, size, "%s must be at least %s, not '%s'", key->path,
                     baton__duration_format(key->min, d, sizeof(d)), ex);
            return -EINVAL;
        }
        *(uint64_t *)field = u;
        return 0;
    case KEY_SIGNAL:
        r = baton__signal_parse(text);
        if (r < 0) {
            snprintf(why, size, "%s: unknown signal '%s': use a name or number (TERM, SIGTERM, 15)",
                     key->path, ex);
            return -EINVAL;
        }
        if (r == SIGKILL || r == SIGSTOP) {
            snprintf(why, size, "%s cannot be %s: a worker cannot handle it", key->path,
                     baton__signal_name(r));
            return -EINVAL;
        }
        *(int *)field = r;
        return 0;
    case KEY_STRATEGY:
        if (strcmp(text, "rolling") == 0)
            c->app.strategy = BATON_STRATEGY_ROLLING;
        else if (strcmp(text, "blue-green") == 0)
            c->app.strategy = BATON_STRATEGY_BLUE_GREEN;
        else {
            snprintf(why, size, "%s must be rolling or blue-green, not '%s'", key->path, ex);
            return -EINVAL;
        }
        return 0;
    case KEY_READY:
        if (strcmp(text, "notify") == 0) {
            c->app.ready = BATON_READY_NOTIFY;
            c->app.ready_delay_ms = 0;
            return 0;
        }
        if (strncmp(text, "delay:", 6) == 0) {
            r = baton__duration_parse(text + 6, &u);
            if (r == 0) {
                c->app.ready = BATON_READY_DELAY;
                c->app.ready_delay_ms = u;
                return 0;
            }
            snprintf(why, size, "%s: bad duration '%s' in '%s': use 250ms, 30s, 5m", key->path,
                     text + 6, ex);
            return -EINVAL;
        }
        snprintf(why, size, "%s must be notify or delay:<duration> (delay:2s), not '%s'", key->path,
                 ex);
        return -EINVAL;
    case KEY_ADDRESS: {
        struct baton_address addr;
        char *resolved = NULL;
        const char *reason = NULL;
        if (strncmp(text, "unix:", 5) == 0 && text[5]) {
            char *path = baton__config_path_join(l->dir, text + 5);
            resolved = baton__xasprintf("unix:%s", path);
            free(path);
        }
        if (baton__address_parse(resolved ? resolved : text, &addr, &reason) < 0) {
            snprintf(why, size, "%s: bad address '%s': %s", key->path, ex, reason);
            free(resolved);
            return -EINVAL;
        }
        free(*(char **)field);
        *(char **)field = resolved ? resolved : baton__xstrdup(text);
        return 0;
    }
    case KEY_LOGFORMAT:
        if (baton__log_format_parse(text, &c->log.format) < 0) {
            snprintf(why, size, "%s must be json or text, not '%s'", key->path, ex);
            return -EINVAL;
        }
        c->log.format_set = true;
        return 0;
    case KEY_LOGLEVEL:
        if (baton__log_level_parse(text, &c->log.level) < 0) {
            snprintf(why, size, "%s must be debug, info, notice, warning or error, not '%s'",
                     key->path, ex);
            return -EINVAL;
        }
        return 0;
    case KEY_RATE:
        if (parse_rate(text, (double *)field) < 0) {
            snprintf(why, size,
                     "%s must be a number from 0 to 1 (0.01) or a percentage (1%%), "
                     "not '%s'",
                     key->path, ex);
            return -EINVAL;
        }
        return 0;
    case KEY_URL:
        if (!printable(text) || strchr(text, ' ') ||
            (strncmp(text, "http://", 7) != 0 && strncmp(text, "https://", 8) != 0 &&
             strncmp(text, "file://", 7) != 0) ||
            strlen(text) > 4096) {
            snprintf(why, size, "%s must be an http://, https:// or file:// URL, not '%s'",
                     key->path, ex);
            return -EINVAL;
        }
        set_string(field, text);
        return 0;
    case KEY_HTTP_PATH:
        if (text[0] != '/' || !printable(text) || strchr(text, ' ') || strlen(text) > 1024) {
            snprintf(why, size,
                     "%s must be a request path starting with '/' (/healthz), without spaces, "
                     "not '%s'",
                     key->path, ex);
            return -EINVAL;
        }
        set_string(field, text);
        return 0;
    default:
        snprintf(why, size, "%s is not a single value", key->path);
        return -EINVAL;
    }
}
