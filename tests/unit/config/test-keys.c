/* SPDX-License-Identifier: MIT */
/*
 * The key table of baton.yaml (src/config/keys.c): every key, the defaults, the values each type
 * takes and refuses, keys not supported yet, and "did you mean".
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

static void parses_every_key(void **state)
{
    write_file("baton.yaml", design_example);
    struct result res = load("baton.yaml", NULL, NULL, NULL);
    assert_string_equal(res.err, "");
    assert_int_equal(res.r, 0);
    struct baton_config *c = res.config;

    assert_string_equal(c->path, in_dir("baton.yaml"));
    assert_string_equal(c->dir, fx->dir);
    assert_string_equal(c->name, "hello");
    assert_int_equal(c->n_listen, 2);
    assert_string_equal(c->listen[0].name, "http");
    assert_string_equal(c->listen[0].text, "127.0.0.1:8080");
    assert_int_equal(c->listen[0].address.u.sa.sa_family, AF_INET);
    assert_int_equal(baton__address_port(&c->listen[0].address), 8080);
    assert_string_equal(c->listen[1].name, "admin");
    assert_int_equal(c->listen[1].address.u.sa.sa_family, AF_UNIX);
    assert_string_equal(c->listen[1].address.u.un.sun_path, in_dir("run/admin.sock"));

    assert_int_equal(c->app.n_command, 3);
    assert_string_equal(c->app.command[0], "bin/baton-web");
    assert_string_equal(c->app.command[2], "modules/hello.so");
    assert_null(c->app.command[3]);
    assert_string_equal(c->app.dir, fx->dir);
    assert_int_equal(c->app.n_env, 2);
    assert_string_equal(c->app.env[0], "APP_ENV=production");
    assert_string_equal(c->app.env[1], "PORT=8080");
    assert_null(c->app.env[2]);
    assert_int_equal(c->app.workers, 2);
    assert_int_equal(c->app.strategy, BATON_STRATEGY_BLUE_GREEN);
    assert_int_equal(c->app.max_surge, 3);
    assert_int_equal(c->app.ready, BATON_READY_DELAY);
    assert_int_equal(c->app.ready_delay_ms, 2000);
    assert_int_equal(c->app.ready_timeout_ms, 45000);
    assert_int_equal(c->app.stop_signal, SIGINT);
    assert_int_equal(c->app.reload_signal, SIGUSR1);
    assert_int_equal(c->app.drain_timeout_ms, 90000);
    assert_int_equal(c->app.max_draining, 4);
    assert_string_equal(c->app.user, "www-data");
    assert_int_equal(c->app.restart_initial_ms, 250);
    assert_int_equal(c->app.restart_max_ms, 60000);
    assert_string_equal(c->control.socket, in_dir("baton.sock"));
    assert_string_equal(c->control.group, "staff");
    assert_null(c->metrics.listen);
    assert_true(c->log.format_set);
    assert_int_equal(c->log.format, BATON_LOG_JSON);
    assert_int_equal(c->log.level, BATON_LOG_WARNING);
    assert_int_equal(c->tcp.defer_accept_ms, 0);

    /* Origins point at the key, as the user gave the file's name. */
    assert_string_equal(origin(c, "name"), "baton.yaml:1:1");
    assert_string_equal(origin(c, "listen.http"), "baton.yaml:3:3");
    assert_string_equal(origin(c, "listen.admin"), "baton.yaml:4:3");
    assert_string_equal(origin(c, "app.command"), "baton.yaml:6:3");
    assert_string_equal(origin(c, "app.env.PORT"), "baton.yaml:8:30");
    assert_string_equal(origin(c, "app.workers"), "baton.yaml:9:3");
    assert_string_equal(origin(c, "app.restart.max"), "baton.yaml:19:29");
    assert_string_equal(origin(c, "log.level"), "baton.yaml:25:3");
    baton__config_free(c);
}

