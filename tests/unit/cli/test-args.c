/* SPDX-License-Identifier: MIT */
/* The `baton` command line (DESIGN.md "Command line", a contract): every command, option form
 * and usage error, through the pure parser. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cli/args.h"

#define MAX_ARGS 32

/* argv storage outlives each parse: the parsed args point into it. */
static char *argv_store[MAX_ARGS + 1];
static struct baton_cli_args args;
static struct baton_buf err = BATON_BUF_INIT(BATON_BUF_UNBOUNDED);

/* Parses "baton" followed by the NULL-terminated arguments. */
static int parse(const char *first, ...)
{
    va_list ap;
    int argc = 0;

    baton__cli_args_free(&args);
    baton__buf_reset(&err);
    argv_store[argc++] = "baton";
    va_start(ap, first);
    for (const char *a = first; a; a = va_arg(ap, const char *)) {
        assert_true(argc < MAX_ARGS);
        argv_store[argc++] = (char *)a;
    }
    va_end(ap);
    argv_store[argc] = NULL;
    return baton__cli_parse(argc, argv_store, &args, &err);
}

/* Asserts a usage error whose message holds `needle`. */
static void assert_usage_error(int r, const char *needle)
{
    assert_int_equal(r, -EINVAL);
    assert_non_null(err.data);
    if (!strstr(err.data, needle))
        fail_msg("error '%s' lacks '%s'", err.data, needle);
}

static void no_command_is_usage(void **state)
{
    assert_usage_error(parse(NULL), "a command is needed");
    assert_int_equal(args.command, BATON_CLI_USAGE);
    assert_usage_error(parse("frobnicate", NULL), "unknown command 'frobnicate'");
    assert_usage_error(parse("-c", "x.yaml", "status", NULL), "options go after the command");
}

static void help_forms(void **state)
{
    assert_int_equal(parse("--help", NULL), 0);
    assert_int_equal(args.command, BATON_CLI_HELP);
    assert_int_equal(args.help_topic, BATON_CLI_USAGE);
    assert_int_equal(parse("-h", NULL), 0);
    assert_int_equal(args.command, BATON_CLI_HELP);
    assert_int_equal(parse("help", NULL), 0);
    assert_int_equal(args.help_topic, BATON_CLI_USAGE);
    assert_int_equal(parse("help", "reload", NULL), 0);
    assert_int_equal(args.command, BATON_CLI_HELP);
    assert_int_equal(args.help_topic, BATON_CLI_RELOAD);
    assert_usage_error(parse("help", "nope", NULL), "unknown command 'nope'");
    assert_usage_error(parse("help", "run", "more", NULL), "unexpected argument 'more'");

    static const char *commands[] = {"run", "reload", "status", "stop", "version"};
    static const enum baton_cli_command ids[] = {BATON_CLI_RUN, BATON_CLI_RELOAD, BATON_CLI_STATUS,
                                                 BATON_CLI_STOP, BATON_CLI_VERSION};
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        assert_int_equal(parse(commands[i], "--help", NULL), 0);
        assert_int_equal(args.command, BATON_CLI_HELP);
        assert_int_equal(args.help_topic, ids[i]);
        assert_int_equal(parse(commands[i], "-h", NULL), 0);
        assert_int_equal(args.help_topic, ids[i]);
    }
}

static void version_forms(void **state)
{
    assert_int_equal(parse("version", NULL), 0);
    assert_int_equal(args.command, BATON_CLI_VERSION);
    assert_int_equal(parse("--version", NULL), 0);
    assert_int_equal(args.command, BATON_CLI_VERSION);
    assert_usage_error(parse("version", "--json", NULL), "unknown option '--json'");
    assert_usage_error(parse("version", "extra", NULL), "unexpected argument 'extra'");
}

