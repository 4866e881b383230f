/* SPDX-License-Identifier: MIT */
/* The shared fixture of the configuration library's tests (fixture.h). */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "fixture.h"

struct fixture *fx;
char *const no_environ[] = {NULL};

int setup(void **state)
{
    fx = calloc(1, sizeof(*fx));
    assert_non_null(getcwd(fx->old_cwd, sizeof(fx->old_cwd)));
    snprintf(fx->dir, sizeof(fx->dir), "/tmp/baton-test-config-XXXXXX");
    assert_non_null(mkdtemp(fx->dir));
    assert_int_equal(chdir(fx->dir), 0);
    *state = fx;
    return 0;
}

int teardown(void **state)
{
    char cmd[PATH_MAX + 16];
    assert_int_equal(chdir(fx->old_cwd), 0);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx->dir);
    assert_int_equal(system(cmd), 0);
    free(fx);
    return 0;
}

void write_file(const char *name, const char *text)
{
    FILE *f = fopen(name, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

struct result load(const char *path, const char *env_name, char *const *env, char *const *sets)
{
    struct result res = {0};
    struct baton_buf err = BATON_BUF_INIT(1 << 20);
    struct baton_config_options o = {
        .path = path, .env_name = env_name, .environ = env ? env : no_environ};
    size_t n = 0;
    while (sets && sets[n])
        n++;
    o.sets = sets;
    o.n_sets = n;
    res.r = baton__config_load(&o, &res.config, &err);
    snprintf(res.err, sizeof(res.err), "%s", err.data ? err.data : "");
    baton__buf_free(&err);
    if (res.r < 0)
        assert_null(res.config);
    else
        assert_non_null(res.config);
    return res;
}

void expect_error(const char *text, const char *expected)
{
    write_file("baton.yaml", text);
    struct result res = load("baton.yaml", NULL, NULL, NULL);
    if (res.r != -EINVAL || strcmp(res.err, expected) != 0)
        fprintf(stderr, "input:\n%s\ngot %d:\n%s\nwanted:\n%s\n", text, res.r, res.err, expected);
    assert_int_equal(res.r, -EINVAL);
    assert_string_equal(res.err, expected);
}

const char *origin(const struct baton_config *c, const char *key)
{
    const struct baton_config_origin *o = baton__config_origin_get(c, key);
    return o ? o->origin : "(none)";
}

char *in_dir(const char *rel)
{
    static char buf[PATH_MAX * 2];
    snprintf(buf, sizeof(buf), "%s/%s", fx->dir, rel);
    return buf;
}

const char design_example[] =
    "name: hello\n"
    "listen:                        # name: address; fd order follows this order\n"
    "  http: 127.0.0.1:8080         # host:port, [::1]:port, :port, unix:/path\n"
    "  admin: unix:run/admin.sock\n"
    "app:\n"
    "  command: [bin/baton-web, --module, modules/hello.so]\n"
    "  dir: .                       # relative paths are relative to the config file\n"
    "  env: {APP_ENV: production, PORT: 8080}\n"
    "  workers: 2\n"
    "  strategy: blue-green\n"
    "  max_surge: 3\n"
    "  ready: delay:2s\n"
    "  ready_timeout: 45s\n"
    "  stop_signal: SIGINT\n"
    "  reload_signal: 10\n"
    "  drain_timeout: 1m30s\n"
    "  max_draining: 4\n"
    "  user: www-data\n"
    "  restart: {initial: 250ms, max: 1m}\n"
    "control:\n"
    "  socket: baton.sock\n"
    "  group: staff\n"
    "log:\n"
    "  format: json\n"
    "  level: warning\n"
    "tcp:\n"
    "  defer_accept: 0s\n";
