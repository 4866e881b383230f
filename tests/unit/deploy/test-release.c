/* SPDX-License-Identifier: MIT */
/* The release tree: the switch, current, listing, removal, temporary leftovers, retention. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "helpers.h"

struct fx {
    char *dir;
    char root[PATH_MAX - 64];
    int fd;
    char err[256];
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    f->dir = tmpdir_new();
    snprintf(f->root, sizeof(f->root), "%s/r", f->dir);
    assert_int_equal(baton_release_root_open(f->root, &f->fd, f->err, sizeof(f->err)), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    close(f->fd);
    tmpdir_remove(f->dir);
    free(f);
    return 0;
}

static void add(struct fx *f, const char *v)
{
    char p[PATH_MAX];
    snprintf(p, sizeof(p), "%s/releases/%s", f->root, v);
    assert_int_equal(mkdir(p, 0755), 0);
}

static void opens_and_creates_the_layout(void **state)
{
    struct fx *f = *state;
    char p[PATH_MAX];
    snprintf(p, sizeof(p), "%s/.baton", f->root);
    struct stat sb;
    assert_int_equal(stat(p, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0700);
    int fd2;
    assert_int_equal(baton_release_root_open(f->root, &fd2, f->err, sizeof(f->err)), 0);
    close(fd2);
    assert_int_equal(baton_release_root_open("", &fd2, f->err, sizeof(f->err)), -EINVAL);
    assert_string_equal(f->err, "release.root is not set");
}

static void switches_current(void **state)
{
    struct fx *f = *state;
    char v[BATON_VERSION_MAX + 1];
    assert_int_equal(baton_release_current(f->fd, v, sizeof(v)), -ENOENT);
    add(f, "1.0");
    add(f, "1.1");
    assert_int_equal(baton_release_switch(f->fd, "1.0", f->err, sizeof(f->err)), 0);
    assert_int_equal(baton_release_current(f->fd, v, sizeof(v)), 0);
    assert_string_equal(v, "1.0");
    assert_int_equal(baton_release_switch(f->fd, "1.1", f->err, sizeof(f->err)), 0);
    assert_int_equal(baton_release_current(f->fd, v, sizeof(v)), 0);
    assert_string_equal(v, "1.1");
    char p[PATH_MAX], t[64];
    snprintf(p, sizeof(p), "%s/current", f->root);
    ssize_t n = readlink(p, t, sizeof(t) - 1);
    assert_true(n > 0);
    t[n] = '\0';
    assert_string_equal(t, "releases/1.1"); /* relative: the tree can move */
    snprintf(p, sizeof(p), "%s/.current.new", f->root);
    struct stat sb;
    assert_int_equal(lstat(p, &sb), -1);
}

static void switch_replaces_a_stale_new_link(void **state)
{
    struct fx *f = *state;
    add(f, "1.0");
    char p[PATH_MAX];
    snprintf(p, sizeof(p), "%s/.current.new", f->root);
    assert_int_equal(symlink("releases/gone", p), 0);
    assert_int_equal(baton_release_switch(f->fd, "1.0", f->err, sizeof(f->err)), 0);
}

static void refuses_switch_to_missing(void **state)
{
    struct fx *f = *state;
    assert_int_equal(baton_release_switch(f->fd, "9.9", f->err, sizeof(f->err)), -ENOENT);
    assert_string_equal(f->err, "release 9.9 is not installed");
    assert_int_equal(baton_release_switch(f->fd, "../x", f->err, sizeof(f->err)), -EINVAL);
}

static void current_not_a_release(void **state)
{
    struct fx *f = *state;
    char p[PATH_MAX], v[BATON_VERSION_MAX + 1];
    snprintf(p, sizeof(p), "%s/current", f->root);
    assert_int_equal(symlink("/etc", p), 0);
    assert_int_equal(baton_release_current(f->fd, v, sizeof(v)), -ENOLINK);
}

static void lists_versions_in_order(void **state)
{
    struct fx *f = *state;
    add(f, "1.10");
    add(f, "1.9");
    add(f, "2.0~rc1");
    add(f, ".tmp-abc");
    add(f, ".del-1.0");
    char p[PATH_MAX];
    snprintf(p, sizeof(p), "%s/releases/stray-file", f->root);
    assert_int_equal(write_file(p, "", 0), 0);
    char(*v)[BATON_VERSION_MAX + 1];
    int n = baton_release_list(f->fd, &v);
    assert_int_equal(n, 3);
    assert_string_equal(v[0], "1.9");
    assert_string_equal(v[1], "1.10");
    assert_string_equal(v[2], "2.0~rc1");
    free(v);
    assert_int_equal(baton_release_remove_temporary(f->fd), 2);
    assert_int_equal(count_entries(strcat(strcpy(p, f->root), "/releases")), 4);
}

