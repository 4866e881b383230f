/* SPDX-License-Identifier: MIT */
#include "cli/internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/xmalloc.h"
#include "config/config.h"

/* The socket path found for this process (-s, BATON_SOCKET or the config), owned here. */
static char *resolved_socket;

void baton__cli_config_error(const struct baton_buf *err, int r)
{
    const char *p = err->data;

    if (!p || !*p) {
        fprintf(stderr, "baton: cannot load the configuration: %s\n", strerror(-r));
        return;
    }
    while (*p) {
        size_t n = strcspn(p, "\n");
        if (n > 0)
            fprintf(stderr, "baton: %.*s\n", (int)n, p);
        p += n;
        if (*p == '\n')
            p++;
    }
}

/*
 * The control socket named by the config file, read with every layer the supervisor uses
 * (baton.<env>.yaml via BATON_ENV, BATON_CONTROL_SOCKET), so both find the same path. A file
 * with errors still names its socket (control.socket when valid, else the default beside it):
 * the supervisor that runs from it must stay reachable. The errors are then kept in `problems`
 * for the caller to report as what a reload would fail on. Returns 0, or -errno when no socket
 * can be found (the file cannot be read), reported.
 */
static int socket_from_config(const char *path, char **ret, struct baton_buf *problems)
{
    struct baton_config_options options = {.path = path};
    char *socket = NULL;
    int r;

    r = baton__config_control_socket(&options, &socket, problems);
    if (!socket) {
        baton__cli_config_error(problems, r);
        return r < 0 ? r : -EINVAL;
    }
    *ret = socket;
    return 0;
}

/* Says what a reload would fail on, when the socket was found through a broken file. */
static void report_config_problems(const struct baton_cli_args *args,
                                   const struct baton_buf *problems, bool connected)
{
    /* A reload reads the file itself, and the supervisor's answer carries the same errors. */
    if (!problems->len || (connected && args->command == BATON_CLI_RELOAD && !args->in_place))
        return;
    fprintf(stderr, "baton: warning: the configuration has errors; a reload would fail on:\n");
    baton__cli_config_error(problems, -EINVAL);
}

/* Without -c and without ./baton.yaml, the supervisor to talk to is the one that
 * `baton run --listen ADDR -- CMD` started here: it puts its socket in its working directory. */
static char *socket_without_config(void)
{
    char *cwd = getcwd(NULL, 0), *path;

    if (!cwd)
        return baton__xstrdup("baton.sock");
    path = baton__xasprintf("%s%sbaton.sock", cwd, strcmp(cwd, "/") == 0 ? "" : "/");
    free(cwd);
    return path;
}

int baton__cli_connect(const struct baton_cli_args *args, struct baton_control *c)
{
    const char *env = getenv("BATON_SOCKET");
    struct baton_buf problems = BATON_BUF_INIT(64 * 1024);
    int r, code;

    free(resolved_socket);
    resolved_socket = NULL;
    if (args->socket_path)
        resolved_socket = baton__xstrdup(args->socket_path);
    else if (env && *env)
        resolved_socket = baton__xstrdup(env);
    else if (!args->config_given && access(args->config_path, F_OK) < 0 && errno == ENOENT)
        resolved_socket = socket_without_config();
    else if (socket_from_config(args->config_path, &resolved_socket, &problems) < 0) {
        code = BATON_EXIT_USAGE;
        goto out;
    }

    /* With a broken file and no supervisor, the exit code is the one -s would give (3): the
     * file's errors come first, as the likely reason nobody answers. */
    r = baton__control_connect(c, resolved_socket);
    report_config_problems(args, &problems, r == 0);
    switch (-r) {
    case 0:
        code = BATON_EXIT_OK;
        break;
    case EACCES:
    case EPERM:
        fprintf(stderr, "baton: not allowed to talk to the supervisor at %s (connect: %s)\n",
                resolved_socket, strerror(-r));
        code = BATON_EXIT_FAILED;
        break;
    case ENAMETOOLONG:
        fprintf(stderr, "baton: control socket path too long: %s\n", resolved_socket);
        code = BATON_EXIT_USAGE;
        break;
    case EAGAIN:
        fprintf(stderr, "baton: the supervisor at %s accepts no connections (connect: %s)\n",
                resolved_socket, strerror(-r));
        code = BATON_EXIT_UNREACHABLE;
        break;
    default:
        /* ENOENT, ECONNREFUSED (a stale socket file, or not a socket), ENOTDIR, ... */
        fprintf(stderr, "baton: no supervisor at %s (connect: %s)\n", resolved_socket,
                strerror(-r));
        code = BATON_EXIT_UNREACHABLE;
        break;
    }
out:
    baton__buf_free(&problems);
    return code;
}

