/* SPDX-License-Identifier: MIT */
/* The journal: fsynced CRC-checked lines, torn tails cut off, the release list and the recovery
 * decision rebuilt from it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "helpers.h"

struct fx {
    char *dir;
    int root;
    struct baton_journal *j;
    char path[PATH_MAX + 32];
    char err[256];
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    f->dir = tmpdir_new();
    assert_int_equal(baton_release_root_open(f->dir, &f->root, f->err, sizeof(f->err)), 0);
    assert_int_equal(baton_journal_open(f->root, &f->j, f->err, sizeof(f->err)), 0);
    snprintf(f->path, sizeof(f->path), "%s/.baton/journal.jsonl", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    baton_journal_close(f->j);
    close(f->root);
    tmpdir_remove(f->dir);
    free(f);
    return 0;
}

static void rec(struct fx *f, const char *deploy, enum baton_journal_step step, const char *version,
                const char *from, const char *extra)
{
    struct baton_journal_record r = {.step = step};
    snprintf(r.deploy, sizeof(r.deploy), "%s", deploy);
    snprintf(r.version, sizeof(r.version), "%s", version ? version : "");
    snprintf(r.from, sizeof(r.from), "%s", from ? from : "");
    if (step == BATON_STEP_BEGIN)
        strcpy(r.kind, "deploy");
    if (step == BATON_STEP_VERIFIED) {
        memset(r.sha256, 'a', 64);
        strcpy(r.key_id, "5391C15C4535878B");
    }
    if (step == BATON_STEP_COMMITTED)
        snprintf(r.verdict, sizeof(r.verdict), "%s", extra ? extra : "ok");
    if (step == BATON_STEP_FAILED && extra)
        snprintf(r.reason, sizeof(r.reason), "%s", extra);
    assert_int_equal(baton_journal_append(f->j, &r, f->err, sizeof(f->err)), 0);
}

/* A whole deploy of v from `from`, through DONE. */
static void deploy(struct fx *f, const char *id, const char *v, const char *from)
{
    rec(f, id, BATON_STEP_BEGIN, v, from, NULL);
    rec(f, id, BATON_STEP_VERIFIED, v, from, NULL);
    rec(f, id, BATON_STEP_INSTALLED, v, from, NULL);
    rec(f, id, BATON_STEP_SWITCHED, v, from, NULL);
    rec(f, id, BATON_STEP_PROBATION, v, from, NULL);
    rec(f, id, BATON_STEP_COMMITTED, v, from, NULL);
    rec(f, id, BATON_STEP_DONE, v, from, NULL);
}

static void read_state(struct fx *f, struct baton_journal_state *st)
{
    assert_int_equal(baton_journal_read(f->root, st, f->err, sizeof(f->err)), 0);
}

static void rebuilds_releases(void **state)
{
    struct fx *f = *state;
    deploy(f, "d1", "1.0", NULL);
    deploy(f, "d2", "1.1", "1.0");
    struct baton_journal_state st;
    read_state(f, &st);
    assert_int_equal(st.records, 14);
    assert_int_equal(st.bad_lines, 0);
    assert_int_equal(st.n_releases, 2);
    assert_string_equal(st.current, "1.1");
    assert_string_equal(st.previous, "1.0");
    assert_int_equal(st.recovery, BATON_RECOVER_NONE);
    const struct baton_release_info *r = baton_journal_state_find(&st, "1.1");
    assert_non_null(r);
    assert_int_equal(r->state, BATON_RELEASE_COMMITTED);
    assert_string_equal(r->verdict, "ok");
    assert_string_equal(r->key_id, "5391C15C4535878B");
    assert_int_equal(strlen(r->sha256), 64);
    assert_true(r->installed_at > 1600000000000LL);
    assert_int_equal(st.last.seq, 14);
    assert_int_equal(st.last.step, BATON_STEP_DONE);
    baton_journal_state_free(&st);
}

static void lines_are_json_with_crc(void **state)
{
    struct fx *f = *state;
    rec(f, "d1", BATON_STEP_BEGIN, "1.0", NULL, NULL);
    rec(f, "d1", BATON_STEP_FAILED, "1.0", NULL, "said \"no\"\nthen exited");
    char *text = read_text(f->path);
    char *second = strchr(text, '\n') + 1;
    assert_true(!strncmp(text, "{\"seq\":1,\"deploy\":\"d1\",\"ts\":", 28));
    assert_non_null(strstr(text, "\"step\":\"begin\",\"kind\":\"deploy\",\"version\":\"1.0\""));
    assert_non_null(strstr(second, "\"reason\":\"said \\\"no\\\"\\nthen exited\",\"crc\":\""));
    /* the CRC covers the line up to ,"crc" */
    char *crc = strstr(text, ",\"crc\":\"");
    char want[16];
    snprintf(want, sizeof(want), "%08x", baton__crc32(text, (size_t)(crc - text)));
    assert_memory_equal(crc + 8, want, 8);
    free(text);
    struct baton_journal_state st;
    read_state(f, &st);
    assert_string_equal(st.last.reason, "said \"no\"\nthen exited");
    baton_journal_state_free(&st);
}

