/* SPDX-License-Identifier: MIT */
/*
 * The notify protocol against real datagram sockets bound by the test: a path and an abstract
 * name, with the sender's credentials checked as a supervisor would check them.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <sys/stat.h>

#include "baton/baton.h"
#include "lib/internal.h"

struct receiver {
    int fd;
    char dir[64];
    char env[128]; /* the NOTIFY_SOCKET value naming it */
};

static struct receiver rx;

/* Binds a datagram socket with SO_PASSCRED, at a path or (abstract) at "@name". */
static void receiver_open(int abstract)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    socklen_t len;
    int one = 1;

    rx.fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_true(rx.fd >= 0);
    assert_int_equal(setsockopt(rx.fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)), 0);
    if (abstract) {
        snprintf(rx.env, sizeof(rx.env), "@baton-test-notify-%d-%ld", (int)getpid(),
                 (long)time(NULL));
        memcpy(addr.sun_path + 1, rx.env + 1, strlen(rx.env) - 1);
        len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(rx.env));
    } else {
        strcpy(rx.dir, "/tmp/baton-test-notify-XXXXXX");
        assert_non_null(mkdtemp(rx.dir));
        snprintf(rx.env, sizeof(rx.env), "%s/notify", rx.dir);
        strcpy(addr.sun_path, rx.env);
        len = sizeof(addr);
    }
    assert_int_equal(bind(rx.fd, (struct sockaddr *)&addr, len), 0);
    assert_int_equal(setenv("NOTIFY_SOCKET", rx.env, 1), 0);
}

static void receiver_close(void)
{
    close(rx.fd);
    if (rx.dir[0] != '\0') {
        unlink(rx.env);
        rmdir(rx.dir);
    }
    memset(&rx, 0, sizeof(rx));
    unsetenv("NOTIFY_SOCKET");
}

/* Receives one datagram (non-blocking: it was sent before) and checks who sent it. */
static void expect_message(const char *want)
{
    char buf[8192];
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(struct ucred))];
    } control;
    struct iovec iov = {buf, sizeof(buf) - 1};
    struct msghdr msg = {.msg_iov = &iov,
                         .msg_iovlen = 1,
                         .msg_control = control.buf,
                         .msg_controllen = sizeof(control.buf)};
    struct cmsghdr *c;
    struct ucred cred;
    ssize_t n;

    n = recvmsg(rx.fd, &msg, MSG_DONTWAIT);
    assert_true(n >= 0);
    buf[n] = '\0';
    assert_string_equal(buf, want);
    c = CMSG_FIRSTHDR(&msg);
    assert_non_null(c);
    assert_int_equal(c->cmsg_type, SCM_CREDENTIALS);
    memcpy(&cred, CMSG_DATA(c), sizeof(cred));
    assert_int_equal(cred.pid, getpid());
}

static void expect_nothing(void)
{
    char buf[16];

    assert_int_equal(recv(rx.fd, buf, sizeof(buf), MSG_DONTWAIT), -1);
    assert_int_equal(errno, EAGAIN);
}

static int open_path(void **state)
{
    receiver_open(0);
    return 0;
}

static int open_abstract(void **state)
{
    receiver_open(1);
    return 0;
}

static int close_receiver(void **state)
{
    receiver_close();
    return 0;
}

static void test_messages(void **state)
{
    char big[3000];

    assert_int_equal(baton_notify("READY=1"), 1);
    expect_message("READY=1");
    assert_int_equal(baton_notify("READY=1\nSTATUS=serving"), 1);
    expect_message("READY=1\nSTATUS=serving");
    assert_int_equal(baton_notify_ready(), 1);
    expect_message("READY=1");
    assert_int_equal(baton_notify_stopping(), 1);
    expect_message("STOPPING=1");
    assert_int_equal(baton_notifyf("BATON_STATS=requests=%d errors=%d", 12, 0), 1);
    expect_message("BATON_STATS=requests=12 errors=0");
    assert_int_equal(baton_notify_status("%d connections", 3), 1);
    expect_message("STATUS=3 connections");
    /* A status cannot smuggle in other assignments. */
    assert_int_equal(baton_notify_status("broken\nREADY=1"), 1);
    expect_message("STATUS=broken READY=1");

    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    memcpy(big, "STATUS=", 7);
    assert_int_equal(baton_notify(big), 1);
    expect_message(big);
    expect_nothing();
}

