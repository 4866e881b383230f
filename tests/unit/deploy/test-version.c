/* SPDX-License-Identifier: MIT */
/* Versions: the order of `sort -V`, release names, NAME-VERSION.tar.gz, downgrades. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "helpers.h"

static const char *const versions[] = {
    "1.0",    "1.0.0",   "1.0.1",     "1.0.10",    "1.0.2",      "1.1",     "1.10",
    "1.9",    "2.0~rc1", "2.0",       "2.0-rc1",   "2.0.0-beta", "2.0a",    "2.0b",
    "10.0",   "0.9",     "1.2.3+git", "1.2.3",     "1.2.3-1",    "01.2",    "1.02",
    "3.beta", "3.1",     "3",         "20261204",  "20261204.1", "1.0.tar", "abc",
    "abc1",   "abc10",   "abc2",      "1.0~",      "1.0~~",      "1.0.a",   "1.0a",
    "v1.2",   "v1.10",   "1_2",       "1.2.10.20", "1.2.9.30",   "0",       "00",
};
#define N (sizeof(versions) / sizeof(versions[0]))

static int cmp(const void *a, const void *b)
{
    return baton_version_cmp(*(const char *const *)a, *(const char *const *)b);
}

static void orders_like_sort_v(void **state)
{
    char *dir = tmpdir_new();
    char path[PATH_MAX], out[PATH_MAX + 8];
    snprintf(path, sizeof(path), "%s/in", dir);
    snprintf(out, sizeof(out), "%s/out", dir);
    FILE *fp = fopen(path, "w");
    for (size_t i = 0; i < N; i++)
        fprintf(fp, "%s\n", versions[i]);
    fclose(fp);
    assert_int_equal(run("LC_ALL=C sort -V %s > %s", path, out), 0);
    const char *sorted[N];
    memcpy(sorted, versions, sizeof(sorted));
    qsort(sorted, N, sizeof(sorted[0]), cmp);
    char *want = read_text(out);
    char *line = strtok(want, "\n");
    for (size_t i = 0; i < N; i++, line = strtok(NULL, "\n")) {
        assert_non_null(line);
        if (strcmp(line, sorted[i]))
            fail_msg("position %zu: sort -V has %s, baton_version_cmp %s", i, line, sorted[i]);
    }
    free(want);
    tmpdir_remove(dir);
}

static void compares_basics(void **state)
{
    assert_true(baton_version_cmp("1.9", "1.10") < 0);
    assert_true(baton_version_cmp("1.10", "1.9") > 0);
    assert_true(baton_version_cmp("2.0~rc1", "2.0") < 0);
    assert_true(baton_version_cmp("1.4.0", "1.4.0") == 0);
    assert_true(baton_version_cmp("1.0", "1.0.0") < 0);
}

static void validates_names(void **state)
{
    assert_true(baton_version_valid("1.4.0"));
    assert_true(baton_version_valid("2.0.0-rc1+build.5~x_y"));
    assert_false(baton_version_valid(""));
    assert_false(baton_version_valid("."));
    assert_false(baton_version_valid(".."));
    assert_false(baton_version_valid(".tmp-abc"));
    assert_false(baton_version_valid("-1"));
    assert_false(baton_version_valid("a/b"));
    assert_false(baton_version_valid("a b"));
    char long_v[80];
    memset(long_v, '1', 65);
    long_v[65] = '\0';
    assert_false(baton_version_valid(long_v));
    long_v[64] = '\0';
    assert_true(baton_version_valid(long_v));
}

static void version_from_file_names(void **state)
{
    char v[BATON_VERSION_MAX + 1];
    assert_int_equal(baton_version_from_name("hello-1.4.0.tar.gz", v, sizeof(v)), 0);
    assert_string_equal(v, "1.4.0");
    assert_int_equal(baton_version_from_name("/x/y/hello-world-2.0-rc1.tar.gz", v, sizeof(v)), 0);
    assert_string_equal(v, "2.0-rc1");
    assert_int_equal(baton_version_from_name("app.tar.gz", v, sizeof(v)), -ENOENT);
    assert_int_equal(baton_version_from_name("app-latest.tar.gz", v, sizeof(v)), -ENOENT);
    assert_int_equal(baton_version_from_name("hello-1.4.0.zip", v, sizeof(v)), -ENOENT);
    assert_int_equal(baton_version_from_name("-1.0.tar.gz", v, sizeof(v)), -ENOENT);
    assert_int_equal(baton_version_from_name("a-1.tar.gz", v, 1), -ENAMETOOLONG);
}

static void checks_downgrades(void **state)
{
    char err[256];
    assert_int_equal(baton_version_check_downgrade("1.5", "1.4", false, err, sizeof(err)), 0);
    assert_int_equal(baton_version_check_downgrade("1.5", NULL, false, err, sizeof(err)), 0);
    assert_int_equal(baton_version_check_downgrade("1.3", "1.4", false, err, sizeof(err)), -EPERM);
    assert_non_null(strstr(err, "downgrade refused: 1.3 is older than the committed 1.4"));
    assert_int_equal(baton_version_check_downgrade("1.4", "1.4", false, err, sizeof(err)), -EPERM);
    assert_non_null(strstr(err, "already the newest committed release"));
    assert_int_equal(baton_version_check_downgrade("1.3", "1.4", true, err, sizeof(err)), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(orders_like_sort_v), cmocka_unit_test(compares_basics),
        cmocka_unit_test(validates_names),    cmocka_unit_test(version_from_file_names),
        cmocka_unit_test(checks_downgrades),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
