/* SPDX-License-Identifier: MIT */
/* Sizes in bytes (src/common/size.c): the units, what is refused, and the shortest form. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "common/size.h"

static void parses_bytes_and_units(void **state)
{
    static const struct {
        const char *text;
        uint64_t bytes;
    } cases[] = {
        {"0", 0},
        {"8192", 8192},
        {"512B", 512},
        {"8KiB", 8192},
        {"1KB", 1000},
        {"1MiB", 1048576},
        {"2MB", 2000000},
        {"1GiB", 1ULL << 30},
        {"3GB", 3000000000ULL},
        {"1TiB", 1ULL << 40},
        {"18446744073709551615", UINT64_MAX},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint64_t v = 7;
        assert_int_equal(baton__size_parse(cases[i].text, &v), 0);
        assert_int_equal(v, cases[i].bytes);
    }
}

static void refuses_garbage_and_overflow(void **state)
{
    static const char *bad[] = {"",   "-1",  "1.5MiB", "8 KiB", "8kib",
                                "8k", "KiB", "8KiBs",  " 8",    "8 "};
    uint64_t v = 7;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(baton__size_parse(bad[i], &v), -EINVAL);
    assert_int_equal(baton__size_parse(NULL, &v), -EINVAL);
    assert_int_equal(baton__size_parse("18446744073709551616", &v), -ERANGE);
    assert_int_equal(baton__size_parse("16777216TiB", &v), -ERANGE);
    assert_int_equal(v, 7); /* untouched on failure */
}

static void formats_the_shortest_exact_form(void **state)
{
    char buf[32];
    assert_string_equal(baton__size_format(0, buf, sizeof(buf)), "0");
    assert_string_equal(baton__size_format(8192, buf, sizeof(buf)), "8192");
    assert_string_equal(baton__size_format(1048576, buf, sizeof(buf)), "1MiB");
    assert_string_equal(baton__size_format(2000000, buf, sizeof(buf)), "2MB");
    assert_string_equal(baton__size_format(1ULL << 40, buf, sizeof(buf)), "1TiB");
    assert_string_equal(baton__size_format(1000001, buf, sizeof(buf)), "1000001");
    /* What it writes parses back to the same number. */
    for (uint64_t b = 1; b < (1ULL << 50); b = b * 3 + 1) {
        uint64_t v;
        assert_int_equal(baton__size_parse(baton__size_format(b, buf, sizeof(buf)), &v), 0);
        assert_int_equal(v, b);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parses_bytes_and_units),
        cmocka_unit_test(refuses_garbage_and_overflow),
        cmocka_unit_test(formats_the_shortest_exact_form),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
