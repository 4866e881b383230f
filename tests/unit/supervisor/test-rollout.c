/* SPDX-License-Identifier: MIT */
/* The rollout policy and verdict texts (rollout.c), asked directly: which old slot gives way,
 * how many start at once, and what a verdict says about a worker killed by a signal, an ERRNO=
 * with its STATUS=, stale stderr lines and a wrapper that did not exec. */
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

static struct baton_config config;
static struct baton_generation gen, old;
static struct baton_slot gen_slots[4], old_slots[4];
static struct baton_worker workers[4];
static struct baton_gens gs;

static int setup(void **state)
{
    memset(&config, 0, sizeof(config));
    memset(&gen, 0, sizeof(gen));
    memset(&old, 0, sizeof(old));
    memset(gen_slots, 0, sizeof(gen_slots));
    memset(old_slots, 0, sizeof(old_slots));
    memset(workers, 0, sizeof(workers));
    memset(&gs, 0, sizeof(gs));
    config.app.strategy = BATON_STRATEGY_ROLLING;
    config.app.max_surge = 2;
    config.app.ready_timeout_ms = 1000;
    gen.id = 2;
    gen.config = &config;
    gen.slots = gen_slots;
    gen.n_slots = 4;
    old.id = 1;
    old.config = &config;
    old.slots = old_slots;
    old.n_slots = 4;
    for (unsigned i = 0; i < 4; i++) {
        workers[i].gen = &old;
        workers[i].slot = i;
        workers[i].pid = 100 + (pid_t)i;
        workers[i].state = BATON_WORKER_READY;
        old_slots[i].state = BATON_SLOT_RUNNING;
        old_slots[i].worker = &workers[i];
    }
    gs.transition = BATON_TRANSITION_ROLLOUT;
    gs.tx.gen = &gen;
    gs.tx.old = &old;
    return 0;
}

static void test_surge(void **state)
{
    assert_int_equal(baton__rollout_surge(&gen), 2);
    config.app.max_surge = 0;
    assert_int_equal(baton__rollout_surge(&gen), 1);
    config.app.strategy = BATON_STRATEGY_BLUE_GREEN;
    assert_int_equal(baton__rollout_surge(&gen), 4);
}

static void test_pick_old(void **state)
{
    gs.tx.ready = 1;
    /* Its own slot first. */
    assert_ptr_equal(baton__rollout_pick_old(&gs, 2), &old_slots[2]);
    /* Then a ready one, before a starting one, before a slot in backoff. */
    workers[2].state = BATON_WORKER_STARTING;
    workers[0].state = BATON_WORKER_STARTING;
    assert_ptr_equal(baton__rollout_pick_old(&gs, 2), &old_slots[1]);
    for (unsigned i = 0; i < 4; i++)
        old_slots[i].state = BATON_SLOT_RETIRED;
    old_slots[0].state = BATON_SLOT_RUNNING;
    old_slots[3].state = BATON_SLOT_BACKOFF;
    old_slots[3].worker = NULL;
    assert_ptr_equal(baton__rollout_pick_old(&gs, 2), &old_slots[0]);
    old_slots[0].state = BATON_SLOT_RETIRED;
    assert_ptr_equal(baton__rollout_pick_old(&gs, 2), &old_slots[3]);
    /* The last new worker drains nothing itself: completion drains what is left. */
    gs.tx.ready = 4;
    assert_null(baton__rollout_pick_old(&gs, 0));
    /* Blue-green never drains one by one. */
    gs.tx.ready = 1;
    config.app.strategy = BATON_STRATEGY_BLUE_GREEN;
    assert_null(baton__rollout_pick_old(&gs, 3));
}

static void test_complete(void **state)
{
    gs.tx.ready = 3;
    assert_false(baton__rollout_complete(&gs));
    gs.tx.ready = 4;
    assert_true(baton__rollout_complete(&gs));
}

