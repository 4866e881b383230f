/* SPDX-License-Identifier: MIT */
/* The generation state machine (generation.c, rollout.c) driven with fake processes and a fake
 * clock: every transition of rolling and blue-green reloads, failures and rollback, restarts
 * with backoff, drains, stops and in-place reloads. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "supervisor/internal.h"

struct sent {
    pid_t pid;
    int signo;
};

static struct fake {
    pid_t next_pid;
    int spawn_error; /* next spawn fails with this (negative) */
    struct baton_worker *spawned[64];
    int n_spawned;
    struct sent kills[128];
    int n_kills;
    int n_done;
    bool ok;
    enum baton_cause cause;
    long gen, previous;
    int exit_status, err;
    char error[256], msg[256], status[64];
    int n_stderr;
    pid_t probed[16]; /* ops->probe calls */
    int n_probed;
    char probe[128]; /* the verdict's probe answer */
} f;

static int fake_spawn(void *ctx, struct baton_worker *w, char **ret_what)
{
    if (f.spawn_error) {
        int r = f.spawn_error;
        f.spawn_error = 0;
        *ret_what = strdup("exec app: No such file or directory");
        return r;
    }
    w->pid = f.next_pid++;
    f.spawned[f.n_spawned++] = w;
    return 0;
}

static void fake_kill(void *ctx, struct baton_worker *w, int signo)
{
    f.kills[f.n_kills++] = (struct sent){w->pid, signo};
}

static void fake_progress(void *ctx, long gen, const char *step, const char *msg)
{
}

static void fake_done(void *ctx, const struct baton_verdict *v)
{
    f.n_done++;
    f.ok = v->ok;
    f.cause = v->cause;
    f.gen = v->gen;
    f.previous = v->previous;
    f.exit_status = v->exit_status;
    f.err = v->err;
    snprintf(f.error, sizeof(f.error), "%s", v->error ? v->error : "");
    snprintf(f.msg, sizeof(f.msg), "%s", v->msg ? v->msg : "");
    snprintf(f.status, sizeof(f.status), "%s", v->status ? v->status : "");
    snprintf(f.probe, sizeof(f.probe), "%s", v->probe ? v->probe : "");
    f.n_stderr = 0;
    for (char **p = v->stderr; p && *p; p++)
        f.n_stderr++;
}

static void fake_release_worker(void *ctx, struct baton_worker *w)
{
    for (int i = 0; i < f.n_spawned; i++) {
        if (f.spawned[i] == w)
            f.spawned[i] = NULL;
    }
}

static void fake_release_generation(void *ctx, struct baton_generation *g)
{
    free(g->config);
}

static void fake_probe(void *ctx, struct baton_worker *w)
{
    f.probed[f.n_probed++] = w->pid;
}

static const struct baton_gens_ops ops = {fake_spawn, fake_kill,           fake_progress,
                                          fake_done,  fake_release_worker, fake_release_generation,
                                          fake_probe};

static char *command[] = {"app", NULL};

static struct baton_config *config(unsigned workers, enum baton_strategy strategy, unsigned surge)
{
    struct baton_config *c = calloc(1, sizeof(*c));
    c->app.command = command;
    c->app.n_command = 1;
    c->app.dir = "/";
    c->app.workers = workers;
    c->app.strategy = strategy;
    c->app.max_surge = surge;
    c->app.ready = BATON_READY_NOTIFY;
    c->app.ready_timeout_ms = 1000;
    c->app.stop_signal = SIGTERM;
    c->app.reload_signal = SIGHUP;
    c->app.drain_timeout_ms = 5000;
    c->app.max_draining = 2;
    c->app.restart_initial_ms = 100;
    c->app.restart_max_ms = 1000;
    return c;
}

static struct baton_gens gs;

static int setup(void **state)
{
    memset(&f, 0, sizeof(f));
    f.next_pid = 100;
    baton__gens_init(&gs, &ops, NULL);
    return 0;
}

