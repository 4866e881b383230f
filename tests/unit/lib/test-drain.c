/* SPDX-License-Identifier: MIT */
/*
 * The drain helper: a real signal raised in the test process wakes the fd and sets the flag.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "baton/baton.h"

static int readable(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};

    assert_true(poll(&p, 1, 0) >= 0);
    return (p.revents & POLLIN) != 0;
}

static void test_refuses_bad_signals(void **state)
{
    assert_int_equal(baton_drain_install(-1), -EINVAL);
    assert_int_equal(baton_drain_install(SIGKILL), -EINVAL);
    assert_int_equal(baton_drain_install(SIGSTOP), -EINVAL);
    assert_int_equal(baton_drain_install(NSIG), -EINVAL);
    assert_int_equal(baton_drain_requested(), 0);
}

static void test_drain(void **state)
{
    sigset_t set, old;
    uint64_t value;
    int fd, flags;

    /* A blocked stop signal (inherited from a careless parent) is unblocked by install. */
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    assert_int_equal(sigprocmask(SIG_BLOCK, &set, NULL), 0);

    fd = baton_drain_install(0);
    assert_true(fd >= 0);
    assert_int_equal(sigprocmask(SIG_SETMASK, NULL, &old), 0);
    assert_false(sigismember(&old, SIGTERM));
    assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    flags = fcntl(fd, F_GETFL);
    assert_true(flags & O_NONBLOCK);
    assert_false(readable(fd));
    assert_int_equal(baton_drain_requested(), 0);

    /* Installing again, for SIGTERM or another signal, gives the same fd. */
    assert_int_equal(baton_drain_install(SIGTERM), fd);
    assert_int_equal(baton_drain_install(SIGUSR1), fd);

    assert_int_equal(raise(SIGTERM), 0);
    assert_true(readable(fd));
    assert_int_equal(baton_drain_requested(), 1);
    assert_int_equal(read(fd, &value, sizeof(value)), (ssize_t)sizeof(value));
    assert_int_equal(value, 1);
    assert_false(readable(fd));
    assert_int_equal(baton_drain_requested(), 1); /* the flag stays set */

    /*
     * The handler preserves errno even when its own write fails: fill the eventfd counter so
     * the handler's write gets EAGAIN, then check the interrupted code's errno survived.
     */
    value = UINT64_MAX - 1;
    assert_int_equal(write(fd, &value, sizeof(value)), (ssize_t)sizeof(value));
    errno = EDOM;
    raise(SIGUSR1);
    assert_int_equal(errno, EDOM);
    assert_true(readable(fd));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_refuses_bad_signals),
        cmocka_unit_test(test_drain),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
