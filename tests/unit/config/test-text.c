/* SPDX-License-Identifier: MIT */
/*
 * The text helpers of the configuration library (src/config/text.c): excerpts of user text for
 * messages, UTF-8 validation, positions and single-quoted scalars.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fixture.h"

static void excerpts_are_printable_and_bounded(void **state)
{
    char buf[12];
    assert_string_equal(baton__config_excerpt("short", buf, sizeof(buf)), "short");
    assert_string_equal(baton__config_excerpt("a\tb\nc\x7f", buf, sizeof(buf)), "a?b?c?");
    assert_string_equal(baton__config_excerpt("0123456789abcdef", buf, sizeof(buf)), "01234567...");
    /* Never cut inside a UTF-8 sequence: "é" is two bytes. */
    assert_string_equal(baton__config_excerpt("abcdef\xc3\xa9xyz", buf, sizeof(buf)), "abcdef...");
    assert_string_equal(baton__config_excerpt("x", buf, 4), "");
}

static void finds_invalid_utf8(void **state)
{
    static const struct {
        const char *text;
        size_t at;
    } cases[] = {
        {"plain ascii", 11},      {"caf\xc3\xa9", 5}, {"\xf0\x9f\x98\x80 ok", 7}, {"a\xff", 1},
        {"ab\xc0\xaf", 2},        /* overlong '/' */
        {"\xed\xa0\x80", 0},      /* a surrogate */
        {"x\xf4\x90\x80\x80", 1}, /* past U+10FFFF */
        {"\xe2\x82", 0},          /* cut short */
        {"ok\xe2\x28\xa1", 2},    /* a bad continuation byte */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        assert_int_equal(baton__config_utf8_invalid_at(cases[i].text, strlen(cases[i].text)),
                         cases[i].at);
}

static void positions_count_characters(void **state)
{
    const char *text = "ab\nc\xc3\xa9"
                       "d\n\nx";
    int line, col;

    baton__config_position(text, 0, &line, &col);
    assert_true(line == 1 && col == 1);
    baton__config_position(text, 2, &line, &col);
    assert_true(line == 1 && col == 3);
    baton__config_position(text, 3, &line, &col);
    assert_true(line == 2 && col == 1);
    baton__config_position(text, 6, &line, &col); /* after the two bytes of "é": column 3 */
    assert_true(line == 2 && col == 3);
    baton__config_position(text, 9, &line, &col);
    assert_true(line == 4 && col == 1);
}

static void decodes_single_quoted_scalars(void **state)
{
    static const struct {
        const char *yaml, *value;
    } cases[] = {
        {"'it''s'", "it's"},
        {"''", ""},
        {"'a  \n   b'", "a b"},
        {"'a\n\n\n  b'", "a\n\nb"},
        {"'x''''\n   y  \n\n  z'", "x'' y\nz"},
        {"'no end", "no end"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t len;
        char *v = baton__config_single_quoted(cases[i].yaml, strlen(cases[i].yaml), 0, &len);
        assert_string_equal(v, cases[i].value);
        assert_int_equal(len, strlen(cases[i].value));
        free(v);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(excerpts_are_printable_and_bounded),
        cmocka_unit_test(finds_invalid_utf8),
        cmocka_unit_test(positions_count_characters),
        cmocka_unit_test(decodes_single_quoted_scalars),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
