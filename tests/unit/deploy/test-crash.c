/* SPDX-License-Identifier: MIT */
/*
 * Crash safety: a child runs a whole deploy and is SIGKILLed at each kill point (right after
 * each journal record, between the link and the rename of the switch, right after the install
 * rename). Afterwards current is always a complete release, the journal's recovery decision is
 * the expected one, recovery brings the tree in line, a second recovery does nothing, and the
 * next deploy succeeds with no manual step.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <archive.h>
#include <archive_entry.h>
#include <signal.h>
#include <sys/wait.h>

#include "helpers.h"

/* An artifact for version v: 50 files, the last one "marker" = "<v> complete". */
static void make_artifact(const char *path, const char *v)
{
    struct archive *a = archive_write_new();
    archive_write_add_filter_gzip(a);
    archive_write_set_format_pax_restricted(a);
    assert_int_equal(archive_write_open_filename(a, path), ARCHIVE_OK);
    char name[64], data[4096];
    for (int i = 0; i <= 50; i++) {
        if (i < 50) {
            snprintf(name, sizeof(name), "lib/file%02d", i);
            memset(data, 'a' + i % 26, sizeof(data));
        } else {
            snprintf(name, sizeof(name), "marker");
            snprintf(data, sizeof(data), "%s complete", v);
        }
        size_t n = i < 50 ? sizeof(data) : strlen(data);
        struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, name);
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, 0644);
        archive_entry_set_size(e, (la_int64_t)n);
        assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
        archive_write_data(a, data, n);
        archive_entry_free(e);
    }
    archive_write_close(a);
    archive_write_free(a);
}

/* The supervisor's deploy sequence, step by step, as the lead's state machine will run it.
 * Returns 0 or a negative step number. */
static int run_deploy(const char *root_path, const char *artifact, const char *v, const char *id)
{
    char err[512];
    int root, lock;
    struct baton_journal *j;
    struct baton_journal_state st;
    if (baton_release_root_open(root_path, &root, err, sizeof(err)) < 0 ||
        baton_deploy_lock(root, "deploy", false, &lock, err, sizeof(err)) < 0 ||
        baton_journal_open(root, &j, err, sizeof(err)) < 0)
        return -1;
    char from[BATON_VERSION_MAX + 1] = "";
    (void)baton_release_current(root, from, sizeof(from));
    struct baton_journal_record r = {.step = BATON_STEP_BEGIN};
    snprintf(r.deploy, sizeof(r.deploy), "%s", id);
    strcpy(r.kind, "deploy");
    strcpy(r.version, v);
    strcpy(r.from, from);
    if (baton_journal_append(j, &r, err, sizeof(err)) < 0)
        return -2;
    struct baton_verify_request req = {.artifact = artifact, .version = v};
    struct baton_verified ver;
    if (baton_artifact_verify(&req, &ver, err, sizeof(err)) < 0)
        return -3;
    r.step = BATON_STEP_VERIFIED;
    strcpy(r.sha256, ver.sha256);
    if (baton_journal_append(j, &r, err, sizeof(err)) < 0)
        return -4;
    int afd = open(artifact, O_RDONLY | O_CLOEXEC);
    char tmp[64];
    if (baton_release_extract(root, afd, v, NULL, tmp, sizeof(tmp), NULL, err, sizeof(err)) < 0 ||
        baton_release_install(root, tmp, v, err, sizeof(err)) < 0)
        return -5;
    close(afd);
    r.step = BATON_STEP_INSTALLED;
    if (baton_journal_append(j, &r, err, sizeof(err)) < 0)
        return -6;
    if (baton_release_switch(root, v, err, sizeof(err)) < 0)
        return -7;
    r.step = BATON_STEP_SWITCHED;
    if (baton_journal_append(j, &r, err, sizeof(err)) < 0)
        return -8;
    r.step = BATON_STEP_PROBATION;
    if (baton_journal_append(j, &r, err, sizeof(err)) < 0)
        return -9;
    r.step = BATON_STEP_COMMITTED;
    strcpy(r.verdict, "ok");
    if (baton_journal_append(j, &r, err, sizeof(err)) < 0)
        return -10;
    if (baton_journal_read(root, &st, err, sizeof(err)) < 0 ||
        baton_release_prune(root, j, &st, 0, id, err, sizeof(err)) < 0)
        return -11;
    baton_journal_state_free(&st);
    r.step = BATON_STEP_DONE;
    r.verdict[0] = '\0';
    if (baton_journal_append(j, &r, err, sizeof(err)) < 0)
        return -12;
    baton_journal_close(j);
    baton_deploy_unlock(lock);
    close(root);
    return 0;
}

