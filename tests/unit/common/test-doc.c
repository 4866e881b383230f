/* SPDX-License-Identifier: MIT */
/* The JSON reader (doc.c): bounds, strictness (nothing YAML adds), types, escapes, duplicate
 * keys, ranges, and the errors the getters write. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/doc.h"

#define MAX_BYTES (1 << 20)
#define MAX_DEPTH 32

static struct baton_doc *parse_ok(const char *text)
{
    struct baton_doc *doc = NULL;
    char err[256];
    int r = baton__doc_parse(text, strlen(text), MAX_BYTES, MAX_DEPTH, &doc, err, sizeof(err));
    if (r != 0)
        fail_msg("refused '%s': %d %s", text, r, err);
    return doc;
}

/* Refused with r, and err contains needle. */
static void refused(const char *text, size_t len, int want, const char *needle)
{
    struct baton_doc *doc = NULL;
    char err[256] = "";
    int r = baton__doc_parse(text, len, MAX_BYTES, MAX_DEPTH, &doc, err, sizeof(err));
    if (r != want)
        fail_msg("'%.*s': got %d (%s), want %d", (int)len, text, r, err, want);
    assert_null(doc);
    if (!strstr(err, needle))
        fail_msg("'%.*s': error \"%s\" lacks \"%s\"", (int)len, text, err, needle);
    for (const char *p = err; *p; p++)
        assert_true(*p >= 0x20 && *p < 0x7f);
}

static void refused_s(const char *text, const char *needle)
{
    refused(text, strlen(text), -EINVAL, needle);
}

static void reads_every_type(void **state)
{
    struct baton_doc *doc = parse_ok(" {\"s\":\"x\",\"i\":-12,\"f\":1.5e3,\"t\":true,\"n\":null,"
                                     "\"a\":[1,\"two\",[],{}],\"o\":{\"k\":false}}\r\n");
    const struct baton_doc_node *root = baton__doc_root(doc), *a, *o, *item = NULL;
    const char *s;
    int64_t v;
    bool b;
    size_t n = 0;
    static const enum baton_doc_type items[] = {BATON_DOC_NUMBER, BATON_DOC_STRING, BATON_DOC_ARRAY,
                                                BATON_DOC_OBJECT};

    assert_int_equal(baton__doc_type(root), BATON_DOC_OBJECT);
    assert_int_equal(baton__doc_count(root), 7);
    assert_int_equal(baton__doc_get_str(root, "s", &s, NULL, 0), 0);
    assert_string_equal(s, "x");
    assert_int_equal(baton__doc_get_int(root, "i", INT64_MIN, INT64_MAX, &v, NULL, 0), 0);
    assert_int_equal(v, -12);
    assert_string_equal(baton__doc_number_text(baton__doc_get(root, "f")), "1.5e3");
    assert_int_equal(baton__doc_get_bool(root, "t", &b, NULL, 0), 0);
    assert_true(b);
    assert_int_equal(baton__doc_type(baton__doc_get(root, "n")), BATON_DOC_NULL);
    assert_int_equal(baton__doc_get_array(root, "a", &a, NULL, 0), 0);
    while ((item = baton__doc_next(a, item))) {
        assert_true(n < 4);
        assert_int_equal(baton__doc_type(item), items[n++]);
        assert_null(baton__doc_key(item));
    }
    assert_int_equal(n, 4);
    assert_int_equal(baton__doc_get_object(root, "o", &o, NULL, 0), 0);
    assert_int_equal(baton__doc_get_bool(o, "k", &b, NULL, 0), 0);
    assert_false(b);
    /* Members iterate in document order, with their names. */
    item = NULL;
    n = 0;
    static const char *keys[] = {"s", "i", "f", "t", "n", "a", "o"};
    while ((item = baton__doc_next(root, item)))
        assert_string_equal(baton__doc_key(item), keys[n++]);
    assert_int_equal(n, 7);
    /* Lookups on what is not an object, and scalars are no containers. */
    assert_null(baton__doc_get(a, "x"));
    assert_null(baton__doc_get(NULL, "x"));
    assert_null(baton__doc_next(baton__doc_get(root, "s"), NULL));
    assert_int_equal(baton__doc_count(baton__doc_get(root, "i")), 0);
    assert_int_equal(baton__doc_type(NULL), BATON_DOC_MISSING);
    baton__doc_free(doc);

    /* Any value may be the root. */
    const char *roots[] = {"\"s\"", "1", "-0", "null", "true", "[]", "{}", "0.5E-3"};
    for (size_t i = 0; i < sizeof(roots) / sizeof(roots[0]); i++)
        baton__doc_free(parse_ok(roots[i]));
}

