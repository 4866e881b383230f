/* SPDX-License-Identifier: MIT */
/*
 * baton__config_load() (src/config/config.c): the checks on the merged result, every error
 * at once, relative paths, the no-config form, the tolerant control-socket read, and the
 * one-file load of another schema.
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

static void reports_missing_command(void **state)
{
    expect_error("name: x\n", "baton.yaml:1:1: app.command is required: the program that starts "
                              "a worker and its arguments, such as command: [bin/server, --port, "
                              "\"8080\"]\n");
    expect_error("name: x\napp:\n  workers: 2\n",
                 "baton.yaml:2:1: app.command is required: the program that starts a worker and "
                 "its arguments, such as command: [bin/server, --port, \"8080\"]\n");
    expect_error("", "baton.yaml:1:1: app.command is required: the program that starts a worker "
                     "and its arguments, such as command: [bin/server, --port, \"8080\"]\n");
}

static void reports_every_error_at_once(void **state)
{
    expect_error("listen:\n  http: 127.0.0.1:8080\n  api: 127.0.0.1:8080\n"
                 "app:\n  workers: -1\n  drain_timeout: soon\n  colour: blue\n",
                 "baton.yaml:5:12: app.workers must be a positive integer, not '-1'\n"
                 "baton.yaml:6:18: app.drain_timeout: bad duration 'soon': use 250ms, 30s, 5m\n"
                 "baton.yaml:7:3: unknown key 'colour' in app\n"
                 "baton.yaml:4:1: app.command is required: the program that starts a worker and "
                 "its arguments, such as command: [bin/server, --port, \"8080\"]\n"
                 "baton.yaml:3:8: listen.api: address 127.0.0.1:8080 is already used by "
                 "listener 'http'\n");
    expect_error("listen:\n  http: 127.0.0.1:8080\n  api: 127.0.0.1:8080\napp: {command: [x]}\n",
                 "baton.yaml:3:8: listen.api: address 127.0.0.1:8080 is already used by "
                 "listener 'http'\n");
    expect_error("listen:\n  'a b': :80\napp: {command: [x]}\n",
                 "baton.yaml:2:3: listener name 'a b' must be 1 to 64 letters, digits, '_', '-' "
                 "or '.'\n");
}

static void resolves_relative_paths(void **state)
{
    assert_int_equal(mkdir("etc", 0700), 0);
    write_file("etc/baton.yaml", "listen: {local: unix:run/app.sock, abs: unix:/tmp/x.sock}\n"
                                 "app: {command: [bin/x], dir: ./app}\n"
                                 "control: {socket: ctl/baton.sock}\n");
    struct result res = load("etc/baton.yaml", NULL, NULL, NULL);
    assert_string_equal(res.err, "");
    struct baton_config *c = res.config;
    assert_string_equal(c->path, in_dir("etc/baton.yaml"));
    assert_string_equal(c->dir, in_dir("etc"));
    assert_string_equal(c->name, "etc");
    assert_string_equal(c->listen[0].address.u.un.sun_path, in_dir("etc/run/app.sock"));
    assert_string_equal(c->listen[0].text, "unix:run/app.sock");
    assert_string_equal(c->listen[1].address.u.un.sun_path, "/tmp/x.sock");
    assert_string_equal(c->app.dir, in_dir("etc/app"));
    assert_string_equal(c->app.command[0], "bin/x"); /* run from app.dir, not rewritten */
    assert_string_equal(c->control.socket, in_dir("etc/ctl/baton.sock"));
    assert_string_equal(origin(c, "listen.local"), "etc/baton.yaml:1:10");
    baton__config_free(c);

    char path[PATH_MAX * 2];
    snprintf(path, sizeof(path), "%s", in_dir("etc/baton.yaml"));
    res = load(path, NULL, NULL, NULL);
    assert_int_equal(res.r, 0);
    assert_string_equal(res.config->app.dir, in_dir("etc/app"));
    baton__config_free(res.config);

    /* A socket path too long for sun_path is caught here, not at bind time. */
    char longname[200];
    memset(longname, 'a', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    char text[400];
    snprintf(text, sizeof(text), "app: {command: [x]}\ncontrol: {socket: %s}\n", longname);
    write_file("baton.yaml", text);
    res = load("baton.yaml", NULL, NULL, NULL);
    assert_int_equal(res.r, -EINVAL);
    assert_non_null(strstr(res.err, "baton.yaml:2:19: control.socket: path '"));
    assert_non_null(strstr(res.err, "' is longer than 107 bytes\n"));
}