static void cuts_a_torn_last_line(void **state)
{
    struct fx *f = *state;
    deploy(f, "d1", "1.0", NULL);
    rec(f, "d2", BATON_STEP_BEGIN, "1.1", "1.0", NULL);
    struct stat sb;
    assert_int_equal(stat(f->path, &sb), 0);
    off_t good = sb.st_size;
    /* a write cut short by a crash */
    int fd = open(f->path, O_WRONLY | O_APPEND);
    assert_int_equal(write(fd, "{\"seq\":9,\"deploy\":\"d2\",\"ts\":1,\"st", 34), 34);
    close(fd);
    struct baton_journal_state st;
    read_state(f, &st);
    assert_int_equal(st.records, 8);
    assert_int_equal(st.bad_lines, 1);
    assert_int_equal(st.good_len, (size_t)good);
    assert_int_equal(st.recovery, BATON_RECOVER_REMOVE_TEMP);
    baton_journal_state_free(&st);
    baton_journal_close(f->j);
    assert_int_equal(baton_journal_open(f->root, &f->j, f->err, sizeof(f->err)), 0);
    assert_int_equal(stat(f->path, &sb), 0);
    assert_int_equal(sb.st_size, good);
    rec(f, "d2", BATON_STEP_FAILED, "1.1", NULL, "interrupted before install");
    read_state(f, &st);
    assert_int_equal(st.records, 9);
    assert_int_equal(st.last.seq, 9);
    assert_int_equal(st.bad_lines, 0);
    assert_int_equal(st.recovery, BATON_RECOVER_NONE);
    baton_journal_state_free(&st);
}

static void cuts_a_last_line_with_a_bad_crc(void **state)
{
    struct fx *f = *state;
    deploy(f, "d1", "1.0", NULL);
    rec(f, "d2", BATON_STEP_BEGIN, "1.1", "1.0", NULL);
    char *text = read_text(f->path);
    size_t n = strlen(text);
    text[n - 20] ^= 1; /* a flipped bit inside the last line */
    assert_int_equal(write_file(f->path, text, n), 0);
    free(text);
    struct baton_journal_state st;
    read_state(f, &st);
    assert_int_equal(st.records, 7);
    assert_int_equal(st.bad_lines, 1);
    assert_int_equal(st.recovery, BATON_RECOVER_NONE);
    baton_journal_state_free(&st);
}

static void skips_a_corrupt_middle_line(void **state)
{
    struct fx *f = *state;
    rec(f, "d1", BATON_STEP_BEGIN, "1.0", NULL, NULL);
    rec(f, "d1", BATON_STEP_INSTALLED, "1.0", NULL, NULL);
    rec(f, "d1", BATON_STEP_SWITCHED, "1.0", NULL, NULL);
    char *text = read_text(f->path);
    char *second = strchr(text, '\n') + 1;
    second[5] = 'X';
    assert_int_equal(write_file(f->path, text, strlen(text)), 0);
    free(text);
    struct baton_journal_state st;
    read_state(f, &st);
    assert_int_equal(st.records, 2);
    assert_int_equal(st.bad_lines, 1);
    assert_int_equal(st.n_releases, 0); /* the install record was the bad one */
    assert_string_equal(st.current, "1.0");
    baton_journal_state_free(&st);
}

static void refuses_seq_going_back(void **state)
{
    struct fx *f = *state;
    rec(f, "d1", BATON_STEP_BEGIN, "1.0", NULL, NULL);
    rec(f, "d1", BATON_STEP_INSTALLED, "1.0", NULL, NULL);
    char *text = read_text(f->path);
    char both[8192];
    snprintf(both, sizeof(both), "%s%s", text, text); /* lines 1,2 replayed as 3,4 */
    assert_int_equal(write_file(f->path, both, strlen(both)), 0);
    free(text);
    struct baton_journal_state st;
    read_state(f, &st);
    assert_int_equal(st.records, 2);
    assert_int_equal(st.bad_lines, 2);
    baton_journal_state_free(&st);
}

static void failed_deploy_goes_back(void **state)
{
    struct fx *f = *state;
    deploy(f, "d1", "1.0", NULL);
    rec(f, "d2", BATON_STEP_BEGIN, "1.1", "1.0", NULL);
    rec(f, "d2", BATON_STEP_INSTALLED, "1.1", "1.0", NULL);
    rec(f, "d2", BATON_STEP_SWITCHED, "1.1", "1.0", NULL);
    rec(f, "d2", BATON_STEP_FAILED, "1.1", "1.0", "worker exited with status 3 in probation");
    struct baton_journal_state st;
    read_state(f, &st);
    assert_string_equal(st.current, "1.0");
    const struct baton_release_info *r = baton_journal_state_find(&st, "1.1");
    assert_int_equal(r->state, BATON_RELEASE_FAILED);
    assert_string_equal(r->reason, "worker exited with status 3 in probation");
    assert_string_equal(r->verdict, "failed");
    assert_int_equal(st.recovery, BATON_RECOVER_NONE);
    baton_journal_state_free(&st);
}

