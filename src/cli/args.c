/* SPDX-License-Identifier: MIT */
#include "cli/args.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/duration.h"
#include "common/xmalloc.h"

enum opt_id {
    OPT_HELP,
    OPT_CONFIG,
    OPT_SOCKET,
    OPT_ENV,
    OPT_SET,
    OPT_LISTEN,
    OPT_WORKERS,
    OPT_READY,
    OPT_JSON,
    OPT_IN_PLACE,
    OPT_WAIT,
    OPT_FAST,
    OPT_TIMEOUT,
    OPT_VERSION,
    OPT_ALLOW_DOWNGRADE,
    OPT_DRY_RUN,
    OPT_WATCH,
    OPT_FOLLOW,
    OPT_LINES,
};

#define ON(c)   (1u << (c))
#define DEPLOYS (ON(BATON_CLI_DEPLOY) | ON(BATON_CLI_ROLLBACK) | ON(BATON_CLI_RELEASES))
#define TARGETED                                                                                   \
    (ON(BATON_CLI_RELOAD) | ON(BATON_CLI_STATUS) | ON(BATON_CLI_STOP) | ON(BATON_CLI_LOGS) |       \
     DEPLOYS)

/* Which options each command takes. A value-taking option is written `--name VALUE`,
 * `--name=VALUE`, `-x VALUE` or `-xVALUE`. */
static const struct option_spec {
    const char *name;
    char short_name;
    bool has_value;
    enum opt_id id;
    unsigned commands; /* bitmask of ON(command) */
} option_specs[] = {
    {"help", 'h', false, OPT_HELP, ~0u},
    {"config", 'c', true, OPT_CONFIG, ON(BATON_CLI_RUN) | TARGETED},
    {"socket", 's', true, OPT_SOCKET, TARGETED},
    {"env", 0, true, OPT_ENV, ON(BATON_CLI_RUN)},
    {"set", 0, true, OPT_SET, ON(BATON_CLI_RUN)},
    {"listen", 0, true, OPT_LISTEN, ON(BATON_CLI_RUN)},
    {"workers", 0, true, OPT_WORKERS, ON(BATON_CLI_RUN)},
    {"ready", 0, true, OPT_READY, ON(BATON_CLI_RUN)},
    {"json", 0, false, OPT_JSON,
     ON(BATON_CLI_RELOAD) | ON(BATON_CLI_STATUS) | ON(BATON_CLI_LOGS) | DEPLOYS},
    {"in-place", 0, false, OPT_IN_PLACE, ON(BATON_CLI_RELOAD)},
    {"wait", 0, false, OPT_WAIT,
     ON(BATON_CLI_RELOAD) | ON(BATON_CLI_DEPLOY) | ON(BATON_CLI_ROLLBACK)},
    {"version", 0, true, OPT_VERSION, ON(BATON_CLI_DEPLOY)},
    {"allow-downgrade", 0, false, OPT_ALLOW_DOWNGRADE, ON(BATON_CLI_DEPLOY)},
    {"dry-run", 0, false, OPT_DRY_RUN, ON(BATON_CLI_DEPLOY)},
    {"fast", 0, false, OPT_FAST, ON(BATON_CLI_STOP)},
    {"timeout", 0, true, OPT_TIMEOUT, ON(BATON_CLI_RELOAD) | ON(BATON_CLI_STOP)},
    {"watch", 'w', false, OPT_WATCH, ON(BATON_CLI_STATUS)},
    {"follow", 'f', false, OPT_FOLLOW, ON(BATON_CLI_LOGS)},
    {"lines", 'n', true, OPT_LINES, ON(BATON_CLI_LOGS)},
};

static const struct {
    const char *name;
    enum baton_cli_command command;
} command_names[] = {
    {"run", BATON_CLI_RUN},           {"reload", BATON_CLI_RELOAD},
    {"status", BATON_CLI_STATUS},     {"stop", BATON_CLI_STOP},
    {"config", BATON_CLI_CONFIG},     {"version", BATON_CLI_VERSION},
    {"deploy", BATON_CLI_DEPLOY},     {"rollback", BATON_CLI_ROLLBACK},
    {"releases", BATON_CLI_RELEASES}, {"logs", BATON_CLI_LOGS},
};

const char *baton__cli_command_name(enum baton_cli_command command)
{
    for (size_t i = 0; i < sizeof(command_names) / sizeof(command_names[0]); i++)
        if (command_names[i].command == command)
            return command_names[i].name;
    return NULL;
}

static int command_lookup(const char *name, enum baton_cli_command *ret)
{
    for (size_t i = 0; i < sizeof(command_names) / sizeof(command_names[0]); i++)
        if (strcmp(command_names[i].name, name) == 0) {
            *ret = command_names[i].command;
            return 0;
        }
    return -ENOENT;
}

static void push(char ***array, size_t *n, char *item)
{
    *array = baton__xrealloc(*array, (*n + 2) * sizeof(**array));
    (*array)[(*n)++] = item;
    (*array)[*n] = NULL;
}

