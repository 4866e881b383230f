/* SPDX-License-Identifier: MIT */
/* `baton config` (cmd-config.c): its own options, a valid file printed with the origin of each
 * value, a broken one refused with exit 2 and FILE:LINE:COL on stderr. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cli/cmd-config.h"
#include "cli/internal.h"
#include "fake-supervisor.h"

static char dir[] = "/tmp/baton-test-cmd-config-XXXXXX";

static int setup(void **state)
{
    assert_non_null(mkdtemp(dir));
    assert_int_equal(chdir(dir), 0);
    return 0;
}

static int teardown(void **state)
{
    unlink("good.yaml");
    unlink("bad.yaml");
    assert_int_equal(chdir("/"), 0);
    rmdir(dir);
    return 0;
}

static void write_file(const char *name, const char *text)
{
    FILE *f = fopen(name, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

/* Runs `baton config ARGS...`; returns the exit code, stdout and stderr. */
static int config(char **out, char **err, int argc, char **argv)
{
    struct capture o, e;
    capture_begin(&o, STDOUT_FILENO);
    capture_begin(&e, STDERR_FILENO);
    int code = baton__cmd_config(argc, argv);
    *err = capture_end(&e);
    *out = capture_end(&o);
    return code;
}

static void prints_the_merged_config_with_origins(void **state)
{
    char *out, *err;
    char *argv[] = {"config", "-c", "good.yaml", "--set", "app.workers=3", NULL};

    write_file("good.yaml", "listen:\n  http: 127.0.0.1:9999\napp:\n  command: [/bin/true]\n");
    assert_int_equal(config(&out, &err, 5, argv), 0);
    assert_string_equal(err, "");
    assert_non_null(strstr(out, "\n  http: 127.0.0.1:9999"));
    assert_non_null(strstr(out, "# good.yaml:2:3\n"));
    assert_non_null(strstr(out, "\n  command: [/bin/true]"));
    assert_non_null(strstr(out, "\n  workers: 3"));
    free(out);
    free(err);
}

static void a_broken_file_is_exit_2_with_its_place(void **state)
{
    char *out, *err;
    char *argv[] = {"config", "-c", "bad.yaml", NULL};

    write_file("bad.yaml",
               "listen:\n  http: 127.0.0.1:9999\napp:\n  command: [/bin/true]\n  workerz: 2\n");
    assert_int_equal(config(&out, &err, 3, argv), 2);
    assert_string_equal(out, "");
    assert_string_equal(err, "bad.yaml:5:3: unknown key 'workerz' in app (did you mean "
                             "'workers'?)\n");
    free(out);
    free(err);
}

static void help_and_usage_errors(void **state)
{
    char *out, *err;
    char *help[] = {"config", "--help", NULL};
    char *unknown[] = {"config", "--nope", NULL};

    assert_int_equal(config(&out, &err, 2, help), 0);
    assert_true(strncmp(out, "usage: baton config [-c FILE]", 29) == 0);
    assert_string_equal(err, "");
    free(out);
    free(err);
    assert_int_equal(config(&out, &err, 2, unknown), 2);
    assert_string_equal(out, "");
    assert_non_null(strstr(err, "--nope"));
    free(out);
    free(err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(prints_the_merged_config_with_origins),
        cmocka_unit_test(a_broken_file_is_exit_2_with_its_place),
        cmocka_unit_test(help_and_usage_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
