/* SPDX-License-Identifier: MIT */
/*
 * The re-exec state: what one supervisor image hands the next through a memfd (reexec.c), as
 * one JSON object in a versioned format.
 *
 *   {"version": 2, "started_ms": ..., "last_id": ..., "restarts": ..., "first_ready": true,
 *    "last_reload": "{...}", "notify_fd": 5, "notify_name": "@baton/...", "control_fd": 6,
 *    "control_path": "/srv/x/baton.sock",
 *    "listeners": [{"name": "http", "text": "127.0.0.1:8080", "address": "127.0.0.1:8080",
 *                   "fd": 3, "adopted": false, "current": true, "stored": "http"}],
 *    (every listener held, those only a draining generation still uses with "current": false;
 *    each generation's own `listen:` is in its "config")
 *    "generations": [{"id": 4, "state": "active", "started_ms": ..., "killed": false,
 *                     "exec_path": "...", "resolved_dir": "...", "config": {"app.workers": 2, ...},
 *                     "slots": [{"state": "backoff", "restart_at_ms": ..., ...}],
 *                     "workers": [{"pid": 123, "slot": 0, "state": "ready", "in_slot": true,
 *                                  "out_fd": 9, "err_fd": 10, ...}]}]}
 *
 * States, strategies, signals and levels are written by name, never as enum ordinals, so a
 * reordered enum cannot change what a saved state means. Version 1 (before this file: no
 * "version" key, ordinals, part of the configuration) is still read, so an older supervisor can
 * re-exec into this one. The configuration of each generation is written and read from one
 * table (config_fields), and a unit test compares `baton config`'s printing before and after
 * a round trip, so a configuration field nobody saves fails a test rather than a re-exec.
 *
 * Reading goes through common/doc.h (strict JSON, bounded size and depth) and the few getters
 * below (get, get_int, get_str, ...), which take anything absent or of another type as the
 * field's default, as a state written by an older image may lack what this one adds.
 */
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/doc.h"
#include "common/json.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "supervisor/internal.h"
#include "supervisor/observe.h"

#define STATE_VERSION 2

/* ---- reading: the getters ----------------------------------------------------------------- */

/* The state holds every generation's configuration and workers: generous, but bounded. */
#define STATE_MAX_BYTES (16u << 20)
#define STATE_MAX_DEPTH 16

static const struct baton_doc_node *get(const struct baton_doc_node *map, const char *key)
{
    return key ? baton__doc_get(map, key) : NULL;
}

/* An integer, or true (1) and false (0); def when absent or anything else. */
static long long get_int(const struct baton_doc_node *map, const char *key, long long def)
{
    const struct baton_doc_node *n = get(map, key);
    int64_t v;
    bool b;
    if (baton__doc_bool(n, &b) == 0)
        return b;
    return baton__doc_int(n, INT64_MIN, INT64_MAX, &v) == 0 ? v : def;
}

static double get_double(const struct baton_doc_node *map, const char *key, double def)
{
    double v;
    return baton__doc_double(get(map, key), &v) == 0 ? v : def;
}

/* A copy of the string at key; NULL when absent or not a string. */
static char *get_str(const struct baton_doc_node *map, const char *key)
{
    const char *t;
    size_t len;
    return baton__doc_str(get(map, key), &t, &len) == 0 ? baton__xstrndup(t, len) : NULL;
}

/* The array at key (NULL when absent or anything else): walk it with baton__doc_next(), count
 * it with baton__doc_count(). */
static const struct baton_doc_node *array(const struct baton_doc_node *map, const char *key)
{
    const struct baton_doc_node *a = get(map, key);
    return baton__doc_type(a) == BATON_DOC_ARRAY ? a : NULL;
}

/* An array of strings, NULL-terminated (absent: an empty one; an item not a string: ""). */
static char **get_strv(const struct baton_doc_node *map, const char *key, size_t *ret_n)
{
    const struct baton_doc_node *a = array(map, key), *item = NULL;
    char **v = baton__xcalloc(baton__doc_count(a) + 1, sizeof(char *));
    const char *t;
    size_t k = 0, len;
    while ((item = baton__doc_next(a, item)))
        v[k++] = baton__doc_str(item, &t, &len) == 0 ? baton__xstrndup(t, len) : baton__xstrdup("");
    *ret_n = k;
    return v;
}