static int teardown(void **state)
{
    baton__gens_free(&gs);
    return 0;
}

static struct baton_worker *by_pid(pid_t pid)
{
    struct baton_worker *w = baton__gens_find(&gs, pid);
    assert_non_null(w);
    return w;
}

static int killed(pid_t pid, int signo)
{
    int n = 0;
    for (int i = 0; i < f.n_kills; i++)
        n += f.kills[i].pid == pid && f.kills[i].signo == signo;
    return n;
}

static void ready(pid_t pid, uint64_t now)
{
    baton__gens_worker_ready(&gs, by_pid(pid), now);
}

static void exited(pid_t pid, int code, uint64_t now)
{
    baton__gens_worker_exited(&gs, by_pid(pid), code << 8, now);
}

/* Generation 1 with `workers` ready workers, pids 100... */
static void start_first(unsigned workers, enum baton_strategy strategy)
{
    assert_int_equal(baton__gens_reload(&gs, config(workers, strategy, 1), 0), 1);
    for (unsigned i = 0; i < workers; i++)
        ready(100 + (pid_t)i, 10);
    assert_int_equal(f.n_done, 1);
    assert_true(f.ok);
    assert_non_null(gs.active);
    assert_int_equal(gs.active->id, 1);
    f.n_done = 0;
}

static void test_first_generation_rolling(void **state)
{
    assert_int_equal(baton__gens_reload(&gs, config(2, BATON_STRATEGY_ROLLING, 1), 0), 1);
    assert_int_equal(f.n_spawned, 1); /* max_surge 1: one at a time */
    ready(100, 5);
    assert_int_equal(f.n_spawned, 2);
    assert_int_equal(f.n_done, 0);
    ready(101, 9);
    assert_int_equal(f.n_done, 1);
    assert_true(f.ok);
    assert_int_equal(f.gen, 1);
    assert_int_equal(f.previous, -1);
    assert_int_equal(gs.active->state, BATON_GEN_ACTIVE);
    assert_int_equal(gs.transition, BATON_TRANSITION_NONE);
}

static void test_rolling_drains_one_old_per_ready_new(void **state)
{
    start_first(2, BATON_STRATEGY_ROLLING);
    assert_int_equal(baton__gens_reload(&gs, config(2, BATON_STRATEGY_ROLLING, 1), 100), 2);
    assert_int_equal(f.n_spawned, 3);
    assert_int_equal(f.n_kills, 0); /* nothing drained before a replacement is ready */
    ready(102, 120);
    assert_int_equal(f.n_kills, 1);
    assert_int_equal(f.kills[0].signo, SIGTERM);
    assert_int_equal(f.n_spawned, 4);
    ready(103, 130);
    assert_int_equal(f.n_kills, 2);
    assert_int_equal(killed(100, SIGTERM) + killed(101, SIGTERM), 2);
    assert_int_equal(f.n_done, 1);
    assert_true(f.ok);
    assert_int_equal(f.gen, 2);
    assert_int_equal(f.previous, 1);
    assert_int_equal(gs.active->id, 2);
    /* The old generation goes when its last worker has exited. */
    exited(100, 0, 140);
    exited(101, 0, 150);
    assert_int_equal(gs.list->id, 2);
    assert_null(gs.list->next);
}

static void test_max_surge(void **state)
{
    start_first(4, BATON_STRATEGY_ROLLING);
    baton__gens_reload(&gs, config(4, BATON_STRATEGY_ROLLING, 2), 100);
    assert_int_equal(f.n_spawned, 6); /* two new at a time */
    ready(104, 110);
    assert_int_equal(f.n_kills, 1);
    assert_int_equal(f.n_spawned, 7);
    ready(105, 111);
    ready(106, 112);
    assert_int_equal(f.n_kills, 3);
    assert_int_equal(f.n_spawned, 8);
    ready(107, 113);
    assert_int_equal(f.n_kills, 4);
    assert_true(f.ok);
}

