/* SPDX-License-Identifier: MIT */
/* Control request parsing (control-request.c): valid requests, every malformed shape, bounds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "supervisor/internal.h"

static int parse(const char *line, struct baton_control_request *req, char *err, size_t size)
{
    struct baton_buf b = BATON_BUF_INIT(1024);
    int r = baton__control_request_parse(line, strlen(line), req, &b);
    snprintf(err, size, "%s", b.data ? b.data : "");
    baton__buf_free(&b);
    return r;
}

static void expect_error(const char *line, const char *needle)
{
    struct baton_control_request req;
    char err[1100];
    assert_int_equal(parse(line, &req, err, sizeof(err)), -EINVAL);
    if (!strstr(err, needle))
        fail_msg("%s: error \"%s\" lacks \"%s\"", line, err, needle);
}

static void test_valid(void **state)
{
    struct baton_control_request req;
    char err[256];
    assert_int_equal(parse("{\"cmd\":\"ping\"}", &req, err, sizeof(err)), 0);
    assert_int_equal(req.cmd, BATON_CONTROL_PING);
    assert_int_equal(parse(" { \"cmd\" : \"status\" } \r", &req, err, sizeof(err)), 0);
    assert_int_equal(req.cmd, BATON_CONTROL_STATUS);
    assert_int_equal(parse("{\"cmd\":\"reload\",\"wait\":true,\"timeout_ms\":1500,"
                           "\"in_place\":false,\"extra\":{\"a\":[1,2,{\"b\":null}]}}",
                           &req, err, sizeof(err)),
                     0);
    assert_int_equal(req.cmd, BATON_CONTROL_RELOAD);
    assert_true(req.wait);
    assert_false(req.in_place);
    assert_int_equal(req.timeout_ms, 1500);
    assert_int_equal(parse("{\"fast\":true,\"cmd\":\"st\\u006fp\"}", &req, err, sizeof(err)), 0);
    assert_int_equal(req.cmd, BATON_CONTROL_STOP);
    assert_true(req.fast);
    assert_false(req.follow);
    assert_int_equal(parse("{\"cmd\":\"logs\",\"follow\":true}", &req, err, sizeof(err)), 0);
    assert_int_equal(req.cmd, BATON_CONTROL_LOGS);
    assert_true(req.follow);
    assert_false(req.fast);
    assert_int_equal(parse("{\"cmd\":\"logs\"}", &req, err, sizeof(err)), 0);
    assert_false(req.follow);
    expect_error("{\"cmd\":\"logs\",\"follow\":1}", "follow");
}

static void test_deploy_requests(void **state)
{
    struct baton_control_request req;
    char err[256];
    /* An artifact path longer than the 64 bytes of a command name is kept whole. */
    char line[BATON_CONTROL_PATH_MAX + 128], path[BATON_CONTROL_PATH_MAX];
    memset(path, 'p', 3000);
    path[0] = '/';
    path[3000] = '\0';
    snprintf(line, sizeof(line),
             "{\"cmd\":\"deploy\",\"artifact\":\"%s\",\"version\":\"1.4.0\",\"wait\":true,"
             "\"allow_downgrade\":true,\"dry_run\":false}",
             path);
    assert_int_equal(parse(line, &req, err, sizeof(err)), 0);
    assert_int_equal(req.cmd, BATON_CONTROL_DEPLOY);
    assert_string_equal(req.artifact, path);
    assert_string_equal(req.version, "1.4.0");
    assert_true(req.wait && req.allow_downgrade && !req.dry_run);
    assert_int_equal(parse("{\"cmd\":\"rollback\"}", &req, err, sizeof(err)), 0);
    assert_int_equal(req.cmd, BATON_CONTROL_ROLLBACK);
    assert_string_equal(req.version, "");
    assert_int_equal(parse("{\"cmd\":\"releases\"}", &req, err, sizeof(err)), 0);
    assert_int_equal(req.cmd, BATON_CONTROL_RELEASES);
    expect_error("{\"cmd\":\"deploy\",\"artifact\":1}", "\"artifact\" must be a string");
    expect_error("{\"cmd\":\"deploy\",\"dry_run\":\"yes\"}", "\"dry_run\" must be true or false");
    expect_error("{\"cmd\":\"rollback\",\"version\":\"1111111111111111111111111111111111111111111"
                 "1111111111111111111111111\"}",
                 "must be at most 64 bytes");
}

static void test_malformed(void **state)
{
    expect_error("", "empty request");
    expect_error(" \t\r", "empty request");
    expect_error("garbage", "malformed JSON at byte 0: ");
    expect_error("[1,2]", "a request must be a JSON object");
    expect_error("\"cmd\"", "a request must be a JSON object");
    expect_error("{\"cmd\":\"ping\"", "malformed JSON at byte 13: ");
    expect_error("{\"cmd\":\"ping\",}", "malformed JSON at byte 13: ");
    expect_error("{\"cmd\":\"ping\"} x", "malformed JSON at byte 15: text after the object");
    expect_error("{\"cmd\":\"ping\"}{\"cmd\":\"stop\"}",
                 "malformed JSON at byte 14: text after the object");
    expect_error("{\"cmd\":\"pi\\xng\"}", "malformed JSON at byte ");
    expect_error("{\"cmd\":\"p\ting\"}", "malformed JSON at byte 9: ");
    expect_error("{\"cmd\":01}", "malformed JSON at byte 7: ");
    expect_error("{\"cmd\":-}", "malformed JSON at byte 7: ");
    expect_error("{\"cmd\":tru}", "malformed JSON at byte 7: ");
    expect_error("{cmd:1}", "malformed JSON at byte 1: ");
    expect_error("{\"cmd\" \"x\"}", "malformed JSON at byte ");
    /* YAML is not JSON: a plain word, single quotes, anchors, comments. */
    expect_error("{\"cmd\": reload}", "malformed JSON at byte 8: ");
    expect_error("{'cmd':'reload'}", "malformed JSON at byte 1: ");
    expect_error("{\"cmd\":&a \"reload\"}", "malformed JSON at byte 7: ");
    expect_error("{\"cmd\":\"ping\"} # now", "malformed JSON at byte 15: ");
    expect_error("{\"cmd\":\"ping\",\"cmd\":\"stop\"}",
                 "malformed JSON at byte 14: duplicate key \"cmd\"");
    expect_error("\xff\xfe", "malformed JSON at byte 0: ");
}

