/* SPDX-License-Identifier: MIT */
/* `baton logs [-f] [-n N] [--json]`: the supervisor's recent log lines (its own and its workers'
 * tagged output, from the ring in src/supervisor/logs.c), then new ones as they come. */
#include "cli/internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/xmalloc.h"

/* How long the kept lines may take to arrive (the supervisor sends them at once). */
#define LOGS_TIMEOUT_MS 10000

/* One log entry ({"ts","level","msg","gen","pid","stream"}) as a line for people. */
static void print_entry(const char *line, size_t len, const struct baton_doc_node *entry, bool json)
{
    if (json) {
        fwrite(line, 1, len, stdout);
        fputc('\n', stdout);
        return;
    }
    const char *ts = baton__cli_text(entry, "ts", NULL),
               *level = baton__cli_text(entry, "level", NULL);
    const char *msg = baton__cli_text(entry, "msg", NULL),
               *stream = baton__cli_text(entry, "stream", NULL);
    long long gen = -1, pid = -1;
    baton__cli_int(entry, "gen", &gen);
    baton__cli_int(entry, "pid", &pid);
    level = level ? level : "?";
    enum baton_color color = strcmp(level, "error") == 0 || strcmp(level, "alert") == 0
                                 ? BATON_COLOR_BAD
                             : strcmp(level, "warning") == 0 ? BATON_COLOR_WARN
                                                             : BATON_COLOR_OFF;
    printf("%s %s%-7s%s", ts ? ts : "?", color ? baton__cli_color(stdout, color) : "", level,
           color ? baton__cli_color(stdout, BATON_COLOR_OFF) : "");
    if (gen >= 0 && pid >= 0)
        printf(" [gen %lld pid %lld%s%s]", gen, pid, stream ? " " : "", stream ? stream : "");
    else if (gen >= 0)
        printf(" [gen %lld]", gen);
    printf(" %s\n", msg ? msg : "");
}

/* The entry of a log event as the supervisor wrote it (control.c: {"event":"log","entry":E}),
 * for --json to print it unchanged: *ret_len bytes at the returned pointer. */
static const char *raw_entry(const char *line, size_t len, size_t *ret_len)
{
    static const char prefix[] = "{\"event\":\"log\",\"entry\":";
    size_t p = sizeof(prefix) - 1;
    if (len < p + 3 || memcmp(line, prefix, p) != 0 || line[len - 1] != '}')
        return NULL;
    *ret_len = len - p - 1;
    return line + p;
}

/* Prints one log event line (its entry parsed from root). */
static void print_event(const char *line, size_t len, const struct baton_doc_node *entry, bool json)
{
    size_t n;
    const char *raw = raw_entry(line, len, &n);
    if (raw)
        print_entry(raw, n, entry, json);
    else
        print_entry(line, len, entry, json); /* not the supervisor's layout: the whole event */
}

/* The kept lines' events, until the reply says how many there are (for -n). */
struct kept {
    char **lines;
    size_t n, cap;
};

int baton__cmd_logs(const struct baton_cli_args *args)
{
    char request[64];
    struct baton_control c = {.fd = -1};
    struct kept kept = {0};
    int code, len;

    len = snprintf(request, sizeof(request), "{\"cmd\":\"logs\",\"follow\":%s}",
                   args->follow ? "true" : "false");
    code = baton__cli_connect(args, &c);
    if (code != BATON_EXIT_OK)
        goto out;
    if (baton__control_send(&c, request, (size_t)len) < 0) {
        fprintf(stderr, "baton: %s: cannot send the request\n", c.path);
        code = BATON_EXIT_UNREACHABLE;
        goto out;
    }
    /* The kept lines (events), then the reply; -n keeps the last N of them. */
    bool backlog = true;
    for (;;) {
        char *line;
        size_t n;
        uint64_t deadline = backlog ? baton__clock_now_ms() + LOGS_TIMEOUT_MS : 0;
        int r = baton__control_read_line(&c, deadline, &line, &n);
        if (r == 0 && !backlog) {
            code = BATON_EXIT_OK; /* the supervisor stopped: the end of the log */
            break;
        }
        if (r <= 0) {
            fprintf(stderr, "baton: %s: %s\n", c.path,
                    r == 0 ? "the supervisor closed the connection" : strerror(-r));
            code = BATON_EXIT_FAILED;
            break;
        }
        struct baton_doc *doc = NULL;
        struct baton_buf err = BATON_BUF_INIT(1024);
        if (baton__reply_parse(line, n, &doc, &err) < 0) {
            fprintf(stderr, "baton: unreadable reply from the supervisor: %s\n",
                    err.data ? err.data : "?");
            baton__buf_free(&err);
            code = BATON_EXIT_FAILED;
            break;
        }
        baton__buf_free(&err);
        const struct baton_doc_node *root = baton__doc_root(doc);
        const struct baton_doc_node *entry = baton__doc_get(root, "entry");
        if (backlog && entry) {
            if (kept.n == kept.cap) {
                kept.cap = kept.cap ? 2 * kept.cap : 256;
                kept.lines = baton__xrealloc(kept.lines, kept.cap * sizeof(*kept.lines));
            }
            kept.lines[kept.n++] = baton__xstrndup(line, n);
        } else if (entry) {
            print_event(line, n, entry, args->json);
            fflush(stdout);
        } else if (baton__cli_true(root, "ok")) {
            size_t from = args->lines && args->lines < kept.n ? kept.n - args->lines : 0;
            for (size_t i = from; i < kept.n; i++) {
                struct baton_doc *d = NULL;
                struct baton_buf e2 = BATON_BUF_INIT(1024);
                if (baton__reply_parse(kept.lines[i], strlen(kept.lines[i]), &d, &e2) == 0) {
                    const struct baton_doc_node *e = baton__doc_get(baton__doc_root(d), "entry");
                    if (e)
                        print_event(kept.lines[i], strlen(kept.lines[i]), e, args->json);
                }
                baton__buf_free(&e2);
                baton__doc_free(d);
            }
            fflush(stdout);
            backlog = false;
            if (!args->follow) {
                baton__doc_free(doc);
                code = BATON_EXIT_OK;
                break;
            }
        } else {
            const char *error = baton__cli_text(root, "error", NULL);
            fprintf(stderr, "baton: %s\n", error ? error : "logs refused");
            baton__doc_free(doc);
            code = BATON_EXIT_FAILED;
            break;
        }
        baton__doc_free(doc);
    }
out:
    for (size_t i = 0; i < kept.n; i++)
        free(kept.lines[i]);
    free(kept.lines);
    baton__cli_disconnect(&c);
    return code;
}
