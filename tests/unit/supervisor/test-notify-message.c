/* SPDX-License-Identifier: MIT */
/* The notify message parser (notify.c): systemd's KEY=VALUE lines. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "supervisor/internal.h"

static struct baton_notify_msg parse(const char *text)
{
    struct baton_notify_msg m;
    assert_int_equal(baton__notify_parse(text, strlen(text), &m), 0);
    return m;
}

static void test_ready_and_status(void **state)
{
    struct baton_notify_msg m = parse("READY=1\nSTATUS=serving on :8080");
    assert_true(m.ready);
    assert_true(m.has_status);
    assert_int_equal(m.status_len, strlen("serving on :8080"));
    assert_memory_equal(m.status, "serving on :8080", m.status_len);
    assert_false(m.reloading);
    assert_false(m.has_errno);
}

static void test_each_key(void **state)
{
    assert_true(parse("RELOADING=1\nMONOTONIC_USEC=123").reloading);
    assert_true(parse("STOPPING=1").stopping);
    assert_true(parse("WATCHDOG=1").watchdog);
    struct baton_notify_msg m = parse("ERRNO=98\n");
    assert_true(m.has_errno);
    assert_int_equal(m.err, 98);
    m = parse("BATON_STATS=requests=10 2xx=9 5xx=1");
    assert_true(m.has_stats);
    assert_int_equal(m.stats_len, strlen("requests=10 2xx=9 5xx=1"));
}

static void test_malformed_values_are_ignored(void **state)
{
    struct baton_notify_msg m = parse("READY=yes\nERRNO=abc\nERRNO=99999\nREADY\n=\n\n\nFOO=bar");
    assert_false(m.ready);
    assert_false(m.has_errno);
    m = parse("");
    assert_false(m.ready);
    m = parse("STATUS=");
    assert_true(m.has_status);
    assert_int_equal(m.status_len, 0);
    /* A key only matches whole: "READY=10" and "XREADY=1" are not readiness. */
    assert_false(parse("READY=10").ready);
    assert_false(parse("XREADY=1").ready);
}

static void test_nul_byte_is_refused(void **state)
{
    struct baton_notify_msg m;
    assert_int_equal(baton__notify_parse("READY=1\0STATUS=x", 16, &m), -EINVAL);
}

static void test_last_value_wins(void **state)
{
    struct baton_notify_msg m = parse("STATUS=a\nSTATUS=bc");
    assert_int_equal(m.status_len, 2);
    assert_memory_equal(m.status, "bc", 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ready_and_status),
        cmocka_unit_test(test_each_key),
        cmocka_unit_test(test_malformed_values_are_ignored),
        cmocka_unit_test(test_nul_byte_is_refused),
        cmocka_unit_test(test_last_value_wins),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
