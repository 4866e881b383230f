/* SPDX-License-Identifier: MIT */
/*
 * Applying nodes to keys (src/config/apply.c): a value of the wrong shape for its key, a
 * section, app.command, app.env and listen.
 */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "fixture.h"

static void reports_wrong_types(void **state)
{
    expect_error("app:\n  command: [x]\n  workers: [1, 2]\n",
                 "baton.yaml:3:12: app.workers must be a positive integer, not a list\n");
    expect_error("app:\n  command: bin/server --port 80\n",
                 "baton.yaml:2:12: app.command must be a list such as [bin/server, --port, "
                 "\"8080\"]: commands never go through a shell\n");
    expect_error("app:\n  command: []\n",
                 "baton.yaml:2:12: app.command must be a non-empty list: the program and its "
                 "arguments, [bin/server, --port, \"8080\"]\n");
    expect_error("app:\n  command: [x, {a: b}]\n",
                 "baton.yaml:2:16: app.command[1] must be a string, not a mapping\n");
    expect_error("app:\n  command: [x]\n  env: [A=b]\n",
                 "baton.yaml:3:8: app.env must be a mapping (NAME: value), not a list\n");
    expect_error("app:\n  command: [x]\n  env: {A: [b]}\n",
                 "baton.yaml:3:12: app.env.A must be a string, not a list (write \"\" for an "
                 "empty one)\n");
    expect_error("listen: 127.0.0.1:80\napp: {command: [x]}\n",
                 "baton.yaml:1:9: listen must be a mapping (http: 127.0.0.1:8080), not a "
                 "value\n");
    expect_error("app: [x]\n", "baton.yaml:1:6: app must be a mapping of keys, not a list\n");
    expect_error("- a\n- b\n", "baton.yaml:1:1: the configuration must be a mapping of keys "
                               "(name: value), not a list\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(reports_wrong_types, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
