/* SPDX-License-Identifier: MIT */
/* BATON_STATS= counters: parsing, refusals, monotonicity, sums and their JSON. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/buf.h"
#include "supervisor/stats.h"

static int parse(const char *s, struct baton_counters *c)
{
    return baton__counters_parse(s, strlen(s), c);
}

static void parses_what_baton_web_sends(void **state)
{
    struct baton_counters c;
    assert_int_equal(parse("requests=5 responses_1xx=0 responses_2xx=4 responses_3xx=0 "
                           "responses_4xx=1 responses_5xx=0 errors=0 bytes_out=726 connections=1 "
                           "accepted=2",
                           &c),
                     0);
    assert_int_equal(c.v[BATON_STAT_REQUESTS], 5);
    assert_int_equal(c.v[BATON_STAT_2XX], 4);
    assert_int_equal(c.v[BATON_STAT_4XX], 1);
    assert_int_equal(c.v[BATON_STAT_BYTES_OUT], 726);
    assert_int_equal(c.v[BATON_STAT_ACCEPTED], 2);
    assert_int_equal(c.v[BATON_STAT_BYTES_IN], 0);
    assert_int_equal(c.connections, 1);
    /* Unknown keys are ignored, spaces may repeat, the largest u64 fits. */
    assert_int_equal(parse("  future=7  requests=18446744073709551615 ", &c), 0);
    assert_true(c.v[BATON_STAT_REQUESTS] == UINT64_MAX);
    assert_int_equal(parse("", &c), 0);
    assert_int_equal(c.v[BATON_STAT_REQUESTS], 0);
}

static void refuses_malformed_reports(void **state)
{
    static const char *const bad[] = {
        "requests",     "requests=",     "=5",          "requests=-1",
        "requests=1x",  "requests=0x10", "requests=+1", "requests=18446744073709551616",
        "requests=1=2", "requests=1\t",
    };
    struct baton_counters c = {.v = {[BATON_STAT_REQUESTS] = 42}};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (parse(bad[i], &c) != -EINVAL)
            fail_msg("accepted '%s'", bad[i]);
        assert_int_equal(c.v[BATON_STAT_REQUESTS], 42); /* written only on success */
    }
    char huge[BATON_STATS_MAX + 2];
    memset(huge, ' ', sizeof(huge) - 1);
    huge[sizeof(huge) - 1] = '\0';
    assert_int_equal(parse(huge, &c), -E2BIG);
}

static void counters_only_go_up(void **state)
{
    struct baton_counters a = {0}, b = {0};
    assert_int_equal(parse("requests=5 responses_2xx=5 connections=9", &a), 0);
    assert_int_equal(parse("requests=6 responses_2xx=6 connections=0", &b), 0);
    assert_true(baton__counters_monotonic(&a, &b)); /* the gauge may go down */
    assert_false(baton__counters_monotonic(&b, &a));
}

static void sums_and_json(void **state)
{
    struct baton_counters sum = {0}, a, b;
    assert_int_equal(parse("requests=5 responses_5xx=1 connections=2", &a), 0);
    assert_int_equal(parse("requests=7 responses_5xx=2 connections=3", &b), 0);
    baton__counters_add(&sum, &a, false);
    baton__counters_add(&sum, &b, true);
    assert_int_equal(sum.v[BATON_STAT_REQUESTS], 12);
    assert_int_equal(sum.v[BATON_STAT_5XX], 3);
    assert_int_equal(sum.connections, 3);
    struct baton_buf out = BATON_BUF_INIT(4096);
    baton__counters_json(&out, &sum);
    assert_non_null(strstr(out.data, "{\"requests\":12,\"responses_1xx\":0,"));
    assert_non_null(strstr(out.data, "\"responses_5xx\":3,"));
    assert_non_null(strstr(out.data, "\"connections\":3}"));
    baton__buf_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parses_what_baton_web_sends),
        cmocka_unit_test(refuses_malformed_reports),
        cmocka_unit_test(counters_only_go_up),
        cmocka_unit_test(sums_and_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