/* A named value: its index from parse(), or an ordinal in version 1; def when absent or
 * unknown. */
static int get_named(const struct baton_doc_node *map, const char *key, int version,
                     int (*parse)(const char *), int def)
{
    if (version < 2)
        return (int)get_int(map, key, def);
    const char *t;
    int v = baton__doc_str(get(map, key), &t, NULL) == 0 ? parse(t) : -EINVAL;
    return v < 0 ? def : v;
}

/* Parses the state's text; NULL (and a log line) unless it is a JSON object. */
static struct baton_doc *state_parse(const char *text, size_t len)
{
    struct baton_doc *doc = NULL;
    char err[256];
    int r = baton__doc_parse(text, len, STATE_MAX_BYTES, STATE_MAX_DEPTH, &doc, err, sizeof(err));
    if (r == 0 && baton__doc_type(baton__doc_root(doc)) != BATON_DOC_OBJECT)
        snprintf(err, sizeof(err), "not an object");
    else if (r == 0)
        return doc;
    baton__log(BATON_LOG_ERROR, "re-exec state: %s", err);
    baton__doc_free(doc);
    return NULL;
}

/* ---- names of the configuration's enums -------------------------------------------------- */

static int parse_strategy(const char *t)
{
    return strcmp(t, "rolling") == 0      ? BATON_STRATEGY_ROLLING
           : strcmp(t, "blue-green") == 0 ? BATON_STRATEGY_BLUE_GREEN
                                          : -EINVAL;
}

static int parse_ready(const char *t)
{
    return strcmp(t, "notify") == 0  ? BATON_READY_NOTIFY
           : strcmp(t, "delay") == 0 ? BATON_READY_DELAY
                                     : -EINVAL;
}

static int parse_level(const char *t)
{
    enum baton_log_level l;
    return baton__log_level_parse(t, &l) < 0 ? -EINVAL : (int)l;
}

static int parse_format(const char *t)
{
    enum baton_log_format f;
    return baton__log_format_parse(t, &f) < 0 ? -EINVAL : (int)f;
}

/* ---- the configuration's table ------------------------------------------------------------ */

enum field_kind {
    F_STR,      /* char * (NULL: absent) */
    F_STRV,     /* char ** with a size_t count at aux */
    F_UINT,     /* unsigned */
    F_U64,      /* uint64_t */
    F_BOOL,     /* bool */
    F_DOUBLE,   /* double */
    F_SIGNAL,   /* int, by name */
    F_STRATEGY, /* enum baton_strategy, by name */
    F_READY,    /* enum baton_ready_mode, by name */
    F_LEVEL,    /* enum baton_log_level, by name */
    F_FORMAT,   /* enum baton_log_format, by name */
};

struct field {
    const char *key; /* the configuration key, or the field's name where none */
    enum field_kind kind;
    size_t offset;
    size_t aux;    /* F_STRV: the count's offset */
    long long def; /* the value when a version 1 state lacks it */
};

#define F(key, kind, member, def)                                                                  \
    {                                                                                              \
        key, kind, offsetof(struct baton_config, member), 0, def                                   \
    }
#define FV(key, member, count)                                                                     \
    {                                                                                              \
        key, F_STRV, offsetof(struct baton_config, member), offsetof(struct baton_config, count),  \
            0                                                                                      \
    }

/* Every field of struct baton_config but listen (written beside it) and origins (only for
 * `baton config`). Version 1 used the names in the comments. */
