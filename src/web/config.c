/*
 * baton-web's configuration file (YAML; JSON is YAML):
 *
 *   listen: 127.0.0.1:8080            # or a list
 *   modules:                          # paths, or {path: FILE, config: ANY}
 *     - hello.so
 *   static: public
 *   access_log: false
 *   dev: false
 *   limits: {header_bytes: 8192, header_count: 100, uri_bytes: 4096, body_bytes: 1048576,
 *            connections: 16384}
 *   timeouts: {header: 10s, body: 30s, keepalive: 30s, send: 30s, linger: 2s,
 *              drain_grace: 100ms, drain: 30s}
 *
 * Relative paths are relative to the file's directory. Unknown keys and bad values are errors
 * naming the file, line and column.
 */
#include <errno.h>
#include <libfyaml.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/duration.h"
#include "web/web.h"

struct ctx {
    const char *file;
    char *dir; /* with trailing '/', or "" */
    char *err;
    size_t errlen;
};

static int fail(struct ctx *x, struct fy_node *n, const char *fmt, const char *arg)
    __attribute__((format(printf, 3, 0)));

static int fail(struct ctx *x, struct fy_node *n, const char *fmt, const char *arg)
{
    int line = 0, col = 0;
    struct fy_token *t = n ? fy_node_get_scalar_token(n) : NULL;
    const struct fy_mark *m = t ? fy_token_start_mark(t) : NULL;
    if (m) {
        line = m->line + 1;
        col = m->column + 1;
    }
    char msg[256];
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
    /* Every caller passes a literal with at most one %s. */
    snprintf(msg, sizeof(msg), fmt, arg ? arg : "");
#pragma GCC diagnostic pop
    snprintf(x->err, x->errlen, "%s:%d:%d: %s", x->file, line, col, msg);
    return -EINVAL;
}

static const char *scalar(struct fy_node *n)
{
    if (!n || fy_node_get_type(n) != FYNT_SCALAR)
        return NULL;
    return fy_node_get_scalar0(n);
}

static char *resolve(struct ctx *x, const char *path)
{
    char *out = NULL;
    if (path[0] == '/' || !x->dir[0])
        return strdup(path);
    if (asprintf(&out, "%s%s", x->dir, path) < 0)
        return NULL;
    return out;
}

static int get_uint(struct ctx *x, struct fy_node *key, struct fy_node *v, uint64_t max,
                    uint64_t *ret)
{
    const char *s = scalar(v);
    char *end;
    if (!s || !*s || *s == '-')
        return fail(x, v ? v : key, "%s: expected a non-negative number", scalar(key));
    errno = 0;
    unsigned long long n = strtoull(s, &end, 10);
    if (errno || *end || n > max)
        return fail(x, v, "%s: expected a number in range", scalar(key));
    *ret = n;
    return 0;
}

static int get_ms(struct ctx *x, struct fy_node *key, struct fy_node *v, uint32_t *ret)
{
    const char *s = scalar(v);
    uint64_t ms;
    if (!s || baton__duration_parse(s, &ms) < 0 || ms > UINT32_MAX)
        return fail(x, v ? v : key, "%s: expected a duration like 250ms, 30s, 5m", scalar(key));
    *ret = (uint32_t)ms;
    return 0;
}

static int get_bool(struct ctx *x, struct fy_node *key, struct fy_node *v, bool *ret)
{
    const char *s = scalar(v);
    if (s && (!strcmp(s, "true") || !strcmp(s, "yes") || !strcmp(s, "on")))
        *ret = true;
    else if (s && (!strcmp(s, "false") || !strcmp(s, "no") || !strcmp(s, "off")))
        *ret = false;
    else
        return fail(x, v ? v : key, "%s: expected true or false", scalar(key));
    return 0;
}

static int add_listen(struct ctx *x, struct web_options *o, struct fy_node *v)
{
    const char *s = scalar(v);
    if (!s || !*s)
        return fail(x, v, "listen: expected an address like 127.0.0.1:8080", NULL);
    if (o->nlisten >= WEB_MAX_LISTEN)
        return fail(x, v, "listen: too many addresses", NULL);
    o->listen[o->nlisten] = strdup(s);
    if (!o->listen[o->nlisten])
        return -ENOMEM;
    o->nlisten++;
    return 0;
}

