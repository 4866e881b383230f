/* SPDX-License-Identifier: MIT */
/*
 * YAML text to the node tree (src/config/yaml.c): syntax errors at their place, JSON, quoted
 * scalars, hostile input.
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

static void reports_syntax_errors(void **state)
{
    expect_error("app:\n  command: [x, y\n  workers: 2\n",
                 "baton.yaml:4:1: flow sequence without a closing bracket (the one opened at "
                 "2:12)\n");
    expect_error("app:\n  command: [x]\n workers: 2\n",
                 "baton.yaml:3:2: invalid indentation in mapping\n");
    expect_error("app: {command: [x]}\n---\nname: y\n",
                 "baton.yaml:2:1: only one YAML document is allowed\n");
    expect_error("app: &a {command: [x]}\nname: *a\n",
                 "baton.yaml:2:7: aliases (*a) are not supported\n");
    expect_error("app: {command: [x]}\nname: !include other.yaml\n",
                 "baton.yaml:2:7: tag '!include' is not supported\n");
    expect_error("app: {command: [x]}\nname: \"a\\0b\"\n",
                 "baton.yaml:2:7: a value must not contain a NUL character\n");
}

static void reads_json(void **state)
{
    write_file("baton.json",
               "{\n  \"name\": \"hello\",\n  \"listen\": {\"http\": \"127.0.0.1:8080\"},\n"
               "  \"app\": {\"command\": [\"srv\", \"-v\"], \"workers\": 3,\n"
               "          \"env\": {\"N\": 1}, \"drain_timeout\": \"5s\"}\n}\n");
    struct result res = load("baton.json", NULL, NULL, NULL);
    assert_string_equal(res.err, "");
    struct baton_config *c = res.config;
    assert_string_equal(c->name, "hello");
    assert_int_equal(c->app.workers, 3);
    assert_string_equal(c->app.env[0], "N=1");
    assert_int_equal(c->app.drain_timeout_ms, 5000);
    assert_string_equal(origin(c, "app.workers"), "baton.json:4:37");
    baton__config_free(c);

    write_file("baton.json", "{\"app\": {\"command\": [\"srv\"], \"workers\": \"x\"}}");
    res = load("baton.json", NULL, NULL, NULL);
    assert_string_equal(res.err,
                        "baton.json:1:41: app.workers must be a positive integer, not 'x'\n");
    write_file("baton.json", "{\"app\": {\"command\": [\"srv\"],}");
    res = load("baton.json", NULL, NULL, NULL);
    assert_int_equal(res.r, -EINVAL);
    assert_string_equal(res.err, "baton.json:2:1: missing comma in flow mapping\n");
}

/* Quoted scalars decode as YAML says, including the ones baton decodes itself. */
static void decodes_quoted_scalars(void **state)
{
    static const struct {
        const char *yaml, *value;
    } cases[] = {
        {"'it''s'", "it's"},
        {"'a''''''''''''''''b'", "a''''''''b"},
        {"'x''''\n   y  \n\n  z'", "x'' y\nz"},
        {"'p''''q\n\n\n  r'", "p''q\n\nr"},
        {"\"tab\\there\"", "tab\there"},
        {"plain\n  folded", "plain folded"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char text[256];
        snprintf(text, sizeof(text), "app: {command: [x]}\nname: %s\n", cases[i].yaml);
        write_file("baton.yaml", text);
        struct result res = load("baton.yaml", NULL, NULL, NULL);
        if (strpbrk(cases[i].value, "\n\t")) {
            /* A name is plain text on one line: the decoded control byte is refused. */
            assert_int_equal(res.r, -EINVAL);
            continue;
        }
        assert_string_equal(res.err, "");
        assert_string_equal(res.config->name, cases[i].value);
        baton__config_free(res.config);
    }
    /* Multi-line values through app.env, which takes any text. */
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char text[256], want[256];
        snprintf(text, sizeof(text), "app: {command: [x], env: {V: %s}}\n", cases[i].yaml);
        write_file("baton.yaml", text);
        struct result res = load("baton.yaml", NULL, NULL, NULL);
        assert_string_equal(res.err, "");
        snprintf(want, sizeof(want), "V=%s", cases[i].value);
        assert_string_equal(res.config->app.env[0], want);
        baton__config_free(res.config);
    }
}

