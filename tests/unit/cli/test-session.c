/* SPDX-License-Identifier: MIT */
/* The session glue every command shares (session.c): which control socket is used (-s over
 * BATON_SOCKET), what a failed connection means (exit 3, 1 or 2 and a message), and reading a
 * request's progress events up to its result, with every way the supervisor's side can fail. */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/clock.h"

#include "cli/control-client.h"
#include "cli/internal.h"
#include "fake-supervisor.h"

static char tmpdir[] = "/tmp/baton-test-session-XXXXXX";
static char listening[PATH_MAX], missing[PATH_MAX];
static int listener = -1;

static int setup(void **state)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};

    assert_non_null(mkdtemp(tmpdir));
    snprintf(listening, sizeof(listening), "%s/live.sock", tmpdir);
    snprintf(missing, sizeof(missing), "%s/missing.sock", tmpdir);
    listener = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(listener >= 0);
    strcpy(sa.sun_path, listening);
    assert_int_equal(bind(listener, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(listener, 8), 0);
    return 0;
}

static int teardown(void **state)
{
    close(listener);
    unlink(listening);
    rmdir(tmpdir);
    return 0;
}

/* Connects with these -s and BATON_SOCKET values (NULL: unset); returns the exit code and what
 * went to stderr in *err. */
static int connect_with(const char *s, const char *env, char **err)
{
    struct baton_cli_args args = {
        .command = BATON_CLI_STATUS, .config_path = BATON_CLI_DEFAULT_CONFIG, .socket_path = s};
    struct baton_control c = {.fd = -1};
    int code;

    if (env)
        setenv("BATON_SOCKET", env, 1);
    else
        unsetenv("BATON_SOCKET");
    struct capture cap;

    capture_begin(&cap, STDERR_FILENO);
    code = baton__cli_connect(&args, &c);
    *err = capture_end(&cap);
    if (code == BATON_EXIT_OK) {
        int peer = accept(listener, NULL, NULL); /* it was queued: take it off the backlog */
        assert_true(peer >= 0);
        close(peer);
    }
    baton__cli_disconnect(&c);
    unsetenv("BATON_SOCKET");
    return code;
}

static void socket_option_wins_over_the_environment(void **state)
{
    char *err, want[PATH_MAX + 64];

    assert_int_equal(connect_with(listening, NULL, &err), BATON_EXIT_OK);
    assert_string_equal(err, "");
    free(err);
    assert_int_equal(connect_with(NULL, listening, &err), BATON_EXIT_OK);
    free(err);
    /* -s names a socket nobody listens on: BATON_SOCKET's live one is not tried. */
    assert_int_equal(connect_with(missing, listening, &err), BATON_EXIT_UNREACHABLE);
    snprintf(want, sizeof(want), "baton: no supervisor at %s (connect: %s)\n", missing,
             strerror(ENOENT));
    assert_string_equal(err, want);
    free(err);
    assert_int_equal(connect_with(NULL, missing, &err), BATON_EXIT_UNREACHABLE);
    assert_string_equal(err, want);
    free(err);
}

static void a_stale_socket_file_is_nobody(void **state)
{
    char stale[PATH_MAX], want[PATH_MAX + 64], *err;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    snprintf(stale, sizeof(stale), "%s/stale.sock", tmpdir);
    strcpy(sa.sun_path, stale);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    close(fd); /* bound, never listened on, closed: the file stays */
    assert_int_equal(connect_with(stale, NULL, &err), BATON_EXIT_UNREACHABLE);
    snprintf(want, sizeof(want), "baton: no supervisor at %s (connect: %s)\n", stale,
             strerror(ECONNREFUSED));
    assert_string_equal(err, want);
    free(err);
    unlink(stale);
}

/* A control connection over a socketpair whose far end (*peer) plays the supervisor. */
static void pair(struct baton_control *c, int *peer)
{
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    *c = (struct baton_control){
        .fd = sv[0], .path = "/run/test.sock", .in = BATON_BUF_INIT(BATON_CONTROL_MAX_REPLY)};
    *peer = sv[1];
}

static void say(int peer, const char *text)
{
    assert_int_equal(write(peer, text, strlen(text)), (ssize_t)strlen(text));
}

struct events {
    int n;
    char lines[4][64];
};

static void on_event(void *ctx, const char *line, size_t len, const struct baton_doc_node *event)
{
    struct events *e = ctx;
    assert_non_null(event);
    assert_true(e->n < 4 && len < sizeof(e->lines[0]));
    snprintf(e->lines[e->n++], sizeof(e->lines[0]), "%.*s", (int)len, line);
}