static void test_reloading(void **state)
{
    char buf[128];
    unsigned long long usec, now;
    struct timespec ts;
    ssize_t n;

    assert_int_equal(baton_notify_reloading(), 1);
    clock_gettime(CLOCK_MONOTONIC, &ts);
    now = (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000;
    n = recv(rx.fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
    assert_true(n > 0);
    buf[n] = '\0';
    assert_int_equal(sscanf(buf, "RELOADING=1\nMONOTONIC_USEC=%llu", &usec), 1);
    assert_true(usec <= now && now - usec < 5000000ULL);
}

static void test_refused_arguments(void **state)
{
    char huge[5000];

    assert_int_equal(baton_notify(NULL), -EINVAL);
    assert_int_equal(baton_notify(""), -EINVAL);
    memset(huge, 'x', sizeof(huge) - 1);
    huge[sizeof(huge) - 1] = '\0';
    assert_int_equal(baton_notify_status("%s", huge), -EMSGSIZE);
    expect_nothing();
}

static void test_unset(void **state)
{
    unsetenv("NOTIFY_SOCKET");
    assert_int_equal(baton_notify_ready(), 0);
    assert_int_equal(baton_notify_status("x"), 0);
    setenv("NOTIFY_SOCKET", "", 1);
    assert_int_equal(baton_notify_ready(), 0);
    unsetenv("NOTIFY_SOCKET");
}

static void test_bad_addresses(void **state)
{
    char dir[] = "/tmp/baton-test-notify-XXXXXX", path[128], longname[200];
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    int fd;

    assert_non_null(mkdtemp(dir));

    snprintf(path, sizeof(path), "%s/missing", dir);
    setenv("NOTIFY_SOCKET", path, 1);
    assert_int_equal(baton_notify_ready(), -ENOENT);

    /* A socket file whose owner is gone: the kernel refuses the datagram. */
    snprintf(path, sizeof(path), "%s/gone", dir);
    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    strcpy(addr.sun_path, path);
    assert_int_equal(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
    close(fd);
    setenv("NOTIFY_SOCKET", path, 1);
    assert_int_equal(baton_notify_ready(), -ECONNREFUSED);
    unlink(path);

    setenv("NOTIFY_SOCKET", "@baton-test-nobody-listens-here", 1);
    assert_int_equal(baton_notify_ready(), -ECONNREFUSED);
    setenv("NOTIFY_SOCKET", "@", 1);
    assert_int_equal(baton_notify_ready(), -EINVAL);
    setenv("NOTIFY_SOCKET", "relative/notify", 1);
    assert_int_equal(baton_notify_ready(), -EAFNOSUPPORT);
    setenv("NOTIFY_SOCKET", "vsock:2:1234", 1);
    assert_int_equal(baton_notify_ready(), -EAFNOSUPPORT);
    longname[0] = '/';
    memset(longname + 1, 'x', sizeof(longname) - 2);
    longname[sizeof(longname) - 1] = '\0';
    setenv("NOTIFY_SOCKET", longname, 1);
    assert_int_equal(baton_notify_ready(), -ENAMETOOLONG);

    unsetenv("NOTIFY_SOCKET");
    rmdir(dir);
}

/* FDSTORE=1: the fds travel with the message (the supervisor's side of systemd's fd store). */
static void test_send_with_fds(void **state)
{
    char buf[256];
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(int) * 2) + CMSG_SPACE(sizeof(struct ucred))];
    } control;
    struct iovec iov = {buf, sizeof(buf) - 1};
    struct msghdr msg = {.msg_iov = &iov,
                         .msg_iovlen = 1,
                         .msg_control = control.buf,
                         .msg_controllen = sizeof(control.buf)};
    int p[2], got[2] = {-1, -1}, n_got = 0;
    struct stat want, have;

    assert_int_equal(pipe(p), 0);
    assert_int_equal(baton__notify_send(rx.env, "FDSTORE=1\nFDNAME=http", p, 2), 1);
    ssize_t n = recvmsg(rx.fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    assert_true(n > 0);
    buf[n] = '\0';
    assert_string_equal(buf, "FDSTORE=1\nFDNAME=http");
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
            n_got = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
            memcpy(got, CMSG_DATA(c), sizeof(int) * (size_t)n_got);
        }
    }
    assert_int_equal(n_got, 2);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(fstat(p[i], &want), 0);
        assert_int_equal(fstat(got[i], &have), 0);
        assert_int_equal(want.st_ino, have.st_ino); /* the same pipe end, not a copy of data */
        close(got[i]);
    }
    /* No name: not supervised. Too many fds, a bad fd: refused before anything is sent. */
    assert_int_equal(baton__notify_send(NULL, "READY=1", NULL, 0), 0);
    int many[BATON__NOTIFY_MAX_FDS + 1];
    for (int i = 0; i <= BATON__NOTIFY_MAX_FDS; i++)
        many[i] = p[0];
    assert_int_equal(baton__notify_send(rx.env, "FDSTORE=1", many, BATON__NOTIFY_MAX_FDS + 1),
                     -EINVAL);
    int bad = -1;
    assert_int_equal(baton__notify_send(rx.env, "FDSTORE=1", &bad, 1), -EBADF);
    expect_nothing();
    close(p[0]);
    close(p[1]);
}

/* A receiver that stopped reading: baton__notify_try() gives up at once where baton_notify()
 * would wait out its send timeout. Whatever was queued is intact, and room makes it send again. */
static void test_try_never_waits(void **state)
{
    int queued = 0;
    for (; queued < 10000; queued++) {
        int r = baton__notify_try("BATON_STATS=requests=1");
        if (r == -EAGAIN)
            break;
        assert_int_equal(r, 1);
    }
    assert_true(queued > 0 && queued < 10000); /* net.unix.max_dgram_qlen, or the buffer */
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(baton__notify_try("BATON_STATS=requests=2"), -EAGAIN);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long waited_ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    assert_true(waited_ms < 500); /* the blocking send would take its 2 s timeout */
    expect_message("BATON_STATS=requests=1");
    assert_int_equal(baton__notify_try("BATON_STATS=requests=3"), 1);
    for (int i = 1; i < queued; i++)
        expect_message("BATON_STATS=requests=1");
    expect_message("BATON_STATS=requests=3");
    expect_nothing();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_send_with_fds, open_path, close_receiver),
        cmocka_unit_test_setup_teardown(test_messages, open_path, close_receiver),
        cmocka_unit_test_setup_teardown(test_messages, open_abstract, close_receiver),
        cmocka_unit_test_setup_teardown(test_reloading, open_path, close_receiver),
        cmocka_unit_test_setup_teardown(test_try_never_waits, open_path, close_receiver),
        cmocka_unit_test_setup_teardown(test_refused_arguments, open_abstract, close_receiver),
        cmocka_unit_test(test_unset),
        cmocka_unit_test(test_bad_addresses),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
