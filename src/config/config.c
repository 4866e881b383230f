/* SPDX-License-Identifier: MIT */
/*
 * baton__config_load(): defaults, then the file, the env file beside it, the environment and
 * --set, each applied in turn (later wins), then the checks that need the merged result.
 * Every error is reported with where it comes from, and loading goes on to find the others.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/duration.h"
#include "common/xmalloc.h"
#include "config/internal.h"

extern char **environ;

void baton__config_error_at(struct config_loader *l, const char *where, const char *fmt, ...)
{
    va_list ap;

    if (++l->n_errors > CONFIG_ERRORS_MAX) {
        if (l->n_errors == CONFIG_ERRORS_MAX + 1)
            baton__buf_puts(l->err, "too many errors; stopping here\n");
        return;
    }
    if (where)
        baton__buf_printf(l->err, "%s: ", where);
    va_start(ap, fmt);
    baton__buf_vprintf(l->err, fmt, ap);
    va_end(ap);
    baton__buf_puts(l->err, "\n");
}

void baton__config_error(struct config_loader *l, const struct config_layer *layer,
                         const struct config_node *node, const char *fmt, ...)
{
    char where[512];
    char msg[1024];
    va_list ap;

    if (layer->file && node && node->line > 0)
        snprintf(where, sizeof(where), "%s:%d:%d", layer->file, node->line, node->col);
    else
        snprintf(where, sizeof(where), "%s", layer->file ? layer->file : layer->where);
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    baton__config_error_at(l, where, "%s", msg);
}

void baton__config_origin_set(struct baton_config *config, const char *key, const char *origin,
                              const char *where, bool section)
{
    struct baton_config_origin *o = NULL;

    for (size_t i = 0; i < config->n_origins; i++)
        if (strcmp(config->origins[i].key, key) == 0)
            o = &config->origins[i];
    if (!o) {
        if ((config->n_origins & (config->n_origins - 1)) == 0)
            config->origins = baton__xrealloc(
                config->origins, (config->n_origins ? config->n_origins * 2 : 64) * sizeof(*o));
        o = &config->origins[config->n_origins++];
        o->key = baton__xstrdup(key);
    } else {
        free(o->origin);
        free(o->where);
    }
    o->origin = baton__xstrdup(origin);
    o->where = baton__xstrdup(where);
    o->section = section;
}

const struct baton_config_origin *baton__config_origin_get(const struct baton_config *config,
                                                           const char *key)
{
    for (size_t i = 0; i < config->n_origins; i++)
        if (strcmp(config->origins[i].key, key) == 0)
            return &config->origins[i];
    return NULL;
}

char *baton__config_path_join(const char *dir, const char *path)
{
    /* Lexical only: symlinks (a release's `current`) must be resolved by their users, later. */
    while (path[0] == '.' && path[1] == '/') {
        path += 2;
        while (*path == '/')
            path++;
    }
    if (path[0] == '/')
        return baton__xstrdup(path);
    if (path[0] == '\0' || strcmp(path, ".") == 0)
        return baton__xstrdup(dir);
    size_t n = strlen(dir);
    return baton__xasprintf("%s%s%s", dir, n && dir[n - 1] == '/' ? "" : "/", path);
}

static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return baton__xstrdup(".");
    if (slash == path)
        return baton__xstrdup("/");
    return baton__xstrndup(path, (size_t)(slash - path));
}

/* "conf/baton.yaml" + "prod" -> "conf/baton.prod.yaml": the env file beside the main one. */
static char *env_file_name(const char *path, const char *env)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    const char *ext = strrchr(base, '.');
    if (!ext || ext == base)
        return baton__xasprintf("%s.%s.yaml", path, env);
    return baton__xasprintf("%.*s.%s%s", (int)(ext - path), path, env, ext);
}

static const char *lookup(char *const *env, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; env && env[i]; i++)
        if (strncmp(env[i], name, n) == 0 && env[i][n] == '=')
            return env[i] + n + 1;
    return NULL;
}

static void apply_defaults(struct config_loader *l)
{
    struct config_layer layer = {.label = "default", .where = "default", .defaults = true};

    for (size_t i = 0; i < l->schema->n_keys; i++) {
        if (!l->schema->keys[i].initial)
            continue;
        struct config_node *node = baton__config_node_scalar(l->schema->keys[i].initial, false);
        baton__config_key_apply(l, &layer, (int)i, NULL, node);
        baton__config_node_free(node);
    }
}