/* Hostile inputs end in errors, never in a crash or an endless loop. */
static void survives_hostile_input(void **state)
{
    char deep[300];
    memset(deep, '[', 100);
    memset(deep + 100, ']', 100);
    deep[200] = '\0';
    static const char *inputs[] = {
        "\xff\xfe\x00",
        "app: {command: [x]}\n\t- bad\n",
        "? [a, b]\n: c\n",
        "app:\n  command:\n    - [nested]\n",
        "listen: {http: [a]}\n",
        "app: {env: {\"A=B\": c}, command: [x]}\n",
        "app: {command: [x], workers: 99999999999999999999999}\n",
        "app: {command: [x], drain_timeout: 99999999999h}\n",
        "%YAML 1.2\n---\napp: {command: [x]}\n",
        "release: {source: {url: \"http://x y\"}}\n",
    };
    for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
        write_file("baton.yaml", inputs[i]);
        struct result res = load("baton.yaml", NULL, NULL, NULL);
        if (res.r == 0)
            baton__config_free(res.config);
        else
            assert_true(strncmp(res.err, "baton.yaml", 10) == 0);
    }
    /* Not UTF-8: refused before libfyaml, which loops for ever on "%\xb7". */
    expect_error("name: \xc3\xa9\xff\n", "baton.yaml:1:8: not valid UTF-8 (byte 0xff): "
                                         "configuration is read as UTF-8\n");
    expect_error("app:\n%\xb7\n", "baton.yaml:2:2: not valid UTF-8 (byte 0xb7): configuration "
                                  "is read as UTF-8\n");
    expect_error("a: \xed\xa0\x80\n", "baton.yaml:1:4: not valid UTF-8 (byte 0xed): "
                                      "configuration is read as UTF-8\n");
    expect_error("a: \xc0\xaf\n", "baton.yaml:1:4: not valid UTF-8 (byte 0xc0): configuration "
                                  "is read as UTF-8\n");
    write_file("baton.yaml", deep);
    struct result res = load("baton.yaml", NULL, NULL, NULL);
    assert_int_equal(res.r, -EINVAL);
    assert_string_equal(res.err, "baton.yaml:1:33: nested deeper than 32 levels\n");

    /* Many keys: duplicates are found without quadratic time. */
    FILE *f = fopen("baton.yaml", "w");
    assert_non_null(f);
    fputs("app:\n  command: [x]\n  env:\n", f);
    for (int i = 0; i < 4000; i++)
        fprintf(f, "    V%d: x\n", i);
    fputs("    V17: y\n", f);
    fclose(f);
    res = load("baton.yaml", NULL, NULL, NULL);
    assert_string_equal(res.err, "baton.yaml:4004:5: duplicate key 'V17' (first at 21:5)\n");
}

/* A node as JSON: YAML's plain scalars typed, the rest strings; the result reads back. */
static void writes_nodes_as_json(void **state)
{
    static const struct {
        const char *yaml, *json;
    } cases[] = {
        {"{n: 5, f: -1.5e3, t: true, s: '5', x: ~, e: \"\", l: [a, 0x10, 1_000]}",
         "{\"n\":5,\"f\":-1.5e3,\"t\":true,\"s\":\"5\",\"x\":null,\"e\":\"\","
         "\"l\":[\"a\",\"0x10\",\"1_000\"]}"},
        {"[]", "[]"},
        {"{}", "{}"},
        {"'quote \" and \\ back'", "\"quote \\\" and \\\\ back\""},
        {"[01, .5, 1., -x, 'true']", "[\"01\",\".5\",\"1.\",\"-x\",\"true\"]"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct config_node *root = NULL, *back = NULL;
        struct baton_buf err = BATON_BUF_INIT(BATON_BUF_UNBOUNDED),
                         out = BATON_BUF_INIT(BATON_BUF_UNBOUNDED);
        assert_int_equal(
            baton__config_yaml_parse("t", cases[i].yaml, strlen(cases[i].yaml), &root, &err), 0);
        assert_int_equal(baton__config_node_json(root, &out), 0);
        assert_string_equal(out.data, cases[i].json);
        /* JSON is YAML: it parses back. */
        assert_int_equal(baton__config_yaml_parse("t", out.data, out.len, &back, &err), 0);
        assert_int_equal(back->type, root->type);
        baton__config_node_free(root);
        baton__config_node_free(back);
        baton__buf_free(&out);
        baton__buf_free(&err);
    }
    /* Bounded by the buffer's maximum. */
    struct config_node *big = baton__config_node_scalar("0123456789", false);
    struct baton_buf small = BATON_BUF_INIT(8);
    assert_true(baton__config_node_json(big, &small) < 0);
    baton__config_node_free(big);
    baton__buf_free(&small);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(reports_syntax_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(reads_json, setup, teardown),
        cmocka_unit_test_setup_teardown(decodes_quoted_scalars, setup, teardown),
        cmocka_unit_test_setup_teardown(survives_hostile_input, setup, teardown),
        cmocka_unit_test_setup_teardown(writes_nodes_as_json, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
