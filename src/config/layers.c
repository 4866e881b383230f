/* SPDX-License-Identifier: MIT */
/*
 * The layers that feed the configuration: a YAML file, the BATON_<SECTION>_<KEY> environment
 * variables and --set KEY=VALUE. Each turns its input into nodes and applies them to keys, so
 * every layer gets the same checks and the same messages.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/xmalloc.h"
#include "config/internal.h"

/* Reads a whole regular file of at most CONFIG_FILE_MAX bytes. Returns 0 or -errno. */
static int read_file(const char *path, char **ret, size_t *ret_len, const char **ret_why)
{
    struct stat st;
    char *data = NULL;
    size_t len = 0;
    int fd = -1, r;

    *ret_why = NULL;
    /* O_NONBLOCK: a FIFO named as the configuration must not hang us in open(); it is refused
     * below, and reading a regular file ignores the flag. */
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        r = -errno;
        goto out;
    }
    if (fstat(fd, &st) < 0) {
        r = -errno;
        goto out;
    }
    if (S_ISDIR(st.st_mode)) {
        r = -EISDIR;
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        *ret_why = "not a regular file";
        r = -EINVAL;
        goto out;
    }
    /* One byte more than allowed, to notice a file that grew past the limit while read. */
    data = baton__xmalloc(CONFIG_FILE_MAX + 2);
    for (;;) {
        ssize_t n = read(fd, data + len, CONFIG_FILE_MAX + 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            r = -errno;
            goto out;
        }
        if (n == 0)
            break;
        len += (size_t)n;
        if (len > CONFIG_FILE_MAX) {
            *ret_why = "larger than 1 MiB";
            r = -EFBIG;
            goto out;
        }
    }
    data[len] = '\0';
    *ret = data;
    *ret_len = len;
    data = NULL;
    r = 0;
out:
    free(data);
    if (fd >= 0)
        close(fd);
    return r;
}

int baton__config_layer_file(struct config_loader *l, const char *name, const char *needed_by)
{
    struct config_layer layer = {.file = name, .label = name, .where = name};
    struct config_node *root = NULL;
    const char *why;
    char *text = NULL;
    size_t len = 0;
    int r;

    r = read_file(name, &text, &len, &why);
    if (r < 0) {
        l->command_unknown = true;
        baton__config_error_at(l, name, "%s%s%s%s", why ? why : strerror(-r), needed_by ? " (" : "",
                               needed_by ? needed_by : "", needed_by ? ")" : "");
        return r;
    }
    unsigned before = l->n_errors;
    r = baton__config_yaml_parse(name, text, len, &root, l->err);
    if (r < 0) {
        l->n_errors++;
        l->command_unknown = true;
        goto out;
    }
    if (root)
        baton__config_key_apply(l, &layer, 0, NULL, root);
    r = l->n_errors > before ? -EINVAL : 0;
out:
    baton__config_node_free(root);
    free(text);
    return r;
}

/* "BATON_" + the key's path in capitals with '_' for '.': app.restart.max -> BATON_APP_RESTART_MAX
 */
static void env_name(const struct config_key *key, char *buf, size_t size)
{
    size_t n = (size_t)snprintf(buf, size, "BATON_%s", key->path);
    for (size_t i = 6; i < n && i < size; i++)
        buf[i] = buf[i] == '.' ? '_' : (char)toupper((unsigned char)buf[i]);
}

/* True when NAME (after BATON_) starts with a top-level key: only those are configuration. */
static bool names_section(const char *name)
{
    for (size_t i = 0; i < baton__config_n_keys; i++) {
        const struct config_key *k = &baton__config_keys[i];
        char buf[96];
        if (baton__config_key_parent(&baton__config_schema, (int)i) != 0)
            continue;
        env_name(k, buf, sizeof(buf));
        size_t n = strlen(buf + 6);
        if (strncmp(name, buf + 6, n) == 0 && (name[n] == '\0' || name[n] == '_'))
            return true;
    }
    return false;
}

static void apply_variable(struct config_loader *l, const char *name, const char *value)
{
    struct baton_config *c = l->config;
    char *where = baton__xasprintf("environment %s", name);
    struct config_layer layer = {.label = name, .where = where};
    /* Values are literal text: an empty one unsets an optional key, like null in a file. */
    struct config_node *node = *value ? baton__config_node_scalar(value, false) : NULL;
    const char *best = NULL;
    size_t best_d = SIZE_MAX;
    char buf[96];

    for (size_t i = 0; i < baton__config_n_keys; i++) {
        const struct config_key *k = &baton__config_keys[i];
        if (!k->path[0])
            continue;
        env_name(k, buf, sizeof(buf));
        if (strcmp(buf, name) == 0) {
            if (baton__config_key_is_scalar(k))
                baton__config_key_apply(l, &layer, (int)i, NULL, node);
            else if (k->type == KEY_LISTEN || k->type == KEY_ENV)
                baton__config_error_at(l, where, "%s is a mapping: set one entry with %s_<NAME>",
                                       k->path, buf);
            else
                baton__config_error_at(l, where,
                                       "%s is a %s: set it in the file or with --set "
                                       "'%s=...'",
                                       k->path, k->type == KEY_COMMAND ? "list" : "section",
                                       k->path);
            goto out;
        }
        if (baton__config_key_is_scalar(k)) {
            size_t d = baton__config_distance(name + 6, buf + 6);
            if (d <= 2 && d < best_d) {
                best_d = d;
                best = k->path;
            }
        }
    }
    if (strncmp(name, "BATON_LISTEN_", 13) == 0 && name[13]) {
        /* Listener names are written in lower case in files; match any case. */
        char *entry = baton__xstrdup(name + 13);
        for (char *p = entry; *p; p++)
            *p = (char)tolower((unsigned char)*p);
        for (size_t i = 0; i < c->n_listen; i++)
            if (strcasecmp(c->listen[i].name, entry) == 0) {
                free(entry);
                entry = baton__xstrdup(c->listen[i].name);
                break;
            }
        baton__config_key_apply_entry(l, &layer, baton__config_key_child(l->schema, 0, "listen", 6),
                                      entry, NULL, node);
        free(entry);
        goto out;
    }
    if (strncmp(name, "BATON_APP_ENV_", 14) == 0 && name[14]) {
        int app = baton__config_key_child(l->schema, 0, "app", 3);
        baton__config_key_apply_entry(l, &layer, baton__config_key_child(l->schema, app, "env", 3),
                                      name + 14, NULL, node);
        goto out;
    }
    if (best) {
        char *suggestion = baton__xstrdup(best);
        for (char *p = suggestion; *p; p++)
            *p = *p == '.' ? '_' : (char)toupper((unsigned char)*p);
        baton__config_error_at(l, where, "unknown configuration variable (did you mean BATON_%s?)",
                               suggestion);
        free(suggestion);
    } else {
        baton__config_error_at(l, where,
                               "unknown configuration variable: BATON_<SECTION>_<KEY> names a key "
                               "of the file, such as BATON_APP_WORKERS");
    }
out:
    baton__config_node_free(node);
    free(where);
}