void baton__cli_disconnect(struct baton_control *c)
{
    baton__control_close(c);
    free(resolved_socket);
    resolved_socket = NULL;
}

/* Reports a line that is not a JSON object, shortened to what fits a terminal line. */
static void bad_reply(const struct baton_control *c, const char *line, size_t len)
{
    fprintf(stderr, "baton: unreadable reply from the supervisor at %s: %.*s%s\n", c->path,
            (int)(len > 200 ? 200 : len), line, len > 200 ? "..." : "");
}

int baton__cli_request(struct baton_control *c, const char *request, size_t len,
                       uint64_t deadline_ms, baton_cli_event_fn on_event, void *ctx,
                       struct baton_doc **ret_doc, const struct baton_doc_node **ret_root,
                       const char **ret_line)
{
    return baton__cli_request_ticking(c, request, len, deadline_ms, on_event, NULL, ctx, ret_doc,
                                      ret_root, ret_line);
}

int baton__cli_request_ticking(struct baton_control *c, const char *request, size_t len,
                               uint64_t deadline_ms, baton_cli_event_fn on_event,
                               void (*on_tick)(void *ctx), void *ctx, struct baton_doc **ret_doc,
                               const struct baton_doc_node **ret_root, const char **ret_line)
{
    int r = baton__control_send(c, request, len);

    /* A supervisor that refuses us (another uid) writes its reason and closes, maybe before
     * our request arrived: a failed send still leaves that reason to read. */
    if (r < 0 && r != -EPIPE && r != -ECONNRESET) {
        fprintf(stderr, "baton: cannot send to the supervisor at %s: %s\n", c->path, strerror(-r));
        return BATON_EXIT_FAILED;
    }
    for (;;) {
        struct baton_doc *doc = NULL;
        const struct baton_doc_node *root;
        char *line;
        size_t n;

        /* With a tick, the read gives up every tick (a partial line stays buffered). */
        uint64_t until = deadline_ms;
        if (on_tick) {
            uint64_t tick = baton__clock_now_ms() + BATON_CLI_TICK_MS;
            until = deadline_ms && deadline_ms < tick ? deadline_ms : tick;
        }
        r = baton__control_read_line(c, until, &line, &n);
        if (r == -ETIMEDOUT && until != deadline_ms) {
            on_tick(ctx);
            continue;
        }
        if (r == 0) {
            fprintf(stderr, "baton: the supervisor at %s closed the connection without an answer\n",
                    c->path);
            return BATON_EXIT_FAILED;
        }
        if (r == -ETIMEDOUT) {
            fprintf(stderr, "baton: timed out waiting for the supervisor at %s\n", c->path);
            return BATON_EXIT_FAILED;
        }
        if (r == -EMSGSIZE) {
            fprintf(stderr, "baton: reply from the supervisor at %s is longer than %u bytes\n",
                    c->path, BATON_CONTROL_MAX_REPLY);
            return BATON_EXIT_FAILED;
        }
        if (r < 0) {
            fprintf(stderr, "baton: reading from the supervisor at %s: %s\n", c->path,
                    strerror(-r));
            return BATON_EXIT_FAILED;
        }
        if (n == 0)
            continue;
        if (baton__reply_parse(line, n, &doc, NULL) < 0) {
            bad_reply(c, line, n);
            return BATON_EXIT_FAILED;
        }
        root = baton__doc_root(doc);
        if (baton__doc_get(root, "ok")) {
            *ret_doc = doc;
            *ret_root = root;
            *ret_line = line;
            return BATON_EXIT_OK;
        }
        if (on_event)
            on_event(ctx, line, n, root);
        baton__doc_free(doc);
    }
}
