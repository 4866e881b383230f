/* SPDX-License-Identifier: MIT */
/* The re-exec state format (reexec-state.c): a generation's configuration survives save ->
 * restore field for field (checked against `baton config`'s own printing, so a field the
 * format forgets fails here), the whole machine survives a round trip, states are written by
 * name under a version key, and version 1 states (ordinals, no version) are still read. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/doc.h"
#include "common/xmalloc.h"
#include "supervisor/internal.h"

#include "fake-gens.h"

/* Every key set to a value that is neither its default nor a zeroed field's. (The keys of
 * features not built yet - release.*, canary.* - are refused by the loader and not
 * printed; each comes back here when its feature does.) */
static const char full_yaml[] = "name: roundtrip\n"
                                "listen:\n"
                                "  http: 127.0.0.1:18080\n"
                                "  admin: unix:admin.sock\n"
                                "app:\n"
                                "  command: [bin/app, --flag, \"two words\"]\n"
                                "  dir: sub\n"
                                "  env: {APP_ENV: test, OTHER: \"x=y\"}\n"
                                "  workers: 3\n"
                                "  strategy: blue-green\n"
                                "  max_surge: 2\n"
                                "  ready: delay:1500ms\n"
                                "  ready_timeout: 7s\n"
                                "  stop_signal: USR1\n"
                                "  reload_signal: USR2\n"
                                "  drain_timeout: 9s\n"
                                "  max_draining: 4\n"
                                "  user: nobody\n"
                                "  probation: 3s\n"
                                "  probe: {path: /ready, timeout: 750ms, interval: 3s, "
                                "expect: 204}\n"
                                "  restart: {initial: 250ms, max: 9s}\n"
                                "release:\n"
                                "  root: rel\n"
                                "  keep: 3\n"
                                "  trust: key.pub\n"
                                "  probation: 2s\n"
                                "  probation_requests: 7\n"
                                "  probation_timeout: 1m\n"
                                "  max_error_rate: 0.05\n"
                                "  max_size: 2MiB\n"
                                "  source: {url: \"https://updates.example/latest.json\", "
                                "interval: 2m}\n"
                                "control:\n"
                                "  socket: ctl.sock\n"
                                "  group: adm\n"
                                "  watch: false\n"
                                "metrics:\n"
                                "  listen: 127.0.0.1:19100\n"
                                "log:\n"
                                "  format: text\n"
                                "  level: warning\n"
                                "tcp:\n"
                                "  defer_accept: 3s\n";

static const char default_yaml[] = "listen:\n"
                                   "  http: 127.0.0.1:18081\n"
                                   "app:\n"
                                   "  command: [x]\n";

static char dir[] = "/tmp/test-reexec-state-XXXXXX";

static struct baton_config *load(const char *name, const char *yaml)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(yaml, f);
    fclose(f);
    struct baton_config_options o = {.path = path, .environ = (char *const[]){NULL}};
    struct baton_config *c = NULL;
    struct baton_buf err = BATON_BUF_INIT(65536);
    int r = baton__config_load(&o, &c, &err);
    if (r < 0)
        fail_msg("%s: %s", name, err.data ? err.data : "?");
    baton__buf_free(&err);
    return c;
}

/* The "config" member of `baton config --json`'s printing. */
static char *printed(const struct baton_config *c)
{
    struct baton_buf b = BATON_BUF_INIT(BATON_BUF_UNBOUNDED);
    assert_int_equal(baton__config_print(c, &b, true), 0);
    char *origins = strstr(b.data, ",\"origins\":");
    assert_non_null(origins);
    *origins = '\0';
    char *s = baton__xasprintf("%s}", b.data);
    baton__buf_free(&b);
    return s;
}

/* "path=value" for every leaf of a JSON document, one per line. */
static void leaves(const struct baton_doc_node *n, const char *path, struct baton_buf *out)
{
    const struct baton_doc_node *item = NULL;
    char sub[512];
    int i = 0;
    const char *v;
    bool b;
    switch (baton__doc_type(n)) {
    case BATON_DOC_OBJECT:
    case BATON_DOC_ARRAY:
        while ((item = baton__doc_next(n, item))) {
            if (baton__doc_type(n) == BATON_DOC_OBJECT)
                snprintf(sub, sizeof(sub), "%s.%s", path, baton__doc_key(item));
            else
                snprintf(sub, sizeof(sub), "%s[%d]", path, i++);
            leaves(item, sub, out);
        }
        break;
    case BATON_DOC_STRING:
        assert_int_equal(baton__doc_str(n, &v, NULL), 0);
        baton__buf_printf(out, "%s=%s\n", path, v);
        break;
    case BATON_DOC_NUMBER:
        baton__buf_printf(out, "%s=%s\n", path, baton__doc_number_text(n));
        break;
    case BATON_DOC_BOOL:
        assert_int_equal(baton__doc_bool(n, &b), 0);
        baton__buf_printf(out, "%s=%s\n", path, b ? "true" : "false");
        break;
    default:
        baton__buf_printf(out, "%s=null\n", path);
        break;
    }
}