static void no_config_form(void **state)
{
    char *listen[] = {"127.0.0.1:8080", "unix:app.sock", "[::1]:0"};
    char *command[] = {"/usr/bin/python3", "-m", "http.server"};
    char *sets[] = {"app.workers=3", "app.ready=delay:1s", NULL};
    struct baton_buf err = BATON_BUF_INIT(BATON_BUF_UNBOUNDED);
    struct baton_config_options o = {.listen = listen,
                                     .n_listen = 3,
                                     .command = command,
                                     .n_command = 3,
                                     .sets = sets,
                                     .n_sets = 2,
                                     .environ = no_environ};
    struct baton_config *c = NULL;

    assert_int_equal(baton__config_load(&o, &c, &err), 0);
    assert_null(c->path);
    assert_string_equal(c->dir, fx->dir);
    assert_string_equal(c->name, "python3");
    assert_int_equal(c->n_listen, 3);
    assert_string_equal(c->listen[0].name, "http");
    assert_string_equal(c->listen[1].name, "http2");
    assert_string_equal(c->listen[2].name, "http3");
    assert_string_equal(c->listen[1].address.u.un.sun_path, in_dir("app.sock"));
    assert_int_equal(c->app.n_command, 3);
    assert_string_equal(c->app.command[2], "http.server");
    assert_int_equal(c->app.workers, 3);
    assert_int_equal(c->app.ready, BATON_READY_DELAY);
    assert_int_equal(c->app.ready_delay_ms, 1000);
    assert_string_equal(c->app.dir, fx->dir);
    assert_string_equal(c->control.socket, in_dir("baton.sock"));
    assert_string_equal(origin(c, "listen.http"), "--listen");
    assert_string_equal(origin(c, "app.command"), "command line");
    assert_string_equal(origin(c, "app.workers"), "--set");
    baton__config_free(c);

    char *bad_listen[] = {"nowhere"};
    o.listen = bad_listen;
    o.n_listen = 1;
    o.n_command = 0;
    assert_int_equal(baton__config_load(&o, &c, &err), -EINVAL);
    assert_string_equal(err.data,
                        "--listen nowhere: listen.http: bad address 'nowhere': expected "
                        "host:port, [IPv6]:port, :port or unix:/path\n"
                        "command line: a command is required: baton run --listen ADDR -- CMD "
                        "[ARG...]\n");
    baton__buf_free(&err);
}

/* The control socket of a broken file: its own value when valid, else the default beside it. */
static void control_socket_of_a_broken_file(void **state)
{
    struct baton_config_options o = {.path = "baton.yaml", .environ = no_environ};
    struct baton_buf err = BATON_BUF_INIT(BATON_BUF_UNBOUNDED);
    char *socket = NULL;

    write_file("baton.yaml", "app: {command: [x]}\ncontrol: {socket: run/ctl.sock}\n");
    assert_int_equal(baton__config_control_socket(&o, &socket, &err), 0);
    assert_string_equal(socket, in_dir("run/ctl.sock"));
    assert_null(err.data);
    free(socket);
    socket = NULL;

    /* Errors elsewhere: the socket is still the file's, and the errors are all there. */
    write_file("baton.yaml", "app: {workers: many}\ncontrol: {socket: run/ctl.sock}\n");
    assert_int_equal(baton__config_control_socket(&o, &socket, &err), -EINVAL);
    assert_string_equal(socket, in_dir("run/ctl.sock"));
    assert_string_equal(err.data, "baton.yaml:1:16: app.workers must be a positive integer, not "
                                  "'many'\nbaton.yaml:1:1: app.command is required: the program "
                                  "that starts a worker and its arguments, such as command: "
                                  "[bin/server, --port, \"8080\"]\n");
    free(socket);
    socket = NULL;
    baton__buf_reset(&err);

    /* The socket's own value is bad, or the file is not YAML: the default beside the file. */
    static const char *const broken[] = {
        "app: {command: [x]}\ncontrol: {socket: ''}\n",
        "app: {command: [x]}\ncontrol: {socket: run/ctl.sock\n",
    };
    for (size_t i = 0; i < 2; i++) {
        write_file("baton.yaml", broken[i]);
        assert_int_equal(baton__config_control_socket(&o, &socket, &err), -EINVAL);
        assert_string_equal(socket, in_dir("baton.sock"));
        assert_true(strncmp(err.data, "baton.yaml:", 11) == 0);
        free(socket);
        socket = NULL;
        baton__buf_reset(&err);
    }

    /* A file that cannot be read names no socket. */
    o.path = "missing.yaml";
    assert_int_equal(baton__config_control_socket(&o, &socket, &err), -ENOENT);
    assert_null(socket);
    assert_string_equal(err.data, "missing.yaml: No such file or directory\n");
    baton__buf_free(&err);
}

