/* SPDX-License-Identifier: MIT */
/* The monotonic clock (src/common/clock.c): its two units agree and it never goes back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>

#include "common/clock.h"

static void units_agree_with_clock_monotonic(void **state)
{
    struct timespec ts;
    uint64_t ms = baton__clock_now_ms();
    uint64_t us = baton__clock_now_us();
    assert_int_equal(clock_gettime(CLOCK_MONOTONIC, &ts), 0);
    uint64_t ref_us = (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;

    /* Read in this order, each value is at most the next, and all within a second. */
    assert_true(ms * 1000 <= us + 1000);
    assert_true(us <= ref_us);
    assert_true(ref_us - us < 1000000);
    assert_true(ref_us / 1000 - ms < 1000);
}

static void never_goes_back_and_measures_a_sleep(void **state)
{
    uint64_t start = baton__clock_now_ms(), last = start;
    struct timespec pause = {.tv_sec = 0, .tv_nsec = 20 * 1000 * 1000};

    for (int i = 0; i < 100000; i++) {
        uint64_t now = baton__clock_now_ms();
        assert_true(now >= last);
        last = now;
    }
    uint64_t before = baton__clock_now_ms();
    assert_int_equal(nanosleep(&pause, NULL), 0);
    assert_true(baton__clock_now_ms() - before >= 20);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(units_agree_with_clock_monotonic),
        cmocka_unit_test(never_goes_back_and_measures_a_sleep),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
