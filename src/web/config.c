/* SPDX-License-Identifier: MIT */
/*
 * baton-web's configuration file (YAML; JSON is YAML), read with the configuration library
 * (src/config/schema.h) like baton.yaml: the same node tree, FILE:LINE:COLUMN errors, "did you
 * mean" hints and duration, size and address parsers, over baton-web's own key table:
 *
 *   listen: 127.0.0.1:8080            # or a list
 *   modules:                          # paths, or {path: FILE, config: ANY}
 *     - hello.so
 *   static: public
 *   access_log: false
 *   backend: auto                     # auto | io_uring | epoll
 *   dev: false
 *   limits: {header_bytes: 8192, header_count: 100, uri_bytes: 4096, body_bytes: 1048576,
 *            connections: 16384}
 *   timeouts: {header: 10s, body: 30s, keepalive: 30s, send: 30s, linger: 2s,
 *              drain_grace: 1s, drain: 30s}
 *
 * Relative paths are relative to the file's directory. Only the keys the file sets change the
 * options; flags parsed afterwards win.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "common/address.h"
#include "common/xmalloc.h"
#include "config/schema.h"
#include "web/web.h"

/* What the file can set, in the loader's field types; copied to and from the options. */
struct settings {
    char *static_root;
    bool access_log, dev;
    uint64_t header_bytes, uri_bytes, body_bytes;
    unsigned header_count, connections;
    uint64_t header_ms, body_ms, keepalive_ms, send_ms, linger_ms, drain_grace_ms, drain_ms;
};

#define OFF(field) offsetof(struct settings, field)
#define SECTION(path)                                                                              \
    {                                                                                              \
        path, KEY_SECTION, 0, 0, 0, false, NULL, false                                             \
    }
#define KEY(path, type, field, min, max)                                                           \
    {                                                                                              \
        path, type, OFF(field), min, max, false, NULL, false                                       \
    }

static const struct config_key keys[] = {
    SECTION(""),
    {"listen", KEY_CUSTOM, 0, 0, 0, false, NULL, false},
    {"modules", KEY_CUSTOM, 0, 0, 0, false, NULL, false},
    {"backend", KEY_CUSTOM, 0, 0, 0, false, NULL, false},
    KEY("static", KEY_PATH, static_root, 0, 0),
    KEY("access_log", KEY_BOOL, access_log, 0, 0),
    KEY("dev", KEY_BOOL, dev, 0, 0),
    SECTION("limits"),
    KEY("limits.header_bytes", KEY_SIZE, header_bytes, 0, 1 << 20),
    KEY("limits.header_count", KEY_UINT, header_count, 0, 10000),
    KEY("limits.uri_bytes", KEY_SIZE, uri_bytes, 0, 1 << 20),
    KEY("limits.body_bytes", KEY_SIZE, body_bytes, 0, 1ULL << 40),
    KEY("limits.connections", KEY_UINT, connections, 0, 1 << 24),
    SECTION("timeouts"),
    KEY("timeouts.header", KEY_DURATION, header_ms, 0, 0),
    KEY("timeouts.body", KEY_DURATION, body_ms, 0, 0),
    KEY("timeouts.keepalive", KEY_DURATION, keepalive_ms, 0, 0),
    KEY("timeouts.send", KEY_DURATION, send_ms, 0, 0),
    KEY("timeouts.linger", KEY_DURATION, linger_ms, 0, 0),
    KEY("timeouts.drain_grace", KEY_DURATION, drain_grace_ms, 0, 0),
    KEY("timeouts.drain", KEY_DURATION, drain_ms, 0, 0),
};

static const char *kind(const struct config_node *node)
{
    return node->type == NODE_MAP ? "a mapping" : node->type == NODE_SEQ ? "a list" : "a value";
}

static void add_listen(struct config_loader *l, const struct config_layer *layer,
                       const struct config_node *item)
{
    struct baton__web_options *o = l->data;
    struct baton_address addr;
    const char *reason = NULL;
    char ex[80];

    if (item->type != NODE_SCALAR || baton__config_node_is_null(item) || item->len == 0) {
        baton__config_error(l, layer, item,
                            "listen must be an address (127.0.0.1:8080, [::1]:8080, :8080, "
                            "unix:/path) or a list of them, not %s",
                            item->type == NODE_SCALAR ? "empty" : kind(item));
        return;
    }
    if (baton__address_parse(item->text, &addr, &reason) < 0) {
        baton__config_error(l, layer, item, "listen: bad address '%s': %s",
                            baton__config_excerpt(item->text, ex, sizeof(ex)), reason);
        return;
    }
    if (o->nlisten >= BATON__WEB_MAX_LISTEN) {
        baton__config_error(l, layer, item, "listen: too many addresses (at most %d)",
                            BATON__WEB_MAX_LISTEN);
        return;
    }
    o->listen[o->nlisten++] = baton__xstrdup(item->text);
}

