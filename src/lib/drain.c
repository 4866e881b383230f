/* SPDX-License-Identifier: MIT */
/*
 * The drain helper: turns the stop signal into a flag and a readable file descriptor.
 *
 * The signal handler does only what is async-signal-safe: it sets a sig_atomic_t flag and
 * writes to an eventfd, so an application's poll/epoll/libuv loop wakes up and starts its drain
 * from ordinary code (nginx's ngx_signal_handler and libuv's signal pipe work the same way).
 */
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <unistd.h>
#include <sys/eventfd.h>

#include "baton/baton.h"
#include "internal.h"

static volatile sig_atomic_t drain_requested;

/*
 * The wake-up fd, shared by every signal installed. Atomic so that a handler running on
 * another thread sees either -1 or the finished fd, and so that two racing installs agree on
 * one fd; lock-free atomics are async-signal-safe.
 */
static atomic_int drain_fd = -1;

static void drain_handler(int signo)
{
    int saved_errno = errno; /* the interrupted code may be about to read errno */
    int fd = atomic_load(&drain_fd);

    drain_requested = 1;
    if (fd >= 0) {
        uint64_t one = 1;
        /* Non-blocking: if the counter is somehow full the fd is readable anyway. */
        ssize_t n = write(fd, &one, sizeof(one));
        (void)n;
    }
    errno = saved_errno;
}

/* Creates the shared wake-up fd once. Returns it or -errno. */
static int drain_fd_get(void)
{
    int fd = atomic_load(&drain_fd), expected = -1;

    if (fd >= 0)
        return fd;
    fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (fd < 0)
        return -errno;
    if (!atomic_compare_exchange_strong(&drain_fd, &expected, fd)) {
        close(fd); /* another thread won the race: use its fd */
        return expected;
    }
    return fd;
}

int baton_drain_install(int signo)
{
    struct sigaction sa = {0};
    sigset_t set;
    int fd, r;

    if (signo == 0)
        signo = SIGTERM;
    if (signo < 1 || signo >= NSIG || signo == SIGKILL || signo == SIGSTOP)
        return -EINVAL;

    fd = drain_fd_get();
    if (fd < 0)
        return fd;

    sa.sa_handler = drain_handler;
    /* SA_RESTART: the application learns of the stop from the fd, not from stray EINTRs. */
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    if (sigaction(signo, &sa, NULL) < 0)
        return -errno;

    /*
     * A blocked signal would never reach the handler, and a mask survives exec: a program
     * started by a careless parent with SIGTERM blocked could never drain. Unblock it in the
     * calling thread, the one expected to run the loop.
     */
    sigemptyset(&set);
    sigaddset(&set, signo);
    r = pthread_sigmask(SIG_UNBLOCK, &set, NULL);
    if (r != 0)
        return -r;
    return fd;
}

int baton_drain_requested(void)
{
    return drain_requested ? 1 : 0;
}
