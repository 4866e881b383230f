/* SPDX-License-Identifier: MIT */
/*
 * Applying one node of a layer to a key: a section key by key, app.command as a whole, and
 * listen and app.env entry by entry (a later layer replaces an entry or adds one, in order).
 * Every problem is reported at the node it comes from, and the rest is still checked.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/xmalloc.h"
#include "config/internal.h"

/* "FILE:LINE:COL" of a node in a file layer; the layer's fixed text otherwise. Caller frees. */
static char *place(const struct config_layer *layer, const struct config_node *node,
                   const char *fixed)
{
    if (layer->file && node && node->line > 0)
        return baton__xasprintf("%s:%d:%d", layer->file, node->line, node->col);
    return baton__xstrdup(layer->file ? layer->file : fixed);
}

/* Records the origin of `key`: provenance at `at` (a mapping's key), errors at `value`. */
static void record(struct config_loader *l, const struct config_layer *layer, const char *key,
                   const struct config_node *at, const struct config_node *value, bool section)
{
    if (!l->config) /* only baton.yaml keeps origins, for `baton config` */
        return;
    char *origin = place(layer, at, layer->label);
    char *where = place(layer, value ? value : at, layer->where);
    baton__config_origin_set(l->config, key, origin, where, section);
    free(origin);
    free(where);
}

static const char *kind(const struct config_node *node)
{
    return node->type == NODE_MAP ? "a mapping" : node->type == NODE_SEQ ? "a list" : "a value";
}

static const char *expected(const struct config_key *key)
{
    switch (key->type) {
    case KEY_UINT:
        return key->min > 0 ? "a positive integer" : "a non-negative integer";
    case KEY_SIZE:
        return "a size (8192, 8KiB, 1MB)";
    case KEY_BOOL:
        return "true or false";
    case KEY_DURATION:
        return "a duration (250ms, 30s, 5m)";
    case KEY_SIGNAL:
        return "a signal (TERM, SIGTERM, 15)";
    case KEY_STRATEGY:
        return "rolling or blue-green";
    case KEY_READY:
        return "notify or delay:<duration>";
    case KEY_ADDRESS:
        return "an address (127.0.0.1:9100, [::1]:9100, :9100, unix:/path)";
    case KEY_LOGFORMAT:
        return "json or text";
    case KEY_LOGLEVEL:
        return "debug, info, notice, warning or error";
    case KEY_RATE:
        return "a number from 0 to 1";
    case KEY_URL:
        return "a URL";
    case KEY_HTTP_PATH:
        return "a request path (/healthz)";
    case KEY_PATH:
    case KEY_SOCKET:
        return "a path";
    default:
        return "text";
    }
}

static void apply_section(struct config_loader *l, const struct config_layer *layer, int index,
                          const struct config_node *at, const struct config_node *value)
{
    const struct config_key *key = &l->schema->keys[index];
    char ex[80];

    /* A section's origin is its key: "app.command is required" points there. */
    if (key->path[0])
        record(l, layer, key->path, at, NULL, true);
    if (baton__config_node_is_null(value))
        return;
    if (value->type != NODE_MAP) {
        l->command_unknown = true;
        if (key->path[0])
            baton__config_error(l, layer, value, "%s must be a mapping of keys, not %s", key->path,
                                kind(value));
        else
            baton__config_error(l, layer, value,
                                "the configuration must be a mapping of keys (name: value), "
                                "not %s",
                                kind(value));
        return;
    }
    for (size_t i = 0; i + 1 < value->n_items; i += 2) {
        const struct config_node *k = value->items[i], *v = value->items[i + 1];
        int child = baton__config_key_child(l->schema, index, k->text, k->len);
        if (child >= 0) {
            baton__config_key_apply(l, layer, child, k, v);
            continue;
        }
        const char *hint = baton__config_key_suggest(l->schema, index, k->text);
        baton__config_error(l, layer, k, "unknown key '%s'%s%s%s%s%s",
                            baton__config_excerpt(k->text, ex, sizeof(ex)),
                            key->path[0] ? " in " : "", key->path, hint ? " (did you mean '" : "",
                            hint ? hint : "", hint ? "'?)" : "");
    }
}

