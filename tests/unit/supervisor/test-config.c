/*
 * The configuration loader: every key, the defaults, each layer and its origins, and each
 * class of error with its exact FILE:LINE:COL. Each test runs in a fresh temporary directory
 * (the current directory), so file names appear in messages as given: "baton.yaml:3:3".
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

#include "supervisor/config-internal.h"
#include "supervisor/config.h"

struct fixture {
    char dir[PATH_MAX];
    char old_cwd[PATH_MAX];
};

static struct fixture *fx;
static char *const no_environ[] = {NULL};

static int setup(void **state)
{
    fx = calloc(1, sizeof(*fx));
    assert_non_null(getcwd(fx->old_cwd, sizeof(fx->old_cwd)));
    snprintf(fx->dir, sizeof(fx->dir), "/tmp/baton-test-config-XXXXXX");
    assert_non_null(mkdtemp(fx->dir));
    assert_int_equal(chdir(fx->dir), 0);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    char cmd[PATH_MAX + 16];
    assert_int_equal(chdir(fx->old_cwd), 0);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx->dir);
    assert_int_equal(system(cmd), 0);
    free(fx);
    return 0;
}

static void write_file(const char *name, const char *text)
{
    FILE *f = fopen(name, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

/* Loads `path` with the given environment and --set list; returns the error text (static). */
struct result {
    int r;
    struct baton_config *config;
    char err[8192];
};

static struct result load(const char *path, const char *env_name, char *const *env,
                          char *const *sets)
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

/* Loads text as baton.yaml and expects exactly `expected` (all error lines) and -EINVAL. */
static void expect_error(const char *text, const char *expected)
{
    write_file("baton.yaml", text);
    struct result res = load("baton.yaml", NULL, NULL, NULL);
    if (res.r != -EINVAL || strcmp(res.err, expected) != 0)
        fprintf(stderr, "input:\n%s\ngot %d:\n%s\nwanted:\n%s\n", text, res.r, res.err, expected);
    assert_int_equal(res.r, -EINVAL);
    assert_string_equal(res.err, expected);
}

static const char *origin(const struct baton_config *c, const char *key)
{
    const struct baton_config_origin *o = baton__config_origin_get(c, key);
    return o ? o->origin : "(none)";
}

static char *in_dir(const char *rel)
{
    static char buf[PATH_MAX * 2];
    snprintf(buf, sizeof(buf), "%s/%s", fx->dir, rel);
    return buf;
}

