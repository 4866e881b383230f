/* SPDX-License-Identifier: MIT */
/* Signal names (src/common/signal.c): parsing what people write, printing what they read. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/signal.h"

static void parses_names_and_numbers(void **state)
{
    assert_int_equal(baton__signal_parse("TERM"), SIGTERM);
    assert_int_equal(baton__signal_parse("SIGTERM"), SIGTERM);
    assert_int_equal(baton__signal_parse("15"), SIGTERM);
    assert_int_equal(baton__signal_parse("sigquit"), SIGQUIT);
    assert_int_equal(baton__signal_parse("HUP"), SIGHUP);
    assert_int_equal(baton__signal_parse("USR2"), SIGUSR2);
    assert_int_equal(baton__signal_parse("WINCH"), SIGWINCH);
    assert_int_equal(baton__signal_parse("9"), SIGKILL);
}

static void refuses_what_is_not_a_signal(void **state)
{
    assert_int_equal(baton__signal_parse("0"), -EINVAL);
    assert_int_equal(baton__signal_parse("99"), -EINVAL);
    assert_int_equal(baton__signal_parse("015"), -EINVAL);
    assert_int_equal(baton__signal_parse("015x"), -EINVAL);
    assert_int_equal(baton__signal_parse("SIG"), -EINVAL);
    assert_int_equal(baton__signal_parse("TERMINATE"), -EINVAL);
    assert_int_equal(baton__signal_parse(" TERM"), -EINVAL);
    assert_int_equal(baton__signal_parse(""), -EINVAL);
    assert_int_equal(baton__signal_parse(NULL), -EINVAL);
}

static void names_round_trip(void **state)
{
    assert_string_equal(baton__signal_name(SIGTERM), "TERM");
    assert_string_equal(baton__signal_name(SIGHUP), "HUP");
    assert_string_equal(baton__signal_name(SIGUSR2), "USR2");
    assert_string_equal(baton__signal_name(0), "UNKNOWN");
    assert_string_equal(baton__signal_name(200), "UNKNOWN");
    /* Every signal 1..31 that has a name parses back to itself, with and without "SIG". */
    for (int s = 1; s < 32; s++) {
        const char *name = baton__signal_name(s);
        char sig[16] = "SIG";
        if (!strcmp(name, "UNKNOWN"))
            continue;
        assert_int_equal(baton__signal_parse(name), s);
        strncat(sig, name, sizeof(sig) - 4);
        assert_int_equal(baton__signal_parse(sig), s);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parses_names_and_numbers),
        cmocka_unit_test(refuses_what_is_not_a_signal),
        cmocka_unit_test(names_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