static void applies_defaults(void **state)
{
    write_file("baton.yaml", "app:\n  command: [server]\n");
    struct result res = load("baton.yaml", NULL, NULL, NULL);
    assert_int_equal(res.r, 0);
    struct baton_config *c = res.config;
    const char *base = strrchr(fx->dir, '/') + 1;

    assert_string_equal(c->name, base);
    assert_string_equal(origin(c, "name"), "default");
    assert_int_equal(c->n_listen, 0);
    assert_string_equal(c->app.dir, fx->dir);
    assert_int_equal(c->app.n_env, 0);
    assert_non_null(c->app.env == NULL ? (void *)1 : c->app.env);
    assert_int_equal(c->app.workers, 1);
    assert_int_equal(c->app.strategy, BATON_STRATEGY_ROLLING);
    assert_int_equal(c->app.max_surge, 1);
    assert_int_equal(c->app.ready, BATON_READY_NOTIFY);
    assert_int_equal(c->app.ready_timeout_ms, 30000);
    assert_int_equal(c->app.stop_signal, SIGTERM);
    assert_int_equal(c->app.reload_signal, SIGHUP);
    assert_int_equal(c->app.drain_timeout_ms, 30000);
    assert_int_equal(c->app.max_draining, 2);
    assert_null(c->app.user);
    assert_int_equal(c->app.restart_initial_ms, 100);
    assert_int_equal(c->app.restart_max_ms, 30000);
    assert_int_equal(c->tcp.defer_accept_ms, 1000);
    assert_string_equal(c->control.socket, in_dir("baton.sock"));
    assert_null(c->control.group);
    assert_null(c->metrics.listen);
    assert_false(c->log.format_set);
    assert_int_equal(c->log.level, BATON_LOG_INFO);
    assert_null(c->release.root);
    assert_int_equal(c->release.keep, 5);
    assert_null(c->release.trust);
    assert_int_equal(c->release.probation_ms, 10000);
    assert_null(c->release.source_url);
    assert_int_equal(c->release.source_interval_ms, 60000);
    assert_int_equal(c->canary.workers, 1);
    assert_int_equal(c->canary.duration_ms, 60000);
    assert_true(c->canary.max_error_rate > 0.0099 && c->canary.max_error_rate < 0.0101);
    assert_int_equal(c->canary.min_requests, 200);
    assert_string_equal(origin(c, "app.workers"), "default");
    assert_string_equal(origin(c, "app.command"), "baton.yaml:2:3");
    baton__config_free(c);
}

static void reports_unknown_keys(void **state)
{
    expect_error("app:\n  command: [x]\n  wrkers: 2\n",
                 "baton.yaml:3:3: unknown key 'wrkers' in app (did you mean 'workers'?)\n");
    expect_error("nmae: x\napp: {command: [x]}\n",
                 "baton.yaml:1:1: unknown key 'nmae' (did you mean 'name'?)\n");
    expect_error("app:\n  command: [x]\n  restart:\n    maximum: 1s\n",
                 "baton.yaml:4:5: unknown key 'maximum' in app.restart\n");
    expect_error("app:\n  command: [x]\n  workers: 1\n  workers: 2\n",
                 "baton.yaml:4:3: duplicate key 'workers' (first at 3:3)\n");
}