static void test_bad_members(void **state)
{
    expect_error("{}", "missing \"cmd\"");
    expect_error("{\"wait\":true}", "missing \"cmd\"");
    expect_error("{\"cmd\":1}", "\"cmd\" must be a string");
    expect_error("{\"cmd\":\"launch\"}", "unknown command \"launch\"");
    expect_error("{\"cmd\":\"reload\",\"wait\":1}", "\"wait\" must be true or false");
    expect_error("{\"cmd\":\"reload\",\"timeout_ms\":-1}", "non-negative integer");
    expect_error("{\"cmd\":\"reload\",\"timeout_ms\":1.5}", "non-negative integer");
    expect_error("{\"cmd\":\"reload\",\"timeout_ms\":99999999999999999999}", "non-negative");
    expect_error("{\"cmd\":\"reload\",\"timeout_ms\":9007199254740993}",
                 "\"timeout_ms\" must be a non-negative integer up to 9007199254740992");
    expect_error("{\"cmd\":null}", "\"cmd\" must be a string");
    expect_error("{\"cmd\":\"ping\\u0000\"}", "\"cmd\" must be a string without NUL");
    expect_error("{\"cmd\":\"reload\",\"in_place\":\"true\"}",
                 "\"in_place\" must be true or false");
}

static void test_bounds(void **state)
{
    /* Deep nesting is refused, not recursed into. */
    size_t n = 60000;
    char *deep = malloc(n + 32);
    strcpy(deep, "{\"cmd\":\"ping\",\"x\":");
    size_t len = strlen(deep);
    memset(deep + len, '[', n);
    deep[len + n] = '\0';
    expect_error(deep, "nested too deeply");
    free(deep);
    /* A long command name matches nothing and is not copied whole. */
    char *lng = malloc(70000);
    strcpy(lng, "{\"cmd\":\"");
    memset(lng + 8, 'a', 65000);
    strcpy(lng + 8 + 65000, "\"}");
    expect_error(lng, "unknown command \"aaaa");
    struct baton_control_request req;
    char err[1100];
    assert_int_equal(parse(lng, &req, err, sizeof(err)), -EINVAL);
    assert_true(strlen(err) < 100);
    assert_non_null(strstr(err, "aaa...\""));
    /* The control socket's line limit holds here too: one byte more is refused unparsed. */
    memset(lng, ' ', BATON_CONTROL_REQUEST_MAX + 1);
    memcpy(lng, "{\"cmd\":\"ping\"}", 14);
    lng[BATON_CONTROL_REQUEST_MAX] = '\0';
    assert_int_equal(parse(lng, &req, err, sizeof(err)), 0);
    lng[BATON_CONTROL_REQUEST_MAX] = ' ';
    lng[BATON_CONTROL_REQUEST_MAX + 1] = '\0';
    assert_int_equal(parse(lng, &req, err, sizeof(err)), -EMSGSIZE);
    assert_non_null(strstr(err, "too large"));
    free(lng);
}

/* Mutated requests (fixed seed, so reproducible): every one is answered 0 or -EINVAL with a
 * reason, within bounds (the sanitizer build checks the bounds). */
static void test_mutations(void **state)
{
    static const char *seeds[] = {
        "{\"cmd\":\"reload\",\"wait\":true,\"timeout_ms\":1500,\"x\":[1,{\"y\":null}]}",
        "{\"cmd\":\"st\\u006fp\",\"fast\":false}",
        "[[[[{\"a\":\"\\n\"}]]]]",
        "{\"cmd\":\"ping\",\"n\":-1.5e+10}",
    };
    static const char alphabet[] = "{}[]\",:\\u0123456789eE+-.truefalsn \t\x01\xff";
    unsigned seed = 12345;
    char buf[256];
    for (int i = 0; i < 30000; i++) {
        const char *base = seeds[i % 4];
        size_t len = strlen(base);
        memcpy(buf, base, len);
        int edits = 1 + (int)(rand_r(&seed) % 4);
        for (int e = 0; e < edits; e++) {
            size_t at = (size_t)rand_r(&seed) % len;
            switch (rand_r(&seed) % 3) {
            case 0: /* replace */
                buf[at] = alphabet[(size_t)rand_r(&seed) % (sizeof(alphabet) - 1)];
                break;
            case 1: /* truncate */
                len = at + 1;
                break;
            default: /* duplicate a run */
                if (len + 8 < sizeof(buf)) {
                    memmove(buf + at + 8, buf + at, len - at);
                    len += 8;
                }
                break;
            }
        }
        struct baton_control_request req;
        struct baton_buf err = BATON_BUF_INIT(1024);
        int r = baton__control_request_parse(buf, len, &req, &err);
        assert_true(r == 0 || (r == -EINVAL && err.len > 0));
        baton__buf_free(&err);
        struct baton_notify_msg m;
        r = baton__notify_parse(buf, len, &m);
        assert_true(r == 0 || r == -EINVAL);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),       cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_bad_members), cmocka_unit_test(test_bounds),
        cmocka_unit_test(test_mutations),   cmocka_unit_test(test_deploy_requests),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
