/* Control request parsing (request.c): valid requests, every malformed shape, bounds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "supervisor/internal.h"

static int parse(const char *line, struct baton_request *req, char *err, size_t size)
{
    struct baton_buf b = BATON_BUF_INIT(1024);
    int r = baton__request_parse(line, strlen(line), req, &b);
    snprintf(err, size, "%s", b.data ? b.data : "");
    baton__buf_free(&b);
    return r;
}

static void expect_error(const char *line, const char *needle)
{
    struct baton_request req;
    char err[1100];
    assert_int_equal(parse(line, &req, err, sizeof(err)), -EINVAL);
    if (!strstr(err, needle))
        fail_msg("%s: error \"%s\" lacks \"%s\"", line, err, needle);
}

static void test_valid(void **state)
{
    struct baton_request req;
    char err[256];
    assert_int_equal(parse("{\"cmd\":\"ping\"}", &req, err, sizeof(err)), 0);
    assert_int_equal(req.cmd, BATON_REQ_PING);
    assert_int_equal(parse(" { \"cmd\" : \"status\" } \r", &req, err, sizeof(err)), 0);
    assert_int_equal(req.cmd, BATON_REQ_STATUS);
    assert_int_equal(parse("{\"cmd\":\"reload\",\"wait\":true,\"timeout_ms\":1500,"
                           "\"in_place\":false,\"extra\":{\"a\":[1,2,{\"b\":null}]}}",
                           &req, err, sizeof(err)),
                     0);
    assert_int_equal(req.cmd, BATON_REQ_RELOAD);
    assert_true(req.wait);
    assert_false(req.in_place);
    assert_int_equal(req.timeout_ms, 1500);
    assert_int_equal(parse("{\"fast\":true,\"cmd\":\"st\\u006fp\"}", &req, err, sizeof(err)), 0);
    assert_int_equal(req.cmd, BATON_REQ_STOP);
    assert_true(req.fast);
    assert_false(req.follow);
    assert_int_equal(parse("{\"cmd\":\"logs\",\"follow\":true}", &req, err, sizeof(err)), 0);
    assert_int_equal(req.cmd, BATON_REQ_LOGS);
    assert_true(req.follow);
    assert_false(req.fast);
    assert_int_equal(parse("{\"cmd\":\"logs\"}", &req, err, sizeof(err)), 0);
    assert_false(req.follow);
    expect_error("{\"cmd\":\"logs\",\"follow\":1}", "follow");
}

static void test_malformed(void **state)
{
    expect_error("", "empty request");
    expect_error("garbage", "malformed JSON at byte 0");
    expect_error("[1,2]", "must be a JSON object");
    expect_error("\"cmd\"", "must be a JSON object");
    expect_error("{\"cmd\":\"ping\"", "malformed JSON");
    expect_error("{\"cmd\":\"ping\",}", "malformed JSON");
    expect_error("{\"cmd\":\"ping\"} x", "text after the object");
    expect_error("{\"cmd\":\"pi\\xng\"}", "bad escape");
    expect_error("{\"cmd\":\"p\ting\"}", "control character");
    expect_error("{\"cmd\":01}", "leading zero");
    expect_error("{\"cmd\":-}", "bad number");
    expect_error("{\"cmd\":tru}", "unexpected character");
    expect_error("{cmd:1}", "expected a member name");
    expect_error("{\"cmd\" \"x\"}", "expected ':'");
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
}

static void test_bounds(void **state)
{
    /* Deep nesting is refused, not recursed into. */
    size_t n = 100000;
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
    for (int i = 0; i < 200000; i++) {
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
        struct baton_request req;
        struct baton_buf err = BATON_BUF_INIT(1024);
        int r = baton__request_parse(buf, len, &req, &err);
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
        cmocka_unit_test(test_mutations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
