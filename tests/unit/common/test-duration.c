/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "common/duration.h"

static void parses_units(void **state)
{
    static const struct {
        const char *text;
        uint64_t ms;
    } cases[] = {
        {"0", 0},        {"250ms", 250},   {"30s", 30000},         {"5m", 300000},
        {"1h", 3600000}, {"1m30s", 90000}, {"1h2m3s4ms", 3723004}, {"0s", 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint64_t ms = 12345;
        assert_int_equal(baton__duration_parse(cases[i].text, &ms), 0);
        assert_int_equal(ms, cases[i].ms);
    }
}

static void refuses_garbage(void **state)
{
    static const char *bad[] = {"",     "30",   "30 s", "s",  "-1s", "1.5s", "30sec",
                                "1s1m", "1s1s", "ms",   "5x", " 5s", "5s "};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint64_t ms = 777;
        assert_int_equal(baton__duration_parse(bad[i], &ms), -EINVAL);
        assert_int_equal(ms, 777); /* untouched on failure */
    }
}

static void refuses_overflow(void **state)
{
    uint64_t ms;
    assert_int_equal(baton__duration_parse("99999999999999999999s", &ms), -ERANGE);
    assert_int_equal(baton__duration_parse("5000000000ms", &ms), -ERANGE);
    assert_int_equal(baton__duration_parse("2000h", &ms), -ERANGE);
}

static void formats_round_trip(void **state)
{
    static const uint64_t values[] = {0, 1, 250, 1000, 30000, 90000, 3600000, 3723004};
    char buf[64];
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        uint64_t back = 0;
        baton__duration_format(values[i], buf, sizeof(buf));
        assert_int_equal(baton__duration_parse(buf, &back), 0);
        assert_int_equal(back, values[i]);
    }
    assert_string_equal(baton__duration_format(90000, buf, sizeof(buf)), "1m30s");
    assert_string_equal(baton__duration_format(250, buf, sizeof(buf)), "250ms");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parses_units),
        cmocka_unit_test(refuses_garbage),
        cmocka_unit_test(refuses_overflow),
        cmocka_unit_test(formats_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