static void getters_name_the_key(void **state)
{
    struct baton_doc *doc =
        parse_ok("{\"s\":\"x\",\"i\":7,\"neg\":-1,\"big\":99999999999999999999,"
                 "\"frac\":1.5,\"exp\":1e2,\"t\":true,\"n\":null,\"nul\":\"a\\u0000b\"}");
    const struct baton_doc_node *root = baton__doc_root(doc), *node;
    char err[128];
    const char *s;
    int64_t v = 42;
    bool b;

    assert_int_equal(baton__doc_get_str(root, "none", &s, err, sizeof(err)), -ENOENT);
    assert_string_equal(err, "missing \"none\"");
    assert_int_equal(baton__doc_get_str(root, "i", &s, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "\"i\" must be a string");
    assert_int_equal(baton__doc_get_str(root, "n", &s, err, sizeof(err)), -EINVAL);
    assert_int_equal(baton__doc_get_bool(root, "s", &b, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "\"s\" must be true or false");
    assert_int_equal(baton__doc_get_int(root, "s", 0, 10, &v, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "\"s\" must be a non-negative integer up to 10");
    assert_int_equal(baton__doc_get_int(root, "i", 0, 5, &v, err, sizeof(err)), -ERANGE);
    assert_int_equal(baton__doc_get_int(root, "i", 8, 9, &v, err, sizeof(err)), -ERANGE);
    assert_string_equal(err, "\"i\" must be an integer from 8 to 9");
    assert_int_equal(baton__doc_get_int(root, "neg", 0, INT64_MAX, &v, err, sizeof(err)), -ERANGE);
    assert_string_equal(err, "\"neg\" must be a non-negative integer");
    assert_int_equal(baton__doc_get_int(root, "big", INT64_MIN, INT64_MAX, &v, err, sizeof(err)),
                     -ERANGE);
    assert_string_equal(err, "\"big\" must be an integer");
    assert_int_equal(baton__doc_get_int(root, "frac", INT64_MIN, INT64_MAX, &v, NULL, 0), -EINVAL);
    assert_int_equal(baton__doc_get_int(root, "exp", INT64_MIN, INT64_MAX, &v, NULL, 0), -EINVAL);
    assert_int_equal(v, 42); /* written only on success */
    assert_int_equal(baton__doc_get_int(root, "i", 7, 7, &v, NULL, 0), 0);
    assert_int_equal(v, 7);
    assert_int_equal(baton__doc_get_array(root, "t", &node, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "\"t\" must be an array");
    assert_int_equal(baton__doc_get_object(root, "t", &node, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "\"t\" must be an object");
    /* \u0000 is JSON, but not in a C string. */
    size_t len;
    assert_int_equal(baton__doc_str(baton__doc_get(root, "nul"), &s, &len), 0);
    assert_int_equal(len, 3);
    assert_memory_equal(s, "a\0b", 3);
    assert_int_equal(baton__doc_get_str(root, "nul", &s, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "\"nul\" must be a string without NUL characters");
    /* A short error buffer is cut, not overrun; none at all is fine. */
    char tiny[8];
    assert_int_equal(baton__doc_get_str(root, "i", &s, tiny, sizeof(tiny)), -EINVAL);
    assert_string_equal(tiny, "\"i\" mus");
    assert_int_equal(baton__doc_get_str(root, "i", &s, NULL, 0), -EINVAL);
    baton__doc_free(doc);
}

static void string_vectors(void **state)
{
    struct baton_doc *doc =
        parse_ok("{\"argv\":[\"bin/server\",\"--port\",\"8080\"],\"empty\":[],\"mixed\":[\"a\",1],"
                 "\"s\":\"x\"}");
    const struct baton_doc_node *root = baton__doc_root(doc);
    char **v = NULL, err[128];
    size_t n = 99;

    assert_int_equal(baton__doc_get_strv(root, "argv", 8, &v, &n, err, sizeof(err)), 0);
    assert_int_equal(n, 3);
    assert_string_equal(v[0], "bin/server");
    assert_string_equal(v[2], "8080");
    assert_null(v[3]);
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
    assert_int_equal(baton__doc_get_strv(root, "empty", 8, &v, &n, err, sizeof(err)), 0);
    assert_int_equal(n, 0);
    assert_null(v[0]);
    free(v);
    assert_int_equal(baton__doc_get_strv(root, "argv", 2, &v, &n, err, sizeof(err)), -E2BIG);
    assert_string_equal(err, "\"argv\" has 3 items, at most 2");
    assert_int_equal(baton__doc_get_strv(root, "mixed", 8, &v, &n, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "\"mixed\" item 2 must be a string");
    assert_int_equal(baton__doc_get_strv(root, "s", 8, &v, &n, err, sizeof(err)), -EINVAL);
    assert_int_equal(baton__doc_get_strv(root, "none", 8, &v, &n, err, sizeof(err)), -ENOENT);
    baton__doc_free(doc);
}

static void unicode_escapes(void **state)
{
    struct baton_doc *doc = parse_ok("[\"\\u00e9\\/\\\"\\\\\\b\\f\\n\\r\\t\",\"\\ud83d\\ude00\","
                                     "\"\xc3\xa9\xe2\x82\xac\",\"\\u20AC\"]");
    const struct baton_doc_node *root = baton__doc_root(doc), *item;
    const char *s;

    item = baton__doc_next(root, NULL);
    assert_int_equal(baton__doc_str(item, &s, NULL), 0);
    assert_string_equal(s, "\xc3\xa9/\"\\\b\f\n\r\t");
    item = baton__doc_next(root, item);
    assert_int_equal(baton__doc_str(item, &s, NULL), 0);
    assert_string_equal(s, "\xf0\x9f\x98\x80"); /* a surrogate pair is one character */
    item = baton__doc_next(root, item);
    assert_int_equal(baton__doc_str(item, &s, NULL), 0);
    assert_string_equal(s, "\xc3\xa9\xe2\x82\xac");
    item = baton__doc_next(root, item);
    assert_int_equal(baton__doc_str(item, &s, NULL), 0);
    assert_string_equal(s, "\xe2\x82\xac");
    baton__doc_free(doc);

    refused_s("[\"\\ud83d\"]", "at byte 2:");     /* a lone high surrogate */
    refused_s("[\"\\ude00x\"]", "at byte 2:");    /* a lone low surrogate */
    refused_s("[\"\\u12\"]", "at byte 2:");       /* short */
    refused_s("[\"\\uZZZZ\"]", "at byte 2:");     /* not hex */
    refused_s("[\"\\U00000041\"]", "at byte 2:"); /* YAML's \U */
    refused_s("[\"\\x41\"]", "at byte 2:");       /* YAML's \x */
    refused_s("[\"\\e\"]", "at byte 2:");         /* YAML's \e */
    refused_s("[\"a\xff\"]", "malformed JSON");   /* not UTF-8 */
    refused_s("[\"a\xc3\"]", "malformed JSON");   /* cut UTF-8 */
    refused_s("[\"a\tb\"]", "malformed JSON");    /* raw control character */
    refused_s("[\"a\nb\"]", "malformed JSON");    /* raw line break (YAML would fold it) */
}

/* Whatever YAML accepts beyond JSON is refused. */
static void refuses_yaml(void **state)
{
    static const char *yaml[] = {
        "{\"cmd\": reload}",
        "{cmd: 1}",
        "{'a':1}",
        "&a {\"a\":1}",
        "{\"a\":&x 1}",
        "!!map {\"a\":1}",
        "{\"a\":!!str 1}",
        "{\"a\":1} # c",
        "[1] # c",
        "--- {\"a\":1}",
        "%YAML 1.2\n--- 1",
        "{\"a\":1}\n...",
        "{? \"a\" : 1}",
        "[\"a\": 1]",
        "{\"a\":~}",
        "{\"a\":.inf}",
        "{\"a\":0x10}",
        "{\"a\":+1}",
        "{\"a\":1.}",
        "{\"a\":.5}",
        "{\"a\":01}",
        "{\"a\":-}",
        "{\"a\":TRUE}",
        "{\"a\":Null}",
        "{\"a\":NaN}",
        "{\"a\":1,}",
        "[1,2,]",
        "[,1]",
        "{,\"a\":1}",
        "{\"a\"}",
        "{\"a\":}",
        "{\"a\" \"b\"}",
        "[1 2]",
        "a: 1",
        "- 1",
        "{\"a\":\"x\\\ny\"}",
        "{\"a\":1,,\"b\":2}",
        "\"a\" \"b\"",
        "[1]\n[2]",
        "{\"a\":1}{\"b\":2}",
        "{\"a\":1}x",
        "[1]]",
        "[",
        "{\"a\":1",
        "{\"a\":\f1}",
        "{\"a\":\v1}",
        "tru",
        "nul",
        "{1:2}",
        "{[1]:2}",
        "{{}:1}",
        "*a",
    };
    for (size_t i = 0; i < sizeof(yaml) / sizeof(yaml[0]); i++)
        refused_s(yaml[i], "malformed JSON at byte ");
}

static void errors_say_where(void **state)
{
    refused_s("garbage", "malformed JSON at byte 0: ");
    refused_s("{\"cmd\": reload}", "malformed JSON at byte 8: ");
    refused_s("{\"cmd\":\"ping\",}", "malformed JSON at byte 13: ");
    refused_s("{\"cmd\":\"ping\"} x", "malformed JSON at byte 15: text after the object");
    refused_s("{\"a\":1}{\"b\":2}", "malformed JSON at byte 7: text after the object");
    refused_s("[1] 2", "malformed JSON at byte 4: text after the array");
    refused_s("\"s\" x", "malformed JSON at byte 4: text after the value");
    refused_s("{\"cmd\":\"p\xc3\xa9\tng\"}", "malformed JSON at byte 11: ");
    refused_s("\xef\xbb\xbf{\"a\":1}", "malformed JSON at byte 0: unexpected character");
    refused_s("{\"a\":1}\xc2\xa0", "malformed JSON at byte 7");
    refused("{\"a\":1}\0", 8, -EINVAL, "malformed JSON at byte 7");
    refused("{\"a\":\"x\0y\"}", 11, -EINVAL, "malformed JSON at byte ");
    refused("", 0, -ENODATA, "empty document");
    refused(" \t\r\n ", 5, -ENODATA, "empty document");
}

static void refuses_duplicate_keys(void **state)
{
    refused_s("{\"a\":1,\"a\":2}", "malformed JSON at byte 7: duplicate key \"a\"");
    refused_s("{\"a\":1,\"b\":{\"x\":1,\"y\":2,\"x\":3}}", "byte 24: duplicate key \"x\"");
    refused_s("{\"\\u0061\":1,\"a\":2}", "duplicate key \"a\"");
    refused_s("{\"\":1,\"\":2}", "duplicate key \"\"");
    refused_s("{\"\\u00ff\":1,\"\xc3\xbf\":2}", "duplicate key \"\\xc3\\xbf\"");
    /* The same key in different objects, and keys that differ in length only, are fine. */
    baton__doc_free(parse_ok("{\"a\":{\"a\":1},\"b\":[{\"a\":1},{\"a\":2}],\"ab\":1,\"abc\":2}"));
    /* Lookup among many members. */
    char big[64 * 1024];
    size_t n = (size_t)snprintf(big, sizeof(big), "{");
    for (int i = 0; i < 2000; i++)
        n += (size_t)snprintf(big + n, sizeof(big) - n, "%s\"k%d\":%d", i ? "," : "", i, i);
    snprintf(big + n, sizeof(big) - n, "}");
    struct baton_doc *doc = parse_ok(big);
    int64_t v;
    assert_int_equal(baton__doc_get_int(baton__doc_root(doc), "k1234", 0, 9999, &v, NULL, 0), 0);
    assert_int_equal(v, 1234);
    assert_int_equal(baton__doc_count(baton__doc_root(doc)), 2000);
    baton__doc_free(doc);
}

static void numbers_in_range(void **state)
{
    struct baton_doc *doc =
        parse_ok("[9223372036854775807,-9223372036854775808,9223372036854775808,"
                 "-9223372036854775809,-0,0,1e400,12345678901234567890123]");
    const struct baton_doc_node *item = NULL;
    int64_t want[] = {INT64_MAX, INT64_MIN};
    int64_t v;
    int i = 0;

    while ((item = baton__doc_next(baton__doc_root(doc), item))) {
        int r = baton__doc_int(item, INT64_MIN, INT64_MAX, &v);
        if (i < 2) {
            assert_int_equal(r, 0);
            assert_true(v == want[i]);
        } else if (i == 4 || i == 5) {
            assert_int_equal(r, 0);
            assert_int_equal(v, 0);
        } else if (i == 6) {
            assert_int_equal(r, -EINVAL); /* not written as an integer */
        } else {
            assert_int_equal(r, -ERANGE);
        }
        i++;
    }
    assert_int_equal(i, 8);
    /* Bounds are inclusive. */
    item = baton__doc_next(baton__doc_root(doc), NULL);
    assert_int_equal(baton__doc_int(item, 0, INT64_MAX - 1, &v), -ERANGE);
    assert_int_equal(baton__doc_int(item, 0, INT64_MAX, &v), 0);
    baton__doc_free(doc);
}

static void numbers_as_doubles(void **state)
{
    struct baton_doc *doc =
        parse_ok("[0.25,-1.5e3,7,0.10000000000000001,1e400,-1e400,1e-400,\"1\",true,null]");
    const struct baton_doc_node *root = baton__doc_root(doc), *item = NULL;
    const double want[] = {0.25, -1500, 7, 0.1};
    double v;
    int i = 0;

    while ((item = baton__doc_next(root, item))) {
        v = -42;
        int r = baton__doc_double(item, &v);
        if (i < 4) {
            assert_int_equal(r, 0);
            assert_true(v == want[i]); /* exact: %.17g text reads back as the same double */
        } else if (i < 6) {
            assert_int_equal(r, -ERANGE);
            assert_true(v == -42); /* untouched */
        } else if (i == 6) {
            assert_int_equal(r, 0); /* underflow: the nearest double */
            assert_true(v >= 0 && v < 1e-300);
        } else {
            assert_int_equal(r, -EINVAL); /* a string, a boolean, null: not numbers */
            assert_true(v == -42);
        }
        i++;
    }
    assert_int_equal(i, 10);
    assert_int_equal(baton__doc_double(NULL, &v), -EINVAL);
    baton__doc_free(doc);
}

static void bounds(void **state)
{
    struct baton_doc *doc = NULL;
    char err[256];
    /* Size: refused before parsing, whatever the text. */
    const char *ok = "{\"a\":1}";
    assert_int_equal(baton__doc_parse(ok, 7, 6, MAX_DEPTH, &doc, err, sizeof(err)), -EMSGSIZE);
    assert_string_equal(err, "document too large: 7 bytes, at most 6");
    assert_int_equal(baton__doc_parse(ok, 7, 7, MAX_DEPTH, &doc, err, sizeof(err)), 0);
    baton__doc_free(doc);
    doc = NULL;

    /* Depth: exactly max_depth levels are fine, one more is not. */
    char deep[2 * MAX_DEPTH + 8];
    memset(deep, '[', MAX_DEPTH);
    memset(deep + MAX_DEPTH, ']', MAX_DEPTH);
    deep[2 * MAX_DEPTH] = '\0';
    baton__doc_free(parse_ok(deep));
    memset(deep, '[', MAX_DEPTH + 1);
    memset(deep + MAX_DEPTH + 1, ']', MAX_DEPTH + 1);
    deep[2 * MAX_DEPTH + 2] = '\0';
    refused_s(deep, "malformed JSON at byte 32: nested too deeply");
    /* Brackets in strings are not nesting. */
    baton__doc_free(parse_ok("[\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\\\"[[[[[[[[\"]"));

    /* A megabyte of '[' is refused at once (the depth check comes before libfyaml). */
    size_t n = 1 << 20;
    char *big = malloc(n + 1);
    memset(big, '[', n);
    big[n] = '\0';
    refused_s(big, "nested too deeply");
    /* Objects nest the same way. */
    size_t len = 0;
    for (int i = 0; i < 40; i++)
        len += (size_t)snprintf(big + len, n - len, "{\"a\":");
    refused_s(big, "malformed JSON at byte 160: nested too deeply");
    /* A large flat document is fine. */
    len = (size_t)snprintf(big, n, "[");
    for (int i = 0; i < 60000; i++)
        len += (size_t)snprintf(big + len, n - len, "%s\"item %d\"", i ? "," : "", i);
    snprintf(big + len, n - len, "]");
    doc = parse_ok(big);
    assert_int_equal(baton__doc_count(baton__doc_root(doc)), 60000);
    baton__doc_free(doc);
    /* Whitespace after the value, however much, costs one pass (libfyaml alone would take
     * minutes over a megabyte of it: see scan() in doc.c). */
    static const char *const heads[] = {"{\"a\":1}", "[1]", "\"s\"", "7", "true"};
    for (size_t h = 0; h < sizeof(heads) / sizeof(heads[0]); h++) {
        size_t hl = strlen(heads[h]);
        memcpy(big, heads[h], hl);
        memset(big + hl, h % 2 ? '\t' : ' ', n - hl - 1);
        big[n - 1] = '\0';
        baton__doc_free(parse_ok(big));
        big[n - 2] = 'x';
        refused_s(big, "malformed JSON at byte 1048574: text after the");
    }
    /* Inside the value too: spaces after a closing bracket (libfyaml alone: quadratic). */
    memcpy(big, "{\"a\":[[1]", 9);
    memset(big + 9, ' ', n - 12);
    memcpy(big + n - 3, "]}", 3);
    doc = parse_ok(big);
    const struct baton_doc_node *arr = baton__doc_get(baton__doc_root(doc), "a");
    assert_int_equal(baton__doc_count(arr), 1);
    assert_int_equal(baton__doc_count(baton__doc_next(arr, NULL)), 1);
    baton__doc_free(doc);
    /* ... and spaces in strings are kept as they are. */
    memcpy(big, "[[1],\"", 6);
    memset(big + 6, ' ', n - 9);
    memcpy(big + n - 3, "\"]", 3);
    doc = parse_ok(big);
    const char *spaces;
    size_t spaces_len;
    assert_int_equal(baton__doc_str(baton__doc_next(baton__doc_root(doc),
                                                    baton__doc_next(baton__doc_root(doc), NULL)),
                                    &spaces, &spaces_len),
                     0);
    assert_int_equal(spaces_len, n - 9);
    assert_int_equal(strspn(spaces, " "), n - 9);
    baton__doc_free(doc);
    /* Long strings and keys (YAML limits implicit keys to 1024 characters; JSON does not). */
    memset(big, 0, n);
    big[0] = '{';
    big[1] = '"';
    memset(big + 2, 'k', 5000);
    strcpy(big + 5002, "\":\"");
    memset(big + 5005, 'v', 500000);
    strcpy(big + 505005, "\"}");
    doc = parse_ok(big);
    assert_int_equal(baton__doc_count(baton__doc_root(doc)), 1);
    assert_int_equal(strlen(baton__doc_key(baton__doc_next(baton__doc_root(doc), NULL))), 5000);
    baton__doc_free(doc);
    free(big);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reads_every_type),       cmocka_unit_test(getters_name_the_key),
        cmocka_unit_test(string_vectors),         cmocka_unit_test(unicode_escapes),
        cmocka_unit_test(refuses_yaml),           cmocka_unit_test(errors_say_where),
        cmocka_unit_test(refuses_duplicate_keys), cmocka_unit_test(numbers_in_range),
        cmocka_unit_test(numbers_as_doubles),     cmocka_unit_test(bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