static void run_with_config(void **state)
{
    assert_int_equal(parse("run", NULL), 0);
    assert_int_equal(args.command, BATON_CLI_RUN);
    assert_string_equal(args.config_path, "baton.yaml");
    assert_false(args.config_given);
    assert_int_equal(args.n_sets, 0);

    assert_int_equal(parse("run", "-c", "/etc/app.yaml", "--env", "prod", "--set", "app.workers=4",
                           "--set=log.level=debug", NULL),
                     0);
    assert_string_equal(args.config_path, "/etc/app.yaml");
    assert_true(args.config_given);
    assert_string_equal(args.env_name, "prod");
    assert_int_equal(args.n_sets, 2);
    assert_string_equal(args.sets[0], "app.workers=4");
    assert_string_equal(args.sets[1], "log.level=debug");
    assert_null(args.sets[2]);

    /* Every value form: -cFILE, --config=FILE, --config FILE. */
    assert_int_equal(parse("run", "-cone.yaml", NULL), 0);
    assert_string_equal(args.config_path, "one.yaml");
    assert_int_equal(parse("run", "--config=two.yaml", NULL), 0);
    assert_string_equal(args.config_path, "two.yaml");
    assert_int_equal(parse("run", "--config", "three.yaml", NULL), 0);
    assert_string_equal(args.config_path, "three.yaml");
}

static void run_usage_errors(void **state)
{
    assert_usage_error(parse("run", "--set", "novalue", NULL), "--set needs KEY=VALUE");
    assert_usage_error(parse("run", "--set", "=4", NULL), "--set needs KEY=VALUE");
    assert_usage_error(parse("run", "--set", NULL), "option '--set' needs a value");
    assert_usage_error(parse("run", "-c", NULL), "option '-c' needs a value");
    assert_usage_error(parse("run", "--config=", NULL), "needs a file name");
    assert_usage_error(parse("run", "--json", NULL), "unknown option '--json' for 'baton run'");
    assert_usage_error(parse("run", "-s", "x.sock", NULL), "unknown option '-s'");
    assert_usage_error(parse("run", "server", NULL), "the command goes after --");
    assert_usage_error(parse("run", "--", "./server", NULL), "needs --listen");
    assert_usage_error(parse("run", "--bogus=1", NULL), "unknown option '--bogus'");
    assert_usage_error(parse("run", "--help=x", NULL), "unknown option '--help=x'");
}

static void run_without_config(void **state)
{
    assert_int_equal(parse("run", "--listen", "127.0.0.1:8080", "--listen=unix:/tmp/a.sock",
                           "--workers", "3", "--ready", "delay:2s", "--", "./server", "--port",
                           "-x", "--", NULL),
                     0);
    assert_int_equal(args.command, BATON_CLI_RUN);
    assert_int_equal(args.n_listen, 2);
    assert_string_equal(args.listen[0], "127.0.0.1:8080");
    assert_string_equal(args.listen[1], "unix:/tmp/a.sock");
    /* Everything after the first "--" is the command, options and "--" included. */
    assert_int_equal(args.n_command, 4);
    assert_string_equal(args.command_argv[0], "./server");
    assert_string_equal(args.command_argv[1], "--port");
    assert_string_equal(args.command_argv[2], "-x");
    assert_string_equal(args.command_argv[3], "--");
    assert_null(args.command_argv[4]);
    /* --workers and --ready become settings, in command-line order. */
    assert_int_equal(args.n_sets, 2);
    assert_string_equal(args.sets[0], "app.workers=3");
    assert_string_equal(args.sets[1], "app.ready=delay:2s");

    assert_int_equal(parse("run", "--listen", ":8080", "--ready=notify", "--", "srv", NULL), 0);
    assert_string_equal(args.sets[0], "app.ready=notify");
    assert_int_equal(
        parse("run", "--set", "app.workers=9", "--listen", ":1", "--workers=2", "--", "srv", NULL),
        0);
    assert_string_equal(args.sets[0], "app.workers=9");
    assert_string_equal(args.sets[1], "app.workers=2"); /* the later one wins when applied */
}

