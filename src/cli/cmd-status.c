/* SPDX-License-Identifier: MIT */
/* `baton status [--json] [--watch]`: the supervisor's generations and workers, for people or
 * programs, once or refreshed. */
#include "cli/internal.h"

#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* How long status waits for its answer: the supervisor replies from its event loop at once. */
#define STATUS_TIMEOUT_MS 10000

static const char *text_or(const struct baton_doc_node *obj, const char *key, const char *fallback)
{
    const char *text = baton__cli_text(obj, key, NULL);
    return text && *text ? text : fallback;
}

/* The items of member `key` when it is an array: the next after prev (NULL: the first). */
static const struct baton_doc_node *next_item(const struct baton_doc_node *obj, const char *key,
                                              const struct baton_doc_node *prev)
{
    const struct baton_doc_node *array;
    if (baton__doc_get_array(obj, key, &array, NULL, 0) < 0)
        return NULL;
    return baton__doc_next(array, prev);
}

/* Writes argv as a shell would need it, so it can be copied and run. */
static void print_command(FILE *f, const struct baton_doc_node *generation)
{
    const struct baton_doc_node *item = NULL;
    const char *sep = "";

    while ((item = next_item(generation, "command", item))) {
        const char *arg = "";
        (void)baton__doc_str(item, &arg, NULL);
        if (*arg && strcspn(arg, " \t\n'\"\\$`*?;&|<>()#~") == strlen(arg))
            fprintf(f, "%s%s", sep, arg);
        else {
            fprintf(f, "%s'", sep);
            for (const char *p = arg; *p; p++) {
                if (*p == '\'')
                    fputs("'\\''", f);
                else
                    fputc(*p, f);
            }
            fputc('\'', f);
        }
        sep = " ";
    }
}

static void print_workers(const struct baton_doc_node *generation)
{
    const struct baton_doc_node *w = NULL;
    bool header = false;

    while ((w = next_item(generation, "workers", w))) {
        long long pid = 0, slot = -1, restarts = 0, ready_ms = -1;
        char pid_text[24], slot_text[24], ready[32];

        if (!header) {
            printf("  %-8s %-5s %-9s %-9s %-9s %s\n", "PID", "SLOT", "STATE", "RESTARTS",
                   "READY IN", "STATUS");
            header = true;
        }
        baton__cli_int(w, "pid", &pid);
        baton__cli_int(w, "slot", &slot);
        baton__cli_int(w, "restarts", &restarts);
        baton__cli_int(w, "ready_ms", &ready_ms);
        snprintf(pid_text, sizeof(pid_text), pid > 0 ? "%lld" : "-", pid);
        snprintf(slot_text, sizeof(slot_text), slot >= 0 ? "%lld" : "-", slot);
        const char *state = text_or(w, "state", "?");
        enum baton_color color = strcmp(state, "ready") == 0     ? BATON_COLOR_OK
                                 : strcmp(state, "backoff") == 0 ? BATON_COLOR_BAD
                                                                 : BATON_COLOR_WARN;
        printf("  %-8s %-5s %s%-9s%s %-9lld %-9s %s\n", pid_text, slot_text,
               baton__cli_color(stdout, color), state, baton__cli_color(stdout, BATON_COLOR_OFF),
               restarts, ready_ms >= 0 ? baton__cli_format_ms(ready_ms, ready, sizeof(ready)) : "-",
               text_or(w, "status", ""));
    }
    if (!header)
        printf("  (no workers)\n");
}

static void print_generations(const struct baton_doc_node *status)
{
    const struct baton_doc_node *g = NULL;

    while ((g = next_item(status, "generations", g))) {
        long long id = 0, ago;
        char t[32];

        baton__cli_int(g, "id", &id);
        printf("\ngeneration %lld: %s", id, text_or(g, "state", "?"));
        if (baton__cli_text(g, "release", NULL))
            printf(", release %s", baton__cli_text(g, "release", NULL));
        if (baton__cli_int(g, "started_ms_ago", &ago))
            printf(", started %s ago", baton__cli_format_ms(ago, t, sizeof(t)));
        putchar('\n');
        if (baton__doc_get(g, "command")) {
            printf("  command: ");
            print_command(stdout, g);
            putchar('\n');
        }
        if (baton__cli_text(g, "dir", NULL))
            printf("  dir: %s\n", baton__cli_text(g, "dir", NULL));
        print_workers(g);
    }
}