static void apply_command(struct config_loader *l, const struct config_layer *layer,
                          const struct config_node *at, const struct config_node *value)
{
    struct baton_config *c = l->config;

    /* Whatever is wrong below, the command was given: don't also say it is missing. */
    l->command_unknown = true;
    if (value && value->type == NODE_SCALAR && !baton__config_node_is_null(value)) {
        baton__config_error(l, layer, value,
                            "app.command must be a list such as [bin/server, --port, \"8080\"]: "
                            "commands never go through a shell");
        return;
    }
    if (!value || value->type != NODE_SEQ || value->n_items == 0) {
        baton__config_error(l, layer, value ? value : at,
                            "app.command must be a non-empty list: the program and its "
                            "arguments, [bin/server, --port, \"8080\"]");
        return;
    }
    for (size_t i = 0; i < value->n_items; i++) {
        const struct config_node *item = value->items[i];
        if (item->type != NODE_SCALAR || baton__config_node_is_null(item)) {
            baton__config_error(l, layer, item, "app.command[%zu] must be a string, not %s", i,
                                item->type == NODE_SCALAR ? "null" : kind(item));
            return;
        }
    }
    if (value->items[0]->len == 0) {
        baton__config_error(l, layer, value->items[0], "app.command[0], the program, is empty");
        return;
    }
    for (size_t i = 0; i < c->app.n_command; i++)
        free(c->app.command[i]);
    free(c->app.command);
    c->app.command = baton__xcalloc(value->n_items + 1, sizeof(char *));
    for (size_t i = 0; i < value->n_items; i++)
        c->app.command[i] = baton__xstrdup(value->items[i]->text);
    c->app.n_command = value->n_items;
    record(l, layer, "app.command", at, value, false);
}

static void apply_map(struct config_loader *l, const struct config_layer *layer, int index,
                      const struct config_node *value)
{
    const struct config_key *key = &l->schema->keys[index];

    if (baton__config_node_is_null(value))
        return;
    if (value->type != NODE_MAP) {
        baton__config_error(l, layer, value, "%s must be a mapping (%s), not %s", key->path,
                            key->type == KEY_LISTEN ? "http: 127.0.0.1:8080" : "NAME: value",
                            kind(value));
        return;
    }
    for (size_t i = 0; i + 1 < value->n_items; i += 2)
        baton__config_key_apply_entry(l, layer, index, value->items[i]->text, value->items[i],
                                      value->items[i + 1]);
}

void baton__config_key_apply(struct config_loader *l, const struct config_layer *layer, int index,
                             const struct config_node *at, const struct config_node *value)
{
    const struct config_key *key = &l->schema->keys[index];
    char why[512];

    /* A key of a feature not built yet: saying nothing would let the user believe it works. A
     * null value sets nothing, so it stays allowed. */
    if (key->unsupported && !layer->defaults) {
        if (!baton__config_node_is_null(value))
            baton__config_error(l, layer, at ? at : value, "%s: not supported yet", key->path);
        return;
    }
    switch (key->type) {
    case KEY_SECTION:
        apply_section(l, layer, index, at, value);
        return;
    case KEY_COMMAND:
        apply_command(l, layer, at, value);
        return;
    case KEY_ENV:
    case KEY_LISTEN:
        apply_map(l, layer, index, value);
        return;
    case KEY_CUSTOM:
        l->schema->apply_custom(l, layer, index, at, value);
        return;
    default:
        break;
    }
    if (value && value->type != NODE_SCALAR) {
        baton__config_error(l, layer, value, "%s must be %s, not %s", key->path, expected(key),
                            kind(value));
        return;
    }
    const char *text = baton__config_node_is_null(value) ? NULL : value->text;
    if (baton__config_key_set_scalar(l, key, text, why, sizeof(why)) < 0) {
        baton__config_error(l, layer, value ? value : at, "%s", why);
        return;
    }
    record(l, layer, key->path, at, value, false);
}

static bool listener_name_ok(const char *name)
{
    size_t n = strlen(name);
    return n > 0 && n <= 64 &&
           strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") == n;
}

