/* SPDX-License-Identifier: MIT */
/* `baton deploy ARTIFACT ...` and `baton rollback [VERSION]`: the supervisor does the work
 * (src/supervisor/deploy.c); this streams its progress and prints the result. Killing this
 * process stops only the watching: the deploy goes on. */
#include "cli/internal.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/json.h"

static void on_progress(void *ctx, const char *line, size_t len, const struct baton_doc_node *event)
{
    const struct baton_cli_args *args = ctx;
    const char *msg = baton__cli_text(event, "msg", NULL);
    const char *step = baton__cli_text(event, "step", NULL);
    long long elapsed, step_ms;
    char t[32], s[32];

    if (args->json) {
        fwrite(line, 1, len, stdout);
        fputc('\n', stdout);
    } else if (msg) {
        bool timed = baton__cli_int(event, "step_ms", &step_ms);
        if (!baton__cli_int(event, "elapsed_ms", &elapsed))
            elapsed = 0;
        if (timed)
            printf("[+%s] %-9s %s (%s)\n", baton__cli_format_ms(elapsed, t, sizeof(t)),
                   step ? step : "", msg, baton__cli_format_ms(step_ms, s, sizeof(s)));
        else
            printf("[+%s] %-9s %s\n", baton__cli_format_ms(elapsed, t, sizeof(t)), step ? step : "",
                   msg);
    }
    fflush(stdout);
}

int baton__cmd_deploy(const struct baton_cli_args *args)
{
    struct baton_control c = {.fd = -1};
    struct baton_buf req = BATON_BUF_INIT(4 * PATH_MAX);
    struct baton_doc *doc = NULL;
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
    code = baton__cli_request(&c, req.data, req.len, 0, on_progress, (void *)args, &doc, &result,
                              &line);
    if (code != BATON_EXIT_OK)
        goto out;
    code = baton__cli_true(result, "ok") ? BATON_EXIT_OK : BATON_EXIT_FAILED;
    const char *msg = baton__cli_text(result, "msg", NULL);
    if (args->json) {
        printf("%s\n", line);
    } else if (code == BATON_EXIT_OK) {
        printf("%s\n", msg ? msg : "done");
    } else {
        error = baton__cli_text(result, "error", NULL);
        fprintf(stderr, "baton: %s\n", error && *error ? error : "failed");
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