static void test_worker_count_changes(void **state)
{
    start_first(2, BATON_STRATEGY_ROLLING);
    /* More workers: the third new one has no old one left to replace. */
    baton__gens_reload(&gs, config(3, BATON_STRATEGY_ROLLING, 1), 100);
    ready(102, 110);
    assert_int_equal(f.n_kills, 1);
    ready(103, 120);
    assert_int_equal(f.n_kills, 2);
    assert_int_equal(f.n_done, 0);
    ready(104, 130);
    assert_int_equal(f.n_kills, 2);
    assert_true(f.ok);
    assert_int_equal(gs.active->n_slots, 3);
    /* Fewer: once the single new worker is ready, all three old ones drain. */
    f.n_done = 0;
    baton__gens_reload(&gs, config(1, BATON_STRATEGY_ROLLING, 1), 200);
    ready(105, 210);
    assert_int_equal(killed(102, SIGTERM) + killed(103, SIGTERM) + killed(104, SIGTERM), 3);
    assert_true(f.ok);
    assert_int_equal(gs.active->n_slots, 1);
}

static void test_blue_green_drains_all_at_the_end(void **state)
{
    start_first(2, BATON_STRATEGY_BLUE_GREEN);
    baton__gens_reload(&gs, config(2, BATON_STRATEGY_BLUE_GREEN, 1), 100);
    assert_int_equal(f.n_spawned, 4); /* all new workers at once */
    ready(102, 110);
    assert_int_equal(f.n_kills, 0);
    ready(103, 120);
    assert_int_equal(killed(100, SIGTERM), 1);
    assert_int_equal(killed(101, SIGTERM), 1);
    assert_true(f.ok);
}

static void test_failure_mid_rollout_restores_old(void **state)
{
    start_first(2, BATON_STRATEGY_ROLLING);
    baton__gens_reload(&gs, config(2, BATON_STRATEGY_ROLLING, 1), 100);
    struct baton_worker *w = by_pid(102);
    w->status = strdup("loading");
    ready(102, 110); /* old worker drained for it */
    assert_int_equal(f.n_kills, 1);
    pid_t drained = f.kills[0].pid;
    struct baton_worker *bad = by_pid(103);
    bad->stderr_tail[0] = strdup("boom");
    bad->tail_count = 1;
    exited(103, 3, 120);
    assert_int_equal(f.n_done, 1);
    assert_false(f.ok);
    assert_int_equal(f.cause, BATON_CAUSE_EXIT);
    assert_int_equal(f.exit_status, 3);
    assert_int_equal(f.n_stderr, 1);
    assert_non_null(strstr(f.error, "generation 2 failed: worker 103 exited with status 3"));
    assert_non_null(strstr(f.msg, "generation 1 keeps serving"));
    assert_int_equal(killed(102, SIGTERM), 1); /* the new generation stops */
    /* The drained old slot was started again from generation 1. */
    assert_int_equal(f.n_spawned, 5);
    struct baton_worker *restored = by_pid(104);
    assert_int_equal(restored->gen->id, 1);
    assert_int_equal(gs.active->id, 1);
    assert_int_equal(gs.transition, BATON_TRANSITION_NONE);
    exited(drained, 0, 130);
    exited(102, 0, 130);
    ready(104, 140);
    assert_int_equal(gs.list->id, 1);
    assert_null(gs.list->next); /* the failed generation is gone */
    /* Never retried; the next generation id follows the failed one. */
    assert_int_equal(baton__gens_reload(&gs, config(2, BATON_STRATEGY_ROLLING, 1), 200), 3);
}

