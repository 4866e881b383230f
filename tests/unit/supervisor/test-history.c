/* SPDX-License-Identifier: MIT */
/* The supervisor's history (history.c): bounded rings, histograms, the config error, and the
 * counters' round trip through the re-exec state. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "supervisor/observe.h"

static void reloads_ring_keeps_the_last_ones(void **state)
{
    struct baton_history *h = baton__history_new();
    char verdict[64];
    for (int i = 0; i < BATON_HISTORY_RELOADS + 5; i++) {
        snprintf(verdict, sizeof(verdict), "{\"n\":%d}", i);
        baton__history_reload(h, i % 5 != 0, verdict, 40);
    }
    assert_int_equal(h->reload_count, BATON_HISTORY_RELOADS);
    assert_int_equal(h->reloads_ok + h->reloads_failed, BATON_HISTORY_RELOADS + 5);
    assert_int_equal(h->reloads_failed, 5);
    struct baton_buf b = BATON_BUF_INIT(BATON_BUF_UNBOUNDED);
    baton__history_json(h, &b);
    /* Oldest kept first: 5 .. 24. */
    assert_non_null(strstr(b.data, "\"verdict\":{\"n\":5}"));
    assert_null(strstr(b.data, "\"verdict\":{\"n\":4}"));
    assert_true(strstr(b.data, "{\"n\":5}") < strstr(b.data, "{\"n\":24}"));
    baton__buf_free(&b);
    baton__history_free(h);
}

static void histograms_put_each_duration_in_its_bucket(void **state)
{
    struct baton_history *h = baton__history_new();
    baton__history_reload(h, true, "{}", 100);   /* le 0.1: bounds are inclusive */
    baton__history_reload(h, true, "{}", 101);   /* le 0.25 */
    baton__history_reload(h, true, "{}", 61000); /* +Inf */
    baton__history_drain(h, 3);
    assert_int_equal(h->reload_seconds.counts[0], 1);
    assert_int_equal(h->reload_seconds.counts[1], 1);
    assert_int_equal(h->reload_seconds.counts[BATON_HISTOGRAM_BUCKETS - 1], 1);
    assert_int_equal(h->reload_seconds.sum_ms, 61201);
    assert_int_equal(h->drain_seconds.counts[0], 1);
    baton__history_free(h);
}

static void samples_ring_is_bounded(void **state)
{
    struct baton_history *h = baton__history_new();
    struct baton_counters c = {0};
    for (int i = 0; i < BATON_HISTORY_SAMPLES * 2; i++) {
        c.v[BATON_STAT_REQUESTS] = (uint64_t)i;
        baton__history_sample(h, &c);
    }
    assert_int_equal(h->sample_count, BATON_HISTORY_SAMPLES);
    struct baton_buf b = BATON_BUF_INIT(BATON_BUF_UNBOUNDED);
    baton__history_json(h, &b);
    char first[64];
    snprintf(first, sizeof(first), "\"requests\":%d,", BATON_HISTORY_SAMPLES);
    assert_non_null(strstr(b.data, first));
    assert_null(strstr(b.data, "\"requests\":0,"));
    baton__buf_free(&b);
    baton__history_free(h);
}

static void config_error_is_kept_and_counted(void **state)
{
    struct baton_history *h = baton__history_new();
    baton__history_config_error(h, "baton.yaml:3:7: bad\n\n");
    assert_string_equal(h->config_error, "baton.yaml:3:7: bad");
    baton__history_config_error(h, NULL);
    assert_null(h->config_error);
    assert_int_equal(h->config_errors, 1);
    baton__history_free(h);
}

static void counters_survive_the_reexec_state(void **state)
{
    struct baton_history *h = baton__history_new(), *again = baton__history_new();
    for (int i = 0; i < 7; i++)
        baton__history_reload(h, i != 3, "{}", (uint64_t)(i * 400));
    baton__history_drain(h, 20000);
    baton__history_config_error(h, "x");
    h->watch_reloads = 4;
    struct baton_buf b = BATON_BUF_INIT(BATON_BUF_UNBOUNDED);
    baton__history_save(h, &b);
    baton__history_restore(again, b.data);
    assert_int_equal(again->reloads_ok, 6);
    assert_int_equal(again->reloads_failed, 1);
    assert_int_equal(again->config_errors, 1);
    assert_int_equal(again->watch_reloads, 4);
    assert_memory_equal(again->reload_seconds.counts, h->reload_seconds.counts,
                        sizeof(h->reload_seconds.counts));
    assert_memory_equal(again->drain_seconds.counts, h->drain_seconds.counts,
                        sizeof(h->drain_seconds.counts));
    assert_int_equal(again->reload_seconds.sum_ms, h->reload_seconds.sum_ms);
    assert_int_equal(again->drain_seconds.sum_ms, 20000);
    baton__buf_free(&b);
    /* Garbage is ignored word by word; what is readable is read. */
    struct baton_history *g = baton__history_new();
    baton__history_restore(g, "reloads_ok=x reloads_failed=2 =3 nokey reload_b99=1 "
                              "drain_b0=-1 reload_b9=18446744073709551615 config_errors=5z");
    assert_int_equal(g->reloads_ok, 0);
    assert_int_equal(g->reloads_failed, 2);
    assert_int_equal(g->drain_seconds.counts[0], 0);
    assert_int_equal(g->reload_seconds.counts[9], UINT64_MAX);
    assert_int_equal(g->config_errors, 0);
    baton__history_restore(g, "");
    baton__history_restore(g, NULL);
    baton__history_free(g);
    baton__history_free(h);
    baton__history_free(again);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reloads_ring_keeps_the_last_ones),
        cmocka_unit_test(histograms_put_each_duration_in_its_bucket),
        cmocka_unit_test(samples_ring_is_bounded),
        cmocka_unit_test(config_error_is_kept_and_counted),
        cmocka_unit_test(counters_survive_the_reexec_state),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