static void reports_bad_values(void **state)
{
    expect_error("app:\n  command: [x]\n  drain_timeout: 30 sec\n",
                 "baton.yaml:3:18: app.drain_timeout: bad duration '30 sec': use 250ms, 30s, 5m\n");
    expect_error("app:\n  command: [x]\n  workers: -1\n",
                 "baton.yaml:3:12: app.workers must be a positive integer, not '-1'\n");
    expect_error("app:\n  command: [x]\n  workers: 0\n",
                 "baton.yaml:3:12: app.workers must be a positive integer, not '0'\n");
    expect_error("app:\n  command: [x]\n  workers: 100000\n",
                 "baton.yaml:3:12: app.workers must be at most 1024, not '100000'\n");
    expect_error("listen:\n  http: 127.0.0.1:99999\napp: {command: [x]}\n",
                 "baton.yaml:2:9: listen.http: bad address '127.0.0.1:99999': port must be a "
                 "number from 0 to 65535\n");
    expect_error("app:\n  command: [x]\n  strategy: canary\n",
                 "baton.yaml:3:13: app.strategy must be rolling or blue-green, not 'canary'\n");
    expect_error("app:\n  command: [x]\n  ready: later\n",
                 "baton.yaml:3:10: app.ready must be notify or delay:<duration> (delay:2s), not "
                 "'later'\n");
    expect_error("app:\n  command: [x]\n  ready: delay:soon\n",
                 "baton.yaml:3:10: app.ready: bad duration 'soon' in 'delay:soon': use 250ms, "
                 "30s, 5m\n");
    expect_error("app:\n  command: [x]\n  stop_signal: TERMINATE\n",
                 "baton.yaml:3:16: app.stop_signal: unknown signal 'TERMINATE': use a name or "
                 "number (TERM, SIGTERM, 15)\n");
    expect_error("app:\n  command: [x]\n  reload_signal: KILL\n",
                 "baton.yaml:3:18: app.reload_signal cannot be KILL: a worker cannot handle it\n");
    expect_error("app: {command: [x]}\nlog: {format: xml, level: loud}\n",
                 "baton.yaml:2:15: log.format must be json or text, not 'xml'\n"
                 "baton.yaml:2:27: log.level must be debug, info, notice, warning or error, not "
                 "'loud'\n");
    expect_error("app:\n  command: [x]\n  restart: {initial: 1m}\n",
                 "baton.yaml:3:22: app.restart.initial (1m) must not be longer than "
                 "app.restart.max (30s)\n");
}

/* Keys of features not built yet are refused at their place in every layer; null sets nothing. */
static void refuses_keys_not_supported_yet(void **state)
{
    expect_error("app: {command: [x]}\nlog: {level: info}\ncanary:\n  workers: 2\n",
                 "baton.yaml:4:3: canary.workers: not supported yet\n");
    expect_error("app:\n  command: [x]\n  probe: {path: /healthz}\n"
                 "canary: {workers: 1, min_requests: 5}\n",
                 "baton.yaml:4:10: canary.workers: not supported yet\n"
                 "baton.yaml:4:22: canary.min_requests: not supported yet\n");
    /* Even a bad value gets the same answer: the key is the problem, not its value. */
    expect_error("app: {command: [x]}\ncanary: {workers: many}\n",
                 "baton.yaml:2:10: canary.workers: not supported yet\n");

    write_file("baton.yaml", "app: {command: [x]}\n");
    char *env[] = {"BATON_CANARY_DURATION=1m", NULL};
    struct result res = load("baton.yaml", NULL, env, NULL);
    assert_int_equal(res.r, -EINVAL);
    assert_string_equal(res.err, "environment BATON_CANARY_DURATION: canary.duration: not "
                                 "supported yet\n");
    char *sets[] = {"canary={workers: 2}", "canary.duration=1s", NULL};
    res = load("baton.yaml", NULL, NULL, sets);
    assert_int_equal(res.r, -EINVAL);
    assert_string_equal(res.err, "--set canary={workers: 2}: canary.workers: not supported yet\n"
                                 "--set canary.duration=1s: canary.duration: not supported yet\n");

    /* Null (an empty variable, ~, an empty section) sets nothing and is accepted. */
    write_file("baton.yaml", "app: {command: [x], probe: ~}\ncanary:\n");
    char *null_env[] = {"BATON_CANARY_WORKERS=", NULL};
    char *null_sets[] = {"canary.workers=~", NULL};
    res = load("baton.yaml", NULL, null_env, null_sets);
    assert_string_equal(res.err, "");
    assert_null(res.config->release.root);
    baton__config_free(res.config);
}