static void print_health(const struct baton_doc_node *status)
{
    const struct baton_doc_node *slot = NULL, *last = NULL;
    long long restarts;
    const char *sep = " (slots ";

    putchar('\n');
    if (baton__cli_int(status, "restarts", &restarts))
        printf("restarts: %lld\n", restarts);
    if (baton__cli_true(status, "crash_loop")) {
        printf("%swarning%s: crash loop: workers keep exiting and being restarted",
               baton__cli_color(stdout, BATON_COLOR_WARN),
               baton__cli_color(stdout, BATON_COLOR_OFF));
        while ((slot = next_item(status, "crash_loop_slots", slot))) {
            const char *text = baton__doc_number_text(slot);
            if (!text && baton__doc_str(slot, &text, NULL) < 0)
                text = "?";
            printf("%s%s", sep, text);
            sep = ", ";
        }
        printf("%s\n", sep[1] == '(' ? "" : ")");
    }
    if (baton__doc_get_object(status, "last_reload", &last, NULL, 0) < 0) {
        printf("last reload: none\n");
    } else if (baton__cli_true(last, "ok")) {
        printf("last reload: %sok%s: ", baton__cli_color(stdout, BATON_COLOR_OK),
               baton__cli_color(stdout, BATON_COLOR_OFF));
        baton__cli_print_success(stdout, last);
    } else {
        printf("last reload: %sfailed%s: %s\n", baton__cli_color(stdout, BATON_COLOR_BAD),
               baton__cli_color(stdout, BATON_COLOR_OFF),
               text_or(last, "error", "no reason given"));
        baton__cli_print_failure(stdout, last, "  ");
    }
    /* The config watch's verdict on the files as they are now (absent: an older supervisor). */
    const char *config_error = baton__cli_text(status, "config_error", NULL);
    if (config_error && *config_error)
        printf("configuration: %snot applied%s: %s\n", baton__cli_color(stdout, BATON_COLOR_BAD),
               baton__cli_color(stdout, BATON_COLOR_OFF), config_error);
    else if (baton__cli_true(status, "config_watch"))
        printf("configuration: watched, applied on change\n");
}

static void print_status(const struct baton_doc_node *status)
{
    const struct baton_doc_node *l = NULL;
    long long pid, uptime, gen;
    char t[32];

    printf("%s: %s", text_or(status, "name", "baton"), text_or(status, "state", "?"));
    if (baton__cli_int(status, "pid", &pid))
        printf(", supervisor pid %lld", pid);
    if (baton__cli_int(status, "uptime_ms", &uptime))
        printf(", up %s", baton__cli_format_ms(uptime, t, sizeof(t)));
    if (baton__cli_int(status, "generation", &gen))
        printf(", serving generation %lld", gen);
    if (baton__cli_text(status, "version", NULL))
        printf(", baton %s", baton__cli_text(status, "version", NULL));
    putchar('\n');
    if (baton__doc_get(status, "release")) { /* with release.root */
        const char *rel = baton__cli_text(status, "release", NULL);
        printf("release: %s\n", rel && *rel ? rel : "no release (waiting for baton deploy)");
        if (baton__cli_text(status, "deploy", NULL))
            printf("running: %s\n", baton__cli_text(status, "deploy", NULL));
        const struct baton_doc_node *src = baton__doc_get(status, "source");
        if (src && baton__cli_text(src, "line", NULL))
            printf("source: %s\n", baton__cli_text(src, "line", NULL));
    }
    while ((l = next_item(status, "listeners", l))) {
        long long fd;
        printf("listen: %s %s", text_or(l, "name", "?"), text_or(l, "address", "?"));
        if (baton__cli_int(l, "fd", &fd))
            printf(" (fd %lld)", fd);
        if (strcmp(text_or(l, "state", ""), "closing") == 0) {
            /* Removed by a reload: open until the generations still on it are gone. */
            const struct baton_doc_node *g = NULL;
            int64_t id;
            printf(" (closing: used by generation");
            while ((g = next_item(l, "generations", g)))
                if (baton__doc_int(g, 0, INT64_MAX, &id) == 0)
                    printf(" %lld", (long long)id);
            putchar(')');
        }
        putchar('\n');
    }
    print_generations(status);
    print_health(status);
}

/* One status request and its printing. */
static int status_once(const struct baton_cli_args *args)
{
    static const char request[] = "{\"cmd\":\"status\"}";
    struct baton_control c = {.fd = -1};
    struct baton_doc *doc = NULL;
    const struct baton_doc_node *status;
    const char *line;
    int code;

    code = baton__cli_connect(args, &c);
    if (code != BATON_EXIT_OK)
        goto out;
    code = baton__cli_request(&c, request, sizeof(request) - 1,
                              baton__clock_now_ms() + STATUS_TIMEOUT_MS, NULL, NULL, &doc, &status,
                              &line);
    if (code != BATON_EXIT_OK)
        goto out;
    if (!baton__cli_true(status, "ok"))
        code = BATON_EXIT_FAILED;
    if (args->json) {
        printf("%s\n", line);
    } else if (code != BATON_EXIT_OK) {
        fprintf(stderr, "baton: %s\n", text_or(status, "error", "status refused"));
    } else {
        print_status(status);
    }
out:
    baton__doc_free(doc);
    baton__cli_disconnect(&c);
    return code;
}

/* How often --watch refreshes. */
#define WATCH_INTERVAL_MS 2000

int baton__cmd_status(const struct baton_cli_args *args)
{
    if (!args->watch)
        return status_once(args);
    /* On a terminal each refresh replaces the last (cursor home, clear the screen); elsewhere
     * (a pipe, a log) they follow each other. Ends when the supervisor is gone, or Ctrl-C. */
    bool tty = !args->json && isatty(STDOUT_FILENO);
    for (;;) {
        if (tty)
            fputs("\033[H\033[2J", stdout);
        int code = status_once(args);
        if (code != BATON_EXIT_OK)
            return code;
        if (tty)
            printf("\n(refreshing every %ds; Ctrl-C to stop)\n", WATCH_INTERVAL_MS / 1000);
        else if (!args->json)
            putchar('\n');
        fflush(stdout);
        struct timespec ts = {WATCH_INTERVAL_MS / 1000, (WATCH_INTERVAL_MS % 1000) * 1000000L};
        while (nanosleep(&ts, &ts) < 0)
            ;
    }
}
