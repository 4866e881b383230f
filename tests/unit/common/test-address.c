/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/address.h"

static void parses_forms(void **state)
{
    struct baton_address a;
    char buf[128];

    assert_int_equal(baton__address_parse("127.0.0.1:8080", &a, NULL), 0);
    assert_int_equal(a.u.sa.sa_family, AF_INET);
    assert_int_equal(baton__address_port(&a), 8080);
    assert_string_equal(baton__address_format(&a, buf, sizeof(buf)), "127.0.0.1:8080");

    assert_int_equal(baton__address_parse("[::1]:9000", &a, NULL), 0);
    assert_int_equal(a.u.sa.sa_family, AF_INET6);
    assert_string_equal(baton__address_format(&a, buf, sizeof(buf)), "[::1]:9000");

    assert_int_equal(baton__address_parse(":80", &a, NULL), 0);
    assert_string_equal(baton__address_format(&a, buf, sizeof(buf)), "0.0.0.0:80");

    assert_int_equal(baton__address_parse("unix:/run/app.sock", &a, NULL), 0);
    assert_int_equal(a.u.sa.sa_family, AF_UNIX);
    assert_string_equal(baton__address_format(&a, buf, sizeof(buf)), "unix:/run/app.sock");

    assert_int_equal(baton__address_parse("localhost:8080", &a, NULL), 0);
    assert_int_equal(baton__address_port(&a), 8080);
}

static void refuses_bad_forms(void **state)
{
    static const char *bad[] = {
        "",       "8080",    "127.0.0.1", "127.0.0.1:", "1.2.3.4:65536",       "1.2.3.4:-1",
        "::1:80", "[::1]80", "[zz]:80",   "unix:",      "host name.invalid.:x"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct baton_address a;
        const char *reason = NULL;
        assert_int_equal(baton__address_parse(bad[i], &a, &reason), -EINVAL);
        assert_non_null(reason);
    }
    char longpath[200];
    memset(longpath, 'a', sizeof(longpath) - 1);
    longpath[sizeof(longpath) - 1] = '\0';
    memcpy(longpath, "unix:/", 6);
    struct baton_address a;
    assert_int_equal(baton__address_parse(longpath, &a, NULL), -EINVAL);
}

static void listens_and_detects_busy(void **state)
{
    struct baton_address a;
    struct sockaddr_in sin;
    socklen_t len = sizeof(sin);

    assert_int_equal(baton__address_parse("127.0.0.1:0", &a, NULL), 0);
    int fd = baton__address_listen(&a, 16);
    assert_true(fd >= 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
    a.u.in.sin_port = sin.sin_port;
    assert_int_equal(baton__address_listen(&a, 16), -EADDRINUSE);
    close(fd);
}

/* A client connected to fd (a loopback TCP listener); the connection is complete on its side. */
static int connect_to(int lfd)
{
    struct sockaddr_in sin;
    socklen_t len = sizeof(sin);
    assert_int_equal(getsockname(lfd, (struct sockaddr *)&sin, &len), 0);
    int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(c >= 0);
    assert_int_equal(connect(c, (struct sockaddr *)&sin, len), 0);
    return c;
}

/* True when a connection is queued on lfd within ms milliseconds. */
static bool queued_within(int lfd, int ms)
{
    struct pollfd p = {.fd = lfd, .events = POLLIN};
    return poll(&p, 1, ms) == 1;
}

static void defers_accept_until_data(void **state)
{
    struct baton_address a;
    assert_int_equal(baton__address_parse("127.0.0.1:0", &a, NULL), 0);
    int lfd = baton__address_listen(&a, 16);
    assert_true(lfd >= 0);

    /* Off (the default of a new socket): queued as soon as the handshake completes. */
    int c = connect_to(lfd);
    assert_true(queued_within(lfd, 2000));
    int s = accept(lfd, NULL, NULL);
    assert_true(s >= 0);
    close(s);
    close(c);

    /* On: a connection that sent nothing is not queued; its first bytes queue it. */
    assert_int_equal(baton__address_defer_accept(lfd, AF_INET, 1000), 0);
    c = connect_to(lfd);
    assert_false(queued_within(lfd, 200));
    assert_int_equal(write(c, "GET", 3), 3);
    assert_true(queued_within(lfd, 2000));
    s = accept(lfd, NULL, NULL);
    assert_true(s >= 0);
    char buf[4];
    assert_int_equal(read(s, buf, sizeof(buf)), 3);
    close(s);
    close(c);

    /* Off again: back to the plain behaviour. */
    assert_int_equal(baton__address_defer_accept(lfd, AF_INET, 0), 0);
    c = connect_to(lfd);
    assert_true(queued_within(lfd, 2000));
    close(c);
    close(lfd);
}

static void defer_accept_ignores_unix_sockets(void **state)
{
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    assert_int_equal(baton__address_defer_accept(sv[0], AF_UNIX, 1000), 0);
    assert_int_equal(baton__address_defer_accept(-1, AF_INET, 1000), -EBADF);
    close(sv[0]);
    close(sv[1]);
}

static void replaces_stale_unix_socket_only(void **state)
{
    char dir[] = "/tmp/baton-test-XXXXXX", text[128];
    struct baton_address a;

    assert_non_null(mkdtemp(dir));
    snprintf(text, sizeof(text), "unix:%s/s.sock", dir);
    assert_int_equal(baton__address_parse(text, &a, NULL), 0);
    int fd = baton__address_listen(&a, 16);
    assert_true(fd >= 0);
    /* Live: refused. */
    assert_int_equal(baton__address_listen(&a, 16), -EADDRINUSE);
    close(fd);
    /* Stale (nobody listens any more): replaced. */
    fd = baton__address_listen(&a, 16);
    assert_true(fd >= 0);
    close(fd);
    unlink(a.u.un.sun_path);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parses_forms),
        cmocka_unit_test(refuses_bad_forms),
        cmocka_unit_test(listens_and_detects_busy),
        cmocka_unit_test(replaces_stale_unix_socket_only),
        cmocka_unit_test(defers_accept_until_data),
        cmocka_unit_test(defer_accept_ignores_unix_sockets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