static const struct field config_fields[] = {
    F("path", F_STR, path, 0),
    F("dir", F_STR, dir, 0),
    F("name", F_STR, name, 0),
    FV("app.command", app.command, app.n_command),  /* command */
    F("app.dir", F_STR, app.dir, 0),                /* dir (v1: app.dir) */
    FV("app.env", app.env, app.n_env),              /* env */
    F("app.workers", F_UINT, app.workers, 1),       /* workers */
    F("app.strategy", F_STRATEGY, app.strategy, 0), /* strategy */
    F("app.max_surge", F_UINT, app.max_surge, 1),   /* max_surge */
    F("app.ready", F_READY, app.ready, 0),          /* ready */
    F("app.ready_delay_ms", F_U64, app.ready_delay_ms, 0),
    F("app.ready_timeout_ms", F_U64, app.ready_timeout_ms, 30000),
    F("app.stop_signal", F_SIGNAL, app.stop_signal, SIGTERM),
    F("app.reload_signal", F_SIGNAL, app.reload_signal, SIGHUP),
    F("app.drain_timeout_ms", F_U64, app.drain_timeout_ms, 30000),
    F("app.max_draining", F_UINT, app.max_draining, 2),
    F("app.user", F_STR, app.user, 0),
    F("app.restart_initial_ms", F_U64, app.restart_initial_ms, 100),
    F("app.restart_max_ms", F_U64, app.restart_max_ms, 30000),
    F("app.probation_ms", F_U64, app.probation_ms, 0),
    F("app.probe.path", F_STR, app.probe.path, 0),
    F("app.probe.timeout_ms", F_U64, app.probe.timeout_ms, 2000),
    F("app.probe.interval_ms", F_U64, app.probe.interval_ms, 5000),
    F("app.probe.expect", F_UINT, app.probe.expect, 200),
    F("tcp.defer_accept_ms", F_U64, tcp.defer_accept_ms, 1000),
    F("control.socket", F_STR, control.socket, 0),
    F("control.group", F_STR, control.group, 0),
    F("control.watch", F_BOOL, control.watch, 1),
    F("metrics.listen", F_STR, metrics.listen, 0),
    F("log.format", F_FORMAT, log.format, 0),
    F("log.format_set", F_BOOL, log.format_set, 0),
    F("log.level", F_LEVEL, log.level, BATON_LOG_INFO),
    F("release.root", F_STR, release.root, 0),
    F("release.keep", F_UINT, release.keep, 0),
    F("release.trust", F_STR, release.trust, 0),
    F("release.probation_ms", F_U64, release.probation_ms, 0),
    F("release.probation_requests", F_UINT, release.probation_requests, 0),
    F("release.probation_timeout_ms", F_U64, release.probation_timeout_ms, 0),
    F("release.max_error_rate", F_DOUBLE, release.max_error_rate, 0),
    F("release.max_size", F_U64, release.max_size, 0),
    F("release.source_url", F_STR, release.source_url, 0),
    F("release.source_interval_ms", F_U64, release.source_interval_ms, 0),
    F("canary.workers", F_UINT, canary.workers, 0),
    F("canary.duration_ms", F_U64, canary.duration_ms, 0),
    F("canary.max_error_rate", F_DOUBLE, canary.max_error_rate, 0),
    F("canary.min_requests", F_UINT, canary.min_requests, 0),
};

/* Version 1's key for a field: the part after "app." or "log." where it had one. */
static const char *v1_key(const char *key, char *buf, size_t size)
{
    if (strcmp(key, "app.dir") == 0 || strcmp(key, "name") == 0)
        return key + (key[0] == 'a' ? 4 : 0);
    if (strncmp(key, "app.", 4) == 0)
        return key + 4;
    if (strncmp(key, "log.", 4) == 0) {
        snprintf(buf, size, "log_%s", key + 4);
        return buf;
    }
    return NULL; /* not in version 1 */
}

static void save_strv(struct baton_buf *b, const char *key, char *const *v, size_t n)
{
    baton__json_key(b, key);
    baton__buf_puts(b, "[");
    for (size_t i = 0; i < n; i++) {
        baton__buf_puts(b, i ? "," : "");
        baton__json_string(b, v[i], (size_t)-1);
    }
    baton__buf_puts(b, "]");
}

