/* SPDX-License-Identifier: MIT */
/* `baton stop` (cmd-stop.c) against a fake supervisor in a child process: the request, waiting
 * until that process is gone (it is named by SO_PEERCRED), a refusal, and --fast. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cli/internal.h"
#include "fake-supervisor.h"

static void stop(bool fast, const char *reply, int want_code, const char *want_request,
                 bool stopped, const char *want_err)
{
    struct fake_run r = fake_supervisor_run(
        baton__cmd_stop,
        (struct baton_cli_args){.command = BATON_CLI_STOP, .fast = fast, .timeout_ms = 30000},
        reply);
    char want_out[128] = "";

    if (stopped)
        snprintf(want_out, sizeof(want_out), "stopped (supervisor pid %ld)\n",
                 (long)r.supervisor_pid);
    assert_string_equal(r.request, want_request);
    assert_int_equal(r.code, want_code);
    assert_string_equal(r.out, want_out);
    assert_string_equal(r.err, want_err);
    fake_run_free(&r);
}

static void waits_for_the_supervisor_to_exit(void **state)
{
    stop(false, "{\"ok\":true}\n", BATON_EXIT_OK, "{\"cmd\":\"stop\",\"fast\":false}", true, "");
    stop(true, "{\"ok\":true}\n", BATON_EXIT_OK, "{\"cmd\":\"stop\",\"fast\":true}", true, "");
}

static void a_refusal_is_exit_1(void **state)
{
    stop(false, "{\"ok\":false,\"error\":\"forbidden\"}\n", BATON_EXIT_FAILED,
         "{\"cmd\":\"stop\",\"fast\":false}", false, "baton: forbidden\n");
    stop(false, "{\"ok\":false}\n", BATON_EXIT_FAILED, "{\"cmd\":\"stop\",\"fast\":false}", false,
         "baton: stop refused\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(waits_for_the_supervisor_to_exit),
        cmocka_unit_test(a_refusal_is_exit_1),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