static void apply_command_line(struct config_loader *l, const struct baton_config_options *o)
{
    int listen = baton__config_key_child(l->schema, 0, "listen", 6);
    int app = baton__config_key_child(l->schema, 0, "app", 3);

    for (size_t i = 0; i < o->n_listen; i++) {
        char *where = baton__xasprintf("--listen %s", o->listen[i] ? o->listen[i] : "");
        struct config_layer layer = {.label = "--listen", .where = where};
        char name[32];
        if (i == 0)
            snprintf(name, sizeof(name), "http");
        else
            snprintf(name, sizeof(name), "http%zu", i + 1);
        struct config_node *node =
            baton__config_node_scalar(o->listen[i] ? o->listen[i] : "", false);
        baton__config_key_apply_entry(l, &layer, listen, name, NULL, node);
        baton__config_node_free(node);
        free(where);
    }
    if (o->n_command == 0) {
        baton__config_error_at(l, "command line",
                               "a command is required: baton run --listen ADDR -- CMD [ARG...]");
        return;
    }
    struct config_layer layer = {.label = "command line", .where = "command line"};
    struct config_node *seq = baton__config_node_new(NODE_SEQ);
    for (size_t i = 0; i < o->n_command && i < CONFIG_COMMAND_MAX; i++)
        baton__config_node_add(
            seq, baton__config_node_scalar(o->command[i] ? o->command[i] : "", false));
    baton__config_key_apply(l, &layer, baton__config_key_child(l->schema, app, "command", 7), NULL,
                            seq);
    baton__config_node_free(seq);
}

static const char *where_of(const struct baton_config *c, const char *key, const char *fallback)
{
    const struct baton_config_origin *o = baton__config_origin_get(c, key);
    return o ? o->where : fallback;
}

static bool same_address(const struct baton_address *a, const struct baton_address *b)
{
    if (a->u.sa.sa_family != b->u.sa.sa_family)
        return false;
    switch (a->u.sa.sa_family) {
    case AF_INET:
        /* Port 0 asks the kernel for a fresh port each time: never a clash. */
        return a->u.in.sin_port && a->u.in.sin_port == b->u.in.sin_port &&
               a->u.in.sin_addr.s_addr == b->u.in.sin_addr.s_addr;
    case AF_INET6:
        return a->u.in6.sin6_port && a->u.in6.sin6_port == b->u.in6.sin6_port &&
               memcmp(&a->u.in6.sin6_addr, &b->u.in6.sin6_addr, sizeof(struct in6_addr)) == 0;
    case AF_UNIX:
        return strcmp(a->u.un.sun_path, b->u.un.sun_path) == 0;
    default:
        return false;
    }
}