/* app.probe: off without a path; each key's values, in every layer. */
static void parses_app_probe(void **state)
{
    write_file("baton.yaml", "app: {command: [x]}\n");
    struct result res = load("baton.yaml", NULL, NULL, NULL);
    assert_int_equal(res.r, 0);
    assert_null(res.config->app.probe.path);
    assert_int_equal(res.config->app.probe.timeout_ms, 2000);
    assert_int_equal(res.config->app.probe.interval_ms, 5000);
    assert_int_equal(res.config->app.probe.expect, 200);
    baton__config_free(res.config);

    write_file("baton.yaml", "app:\n  command: [x]\n  probe: {path: /healthz?full=1, timeout: "
                             "500ms}\n");
    char *env[] = {"BATON_APP_PROBE_INTERVAL=1m", NULL};
    char *sets[] = {"app.probe.expect=204", NULL};
    res = load("baton.yaml", NULL, env, sets);
    assert_string_equal(res.err, "");
    assert_int_equal(res.r, 0);
    assert_string_equal(res.config->app.probe.path, "/healthz?full=1");
    assert_int_equal(res.config->app.probe.timeout_ms, 500);
    assert_int_equal(res.config->app.probe.interval_ms, 60000);
    assert_int_equal(res.config->app.probe.expect, 204);
    assert_string_equal(origin(res.config, "app.probe.path"), "baton.yaml:3:11");
    assert_string_equal(origin(res.config, "app.probe.interval"), "BATON_APP_PROBE_INTERVAL");
    assert_string_equal(origin(res.config, "app.probe.expect"), "--set");
    baton__config_free(res.config);

    expect_error("app:\n  command: [x]\n  probe: {path: healthz}\n",
                 "baton.yaml:3:17: app.probe.path must be a request path starting with '/' "
                 "(/healthz), without spaces, not 'healthz'\n");
    expect_error("app:\n  command: [x]\n  probe: {path: \"/a b\"}\n",
                 "baton.yaml:3:17: app.probe.path must be a request path starting with '/' "
                 "(/healthz), without spaces, not '/a b'\n");
    expect_error("app:\n  command: [x]\n  probe: {path: /, timeout: 0ms, interval: 0s}\n",
                 "baton.yaml:3:29: app.probe.timeout must be at least 1ms, not '0ms'\n"
                 "baton.yaml:3:44: app.probe.interval must be at least 1ms, not '0s'\n");
    expect_error("app:\n  command: [x]\n  probe: {path: /, expect: 42}\n",
                 "baton.yaml:3:28: app.probe.expect must be an integer from 100 to 599, not "
                 "'42'\n");
    expect_error("app:\n  command: [x]\n  probe: {path: /, expect: ok}\n",
                 "baton.yaml:3:28: app.probe.expect must be an integer from 100 to 599, not "
                 "'ok'\n");
    expect_error("app:\n  command: [x]\n  probe: {path: /, intervall: 1s}\n",
                 "baton.yaml:3:20: unknown key 'intervall' in app.probe (did you mean "
                 "'interval'?)\n");
    expect_error("app:\n  command: [x]\n  probe: {expect: 204}\n",
                 "baton.yaml:3:19: app.probe.expect is set but app.probe.path is not: the probe "
                 "needs the path it asks for, such as path: /healthz\n");
    expect_error("app:\n  command: [x]\n  probe: /healthz\n",
                 "baton.yaml:3:10: app.probe must be a mapping of keys, not a value\n");
}

/* Signal keys go through src/common/signal.c (tested there): names, numbers, any case. */
static void parses_signals(void **state)
{
    write_file("baton.yaml", "app: {command: [x], stop_signal: quit, reload_signal: SIGUSR2}\n");
    struct result res = load("baton.yaml", NULL, NULL, NULL);
    assert_int_equal(res.r, 0);
    assert_int_equal(res.config->app.stop_signal, SIGQUIT);
    assert_int_equal(res.config->app.reload_signal, SIGUSR2);
    baton__config_free(res.config);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(parses_every_key, setup, teardown),
        cmocka_unit_test_setup_teardown(applies_defaults, setup, teardown),
        cmocka_unit_test_setup_teardown(reports_unknown_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(reports_bad_values, setup, teardown),
        cmocka_unit_test_setup_teardown(refuses_keys_not_supported_yet, setup, teardown),
        cmocka_unit_test_setup_teardown(parses_signals, setup, teardown),
        cmocka_unit_test_setup_teardown(parses_app_probe, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
