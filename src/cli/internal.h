/* SPDX-License-Identifier: MIT */
/*
 * The `baton` command: one file per subcommand (cmd-*.c), the control-socket client
 * (control-client.c), the session glue they share (session.c) and the human output (print.c).
 */
#ifndef BATON_CLI_INTERNAL_H
#define BATON_CLI_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "cli/args.h"
#include "cli/control-client.h"
#include "common/buf.h"

/* Exit codes (contract, DESIGN.md "Command line"). */
enum baton_exit {
    BATON_EXIT_OK = 0,          /* done */
    BATON_EXIT_FAILED = 1,      /* failed and rolled back, or refused; the message says why */
    BATON_EXIT_USAGE = 2,       /* usage or configuration error */
    BATON_EXIT_UNREACHABLE = 3, /* no supervisor reachable */
};

/* The subcommands. Each returns the process exit code and has written its own messages. */
int baton__cmd_run(const struct baton_cli_args *args);
int baton__cmd_reload(const struct baton_cli_args *args);
int baton__cmd_status(const struct baton_cli_args *args);
int baton__cmd_stop(const struct baton_cli_args *args);
int baton__cmd_logs(const struct baton_cli_args *args);
int baton__cmd_version(const struct baton_cli_args *args);
/* deploy and rollback (cmd-deploy.c), releases (cmd-releases.c) */
int baton__cmd_deploy(const struct baton_cli_args *args);
int baton__cmd_releases(const struct baton_cli_args *args);

/* Writes the usage of `topic` (BATON_CLI_USAGE: the overview of all commands) to f; brief:
 * only its synopsis, with a pointer to `baton help`. */
void baton__cli_usage(FILE *f, enum baton_cli_command topic, bool brief);

/* Writes configuration errors from baton__config_load() (r is its return value) to stderr, one
 * "baton: ..." line per problem. */
void baton__cli_config_error(const struct baton_buf *err, int r);

/*
 * Finds the control socket (-s, else BATON_SOCKET, else the config file's control.socket) and
 * connects to it. A config file with errors still gives its socket (control.socket when that
 * value is valid, else the default beside the file): its errors are printed as a warning, what
 * a reload would fail on, and the outcome is the one -s would give. On success returns 0 with
 * `c` connected (c->path stays valid until baton__cli_disconnect). On failure prints why and
 * returns the exit code: 2 for a config file that cannot be read, 3 when no supervisor is
 * there, 1 when it refuses us.
 */
int baton__cli_connect(const struct baton_cli_args *args, struct baton_control *c);
void baton__cli_disconnect(struct baton_control *c);

/* Called for each progress event line before the result, with the raw line and its parse. */
typedef void (*baton_cli_event_fn)(void *ctx, const char *line, size_t len,
                                   const struct baton_doc_node *event);

/*
 * Sends one request line and reads until the result object (the first line with an "ok"
 * member), handing progress events to on_event (NULL: ignored). deadline_ms as in
 * baton__control_read_line(). On success returns 0 with the result's document (the caller
 * frees it with baton__doc_free), its root object and the raw line (valid until the next read
 * on c). On failure prints why and returns the exit code.
 */
int baton__cli_request(struct baton_control *c, const char *request, size_t len,
                       uint64_t deadline_ms, baton_cli_event_fn on_event, void *ctx,
                       struct baton_doc **ret_doc, const struct baton_doc_node **ret_root,
                       const char **ret_line);
/* The same, calling on_tick(ctx) every BATON_CLI_TICK_MS while it waits (on_tick NULL: never). */
#define BATON_CLI_TICK_MS 100
int baton__cli_request_ticking(struct baton_control *c, const char *request, size_t len,
                               uint64_t deadline_ms, baton_cli_event_fn on_event,
                               void (*on_tick)(void *ctx), void *ctx, struct baton_doc **ret_doc,
                               const struct baton_doc_node **ret_root, const char **ret_line);

/* progress.c: a transaction's progress events as they come (reload, deploy, rollback). */
struct baton_cli_progress {
    FILE *out;
    bool json;            /* the events as JSON lines */
    bool live;            /* a terminal: a running step is redrawn in place */
    bool drawn;           /* the running-step line is on screen */
    unsigned frame;       /* of the spinner */
    uint64_t started_ms;  /* the request sent (our clock) */
    uint64_t last_ms;     /* the last event (our clock) */
    long long elapsed_ms; /* the supervisor's elapsed_ms at the last event */
    char msg[256];        /* the last event's message */
};
/* Starts showing progress on out (--json: json). */
void baton__cli_progress_init(struct baton_cli_progress *p, FILE *out, bool json);
/* One event: its line ("[+1.2s] step message (step time)"), or the JSON line as received. */
void baton__cli_progress_event(struct baton_cli_progress *p, const char *line, size_t len,
                               const struct baton_doc_node *event);
/* Between events: on a terminal, once the running step took over a second, redraws its line. */
void baton__cli_progress_tick(struct baton_cli_progress *p);
/* Erases the running-step line before the verdict is printed. */
void baton__cli_progress_end(struct baton_cli_progress *p);
/* The two above as callbacks of baton__cli_request_ticking() (ctx: the progress). */
void baton__cli_progress_on_event(void *ctx, const char *line, size_t len,
                                  const struct baton_doc_node *event);
void baton__cli_progress_on_tick(void *ctx);

/* Lenient readers for printing a reply: a member that is missing or of another type reads as
 * `fallback` (text), or leaves *ret alone and returns false (numbers, booleans). */
const char *baton__cli_text(const struct baton_doc_node *obj, const char *key,
                            const char *fallback);
bool baton__cli_int(const struct baton_doc_node *obj, const char *key, long long *ret);
bool baton__cli_true(const struct baton_doc_node *obj, const char *key);

/* Writes a duration for people: "35ms", "1.2s", "5m3s", "2h10m". Returns buf. */
char *baton__cli_format_ms(long long ms, char *buf, size_t size);

/* Writes the details of a failed reload result (error, reason, stderr lines, rollback message)
 * to f, each line starting with `indent`. */
void baton__cli_print_failure(FILE *f, const struct baton_doc_node *result, const char *indent);

/* One line summing up a successful reload result: "generation 4 is serving (ready in 35ms)". */
void baton__cli_print_success(FILE *f, const struct baton_doc_node *result);

/* Colour for verdicts: the escape sequence when f is a terminal and NO_COLOR is unset or
 * empty (https://no-color.org), else "". BATON_COLOR_OFF ends a coloured span. */
enum baton_color { BATON_COLOR_OFF, BATON_COLOR_OK, BATON_COLOR_BAD, BATON_COLOR_WARN };
const char *baton__cli_color(FILE *f, enum baton_color color);

#endif
