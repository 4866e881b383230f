/* SPDX-License-Identifier: MIT */
/*
 * Static files, Accept-Encoding: the quality a header gives to br and gzip, with q-values,
 * wildcards, x-gzip, case, and malformed members.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "http/static-internal.h"

static int br(const char *accept)
{
    return baton__static_coding_quality(accept, "br");
}

static int gz(const char *accept)
{
    return baton__static_coding_quality(accept, "gzip");
}

static void test_plain_lists(void **state)
{
    assert_int_equal(br(NULL), 0);
    assert_int_equal(gz(NULL), 0);
    assert_int_equal(br(""), 0);
    assert_int_equal(br("gzip, deflate, br"), 1000);
    assert_int_equal(gz("gzip, deflate, br"), 1000);
    assert_int_equal(br("gzip, deflate"), 0);
    assert_int_equal(gz("br"), 0);
    assert_int_equal(br("identity"), 0);
    assert_int_equal(br("BR"), 1000);
    assert_int_equal(gz("GZip"), 1000);
    assert_int_equal(gz("x-gzip"), 1000);
    assert_int_equal(br("x-gzip"), 0);
    /* Names are whole tokens: no prefix or suffix matches. */
    assert_int_equal(br("brotli, xbr"), 0);
    assert_int_equal(gz("gzipx, gzi"), 0);
    assert_int_equal(br(" , ,br , "), 1000);
}

static void test_qvalues(void **state)
{
    assert_int_equal(br("br;q=0"), 0);
    assert_int_equal(br("br;q=0.0"), 0);
    assert_int_equal(br("br;q=0.000"), 0);
    assert_int_equal(br("br;q=1"), 1000);
    assert_int_equal(br("br;q=1.000"), 1000);
    assert_int_equal(br("br;q=0.5"), 500);
    assert_int_equal(br("br;q=0.001"), 1);
    assert_int_equal(br("br;q=0.85"), 850);
    assert_int_equal(br("br ; q=0.5"), 500);
    assert_int_equal(br("br;Q=0.5"), 500);
    assert_int_equal(gz("gzip;q=0.8, br;q=0.9"), 800);
    assert_int_equal(br("gzip;q=0.8, br;q=0.9"), 900);
    /* q=0 refuses the coding even next to a wildcard. */
    assert_int_equal(br("*, br;q=0"), 0);
    assert_int_equal(br("br;q=0, *"), 0);
    /* Malformed q-values drop the member. */
    assert_int_equal(br("br;q=2"), 0);
    assert_int_equal(br("br;q=1.5"), 0);
    assert_int_equal(br("br;q=0.1234"), 0);
    assert_int_equal(br("br;q=.5"), 0);
    assert_int_equal(br("br;q="), 0);
    assert_int_equal(br("br;q=0.5x"), 0);
    assert_int_equal(br("br;q"), 0);
    assert_int_equal(br("br;q=-1"), 0);
    assert_int_equal(br("br;q=0.5 0"), 0);
    assert_int_equal(br("br;q=abc, gzip"), 0);
    /* ... but not the rest of the list. */
    assert_int_equal(gz("br;q=abc, gzip"), 1000);
    assert_int_equal(gz("br;q=\"0.5\", gzip;q=0.3"), 300);
    /* Other parameters are skipped. */
    assert_int_equal(br("br;level=5;q=0.4"), 400);
}

static void test_wildcard(void **state)
{
    assert_int_equal(br("*"), 1000);
    assert_int_equal(gz("*;q=0.3"), 300);
    assert_int_equal(br("gzip, *;q=0"), 0);
    assert_int_equal(gz("gzip, *;q=0"), 1000);
    /* The coding's own entry wins over the wildcard, whichever is higher. */
    assert_int_equal(br("*;q=0.9, br;q=0.1"), 100);
}

/* Random strings over the grammar's alphabet: qualities stay within 0..1000. */
static void test_random_garbage(void **state)
{
    static const char alphabet[] = "brgzipx-*;q=0.15, \t\"";
    char buf[32];
    unsigned seed = 777;

    for (int i = 0; i < 200000; i++) {
        size_t n = (size_t)(rand_r(&seed) % (sizeof(buf) - 1));
        int q;

        for (size_t j = 0; j < n; j++)
            buf[j] = alphabet[rand_r(&seed) % (sizeof(alphabet) - 1)];
        buf[n] = '\0';
        q = br(buf);
        assert_true(q >= 0 && q <= 1000);
        q = gz(buf);
        assert_true(q >= 0 && q <= 1000);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_lists),
        cmocka_unit_test(test_qvalues),
        cmocka_unit_test(test_wildcard),
        cmocka_unit_test(test_random_garbage),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
