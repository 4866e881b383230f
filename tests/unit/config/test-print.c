/* SPDX-License-Identifier: MIT */
/*
 * baton__config_print() (src/config/print.c): YAML with origins that loads back the same, and
 * JSON.
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

/* A printed YAML line: the value, then its origin in a comment at column 45. */
static const char *line(const char *text, const char *origin)
{
    static char buf[256];
    if (strlen(text) < 42)
        snprintf(buf, sizeof(buf), "%-44s# %s\n", text, origin);
    else
        snprintf(buf, sizeof(buf), "%s  # %s\n", text, origin);
    return buf;
}

/* Prints, loads the printed YAML back, prints again: the same configuration. */
static void prints_and_round_trips(void **state)
{
    write_file("baton.yaml", design_example);
    char *env[] = {"BATON_APP_WORKERS=5", NULL};
    char *sets[] = {"app.env.EMPTY=\"\"", "app.env.ODD='yes'", "name=\"1e3\"", NULL};
    struct result res = load("baton.yaml", NULL, env, sets);
    assert_string_equal(res.err, "");
    struct baton_buf out = BATON_BUF_INIT(BATON_BUF_UNBOUNDED),
                     again = BATON_BUF_INIT(BATON_BUF_UNBOUNDED),
                     json = BATON_BUF_INIT(BATON_BUF_UNBOUNDED);
    assert_int_equal(baton__config_print(res.config, &out, false), 0);

    assert_non_null(strstr(out.data, line("name: \"1e3\"", "--set")));
    assert_non_null(strstr(out.data, line("  workers: 5", "BATON_APP_WORKERS")));
    assert_non_null(strstr(out.data, line("  http: 127.0.0.1:8080", "baton.yaml:3:3")));
    assert_non_null(strstr(out.data, "  command: [bin/baton-web, --module, modules/hello.so]  # "
                                     "baton.yaml:6:3\n"));
    assert_non_null(strstr(out.data, line("  user: www-data", "baton.yaml:18:3")));
    assert_non_null(strstr(out.data, line("  group: staff", "baton.yaml:22:3")));
    assert_non_null(strstr(out.data, line("  level: warning", "baton.yaml:25:3")));
    /* Keys not supported yet are not printed, nor their sections. */
    assert_null(strstr(out.data, "canary"));
    /* app.probe is built: off (no path) with its defaults, which load back as off. */
    assert_non_null(strstr(out.data, "  probe:\n"));
    assert_non_null(strstr(out.data, line("    path: null", "default")));
    assert_non_null(strstr(out.data, line("    expect: 200", "default")));
    /* Built ones are, with their defaults. */
    assert_non_null(strstr(out.data, line("  probation: 0s", "default")));
    assert_non_null(strstr(out.data, line("  max_size: 1GiB", "default")));
    assert_non_null(strstr(out.data, line("    interval: 1m", "default"))); /* release.source */
    assert_non_null(strstr(out.data, "    ODD: \"yes\""));
    assert_non_null(strstr(out.data, "    PORT: \"8080\""));
    assert_non_null(strstr(out.data, "  restart:\n    initial: 250ms"));
    assert_non_null(strstr(out.data, "  stop_signal: INT "));
    assert_non_null(strstr(out.data, "  reload_signal: USR1 "));
    assert_non_null(strstr(out.data, "  ready: delay:2s "));

    write_file("printed.yaml", out.data);
    struct result back = load("printed.yaml", NULL, NULL, NULL);
    assert_string_equal(back.err, "");
    assert_int_equal(baton__config_print(back.config, &again, false), 0);
    /* Same lines but for the origin comments. */
    char *a = out.data, *b = again.data;
    while (*a && *b) {
        size_t la = strcspn(a, "#\n"), lb = strcspn(b, "#\n");
        while (la && a[la - 1] == ' ')
            la--;
        while (lb && b[lb - 1] == ' ')
            lb--;
        assert_int_equal(la, lb);
        assert_memory_equal(a, b, la);
        a = strchr(a, '\n') + 1;
        b = strchr(b, '\n') + 1;
    }
    assert_true(*a == '\0' && *b == '\0');

    assert_int_equal(baton__config_print(res.config, &json, true), 0);
    assert_true(strncmp(json.data,
                        "{\"config\":{\"name\":\"1e3\",\"listen\":{\"http\":"
                        "\"127.0.0.1:8080\",",
                        56) == 0);
    assert_non_null(strstr(json.data, "\"workers\":5,"));
    assert_non_null(strstr(json.data, "\"restart\":{\"initial\":\"250ms\",\"max\":\"1m\"}"));
    assert_non_null(strstr(json.data, "\"origins\":{\"name\":\"--set\",\"listen.http\":"
                                      "\"baton.yaml:3:3\","));
    assert_non_null(strstr(json.data, "\"app.workers\":\"BATON_APP_WORKERS\""));
    assert_non_null(strstr(json.data, "\"app.user\":\"baton.yaml:18:3\""));
    /* The JSON is well-formed: it loads as YAML into one mapping of two mappings. */
    struct config_node *root = NULL;
    struct baton_buf err = BATON_BUF_INIT(BATON_BUF_UNBOUNDED);
    assert_int_equal(baton__config_yaml_parse("json", json.data, json.len, &root, &err), 0);
    assert_int_equal(root->type, NODE_MAP);
    assert_int_equal(root->n_items, 4);
    baton__config_node_free(root);

    baton__buf_free(&err);
    baton__buf_free(&out);
    baton__buf_free(&again);
    baton__buf_free(&json);
    baton__config_free(res.config);
    baton__config_free(back.config);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(prints_and_round_trips, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