void baton__state_config_json(struct baton_buf *b, const struct baton_config *c)
{
    char num[64];
    baton__buf_puts(b, "{");
    baton__json_key(b, "listen");
    baton__buf_puts(b, "[");
    for (size_t i = 0; i < c->n_listen; i++) {
        baton__buf_puts(b, i ? ",{" : "{");
        baton__json_kv_str(b, "name", c->listen[i].name);
        baton__json_kv_str(b, "text", c->listen[i].text);
        baton__json_kv_str(b, "address",
                           baton__address_format(&c->listen[i].address, num, sizeof(num)));
        baton__buf_puts(b, "}");
    }
    baton__buf_puts(b, "]");
    for (size_t i = 0; i < sizeof(config_fields) / sizeof(config_fields[0]); i++) {
        const struct field *f = &config_fields[i];
        const void *p = (const char *)c + f->offset;
        switch (f->kind) {
        case F_STR:
            if (*(char *const *)p)
                baton__json_kv_str(b, f->key, *(char *const *)p);
            break;
        case F_STRV:
            save_strv(b, f->key, *(char *const *const *)p,
                      *(const size_t *)((const char *)c + f->aux));
            break;
        case F_UINT:
            baton__json_kv_int(b, f->key, *(const unsigned *)p);
            break;
        case F_U64:
            baton__json_kv_int(b, f->key, (long long)*(const uint64_t *)p);
            break;
        case F_BOOL:
            baton__json_kv_bool(b, f->key, *(const bool *)p);
            break;
        case F_DOUBLE:
            snprintf(num, sizeof(num), "%.17g", *(const double *)p);
            baton__json_key(b, f->key);
            baton__buf_puts(b, num);
            break;
        case F_SIGNAL:
            baton__json_kv_str(b, f->key, baton__signal_name(*(const int *)p));
            break;
        case F_STRATEGY:
            baton__json_kv_str(b, f->key,
                               *(const enum baton_strategy *)p == BATON_STRATEGY_BLUE_GREEN
                                   ? "blue-green"
                                   : "rolling");
            break;
        case F_READY:
            baton__json_kv_str(b, f->key,
                               *(const enum baton_ready_mode *)p == BATON_READY_DELAY ? "delay"
                                                                                      : "notify");
            break;
        case F_LEVEL:
            baton__json_kv_str(b, f->key, baton__log_level_name(*(const enum baton_log_level *)p));
            break;
        case F_FORMAT:
            baton__json_kv_str(
                b, f->key, *(const enum baton_log_format *)p == BATON_LOG_JSON ? "json" : "text");
            break;
        }
    }
    baton__buf_puts(b, "}");
}

static int parse_signal_name(const char *t)
{
    int s = baton__signal_parse(t);
    return s > 0 ? s : -EINVAL;
}

static struct baton_config *config_from(const struct baton_doc_node *m, int version)
{
    struct baton_config *c = baton__xcalloc(1, sizeof(*c));
    char buf[64];
    const struct baton_doc_node *listen = array(m, "listen"), *item = NULL;

    size_t n = baton__doc_count(listen);
    c->listen = baton__xcalloc(n ? n : 1, sizeof(*c->listen));
    while ((item = baton__doc_next(listen, item))) {
        struct baton_listen_config *l = &c->listen[c->n_listen];
        char *address = get_str(item, "address");
        l->name = get_str(item, "name");
        l->text = get_str(item, "text");
        if (!l->name || !l->text || !address ||
            baton__address_parse(address, &l->address, NULL) < 0) {
            free(l->name);
            free(l->text);
            free(address);
            continue;
        }
        free(address);
        c->n_listen++;
    }
    for (size_t i = 0; i < sizeof(config_fields) / sizeof(config_fields[0]); i++) {
        const struct field *f = &config_fields[i];
        void *p = (char *)c + f->offset;
        const char *key = version < 2 ? v1_key(f->key, buf, sizeof(buf)) : f->key;
        if (!key && f->kind != F_STRV) {
            /* Not in version 1: its default. */
            if (f->kind == F_UINT)
                *(unsigned *)p = (unsigned)f->def;
            else if (f->kind == F_U64)
                *(uint64_t *)p = (uint64_t)f->def;
            continue;
        }
        switch (f->kind) {
        case F_STR:
            *(char **)p = get_str(m, key);
            break;
        case F_STRV:
            *(char ***)p = get_strv(m, key, (size_t *)((char *)c + f->aux));
            break;
        case F_UINT:
            *(unsigned *)p = (unsigned)get_int(m, key, f->def);
            break;
        case F_U64:
            *(uint64_t *)p = (uint64_t)get_int(m, key, f->def);
            break;
        case F_BOOL:
            *(bool *)p = get_int(m, key, f->def) != 0;
            break;
        case F_DOUBLE:
            *(double *)p = get_double(m, key, (double)f->def);
            break;
        case F_SIGNAL:
            *(int *)p = get_named(m, key, version, parse_signal_name, (int)f->def);
            break;
        case F_STRATEGY:
            *(enum baton_strategy *)p =
                (enum baton_strategy)get_named(m, key, version, parse_strategy, (int)f->def);
            break;
        case F_READY:
            *(enum baton_ready_mode *)p =
                (enum baton_ready_mode)get_named(m, key, version, parse_ready, (int)f->def);
            break;
        case F_LEVEL:
            *(enum baton_log_level *)p =
                (enum baton_log_level)get_named(m, key, version, parse_level, (int)f->def);
            break;
        case F_FORMAT:
            *(enum baton_log_format *)p =
                (enum baton_log_format)get_named(m, key, version, parse_format, (int)f->def);
            break;
        }
    }
    if (!c->app.dir)
        c->app.dir = baton__xstrdup("/");
    return c;
}

