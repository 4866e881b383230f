/* SPDX-License-Identifier: MIT */
/*
 * The layers (src/config/layers.c): the file (and why it cannot be read), the env file beside
 * it, BATON_<SECTION>_<KEY> variables and --set.
 */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "fixture.h"

static void reports_io_errors(void **state)
{
    struct result res = load("baton.yaml", NULL, NULL, NULL);
    assert_int_equal(res.r, -ENOENT);
    assert_string_equal(res.err, "baton.yaml: No such file or directory\n");

    assert_int_equal(mkdir("conf", 0700), 0);
    res = load("conf", NULL, NULL, NULL);
    assert_int_equal(res.r, -EISDIR);
    assert_string_equal(res.err, "conf: Is a directory\n");

    assert_int_equal(mkfifo("fifo.yaml", 0600), 0);
    res = load("fifo.yaml", NULL, NULL, NULL);
    assert_int_equal(res.r, -EINVAL);
    assert_string_equal(res.err, "fifo.yaml: not a regular file\n");

    FILE *f = fopen("big.yaml", "w");
    assert_non_null(f);
    for (int i = 0; i < 120000; i++)
        fputs("# padding\n", f);
    fputs("app: {command: [x]}\n", f);
    fclose(f);
    res = load("big.yaml", NULL, NULL, NULL);
    assert_int_equal(res.r, -EFBIG);
    assert_string_equal(res.err, "big.yaml: larger than 1 MiB\n");
}

static void applies_environment(void **state)
{
    char *env[] = {"PATH=/bin",
                   "BATON_APP_WORKERS=4",
                   "BATON_APP_DRAIN_TIMEOUT=5s",
                   "BATON_LOG_FORMAT=json",
                   "BATON_APP_RESTART_MAX=1m",
                   "BATON_LISTEN_HTTP=127.0.0.1:9000",
                   "BATON_LISTEN_ADMIN=unix:admin.sock",
                   "BATON_APP_ENV_GREETING=hi there",
                   "BATON_METRICS_LISTEN=",
                   "BATON_ENV=",
                   "BATON_SOCKET=/x",
                   "BATON_TEST_MARKER=abc",
                   "BATON_GENERATION=4",
                   "BATON_BUILD_DIR=/b",
                   NULL};
    write_file("baton.yaml", "listen: {http: ':8080'}\napp: {command: [x], workers: 2}\n");
    struct result res = load("baton.yaml", NULL, env, NULL);
    assert_string_equal(res.err, "");
    struct baton_config *c = res.config;
    assert_int_equal(c->app.workers, 4);
    assert_int_equal(c->app.drain_timeout_ms, 5000);
    assert_true(c->log.format_set);
    assert_int_equal(c->log.format, BATON_LOG_JSON);
    assert_int_equal(c->app.restart_max_ms, 60000);
    assert_int_equal(c->n_listen, 2);
    assert_string_equal(c->listen[0].name, "http");
    assert_string_equal(c->listen[0].text, "127.0.0.1:9000");
    assert_string_equal(c->listen[1].name, "admin");
    assert_string_equal(c->listen[1].address.u.un.sun_path, in_dir("admin.sock"));
    assert_string_equal(c->app.env[0], "GREETING=hi there");
    assert_null(c->metrics.listen);
    assert_string_equal(origin(c, "app.workers"), "BATON_APP_WORKERS");
    assert_string_equal(origin(c, "app.restart.max"), "BATON_APP_RESTART_MAX");
    assert_string_equal(origin(c, "listen.http"), "BATON_LISTEN_HTTP");
    assert_string_equal(origin(c, "app.env.GREETING"), "BATON_APP_ENV_GREETING");
    /* BATON_METRICS_LISTEN= (empty: null) sets the key to none, from the environment. */
    assert_string_equal(origin(c, "metrics.listen"), "BATON_METRICS_LISTEN");
    baton__config_free(c);

    char *bad[] = {"BATON_APP_WRKERS=4", "BATON_APP_WORKERS=-1", "BATON_APP_COMMAND=x",
                   "BATON_CANARY_SPEED=3", NULL};
    res = load("baton.yaml", NULL, bad, NULL);
    assert_int_equal(res.r, -EINVAL);
    assert_string_equal(
        res.err,
        "environment BATON_APP_WRKERS: unknown configuration variable (did you mean "
        "BATON_APP_WORKERS?)\n"
        "environment BATON_APP_WORKERS: app.workers must be a positive integer, not '-1'\n"
        "environment BATON_APP_COMMAND: app.command is a list: set it in the file or with --set "
        "'app.command=...'\n"
        "environment BATON_CANARY_SPEED: unknown configuration variable: BATON_<SECTION>_<KEY> "
        "names a key of the file, such as BATON_APP_WORKERS\n");
}