static void removes_but_never_current(void **state)
{
    struct fx *f = *state;
    add(f, "1.0");
    add(f, "1.1");
    char p[PATH_MAX];
    snprintf(p, sizeof(p), "%s/releases/1.0/sub", f->root);
    assert_int_equal(mkdir(p, 0755), 0);
    snprintf(p, sizeof(p), "%s/releases/1.0/sub/escape", f->root);
    assert_int_equal(symlink(f->dir, p), 0); /* removal must not follow it */
    assert_int_equal(baton_release_switch(f->fd, "1.1", f->err, sizeof(f->err)), 0);
    assert_int_equal(baton_release_remove(f->fd, "1.1", f->err, sizeof(f->err)), -EBUSY);
    assert_string_equal(f->err, "release 1.1 is current");
    assert_int_equal(baton_release_remove(f->fd, "1.0", f->err, sizeof(f->err)), 0);
    char(*v)[BATON_VERSION_MAX + 1];
    assert_int_equal(baton_release_list(f->fd, &v), 1);
    free(v);
    struct stat sb;
    assert_int_equal(stat(f->root, &sb), 0); /* the symlink's target survived */
    assert_int_equal(baton_release_remove(f->fd, "7.7", f->err, sizeof(f->err)), -ENOENT);
}

static struct baton_release_info rel(const char *v, enum baton_release_state s)
{
    struct baton_release_info r = {.state = s};
    snprintf(r.version, sizeof(r.version), "%s", v);
    return r;
}

static void retention_keeps_committed_and_prunes_failed_first(void **state)
{
    struct baton_release_info rels[] = {
        rel("1.0", BATON_RELEASE_COMMITTED),  rel("1.1", BATON_RELEASE_COMMITTED),
        rel("1.2", BATON_RELEASE_COMMITTED),  rel("1.3", BATON_RELEASE_FAILED),
        rel("1.4", BATON_RELEASE_UNFINISHED), rel("1.5", BATON_RELEASE_COMMITTED),
        rel("1.6", BATON_RELEASE_COMMITTED),  rel("1.7", BATON_RELEASE_PROBATION),
    };
    bool prune[8];
    /* current 1.6, previous 1.5, keep 1: of 1.0-1.2 only 1.2 stays */
    size_t n = baton_release_plan_prune(rels, 8, "1.6", "1.5", 1, prune);
    assert_int_equal(n, 4);
    const bool want[8] = {true, true, false, true, true, false, false, false};
    assert_memory_equal(prune, want, sizeof(want));
}

static void retention_after_ten_failures(void **state)
{
    /* ten failed deploys never push the last good releases out */
    struct baton_release_info rels[13];
    rels[0] = rel("1.0", BATON_RELEASE_COMMITTED);
    rels[1] = rel("1.1", BATON_RELEASE_COMMITTED);
    for (int i = 0; i < 10; i++) {
        char v[16];
        snprintf(v, sizeof(v), "2.%d", i);
        rels[2 + i] = rel(v, BATON_RELEASE_FAILED);
    }
    rels[12] = rel("3.0", BATON_RELEASE_COMMITTED);
    bool prune[13];
    assert_int_equal(baton_release_plan_prune(rels, 13, "3.0", "1.1", 0, prune), 11);
    assert_false(prune[1]);
    assert_false(prune[12]);
    assert_true(prune[0]); /* keep 0: only current and previous */
    assert_int_equal(baton_release_plan_prune(rels, 13, "3.0", "1.1", 5, prune), 10);
    assert_false(prune[0]);
}

static void retention_never_prunes_current_or_probation(void **state)
{
    struct baton_release_info rels[] = {
        rel("1.0", BATON_RELEASE_FAILED),
        rel("2.0", BATON_RELEASE_PROBATION),
        rel("0.5", BATON_RELEASE_UNFINISHED),
    };
    bool prune[3];
    /* current is a failed release (a switch back failed): still kept */
    assert_int_equal(baton_release_plan_prune(rels, 3, "1.0", NULL, 0, prune), 1);
    assert_false(prune[0]);
    assert_false(prune[1]);
    assert_true(prune[2]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
        T(opens_and_creates_the_layout),
        T(switches_current),
        T(switch_replaces_a_stale_new_link),
        T(refuses_switch_to_missing),
        T(current_not_a_release),
        T(lists_versions_in_order),
        T(removes_but_never_current),
        cmocka_unit_test(retention_keeps_committed_and_prunes_failed_first),
        cmocka_unit_test(retention_after_ten_failures),
        cmocka_unit_test(retention_never_prunes_current_or_probation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