static void test_ready_timeout(void **state)
{
    start_first(1, BATON_STRATEGY_ROLLING);
    baton__gens_reload(&gs, config(1, BATON_STRATEGY_ROLLING, 1), 100);
    assert_int_equal(baton__gens_next_deadline(&gs), 1100);
    baton__gens_tick(&gs, 1099);
    assert_int_equal(f.n_done, 0);
    baton__gens_tick(&gs, 1100);
    assert_int_equal(f.n_done, 1);
    assert_int_equal(f.cause, BATON_CAUSE_TIMEOUT);
    assert_int_equal(killed(101, SIGTERM), 1);
    assert_int_equal(killed(100, SIGTERM), 0); /* the old worker never stopped serving */
    baton__gens_tick(&gs, 1100 + BATON_FAILED_KILL_MS);
    assert_int_equal(killed(101, SIGKILL), 1);
}

static void test_exec_failure(void **state)
{
    start_first(1, BATON_STRATEGY_ROLLING);
    f.spawn_error = -ENOENT;
    assert_int_equal(baton__gens_reload(&gs, config(1, BATON_STRATEGY_ROLLING, 1), 100), 2);
    assert_int_equal(f.n_done, 1);
    assert_int_equal(f.cause, BATON_CAUSE_EXEC);
    assert_int_equal(f.err, ENOENT);
    assert_non_null(strstr(f.error, "exec app: No such file or directory"));
    assert_int_equal(gs.active->id, 1);
    assert_int_equal(gs.transition, BATON_TRANSITION_NONE);
}

static void test_busy(void **state)
{
    start_first(1, BATON_STRATEGY_ROLLING);
    struct baton_config *c = config(1, BATON_STRATEGY_ROLLING, 1);
    baton__gens_reload(&gs, config(1, BATON_STRATEGY_ROLLING, 1), 100);
    assert_int_equal(baton__gens_reload(&gs, c, 101), -EBUSY);
    assert_int_equal(baton__gens_reload_in_place(&gs, 101), -EBUSY);
    free(c);
}

static void test_crash_backoff_and_loop(void **state)
{
    start_first(1, BATON_STRATEGY_ROLLING);
    uint64_t now = 1000;
    pid_t pid = 100;
    uint64_t expect[] = {100, 200, 400, 800, 1000, 1000};
    for (int i = 0; i < 6; i++) {
        exited(pid, 1, now);
        assert_int_equal(gs.active->slots[0].state, BATON_SLOT_BACKOFF);
        assert_int_equal(baton__gens_next_deadline(&gs), now + expect[i]);
        now += expect[i];
        baton__gens_tick(&gs, now);
        pid = f.next_pid - 1;
        assert_int_equal(by_pid(pid)->gen->id, 1);
        assert_int_equal(baton__slot_crash_loop(&gs.active->slots[0], now), i + 1 >= 3);
    }
    assert_int_equal(gs.restarts, 6);
    /* Stable for a while: the backoff starts over. */
    ready(pid, now + 10);
    now += BATON_STABLE_MS + 10;
    assert_false(baton__slot_crash_loop(&gs.active->slots[0], now));
    exited(pid, 1, now);
    assert_int_equal(baton__gens_next_deadline(&gs), now + 100);
}

static void test_drain_deadline_sigkill(void **state)
{
    start_first(1, BATON_STRATEGY_ROLLING);
    baton__gens_reload(&gs, config(1, BATON_STRATEGY_ROLLING, 1), 100);
    ready(101, 200);
    assert_int_equal(killed(100, SIGTERM), 1);
    assert_int_equal(baton__gens_next_deadline(&gs), 5200);
    baton__gens_tick(&gs, 5200);
    assert_int_equal(killed(100, SIGKILL), 1);
    assert_int_equal(by_pid(100)->state, BATON_WORKER_KILLED);
}

