/* SPDX-License-Identifier: MIT */
/* The supervisor's state file (state-file.c): its format's round trip, its version check, the
 * atomic replacement on disk, /proc/PID/stat reading, and recover.c's refusal message. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/buf.h"
#include "supervisor/internal.h"

static struct baton_state_listener listeners[] = {
    {.name = "http", .address = "127.0.0.1:8080"},
    {.name = "admin", .address = "unix:/run/x/admin.sock"},
};

static struct baton_state_worker workers[] = {
    {.pid = 1240, .start_time = 98790, .gen = 4, .stop_signal = SIGTERM, .drain_timeout_ms = 30000},
    {.pid = 1300,
     .start_time = 99001,
     .gen = 5,
     .stop_signal = SIGQUIT,
     .drain_timeout_ms = 5000,
     .draining = true},
    {.pid = 1241, .start_time = 98791, .gen = 4, .stop_signal = SIGTERM, .drain_timeout_ms = 30000},
};

static const struct baton_state_file sample = {
    .pid = 1234,
    .start_time = 98765,
    .config = "/srv/x/baton.yaml",
    .control = "/srv/x/baton.sock",
    .last_id = 6,
    .listeners = listeners,
    .n_listeners = 2,
    .workers = workers,
    .n_workers = 3,
};

static int parse_text(const char *text, struct baton_state_file *ret)
{
    return baton__state_file_parse(text, strlen(text), ret);
}

static const struct baton_state_worker *find_worker(const struct baton_state_file *sf, pid_t pid)
{
    for (size_t i = 0; i < sf->n_workers; i++)
        if (sf->workers[i].pid == pid)
            return &sf->workers[i];
    return NULL;
}

static void test_round_trip(void **state)
{
    struct baton_buf b = BATON_BUF_INIT(BATON_BUF_UNBOUNDED);
    struct baton_state_file sf;
    baton__state_file_format(&sample, &b);
    assert_int_equal(baton__state_file_parse(b.data, b.len, &sf), 0);
    assert_int_equal(sf.pid, 1234);
    assert_true(sf.start_time == 98765);
    assert_string_equal(sf.config, "/srv/x/baton.yaml");
    assert_string_equal(sf.control, "/srv/x/baton.sock");
    assert_int_equal(sf.last_id, 6);
    assert_int_equal(sf.n_listeners, 2);
    assert_string_equal(sf.listeners[1].name, "admin");
    assert_string_equal(sf.listeners[1].address, "unix:/run/x/admin.sock");
    assert_int_equal(sf.n_workers, 3);
    for (size_t i = 0; i < 3; i++) {
        const struct baton_state_worker *w = find_worker(&sf, workers[i].pid);
        assert_non_null(w);
        assert_true(w->start_time == workers[i].start_time);
        assert_int_equal(w->gen, workers[i].gen);
        assert_int_equal(w->stop_signal, workers[i].stop_signal);
        assert_true(w->drain_timeout_ms == workers[i].drain_timeout_ms);
        assert_int_equal(w->draining, workers[i].draining);
    }
    /* Written again, the same text: nothing is lost or reordered beyond the grouping. */
    struct baton_buf again = BATON_BUF_INIT(BATON_BUF_UNBOUNDED);
    baton__state_file_format(&sf, &again);
    assert_int_equal(again.len, b.len);
    assert_memory_equal(again.data, b.data, b.len);
    /* Workers are grouped by generation. */
    assert_non_null(strstr(b.data, "\"id\":4,"));
    assert_non_null(strstr(b.data, "{\"pid\":1240,\"start_time\":98790,\"draining\":false},"
                                   "{\"pid\":1241"));
    baton__state_file_free(&sf);
    baton__buf_free(&again);
    baton__buf_free(&b);
}

static void test_version_check(void **state)
{
    struct baton_state_file sf;
    /* Without a version it is no state file of ours. */
    assert_int_equal(parse_text("{\"pid\":1,\"start_time\":2}", &sf), -EINVAL);
    assert_int_equal(parse_text("{\"version\":0,\"pid\":1,\"start_time\":2}", &sf), -EINVAL);
    assert_int_equal(parse_text("{\"version\":\"x\",\"pid\":1,\"start_time\":2}", &sf), -EINVAL);
    /* A newer format is told apart from a broken one. */
    assert_int_equal(parse_text("{\"version\":2,\"pid\":1,\"start_time\":2}", &sf),
                     -EPROTONOSUPPORT);
    assert_int_equal(parse_text("{\"version\":1,\"pid\":1,\"start_time\":2}", &sf), 0);
    assert_int_equal(sf.n_workers, 0);
    assert_int_equal(sf.n_listeners, 0);
    assert_null(sf.config);
    baton__state_file_free(&sf);
}

