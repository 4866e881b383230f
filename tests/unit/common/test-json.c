/* SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "common/json.h"

static void escapes_strings(void **state)
{
    struct baton_buf b = BATON_BUF_INIT(BATON_BUF_UNBOUNDED);
    assert_int_equal(baton__json_string(&b, "a\"b\\c\n\t\x01\x7f", (size_t)-1), 0);
    assert_string_equal(b.data, "\"a\\\"b\\\\c\\n\\t\\u0001\\u007f\"");
    baton__buf_free(&b);
}

static void replaces_invalid_utf8(void **state)
{
    struct baton_buf b = BATON_BUF_INIT(BATON_BUF_UNBOUNDED);
    /* valid 2-byte é, a lone continuation byte, an overlong '/' and a surrogate */
    assert_int_equal(baton__json_string(&b, "\xc3\xa9\x80\xc0\xaf\xed\xa0\x80", (size_t)-1), 0);
    assert_string_equal(b.data, "\"\xc3\xa9\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef"
                                "\xbf\xbd\xef\xbf\xbd\"");
    baton__buf_free(&b);
}

static void builds_objects(void **state)
{
    struct baton_buf b = BATON_BUF_INIT(BATON_BUF_UNBOUNDED);
    baton__buf_puts(&b, "{");
    baton__json_kv_str(&b, "cmd", "status");
    baton__json_kv_int(&b, "gen", -3);
    baton__json_kv_bool(&b, "ok", 1);
    baton__json_kv_str(&b, "none", NULL);
    baton__json_key(&b, "list");
    baton__buf_puts(&b, "[");
    baton__json_string(&b, "x", 1);
    baton__buf_puts(&b, "]}");
    assert_string_equal(
        b.data, "{\"cmd\":\"status\",\"gen\":-3,\"ok\":true,\"none\":null,\"list\":[\"x\"]}");
    baton__buf_free(&b);
}

static void respects_buffer_limit(void **state)
{
    struct baton_buf b = BATON_BUF_INIT(8);
    assert_int_equal(baton__json_string(&b, "12345", 5), 0);
    assert_true(baton__json_string(&b, "12345", 5) < 0);
    assert_true(b.len <= 8);
    baton__buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(escapes_strings),
        cmocka_unit_test(replaces_invalid_utf8),
        cmocka_unit_test(builds_objects),
        cmocka_unit_test(respects_buffer_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
