/* SPDX-License-Identifier: MIT */
/* baton_version(): exported from libbaton.so (this test links the shared library, where symbols
 * are hidden unless marked), and the project's version as MAJOR.MINOR.PATCH. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "baton/baton.h"

static void is_the_project_version(void **state)
{
    const char *v = baton_version();
    unsigned major, minor, patch;
    int end = 0;

    assert_non_null(v);
    assert_string_equal(v, BATON_TEST_PROJECT_VERSION);
    assert_int_equal(sscanf(v, "%u.%u.%u%n", &major, &minor, &patch, &end), 3);
    assert_int_equal((size_t)end, strlen(v));
    assert_ptr_equal(baton_version(), v); /* a constant, not a new string each call */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(is_the_project_version),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