static int add_module(struct ctx *x, struct web_options *o, struct fy_node *v)
{
    const char *path = scalar(v);
    struct fy_node *cfg = NULL;
    struct fy_node *at = v;
    if (!path && v && fy_node_get_type(v) == FYNT_MAPPING) {
        void *it = NULL;
        struct fy_node_pair *p;
        while ((p = fy_node_mapping_iterate(v, &it))) {
            struct fy_node *k = fy_node_pair_key(p);
            const char *ks = scalar(k);
            if (ks && !strcmp(ks, "path")) {
                path = scalar(fy_node_pair_value(p));
                at = fy_node_pair_value(p);
            } else if (ks && !strcmp(ks, "config")) {
                cfg = fy_node_pair_value(p);
            } else {
                return fail(x, k, "modules: unknown key '%s' (path, config)", ks);
            }
        }
    }
    if (!path || !*path)
        return fail(x, at, "modules: expected a file name or {path: FILE, config: ...}", NULL);
    if (o->nmodules >= WEB_MAX_MODULES)
        return fail(x, at, "modules: too many modules", NULL);
    struct web_module_spec *m = &o->modules[o->nmodules];
    m->path = resolve(x, path);
    if (!m->path)
        return -ENOMEM;
    if (cfg) {
        m->config = fy_emit_node_to_string(cfg, FYECF_MODE_JSON_ONELINE);
        if (!m->config)
            return -ENOMEM;
    }
    o->nmodules++;
    return 0;
}

static int each(struct ctx *x, struct web_options *o, struct fy_node *v,
                int (*fn)(struct ctx *, struct web_options *, struct fy_node *))
{
    if (v && fy_node_get_type(v) == FYNT_SEQUENCE) {
        void *it = NULL;
        struct fy_node *item;
        while ((item = fy_node_sequence_iterate(v, &it))) {
            int r = fn(x, o, item);
            if (r < 0)
                return r;
        }
        return 0;
    }
    return fn(x, o, v);
}

static int limits(struct ctx *x, struct web_options *o, struct fy_node *map)
{
    if (!map || fy_node_get_type(map) != FYNT_MAPPING)
        return fail(x, map, "limits: expected a mapping", NULL);
    void *it = NULL;
    struct fy_node_pair *p;
    struct baton__limits *l = &o->server.limits;
    while ((p = fy_node_mapping_iterate(map, &it))) {
        struct fy_node *k = fy_node_pair_key(p), *v = fy_node_pair_value(p);
        const char *ks = scalar(k) ? scalar(k) : "";
        uint64_t n = 0;
        int r;
        if (!strcmp(ks, "header_bytes")) {
            if ((r = get_uint(x, k, v, 1 << 20, &n)) < 0)
                return r;
            l->header_bytes = n;
        } else if (!strcmp(ks, "header_count")) {
            if ((r = get_uint(x, k, v, 10000, &n)) < 0)
                return r;
            l->header_count = (unsigned)n;
        } else if (!strcmp(ks, "uri_bytes")) {
            if ((r = get_uint(x, k, v, 1 << 20, &n)) < 0)
                return r;
            l->uri_bytes = n;
        } else if (!strcmp(ks, "body_bytes")) {
            if ((r = get_uint(x, k, v, 1ull << 40, &n)) < 0)
                return r;
            l->body_bytes = n;
        } else if (!strcmp(ks, "connections")) {
            if ((r = get_uint(x, k, v, 1 << 24, &n)) < 0)
                return r;
            o->server.max_connections = (unsigned)n;
        } else {
            return fail(x, k,
                        "limits: unknown key '%s' (header_bytes, header_count, uri_bytes, "
                        "body_bytes, connections)",
                        ks);
        }
    }
    return 0;
}

