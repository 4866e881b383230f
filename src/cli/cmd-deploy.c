/* SPDX-License-Identifier: MIT */
/* `baton deploy ARTIFACT ...` and `baton rollback [VERSION]`: the supervisor does the work
 * (src/supervisor/deploy.c); this streams its progress (progress.c: a line per step, on a
 * terminal a running step redrawn in place) and prints the result, coloured on a terminal.
 * Killing this process stops only the watching: the deploy goes on. */
#include "cli/internal.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/json.h"

int baton__cmd_deploy(const struct baton_cli_args *args)
{
    struct baton_control c = {.fd = -1};
    struct baton_buf req = BATON_BUF_INIT(4 * PATH_MAX);
    struct baton_doc *doc = NULL;
    struct baton_cli_progress progress;
    const struct baton_doc_node *result;
    const char *line, *error;
    char path[PATH_MAX];
    bool deploy = args->command == BATON_CLI_DEPLOY;
    int code;

    if (deploy && !realpath(args->positional, path)) {
        fprintf(stderr, "baton: %s: %m\n", args->positional);
        return BATON_EXIT_FAILED;
    }
    code = baton__cli_connect(args, &c);
    if (code != BATON_EXIT_OK)
        goto out;
    (void)baton__buf_puts(&req, "{");
    (void)baton__json_kv_str(&req, "cmd", deploy ? "deploy" : "rollback");
    if (deploy)
        (void)baton__json_kv_str(&req, "artifact", path);
    if (deploy && args->version)
        (void)baton__json_kv_str(&req, "version", args->version);
    if (!deploy && args->positional)
        (void)baton__json_kv_str(&req, "version", args->positional);
    (void)baton__json_kv_bool(&req, "wait", args->wait);
    (void)baton__json_kv_bool(&req, "allow_downgrade", args->allow_downgrade);
    (void)baton__json_kv_bool(&req, "dry_run", args->dry_run);
    (void)baton__buf_puts(&req, "}");
    baton__cli_progress_init(&progress, stdout, args->json);
    code = baton__cli_request_ticking(&c, req.data, req.len, 0, baton__cli_progress_on_event,
                                      baton__cli_progress_on_tick, &progress, &doc, &result, &line);
    baton__cli_progress_end(&progress);
    if (code != BATON_EXIT_OK)
        goto out;
    code = baton__cli_true(result, "ok") ? BATON_EXIT_OK : BATON_EXIT_FAILED;
    const char *msg = baton__cli_text(result, "msg", NULL);
    if (args->json) {
        printf("%s\n", line);
    } else if (code == BATON_EXIT_OK) {
        printf("%s%s%s\n", baton__cli_color(stdout, BATON_COLOR_OK), msg ? msg : "done",
               baton__cli_color(stdout, BATON_COLOR_OFF));
    } else {
        error = baton__cli_text(result, "error", NULL);
        fprintf(stderr, "baton: %s%s%s\n", baton__cli_color(stderr, BATON_COLOR_BAD),
                error && *error ? error : "failed", baton__cli_color(stderr, BATON_COLOR_OFF));
        if (msg && *msg)
            fprintf(stderr, "  %s\n", msg);
        if (baton__cli_true(result, "busy") && !args->wait)
            fprintf(stderr, "  (--wait queues behind the running deploy)\n");
    }
out:
    baton__doc_free(doc);
    baton__buf_free(&req);
    baton__cli_disconnect(&c);
    return code;
}