int baton__state_config_parse(const char *text, size_t len, struct baton_config **ret)
{
    struct baton_doc *doc = state_parse(text, len);
    if (!doc)
        return -EINVAL;
    *ret = config_from(baton__doc_root(doc), STATE_VERSION);
    baton__doc_free(doc);
    return 0;
}

/* ---- saving ------------------------------------------------------------------------------ */

static void generation_json(struct baton_buf *b, const struct baton_generation *g)
{
    baton__buf_puts(b, "{");
    baton__json_kv_int(b, "id", g->id);
    baton__json_kv_str(b, "state", baton__generation_state_name(g->state));
    baton__json_kv_int(b, "started_ms", (long long)g->started_ms);
    baton__json_kv_bool(b, "killed", g->killed);
    baton__json_key(b, "retired");
    baton__counters_json(b, &g->retired);
    if (g->exec_path)
        baton__json_kv_str(b, "exec_path", g->exec_path);
    if (g->dir)
        baton__json_kv_str(b, "resolved_dir", g->dir);
    baton__json_key(b, "config");
    baton__state_config_json(b, g->config);
    baton__buf_puts(b, ",\"slots\":[");
    for (unsigned i = 0; i < g->n_slots; i++) {
        const struct baton_slot *s = &g->slots[i];
        baton__buf_puts(b, i ? ",{" : "{");
        baton__json_kv_str(b, "state", baton__slot_state_name(s->state));
        baton__json_kv_int(b, "restart_at_ms", (long long)s->restart_at_ms);
        baton__json_kv_int(b, "backoff_ms", (long long)s->backoff_ms);
        baton__json_kv_int(b, "restarts", s->restarts);
        baton__json_kv_int(b, "quick_crashes", s->quick_crashes);
        baton__buf_puts(b, "}");
    }
    baton__buf_puts(b, "],\"workers\":[");
    for (const struct baton_worker *w = g->workers; w; w = w->next) {
        int out, err;
        baton__worker_io_fds(w, &out, &err);
        baton__buf_puts(b, w == g->workers ? "{" : ",{");
        baton__json_kv_int(b, "pid", w->pid);
        baton__json_kv_int(b, "slot", w->slot);
        baton__json_kv_str(b, "state", baton__worker_state_key(w->state));
        baton__json_kv_bool(b, "in_slot", w->slot < g->n_slots && g->slots[w->slot].worker == w);
        baton__json_kv_int(b, "started_ms", (long long)w->started_ms);
        baton__json_kv_int(b, "ready_ms", (long long)w->ready_ms);
        baton__json_kv_int(b, "deadline_ms", (long long)w->deadline_ms);
        baton__json_kv_int(b, "probe_port", w->probe_port);
        if (w->probing)
            baton__json_kv_bool(b, "probing", 1);
        baton__json_kv_int(b, "out_fd", out);
        baton__json_kv_int(b, "err_fd", err);
        if (w->status)
            baton__json_kv_str(b, "status", w->status);
        baton__json_key(b, "counters");
        baton__counters_json(b, &w->counters);
        baton__buf_puts(b, "}");
    }
    baton__buf_puts(b, "]}");
}