static void run_without_config_errors(void **state)
{
    assert_usage_error(parse("run", "--listen", ":8080", NULL),
                       "needs the command to run after --");
    assert_usage_error(parse("run", "--listen", ":8080", "--", NULL),
                       "needs the command to run after --");
    assert_usage_error(parse("run", "--listen", ":8080", "srv", NULL), "the command goes after --");
    assert_usage_error(parse("run", "-c", "a.yaml", "--listen", ":8080", "--", "srv", NULL),
                       "exclude each other");
    assert_usage_error(parse("run", "--env", "prod", "--listen", ":8080", "--", "srv", NULL),
                       "--env needs a config file");
    assert_usage_error(parse("run", "--listen", "", "--", "srv", NULL), "needs an address");
    static const char *bad_workers[] = {"0", "-1", "two", "3x", "", "70000", "+2"};
    for (size_t i = 0; i < sizeof(bad_workers) / sizeof(bad_workers[0]); i++)
        assert_usage_error(
            parse("run", "--listen", ":1", "--workers", bad_workers[i], "--", "srv", NULL),
            "--workers needs");
    static const char *bad_ready[] = {"",         "delay", "delay:", "delay:2",
                                      "delay:2x", "ready", "NOTIFY"};
    for (size_t i = 0; i < sizeof(bad_ready) / sizeof(bad_ready[0]); i++)
        assert_usage_error(
            parse("run", "--listen", ":1", "--ready", bad_ready[i], "--", "srv", NULL),
            "--ready needs 'notify' or 'delay:DURATION'");
}

static void reload_options(void **state)
{
    assert_int_equal(parse("reload", NULL), 0);
    assert_int_equal(args.command, BATON_CLI_RELOAD);
    assert_false(args.wait);
    assert_false(args.in_place);
    assert_false(args.json);
    assert_false(args.timeout_given);
    assert_int_equal(args.timeout_ms, 0);
    assert_null(args.socket_path);
    assert_string_equal(args.config_path, "baton.yaml");

    assert_int_equal(parse("reload", "--in-place", "--wait", "--timeout", "1m30s", "--json", "-s",
                           "/run/baton.sock", NULL),
                     0);
    assert_true(args.in_place);
    assert_true(args.wait);
    assert_true(args.json);
    assert_true(args.timeout_given);
    assert_int_equal(args.timeout_ms, 90000);
    assert_string_equal(args.socket_path, "/run/baton.sock");

    assert_int_equal(parse("reload", "--timeout=250ms", "--socket=/x.sock", "-c", "b.yaml", NULL),
                     0);
    assert_int_equal(args.timeout_ms, 250);
    assert_string_equal(args.socket_path, "/x.sock");
    assert_string_equal(args.config_path, "b.yaml");
    assert_true(args.config_given);

    assert_usage_error(parse("reload", "--timeout", "soon", NULL), "invalid duration 'soon'");
    assert_usage_error(parse("reload", "--timeout", "30", NULL), "invalid duration '30'");
    assert_usage_error(parse("reload", "--timeout", NULL), "needs a value");
    assert_usage_error(parse("reload", "--wait=yes", NULL), "option '--wait' takes no value");
    assert_usage_error(parse("reload", "--fast", NULL),
                       "unknown option '--fast' for 'baton reload'");
    assert_usage_error(parse("reload", "now", NULL), "unexpected argument 'now'");
    assert_usage_error(parse("reload", "--", "now", NULL), "unexpected argument 'now'");
    assert_usage_error(parse("reload", "-s", "", NULL), "needs a socket path");
    assert_usage_error(parse("reload", "--set", "a=b", NULL), "unknown option '--set'");
}

static void status_options(void **state)
{
    assert_int_equal(parse("status", NULL), 0);
    assert_int_equal(args.command, BATON_CLI_STATUS);
    assert_false(args.json);
    assert_int_equal(parse("status", "--json", "-s/tmp/b.sock", NULL), 0);
    assert_true(args.json);
    assert_string_equal(args.socket_path, "/tmp/b.sock");
    assert_usage_error(parse("status", "--wait", NULL),
                       "unknown option '--wait' for 'baton status'");
    assert_usage_error(parse("status", "--timeout", "5s", NULL), "unknown option '--timeout'");
    assert_usage_error(parse("status", "-x", NULL), "unknown option '-x'");
    assert_usage_error(parse("status", "-", NULL), "unexpected argument '-'");
}