static void test_in_place_killed_by_signal(void **state)
{
    struct baton_verdict v = {0};
    baton__in_place_verdict(&v, &old, BATON_IN_PLACE_EXITED, &workers[1], SIGSEGV, 1000);
    assert_int_equal(v.cause, BATON_CAUSE_SIGNAL);
    assert_int_equal(v.signo, SIGSEGV);
    assert_non_null(strstr(v.error, "worker 101 was killed by SIGSEGV while reloading"));
    assert_null(strstr(v.msg, "exit status"));
    baton__verdict_free(&v);
    baton__in_place_verdict(&v, &old, BATON_IN_PLACE_EXITED, &workers[1], 3 << 8, 1000);
    assert_int_equal(v.cause, BATON_CAUSE_EXIT);
    assert_int_equal(v.exit_status, 3);
    assert_non_null(strstr(v.error, "exited with status 3 while reloading"));
    baton__verdict_free(&v);
}

static void test_in_place_errno_carries_status_and_fresh_stderr(void **state)
{
    struct baton_worker *w = &workers[0];
    struct baton_verdict v = {0};
    w->status = strdup("module hello: init failed: no database");
    w->stderr_tail[0] = strdup("started up");                /* before the reload */
    w->stderr_tail[1] = strdup("module hello: no database"); /* during it */
    w->tail_count = 2;
    w->tail_total = 2;
    w->tail_mark = 1;
    baton__in_place_verdict(&v, &old, BATON_IN_PLACE_ERRNO, w, EINVAL, 1000);
    assert_int_equal(v.cause, BATON_CAUSE_RELOAD);
    assert_int_equal(v.err, EINVAL);
    assert_non_null(strstr(v.error, "ERRNO=22"));
    assert_non_null(strstr(v.error, ": module hello: init failed: no database"));
    assert_non_null(v.stderr);
    assert_string_equal(v.stderr[0], "module hello: no database");
    assert_null(v.stderr[1]);
    baton__verdict_free(&v);
    /* Nothing written since the reload began: no stderr at all. */
    w->tail_mark = 2;
    baton__in_place_verdict(&v, &old, BATON_IN_PLACE_ERRNO, w, EINVAL, 1000);
    assert_null(v.stderr);
    baton__verdict_free(&v);
    free(w->status);
    free(w->stderr_tail[0]);
    free(w->stderr_tail[1]);
}

static void test_wrapper_hint(void **state)
{
    struct baton_verdict v = {0};
    workers[0].state = BATON_WORKER_STARTING;
    workers[0].foreign_child = 555;
    baton__rollout_verdict_failed(&v, &gen, BATON_CAUSE_TIMEOUT, &workers[0], 0, NULL);
    assert_non_null(strstr(v.error, "not ready within 1000ms"));
    assert_non_null(strstr(v.error, "pid 555"));
    assert_non_null(strstr(v.error, "a wrapper script must `exec` the server"));
    baton__verdict_free(&v);
    workers[0].foreign_child = 0;
    baton__rollout_verdict_failed(&v, &gen, BATON_CAUSE_TIMEOUT, &workers[0], 0, NULL);
    assert_null(strstr(v.error, "wrapper"));
    baton__verdict_free(&v);
}

static void test_rolled_back_texts(void **state)
{
    struct baton_verdict v = {0};
    baton__rollout_verdict_rolled_back(&v, &old, 2, false);
    assert_string_equal(v.msg, "rolled back: generation 1 keeps serving (2 workers restored)");
    baton__verdict_free(&v);
    baton__rollout_verdict_rolled_back(&v, NULL, 0, false);
    assert_string_equal(v.msg, "no generation is serving");
    baton__verdict_free(&v);
    baton__rollout_verdict_rolled_back(&v, &old, 0, true);
    assert_string_equal(v.msg, "the supervisor is stopping");
    baton__verdict_free(&v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_surge, setup),
        cmocka_unit_test_setup(test_pick_old, setup),
        cmocka_unit_test_setup(test_complete, setup),
        cmocka_unit_test_setup(test_in_place_killed_by_signal, setup),
        cmocka_unit_test_setup(test_in_place_errno_carries_status_and_fresh_stderr, setup),
        cmocka_unit_test_setup(test_wrapper_hint, setup),
        cmocka_unit_test_setup(test_rolled_back_texts, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
