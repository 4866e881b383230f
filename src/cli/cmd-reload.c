/* SPDX-License-Identifier: MIT */
/* `baton reload [--in-place] [--wait] [--timeout DUR] [--json]`: one synchronous transaction,
 * its progress shown as it happens (progress.c). */
#include "cli/internal.h"

#include <string.h>

#include "common/json.h"

/* How long past --timeout the client still waits, so the supervisor's own "timed out" verdict
 * (with its reason) arrives before the client gives up on it. */
#define CLIENT_GRACE_MS 1000

static void build_request(const struct baton_cli_args *args, struct baton_buf *req)
{
    (void)baton__buf_puts(req, "{");
    (void)baton__json_kv_str(req, "cmd", "reload");
    (void)baton__json_kv_bool(req, "wait", args->wait);
    (void)baton__json_kv_int(req, "timeout_ms", (long long)args->timeout_ms);
    if (args->in_place)
        (void)baton__json_kv_bool(req, "in_place", 1);
    (void)baton__buf_puts(req, "}");
}

int baton__cmd_reload(const struct baton_cli_args *args)
{
    struct baton_control c = {.fd = -1};
    struct baton_buf req = BATON_BUF_INIT(BATON_BUF_UNBOUNDED);
    struct baton_doc *doc = NULL;
    struct baton_cli_progress progress;
    const struct baton_doc_node *result;
    const char *line, *error;
    uint64_t deadline = 0;
    int code;

    code = baton__cli_connect(args, &c);
    if (code != BATON_EXIT_OK)
        goto out;
    build_request(args, &req);
    if (args->timeout_given && args->timeout_ms > 0)
        deadline = baton__clock_now_ms() + args->timeout_ms + CLIENT_GRACE_MS;
    baton__cli_progress_init(&progress, stdout, args->json);
    code = baton__cli_request_ticking(&c, req.data, req.len, deadline, baton__cli_progress_on_event,
                                      baton__cli_progress_on_tick, &progress, &doc, &result, &line);
    baton__cli_progress_end(&progress);
    if (code != BATON_EXIT_OK)
        goto out;

    code = baton__cli_true(result, "ok") ? BATON_EXIT_OK : BATON_EXIT_FAILED;
    if (args->json) {
        printf("%s\n", line);
    } else if (code == BATON_EXIT_OK) {
        fputs(baton__cli_color(stdout, BATON_COLOR_OK), stdout);
        baton__cli_print_success(stdout, result);
        fputs(baton__cli_color(stdout, BATON_COLOR_OFF), stdout);
    } else {
        error = baton__cli_text(result, "error", "");
        fprintf(stderr, "baton: %s%s%s\n", baton__cli_color(stderr, BATON_COLOR_BAD),
                *error ? error : "reload failed", baton__cli_color(stderr, BATON_COLOR_OFF));
        if (baton__cli_true(result, "busy") && !args->wait)
            fprintf(stderr, "  (baton reload --wait queues behind the running transition)\n");
        baton__cli_print_failure(stderr, result, "  ");
    }
out:
    baton__doc_free(doc);
    baton__buf_free(&req);
    baton__cli_disconnect(&c);
    return code;
}