static void check_merged(struct config_loader *l, const struct baton_config_options *o)
{
    struct baton_config *c = l->config;
    char a[64], b[64];

    if (c->app.n_command == 0 && o->path && !l->command_unknown) {
        char *fallback = baton__xasprintf("%s:1:1", o->path);
        baton__config_error_at(l, where_of(c, "app", fallback),
                               "app.command is required: the program that starts a worker and "
                               "its arguments, such as command: [bin/server, --port, \"8080\"]");
        free(fallback);
    }
    for (size_t i = 0; i < c->n_listen; i++) {
        char *key = baton__xasprintf("listen.%s", c->listen[i].name);
        for (size_t j = 0; j < i; j++) {
            if (same_address(&c->listen[i].address, &c->listen[j].address)) {
                baton__config_error_at(
                    l, where_of(c, key, "listen"),
                    "listen.%s: address %s is already used by listener '%s'", c->listen[i].name,
                    baton__address_format(&c->listen[i].address, a, sizeof(a)), c->listen[j].name);
                break;
            }
        }
        if (c->listen[i].address.u.sa.sa_family == AF_UNIX &&
            strcmp(c->listen[i].address.u.un.sun_path, c->control.socket) == 0)
            baton__config_error_at(l, where_of(c, key, "listen"),
                                   "listen.%s: %s is the control socket (control.socket)",
                                   c->listen[i].name, c->listen[i].address.u.un.sun_path);
        if (c->metrics.listen) {
            struct baton_address m;
            if (baton__address_parse(c->metrics.listen, &m, NULL) == 0 &&
                same_address(&m, &c->listen[i].address))
                baton__config_error_at(l, where_of(c, "metrics.listen", "metrics.listen"),
                                       "metrics.listen: address %s is already used by "
                                       "listener '%s'",
                                       c->metrics.listen, c->listen[i].name);
        }
        free(key);
    }
    /* The probe is on when it has a path: another of its keys changed without one would do
     * nothing, silently. (Its defaults alone, as `baton config` prints them, are fine.) */
    if (!c->app.probe.path) {
        const char *key = c->app.probe.timeout_ms != 2000    ? "app.probe.timeout"
                          : c->app.probe.interval_ms != 5000 ? "app.probe.interval"
                          : c->app.probe.expect != 200       ? "app.probe.expect"
                                                             : NULL;
        if (key)
            baton__config_error_at(l, where_of(c, key, key),
                                   "%s is set but app.probe.path is not: the probe needs the "
                                   "path it asks for, such as path: /healthz",
                                   key);
    }
    if (c->app.restart_initial_ms > c->app.restart_max_ms) {
        const struct baton_config_origin *oi = baton__config_origin_get(c, "app.restart.initial");
        bool initial_set = oi && strcmp(oi->origin, "default") != 0;
        baton__config_error_at(
            l, where_of(c, initial_set ? "app.restart.initial" : "app.restart.max", "app.restart"),
            "app.restart.initial (%s) must not be longer than app.restart.max (%s)",
            baton__duration_format(c->app.restart_initial_ms, a, sizeof(a)),
            baton__duration_format(c->app.restart_max_ms, b, sizeof(b)));
    }
}

/* With release.root, the app runs from the release: app.dir defaults to <release.root>/current
 * (DESIGN.md "Deploy"); a generation resolves the link once when it starts. */
static void release_dir(struct baton_config *c)
{
    const struct baton_config_origin *o = baton__config_origin_get(c, "app.dir");
    if (!c->release.root || (o && strcmp(o->origin, "default") != 0))
        return;
    free(c->app.dir);
    c->app.dir = baton__xasprintf("%s/current", c->release.root);
    baton__config_origin_set(c, "app.dir", "release.root", "release.root", false);
}

/* The default name: the configuration directory's name, or the command's. */
static void default_name(struct baton_config *c)
{
    const char *from = c->path ? c->dir : (c->app.n_command ? c->app.command[0] : "");
    char *copy = baton__xstrdup(from);
    size_t n = strlen(copy);

    while (n > 1 && copy[n - 1] == '/')
        copy[--n] = '\0';
    const char *base = strrchr(copy, '/');
    base = base ? base + 1 : copy;
    c->name = baton__xstrdup(*base && strcmp(base, ".") != 0 ? base : "baton");
    baton__config_origin_set(c, "name", "default", "default", false);
    free(copy);
}

static bool env_name_ok(const char *name)
{
    size_t n = strlen(name);
    return n > 0 && n <= 64 &&
           strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") == n;
}

/* Loads every layer into *ret_config, which is set even when errors were found (the caller
 * frees it): each key holds its default or the last value that was valid. */
static int load(const struct baton_config_options *options, struct baton_config **ret_config,
                struct baton_buf *err)
{
    struct baton_config *c = NULL;
    struct config_loader l = {.schema = &baton__config_schema, .err = err};
    char *const *env;
    char cwd[PATH_MAX];
    int r = -EINVAL, io = 0;

    env = options->environ ? options->environ : environ;
    c = baton__xcalloc(1, sizeof(*c));
    l.config = c;
    l.target = c;

    if (!getcwd(cwd, sizeof(cwd))) {
        r = -errno;
        baton__config_error_at(&l, NULL, "cannot read the current directory: %s", strerror(errno));
        goto out;
    }
    if (options->path) {
        if (!*options->path) {
            baton__config_error_at(&l, NULL, "the configuration file name is empty");
            goto out;
        }
        c->path = baton__config_path_join(cwd, options->path);
        c->dir = dir_of(c->path);
    } else {
        c->dir = baton__xstrdup(cwd);
    }
    l.dir = c->dir;
    apply_defaults(&l);

