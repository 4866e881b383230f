/* SPDX-License-Identifier: MIT */
#include "common/log.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/json.h"

/* Longest line written; longer messages are cut (a worker must not make the log unbounded). */
#define LOG_LINE_MAX 8192

static const char *names[] = {"debug", "info", "notice", "warning", "error", "alert"};

static struct {
    const char *program;
    enum baton_log_format format;
    enum baton_log_level min;
} log_state = {"baton", BATON_LOG_TEXT, BATON_LOG_INFO};

/* Lines the destination refused (a full disk, a closed pipe): counted, and said once, in the
 * first line that gets through again. The program goes on either way. */
static struct {
    unsigned long long lost;
    int first_errno;
    bool torn; /* a line was cut short: the next one starts on a line of its own */
    bool reporting;
} log_loss;

void baton__log_setup(const char *program, enum baton_log_format format,
                      enum baton_log_level min_level)
{
    log_state.program = program;
    log_state.format = format;
    log_state.min = min_level;
}

int baton__log_level_parse(const char *text, enum baton_log_level *ret)
{
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcmp(text, names[i]) == 0) {
            *ret = (enum baton_log_level)i;
            return 0;
        }
    }
    if (strcmp(text, "warn") == 0) {
        *ret = BATON_LOG_WARNING;
        return 0;
    }
    return -EINVAL;
}

int baton__log_format_parse(const char *text, enum baton_log_format *ret)
{
    if (strcmp(text, "text") == 0)
        *ret = BATON_LOG_TEXT;
    else if (strcmp(text, "json") == 0)
        *ret = BATON_LOG_JSON;
    else
        return -EINVAL;
    return 0;
}

const char *baton__log_level_name(enum baton_log_level level)
{
    return (unsigned)level < sizeof(names) / sizeof(names[0]) ? names[level] : "?";
}

static void timestamp(char *buf, size_t size, int iso)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    if (iso)
        snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
    else
        snprintf(buf, size, "%02d:%02d:%02d.%03ld", tm.tm_hour, tm.tm_min, tm.tm_sec,
                 ts.tv_nsec / 1000000);
}

/* syslog(3) priorities, as in systemd's SyslogLevelPrefix: emerg 0 ... debug 7. */
static int syslog_priority(enum baton_log_level level)
{
    static const int priorities[] = {7, 6, 5, 4, 3, 1};
    return priorities[level];
}

static enum baton_log_level level_of_priority(int priority)
{
    if (priority <= 1)
        return BATON_LOG_ALERT;
    if (priority <= 3)
        return BATON_LOG_ERROR;
    if (priority == 4)
        return BATON_LOG_WARNING;
    if (priority == 5)
        return BATON_LOG_NOTICE;
    return priority == 6 ? BATON_LOG_INFO : BATON_LOG_DEBUG;
}

static struct {
    void (*fn)(void *ctx, const char *json, size_t len);
    void *ctx;
    bool busy; /* inside fn: a line logged from it does not come back */
} log_tap;

void baton__log_set_tap(void (*tap)(void *ctx, const char *json, size_t len), void *ctx)
{
    log_tap.fn = tap;
    log_tap.ctx = ctx;
}

/* The line as a JSON object, without its newline. */
static void json_line(struct baton_buf *b, const char *ts, enum baton_log_level level, long gen,
                      long pid, const char *stream, const char *msg, size_t msg_len)
{
    baton__buf_puts(b, "{");
    baton__json_kv_str(b, "ts", ts);
    baton__json_kv_str(b, "level", baton__log_level_name(level));
    baton__json_key(b, "msg");
    baton__json_string(b, msg, msg_len);
    if (gen >= 0)
        baton__json_kv_int(b, "gen", gen);
    if (pid >= 0)
        baton__json_kv_int(b, "pid", pid);
    if (stream)
        baton__json_kv_str(b, "stream", stream);
    baton__buf_puts(b, "}");
}

static void tap(enum baton_log_level level, long gen, long pid, const char *stream, const char *msg,
                size_t msg_len)
{
    struct baton_buf b = BATON_BUF_INIT(LOG_LINE_MAX * 2 + 200);
    char ts[96];
    if (!log_tap.fn || log_tap.busy)
        return;
    timestamp(ts, sizeof(ts), 1);
    json_line(&b, ts, level, gen, pid, stream, msg, msg_len);
    if (b.data) {
        log_tap.busy = true;
        log_tap.fn(log_tap.ctx, b.data, b.len);
        log_tap.busy = false;
    }
    baton__buf_free(&b);
}

