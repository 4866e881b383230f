/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target for the supervisor's notify message parser (baton__notify_parse in
 * src/supervisor/notify.c): the datagram a worker sends to NOTIFY_SOCKET, up to the 4096 bytes
 * the socket accepts. Workers run application code: every byte is outside input.
 *
 * Besides the sanitizers, three oracles:
 *  - the parse agrees with a plain reading of the protocol (newline-separated KEY=VALUE, the
 *    last line of a key wins, flags are exactly "1", ERRNO= 1-4 digits, a NUL refuses it all);
 *  - STATUS= and BATON_STATS= values point inside the message, within their line;
 *  - a value travels to `baton status` intact: written into a reply object the way status.c
 *    writes it (baton__json_kv_str) and read back with the CLI's reply parser
 *    (src/cli/control-client.c), it comes out the same when it is valid UTF-8, and as valid
 *    UTF-8 in any case.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/control-client.h"
#include "common/json.h"
#include "supervisor/internal.h"
#include "fuzz.h"

#define NOTIFY_MAX 4096

/* ---- the protocol, read plainly ---------------------------------------------------------- */

struct expected {
    bool ready, reloading, stopping, watchdog, has_status, has_errno, has_stats;
    int err;
    const char *status, *stats;
    size_t status_len, stats_len;
};

static bool starts(const char *line, size_t n, const char *key)
{
    return n >= strlen(key) && memcmp(line, key, strlen(key)) == 0;
}

static bool flag(const char *line, size_t n, const char *key)
{
    size_t k = strlen(key);
    return n == k + 1 && line[k] == '1';
}

static void read_plainly(const char *msg, size_t len, struct expected *e)
{
    const char *end = msg + len;

    memset(e, 0, sizeof(*e));
    for (const char *line = msg; line < end;) {
        const char *nl = memchr(line, '\n', (size_t)(end - line));
        size_t n = (size_t)((nl ? nl : end) - line);

        if (starts(line, n, "READY="))
            e->ready = flag(line, n, "READY=");
        else if (starts(line, n, "RELOADING="))
            e->reloading = flag(line, n, "RELOADING=");
        else if (starts(line, n, "STOPPING="))
            e->stopping = flag(line, n, "STOPPING=");
        else if (starts(line, n, "WATCHDOG="))
            e->watchdog = flag(line, n, "WATCHDOG=");
        else if (starts(line, n, "STATUS=")) {
            e->has_status = true;
            e->status = line + 7;
            e->status_len = n - 7;
        } else if (starts(line, n, "BATON_STATS=")) {
            e->has_stats = true;
            e->stats = line + 12;
            e->stats_len = n - 12;
        } else if (starts(line, n, "ERRNO=")) {
            size_t d = n - 6;
            int v = 0;
            e->has_errno = d >= 1 && d <= 4;
            for (size_t i = 0; e->has_errno && i < d; i++) {
                char c = line[6 + i];
                e->has_errno = c >= '0' && c <= '9';
                v = v * 10 + (c - '0');
            }
            if (e->has_errno)
                e->err = v;
        }
        line += n + 1;
    }
}

/* ---- a value on its way to `baton status` ------------------------------------------------ */

static bool valid_utf8(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        unsigned char c = s[i];
        size_t len;
        uint32_t cp;

        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf)
            len = 2, cp = c & 0x1f;
        else if (c >= 0xe0 && c <= 0xef)
            len = 3, cp = c & 0x0f;
        else if (c >= 0xf0 && c <= 0xf4)
            len = 4, cp = c & 0x07;
        else
            return false;
        if (n - i < len)
            return false;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
            cp = cp << 6 | (s[i + k] & 0x3f);
        }
        if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += len;
    }
    return true;
}

static void check_travels(const char *key, const char *value, size_t len)
{
    struct baton_buf b = BATON_BUF_INIT(BATON_BUF_UNBOUNDED);
    struct baton_doc *doc = NULL;
    const char *text = NULL;
    /* The worker field holds what baton__xstrndup() kept: up to the first NUL (there is none). */
    char *field = strndup(value, len);

    CHECK(field != NULL);
    CHECK(baton__buf_puts(&b, "{") == 0);
    CHECK(baton__json_kv_str(&b, key, field) == 0);
    CHECK(baton__buf_puts(&b, "}") == 0);
    if (baton__reply_parse(b.data, b.len, &doc, NULL) < 0) {
        fprintf(stderr, "fuzz-notify: the CLI cannot read the reply %s\n", b.data);
        abort();
    }
    CHECK(baton__doc_get_str(baton__doc_root(doc), key, &text, NULL, 0) == 0);
    if (!valid_utf8((const unsigned char *)text, strlen(text))) {
        fprintf(stderr, "fuzz-notify: %s comes out as invalid UTF-8 from %s\n", key, b.data);
        abort();
    }
    if (valid_utf8((const unsigned char *)field, len) && strcmp(text, field) != 0) {
        fprintf(stderr, "fuzz-notify: %s changed on its way: \"%s\" became \"%s\" (reply %s)\n",
                key, field, text, b.data);
        abort();
    }
    baton__doc_free(doc);
    baton__buf_free(&b);
    free(field);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *msg = (const char *)data;
    struct baton_notify_msg m;
    struct expected e;
    int r;

    if (size > NOTIFY_MAX)
        return 0;
    memset(&m, 0xa5, sizeof(m));
    r = baton__notify_parse(msg, size, &m);
    if (memchr(msg, '\0', size)) {
        CHECK(r == -EINVAL);
        return 0;
    }
    CHECK(r == 0);

    read_plainly(msg, size, &e);
    CHECK(m.ready == e.ready);
    CHECK(m.reloading == e.reloading);
    CHECK(m.stopping == e.stopping);
    CHECK(m.watchdog == e.watchdog);
    CHECK(m.has_errno == e.has_errno);
    if (m.has_errno)
        CHECK(m.err == e.err && m.err >= 0 && m.err <= 9999);
    CHECK(m.has_status == e.has_status);
    CHECK(m.has_stats == e.has_stats);
    if (m.has_status) {
        CHECK(m.status == e.status && m.status_len == e.status_len);
        CHECK(m.status >= msg && m.status + m.status_len <= msg + size);
        CHECK(!memchr(m.status, '\n', m.status_len));
        check_travels("status", m.status, m.status_len);
    }
    if (m.has_stats) {
        CHECK(m.stats == e.stats && m.stats_len == e.stats_len);
        CHECK(m.stats >= msg && m.stats + m.stats_len <= msg + size);
        CHECK(!memchr(m.stats, '\n', m.stats_len));
        check_travels("stats", m.stats, m.stats_len);
    }
    return 0;
}
