/* SPDX-License-Identifier: MIT */
/* The control-socket client: connecting (missing, stale, live and over-long socket paths),
 * reading JSON lines from a real socket, reading values out of replies, printing results. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "cli/control-client.h"
#include "cli/internal.h"

static char tmpdir[] = "/tmp/baton-test-cli-XXXXXX";

static int listen_at(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    assert_true(strlen(path) < sizeof(sa.sun_path));
    strcpy(sa.sun_path, path);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(fd, 8), 0);
    return fd;
}

static void connect_reports_why_nobody_is_there(void **state)
{
    struct baton_control c;
    char path[256];

    snprintf(path, sizeof(path), "%s/missing.sock", tmpdir);
    assert_int_equal(baton__control_connect(&c, path), -ENOENT);
    baton__control_close(&c);

    /* A socket file whose listener is gone: what a crashed supervisor leaves behind. */
    snprintf(path, sizeof(path), "%s/stale.sock", tmpdir);
    close(listen_at(path));
    assert_int_equal(baton__control_connect(&c, path), -ECONNREFUSED);
    baton__control_close(&c);

    /* A regular file is no supervisor either. */
    snprintf(path, sizeof(path), "%s/plain", tmpdir);
    close(open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600));
    assert_int_equal(baton__control_connect(&c, path), -ECONNREFUSED);
    baton__control_close(&c);
}

static void connect_to_live_socket(void **state)
{
    struct baton_control c;
    char path[256], *line;
    size_t len;
    int lfd, sfd;

    snprintf(path, sizeof(path), "%s/live.sock", tmpdir);
    lfd = listen_at(path);
    assert_int_equal(baton__control_connect(&c, path), 0);
    assert_int_equal(c.peer_pid, getpid()); /* SO_PEERCRED: whoever called listen() */
    sfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    assert_true(sfd >= 0);

    assert_int_equal(baton__control_send(&c, "{\"cmd\":\"ping\"}", 14), 0);
    char got[64] = {0};
    assert_int_equal(read(sfd, got, sizeof(got) - 1), 15);
    assert_string_equal(got, "{\"cmd\":\"ping\"}\n");

    assert_int_equal(write(sfd, "{\"ok\":true}\n", 12), 12);
    assert_int_equal(baton__control_read_line(&c, baton__clock_now_ms() + 5000, &line, &len), 1);
    assert_string_equal(line, "{\"ok\":true}");
    close(sfd);
    assert_int_equal(baton__control_read_line(&c, baton__clock_now_ms() + 5000, &line, &len), 0);
    baton__control_close(&c);
    baton__control_close(&c); /* twice is fine */
    close(lfd);
}

static void connect_past_sun_path_length(void **state)
{
    char dir[512], path[600];
    struct baton_control c;
    int lfd, cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);

    /* sun_path holds 108 bytes: make a directory whose path is longer than that. */
    snprintf(dir, sizeof(dir), "%s/%0120d", tmpdir, 7);
    assert_int_equal(mkdir(dir, 0700), 0);
    snprintf(path, sizeof(path), "%s/baton.sock", dir);
    assert_true(strlen(path) > sizeof(((struct sockaddr_un *)0)->sun_path));
    assert_int_equal(chdir(dir), 0);
    lfd = listen_at("baton.sock");
    assert_int_equal(fchdir(cwd), 0);
    close(cwd);

    assert_int_equal(baton__control_connect(&c, path), 0);
    baton__control_close(&c);
    close(lfd);
    assert_int_equal(baton__control_connect(&c, path), -ECONNREFUSED);
    baton__control_close(&c);
    snprintf(path, sizeof(path), "%s/nothere/baton.sock", dir);
    assert_int_equal(baton__control_connect(&c, path), -ENOENT);
    baton__control_close(&c);
}

static struct baton_control pair(int *peer)
{
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    *peer = sv[1];
    return (struct baton_control){
        .fd = sv[0], .path = "pair", .in = BATON_BUF_INIT(BATON_CONTROL_MAX_REPLY)};
}