static void add_module(struct config_loader *l, const struct config_layer *layer,
                       const struct config_node *item)
{
    struct baton__web_options *o = l->data;
    const struct config_node *path = item, *config = NULL;
    char ex[80];

    if (item->type == NODE_MAP) {
        path = NULL;
        for (size_t i = 0; i + 1 < item->n_items; i += 2) {
            const struct config_node *k = item->items[i];
            if (strcmp(k->text, "path") == 0) {
                path = item->items[i + 1];
            } else if (strcmp(k->text, "config") == 0) {
                config = item->items[i + 1];
            } else {
                const char *hint = baton__config_distance(k->text, "path") <= 2     ? "path"
                                   : baton__config_distance(k->text, "config") <= 2 ? "config"
                                                                                    : NULL;
                baton__config_error(l, layer, k, "unknown key '%s' in modules (%s%s%s)",
                                    baton__config_excerpt(k->text, ex, sizeof(ex)),
                                    hint ? "did you mean '" : "path, config", hint ? hint : "",
                                    hint ? "'?" : "");
                return;
            }
        }
    }
    if (!path || path->type != NODE_SCALAR || baton__config_node_is_null(path) || path->len == 0) {
        baton__config_error(l, layer, path ? path : item,
                            "modules: expected a file name or {path: FILE, config: ...}");
        return;
    }
    if (o->nmodules >= BATON__WEB_MAX_MODULES) {
        baton__config_error(l, layer, path, "modules: too many modules (at most %d)",
                            BATON__WEB_MAX_MODULES);
        return;
    }
    struct baton__web_module_spec *m = &o->modules[o->nmodules];
    m->config = NULL;
    if (config) {
        struct baton_buf json = BATON_BUF_INIT(CONFIG_FILE_MAX);
        if (baton__config_node_json(config, &json) < 0) {
            baton__config_error(l, layer, config, "modules: config is too large");
            baton__buf_free(&json);
            return;
        }
        m->config = baton__xstrndup(json.data, json.len);
        baton__buf_free(&json);
    }
    m->path = baton__config_path_join(l->dir, path->text);
    o->nmodules++;
}

int baton__web_backend_parse(const char *text, enum baton__web_backend *ret)
{
    if (strcmp(text, "auto") == 0)
        *ret = BATON__WEB_BACKEND_AUTO;
    else if (strcmp(text, "epoll") == 0)
        *ret = BATON__WEB_BACKEND_EPOLL;
    else if (strcmp(text, "io_uring") == 0)
        *ret = BATON__WEB_BACKEND_IO_URING;
    else
        return -EINVAL;
    return 0;
}

static void set_backend(struct config_loader *l, const struct config_layer *layer,
                        const struct config_node *value)
{
    struct baton__web_options *o = l->data;
    char ex[80];
    if (value->type != NODE_SCALAR || baton__web_backend_parse(value->text, &o->backend) < 0)
        baton__config_error(l, layer, value, "backend must be auto, io_uring or epoll, not '%s'",
                            value->type == NODE_SCALAR
                                ? baton__config_excerpt(value->text, ex, sizeof(ex))
                                : kind(value));
}

/* listen and modules: one value or a list of them, each added after those already given;
 * backend: one of its names. */
static void apply_custom(struct config_loader *l, const struct config_layer *layer, int index,
                         const struct config_node *at, const struct config_node *value)
{
    if (strcmp(keys[index].path, "backend") == 0) {
        if (value && !baton__config_node_is_null(value))
            set_backend(l, layer, value);
        return;
    }
    void (*add)(struct config_loader *, const struct config_layer *, const struct config_node *) =
        strcmp(keys[index].path, "listen") == 0 ? add_listen : add_module;

    if (!value || baton__config_node_is_null(value))
        return;
    if (value->type != NODE_SEQ) {
        add(l, layer, value);
        return;
    }
    for (size_t i = 0; i < value->n_items; i++)
        add(l, layer, value->items[i]);
}

static const struct config_schema schema = {
    .keys = keys,
    .n_keys = sizeof(keys) / sizeof(keys[0]),
    .apply_custom = apply_custom,
};

int baton__web_config_load(const char *file, struct baton__web_options *o, struct baton_buf *err)
{
    struct baton__server_config *s = &o->server;
    struct settings f = {
        .static_root = o->static_root,
        .access_log = o->access_log,
        .dev = o->dev,
        .header_bytes = s->limits.header_bytes,
        .uri_bytes = s->limits.uri_bytes,
        .body_bytes = s->limits.body_bytes,
        .header_count = s->limits.header_count,
        .connections = s->max_connections,
        .header_ms = s->header_timeout_ms,
        .body_ms = s->body_timeout_ms,
        .keepalive_ms = s->keepalive_timeout_ms,
        .send_ms = s->send_timeout_ms,
        .linger_ms = s->linger_ms,
        .drain_grace_ms = s->drain_grace_ms,
        .drain_ms = s->drain_timeout_ms,
    };
    int r = baton__config_load_file(&schema, file, &f, o, err);

    /* Written back even on failure: the caller frees the options either way. Durations are
     * at most UINT32_MAX ms (baton__duration_parse), sizes at most their keys' maximum. */
    o->static_root = f.static_root;
    o->access_log = f.access_log;
    o->dev = f.dev;
    s->limits.header_bytes = (size_t)f.header_bytes;
    s->limits.uri_bytes = (size_t)f.uri_bytes;
    s->limits.body_bytes = f.body_bytes;
    s->limits.header_count = f.header_count;
    s->max_connections = f.connections;
    s->header_timeout_ms = (uint32_t)f.header_ms;
    s->body_timeout_ms = (uint32_t)f.body_ms;
    s->keepalive_timeout_ms = (uint32_t)f.keepalive_ms;
    s->send_timeout_ms = (uint32_t)f.send_ms;
    s->linger_ms = (uint32_t)f.linger_ms;
    s->drain_grace_ms = (uint32_t)f.drain_grace_ms;
    s->drain_timeout_ms = (uint32_t)f.drain_ms;
    return r;
}

void baton__web_options_free(struct baton__web_options *o)
{
    for (size_t i = 0; i < o->nlisten; i++)
        free(o->listen[i]);
    for (size_t i = 0; i < o->nmodules; i++) {
        free(o->modules[i].path);
        free(o->modules[i].config);
    }
    free(o->static_root);
    free(o->config_file);
    o->nlisten = o->nmodules = 0;
    o->static_root = o->config_file = NULL;
}