void baton__config_layer_environ(struct config_loader *l, char *const *env)
{
    for (size_t i = 0; env && env[i]; i++) {
        const char *eq = strchr(env[i], '=');
        if (!eq || strncmp(env[i], "BATON_", 6) != 0 || eq - env[i] > 200)
            continue;
        char *name = baton__xstrndup(env[i], (size_t)(eq - env[i]));
        /* BATON_ENV, BATON_SOCKET, BATON_TEST_MARKER...: not configuration keys. */
        if (names_section(name + 6))
            apply_variable(l, name, eq + 1);
        free(name);
    }
}

/* Parses a --set value as YAML; errors get the --set prefix. Returns 0 or -EINVAL. */
static int parse_value(struct config_loader *l, const char *where, const char *text,
                       struct config_node **ret)
{
    struct baton_buf msg = BATON_BUF_INIT(4096);
    int r = baton__config_yaml_parse(NULL, text, strlen(text), ret, &msg);

    if (r < 0) {
        char *line = msg.data, *nl;
        while (line && *line && (nl = strchr(line, '\n'))) {
            *nl = '\0';
            baton__config_error_at(l, where, "bad YAML value: %s", line);
            line = nl + 1;
        }
    }
    baton__buf_free(&msg);
    return r;
}

void baton__config_layer_set(struct config_loader *l, const char *assignment)
{
    const char *eq = strchr(assignment, '=');
    char ex[120];
    char *where = baton__xasprintf("--set %s", baton__config_excerpt(assignment, ex, sizeof(ex)));
    struct config_layer layer = {.label = "--set", .where = where};
    struct config_node *node = NULL;
    const char *entry = NULL;
    int index = 0;

    if (!eq || eq == assignment) {
        baton__config_error_at(l, where, "expected KEY=VALUE, such as app.workers=4");
        goto out;
    }
    /* Walk the dotted key down the sections: app.restart.max, listen.http, app.env.NAME. */
    for (const char *seg = assignment; seg < eq;) {
        const char *dot = memchr(seg, '.', (size_t)(eq - seg));
        size_t len = (size_t)((dot ? dot : eq) - seg);
        const struct config_key *k = &baton__config_keys[index];

        if (k->type == KEY_LISTEN || k->type == KEY_ENV) {
            entry = seg;
            break;
        }
        if (k->unsupported) {
            baton__config_error_at(l, where, "%s: not supported yet", k->path);
            goto out;
        }
        if (k->type != KEY_SECTION) {
            baton__config_error_at(l, where, "%s has no keys under it", k->path);
            goto out;
        }
        int child = len ? baton__config_key_child(l->schema, index, seg, len) : -1;
        if (child < 0) {
            char *name = baton__xstrndup(seg, len);
            const char *hint = baton__config_key_suggest(l->schema, index, name);
            baton__config_error_at(
                l, where, "unknown key '%s'%s%s%s%s%s", baton__config_excerpt(name, ex, sizeof(ex)),
                k->path[0] ? " in " : "", k->path, hint ? " (did you mean '" : "", hint ? hint : "",
                hint ? "'?)" : "");
            free(name);
            goto out;
        }
        index = child;
        seg = dot ? dot + 1 : eq;
    }

    const char *value = eq + 1;
    const struct config_key *key = &baton__config_keys[index];
    if (entry || baton__config_key_is_scalar(key)) {
        /* One value: taken as written ("[::1]:8080" is an address, not a list), unless
         * quoted, when YAML's quoting rules apply; "", "~" and "null" are null. */
        if (value[0] == '"' || value[0] == '\'') {
            if (parse_value(l, where, value, &node) < 0)
                goto out;
        } else if (*value) {
            node = baton__config_node_scalar(value, true);
        }
    } else if (parse_value(l, where, value, &node) < 0) {
        goto out;
    }

    if (entry) {
        char *name = baton__xstrndup(entry, (size_t)(eq - entry));
        baton__config_key_apply_entry(l, &layer, index, name, NULL, node);
        free(name);
    } else {
        baton__config_key_apply(l, &layer, index, NULL, node);
    }
out:
    baton__config_node_free(node);
    free(where);
}
