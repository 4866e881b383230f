/* SPDX-License-Identifier: MIT */
/* The deploy lock: one holder, a busy message naming it, never stale after kill -9. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <signal.h>
#include <sys/wait.h>

#include "helpers.h"

static void busy_names_the_holder(void **state)
{
    char *dir = tmpdir_new();
    int root, fd, fd2;
    char err[256];
    assert_int_equal(baton_release_root_open(dir, &root, err, sizeof(err)), 0);
    assert_int_equal(baton_deploy_lock(root, "deploy of 1.4.0", false, &fd, err, sizeof(err)), 0);
    /* flock locks belong to the open file description: a second open conflicts */
    assert_int_equal(baton_deploy_lock(root, "deploy of 1.5.0", false, &fd2, err, sizeof(err)),
                     -EBUSY);
    char want[64];
    snprintf(want, sizeof(want), "busy: deploy of 1.4.0 (pid %ld) since 20", (long)getpid());
    if (strncmp(err, want, strlen(want)))
        fail_msg("%s", err);
    assert_int_equal(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
    baton_deploy_unlock(fd);
    assert_int_equal(baton_deploy_lock(root, "rollback to 1.3.0", false, &fd2, err, sizeof(err)),
                     0);
    baton_deploy_unlock(fd2);
    close(root);
    tmpdir_remove(dir);
}

static void killed_holder_leaves_no_stale_lock(void **state)
{
    char *dir = tmpdir_new();
    int root, fd;
    char err[256];
    assert_int_equal(baton_release_root_open(dir, &root, err, sizeof(err)), 0);
    int ready[2];
    assert_int_equal(pipe(ready), 0);
    pid_t pid = fork();
    if (pid == 0) {
        int lfd;
        if (baton_deploy_lock(root, "deploy of 2.0", false, &lfd, NULL, 0) < 0)
            _exit(1);
        (void)!write(ready[1], "x", 1);
        for (;;)
            pause();
    }
    char c;
    assert_int_equal(read(ready[0], &c, 1), 1);
    assert_int_equal(baton_deploy_lock(root, "deploy of 3.0", false, &fd, err, sizeof(err)),
                     -EBUSY);
    assert_non_null(strstr(err, "busy: deploy of 2.0 (pid"));
    kill(pid, SIGKILL);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    /* the kernel dropped the lock with the process: the next deploy starts at once */
    assert_int_equal(baton_deploy_lock(root, "deploy of 3.0", false, &fd, err, sizeof(err)), 0);
    baton_deploy_unlock(fd);
    close(ready[0]);
    close(ready[1]);
    close(root);
    tmpdir_remove(dir);
}

static void wait_blocks_until_released(void **state)
{
    char *dir = tmpdir_new();
    int root, fd;
    char err[256];
    assert_int_equal(baton_release_root_open(dir, &root, err, sizeof(err)), 0);
    int ready[2], go[2];
    assert_int_equal(pipe(ready), 0);
    assert_int_equal(pipe(go), 0);
    pid_t pid = fork();
    if (pid == 0) {
        int lfd;
        if (baton_deploy_lock(root, "deploy of 2.0", false, &lfd, NULL, 0) < 0)
            _exit(1);
        (void)!write(ready[1], "x", 1);
        char b;
        (void)!read(go[0], &b, 1);
        baton_deploy_unlock(lfd);
        _exit(0);
    }
    char c;
    assert_int_equal(read(ready[0], &c, 1), 1);
    assert_int_equal(write(go[1], "x", 1), 1);
    assert_int_equal(baton_deploy_lock(root, "deploy of 3.0", true, &fd, err, sizeof(err)), 0);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    baton_deploy_unlock(fd);
    close(root);
    tmpdir_remove(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(busy_names_the_holder),
        cmocka_unit_test(killed_holder_leaves_no_stale_lock),
        cmocka_unit_test(wait_blocks_until_released),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