static const char design_example[] =
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
    "metrics:\n"
    "  listen: 127.0.0.1:9100\n"
    "log:\n"
    "  format: json\n"
    "  level: warning\n"
    "release:\n"
    "  root: /srv/hello\n"
    "  keep: 7\n"
    "  trust: minisign.pub\n"
    "  probation: 15s\n"
    "  source: {url: \"https://updates.example.com/hello/latest.json\", interval: 2m}\n"
    "canary:\n"
    "  workers: 2\n"
    "  duration: 90s\n"
    "  max_error_rate: 0.05\n"
    "  min_requests: 500\n";

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
    assert_string_equal(c->metrics.listen, "127.0.0.1:9100");
    assert_true(c->log.format_set);
    assert_int_equal(c->log.format, BATON_LOG_JSON);
    assert_int_equal(c->log.level, BATON_LOG_WARNING);
    assert_string_equal(c->release.root, "/srv/hello");
    assert_int_equal(c->release.keep, 7);
    assert_string_equal(c->release.trust, in_dir("minisign.pub"));
    assert_int_equal(c->release.probation_ms, 15000);
    assert_string_equal(c->release.source_url, "https://updates.example.com/hello/latest.json");
    assert_int_equal(c->release.source_interval_ms, 120000);
    assert_int_equal(c->canary.workers, 2);
    assert_int_equal(c->canary.duration_ms, 90000);
    assert_true(c->canary.max_error_rate > 0.0499 && c->canary.max_error_rate < 0.0501);
    assert_int_equal(c->canary.min_requests, 500);

    /* Origins point at the key, as the user gave the file's name. */
    assert_string_equal(origin(c, "name"), "baton.yaml:1:1");
    assert_string_equal(origin(c, "listen.http"), "baton.yaml:3:3");
    assert_string_equal(origin(c, "listen.admin"), "baton.yaml:4:3");
    assert_string_equal(origin(c, "app.command"), "baton.yaml:6:3");
    assert_string_equal(origin(c, "app.env.PORT"), "baton.yaml:8:30");
    assert_string_equal(origin(c, "app.workers"), "baton.yaml:9:3");
    assert_string_equal(origin(c, "app.restart.max"), "baton.yaml:19:29");
    assert_string_equal(origin(c, "canary.min_requests"), "baton.yaml:38:3");
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
    expect_error("app: {command: [x]}\ncanary: {max_error_rate: 2}\n",
                 "baton.yaml:2:26: canary.max_error_rate must be a number from 0 to 1 (0.01) or a "
                 "percentage (1%), not '2'\n");
    expect_error("app: {command: [x]}\nrelease:\n  source: {url: ftp://x}\n",
                 "baton.yaml:3:17: release.source.url must be an http://, https:// or file:// "
                 "URL, not 'ftp://x'\n");
    expect_error("app: {command: [x]}\nmetrics: {listen: nowhere}\n",
                 "baton.yaml:2:19: metrics.listen: bad address 'nowhere': expected host:port, "
                 "[IPv6]:port, :port or unix:/path\n");
    expect_error("app:\n  command: [x]\n  restart: {initial: 1m}\n",
                 "baton.yaml:3:22: app.restart.initial (1m) must not be longer than "
                 "app.restart.max (30s)\n");
}

static void reports_wrong_types(void **state)
{
    expect_error("app:\n  command: [x]\n  workers: [1, 2]\n",
                 "baton.yaml:3:12: app.workers must be a positive integer, not a list\n");
    expect_error("app:\n  command: bin/server --port 80\n",
                 "baton.yaml:2:12: app.command must be a list such as [bin/server, --port, "
                 "\"8080\"]: commands never go through a shell\n");
    expect_error("app:\n  command: []\n",
                 "baton.yaml:2:12: app.command must be a non-empty list: the program and its "
                 "arguments, [bin/server, --port, \"8080\"]\n");
    expect_error("app:\n  command: [x, {a: b}]\n",
                 "baton.yaml:2:16: app.command[1] must be a string, not a mapping\n");
    expect_error("app:\n  command: [x]\n  env: [A=b]\n",
                 "baton.yaml:3:8: app.env must be a mapping (NAME: value), not a list\n");
    expect_error("app:\n  command: [x]\n  env: {A: [b]}\n",
                 "baton.yaml:3:12: app.env.A must be a string, not a list (write \"\" for an "
                 "empty one)\n");
    expect_error("listen: 127.0.0.1:80\napp: {command: [x]}\n",
                 "baton.yaml:1:9: listen must be a mapping (http: 127.0.0.1:8080), not a "
                 "value\n");
    expect_error("app: [x]\n", "baton.yaml:1:6: app must be a mapping of keys, not a list\n");
    expect_error("- a\n- b\n", "baton.yaml:1:1: the configuration must be a mapping of keys "
                               "(name: value), not a list\n");
}

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

