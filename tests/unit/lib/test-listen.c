/* SPDX-License-Identifier: MIT */
/*
 * Socket hand-over: the LISTEN_* variables of systemd's protocol, read by the test process
 * itself with real sockets dup'ed onto fds 3 and 4.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "baton/baton.h"

static void set_env(const char *pid, const char *fds, const char *names)
{
    char buf[32];

    if (pid != NULL && strcmp(pid, "self") == 0) {
        snprintf(buf, sizeof(buf), "%d", (int)getpid());
        pid = buf;
    }
    if (pid != NULL)
        assert_int_equal(setenv("LISTEN_PID", pid, 1), 0);
    else
        unsetenv("LISTEN_PID");
    if (fds != NULL)
        assert_int_equal(setenv("LISTEN_FDS", fds, 1), 0);
    else
        unsetenv("LISTEN_FDS");
    if (names != NULL)
        assert_int_equal(setenv("LISTEN_FDNAMES", names, 1), 0);
    else
        unsetenv("LISTEN_FDNAMES");
}

/* Puts two real sockets on fds 3 and 4, inheritable (close-on-exec clear) as after exec. */
static int setup(void **state)
{
    for (int fd = 3; fd <= 4; fd++) {
        int s = socket(AF_INET, SOCK_STREAM, 0);

        assert_true(s >= 0);
        if (s != fd) {
            assert_int_equal(dup2(s, fd), fd);
            close(s);
        }
        assert_int_equal(fcntl(fd, F_SETFD, 0), 0);
    }
    close(5);
    return 0;
}

static int teardown(void **state)
{
    close(3);
    close(4);
    set_env(NULL, NULL, NULL);
    return 0;
}

static void test_count_and_cloexec(void **state)
{
    set_env("self", "2", "http:admin");
    assert_int_equal(baton_listen_fds(0), 2);
    assert_true(fcntl(3, F_GETFD) & FD_CLOEXEC);
    assert_true(fcntl(4, F_GETFD) & FD_CLOEXEC);
    /* Without unset_environment the variables stay. */
    assert_non_null(getenv("LISTEN_FDS"));
    assert_int_equal(baton_listen_fds(0), 2);
}

static void test_zero_and_unset(void **state)
{
    set_env(NULL, "2", NULL);
    assert_int_equal(baton_listen_fds(0), 0);
    set_env("self", NULL, NULL);
    assert_int_equal(baton_listen_fds(0), 0);
}

static void test_wrong_pid(void **state)
{
    char other[32];

    snprintf(other, sizeof(other), "%d", (int)getpid() + 1);
    set_env(other, "2", "http:admin");
    assert_int_equal(baton_listen_fds(0), 0);
    /* Meant for someone else: the fds are not touched. */
    assert_false(fcntl(3, F_GETFD) & FD_CLOEXEC);
    assert_int_equal(baton_listen_fd_by_name("http"), -ENOENT);
}

static void test_garbage(void **state)
{
    static const char *bad_fds[] = {
        "", "0", "abc", "2x", "-1", " 2", "+2", "2 ", "0x2", "1e3", "99999999999999999999999"};
    static const char *bad_pids[] = {"", "0", "12a", "-5", "99999999999999999999999"};

    for (size_t i = 0; i < sizeof(bad_fds) / sizeof(bad_fds[0]); i++) {
        set_env("self", bad_fds[i], NULL);
        if (baton_listen_fds(0) != -EINVAL)
            fail_msg("LISTEN_FDS='%s' was accepted", bad_fds[i]);
    }
    for (size_t i = 0; i < sizeof(bad_pids) / sizeof(bad_pids[0]); i++) {
        set_env(bad_pids[i], "2", NULL);
        if (baton_listen_fds(0) != -EINVAL)
            fail_msg("LISTEN_PID='%s' was accepted", bad_pids[i]);
    }
    /* More listeners than the fd table can hold is malformed, not a probe of 2^31 fds. */
    set_env("self", "2147483000", NULL);
    assert_int_equal(baton_listen_fds(0), -EINVAL);
    /* An announced fd that is not open: the environment lies. */
    set_env("self", "3", NULL);
    assert_int_equal(baton_listen_fds(0), -EBADF);
}

