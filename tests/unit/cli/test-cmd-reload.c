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

struct run {
    int code;
    char *out, *err, *request;
};

static struct run reload(struct baton_cli_args args, const char *reply)
{
    struct fake_supervisor f;
    struct capture out, err;
    struct run r;

    fake_supervisor_start(&f, reply);
    args.command = BATON_CLI_RELOAD;
    args.config_path = BATON_CLI_DEFAULT_CONFIG;
    args.socket_path = f.path;
    capture_begin(&out, STDOUT_FILENO);
    capture_begin(&err, STDERR_FILENO);
    r.code = baton__cmd_reload(&args);
    r.err = capture_end(&err);
    r.out = capture_end(&out);
    r.request = fake_supervisor_finish(&f);
    return r;
}

static void done(struct run *r)
{
    free(r->out);
    free(r->err);
    free(r->request);
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
    struct run r = reload((struct baton_cli_args){.timeout_ms = 30000}, reply);
    assert_int_equal(r.code, BATON_EXIT_OK);
    assert_string_equal(r.request, "{\"cmd\":\"reload\",\"wait\":false,\"timeout_ms\":30000}");
    assert_string_equal(r.out, "[+3ms] generation 4: 2 workers started\n"
                               "[+1.2s] generation 4 ready\n"
                               "no elapsed time\n"
                               "generation 4 is serving (replaced generation 3; ready in 1.2s)\n");
    assert_string_equal(r.err, "");
    done(&r);
}

static void options_reach_the_request(void **state)
{
    struct run r = reload((struct baton_cli_args){.wait = true, .in_place = true, .timeout_ms = 5},
                          "{\"ok\":true}\n");
    assert_string_equal(r.request, "{\"cmd\":\"reload\",\"wait\":true,\"timeout_ms\":5,"
                                   "\"in_place\":true}");
    assert_string_equal(r.out, "done\n");
    done(&r);
}

static void json_prints_every_line(void **state)
{
    char reply[1024];
    snprintf(reply, sizeof(reply), "%s%s", progress, "{\"ok\":false,\"error\":\"failed\"}\n");
    struct run r = reload((struct baton_cli_args){.json = true}, reply);
    assert_int_equal(r.code, BATON_EXIT_FAILED);
    assert_string_equal(r.out, reply);
    assert_string_equal(r.err, "");
    done(&r);
}

static void failure_details_go_to_stderr(void **state)
{
    struct run r = reload((struct baton_cli_args){0},
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
    done(&r);

    r = reload((struct baton_cli_args){0},
               "{\"ok\":false,\"busy\":true,\"error\":\"a reload is running\"}\n");
    assert_string_equal(r.err, "baton: a reload is running\n"
                               "  (baton reload --wait queues behind the running transition)\n");
    done(&r);
    r = reload((struct baton_cli_args){.wait = true}, "{\"ok\":false,\"busy\":true}\n");
    assert_string_equal(r.err, "baton: reload failed\n");
    done(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(progress_then_the_verdict),
        cmocka_unit_test(options_reach_the_request),
        cmocka_unit_test(json_prints_every_line),
        cmocka_unit_test(failure_details_go_to_stderr),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