static void reports_syntax_errors(void **state)
{
    expect_error("app:\n  command: [x, y\n  workers: 2\n",
                 "baton.yaml:4:1: flow sequence without a closing bracket (the one opened at "
                 "2:12)\n");
    expect_error("app:\n  command: [x]\n workers: 2\n",
                 "baton.yaml:3:2: invalid indentation in mapping\n");
    expect_error("app: {command: [x]}\n---\nname: y\n",
                 "baton.yaml:2:1: only one YAML document is allowed\n");
    expect_error("app: &a {command: [x]}\nname: *a\n",
                 "baton.yaml:2:7: aliases (*a) are not supported\n");
    expect_error("app: {command: [x]}\nname: !include other.yaml\n",
                 "baton.yaml:2:7: tag '!include' is not supported\n");
    expect_error("app: {command: [x]}\nname: \"a\\0b\"\n",
                 "baton.yaml:2:7: a value must not contain a NUL character\n");
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
    write_file("baton.yaml", "listen: {http: ':8080'}\nmetrics: {listen: ':9100'}\n"
                             "app: {command: [x], workers: 2}\n");
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
                    "canary.max_error_rate=2.5%",
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
    assert_true(c->canary.max_error_rate > 0.0249 && c->canary.max_error_rate < 0.0251);
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

static void resolves_relative_paths(void **state)
{
    assert_int_equal(mkdir("etc", 0700), 0);
    write_file("etc/baton.yaml", "listen: {local: unix:run/app.sock, abs: unix:/tmp/x.sock}\n"
                                 "app: {command: [bin/x], dir: ./app}\n"
                                 "control: {socket: ctl/baton.sock}\n"
                                 "metrics: {listen: unix:metrics.sock}\n"
                                 "release: {root: releases, trust: ../keys/minisign.pub}\n");
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
    char want[PATH_MAX * 2 + 8];
    snprintf(want, sizeof(want), "unix:%s", in_dir("etc/metrics.sock"));
    assert_string_equal(c->metrics.listen, want);
    assert_string_equal(c->release.root, in_dir("etc/releases"));
    assert_string_equal(c->release.trust, in_dir("etc/../keys/minisign.pub"));
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

static void parses_signals(void **state)
{
    assert_int_equal(baton__signal_parse("TERM"), SIGTERM);
    assert_int_equal(baton__signal_parse("SIGTERM"), SIGTERM);
    assert_int_equal(baton__signal_parse("15"), SIGTERM);
    assert_int_equal(baton__signal_parse("sigquit"), SIGQUIT);
    assert_int_equal(baton__signal_parse("HUP"), SIGHUP);
    assert_int_equal(baton__signal_parse("USR2"), SIGUSR2);
    assert_int_equal(baton__signal_parse("WINCH"), SIGWINCH);
    assert_int_equal(baton__signal_parse("0"), -EINVAL);
    assert_int_equal(baton__signal_parse("99"), -EINVAL);
    assert_int_equal(baton__signal_parse("015x"), -EINVAL);
    assert_int_equal(baton__signal_parse("SIG"), -EINVAL);
    assert_int_equal(baton__signal_parse(""), -EINVAL);
    assert_int_equal(baton__signal_parse(NULL), -EINVAL);
    assert_string_equal(baton__signal_name(SIGTERM), "TERM");
    assert_string_equal(baton__signal_name(SIGHUP), "HUP");
    assert_string_equal(baton__signal_name(SIGUSR2), "USR2");
    assert_string_equal(baton__signal_name(0), "UNKNOWN");

    write_file("baton.yaml", "app: {command: [x], stop_signal: quit, reload_signal: SIGUSR2}\n");
    struct result res = load("baton.yaml", NULL, NULL, NULL);
    assert_int_equal(res.r, 0);
    assert_int_equal(res.config->app.stop_signal, SIGQUIT);
    assert_int_equal(res.config->app.reload_signal, SIGUSR2);
    baton__config_free(res.config);
}

static void reads_json(void **state)
{
    write_file("baton.json",
               "{\n  \"name\": \"hello\",\n  \"listen\": {\"http\": \"127.0.0.1:8080\"},\n"
               "  \"app\": {\"command\": [\"srv\", \"-v\"], \"workers\": 3,\n"
               "          \"env\": {\"N\": 1}, \"drain_timeout\": \"5s\"}\n}\n");
    struct result res = load("baton.json", NULL, NULL, NULL);
    assert_string_equal(res.err, "");
    struct baton_config *c = res.config;
    assert_string_equal(c->name, "hello");
    assert_int_equal(c->app.workers, 3);
    assert_string_equal(c->app.env[0], "N=1");
    assert_int_equal(c->app.drain_timeout_ms, 5000);
    assert_string_equal(origin(c, "app.workers"), "baton.json:4:37");
    baton__config_free(c);

    write_file("baton.json", "{\"app\": {\"command\": [\"srv\"], \"workers\": \"x\"}}");
    res = load("baton.json", NULL, NULL, NULL);
    assert_string_equal(res.err,
                        "baton.json:1:41: app.workers must be a positive integer, not 'x'\n");
    write_file("baton.json", "{\"app\": {\"command\": [\"srv\"],}");
    res = load("baton.json", NULL, NULL, NULL);
    assert_int_equal(res.r, -EINVAL);
    assert_string_equal(res.err, "baton.json:2:1: missing comma in flow mapping\n");
}

/* A printed YAML line: the value, then its origin in a comment at column 45. */
static const char *line(const char *text, const char *origin)
{
    static char buf[256];
    if (strlen(text) < 42)
        snprintf(buf, sizeof(buf), "%-44s# %s\n", text, origin);
    else
        snprintf(buf, sizeof(buf), "%s  # %s\n", text, origin);
    return buf;
}

/* Prints, loads the printed YAML back, prints again: the same configuration. */
static void prints_and_round_trips(void **state)
{
    write_file("baton.yaml", design_example);
    char *env[] = {"BATON_APP_WORKERS=5", NULL};
    char *sets[] = {"app.env.EMPTY=\"\"", "app.env.ODD='yes'", "name=\"1e3\"", NULL};
    struct result res = load("baton.yaml", NULL, env, sets);
    assert_string_equal(res.err, "");
    struct baton_buf out = BATON_BUF_INIT(BATON_BUF_UNBOUNDED),
                     again = BATON_BUF_INIT(BATON_BUF_UNBOUNDED),
                     json = BATON_BUF_INIT(BATON_BUF_UNBOUNDED);
    assert_int_equal(baton__config_print(res.config, &out, false), 0);

    assert_non_null(strstr(out.data, line("name: \"1e3\"", "--set")));
    assert_non_null(strstr(out.data, line("  workers: 5", "BATON_APP_WORKERS")));
    assert_non_null(strstr(out.data, line("  http: 127.0.0.1:8080", "baton.yaml:3:3")));
    assert_non_null(strstr(out.data, "  command: [bin/baton-web, --module, modules/hello.so]  # "
                                     "baton.yaml:6:3\n"));
    assert_non_null(strstr(out.data, line("  user: www-data", "baton.yaml:18:3")));
    assert_non_null(strstr(out.data, line("  group: staff", "baton.yaml:22:3")));
    assert_non_null(strstr(out.data, line("    url: https://updates.example.com/hello/latest.json",
                                          "baton.yaml:33:12")));
    assert_non_null(strstr(out.data, "    ODD: \"yes\""));
    assert_non_null(strstr(out.data, "    PORT: \"8080\""));
    assert_non_null(strstr(out.data, "  restart:\n    initial: 250ms"));
    assert_non_null(strstr(out.data, "  stop_signal: INT "));
    assert_non_null(strstr(out.data, "  reload_signal: USR1 "));
    assert_non_null(strstr(out.data, "  ready: delay:2s "));
    assert_non_null(strstr(out.data, "  max_error_rate: 0.05 "));

    write_file("printed.yaml", out.data);
    struct result back = load("printed.yaml", NULL, NULL, NULL);
    assert_string_equal(back.err, "");
    assert_int_equal(baton__config_print(back.config, &again, false), 0);
    /* Same lines but for the origin comments. */
    char *a = out.data, *b = again.data;
    while (*a && *b) {
        size_t la = strcspn(a, "#\n"), lb = strcspn(b, "#\n");
        while (la && a[la - 1] == ' ')
            la--;
        while (lb && b[lb - 1] == ' ')
            lb--;
        assert_int_equal(la, lb);
        assert_memory_equal(a, b, la);
        a = strchr(a, '\n') + 1;
        b = strchr(b, '\n') + 1;
    }
    assert_true(*a == '\0' && *b == '\0');

    assert_int_equal(baton__config_print(res.config, &json, true), 0);
    assert_true(strncmp(json.data,
                        "{\"config\":{\"name\":\"1e3\",\"listen\":{\"http\":"
                        "\"127.0.0.1:8080\",",
                        56) == 0);
    assert_non_null(strstr(json.data, "\"workers\":5,"));
    assert_non_null(strstr(json.data, "\"restart\":{\"initial\":\"250ms\",\"max\":\"1m\"}"));
    assert_non_null(strstr(json.data, "\"origins\":{\"name\":\"--set\",\"listen.http\":"
                                      "\"baton.yaml:3:3\","));
    assert_non_null(strstr(json.data, "\"app.workers\":\"BATON_APP_WORKERS\""));
    assert_non_null(strstr(json.data, "\"app.user\":\"baton.yaml:18:3\""));
    /* The JSON is well-formed: it loads as YAML into one mapping of two mappings. */
    struct config_node *root = NULL;
    struct baton_buf err = BATON_BUF_INIT(BATON_BUF_UNBOUNDED);
    assert_int_equal(baton__config_yaml_parse("json", json.data, json.len, &root, &err), 0);
    assert_int_equal(root->type, NODE_MAP);
    assert_int_equal(root->n_items, 4);
    baton__config_node_free(root);

    baton__buf_free(&err);
    baton__buf_free(&out);
    baton__buf_free(&again);
    baton__buf_free(&json);
    baton__config_free(res.config);
    baton__config_free(back.config);
}

/* Quoted scalars decode as YAML says, including the ones baton decodes itself. */
static void decodes_quoted_scalars(void **state)
{
    static const struct {
        const char *yaml, *value;
    } cases[] = {
        {"'it''s'", "it's"},
        {"'a''''''''''''''''b'", "a''''''''b"},
        {"'x''''\n   y  \n\n  z'", "x'' y\nz"},
        {"'p''''q\n\n\n  r'", "p''q\n\nr"},
        {"\"tab\\there\"", "tab\there"},
        {"plain\n  folded", "plain folded"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char text[256];
        snprintf(text, sizeof(text), "app: {command: [x]}\nname: %s\n", cases[i].yaml);
        write_file("baton.yaml", text);
        struct result res = load("baton.yaml", NULL, NULL, NULL);
        if (strpbrk(cases[i].value, "\n\t")) {
            /* A name is plain text on one line: the decoded control byte is refused. */
            assert_int_equal(res.r, -EINVAL);
            continue;
        }
        assert_string_equal(res.err, "");
        assert_string_equal(res.config->name, cases[i].value);
        baton__config_free(res.config);
    }
    /* Multi-line values through app.env, which takes any text. */
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char text[256], want[256];
        snprintf(text, sizeof(text), "app: {command: [x], env: {V: %s}}\n", cases[i].yaml);
        write_file("baton.yaml", text);
        struct result res = load("baton.yaml", NULL, NULL, NULL);
        assert_string_equal(res.err, "");
        snprintf(want, sizeof(want), "V=%s", cases[i].value);
        assert_string_equal(res.config->app.env[0], want);
        baton__config_free(res.config);
    }
}

/* Hostile inputs end in errors, never in a crash or an endless loop. */
static void survives_hostile_input(void **state)
{
    char deep[300];
    memset(deep, '[', 100);
    memset(deep + 100, ']', 100);
    deep[200] = '\0';
    static const char *inputs[] = {
        "\xff\xfe\x00",
        "app: {command: [x]}\n\t- bad\n",
        "? [a, b]\n: c\n",
        "app:\n  command:\n    - [nested]\n",
        "listen: {http: [a]}\n",
        "app: {env: {\"A=B\": c}, command: [x]}\n",
        "app: {command: [x], workers: 99999999999999999999999}\n",
        "app: {command: [x], drain_timeout: 99999999999h}\n",
        "%YAML 1.2\n---\napp: {command: [x]}\n",
        "release: {source: {url: \"http://x y\"}}\n",
    };
    for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
        write_file("baton.yaml", inputs[i]);
        struct result res = load("baton.yaml", NULL, NULL, NULL);
        if (res.r == 0)
            baton__config_free(res.config);
        else
            assert_true(strncmp(res.err, "baton.yaml", 10) == 0);
    }
    /* Not UTF-8: refused before libfyaml, which loops for ever on "%\xb7". */
    expect_error("name: \xc3\xa9\xff\n", "baton.yaml:1:8: not valid UTF-8 (byte 0xff): "
                                         "configuration is read as UTF-8\n");
    expect_error("app:\n%\xb7\n", "baton.yaml:2:2: not valid UTF-8 (byte 0xb7): configuration "
                                  "is read as UTF-8\n");
    expect_error("a: \xed\xa0\x80\n", "baton.yaml:1:4: not valid UTF-8 (byte 0xed): "
                                      "configuration is read as UTF-8\n");
    expect_error("a: \xc0\xaf\n", "baton.yaml:1:4: not valid UTF-8 (byte 0xc0): configuration "
                                  "is read as UTF-8\n");
    write_file("baton.yaml", deep);
    struct result res = load("baton.yaml", NULL, NULL, NULL);
    assert_int_equal(res.r, -EINVAL);
    assert_string_equal(res.err, "baton.yaml:1:33: nested deeper than 32 levels\n");

    /* Many keys: duplicates are found without quadratic time. */
    FILE *f = fopen("baton.yaml", "w");
    assert_non_null(f);
    fputs("app:\n  command: [x]\n  env:\n", f);
    for (int i = 0; i < 4000; i++)
        fprintf(f, "    V%d: x\n", i);
    fputs("    V17: y\n", f);
    fclose(f);
    res = load("baton.yaml", NULL, NULL, NULL);
    assert_string_equal(res.err, "baton.yaml:4004:5: duplicate key 'V17' (first at 21:5)\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(parses_every_key, setup, teardown),
        cmocka_unit_test_setup_teardown(applies_defaults, setup, teardown),
        cmocka_unit_test_setup_teardown(reports_unknown_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(reports_bad_values, setup, teardown),
        cmocka_unit_test_setup_teardown(reports_wrong_types, setup, teardown),
        cmocka_unit_test_setup_teardown(reports_missing_command, setup, teardown),
        cmocka_unit_test_setup_teardown(reports_syntax_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(reports_every_error_at_once, setup, teardown),
        cmocka_unit_test_setup_teardown(reports_io_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(applies_environment, setup, teardown),
        cmocka_unit_test_setup_teardown(applies_env_file, setup, teardown),
        cmocka_unit_test_setup_teardown(applies_set, setup, teardown),
        cmocka_unit_test_setup_teardown(resolves_relative_paths, setup, teardown),
        cmocka_unit_test_setup_teardown(no_config_form, setup, teardown),
        cmocka_unit_test_setup_teardown(parses_signals, setup, teardown),
        cmocka_unit_test_setup_teardown(reads_json, setup, teardown),
        cmocka_unit_test_setup_teardown(prints_and_round_trips, setup, teardown),
        cmocka_unit_test_setup_teardown(decodes_quoted_scalars, setup, teardown),
        cmocka_unit_test_setup_teardown(survives_hostile_input, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
