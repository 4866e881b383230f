/* SPDX-License-Identifier: MIT */
/* The file-descriptor helpers: flag toggles, closep, and the write-all/read-all loops over short
 * transfers, EOF, a closed peer and interrupted system calls. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/fd.h"

static void cloexec_and_nonblock_toggle(void **state)
{
    int p[2];
    assert_int_equal(pipe(p), 0);
    assert_false(fcntl(p[0], F_GETFD) & FD_CLOEXEC);
    assert_int_equal(baton__fd_cloexec(p[0], true), 0);
    assert_true(fcntl(p[0], F_GETFD) & FD_CLOEXEC);
    assert_int_equal(baton__fd_cloexec(p[0], true), 0); /* already set: unchanged */
    assert_true(fcntl(p[0], F_GETFD) & FD_CLOEXEC);
    assert_int_equal(baton__fd_cloexec(p[0], false), 0);
    assert_false(fcntl(p[0], F_GETFD) & FD_CLOEXEC);

    assert_false(fcntl(p[1], F_GETFL) & O_NONBLOCK);
    assert_int_equal(baton__fd_nonblock(p[1], true), 0);
    assert_true(fcntl(p[1], F_GETFL) & O_NONBLOCK);
    assert_int_equal(baton__fd_nonblock(p[1], false), 0);
    assert_false(fcntl(p[1], F_GETFL) & O_NONBLOCK);
    close(p[0]);
    close(p[1]);

    /* A closed descriptor: -EBADF from both. */
    assert_int_equal(baton__fd_cloexec(p[0], true), -EBADF);
    assert_int_equal(baton__fd_nonblock(p[0], true), -EBADF);
}

static void closep_closes_once_and_keeps_errno(void **state)
{
    int p[2];
    assert_int_equal(pipe(p), 0);
    int fd = p[0];
    errno = ENOSPC;
    baton__fd_closep(&fd);
    assert_int_equal(fd, -1);
    assert_int_equal(errno, ENOSPC);
    assert_int_equal(fcntl(p[0], F_GETFD), -1); /* really closed */
    baton__fd_closep(&fd);                      /* -1: nothing to do */
    assert_int_equal(fd, -1);
    assert_int_equal(errno, EBADF); /* from the fcntl above, untouched by closep */
    close(p[1]);
}

struct drain {
    int fd;
    size_t got;
    unsigned char *data;
    size_t size;
};

/* Reads the pipe in small pieces so that the writer sees short writes. */
static void *drain_pipe(void *arg)
{
    struct drain *d = arg;
    ssize_t r;
    while (d->got < d->size && (r = read(d->fd, d->data + d->got, 1000)) > 0)
        d->got += (size_t)r;
    return NULL;
}

static void write_all_survives_short_writes(void **state)
{
    enum { SIZE = 1 << 20 }; /* 16 times a pipe's default capacity */
    int p[2];
    unsigned char *out = malloc(SIZE);
    struct drain d = {.size = SIZE, .data = malloc(SIZE)};
    pthread_t t;

    assert_int_equal(pipe(p), 0);
    for (size_t i = 0; i < SIZE; i++)
        out[i] = (unsigned char)(i * 7 + i / 251);
    d.fd = p[0];
    assert_int_equal(pthread_create(&t, NULL, drain_pipe, &d), 0);
    assert_int_equal(baton__fd_write_all(p[1], out, SIZE), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(d.got, SIZE);
    assert_memory_equal(d.data, out, SIZE);
    assert_int_equal(baton__fd_write_all(p[1], out, 0), 0);
    close(p[0]);

    /* The reader is gone: -EPIPE (SIGPIPE ignored, as the programs do). */
    signal(SIGPIPE, SIG_IGN);
    assert_int_equal(baton__fd_write_all(p[1], "x", 1), -EPIPE);
    close(p[1]);
    assert_int_equal(baton__fd_write_all(p[1], "x", 1), -EBADF);
    free(out);
    free(d.data);
}

static void read_all_stops_at_n_or_eof(void **state)
{
    int p[2];
    char buf[16];

    assert_int_equal(pipe(p), 0);
    assert_int_equal(write(p[1], "0123456789", 10), 10);
    assert_int_equal(baton__fd_read_all(p[0], buf, 4), 4); /* n first: the rest stays */
    assert_memory_equal(buf, "0123", 4);
    close(p[1]);
    assert_int_equal(baton__fd_read_all(p[0], buf, sizeof(buf)), 6); /* then EOF */
    assert_memory_equal(buf, "456789", 6);
    assert_int_equal(baton__fd_read_all(p[0], buf, sizeof(buf)), 0);
    close(p[0]);
    assert_int_equal(baton__fd_read_all(p[0], buf, sizeof(buf)), -EBADF);
}

static atomic_int interrupts;

static void on_alarm(int sig)
{
    (void)sig;
    atomic_fetch_add(&interrupts, 1);
}

/* Writes once the reader has been interrupted twice: the signal is blocked in this thread, so
 * it lands in the reader blocked in read(). */
static void *write_after_interrupts(void *arg)
{
    int fd = *(int *)arg;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGALRM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    while (atomic_load(&interrupts) < 2)
        sched_yield();
    ssize_t w = write(fd, "late", 4);
    (void)w;
    close(fd);
    return NULL;
}

static void read_all_retries_after_eintr(void **state)
{
    int p[2];
    char buf[8];
    pthread_t t;
    struct sigaction sa = {.sa_handler = on_alarm}; /* no SA_RESTART: read() fails with EINTR */
    struct itimerval every_5ms = {{0, 5000}, {0, 5000}}, off = {{0, 0}, {0, 0}};

    assert_int_equal(pipe(p), 0);
    assert_int_equal(sigaction(SIGALRM, &sa, NULL), 0);
    atomic_store(&interrupts, 0);
    assert_int_equal(setitimer(ITIMER_REAL, &every_5ms, NULL), 0);
    assert_int_equal(pthread_create(&t, NULL, write_after_interrupts, &p[1]), 0);
    ssize_t n = baton__fd_read_all(p[0], buf, sizeof(buf));
    assert_int_equal(setitimer(ITIMER_REAL, &off, NULL), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_true(atomic_load(&interrupts) >= 2);
    assert_int_equal(n, 4);
    assert_memory_equal(buf, "late", 4);
    close(p[0]);
    signal(SIGALRM, SIG_DFL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(cloexec_and_nonblock_toggle),
        cmocka_unit_test(closep_closes_once_and_keeps_errno),
        cmocka_unit_test(write_all_survives_short_writes),
        cmocka_unit_test(read_all_stops_at_n_or_eof),
        cmocka_unit_test(read_all_retries_after_eintr),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
