/* SPDX-License-Identifier: MIT */
/*
 * The progress of a reload, deploy or rollback as it happens. Each event of the supervisor is
 * one line: "[+1.2s] ready     generation 2: worker 812 ready in 1103ms (1/2) (1.1s)", the
 * step's own time last. On a
 * terminal, a step that takes over a second gets a line of its own below the last one, redrawn
 * in place (carriage return and erase-line) every tick with a spinner and the time it has taken
 * so far; the next event erases it and is printed in its place. Not a terminal (a pipe, a log):
 * the event lines alone, with no control character. --json: the events as the supervisor sent
 * them, one JSON object a line (event, step, msg, gen, elapsed_ms, step_ms).
 */
#include "cli/internal.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"

/* A step is shown as running once it has taken this long. */
#define SPIN_AFTER_MS 1000

void baton__cli_progress_init(struct baton_cli_progress *p, FILE *out, bool json)
{
    const char *term = getenv("TERM");
    memset(p, 0, sizeof(*p));
    p->out = out;
    p->json = json;
    /* A terminal that cannot move its cursor (TERM=dumb) gets the plain lines. */
    p->live = !json && isatty(fileno(out)) && !(term && strcmp(term, "dumb") == 0);
    p->started_ms = p->last_ms = baton__clock_now_ms();
}

static void erase(struct baton_cli_progress *p)
{
    if (!p->drawn)
        return;
    fputs("\r\033[K", p->out);
    p->drawn = false;
}

void baton__cli_progress_event(struct baton_cli_progress *p, const char *line, size_t len,
                               const struct baton_doc_node *event)
{
    const char *msg = baton__cli_text(event, "msg", NULL);
    const char *step = baton__cli_text(event, "step", "");
    long long elapsed, step_ms;
    char t[32], s[32];

    if (p->json) {
        fwrite(line, 1, len, p->out);
        fputc('\n', p->out);
        fflush(p->out);
        return;
    }
    if (!msg)
        return;
    erase(p);
    p->last_ms = baton__clock_now_ms();
    snprintf(p->msg, sizeof(p->msg), "%s", msg);
    if (baton__cli_int(event, "elapsed_ms", &elapsed)) {
        p->elapsed_ms = elapsed;
        fprintf(p->out, "[+%s] ", baton__cli_format_ms(elapsed, t, sizeof(t)));
    } else {
        p->elapsed_ms = (long long)(p->last_ms - p->started_ms);
    }
    if (*step)
        fprintf(p->out, "%-9s ", step);
    fputs(msg, p->out);
    if (baton__cli_int(event, "step_ms", &step_ms))
        fprintf(p->out, " (%s)", baton__cli_format_ms(step_ms, s, sizeof(s)));
    fputc('\n', p->out);
    /* Progress is only worth something while it happens, also through a pipe. */
    fflush(p->out);
}

void baton__cli_progress_tick(struct baton_cli_progress *p)
{
    static const char spin[] = "|/-\\";
    char t[32], s[32];
    if (!p->live)
        return;
    uint64_t now = baton__clock_now_ms(), waited = now - p->last_ms;
    if (waited < SPIN_AFTER_MS)
        return;
    /* The supervisor's elapsed time at the last event, plus ours since. */
    fprintf(p->out, "\r\033[K[+%s] %c waiting %s%s%s",
            baton__cli_format_ms(p->elapsed_ms + (long long)waited, t, sizeof(t)),
            spin[p->frame++ % 4], baton__cli_format_ms((long long)waited, s, sizeof(s)),
            p->msg[0] ? " after: " : "", p->msg);
    p->drawn = true;
    fflush(p->out);
}

void baton__cli_progress_end(struct baton_cli_progress *p)
{
    erase(p);
    fflush(p->out);
}

void baton__cli_progress_on_event(void *ctx, const char *line, size_t len,
                                  const struct baton_doc_node *event)
{
    baton__cli_progress_event(ctx, line, len, event);
}

void baton__cli_progress_on_tick(void *ctx)
{
    baton__cli_progress_tick(ctx);
}
