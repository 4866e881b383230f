/* SPDX-License-Identifier: MIT */
/* Reason phrases (src/common/http-status.c): RFC 9110's, and never NULL. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/http-status.h"

static void names_the_statuses_baton_writes(void **state)
{
    assert_string_equal(baton__status_reason(200), "OK");
    assert_string_equal(baton__status_reason(304), "Not Modified");
    assert_string_equal(baton__status_reason(400), "Bad Request");
    assert_string_equal(baton__status_reason(413), "Content Too Large");
    assert_string_equal(baton__status_reason(416), "Range Not Satisfiable");
    assert_string_equal(baton__status_reason(431), "Request Header Fields Too Large");
    assert_string_equal(baton__status_reason(503), "Service Unavailable");
    assert_string_equal(baton__status_reason(505), "HTTP Version Not Supported");
}

static void an_unknown_status_is_unknown(void **state)
{
    for (int s = -1; s < 1000; s++)
        assert_non_null(baton__status_reason(s));
    assert_string_equal(baton__status_reason(299), "Unknown");
    assert_string_equal(baton__status_reason(0), "Unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(names_the_statuses_baton_writes),
        cmocka_unit_test(an_unknown_status_is_unknown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
