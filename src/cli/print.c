#include "cli/internal.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
static void print_cause(FILE *f, struct fy_node *reason, const char *indent)
{
    const char *cause = baton__json_get_text(reason, "cause");
    const char *sig = baton__json_get_text(reason, "signal");
    const char *err = baton__json_get_text(reason, "errno");
    long long status;

    if (!cause)
        return;
    fprintf(f, "%scause: %s", indent, cause);
    if (baton__json_get_int(reason, "exit_status", &status))
        fprintf(f, ", exit status %lld", status);
    if (sig)
        fprintf(f, ", signal %s%s", strncmp(sig, "SIG", 3) == 0 ? "" : "SIG", sig);
    if (err)
        fprintf(f, ", %s", err);
    if (strcmp(cause, "timeout") == 0)
        fprintf(f, " (not ready within app.ready_timeout)");
    fputc('\n', f);
}

void baton__cli_print_failure(FILE *f, struct fy_node *result, const char *indent)
{
    struct fy_node *reason = baton__json_get(result, "reason");
    struct fy_node *lines = baton__json_get(reason, "stderr"), *line;
    const char *status = baton__json_get_text(reason, "status");
    const char *msg = baton__json_get_text(result, "msg");
    void *iter = NULL;
    bool header = false;

    print_cause(f, reason, indent);
    if (status && *status)
        fprintf(f, "%slast STATUS=%s\n", indent, status);
    while ((line = baton__json_next(lines, &iter))) {
        const char *text = baton__json_text(line);
        if (!header) {
            fprintf(f, "%sstderr (last lines):\n", indent);
            header = true;
        }
        fprintf(f, "%s  | %s\n", indent, text ? text : "");
    }
    if (msg && *msg)
        fprintf(f, "%s%s\n", indent, msg);
}

void baton__cli_print_success(FILE *f, struct fy_node *result)
{
    struct fy_node *timings = baton__json_get(result, "timings");
    const char *msg = baton__json_get_text(result, "msg");
    long long gen, prev, ready_ms, total_ms;
    char a[32], b[32];
    const char *sep = " (";

    if (msg && *msg)
        fputs(msg, f);
    else if (baton__json_get_int(result, "generation", &gen))
        fprintf(f, "generation %lld is serving", gen);
    else
        fputs("done", f);
    /* The supervisor's own message already tells what happened to the previous generation. */
    if (!(msg && *msg) && baton__json_get_int(result, "previous", &prev) && prev > 0) {
        fprintf(f, "%sreplaced generation %lld", sep, prev);
        sep = "; ";
    }
    if (baton__json_get_int(timings, "ready_ms", &ready_ms)) {
        fprintf(f, "%sready in %s", sep, baton__cli_format_ms(ready_ms, a, sizeof(a)));
        sep = ", ";
    }
    if (baton__json_get_int(timings, "total_ms", &total_ms)) {
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