    if (options->path) {
        io = baton__config_layer_file(&l, options->path, NULL);
        if (io == -EINVAL)
            io = 0;
        const char *env_name = options->env_name;
        if (!env_name) {
            env_name = lookup(env, "BATON_ENV");
            if (env_name && !*env_name)
                env_name = NULL;
        }
        if (env_name && !env_name_ok(env_name)) {
            baton__config_error_at(&l, options->env_name ? "--env" : "environment BATON_ENV",
                                   "bad environment name '%.64s': use letters, digits, '_', '-'",
                                   env_name);
        } else if (env_name) {
            char *name = env_file_name(options->path, env_name);
            char *needed_by = baton__xasprintf(
                "the file of %s%s", options->env_name ? "--env " : "BATON_ENV=", env_name);
            int e = baton__config_layer_file(&l, name, needed_by);
            if (e < 0 && e != -EINVAL && !io)
                io = e;
            free(needed_by);
            free(name);
        }
    } else {
        if (options->env_name)
            baton__config_error_at(&l, "--env", "an environment needs a configuration file");
        apply_command_line(&l, options);
    }
    baton__config_layer_environ(&l, env);
    for (size_t i = 0; i < options->n_sets; i++)
        if (options->sets[i])
            baton__config_layer_set(&l, options->sets[i]);

    if (!c->name)
        default_name(c);
    release_dir(c);
    check_merged(&l, options);
    r = l.n_errors == 0 ? 0 : io ? io : -EINVAL;
out:
    *ret_config = c;
    return r;
}

int baton__config_load(const struct baton_config_options *options, struct baton_config **ret,
                       struct baton_buf *err)
{
    struct baton_config *c = NULL;
    int r;

    if (!options || !ret || !err)
        return -EINVAL;
    r = load(options, &c, err);
    if (r == 0) {
        *ret = c;
        c = NULL;
    }
    baton__config_free(c);
    return r;
}

int baton__config_control_socket(const struct baton_config_options *options, char **ret_socket,
                                 struct baton_buf *err)
{
    struct baton_config *c = NULL;
    int r;

    if (!options || !options->path || !ret_socket || !err)
        return -EINVAL;
    r = load(options, &c, err);
    /* A value in error was never stored, nor anything of a file that is not YAML: what is
     * left is the socket the file names when that part is valid, else the default. */
    if ((r == 0 || r == -EINVAL) && c && c->control.socket)
        *ret_socket = baton__xstrdup(c->control.socket);
    else if (r == 0)
        r = -EINVAL; /* cannot happen: control.socket has a default */
    baton__config_free(c);
    return r;
}

int baton__config_load_file(const struct config_schema *schema, const char *path, void *target,
                            void *data, struct baton_buf *err)
{
    struct config_loader l = {.schema = schema, .target = target, .data = data, .err = err};
    char cwd[PATH_MAX], *abs = NULL, *dir = NULL;
    int r;

    if (!schema || !path || !*path || !target || !err)
        return -EINVAL;
    if (!getcwd(cwd, sizeof(cwd))) {
        r = -errno;
        baton__config_error_at(&l, path, "cannot read the current directory: %s", strerror(errno));
        return r;
    }
    abs = baton__config_path_join(cwd, path);
    dir = dir_of(abs);
    l.dir = dir;
    r = baton__config_layer_file(&l, path, NULL);
    if (r == 0 && l.n_errors > 0)
        r = -EINVAL;
    free(dir);
    free(abs);
    return r;
}

static void free_strings(char **v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        free(v[i]);
    free(v);
}

void baton__config_free(struct baton_config *config)
{
    if (!config)
        return;
    free(config->path);
    free(config->dir);
    free(config->name);
    for (size_t i = 0; i < config->n_listen; i++) {
        free(config->listen[i].name);
        free(config->listen[i].text);
    }
    free(config->listen);
    free_strings(config->app.command, config->app.n_command);
    free(config->app.dir);
    free_strings(config->app.env, config->app.n_env);
    free(config->app.user);
    free(config->app.probe.path);
    free(config->control.socket);
    free(config->control.group);
    free(config->metrics.listen);
    free(config->release.root);
    free(config->release.trust);
    free(config->release.source_url);
    for (size_t i = 0; i < config->n_origins; i++) {
        free(config->origins[i].key);
        free(config->origins[i].origin);
        free(config->origins[i].where);
    }
    free(config->origins);
    free(config);
}