static void pruned_releases_leave_the_list(void **state)
{
    struct fx *f = *state;
    deploy(f, "d1", "1.0", NULL);
    deploy(f, "d2", "1.1", "1.0");
    deploy(f, "d3", "1.2", "1.1");
    rec(f, "d3", BATON_STEP_PRUNED, "1.0", NULL, NULL);
    struct baton_journal_state st;
    read_state(f, &st);
    assert_int_equal(st.n_releases, 2);
    assert_null(baton_journal_state_find(&st, "1.0"));
    assert_int_equal(st.recovery, BATON_RECOVER_PRUNE); /* pruning not marked done */
    baton_journal_state_free(&st);
}

static void recovery_follows_the_last_record(void **state)
{
    static const enum baton_journal_step order[] = {
        BATON_STEP_BEGIN,     BATON_STEP_VERIFIED,  BATON_STEP_INSTALLED, BATON_STEP_SWITCHED,
        BATON_STEP_PROBATION, BATON_STEP_COMMITTED, BATON_STEP_PRUNED,    BATON_STEP_DONE,
    };
    static const enum baton_recovery want[] = {
        BATON_RECOVER_REMOVE_TEMP, BATON_RECOVER_REMOVE_TEMP, BATON_RECOVER_MARK_UNFINISHED,
        BATON_RECOVER_SWITCH_BACK, BATON_RECOVER_SWITCH_BACK, BATON_RECOVER_PRUNE,
        BATON_RECOVER_PRUNE,       BATON_RECOVER_NONE,
    };
    for (int first = 0; first < 2; first++) {
        for (size_t k = 0; k < 8; k++) {
            struct fx *f = NULL;
            void *s = NULL;
            setup(&s);
            f = s;
            if (!first)
                deploy(f, "d1", "1.0", NULL);
            for (size_t i = 0; i <= k; i++)
                rec(f, "d2", order[i], order[i] == BATON_STEP_PRUNED ? "0.9" : "1.1",
                    first ? NULL : "1.0", NULL);
            struct baton_journal_state st;
            read_state(f, &st);
            enum baton_recovery w = want[k];
            if (first && w == BATON_RECOVER_SWITCH_BACK)
                w = BATON_RECOVER_RESTART_PROBATION; /* nothing to go back to */
            if (st.recovery != w)
                fail_msg("after %s (first=%d): %s, want %s", baton_journal_step_name(order[k]),
                         first, baton_recovery_name(st.recovery), baton_recovery_name(w));
            if (k == 2) {
                const struct baton_release_info *r = baton_journal_state_find(&st, "1.1");
                assert_int_equal(r->state, BATON_RELEASE_UNFINISHED);
            }
            baton_journal_state_free(&st);
            teardown(&s);
        }
    }
}

static void missing_journal_is_empty(void **state)
{
    char *dir = tmpdir_new();
    int root;
    char err[64];
    assert_int_equal(baton_release_root_open(dir, &root, err, sizeof(err)), 0);
    struct baton_journal_state st;
    assert_int_equal(baton_journal_read(root, &st, err, sizeof(err)), 0);
    assert_int_equal(st.records, 0);
    assert_int_equal(st.recovery, BATON_RECOVER_NONE);
    baton_journal_state_free(&st);
    close(root);
    tmpdir_remove(dir);
}

static void retention_from_the_journal(void **state)
{
    /* 10 failed deploys, then a good one: the previous committed release survives retention */
    struct fx *f = *state;
    deploy(f, "d0", "1.0", NULL);
    for (int i = 0; i < 10; i++) {
        char id[16], v[16];
        snprintf(id, sizeof(id), "f%d", i);
        snprintf(v, sizeof(v), "1.1.%d", i);
        rec(f, id, BATON_STEP_BEGIN, v, "1.0", NULL);
        rec(f, id, BATON_STEP_INSTALLED, v, "1.0", NULL);
        rec(f, id, BATON_STEP_SWITCHED, v, "1.0", NULL);
        rec(f, id, BATON_STEP_FAILED, v, "1.0", "crashed after ready");
    }
    deploy(f, "d1", "1.2", "1.0");
    struct baton_journal_state st;
    read_state(f, &st);
    assert_int_equal(st.n_releases, 12);
    bool prune[12];
    assert_int_equal(
        baton_release_plan_prune(st.releases, st.n_releases, st.current, st.previous, 0, prune),
        10);
    for (size_t i = 0; i < st.n_releases; i++)
        assert_int_equal(prune[i], st.releases[i].state == BATON_RELEASE_FAILED);
    assert_string_equal(st.previous, "1.0");
    baton_journal_state_free(&st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
        T(rebuilds_releases),
        T(lines_are_json_with_crc),
        T(cuts_a_torn_last_line),
        T(cuts_a_last_line_with_a_bad_crc),
        T(skips_a_corrupt_middle_line),
        T(refuses_seq_going_back),
        T(failed_deploy_goes_back),
        T(pruned_releases_leave_the_list),
        cmocka_unit_test(recovery_follows_the_last_record),
        cmocka_unit_test(missing_journal_is_empty),
        T(retention_from_the_journal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