static void reads_lines_as_they_come(void **state)
{
    int peer;
    struct baton_control c = pair(&peer);
    char *line;
    size_t len;

    /* Two lines and half of a third in one write; the rest of it later. */
    assert_int_equal(write(peer, "{\"a\":1}\n\n{\"b\":2}\n{\"c\"", 21), 21);
    assert_int_equal(baton__control_read_line(&c, 0, &line, &len), 1);
    assert_int_equal(len, 7);
    assert_string_equal(line, "{\"a\":1}");
    assert_int_equal(baton__control_read_line(&c, 0, &line, &len), 1);
    assert_int_equal(len, 0);
    assert_int_equal(baton__control_read_line(&c, 0, &line, &len), 1);
    assert_string_equal(line, "{\"b\":2}");
    /* Nothing complete yet: the deadline ends the wait. */
    uint64_t before = baton__clock_now_ms();
    assert_int_equal(baton__control_read_line(&c, before + 50, &line, &len), -ETIMEDOUT);
    assert_true(baton__clock_now_ms() - before >= 50);
    assert_int_equal(write(peer, ":3}\n{\"d\":4}", 11), 11);
    assert_int_equal(baton__control_read_line(&c, 0, &line, &len), 1);
    assert_string_equal(line, "{\"c\":3}");
    /* The peer closes after a last line without its newline: it still counts. */
    close(peer);
    assert_int_equal(baton__control_read_line(&c, 0, &line, &len), 1);
    assert_string_equal(line, "{\"d\":4}");
    assert_int_equal(baton__control_read_line(&c, 0, &line, &len), 0);
    assert_int_equal(baton__control_read_line(&c, 0, &line, &len), 0);
    baton__control_close(&c);
}

static void refuses_endless_lines(void **state)
{
    int peer, status;
    struct baton_control c = pair(&peer);
    char *line;
    size_t len;
    pid_t child = fork();

    assert_true(child >= 0);
    if (child == 0) {
        /* More than the maximum reply, with no newline anywhere. */
        static char chunk[65536];
        memset(chunk, 'x', sizeof(chunk));
        close(c.fd);
        for (size_t sent = 0; sent <= BATON_CONTROL_MAX_REPLY + sizeof(chunk);) {
            ssize_t n = write(peer, chunk, sizeof(chunk));
            if (n <= 0)
                _exit(0);
            sent += (size_t)n;
        }
        _exit(0);
    }
    close(peer);
    assert_int_equal(baton__control_read_line(&c, baton__clock_now_ms() + 20000, &line, &len),
                     -EMSGSIZE);
    baton__control_close(&c); /* the writer sees EPIPE and ends */
    assert_int_equal(waitpid(child, &status, 0), child);
}

static void send_to_closed_peer_fails_without_sigpipe(void **state)
{
    int peer;
    struct baton_control c = pair(&peer);
    close(peer);
    assert_int_equal(baton__control_send(&c, "{}", 2), -EPIPE);
    baton__control_close(&c);
}

static const char reply[] =
    "{\"ok\":false,\"generation\":5,\"verdict\":\"failed\",\"busy\":null,\"name\":\"null\","
    "\"error\":\"worker \\\"a\\\" \\u00e9\\/x\\n\",\"neg\":-12,\"big\":99999999999999999999,"
    "\"frac\":1.5,\"t\":true,\"f\":false,\"quoted_true\":\"true\",\"num_text\":\"42\","
    "\"reason\":{\"cause\":\"exit\",\"exit_status\":3,\"stderr\":[\"one\",\"two\",\"\"]},"
    "\"empty\":{},\"list\":[]}";

static void reads_reply_values(void **state)
{
    struct baton_doc *doc = NULL;
    const struct baton_doc_node *root, *reason, *item = NULL;
    const char *want[] = {"one", "two", ""};
    long long v = 7;
    size_t n = 0;
    assert_int_equal(baton__reply_parse(reply, strlen(reply), &doc, NULL), 0);
    root = baton__doc_root(doc);
    assert_false(baton__cli_true(root, "ok"));
    assert_true(baton__cli_true(root, "t"));
    assert_false(baton__cli_true(root, "f"));
    assert_false(baton__cli_true(root, "quoted_true")); /* a string, not a boolean */
    assert_false(baton__cli_true(root, "missing"));
    assert_false(baton__cli_true(root, "busy"));
    assert_null(baton__cli_text(root, "busy", NULL));                 /* null */
    assert_string_equal(baton__cli_text(root, "busy", "-"), "-");     /* null: the fallback */
    assert_string_equal(baton__cli_text(root, "name", NULL), "null"); /* the string "null" */
    assert_string_equal(baton__cli_text(root, "error", NULL), "worker \"a\" \xc3\xa9/x\n");
    assert_true(baton__cli_int(root, "generation", &v));
    assert_int_equal(v, 5);
    assert_true(baton__cli_int(root, "neg", &v));
    assert_int_equal(v, -12);
    assert_false(baton__cli_int(root, "big", &v));
    assert_false(baton__cli_int(root, "frac", &v));
    assert_false(baton__cli_int(root, "num_text", &v)); /* a string, not a number */
    assert_false(baton__cli_int(root, "missing", &v));
    assert_false(baton__cli_int(root, "reason", &v));
    assert_int_equal(v, -12);                           /* untouched when false */
    assert_null(baton__cli_text(root, "reason", NULL)); /* an object has no text */

    reason = baton__doc_get(root, "reason");
    assert_non_null(reason);
    assert_string_equal(baton__cli_text(reason, "cause", NULL), "exit");
    while ((item = baton__doc_next(baton__doc_get(reason, "stderr"), item))) {
        const char *text;
        assert_true(n < 3);
        assert_int_equal(baton__doc_str(item, &text, NULL), 0);
        assert_string_equal(text, want[n++]);
    }
    assert_int_equal(n, 3);
    assert_null(baton__doc_next(baton__doc_get(root, "list"), NULL));
    assert_null(baton__doc_get(baton__doc_get(root, "generation"), "x"));
    assert_null(baton__doc_get(NULL, "x"));
    baton__doc_free(doc);
}

