/* SPDX-License-Identifier: MIT */
/*
 * baton-web's --config file (src/web/config.c): every key into its option, only what the file
 * sets changes, listen and modules add to what is there, and errors come from the
 * configuration library (FILE:LINE:COLUMN, "did you mean"). Runs in a temporary directory.
 */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "web/web.h"

static char dir[PATH_MAX], old_cwd[PATH_MAX];

static int setup(void **state)
{
    assert_non_null(getcwd(old_cwd, sizeof(old_cwd)));
    snprintf(dir, sizeof(dir), "/tmp/baton-test-web-config-XXXXXX");
    assert_non_null(mkdtemp(dir));
    assert_int_equal(chdir(dir), 0);
    return 0;
}

static int teardown(void **state)
{
    char cmd[PATH_MAX + 16];
    assert_int_equal(chdir(old_cwd), 0);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    return 0;
}

static void write_file(const char *name, const char *text)
{
    FILE *f = fopen(name, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

static void reads_every_key(void **state)
{
    struct baton__web_options o = {.server = BATON__SERVER_CONFIG_DEFAULT};
    struct baton_buf err = BATON_BUF_INIT(BATON_BUF_UNBOUNDED);
    char want[PATH_MAX + 32];

    o.listen[o.nlisten++] = strdup("127.0.0.1:1"); /* given before: kept, the file's added */
    write_file("web.yaml", "listen: [':8080', '[::1]:0']\n"
                           "modules:\n  - a.so\n  - {path: /abs/b.so, config: {n: 1, s: x}}\n"
                           "static: public\naccess_log: yes\ndev: on\n"
                           "limits: {header_bytes: 16KiB, header_count: 50, uri_bytes: 2048,\n"
                           "         body_bytes: 1GB, connections: 100}\n"
                           "timeouts: {header: 1s, body: 2s, keepalive: 3s, send: 4s, linger: 5s,\n"
                           "           drain_grace: 6ms, drain: 1m}\n");
    assert_int_equal(baton__web_config_load("web.yaml", &o, &err), 0);
    assert_null(err.data);
    assert_int_equal(o.nlisten, 3);
    assert_string_equal(o.listen[0], "127.0.0.1:1");
    assert_string_equal(o.listen[1], ":8080");
    assert_string_equal(o.listen[2], "[::1]:0");
    assert_int_equal(o.nmodules, 2);
    snprintf(want, sizeof(want), "%s/a.so", dir);
    assert_string_equal(o.modules[0].path, want);
    assert_null(o.modules[0].config);
    assert_string_equal(o.modules[1].path, "/abs/b.so");
    assert_string_equal(o.modules[1].config, "{\"n\":1,\"s\":\"x\"}");
    snprintf(want, sizeof(want), "%s/public", dir);
    assert_string_equal(o.static_root, want);
    assert_true(o.access_log && o.dev);
    assert_int_equal(o.server.limits.header_bytes, 16384);
    assert_int_equal(o.server.limits.header_count, 50);
    assert_int_equal(o.server.limits.uri_bytes, 2048);
    assert_int_equal(o.server.limits.body_bytes, 1000000000);
    assert_int_equal(o.server.max_connections, 100);
    assert_int_equal(o.server.header_timeout_ms, 1000);
    assert_int_equal(o.server.body_timeout_ms, 2000);
    assert_int_equal(o.server.keepalive_timeout_ms, 3000);
    assert_int_equal(o.server.send_timeout_ms, 4000);
    assert_int_equal(o.server.linger_ms, 5000);
    assert_int_equal(o.server.drain_grace_ms, 6);
    assert_int_equal(o.server.drain_timeout_ms, 60000);
    baton__web_options_free(&o);
}

static void keeps_what_the_file_does_not_set(void **state)
{
    struct baton__web_options o = {.server = BATON__SERVER_CONFIG_DEFAULT};
    struct baton__server_config defaults = BATON__SERVER_CONFIG_DEFAULT;
    struct baton_buf err = BATON_BUF_INIT(BATON_BUF_UNBOUNDED);

    o.static_root = strdup("/srv/www");
    o.server.max_connections = 7;
    write_file("web.yaml", "timeouts: {header: 2s}\nlimits:\n");
    assert_int_equal(baton__web_config_load("web.yaml", &o, &err), 0);
    assert_string_equal(o.static_root, "/srv/www");
    assert_int_equal(o.server.max_connections, 7);
    assert_int_equal(o.server.header_timeout_ms, 2000);
    assert_int_equal(o.server.body_timeout_ms, defaults.body_timeout_ms);
    assert_int_equal(o.server.limits.body_bytes, defaults.limits.body_bytes);
    baton__web_options_free(&o);

    write_file("empty.yaml", "");
    assert_int_equal(baton__web_config_load("empty.yaml", &o, &err), 0);
    assert_int_equal(o.nlisten + o.nmodules, 0);
    baton__web_options_free(&o);
}

static void errors_have_places_and_hints(void **state)
{
    struct baton__web_options o = {.server = BATON__SERVER_CONFIG_DEFAULT};
    struct baton_buf err = BATON_BUF_INIT(BATON_BUF_UNBOUNDED);

    write_file("web.yaml", "listen: nowhere\nacces_log: true\nlimits:\n  header_count: 10001\n"
                           "  body_bytes: 2TiB\ntimeouts: {drain: 1200h}\nmodules: [{path: ''}]\n");
    assert_int_equal(baton__web_config_load("web.yaml", &o, &err), -EINVAL);
    assert_string_equal(err.data,
                        "web.yaml:1:9: listen: bad address 'nowhere': expected host:port, "
                        "[IPv6]:port, :port or unix:/path\n"
                        "web.yaml:2:1: unknown key 'acces_log' (did you mean 'access_log'?)\n"
                        "web.yaml:4:17: limits.header_count must be at most 10000, not '10001'\n"
                        "web.yaml:5:15: limits.body_bytes must be from 0 to 1TiB, not '2TiB'\n"
                        "web.yaml:6:19: timeouts.drain: duration '1200h' is too long (at most 49 "
                        "days)\n"
                        "web.yaml:7:18: modules: expected a file name or {path: FILE, config: "
                        "...}\n");
    baton__web_options_free(&o);
    baton__buf_free(&err);

    assert_int_equal(baton__web_config_load("missing.yaml", &o, &err), -ENOENT);
    assert_string_equal(err.data, "missing.yaml: No such file or directory\n");
    baton__buf_free(&err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(reads_every_key, setup, teardown),
        cmocka_unit_test_setup_teardown(keeps_what_the_file_does_not_set, setup, teardown),
        cmocka_unit_test_setup_teardown(errors_have_places_and_hints, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