static void applies_env_file(void **state)
{
    write_file("baton.yaml", "listen:\n  http: 127.0.0.1:8080\n"
                             "app:\n  command: [server]\n  workers: 2\n  env: {A: '1', B: '2'}\n");
    write_file("baton.prod.yaml", "listen:\n  admin: 127.0.0.1:8081\n"
                                  "app:\n  workers: 8\n  env: {B: three}\n");
    struct result res = load("baton.yaml", "prod", NULL, NULL);
    assert_string_equal(res.err, "");
    struct baton_config *c = res.config;
    assert_int_equal(c->app.workers, 8);
    assert_int_equal(c->n_listen, 2);
    assert_string_equal(c->listen[1].name, "admin");
    assert_int_equal(c->app.n_env, 2);
    assert_string_equal(c->app.env[0], "A=1");
    assert_string_equal(c->app.env[1], "B=three");
    assert_string_equal(c->app.command[0], "server");
    assert_string_equal(origin(c, "app.workers"), "baton.prod.yaml:4:3");
    assert_string_equal(origin(c, "app.env.A"), "baton.yaml:6:9");
    assert_string_equal(origin(c, "app.env.B"), "baton.prod.yaml:5:9");
    assert_string_equal(origin(c, "listen.admin"), "baton.prod.yaml:2:3");
    baton__config_free(c);

    /* BATON_ENV picks it too; --env wins over BATON_ENV. */
    char *env[] = {"BATON_ENV=prod", NULL};
    res = load("baton.yaml", NULL, env, NULL);
    assert_int_equal(res.r, 0);
    assert_int_equal(res.config->app.workers, 8);
    baton__config_free(res.config);

    res = load("baton.yaml", "staging", env, NULL);
    assert_int_equal(res.r, -ENOENT);
    assert_string_equal(res.err, "baton.staging.yaml: No such file or directory (the file of --env "
                                 "staging)\n");
    res = load("baton.yaml", "../x", NULL, NULL);
    assert_int_equal(res.r, -EINVAL);
    assert_string_equal(res.err,
                        "--env: bad environment name '../x': use letters, digits, '_', '-'\n");

    /* Errors in the env file name the env file. */
    write_file("baton.bad.yaml", "app:\n  workers: many\n");
    res = load("baton.yaml", "bad", NULL, NULL);
    assert_string_equal(
        res.err, "baton.bad.yaml:2:12: app.workers must be a positive integer, not 'many'\n");

    /* The env file sits beside the main file, named after it. */
    assert_int_equal(mkdir("conf", 0700), 0);
    write_file("conf/site.json", "{\"app\": {\"command\": [\"s\"]}}");
    write_file("conf/site.dev.json", "{\"app\": {\"workers\": 3}}");
    res = load("conf/site.json", "dev", NULL, NULL);
    assert_string_equal(res.err, "");
    assert_int_equal(res.config->app.workers, 3);
    assert_string_equal(origin(res.config, "app.workers"), "conf/site.dev.json:1:10");
    assert_string_equal(res.config->name, "conf");
    baton__config_free(res.config);
}

static void applies_set(void **state)
{
    write_file("baton.yaml", "listen: {http: ':8080'}\napp: {command: [x], workers: 2}\n");
    char *env[] = {"BATON_APP_WORKERS=4", NULL};
    char *sets[] = {"app.workers=6",
                    "app.command=[bin/server, --port, \"80\"]",
                    "listen.http=[::1]:8080",
                    "listen.metrics2=unix:m.sock",
                    "app.env.MODE=fast",
                    "app.restart={initial: 1s, max: 2m}",
                    "name=\"quoted name\"",
                    "metrics.listen=~",
                    NULL};
    struct result res = load("baton.yaml", NULL, env, sets);
    assert_string_equal(res.err, "");
    struct baton_config *c = res.config;
    assert_int_equal(c->app.workers, 6);
    assert_int_equal(c->app.n_command, 3);
    assert_string_equal(c->app.command[0], "bin/server");
    assert_string_equal(c->app.command[2], "80");
    assert_string_equal(c->listen[0].text, "[::1]:8080");
    assert_int_equal(c->listen[0].address.u.sa.sa_family, AF_INET6);
    assert_string_equal(c->listen[1].name, "metrics2");
    assert_string_equal(c->app.env[0], "MODE=fast");
    assert_int_equal(c->app.restart_initial_ms, 1000);
    assert_int_equal(c->app.restart_max_ms, 120000);
    assert_string_equal(c->name, "quoted name");
    assert_null(c->metrics.listen);
    assert_string_equal(origin(c, "app.workers"), "--set");
    assert_string_equal(origin(c, "app.command"), "--set");
    assert_string_equal(origin(c, "app.restart.max"), "--set");
    baton__config_free(c);

    char *bad[] = {
        "app.wrkers=4", "app.workers", "app.workers=x", "app.command=[a, b", "app.workers.x=1",
        "=3",           NULL};
    res = load("baton.yaml", NULL, NULL, bad);
    assert_int_equal(res.r, -EINVAL);
    assert_string_equal(res.err,
                        "--set app.wrkers=4: unknown key 'wrkers' in app (did you mean "
                        "'workers'?)\n"
                        "--set app.workers: expected KEY=VALUE, such as app.workers=4\n"
                        "--set app.workers=x: app.workers must be a positive integer, not 'x'\n"
                        "--set app.command=[a, b: bad YAML value: flow sequence without a "
                        "closing bracket (the one opened at 1:1)\n"
                        "--set app.workers.x=1: app.workers has no keys under it\n"
                        "--set =3: expected KEY=VALUE, such as app.workers=4\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(reports_io_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(applies_environment, setup, teardown),
        cmocka_unit_test_setup_teardown(applies_env_file, setup, teardown),
        cmocka_unit_test_setup_teardown(applies_set, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
