/* SPDX-License-Identifier: MIT */
/*
 * baton__config_print(): the merged configuration as YAML that loads back to the same values,
 * each value followed by a comment naming its origin, or as JSON with the origins beside it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/duration.h"
#include "common/size.h"
#include "common/json.h"
#include "common/signal.h"
#include "common/xmalloc.h"
#include "config/internal.h"

#define COMMENT_COLUMN 44

struct printer {
    const struct baton_config *config;
    struct baton_buf *out;
    struct baton_buf origins; /* JSON: the "origins" object's members */
    struct baton_buf line;    /* YAML: the line being written, to align its comment */
    bool json;
    int r;
};

enum value_kind {
    VALUE_NULL,
    VALUE_STRING,
    VALUE_NUMBER,
};

static void check(struct printer *p, int r)
{
    if (r < 0 && p->r == 0)
        p->r = r;
}

/* True when s can be written without quotes and still reads back as the same string. */
static bool plain_ok(const char *s)
{
    static const char *const words[] = {"null", "~", "true", "false", "yes",  "no",   "on",
                                        "off",  "y", "n",    ".nan",  ".inf", "-.inf"};
    size_t n = strlen(s);
    char *end;

    if (n == 0 || n > 200 || (s[0] == '-' && n == 1) ||
        !strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-", s[0]))
        return false;
    if (strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._:@+=-") != n ||
        s[n - 1] == ':')
        return false;
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
        if (strcasecmp(s, words[i]) == 0)
            return false;
    /* Anything a YAML reader would take for a number (1e3, 0x10, 1_000, 1:30) is quoted. */
    strtod(s, &end);
    if (*end == '\0' || strspn(s, "0123456789_:") == n)
        return false;
    return true;
}

static void put_yaml_string(struct printer *p, struct baton_buf *b, const char *s)
{
    if (plain_ok(s))
        check(p, baton__buf_puts(b, s));
    else /* A JSON string is a valid YAML double-quoted scalar. */
        check(p, baton__json_string(b, s, (size_t)-1));
}

static const char *origin_of(const struct printer *p, const char *key)
{
    const struct baton_config_origin *o = baton__config_origin_get(p->config, key);
    return o ? o->origin : "default";
}

static void add_origin(struct printer *p, const char *key)
{
    if (p->json)
        check(p, baton__json_kv_str(&p->origins, key, origin_of(p, key)));
}

/* YAML: ends the line in p->line with the comment, aligned, and moves it to the output. */
static void end_line(struct printer *p, const char *origin_key)
{
    if (origin_key) {
        size_t pad = p->line.len < COMMENT_COLUMN - 2 ? COMMENT_COLUMN - p->line.len : 2;
        check(p, baton__buf_printf(&p->line, "%*s# %s", (int)pad, "", origin_of(p, origin_key)));
    }
    check(p, baton__buf_puts(&p->line, "\n"));
    if (p->line.data)
        check(p, baton__buf_append(p->out, p->line.data, p->line.len));
    baton__buf_reset(&p->line);
}

static void start_line(struct printer *p, int depth, const char *key)
{
    check(p, baton__buf_printf(&p->line, "%*s", depth * 2, ""));
    put_yaml_string(p, &p->line, key);
    check(p, baton__buf_puts(&p->line, ":"));
}

static void value(struct printer *p, int depth, const char *key, const char *origin_key,
                  enum value_kind kind, const char *text)
{
    if (p->json) {
        check(p, baton__json_key(p->out, key));
        if (kind == VALUE_NULL)
            check(p, baton__buf_puts(p->out, "null"));
        else if (kind == VALUE_NUMBER)
            check(p, baton__buf_puts(p->out, text));
        else
            check(p, baton__json_string(p->out, text, (size_t)-1));
        add_origin(p, origin_key);
        return;
    }
    start_line(p, depth, key);
    check(p, baton__buf_puts(&p->line, " "));
    if (kind == VALUE_NULL)
        check(p, baton__buf_puts(&p->line, "null"));
    else if (kind == VALUE_NUMBER)
        check(p, baton__buf_puts(&p->line, text));
    else
        put_yaml_string(p, &p->line, text);
    end_line(p, origin_key);
}

/* The value of a scalar key as text, in the form the loader reads. */
static enum value_kind scalar(const struct baton_config *c, const struct config_key *k, char *buf,
                              size_t size, const char **ret)
{
    const void *field = (const char *)c + k->offset;
    char d[32];

    *ret = buf;
    switch (k->type) {
    case KEY_STRING:
    case KEY_NAME:
    case KEY_PATH:
    case KEY_SOCKET:
    case KEY_ADDRESS:
    case KEY_URL:
    case KEY_HTTP_PATH:
        *ret = *(char *const *)field;
        return *ret ? VALUE_STRING : VALUE_NULL;
    case KEY_UINT:
        snprintf(buf, size, "%u", *(const unsigned *)field);
        return VALUE_NUMBER;
    case KEY_DURATION:
        baton__duration_format(*(const uint64_t *)field, buf, size);
        return VALUE_STRING;
    case KEY_SIGNAL:
        snprintf(buf, size, "%s", baton__signal_name(*(const int *)field));
        return VALUE_STRING;
    case KEY_STRATEGY:
        snprintf(buf, size, "%s",
                 c->app.strategy == BATON_STRATEGY_BLUE_GREEN ? "blue-green" : "rolling");
        return VALUE_STRING;
    case KEY_READY:
        if (c->app.ready == BATON_READY_DELAY)
            snprintf(buf, size, "delay:%s",
                     baton__duration_format(c->app.ready_delay_ms, d, sizeof(d)));
        else
            snprintf(buf, size, "notify");
        return VALUE_STRING;
    case KEY_LOGFORMAT:
        if (!c->log.format_set)
            return VALUE_NULL;
        snprintf(buf, size, "%s", c->log.format == BATON_LOG_JSON ? "json" : "text");
        return VALUE_STRING;
    case KEY_LOGLEVEL:
        snprintf(buf, size, "%s", baton__log_level_name(c->log.level));
        return VALUE_STRING;
    case KEY_RATE:
        snprintf(buf, size, "%g", *(const double *)field);
        return VALUE_NUMBER;
    case KEY_SIZE:
        baton__size_format(*(const uint64_t *)field, buf, size);
        return VALUE_STRING;
    case KEY_BOOL: /* a bare token, like a number: true/false in YAML and JSON alike */
        snprintf(buf, size, "%s", *(const bool *)field ? "true" : "false");
        return VALUE_NUMBER;
    default:
        return VALUE_NULL;
    }
}

static void open_map(struct printer *p, int depth, const char *key, bool empty,
                     const char *origin_key)
{
    if (p->json) {
        check(p, baton__json_key(p->out, key));
        check(p, baton__buf_puts(p->out, "{"));
        return;
    }
    start_line(p, depth, key);
    if (empty)
        check(p, baton__buf_puts(&p->line, " {}"));
    end_line(p, empty ? origin_key : NULL);
}

static void close_map(struct printer *p)
{
    if (p->json)
        check(p, baton__buf_puts(p->out, "}"));
}

static void print_listen(struct printer *p, int depth)
{
    const struct baton_config *c = p->config;
    char addr[160];

    open_map(p, depth, "listen", c->n_listen == 0, "listen");
    for (size_t i = 0; i < c->n_listen; i++) {
        const struct baton_listen_config *ln = &c->listen[i];
        char *key = baton__xasprintf("listen.%s", ln->name);
        /* UNIX paths as resolved (absolute), TCP addresses as written (host names kept). */
        const char *text = ln->text;
        if (ln->address.u.sa.sa_family == AF_UNIX) {
            snprintf(addr, sizeof(addr), "unix:%s", ln->address.u.un.sun_path);
            text = addr;
        }
        value(p, depth + 1, ln->name, key, VALUE_STRING, text);
        free(key);
    }
    close_map(p);
}

static void print_env(struct printer *p, int depth)
{
    const struct baton_config *c = p->config;

    open_map(p, depth, "env", c->app.n_env == 0, "app.env");
    for (size_t i = 0; i < c->app.n_env; i++) {
        const char *eq = strchr(c->app.env[i], '=');
        char *name = baton__xstrndup(c->app.env[i], (size_t)(eq - c->app.env[i]));
        char *key = baton__xasprintf("app.env.%s", name);
        value(p, depth + 1, name, key, VALUE_STRING, eq + 1);
        free(key);
        free(name);
    }
    close_map(p);
}

static void print_command(struct printer *p, int depth)
{
    const struct baton_config *c = p->config;
    struct baton_buf *b = p->json ? p->out : &p->line;

    if (p->json) {
        check(p, baton__json_key(p->out, "command"));
    } else {
        start_line(p, depth, "command");
        check(p, baton__buf_puts(b, " "));
    }
    check(p, baton__buf_puts(b, "["));
    for (size_t i = 0; i < c->app.n_command; i++) {
        if (i)
            check(p, baton__buf_puts(b, p->json ? "," : ", "));
        if (p->json)
            check(p, baton__json_string(b, c->app.command[i], (size_t)-1));
        else
            put_yaml_string(p, b, c->app.command[i]);
    }
    check(p, baton__buf_puts(b, "]"));
    if (p->json)
        add_origin(p, "app.command");
    else
        end_line(p, "app.command");
}

/* Keys not supported yet are not shown, nor sections that hold nothing else: what `baton
 * config` prints is what baton acts on. */
static bool shown(int index)
{
    const struct config_key *k = &baton__config_keys[index];

    if (k->unsupported)
        return false;
    if (k->type != KEY_SECTION)
        return true;
    for (size_t i = (size_t)index + 1; i < baton__config_n_keys; i++)
        if (baton__config_key_parent(&baton__config_schema, (int)i) == index && shown((int)i))
            return true;
    return false;
}

static void print_section(struct printer *p, int index, int depth)
{
    char buf[64];
    const char *text;

    for (size_t i = (size_t)index + 1; i < baton__config_n_keys; i++) {
        const struct config_key *k = &baton__config_keys[i];
        if (baton__config_key_parent(&baton__config_schema, (int)i) != index || !shown((int)i))
            continue;
        const char *name = baton__config_key_name(k);
        switch (k->type) {
        case KEY_SECTION:
            open_map(p, depth, name, false, NULL);
            print_section(p, (int)i, depth + 1);
            close_map(p);
            break;
        case KEY_LISTEN:
            print_listen(p, depth);
            break;
        case KEY_ENV:
            print_env(p, depth);
            break;
        case KEY_COMMAND:
            print_command(p, depth);
            break;
        default: {
            enum value_kind kind = scalar(p->config, k, buf, sizeof(buf), &text);
            value(p, depth, name, k->path, kind, text);
            break;
        }
        }
    }
}

int baton__config_print(const struct baton_config *config, struct baton_buf *out, bool json)
{
    struct printer p = {
        .config = config,
        .out = out,
        .origins = BATON_BUF_INIT(BATON_BUF_UNBOUNDED),
        .line = BATON_BUF_INIT(BATON_BUF_UNBOUNDED),
        .json = json,
    };

    if (!config || !out)
        return -EINVAL;
    if (json) {
        check(&p, baton__buf_puts(out, "{\"config\":{"));
        check(&p, baton__buf_puts(&p.origins, "{"));
    }
    print_section(&p, 0, 0);
    if (json) {
        check(&p, baton__buf_puts(out, "},\"origins\":"));
        if (p.origins.data)
            check(&p, baton__buf_append(out, p.origins.data, p.origins.len));
        check(&p, baton__buf_puts(out, "}}\n"));
    }
    baton__buf_free(&p.origins);
    baton__buf_free(&p.line);
    return p.r;
}