static void events_then_the_result(void **state)
{
    struct baton_control c;
    struct baton_doc *doc = NULL;
    const struct baton_doc_node *root = NULL;
    const char *line = NULL;
    struct events e = {0};
    char got[64] = "";
    int peer;

    pair(&c, &peer);
    say(peer, "{\"event\":\"spawned\",\"pid\":7}\n\n{\"event\":\"ready\"}\n"
              "{\"ok\":true,\"generation\":2}\n{\"event\":\"after\"}\n");
    assert_int_equal(
        baton__cli_request(&c, "{\"cmd\":\"reload\"}", 16, 0, on_event, &e, &doc, &root, &line),
        BATON_EXIT_OK);
    assert_int_equal(e.n, 2); /* the blank line skipped; nothing read past the result */
    assert_string_equal(e.lines[0], "{\"event\":\"spawned\",\"pid\":7}");
    assert_string_equal(e.lines[1], "{\"event\":\"ready\"}");
    assert_string_equal(line, "{\"ok\":true,\"generation\":2}");
    long long gen = 0;
    assert_true(baton__cli_int(root, "generation", &gen));
    assert_int_equal(gen, 2);
    baton__doc_free(doc);
    /* The request went out as one line. */
    assert_int_equal(read(peer, got, sizeof(got) - 1), 17);
    assert_string_equal(got, "{\"cmd\":\"reload\"}\n");
    close(peer);
    baton__control_close(&c);
}

/* Runs a request whose reply is `script` (then the peer closes when `hang_up`); returns the
 * exit code and checks stderr against `want`. */
static void fails_with(const char *script, bool hang_up, uint64_t deadline_ms, const char *want)
{
    struct baton_control c;
    struct baton_doc *doc = NULL;
    const struct baton_doc_node *root = NULL;
    const char *line = NULL;
    char *err;
    struct capture cap;
    int peer, code;

    pair(&c, &peer);
    say(peer, script);
    if (hang_up)
        shutdown(peer, SHUT_WR);
    capture_begin(&cap, STDERR_FILENO);
    code = baton__cli_request(&c, "{\"cmd\":\"status\"}", 16, deadline_ms, NULL, NULL, &doc, &root,
                              &line);
    err = capture_end(&cap);
    assert_int_equal(code, BATON_EXIT_FAILED);
    assert_null(doc);
    assert_string_equal(err, want);
    free(err);
    close(peer);
    baton__control_close(&c);
}

static void supervisor_side_failures(void **state)
{
    fails_with("{\"event\":\"x\"}\n", true, 0,
               "baton: the supervisor at /run/test.sock closed the connection without an "
               "answer\n");
    fails_with("not json\n", false, 0,
               "baton: unreadable reply from the supervisor at /run/test.sock: not json\n");
    fails_with("[1,2]\n", false, 0,
               "baton: unreadable reply from the supervisor at /run/test.sock: [1,2]\n");
    fails_with("", false, baton__clock_now_ms() + 50,
               "baton: timed out waiting for the supervisor at /run/test.sock\n");

    /* A reply line longer than 200 bytes is shortened in the message. */
    char *long_line = malloc(402), want[400];
    memset(long_line, 'x', 400);
    strcpy(long_line + 400, "\n");
    snprintf(want, sizeof(want),
             "baton: unreadable reply from the supervisor at /run/test.sock: %.200s...\n",
             long_line);
    fails_with(long_line, false, 0, want);
    free(long_line);
}

static void a_refusal_is_read_even_when_the_send_fails(void **state)
{
    struct baton_control c;
    struct baton_doc *doc = NULL;
    const struct baton_doc_node *root = NULL;
    const char *line = NULL;
    int peer;

    pair(&c, &peer);
    /* The supervisor wrote why it refuses us and closed before our request arrived. */
    say(peer, "{\"ok\":false,\"error\":\"forbidden\"}\n");
    close(peer);
    assert_int_equal(
        baton__cli_request(&c, "{\"cmd\":\"stop\"}", 14, 0, NULL, NULL, &doc, &root, &line),
        BATON_EXIT_OK);
    assert_string_equal(baton__cli_text(root, "error", NULL), "forbidden");
    baton__doc_free(doc);
    baton__control_close(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(socket_option_wins_over_the_environment),
        cmocka_unit_test(a_stale_socket_file_is_nobody),
        cmocka_unit_test(events_then_the_result),
        cmocka_unit_test(supervisor_side_failures),
        cmocka_unit_test(a_refusal_is_read_even_when_the_send_fails),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