static void apply_listener(struct config_loader *l, const struct config_layer *layer,
                           const char *name, const struct config_node *at,
                           const struct config_node *value)
{
    struct baton_config *c = l->config;
    struct baton_address addr;
    const char *reason = NULL;
    char *resolved = NULL, ex[80], nex[80];
    size_t i;

    if (!listener_name_ok(name)) {
        baton__config_error(l, layer, at,
                            "listener name '%s' must be 1 to 64 letters, digits, '_', '-' or '.'",
                            baton__config_excerpt(name, nex, sizeof(nex)));
        return;
    }
    if (!value || value->type != NODE_SCALAR || baton__config_node_is_null(value)) {
        baton__config_error(l, layer, value ? value : at,
                            "listen.%s must be an address (127.0.0.1:8080, [::1]:8080, :8080, "
                            "unix:/path), not %s",
                            name, value && value->type != NODE_SCALAR ? kind(value) : "null");
        return;
    }
    /* A relative UNIX socket path is relative to the configuration, like every path. */
    if (strncmp(value->text, "unix:", 5) == 0 && value->text[5] && value->text[5] != '/') {
        char *path = baton__config_path_join(l->dir, value->text + 5);
        resolved = baton__xasprintf("unix:%s", path);
        free(path);
    }
    if (baton__address_parse(resolved ? resolved : value->text, &addr, &reason) < 0) {
        baton__config_error(l, layer, value, "listen.%s: bad address '%s': %s", name,
                            baton__config_excerpt(value->text, ex, sizeof(ex)), reason);
        free(resolved);
        return;
    }
    free(resolved);
    for (i = 0; i < c->n_listen; i++)
        if (strcmp(c->listen[i].name, name) == 0)
            break;
    if (i == c->n_listen) {
        if (c->n_listen >= CONFIG_LISTEN_MAX) {
            baton__config_error(l, layer, at, "too many listeners (at most %d)", CONFIG_LISTEN_MAX);
            return;
        }
        c->listen = baton__xrealloc(c->listen, (c->n_listen + 1) * sizeof(*c->listen));
        c->listen[i].name = baton__xstrdup(name);
        c->listen[i].text = NULL;
        c->n_listen++;
    }
    free(c->listen[i].text);
    c->listen[i].text = baton__xstrdup(value->text);
    c->listen[i].address = addr;

    char *okey = baton__xasprintf("listen.%s", name);
    record(l, layer, okey, at, value, false);
    free(okey);
}

static void apply_variable(struct config_loader *l, const struct config_layer *layer,
                           const char *name, const struct config_node *at,
                           const struct config_node *value)
{
    struct baton_config *c = l->config;
    size_t n = strlen(name), i;
    char nex[80];

    if (n == 0 || n > 256 || strchr(name, '=') ||
        strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") != n) {
        baton__config_error(l, layer, at,
                            "app.env: '%s' is not a variable name (letters, digits, '_')",
                            baton__config_excerpt(name, nex, sizeof(nex)));
        return;
    }
    if (!value || value->type != NODE_SCALAR || baton__config_node_is_null(value)) {
        baton__config_error(l, layer, value ? value : at,
                            "app.env.%s must be a string, not %s (write \"\" for an empty one)",
                            name, value && value->type != NODE_SCALAR ? kind(value) : "null");
        return;
    }
    for (i = 0; i < c->app.n_env; i++)
        if (strncmp(c->app.env[i], name, n) == 0 && c->app.env[i][n] == '=')
            break;
    if (i == c->app.n_env) {
        if (c->app.n_env >= CONFIG_ENV_MAX) {
            baton__config_error(l, layer, at, "app.env: too many variables (at most %d)",
                                CONFIG_ENV_MAX);
            return;
        }
        c->app.env = baton__xrealloc(c->app.env, (c->app.n_env + 2) * sizeof(char *));
        c->app.env[i] = NULL;
        c->app.n_env++;
        c->app.env[c->app.n_env] = NULL;
    }
    free(c->app.env[i]);
    c->app.env[i] = baton__xasprintf("%s=%s", name, value->text);

    char *okey = baton__xasprintf("app.env.%s", name);
    record(l, layer, okey, at, value, false);
    free(okey);
}

void baton__config_key_apply_entry(struct config_loader *l, const struct config_layer *layer,
                                   int index, const char *entry, const struct config_node *at,
                                   const struct config_node *value)
{
    if (l->schema->keys[index].type == KEY_LISTEN)
        apply_listener(l, layer, entry, at, value);
    else
        apply_variable(l, layer, entry, at, value);
}