static char *leaf_lines(const char *json)
{
    struct baton_doc *doc = NULL;
    char err[256];
    if (baton__doc_parse(json, strlen(json), SIZE_MAX, 64, &doc, err, sizeof(err)) < 0)
        fail_msg("not JSON: %s", err);
    struct baton_buf out = BATON_BUF_INIT(BATON_BUF_UNBOUNDED);
    leaves(baton__doc_root(doc), "", &out);
    baton__doc_free(doc);
    return baton__buf_steal(&out);
}

static int setup_dir(void **state)
{
    assert_non_null(mkdtemp(dir));
    char sub[256];
    snprintf(sub, sizeof(sub), "%s/sub", dir);
    mkdir(sub, 0755);
    return 0;
}

static int remove_dir(void **state)
{
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* The fixture really sets every key `baton config` prints to a value a forgotten field could not
 * have (neither the default nor zero), so the round trip below can see any field go missing. */
static void test_fixture_covers_every_key(void **state)
{
    struct baton_config *full = load("full.yaml", full_yaml);
    struct baton_config *def = load("default.yaml", default_yaml);
    struct baton_config *zero = calloc(1, sizeof(*zero));
    char *pf = printed(full), *pd = printed(def), *pz = printed(zero);
    char *lf = leaf_lines(pf), *ld = leaf_lines(pd), *lz = leaf_lines(pz);
    int n = 0;
    for (char *line = strtok(lf, "\n"); line; line = strtok(NULL, "\n")) {
        char want[600];
        snprintf(want, sizeof(want), "\n%s\n", line);
        char *d = baton__xasprintf("\n%s", ld), *z = baton__xasprintf("\n%s", lz);
        /* A flag that defaults to true can only differ from its default by being false, which
         * zero is too: its default is what the round trip below would lose. */
        bool flag_off = strstr(want, "=false\n") != NULL;
        if (strstr(d, want) || (!flag_off && strstr(z, want)))
            fail_msg("the fixture leaves %s at its default or zero: set it in full_yaml", line);
        free(d);
        free(z);
        n++;
    }
    assert_true(n >= 20); /* every key baton config prints, less features not built yet */
    free(lf);
    free(ld);
    free(lz);
    free(pf);
    free(pd);
    free(pz);
    free(zero);
    baton__config_free(full);
    baton__config_free(def);
}

static void test_config_round_trip(void **state)
{
    struct baton_config *full = load("full.yaml", full_yaml);
    struct baton_buf saved = BATON_BUF_INIT(BATON_BUF_UNBOUNDED);
    struct baton_config *back = NULL;
    baton__state_config_json(&saved, full);
    assert_int_equal(baton__state_config_parse(saved.data, saved.len, &back), 0);
    char *before = printed(full), *after = printed(back);
    assert_string_equal(before, after);
    /* Not printed by `baton config`, still kept. */
    assert_string_equal(back->path, full->path);
    assert_string_equal(back->dir, full->dir);
    assert_null(back->app.command[back->app.n_command]); /* an argv for execve */
    /* Names, not ordinals. */
    assert_non_null(strstr(saved.data, "\"app.stop_signal\":\"USR1\""));
    assert_non_null(strstr(saved.data, "\"app.strategy\":\"blue-green\""));
    free(before);
    free(after);
    baton__buf_free(&saved);
    baton__config_free(full);
    baton__config_free(back);
}

/* ---- the whole machine ------------------------------------------------------------------- */

static const struct baton_gens_ops ops = {fake_spawn, fake_kill,           fake_progress,
                                          fake_done,  fake_release_worker, fake_release_generation,
                                          NULL};

static struct baton_supervisor *sup_new(void)
{
    struct baton_supervisor *sup = calloc(1, sizeof(*sup));
    baton__gens_init(&sup->gens, &ops, sup);
    sup->notify_fd = sup->control_fd = -1;
    return sup;
}

static void sup_free(struct baton_supervisor *sup)
{
    baton__gens_free(&sup->gens);
    for (size_t i = 0; i < sup->n_listeners; i++) {
        free(sup->listeners[i].name);
        free(sup->listeners[i].text);
        free(sup->listeners[i].stored);
    }
    free(sup->listeners);
    free(sup->last_reload);
    free(sup->control_path);
    free(sup);
}

static void ready_all(struct baton_gens *gs, uint64_t now)
{
    for (struct baton_generation *g = gs->list; g; g = g->next)
        for (struct baton_worker *w = g->workers; w; w = w->next)
            if (w->state == BATON_WORKER_STARTING)
                baton__gens_worker_ready(gs, w, now);
}

static void test_state_round_trip(void **state)
{
    struct baton_supervisor *sup = sup_new(), *back = sup_new();
    struct baton_state_fds *fds = calloc(1, sizeof(*fds));
    struct baton_buf a = BATON_BUF_INIT(BATON_BUF_UNBOUNDED),
                     b = BATON_BUF_INIT(BATON_BUF_UNBOUNDED);

    /* A current listener (in systemd's fd store) and one a reload removed, still held for the
     * generation draining on it. */
    sup->listeners = calloc(2, sizeof(*sup->listeners));
    sup->listeners[0].name = strdup("http");
    sup->listeners[0].text = strdup("127.0.0.1:18080");
    assert_int_equal(baton__address_parse("127.0.0.1:18080", &sup->listeners[0].address, NULL), 0);
    sup->listeners[0].fd = 3;
    sup->listeners[0].current = true;
    sup->listeners[0].stored = strdup("http");
    sup->listeners[1].name = strdup("old");
    sup->listeners[1].text = strdup("unix:/tmp/old.sock");
    assert_int_equal(baton__address_parse("unix:/tmp/old.sock", &sup->listeners[1].address, NULL),
                     0);
    sup->listeners[1].fd = 4;
    sup->n_listeners = 2;
    sup->notify_fd = 7;
    sup->control_fd = 8;
    sup->control_path = strdup("/tmp/x.sock");
    snprintf(sup->notify_name, sizeof(sup->notify_name), "@baton/1/ab");
    sup->last_reload = strdup("{\"ok\":true}");
    sup->first_ready = true;

    /* Generation 1 replaced by 2 (1 draining), one of 2's workers crashed (a slot in backoff),
     * a worker with a STATUS=. */
    baton__gens_reload(&sup->gens, load("full.yaml", full_yaml), 0);
    ready_all(&sup->gens, 10);
    baton__gens_reload(&sup->gens, load("default.yaml", default_yaml), 20);
    ready_all(&sup->gens, 30);
    assert_non_null(sup->gens.active);
    assert_int_equal(sup->gens.active->id, 2);
    struct baton_worker *w = sup->gens.active->workers;
    baton__gens_reload(&sup->gens, load("default.yaml", default_yaml), 40);
    ready_all(&sup->gens, 50); /* generation 3: 2 drains too */
    w = sup->gens.active->workers;
    w->status = strdup("serving");
    baton__gens_worker_exited(&sup->gens, w, 1 << 8, 60);

    baton__state_save(sup, &a);
    assert_int_equal(baton__state_restore(back, a.data, a.len, fds), 0);
    /* What reexec.c adopts from the fds the state names. */
    back->notify_fd = fds->notify_fd;
    back->control_fd = fds->control_fd;
    back->control_path = strdup(fds->control_path);
    baton__state_save(back, &b);
    if (strcmp(a.data, b.data) != 0) {
        FILE *f = fopen("/tmp/reexec-a.json", "w");
        fputs(a.data, f);
        fclose(f);
        f = fopen("/tmp/reexec-b.json", "w");
        fputs(b.data, f);
        fclose(f);
    }
    assert_string_equal(a.data, b.data);
    assert_int_equal(fds->notify_fd, 7);
    assert_int_equal(fds->control_fd, 8);
    assert_string_equal(fds->control_path, "/tmp/x.sock");
    assert_int_equal(back->gens.active->id, 3);
    assert_int_equal(back->gens.last_id, 3);
    assert_int_equal(back->gens.active->slots[0].state, BATON_SLOT_BACKOFF);
    assert_int_equal(back->n_listeners, 2);
    assert_true(back->listeners[0].current);
    assert_string_equal(back->listeners[0].stored, "http");
    assert_false(back->listeners[1].current);
    assert_null(back->listeners[1].stored);
    assert_int_equal(back->listeners[1].fd, 4);
    assert_string_equal(back->listeners[1].text, "unix:/tmp/old.sock");
    assert_non_null(strstr(a.data, "\"version\":2"));
    assert_non_null(strstr(a.data, "\"state\":\"draining\""));
    assert_non_null(strstr(a.data, "\"state\":\"backoff\""));
    assert_null(strstr(a.data, "\"state\":1")); /* no ordinals */
    /* The restored machine runs on: the backoff slot restarts. */
    baton__gens_tick(&back->gens, 10000);
    assert_int_equal(back->gens.active->slots[0].state, BATON_SLOT_RUNNING);

    free(fds->control_path);
    free(fds);
    baton__buf_free(&a);
    baton__buf_free(&b);
    sup_free(sup);
    sup_free(back);
}

/* Written by the supervisor before the format had a version: still restored. */
static void test_version_1(void **state)
{
    static const char v1[] =
        "{\"started_ms\":5,\"last_id\":4,\"restarts\":2,\"first_ready\":true,"
        "\"notify_fd\":7,\"notify_name\":\"@baton/1/ab\",\"control_fd\":8,"
        "\"control_path\":\"/tmp/x.sock\",\"listeners\":[{\"name\":\"http\","
        "\"text\":\"127.0.0.1:18080\",\"fd\":3,\"adopted\":false}],"
        "\"generations\":[{\"id\":4,\"state\":1,\"started_ms\":1,\"killed\":false,"
        "\"config\":{\"name\":\"t\",\"command\":[\"app\"],\"dir\":\"/\",\"env\":[],\"workers\":1,"
        "\"strategy\":1,\"max_surge\":1,\"ready\":0,\"ready_delay_ms\":0,"
        "\"ready_timeout_ms\":7000,\"stop_signal\":10,\"reload_signal\":1,"
        "\"drain_timeout_ms\":9000,\"max_draining\":2,\"restart_initial_ms\":100,"
        "\"restart_max_ms\":1000,\"log_format\":0,\"log_format_set\":false,\"log_level\":0},"
        "\"slots\":[{\"state\":0,\"restart_at_ms\":0,\"backoff_ms\":0,\"restarts\":2,"
        "\"quick_crashes\":0}],\"workers\":[{\"pid\":321,\"slot\":0,\"state\":1,\"in_slot\":true,"
        "\"started_ms\":1,\"ready_ms\":3,\"deadline_ms\":0,\"out_fd\":-1,\"err_fd\":-1}]}]}";
    struct baton_supervisor *sup = sup_new();
    struct baton_state_fds *fds = calloc(1, sizeof(*fds));
    assert_int_equal(baton__state_restore(sup, v1, sizeof(v1) - 1, fds), 0);
    struct baton_generation *g = sup->gens.active;
    assert_non_null(g);
    assert_int_equal(g->id, 4);
    assert_int_equal(g->config->app.strategy, BATON_STRATEGY_BLUE_GREEN);
    assert_int_equal(g->config->app.stop_signal, SIGUSR1);
    assert_int_equal(g->config->app.ready_timeout_ms, 7000);
    assert_int_equal(g->config->log.level, BATON_LOG_DEBUG);
    assert_int_equal(g->config->tcp.defer_accept_ms, 1000); /* not in version 1: the default */
    assert_int_equal(g->slots[0].state, BATON_SLOT_RUNNING);
    assert_int_equal(g->slots[0].restarts, 2);
    assert_int_equal(g->workers->state, BATON_WORKER_READY);
    assert_int_equal(g->workers->pid, 321);
    assert_int_equal(sup->n_listeners, 1);
    assert_true(sup->listeners[0].current); /* before live listener changes: all current */
    free(fds->control_path);
    free(fds);
    sup_free(sup);
}

static void test_newer_version_refused(void **state)
{
    static const char v9[] = "{\"version\":9,\"generations\":[]}";
    struct baton_supervisor *sup = sup_new();
    struct baton_state_fds *fds = calloc(1, sizeof(*fds));
    assert_int_equal(baton__state_restore(sup, v9, sizeof(v9) - 1, fds), -EPROTONOSUPPORT);
    free(fds->control_path);
    free(fds);
    sup_free(sup);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixture_covers_every_key), cmocka_unit_test(test_config_round_trip),
        cmocka_unit_test(test_state_round_trip),         cmocka_unit_test(test_version_1),
        cmocka_unit_test(test_newer_version_refused),
    };
    return cmocka_run_group_tests(tests, setup_dir, remove_dir);
}