struct point {
    const char *at;
    enum baton_recovery want;
    const char *current_after; /* current once recovered */
};

static const struct point points[] = {
    {"journal-begin", BATON_RECOVER_REMOVE_TEMP, "1.0"},
    {"journal-verified", BATON_RECOVER_REMOVE_TEMP, "1.0"},
    {"install-rename", BATON_RECOVER_REMOVE_TEMP, "1.0"},
    {"journal-installed", BATON_RECOVER_MARK_UNFINISHED, "1.0"},
    {"switch-link", BATON_RECOVER_MARK_UNFINISHED, "1.0"},
    {"switch-rename", BATON_RECOVER_MARK_UNFINISHED, "1.0"},
    {"journal-switched", BATON_RECOVER_SWITCH_BACK, "1.0"},
    {"journal-probation", BATON_RECOVER_SWITCH_BACK, "1.0"},
    {"journal-committed", BATON_RECOVER_PRUNE, "2.0"},
    {"journal-pruned", BATON_RECOVER_PRUNE, "2.0"},
    {"journal-done", BATON_RECOVER_NONE, "2.0"},
};

static void current_is_complete(const char *root)
{
    char p[PATH_MAX + 64], v[BATON_VERSION_MAX + 1], want[128];
    int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_int_equal(baton_release_current(fd, v, sizeof(v)), 0);
    close(fd);
    snprintf(p, sizeof(p), "%s/current/marker", root);
    char *t = read_text(p);
    assert_non_null(t);
    snprintf(want, sizeof(want), "%s complete", v);
    assert_string_equal(t, want);
    free(t);
}