void baton__state_save(const struct baton_supervisor *sup, struct baton_buf *b)
{
    const struct baton_gens *gs = &sup->gens;
    char addr[160];
    baton__buf_puts(b, "{");
    baton__json_kv_int(b, "version", STATE_VERSION);
    baton__json_kv_int(b, "started_ms", (long long)sup->started_ms);
    baton__json_kv_int(b, "last_id", gs->last_id);
    baton__json_kv_int(b, "restarts", (long long)gs->restarts);
    baton__json_key(b, "retired");
    baton__counters_json(b, &gs->retired);
    baton__json_kv_int(b, "stats_refused", (long long)gs->stats_refused);
    baton__json_kv_bool(b, "first_ready", sup->first_ready);
    if (sup->history) {
        struct baton_buf h = BATON_BUF_INIT(BATON_BUF_UNBOUNDED);
        baton__history_save(sup->history, &h);
        baton__json_kv_str(b, "history", h.data ? h.data : "");
        baton__buf_free(&h);
    }
    if (sup->last_reload)
        baton__json_kv_str(b, "last_reload", sup->last_reload);
    baton__json_kv_int(b, "notify_fd", sup->notify_fd);
    baton__json_kv_str(b, "notify_name", sup->notify_name);
    baton__json_kv_int(b, "control_fd", sup->control_fd);
    if (sup->control_path)
        baton__json_kv_str(b, "control_path", sup->control_path);
    baton__buf_puts(b, ",\"listeners\":[");
    for (size_t i = 0; i < sup->n_listeners; i++) {
        const struct baton_listener *l = &sup->listeners[i];
        baton__buf_puts(b, i ? ",{" : "{");
        baton__json_kv_str(b, "name", l->name);
        baton__json_kv_str(b, "text", l->text);
        baton__json_kv_str(b, "address", baton__address_format(&l->address, addr, sizeof(addr)));
        baton__json_kv_int(b, "fd", l->fd);
        baton__json_kv_bool(b, "adopted", l->adopted);
        baton__json_kv_bool(b, "current", l->current);
        if (l->stored)
            baton__json_kv_str(b, "stored", l->stored);
        baton__buf_puts(b, "}");
    }
    baton__buf_puts(b, "],\"generations\":[");
    for (const struct baton_generation *g = gs->list; g; g = g->next) {
        baton__buf_puts(b, g == gs->list ? "" : ",");
        generation_json(b, g);
    }
    baton__buf_puts(b, "]}");
}

/* ---- restoring --------------------------------------------------------------------------- */

/* The counters object `key` of map (absent: all zero). */
static void get_counters(const struct baton_doc_node *map, const char *key,
                         struct baton_counters *ret)
{
    const struct baton_doc_node *c = get(map, key);
    memset(ret, 0, sizeof(*ret));
    if (!c)
        return;
    for (unsigned k = 0; k < BATON_STAT_COUNT; k++)
        ret->v[k] = (uint64_t)get_int(c, baton__stat_names[k], 0);
    ret->connections = (uint64_t)get_int(c, "connections", 0);
}

static void restore_generation(struct baton_supervisor *sup, const struct baton_doc_node *m,
                               int version, struct baton_state_fds *fds)
{
    struct baton_gens *gs = &sup->gens;
    const struct baton_doc_node *slots = array(m, "slots"), *workers = array(m, "workers"),
                                *item = NULL;
    unsigned n_slots = (unsigned)baton__doc_count(slots);
    struct baton_generation *g = baton__gens_restore_generation(
        gs, (long)get_int(m, "id", 0),
        get_named(m, "state", version, baton__generation_state_parse, BATON_GEN_DRAINING),
        config_from(get(m, "config"), version), n_slots);
    g->started_ms = (uint64_t)get_int(m, "started_ms", 0);
    g->killed = get_int(m, "killed", 0);
    get_counters(m, "retired", &g->retired);
    g->exec_path = get_str(m, "exec_path");
    g->dir = get_str(m, "resolved_dir");
    for (unsigned i = 0; i < n_slots && (item = baton__doc_next(slots, item)); i++) {
        struct baton_slot *s = &g->slots[i];
        s->restart_at_ms = (uint64_t)get_int(item, "restart_at_ms", 0);
        s->backoff_ms = (uint64_t)get_int(item, "backoff_ms", 0);
        s->restarts = (unsigned)get_int(item, "restarts", 0);
        s->quick_crashes = (unsigned)get_int(item, "quick_crashes", 0);
        baton__gens_restore_slot(
            gs, g, i,
            get_named(item, "state", version, baton__slot_state_parse, BATON_SLOT_RETIRED));
    }
    item = NULL;
    while ((item = baton__doc_next(workers, item))) {
        struct baton_worker *w = baton__gens_restore_worker(
            gs, g, (pid_t)get_int(item, "pid", 0), (unsigned)get_int(item, "slot", 0),
            get_int(item, "in_slot", 0) != 0,
            get_named(item, "state", version, baton__worker_state_parse, BATON_WORKER_DRAINING));
        w->started_ms = (uint64_t)get_int(item, "started_ms", 0);
        w->ready_ms = (uint64_t)get_int(item, "ready_ms", 0);
        w->deadline_ms = (uint64_t)get_int(item, "deadline_ms", 0);
        long long port = get_int(item, "probe_port", 0);
        w->probe_port = port > 0 && port < 65536 ? (unsigned short)port : 0;
        w->probing = get_int(item, "probing", 0) != 0 && w->state == BATON_WORKER_STARTING;
        w->status = get_str(item, "status");
        get_counters(item, "counters", &w->counters);
        int out = (int)get_int(item, "out_fd", -1), err = (int)get_int(item, "err_fd", -1);
        if (out >= 0 && err >= 0 && fds->n_workers < BATON_STATE_MAX_WORKERS) {
            fds->workers[fds->n_workers].pid = w->pid;
            fds->workers[fds->n_workers].out = out;
            fds->workers[fds->n_workers].err = err;
            fds->n_workers++;
        }
    }
}

