/* SPDX-License-Identifier: MIT */
/* Program-level logging (the supervisor, the CLI, baton-web's main): one line per event on
 * stderr, as text or as a JSON object ({"ts","level","msg","gen","pid",...}). Libraries do not
 * log; they return errors to code that does. */
#ifndef BATON_COMMON_LOG_H
#define BATON_COMMON_LOG_H

#include <stdarg.h>
#include <stddef.h>

enum baton_log_level {
    BATON_LOG_DEBUG,
    BATON_LOG_INFO,
    BATON_LOG_NOTICE,
    BATON_LOG_WARNING,
    BATON_LOG_ERROR,
    BATON_LOG_ALERT, /* a broken invariant; tests fail when one appears */
};

enum baton_log_format {
    BATON_LOG_TEXT,
    BATON_LOG_JSON,
    /* For a program whose stderr a supervisor reads (baton, or systemd's journal): the message
     * alone behind a syslog level prefix, "<6>listening on ...". The reader adds the time and
     * the tags and takes the level from the prefix. */
    BATON_LOG_SUPERVISED,
};

/* Sets the program name shown in text lines, the format and the lowest level written. */
void baton__log_setup(const char *program, enum baton_log_format format,
                      enum baton_log_level min_level);

/* "debug", "info", "notice", "warning"/"warn", "error", "alert". Returns 0 or -EINVAL. */
int baton__log_level_parse(const char *text, enum baton_log_level *ret);
/* "text" or "json". Returns 0 or -EINVAL. */
int baton__log_format_parse(const char *text, enum baton_log_format *ret);
const char *baton__log_level_name(enum baton_log_level level);

/* Lines not written since the last one that was (a full disk, a closed pipe). The next line that
 * can be written is preceded by one warning saying how many were lost and why. */
unsigned long long baton__log_lost(void);

/* Logs a message. gen and pid are attached when >= 0. */
void baton__log(enum baton_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void baton__log_at(enum baton_log_level level, long gen, long pid, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void baton__log_vat(enum baton_log_level level, long gen, long pid, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));

/* Logs one line a worker wrote to stdout or stderr (stream "stdout"/"stderr"), tagged with its
 * generation and pid. The line need not be NUL-terminated and is written verbatim in text mode,
 * escaped in JSON mode. A leading syslog level prefix ("<3>" ... "<7>", as BATON_LOG_SUPERVISED
 * and journald-aware programs write) sets the level and is dropped from the message. */
void baton__log_worker_line(long gen, long pid, const char *stream, const char *line, size_t len);

/* A tap on every line logged (at or above the level set): tap(ctx, json, len) gets the line as
 * one JSON object ({"ts","level","msg","gen","pid","stream"}, no newline) whatever the output
 * format, during the call only. NULL removes it. Lines logged from inside the tap reach the
 * output but not the tap again. (The supervisor keeps its recent lines for `baton logs`.) */
void baton__log_set_tap(void (*tap)(void *ctx, const char *json, size_t len), void *ctx);

#endif
