/* SPDX-License-Identifier: MIT */
/*
 * libbaton speaks systemd's protocols: for the same environment it must find what libsystemd
 * finds, and a receiver must not be able to tell baton_notify() from sd_notify().
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
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>
#include <systemd/sd-daemon.h>

#include "baton/baton.h"

static void set_env(int self, const char *fds, const char *names)
{
    char pid[32];

    snprintf(pid, sizeof(pid), "%d", self ? (int)getpid() : (int)getpid() + 1);
    setenv("LISTEN_PID", pid, 1);
    if (fds != NULL)
        setenv("LISTEN_FDS", fds, 1);
    else
        unsetenv("LISTEN_FDS");
    if (names != NULL)
        setenv("LISTEN_FDNAMES", names, 1);
    else
        unsetenv("LISTEN_FDNAMES");
}

static void test_listen_same_as_systemd(void **state)
{
    static const struct {
        int self;
        const char *fds, *names;
    } cases[] = {
        {1, "2", "http:admin"}, {1, "2", NULL},       {1, "1", "web"}, {0, "2", "http:admin"},
        {1, "0", NULL},         {1, NULL, NULL},      {1, "x", NULL},  {1, "3", NULL},
        {1, "2", "a:b:c"},      {1, "2", ":unnamed"},
    };

    for (int fd = 3; fd <= 4; fd++) {
        int s = socket(AF_INET, SOCK_STREAM, 0);
        assert_int_equal(dup2(s, fd), fd);
        if (s != fd)
            close(s);
    }
    close(5);

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char **sd_names = NULL;
        int ours, theirs;

        set_env(cases[i].self, cases[i].fds, cases[i].names);
        ours = baton_listen_fds(0);
        theirs = sd_listen_fds(0);
        if (ours != theirs)
            fail_msg("case %zu: baton_listen_fds %d, sd_listen_fds %d", i, ours, theirs);

        theirs = sd_listen_fds_with_names(0, &sd_names);
        for (int k = 0; theirs > 0 && k < theirs; k++) {
            char buf[256];

            /* The one deliberate difference: an empty name is "unknown", not "". */
            if (sd_names[k][0] == '\0') {
                free(sd_names[k]);
                sd_names[k] = strdup("unknown");
            }
            assert_int_equal(baton_listen_fd_name(3 + k, buf, sizeof(buf)), 0);
            if (strcmp(buf, sd_names[k]) != 0)
                fail_msg("case %zu fd %d: baton '%s', systemd '%s'", i, 3 + k, buf, sd_names[k]);
            /* By name, the first listener of that name wins ("unknown" may repeat). */
            for (int first = 0; first <= k; first++) {
                if (strcmp(sd_names[first], sd_names[k]) == 0) {
                    assert_int_equal(baton_listen_fd_by_name(sd_names[k]), 3 + first);
                    break;
                }
            }
        }
        if (theirs == -EINVAL && ours > 0) /* names systemd refuses, baton refuses too */
            assert_int_equal(baton_listen_fd_by_name("a"), -EINVAL);
        if (sd_names != NULL) {
            for (int k = 0; sd_names[k] != NULL; k++)
                free(sd_names[k]);
            free(sd_names);
        }
    }
    close(3);
    close(4);
}

static void test_notify_same_as_systemd(void **state)
{
    static const char *prefixes[] = {"@baton-test-compat-", "/tmp/baton-test-compat-"};

    for (size_t i = 0; i < 2; i++) {
        struct sockaddr_un addr = {.sun_family = AF_UNIX};
        char env[108], a[256], b[256];
        socklen_t len;
        ssize_t na, nb;
        int fd;

        snprintf(env, sizeof(env), "%s%d", prefixes[i], (int)getpid());
        strcpy(addr.sun_path, env);
        len = sizeof(addr);
        if (env[0] == '@') {
            addr.sun_path[0] = '\0';
            len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(env));
        }
        unlink(env);
        fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        assert_int_equal(bind(fd, (struct sockaddr *)&addr, len), 0);
        setenv("NOTIFY_SOCKET", env, 1);

        assert_true(sd_notify(0, "READY=1\nSTATUS=same") > 0);
        assert_int_equal(baton_notify("READY=1\nSTATUS=same"), 1);
        na = recv(fd, a, sizeof(a), MSG_DONTWAIT);
        nb = recv(fd, b, sizeof(b), MSG_DONTWAIT);
        assert_true(na > 0);
        assert_int_equal(na, nb);
        assert_memory_equal(a, b, (size_t)na);

        close(fd);
        if (env[0] == '/')
            unlink(env);
    }
    unsetenv("NOTIFY_SOCKET");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_listen_same_as_systemd),
        cmocka_unit_test(test_notify_same_as_systemd),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