/* The printers read a failed and a successful reload result. */
static void prints_results(void **state)
{
    static const char failed[] =
        "{\"ok\":false,\"error\":\"generation 2 failed\",\"msg\":\"generation 1 keeps serving\","
        "\"reason\":{\"cause\":\"exit\",\"exit_status\":3,\"status\":\"starting\","
        "\"stderr\":[\"boom\",\"\"]}}";
    static const char done[] =
        "{\"ok\":true,\"generation\":4,\"previous\":3,\"timings\":{\"ready_ms\":35,"
        "\"total_ms\":1200}}";
    struct baton_doc *doc = NULL;
    char *text = NULL;
    size_t size = 0;
    FILE *f;

    assert_int_equal(baton__reply_parse(failed, strlen(failed), &doc, NULL), 0);
    f = open_memstream(&text, &size);
    baton__cli_print_failure(f, baton__doc_root(doc), "  ");
    fclose(f);
    assert_string_equal(text, "  cause: exit, exit status 3\n"
                              "  last STATUS=starting\n"
                              "  stderr (last lines):\n"
                              "    | boom\n"
                              "    | \n"
                              "  generation 1 keeps serving\n");
    free(text);
    baton__doc_free(doc);

    assert_int_equal(baton__reply_parse(done, strlen(done), &doc, NULL), 0);
    f = open_memstream(&text, &size);
    baton__cli_print_success(f, baton__doc_root(doc));
    fclose(f);
    assert_string_equal(text, "generation 4 is serving (replaced generation 3; ready in 35ms, "
                              "1.2s in all)\n");
    free(text);
    baton__doc_free(doc);
}

static void refuses_what_is_not_an_object(void **state)
{
    static const char *bad[] = {
        "",
        "[1,2]",
        "\"text\"",
        "42",
        "null",
        "{\"a\":1",
        "{\"a\":1}x",
        "{\"a\":1}{\"b\":2}",
        "{'a':1}",
        "{a: 1}",
        "{\"a\":01}",
        "\x01\x02",
        "{\"a\":\"\\q\"}",
        "{\"a\":1,\"a\":2}",
        "{\"ok\": true}  # YAML comment",
        "{\"ok\": yes}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct baton_doc *doc = NULL;
        struct baton_buf err = BATON_BUF_INIT(1024);
        if (baton__reply_parse(bad[i], strlen(bad[i]), &doc, &err) == 0)
            fail_msg("accepted as a JSON object: '%s'", bad[i]);
        assert_null(doc);
        assert_true(err.len > 0);
        baton__buf_free(&err);
    }
}

static void formats_durations_for_people(void **state)
{
    static const struct {
        long long ms;
        const char *text;
    } cases[] = {
        {0, "0ms"},        {35, "35ms"},       {999, "999ms"},     {1000, "1.0s"},
        {1250, "1.2s"},    {59999, "59.9s"},   {60000, "1m0s"},    {303000, "5m3s"},
        {3600000, "1h0m"}, {7800000, "2h10m"}, {90000000, "1d1h"}, {-1, "?"},
    };
    char buf[32];
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        assert_string_equal(baton__cli_format_ms(cases[i].ms, buf, sizeof(buf)), cases[i].text);
}

static int setup(void **state)
{
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(connect_reports_why_nobody_is_there),
        cmocka_unit_test(connect_to_live_socket),
        cmocka_unit_test(connect_past_sun_path_length),
        cmocka_unit_test(reads_lines_as_they_come),
        cmocka_unit_test(refuses_endless_lines),
        cmocka_unit_test(send_to_closed_peer_fails_without_sigpipe),
        cmocka_unit_test(reads_reply_values),
        cmocka_unit_test(prints_results),
        cmocka_unit_test(refuses_what_is_not_an_object),
        cmocka_unit_test(formats_durations_for_people),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
