/* SPDX-License-Identifier: MIT */
/* `baton status` (cmd-status.c) against a fake supervisor: the request it sends, the human
 * rendering of a status reply (listeners, generations, workers, a command quoted for the shell,
 * crash loops, the last reload), --json, and a refusal. */
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

/* Runs `baton status [--json] -s <fake>` against `reply`; checks the exit code, stdout and
 * stderr, and that the request was a status request. */
static void status(bool json, const char *reply, int want_code, const char *want_out,
                   const char *want_err)
{
    struct fake_run r = fake_supervisor_run(
        baton__cmd_status, (struct baton_cli_args){.command = BATON_CLI_STATUS, .json = json},
        reply);
    assert_string_equal(r.request, "{\"cmd\":\"status\"}");
    assert_int_equal(r.code, want_code);
    assert_string_equal(r.out, want_out);
    assert_string_equal(r.err, want_err);
    fake_run_free(&r);
}

static const char reply[] =
    "{\"ok\":true,\"name\":\"shop\",\"state\":\"running\",\"pid\":4242,\"uptime_ms\":3723000,"
    "\"generation\":3,\"version\":\"0.1.0\","
    "\"listeners\":[{\"name\":\"http\",\"address\":\"127.0.0.1:8080\",\"fd\":3}],"
    "\"generations\":[{\"id\":3,\"state\":\"active\",\"started_ms_ago\":65000,"
    "\"command\":[\"/usr/bin/app\",\"--name\",\"it's\",\"a b\",\"\"],\"dir\":\"/srv/shop\","
    "\"workers\":[{\"pid\":101,\"slot\":0,\"state\":\"ready\",\"restarts\":0,\"ready_ms\":35,"
    "\"status\":\"serving\"},{\"pid\":0,\"slot\":1,\"state\":\"starting\",\"restarts\":2}]},"
    "{\"id\":2,\"state\":\"draining\",\"workers\":[]}],"
    "\"restarts\":2,\"crash_loop\":true,\"crash_loop_slots\":[\"1\"],"
    "\"last_reload\":{\"ok\":false,\"error\":\"not ready in time\","
    "\"reason\":{\"cause\":\"timeout\"},\"msg\":\"rolled back: generation 3 keeps serving\"}}\n";

static void renders_for_people(void **state)
{
    status(false, reply, BATON_EXIT_OK,
           "shop: running, supervisor pid 4242, up 1h2m, serving generation 3, baton 0.1.0\n"
           "listen: http 127.0.0.1:8080 (fd 3)\n"
           "\n"
           "generation 3: active, started 1m5s ago\n"
           "  command: /usr/bin/app --name 'it'\\''s' 'a b' ''\n"
           "  dir: /srv/shop\n"
           "  PID      SLOT  STATE     RESTARTS  READY IN  STATUS\n"
           "  101      0     ready     0         35ms      serving\n"
           "  -        1     starting  2         -         \n"
           "\n"
           "generation 2: draining\n"
           "  (no workers)\n"
           "\n"
           "restarts: 2\n"
           "warning: crash loop: workers keep exiting and being restarted (slots 1)\n"
           "last reload: failed: not ready in time\n"
           "  cause: timeout (not ready within app.ready_timeout)\n"
           "  rolled back: generation 3 keeps serving\n",
           "");
}

static void a_successful_last_reload_and_no_crash_loop(void **state)
{
    status(false,
           "{\"ok\":true,\"name\":\"x\",\"state\":\"running\",\"generations\":[],"
           "\"crash_loop\":false,\"last_reload\":{\"ok\":true,\"generation\":2,\"previous\":1}}\n",
           BATON_EXIT_OK,
           "x: running\n"
           "\n"
           "last reload: ok: generation 2 is serving (replaced generation 1)\n",
           "");
    status(false, "{\"ok\":true,\"last_reload\":null}\n", BATON_EXIT_OK,
           "baton: ?\n\nlast reload: none\n", "");
}

static void json_is_the_reply_line(void **state)
{
    status(true, reply, BATON_EXIT_OK, reply, "");
    /* A refusal too, with exit 1. */
    status(true, "{\"ok\":false,\"error\":\"forbidden\"}\n", BATON_EXIT_FAILED,
           "{\"ok\":false,\"error\":\"forbidden\"}\n", "");
}

static void a_refusal_says_why(void **state)
{
    status(false, "{\"ok\":false,\"error\":\"forbidden\"}\n", BATON_EXIT_FAILED, "",
           "baton: forbidden\n");
    status(false, "{\"ok\":false}\n", BATON_EXIT_FAILED, "", "baton: status refused\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(renders_for_people),
        cmocka_unit_test(a_successful_last_reload_and_no_crash_loop),
        cmocka_unit_test(json_is_the_reply_line),
        cmocka_unit_test(a_refusal_says_why),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