static void test_malformed(void **state)
{
    struct baton_state_file sf;
    static const char *const bad[] = {
        "",
        "[]",
        "not json {",
        "{\"version\":1,\"start_time\":2}",            /* no pid */
        "{\"version\":1,\"pid\":-4,\"start_time\":2}", /* bad pid */
        "{\"version\":1,\"pid\":1}",                   /* no start time */
        "{\"version\":1,\"pid\":1,\"start_time\":2,\"listeners\":[{\"name\":\"x\"}]}",
        "{\"version\":1,\"pid\":1,\"start_time\":2,\"generations\":[{\"id\":1,"
        "\"stop_signal\":\"NOPE\",\"drain_timeout_ms\":1,\"workers\":[]}]}",
        "{\"version\":1,\"pid\":1,\"start_time\":2,\"generations\":[{\"id\":1,"
        "\"stop_signal\":\"TERM\",\"drain_timeout_ms\":1,\"workers\":[{\"pid\":0,"
        "\"start_time\":1}]}]}",
        "{\"version\":1,\"pid\":1,\"start_time\":2,\"generations\":[{\"id\":1,"
        "\"stop_signal\":\"TERM\",\"drain_timeout_ms\":1,\"workers\":[{\"pid\":5}]}]}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(parse_text(bad[i], &sf), -EINVAL);
}

static void test_write_read_file(void **state)
{
    char dir[] = "/tmp/baton-test-state-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256], tmp[300];
    snprintf(path, sizeof(path), "%s/baton.sock.state", dir);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    struct baton_state_file sf;

    assert_int_equal(baton__state_file_read(path, &sf), -ENOENT);
    assert_int_equal(baton__state_file_write(path, &sample), 0);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(stat(tmp, &st), -1); /* renamed into place, nothing left over */
    assert_int_equal(baton__state_file_read(path, &sf), 0);
    assert_int_equal(sf.n_workers, 3);
    baton__state_file_free(&sf);

    /* Replaced as a whole. */
    struct baton_state_file less = sample;
    less.n_workers = 1;
    less.pid = 777;
    assert_int_equal(baton__state_file_write(path, &less), 0);
    assert_int_equal(baton__state_file_read(path, &sf), 0);
    assert_int_equal(sf.pid, 777);
    assert_int_equal(sf.n_workers, 1);
    baton__state_file_free(&sf);

    /* A directory that is gone: an error, not a crash. */
    char missing[300];
    snprintf(missing, sizeof(missing), "%s/nope/x.state", dir);
    assert_int_equal(baton__state_file_write(missing, &sample), -ENOENT);

    unlink(path);
    rmdir(dir);
}

static void test_proc_stat(void **state)
{
    unsigned long long a = 0, b = 0;
    pid_t pgrp = 0;
    assert_int_equal(baton__proc_stat(getpid(), &a, &pgrp), 0);
    assert_int_equal(pgrp, getpgrp());
    assert_true(a > 0);
    assert_int_equal(baton__proc_stat(getpid(), &b, NULL), 0);
    assert_true(a == b); /* a process's start time does not change */

    /* A child: its own start time, not ours; a zombie counts as gone. */
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        pause();
        _exit(0);
    }
    assert_int_equal(baton__proc_stat(child, &b, NULL), 0);
    assert_true(b >= a);
    kill(child, SIGKILL);
    /* Until it is reaped, /proc still shows it (state Z). */
    siginfo_t si;
    assert_int_equal(waitid(P_PID, (id_t)child, &si, WEXITED | WNOWAIT), 0);
    assert_int_equal(baton__proc_stat(child, &b, NULL), -ESRCH);
    assert_int_equal(waitpid(child, NULL, 0), child);
    assert_int_equal(baton__proc_stat(child, &b, NULL), -ESRCH);
}

static void test_denied_message(void **state)
{
    char msg[2048];
    pid_t pids[] = {4242, 4243};
    baton__recover_denied_message(msg, sizeof(msg), 4000, "http 127.0.0.1:8080", pids, 2, EPERM);
    assert_non_null(strstr(msg, "previous supervisor (pid 4000) died"));
    assert_non_null(strstr(msg, "http 127.0.0.1:8080"));
    assert_non_null(strstr(msg, "pids 4242 4243"));
    assert_non_null(strstr(msg, strerror(EPERM)));
    assert_non_null(strstr(msg, "ptrace"));
    assert_non_null(strstr(msg, "CAP_SYS_PTRACE"));
    assert_non_null(strstr(msg, "kill -TERM 4242 4243"));
    /* Bounded: a small buffer is filled, never overrun. */
    char small[32];
    memset(small, 'x', sizeof(small));
    baton__recover_denied_message(small, sizeof(small), 4000, "http", pids, 2, EPERM);
    assert_int_equal(strlen(small), sizeof(small) - 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip), cmocka_unit_test(test_version_check),
        cmocka_unit_test(test_malformed),  cmocka_unit_test(test_write_read_file),
        cmocka_unit_test(test_proc_stat),  cmocka_unit_test(test_denied_message),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
