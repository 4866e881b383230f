/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/buf.h"

static void appends_and_consumes(void **state)
{
    struct baton_buf b = BATON_BUF_INIT(BATON_BUF_UNBOUNDED);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(baton__buf_printf(&b, "%d,", i % 10), 0);
    assert_int_equal(b.len, 2000);
    baton__buf_consume(&b, 1998);
    assert_string_equal(b.data, "9,");
    baton__buf_consume(&b, 5);
    assert_int_equal(b.len, 0);
    assert_string_equal(b.data, "");
    baton__buf_free(&b);
}

static void enforces_maximum(void **state)
{
    struct baton_buf b = BATON_BUF_INIT(10);
    assert_int_equal(baton__buf_append(&b, "0123456789", 10), 0);
    assert_int_equal(baton__buf_append(&b, "x", 1), -ENOBUFS);
    assert_int_equal(baton__buf_printf(&b, "%s", "y"), -ENOBUFS);
    assert_int_equal(b.len, 10);
    assert_int_equal(baton__buf_append(&b, "", 0), 0);
    baton__buf_free(&b);
    /* SIZE_MAX-sized requests must not wrap around the check. */
    struct baton_buf c = BATON_BUF_INIT(10);
    assert_int_equal(baton__buf_append(&c, "a", 1), 0);
    assert_int_equal(baton__buf_append(&c, "b", SIZE_MAX), -ENOBUFS);
    baton__buf_free(&c);
}

/* No "0 means unlimited": a buffer whose maximum was forgotten holds nothing. */
static void maximum_is_mandatory(void **state)
{
    struct baton_buf zero = BATON_BUF_INIT(0), zeroed;
    memset(&zeroed, 0, sizeof(zeroed));
    assert_int_equal(baton__buf_append(&zero, "x", 1), -ENOBUFS);
    assert_int_equal(baton__buf_puts(&zeroed, "x"), -ENOBUFS);
    assert_int_equal(baton__buf_printf(&zeroed, "%d", 1), -ENOBUFS);
    assert_int_equal(zeroed.len, 0);
    baton__buf_free(&zero);
    baton__buf_free(&zeroed);
    /* Unbounded is spelled out, and still refuses what cannot be allocated. */
    struct baton_buf big = BATON_BUF_INIT(BATON_BUF_UNBOUNDED);
    assert_int_equal(baton__buf_append(&big, "a", 1), 0);
    assert_int_equal(baton__buf_append(&big, "b", SIZE_MAX), -ENOBUFS);
    assert_int_equal(baton__buf_append(&big, "b", SIZE_MAX - 1), -ENOBUFS);
    assert_string_equal(big.data, "a");
    baton__buf_free(&big);
}

static void steals(void **state)
{
    struct baton_buf b = BATON_BUF_INIT(BATON_BUF_UNBOUNDED);
    char *empty = baton__buf_steal(&b);
    assert_string_equal(empty, "");
    free(empty);
    baton__buf_puts(&b, "abc");
    char *s = baton__buf_steal(&b);
    assert_string_equal(s, "abc");
    assert_null(b.data);
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(appends_and_consumes),
        cmocka_unit_test(enforces_maximum),
        cmocka_unit_test(maximum_is_mandatory),
        cmocka_unit_test(steals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
