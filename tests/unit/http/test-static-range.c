/* SPDX-License-Identifier: MIT */
/*
 * Static files, byte ranges: every range-spec form, the satisfiability rules, overflow,
 * garbage, several ranges, and If-Range.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "http/static-internal.h"

static uint64_t start, len;

static enum baton_static_range range(const char *value, uint64_t size)
{
    start = len = 12345;
    return baton__static_range(value, size, &start, &len);
}

#define assert_range(value, size, want_start, want_len)                                            \
    do {                                                                                           \
        assert_int_equal(range(value, size), BATON_STATIC_RANGE_OK);                               \
        assert_int_equal(start, want_start);                                                       \
        assert_int_equal(len, want_len);                                                           \
    } while (0)

static void test_forms(void **state)
{
    assert_range("bytes=0-0", 100, 0, 1);
    assert_range("bytes=0-99", 100, 0, 100);
    assert_range("bytes=10-19", 100, 10, 10);
    assert_range("bytes=99-99", 100, 99, 1);
    /* Open-ended and clamped last byte. */
    assert_range("bytes=10-", 100, 10, 90);
    assert_range("bytes=10-1000", 100, 10, 90);
    /* Suffixes: the last n bytes, or all when n exceeds the size. */
    assert_range("bytes=-1", 100, 99, 1);
    assert_range("bytes=-10", 100, 90, 10);
    assert_range("bytes=-100", 100, 0, 100);
    assert_range("bytes=-1000", 100, 0, 100);
    /* Unit case, OWS and empty list elements are allowed. */
    assert_range("Bytes=1-2", 100, 1, 2);
    assert_range("BYTES=1-2", 100, 1, 2);
    assert_range(" bytes=1-2 ", 100, 1, 2);
    assert_range("bytes= 1-2", 100, 1, 2);
    assert_range("bytes=, 1-2 ,", 100, 1, 2);
}

static void test_unsatisfiable(void **state)
{
    assert_int_equal(range("bytes=100-", 100), BATON_STATIC_RANGE_UNSATISFIABLE);
    assert_int_equal(range("bytes=100-200", 100), BATON_STATIC_RANGE_UNSATISFIABLE);
    assert_int_equal(range("bytes=-0", 100), BATON_STATIC_RANGE_UNSATISFIABLE);
    assert_int_equal(range("bytes=0-", 0), BATON_STATIC_RANGE_UNSATISFIABLE);
    assert_int_equal(range("bytes=0-0", 0), BATON_STATIC_RANGE_UNSATISFIABLE);
    /* A suffix of an empty file is all of it, nothing a 206 describes: plain 200. */
    assert_int_equal(range("bytes=-5", 0), BATON_STATIC_RANGE_NONE);
    assert_int_equal(start, 12345);
}

static void test_overflow(void **state)
{
    /* 2^64 and far beyond saturate instead of wrapping to small numbers. */
    assert_int_equal(range("bytes=18446744073709551616-", 100), BATON_STATIC_RANGE_UNSATISFIABLE);
    assert_int_equal(range("bytes=99999999999999999999999999999999-", 100),
                     BATON_STATIC_RANGE_UNSATISFIABLE);
    assert_range("bytes=5-18446744073709551616", 100, 5, 95);
    assert_range("bytes=5-99999999999999999999999999999999", 100, 5, 95);
    assert_range("bytes=-99999999999999999999999999999999", 100, 0, 100);
    assert_range("bytes=18446744073709551614-18446744073709551615", UINT64_MAX, UINT64_MAX - 1, 1);
    /* 2^64+1 would wrap to 1 without saturation. */
    assert_int_equal(range("bytes=18446744073709551617-", 100), BATON_STATIC_RANGE_UNSATISFIABLE);
}

static void test_ignored(void **state)
{
    static const char *const ignored[] = {
        "",
        "bytes",
        "bytes=",
        "bytes=,",
        "bytes=-",
        "bytes=a-b",
        "bytes=1",
        "bytes=1-2-3",
        "bytes=5-4", /* last before first: the whole field is invalid */
        "bytes=1-2x",
        "bytes=--1",
        "bytes=+1-2",
        "bytes=1 -2",
        "bytes=0x10-",
        "items=0-1",
        "bytes 0-1",
        "bytes:0-1",
        "=0-1",
        "bytes=0-1;",
        "bytes=-1-2",
        /* Several ranges are served whole (no multipart). */
        "bytes=0-1,2-3",
        "bytes=0-1, -1",
        "bytes=0-0,0-0",
        "bytes=500-600,601-999",
    };

    assert_int_equal(range(NULL, 100), BATON_STATIC_RANGE_NONE);
    for (size_t i = 0; i < sizeof(ignored) / sizeof(ignored[0]); i++) {
        if (range(ignored[i], 100) != BATON_STATIC_RANGE_NONE)
            fail_msg("Range \"%s\" not ignored", ignored[i]);
        assert_int_equal(start, 12345);
        assert_int_equal(len, 12345);
    }
}

static void test_if_range(void **state)
{
    const char *etag = "\"1-2-3.4\"";
    const time_t mtime = 784111777; /* Sun, 06 Nov 1994 08:49:37 GMT */

    assert_true(baton__static_if_range(NULL, etag, mtime));
    assert_true(baton__static_if_range("\"1-2-3.4\"", etag, mtime));
    assert_true(baton__static_if_range(" \"1-2-3.4\" ", etag, mtime));
    assert_false(baton__static_if_range("W/\"1-2-3.4\"", etag, mtime));
    assert_false(baton__static_if_range("\"1-2-3.5\"", etag, mtime));
    assert_false(baton__static_if_range("\"1-2-3.4", etag, mtime));
    assert_false(baton__static_if_range("\"1-2-3.4\", \"x\"", etag, mtime));
    assert_true(baton__static_if_range("Sun, 06 Nov 1994 08:49:37 GMT", etag, mtime));
    /* Dates must be exact: an older or newer one means the client's copy is another one. */
    assert_false(baton__static_if_range("Sun, 06 Nov 1994 08:49:38 GMT", etag, mtime));
    assert_false(baton__static_if_range("Sun, 06 Nov 1994 08:49:36 GMT", etag, mtime));
    assert_false(baton__static_if_range("garbage", etag, mtime));
    assert_false(baton__static_if_range("", etag, mtime));
}

/* Random strings over the grammar's alphabet: whatever comes back must be self-consistent. */
static void test_random_garbage(void **state)
{
    static const char alphabet[] = "bytes=-0123456789, \t;";
    char buf[24];
    unsigned seed = 12345;

    for (int i = 0; i < 200000; i++) {
        size_t n = (size_t)(rand_r(&seed) % (sizeof(buf) - 1));
        uint64_t size = (uint64_t)(rand_r(&seed) % 50);

        for (size_t j = 0; j < n; j++)
            buf[j] = alphabet[rand_r(&seed) % (sizeof(alphabet) - 1)];
        buf[n] = '\0';
        if (i % 2 == 0 && n > 6)
            memcpy(buf, "bytes=", 6);
        if (range(buf, size) == BATON_STATIC_RANGE_OK) {
            assert_true(len >= 1);
            assert_true(start < size);
            assert_true(start + len <= size);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forms),    cmocka_unit_test(test_unsatisfiable),
        cmocka_unit_test(test_overflow), cmocka_unit_test(test_ignored),
        cmocka_unit_test(test_if_range), cmocka_unit_test(test_random_garbage),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