static int fail(struct baton_buf *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(struct baton_buf *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    baton__buf_reset(err);
    (void)baton__buf_vprintf(err, fmt, ap);
    va_end(ap);
    return -EINVAL;
}

/* Finds the option an argument names; *ret_inline is the text after "=" or after "-x". */
static const struct option_spec *option_lookup(const char *arg, const char **ret_inline)
{
    *ret_inline = NULL;
    if (arg[1] == '-') {
        const char *name = arg + 2, *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        for (size_t i = 0; i < sizeof(option_specs) / sizeof(option_specs[0]); i++)
            if (strlen(option_specs[i].name) == len &&
                strncmp(option_specs[i].name, name, len) == 0) {
                *ret_inline = eq ? eq + 1 : NULL;
                return &option_specs[i];
            }
        return NULL;
    }
    for (size_t i = 0; i < sizeof(option_specs) / sizeof(option_specs[0]); i++)
        if (option_specs[i].short_name && option_specs[i].short_name == arg[1]) {
            *ret_inline = arg[2] ? arg + 2 : NULL;
            return &option_specs[i];
        }
    return NULL;
}

static bool ready_mode_valid(const char *mode)
{
    uint64_t ms;
    if (strcmp(mode, "notify") == 0)
        return true;
    return strncmp(mode, "delay:", 6) == 0 && baton__duration_parse(mode + 6, &ms) == 0;
}

static int parse_workers(const char *text, struct baton_buf *err)
{
    char *end;
    unsigned long n;
    if (text[0] < '0' || text[0] > '9')
        return fail(err, "--workers needs a positive number, got '%s'", text);
    errno = 0;
    n = strtoul(text, &end, 10);
    if (*end || errno || n == 0 || n > 65535)
        return fail(err, "--workers needs a number from 1 to 65535, got '%s'", text);
    return 0;
}

/* Applies one option with its value (NULL for flags). */
static int apply(struct baton_cli_args *a, const struct option_spec *spec, const char *opt,
                 const char *value, struct baton_buf *err)
{
    int r;
    switch (spec->id) {
    case OPT_HELP:
        break; /* handled by the caller */
    case OPT_CONFIG:
        if (!*value)
            return fail(err, "%s needs a file name", opt);
        a->config_path = value;
        a->config_given = true;
        break;
    case OPT_SOCKET:
        if (!*value)
            return fail(err, "%s needs a socket path", opt);
        a->socket_path = value;
        break;
    case OPT_ENV:
        if (!*value)
            return fail(err, "--env needs a name (baton.NAME.yaml is read beside the file)");
        a->env_name = value;
        break;
    case OPT_SET: {
        const char *eq = strchr(value, '=');
        if (!eq || eq == value)
            return fail(err, "--set needs KEY=VALUE (like app.workers=4), got '%s'", value);
        push(&a->sets, &a->n_sets, baton__xstrdup(value));
        break;
    }
    case OPT_LISTEN:
        if (!*value)
            return fail(err,
                        "--listen needs an address (host:port, [::1]:port, :port, unix:/path)");
        push(&a->listen, &a->n_listen, (char *)value);
        break;
    case OPT_WORKERS:
        if ((r = parse_workers(value, err)) < 0)
            return r;
        push(&a->sets, &a->n_sets, baton__xasprintf("app.workers=%s", value));
        break;
    case OPT_READY:
        if (!ready_mode_valid(value))
            return fail(err, "--ready needs 'notify' or 'delay:DURATION' (like delay:2s), got '%s'",
                        value);
        push(&a->sets, &a->n_sets, baton__xasprintf("app.ready=%s", value));
        break;
    case OPT_JSON:
        a->json = true;
        break;
    case OPT_WATCH:
        a->watch = true;
        break;
    case OPT_FOLLOW:
        a->follow = true;
        break;
    case OPT_LINES: {
        char *end;
        unsigned long n = strtoul(value, &end, 10);
        if (!*value || *end || value[0] == '-' || n > 1000000)
            return fail(err, "--lines needs a number of lines (0: all), got '%s'", value);
        a->lines = (unsigned)n;
        break;
    }
    case OPT_IN_PLACE:
        a->in_place = true;
        break;
    case OPT_WAIT:
        a->wait = true;
        break;
    case OPT_FAST:
        a->fast = true;
        break;
    case OPT_VERSION:
        if (!*value)
            return fail(err, "--version needs a version (like 1.4.0)");
        a->version = value;
        break;
    case OPT_ALLOW_DOWNGRADE:
        a->allow_downgrade = true;
        break;
    case OPT_DRY_RUN:
        a->dry_run = true;
        break;
    case OPT_TIMEOUT:
        if (baton__duration_parse(value, &a->timeout_ms) < 0)
            return fail(err, "invalid duration '%s' for --timeout (like 500ms, 30s, 5m, 1m30s)",
                        value);
        a->timeout_given = true;
        break;
    }
    return 0;
}

/* The checks that need the whole command line. */
static int check_run(const struct baton_cli_args *a, struct baton_buf *err)
{
    if (a->n_listen > 0) {
        if (a->config_given)
            return fail(err, "-c and --listen exclude each other (--listen runs without a "
                             "config file)");
        if (a->env_name)
            return fail(err, "--env needs a config file; it cannot go with --listen");
        if (a->n_command == 0)
            return fail(err, "--listen needs the command to run after --: "
                             "baton run --listen ADDR -- CMD [ARG...]");
    } else if (a->n_command > 0) {
        return fail(err, "a command after -- needs --listen ADDR (or app.command in the config "
                         "file)");
    }
    return 0;
}

static int parse_command_options(int argc, char **argv, int i, struct baton_cli_args *a,
                                 struct baton_buf *err)
{
    const char *cmd = baton__cli_command_name(a->command);
    int r;

    for (; i < argc; i++) {
        const char *arg = argv[i], *value;
        const struct option_spec *spec;

        if (strcmp(arg, "--") == 0) {
            if (a->command != BATON_CLI_RUN) {
                if (i + 1 < argc)
                    return fail(err, "unexpected argument '%s' for 'baton %s'", argv[i + 1], cmd);
                continue;
            }
            for (i++; i < argc; i++)
                push(&a->command_argv, &a->n_command, argv[i]);
            break;
        }
        if ((arg[0] != '-' || arg[1] == '\0') && !a->positional &&
            (a->command == BATON_CLI_DEPLOY || a->command == BATON_CLI_ROLLBACK)) {
            a->positional = arg;
            continue;
        }
        if (arg[0] != '-' || arg[1] == '\0') {
            if (a->command == BATON_CLI_RUN)
                return fail(err,
                            "unexpected argument '%s' (the command goes after --: "
                            "baton run --listen ADDR -- CMD [ARG...])",
                            arg);
            return fail(err, "unexpected argument '%s' for 'baton %s'", arg, cmd);
        }
        spec = option_lookup(arg, &value);
        if (!spec || !(spec->commands & ON(a->command))) {
            int len = (int)strcspn(arg, "=");
            return fail(err, "unknown option '%.*s' for 'baton %s'", len, arg, cmd);
        }
        if (spec->id == OPT_HELP) {
            if (value)
                return fail(err, "unknown option '%s' for 'baton %s'", arg, cmd);
            a->help_topic = a->command;
            a->command = BATON_CLI_HELP;
            return 0;
        }
        if (!spec->has_value && value)
            return fail(err, "option '--%s' takes no value", spec->name);
        if (spec->has_value && !value) {
            if (i + 1 >= argc)
                return fail(err, "option '%s' needs a value", arg);
            value = argv[++i];
        }
        if ((r = apply(a, spec, arg, value, err)) < 0)
            return r;
    }
    if (a->command == BATON_CLI_RUN)
        return check_run(a, err);
    if (a->command == BATON_CLI_DEPLOY && !a->positional)
        return fail(err, "baton deploy needs the artifact: baton deploy FILE.tar.gz");
    return 0;
}

int baton__cli_parse(int argc, char **argv, struct baton_cli_args *ret, struct baton_buf *err)
{
    struct baton_cli_args *a = ret;
    const char *first;

    memset(a, 0, sizeof(*a));
    a->command = BATON_CLI_USAGE;
    a->help_topic = BATON_CLI_USAGE;
    a->config_path = BATON_CLI_DEFAULT_CONFIG;
    a->timeout_ms = 0;

    if (argc < 2)
        return fail(err, "a command is needed");
    first = argv[1];
    if (strcmp(first, "-h") == 0 || strcmp(first, "--help") == 0) {
        a->command = BATON_CLI_HELP;
        return argc > 2 ? fail(err, "unexpected argument '%s' after --help", argv[2]) : 0;
    }
    if (strcmp(first, "--version") == 0) {
        a->command = BATON_CLI_VERSION;
        return argc > 2 ? fail(err, "unexpected argument '%s' after --version", argv[2]) : 0;
    }
    if (strcmp(first, "help") == 0) {
        a->command = BATON_CLI_HELP;
        if (argc > 3)
            return fail(err, "unexpected argument '%s' for 'baton help'", argv[3]);
        if (argc == 3 && command_lookup(argv[2], &a->help_topic) < 0)
            return fail(err, "unknown command '%s'", argv[2]);
        return 0;
    }
    if (first[0] == '-')
        return fail(err,
                    "unknown option '%s' (options go after the command, like "
                    "'baton status -s SOCKET')",
                    first);
    if (command_lookup(first, &a->command) < 0)
        return fail(err, "unknown command '%s'", first);

    if (a->command == BATON_CLI_CONFIG) {
        /* `baton config` parses its own options (cmd-config.c): argv[0] is "config". */
        a->sub_argc = argc - 1;
        a->sub_argv = argv + 1;
        return 0;
    }
    if (a->command == BATON_CLI_STOP)
        a->timeout_ms = BATON_CLI_DEFAULT_STOP_TIMEOUT_MS;
    return parse_command_options(argc, argv, 2, a, err);
}

void baton__cli_args_free(struct baton_cli_args *args)
{
    for (size_t i = 0; i < args->n_sets; i++)
        free(args->sets[i]);
    free(args->sets);
    free(args->listen);
    free(args->command_argv);
    args->sets = args->listen = args->command_argv = NULL;
    args->n_sets = args->n_listen = args->n_command = 0;
}
