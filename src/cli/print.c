/* SPDX-License-Identifier: MIT */
#include "cli/internal.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *baton__cli_text(const struct baton_doc_node *obj, const char *key, const char *fallback)
{
    const char *text;
    return baton__doc_get_str(obj, key, &text, NULL, 0) == 0 ? text : fallback;
}

bool baton__cli_int(const struct baton_doc_node *obj, const char *key, long long *ret)
{
    int64_t v;
    if (baton__doc_get_int(obj, key, INT64_MIN, INT64_MAX, &v, NULL, 0) < 0)
        return false;
    *ret = (long long)v;
    return true;
}

bool baton__cli_true(const struct baton_doc_node *obj, const char *key)
{
    bool v = false;
    return baton__doc_get_bool(obj, key, &v, NULL, 0) == 0 && v;
}

char *baton__cli_format_ms(long long ms, char *buf, size_t size)
{
    if (ms < 0)
        snprintf(buf, size, "?");
    else if (ms < 1000)
        snprintf(buf, size, "%lldms", ms);
    else if (ms < 60000)
        snprintf(buf, size, "%lld.%llds", ms / 1000, ms % 1000 / 100);
    else if (ms < 3600000)
        snprintf(buf, size, "%lldm%llds", ms / 60000, ms % 60000 / 1000);
    else if (ms < 86400000)
        snprintf(buf, size, "%lldh%lldm", ms / 3600000, ms % 3600000 / 60000);
    else
        snprintf(buf, size, "%lldd%lldh", ms / 86400000, ms % 86400000 / 3600000);
    return buf;
}

/* "cause: exit, status 3" and the like, from the reason object of a failed reload. */
static void print_cause(FILE *f, const struct baton_doc_node *reason, const char *indent)
{
    const char *cause = baton__cli_text(reason, "cause", NULL);
    const char *sig = baton__cli_text(reason, "signal", NULL);
    const char *err = baton__cli_text(reason, "errno", NULL);
    long long status;

    if (!cause)
        return;
    fprintf(f, "%scause: %s", indent, cause);
    if (baton__cli_int(reason, "exit_status", &status))
        fprintf(f, ", exit status %lld", status);
    if (sig)
        fprintf(f, ", signal %s%s", strncmp(sig, "SIG", 3) == 0 ? "" : "SIG", sig);
    if (err)
        fprintf(f, ", %s", err);
    if (strcmp(cause, "timeout") == 0)
        fprintf(f, " (not ready within app.ready_timeout)");
    fputc('\n', f);
}

void baton__cli_print_failure(FILE *f, const struct baton_doc_node *result, const char *indent)
{
    const struct baton_doc_node *reason = baton__doc_get(result, "reason");
    const struct baton_doc_node *lines = baton__doc_get(reason, "stderr"), *line = NULL;
    const char *status = baton__cli_text(reason, "status", NULL);
    const char *msg = baton__cli_text(result, "msg", NULL);
    bool header = false;

    print_cause(f, reason, indent);
    if (status && *status)
        fprintf(f, "%slast STATUS=%s\n", indent, status);
    while (
        (line = baton__doc_next(baton__doc_type(lines) == BATON_DOC_ARRAY ? lines : NULL, line))) {
        const char *text = "";
        (void)baton__doc_str(line, &text, NULL);
        if (!header) {
            fprintf(f, "%sstderr (last lines):\n", indent);
            header = true;
        }
        fprintf(f, "%s  | %s\n", indent, text);
    }
    if (msg && *msg)
        fprintf(f, "%s%s\n", indent, msg);
}

void baton__cli_print_success(FILE *f, const struct baton_doc_node *result)
{
    const struct baton_doc_node *timings = baton__doc_get(result, "timings");
    const char *msg = baton__cli_text(result, "msg", NULL);
    long long gen, prev, ready_ms, total_ms;
    char a[32], b[32];
    const char *sep = " (";

    if (msg && *msg)
        fputs(msg, f);
    else if (baton__cli_int(result, "generation", &gen))
        fprintf(f, "generation %lld is serving", gen);
    else
        fputs("done", f);
    /* The supervisor's own message already tells what happened to the previous generation. */
    if (!(msg && *msg) && baton__cli_int(result, "previous", &prev) && prev > 0) {
        fprintf(f, "%sreplaced generation %lld", sep, prev);
        sep = "; ";
    }
    if (baton__cli_int(timings, "ready_ms", &ready_ms)) {
        fprintf(f, "%sready in %s", sep, baton__cli_format_ms(ready_ms, a, sizeof(a)));
        sep = ", ";
    }
    if (baton__cli_int(timings, "total_ms", &total_ms)) {
        fprintf(f, "%s%s in all", sep, baton__cli_format_ms(total_ms, b, sizeof(b)));
        sep = ", ";
    }
    fputs(sep[0] == ' ' ? "\n" : ")\n", f);
}

const char *baton__cli_color(FILE *f, enum baton_color color)
{
    static const char *const seq[] = {"\033[0m", "\033[1;32m", "\033[1;31m", "\033[1;33m"};
    const char *no = getenv("NO_COLOR");
    if ((no && *no) || !isatty(fileno(f)))
        return "";
    return seq[color];
}
