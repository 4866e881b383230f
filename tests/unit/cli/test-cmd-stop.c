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
    struct fake_supervisor f;
    struct capture out, err;
    char *got_out, *got_err, *request, want_out[128];
    int code;

    fake_supervisor_start(&f, reply);
    struct baton_cli_args args = {.command = BATON_CLI_STOP,
                                  .config_path = BATON_CLI_DEFAULT_CONFIG,
                                  .socket_path = f.path,
                                  .fast = fast,
                                  .timeout_ms = 30000};
    capture_begin(&out, STDOUT_FILENO);
    capture_begin(&err, STDERR_FILENO);
    code = baton__cmd_stop(&args);
    got_err = capture_end(&err);
    got_out = capture_end(&out);
    request = fake_supervisor_finish(&f);
    if (stopped)
        snprintf(want_out, sizeof(want_out), "stopped (supervisor pid %ld)\n", (long)f.pid);
    else
        want_out[0] = '\0';
    assert_string_equal(request, want_request);
    assert_int_equal(code, want_code);
    assert_string_equal(got_out, want_out);
    assert_string_equal(got_err, want_err);
    free(got_out);
    free(got_err);
    free(request);
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