static void stop_options(void **state)
{
    assert_int_equal(parse("stop", NULL), 0);
    assert_int_equal(args.command, BATON_CLI_STOP);
    assert_false(args.fast);
    assert_int_equal(args.timeout_ms, BATON_CLI_DEFAULT_STOP_TIMEOUT_MS);
    assert_int_equal(parse("stop", "--fast", "--timeout", "5s", NULL), 0);
    assert_true(args.fast);
    assert_int_equal(args.timeout_ms, 5000);
    assert_int_equal(parse("stop", "--timeout", "0", NULL), 0);
    assert_int_equal(args.timeout_ms, 0);
    assert_usage_error(parse("stop", "--json", NULL), "unknown option '--json' for 'baton stop'");
    assert_usage_error(parse("stop", "--in-place", NULL), "unknown option");
}

static void deploy_options(void **state)
{
    assert_int_equal(parse("deploy", "app-1.4.0.tar.gz", "--version", "1.4.0", "--allow-downgrade",
                           "--dry-run", "--wait", "--json", "-s", "/tmp/b.sock", NULL),
                     0);
    assert_int_equal(args.command, BATON_CLI_DEPLOY);
    assert_string_equal(args.positional, "app-1.4.0.tar.gz");
    assert_string_equal(args.version, "1.4.0");
    assert_true(args.allow_downgrade && args.dry_run && args.wait && args.json);
    assert_usage_error(parse("deploy", NULL), "baton deploy needs the artifact");
    assert_usage_error(parse("deploy", "a.tar.gz", "b.tar.gz", NULL),
                       "unexpected argument 'b.tar.gz' for 'baton deploy'");
    assert_usage_error(parse("deploy", "a.tar.gz", "--version", NULL), "needs a value");
    assert_usage_error(parse("deploy", "a.tar.gz", "--in-place", NULL), "unknown option");

    assert_int_equal(parse("rollback", NULL), 0);
    assert_int_equal(args.command, BATON_CLI_ROLLBACK);
    assert_null(args.positional);
    assert_int_equal(parse("rollback", "1.3.2", "--wait", NULL), 0);
    assert_string_equal(args.positional, "1.3.2");
    assert_usage_error(parse("rollback", "--dry-run", NULL), "unknown option '--dry-run'");

    assert_int_equal(parse("releases", "--json", NULL), 0);
    assert_int_equal(args.command, BATON_CLI_RELEASES);
    assert_usage_error(parse("releases", "1.0", NULL), "unexpected argument '1.0'");
}

static void config_is_passed_through(void **state)
{
    assert_int_equal(parse("config", "-c", "x.yaml", "--env", "prod", "--whatever", NULL), 0);
    assert_int_equal(args.command, BATON_CLI_CONFIG);
    assert_int_equal(args.sub_argc, 6);
    assert_string_equal(args.sub_argv[0], "config");
    assert_string_equal(args.sub_argv[5], "--whatever");
    assert_null(args.sub_argv[6]);
}

static void command_names(void **state)
{
    assert_string_equal(baton__cli_command_name(BATON_CLI_RUN), "run");
    assert_string_equal(baton__cli_command_name(BATON_CLI_STOP), "stop");
    assert_null(baton__cli_command_name(BATON_CLI_HELP));
}

static int teardown(void **state)
{
    baton__cli_args_free(&args);
    baton__buf_free(&err);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(no_command_is_usage),
        cmocka_unit_test(help_forms),
        cmocka_unit_test(version_forms),
        cmocka_unit_test(run_with_config),
        cmocka_unit_test(run_usage_errors),
        cmocka_unit_test(run_without_config),
        cmocka_unit_test(run_without_config_errors),
        cmocka_unit_test(reload_options),
        cmocka_unit_test(status_options),
        cmocka_unit_test(stop_options),
        cmocka_unit_test(deploy_options),
        cmocka_unit_test(config_is_passed_through),
        cmocka_unit_test(command_names),
    };
    return cmocka_run_group_tests(tests, NULL, teardown);
}