/* A second schema over the same loader: its own key table and target. */
struct other {
    uint64_t size;
    bool on;
    char *dir;
    uint64_t wait_ms;
    unsigned customs;
};

static void count_custom(struct config_loader *l, const struct config_layer *layer, int index,
                         const struct config_node *at, const struct config_node *value)
{
    struct other *o = l->target;
    if (value && value->type != NODE_SEQ)
        baton__config_error(l, layer, value, "items must be a list");
    else if (value)
        o->customs += (unsigned)value->n_items;
}

static const struct config_key other_keys[] = {
    {"", KEY_SECTION, 0, 0, 0, false, NULL, false},
    {"size", KEY_SIZE, offsetof(struct other, size), 1, 1 << 20, false, NULL, false},
    {"on", KEY_BOOL, offsetof(struct other, on), 0, 0, false, NULL, false},
    {"dir", KEY_PATH, offsetof(struct other, dir), 0, 0, false, NULL, false},
    {"items", KEY_CUSTOM, 0, 0, 0, false, NULL, false},
    {"wait", KEY_SECTION, 0, 0, 0, false, NULL, false},
    {"wait.max", KEY_DURATION, offsetof(struct other, wait_ms), 0, 0, false, NULL, false},
    {"later", KEY_UINT, 0, 0, 10, false, NULL, true},
};
static const struct config_schema other_schema = {other_keys, 8, count_custom};

static void loads_another_schema(void **state)
{
    struct other o = {0};
    struct baton_buf err = BATON_BUF_INIT(BATON_BUF_UNBOUNDED);

    assert_int_equal(mkdir("etc", 0700), 0);
    write_file("etc/other.yaml", "size: 8KiB\non: yes\ndir: www\nitems: [a, b, c]\n"
                                 "wait: {max: 1m}\n");
    assert_int_equal(baton__config_load_file(&other_schema, "etc/other.yaml", &o, NULL, &err), 0);
    assert_null(err.data);
    assert_int_equal(o.size, 8192);
    assert_true(o.on);
    assert_string_equal(o.dir, in_dir("etc/www"));
    assert_int_equal(o.customs, 3);
    assert_int_equal(o.wait_ms, 60000);
    free(o.dir);

    write_file("other.yaml", "sise: 1MiB\non: maybe\nitems: x\nwait: {mxa: 1s}\nsize: 2MiB\n"
                             "later: 1\n");
    assert_int_equal(baton__config_load_file(&other_schema, "other.yaml", &o, NULL, &err), -EINVAL);
    assert_string_equal(err.data, "other.yaml:1:1: unknown key 'sise' (did you mean 'size'?)\n"
                                  "other.yaml:2:5: on must be true or false, not 'maybe'\n"
                                  "other.yaml:3:8: items must be a list\n"
                                  "other.yaml:4:8: unknown key 'mxa' in wait (did you mean "
                                  "'max'?)\n"
                                  "other.yaml:5:7: size must be from 1 to 1MiB, not '2MiB'\n"
                                  "other.yaml:6:1: later: not supported yet\n");
    baton__buf_reset(&err);
    assert_int_equal(baton__config_load_file(&other_schema, "nothere.yaml", &o, NULL, &err),
                     -ENOENT);
    assert_string_equal(err.data, "nothere.yaml: No such file or directory\n");
    baton__buf_free(&err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(reports_missing_command, setup, teardown),
        cmocka_unit_test_setup_teardown(reports_every_error_at_once, setup, teardown),
        cmocka_unit_test_setup_teardown(resolves_relative_paths, setup, teardown),
        cmocka_unit_test_setup_teardown(no_config_form, setup, teardown),
        cmocka_unit_test_setup_teardown(control_socket_of_a_broken_file, setup, teardown),
        cmocka_unit_test_setup_teardown(loads_another_schema, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