static int timeouts(struct ctx *x, struct web_options *o, struct fy_node *map)
{
    if (!map || fy_node_get_type(map) != FYNT_MAPPING)
        return fail(x, map, "timeouts: expected a mapping", NULL);
    struct {
        const char *key;
        uint32_t *field;
    } keys[] = {
        {"header", &o->server.header_timeout_ms},
        {"body", &o->server.body_timeout_ms},
        {"keepalive", &o->server.keepalive_timeout_ms},
        {"send", &o->server.send_timeout_ms},
        {"linger", &o->server.linger_ms},
        {"drain_grace", &o->server.drain_grace_ms},
        {"drain", &o->server.drain_timeout_ms},
    };
    void *it = NULL;
    struct fy_node_pair *p;
    while ((p = fy_node_mapping_iterate(map, &it))) {
        struct fy_node *k = fy_node_pair_key(p), *v = fy_node_pair_value(p);
        const char *ks = scalar(k) ? scalar(k) : "";
        size_t i;
        for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
            if (!strcmp(ks, keys[i].key))
                break;
        if (i == sizeof(keys) / sizeof(keys[0]))
            return fail(x, k,
                        "timeouts: unknown key '%s' (header, body, keepalive, send, linger, "
                        "drain_grace, drain)",
                        ks);
        int r = get_ms(x, k, v, keys[i].field);
        if (r < 0)
            return r;
    }
    return 0;
}

int web_config_load(const char *file, struct web_options *o, char *err, size_t errlen)
{
    struct ctx x = {.file = file, .err = err, .errlen = errlen};
    struct fy_parse_cfg cfg = {.flags = FYPCF_QUIET};
    struct fy_document *doc = NULL;
    int r = 0;
    const char *slash = strrchr(file, '/');
    x.dir = slash ? strndup(file, (size_t)(slash - file + 1)) : strdup("");
    if (!x.dir)
        return -ENOMEM;
    FILE *probe = fopen(file, "re");
    if (!probe) {
        snprintf(err, errlen, "%s: %s", file, strerror(errno));
        r = -errno;
        goto out;
    }
    fclose(probe);
    doc = fy_document_build_from_file(&cfg, file);
    if (!doc) {
        snprintf(err, errlen, "%s: not valid YAML", file);
        r = -EINVAL;
        goto out;
    }
    struct fy_node *root = fy_document_root(doc);
    if (!root)
        goto out; /* an empty file configures nothing */
    if (fy_node_get_type(root) != FYNT_MAPPING) {
        r = fail(&x, root, "expected a mapping at the top", NULL);
        goto out;
    }
    void *it = NULL;
    struct fy_node_pair *p;
    while (r == 0 && (p = fy_node_mapping_iterate(root, &it))) {
        struct fy_node *k = fy_node_pair_key(p), *v = fy_node_pair_value(p);
        const char *ks = scalar(k) ? scalar(k) : "";
        if (!strcmp(ks, "listen")) {
            r = each(&x, o, v, add_listen);
        } else if (!strcmp(ks, "modules")) {
            r = each(&x, o, v, add_module);
        } else if (!strcmp(ks, "static")) {
            const char *s = scalar(v);
            if (!s || !*s) {
                r = fail(&x, v ? v : k, "static: expected a directory", NULL);
            } else {
                free(o->static_root);
                o->static_root = resolve(&x, s);
                r = o->static_root ? 0 : -ENOMEM;
            }
        } else if (!strcmp(ks, "access_log")) {
            r = get_bool(&x, k, v, &o->access_log);
        } else if (!strcmp(ks, "dev")) {
            r = get_bool(&x, k, v, &o->dev);
        } else if (!strcmp(ks, "limits")) {
            r = limits(&x, o, v);
        } else if (!strcmp(ks, "timeouts")) {
            r = timeouts(&x, o, v);
        } else {
            r = fail(&x, k,
                     "unknown key '%s' (listen, modules, static, access_log, dev, limits, "
                     "timeouts)",
                     ks);
        }
    }
out:
    if (doc)
        fy_document_destroy(doc);
    free(x.dir);
    return r;
}

void web_options_free(struct web_options *o)
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
