/* SPDX-License-Identifier: MIT */
/* `baton run` (cmd-run.c) up to the supervisor: a configuration that does not load is exit 2,
 * each problem on its own "baton: FILE:LINE:COL: ..." line, and nothing is started. */
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

static void a_broken_config_is_exit_2(void **state)
{
    char dir[] = "/tmp/baton-test-cmd-run-XXXXXX", path[128];
    struct capture out, err;

    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/baton.yaml", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("listen:\n  http: 127.0.0.1:1\napp:\n  command: [/bin/true]\n  workers: many\n"
          "  drain_timeout: forever\n",
          f);
    assert_int_equal(fclose(f), 0);

    struct baton_cli_args args = {.command = BATON_CLI_RUN, .config_path = path};
    capture_begin(&out, STDOUT_FILENO);
    capture_begin(&err, STDERR_FILENO);
    int code = baton__cmd_run(&args);
    char *e = capture_end(&err), *o = capture_end(&out);

    assert_int_equal(code, BATON_EXIT_USAGE);
    assert_string_equal(o, "");
    /* One "baton: " line per problem, each naming its place in the file. */
    size_t lines = 0;
    for (char *p = e; *p; p = strchr(p, '\n') + 1) {
        char prefix[160];
        snprintf(prefix, sizeof(prefix), "baton: %s:", path);
        assert_true(strncmp(p, prefix, strlen(prefix)) == 0);
        assert_non_null(strchr(p, '\n'));
        lines++;
    }
    assert_int_equal(lines, 2);
    assert_non_null(strstr(e, ":5:"));
    assert_non_null(strstr(e, ":6:"));
    free(e);
    free(o);
    unlink(path);
    rmdir(dir);
}

static void a_missing_config_is_exit_2(void **state)
{
    struct capture err;
    struct baton_cli_args args = {.command = BATON_CLI_RUN,
                                  .config_path = "/nonexistent/baton.yaml"};
    capture_begin(&err, STDERR_FILENO);
    int code = baton__cmd_run(&args);
    char *e = capture_end(&err);
    assert_int_equal(code, BATON_EXIT_USAGE);
    assert_true(strncmp(e, "baton: ", 7) == 0);
    assert_non_null(strstr(e, "/nonexistent/baton.yaml"));
    free(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_broken_config_is_exit_2),
        cmocka_unit_test(a_missing_config_is_exit_2),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