static void emit(enum baton_log_level level, long gen, long pid, const char *stream,
                 const char *msg, size_t msg_len);

/* Says how many lines were lost and why, before the next line that can be written. */
static void report_loss(void)
{
    char msg[200];
    if (!log_loss.lost || log_loss.reporting)
        return;
    log_loss.reporting = true;
    if (log_loss.torn && write(STDERR_FILENO, "\n", 1) == 1)
        log_loss.torn = false;
    unsigned long long lost = log_loss.lost;
    int n = snprintf(msg, sizeof(msg), "log: %llu line%s could not be written (%s)", lost,
                     lost == 1 ? "" : "s", strerror(log_loss.first_errno));
    log_loss.lost = 0;
    emit(BATON_LOG_WARNING, -1, -1, NULL, msg, (size_t)n < sizeof(msg) ? (size_t)n : 0);
    if (log_loss.lost) /* still failing: the notice waits for the next line */
        log_loss.lost = lost;
    log_loss.reporting = false;
}

unsigned long long baton__log_lost(void)
{
    return log_loss.lost;
}

static void emit(enum baton_log_level level, long gen, long pid, const char *stream,
                 const char *msg, size_t msg_len)
{
    struct baton_buf b = BATON_BUF_INIT(LOG_LINE_MAX + 200);
    char ts[96];

    if (msg_len > LOG_LINE_MAX)
        msg_len = LOG_LINE_MAX;
    tap(level, gen, pid, stream, msg, msg_len);
    if (log_state.format == BATON_LOG_SUPERVISED) {
        baton__buf_printf(&b, "<%d>", syslog_priority(level));
        baton__buf_append(&b, msg, msg_len);
        baton__buf_puts(&b, "\n");
        goto out;
    }
    timestamp(ts, sizeof(ts), log_state.format == BATON_LOG_JSON);
    if (log_state.format == BATON_LOG_JSON) {
        json_line(&b, ts, level, gen, pid, stream, msg, msg_len);
        baton__buf_puts(&b, "\n");
    } else {
        baton__buf_printf(&b, "%s %-7s %s", ts, baton__log_level_name(level), log_state.program);
        if (gen >= 0 && pid >= 0)
            baton__buf_printf(&b, "[gen %ld pid %ld%s%s]", gen, pid, stream ? " " : "",
                              stream ? stream : "");
        else if (pid >= 0)
            baton__buf_printf(&b, "[pid %ld]", pid);
        baton__buf_puts(&b, ": ");
        baton__buf_append(&b, msg, msg_len);
        baton__buf_puts(&b, "\n");
    }
out:
    if (b.data) {
        report_loss();
        /* One write per line, so lines from several processes sharing stderr don't interleave. */
        ssize_t r = write(STDERR_FILENO, b.data, b.len);
        if (r < 0 || (size_t)r < b.len) {
            if (!log_loss.lost)
                log_loss.first_errno = r < 0 ? errno : ENOSPC;
            log_loss.lost++;
            log_loss.torn |= r > 0;
        }
    }
    baton__buf_free(&b);
}

void baton__log_vat(enum baton_log_level level, long gen, long pid, const char *fmt, va_list ap)
{
    char msg[LOG_LINE_MAX];
    if (level < log_state.min)
        return;
    int saved = errno;
    int n = vsnprintf(msg, sizeof(msg), fmt, ap);
    if (n < 0)
        n = 0;
    emit(level, gen, pid, NULL, msg, (size_t)n < sizeof(msg) ? (size_t)n : sizeof(msg) - 1);
    errno = saved;
}

void baton__log_at(enum baton_log_level level, long gen, long pid, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    baton__log_vat(level, gen, pid, fmt, ap);
    va_end(ap);
}

void baton__log(enum baton_log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    baton__log_vat(level, -1, -1, fmt, ap);
    va_end(ap);
}

void baton__log_worker_line(long gen, long pid, const char *stream, const char *line, size_t len)
{
    enum baton_log_level level = BATON_LOG_INFO;
    int saved = errno;
    if (len >= 3 && line[0] == '<' && line[1] >= '0' && line[1] <= '7' && line[2] == '>') {
        level = level_of_priority(line[1] - '0');
        line += 3;
        len -= 3;
    }
    if (level >= log_state.min)
        emit(level, gen, pid, stream, line, len);
    errno = saved;
}
