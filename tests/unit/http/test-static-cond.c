/* SPDX-License-Identifier: MIT */
/*
 * Static files, validators: HTTP-dates in all three forms, entity tags and their comparison,
 * the RFC 9110 precondition order, and fingerprinted names.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "http/static-internal.h"

/* Sun, 06 Nov 1994 08:49:37 GMT, the RFC's example. */
#define T_RFC ((time_t)784111777)

static void test_date_format(void **state)
{
    char buf[BATON_STATIC_DATE_LEN];

    assert_int_equal(baton__static_date_format(T_RFC, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "Sun, 06 Nov 1994 08:49:37 GMT");
    assert_int_equal(baton__static_date_format(0, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "Thu, 01 Jan 1970 00:00:00 GMT");
    assert_int_equal(baton__static_date_format(1709164800, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "Thu, 29 Feb 2024 00:00:00 GMT");
    assert_int_equal(baton__static_date_format(T_RFC, buf, sizeof(buf) - 1), -EINVAL);
    assert_int_equal(baton__static_date_format((time_t)400000000000LL, buf, sizeof(buf)), -EINVAL);
}

static void test_date_parse(void **state)
{
    static const char *const bad[] = {
        "",
        "yesterday",
        "Sun, 06 Nov 1994 08:49:37",        /* no zone */
        "Sun, 06 Nov 1994 08:49:37 UTC",    /* only GMT */
        "Sun, 6 Nov 1994 08:49:37 GMT",     /* one-digit day */
        "Sun, 06 nov 1994 08:49:37 GMT",    /* month names are case-sensitive */
        "Sun, 06 Nov 1994 24:49:37 GMT",    /* hour */
        "Sun, 06 Nov 1994 08:60:37 GMT",    /* minute */
        "Sun, 32 Nov 1994 08:49:37 GMT",    /* day */
        "Sun, 00 Nov 1994 08:49:37 GMT",    /* day */
        "Sun, 06 Nov 1994 08:49:37 GMTx",   /* trailing garbage */
        "Xyz, 06 Nov 1994 08:49:37 GMT",    /* day name */
        "Sunday, 06 Nov 1994 08:49:37 GMT", /* long name with a fixdate */
        "Sun Nov 6 08:49:37 1994",          /* asctime pads the day with a space */
        "Sun, 06 Nov 19a4 08:49:37 GMT",
        "Sat, 31 Feb 2024 00:00:00 GMT", /* no such day */
        "Thu, 31 Apr 2024 00:00:00 GMT",
    };
    time_t t;

    assert_int_equal(baton__static_date_parse("Sun, 06 Nov 1994 08:49:37 GMT", &t), 0);
    assert_int_equal(t, T_RFC);
    t = 0;
    assert_int_equal(baton__static_date_parse("Sunday, 06-Nov-94 08:49:37 GMT", &t), 0);
    assert_int_equal(t, T_RFC);
    t = 0;
    assert_int_equal(baton__static_date_parse("Sun Nov  6 08:49:37 1994", &t), 0);
    assert_int_equal(t, T_RFC);
    assert_int_equal(baton__static_date_parse(" Sun, 06 Nov 1994 08:49:37 GMT  ", &t), 0);
    assert_int_equal(t, T_RFC);
    /* Two-digit years below 70 are this century. */
    assert_int_equal(baton__static_date_parse("Thursday, 29-Feb-24 00:00:00 GMT", &t), 0);
    assert_int_equal(t, 1709164800);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        t = 42;
        assert_int_equal(baton__static_date_parse(bad[i], &t), -EINVAL);
        assert_int_equal(t, 42);
    }
    assert_int_equal(baton__static_date_parse(NULL, &t), -EINVAL);
}

static void test_date_roundtrip(void **state)
{
    char buf[BATON_STATIC_DATE_LEN];
    time_t back;

    for (time_t t = 0; t < (time_t)4102444800LL; t += 86400 * 37 + 3607) {
        assert_int_equal(baton__static_date_format(t, buf, sizeof(buf)), 0);
        assert_int_equal(baton__static_date_parse(buf, &back), 0);
        assert_int_equal(back, t);
    }
}

static void test_etag(void **state)
{
    struct stat st = {0};
    char a[BATON_STATIC_ETAG_LEN], b[BATON_STATIC_ETAG_LEN], small[8];

    st.st_ino = 0x1234;
    st.st_size = 5;
    st.st_mtim.tv_sec = T_RFC;
    st.st_mtim.tv_nsec = 999999999;
    assert_int_equal(baton__static_etag(&st, NULL, a, sizeof(a)), 0);
    assert_string_equal(a, "\"1234-5-2ebc98a1.3b9ac9ff\"");
    assert_int_equal(baton__static_etag(&st, "br", b, sizeof(b)), 0);
    assert_string_equal(b, "\"1234-5-2ebc98a1.3b9ac9ff-br\"");
    /* Each of inode, size, seconds and nanoseconds changes the tag. */
    st.st_mtim.tv_nsec--;
    assert_int_equal(baton__static_etag(&st, NULL, b, sizeof(b)), 0);
    assert_string_not_equal(a, b);
    st.st_mtim.tv_nsec++;
    st.st_size++;
    assert_int_equal(baton__static_etag(&st, NULL, b, sizeof(b)), 0);
    assert_string_not_equal(a, b);
    st.st_size--;
    st.st_ino++;
    assert_int_equal(baton__static_etag(&st, NULL, b, sizeof(b)), 0);
    assert_string_not_equal(a, b);
    /* The largest values fit. */
    st.st_ino = (ino_t)-1;
    st.st_size = INT64_MAX;
    st.st_mtim.tv_sec = INT64_MAX;
    assert_int_equal(baton__static_etag(&st, "gzip", b, sizeof(b)), 0);
    assert_int_equal(baton__static_etag(&st, NULL, small, sizeof(small)), -ENOBUFS);
}

static void test_etag_match(void **state)
{
    const char *tag = "\"abc-1\"";

    assert_true(baton__static_etag_match("\"abc-1\"", tag, true));
    assert_true(baton__static_etag_match("\"abc-1\"", tag, false));
    assert_true(baton__static_etag_match("*", tag, true));
    assert_true(baton__static_etag_match(" * ", tag, false));
    assert_true(baton__static_etag_match("\"x\", \"abc-1\"", tag, true));
    assert_true(baton__static_etag_match("\"x\",\"abc-1\" ,\"y\"", tag, true));
    assert_true(baton__static_etag_match(", ,\"abc-1\"", tag, true));
    /* W/ matches in the weak comparison only. */
    assert_true(baton__static_etag_match("W/\"abc-1\"", tag, true));
    assert_false(baton__static_etag_match("W/\"abc-1\"", tag, false));
    /* Commas inside a tag belong to it. */
    assert_false(baton__static_etag_match("\"abc-1,\"", tag, true));
    assert_true(baton__static_etag_match("\"x,y\", \"abc-1\"", tag, true));
    assert_false(baton__static_etag_match("\"abc-2\"", tag, true));
    assert_false(baton__static_etag_match("\"abc-1", tag, true));
    assert_false(baton__static_etag_match("abc-1", tag, true));
    assert_false(baton__static_etag_match("\"abc\"-1\"", tag, true));
    assert_false(baton__static_etag_match("\"abc\" \"abc-1\"", tag, true));
    assert_false(baton__static_etag_match("*, \"abc-1\"", tag, true));
    assert_false(baton__static_etag_match("", tag, true));
    assert_false(baton__static_etag_match(NULL, tag, true));
    assert_false(baton__static_etag_match("\"ab c\", \"abc-1\"", tag, true));
}

static enum baton_static_cond cond(const char *im, const char *ius, const char *inm,
                                   const char *ims)
{
    struct baton_static_preconditions p = {im, ius, inm, ims};

    return baton__static_preconditions(&p, "\"t1\"", T_RFC);
}

static void test_preconditions(void **state)
{
    const char *now = "Sun, 06 Nov 1994 08:49:37 GMT";
    const char *before = "Sun, 06 Nov 1994 08:49:36 GMT";
    const char *after = "Mon, 07 Nov 1994 08:49:37 GMT";

    assert_int_equal(cond(NULL, NULL, NULL, NULL), BATON_STATIC_COND_PROCEED);
    /* If-None-Match */
    assert_int_equal(cond(NULL, NULL, "\"t1\"", NULL), BATON_STATIC_COND_NOT_MODIFIED);
    assert_int_equal(cond(NULL, NULL, "W/\"t1\"", NULL), BATON_STATIC_COND_NOT_MODIFIED);
    assert_int_equal(cond(NULL, NULL, "*", NULL), BATON_STATIC_COND_NOT_MODIFIED);
    assert_int_equal(cond(NULL, NULL, "\"t0\"", NULL), BATON_STATIC_COND_PROCEED);
    /* If-Modified-Since: not modified when the file is not newer. */
    assert_int_equal(cond(NULL, NULL, NULL, now), BATON_STATIC_COND_NOT_MODIFIED);
    assert_int_equal(cond(NULL, NULL, NULL, after), BATON_STATIC_COND_NOT_MODIFIED);
    assert_int_equal(cond(NULL, NULL, NULL, before), BATON_STATIC_COND_PROCEED);
    assert_int_equal(cond(NULL, NULL, NULL, "garbage"), BATON_STATIC_COND_PROCEED);
    /* ... and ignored when If-None-Match is present, either way. */
    assert_int_equal(cond(NULL, NULL, "\"t0\"", now), BATON_STATIC_COND_PROCEED);
    assert_int_equal(cond(NULL, NULL, "\"t1\"", before), BATON_STATIC_COND_NOT_MODIFIED);
    /* If-Match (strong) and If-Unmodified-Since come first. */
    assert_int_equal(cond("\"t1\"", NULL, NULL, NULL), BATON_STATIC_COND_PROCEED);
    assert_int_equal(cond("*", NULL, NULL, NULL), BATON_STATIC_COND_PROCEED);
    assert_int_equal(cond("\"t0\"", NULL, NULL, NULL), BATON_STATIC_COND_PRECONDITION_FAILED);
    assert_int_equal(cond("W/\"t1\"", NULL, NULL, NULL), BATON_STATIC_COND_PRECONDITION_FAILED);
    assert_int_equal(cond("\"t0\"", NULL, "\"t1\"", NULL), BATON_STATIC_COND_PRECONDITION_FAILED);
    assert_int_equal(cond(NULL, before, NULL, NULL), BATON_STATIC_COND_PRECONDITION_FAILED);
    assert_int_equal(cond(NULL, now, NULL, NULL), BATON_STATIC_COND_PROCEED);
    assert_int_equal(cond(NULL, "garbage", NULL, NULL), BATON_STATIC_COND_PROCEED);
    /* If-Match present: If-Unmodified-Since is not consulted. */
    assert_int_equal(cond("\"t1\"", before, NULL, NULL), BATON_STATIC_COND_PROCEED);
    assert_int_equal(cond("\"t1\"", NULL, "\"t1\"", NULL), BATON_STATIC_COND_NOT_MODIFIED);
}

static void test_fingerprinted(void **state)
{
    static const char *const yes[] = {
        "app.3f9a1c.js", "style.0123abcd.css", "/static/js/app.3f9a1c.js",
        "a.b.3F9A1C.js", "x.123456.png",       "vendor.0123456789abcdef0123456789abcdef.js",
    };
    static const char *const no[] = {
        "app.js",
        "app.3f9a1.js", /* five digits */
        "3f9a1c.js",    /* no base name */
        ".3f9a1c.js",
        "app.3f9a1c", /* the hash is the extension */
        "app.3f9a1c.",
        "app.3f9g1c.js",
        "app.facade.js", /* hex letters only: a word */
        "app.3f9a1c.min.js",
        "index.html",
        "",
        "/",
        "app..js",
        "app-3f9a1c.js",
        "3f9a1c.js/app.js",
    };

    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
        assert_true(baton__static_fingerprinted(yes[i]));
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
        if (baton__static_fingerprinted(no[i]))
            fail_msg("%s taken for fingerprinted", no[i]);
    }
}

/* Random validator strings: parsing never reads past the end, a parsed date formats back to a
 * date that parses to the same instant, and a list only matches when it names the tag. */
static void test_random_garbage(void **state)
{
    static const char alphabet[] = "SunMo, 0169Nv-:GT W/\"*abc\t";
    char buf[40], fmt[BATON_STATIC_DATE_LEN];
    unsigned seed = 4242;
    time_t t, back;

    for (int i = 0; i < 200000; i++) {
        size_t n = (size_t)(rand_r(&seed) % (sizeof(buf) - 1));

        for (size_t j = 0; j < n; j++)
            buf[j] = alphabet[rand_r(&seed) % (sizeof(alphabet) - 1)];
        buf[n] = '\0';
        if (baton__static_date_parse(buf, &t) == 0 &&
            baton__static_date_format(t, fmt, sizeof(fmt)) == 0) {
            assert_int_equal(baton__static_date_parse(fmt, &back), 0);
            assert_int_equal(back, t);
        }
        if (baton__static_etag_match(buf, "\"abc\"", true))
            assert_true(strstr(buf, "\"abc\"") || strchr(buf, '*'));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_date_format),    cmocka_unit_test(test_date_parse),
        cmocka_unit_test(test_date_roundtrip), cmocka_unit_test(test_etag),
        cmocka_unit_test(test_etag_match),     cmocka_unit_test(test_preconditions),
        cmocka_unit_test(test_fingerprinted),  cmocka_unit_test(test_random_garbage),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
