/* SPDX-License-Identifier: MIT */
/* `baton reload` (cmd-reload.c) against a fake supervisor: the request built from the options,
 * progress lines as they come, the one-line verdict, --json, and a failure's details on stderr
 * with the --wait hint for a busy supervisor. */
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

static struct fake_run reload(struct baton_cli_args args, const char *reply)
{
    args.command = BATON_CLI_RELOAD;
    return fake_supervisor_run(baton__cmd_reload, args, reply);
}

static const char progress[] =
    "{\"event\":\"spawned\",\"msg\":\"generation 4: 2 workers started\",\"elapsed_ms\":3}\n"
    "{\"event\":\"quiet\"}\n"
    "{\"event\":\"ready\",\"msg\":\"generation 4 ready\",\"elapsed_ms\":1250}\n"
    "{\"event\":\"note\",\"msg\":\"no elapsed time\"}\n";

static void progress_then_the_verdict(void **state)
{
    char reply[1024];
    snprintf(reply, sizeof(reply), "%s%s", progress,
             "{\"ok\":true,\"generation\":4,\"previous\":3,\"timings\":{\"ready_ms\":1250}}\n");
    struct fake_run r = reload((struct baton_cli_args){.timeout_ms = 30000}, reply);
    assert_int_equal(r.code, BATON_EXIT_OK);
    assert_string_equal(r.request, "{\"cmd\":\"reload\",\"wait\":false,\"timeout_ms\":30000}");
    assert_string_equal(r.out, "[+3ms] generation 4: 2 workers started\n"
                               "[+1.2s] generation 4 ready\n"
                               "no elapsed time\n"
                               "generation 4 is serving (replaced generation 3; ready in 1.2s)\n");
    assert_string_equal(r.err, "");
    fake_run_free(&r);
}

/* The supervisor's events carry their step and its time. */
static void steps_and_their_times(void **state)
{
    struct fake_run r = reload(
        (struct baton_cli_args){0},
        "{\"event\":\"progress\",\"step\":\"start\",\"msg\":\"generation 2: starting\","
        "\"gen\":2,\"elapsed_ms\":2,\"step_ms\":2}\n"
        "{\"event\":\"progress\",\"step\":\"ready\",\"msg\":\"generation 2: worker 9 ready\","
        "\"gen\":2,\"elapsed_ms\":2504,\"step_ms\":2502}\n"
        "{\"ok\":true,\"msg\":\"generation 2 is serving\"}\n");
    assert_int_equal(r.code, BATON_EXIT_OK);
    /* Not a terminal: no spinner, no control character, no colour. */
    assert_string_equal(r.out, "[+2ms] start     generation 2: starting (2ms)\n"
                               "[+2.5s] ready     generation 2: worker 9 ready (2.5s)\n"
                               "generation 2 is serving\n");
    fake_run_free(&r);
}

static void options_reach_the_request(void **state)
{
    struct fake_run r =
        reload((struct baton_cli_args){.wait = true, .in_place = true, .timeout_ms = 5},
               "{\"ok\":true}\n");
    assert_string_equal(r.request, "{\"cmd\":\"reload\",\"wait\":true,\"timeout_ms\":5,"
                                   "\"in_place\":true}");
    assert_string_equal(r.out, "done\n");
    fake_run_free(&r);
}

static void json_prints_every_line(void **state)
{
    char reply[1024];
    snprintf(reply, sizeof(reply), "%s%s", progress, "{\"ok\":false,\"error\":\"failed\"}\n");
    struct fake_run r = reload((struct baton_cli_args){.json = true}, reply);
    assert_int_equal(r.code, BATON_EXIT_FAILED);
    assert_string_equal(r.out, reply);
    assert_string_equal(r.err, "");
    fake_run_free(&r);
}

static void failure_details_go_to_stderr(void **state)
{
    struct fake_run r =
        reload((struct baton_cli_args){0},
               "{\"ok\":false,\"error\":\"generation 5 failed\",\"reason\":{\"cause\":"
               "\"exit\",\"exit_status\":1,\"stderr\":[\"boom\"]},"
               "\"msg\":\"rolled back: generation 4 keeps serving\"}\n");
    assert_int_equal(r.code, BATON_EXIT_FAILED);
    assert_string_equal(r.out, "");
    assert_string_equal(r.err, "baton: generation 5 failed\n"
                               "  cause: exit, exit status 1\n"
                               "  stderr (last lines):\n"
                               "    | boom\n"
                               "  rolled back: generation 4 keeps serving\n");
    fake_run_free(&r);

    r = reload((struct baton_cli_args){0},
               "{\"ok\":false,\"busy\":true,\"error\":\"a reload is running\"}\n");
    assert_string_equal(r.err, "baton: a reload is running\n"
                               "  (baton reload --wait queues behind the running transition)\n");
    fake_run_free(&r);
    r = reload((struct baton_cli_args){.wait = true}, "{\"ok\":false,\"busy\":true}\n");
    assert_string_equal(r.err, "baton: reload failed\n");
    fake_run_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(progress_then_the_verdict),    cmocka_unit_test(steps_and_their_times),
        cmocka_unit_test(options_reach_the_request),    cmocka_unit_test(json_prints_every_line),
        cmocka_unit_test(failure_details_go_to_stderr),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