static void killed_at_every_point(void **state)
{
    for (size_t i = 0; i < sizeof(points) / sizeof(points[0]); i++) {
        const struct point *pt = &points[i];
        char *dir = tmpdir_new();
        char root[PATH_MAX], a09[PATH_MAX + 32], a10[PATH_MAX + 32], a20[PATH_MAX + 32],
            a30[PATH_MAX + 32], err[512];
        snprintf(root, sizeof(root), "%s/root", dir);
        snprintf(a09, sizeof(a09), "%s/app-0.9.tar.gz", dir);
        snprintf(a10, sizeof(a10), "%s/app-1.0.tar.gz", dir);
        snprintf(a20, sizeof(a20), "%s/app-2.0.tar.gz", dir);
        snprintf(a30, sizeof(a30), "%s/app-3.0.tar.gz", dir);
        make_artifact(a09, "0.9");
        make_artifact(a10, "1.0");
        make_artifact(a20, "2.0");
        make_artifact(a30, "3.0");
        assert_int_equal(run_deploy(root, a09, "0.9", "d0"), 0);
        assert_int_equal(run_deploy(root, a10, "1.0", "d1"), 0);

        pid_t pid = fork();
        if (pid == 0) {
            setenv("BATON_TEST_KILL_AT", pt->at, 1);
            _exit(run_deploy(root, a20, "2.0", "d2") == 0 ? 0 : 2);
        }
        int wst;
        assert_int_equal(waitpid(pid, &wst, 0), pid);
        if (!WIFSIGNALED(wst) || WTERMSIG(wst) != SIGKILL)
            fail_msg("%s: the child was not killed (status %x)", pt->at, wst);

        current_is_complete(root);
        int fd;
        assert_int_equal(baton_release_root_open(root, &fd, err, sizeof(err)), 0);
        struct baton_journal_state st;
        assert_int_equal(baton_journal_read(fd, &st, err, sizeof(err)), 0);
        if (st.recovery != pt->want)
            fail_msg("%s: recovery %s, want %s", pt->at, baton_recovery_name(st.recovery),
                     baton_recovery_name(pt->want));
        /* nothing unfinished is counted as committed */
        const struct baton_release_info *r2 = baton_journal_state_find(&st, "2.0");
        if (r2 && pt->want != BATON_RECOVER_PRUNE && pt->want != BATON_RECOVER_NONE)
            assert_int_not_equal(r2->state, BATON_RELEASE_COMMITTED);

        int lock;
        struct baton_journal *j;
        assert_int_equal(baton_deploy_lock(fd, "recovery", false, &lock, err, sizeof(err)), 0);
        assert_int_equal(baton_journal_open(fd, &j, err, sizeof(err)), 0);
        int rr = baton_deploy_recover(fd, j, &st, 0, err, sizeof(err));
        if (rr != (int)pt->want)
            fail_msg("%s: recover returned %d (%s)", pt->at, rr, err);
        baton_journal_state_free(&st);
        baton_journal_close(j);
        baton_deploy_unlock(lock);

        char v[BATON_VERSION_MAX + 1];
        assert_int_equal(baton_release_current(fd, v, sizeof(v)), 0);
        if (strcmp(v, pt->current_after))
            fail_msg("%s: current %s after recovery, want %s", pt->at, v, pt->current_after);
        current_is_complete(root);
        char rel[PATH_MAX + 16];
        snprintf(rel, sizeof(rel), "%s/releases", root);
        DIR *d = opendir(rel);
        struct dirent *e;
        while ((e = readdir(d)))
            if (e->d_name[0] == '.' && strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
                fail_msg("%s: leftover %s", pt->at, e->d_name);
        closedir(d);
        /* a second start finds nothing to do */
        assert_int_equal(baton_journal_read(fd, &st, err, sizeof(err)), 0);
        if (st.recovery != BATON_RECOVER_NONE)
            fail_msg("%s: after recovery still %s", pt->at, baton_recovery_name(st.recovery));
        if (pt->want == BATON_RECOVER_SWITCH_BACK) {
            assert_int_equal(baton_journal_state_find(&st, "2.0")->state, BATON_RELEASE_FAILED);
            assert_string_equal(st.current, "1.0");
        }
        if (pt->want == BATON_RECOVER_MARK_UNFINISHED)
            assert_int_equal(baton_journal_state_find(&st, "2.0")->state, BATON_RELEASE_UNFINISHED);
        baton_journal_state_free(&st);
        close(fd);

        /* the next deploy needs no manual step */
        assert_int_equal(run_deploy(root, a30, "3.0", "d3"), 0);
        int fd2;
        assert_int_equal(baton_release_root_open(root, &fd2, err, sizeof(err)), 0);
        assert_int_equal(baton_release_current(fd2, v, sizeof(v)), 0);
        assert_string_equal(v, "3.0");
        assert_int_equal(baton_journal_read(fd2, &st, err, sizeof(err)), 0);
        assert_int_equal(st.recovery, BATON_RECOVER_NONE);
        baton_journal_state_free(&st);
        close(fd2);
        tmpdir_remove(dir);
    }
}

static void kill_points_exist_only_when_asked(void **state)
{
    /* without BATON_TEST_KILL_AT a full deploy runs through */
    char *dir = tmpdir_new();
    char root[PATH_MAX], a[PATH_MAX + 32];
    snprintf(root, sizeof(root), "%s/root", dir);
    snprintf(a, sizeof(a), "%s/app-1.0.tar.gz", dir);
    make_artifact(a, "1.0");
    unsetenv("BATON_TEST_KILL_AT");
    assert_int_equal(run_deploy(root, a, "1.0", "d"), 0);
    current_is_complete(root);
    tmpdir_remove(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(kill_points_exist_only_when_asked),
        cmocka_unit_test(killed_at_every_point),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