static void test_max_draining(void **state)
{
    start_first(1, BATON_STRATEGY_ROLLING);
    gs.active->config->app.max_draining = 1;
    struct baton_config *c = config(1, BATON_STRATEGY_ROLLING, 1);
    c->app.max_draining = 1;
    assert_true(baton__gens_reload(&gs, c, 100) > 0);
    ready(101, 101);
    assert_int_equal(baton__gens_draining(&gs), 1);
    /* One generation drains and one is allowed: the next reload waits for it (busy) rather
     * than cutting its requests short. */
    c = config(1, BATON_STRATEGY_ROLLING, 1);
    c->app.max_draining = 1;
    assert_int_equal(baton__gens_reload(&gs, c, 110), -EBUSY);
    assert_int_equal(killed(100, SIGKILL), 0);
    /* Once it has finished, the reload goes ahead. */
    exited(100, 0, 120);
    assert_int_equal(baton__gens_draining(&gs), 0);
    assert_true(baton__gens_reload(&gs, c, 130) > 0);
    ready(102, 131);
    assert_int_equal(killed(101, SIGTERM), 1);
    assert_int_equal(killed(101, SIGKILL), 0);
}

static void test_stop(void **state)
{
    start_first(2, BATON_STRATEGY_ROLLING);
    baton__gens_reload(&gs, config(2, BATON_STRATEGY_ROLLING, 1), 100);
    baton__gens_stop(&gs, false, 200);
    assert_int_equal(f.n_done, 1);
    assert_int_equal(f.cause, BATON_CAUSE_STOP);
    assert_int_equal(f.n_spawned, 3); /* nothing restored while stopping */
    assert_int_equal(killed(100, SIGTERM), 1);
    assert_int_equal(killed(101, SIGTERM), 1);
    assert_int_equal(killed(102, SIGTERM), 1);
    assert_false(baton__gens_idle(&gs));
    exited(100, 0, 210);
    exited(101, 0, 210);
    baton__gens_stop(&gs, true, 220); /* fast after graceful: SIGKILL the rest */
    assert_int_equal(killed(102, SIGKILL), 1);
    exited(102, 0, 230);
    assert_true(baton__gens_idle(&gs));
    struct baton_config *c = config(1, BATON_STRATEGY_ROLLING, 1);
    assert_int_equal(baton__gens_reload(&gs, c, 300), -ECANCELED);
    free(c); /* refused: the config stays with the caller */
}

static void test_delay_readiness(void **state)
{
    struct baton_config *c = config(1, BATON_STRATEGY_ROLLING, 1);
    c->app.ready = BATON_READY_DELAY;
    c->app.ready_delay_ms = 500;
    baton__gens_reload(&gs, c, 0);
    assert_int_equal(baton__gens_next_deadline(&gs), 500);
    baton__gens_tick(&gs, 499);
    assert_int_equal(f.n_done, 0);
    baton__gens_tick(&gs, 500);
    assert_int_equal(f.n_done, 1);
    assert_true(f.ok);
}

static void test_in_place(void **state)
{
    start_first(2, BATON_STRATEGY_ROLLING);
    assert_int_equal(baton__gens_reload_in_place(&gs, 100), 0);
    assert_int_equal(killed(100, SIGHUP), 1);
    assert_int_equal(killed(101, SIGHUP), 1);
    baton__gens_worker_reloading(&gs, by_pid(100));
    ready(100, 110);
    assert_int_equal(f.n_done, 0);
    ready(101, 115); /* READY=1 without RELOADING=1 first: not a finished reload */
    assert_int_equal(f.n_done, 0);
    baton__gens_worker_reloading(&gs, by_pid(101));
    ready(101, 120);
    assert_int_equal(f.n_done, 1);
    assert_true(f.ok);
    assert_int_equal(f.gen, 1);

    assert_int_equal(baton__gens_reload_in_place(&gs, 200), 0);
    baton__gens_worker_errno(&gs, by_pid(101), EINVAL, 210);
    assert_int_equal(f.n_done, 2);
    assert_false(f.ok);
    assert_int_equal(f.cause, BATON_CAUSE_RELOAD);
    assert_int_equal(f.err, EINVAL);
    assert_int_equal(gs.transition, BATON_TRANSITION_NONE);
}

