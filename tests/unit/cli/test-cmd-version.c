/* SPDX-License-Identifier: MIT */
/* `baton version` (cmd-version.c): the version the command was built as, on stdout. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include <cmocka.h>

#include "cli/internal.h"
#include "fake-supervisor.h"

static void prints_the_build_version(void **state)
{
    struct baton_cli_args args = {.command = BATON_CLI_VERSION};
    struct capture out;
    capture_begin(&out, STDOUT_FILENO);
    int code = baton__cmd_version(&args);
    char *text = capture_end(&out);
    assert_int_equal(code, BATON_EXIT_OK);
    assert_string_equal(text, "baton " BATON_TEST_PROJECT_VERSION "\n");
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(prints_the_build_version),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
