/* SPDX-License-Identifier: MIT */
/* The access log: one JSON object per response on stdout, off unless --access-log. Lines are
 * collected and written once per loop iteration, not once per request. */
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/fd.h"
#include "common/json.h"
#include "web/web.h"

/* Flushed past FLUSH_AT, so it holds at most one line more, whose fields the HTTP parser's
 * limits bound. */
static struct baton_buf pending = BATON_BUF_INIT(BATON_BUF_UNBOUNDED);

/* Lines past this are written at once rather than at the end of the iteration. */
#define FLUSH_AT (32 * 1024)

void baton__web_access_log_flush(void)
{
    if (pending.len) {
        baton__fd_write_all(STDOUT_FILENO, pending.data, pending.len);
        baton__buf_reset(&pending);
    }
    if (pending.cap > 4 * FLUSH_AT)
        baton__buf_free(&pending);
}

void baton__web_access_log(void *data, const baton_request *req, const baton_response *res,
                           uint64_t duration_us, int complete)
{
    const unsigned *generation = data;
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    char ts[40];
    size_t n = strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(ts + n, sizeof(ts) - n, ".%03dZ", (int)(tv.tv_usec / 1000));

    baton__buf_puts(&pending, "{");
    baton__json_kv_str(&pending, "ts", ts);
    baton__json_kv_str(&pending, "msg", "access");
    baton__json_kv_int(&pending, "gen", generation ? *generation : 0);
    baton__json_kv_int(&pending, "pid", getpid());
    baton__json_kv_str(&pending, "id", baton_request_id(req));
    baton__json_kv_str(&pending, "method", baton_request_method(req));
    baton__json_kv_str(&pending, "path", baton_request_path(req));
    baton__json_kv_int(&pending, "status", baton_response_get_status(res));
    baton__json_kv_int(&pending, "bytes", (long long)baton_response_body_size(res));
    baton__json_kv_int(&pending, "duration_us", (long long)duration_us);
    if (!complete)
        baton__json_kv_bool(&pending, "complete", 0);
    baton__buf_puts(&pending, "}\n");
    if (pending.len > FLUSH_AT)
        baton__web_access_log_flush();
}