static int restore_listeners(struct baton_supervisor *sup, const struct baton_doc_node *root)
{
    const struct baton_doc_node *listeners = array(root, "listeners"), *item = NULL;
    size_t n = baton__doc_count(listeners);
    sup->listeners = baton__xcalloc(n ? n : 1, sizeof(*sup->listeners));
    while ((item = baton__doc_next(listeners, item))) {
        struct baton_listener *l = &sup->listeners[sup->n_listeners++];
        char *address = get_str(item, "address"); /* version 1: only "text" */
        l->name = get_str(item, "name");
        l->text = get_str(item, "text");
        l->fd = (int)get_int(item, "fd", -1);
        l->adopted = get_int(item, "adopted", 0);
        l->current = get_int(item, "current", 1); /* before live changes: all of them were */
        l->stored = get_str(item, "stored");
        const char *parse = address ? address : l->text;
        int bad = !l->name || !l->text || l->fd < 0 || !parse ||
                  baton__address_parse(parse, &l->address, NULL) < 0;
        free(address);
        if (bad)
            return -EINVAL;
    }
    return 0;
}

int baton__state_restore(struct baton_supervisor *sup, const char *text, size_t len,
                         struct baton_state_fds *ret)
{
    struct baton_doc *doc = state_parse(text, len);
    const struct baton_doc_node *root = baton__doc_root(doc), *item = NULL;
    int r = -EINVAL;

    memset(ret, 0, sizeof(*ret));
    ret->notify_fd = ret->control_fd = -1;
    if (!doc)
        goto out;
    int version = (int)get_int(root, "version", 1);
    if (version < 1 || version > STATE_VERSION) {
        baton__log(BATON_LOG_ERROR, "re-exec state version %d is newer than this binary's (%d)",
                   version, STATE_VERSION);
        r = -EPROTONOSUPPORT;
        goto out;
    }
    sup->started_ms = (uint64_t)get_int(root, "started_ms", (long long)sup->started_ms);
    sup->gens.restarts = (unsigned long)get_int(root, "restarts", 0);
    get_counters(root, "retired", &sup->gens.retired);
    sup->gens.stats_refused = (unsigned long)get_int(root, "stats_refused", 0);
    sup->first_ready = get_int(root, "first_ready", 0);
    sup->last_reload = get_str(root, "last_reload");
    char *history = get_str(root, "history");
    if (history && sup->history)
        baton__history_restore(sup->history, history);
    free(history);
    char *name = get_str(root, "notify_name");
    snprintf(sup->notify_name, sizeof(sup->notify_name), "%s", name ? name : "");
    free(name);
    ret->notify_fd = (int)get_int(root, "notify_fd", -1);
    ret->control_fd = (int)get_int(root, "control_fd", -1);
    ret->control_path = get_str(root, "control_path");
    if ((r = restore_listeners(sup, root)) < 0)
        goto out;
    while ((item = baton__doc_next(array(root, "generations"), item)))
        restore_generation(sup, item, version, ret);
    /* After the generations: ids of failed generations that left nothing behind count too. */
    if (get_int(root, "last_id", 0) > sup->gens.last_id)
        sup->gens.last_id = (long)get_int(root, "last_id", 0);
    r = 0;
out:
    baton__doc_free(doc);
    return r;
}