static void test_unset_environment(void **state)
{
    set_env("self", "2", "http:admin");
    assert_int_equal(baton_listen_fds(1), 2);
    assert_null(getenv("LISTEN_PID"));
    assert_null(getenv("LISTEN_FDS"));
    assert_null(getenv("LISTEN_FDNAMES"));
    assert_int_equal(baton_listen_fds(0), 0);

    /* Unset on failure too, so a broken environment is not passed on either. */
    set_env("self", "junk", "http");
    assert_int_equal(baton_listen_fds(1), -EINVAL);
    assert_null(getenv("LISTEN_FDS"));
    assert_null(getenv("LISTEN_FDNAMES"));
}

static void test_names(void **state)
{
    char buf[16];

    set_env("self", "2", "http:admin");
    assert_int_equal(baton_listen_fd_by_name("http"), 3);
    assert_int_equal(baton_listen_fd_by_name("admin"), 4);
    assert_int_equal(baton_listen_fd_by_name("htt"), -ENOENT);
    assert_int_equal(baton_listen_fd_by_name("https"), -ENOENT);
    assert_int_equal(baton_listen_fd_by_name("unknown"), -ENOENT);
    assert_int_equal(baton_listen_fd_by_name(NULL), -EINVAL);
    assert_int_equal(baton_listen_fd_by_name(""), -EINVAL);

    assert_int_equal(baton_listen_fd_name(3, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "http");
    assert_int_equal(baton_listen_fd_name(4, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "admin");
    assert_int_equal(baton_listen_fd_name(4, buf, 5), -ENOBUFS); /* "admin" + NUL needs 6 */
    assert_int_equal(baton_listen_fd_name(4, buf, 6), 0);
    assert_int_equal(baton_listen_fd_name(2, buf, sizeof(buf)), -ENOENT);
    assert_int_equal(baton_listen_fd_name(5, buf, sizeof(buf)), -ENOENT);
    assert_int_equal(baton_listen_fd_name(3, NULL, 0), -EINVAL);

    /* fd_by_name works without a prior baton_listen_fds() and marks the fds close-on-exec. */
    assert_int_equal(fcntl(3, F_SETFD, 0), 0);
    assert_int_equal(baton_listen_fd_by_name("admin"), 4);
    assert_true(fcntl(3, F_GETFD) & FD_CLOEXEC);
}

static void test_missing_names(void **state)
{
    char buf[16];

    set_env("self", "2", NULL);
    assert_int_equal(baton_listen_fd_name(3, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "unknown");
    assert_int_equal(baton_listen_fd_by_name("unknown"), 3);

    set_env("self", "2", "http");
    assert_int_equal(baton_listen_fd_name(4, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "unknown");
    assert_int_equal(baton_listen_fd_by_name("unknown"), 4);

    set_env("self", "2", ":admin");
    assert_int_equal(baton_listen_fd_name(3, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "unknown");
    assert_int_equal(baton_listen_fd_by_name("admin"), 4);
}

static void test_bad_names(void **state)
{
    char name[300], buf[300];

    set_env("self", "2", "a:b:c");
    assert_int_equal(baton_listen_fd_by_name("a"), -EINVAL);
    set_env("self", "2", "ht\ttp:admin");
    assert_int_equal(baton_listen_fd_by_name("admin"), -EINVAL);

    memset(name, 'x', 255);
    name[255] = '\0';
    set_env("self", "1", name);
    assert_int_equal(baton_listen_fd_by_name(name), 3);
    assert_int_equal(baton_listen_fd_name(3, buf, sizeof(buf)), 0);
    assert_string_equal(buf, name);
    name[255] = 'x';
    name[256] = '\0';
    set_env("self", "1", name);
    assert_int_equal(baton_listen_fd_name(3, buf, sizeof(buf)), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_count_and_cloexec, setup, teardown),
        cmocka_unit_test_setup_teardown(test_zero_and_unset, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_pid, setup, teardown),
        cmocka_unit_test_setup_teardown(test_garbage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unset_environment, setup, teardown),
        cmocka_unit_test_setup_teardown(test_names, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_names, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_names, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