static void test_first_generation_failure(void **state)
{
    baton__gens_reload(&gs, config(1, BATON_STRATEGY_ROLLING, 1), 0);
    baton__gens_worker_exited(&gs, by_pid(100), SIGSEGV, 10); /* killed by a signal */
    assert_int_equal(f.n_done, 1);
    assert_int_equal(f.cause, BATON_CAUSE_SIGNAL);
    assert_non_null(strstr(f.error, "SIGSEGV"));
    assert_null(gs.active);
    assert_true(baton__gens_idle(&gs));
}

/* app.probe: READY=1 sends the probe; only its passing answer counts the worker ready. A failed
 * one fails the rollout with the probe's answer, and the old generation keeps serving. */
static void test_probe_gates_readiness(void **state)
{
    start_first(1, BATON_STRATEGY_ROLLING); /* no probe: ready at READY=1, nothing probed */
    assert_int_equal(f.n_probed, 0);
    struct baton_config *c = config(2, BATON_STRATEGY_ROLLING, 1);
    c->app.probe.path = "/healthz";
    c->app.probe.expect = 200;
    assert_int_equal(baton__gens_reload(&gs, c, 100), 2);
    ready(101, 110);
    assert_int_equal(f.n_probed, 1);
    assert_int_equal(f.probed[0], 101);
    assert_int_equal(by_pid(101)->state, BATON_WORKER_STARTING); /* not counted yet */
    assert_int_equal(f.n_spawned, 2);                            /* nor the next one started */
    ready(101, 111);                                             /* a repeated READY=1: no 2nd */
    assert_int_equal(f.n_probed, 1);
    baton__gens_worker_probed(&gs, by_pid(101), true, "probe GET /healthz on worker 101: 200 OK",
                              112);
    assert_int_equal(by_pid(101)->state, BATON_WORKER_READY);
    assert_int_equal(killed(100, SIGTERM), 1); /* rolling: the old one goes now */
    assert_int_equal(f.n_spawned, 3);
    ready(102, 120);
    assert_int_equal(f.n_probed, 2);
    baton__gens_worker_probed(&gs, by_pid(102), false,
                              "probe GET /healthz on worker 102: 503 Service Unavailable "
                              "(expected 200)",
                              121);
    assert_int_equal(f.n_done, 1);
    assert_false(f.ok);
    assert_int_equal(f.cause, BATON_CAUSE_PROBE);
    assert_string_equal(f.error, "generation 2 failed: probe GET /healthz on worker 102: 503 "
                                 "Service Unavailable (expected 200)");
    assert_string_equal(f.probe, "probe GET /healthz on worker 102: 503 Service Unavailable "
                                 "(expected 200)");
    assert_string_equal(baton__cause_name(BATON_CAUSE_PROBE), "probe");
    assert_int_equal(gs.active->id, 1); /* the old generation is restored and serves */
    assert_int_equal(f.n_spawned, 4);
    assert_int_equal(f.spawned[3]->gen->id, 1);
    /* A late answer for a worker no longer starting changes nothing. */
    baton__gens_worker_probed(&gs, by_pid(102), true, "late", 122);
    assert_int_equal(f.n_done, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_first_generation_rolling, setup, teardown),
        cmocka_unit_test_setup_teardown(test_probe_gates_readiness, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rolling_drains_one_old_per_ready_new, setup, teardown),
        cmocka_unit_test_setup_teardown(test_max_surge, setup, teardown),
        cmocka_unit_test_setup_teardown(test_worker_count_changes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_blue_green_drains_all_at_the_end, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failure_mid_rollout_restores_old, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ready_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exec_failure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_busy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crash_backoff_and_loop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_drain_deadline_sigkill, setup, teardown),
        cmocka_unit_test_setup_teardown(test_max_draining, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delay_readiness, setup, teardown),
        cmocka_unit_test_setup_teardown(test_in_place, setup, teardown),
        cmocka_unit_test_setup_teardown(test_first_generation_failure, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
