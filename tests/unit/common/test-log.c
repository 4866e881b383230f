/* SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/log.h"

/* Runs fn with stderr redirected into a pipe and returns what it wrote (static buffer). */
static const char *capture(void (*fn)(void))
{
    static char out[16384];
    int fds[2], saved = dup(STDERR_FILENO);
    assert_int_equal(pipe(fds), 0);
    dup2(fds[1], STDERR_FILENO);
    close(fds[1]);
    fn();
    dup2(saved, STDERR_FILENO);
    close(saved);
    ssize_t n = read(fds[0], out, sizeof(out) - 1);
    close(fds[0]);
    out[n > 0 ? n : 0] = '\0';
    return out;
}

static void json_worker_lines(void)
{
    baton__log_setup("baton", BATON_LOG_JSON, BATON_LOG_INFO);
    baton__log_worker_line(3, 42, "stderr", "<3>bind failed", 14);
    baton__log_worker_line(3, 42, "stdout", "plain \"quoted\"", 14);
    baton__log_worker_line(3, 42, "stderr", "<7>debug is filtered", 20);
}

static void takes_level_from_syslog_prefix(void **state)
{
    const char *out = capture(json_worker_lines);
    assert_non_null(strstr(out, "\"level\":\"error\",\"msg\":\"bind failed\",\"gen\":3,\"pid\":42,"
                                "\"stream\":\"stderr\"}\n"));
    assert_non_null(strstr(out, "\"level\":\"info\",\"msg\":\"plain \\\"quoted\\\"\""));
    assert_null(strstr(out, "filtered"));
}

static void supervised_lines(void)
{
    baton__log_setup("baton-web", BATON_LOG_SUPERVISED, BATON_LOG_DEBUG);
    baton__log(BATON_LOG_WARNING, "slow client %d", 7);
    baton__log_at(BATON_LOG_DEBUG, 1, 2, "tick");
}

static void writes_supervised_prefixes(void **state)
{
    assert_string_equal(capture(supervised_lines), "<4>slow client 7\n<7>tick\n");
}

static void text_lines(void)
{
    baton__log_setup("baton", BATON_LOG_TEXT, BATON_LOG_NOTICE);
    baton__log(BATON_LOG_INFO, "below the threshold");
    baton__log_at(BATON_LOG_ERROR, 5, 99, "worker failed: %s", "exit 3");
}

static void writes_text_with_tags(void **state)
{
    const char *out = capture(text_lines);
    assert_null(strstr(out, "below the threshold"));
    assert_non_null(strstr(out, "error   baton[gen 5 pid 99]: worker failed: exit 3\n"));
}

/* Three lines into a full disk (/dev/full: ENOSPC), then one that gets through. */
static void lines_into_a_full_disk(void)
{
    baton__log_setup("baton", BATON_LOG_TEXT, BATON_LOG_INFO);
    int full = open("/dev/full", O_WRONLY | O_CLOEXEC), saved = dup(STDERR_FILENO);
    assert_true(full >= 0);
    dup2(full, STDERR_FILENO);
    close(full);
    for (int i = 0; i < 3; i++)
        baton__log_at(BATON_LOG_INFO, -1, -1, "lost line %d", i);
    assert_int_equal(baton__log_lost(), 3);
    dup2(saved, STDERR_FILENO);
    close(saved);
    baton__log_at(BATON_LOG_INFO, -1, -1, "back again");
}

static void says_once_how_many_lines_were_lost(void **state)
{
    const char *out = capture(lines_into_a_full_disk);
    assert_non_null(strstr(out, "log: 3 lines could not be written (No space left on device)\n"));
    assert_non_null(strstr(out, "back again"));
    assert_null(strstr(out, "lost line"));
    assert_true(strstr(out, "could not be written") < strstr(out, "back again"));
    assert_int_equal(baton__log_lost(), 0);
}

static void parses_names(void **state)
{
    enum baton_log_level level;
    enum baton_log_format format;
    assert_int_equal(baton__log_level_parse("warn", &level), 0);
    assert_int_equal(level, BATON_LOG_WARNING);
    assert_int_equal(baton__log_level_parse("loud", &level), -22);
    assert_int_equal(baton__log_format_parse("json", &format), 0);
    assert_int_equal(format, BATON_LOG_JSON);
    assert_int_equal(baton__log_format_parse("xml", &format), -22);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(takes_level_from_syslog_prefix),
        cmocka_unit_test(writes_supervised_prefixes),
        cmocka_unit_test(writes_text_with_tags),
        cmocka_unit_test(parses_names),
        cmocka_unit_test(says_once_how_many_lines_were_lost),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
